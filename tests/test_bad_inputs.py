"""Issue 14's probe: every script on bad input (documents, dictionaries, embeddings,
feedback CSVs, configs, task files, databases, numeric options, output paths).

Each case must end with exit status 2, an error on stderr and no traceback, and
leave no output behind (nor change one that was there).  The scripts run in this
process (``cli.run(main, argv)``, which is what ``python script.py`` does), so
torch is imported once for all of them.
"""
import contextlib
import gzip
import io
import json
import runpy
import shutil
from pathlib import Path

import numpy as np
import pytest

from clime import cli
from test_experiment import _tiny_task

ROOT = Path(__file__).resolve().parents[1]
DEEP = "[" * 5000 + "]" * 5000
BIG = "1" + "0" * 5000

_MAINS = {}


def run_script(script, argv):
    """(exit status, stderr) of ``python script argv -q``; an exception that escapes
    is a traceback, and fails the test with it."""
    if script not in _MAINS:
        _MAINS[script] = runpy.run_path(str(ROOT / script), run_name="probe")["main"]
    err = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            cli.run(_MAINS[script], [str(a) for a in argv] + ["-q"])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return code, err.getvalue()


# ------------------------------------------------------------------ the kit

@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """The tiny synthetic task with everything the scripts read: embedding
    directories, word2vec files, a model, a ranking, a task folder, feedback."""
    k = tmp_path_factory.mktemp("kit")
    _tiny_task(k)
    steps = [
        ("export_vec.py", [k / "en", k / "en.vec"]),
        ("export_vec.py", [k / "en", k / "en.vec.gz"]),
        ("train.py", ["--src-emb", k / "en", "--tgt-emb", k / "fr", "--train", k / "en.json", "--test", k / "fr.json",
                      "--type", "cnn", "--filters", "4", "--widths", "2", "--epochs", "1", "--runs", "1",
                      "--threads", "1", "--device", "cpu", "--output", k / "model.pt"]),
        ("rank_words.py", [k / "model.pt", "--output", k / "rank.txt", "--device", "cpu"]),
        ("preprocess_ui.py", ["--src-emb", k / "en", "--tgt-emb", k / "fr", "-k", "3", "--task", "tiny",
                              "--rank", k / "rank.txt", "--max", "6", "--src-doc", k / "en.json",
                              "--tgt-doc", k / "fr_unlabeled.json", "--categories", k / "categories.txt",
                              "--out-dir", k / "ui" / "tiny", "--device", "cpu"]),
        ("simulate.py", ["--task", "tiny", "--ui-data", k / "ui", "--dict", k / "oracle.tsv", "--out", k / "fb.csv"]),
    ]
    for script, argv in steps:
        code, err = run_script(script, argv)
        assert code == 0, (script, err)
    return k


# ------------------------------------------------------------------ bad files

def _docs(t, body):
    p = t / "bad_docs.json"
    p.write_bytes(body if isinstance(body, bytes) else body.encode())
    return p


def _emb(kit, t, name="en", row=None, value=np.nan, words=None, meta=None, empty_matrix=False):
    """A copy of a kit embedding directory, damaged as asked."""
    d = t / f"{name}_bad"
    shutil.copytree(kit / name, d)
    if row is not None:
        E = np.load(d / "E.npy")
        E[row, 1] = value
        np.save(d / "E.npy", E)
    if words is not None:
        (d / "words.json").write_text(words, encoding="utf-8")
    if meta is not None:
        (d / "meta.json").write_text(meta, encoding="utf-8")
    if empty_matrix:
        (d / "E.npy").write_bytes(b"")
    return d


