"""The CLIME paper's main comparison at equal annotator time: Base, Active, CLIME and A+C.

For each seed the "before" classifier is trained once; then, for every budget of
annotator minutes ``M`` (``cost_keyword`` minutes per keyword, ``cost_document`` per
document; the paper's annotators did about 50 keywords or 50 documents in 40–50
minutes, so both default to 0.9):

``base``    the classifier as it is (no annotator);
``active``  ``M / cost_document`` documents chosen by ``select_docs.py`` (``strategy``)
            from the before model, labelled by the document oracle (``simulate.py
            --oracle doc``), added to training (``train.py --tgt-train``);
``clime``   ``M / cost_keyword`` keywords judged by the keyword oracle, the embeddings
            refined by ``update.py`` (``clime_condition``), the classifier retrained;
``a+c``     half the time each: ``M / 2 / cost_document`` documents and
            ``M / 2 / cost_keyword`` keywords, retrained on the refined space with the
            documents.

The document oracle labels from ``tgt_labeled`` without any document of the evaluated
split; chosen documents never include the dev or evaluated split.  Everything runs as
the root scripts in subprocesses and is cached like :mod:`clime.experiment`.
"""

import logging
import math
import shutil
import time
from dataclasses import dataclass, field

import numpy as np

from .errors import ClimeError
from .experiment import Experiment, _load_json, _rel, _slug, report_config, _top_keywords, count_judgements, oracle_args, read_train_results
from .experiment_config import PLACEHOLDERS, Config, condition_args, fill_placeholders
from .experiment_report import _diff, _ms, mean_std, paired_ci, pyplot, save_figure
from .fileio import atomic_open, write_json

log = logging.getLogger(__name__)

ARMS = ("base", "active", "clime", "a+c")
BASE_SELF_TRAIN = "base+self-train"
# arms defined by configuration: like a built-in arm (its keywords and documents at each budget),
# plus train.py arguments (placeholders as in experiment_config.PLACEHOLDERS) and, for keyword
# arms, whether update.py refines the embeddings ("update": false = the feedback reaches train.py
# only, e.g. "--keyword-features {feedback}")
DEFAULT_CUSTOM_ARMS = {BASE_SELF_TRAIN: {"like": "base", "train_args": ["--self-train", "{pool}"]}}


@dataclass
class CompareConfig(Config):
    minutes: list = field(default_factory=lambda: [40])
    cost_keyword: float = 0.9       # annotator minutes per keyword
    cost_document: float = 0.9      # annotator minutes per document
    strategy: str = "max-entropy"   # select_docs.py --strategy
    clime_condition: str = "realign"  # update.py's default
    tgt_weight: float = 1.0         # train.py --tgt-weight
    arms: list = field(default_factory=lambda: list(ARMS))
    custom_arms: dict = field(default_factory=lambda: {k: dict(v) for k, v in DEFAULT_CUSTOM_ARMS.items()})

    @classmethod
    def from_dict(cls, d, path=None):
        arms = d.get("custom_arms")
        if arms is not None:
            if not isinstance(arms, dict) or not all(isinstance(v, dict) for v in arms.values()):
                raise ClimeError("key 'custom_arms' must be an object of objects {like, train_args, update}", path)
            d = dict(d, custom_arms={**{k: dict(v) for k, v in DEFAULT_CUSTOM_ARMS.items()}, **arms})
        return super().from_dict(d, path)

    def check(self):
        from .active import STRATEGIES

        if not self.minutes or any(float(m) <= 0 for m in self.minutes):
            raise ClimeError(f"minutes must be positive numbers, got {self.minutes}")
        if not (self.cost_keyword > 0 and self.cost_document > 0):
            raise ClimeError("cost_keyword and cost_document must be positive (minutes per item)")
        if self.strategy not in STRATEGIES:
            raise ClimeError(f"unknown strategy {self.strategy!r} ({', '.join(STRATEGIES)})")
        for name, spec in self.custom_arms.items():
            if name in ARMS or set(spec) - {"like", "train_args", "update", "comment"} or spec.get("like") not in ARMS \
                    or not isinstance(spec.get("train_args", []), list) or not isinstance(spec.get("update", True), bool):
                raise ClimeError(f"custom arm {name!r}: expected {{\"like\": one of {', '.join(ARMS)}, \"train_args\": "
                                 f"[...], \"update\": true|false}}, got {spec!r}")
            fill_placeholders(spec.get("train_args", []), {k: "x" for k in PLACEHOLDERS}, f"custom arm {name!r}")
        bad = [a for a in self.arms if a not in ARMS and a not in self.custom_arms]
        if bad or not self.arms:
            raise ClimeError(f"unknown arm(s) {bad} (choose from {', '.join(list(ARMS) + list(self.custom_arms))})")
        if condition_args(self.clime_condition) is None:
            raise ClimeError("clime_condition must update the embeddings (not 'none')")
        if not self.tgt_labeled:
            raise ClimeError("the comparison needs tgt_labeled (labelled target documents for the document oracle)")
        self.budgets = [max(1, max(self.items(float(m))[0] for m in self.minutes))]  # keywords of the largest arm
        super().check()

    def items(self, minutes):
        """(keywords, documents) of the clime / active arms for ``minutes``."""
        return int(math.floor(minutes / self.cost_keyword + 1e-9)), int(math.floor(minutes / self.cost_document + 1e-9))

    def split_items(self, minutes):
        """(keywords, documents) of the a+c arm: half the time each."""
        k, _ = self.items(minutes / 2)
        _, n = self.items(minutes / 2)
        return k, n


