"""clime.vectors and train_vectors.py: word vectors from the user's own corpus (tiny
synthetic corpora, tiny vectors, a few epochs: seconds)."""
import gzip
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clime.embeddings import load_embeddings
from clime.errors import ClimeError
from clime.vecfile import read_vec
from clime.vectors import Corpus, is_json_lines, is_vec_name, iter_file, train, vocab_rows

ROOT = Path(__file__).resolve().parents[1]
ANIMALS = "cat dog horse cow sheep goat".split()
COLOURS = "red blue green yellow black white".split()
FAST = dict(dim=16, epochs=10, min_count=1, bucket=2000, sample=0, workers=1, progress=False)


def _two_groups(path, lines=1500, seed=0):
    """Animals live among farm words, colours among painting words: two groups of shared contexts."""
    rng = random.Random(seed)
    farm, paint = "eats grass in the farm field barn".split(), "paints the wall with a brush canvas".split()
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(lines):
            group, ctx = (ANIMALS, farm) if i % 2 else (COLOURS, paint)
            fh.write(" ".join(rng.sample(ctx, 3) + [rng.choice(group)] + rng.sample(ctx, 3)) + "\n")
    return path


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, str(ROOT / "train_vectors.py"), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)


def test_neighbours_fall_inside_each_group(tmp_path):
    model, info = train(Corpus([_two_groups(tmp_path / "c.txt")], "en"), **FAST)
    assert info["lines"] == 1500 and info["vocab"] == len(model.wv)
    words = ANIMALS + COLOURS
    E = np.stack([model.wv[w] for w in words])
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    sims = E @ E.T
    np.fill_diagonal(sims, -2)
    for i, w in enumerate(words):
        nearest = words[int(sims[i].argmax())]
        assert (nearest in ANIMALS) == (w in ANIMALS), (w, nearest)


def test_corpus_streams_text_gzip_and_json_lines_again_each_pass(tmp_path):
    (tmp_path / "a.txt").write_text("\ufeffDon't panic.\n\n  \nHello world\n", encoding="utf-8")
    with gzip.open(tmp_path / "b.txt.gz", "wt", encoding="utf-8") as fh:
        fh.write("Second file\n")
    docs = tmp_path / "d.json"
    docs.write_text(json.dumps({"id": 1, "text": ["Ya", "tokenised"], "label": 0}) + "\n"
                    + json.dumps({"text": "raw l'avion"}) + "\n", encoding="utf-8")
    c = Corpus([tmp_path / "a.txt", tmp_path / "b.txt.gz", docs], "fr")
    first = list(c)
    assert first == [["don't", "panic", "."], ["hello", "world"], ["second", "file"], ["ya", "tokenised"],
                     ["raw", "l'", "avion"]]
    assert list(c) == first  # restartable: gensim iterates once per epoch
    assert list(Corpus([tmp_path / "a.txt"], "en", max_tokens=2)) == [["do", "n't", "panic", "."]]
    assert is_json_lines("x.jsonl.gz") and not is_json_lines("x.txt")
    assert is_vec_name("o.vec.gz") and is_vec_name("o.txt") and not is_vec_name("embeds/es")


@pytest.mark.parametrize("content,line,message", [
    (b"ok\n\xff\xfe\n", 2, "invalid UTF-8"),
])
def test_iter_file_bad_text_names_the_line(tmp_path, content, line, message):
    p = tmp_path / "c.txt"
    p.write_bytes(content)
    with pytest.raises(ClimeError) as err:
        list(iter_file(p, "en"))
    assert err.value.line == line and message in str(err.value)


@pytest.mark.parametrize("content,line,message", [
    ('{"text": ["a"]}\n{"text": 3}\n', 2, "list of strings"),
    ('{"text": ["a"]}\nnot json\n', 2, "not valid JSON"),
    ('[1, 2]\n', 1, "'text' field"),
])
def test_iter_file_bad_documents_name_the_line(tmp_path, content, line, message):
    p = tmp_path / "d.json"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(ClimeError) as err:
        list(iter_file(p, "en"))
    assert err.value.line == line and message in str(err.value)