def _vec(kit, t, value="nan"):
    lines = (kit / "en.vec").read_text(encoding="utf-8").splitlines()
    parts = lines[3].split()
    parts[2] = value
    lines[3] = " ".join(parts)
    p = t / "bad.vec"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def _gz(kit, t, truncate=False):
    data = bytearray((kit / "en.vec.gz").read_bytes())
    if truncate:
        data = data[: len(data) // 2]
    else:
        mid = len(data) // 2
        data[mid:mid + 16] = bytes(b ^ 0xFF for b in data[mid:mid + 16])
    p = t / "bad.vec.gz"
    p.write_bytes(bytes(data))
    return p


def _feedback(t, cell):
    p = t / "bad_fb.csv"
    p.write_text("keyword,timestamp,pos1,pos2,neg1,neg2,new1,new2\n"
                 f"sport1,2026-01-01T00:00:00,\"{cell}\",[],[],[],[],[]\n", encoding="utf-8")
    return p


def _task(kit, t, setup=None, vocab=None):
    d = t / "ui" / "tiny"
    shutil.copytree(kit / "ui" / "tiny", d)
    if setup is not None:
        (d / "setup.json").write_text(setup, encoding="utf-8")
    if vocab is not None:
        (d / "vocab_tgt.json").write_text(vocab, encoding="utf-8")
    return t / "ui"


def _config(kit, t, **changes):
    conf = json.loads((kit / "conf.json").read_text(encoding="utf-8"))
    conf.update(work=str(t / "work"), out=str(t / "results"))
    text = json.dumps(conf)
    for key, raw in changes.items():
        text = text[:-1] + f', "{key}": {raw}' + "}"
    p = t / "bad_conf.json"
    p.write_text(text, encoding="utf-8")
    return p


def _file(t, name, data=b""):
    p = t / name
    p.write_bytes(data)
    return p


# ------------------------------------------------------------------ the cases
# Each case: (id, script, lambda kit, t -> (argv, [outputs that must not appear or change]))

def _train(k, **over):
    a = {"--src-emb": k / "en", "--tgt-emb": k / "fr", "--train": k / "en.json", "--test": k / "fr.json",
         "--type": "lr", "--epochs": "1", "--runs": "1", "--device": "cpu"}
    a.update(over)
    return [x for kv in a.items() for x in kv]


def _align(k, t, **over):
    a = {"--src-emb": k / "en", "--tgt-emb": k / "fr", "--dict": k / "seed.tsv", "--min-pairs": "3",
         "--out-src": t / "os", "--out-tgt": t / "ot"}
    a.update(over)
    return [x for kv in a.items() for x in kv]


def _update(k, t, **over):
    a = {"--feedback": k / "fb.csv", "--src-emb": k / "en", "--tgt-emb": k / "fr", "--out-src": t / "os",
         "--out-tgt": t / "ot", "--iter": "20", "--device": "cpu"}
    a.update(over)
    return [x for kv in a.items() for x in kv]


def _pre(k, t, **over):
    a = {"--src-emb": k / "en", "--tgt-emb": k / "fr", "--task": "tiny", "--rank": k / "rank.txt", "--max": "4",
         "--src-doc": k / "en.json", "--tgt-doc": k / "fr_unlabeled.json", "--categories": k / "categories.txt",
         "--out-dir": t / "task", "--device": "cpu"}
    a.update(over)
    return [x for kv in a.items() for x in kv]


def _sim(k, t, *extra, ui=None):
    return ["--task", "tiny", "--ui-data", ui or k / "ui", "--dict", k / "oracle.tsv", "--out", t / "o.csv", *extra]


def _rank(k, t, model=None, *extra):
    return [model or k / "model.pt", "--output", t / "r.txt", "--device", "cpu", *extra]


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


CASES = [
    # --- binarize.py: word2vec files
    ("binarize-nan", "binarize.py", lambda k, t: ([_vec(k, t), t / "o"], [t / "o"])),
    ("binarize-inf", "binarize.py", lambda k, t: ([_vec(k, t, "inf"), t / "o"], [t / "o"])),
    ("binarize-gzip-corrupt", "binarize.py", lambda k, t: ([_gz(k, t), t / "o"], [t / "o"])),
    ("binarize-gzip-truncated", "binarize.py", lambda k, t: ([_gz(k, t, True), t / "o"], [t / "o"])),
    ("binarize-empty", "binarize.py", lambda k, t: ([_file(t, "e.vec"), t / "o"], [t / "o"])),
    ("binarize-max-words-0", "binarize.py", lambda k, t: ([k / "en.vec", t / "o", "--max-words", "0"], [t / "o"])),
    ("binarize-workers-neg", "binarize.py", lambda k, t: ([k / "en.vec", t / "o", "--workers", "-1"], [t / "o"])),
    ("binarize-output-is-file", "binarize.py", lambda k, t: ([k / "en.vec", _file(t, "f", b"keep")], [t / "f"])),
    ("binarize-output-holds-input", "binarize.py",
     lambda k, t: ([shutil.copy(k / "en.vec", _copy(k / "en", t / "o") / "in.vec"), t / "o"], [t / "o"])),
    # --- train_vectors.py: the user's corpus
    ("tvec-empty-corpus", "train_vectors.py",
     lambda k, t: (["--lang", "en", "--corpus", _file(t, "c.txt", b"\n \n"), "--out", t / "o.vec"], [t / "o.vec"])),
    ("tvec-min-count", "train_vectors.py",
     lambda k, t: (["--lang", "en", "--docs", k / "en.json", "--min-count", "100000", "--dim", "4", "--out",
                    t / "o.vec"], [t / "o.vec"])),
    ("tvec-docs-deep", "train_vectors.py",
     lambda k, t: (["--lang", "en", "--docs", _file(t, "d.json", DEEP.encode()), "--out", t / "o"], [t / "o"])),
    ("tvec-corpus-utf8", "train_vectors.py",
     lambda k, t: (["--lang", "en", "--corpus", _file(t, "c.txt", b"a b\n\xff\n"), "--out", t / "o.vec"],
                   [t / "o.vec"])),
    ("tvec-out-is-file", "train_vectors.py",
     lambda k, t: (["--lang", "en", "--docs", k / "en.json", "--out", _file(t, "f", b"keep")], [t / "f"])),
    ("tvec-vocab-from-missing", "train_vectors.py",
     lambda k, t: (["--lang", "en", "--docs", k / "en.json", "--vocab-from", t / "none.json", "--out", t / "o.vec"],
                   [t / "o.vec"])),
    # --- export_vec.py
    ("export-nan-row", "export_vec.py", lambda k, t: ([_emb(k, t, row=2), t / "o.vec"], [t / "o.vec"])),
    ("export-words-deep", "export_vec.py", lambda k, t: ([_emb(k, t, words=DEEP), t / "o.vec"], [t / "o.vec"])),
    ("export-words-bigint", "export_vec.py",
     lambda k, t: ([_emb(k, t, words='{"a": ' + BIG + "}"), t / "o.vec"], [t / "o.vec"])),
    ("export-meta-deep", "export_vec.py", lambda k, t: ([_emb(k, t, meta=DEEP), t / "o.vec"], [t / "o.vec"])),
    ("export-empty-matrix", "export_vec.py",
     lambda k, t: ([_emb(k, t, empty_matrix=True), t / "o.vec"], [t / "o.vec"])),
    ("export-precision-0", "export_vec.py", lambda k, t: ([k / "en", t / "o.vec", "--precision", "0"], [t / "o.vec"])),
    ("export-into-input", "export_vec.py",
     lambda k, t: ([_copy(k / "en", t / "e"), t / "e" / "E.npy"], [t / "e"])),
    # --- align.py
    ("align-nan-row", "align.py", lambda k, t: (_align(k, t, **{"--src-emb": _emb(k, t, row=0)}), [t / "os", t / "ot"])),
    ("align-inf-row", "align.py",
     lambda k, t: (_align(k, t, **{"--tgt-emb": _emb(k, t, "fr", row=1, value=np.inf)}), [t / "os", t / "ot"])),
    ("align-words-deep", "align.py",
     lambda k, t: (_align(k, t, **{"--src-emb": _emb(k, t, words=DEEP)}), [t / "os", t / "ot"])),
    ("align-empty-matrix", "align.py",
     lambda k, t: (_align(k, t, **{"--src-emb": _emb(k, t, empty_matrix=True)}), [t / "os", t / "ot"])),
    ("align-bad-dict", "align.py",
     lambda k, t: (_align(k, t, **{"--dict": _file(t, "d.tsv", b"a b c\n")}), [t / "os", t / "ot"])),
    ("align-dict-utf8", "align.py",
     lambda k, t: (_align(k, t, **{"--dict": _file(t, "d.tsv", b"\xff\tx\n")}), [t / "os", t / "ot"])),
    ("align-same-outputs", "align.py", lambda k, t: (_align(k, t, **{"--out-tgt": t / "os"}), [t / "os"])),
    ("align-nested-outputs", "align.py", lambda k, t: (_align(k, t, **{"--out-tgt": t / "os" / "x"}), [t / "os"])),
    ("align-output-is-input", "align.py",
     lambda k, t: (_align(k, t, **{"--src-emb": _copy(k / "en", t / "e"), "--out-src": t / "e"}), [t / "e", t / "ot"])),
    ("align-results-unwritable", "align.py",
     lambda k, t: (_align(k, t, **{"--results": _file(t, "f") / "r.json"}), [t / "os", t / "ot", t / "f"])),
    ("align-save-map-unwritable", "align.py",
     lambda k, t: (_align(k, t, **{"--save-map": _file(t, "f") / "w.npy"}), [t / "os", t / "ot", t / "f"])),
    ("align-results-is-dir", "align.py",
     lambda k, t: (_align(k, t, **{"--results": _copy(k / "en", t / "dir")}), [t / "os", t / "ot", t / "dir"])),
    ("align-csls-k-0", "align.py", lambda k, t: (_align(k, t, **{"--csls-k": "0"}), [t / "os", t / "ot"])),
    ("align-iter-norm-neg", "align.py", lambda k, t: (_align(k, t, **{"--iter-norm": "-1"}), [t / "os", t / "ot"])),
    # --- train.py
    ("train-lr-neg", "train.py", lambda k, t: (_train(k, **{"--lr": "-1", "--results": t / "r.json"}), [t / "r.json"])),
    ("train-lr-nan", "train.py", lambda k, t: (_train(k, **{"--lr": "nan", "--results": t / "r.json"}), [t / "r.json"])),
    ("train-clip-inf", "train.py", lambda k, t: (_train(k, **{"--clip": "inf"}), [])),
    ("train-dropout-nan", "train.py", lambda k, t: (_train(k, **{"--dropout": "nan"}), [])),
    ("train-holdout-1", "train.py", lambda k, t: (_train(k, **{"--holdout": "1"}), [])),
    ("train-epochs-0", "train.py", lambda k, t: (_train(k, **{"--epochs": "0"}), [])),
    ("train-docs-deep", "train.py",
     lambda k, t: (_train(k, **{"--train": _docs(t, '{"id": 1, "text": ' + DEEP + ', "label": 0}\n'),
                                "--output": t / "m.pt"}), [t / "m.pt"])),
    ("train-docs-bigint", "train.py",
     lambda k, t: (_train(k, **{"--test": _docs(t, '{"id": ' + BIG + ', "text": ["a"], "label": 0}\n')}), [])),
    ("train-docs-nan-label", "train.py",
     lambda k, t: (_train(k, **{"--train": _docs(t, '{"id": 1, "text": ["a"], "label": NaN}\n')}), [])),
    ("train-docs-utf8", "train.py", lambda k, t: (_train(k, **{"--train": _docs(t, b'{"id": 1, "text": "\xff"}\n')}), [])),
    ("train-nan-row", "train.py",
     lambda k, t: (_train(k, **{"--tgt-emb": _emb(k, t, "fr", row=3), "--output": t / "m.pt"}), [t / "m.pt"])),
    ("train-output-is-results", "train.py",
     lambda k, t: (_train(k, **{"--output": t / "x", "--results": t / "x"}), [t / "x"])),
    ("train-output-over-input", "train.py",
     lambda k, t: (_train(k, **{"--test": shutil.copy(k / "fr.json", t / "fr.json"), "--results": t / "fr.json"}),
                   [t / "fr.json"])),
    # --- rank_words.py
    ("rank-model-empty", "rank_words.py", lambda k, t: (_rank(k, t, _file(t, "m.pt")), [t / "r.txt"])),
    ("rank-model-garbage", "rank_words.py",
     lambda k, t: (_rank(k, t, _file(t, "m.pt", b"PK\x03\x04 not a zip")), [t / "r.txt"])),
    ("rank-max-df-nan", "rank_words.py", lambda k, t: (_rank(k, t, None, "--max-df", "nan"), [t / "r.txt"])),
    ("rank-top-neg", "rank_words.py", lambda k, t: (_rank(k, t, None, "--top", "-1"), [t / "r.txt"])),
    ("rank-docs-deep", "rank_words.py",
     lambda k, t: (_rank(k, t, None, "--train", _docs(t, '{"text": ' + DEEP + ', "label": 0}\n')), [t / "r.txt"])),
    ("rank-nan-row", "rank_words.py",
     lambda k, t: (_rank(k, t, None, "--src-emb", _emb(k, t, row=5)), [t / "r.txt"])),
    ("rank-output-is-model", "rank_words.py",
     lambda k, t: ([shutil.copy(k / "model.pt", t / "m.pt"), "--output", t / "m.pt"], [t / "m.pt"])),
    # --- preprocess_ui.py
    ("pre-nan-row", "preprocess_ui.py", lambda k, t: (_pre(k, t, **{"--tgt-emb": _emb(k, t, "fr", row=0)}), [t / "task"])),
    ("pre-k-0", "preprocess_ui.py", lambda k, t: (_pre(k, t, **{"-k": "0"}), [t / "task"])),
    ("pre-max-0", "preprocess_ui.py", lambda k, t: (_pre(k, t, **{"--max": "0"}), [t / "task"])),
    ("pre-window-neg", "preprocess_ui.py", lambda k, t: (_pre(k, t, **{"--window": "-2"}), [t / "task"])),
    ("pre-out-dir-is-file", "preprocess_ui.py",
     lambda k, t: (_pre(k, t, **{"--out-dir": _file(t, "task", b"keep")}), [t / "task"])),
    ("pre-docs-deep", "preprocess_ui.py",
     lambda k, t: (_pre(k, t, **{"--src-doc": _docs(t, '{"text": ' + DEEP + "}\n")}), [t / "task"])),
    ("pre-docs-bigint", "preprocess_ui.py",
     lambda k, t: (_pre(k, t, **{"--tgt-doc": _docs(t, '{"id": ' + BIG + ', "text": ["a"]}\n')}), [t / "task"])),
    ("pre-rank-utf8", "preprocess_ui.py",
     lambda k, t: (_pre(k, t, **{"--rank": _file(t, "r.txt", b"\xff\xfe\t1\n")}), [t / "task"])),
    ("pre-out-dir-is-input", "preprocess_ui.py",
     lambda k, t: (_pre(k, t, **{"--src-emb": _copy(k / "en", t / "task")}), [t / "task"])),
    # --- simulate.py
    ("sim-setup-deep", "simulate.py", lambda k, t: (_sim(k, t, ui=_task(k, t, setup=DEEP)), [t / "o.csv"])),
    ("sim-setup-bigint", "simulate.py",
     lambda k, t: (_sim(k, t, ui=_task(k, t, setup='{"keywords": [], "n": ' + BIG + "}")), [t / "o.csv"])),
    ("sim-setup-nan", "simulate.py",
     lambda k, t: (_sim(k, t, ui=_task(k, t, setup='{"keywords": [{"word": "a", "src": [{"word": "b", "score": NaN}], '
                                                  '"tgt": []}]}')), [t / "o.csv"])),
    ("sim-vocab-deep", "simulate.py", lambda k, t: (_sim(k, t, ui=_task(k, t, vocab=DEEP)), [t / "o.csv"])),
    ("sim-noise-nan", "simulate.py", lambda k, t: (_sim(k, t, "--noise", "nan"), [t / "o.csv"])),
    ("sim-min-share-2", "simulate.py", lambda k, t: (_sim(k, t, "--min-share", "2"), [t / "o.csv"])),
    ("sim-budget-neg", "simulate.py", lambda k, t: (_sim(k, t, "--budget", "-3"), [t / "o.csv"])),
    ("sim-bad-dict", "simulate.py",
     lambda k, t: (["--task", "tiny", "--ui-data", k / "ui", "--dict", _file(t, "d.tsv", b"a b c\n"), "--out", t / "o.csv"],
                   [t / "o.csv"])),
    ("sim-docs-deep", "simulate.py",
     lambda k, t: (["--task", "tiny", "--ui-data", k / "ui", "--oracle", "label", "--docs-src",
                    _docs(t, '{"text": ' + DEEP + ', "label": 0}\n'), "--docs-tgt", k / "fr_labeled.json",
                    "--out", t / "o.csv"], [t / "o.csv"])),
    ("sim-out-is-dict", "simulate.py",
     lambda k, t: (["--task", "tiny", "--ui-data", k / "ui", "--dict", shutil.copy(k / "oracle.tsv", t / "d.tsv"),
                    "--out", t / "d.tsv"], [t / "d.tsv"])),
    # --- update.py
    ("update-lr-nan", "update.py", lambda k, t: (_update(k, t, **{"--lr": "nan"}), [t / "os", t / "ot"])),
    ("update-lr-neg", "update.py", lambda k, t: (_update(k, t, **{"--lr": "-1"}), [t / "os", t / "ot"])),
    ("update-reg-inf", "update.py", lambda k, t: (_update(k, t, **{"--reg": "inf"}), [t / "os", t / "ot"])),
    ("update-iter-neg", "update.py", lambda k, t: (_update(k, t, **{"--iter": "-1"}), [t / "os", t / "ot"])),
    ("update-margin-nan", "update.py", lambda k, t: (_update(k, t, **{"--margin-pos": "nan"}), [t / "os", t / "ot"])),
    ("update-temperature-0", "update.py",
     lambda k, t: (_update(k, t, **{"--propagate-temperature": "0"}), [t / "os", t / "ot"])),
    ("update-check-every-0", "update.py", lambda k, t: (_update(k, t, **{"--check-every": "0"}), [t / "os", t / "ot"])),
    ("update-feedback-deep", "update.py",
     lambda k, t: (_update(k, t, **{"--feedback": _feedback(t, DEEP)}), [t / "os", t / "ot"])),
    ("update-feedback-bigint", "update.py",
     lambda k, t: (_update(k, t, **{"--feedback": _feedback(t, "[" + BIG + "]")}), [t / "os", t / "ot"])),
    ("update-feedback-header", "update.py",
     lambda k, t: (_update(k, t, **{"--feedback": _file(t, "fb.csv", b"foo,bar\n1,2\n")}), [t / "os", t / "ot"])),
    ("update-feedback-utf8", "update.py",
     lambda k, t: (_update(k, t, **{"--feedback": _file(t, "fb.csv", b"\xff\xfe\xfd\n")}), [t / "os", t / "ot"])),
    ("update-nan-row", "update.py",
     lambda k, t: (_update(k, t, **{"--src-emb": _emb(k, t, row=1)}), [t / "os", t / "ot"])),
    ("update-same-outputs", "update.py", lambda k, t: (_update(k, t, **{"--out-tgt": t / "os"}), [t / "os"])),
    ("update-nested-outputs", "update.py",
     lambda k, t: (_update(k, t, **{"--out-src": t / "ot" / "en"}), [t / "ot"])),
    ("update-output-is-input", "update.py",
     lambda k, t: (_update(k, t, **{"--tgt-emb": _copy(k / "fr", t / "f"), "--out-tgt": t / "f"}), [t / "os", t / "f"])),
    ("update-output-holds-input", "update.py",
     lambda k, t: (_update(k, t, **{"--src-emb": _copy(k / "en", t / "os" / "en")}), [t / "os", t / "ot"])),
    ("update-bad-seed-dict", "update.py",
     lambda k, t: (_update(k, t, **{"--seed-dict": _file(t, "d.tsv", b"a b c\n")}), [t / "os", t / "ot"])),
    # --- experiment.py: configurations
    ("exp-config-deep", "experiment.py", lambda k, t: (["--config", _file(t, "c.json", DEEP.encode())], [t / "results"])),
    ("exp-config-bigint", "experiment.py", lambda k, t: (["--config", _config(k, t, runs=BIG)], [t / "results"])),
    ("exp-config-runs-str", "experiment.py", lambda k, t: (["--config", _config(k, t, runs='"five"')], [t / "results"])),
    ("exp-config-budgets-str", "experiment.py",
     lambda k, t: (["--config", _config(k, t, budgets='"50"')], [t / "results"])),
    ("exp-config-budgets-items", "experiment.py",
     lambda k, t: (["--config", _config(k, t, budgets='["50"]')], [t / "results"])),
    ("exp-config-conditions-str", "experiment.py",
     lambda k, t: (["--config", _config(k, t, conditions='"none"')], [t / "results"])),
    ("exp-config-seed-sizes-int", "experiment.py",
     lambda k, t: (["--config", _config(k, t, seed_sizes="5")], [t / "results"])),
    ("exp-config-noise-nan", "experiment.py", lambda k, t: (["--config", _config(k, t, noise="NaN")], [t / "results"])),
    ("exp-config-noise-2", "experiment.py", lambda k, t: (["--config", _config(k, t, noise="2")], [t / "results"])),
    ("exp-config-dev-only-str", "experiment.py",
     lambda k, t: (["--config", _config(k, t, dev_only='"yes"')], [t / "results"])),
    ("exp-config-jobs-0", "experiment.py", lambda k, t: (["--config", _config(k, t, jobs="0")], [t / "results"])),
    ("exp-config-utf8", "experiment.py", lambda k, t: (["--config", _file(t, "c.json", b'{"name": "\xff"}')], [])),
    ("exp-noise-nan", "experiment.py", lambda k, t: (["--config", _config(k, t), "--noise", "nan"], [t / "results"])),
    ("exp-runs-0", "experiment.py", lambda k, t: (["--config", _config(k, t), "--runs", "0"], [t / "results"])),
    # --- app.py and clear_db.py: databases and options
    ("app-port-nan", "app.py", lambda k, t: (["--port", "nan", "--ui-data", k / "ui"], [])),
    ("app-port-range", "app.py", lambda k, t: (["--port", "70000", "--ui-data", k / "ui"], [])),
    ("app-db-url", "app.py", lambda k, t: (["stats", "--task", "tiny", "--db", "not a url::"], [])),
    ("app-db-damaged", "app.py",
     lambda k, t: (["stats", "--task", "tiny", "--db", f"sqlite:///{_file(t, 'x.db', b'SQLite format 3' + bytes(500))}"],
                   [])),
    ("clear-db-url", "clear_db.py", lambda k, t: (["--db", "not a url::", "--yes"], [])),
    ("clear-db-damaged", "clear_db.py",
     lambda k, t: (["--db", f"sqlite:///{_file(t, 'x.db', b'SQLite format 3' + bytes(500))}", "--yes"], [])),
]


def _snapshot(paths):
    """path -> bytes of each file under it (None when absent): to see any change."""
    snap = {}
    for p in paths:
        p = Path(p)
        if p.is_file():
            snap[str(p)] = p.read_bytes()
        elif p.is_dir():
            snap[str(p)] = {str(q): q.read_bytes() for q in sorted(p.rglob("*")) if q.is_file()}
        else:
            snap[str(p)] = None
    return snap


def _leftovers(folder):
    """Temporaries (``.name.*.tmp`` / ``.name.old.*``) left anywhere under ``folder``."""
    return sorted(str(p) for p in folder.rglob(".*") if p.name.endswith(".tmp") or ".old." in p.name)


@pytest.mark.parametrize("case", [pytest.param(c, id=c[0]) for c in CASES])
def test_bad_input_is_refused_in_one_line(case, kit, tmp_path):
    name, script, make = case
    argv, outputs = make(kit, tmp_path)
    before = _snapshot(outputs)
    kit_before = _snapshot([kit])
    code, err = run_script(script, argv)
    assert "Traceback" not in err, err[-3000:]
    assert code == 2, f"{name}: exit status {code}, stderr: {err[-2000:]}"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines and "error" in lines[-1], err
    assert len(lines[-1]) < 600 and "\n" not in lines[-1]
    assert _snapshot(outputs) == before, f"{name}: an output was written or changed"
    assert _snapshot([kit]) == kit_before, f"{name}: the kit was changed"
    assert _leftovers(tmp_path) == []


def test_no_script_writes_non_finite_json(tmp_path):
    """write_json refuses NaN (bare NaN is not JSON; setup.json once held it)."""
    from clime.errors import ClimeError
    from clime.fileio import write_json

    with pytest.raises(ClimeError, match="non-finite"):
        write_json(tmp_path / "x.json", {"score": float("nan")})
    assert list(tmp_path.iterdir()) == []
