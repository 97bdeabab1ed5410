import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import preprocess_ui
from clime.embeddings import save_embeddings
from clime.errors import ClimeError
from clime.preprocess import (NeighbourSearch, check_task_name, read_categories, read_ranking, scan_docs,
                              vocab_list)
from clime.text import write_docs

ROOT = Path(__file__).resolve().parents[1]

# A tiny space where the neighbours are known.  Rows are in "frequency" order.
SRC = {
    "the": [0.1, 0.1, 0.1, 1.0],
    "cat": [1.0, 0.0, 0.0, 0.0],
    "kitty": [1.0, 0.0, 0.0, 0.0],  # the very same vector as "cat"
    "dog": [0.9, 0.4, 0.0, 0.0],
    "car": [0.0, 1.0, 0.0, 0.0],
    "bus": [0.1, 0.9, 0.1, 0.0],
    "<script>": [0.0, 0.0, 1.0, 0.0],
    "unused": [0.5, 0.5, 0.5, 0.5],  # in the embeddings, in no document
}
TGT = {
    "le": [0.1, 0.1, 0.1, 1.0],
    "chat": [0.95, 0.05, 0.0, 0.0],
    "chien": [0.85, 0.4, 0.0, 0.0],
    "voiture": [0.05, 1.0, 0.0, 0.0],
    "autobus": [0.1, 0.9, 0.15, 0.0],
    "absent": [0.0, 0.0, 0.0, 1.0],
}
SRC_DOCS = [
    {"id": 10, "text": ["cat", "the", "kitty", "dog", "cat", "car"], "label": 0},
    {"id": 11, "text": ["the", "car", "bus", "dog", "cat"], "label": 1},
    {"id": 12, "text": ["cat", "the", "bus"], "label": 0},
    {"id": 13, "text": ["<script>", "alert", "(", "cat", ")", "</script>", "&amp;"], "label": 1},
]
TGT_DOCS = [
    {"id": 1, "text": ["le", "chat", "et", "le", "chien"]},
    {"id": 2, "text": ["la", "voiture", "et", "autobus"]},
    {"id": 3, "text": ["chat"]},
]


def emb_dir(path, table):
    words = list(table)
    save_embeddings(path, np.array([table[w] for w in words], dtype=np.float32), words)
    return str(path)


