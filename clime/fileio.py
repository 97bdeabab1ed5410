"""Atomic writes: outputs appear whole or not at all."""

import contextlib
import json
import os
import shutil
import math
import tempfile
from pathlib import Path

from .errors import ClimeError


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
    if path.is_dir():
        raise ClimeError("is a directory, expected a file to write", path)
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
    """Write JSON atomically, UTF-8 kept as UTF-8 (no \\u escapes).

    A NaN or infinity is refused (a ClimeError naming ``path``): bare ``NaN`` is
    not JSON, and no CLIME output holds a non-finite number.
    """
    try:
        text = json.dumps(obj, ensure_ascii=False, indent=indent, allow_nan=False)
    except ValueError as err:
        raise ClimeError(f"refusing to write a non-finite number ({err}); nothing written", path) from None
    with atomic_open(path) as fh:
        fh.write(text + "\n")


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def parse_json(text, path=None, line=None, allow_nan=False):
    """``json.loads`` that turns every way a text can fail into a one-line ClimeError
    naming ``path`` (and ``line``): bad syntax, nesting too deep for the parser
    (RecursionError), an integer too long to convert, and (unless ``allow_nan``)
    ``NaN``/``Infinity``, which are not JSON."""
    try:
        return json.loads(text, parse_constant=None if allow_nan else _no_constant)
    except json.JSONDecodeError as err:
        raise ClimeError(f"not valid JSON ({err.msg} at line {err.lineno} column {err.colno})"
                         if line is None else f"not valid JSON ({err.msg} at column {err.colno})", path, line) from None
    except RecursionError:
        raise ClimeError("not readable JSON (nested too deeply)", path, line) from None
    except (ValueError, MemoryError) as err:  # e.g. an integer with thousands of digits, or NaN
        msg = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        raise ClimeError(f"not readable JSON ({msg})", path, line) from None


def load_json(path, allow_nan=False):
    """Read a UTF-8 JSON file with :func:`parse_json`'s checks (missing file, not a
    regular file and invalid UTF-8 are ClimeErrors as well)."""
    path = require_file(path, "a JSON file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ClimeError(f"invalid UTF-8 ({err.reason} at byte {err.start})", path) from None
    return parse_json(text, path, allow_nan=allow_nan)


def check_finite_json(obj, path=None, what="value"):
    """Raise a ClimeError when ``obj`` (nested lists/dicts) holds a non-finite float."""
    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, float) and not math.isfinite(x):
            raise ClimeError(f"a {what} is not a finite number ({x})", path)
        if isinstance(x, dict):
            stack.extend(x.values())
        elif isinstance(x, (list, tuple)):
            stack.extend(x)


@contextlib.contextmanager
def atomic_dir(path):
    """Yield a fresh temporary directory; on success it replaces directory ``path`` whole.

    An existing ``path`` is swapped out only after the new content is complete,
    so a failure leaves the old directory (or no directory) in place.  A ``path``
    that exists and is not a directory is refused (a ClimeError), never replaced.
    """
    with staged() as st:
        yield st.dir(path)


def require_file(path, what):
    """Return ``Path(path)`` if it is an existing regular file, else raise a ClimeError
    naming it (``what`` says what was expected, e.g. "a word ranking")."""
    path = Path(path)
    if not path.exists():
        raise ClimeError("no such file", path)
    if not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise ClimeError(f"is {kind}, expected {what}", path)
    return path


def require_dir_target(path, what="an output directory"):
    """Refuse ``path`` as a directory to (re)write when it exists and is not a directory."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ClimeError(f"exists and is not a directory; expected {what} (refusing to replace a file)", path)
    return path


def _real(p):
    return Path(os.path.realpath(os.path.abspath(p)))


def _within(a, b):
    """True when ``a`` is ``b`` or lies inside it (both resolved)."""
    return a == b or b in a.parents


def check_paths(outputs, inputs=None):
    """Refuse outputs that would overwrite each other or an input.

    ``outputs`` and ``inputs`` map an option name (e.g. ``"--out-src"``) to a path,
    or to a list of paths; None entries are skipped.  Two outputs may be neither
    the same path nor one inside the other; an output may not be an input, lie
    inside one (e.g. a file inside an input embedding directory) or contain one.
    Paths are compared after resolving symbolic links and ``..``.
    """
    def flat(d):
        for name, v in (d or {}).items():
            for p in (v if isinstance(v, (list, tuple)) else [v]):
                if p is not None and str(p) != "":
                    yield name, str(p), _real(p)

    outs = list(flat(outputs))
    for i, (na, pa, ra) in enumerate(outs):
        for nb, pb, rb in outs[i + 1:]:
            if ra == rb:
                raise ClimeError(f"{na} and {nb} are the same path; one output would overwrite the other", pa)
            if _within(ra, rb) or _within(rb, ra):
                inner, outer = (na, nb) if _within(ra, rb) else (nb, na)
                raise ClimeError(f"{inner} lies inside {outer}; one output would overwrite the other",
                                 pa if inner == na else pb)
        for ni, pi, ri in flat(inputs):
            if ra == ri:
                raise ClimeError(f"{na} is the input {ni}; refusing to write over an input", pa)
            if _within(ra, ri) or _within(ri, ra):
                raise ClimeError(f"{na} and the input {ni} ({pi}) lie one inside the other; "
                                 "refusing to write there", pa)


class Staging:
    """Several outputs (files and directories) written to temporaries beside their
    final paths, then renamed into place together by :meth:`commit`, so that a
    failure while writing any of them leaves none of them changed.  Use it through
    :func:`staged`."""

    def __init__(self):
        self._items = []  # (temporary, final path, is a directory)

    def file(self, path):
        """A temporary file path that becomes ``path`` on commit."""
        path = Path(path)
        if path.is_dir():
            raise ClimeError("is a directory, expected a file to write", path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())
        self._items.append((Path(tmp), path, False))
        return Path(tmp)

    def dir(self, path):
        """A fresh temporary directory that replaces directory ``path`` whole on commit."""
        path = require_dir_target(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        os.chmod(tmp, 0o777 & ~_umask())
        self._items.append((tmp, path, True))
        return tmp

    def discard(self):
        for tmp, _, is_dir in self._items:
            if is_dir:
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
        self._items = []

    def commit(self):
        items, self._items = self._items, []
        for tmp, path, is_dir in items:
            if not is_dir:
                os.replace(tmp, path)
                continue
            old = None
            if path.exists():
                old = path.with_name(f".{path.name}.old.{os.getpid()}")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(path, old)
            os.replace(tmp, path)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged():
    """Yield a :class:`Staging`; everything staged is renamed into place when the
    block ends cleanly, and removed when it raises."""
    st = Staging()
    try:
        yield st
    except BaseException:
        st.discard()
        raise
    st.commit()
