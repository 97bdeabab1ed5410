"""clime.cparse: the compiled block parser agrees with float() and with the numpy parser."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clime import cparse
from clime.vecfile import _parse_block_numpy

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not cparse.available(), reason="no C compiler: the compiled parser is not available")


def _parse(block, dim):
    return cparse.parse_block(block, dim, block.count(b"\n") + 1)


def _reference(block, dim):
    rows = [[float(t) for t in ln.split()[1:]] for ln in block.split(b"\n")]
    return np.array(rows, dtype=np.float32).reshape(-1, dim)


def test_numbers_round_like_float_then_float32():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 8)) * 10.0 ** rng.integers(-40, 39, (400, 8))
    for fmt in ("%.4f", "%.6g", "%.9g", "%.17g", "%.25f", "%e", "%.30e", "%+.3f", "%g"):
        block = "\n".join(f"w{i} " + " ".join(fmt % v for v in row) for i, row in enumerate(x.tolist())).encode()
        got = _parse(block, 8)
        assert got is not None, fmt
        np.testing.assert_array_equal(got[1], _reference(block, 8))
        assert got[0] == b"\n".join(ln.split(b" ")[0] for ln in block.split(b"\n"))


@pytest.mark.parametrize("token", ["0", "-0", "+7", "007.50", "1.", ".5", "-.5", "1e5", "1E+05", "2.5e-3",
                                   "12345678901234567890123", "0.000000000000000000000000123456789",
                                   "1e-50", "3.4028234e38", "9007199254740993", "123456789012345678.9",
                                   "0.1000000000000000055511151231257827"])
def test_single_tokens(token):
    got = _parse(f"w {token}".encode(), 1)
    assert got is not None
    assert got[1][0, 0] == np.float32(float(token))
    assert np.signbit(got[1][0, 0]) == np.signbit(np.float32(float(token)))


@pytest.mark.parametrize("block", [b"a 1.2.3 4", b"a --1 2", b"a 1 2 3", b"a 1", b"a 1  2", b"a nan 2", b"a inf 1",
                                   b" 1 2", b"a\t1 2", b"a 1\t2", b"a 1 2\n\nb 1 2", b"a 1e39 2", b"a x 2",
                                   b"a 1 2\rb 3 4", b"", b"a 1e 2", b"a 1e+ 2", b"a + 2", b"a . 2", b"a 1_0 2",
                                   b"a 0x10 2", b"a 1,5 2", b"a 1 2\nb", b"a 1 2\nb 1 2 3", b"a\r 1 2"])
def test_unusual_blocks_are_left_to_the_slow_parser(block):
    assert _parse(block, 2) is None


def test_words_line_ends_and_agreement_with_numpy():
    words = ["the", "école", "日本", "x\u0085y", "a\u00a0b", "#c", '"q"']
    rng = np.random.default_rng(1)
    E = rng.standard_normal((len(words), 5)).astype(np.float32)
    for eol, trailing in (("\n", ""), ("\r\n", ""), ("\n", " "), ("\r\n", "  ")):
        block = eol.join(w + " " + " ".join(repr(float(v)) for v in row) + trailing
                         for w, row in zip(words, E)).encode()
        got = _parse(block, 5)
        ref = _parse_block_numpy(block, 5)
        assert got is not None and ref is not None
        assert got[0].decode().split("\n") == words
        assert got[0] == ref[0]
        np.testing.assert_array_equal(got[1], E)
        np.testing.assert_array_equal(got[1], ref[1])


def test_build_is_cached_and_can_be_turned_off(tmp_path):
    assert cparse.build() == cparse.build()
    code = "from clime import cparse; print(cparse.available())"
    env = dict(os.environ, PYTHONPATH=str(ROOT), CLIME_NO_C="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    env = dict(os.environ, PYTHONPATH=str(ROOT), CLIME_CACHE=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
    assert [p.suffix for p in (tmp_path / "cache").iterdir()] == [".so"]  # built there, no temporary left


def test_cache_dir_without_a_home(monkeypatch):
    for var in ("CLIME_CACHE", "XDG_CACHE_HOME", "HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(cparse.Path, "home", classmethod(lambda cls: cls("~")))
    assert cparse.cache_dir().is_absolute()
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # not absolute: ignored, as the XDG spec says
    assert cparse.cache_dir().is_absolute()
    monkeypatch.setenv("CLIME_CACHE", "/somewhere/else")
    assert cparse.cache_dir() == cparse.Path("/somewhere/else")


def test_a_failing_compiler_falls_back_and_leaves_nothing(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), CLIME_CACHE=str(tmp_path / "cache"), CC="false")
    code = ("from clime import cparse\nfrom clime.vecfile import read_vec\n"
            f"open({str(tmp_path / 'e.vec')!r}, 'w').write('2 2\\na 1 2\\nb 3 4\\n')\n"
            f"w, E, info = read_vec({str(tmp_path / 'e.vec')!r}, progress=False)\n"
            "print(cparse.available(), info['parser'], w, E.tolist())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False numpy ['a', 'b'] [[1.0, 2.0], [3.0, 4.0]]"
    assert list((tmp_path / "cache").iterdir()) == []
