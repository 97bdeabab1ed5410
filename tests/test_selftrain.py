"""clime.selftrain and train.py --self-train on a tiny synthetic task whose target classes are
separable but shifted."""

import json

import numpy as np
import pytest

from clime import selftrain
from clime.embeddings import Embeddings
from clime.errors import ClimeError
from clime.train import TrainConfig, train_classifier

pytestmark = pytest.mark.usefixtures("one_thread")
DIM = 6


def make_shifted_task(seed=0, shift=0.4, n=120):
    """Class words lie along dimension 0 (class 0 negative, class 1 positive, strength 0.5-1.5).
    Every target word is moved by ``shift`` along dimension 0 and has 1 in dimension 1 (a
    language direction), so the target documents are separable, but not where the source
    boundary is: most target class-0 documents look like class 1."""
    rng = np.random.default_rng(seed)

    def space(prefix, move, lang):
        words, vecs = [], []
        for c in range(2):
            for k in range(6):
                v = np.zeros(DIM, dtype=np.float32)
                v[0] = (2 * c - 1) * (0.5 + k / 5) + move
                v[1] = lang
                words.append(f"{prefix}class{c}_{k}")
                vecs.append(v)
        for k in range(12):
            v = np.zeros(DIM, dtype=np.float32)
            v[2:] = 0.3 * rng.standard_normal(DIM - 2)
            v[0], v[1] = move, lang
            words.append(f"{prefix}fill{k}")
            vecs.append(v)
        return Embeddings(np.stack(vecs), words)

    def docs(prefix, count, first_id, labeled=True):
        out = []
        for i in range(count):
            c = int(rng.integers(2))
            toks = [f"{prefix}fill{k}" for k in rng.integers(12, size=3)] + [f"{prefix}class{c}_{int(rng.integers(6))}"]
            d = {"id": first_id + i, "text": toks}
            if labeled:
                d["label"] = c
            out.append(d)
        return out

    return (space("en_", 0.0, 0.0), space("fr_", shift, 1.0), docs("en_", n, 0), docs("fr_", n, 1000, False),
            docs("fr_", n, 5000))


CFG = dict(model_type="lr", epochs=40, batch_size=10, lr=0.1, holdout=0)


def test_self_training_lifts_a_shifted_task():
    src, tgt, train, pool, test = make_shifted_task()
    base = train_classifier(src, tgt, train, test, config=TrainConfig(**CFG), runs=1, progress=False)
    assert base.runs[0]["accuracy"] < 0.7
    st = selftrain.SelfTrainConfig(rounds=2, fraction=0.5)
    res = train_classifier(src, tgt, train, test, config=TrainConfig(**CFG), runs=1, progress=False,
                           self_train_docs=pool, self_train=st)
    assert res.runs[0]["accuracy"] >= 0.85
    rounds = res.runs[0]["self_train_rounds"]
    assert [r["round"] for r in rounds] == [0, 1, 2]
    assert [r["size"] for r in rounds] == [0, 60, 120]
    assert sum(rounds[2]["per_class"].values()) == 120
    # the quotas follow the source label mix
    share = sum(d["label"] for d in train) / len(train)
    assert abs(rounds[2]["per_class"]["1"] - share * 120) <= 1


def test_pick_meets_quotas_and_threshold():
    # class 1 is predicted for every document, yet class 0 gets its quota: its most likely documents
    probs = np.array([[0.45, 0.55], [0.1, 0.9], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7], [0.05, 0.95]])
    idx, y = selftrain.pick(probs, [1, 1], 4)
    assert dict(zip(idx.tolist(), y.tolist())) == {0: 0, 2: 0, 1: 1, 5: 1}
    idx, y = selftrain.pick(probs, [1, 3], 4)
    assert dict(zip(idx.tolist(), y.tolist())) == {0: 0, 1: 1, 5: 1, 3: 1}
    idx, _ = selftrain.pick(probs, [1, 1], 6, threshold=0.85)
    assert idx.tolist() == [1, 5]


def test_pool_never_holds_dev_or_test_documents(caplog):
    src, tgt, train, pool, test = make_shifted_task(n=40)
    dev = test[:10]
    leaky = pool[:20] + [{"id": d["id"], "text": d["text"]} for d in test[10:15]] \
        + [{"id": 9999, "text": dev[0]["text"]}] + [{"id": dev[1]["id"], "text": ["fr_fill0"]}]
    kept = selftrain.clean_pool(leaky, [("test", test[10:]), ("dev", dev)], "pool.json")
    assert [d["id"] for d in kept] == [d["id"] for d in pool[:20]]
    assert "dropped 5 of its 27 documents that are also in test (5 by id, 5 by identical text)" in caplog.text
    assert "dropped 2 of its 27 documents that are also in dev (1 by id, 1 by identical text)" in caplog.text
    with pytest.raises(ClimeError, match="no documents left"):
        selftrain.clean_pool(test[:3], [("test", test)])


def test_bad_config():
    for bad in (dict(rounds=-1), dict(fraction=0), dict(fraction=1.5), dict(weight=0), dict(threshold=1)):
        with pytest.raises(ClimeError):
            selftrain.SelfTrainConfig(**bad).check()


def test_script_self_train_records_rounds(tmp_path, capsys):
    from clime.embeddings import save_embeddings
    from test_train import _script

    src, tgt, train, pool, test = make_shifted_task(n=60)
    save_embeddings(tmp_path / "en", src.vectors, src.words)
    save_embeddings(tmp_path / "fr", tgt.vectors, tgt.words)
    for name, docs in (("train", train), ("pool", pool + test[:3]), ("test", test)):
        (tmp_path / f"{name}.json").write_text("".join(json.dumps(d) + "\n" for d in docs))
    out = tmp_path / "r.json"
    argv = ["--src-emb", str(tmp_path / "en"), "--tgt-emb", str(tmp_path / "fr"), "--train", str(tmp_path / "train.json"),
            "--test", str(tmp_path / "test.json"), "--type", "lr", "--runs", "2", "--epochs", "30", "--lr", "0.1",
            "--batch-size", "10", "--self-train", str(tmp_path / "pool.json"), "--self-train-rounds", "2",
            "--self-train-fraction", "0.5", "--results", str(out), "-q"]
    assert _script("train").main(argv) == 0
    assert "dropped 3 of its 63 documents" in capsys.readouterr().err
    r = json.loads(out.read_text())
    assert r["self_train"]["documents"] == 63 and r["self_train"]["rounds"] == 2
    for run in r["runs"]:
        assert [x["size"] for x in run["self_train_rounds"]] == [0, 30, 60]
        assert all(isinstance(x["dev_accuracy"], float) for x in run["self_train_rounds"])
    assert _script("train").main(argv) == 0  # the same seed, the same rounds
    again = json.loads(out.read_text())
    assert [run["self_train_rounds"] for run in again["runs"]] == [run["self_train_rounds"] for run in r["runs"]]
