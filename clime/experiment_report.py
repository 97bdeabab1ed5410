"""The experiment's statistics and report: 95 % t intervals of paired differences, the
differences against the controls, and the markdown rendering of ``report.json``
(``results/<name>/report.md``), with the optional accuracy-vs-budget plot."""

import logging
import math

import numpy as np

from .experiment_config import OTHER_SPACE, SELF_TRAIN, TARGET_LABELS, condition_parts

log = logging.getLogger(__name__)

# Two-sided 95% quantiles t_{0.975, df} of Student's t distribution.
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
         10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110,
         18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060,
         26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}


def t975(df):
    """t_{0.975} for ``df`` degrees of freedom (table; interpolated in 1/df beyond 30; 1.96 at infinity)."""
    if df < 1:
        return float("nan")
    if df in _T975:
        return _T975[df]
    keys = sorted(_T975)
    if df > keys[-1]:
        lo, hi, tlo, thi = keys[-1], math.inf, _T975[keys[-1]], 1.959964
    else:
        lo = max(k for k in keys if k < df)
        hi = min(k for k in keys if k > df)
        tlo, thi = _T975[lo], _T975[hi]
    x, xlo, xhi = 1 / df, 1 / lo, (0.0 if hi == math.inf else 1 / hi)
    return thi + (tlo - thi) * (x - xhi) / (xlo - xhi)


def mean_std(values):
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if len(v) == 0:
        return None, None
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def paired_ci(before, after):
    """Mean of ``after - before`` and its 95% t confidence interval (None bounds for n < 2)."""
    d = np.asarray(after, dtype=float) - np.asarray(before, dtype=float)
    n = len(d)
    if n == 0:
        return {"n": 0, "mean": None, "lo": None, "hi": None, "sd": None}
    m = float(d.mean())
    if n < 2:
        return {"n": n, "mean": m, "lo": None, "hi": None, "sd": None}
    sd = float(d.std(ddof=1))
    half = t975(n - 1) * sd / math.sqrt(n)
    return {"n": n, "mean": m, "lo": m - half, "hi": m + half, "sd": sd}


def add_control_diffs(rows, groups):
    """Each row's paired accuracy difference (after, by seed) against ``none`` and against
    every control row (``placebo-*+U``) of the same update U and against the ``target-labels``
    control, in ``row["vs"]``."""
    by_key = {}
    for row in rows:
        by_key.setdefault((row["seed_size"], row["model"], row["oracle"], row["budget"]), []).append(row)
    for key, group in by_key.items():
        recs = {row["condition"]: {x["seed"]: x for x in groups[key + (row["condition"],)]} for row in group}
        for row in group:
            control, tokens = condition_parts(row["condition"])
            if tokens == ["none"]:
                continue
            if row["condition"] == TARGET_LABELS:
                others = ["none"]
            else:
                others = ["none"] + [c for c in recs if c != TARGET_LABELS and condition_parts(c)[0]
                                     and condition_parts(c)[1] == tokens and c != row["condition"]] + [TARGET_LABELS]
                if row["condition"] != SELF_TRAIN:
                    others.append(SELF_TRAIN)  # every arm also against self-learning + self-training
            row["vs"] = {}
            for other in others:
                if other not in recs:
                    continue
                seeds = sorted(set(recs[other]) & set(recs[row["condition"]]))
                a = [recs[row["condition"]][sd]["after"]["accuracy"] for sd in seeds]
                b = [recs[other][sd]["after"]["accuracy"] for sd in seeds]
                row["vs"][other] = paired_ci(b, a)


def _pct(x, nd=1):
    return "–" if x is None else f"{100 * x:.{nd}f}"


def _ms(m, s):
    return "–" if m is None else f"{100 * m:.1f} ± {100 * (s or 0):.1f}"


def _diff(d):
    if not d or d["mean"] is None:
        return "–"
    if d["lo"] is None:
        return f"{100 * d['mean']:+.1f}"
    return f"{100 * d['mean']:+.1f} [{100 * d['lo']:+.1f}, {100 * d['hi']:+.1f}]"


