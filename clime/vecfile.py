"""Word-vector files: word2vec text (``N D`` header, then ``word v1 .. vD``; with or without
the header, GloVe style; optionally gzipped) and word2vec binary (``.bin``), read into and
written from float32 matrices.  Reading is block-parallel, with the compiled parser of
:mod:`clime.cparse` when a C compiler is found (numpy's otherwise).  The embedding
directory that ``binarize.py`` writes is :mod:`clime.embeddings`."""

import contextlib
import ctypes
import gzip
import logging
import os
import sys
import zlib
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import cli, cparse
from .embeddings import check_finite
from .errors import ClimeError
from .fileio import atomic_open, require_file

log = logging.getLogger(__name__)

_BLOCK_BYTES = 1 << 20  # bytes a block of lines parsed in one go (one task for a worker; 4x with numpy's parser)


_MALLOC_TUNED = False


def _tune_malloc():
    """Keep glibc from returning freed memory to the system after every chunk.

    The parser makes many short-lived arrays of a few hundred KB; with glibc's
    defaults each one is fresh pages from the kernel (mmap or heap trimming),
    which made reading about 1.7x slower.  Done once per process, Linux/glibc
    only; set CLIME_MALLOC_TUNING=0 to leave malloc alone.  Cost: up to 64 MB of
    freed memory stays with the process.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    if os.environ.get("CLIME_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 64 << 20)  # M_TRIM_THRESHOLD
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def _open_binary(path):
    path = Path(path)
    require_file(path, "an embedding file")
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")
    return open(path, "rb")


def _decode(raw, path, lineno):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ClimeError(f"invalid UTF-8 ({err.reason} at byte {err.start})", path, lineno) from None


_BOM = b"\xef\xbb\xbf"


def _strip_bom(first):
    """The first line without a UTF-8 byte-order mark (some editors on Windows write one)."""
    return first[len(_BOM):] if first.startswith(_BOM) else first


def _parse_header(first):
    parts = first.split()
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return int(parts[0]), int(parts[1])
    return None


def _block_bytes():
    # numpy's parser runs in processes: bigger blocks spend less time in pipes
    return _BLOCK_BYTES if cparse.available() else 4 * _BLOCK_BYTES


def _stream_tasks(fh):
    """Blocks of whole lines (joined by b"\\n", no final newline) read from a stream
    such as a gzip file, about ``_block_bytes()`` each: the tasks are the bytes."""
    size = _block_bytes()
    tail = b""
    while True:
        data = fh.read(size)
        if not data:
            if tail:
                yield tail
            return
        data = tail + data
        cut = data.rfind(b"\n")
        if cut < 0:
            tail = data
            continue
        tail = data[cut + 1:]
        yield data[:cut]


def _file_tasks(path, start):
    """Byte ranges of whole lines of a plain file from ``start``, about ``_block_bytes()``
    each: the tasks are ``(path, offset, length)``, read by whoever parses them (so a
    worker process reads its block itself instead of receiving it through a pipe)."""
    size, step = os.path.getsize(path), _block_bytes()
    with open(path, "rb") as fh:
        if size > start:
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                size -= 1  # the file's final newline ends the last line; it does not start another
        off = start
        while off < size:
            end, cut = off + step, -1
            while end < size and cut < 0:
                fh.seek(end)
                piece = fh.read(min(1 << 16, size - end))
                if not piece:
                    raise OSError(f"the file changed while it was read (at byte {end})")
                i = piece.find(b"\n")
                cut = end + i if i >= 0 else -1
                end += len(piece)
            if cut < 0:
                yield str(path), off, size - off
                return
            yield str(path), off, cut - off
            off = cut + 1


def _task_block(task):
    """The bytes of a task from ``_stream_tasks`` or ``_file_tasks``."""
    if isinstance(task, bytes):
        return task
    path, off, length = task
    with open(path, "rb") as fh:
        fh.seek(off)
        block = fh.read(length)
    if len(block) != length:
        raise OSError(f"the file changed while it was read (at byte {off})")
    return block


def _count_lines(block):
    """Lines in a block (joined by b"\\n", no final newline)."""
    return int(np.count_nonzero(np.frombuffer(block, np.uint8) == 10)) + 1


def _parse_task(task, dim):
    """Run in a worker: ``(lines in the block, parse_block(...) or None)``."""
    block = _task_block(task)
    nlines = _count_lines(block)
    return nlines, parse_block(block, dim, nlines)


_LOADTXT = dict(dtype=np.float32, delimiter=" ", comments=None, quotechar=None, encoding="latin1", ndmin=2)


def parse_block(block, dim, nlines=None):
    """The fast path for a block of lines: ``(words, values)`` or None.

    Uses the compiled parser (``clime.cparse``) when it is available, else numpy.
    ``nlines``: the block's line count, when the caller knows it.
    """
    if cparse.available():
        return cparse.parse_block(block, dim, _count_lines(block) if nlines is None else nlines)
    return _parse_block_numpy(block, dim)


def _parse_block_numpy(block, dim):
    """``parse_block`` with numpy only.

    ``words`` are the raw bytes of each line's first field joined by b"\\n", ``values`` float32
    [lines, dim] parsed by numpy's C ``loadtxt`` (each number to the nearest
    double, then to float32: what ``float()`` and a float32 cast give).  None when
    anything is unusual: a blank line, a wrong number of fields, an empty word, a
    value that is not a finite number, tabs or lone carriage returns.  The caller
    then parses the block line by line, which finds and names the bad line.
    """
    if b"\r" in block:
        block = block.replace(b"\r\n", b"\n")
        if block.endswith(b"\r"):
            block = block[:-1]
        if b"\r" in block:
            return None
    a = np.frombuffer(block, np.uint8)
    ends = np.flatnonzero(a == 10)
    if a.size and (a[ends[ends > 0] - 1] == 32).any() or block.endswith(b" "):
        # trailing spaces (fastText writes one after the last value)
        while b" \n" in block:
            block = block.replace(b" \n", b"\n")
        block = block.rstrip(b" ")
        a = np.frombuffer(block, np.uint8)
    if not block:
        return None
    lines = block.split(b"\n")
    # exactly `dim` spaces a line: loadtxt rejects a line with fewer fields, so an
    # equal total means that no line has more either
    if np.count_nonzero(a == 32) != len(lines) * dim:
        return None
    words = [ln[:ln.find(b" ")] for ln in lines]
    if not all(words):
        return None
    try:
        values = np.loadtxt(lines, usecols=range(1, dim + 1), **_LOADTXT)
    except ValueError:
        return None
    if values.shape != (len(lines), dim) or not np.isfinite(values).all():
        return None
    return b"\n".join(words), values


_PARALLEL_MIN_BYTES = 32 << 20  # below this, parallel parsing saves too little to be worth it


def default_workers(path=None):
    """Workers (threads, or processes for the numpy parser) for reading ``path``:
    1 (none) for files under ``_PARALLEL_MIN_BYTES`` and on machines with one core;
    else the usable cores, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    if path is not None:
        try:
            if Path(path).stat().st_size < _PARALLEL_MIN_BYTES:
                return 1
        except OSError:
            return 1
    return max(1, min(cores, 8))