@pytest.fixture
def inputs(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    write_docs(d / "en.json", SRC_DOCS)
    write_docs(d / "fr.json", TGT_DOCS)
    (d / "rank.txt").write_text("bus\t3.5\nzebra\t3.0\ncat\t2.0\ndog\t1.5\ncat\t1.0\nthe\t0.5\n", encoding="utf-8")
    (d / "cats.txt").write_text("animals\n\nvehicles\n", encoding="utf-8")
    return {"src_emb": emb_dir(d / "en", SRC), "tgt_emb": emb_dir(d / "fr", TGT), "rank": str(d / "rank.txt"),
            "src_doc": str(d / "en.json"), "tgt_doc": str(d / "fr.json"), "categories": str(d / "cats.txt"),
            "dir": d, "tmp": tmp_path}


def argv(inp, task="t1", out=None, *extra):
    out = out or str(inp["tmp"] / "ui" / task)
    return ["--src-emb", inp["src_emb"], "--tgt-emb", inp["tgt_emb"], "-k", "2", "--task", task,
            "--rank", inp["rank"], "--max", "3", "--src-doc", inp["src_doc"], "--tgt-doc", inp["tgt_doc"],
            "--src-lang", "ENGLISH", "--tgt-lang", "FRENCH", "--categories", inp["categories"],
            "--contexts", "2", "--window", "2", "--out-dir", out, "--device", "cpu", "-q", *extra]


def run_inproc(args, monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert preprocess_ui.main(args) == 0


def load(out, name):
    return json.loads((Path(out) / name).read_text(encoding="utf-8"))


def test_task_files_and_known_neighbours(inputs, monkeypatch):
    out = inputs["tmp"] / "ui" / "t1"
    run_inproc(argv(inputs), monkeypatch)
    assert sorted(os.listdir(out)) == ["concordance_src.json", "concordance_tgt.json", "setup.json",
                                       "vocab_src.json", "vocab_tgt.json"]
    setup = load(out, "setup.json")
    assert setup["format"] == 1 and setup["task"] == "t1" and setup["k"] == 2
    assert setup["src_lang"] == "ENGLISH" and setup["tgt_lang"] == "FRENCH"
    assert setup["categories"] == ["animals", "vehicles"]
    assert setup["src_emb"] == inputs["src_emb"] and setup["tgt_emb"] == inputs["tgt_emb"]
    assert setup["args"]["max"] == 3 and "created" in setup
    kws = setup["keywords"]
    # rank order; 'zebra' (no vector) skipped, the repeated 'cat' counted once
    assert [(k["word"], k["score"]) for k in kws] == [("bus", 3.5), ("cat", 2.0), ("dog", 1.5)]
    by = {k["word"]: k for k in kws}
    # the keyword is excluded by identity: its duplicate 'kitty' is still the first neighbour
    assert [e["word"] for e in by["cat"]["src"]] == ["kitty", "dog"]
    assert by["cat"]["src"][0]["sim"] == pytest.approx(1.0)
    assert [e["word"] for e in by["cat"]["tgt"]] == ["chat", "chien"]
    assert [e["word"] for e in by["bus"]["src"]] == ["car", "dog"]
    assert [e["word"] for e in by["bus"]["tgt"]] == ["autobus", "voiture"]
    for k in kws:
        assert k["word"] not in [e["word"] for e in k["src"]]
        assert len(k["src"]) == 2 and len(k["tgt"]) == 2
        sims = [e["sim"] for e in k["src"]]
        assert sims == sorted(sims, reverse=True)
        assert "csls" not in k["src"][0]
    cos = np.dot(SRC["cat"], TGT["chien"]) / np.linalg.norm(TGT["chien"])
    assert by["cat"]["tgt"][1]["sim"] == pytest.approx(cos, abs=1e-4)
    # vocabularies: document words with a vector; alphabetical, with token frequencies
    assert load(out, "vocab_src.json") == [["<script>", 1], ["bus", 2], ["car", 2], ["cat", 5], ["dog", 2],
                                           ["kitty", 1], ["the", 3]]
    assert load(out, "vocab_tgt.json") == [["autobus", 1], ["chat", 2], ["chien", 1], ["le", 2], ["voiture", 1]]


def test_duplicate_vector_keyword_never_its_own_neighbour(inputs, monkeypatch):
    (inputs["dir"] / "rank.txt").write_text("kitty\ncat\n", encoding="utf-8")
    out = inputs["tmp"] / "ui" / "t1"
    run_inproc(argv(inputs), monkeypatch)
    kws = load(out, "setup.json")["keywords"]
    assert [k["word"] for k in kws] == ["kitty", "cat"]
    assert kws[0]["score"] == pytest.approx(1.0) and kws[1]["score"] == pytest.approx(0.5)  # bare words: 1/rank
    assert kws[0]["src"][0]["word"] == "cat"
    assert kws[1]["src"][0]["word"] == "kitty"


def test_frequency_caps(inputs, monkeypatch):
    out = inputs["tmp"] / "ui" / "t1"
    run_inproc(argv(inputs, "t1", None, "--src-f", "5", "--tgt-f", "3"), monkeypatch)
    # source: first 5 rows (the, cat, kitty, dog, car); 'bus' and '<script>' are beyond the cap
    assert [w for w, _ in load(out, "vocab_src.json")] == ["car", "cat", "dog", "kitty", "the"]
    assert [w for w, _ in load(out, "vocab_tgt.json")] == ["chat", "chien", "le"]
    setup = load(out, "setup.json")
    assert [k["word"] for k in setup["keywords"]] == ["cat", "dog", "the"]  # 'bus' is not in the vocabulary
    shown = {e["word"] for k in setup["keywords"] for e in k["src"] + k["tgt"]}
    assert shown <= {"car", "cat", "dog", "kitty", "the", "chat", "chien", "le"}
    assert set(load(out, "concordance_src.json")) == {"car", "cat", "dog", "kitty", "the"}


def test_concordances(inputs, monkeypatch):
    out = inputs["tmp"] / "ui" / "t1"
    run_inproc(argv(inputs), monkeypatch)
    conc = load(out, "concordance_src.json")
    assert set(conc) == {"<script>", "bus", "car", "cat", "dog", "kitty", "the"}
    # 'cat' twice in doc 10: one window from it (the first), the next from another document;
    # window 2 cut at the document edges; --contexts 2 keeps only two documents
    assert conc["cat"] == [{"doc": 10, "tokens": ["cat", "the", "kitty"], "pos": 0},
                           {"doc": 11, "tokens": ["bus", "dog", "cat"], "pos": 2}]
    assert conc["kitty"] == [{"doc": 10, "tokens": ["cat", "the", "kitty", "dog", "cat"], "pos": 2}]
    for word, wins in conc.items():
        assert len({w["doc"] for w in wins}) == len(wins) <= 2
        for w in wins:
            assert w["tokens"][w["pos"]] == word
    # HTML-like tokens stay plain data
    assert conc["<script>"] == [{"doc": 13, "tokens": ["<script>", "alert", "("], "pos": 0}]
    raw = (out / "concordance_src.json").read_text(encoding="utf-8")
    assert '"<script>"' in raw and "&lt;" not in raw
    tconc = load(out, "concordance_tgt.json")
    assert tconc["chat"] == [{"doc": 1, "tokens": ["le", "chat", "et", "le"], "pos": 1},
                             {"doc": 3, "tokens": ["chat"], "pos": 0}]


def test_scan_docs_window_zero_and_no_contexts():
    docs = [{"id": 1, "text": ["a", "b", "a"]}, {"id": 2, "text": ["b"]}]
    freq, conc = scan_docs(docs, {"a", "b"}, contexts=5, window=0)
    assert freq == {"a": 2, "b": 2}
    assert conc == {"a": [{"doc": 1, "tokens": ["a"], "pos": 0}],
                    "b": [{"doc": 1, "tokens": ["b"], "pos": 0}, {"doc": 2, "tokens": ["b"], "pos": 0}]}
    freq, conc = scan_docs(docs, {"a"}, contexts=0, window=3)
    assert freq == {"a": 2} and conc == {}
    assert vocab_list(["b", "B", "a"], {"a": 1, "b": 2, "B": 3}) == [["B", 3], ["a", 1], ["b", 2]]


def test_all_and_second_run_replaces_the_task(inputs, monkeypatch):
    out = inputs["tmp"] / "ui" / "t1"
    run_inproc(argv(inputs, "t1", None, "--all"), monkeypatch)
    allnb = load(out, "neighbors_all.json")
    assert set(allnb) == {"<script>", "bus", "car", "cat", "dog", "kitty", "the"}
    assert [e["word"] for e in allnb["cat"]["src"]] == ["kitty", "dog"]
    assert [e["word"] for e in allnb["cat"]["tgt"]] == ["chat", "chien"]
    setup = load(out, "setup.json")
    for k in setup["keywords"]:
        assert allnb[k["word"]]["src"] == k["src"] and allnb[k["word"]]["tgt"] == k["tgt"]
    (out / "stale.txt").write_text("old")
    run_inproc(argv(inputs, "t1", None, "--max", "1"), monkeypatch)
    assert sorted(os.listdir(out)) == ["concordance_src.json", "concordance_tgt.json", "setup.json",
                                       "vocab_src.json", "vocab_tgt.json"]
    assert len(load(out, "setup.json")["keywords"]) == 1
    assert os.listdir(out.parent) == ["t1"]  # no temporary directories left


def test_csls_option(inputs, monkeypatch):
    out = inputs["tmp"] / "ui" / "t1"
    run_inproc(argv(inputs, "t1", None, "--csls"), monkeypatch)
    setup = load(out, "setup.json")
    assert setup["method"] == "csls"
    for k in setup["keywords"]:
        assert k["word"] not in [e["word"] for e in k["src"]]
        scores = [e["csls"] for e in k["src"]]
        assert scores == sorted(scores, reverse=True)
        assert all(-1.0001 <= e["sim"] <= 1.0001 for e in k["src"] + k["tgt"])
    cat = next(k for k in setup["keywords"] if k["word"] == "cat")
    assert cat["src"][0]["word"] == "kitty"


def angles(*degrees):
    return np.array([[math.cos(math.radians(a)), math.sin(math.radians(a))] for a in degrees], dtype=np.float32)


def test_csls_hubness_changes_the_target_neighbour():
    # source words cluster around 0 deg; target word 0 (at 0 deg) is a hub close to all of them,
    # target word 1 (25 deg) is close only to source word 0 (10 deg)
    S = angles(10, 0, -2, 2)
    T = angles(0, 25)
    plain = NeighbourSearch(S, T, device="cpu")
    assert plain.query([0], 1)[3].tolist() == [[0]]
    hub = NeighbourSearch(S, T, csls=True, device="cpu", csls_k=3)
    si, sc, ss, ti, tc, ts = hub.query([0], 2)
    assert ti.tolist() == [[1, 0]]
    np.testing.assert_allclose(tc[0], [math.cos(math.radians(15)), math.cos(math.radians(10))], rtol=1e-5)
    assert ts[0, 0] > ts[0, 1]
    assert 0 not in si[0]


def test_read_ranking_formats(tmp_path):
    p = tmp_path / "r.txt"
    p.write_text("alpha\t2.5\textra\nbeta 1.5\ngamma\n\nalpha\t9\n", encoding="utf-8")
    assert read_ranking(p) == [("alpha", 2.5), ("beta", 1.5), ("gamma", None)]
    p.write_text("alpha\tmany\n", encoding="utf-8")
    with pytest.raises(ClimeError, match=r"r\.txt:1: score 'many'"):
        read_ranking(p)
    p.write_text("a\t1\nb\tnan\n", encoding="utf-8")
    with pytest.raises(ClimeError, match=r"r\.txt:2:"):
        read_ranking(p)
    p.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ClimeError, match="empty"):
        read_ranking(p)


def test_categories_and_task_names(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("a\nb\na\n", encoding="utf-8")
    with pytest.raises(ClimeError, match="twice"):
        read_categories(p)
    for good in ("example", "Task_2-b", "x" * 64):
        assert check_task_name(good) == good
    for bad in ("", "a b", "../up", "a/b", "café", "x" * 65, "t.json", "a\n", "api", "static"):
        with pytest.raises(ClimeError, match="task name"):
            check_task_name(bad)


# ---------------------------------------------------------------- bad inputs, as a user sees them

def run_script(args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TQDM_DISABLE="1")
    return subprocess.run([sys.executable, str(ROOT / "preprocess_ui.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


def test_bad_inputs_exit_2_and_leave_no_task(inputs):
    tmp = inputs["tmp"]
    ui = tmp / "ui"
    ui.mkdir()
    (ui / "keep").mkdir()
    (ui / "keep" / "setup.json").write_text("{}")  # an old task that a failed run must leave alone
    (inputs["dir"] / "norank.txt").write_text("zebra\t1\nunicorn\t0.5\n", encoding="utf-8")
    (inputs["dir"] / "empty.txt").write_text("\n", encoding="utf-8")
    cases = [
        ("keep", {"--rank": str(inputs["dir"] / "norank.txt")}, "none of the 2 ranked words"),
        ("keep", {"--categories": str(inputs["dir"] / "empty.txt")}, "no categories"),
        ("keep", {"--tgt-doc": str(inputs["dir"] / "missing.json")}, "no such file"),
        ("bad name", {}, "bad task name"),
        ("../up", {}, "bad task name"),
    ]
    for task, repl, message in cases:
        args = argv(inputs, task, str(ui / task))
        for opt, val in repl.items():
            args[args.index(opt) + 1] = val
        res = run_script(args, tmp)
        assert res.returncode == 2, (task, repl, res.stderr)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], res.stderr
        assert "Traceback" not in res.stderr
        assert sorted(os.listdir(ui)) == ["keep"]
        assert os.listdir(ui / "keep") == ["setup.json"]
    assert not (tmp / "up").exists()
    # the default output directory is ui_data/<task> under the working directory
    res = run_script([a for a in argv(inputs, "fine") if a not in ("--out-dir", str(ui / "fine"))], tmp)
    assert res.returncode == 0, res.stderr
    assert (tmp / "ui_data" / "fine" / "setup.json").exists()