class Comparison(Experiment):
    """Runs :class:`CompareConfig`; the report has one row per (oracle, minutes, arm)."""

    def run_unit(self, size, model, seed):
        cfg, r = self.cfg, self.runner
        max_k = max(max(cfg.items(m)[0], cfg.split_items(m)[0]) for m in cfg.minutes)
        max_n = max(max(cfg.items(m)[1], cfg.split_items(m)[1]) for m in cfg.minutes)
        d, base, before, task = self.before_steps(size, model, seed, max(max_k, 1))
        # documents go into their own folder: preprocess_ui.py replaces the task folder whole
        dtask = d / f"docs_{cfg.strategy}"
        exclude = sorted({p for p in (self.eval_file, cfg.dev, cfg.test) if p})
        sel = ["--model", d / "model.pt", "--tgt-emb", base["tgt"], "--docs", self.pool, "--task", "experiment",
               "--out-dir", dtask, "--n", max(max_n, 1), "--strategy", cfg.strategy, "--categories", cfg.categories,
               "--seed", seed, "-q"]
        for p in exclude:
            sel += ["--exclude", p]
        r.script("select documents", "select_docs.py", sel, [dtask / "documents.json"], d / f"select_{cfg.strategy}.stamp")
        keywords = _top_keywords(task / "setup.json", 10)
        recs = []
        for oracle in cfg.oracles:
            for minutes in cfg.minutes:
                k_full, n_full = cfg.items(minutes)
                k_half, n_half = cfg.split_items(minutes)
                plan = {"base": (0, 0), "active": (0, n_full), "clime": (k_full, 0), "a+c": (k_half, n_half)}
                for arm in cfg.arms:
                    spec = cfg.custom_arms.get(arm, {"like": arm})
                    k, n = plan[spec["like"]]
                    t0 = time.perf_counter()
                    after, info = self.arm(d, task, dtask, base, model, seed, oracle, k, n, before,
                                           name=None if arm in ARMS else arm, train_extra=spec.get("train_args", []),
                                           update=spec.get("update", True))
                    rec = {"seed_size": size, "model": model, "seed": seed, "oracle": oracle, "minutes": minutes,
                           "arm": arm, "keywords": k, "documents": n, "before": before, "after": after,
                           "keywords_top": keywords, "seconds": time.perf_counter() - t0, **info}
                    recs.append(rec)
        if not cfg.keep_embeddings:  # the refined spaces are big; their results are cached
            for e in d.glob("emb_*"):
                shutil.rmtree(e, ignore_errors=True)
        return recs

    def _keyword_feedback(self, d, task, oracle, k, seed):
        cfg = self.cfg
        fb = d / f"feedback_{oracle}_k{k}.csv"
        sim = ["--task", "experiment", "--task-dir", task, "--oracle", oracle, "--budget", k, "--seed", seed,
               "--out", fb, "-q"]
        if cfg.noise:
            sim += ["--noise", cfg.noise]
        sim += oracle_args(cfg, oracle, self.doc_labels)
        self.runner.script("simulate", "simulate.py", sim, [fb], d / f"simulate_{oracle}_k{k}.stamp")
        return fb

    def _document_labels(self, d, dtask, n, seed):
        cfg = self.cfg
        out = d / f"docs_{cfg.strategy}_n{n}.jsonl"
        sim = ["--task", "experiment", "--task-dir", dtask, "--oracle", "doc", "--docs-tgt", self.doc_labels,
               "--budget", n, "--seed", seed, "--out", out, "-q"]
        if cfg.noise:
            sim += ["--noise", cfg.noise]
        self.runner.script("simulate documents", "simulate.py", sim, [out], d / f"simulate_docs_{cfg.strategy}_n{n}.stamp")
        return out

    def arm(self, d, task, dtask, base, model, seed, oracle, k, n, before, name=None, train_extra=(), update=True):
        """Train one arm with ``k`` keywords and ``n`` documents; returns (after metrics, info).
        A custom arm (``name``) adds ``train_extra`` (placeholders filled) to train.py's arguments and,
        with ``update`` false, gives the keyword feedback to train.py only (no update.py)."""
        cfg, r = self.cfg, self.runner
        info = {"judgements": 0, "labelled": 0}
        if k == 0 and n == 0 and not train_extra:
            return before, info
        src, tgt, extra, ua, fb = base["src"], base["tgt"], [], None, None
        if n:
            docs = self._document_labels(d, dtask, n, seed)
            info["labelled"] = sum(1 for line in docs.read_text(encoding="utf-8").splitlines() if line.strip())
            extra = ["--tgt-train", docs, "--tgt-weight", cfg.tgt_weight]
        if k:
            fb = self._keyword_feedback(d, task, oracle, k, seed)
            info["judgements"] = count_judgements(fb)["judgements"]
        if k and update:
            edir = d / f"emb_{oracle}_k{k}"
            uargs = condition_args(cfg.clime_condition)
            ua = ["--feedback", fb, "--src-emb", base["src"], "--tgt-emb", base["tgt"], "--out-src", edir / "src",
                  "--out-tgt", edir / "tgt"] + uargs
            if "--realign" in uargs:
                ua += ["--seed-dict", base["seed_dict"]]
            if cfg.device:
                ua += ["--device", cfg.device]
            ua += list(cfg.update_args) + ["--seed", seed, "-q"]
            src, tgt = edir / "src", edir / "tgt"
        extra += self.fill(train_extra, f"custom arm {name!r}", fb, d / "word_rank.txt")
        cdir = d / (f"{oracle}_k{k}_n{n}_{cfg.strategy}" + (f"_{_slug(name)}" if name else ""))
        ta = self.train_args(src, tgt, model, seed, cdir / "after.json")
        ta = ta[:-1] + extra + ta[-1:]
        key = {"update": None if ua is None else [str(a) for a in ua], "train": [str(a) for a in ta],
               "code": r.code}
        cached = _load_json(cdir / "result.json")
        if cached and cached.get("key") == key:
            return cached["after"], info
        if ua is not None:
            r.script("update", "update.py", ua, [src / "E.npy", tgt / "E.npy"], src.parent / "update.stamp")
        r.script("train (after)", "train.py", ta, [cdir / "after.json"], cdir / "train.stamp")
        after = read_train_results(cdir / "after.json")
        write_json(cdir / "result.json", {"key": key, "after": after})
        return after, info

    def base_embeddings(self):
        super().base_embeddings()
        self.doc_labels = self.honest_label_docs()
        # the documents Active may choose: the pool without any dev or test document (by id or text)
        self.pool = self.pool_docs()

    # -- reporting
    def report(self, wall, partial=False):
        cfg = self.cfg
        groups = {}
        for rec in self.records:
            groups.setdefault((rec["seed_size"], rec["model"], rec["oracle"], rec["minutes"]), {}) \
                .setdefault(rec["arm"], []).append(rec)
        rows = []
        for (size, model, oracle, minutes), arms in groups.items():
            by_seed = {arm: {x["seed"]: x for x in recs} for arm, recs in arms.items()}
            seeds = sorted(set.intersection(*(set(v) for v in by_seed.values())))
            row = {"seed_size": size, "model": model, "oracle": oracle, "minutes": minutes, "n": len(seeds),
                   "seeds": seeds, "arms": {}}
            for arm in self.arm_order(by_seed):
                recs = [by_seed[arm][s] for s in seeds]
                entry = {"keywords": recs[0]["keywords"] if recs else None,
                         "documents": recs[0]["documents"] if recs else None,
                         "labelled_mean": float(np.mean([x["labelled"] for x in recs])) if recs else None,
                         "judgements_mean": float(np.mean([x["judgements"] for x in recs])) if recs else None}
                for metric in ("accuracy", "macro_f1"):
                    vals = [x["after"][metric] for x in recs]
                    entry[f"{metric}_mean"], entry[f"{metric}_std"] = mean_std(vals)
                    for ref, key in (("base", "vs_base"), (BASE_SELF_TRAIN, "vs_self_train")):
                        if arm != ref and ref in by_seed:
                            entry[f"{metric}_{key}"] = paired_ci([by_seed[ref][s]["after"][metric] for s in seeds], vals)
                row["arms"][arm] = entry
            if all(a in by_seed for a in ("active", "clime", "a+c")):
                better = max(("active", "clime"), key=lambda a: row["arms"][a]["accuracy_mean"] or -1)
                row["better_single"] = better
                for metric in ("accuracy", "macro_f1"):
                    row[f"ac_vs_better_{metric}"] = paired_ci([by_seed[better][s]["after"][metric] for s in seeds],
                                                              [by_seed["a+c"][s]["after"][metric] for s in seeds])
            rows.append(row)
        rows.sort(key=lambda x: (str(x["seed_size"]), x["model"], x["oracle"], x["minutes"]))
        times = {st: {"calls": len(v), "mean_s": float(np.mean(v)), "total_s": float(np.sum(v))}
                 for st, v in self.runner.times.items()}
        return {"name": cfg.name, "kind": "comparison", "split": "dev" if cfg.dev_only else "test",
                "eval_file": _rel(self.eval_file), "select_file": _rel(self.select_file), "config": report_config(cfg), "rows": rows, "records": self.records,
                "times": times, "wall_s": wall, "partial": partial, "machine": _machine()}

    def arm_order(self, present):
        """The built-in arms, then the custom ones in the configuration's order."""
        return [a for a in list(ARMS) + [a for a in self.cfg.arms if a not in ARMS] if a in present]

    def add_default_conditions(self):
        """Every comparison also has the ``base+self-train`` arm (train.py --self-train on the pool)."""
        cfg = self.cfg
        if cfg.custom_arms.get(BASE_SELF_TRAIN) and BASE_SELF_TRAIN not in cfg.arms:
            cfg.arms = list(cfg.arms) + [BASE_SELF_TRAIN]

    def write(self, report):
        self.out.mkdir(parents=True, exist_ok=True)
        png = plot_curve(report, self.out / "accuracy_vs_minutes.png")
        if png:
            report["plot"] = _rel(png)
        write_json(self.out / "report.json", report, indent=1)
        with atomic_open(self.out / "report.md") as fh:
            fh.write(render_markdown(report))


