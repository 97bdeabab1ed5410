"""clime.comparison through experiment.py: Base, Active, CLIME and A+C at equal annotator time."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from clime import comparison
from clime.errors import ClimeError
from test_experiment import _tiny_task

ROOT = Path(__file__).resolve().parents[1]


def test_items_per_budget():
    cfg = comparison.CompareConfig(cost_keyword=0.9, cost_document=0.9)
    assert cfg.items(45) == (50, 50) and cfg.split_items(45) == (25, 25)
    cfg = comparison.CompareConfig(cost_keyword=0.5, cost_document=2.0)
    assert cfg.items(10) == (20, 5) and cfg.split_items(10) == (10, 2)


def test_bad_comparison_config(tmp_path):
    conf = json.loads(_tiny_task(tmp_path).read_text())
    for bad in ({"minutes": [0]}, {"strategy": "best"}, {"arms": ["base", "nope"]}, {"clime_condition": "none"},
                {"cost_document": 0}, {"custom_arms": {"x": {"like": "nope"}}},
                {"custom_arms": {"x": {"like": "base", "train_args": ["{nope}"]}}},
                {"custom_arms": {"base": {"like": "clime"}}}):
        with pytest.raises(ClimeError):
            comparison.load_config({**conf, "minutes": [3], **bad}).check()


@pytest.mark.heavy
def test_comparison_end_to_end(tmp_path):
    conf_path = _tiny_task(tmp_path)
    conf = json.loads(conf_path.read_text())
    # the document oracle's file must hold the unlabelled pool's documents (labelled)
    labelled = [json.loads(x) for x in (tmp_path / "fr_labeled.json").read_text().splitlines()]
    (tmp_path / "fr_unlabeled.json").write_text("".join(json.dumps({"id": d["id"], "text": d["text"]}) + "\n"
                                                        for d in labelled))
    # two custom arms through train.py options that exist today (a stand-in for --self-train and
    # --keyword-features): a base-like one with the labelled pool, a CLIME-like one without update.py
    conf.update(minutes=[4], cost_keyword=1.0, cost_document=1.0, strategy="diverse", runs=2, jobs=1,
                arms=["base", "active", "clime", "a+c", "base+tl", "clime-noupdate"],
                custom_arms={"base+tl": {"like": "base", "train_args": ["--tgt-train", "{labeled}"]},
                             "clime-noupdate": {"like": "clime", "update": False, "train_args": ["--tgt-weight", "2"]}})
    conf_path.write_text(json.dumps(conf))
    cmd = [sys.executable, str(ROOT / "experiment.py"), "--config", str(conf_path), "-q"]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads((tmp_path / "results" / "report.json").read_text(encoding="utf-8"))
    assert rep["kind"] == "comparison" and len(rep["rows"]) == 1
    row = rep["rows"][0]
    assert row["n"] == 2 and list(row["arms"])[:6] == ["base", "active", "clime", "a+c", "base+tl", "clime-noupdate"]
    assert "base+self-train" in row["arms"]
    a = row["arms"]
    assert a["base+tl"]["keywords"] == 0 and a["clime-noupdate"]["keywords"] == 4
    tl = json.loads(next((tmp_path / "work").rglob("dict_k0_n0_diverse_base_tl/after.json")).read_text())
    assert tl["tgt_train"]["documents"] == 30
    noupd = json.loads(next((tmp_path / "work").rglob("dict_k4_n0_diverse_clime-noupdate/after.json")).read_text())
    assert noupd["tgt_train"]["weight"] == 2 and "emb_" not in noupd["args"]["src_emb"]  # the start space
    assert a["clime-noupdate"]["judgements_mean"] == a["clime"]["judgements_mean"] > 0
    assert (a["active"]["keywords"], a["active"]["documents"]) == (0, 4)
    assert (a["clime"]["keywords"], a["clime"]["documents"]) == (4, 0)
    assert (a["a+c"]["keywords"], a["a+c"]["documents"]) == (2, 2)
    assert a["active"]["labelled_mean"] == 4 and a["a+c"]["labelled_mean"] == 2
    assert a["clime"]["judgements_mean"] > 0
    for arm in ("active", "clime", "a+c"):
        d = a[arm]["accuracy_vs_base"]
        assert d["n"] == 2 and d["lo"] <= d["mean"] <= d["hi"]
    assert row["better_single"] in ("active", "clime") and row["ac_vs_better_accuracy"]["n"] == 2
    # the active arm trained with the labelled documents (train.py --tgt-train)
    after = json.loads(next((tmp_path / "work").rglob("dict_k0_n4_diverse/after.json")).read_text())
    assert after["tgt_train"]["documents"] == 4
    # chosen documents are never from the dev or test split
    held = {tuple(json.loads(x)["text"]) for f in ("fr.json", "fr_dev.json") for x in (tmp_path / f).read_text().splitlines()}
    for sel in (tmp_path / "work").rglob("documents.json"):
        assert not {tuple(d["text"]) for d in json.loads(sel.read_text())["documents"]} & held
    md = (tmp_path / "results" / "report.md").read_text(encoding="utf-8")
    assert "| a+c | 2 | 2 |" in md and "A+C −" in md
    # a rerun reuses everything and gives the same numbers
    r2 = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert r2.returncode == 0, r2.stderr[-3000:]
    rep2 = json.loads((tmp_path / "results" / "report.json").read_text(encoding="utf-8"))
    assert rep2["rows"][0]["arms"] == row["arms"]


def test_keyword_oracle_is_the_experiments_fair_oracle(tmp_path):
    """The CLIME arms' dictionary oracle judges base forms, as experiment.py's does."""
    from clime.experiment import oracle_args

    conf = json.loads(_tiny_task(tmp_path).read_text(encoding="utf-8"))
    conf.update(minutes=[4])
    cmp = comparison.Comparison(comparison.load_config(conf))
    calls = []
    cmp.doc_labels = None  # set by run(); the dict oracle does not read it
    cmp.runner.script = lambda stage, script, args, outputs, stamp: calls.append([str(a) for a in args])
    cmp._keyword_feedback(tmp_path, tmp_path / "task", "dict", 3, 0)
    assert "--tgt-lang" in calls[0] and calls[0][calls[0].index("--tgt-lang") + 1] == cmp.cfg.tgt_lang
    assert [str(a) for a in oracle_args(cmp.cfg, "dict", None)] == calls[0][calls[0].index("--dict"):]
    cmp.cfg.oracle_exact = True
    assert "--tgt-lang" not in oracle_args(cmp.cfg, "dict", None)


@pytest.mark.parametrize("path", sorted(Path(__file__).resolve().parents[1].glob("experiments/*.json")),
                         ids=lambda p: p.name)
def test_committed_configs_load_and_name_existing_files(path, monkeypatch):
    """Every committed configuration parses with the loader experiment.py picks for it, passes its
    range checks, and the data files it names are in the repository (a typo would only show after
    minutes of running)."""
    from clime import experiment_config as excfg

    root = path.parents[1]
    monkeypatch.chdir(root)
    conf = json.loads(path.read_text(encoding="utf-8"))
    if comparison.is_comparison(conf):
        cfg = comparison.load_config(dict(conf), path)
    else:
        cfg = excfg.Config.from_dict(dict(conf), path)
    cfg.check()
    assert cfg.runs >= 1
    for key in ("src_vec", "tgt_vec", "train", "test", "dev", "tgt_unlabeled", "tgt_labeled", "categories",
                "seed_dict", "oracle_dict", "test_dict"):
        if conf.get(key):
            assert (root / conf[key]).exists(), f"{path.name}: {key} = {conf[key]} is missing"


def test_report_has_a_curve_over_budgets():
    def arm(acc):
        return {"keywords": 0, "documents": 0, "accuracy_mean": acc, "accuracy_std": 0.01, "macro_f1_mean": acc,
                "macro_f1_std": 0.01}

    def row(minutes, ac):
        d = {"n": 2, "mean": ac - 0.5, "lo": ac - 0.6, "hi": ac - 0.4, "sd": 0.01}
        return {"seed_size": "given", "model": "cnn", "oracle": "dict", "minutes": minutes, "n": 2, "seeds": [0, 1],
                "arms": {"base": arm(0.5), "active": arm(0.55), "clime": arm(0.52), "a+c": arm(ac)},
                "better_single": "active", "ac_vs_better_accuracy": d, "ac_vs_better_macro_f1": d}

    rep = {"name": "t", "split": "test", "eval_file": "x", "rows": [row(60, 0.7), row(10, 0.6)], "times": {},
           "wall_s": 60, "machine": {"cpus": 2},
           "config": {"runs": 2, "seed": 0, "cost_keyword": 0.9, "cost_document": 0.9, "strategy": "random",
                      "tgt_weight": 1.0, "clime_condition": "realign", "noise": 0}}
    md = comparison.render_markdown(rep)
    assert "## Curve over budgets" in md
    curve = md.split("## Curve over budgets")[1].split("\n## ")[0]
    assert curve.index("| 10 |") < curve.index("| 60 |")  # sorted by budget
    assert "| 10 | 50.0 ± 1.0 | 55.0 ± 1.0 | 52.0 ± 1.0 | 60.0 ± 1.0 | +10.0 [+0.0, +20.0] (vs active) |" in curve
    rep["rows"] = rep["rows"][:1]
    assert "Curve over budgets" not in comparison.render_markdown(rep)


def test_curve_plot_is_written_or_skipped(tmp_path, monkeypatch, caplog):
    def arm(acc):
        return {"keywords": 0, "documents": 0, "accuracy_mean": acc, "accuracy_std": 0.01}

    rows = [{"seed_size": "given", "model": "cnn", "oracle": "dict", "minutes": m,
             "arms": {"base": arm(0.5), "clime": arm(0.5 + m / 100), "base+self-train": arm(0.55)}} for m in (10, 20)]
    rep = {"name": "t", "split": "dev", "rows": rows}
    png = comparison.plot_curve(rep, tmp_path / "c.png")
    if png is not None:
        assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert comparison.plot_curve(dict(rep, rows=rows[:1]), tmp_path / "one.png") is None  # one budget: no curve
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with caplog.at_level("INFO"):
        assert comparison.plot_curve(rep, tmp_path / "none.png") is None
    assert "matplotlib is not installed: no curve plot" in caplog.text and not (tmp_path / "none.png").exists()


def test_docs_name_the_configs_with_three_training_runs():
    """docs/experiment.md lists exactly the committed configurations whose train_runs is not 1, and no
    configuration's comment says it is for run_example.sh unless run_example.sh runs it."""
    import re

    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "experiment.md").read_text(encoding="utf-8")
    para = text[text.index("Most committed\nconfigurations"):].split("\n\n")[0]
    named = set(re.findall(r"`([\w.-]+\.json)`", para))
    runs = {p.name: json.loads(p.read_text(encoding="utf-8")).get("train_runs", 3)
            for p in (root / "experiments").glob("*.json")}
    assert named == {n for n, r in runs.items() if r != 1}
    script = (root / "run_example.sh").read_text(encoding="utf-8")
    for p in (root / "experiments").glob("*.json"):
        comment = json.loads(p.read_text(encoding="utf-8")).get("comment", "")
        if re.search(r"\bfor run_example\.sh", comment):
            assert p.name in script, p.name
