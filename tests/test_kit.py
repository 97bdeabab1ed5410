"""clime.kit and make_kit.py: a small TSV/CSV kit round-trips; bad rows are one-line errors."""
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clime.align import read_dictionary
from clime.vecfile import read_vec, write_vec
from clime.errors import ClimeError
from clime.kit import apostrophe_aliases, build_kit, read_table, split_dictionary, split_parallel
from clime.text import read_docs

ROOT = Path(__file__).resolve().parents[1]
EN = "cat dog sun rain car road ball game doctor pill school book river hill city town".split()
FR = "chat chien soleil pluie voiture route balle jeu médecin pilule école livre fleuve colline ville bourg".split()
TOPICS = ["animals", "weather", "travel", "sports"]


def _tsv(path, rows, header=("index_id", "category", "text")):
    path.write_text("\t".join(header) + "\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows), encoding="utf-8")
    return path


def _kit_inputs(tmp_path):
    rng = random.Random(1)
    src = [(i, TOPICS[i % 4], f"The {EN[2 * (i % 4)]} and the {EN[2 * (i % 4) + 1]} don't {rng.choice(EN)}.")
           for i in range(12)]
    tgt = [(100 + i, TOPICS[i % 4], f"L'{FR[2 * (i % 4)]} et le {FR[2 * (i % 4) + 1]} aujourd'hui {rng.choice(FR)}")
           for i in range(12)]
    f = {"src": _tsv(tmp_path / "en.tsv", src), "tgt_train": _tsv(tmp_path / "fr_train.tsv", tgt[:6]),
         "tgt_dev": _tsv(tmp_path / "fr_dev.tsv", tgt[6:9]), "tgt_test": _tsv(tmp_path / "fr_test.tsv", tgt[9:])}
    vr = np.random.default_rng(0)
    en_words = ["the", "and", "do", "n't", "s", "l"] + EN
    fr_words = ["et", "le", "l", "aujourd'hui"] + FR
    write_vec(tmp_path / "en.vec", en_words, vr.normal(size=(len(en_words), 6)), progress=False)
    write_vec(tmp_path / "fr.vec", fr_words, vr.normal(size=(len(fr_words), 6)), progress=False)
    pairs = list(zip(EN, FR)) + [("the", "le"), ("and", "et"), ("town", "ville"), ("zebra", "zèbre")]
    (tmp_path / "dict.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    return f


def _build(tmp_path, f, out="kit", **kw):
    opts = dict(tgt_dev=[f["tgt_dev"]], test_words=3, seed_pairs=5, top=3, seed=3, label_col="category",
                id_col="index_id", progress=False)
    opts.update(kw)
    return build_kit(tmp_path / out, "en", "fr", [f["src"]], [f["tgt_train"], f["tgt_dev"]], [f["tgt_test"]],
                     tmp_path / "en.vec", tmp_path / "fr.vec", tmp_path / "dict.tsv", **opts)


def test_kit_round_trip(tmp_path):
    f = _kit_inputs(tmp_path)
    summary = _build(tmp_path, f)
    kit = tmp_path / "kit"
    assert sorted(p.name for p in kit.iterdir()) == sorted(
        ["en.json", "fr.json", "fr_dev.json", "fr_labeled.json", "fr_unlabeled.json", "categories.txt", "eng.vec.gz",
         "fra.vec.gz", "dict.seed.tsv", "dict.oracle.tsv", "dict.test.tsv"])
    assert (kit / "categories.txt").read_text().split("\n")[:4] == TOPICS  # first appearance in the source file
    en = read_docs(kit / "en.json")
    assert len(en) == 12 and en[1] == {"id": 1, "text": ["the", "sun", "and", "the", "rain", "do", "n't",
                                                         en[1]["text"][7], "."], "label": 1}
    labeled, dev = read_docs(kit / "fr_labeled.json"), read_docs(kit / "fr_dev.json")
    assert [d["id"] for d in labeled] == list(range(100, 109)) and [d["id"] for d in dev] == [106, 107, 108]
    assert labeled[0]["text"][:2] == ["l'", "chat"] and "aujourd'hui" in labeled[0]["text"]
    assert all("label" not in d for d in read_docs(kit / "fr_unlabeled.json", labeled=False))
    assert [d["label"] for d in read_docs(kit / "fr.json")] == [1, 2, 3]
    seed, oracle, test = (read_dictionary(kit / f"dict.{n}.tsv") for n in ("seed", "oracle", "test"))
    assert len(seed) == 5 and len({s for s, _ in test}) == 3
    assert set(seed) | set(oracle) | set(test) == set(list(zip(EN, FR)) + [("the", "le"), ("and", "et"),
                                                                         ("town", "ville")])  # zebra: no vector
    assert not ({s for s, _ in test} & {s for s, _ in seed + oracle})
    words, E = read_vec(kit / "fra.vec.gz", progress=False)[:2]
    assert "l'" in words and np.allclose(E[words.index("l'")], E[words.index("l")])  # the elision alias
    assert np.allclose(np.linalg.norm(E, axis=1), 1, atol=1e-3)
    assert summary["coverage"]["target_kit"]["words_covered"] == 1.0
    _build(tmp_path, f, out="again")
    for p in kit.iterdir():
        assert p.read_bytes() == (tmp_path / "again" / p.name).read_bytes(), p.name


def test_split_dictionary_is_seeded_and_independent_of_file_order():
    pairs = [(f"s{i}", f"t{i}") for i in range(50)] + [("s1", "u1")]
    shuffled = pairs[:]
    random.Random(5).shuffle(shuffled)
    a, b = split_dictionary(pairs, 10, seed=1, test_words=5), split_dictionary(shuffled, 10, seed=1, test_words=5)
    assert a == b and len(a[0]) == 10 and len({s for s, _ in a[2]}) == 5
    assert split_dictionary(pairs, 10, seed=2)[0] != a[0]
    with pytest.raises(ClimeError, match="only"):
        split_dictionary(pairs, 60, seed=1)


def test_apostrophe_aliases():
    assert apostrophe_aliases({"l'", "'s", "jusqu'", "o'clock", "x'"}, {"l", "s", "jusqu"}) == {
        "l'": "l", "'s": "s", "jusqu'": "jusqu"}


BAD_ROWS = {
    "fields": ("index_id\tcategory\ttext\n1\tanimals\tthe cat\n2\tanimals\n", 3, "expected 3 fields"),
    "empty text": ("index_id\tcategory\ttext\n1\tanimals\t  \n", 2, "empty text"),
    "empty label": ("index_id\tcategory\ttext\n1\t\tthe cat\n", 2, "empty label"),
    "repeated id": ("index_id\tcategory\ttext\n1\tanimals\tthe cat\n1\tanimals\tthe dog\n", 3, "repeats line 2"),
    "no column": ("id\tcategory\ttext\n1\tanimals\tthe cat\n", 1, "no id column 'index_id'"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_read_table_bad_rows_name_the_line(tmp_path, case):
    text, line, message = BAD_ROWS[case]
    p = tmp_path / "docs.tsv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ClimeError) as err:
        read_table(p, "text", "category", "index_id")
    assert err.value.path == str(p) and err.value.line == line and message in str(err.value)


def test_read_table_csv_quotes_and_no_label_column(tmp_path):
    p = tmp_path / "docs.csv"
    p.write_text('text,label\n"Hello, ""world""",a\nplain,b\n', encoding="utf-8")
    assert read_table(p) == [(2, None, 'Hello, "world"', "a"), (3, None, "plain", "b")]
    q = tmp_path / "docs.csv"
    q.write_text("text\nonly text\n", encoding="utf-8")
    assert read_table(q, need_label=False) == [(2, None, "only text", None)]
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ClimeError, match="cannot tell the format"):
        read_table(tmp_path / "x.json")


def test_unknown_label_names_its_line_and_writes_nothing(tmp_path):
    f = _kit_inputs(tmp_path)
    with open(f["tgt_test"], "a", encoding="utf-8") as fh:
        fh.write("999\tcooking\tla soupe\n")
    with pytest.raises(ClimeError) as err:
        _build(tmp_path, f)
    assert err.value.path == str(f["tgt_test"]) and err.value.line == 5 and "'cooking'" in str(err.value)
    assert not (tmp_path / "kit").exists()


def test_make_kit_cli_bad_row_exit_2_one_line(tmp_path):
    f = _kit_inputs(tmp_path)
    with open(f["src"], "a", encoding="utf-8") as fh:
        fh.write("50\tanimals\n")
    cmd = [sys.executable, str(ROOT / "make_kit.py"), "--out", str(tmp_path / "kit"), "--src-lang", "en",
           "--tgt-lang", "fr", "--src-train", str(f["src"]), "--tgt-train", str(f["tgt_train"]), "--tgt-test",
           str(f["tgt_test"]), "--src-vec", str(tmp_path / "en.vec"), "--tgt-vec", str(tmp_path / "fr.vec"),
           "--dict", str(tmp_path / "dict.tsv"), "--test-words", "3", "--seed-pairs", "5",
           "--label-column", "category", "--id-column", "index_id", "-q"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0
    assert f"error: {f['src']}:14: expected 3 fields" in proc.stderr
    assert not (tmp_path / "kit").exists()
    help_ = subprocess.run([sys.executable, str(ROOT / "make_kit.py"), "--help"], capture_output=True, text=True, cwd=ROOT)
    assert help_.returncode == 0 and "(default: 200)" in help_.stdout


# ----------------------------------------------------------------------------- the non-parallel split

def _docs(ids, prefix, texts=None):
    return [{"id": i, "text": (texts or {}).get(i, [prefix, str(i)]), "label": i % 3} for i in ids]


def _texts(docs):
    return {tuple(d["text"]) for d in docs}


def _assert_disjoint(src, pool, held):
    for a, b in ((src, pool), (src, held), (pool, held)):
        assert not ({d["id"] for d in a} & {d["id"] for d in b})
        assert not (_texts(a) & _texts(b))


def test_split_parallel_follows_the_recipe():
    """SIB-200-like: 70 train ids, 10 dev, 20 test; the source files also hold the dev ids."""
    src = _docs(range(80), "en")            # source train + dev
    pool = _docs(range(80), "fr")           # target train + dev (the dev file given twice)
    held = _docs(range(70, 100), "fr")      # target dev + test
    s, p, info = split_parallel(src, pool, held, src_size=50, seed=0)
    order = list(range(70))
    random.Random(0).shuffle(order)
    assert [d["id"] for d in s] == sorted(order[:50]) and [d["id"] for d in p] == sorted(order[50:])
    _assert_disjoint(s, p, held)
    assert info["parallel_ids"] == 70 and info["src_left_out"] == 30 and info["pool_left_out"] == 60
    assert split_parallel(src, pool, held, src_size=50, seed=0) == (s, p, info)
    assert split_parallel(src, pool, held, src_size=50, seed=1)[0] != s
    assert len(split_parallel(src, pool, held, seed=0)[0]) == 49  # default: 70 % of the parallel ids
    with pytest.raises(ClimeError, match="only 70 parallel"):
        split_parallel(src, pool, held, src_size=71)


def test_split_parallel_identical_texts_under_other_ids():
    src = _docs(range(10), "en", {3: ["covid", "-", "19"]})
    pool = _docs(range(10), "fr", {4: ["le", "test"], 5: ["covid", "-", "19"], 6: ["même"], 7: ["même"]})
    held = _docs([20, 21], "fr", {20: ["le", "test"]})
    s, p, info = split_parallel(src, pool, held, src_size=4, seed=0)
    _assert_disjoint(s, p, held)
    assert 4 not in {d["id"] for d in s + p}                  # its target text is a test document's
    in_src, in_pool = {d["id"] for d in s}, {d["id"] for d in p}
    assert {3, 5} <= in_src or {3, 5} <= in_pool               # joined by the untranslated text
    assert {6, 7} <= in_src or {6, 7} <= in_pool
    assert info["multi_id_groups"] == 2


@pytest.mark.parametrize("seed", range(5))
def test_split_parallel_never_leaks_on_random_duplicates(seed):
    rng = random.Random(seed)

    def texts(ids):
        return {i: [rng.choice("abcdefghij"), rng.choice("xyz")] for i in ids}  # many repeats

    src = _docs(range(0, 60), "en", texts(range(0, 60)))
    pool = _docs(range(20, 80), "fr", texts(range(20, 80)))
    held = _docs(range(70, 95), "fr", texts(range(70, 95)))
    s, p, _ = split_parallel(src, pool, held, src_size=0, seed=seed)
    _assert_disjoint(s, p, held)
    n = split_parallel(src, pool, held, src_size=0, seed=seed)[2]["parallel_ids"]
    s, p, _ = split_parallel(src, pool, held, src_size=n // 2, seed=seed)
    _assert_disjoint(s, p, held)


def _parallel_src(tmp_path):
    """Source documents 0..11 with texts that all differ (so every id is its own group)."""
    return _tsv(tmp_path / "en_p.tsv", [(i, TOPICS[i % 4], f"The {EN[2 * (i % 4)]} and {EN[i]} n{i}")
                                        for i in range(12)])


def test_build_kit_splits_parallel_files_with_a_warning(tmp_path, caplog):
    f = _kit_inputs(tmp_path)
    rng = random.Random(2)
    tgt = [(i, TOPICS[i % 4], f"L'{FR[2 * (i % 4)]} et le {FR[2 * (i % 4) + 1]} {rng.choice(FR)} n{i}")
           for i in range(12)]  # the same ids as the source documents: parallel
    f["src"] = _parallel_src(tmp_path)
    header = ("nr", "thème", "phrase")  # the French files have other headers
    f["tgt_train"] = _tsv(tmp_path / "p_train.tsv", tgt[:8], header)
    f["tgt_dev"] = _tsv(tmp_path / "p_dev.tsv", tgt[8:10], header)
    f["tgt_test"] = _tsv(tmp_path / "p_test.tsv", tgt[10:], header)
    cols = dict(tgt_text_col="phrase", tgt_label_col="thème", tgt_id_col="nr")
    with caplog.at_level("WARNING"):
        summary = _build(tmp_path, f, src_size=5, **cols)
    assert any(r.getMessage().startswith("warning: 12 ids name both") for r in caplog.records)
    kit = tmp_path / "kit"
    en, unl = read_docs(kit / "en.json"), read_docs(kit / "fr_unlabeled.json", labeled=False)
    lab, dev, test = (read_docs(kit / n) for n in ("fr_labeled.json", "fr_dev.json", "fr.json"))
    assert len(en) == 5 and len(unl) == 3 and [d["id"] for d in lab] == [d["id"] for d in unl]
    ids = [{d["id"] for d in x} for x in (en, unl, dev, test)]
    assert sum(map(len, ids)) == len(set().union(*ids)) == 12
    assert summary["split"]["src_docs"] == 5
    caplog.clear()
    with caplog.at_level("WARNING"):
        kept = _build(tmp_path, f, out="kept", split=False, **cols)
    assert kept["split"] is None and kept["src_docs"] == 12 and kept["tgt_docs"] == 10
    assert any("kept as given (--no-split)" in r.getMessage() for r in caplog.records)
    with pytest.raises(ClimeError, match="no text column 'text'"):
        _build(tmp_path, f, out="nocols")


def test_make_kit_cli_parallel_warning_and_options(tmp_path):
    f = _kit_inputs(tmp_path)
    f["src"] = _parallel_src(tmp_path)
    rows = [(i, TOPICS[i % 4], f"Le {FR[2 * (i % 4)]} n{i}") for i in range(12)]
    header = ("nr", "thème", "phrase")
    train, test = _tsv(tmp_path / "p_train.tsv", rows[:9], header), _tsv(tmp_path / "p_test.tsv", rows[9:], header)
    cmd = [sys.executable, str(ROOT / "make_kit.py"), "--out", str(tmp_path / "kit"), "--src-lang", "en",
           "--tgt-lang", "fr", "--src-train", str(f["src"]), "--tgt-train", str(train), "--tgt-test", str(test),
           "--src-vec", str(tmp_path / "en.vec"), "--tgt-vec", str(tmp_path / "fr.vec"), "--dict",
           str(tmp_path / "dict.tsv"), "--test-words", "3", "--seed-pairs", "5", "--label-column", "category",
           "--id-column", "index_id", "--tgt-text-column", "phrase", "--tgt-label-column", "thème",
           "--tgt-id-column", "nr", "--src-size", "4", "--split-seed", "1", "-q"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: 12 ids name both a source and a target document")
    assert len(read_docs(tmp_path / "kit" / "en.json")) == 4
    assert len(read_docs(tmp_path / "kit" / "fr_unlabeled.json", labeled=False)) == 5
    proc = subprocess.run(cmd[:-5] + ["--src-size", "10", "-q"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "error: --src-size 10: there are only 9 parallel documents" in proc.stderr


def test_vectors_stay_unaligned_unless_prealign(tmp_path):
    """Default: each language in its own space (align.py fits the map, and its guard needs seed pairs
    the vectors were never fitted on); --prealign maps the target onto the source with the seed."""
    from clime.align import fit_orthogonal

    f = _kit_inputs(tmp_path)
    _build(tmp_path, f, out="raw")
    _build(tmp_path, f, out="pre", prealign=True)
    seed = read_dictionary(tmp_path / "raw" / "dict.seed.tsv")
    spaces = {}
    for name in ("raw", "pre"):
        s_words, S = read_vec(tmp_path / name / "eng.vec.gz", progress=False)[:2]
        t_words, T = read_vec(tmp_path / name / "fra.vec.gz", progress=False)[:2]
        spaces[name] = (T, S[[s_words.index(s) for s, _ in seed]], T[[t_words.index(t) for _, t in seed]])
    raw_T, pre_T = spaces["raw"][0], spaces["pre"][0]
    assert not np.allclose(raw_T, pre_T, atol=1e-2)
    W = fit_orthogonal(spaces["raw"][2], spaces["raw"][1])
    np.testing.assert_allclose(raw_T @ W, pre_T, atol=2e-3)  # the same rows, rotated by the seed fit
