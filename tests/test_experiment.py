"""The experiment runner: statistics helpers, conditions, and a whole tiny run."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clime import experiment as ex
from clime import experiment_config as excfg
from clime import experiment_report as exrep
from clime.embeddings import save_embeddings
from clime.errors import ClimeError

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ["train.py", "rank_words.py", "preprocess_ui.py", "simulate.py", "update.py"]


def test_t_quantile_table():
    assert exrep.t975(1) == pytest.approx(12.706)
    assert exrep.t975(4) == pytest.approx(2.776)
    assert 2.021 < exrep.t975(35) < 2.042
    assert exrep.t975(10**6) == pytest.approx(1.96, abs=1e-3)
    assert math.isnan(exrep.t975(0))


def test_paired_ci():
    d = exrep.paired_ci([0.5, 0.6, 0.7, 0.5, 0.6], [0.6, 0.7, 0.75, 0.55, 0.7])
    diffs = np.array([0.1, 0.1, 0.05, 0.05, 0.1])
    half = 2.776 * diffs.std(ddof=1) / math.sqrt(5)
    assert d["n"] == 5 and d["mean"] == pytest.approx(diffs.mean())
    assert d["lo"] == pytest.approx(diffs.mean() - half) and d["hi"] == pytest.approx(diffs.mean() + half)
    one = exrep.paired_ci([0.5], [0.6])
    assert one["mean"] == pytest.approx(0.1) and one["lo"] is None


def test_condition_args():
    assert excfg.condition_args("none") is None
    assert excfg.condition_args("cosine") == ["--no-realign", "--local", "--objective", "cosine"]
    assert excfg.condition_args("realign") == ["--realign", "--no-local"]
    assert excfg.condition_args("realign+hinge+prop") == ["--realign", "--propagate", "--local", "--objective", "hinge"]
    for bad in ("banana", "dot+cosine", "prop", ""):
        with pytest.raises(ClimeError):
            excfg.condition_args(bad)


def test_condition_controls():
    assert excfg.condition_parts("placebo-pairs+realign") == ("placebo-pairs", ["realign"])
    assert excfg.condition_args("placebo-words+realign+cosine") == excfg.condition_args("realign+cosine")
    for bad in ("placebo-pairs", "placebo-pairs+none", "placebo-pairs+placebo-words+realign"):
        with pytest.raises(ClimeError):
            excfg.condition_args(bad)


def test_seed_draws_nested_seeded_and_independent_of_file_order():
    pairs = [(f"s{i}", f"t{i}") for i in range(300)] + [("s1", "t1")]
    small, large = ex.draw_seed_pairs(pairs, 0, 50), ex.draw_seed_pairs(pairs, 0, 200)
    assert len(small) == 50 and large[:50] == small and len(set(large)) == 200
    assert ex.draw_seed_pairs(list(reversed(pairs)), 0, 200) == large
    assert ex.draw_seed_pairs(pairs, 1, 50) != small
    assert sorted(ex.draw_seed_pairs(pairs, 0)) == sorted(set(pairs))
    assert small != sorted(small)  # a random draw, not the first pairs of a sorted file
    with pytest.raises(ClimeError, match="only 300"):
        ex.draw_seed_pairs(pairs, 0, 301)


def test_render_markdown_fields():
    row = {"seed_size": "given", "seed_pairs": None, "model": "lr", "oracle": "dict", "budget": 5, "condition": "cosine",
           "n": 2, "accuracy_before_mean": 0.5, "accuracy_before_std": 0.1, "accuracy_after_mean": 0.6,
           "accuracy_after_std": 0.1, "accuracy_diff": exrep.paired_ci([0.4, 0.6], [0.5, 0.7]),
           "macro_f1_after_mean": 0.5, "macro_f1_after_std": 0.0, "macro_f1_diff": exrep.paired_ci([0.4, 0.6], [0.5, 0.6]),
           "p1_nn_before": 0.3, "p1_nn_after": 0.4, "p1_csls_before": 0.35, "p1_csls_after": 0.45, "judgements_mean": 12}
    rep = {"name": "t", "split": "test", "eval_file": "x.json", "rows": [row], "times": {"update": {"calls": 1, "mean_s": 1.0, "total_s": 1.0}},
           "wall_s": 60, "machine": {"machine": "x86_64", "cpus": 2, "torch": None}, "top_keywords": {},
           "config": {"runs": 2, "seed": 0, "train_runs": 1, "epochs": None, "k": 5, "noise": 0.0, "test_dict": "d.tsv", "jobs": 1}}
    md = exrep.render_markdown(rep)
    assert "| cosine | 2 | 50.0 ± 10.0 | 60.0 ± 10.0 | +10.0 [+10.0, +10.0]" in md
    assert "30.0 → 40.0" in md and "Time per stage" in md


# ---------------------------------------------------------------------------- the whole loop

def _tiny_task(tmp):
    rng = np.random.RandomState(0)
    dim = 12
    classes = {0: [f"sport{i}" for i in range(6)], 1: [f"health{i}" for i in range(6)]}
    fillers = ["the", "a", "of", "and", "in", "to", "is", "it"]
    en_words = classes[0] + classes[1] + fillers
    fr = {w: "f" + w for w in en_words}
    centre = {0: rng.randn(dim), 1: rng.randn(dim)}
    S = []
    for w in en_words:
        c = 0 if w in classes[0] else 1 if w in classes[1] else None
        v = rng.randn(dim) * 0.6 + (centre[c] if c is not None else 0)
        S.append(v / np.linalg.norm(v))
    S = np.array(S, dtype=np.float32)
    T = S + rng.randn(*S.shape).astype(np.float32) * 0.35  # roughly aligned translations
    T /= np.linalg.norm(T, axis=1, keepdims=True)
    save_embeddings(tmp / "en", S, en_words)
    save_embeddings(tmp / "fr", T, [fr[w] for w in en_words])

    def docs(path, n, lang, labeled=True, start=0):
        with open(path, "w", encoding="utf-8") as fh:
            for i in range(n):
                c = i % 2
                words = list(rng.choice(classes[c], 3)) + list(rng.choice(fillers, 3))
                rng.shuffle(words)
                if lang == "fr":
                    words = [fr[w] for w in words]
                d = {"id": start + i, "text": words}
                if labeled:
                    d["label"] = c
                fh.write(json.dumps(d) + "\n")

    # disjoint ids, as in a kit: an id shared with the dev or test split is a leak (check_leaks)
    docs(tmp / "en.json", 60, "en")
    docs(tmp / "fr.json", 20, "fr", start=1000)
    docs(tmp / "fr_dev.json", 16, "fr", start=2000)
    docs(tmp / "fr_unlabeled.json", 30, "fr", labeled=False, start=3000)
    docs(tmp / "fr_labeled.json", 30, "fr", start=3000)
    (tmp / "categories.txt").write_text("sport\nhealth\n", encoding="utf-8")
    pairs = [(w, fr[w]) for w in en_words]
    (tmp / "seed.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in pairs[::4]), encoding="utf-8")
    (tmp / "oracle.tsv").write_text("".join(f"{s}\t{t}\n" for i, (s, t) in enumerate(pairs) if i % 4 and i % 3),
                                    encoding="utf-8")
    (tmp / "test.tsv").write_text("".join(f"{s}\t{t}\n" for i, (s, t) in enumerate(pairs) if i % 4 and not i % 3),
                                  encoding="utf-8")
    conf = {"name": "tiny", "src_emb": str(tmp / "en"), "tgt_emb": str(tmp / "fr"), "train": str(tmp / "en.json"),
            "test": str(tmp / "fr.json"), "dev": str(tmp / "fr_dev.json"), "tgt_unlabeled": str(tmp / "fr_unlabeled.json"),
            "tgt_labeled": str(tmp / "fr_labeled.json"), "categories": str(tmp / "categories.txt"),
            "seed_dict": str(tmp / "seed.tsv"), "oracle_dict": str(tmp / "oracle.tsv"), "test_dict": str(tmp / "test.tsv"),
            "runs": 2, "models": ["lr"], "budgets": [3], "k": 3, "oracles": ["dict"],
            "conditions": ["none", "realign", "placebo-pairs+realign", "placebo-words+realign"], "epochs": 3, "train_runs": 1, "jobs": 2, "work": str(tmp / "work"), "out": str(tmp / "results")}
    (tmp / "conf.json").write_text(json.dumps(conf), encoding="utf-8")
    return tmp / "conf.json"


@pytest.mark.skipif(not all((ROOT / s).exists() for s in SCRIPTS), reason="the pipeline scripts are not all there yet")
@pytest.mark.heavy
def test_experiment_end_to_end(tmp_path):
    conf = _tiny_task(tmp_path)
    cmd = [sys.executable, str(ROOT / "experiment.py"), "--config", str(conf), "-q"]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads((tmp_path / "results" / "report.json").read_text(encoding="utf-8"))
    md = (tmp_path / "results" / "report.md").read_text(encoding="utf-8")
    assert rep["split"] == "test"
    # one row per oracle x budget x condition, each over 2 seeds, plus the Procrustes-space row
    # (feedback starts from the self-learned space by default)
    assert rep["config"]["start"] == "selflearn"
    assert rep["rows"][0]["condition"] == "procrustes (seed only)"
    # ... and the self-training row (self-learning + train.py --self-train on the pool, no annotator)
    assert len(rep["rows"]) == 6 and sum(r["condition"] == excfg.SELF_TRAIN for r in rep["rows"]) == 1
    for row in rep["rows"]:
        assert row["n"] == 2 and row["seeds"] == [0, 1]
        for f in ("accuracy_before_mean", "accuracy_before_std", "accuracy_after_mean", "accuracy_after_std",
                  "macro_f1_before_mean", "macro_f1_after_mean", "p1_nn_before", "p1_nn_after",
                  "p1_csls_before", "p1_csls_after", "judgements_mean"):
            assert row[f] is not None, f
        assert 0 <= row["accuracy_after_mean"] <= 1
        d = row["accuracy_diff"]
        assert d["lo"] <= d["mean"] <= d["hi"]
        if row["condition"] == "none":
            assert d["mean"] == 0 and row["judgements_mean"] == 0
        if row["condition"].startswith("procrustes"):   # the seed-only space (the guard may keep it: same P@1)
            assert row["judgements_mean"] == 0 and row["p1_nn_after"] is not None
    judged = [r for r in rep["rows"] if r["condition"] == "realign"]
    assert judged[0]["judgements_mean"] > 0 and judged[0]["budget"] == 3
    for stage in ("train (before)", "rank", "preprocess", "simulate", "update", "train (after)", "word translation P@1",
                  "align (self-learning)", "train (other space)"):
        assert stage in rep["times"], stage
    assert "Δ accuracy [95% CI]" in md and "| realign |" in md
    # the controls feed exactly as many accepted pairs as the oracle did, seed by seed
    acc = {(x["condition"], x["seed"]): x["accepted"] for x in rep["records"]}
    for seed in (0, 1):
        assert acc["realign", seed] > 0
        assert acc["placebo-pairs+realign", seed] == acc["placebo-words+realign", seed] == acc["realign", seed]
    row = next(r for r in rep["rows"] if r["condition"] == "realign")
    assert set(row["vs"]) == {"none", "placebo-pairs+realign", "placebo-words+realign", excfg.SELF_TRAIN}
    assert 0 < row["oracle_coverage"] <= 1
    assert "| realign | placebo-pairs+realign |" in md and "Oracle coverage" in md
    # a rerun reuses every finished step (no retraining) and gives the same numbers
    r2 = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert r2.returncode == 0, r2.stderr[-3000:]
    rep2 = json.loads((tmp_path / "results" / "report.json").read_text(encoding="utf-8"))
    assert [x["accuracy_after_mean"] for x in rep2["rows"]] == [x["accuracy_after_mean"] for x in rep["rows"]]
    assert rep2["wall_s"] < rep["wall_s"]


def test_bad_config(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"bogus": 1}), encoding="utf-8")
    r = subprocess.run([sys.executable, str(ROOT / "experiment.py"), "--config", str(tmp_path / "c.json")],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and "bogus" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, str(ROOT / "experiment.py"), "--conditions", "none", "cosin",
                        "--src-emb", str(tmp_path), "--tgt-emb", str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and "cosin" in r.stderr and "Traceback" not in r.stderr


def test_start_space_option(tmp_path):
    conf = json.loads(_tiny_task(tmp_path).read_text(encoding="utf-8"))
    with pytest.raises(ClimeError, match="unknown start 'muse'"):
        excfg.Config.from_dict(dict(conf, start="muse")).check()
    excfg.Config.from_dict(dict(conf, start="procrustes")).check()
    assert excfg.Config().start == "selflearn" and excfg.OTHER_SPACE["procrustes"].startswith("selflearn")


def test_no_arm_trains_on_dev_or_test(tmp_path, caplog):
    """The labelled target documents every arm reads lose each dev and test document, by identical
    text (another id) and by id (another text); in both modes; and the leaks are warned about."""
    conf = json.loads(_tiny_task(tmp_path).read_text(encoding="utf-8"))
    labeled = tmp_path / "fr_labeled.json"
    n_lab = len(labeled.read_text(encoding="utf-8").splitlines())
    dev = [json.loads(x) for x in (tmp_path / "fr_dev.json").read_text(encoding="utf-8").splitlines()]
    test = [json.loads(x) for x in (tmp_path / "fr.json").read_text(encoding="utf-8").splitlines()]
    with open(labeled, "a", encoding="utf-8") as fh:  # like data/fr_labeled.json, which holds the dev documents
        for i, d in enumerate(dev):
            fh.write(json.dumps(dict(d, id=5000 + i)) + "\n")                  # same text, other id
        for d in test[:3]:
            fh.write(json.dumps(dict(d, text=d["text"] + ["fthe"])) + "\n")  # same id, other text
    from clime.text import read_docs

    for dev_only in (True, False):
        conf.update(oracles=["label"], dev_only=dev_only)
        exp = ex.Experiment(excfg.Config.from_dict(conf))
        kept = read_docs(exp.honest_label_docs())
        assert len(kept) == n_lab
        assert not {tuple(d["text"]) for d in kept} & {tuple(d["text"]) for d in dev + test}
        assert not {d["id"] for d in kept} & {d["id"] for d in dev + test}
        caplog.clear()
        assert exp.check_leaks() == 2
        warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert any("fr_labeled.json" in w and "16 identical text(s) with the dev split" in w for w in warned), warned
        assert any("shares 3 id(s) and 0 identical text(s) with the test split" in w for w in warned), warned
    labeled.write_text("".join(json.dumps(d) + "\n" for d in read_docs(labeled)[:n_lab]), encoding="utf-8")
    assert ex.Experiment(excfg.Config.from_dict(conf)).honest_label_docs() == str(labeled)  # nothing to remove


def test_model_selection_never_on_the_evaluated_documents(tmp_path):
    """Dev mode selects epochs on one half of the dev split and evaluates on the other; test mode
    selects on the whole dev split; neither passes the evaluated file as --dev."""
    from clime.text import read_docs

    conf = json.loads(_tiny_task(tmp_path).read_text(encoding="utf-8"))
    exp = ex.Experiment(excfg.Config.from_dict(dict(conf, dev_only=True)))
    sel, ev = read_docs(exp.select_file), read_docs(exp.eval_file)
    assert len(sel) == 8 and len(ev) == 8
    assert not {d["id"] for d in sel} & {d["id"] for d in ev}
    assert sorted(d["id"] for d in sel + ev) == [d["id"] for d in read_docs(tmp_path / "fr_dev.json")]
    args = [str(a) for a in exp.train_args("s", "t", "lr", 0, "r.json")]
    assert args[args.index("--dev") + 1] == exp.select_file and args[args.index("--test") + 1] == exp.eval_file
    assert ex.split_dev(tmp_path / "fr_dev.json", tmp_path / "again") != (exp.select_file, exp.eval_file)
    assert [read_docs(p) for p in ex.split_dev(tmp_path / "fr_dev.json", tmp_path / "again")] == [sel, ev]
    test_mode = ex.Experiment(excfg.Config.from_dict(conf))
    args = [str(a) for a in test_mode.train_args("s", "t", "lr", 0, "r.json")]
    assert args[args.index("--dev") + 1] == conf["dev"] and args[args.index("--test") + 1] == conf["test"]
    no_dev = ex.Experiment(excfg.Config.from_dict(dict(conf, dev_only=True, select_on_dev=False)))
    assert "--dev" not in [str(a) for a in no_dev.train_args("s", "t", "lr", 0, "r.json")]


def test_stamps_are_reused_only_for_the_same_command_and_code(tmp_path):
    from types import SimpleNamespace

    from clime.experiment import Runner

    runner = Runner(SimpleNamespace(python=None, jobs=1), tmp_path)
    out = tmp_path / "out.txt"
    out.write_text("x")
    stamp = tmp_path / "step.json"
    log = stamp.with_suffix(".log")

    def step(*args):
        log.unlink(missing_ok=True)
        runner.script("help", "binarize.py", ["--help", *args], [out], stamp)
        return log.exists()  # a log is written only when the step really runs

    assert step()
    assert not step()  # same command, same code: reused
    assert step("-q")  # another command
    runner.code = "changed"
    assert step("-q")  # same command, other code (a changed default must not reuse a stale result)
    assert not step("-q")


def test_word_translation_off_or_limited(tmp_path):
    words = [f"w{i}" for i in range(6)]
    E = np.eye(6, dtype=np.float32)
    save_embeddings(tmp_path / "s", E, words)
    save_embeddings(tmp_path / "t", E, [f"v{i}" for i in range(6)])
    (tmp_path / "d.tsv").write_text("".join(f"w{i}\tv{i}\n" for i in range(6)), encoding="utf-8")
    full = ex.word_translation(tmp_path / "s", tmp_path / "t", tmp_path / "d.tsv")
    assert full["nn"] == 1.0
    assert ex.word_translation(tmp_path / "s", tmp_path / "t", tmp_path / "d.tsv", max_words=0) == {"nn": None,
                                                                                                  "csls": None}
    part = ex.word_translation(tmp_path / "s", tmp_path / "t", tmp_path / "d.tsv", max_words=3)
    assert part["nn"] == 1.0  # only the 3 pairs inside the first 3 target words are asked
    with pytest.raises(ClimeError, match="p1_words"):
        excfg.Config(src_emb="x", tgt_emb="y", p1_words=-1).check()


@pytest.mark.skipif(not all((ROOT / s).exists() for s in SCRIPTS), reason="the pipeline scripts are not all there yet")
@pytest.mark.heavy
def test_target_labels_control(tmp_path):
    conf = json.loads(_tiny_task(tmp_path).read_text(encoding="utf-8"))
    conf.update(oracles=["label"], budgets=[2, 3], conditions=["none", "realign", excfg.TARGET_LABELS], jobs=1, runs=1)
    exp = ex.Experiment(excfg.Config.from_dict(conf))
    rep = exp.run(progress=False)
    rows = [r for r in rep["rows"] if r["condition"] == excfg.TARGET_LABELS]
    assert len(rows) == 2 and all(r["judgements_mean"] == 0 and r["accepted_mean"] == 0 for r in rows)
    # one training per seed (both budgets share it), on the label oracle's documents
    assert len({r["accuracy_after_mean"] for r in rows}) == 1
    res = json.loads((exp.work / "seedgiven" / "lr" / "s0" / "target_labels.json").read_text(encoding="utf-8"))
    assert res["tgt_train"]["files"] == [exp.label_docs] and res["tgt_train"]["documents"] > 0
    realign = next(r for r in rep["rows"] if r["condition"] == "realign")
    assert set(realign["vs"]) == {"none", excfg.TARGET_LABELS, excfg.SELF_TRAIN}
    assert set(rows[0]["vs"]) == {"none"}
    assert f"| realign | {excfg.TARGET_LABELS} |" in exrep.render_markdown(rep)
    assert excfg.condition_args(excfg.TARGET_LABELS) is None


@pytest.mark.skipif(not all((ROOT / s).exists() for s in SCRIPTS), reason="the pipeline scripts are not all there yet")
@pytest.mark.heavy
def test_train_tokens_add_train_arguments(tmp_path):
    """A condition token from the configuration adds train.py arguments with the kit's files filled
    in (tested with --tgt-train {labeled}); alone it retrains the start space, joined to an update the
    updated one; the self-train row is there exactly when train.py has --self-train."""
    conf = json.loads(_tiny_task(tmp_path).read_text(encoding="utf-8"))
    conf.update(train_tokens={"tl": ["--tgt-train", "{labeled}"]}, conditions=["none", "tl", "realign", "realign+tl"],
                jobs=1, runs=1)
    exp = ex.Experiment(excfg.Config.from_dict(conf))
    assert set(exp.cfg.train_tokens) == {"tl", excfg.SELF_TRAIN}  # the default token stays
    rep = exp.run(progress=False)
    rows = {r["condition"]: r for r in rep["rows"]}
    assert set(rows) >= {"none", "tl", "realign", "realign+tl"}
    unit = exp.work / "seedgiven" / "lr" / "s0"
    res = json.loads((unit / "tl.json").read_text(encoding="utf-8"))
    assert res["tgt_train"]["files"] == [str(tmp_path / "fr_labeled.json")] and res["tgt_train"]["documents"] == 30
    after = json.loads(next(unit.glob("dict_b3_realign_tl/after.json")).read_text(encoding="utf-8"))
    assert after["tgt_train"]["documents"] == 30
    assert rows["tl"]["judgements_mean"] == 0 and rows["realign+tl"]["judgements_mean"] > 0
    assert rows["tl"]["p1_nn_after"] == rows["none"]["p1_nn_after"]
    for bad in ({"tl": ["--tgt-train", "{nope}"]}, {"realign": ["--x"]}):
        with pytest.raises(ClimeError):
            excfg.Config.from_dict(dict(conf, train_tokens=bad)).check()
    default = ex.Experiment(excfg.Config.from_dict(dict(conf, train_tokens=excfg.DEFAULT_TRAIN_TOKENS,
                                                        conditions=["none"])))
    assert excfg.SELF_TRAIN in default.cfg.conditions


@pytest.mark.skipif(not all((ROOT / s).exists() for s in SCRIPTS), reason="the pipeline scripts are not all there yet")
@pytest.mark.heavy
def test_dask_executor_gives_the_local_report(tmp_path):
    """experiment.py --executor dask (a LocalCluster of two worker processes) gives the same report
    rows as the local executor; each unit writes its own files under the work folder."""
    pytest.importorskip("distributed")
    conf = json.loads(_tiny_task(tmp_path).read_text(encoding="utf-8"))
    conf.update(conditions=["none", "realign"], runs=2, jobs=1, work=str(tmp_path / "w_local"),
                out=str(tmp_path / "r_local"))
    local = ex.Experiment(excfg.Config.from_dict(conf)).run(progress=False)
    conf.update(work=str(tmp_path / "w_dask"), out=str(tmp_path / "r_dask"))
    (tmp_path / "dask.json").write_text(json.dumps(conf), encoding="utf-8")
    r = subprocess.run([sys.executable, str(ROOT / "experiment.py"), "--config", str(tmp_path / "dask.json"),
                        "--executor", "dask", "--jobs", "2"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "unit 2/2 finished" in r.stderr and "LocalCluster of 2 worker process(es)" in r.stderr
    dask_rep = json.loads((tmp_path / "r_dask" / "report.json").read_text(encoding="utf-8"))
    keys = ("condition", "n", "seeds", "accuracy_before_mean", "accuracy_after_mean", "macro_f1_after_mean",
            "p1_nn_after", "judgements_mean")
    assert [[row[k] for k in keys] for row in dask_rep["rows"]] == [[row[k] for k in keys] for row in local["rows"]]
    for seed in (0, 1):
        assert (tmp_path / "w_dask" / "seedgiven" / "lr" / f"s{seed}" / "before.json").exists()


def test_names_and_extra_arguments_are_checked_before_any_work(tmp_path):
    conf = _tiny_task(tmp_path)
    for extra, message in ((["--name", "../x"], "experiment name '../x'"),
                           (["--update-args", "--reg '2"], "No closing quotation"),
                           (["--update-args", "--reg x"], "update.py refuses them"),
                           (["--train-args", "--no-such-option 1"], "train.py has no option --no-such-option")):
        r = subprocess.run([sys.executable, str(ROOT / "experiment.py"), "--config", str(conf)] + extra,
                           cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, (extra, r.stderr)
        assert not (tmp_path / "work").exists()  # nothing ran
    assert excfg.split_args("--reg '2 3' --x", "--update-args") == ["--reg", "2 3", "--x"]
    with pytest.raises(ClimeError, match="experiment name"):
        excfg.Config(name="a/b", src_emb="x", tgt_emb="y").check()


def test_progress_line_estimates_what_is_left():
    rec = {"seed_size": "given", "model": "cnn", "seed": 3}
    line = ex.progress_line(2, 6, 80.0, rec)
    assert line == "unit 2/6 finished (seed size given, model cnn, seed 3: 80 s so far, about 3 min left)"
    assert ex.progress_line(6, 6, 30.0).endswith("30 s so far, done)")


def test_reports_carry_repository_relative_paths(tmp_path):
    conf = json.loads(_tiny_task(tmp_path).read_text(encoding="utf-8"))
    cfg = excfg.Config.from_dict(dict(conf, test="data/fr.json")) if (ROOT / "data/fr.json").exists() else None
    if cfg is None:
        pytest.skip("no data/fr.json")
    cfg.test = str(ROOT / "data/fr.json")
    shown = ex.report_config(cfg)
    assert shown["test"] == "data/fr.json" and shown["train"] == conf["train"]  # outside the repository: as given
    for md in (ROOT / "experiments" / "reports").glob("*.md"):
        assert str(ROOT) not in md.read_text(encoding="utf-8") and "/work/" not in md.read_text(encoding="utf-8"), md


@pytest.mark.skipif(not all((ROOT / s).exists() for s in SCRIPTS), reason="the pipeline scripts are not all there yet")
@pytest.mark.heavy
def test_dask_failed_unit_is_retried_then_reported(tmp_path):
    """A unit whose step keeps failing is run again (--retries), then reported with error:; the other
    unit's records make the partial report; exit status 2."""
    pytest.importorskip("distributed")
    conf = json.loads(_tiny_task(tmp_path).read_text(encoding="utf-8"))
    wrapper = tmp_path / "python.sh"  # the interpreter of every step: train.py of seed 1 always fails
    tries = tmp_path / "tries.txt"
    wrapper.write_text("#!/bin/sh\ncase \" $* \" in *train.py*\" --seed 1 \"*) echo \"simulated failure\" >&2; "
                       f"echo x >> {tries}; exit 3;; esac\nexec {sys.executable} \"$@\"\n", encoding="utf-8")
    wrapper.chmod(0o755)
    conf.update(conditions=["none"], runs=2, python=str(wrapper), executor="dask", jobs=2, retries=1)
    (tmp_path / "c.json").write_text(json.dumps(conf), encoding="utf-8")
    r = subprocess.run([sys.executable, str(ROOT / "experiment.py"), "--config", str(tmp_path / "c.json")],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2, r.stderr[-3000:]
    assert "error: seed size given, model lr, seed 1 failed after 1 retry" in r.stderr and "simulated failure" in r.stderr
    assert "Traceback" not in r.stderr
    rep = json.loads((tmp_path / "results" / "report.json").read_text(encoding="utf-8"))
    assert rep["partial"] and {x["seed"] for x in rep["records"]} == {0}
    assert tries.read_text().count("x") == 2  # the first try and one retry


def test_placeholders_fill_the_units_files_and_refuse_unknown_names():
    from clime.experiment_config import fill_placeholders

    args = ["--keyword-features", "{feedback}", "--keyword-rank", "{rank}", "--self-train", "{pool}"]
    got = fill_placeholders(args, {"feedback": "f.csv", "rank": "w.txt", "pool": "p.json"})
    assert got == ["--keyword-features", "f.csv", "--keyword-rank", "w.txt", "--self-train", "p.json"]
    with pytest.raises(ClimeError):
        fill_placeholders(["{ranking}"], {"rank": "w.txt"})
