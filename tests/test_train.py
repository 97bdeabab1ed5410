"""train.py / clime.train / clime.models on a tiny synthetic bilingual task."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from clime import cli
from clime.embeddings import Embeddings, save_embeddings
from clime.errors import ClimeError
from clime.train import (MatrixBuilder, TrainConfig, load_checkpoint, macro_f1, make_checkpoint, pack, predict,
                         save_checkpoint, train_classifier)

ROOT = Path(__file__).resolve().parents[1]
DIM = 8


def _script(name):
    spec = importlib.util.spec_from_file_location(f"_script_{name}", ROOT / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def make_task(seed=0, n_train=80, n_test=60):
    """Two classes; the class word of each language points along dimension 0 (class 0) or
    1 (class 1), fillers live in the other dimensions.  "same" exists in both languages
    with opposite meanings (source: class 0 direction, target: class 1 direction)."""
    rng = np.random.default_rng(seed)

    def space(prefix):
        words, vecs = [], []
        for c in range(2):
            for k in range(2):
                v = np.zeros(DIM, dtype=np.float32)
                v[c] = 1.0
                v[2:] = 0.1 * rng.standard_normal(DIM - 2)
                words.append(f"{prefix}class{c}_{k}")
                vecs.append(v)
        for k in range(20):
            v = np.zeros(DIM, dtype=np.float32)
            v[2:] = rng.standard_normal(DIM - 2)
            words.append(f"{prefix}fill{k}")
            vecs.append(v / np.linalg.norm(v))
        return words, np.stack(vecs)

    sw, sv = space("en_")
    tw, tv = space("fr_")
    sw.append("same")
    sv = np.vstack([sv, np.eye(DIM, dtype=np.float32)[0]])
    tw.append("same")
    tv = np.vstack([tv, np.eye(DIM, dtype=np.float32)[1]])

    def docs(prefix, n, first_id):
        out = []
        for i in range(n):
            c = int(rng.integers(2))
            toks = [f"{prefix}fill{k}" for k in rng.integers(20, size=int(rng.integers(4, 12)))]
            toks.insert(int(rng.integers(len(toks) + 1)), f"{prefix}class{c}_{int(rng.integers(2))}")
            if rng.random() < 0.2:
                toks.append("oov_token")
            out.append({"id": first_id + i, "text": toks, "label": c})
        return out

    return (Embeddings(sv, sw), Embeddings(tv, tw), docs("en_", n_train, 0), docs("fr_", n_test, 1000))


pytestmark = pytest.mark.usefixtures("one_thread")


FAST = dict(epochs=12, batch_size=10, lr=1e-2, filters=8, hidden=16, layers=2)


@pytest.mark.parametrize("model_type", ["cnn", "dan", "lr"])
def test_each_model_transfers_above_chance(model_type):
    src, tgt, train, test = make_task()
    fast = dict(FAST, lr=0.1, epochs=20) if model_type == "lr" else FAST
    res = train_classifier(src, tgt, train, test, config=TrainConfig(model_type=model_type, **fast), runs=1,
                           device="cpu", progress=False)
    assert res.runs[0]["accuracy"] >= 0.8, res.runs
    assert res.runs[0]["dev_accuracy"] is not None
    assert set(res.summary()) == {"accuracy_mean", "accuracy_std", "macro_f1_mean", "macro_f1_std"}


def test_same_string_keeps_its_own_language_vector():
    src, tgt, _, _ = make_task()
    b = MatrixBuilder(DIM)
    (s_ids,), _ = b.encode("src", src, [["same", "en_fill0"]])
    (t_ids,), _ = b.encode("tgt", tgt, [["same", "fr_fill0", "nothing"]])
    E = b.matrix()
    assert s_ids[0] != t_ids[0] and len(t_ids) == 2
    np.testing.assert_array_equal(E[s_ids[0]], src.vector("same"))
    np.testing.assert_array_equal(E[t_ids[0]], tgt.vector("same"))
    np.testing.assert_array_equal(E[0], 0)
    # end to end: a target document made only of "same" is class 1 (the target meaning)
    _, _, train, _ = make_task()
    test = [{"id": 1, "text": ["same", "same"], "label": 1}, {"id": 2, "text": ["fr_class0_0"], "label": 0}]
    res = train_classifier(src, tgt, train, test, config=TrainConfig(model_type="lr", **dict(FAST, lr=0.1, epochs=20)),
                           runs=1, device="cpu", progress=False)
    assert res.runs[0]["accuracy"] == 1.0


def test_document_without_known_words_is_predicted():
    src, tgt, train, test = make_task()
    test = test[:5] + [{"id": 99, "text": ["unknown", "words"], "label": 0}, {"id": 98, "text": [], "label": 1}]
    res = train_classifier(src, tgt, train, test, config=TrainConfig(model_type="cnn", **FAST), runs=1,
                           device="cpu", progress=False)
    assert res.coverage["test"]["empty_docs"] == 2
    assert 0 <= res.runs[0]["accuracy"] <= 1


def test_cnn_scores_do_not_depend_on_batch_padding():
    src, tgt, train, test = make_task()
    res = train_classifier(src, tgt, train, test, config=TrainConfig(model_type="cnn", **FAST), runs=1,
                           device="cpu", progress=False)
    from clime.models import build_model

    model = build_model("cnn", res.sizes)
    model.load_state_dict(res.best_state)
    model.eval()
    b = MatrixBuilder(DIM)
    ids, _ = b.encode("tgt", tgt, [d["text"] for d in test])
    E = torch.from_numpy(b.matrix())
    split = pack(ids, None, "cpu", 5)
    with torch.no_grad():
        alone = torch.cat([model(E[split.ids[i:i + 1, :split.lengths[i].clamp(min=5)]], split.lengths[i:i + 1])
                           for i in range(len(split))])
        batched = model(E[split.ids], split.lengths)
    torch.testing.assert_close(alone, batched, rtol=1e-5, atol=1e-5)


def test_deterministic_and_runs_use_consecutive_seeds():
    src, tgt, train, test = make_task()
    cfg = TrainConfig(model_type="cnn", **FAST)
    a = train_classifier(src, tgt, train, test, config=cfg, runs=2, seed=3, device="cpu", progress=False)
    b = train_classifier(src, tgt, train, test, config=cfg, runs=2, seed=3, device="cpu", progress=False)
    c = train_classifier(src, tgt, train, test, config=cfg, runs=1, seed=4, device="cpu", progress=False)
    strip = lambda runs: [{k: v for k, v in r.items() if k != "seconds"} for r in runs]  # noqa: E731
    assert strip(a.runs) == strip(b.runs)
    assert [r["seed"] for r in a.runs] == [3, 4]
    assert strip(a.runs)[1] == strip(c.runs)[0]
    for k in a.best_state:
        assert torch.equal(a.best_state[k], b.best_state[k])


def test_progress_reaches_a_log_without_a_terminal(caplog):
    """Under pytest stderr is not a terminal, so the bar is hidden: epochs must still show in the log."""
    src, tgt, train, test = make_task()
    cfg = TrainConfig(model_type="cnn", **FAST)
    with caplog.at_level("INFO", logger="clime.train"):
        train_classifier(src, tgt, train, test, config=cfg, runs=1, seed=0, device="cpu", progress=True)
    lines = [r.getMessage() for r in caplog.records if "epoch" in r.getMessage()]
    assert any("epoch 5/12" in m and "dev accuracy" in m for m in lines), lines
    assert any("epoch 12/12" in m for m in lines)
    caplog.clear()
    with caplog.at_level("INFO", logger="clime.train"):
        train_classifier(src, tgt, train, test, config=cfg, runs=1, seed=0, device="cpu", progress=False)
    assert not [r for r in caplog.records if "epoch 5/12" in r.getMessage()]


def test_checkpoint_reloads_with_weights_only(tmp_path):
    src, tgt, train, test = make_task()
    for i, d in enumerate(train + test):  # string labels are fine too
        d["label"] = ["sport", "travel"][d["label"]]
    res = train_classifier(src, tgt, train, test, config=TrainConfig(model_type="cnn", **FAST), runs=2,
                           device="cpu", progress=False)
    path = tmp_path / "model.pt"
    save_checkpoint(path, make_checkpoint(res, "cnn", {"widths": (3, 4, 5), "path": tmp_path}, {"src": "x"}))
    raw = torch.load(path, weights_only=True)
    assert raw["labels"] == ["sport", "travel"] and raw["model_type"] == "cnn"
    assert "en_class0_0" in raw["vocab"] and not any(k.startswith("emb") for k in raw["state_dict"])
    assert raw["run"]["dev_accuracy"] == max(r["dev_accuracy"] for r in res.runs)
    ck, model = load_checkpoint(path)
    b = MatrixBuilder(DIM)
    ids, _ = b.encode("tgt", tgt, [d["text"] for d in test])
    pred = predict(model, torch.from_numpy(b.matrix()), pack(ids, None, "cpu", 5))
    gold = np.array([ck["labels"].index(d["label"]) for d in test])
    assert (pred == gold).mean() == res.runs[res.best_run]["accuracy"]


def test_macro_f1():
    assert macro_f1([0, 0, 1, 1], [0, 0, 1, 1]) == 1.0
    assert macro_f1([0, 0, 1, 1], [0, 0, 0, 0]) == pytest.approx((2 / 3 + 0) / 2)


def test_unseen_test_label_is_an_error():
    src, tgt, train, test = make_task()
    test[3]["label"] = 7
    with pytest.raises(ClimeError, match="label 7"):
        train_classifier(src, tgt, train, test, config=TrainConfig(**FAST), runs=1, device="cpu",
                         progress=False)


# ---------------------------------------------------------------- the script

def _write_task(tmp_path):
    src, tgt, train, test = make_task()
    save_embeddings(tmp_path / "en", src.vectors, src.words)
    save_embeddings(tmp_path / "fr", tgt.vectors, tgt.words)
    for name, docs in (("en.json", train), ("fr.json", test)):
        (tmp_path / name).write_text("".join(json.dumps(d) + "\n" for d in docs))
    return tmp_path


def _argv(t, *extra):
    return ["--src-emb", str(t / "en"), "--tgt-emb", str(t / "fr"), "--train", str(t / "en.json"),
            "--test", str(t / "fr.json"), "--epochs", "8", "--batch-size", "10", "--lr", "0.01", "--filters", "8",
            "-q", *extra]


def test_script_writes_results_and_model(tmp_path, capsys):
    t = _write_task(tmp_path)
    rc = _script("train").main(_argv(t, "--runs", "2", "--output", str(t / "m.pt"), "--results", str(t / "r.json")))
    assert rc == 0
    out = capsys.readouterr().out
    assert "run 2/2 seed 1" in out and "(2 runs)" in out
    r = json.loads((t / "r.json").read_text())
    assert len(r["runs"]) == 2 and {"seed", "accuracy", "macro_f1", "dev_accuracy"} <= set(r["runs"][0])
    assert 0 <= r["accuracy_mean"] <= 1 and r["args"]["runs"] == 2
    ck = torch.load(t / "m.pt", weights_only=True)
    assert ck["paths"]["src"] == str(t / "en")


@pytest.mark.parametrize("model_type,rate", [("cnn", 1e-3), ("dan", 1e-2), ("lr", 5e-2)])
def test_default_learning_rate_per_model_is_recorded(tmp_path, capsys, model_type, rate):
    assert TrainConfig(model_type=model_type).learning_rate() == rate
    assert TrainConfig(model_type=model_type, lr=0.3).learning_rate() == 0.3
    t = _write_task(tmp_path)
    argv = [a for a in _argv(t, "--runs", "1", "--epochs", "1", "--type", model_type, "--results", str(t / "r.json"))
            if a not in ("--lr", "0.01")]
    assert _script("train").main(argv) == 0
    assert json.loads((t / "r.json").read_text())["args"]["lr"] == rate


@pytest.mark.parametrize("case", ["missing_label", "float_label", "empty", "dim", "unseen_label", "not_dir"])
def test_script_bad_input_exits_2(tmp_path, capsys, case):
    t = _write_task(tmp_path)
    argv = _argv(t, "--runs", "1", "--output", str(t / "m.pt"), "--results", str(t / "r.json"))
    lines = (t / "fr.json").read_text().splitlines()
    if case == "missing_label":
        d = json.loads(lines[2])
        del d["label"]
        lines[2] = json.dumps(d)
        (t / "fr.json").write_text("\n".join(lines) + "\n")
    elif case == "float_label":
        d = json.loads(lines[4])
        d["label"] = 1.5
        lines[4] = json.dumps(d)
        (t / "fr.json").write_text("\n".join(lines) + "\n")
    elif case == "unseen_label":
        d = json.loads(lines[4])
        d["label"] = 9
        lines[4] = json.dumps(d)
        (t / "fr.json").write_text("\n".join(lines) + "\n")
    elif case == "empty":
        (t / "en.json").write_text("")
    elif case == "dim":
        save_embeddings(t / "fr", np.ones((3, DIM + 1), dtype=np.float32), ["a", "b", "c"])
    elif case == "not_dir":
        argv[1] = str(t / "en.json")
    with pytest.raises(SystemExit) as exc:
        cli.run(_script("train").main, argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    if case in ("missing_label", "float_label"):
        assert "fr.json:" in err[0] and (":3:" in err[0] or ":5:" in err[0])
    if case == "dim":
        assert "dimension" in err[0]
    assert not (t / "m.pt").exists() and not (t / "r.json").exists()


# ---------------------------------------------------------------- labelled target documents (--tgt-train)

def make_unaligned_task(seed=0, n_train=80, n_tgt=40, n_test=80):
    """Source class words point along dimensions 0/1, target class words along 3/2 (swapped and
    orthogonal to the source ones): source labels alone cannot transfer."""
    rng = np.random.default_rng(seed)

    def space(prefix, dims):
        words, vecs = [], []
        for c in range(2):
            for k in range(2):
                v = np.zeros(DIM, dtype=np.float32)
                v[dims[c]] = 1.0
                words.append(f"{prefix}class{c}_{k}")
                vecs.append(v)
        for k in range(10):
            v = np.zeros(DIM, dtype=np.float32)
            v[4:] = rng.standard_normal(DIM - 4)
            words.append(f"{prefix}fill{k}")
            vecs.append(v / np.linalg.norm(v))
        return Embeddings(np.stack(vecs), words)

    def docs(prefix, n, first_id):
        out = []
        for i in range(n):
            c = int(rng.integers(2))
            toks = [f"{prefix}fill{k}" for k in rng.integers(10, size=3)] + [f"{prefix}class{c}_{int(rng.integers(2))}"]
            out.append({"id": first_id + i, "text": toks, "label": c})
        return out

    return (space("en_", (0, 1)), space("fr_", (3, 2)), docs("en_", n_train, 0), docs("fr_", n_tgt, 500),
            docs("fr_", n_test, 1000))


def test_tgt_train_lifts_an_unaligned_task_from_chance():
    src, tgt, train, tgt_train, test = make_unaligned_task()
    cfg = TrainConfig(model_type="lr", epochs=40, batch_size=10, lr=0.1, holdout=0)
    base = train_classifier(src, tgt, train, test, config=cfg, runs=1, progress=False)
    assert base.runs[0]["accuracy"] < 0.7  # the source labels say nothing about the target class words
    lifted = train_classifier(src, tgt, train, test, config=cfg, runs=1, progress=False,
                              tgt_train_docs=tgt_train, tgt_weight=2.0)
    assert lifted.runs[0]["accuracy"] >= 0.8
    assert lifted.coverage["tgt_train"]["docs"] == len(tgt_train)


def test_tgt_weight_one_without_documents_is_the_plain_run():
    src, tgt, train, test = make_task()
    cfg = TrainConfig(model_type="dan", **FAST)
    a = train_classifier(src, tgt, train, test, config=cfg, runs=1, progress=False)
    b = train_classifier(src, tgt, train, test, config=cfg, runs=1, progress=False, tgt_train_docs=[])
    assert a.runs[0]["accuracy"] == b.runs[0]["accuracy"]


def test_tgt_train_bad_label_and_weight():
    src, tgt, train, tgt_train, test = make_unaligned_task()
    bad = [dict(tgt_train[0], label=7)]
    with pytest.raises(ClimeError, match="target training document"):
        train_classifier(src, tgt, train, test, runs=1, progress=False, tgt_train_docs=bad)
    with pytest.raises(ClimeError, match="tgt-weight"):
        train_classifier(src, tgt, train, test, runs=1, progress=False, tgt_train_docs=tgt_train, tgt_weight=0)


def test_script_tgt_train_is_recorded(tmp_path, capsys):
    t = _write_task(tmp_path)
    src, tgt, train, test = make_task(seed=3)
    (t / "fr_lab.json").write_text("".join(json.dumps(dict(d, id=5000 + i)) + "\n" for i, d in enumerate(test[:10])))
    (t / "fr_lab2.json").write_text("".join(json.dumps(dict(d, id=6000 + i)) + "\n" for i, d in enumerate(test[10:15])))
    rc = _script("train").main(_argv(t, "--runs", "1", "--tgt-train", str(t / "fr_lab.json"), "--tgt-train",
                                     str(t / "fr_lab2.json"), "--tgt-weight", "3", "--output", str(t / "m.pt"),
                                     "--results", str(t / "r.json")))
    assert rc == 0
    r = json.loads((t / "r.json").read_text())
    assert r["tgt_train"] == {"files": [str(t / "fr_lab.json"), str(t / "fr_lab2.json")], "documents": 15, "weight": 3.0}
    assert r["coverage"]["tgt_train"]["docs"] == 15
    ck = torch.load(t / "m.pt", weights_only=True)
    assert ck["args"]["tgt_train"] == r["tgt_train"]["files"] and ck["args"]["tgt_weight"] == 3.0
    assert ck["coverage"]["tgt_train"]["docs"] == 15


@pytest.mark.parametrize("case", ["label", "file", "weight"])
def test_script_tgt_train_bad_input_exits_2(tmp_path, capsys, case):
    t = _write_task(tmp_path)
    (t / "lab.json").write_text(json.dumps({"id": 1, "text": ["fr_fill1"], "label": 9 if case == "label" else 0}) + "\n")
    extra = ["--tgt-train", str(t / ("missing.json" if case == "file" else "lab.json"))]
    if case == "weight":
        extra += ["--tgt-weight", "-1"]
    with pytest.raises(SystemExit) as exc:
        cli.run(_script("train").main, _argv(t, "--runs", "1", "--results", str(t / "r.json"), *extra))
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")
    assert not (t / "r.json").exists()


# ---------------------------------------------------------------- papercuts and the overlap warning

def _fail_one_line(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        cli.run(_script("train").main, argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_mixed_label_types_are_refused(tmp_path, capsys):
    t = _write_task(tmp_path)
    docs = [json.loads(x) for x in (t / "en.json").read_text().splitlines()]
    docs[3]["label"] = str(docs[3]["label"])
    (t / "en.json").write_text("".join(json.dumps(d) + "\n" for d in docs))
    err = _fail_one_line(capsys, _argv(t, "--runs", "1", "--results", str(t / "r.json")))
    assert "mixed label types" in err and "en.json" in err
    assert not (t / "r.json").exists()


def test_a_tsv_is_pointed_to_make_kit(tmp_path, capsys):
    t = _write_task(tmp_path)
    (t / "en.json").write_text("id\ttext\tlabel\n1\tsome words\t0\n")
    err = _fail_one_line(capsys, _argv(t, "--runs", "1"))
    assert "en.json:1" in err and "expected JSON lines" in err and "make_kit.py" in err


def test_dev_ties_are_broken_by_dev_loss(caplog):
    src, tgt, train, test = make_task()
    dev = [d for d in test if d["text"].count("same") == 0][:4]  # a tiny, easy dev set
    cfg = TrainConfig(model_type="lr", epochs=15, batch_size=10, lr=0.1)
    res = train_classifier(src, tgt, train, test, dev_docs=dev, config=cfg, runs=1, progress=False)
    run = res.runs[0]
    assert run["dev_accuracy"] == 1.0
    assert run["epoch"] > 1  # not the first epoch at 100 %: the dev loss keeps falling after it
    assert "100% accuracy for several epochs" in caplog.text and "lowest dev loss" in caplog.text


def test_every_training_set_is_checked_against_dev_and_test(caplog):
    from clime.train import warn_overlap

    test = [{"id": i, "text": [f"t{i}"]} for i in range(10)]
    dev = [{"id": 100 + i, "text": [f"d{i}"]} for i in range(5)]
    src = [{"id": 100, "text": ["english"]}, {"id": 50, "text": ["x"]}]  # a dev id: a parallel layout
    tgt = [{"id": 60, "text": ["t3"]}]  # a test text
    assert warn_overlap([("en.json", src), ("tgt.json", tgt), ("clean.json", [{"id": 70, "text": ["y"]}])],
                        [("test.json", test), ("dev.json", dev)]) == 2
    assert "en.json: 1 of its 2 training document(s) share ids or texts with dev.json (1 by id, 0 by identical" \
        in caplog.text
    assert "tgt.json: 1 of its 1 training document(s) share ids or texts with test.json (0 by id, 1 by identical" \
        in caplog.text
    assert "clean.json" not in caplog.text


def test_overlap_warning_on_the_committed_data(caplog):
    """data/en.json against data/fr_dev.json and data/fr.json: in the parallel layout (English training
    documents with the dev documents' ids) the warning fires; after a non-parallel split it must not."""
    from clime.text import read_docs
    from clime.train import warn_overlap

    data = ROOT / "data"
    en, dev, test = (read_docs(data / n) for n in ("en.json", "fr_dev.json", "fr.json"))
    shared = {d["id"] for d in en} & ({d["id"] for d in dev} | {d["id"] for d in test})
    n = warn_overlap([("data/en.json", en)], [("data/fr.json", test), ("data/fr_dev.json", dev)])
    assert (n > 0) == bool(shared)
    if {d["id"] for d in en} & {d["id"] for d in dev}:
        assert "data/en.json" in caplog.text and "data/fr_dev.json" in caplog.text


def test_script_warns_about_a_source_set_sharing_dev_ids(tmp_path, capsys):
    t = _write_task(tmp_path)
    en = [json.loads(x) for x in (t / "en.json").read_text().splitlines()]
    fr = [json.loads(x) for x in (t / "fr.json").read_text().splitlines()]
    dev = [dict(d, id=en[i]["id"]) for i, d in enumerate(fr[:10])]  # the parallel layout: same ids
    (t / "dev.json").write_text("".join(json.dumps(d) + "\n" for d in dev))
    assert _script("train").main(_argv(t, "--runs", "1", "--dev", str(t / "dev.json"))) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "share ids or texts with" in err and "dev.json (10 by id" in err