def plot_curve(rep, path):
    """Accuracy against annotator minutes, one line per arm (and panel per model, oracle and seed
    size), as a PNG; None (and a log line) without matplotlib or with fewer than two budgets.
    The report's tables stay the source of truth."""
    rows = rep["rows"]
    if len({r["minutes"] for r in rows}) < 2:
        return None
    plt = pyplot("curve plot")
    if plt is None:
        return None
    panels = sorted({(str(r["seed_size"]), r["model"], r["oracle"]) for r in rows})
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        sub = sorted((r for r in rows if (str(r["seed_size"]), r["model"], r["oracle"]) == panel),
                     key=lambda r: float(r["minutes"]))
        arms = []
        for r in sub:
            arms += [a for a in r["arms"] if a not in arms]
        for arm in arms:
            pts = [(float(r["minutes"]), r["arms"][arm]) for r in sub if arm in r["arms"]]
            ax.errorbar([m for m, _ in pts], [100 * e["accuracy_mean"] for _, e in pts],
                        yerr=[100 * (e["accuracy_std"] or 0) for _, e in pts], marker="o", capsize=3, label=arm)
        ax.set_title(f"{rep['name']}: {panel[1]}, oracle {panel[2]}, seed {panel[0]}", fontsize=8)
        ax.set_xlabel("annotator minutes")
        ax.set_ylabel(f"accuracy on the {rep['split']} split (%)")
        ax.legend(fontsize=7)
    return save_figure(plt, fig, path, dpi=110)


