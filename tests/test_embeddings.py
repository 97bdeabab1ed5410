"""clime.embeddings, binarize.py and export_vec.py: every format case, every bad input."""
import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clime.embeddings import Embeddings, check_same_dim, load_embeddings, normalize, save_embeddings
from clime.vecfile import parse_block, read_vec, write_bin, write_vec
from clime.errors import ClimeError

ROOT = Path(__file__).resolve().parents[1]
WORDS = ["the", "chat", "école", "日本", "мир", "ضوء", "नमस्ते"]


def _matrix(n=len(WORDS), d=4, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def _text(words, E, header=True, eol="\n", trailing=""):
    lines = [f"{len(words)} {E.shape[1]}"] if header else []
    lines += [w + " " + " ".join(repr(float(x)) for x in row) + trailing for w, row in zip(words, E)]
    return eol.join(lines) + eol


def _write(path, text, gz=False):
    data = text.encode("utf-8") if isinstance(text, str) else text
    if gz:
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        Path(path).write_bytes(data)
    return path


def _run(script, *args):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TQDM_DISABLE="1")
    return subprocess.run([sys.executable, str(ROOT / script), *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=ROOT)


@pytest.fixture(params=["compiled", "numpy"])
def text_parser(request, monkeypatch):
    """Run a test with the compiled block parser (skipped without a C compiler) and with numpy's."""
    from clime import cparse

    if request.param == "numpy":
        monkeypatch.setattr(cparse, "_lib", None)
        monkeypatch.setattr(cparse, "_tried", True)
        monkeypatch.setenv("CLIME_NO_C", "1")
    elif not cparse.available():
        pytest.skip("no C compiler: the compiled parser is not available")
    return request.param


# ------------------------------------------------------------------ formats

@pytest.mark.usefixtures("text_parser")
@pytest.mark.parametrize("header", [True, False], ids=["header", "glove"])
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("eol,trailing", [("\n", ""), ("\r\n", ""), ("\n", " "), ("\r\n", " ")],
                         ids=["lf", "crlf", "trailing-space", "crlf+space"])
def test_read_formats(tmp_path, header, gz, eol, trailing):
    E = _matrix()
    p = _write(tmp_path / ("e.vec.gz" if gz else "e.vec"), _text(WORDS, E, header, eol, trailing), gz)
    words, V, info = read_vec(p, progress=False)
    assert words == WORDS
    assert V.dtype == np.float32 and V.shape == E.shape
    np.testing.assert_array_equal(V, E)
    assert info["header"] == ((len(WORDS), 4) if header else None)
    assert info["duplicates"] == 0


@pytest.mark.usefixtures("text_parser")
@pytest.mark.parametrize("header", [True, False], ids=["header", "glove"])
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_utf8_bom_is_accepted(tmp_path, header, gz):
    """A .vec saved by an editor that writes a UTF-8 byte-order mark reads like one without."""
    E = _matrix()
    p = _write(tmp_path / ("bom.vec.gz" if gz else "bom.vec"), "\ufeff" + _text(WORDS, E, header), gz)
    words, V, info = read_vec(p, progress=False)
    assert words == WORDS and info["header"] == ((len(WORDS), 4) if header else None)
    np.testing.assert_array_equal(V, E)
    b = tmp_path / "bom.bin"
    write_bin(b, WORDS, E)
    b.write_bytes(b"\xef\xbb\xbf" + b.read_bytes())
    assert read_vec(b, progress=False)[0] == WORDS


def test_gz_detected_by_content_not_name(tmp_path):
    E = _matrix()
    p = _write(tmp_path / "e.txt", _text(WORDS, E), gz=True)
    assert read_vec(p, progress=False)[0] == WORDS


@pytest.mark.usefixtures("text_parser")
def test_number_styles(tmp_path):
    body = "a 1 -0 5. .5\nb -.5 1e5 1E+05 +1.5\nc 0.000123 -12.5 3 7\n"
    words, V, _ = read_vec(_write(tmp_path / "n.vec", "3 4\n" + body), progress=False)
    np.testing.assert_array_equal(V, np.array([[1, -0.0, 5, .5], [-.5, 1e5, 1e5, 1.5], [0.000123, -12.5, 3, 7]],
                                              dtype=np.float32))


@pytest.mark.usefixtures("text_parser")
def test_parse_block_matches_float_exactly():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((300, 10)) * rng.choice([1e-5, 0.1, 10, 1e4], (300, 10), p=[0.01, 0.5, 0.48, 0.01]))
    for fmt in ("%.4f", "%.6g", "%.9g", "%g", "%.2f", "%.17g", "%e"):
        block = "\n".join(f"w{i} " + " ".join(fmt % v for v in row) for i, row in enumerate(x.tolist())).encode()
        ref = np.array([[float(t) for t in ln.split()[1:]] for ln in block.split(b"\n")], dtype=np.float32)
        got = parse_block(block, 10)
        assert got is not None, fmt
        assert got[0] == "\n".join(f"w{i}" for i in range(300)).encode()
        np.testing.assert_array_equal(got[1], ref)
    # unusual blocks go to the line-by-line parser (None), never to a wrong answer
    for bad in (b"a 1.2.3 4", b"a --1 2", b"a 1 2 3", b"a 1", b"a 1  2", b"a nan 2", b"a inf 1", b" 1 2", b"a\t1 2",
                b"a 1 2\n\nb 1 2", b"a 1e39 2", b"a x 2", b"a 1 2\rb 3 4", b""):
        assert parse_block(bad, 2) is None, bad
    assert parse_block(b"a 1 2 \r\nb 3 4 ", 2)[0] == b"a\nb"


