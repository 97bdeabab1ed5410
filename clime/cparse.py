"""The optional compiled parser for word2vec text (``_parse.c``).

Compiled on first use with the system's C compiler (``$CC``, else ``cc``) into a
per-user cache (``$CLIME_CACHE``, else ``$XDG_CACHE_HOME/clime`` or
``~/.cache/clime``) and loaded with ctypes.  Where no compiler is found, or
``CLIME_NO_C=1`` is set, ``available()`` is False and the embeddings reader uses
numpy instead; the results are the same, only slower.
"""

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("_parse.c")
_lib = None
_tried = False


def cache_dir():
    """Where the compiled parser is kept: $CLIME_CACHE, else $XDG_CACHE_HOME/clime or ~/.cache/clime,
    else (no usable home directory) a per-user folder in the temporary directory."""
    if os.environ.get("CLIME_CACHE"):
        return Path(os.environ["CLIME_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            home = Path.home()
        except (RuntimeError, KeyError, OSError):
            home = None
        if home is not None and home.is_absolute():
            base = home / ".cache"
    if not base or not Path(base).is_absolute():
        uid = os.getuid() if hasattr(os, "getuid") else "user"
        return Path(tempfile.gettempdir()) / f"clime-cache-{uid}"
    return Path(base) / "clime"


def _library_path():
    key = hashlib.sha1(SOURCE.read_bytes() + sysconfig.get_platform().encode() + sys.version.encode()).hexdigest()
    return cache_dir() / f"parse-{key[:16]}{'.dll' if os.name == 'nt' else '.so'}"


def build():
    """Compile ``_parse.c`` into the cache (atomically) unless it is there; return its path or None."""
    target = _library_path()
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if hasattr(os, "getuid") and target.parent.stat().st_uid != os.getuid():
            log.debug("%s belongs to another user: the numpy parser is used", target.parent)
            return None  # never load code that someone else could have put there
    except OSError as err:
        log.debug("no cache folder for the compiled parser (%s): the numpy parser is used", err)
        return None
    if target.exists():
        return target
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        log.debug("no C compiler found: the numpy parser is used")
        return None
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".parse-", suffix=target.suffix)
        os.close(fd)
    except OSError as err:
        log.debug("cannot write to %s (%s): the numpy parser is used", target.parent, err)
        return None
    try:
        res = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-std=c99", "-o", tmp, str(SOURCE), "-lm"],
                             capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            log.debug("compiling %s failed: %s", SOURCE, res.stderr.strip()[-500:])
            return None
        os.replace(tmp, target)
        return target
    except (OSError, subprocess.SubprocessError) as err:
        log.debug("compiling %s failed: %s", SOURCE, err)
        return None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load():
    global _lib, _tried
    if _tried:
        return _lib
    _tried = True
    if os.environ.get("CLIME_NO_C", "0") not in ("", "0"):
        return None
    path = build()
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(str(path))  # CDLL calls release the GIL
    except OSError as err:
        log.debug("loading %s failed: %s", path, err)
        return None
    fn = lib.clime_parse_block
    fn.restype = ctypes.c_long
    fn.argtypes = [ctypes.c_char_p, ctypes.c_long, ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                   ctypes.c_void_p, ctypes.POINTER(ctypes.c_long)]
    _lib = lib
    return _lib


def available():
    """True when the compiled parser can be used in this process."""
    return _load() is not None


def parse_block(block, dim, nlines):
    """``(words joined by b"\\n", float32 [nlines, dim])``, or None when the block holds
    anything unusual.  ``block``: ``nlines`` lines joined by b"\\n"."""
    lib = _load()
    values = np.empty((nlines, dim), dtype=np.float32)
    words = ctypes.create_string_buffer(len(block) + 1)
    wlen = ctypes.c_long(0)
    got = lib.clime_parse_block(block, len(block), dim, nlines, values.ctypes.data, words, ctypes.byref(wlen))
    if got != nlines:
        return None
    return ctypes.string_at(words, wlen.value), values