def _machine():
    import os
    import platform

    return {"platform": platform.platform(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "python": platform.python_version()}


def curve_lines(rows):
    """The curve over budgets: one line per (oracle, model, seed size) and budget, accuracy per arm
    and A+C against the better single arm; nothing when there is one budget only."""
    if len({r["minutes"] for r in rows}) < 2:
        return []
    groups = {}
    for r in rows:
        groups.setdefault((str(r["seed_size"]), r["model"], r["oracle"]), []).append(r)
    arms = []
    for r in rows:
        arms += [a for a in r["arms"] if a not in arms]
    lines = ["## Curve over budgets (accuracy %, mean over seeds)", ""]
    for (size, model, oracle), sub in sorted(groups.items()):
        lines += [f"Oracle {oracle} · model {model} · seed dictionary {size}:", "",
                  "| minutes | " + " | ".join(arms) + " | A+C − better single arm |",
                  "| --- | " + " | ".join("---" for _ in arms) + " | --- |"]
        for r in sorted(sub, key=lambda r: float(r["minutes"])):
            cells = [_ms(r["arms"][a]["accuracy_mean"], r["arms"][a]["accuracy_std"]) if a in r["arms"] else "–"
                     for a in arms]
            better = f"{_diff(r['ac_vs_better_accuracy'])} (vs {r['better_single']})" if r.get("better_single") else "–"
            lines.append(f"| {r['minutes']} | " + " | ".join(cells) + f" | {better} |")
        lines.append("")
    return lines


def render_markdown(rep):
    cfg = rep["config"]
    lines = [f"# Comparison `{rep['name']}` ({rep['split']} split: `{rep['eval_file']}`)", ""]
    if rep.get("partial"):
        lines += ["**Partial report: the comparison is still running or was interrupted.**", ""]
    lines += [f"{cfg['runs']} seeds from {cfg['seed']}; {cfg['cost_keyword']} min per keyword, "
              f"{cfg['cost_document']} min per document; documents chosen by `{cfg['strategy']}`, "
              f"target weight {cfg['tgt_weight']}; CLIME = update.py `{cfg['clime_condition']}`; noise {cfg['noise']}.",
              "Accuracy and macro-F1 in %, mean ± std over seeds; Δ = paired difference with its 95% t interval.",
              f"Model selection (train.py --dev): `{rep['select_file']}`, documents no arm trains on."
              if rep.get("select_file") else "Model selection: train.py's hold-out of the English training documents.",
              ""]
    lines += curve_lines(rep["rows"])
    for row in rep["rows"]:
        lines += [f"## {row['minutes']} minutes · oracle {row['oracle']} · model {row['model']} · seed dictionary "
                  f"{row['seed_size']} (n = {row['n']})", "",
                  "| arm | keywords | documents | accuracy | Δ accuracy vs base | macro-F1 | Δ macro-F1 vs base "
                  f"| Δ accuracy vs {BASE_SELF_TRAIN} |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for arm, e in row["arms"].items():
            lines.append(f"| {arm} | {e['keywords']} | {e['documents']} | {_ms(e['accuracy_mean'], e['accuracy_std'])} "
                         f"| {_diff(e.get('accuracy_vs_base'))} | {_ms(e['macro_f1_mean'], e['macro_f1_std'])} "
                         f"| {_diff(e.get('macro_f1_vs_base'))} | {_diff(e.get('accuracy_vs_self_train'))} |")
        if row.get("better_single"):
            lines += ["", f"A+C − {row['better_single']} (the better single arm): accuracy "
                      f"{_diff(row['ac_vs_better_accuracy'])}, macro-F1 {_diff(row['ac_vs_better_macro_f1'])}"]
        lines.append("")
    lines += ["## Time per stage", "", "| stage | calls | mean s | total s |", "| --- | --- | --- | --- |"]
    for st, t in rep["times"].items():
        lines.append(f"| {st} | {t['calls']} | {t['mean_s']:.1f} | {t['total_s']:.1f} |")
    lines += ["", f"Wall time {rep['wall_s'] / 60:.1f} min on {rep['machine'].get('cpus')} CPUs.", ""]
    return "\n".join(lines)


def load_config(conf, path=None):
    """A CompareConfig from a dict (the experiment's keys plus the comparison's)."""
    return CompareConfig.from_dict(conf, path)


def is_comparison(conf):
    """A configuration with ``minutes`` is a comparison at equal annotator time."""
    return isinstance(conf, dict) and "minutes" in conf