@pytest.mark.usefixtures("text_parser")
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("workers", [1, 2])
def test_parallel_read_is_identical(tmp_path, monkeypatch, workers, gz):
    import clime.vecfile as ce

    monkeypatch.setattr(ce, "_BLOCK_BYTES", 256)  # many blocks, so several are in flight at once
    E = _matrix(400, 6, seed=4)
    words = [f"w{i}" for i in range(400)] + ["w7"]  # a duplicate at the very end
    E = np.vstack([E, E[:1]])
    words[100] = "x\u0085y\u00a0z\u2028"  # a NEL, a no-break space and a line separator inside a word
    p = _write(tmp_path / "e.vec", _text(words, E, trailing=" "))
    if gz:
        p = _write(tmp_path / "e.vec.gz", p.read_bytes(), gz=True)
    got_words, V, info = read_vec(p, progress=False, workers=workers)
    assert got_words == words[:-1] and info["duplicates"] == 1
    np.testing.assert_array_equal(V, E[:-1])
    lines = (tmp_path / "e.vec").read_text(encoding="utf-8").split("\n")  # not splitlines(): U+0085, U+2028
    lines[333] = lines[333] + " 1.5"
    with pytest.raises(ClimeError) as err:
        read_vec(_write(tmp_path / "bad.vec", "\n".join(lines), gz=gz), progress=False, workers=workers)
    assert err.value.line == 334 and "found 7" in str(err.value)
    words3, V3, _ = read_vec(p, max_words=3, progress=False, workers=workers)
    assert words3 == words[:3]


@pytest.mark.usefixtures("text_parser")
def test_many_chunks_and_blank_lines(tmp_path, monkeypatch):
    import clime.vecfile as ce

    E = _matrix(300, 5, seed=1)
    words = [f"w{i}" for i in range(300)]
    lines = _text(words, E, header=False).splitlines()
    for i in range(290, 0, -7):  # blank lines here and there, so some fall on block boundaries
        lines[i:i] = [""] * (1 + i % 3)
    text = "300 5\n" + "\n".join(lines) + "\n\n"
    lines = text.split("\n")
    bad = next(i for i, ln in enumerate(lines) if ln.startswith("w250 "))
    lines[bad] = lines[bad].replace(" ", " x", 1)
    good, wrong = _write(tmp_path / "e.vec", text), _write(tmp_path / "bad.vec", "\n".join(lines))
    for block_bytes in range(40, 70):  # many small blocks, ending at every kind of place
        monkeypatch.setattr(ce, "_BLOCK_BYTES", block_bytes)
        workers = 1 + block_bytes % 2
        got_words, V, _ = read_vec(good, progress=False, workers=workers)
        assert got_words == words
        np.testing.assert_array_equal(V, E)
        # the line number of an error far into the file is still right
        with pytest.raises(ClimeError) as err:
            read_vec(wrong, progress=False, workers=workers)
        assert err.value.line == bad + 1, block_bytes


def test_bin_format(tmp_path):
    E = _matrix()
    p = tmp_path / "e.bin"
    write_bin(p, WORDS, E)
    words, V, info = read_vec(p, progress=False)
    assert words == WORDS
    np.testing.assert_array_equal(V, E)
    words, V, _ = read_vec(p, max_words=3, progress=False)
    assert words == WORDS[:3] and V.shape == (3, 4)
    p.write_bytes(p.read_bytes()[:-10])
    with pytest.raises(ClimeError, match="file ends"):
        read_vec(p, progress=False)


