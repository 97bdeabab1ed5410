"""rank_words.py / clime.rank: gradient salience of source words."""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from clime import cli
from clime.embeddings import Embeddings, save_embeddings
from clime.rank import document_frequency, gradient_norm_sums, idf, rank_words
from clime.train import MatrixBuilder, TrainConfig, make_checkpoint, pack, train_classifier

ROOT = Path(__file__).resolve().parents[1]
DIM = 8
NF = 40  # fillers: each in ~15% of the documents; the decisive word is in a third of them


pytestmark = pytest.mark.usefixtures("one_thread")


def _script(name):
    spec = importlib.util.spec_from_file_location(f"_script_{name}", ROOT / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def make_task(seed=0, n=80):
    """The class is decided by one word: 'decisive' (class 1) or its absence (class 0).
    Fillers are random directions orthogonal to it; the target side mirrors the source."""
    rng = np.random.default_rng(seed)

    def space(prefix):
        words = [f"{prefix}decisive"] + [f"{prefix}fill{k}" for k in range(NF)] + [",", "."]
        vecs = np.zeros((len(words), DIM), dtype=np.float32)
        vecs[0, 0] = 1
        vecs[1:, 1:] = rng.standard_normal((len(words) - 1, DIM - 1))
        vecs[1:] /= np.linalg.norm(vecs[1:], axis=1, keepdims=True)
        return Embeddings(vecs, words)

    def docs(prefix, count, first):
        out = []
        for i in range(count):
            c = int(i % 3 == 0)
            toks = [f"{prefix}fill{k}" for k in rng.integers(NF, size=int(rng.integers(5, 10)))] + [","]
            if c:
                toks.insert(int(rng.integers(len(toks))), f"{prefix}decisive")
            out.append({"id": first + i, "text": toks, "label": c})
        return out

    return space("en_"), space("fr_"), docs("en_", n, 0), docs("fr_", 40, 1000)


def _trained(model_type="cnn", **kw):
    src, tgt, train, test = make_task()
    cfg = TrainConfig(model_type=model_type, epochs=15, batch_size=10, lr=1e-2, filters=8, hidden=16, layers=2, **kw)
    res = train_classifier(src, tgt, train, test, config=cfg, runs=1, device="cpu", progress=False)
    ck = make_checkpoint(res, model_type, {}, {})
    from clime.models import build_model

    model = build_model(model_type, res.sizes)
    model.load_state_dict(res.best_state)
    return ck, model.eval(), src, train


def test_decisive_word_ranks_first():
    ck, model, src, train = _trained("cnn")
    ranked = rank_words(ck, model, src, train, progress=False)
    assert ranked[0][0] == "en_decisive", ranked[:5]
    words = [w for w, _ in ranked]
    assert "," not in words and "." not in words  # no letter: not ranked by default
    assert all(w.startswith("en_") for w in words)  # only source words of the documents
    scores = [s for _, s in ranked]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("model_type", ["dan", "lr"])
def test_averaged_models_rank_with_a_warning(model_type, caplog):
    ck, model, src, train = _trained(model_type)
    with caplog.at_level("WARNING"):
        ranked = rank_words(ck, model, src, train, progress=False)
    assert "generic" in caplog.text and "--type cnn" in caplog.text
    assert {w for w, _ in ranked} == {t for d in train for t in d["text"] if t.startswith("en_")}
    assert all(math.isfinite(s) for _, s in ranked)


def test_batched_gradients_equal_one_document_at_a_time():
    ck, model, src, train = _trained("cnn")
    b = MatrixBuilder(DIM)
    ids, _ = b.encode("src", src, [d["text"] for d in train])
    E = torch.from_numpy(b.matrix())
    y = np.array([d["label"] for d in train])
    split = pack(ids, y, "cpu", 5)
    batched = gradient_norm_sums(model, E, split, b.n_rows, batch_size=64, progress=False)
    ref = np.zeros(b.n_rows)
    for i, row_ids in enumerate(ids):
        x = E[torch.as_tensor(row_ids)][None].clone().requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(model(x, torch.tensor([len(row_ids)])), torch.tensor([y[i]]))
        (g,) = torch.autograd.grad(loss, x)
        for r in set(row_ids.tolist()):
            ref[r] += g[0][torch.as_tensor(row_ids == r)].sum(0).norm().item()
    np.testing.assert_allclose(batched, ref, rtol=1e-4, atol=1e-7)
    assert batched[0] == 0  # padding never accumulates


def test_idf_uses_document_frequency():
    df = document_frequency([["a", "a", "a", "b"], ["a"], ["c"]])
    assert df == {"a": 2, "b": 1, "c": 1}
    assert idf(2, 3) == pytest.approx(math.log(3 / 3))
    # a word repeated many times in one document keeps df 1
    ck, model, src, train = _trained("lr")
    train = [dict(d) for d in train]
    train[0] = dict(train[0], text=train[0]["text"] + ["en_fill3"] * 30)
    df = document_frequency(d["text"] for d in train)
    b = MatrixBuilder(DIM)
    ids, _ = b.encode("src", src, [d["text"] for d in train])
    split = pack(ids, np.array([d["label"] for d in train]), "cpu", 1)
    sums = gradient_norm_sums(model, torch.from_numpy(b.matrix()), split, b.n_rows, progress=False)
    ranked = dict(rank_words(ck, model, src, train, progress=False))
    row = b.maps["src"]["en_fill3"]
    assert ranked["en_fill3"] == pytest.approx(sums[row] * math.log(len(train) / (1 + df["en_fill3"])), rel=1e-6)
    assert df["en_fill3"] == sum("en_fill3" in d["text"] for d in train)


def test_filters(tmp_path):
    ck, model, src, train = _trained("cnn")
    full = [w for w, _ in rank_words(ck, model, src, train, progress=False)]
    kept = [w for w, _ in rank_words(ck, model, src, train, progress=False, stopwords={"en_decisive"},
                                     min_df=1, max_df=0.3, letters_only=False)]
    assert "en_decisive" not in kept and "," not in kept  # ',' is in every document
    df = document_frequency(d["text"] for d in train)
    assert all(df[w] <= 0.3 * len(train) for w in kept)
    total = dict(rank_words(ck, model, src, train, progress=False))
    mean = dict(rank_words(ck, model, src, train, progress=False, aggregate="mean", min_df=3))
    assert set(mean) == {w for w in full if df[w] >= 3}
    for w, s in mean.items():
        assert s == pytest.approx(total[w] / df[w], rel=1e-9)


def test_script_end_to_end_and_errors(tmp_path, capsys):
    src, tgt, train, test = make_task()
    save_embeddings(tmp_path / "en", src.vectors, src.words)
    save_embeddings(tmp_path / "fr", tgt.vectors, tgt.words)
    for name, docs in (("en.json", train), ("fr.json", test)):
        (tmp_path / name).write_text("".join(json.dumps(d) + "\n" for d in docs))
    model = tmp_path / "m.pt"
    rc = _script("train").main(["--src-emb", str(tmp_path / "en"), "--tgt-emb", str(tmp_path / "fr"),
                                "--train", str(tmp_path / "en.json"), "--test", str(tmp_path / "fr.json"),
                                "--runs", "1", "--epochs", "15", "--batch-size", "10", "--lr", "0.01",
                                "--filters", "8", "-q", "--output", str(model)])
    assert rc == 0
    capsys.readouterr()
    rank = _script("rank_words")
    # training data and source embeddings default to the checkpoint's
    assert rank.main([str(model), "-q", "--top", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].split("\t")[0] == "en_decisive"
    float(lines[0].split("\t")[1])
    out = tmp_path / "rank.txt"
    stop = tmp_path / "stop.txt"
    stop.write_text("# comment\nen_decisive\n")
    assert rank.main([str(model), "-q", "--output", str(out), "--stopwords", str(stop)]) == 0
    assert "en_decisive" not in out.read_text() and out.read_text().count("\n") >= 10
    capsys.readouterr()  # forget what the good runs logged (e.g. the generic-keyword warning)
    # bad inputs: exit 2, one line, no output file
    for argv in ([str(tmp_path / "en.json"), "--output", str(tmp_path / "x.txt")],
                 [str(model), "--src-emb", str(tmp_path / "missing"), "--output", str(tmp_path / "x.txt")],
                 [str(model), "--stopwords", str(tmp_path / "nope"), "--output", str(tmp_path / "x.txt")]):
        with pytest.raises(SystemExit) as exc:
            cli.run(rank.main, argv + ["-q"])
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ")
        assert not (tmp_path / "x.txt").exists()
    save_embeddings(tmp_path / "wide", np.ones((2, DIM + 2), dtype=np.float32), ["en_fill1", "x"])
    with pytest.raises(SystemExit):
        cli.run(rank.main, [str(model), "--src-emb", str(tmp_path / "wide"), "-q"])
    assert "dimension" in capsys.readouterr().err


def test_warns_when_top_keywords_are_generic(caplog):
    from clime.rank import warn_if_generic

    docs = [{"text": ["the", "a", f"topic{i}"]} for i in range(20)]
    with caplog.at_level("WARNING", logger="clime.rank"):
        warn_if_generic([("the", 9.0), ("a", 8.0), ("topic1", 1.0)], docs)
    assert "generic words" in caplog.text and "the, a" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="clime.rank"):
        warn_if_generic([("topic1", 9.0), ("topic2", 8.0), ("the", 1.0)], docs)
    assert caplog.text == ""


def test_ranking_has_the_class_each_keyword_is_salient_for(tmp_path):
    from clime.preprocess import read_ranking
    from clime.rank import format_ranking

    ck, model, src, train = _trained("cnn")
    ranked = rank_words(ck, model, src, train, progress=False, with_class=True)
    plain = rank_words(ck, model, src, train, progress=False)
    assert [(w, s) for w, s, _, _ in ranked] == plain  # the scores do not change
    assert ranked[0][0] == "en_decisive" and ranked[0][2] == 1 and ranked[0][3] > 0.5  # class 1's word
    assert all(c in (0, 1) and 0.5 <= share <= 1.0 for _, _, c, share in ranked)
    path = tmp_path / "rank.txt"
    path.write_text(format_ranking(ranked))
    assert read_ranking(path)[0] == ("en_decisive", pytest.approx(ranked[0][1], rel=1e-5))  # the old reader
    assert path.read_text().splitlines()[0].split("\t")[2:] == ["1", f"{ranked[0][3]:.3f}"]
    path.write_text(format_ranking(plain))
    assert path.read_text().splitlines()[0].count("\t") == 1