def render_markdown(rep):
    cfg = rep["config"]
    lines = [f"# Experiment `{rep['name']}` ({rep['split']} split: `{rep['eval_file']}`)", ""]
    if rep.get("partial"):
        lines += ["**Partial report: the experiment is still running or was interrupted.**", ""]
    if rep.get("command"):
        lines += ["Command: `" + rep["command"] + "`", ""]
    lines += [f"{cfg['runs']} seeds (from {cfg['seed']}), train.py --runs {cfg['train_runs']} per training"
              + (f", --epochs {cfg['epochs']}" if cfg.get("epochs") else "")
              + f"; k = {cfg['k']} neighbours per language; noise {cfg['noise']}.",
              f"Feedback starts from the **{cfg.get('start', 'procrustes')}** space (\"before\" and the `none` row); "
              f"the `{OTHER_SPACE[cfg.get('start', 'procrustes')]}` row is the other automatic space, no annotator.",
              "Accuracy and macro-F1 in %, mean ± std over seeds; Δ = after − before, paired by seed, "
              "with its 95% t confidence interval; P@1 = word-translation precision@1 on "
              f"`{cfg['test_dict']}` (nearest neighbour / CSLS), mean over seeds; "
              "judgements = marked neighbours + added words per seed.",
              f"Model selection (train.py --dev): `{rep['select_file']}`, documents no arm trains on."
              if rep.get("select_file") else "Model selection: train.py's hold-out of the English training documents.",
              ""]
    groups = {}
    for row in rep["rows"]:
        groups.setdefault((row["seed_size"], row["model"], row["oracle"], row["budget"]), []).append(row)
    for (size, model, oracle, budget), rows in groups.items():
        sp = "" if rows[0].get("seed_pairs") is None else f" ({rows[0]['seed_pairs']} pairs)"
        lines += [f"## seed dictionary {size}{sp} · model {model} · oracle {oracle} · {budget} keywords", "",
                  "| condition | n | accuracy before | accuracy after | Δ accuracy [95% CI] | macro-F1 after | Δ macro-F1 [95% CI] "
                  "| P@1 NN before → after | P@1 CSLS before → after | judgements | accepted pairs |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in rows:
            lines.append(
                f"| {r['condition']} | {r['n']} | {_ms(r['accuracy_before_mean'], r['accuracy_before_std'])} "
                f"| {_ms(r['accuracy_after_mean'], r['accuracy_after_std'])} | {_diff(r['accuracy_diff'])} "
                f"| {_ms(r['macro_f1_after_mean'], r['macro_f1_after_std'])} | {_diff(r['macro_f1_diff'])} "
                f"| {_pct(r['p1_nn_before'])} → {_pct(r['p1_nn_after'])} | {_pct(r['p1_csls_before'])} → {_pct(r['p1_csls_after'])} "
                f"| {r['judgements_mean']:.0f} | {r.get('accepted_mean', 0):.0f} |")
        lines.append("")
        cov = rows[0].get("oracle_coverage")
        if cov is not None:
            lines += [f"Oracle coverage: the {oracle} oracle can judge {100 * cov:.0f} % of the keywords "
                      f"({'exact words' if cfg.get('oracle_exact') or oracle != 'dict' else 'base forms'}).", ""]
        vs = [(r["condition"], o, d) for r in rows for o, d in (r.get("vs") or {}).items() if o != "none"]
        if vs:
            lines += ["Against the controls (Δ accuracy after, paired by seed, [95% CI]):", "",
                      "| condition | control | Δ accuracy [95% CI] |", "| --- | --- | --- |"]
            lines += [f"| {c} | {o} | {_diff(d)} |" for c, o, d in vs]
            lines.append("")
    lines += ["## Time per stage", "", "| stage | calls | mean s | total s |", "| --- | --- | --- | --- |"]
    for st, t in rep["times"].items():
        lines.append(f"| {st} | {t['calls']} | {t['mean_s']:.1f} | {t['total_s']:.1f} |")
    m = rep["machine"]
    gpu = (m.get("torch") or {}).get("gpu")
    lines += ["", f"Wall time {rep['wall_s'] / 60:.1f} min on {m['machine']} with {m['cpus']} CPUs"
              + (f" and {gpu}" if gpu else ", no GPU") + f" (jobs = {cfg['jobs']}; cached steps count their first run's time).", ""]
    draws = {k: v for k, v in (rep.get("seed_draws") or {}).items() if k != "given"}
    if draws:
        lines += ["Seed dictionaries: " + "; ".join(f"{k}: {v['pairs']} pairs (sha1 {v['sha1']})" for k, v in draws.items())
                  + f", random draws (draw_seed {next(iter(draws.values()))['draw_seed']}) from seed + oracle, "
                  "smaller ones nested in larger ones.", ""]
    if rep.get("top_keywords"):
        k, words = next(iter(rep["top_keywords"].items()))
        lines += [f"Top keywords ({k}): {', '.join(w for w in words if w)}", ""]
    return "\n".join(lines)


def pyplot(what="plot"):
    """matplotlib.pyplot (Agg backend), or None with a log line when matplotlib is not importable:
    the plots are optional, the report's tables are the source of truth."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.info("matplotlib is not installed: no %s (the tables have the numbers)", what)
        return None
    return plt


def save_figure(plt, fig, path, dpi=120):
    """Write ``fig`` as a PNG atomically and close it; returns ``path``."""
    from .fileio import atomic_path

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)
    return path


def plot_budgets(rep, path):
    """Accuracy after the update against keyword budget (PNG), when matplotlib is installed."""
    budgets = sorted({r["budget"] for r in rep["rows"]})
    if len(budgets) < 2:
        return None
    plt = pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for row_key in sorted({(r["seed_size"], r["model"], r["oracle"], r["condition"]) for r in rep["rows"]}):
        rows = sorted((r for r in rep["rows"] if (r["seed_size"], r["model"], r["oracle"], r["condition"]) == row_key),
                      key=lambda r: r["budget"])
        ax.errorbar([r["budget"] for r in rows], [100 * r["accuracy_after_mean"] for r in rows],
                    yerr=[100 * (r["accuracy_after_std"] or 0) for r in rows], marker="o", capsize=3,
                    label="/".join(str(x) for x in row_key))
    ax.set_xlabel("keywords judged")
    ax.set_ylabel(f"target accuracy ({rep['split']}) %")
    ax.legend(fontsize=6)
    return save_figure(plt, fig, path)