def test_vocab_from_covers_every_word_of_the_documents(tmp_path):
    corpus = _two_groups(tmp_path / "c.txt")
    docs = tmp_path / "docs.json"
    docs.write_text("".join(json.dumps({"id": i, "text": t, "label": 0}) + "\n" for i, t in enumerate(
        [["the", "cats", "eat"], ["unseenword", "dog"], ["brushes", "colourful", "cat"]])), encoding="utf-8")
    model, _ = train(Corpus([corpus], "en"), **FAST)
    words, E, added = vocab_rows(model, [docs], "en")
    assert words[:len(model.wv)] == list(model.wv.index_to_key)  # frequency order, then the added rows
    assert set(words[len(model.wv):]) == {"cats", "eat", "unseenword", "brushes", "colourful"} and added == 5
    assert E.dtype == np.float32 and E.shape == (len(words), 16) and np.isfinite(E).all()
    assert np.allclose(E[words.index("cats")], model.wv["cats"])


def test_cli_outputs_read_by_vecfile_binarize_and_embeddings(tmp_path):
    corpus = _two_groups(tmp_path / "c.txt", lines=400)
    docs = tmp_path / "docs.json"
    docs.write_text(json.dumps({"id": 0, "text": ["zebra", "cat"], "label": 1}) + "\n", encoding="utf-8")
    common = ["--lang", "en", "--corpus", corpus, "--dim", "8", "--epochs", "2", "--min-count", "1",
              "--bucket", "500", "--vocab-from", docs, "-q"]
    proc = _cli(*common, "--out", tmp_path / "o.vec.gz", "--stats", tmp_path / "s.json")
    assert proc.returncode == 0, proc.stderr
    words, E, info = read_vec(tmp_path / "o.vec.gz", progress=False)
    assert info["header"] == (len(words), 8) and words[-1] == "zebra" and "cat" in words
    stats = json.loads((tmp_path / "s.json").read_text())
    assert stats["rows"] == len(words) and stats["vocab_from_rows"] == 1 and stats["settings"]["sg"] == 1
    b = subprocess.run([sys.executable, str(ROOT / "binarize.py"), tmp_path / "o.vec.gz", tmp_path / "emb", "-q"],
                       capture_output=True, text=True, cwd=ROOT)
    assert b.returncode == 0, b.stderr
    assert load_embeddings(tmp_path / "emb").words == words
    assert _cli(*common, "--out", tmp_path / "dir").returncode == 0
    d = load_embeddings(tmp_path / "dir")
    assert d.words == words and d.vectors.dtype == np.float32 and d.meta["source"] == "train_vectors.py"


def test_same_bytes_with_one_worker_and_a_seed(tmp_path):
    corpus = _two_groups(tmp_path / "c.txt", lines=300)
    common = ["--lang", "en", "--corpus", corpus, "--dim", "8", "--epochs", "2", "--min-count", "1",
              "--bucket", "500", "--workers", "1", "-q"]
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        proc = _cli(*common, "--seed", seed, "--out", tmp_path / f"{name}.vec")
        assert proc.returncode == 0, proc.stderr
    a, b, c = ((tmp_path / f"{n}.vec").read_bytes() for n in "abc")
    assert a == b and a != c


@pytest.mark.parametrize("case", ["empty", "missing", "min-count", "bad-json", "bad-gzip", "no-corpus",
                                  "out-is-input", "max-n"])
def test_bad_inputs_exit_2_with_one_line(tmp_path, case):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\na b\n", encoding="utf-8")
    args = {"empty": ["--corpus", tmp_path / "e.txt"], "missing": ["--corpus", tmp_path / "nope.txt"],
            "min-count": ["--corpus", corpus, "--min-count", "5"], "bad-json": ["--docs", tmp_path / "d.json"],
            "bad-gzip": ["--corpus", tmp_path / "z.txt.gz"], "no-corpus": [],
            "out-is-input": ["--corpus", corpus, "--out", corpus], "max-n": ["--corpus", corpus, "--max-n", "2"]}[case]
    (tmp_path / "e.txt").write_text("\n \n", encoding="utf-8")
    (tmp_path / "d.json").write_text('{"text": ["a"]}\n{oops\n', encoding="utf-8")
    (tmp_path / "z.txt.gz").write_bytes(gzip.compress(b"a b c\n" * 50)[:-20])
    out = ["--out", tmp_path / "o.vec"] if "--out" not in args else []
    proc = _cli("--lang", "en", "--dim", "4", "--epochs", "1", "--bucket", "100", *args, *out, "-q")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith(("error:", "train_vectors.py: error")), \
        proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "o.vec").exists()
