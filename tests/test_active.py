"""clime.active and select_docs.py on tiny synthetic pools."""

import json

import numpy as np
import pytest

from clime import active, cli
from clime.embeddings import Embeddings, save_embeddings
from clime.errors import ClimeError
from test_train import _script

pytestmark = pytest.mark.usefixtures("one_thread")


def test_entropy():
    h = active.entropy([[1.0, 0.0], [0.5, 0.5], [0.9, 0.1]])
    assert h[0] == pytest.approx(0.0, abs=1e-9) and h[1] == pytest.approx(np.log(2)) and 0 < h[2] < h[1]


def test_max_entropy_picks_the_least_sure_documents():
    probs = np.array([[0.99, 0.01], [0.5, 0.5], [0.8, 0.2], [0.55, 0.45], [0.97, 0.03], [0.6, 0.4]])
    assert active.select("max-entropy", probs, 3) == [1, 3, 5]
    assert active.select("max-entropy", probs, 99) == [1, 3, 5, 2, 4, 0]  # capped at the pool


def test_random_is_seeded_and_distinct():
    probs = np.full((50, 3), 1 / 3)
    a = active.select("random", probs, 10, seed=4)
    assert a == active.select("random", probs, 10, seed=4) != active.select("random", probs, 10, seed=5)
    assert len(set(a)) == 10


def test_diverse_does_not_pick_near_duplicates():
    # 6 equally uncertain near-copies of one document, then 4 distinct, slightly less uncertain ones
    rng = np.random.default_rng(0)
    base = np.eye(5)[0]
    vecs = [base + 1e-4 * rng.standard_normal(5) for _ in range(6)] + [np.eye(5)[k] for k in range(1, 5)]
    vecs = np.array([v / np.linalg.norm(v) for v in vecs])
    probs = np.array([[0.5, 0.5]] * 6 + [[0.6, 0.4]] * 4)
    me = active.select("max-entropy", probs, 5)
    assert sum(i < 6 for i in me) == 5  # uncertainty alone takes the copies
    for seed in range(5):
        picked = active.select("diverse", probs, 5, seed=seed, vectors=vecs)
        assert len(set(picked)) == 5
        assert sum(i < 6 for i in picked) == 1, picked  # one copy, then the spread-out documents
        assert picked[0] < 6  # the most uncertain comes first


def test_diverse_with_only_duplicates_left_falls_back_to_uncertainty():
    vecs = np.tile(np.eye(3)[0], (4, 1))
    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.7, 0.3], [0.6, 0.4]])
    assert active.select("diverse", probs, 3, vectors=vecs) == [1, 3, 2]


def test_unknown_strategy():
    with pytest.raises(ClimeError, match="unknown strategy"):
        active.select("best", np.ones((2, 2)) / 2, 1)


# ---------------------------------------------------------------- the stage

def _task(tmp_path):
    """A trained lr model on a 2-class task; target documents whose class word is one of
    two sure words, plus 'ambiguous' documents holding both class words."""
    import torch

    from clime.train import TrainConfig, make_checkpoint, save_checkpoint, train_classifier

    cli.setup_logging(quiet=True)  # bind the log handler to this test's stderr
    torch.manual_seed(0)
    words = ["a0", "a1", "fill"]
    vecs = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], dtype=np.float32)
    emb = Embeddings(vecs, words)
    train = [{"id": i, "text": [f"a{i % 2}", "fill"], "label": i % 2} for i in range(40)]
    cfg = TrainConfig(model_type="lr", epochs=30, batch_size=8, lr=0.2, holdout=0)
    res = train_classifier(emb, emb, train, train, dev_docs=train, config=cfg, runs=1, progress=False)
    save_checkpoint(tmp_path / "m.pt", make_checkpoint(res, "lr"))
    save_embeddings(tmp_path / "fr", vecs, words)
    pool = [{"id": 100 + i, "text": [f"a{i % 2}"] * (1 + i % 3)} for i in range(12)]
    pool += [{"id": 200 + i, "text": ["a0", "a1"] + ["fill"] * i} for i in range(3)]
    (tmp_path / "pool.json").write_text("".join(json.dumps(d) + "\n" for d in pool))
    (tmp_path / "cats.txt").write_text("zero\none\n")
    return tmp_path


def _argv(t, *extra):
    return ["--model", str(t / "m.pt"), "--tgt-emb", str(t / "fr"), "--docs", str(t / "pool.json"),
            "--task", "demo", "--out-dir", str(t / "ui" / "demo"), "--categories", str(t / "cats.txt"), "-q", *extra]


def test_script_writes_the_least_sure_documents(tmp_path):
    t = _task(tmp_path)
    assert _script("select_docs").main(_argv(t, "--n", "3")) == 0
    sel = active.read_selection(t / "ui" / "demo")
    assert sel["strategy"] == "max-entropy" and sel["categories"] == [{"label": 0, "name": "zero"},
                                                                         {"label": 1, "name": "one"}]
    assert sorted(d["id"] for d in sel["documents"]) == [200, 201, 202]
    assert all(set(d) == {"id", "text", "entropy", "pred"} for d in sel["documents"])


