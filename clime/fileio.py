"""Atomic writes: outputs appear whole or not at all."""

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def private_dir(path):
    """Make folder ``path`` and its missing parents with mode 0700; existing ones are kept as they are."""
    path = Path(path)
    if not path.is_dir():
        if path.parent != path:
            private_dir(path.parent)
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
    return path


@contextlib.contextmanager
def atomic_path(path, private=False, replace=True):
    """Yield a temporary file path beside ``path``; rename it over ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched.
    ``private``: the file is made 0600 (and a missing folder 0700), else the usual
    permissions of the umask.  ``replace=False``: an existing ``path`` is never
    replaced, not even by a race (FileExistsError; the temporary file is removed).
    """
    path = Path(path)
    if private:
        private_dir(path.parent)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    if not private:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
    try:
        yield Path(tmp)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if path exists
            os.unlink(tmp)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_open(path, mode="w", encoding="utf-8", newline=None, private=False, replace=True):
    """Open a temporary file for writing; it replaces ``path`` when the block ends cleanly
    (``private``, ``replace``: as in ``atomic_path``)."""
    with atomic_path(path, private=private, replace=replace) as tmp:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": newline}
        with open(tmp, mode, **kwargs) as fh:
            yield fh


def write_json(path, obj, indent=None):
    """Write JSON atomically, UTF-8 kept as UTF-8 (no \\u escapes)."""
    with atomic_open(path) as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=indent)
        fh.write("\n")


@contextlib.contextmanager
def atomic_dir(path):
    """Yield a fresh temporary directory; on success it replaces directory ``path`` whole.

    An existing ``path`` is swapped out only after the new content is complete,
    so a failure leaves the old directory (or no directory) in place.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.old.{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def require_file(path, what):
    """Return ``Path(path)`` if it is an existing regular file, else raise a ClimeError
    naming it (``what`` says what was expected, e.g. "a word ranking")."""
    from .errors import ClimeError

    path = Path(path)
    if not path.exists():
        raise ClimeError("no such file", path)
    if not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise ClimeError(f"is {kind}, expected {what}", path)
    return path
