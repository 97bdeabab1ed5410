"""clime.fileio: outputs appear whole or not at all."""
import json
import os

import pytest

from clime.fileio import atomic_dir, atomic_open, atomic_path, write_json


def test_atomic_open_replaces_on_success_only(tmp_path):
    p = tmp_path / "sub" / "f.txt"
    with atomic_open(p) as fh:
        fh.write("one")
        assert not p.exists()  # nothing visible until the block ends
    assert p.read_text() == "one"
    with pytest.raises(RuntimeError):
        with atomic_open(p) as fh:
            fh.write("two")
            raise RuntimeError("boom")
    assert p.read_text() == "one"
    assert sorted(os.listdir(p.parent)) == ["f.txt"]  # no temporary left


def test_atomic_open_binary_and_permissions(tmp_path):
    p = tmp_path / "b.bin"
    with atomic_open(p, "wb") as fh:
        fh.write(b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01"
    mask = os.umask(0)
    os.umask(mask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~mask


def test_atomic_path(tmp_path):
    p = tmp_path / "x.npy"
    with atomic_path(p) as tmp:
        tmp.write_text("data")
        assert tmp != p and tmp.parent == p.parent
    assert p.read_text() == "data"
    with pytest.raises(KeyError):
        with atomic_path(tmp_path / "y") as tmp:
            tmp.write_text("data")
            raise KeyError
    assert os.listdir(tmp_path) == ["x.npy"]


def test_write_json_utf8(tmp_path):
    p = tmp_path / "j.json"
    write_json(p, {"mot": "école", "n": [1, 2]}, indent=2)
    raw = p.read_text(encoding="utf-8")
    assert "école" in raw and raw.endswith("\n")
    assert json.loads(raw) == {"mot": "école", "n": [1, 2]}


def test_atomic_dir_replaces_whole_or_keeps_old(tmp_path):
    d = tmp_path / "out"
    with atomic_dir(d) as tmp:
        (tmp / "a").write_text("1")
        (tmp / "b").write_text("2")
        assert not d.exists()
    assert sorted(os.listdir(d)) == ["a", "b"]
    with atomic_dir(d) as tmp:
        (tmp / "c").write_text("3")
    assert os.listdir(d) == ["c"]  # replaced whole: no stale files
    with pytest.raises(ValueError):
        with atomic_dir(d) as tmp:
            (tmp / "half").write_text("x")
            raise ValueError
    assert os.listdir(d) == ["c"]
    assert sorted(os.listdir(tmp_path)) == ["out"]