# ------------------------------------------------------------------ bad input

BAD_CASES = {
    "too-few-values": ("3 4\na 1 2 3 4\nb 1 2 3\nc 1 2 3 4\n", 3, "expected 4 values"),
    "too-many-values": ("3 4\na 1 2 3 4\nb 1 2 3 4\nc 1 2 3 4 5\n", 4, "found 5"),
    "not-a-number": ("3 4\na 1 2 3 4\nb 1 2 x 4\nc 1 2 3 4\n", 3, "'x' is not a number"),
    "nan": ("2 2\na 1 nan\nb 1 2\n", 2, "not finite"),
    "header-count": ("5 4\na 1 2 3 4\nb 1 2 3 4\n", 1, "header says 5 words but the file holds 2"),
    "header-dim": ("2 3\na 1 2 3 4\nb 1 2 3 4\n", 2, "as the header says"),
    "glove-ragged": ("a 1 2 3\nb 1 2\n", 2, "expected 3 values"),
    "no-values": ("2 2\na 1 2\nlonely\n", 3, "expected"),
    "empty-word": ("2 2\na 1 2\n 1 2\n", 3, "empty word"),
    "empty-file": ("", 1, "empty file"),
    "header-only": ("0 300\n", None, "no vectors"),
    "invalid-utf8-word": (b"2 2\na 1 2\n\xff\xfe 1 2\n", 3, "invalid UTF-8"),
    "invalid-utf8-value": (b"2 2\na 1 2\nb 1 \xff\n", 3, "invalid UTF-8"),
    "invalid-utf8-header": (b"\xff\xfe 2\n", 1, "invalid UTF-8"),
}


@pytest.mark.usefixtures("text_parser")
@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_raises_with_file_and_line(tmp_path, case):
    text, line, message = BAD_CASES[case]
    p = _write(tmp_path / "bad.vec", text)
    with pytest.raises(ClimeError) as err:
        read_vec(p, progress=False)
    assert err.value.path == str(p)
    assert err.value.line == line
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_gzip(tmp_path):
    p = _write(tmp_path / "e.vec.gz", b"\x1f\x8bnot really gzip at all")
    with pytest.raises(ClimeError, match="gzip|damaged"):
        read_vec(p, progress=False)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ClimeError, match="no such file"):
        read_vec(tmp_path / "nope.vec")
    with pytest.raises(ClimeError, match="directory"):
        read_vec(tmp_path)


@pytest.mark.usefixtures("text_parser")
def test_skip_bad(tmp_path):
    text = "4 2\na 1 2\nb 1 x\nc 1 2 3\nd 3 4\n"
    words, V, info = read_vec(_write(tmp_path / "e.vec", text), skip_bad=True, progress=False)
    assert words == ["a", "d"] and info["skipped"] == 2
    np.testing.assert_array_equal(V, [[1, 2], [3, 4]])


@pytest.mark.usefixtures("text_parser")
@pytest.mark.parametrize("case", ["not-a-number", "header-count", "empty-file", "invalid-utf8-word"])
def test_binarize_bad_input_cli(tmp_path, case):
    text = BAD_CASES[case][0]
    p = _write(tmp_path / "bad.vec", text)
    out = tmp_path / "out"
    # an existing good directory must survive untouched
    save_embeddings(out, np.eye(2, dtype=np.float32), ["x", "y"], {"marker": 1})
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    res = _run("binarize.py", p, out)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"error: {p}")
    assert "Traceback" not in res.stderr
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before
    assert sorted(os.listdir(tmp_path)) == ["bad.vec", "out"]  # no temporary left behind
    res = _run("binarize.py", p, tmp_path / "new")
    assert res.returncode == 2 and not (tmp_path / "new").exists()


def test_binarize_refuses_to_replace_other_things(tmp_path):
    p = _write(tmp_path / "e.vec", _text(WORDS, _matrix()))
    (tmp_path / "a_file").write_text("keep me")
    res = _run("binarize.py", p, tmp_path / "a_file")
    assert res.returncode == 2 and (tmp_path / "a_file").read_text() == "keep me"
    other = tmp_path / "data"
    other.mkdir()
    (other / "precious.txt").write_text("keep me")
    res = _run("binarize.py", p, other)
    assert res.returncode == 2 and "not an embedding directory" in res.stderr
    assert (other / "precious.txt").exists()


# ------------------------------------------------------------------ options