def _fast_parsed(tasks, dim, workers):
    """Yield ``(task, lines, parse_block result)`` in file order.

    With ``workers`` > 1 the blocks are parsed in that many threads (the compiled
    parser releases the GIL) or forked processes (numpy's), at most two blocks per
    worker ahead of the consumer (so memory stays bounded); the order, and so the
    result, is the same as with one worker.
    """
    if workers <= 1:
        for task in tasks:
            yield (task, *_parse_task(task, dim))
        return
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    if cparse.available():
        pool = ThreadPoolExecutor(workers)  # the compiled parser runs without the GIL
    else:
        import multiprocessing

        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
        pool = ProcessPoolExecutor(workers, mp_context=ctx)
    pending = deque()
    try:
        for task in tasks:
            pending.append((task, pool.submit(_parse_task, task, dim)))
            if len(pending) >= 2 * workers:
                task, fut = pending.popleft()
                yield (task, *fut.result())
        while pending:
            task, fut = pending.popleft()
            yield (task, *fut.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _Parser:
    """Collects rows block by block into one growing float32 matrix.

    The matrix grows and shrinks with ``ndarray.resize`` (realloc, which for big
    buffers remaps pages instead of copying), so the peak stays near one matrix.
    """

    def __init__(self, path, dim, count, max_words, lower, skip_bad, header_dim=False, size_hint=None):
        self.path, self.dim, self.max_words = path, dim, max_words
        self.lower, self.skip_bad, self.header_dim = lower, skip_bad, header_dim
        cap = count if count is not None else 65536
        if size_hint:
            cap = min(cap, size_hint // (2 * dim) + 1)  # every value takes at least 2 bytes
        cap = min(cap, 1 << 20, max(1, (256 << 20) // (4 * dim)))  # never trust a header with a giant allocation
        if max_words is not None:
            cap = min(cap, max_words)
        self.E = np.empty((max(cap, 1), dim), dtype=np.float32)
        self.words, self.seen = [], set()
        self.n = 0
        self.duplicates = 0
        self.bad = 0
        self.first_bad = None
        self.rows = 0  # well-formed data lines seen (for the header check)

    def full(self):
        return self.max_words is not None and self.n >= self.max_words

    def _reserve(self, extra):
        need = self.n + extra
        if need > self.E.shape[0]:
            self.E.resize((max(need, 2 * self.E.shape[0]), self.dim), refcheck=False)

    def finish(self):
        if self.E.shape[0] != self.n:
            self.E.resize((self.n, self.dim), refcheck=False)
        return self.E

    def _bad(self, lineno, message):
        if not self.skip_bad:
            raise ClimeError(message, self.path, lineno)
        self.bad += 1
        if self.first_bad is None:
            self.first_bad = f"line {lineno}: {message}"

    def _expected(self):
        return f"{self.dim} values after the word" + (" (as the header says)" if self.header_dim else "")

    def add_block(self, block, first_lineno, fast):
        """Add a block of lines; ``fast`` is ``parse_block(block, dim)`` (``block``
        is then not needed)."""
        if fast is not None:
            joined, vals = fast
            offs = None
        else:
            words, vals, offs = self._parse_slowly(block.split(b"\n"), first_lineno)
            if not words:
                return
            joined = b"\n".join(words)
        try:
            strs = joined.decode("utf-8").split("\n")
        except UnicodeDecodeError:
            words = joined.split(b"\n")
            strs = [_decode(wb, self.path, first_lineno + off)
                    for wb, off in zip(words, offs if offs is not None else range(len(words)))]
        self.rows += len(strs)
        if self.lower:
            strs = [w.lower() for w in strs]
        keep = []
        seen, out = self.seen, self.words
        room = None if self.max_words is None else self.max_words - self.n
        for j, w in enumerate(strs):
            if room is not None and len(keep) >= room:
                break  # --max-words reached: later lines are not looked at
            if w in seen:
                self.duplicates += 1
                continue
            seen.add(w)
            out.append(w)
            keep.append(j)
        if not keep:
            return
        self._reserve(len(keep))
        if len(keep) == len(strs):
            self.E[self.n:self.n + len(keep)] = vals
        else:
            self.E[self.n:self.n + len(keep)] = vals[np.asarray(keep)]
        self.n += len(keep)

    def _parse_slowly(self, lines, first_lineno):
        """Line by line, for a block that holds an unusual or bad line: exact messages."""
        ok_words, ok_offs = [], []
        vals = np.zeros((len(lines), self.dim), dtype=np.float32)
        for off, raw in enumerate(lines):
            raw = raw.rstrip()  # CR of CRLF files, trailing spaces
            if not raw:
                continue  # blank lines (e.g. at the end) are ignored
            lineno = first_lineno + off
            wb, _, rest = raw.partition(b" ")
            if not wb:
                self._bad(lineno, "line starts with a space (empty word)")
                continue
            parts = rest.split()
            if len(parts) != self.dim:
                self._bad(lineno, f"expected {self._expected()}, found {len(parts)}")
                continue
            try:
                row = np.array([float(p) for p in parts], dtype=np.float32)
            except ValueError:
                bad = next(p for p in parts if not _is_number(p))
                try:
                    shown = bad.decode("utf-8")
                except UnicodeDecodeError:
                    self._bad(lineno, "invalid UTF-8 in a value")
                    continue
                self._bad(lineno, f"value {shown!r} is not a number")
                continue
            if not np.isfinite(row).all():
                self._bad(lineno, "a value is not finite (nan, inf, or beyond the float32 range)")
                continue
            vals[len(ok_words)] = row
            ok_words.append(wb)
            ok_offs.append(off)
        return ok_words, vals[: len(ok_words)], ok_offs



def _is_number(tok):
    try:
        float(tok)
        return True
    except ValueError:
        return False


def read_vec(path, max_words=None, lower=False, skip_bad=False, progress=True, workers=None):
    """Read a word2vec text (or .bin) file.

    Returns ``(words, vectors, info)``; ``info`` has ``duplicates``, ``skipped``
    (bad lines skipped with ``skip_bad``) and ``header`` (``(N, D)`` or None).
    ``info`` also says which block ``parser`` ran ("compiled" or "numpy") and with
    how many ``workers``.  Raises ClimeError with the file and line for any
    malformed input.  ``workers``: threads (compiled parser) or processes (numpy)
    that parse blocks in parallel (None: ``default_workers``; 1: none); the result
    does not depend on it.
    """
    path = Path(path)
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    if name.endswith(".bin"):
        return _read_bin(path, max_words, lower, progress)
    fh = _open_binary(path)
    _tune_malloc()
    plain_size = None if isinstance(fh, gzip.GzipFile) else path.stat().st_size
    try:
        with fh:
            try:
                first = fh.readline()
            except (OSError, EOFError, zlib.error) as err:
                raise ClimeError(f"cannot read, file is damaged ({err})", path) from None
            first = _strip_bom(first)
            if not first.strip():
                raise ClimeError("empty file" if not first else "first line is empty", path, 1)
            header = _parse_header(_decode(first, path, 1))
            if header is not None:
                count, dim = header
                if dim <= 0:
                    raise ClimeError(f"header says dimension {dim}", path, 1)
            else:
                count = None
                dim = len(first.split()) - 1
                if dim < 1:
                    raise ClimeError("expected a 'count dim' header or a word followed by values", path, 1)
            parser = _Parser(path, dim, count, max_words, lower, skip_bad, header_dim=header is not None,
                             size_hint=plain_size)
            if header is None:
                first = first.rstrip(b"\r\n")
                parser.add_block(first, 1, parse_block(first, dim))
            total = count
            if max_words is not None and total is not None:
                total = min(total, max_words)
            bar = tqdm(total=total, unit=" words", desc=f"reading {path.name}", disable=cli.bar_off(progress),
                       leave=False, mininterval=0.5)
            if workers is None:
                workers = default_workers(path)
            try:
                tasks = _stream_tasks(fh) if plain_size is None else _file_tasks(path, fh.tell())
                lineno = 2
                with contextlib.closing(_fast_parsed(tasks, dim, workers)) as parsed:
                    for task, nlines, fast in parsed:
                        if parser.full():
                            break
                        before = parser.n
                        parser.add_block(None if fast is not None else _task_block(task), lineno, fast)
                        bar.update(parser.n - before)
                        lineno += nlines
            except (OSError, EOFError, zlib.error) as err:
                raise ClimeError(f"cannot read, file is damaged ({err})", path) from None
            finally:
                bar.close()
    except gzip.BadGzipFile as err:
        raise ClimeError(f"not a valid gzip file ({err})", path) from None
    if parser.n == 0:
        raise ClimeError("no vectors found" + (f" (first bad {parser.first_bad})" if parser.bad else ""), path)
    if header is not None and max_words is None and parser.rows + parser.bad != count:
        raise ClimeError(f"header says {count} words but the file holds {parser.rows + parser.bad}", path, 1)
    if parser.duplicates:
        log.warning("%s: %d duplicate word(s) dropped (the first occurrence wins)", path, parser.duplicates)
    if parser.bad:
        log.warning("%s: %d bad line(s) skipped (first: %s)", path, parser.bad, parser.first_bad)
    E = parser.finish()
    info = {"duplicates": parser.duplicates, "skipped": parser.bad, "header": header,
            "parser": "compiled" if cparse.available() else "numpy", "workers": workers}
    return parser.words, E, info


def _read_bin(path, max_words, lower, progress):
    """word2vec binary: a ``count dim`` text header, then per word ``word<space>`` and
    ``dim`` little-endian float32 (an optional newline before the next word)."""
    fh = _open_binary(path)
    with fh:
        try:
            first = fh.readline()
        except (OSError, EOFError, zlib.error) as err:
            raise ClimeError(f"cannot read, file is damaged ({err})", path) from None
        first = _strip_bom(first)
        if not first.strip():
            raise ClimeError("empty file", path, 1)
        header = _parse_header(first.decode("ascii", "replace"))
        if header is None:
            raise ClimeError("word2vec binary file needs a 'count dim' header", path, 1)
        count, dim = header
        if dim <= 0:
            raise ClimeError(f"header says dimension {dim}", path, 1)
        n = count if max_words is None else min(count, max_words)
        E = np.empty((max(1, min(n, 1 << 20, (256 << 20) // (4 * dim))), dim), dtype=np.float32)
        words, seen, dups = [], set(), 0
        row = 0
        nbytes = 4 * dim
        buf, pos = b"", 0

        def fill(need):
            nonlocal buf, pos
            if len(buf) - pos < need:
                buf = buf[pos:] + fh.read(max(need, _BLOCK_BYTES))
                pos = 0
            return len(buf) - pos >= need

        try:
            for i in tqdm(range(count), disable=cli.bar_off(progress), leave=False, desc=f"reading {path.name}"):
                if row >= n:
                    break
                while True:
                    fill(1)
                    if pos < len(buf) and buf[pos:pos + 1] in (b"\n", b"\r"):
                        pos += 1
                    else:
                        break
                while True:
                    sp = buf.find(b" ", pos)
                    if sp >= 0:
                        break
                    before = len(buf) - pos
                    fill(before + 4096)
                    if len(buf) - pos == before:
                        raise ClimeError(f"file ends inside entry {i + 1} of {count} (header says {count})", path)
                wb = buf[pos:sp]
                pos = sp + 1
                if not fill(nbytes):
                    raise ClimeError(f"file ends inside the vector of entry {i + 1} of {count}", path)
                vec = np.frombuffer(buf, dtype="<f4", count=dim, offset=pos)
                pos += nbytes
                try:
                    w = wb.decode("utf-8")
                except UnicodeDecodeError:
                    raise ClimeError(f"entry {i + 1}: invalid UTF-8 in the word", path) from None
                if not w:
                    raise ClimeError(f"entry {i + 1}: empty word", path)
                if lower:
                    w = w.lower()
                if w in seen:
                    dups += 1
                    continue
                if not np.isfinite(vec).all():
                    raise ClimeError(f"entry {i + 1} ({w!r}): a value is not finite", path)
                seen.add(w)
                words.append(w)
                if row >= E.shape[0]:
                    E.resize((min(n, 2 * E.shape[0]), dim), refcheck=False)
                E[row] = vec
                row += 1
        except (OSError, EOFError, zlib.error) as err:
            raise ClimeError(f"cannot read, file is damaged ({err})", path) from None
    if row == 0:
        raise ClimeError("no vectors found", path)
    if dups:
        log.warning("%s: %d duplicate word(s) dropped (the first occurrence wins)", path, dups)
    if E.shape[0] != row:
        E.resize((row, dim), refcheck=False)
    return words, E, {"duplicates": dups, "skipped": 0, "header": header, "parser": "binary", "workers": 1}


def write_bin(path, words, vectors):
    """Write word2vec binary (used by the tests and for interoperability). Atomic."""
    path = Path(path)
    vectors = np.asarray(vectors, dtype="<f4")
    _check_words_writable(words, path)
    with atomic_open(path, "wb") as fh:
        fh.write(f"{len(words)} {vectors.shape[1]}\n".encode())
        for w, r in zip(words, vectors):
            fh.write(w.encode("utf-8") + b" " + r.tobytes() + b"\n")


def _check_words_writable(words, path):
    for i, w in enumerate(words):
        if not w or any(c.isspace() for c in w):
            raise ClimeError(f"word {i} ({w!r}) is empty or holds white space; it cannot be written "
                             "to a word2vec file", path)


def write_vec(path, words, vectors, precision=9, progress=True):
    """Write word2vec text with its ``N D`` header; gzip when the name ends in .gz. Atomic.

    ``precision`` significant digits; 9 reproduces every float32 exactly.
    """
    path = Path(path)
    if precision < 1:
        raise ClimeError(f"precision must be at least 1, got {precision}")
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ClimeError(f"matrix shape {vectors.shape} does not match {len(words)} words", path)
    _check_words_writable(words, path)
    check_finite(vectors, words, path, "refusing to write: the matrix holds")
    fmt = " ".join([f"%.{precision}g"] * vectors.shape[1])
    step = 4096
    with atomic_open(path, "wb") as raw:
        fh = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") if path.name.endswith(".gz") else raw
        try:
            fh.write(f"{len(words)} {vectors.shape[1]}\n".encode())
            bar = tqdm(total=len(words), disable=cli.bar_off(progress), leave=False, desc=f"writing {path.name}",
                       unit=" words", mininterval=0.5)
            for start in range(0, len(words), step):
                bar.update(min(step, len(words) - start))
                block = vectors[start:start + step]
                lines = [w + " " + (fmt % tuple(r)) for w, r in zip(words[start:start + step], block.tolist())]
                fh.write(("\n".join(lines) + "\n").encode("utf-8"))
        finally:
            if fh is not raw:
                fh.close()
    bar.close()