def test_script_exclude_and_determinism(tmp_path):
    t = _task(tmp_path)
    (t / "test.json").write_text(json.dumps({"id": 1, "text": ["a0", "a1"], "label": 0}) + "\n")
    _script("select_docs").main(_argv(t, "--n", "5", "--strategy", "diverse", "--seed", "3",
                                      "--exclude", str(t / "test.json")))
    first = (t / "ui" / "demo" / "documents.json").read_text()
    ids = [d["id"] for d in json.loads(first)["documents"]]
    assert 200 not in ids and len(ids) == 5
    _script("select_docs").main(_argv(t, "--n", "5", "--strategy", "diverse", "--seed", "3",
                                      "--exclude", str(t / "test.json")))
    again = json.loads((t / "ui" / "demo" / "documents.json").read_text())
    assert [d["id"] for d in again["documents"]] == ids


@pytest.mark.parametrize("case", ["model", "docs", "n", "cats", "task"])
def test_script_bad_input_exits_2(tmp_path, capsys, case):
    t = _task(tmp_path)
    capsys.readouterr()
    argv = _argv(t)
    if case == "model":
        (t / "m.pt").write_text("not a checkpoint")
    elif case == "docs":
        (t / "pool.json").write_text('{"id": 1, "text": ["a0"]}\n{"id": 2, "text": 5}\n')
    elif case == "n":
        argv += ["--n", "0"]
    elif case == "cats":
        (t / "cats.txt").write_text("only one\n")
    elif case == "task":
        argv[argv.index("demo")] = "../x"
    with pytest.raises(SystemExit) as exc:
        cli.run(_script("select_docs").main, argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:"), err
    if case == "docs":
        assert "pool.json:2" in err[0]
    assert not (t / "ui" / "demo" / "documents.json").exists()


def test_read_selection_rejects_bad_files(tmp_path):
    p = tmp_path / "documents.json"
    p.write_text('{"categories": [], "documents": []}')
    with pytest.raises(ClimeError, match="categories"):
        active.read_selection(path=p)
    p.write_text(json.dumps({"categories": [{"label": 0, "name": "a"}], "documents": [{"id": 1, "text": "x"}]}))
    with pytest.raises(ClimeError, match="document #1"):
        active.read_selection(path=p)


# ---------------------------------------------------------------- balanced-entropy

def _skewed_pool(seed=0):
    """90 documents over 3 classes; the class-2 predictions are by far the least sure, so
    max-entropy's picks pile up there."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(90):
        c = i % 3
        sure = 0.4 + 0.05 * rng.random() if c == 2 else 0.8 + 0.15 * rng.random()
        p = np.full(3, (1 - sure) / 2)
        p[c] = sure
        rows.append(p)
    return np.array(rows)


def test_quotas_follow_the_prior():
    assert active.quotas([500, 300, 200], 10).tolist() == [5, 3, 2]
    assert active.quotas([1, 1, 1], 10).tolist() == [4, 3, 3]  # the remainder to the earlier class
    assert active.quotas([0, 2, 1], 4).tolist() == [0, 3, 1]
    with pytest.raises(ValueError):
        active.quotas([0, 0], 3)


def test_balanced_entropy_meets_the_quotas_where_max_entropy_skews():
    probs = _skewed_pool()
    pred = probs.argmax(1)
    prior = [2, 1, 1]  # the source label mix: half of the documents are class 0
    plain = np.bincount(pred[active.select("max-entropy", probs, 20)], minlength=3)
    assert plain[2] == 20  # every max-entropy pick is a class-2 prediction
    picked = active.select("balanced-entropy", probs, 20, prior=prior)
    assert len(set(picked)) == 20
    assert np.bincount(pred[picked], minlength=3).tolist() == [10, 5, 5]
    # within each class, the most uncertain documents
    h = active.entropy(probs)
    for c in range(3):
        mine = [i for i in picked if pred[i] == c]
        rest = [i for i in range(90) if pred[i] == c and i not in mine]
        assert min(h[mine]) >= max(h[rest])
    assert picked == sorted(picked, key=lambda i: -h[i])  # most uncertain first


def test_balanced_entropy_passes_on_an_unfillable_quota():
    probs = np.array([[0.9, 0.1]] * 2 + [[0.3, 0.7]] * 8)  # only two class-0 predictions
    picked = active.select("balanced-entropy", probs, 6, prior=[1, 1])
    assert len(picked) == 6 and {0, 1} <= set(picked)


def test_script_balanced_entropy_uses_the_checkpoint_label_mix(tmp_path):
    t = _task(tmp_path)
    import torch

    assert torch.load(t / "m.pt", weights_only=True)["label_counts"] == [20, 20]
    assert _script("select_docs").main(_argv(t, "--n", "6", "--strategy", "balanced-entropy")) == 0
    sel = active.read_selection(t / "ui" / "demo")
    assert sel["strategy"] == "balanced-entropy"
    preds = [d["pred"] for d in sel["documents"]]
    assert preds.count(0) == 3 and preds.count(1) == 3


def test_label_prior_fallbacks(tmp_path, caplog):
    train = tmp_path / "train.json"
    train.write_text("".join(json.dumps({"id": i, "text": ["a"], "label": lab}) + "\n"
                             for i, lab in enumerate([0, 1, 1, 1])))
    assert active.label_prior({"labels": [0, 1], "paths": {"train": str(train)}}).tolist() == [1, 3]
    assert active.label_prior({"labels": [0, 1], "label_counts": [5, 2]}).tolist() == [5, 2]
    assert active.label_prior({"labels": [0, 1], "paths": {"train": str(tmp_path / "gone.json")}}).tolist() == [1, 1]
    assert "equal quotas" in caplog.text