@pytest.mark.usefixtures("text_parser")
def test_duplicates_first_wins(tmp_path, caplog):
    text = "4 2\na 1 2\nb 3 4\na 5 6\nc 7 8\n"
    words, V, info = read_vec(_write(tmp_path / "e.vec", text), progress=False)
    assert words == ["a", "b", "c"] and info["duplicates"] == 1
    np.testing.assert_array_equal(V, [[1, 2], [3, 4], [7, 8]])
    assert "1 duplicate" in caplog.text


@pytest.mark.usefixtures("text_parser")
def test_max_words_and_lower(tmp_path):
    text = "5 2\nThe 1 2\nthe 3 4\nCat 5 6\ncat 7 8\ndog 9 9\n"
    p = _write(tmp_path / "e.vec", text)
    words, V, info = read_vec(p, max_words=2, progress=False)
    assert words == ["The", "the"]
    words, V, info = read_vec(p, lower=True, progress=False)
    assert words == ["the", "cat", "dog"] and info["duplicates"] == 2
    np.testing.assert_array_equal(V, [[1, 2], [5, 6], [9, 9]])
    words, V, info = read_vec(p, lower=True, max_words=2, progress=False)
    assert words == ["the", "cat"]


def test_binarize_cli_options_and_meta(tmp_path):
    text = "5 3\nThe 1 2 2\nthe 3 4 4\nCat 5 6 0\ncat 7 8 1\ndog 9 9 9\n"
    p = _write(tmp_path / "e.vec", text)
    out = tmp_path / "emb"
    res = _run("binarize.py", p, out, "--lower", "--max-words", "2", "--normalize", "unit")
    assert res.returncode == 0, res.stderr
    assert "duplicate" in res.stderr
    emb = load_embeddings(out)
    assert emb.words == ["the", "cat"]
    np.testing.assert_allclose(np.linalg.norm(emb.vectors, axis=1), 1, rtol=1e-6)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["source"] == str(p) and meta["n_words"] == 2 and meta["dim"] == 3
    assert meta["normalization"] == "unit" and meta["clime_version"] and meta["duplicates_dropped"] == 1
    assert isinstance(emb.vectors, np.memmap)  # memory-mapped by default
    help_text = re.sub(r"-\s+", "-", " ".join(_run("binarize.py", "--help").stdout.split()))
    assert "center-unit" in help_text and "default: center-unit" in help_text


def test_binarize_skip_bad_cli(tmp_path):
    p = _write(tmp_path / "e.vec", "3 2\na 1 2\nb 1 x\nc 3 4\n")
    res = _run("binarize.py", p, tmp_path / "o", "--skip-bad", "--normalize", "none")
    assert res.returncode == 0, res.stderr
    assert "1 bad line" in res.stderr
    assert load_embeddings(tmp_path / "o").words == ["a", "c"]


def test_normalizations():
    E = np.array([[3, 4], [1, 0], [0, 0]], dtype=np.float32)
    np.testing.assert_array_equal(normalize(E, "none"), E)
    U = normalize(E, "unit")
    np.testing.assert_allclose(U, [[0.6, 0.8], [1, 0], [0, 0]], rtol=1e-6)  # zero rows stay zero
    C = normalize(E, "center-unit")
    centred = E - E.mean(axis=0)
    np.testing.assert_allclose(C, centred / np.linalg.norm(centred, axis=1, keepdims=True), rtol=1e-6)
    assert E[0, 0] == 3  # a copy by default
    F = E.copy()
    assert normalize(F, "unit", inplace=True) is F
    with pytest.raises(ClimeError, match="unknown normalisation"):
        normalize(E, "bogus")


# ------------------------------------------------------------------ directories

def test_save_load_utf8_and_layout(tmp_path):
    E = _matrix()
    save_embeddings(tmp_path / "d", E, WORDS, {"note": "x"})
    raw = (tmp_path / "d" / "words.json").read_text(encoding="utf-8")
    assert "日本" in raw and "\\u" not in raw
    assert json.loads(raw) == {w: i for i, w in enumerate(WORDS)}
    assert np.load(tmp_path / "d" / "E.npy", allow_pickle=False).dtype == np.float32
    emb = load_embeddings(tmp_path / "d")
    assert isinstance(emb, Embeddings) and emb.words == WORDS and len(emb) == 7 and emb.dim == 4
    assert "école" in emb and emb.index["мир"] == 4
    np.testing.assert_array_equal(emb.vector("ضوء"), E[5])
    assert emb.meta["note"] == "x"
    with pytest.raises(ClimeError, match="duplicates"):
        save_embeddings(tmp_path / "e", E[:2], ["a", "a"])


