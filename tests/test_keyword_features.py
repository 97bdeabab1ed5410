"""clime.keyword_features and train.py --keyword-features on a synthetic task whose target
class words are unaligned with the source ones."""

import json

import pytest

from clime import cli, keyword_features as kwf, selftrain
from clime.embeddings import save_embeddings
from clime.errors import ClimeError
from clime.feedback import write_feedback
from clime.train import TrainConfig, train_classifier
from test_train import _script, make_unaligned_task

pytestmark = pytest.mark.usefixtures("one_thread")
CFG = dict(model_type="lr", epochs=40, batch_size=10, lr=0.1, holdout=0)


def _ranking(path):
    # what rank_words.py writes: word, score, class, share
    path.write_text("en_class0_0\t3.5\t0\t0.910\nen_class1_1\t3.1\t1\t0.880\nen_class1_0\t2.0\t1\t0.700\n"
                    "en_fill3\t0.5\t0\t0.520\n")
    return path


def _feedback(path, extra_row=None):
    rows = [{"keyword": "en_class0_0", "pos2": ["fr_class0_0"], "neg2": ["fr_fill1"], "new2": ["fr_class0_1"]},
            {"keyword": "en_class1_1", "pos2": ["fr_class1_1", "fr_fill2"], "neg2": []},
            {"keyword": "en_class1_0", "pos2": ["fr_class1_0"]},
            {"keyword": "en_fill3", "pos2": ["fr_fill2"]},  # fr_fill2: one vote each way, dropped
            {"keyword": "en_fill9", "pos2": ["fr_fill5"]},  # not in the ranking
            {"keyword": "en_fill3", "pos2": ["fr_fill7"], "skipped": "yes"}]
    if extra_row:
        rows.append(extra_row)
    write_feedback(path, rows, extra_fields=["skipped"])
    return path


def test_word_classes_from_accepted_and_added_target_words(tmp_path, caplog):
    feats = kwf.word_classes([_feedback(tmp_path / "f.csv")], _ranking(tmp_path / "r.txt"), [0, 1])
    assert feats == {"fr_class0_0": 0, "fr_class0_1": 0, "fr_class1_1": 1, "fr_class1_0": 1}
    assert "1 judged keyword(s) are not in" in caplog.text


def test_label_documents_by_votes():
    feats = {"a": 0, "b": 0, "c": 1}
    docs = [{"id": i, "text": t} for i, t in enumerate([["a", "x"], ["a", "c"], ["a", "b", "c"], ["x"], ["c", "c"]])]
    assert kwf.label_documents(docs, feats, 2) == [(0, 0), (2, 0), (4, 1)]
    assert kwf.label_documents(docs, feats, 2, min_hits=2) == []
    out, used = kwf.feature_documents(feats, ["neg", "pos"], docs, max_df=1.0)
    assert used == [0, 2, 4] and out[0] == {"id": "keyword-feature:a", "text": ["a"], "label": "neg"}
    assert len(out) == 3 + 3


def test_words_common_in_the_pool_are_not_features(caplog):
    pool = [{"id": i, "text": ["est", "x"] + (["lune"] if i == 0 else [])} for i in range(20)]
    feats = {"est": 1, "lune": 0}
    assert kwf.drop_common(feats, pool, 0.1) == {"lune": 0}
    assert "1 word(s) occur in more than 10% of the pool documents and are not used (est)" in caplog.text
    out, used = kwf.feature_documents(feats, [0, 1], pool)
    assert used == [0] and [d["text"] for d in out] == [["lune"], pool[0]["text"]]
    assert kwf.drop_common(feats, [], 0.1) == feats  # no pool: nothing to count on


def test_bad_ranking_and_class(tmp_path):
    (tmp_path / "old.txt").write_text("en_class0_0\t3.5\n")
    with pytest.raises(ClimeError, match="old.txt:1: no class column"):
        kwf.word_classes([_feedback(tmp_path / "f.csv")], tmp_path / "old.txt", [0, 1])
    (tmp_path / "r.txt").write_text("en_class0_0\t3.5\t7\t0.9\n")
    with pytest.raises(ClimeError, match="class '7', which is not a label"):
        kwf.word_classes([_feedback(tmp_path / "f.csv")], tmp_path / "r.txt", [0, 1])


def test_keyword_features_lift_an_unaligned_task(tmp_path):
    """No embedding update here (it is another stage): the comparison is with no update, which
    the unaligned target class words leave at chance.  (Each class word is in a quarter of this
    tiny pool's documents: --keyword-max-df 0.5 keeps them.)"""
    src, tgt, train, pool, test = make_unaligned_task()
    pool = [{"id": d["id"], "text": d["text"]} for d in pool]
    feats = kwf.word_classes([_feedback(tmp_path / "f.csv")], _ranking(tmp_path / "r.txt"), [0, 1])
    base = train_classifier(src, tgt, train, test, config=TrainConfig(**CFG), runs=1, progress=False)
    assert base.runs[0]["accuracy"] < 0.7
    words_only = train_classifier(src, tgt, train, test, config=TrainConfig(**CFG), runs=1, progress=False,
                                  keyword_features=feats, feature_weight=5.0)
    with_pool = train_classifier(src, tgt, train, test, config=TrainConfig(**CFG), runs=1, progress=False,
                                 keyword_features=feats, self_train_docs=pool, keyword_max_df=0.5)
    assert words_only.runs[0]["accuracy"] >= 0.85
    assert with_pool.runs[0]["accuracy"] >= 0.85
    assert with_pool.coverage["features"]["docs"] > len(feats)  # pool documents were labelled too
    pool_only = train_classifier(src, tgt, train, test, config=TrainConfig(**CFG), runs=1, progress=False,
                                 keyword_features=feats, self_train_docs=pool, keyword_max_df=0.5,
                                 self_train=selftrain.SelfTrainConfig(rounds=0))
    assert pool_only.runs[0]["accuracy"] >= 0.85 and "self_train_rounds" not in pool_only.runs[0]


def test_script_keyword_features(tmp_path, capsys):
    src, tgt, train, pool, test = make_unaligned_task()
    save_embeddings(tmp_path / "en", src.vectors, src.words)
    save_embeddings(tmp_path / "fr", tgt.vectors, tgt.words)
    for name, docs in (("train", train), ("pool", pool), ("test", test)):
        (tmp_path / f"{name}.json").write_text("".join(json.dumps(d) + "\n" for d in docs))
    base = ["--src-emb", str(tmp_path / "en"), "--tgt-emb", str(tmp_path / "fr"), "--train", str(tmp_path / "train.json"),
            "--test", str(tmp_path / "test.json"), "--type", "lr", "--runs", "1", "--epochs", "40", "--lr", "0.1",
            "--batch-size", "10", "--holdout", "0", "-q"]
    fb, rank = _feedback(tmp_path / "f.csv"), _ranking(tmp_path / "r.txt")
    out = tmp_path / "r.json"
    assert _script("train").main(base + ["--keyword-features", str(fb), "--keyword-rank", str(rank),
                                         "--self-train", str(tmp_path / "pool.json"), "--keyword-max-df", "0.5",
                                         "--results", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["keyword_features"]["words"] == 4 and r["accuracy_mean"] >= 0.85
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        cli.run(_script("train").main, base + ["--keyword-features", str(fb)])
    assert exc.value.code == 2 and "needs --keyword-rank" in capsys.readouterr().err