def test_legacy_e_pt_layout(tmp_path):
    torch = pytest.importorskip("torch")
    d = tmp_path / "old"
    d.mkdir()
    E = _matrix()
    torch.save(torch.from_numpy(E), d / "E.pt")
    (d / "words.json").write_text(json.dumps({w: i for i, w in enumerate(WORDS)}), encoding="utf-8")
    emb = load_embeddings(d)
    assert emb.words == WORDS
    np.testing.assert_array_equal(emb.vectors, E)


def test_load_errors(tmp_path):
    with pytest.raises(ClimeError, match="not an embedding directory"):
        load_embeddings(tmp_path / "missing")
    d = tmp_path / "d"
    save_embeddings(d, _matrix(), WORDS)
    (d / "words.json").write_text(json.dumps({"a": 0, "b": 0}))
    with pytest.raises(ClimeError, match="repeated row"):
        load_embeddings(d)
    (d / "words.json").write_text("{not json")
    with pytest.raises(ClimeError, match="not valid JSON"):
        load_embeddings(d)
    a = Embeddings(np.zeros((1, 3), np.float32), ["a"])
    b = Embeddings(np.zeros((1, 4), np.float32), ["b"])
    with pytest.raises(ClimeError, match="dimension"):
        check_same_dim(a, b)


# ------------------------------------------------------------------ export and round trip

def test_write_vec_header_gz_and_bad_words(tmp_path):
    E = _matrix()
    write_vec(tmp_path / "o.vec.gz", WORDS, E, progress=False)
    with gzip.open(tmp_path / "o.vec.gz", "rt", encoding="utf-8") as fh:
        assert fh.readline() == f"{len(WORDS)} 4\n"
    with pytest.raises(ClimeError, match="white space"):
        write_vec(tmp_path / "x.vec", ["a b"], E[:1], progress=False)
    assert not (tmp_path / "x.vec").exists()


@pytest.mark.parametrize("gz", [False, True])
def test_round_trip_binarize_export_binarize(tmp_path, gz):
    rng = np.random.default_rng(5)
    E = (rng.standard_normal((50, 7)) * rng.choice([1e-6, 0.1, 100], (50, 1))).astype(np.float32)
    words = [f"{WORDS[i % len(WORDS)]}{i}" for i in range(50)]
    src = _write(tmp_path / "in.vec", _text(words, E))
    ext = ".vec.gz" if gz else ".vec"
    for step in (("binarize.py", src, tmp_path / "a", "--normalize", "none"),
                 ("export_vec.py", tmp_path / "a", tmp_path / f"out{ext}"),
                 ("binarize.py", tmp_path / f"out{ext}", tmp_path / "b", "--normalize", "none")):
        res = _run(*step)
        assert res.returncode == 0, res.stderr
    a, b = load_embeddings(tmp_path / "a"), load_embeddings(tmp_path / "b")
    assert a.words == b.words == words
    np.testing.assert_allclose(b.vectors, a.vectors, rtol=1e-6, atol=0)
    np.testing.assert_array_equal(b.vectors, E)  # 9 digits: float32 exactly
    assert "default: 9" in " ".join(_run("export_vec.py", "--help").stdout.split())


def test_export_vec_bin_writes_word2vec_binary(tmp_path):
    rng = np.random.default_rng(6)
    E = rng.standard_normal((20, 5)).astype(np.float32)
    words = [f"w{i}" for i in range(20)]
    src = _write(tmp_path / "in.vec", _text(words, E))
    assert _run("binarize.py", src, tmp_path / "a", "--normalize", "none").returncode == 0
    res = _run("export_vec.py", tmp_path / "a", tmp_path / "out.bin")
    assert res.returncode == 0, res.stderr
    raw = (tmp_path / "out.bin").read_bytes()
    assert raw.startswith(b"20 5\n") and b"w0 " + E[0].astype("<f4").tobytes() in raw   # binary, not text
    res = _run("binarize.py", tmp_path / "out.bin", tmp_path / "b", "--normalize", "none")
    assert res.returncode == 0, res.stderr
    b = load_embeddings(tmp_path / "b")
    assert b.words == words
    np.testing.assert_array_equal(b.vectors, E)


def test_export_vec_bad_input(tmp_path):
    res = _run("export_vec.py", tmp_path / "missing", tmp_path / "o.vec")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.vec").exists()
