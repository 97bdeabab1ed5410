"""Embedding files and embedding directories.

An *embedding directory* holds ``E.npy`` (float32 [N, D], memory-mappable),
``words.json`` (word -> row, UTF-8) and ``meta.json``.  The 2020 research
layout (``E.pt`` + ``words.json``) is read too.

Text files are word2vec text (``N D`` header, then ``word v1 .. vD``), with or
without the header (GloVe style), optionally gzipped; word2vec binary (``.bin``)
is read as well.
"""

import gzip
import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import __version__
from .errors import ClimeError
from .fileio import atomic_dir, atomic_open

log = logging.getLogger(__name__)

NORMALIZATIONS = ("center-unit", "unit", "none")
_CHUNK_LINES = 8192


@dataclass
class Embeddings:
    """A vocabulary and its float32 matrix (rows in vocabulary order)."""

    vectors: np.ndarray
    words: list
    meta: dict = field(default_factory=dict)
    _index: dict = field(default=None, repr=False)

    @property
    def index(self):
        """word -> row."""
        if self._index is None:
            self._index = {w: i for i, w in enumerate(self.words)}
        return self._index

    @property
    def dim(self):
        return int(self.vectors.shape[1])

    def __len__(self):
        return len(self.words)

    def __contains__(self, word):
        return word in self.index

    def vector(self, word):
        return self.vectors[self.index[word]]


# ---------------------------------------------------------------- text files

def _open_binary(path):
    path = Path(path)
    if not path.exists():
        raise ClimeError("no such file", path)
    if path.is_dir():
        raise ClimeError("is a directory, expected an embedding file", path)
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


def _parse_header(first):
    parts = first.split()
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return int(parts[0]), int(parts[1])
    return None


class _Parser:
    """Collects rows chunk by chunk into a preallocated (or growing) matrix."""

    def __init__(self, path, dim, count, max_words, lower, skip_bad):
        self.path, self.dim, self.max_words = path, dim, max_words
        self.lower, self.skip_bad = lower, skip_bad
        cap = count if count is not None else 65536
        if max_words is not None:
            cap = min(cap, max_words)
        self.E = np.empty((max(cap, 1), dim), dtype=np.float32)
        self.words, self.seen = [], set()
        self.n = 0
        self.duplicates = 0
        self.bad = 0
        self.first_bad = None

    def full(self):
        return self.max_words is not None and self.n >= self.max_words

    def _reserve(self, extra):
        need = self.n + extra
        if need > self.E.shape[0]:
            grown = np.empty((max(need, 2 * self.E.shape[0]), self.dim), dtype=np.float32)
            grown[: self.n] = self.E[: self.n]
            self.E = grown

    def _bad(self, lineno, message):
        if not self.skip_bad:
            raise ClimeError(message, self.path, lineno)
        self.bad += 1
        if self.first_bad is None:
            self.first_bad = f"line {lineno}: {message}"

    def add_chunk(self, lines, first_lineno):
        """lines: raw byte lines (no header)."""
        words, rests, linenos = [], [], []
        for off, raw in enumerate(lines):
            lineno = first_lineno + off
            raw = raw.rstrip(b"\r\n").rstrip(b" \t")
            if not raw:
                continue  # blank lines (e.g. at the end) are ignored
            sp = raw.find(b" ")
            if sp <= 0:
                self._bad(lineno, f"expected a word and {self.dim} values, found {'no values' if sp < 0 else 'an empty word'}")
                continue
            words.append(raw[:sp])
            rests.append(raw[sp + 1:])
            linenos.append(lineno)
        if not words:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            flat = np.fromstring(b" ".join(rests), dtype=np.float32, sep=" ")
        if flat.size == len(rests) * self.dim and _all_numeric(rests):
            vals = flat.reshape(len(rests), self.dim)
            ok = None
        else:
            vals, ok = self._parse_slowly(rests, linenos)
        self._reserve(len(words))
        for j, (wb, lineno) in enumerate(zip(words, linenos)):
            if ok is not None and not ok[j]:
                continue
            if self.full():
                return
            w = _decode(wb, self.path, lineno)
            if self.lower:
                w = w.lower()
            if w in self.seen:
                self.duplicates += 1
                continue
            self.seen.add(w)
            self.words.append(w)
            self.E[self.n] = vals[j]
            self.n += 1

    def _parse_slowly(self, rests, linenos):
        """Per-line parse, used only for a chunk that holds a bad line."""
        vals = np.zeros((len(rests), self.dim), dtype=np.float32)
        ok = np.ones(len(rests), dtype=bool)
        for j, (rest, lineno) in enumerate(zip(rests, linenos)):
            parts = rest.split()
            if len(parts) != self.dim:
                ok[j] = False
                self._bad(lineno, f"expected {self.dim} values after the word, found {len(parts)}")
                continue
            try:
                vals[j] = [float(p) for p in parts]
            except ValueError:
                ok[j] = False
                bad = next(p for p in parts if not _is_number(p))
                self._bad(lineno, f"value {bad.decode('utf-8', 'replace')!r} is not a number")
                continue
            if not np.all(np.isfinite(vals[j])):
                ok[j] = False
                self._bad(lineno, "value is not finite (nan or inf)")
        return vals, ok


def _is_number(tok):
    try:
        float(tok)
        return True
    except ValueError:
        return False


_NUMERIC = frozenset(b"0123456789+-.eE \t")


def _all_numeric(rests):
    """np.fromstring accepts 'nan'/'inf' and hex; insist on plain decimal numbers."""
    for r in rests:
        if not _NUMERIC.issuperset(r):
            return False
    return True


def read_vec(path, max_words=None, lower=False, skip_bad=False, progress=True):
    """Read a word2vec text (or .bin) file.

    Returns ``(words, vectors, info)``; ``info`` has ``duplicates``, ``skipped``
    (bad lines skipped with ``skip_bad``) and ``header`` (``(N, D)`` or None).
    Raises ClimeError with the file and line for any malformed input.
    """
    path = Path(path)
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    if name.endswith(".bin"):
        return _read_bin(path, max_words, lower, progress)
    fh = _open_binary(path)
    try:
        with fh:
            try:
                first = fh.readline()
            except (OSError, EOFError) as err:
                raise ClimeError(f"cannot read ({err})", path) from None
            if not first.strip():
                raise ClimeError("empty file" if not first else "first line is empty", path, 1)
            header = _parse_header(_decode(first, path, 1))
            if header is not None:
                count, dim = header
                if dim <= 0:
                    raise ClimeError(f"header says dimension {dim}", path, 1)
                lines, lineno0 = [], 2
            else:
                count = None
                dim = len(first.split()) - 1
                if dim < 1:
                    raise ClimeError("expected a 'count dim' header or a word followed by values", path, 1)
                lines, lineno0 = [first], 1
            parser = _Parser(path, dim, count, max_words, lower, skip_bad)
            total = count if count is not None else None
            if max_words is not None and total is not None:
                total = min(total, max_words)
            bar = tqdm(total=total, unit=" words", desc=f"reading {path.name}", disable=not progress,
                       leave=False, mininterval=0.5)
            lineno = lineno0
            try:
                while not parser.full():
                    while len(lines) < _CHUNK_LINES:
                        raw = fh.readline()
                        if not raw:
                            break
                        lines.append(raw)
                    if not lines:
                        break
                    before = parser.n
                    parser.add_chunk(lines, lineno)
                    bar.update(parser.n - before)
                    lineno += len(lines)
                    lines = []
            except (OSError, EOFError) as err:
                raise ClimeError(f"cannot read, file is damaged ({err})", path, lineno) from None
            finally:
                bar.close()
    except gzip.BadGzipFile as err:
        raise ClimeError(f"not a valid gzip file ({err})", path) from None
    if parser.n == 0:
        raise ClimeError("no vectors found" + (f" (first bad {parser.first_bad})" if parser.bad else ""), path)
    if header is not None and max_words is None and not skip_bad:
        body_rows = parser.n + parser.duplicates
        if body_rows != count:
            raise ClimeError(f"header says {count} words but the file holds {body_rows}", path, 1)
    if parser.duplicates:
        log.warning("%s: %d duplicate word(s) dropped (the first occurrence wins)", path, parser.duplicates)
    if parser.bad:
        log.warning("%s: %d bad line(s) skipped (first: %s)", path, parser.bad, parser.first_bad)
    E = parser.E[: parser.n]
    if parser.E.shape[0] > 1.2 * parser.n:
        E = E.copy()  # give back the unused tail of an over-sized buffer
    info = {"duplicates": parser.duplicates, "skipped": parser.bad, "header": header}
    return parser.words, E, info


def _read_bin(path, max_words, lower, progress):
    fh = _open_binary(path)
    with fh:
        first = fh.readline()
        header = _parse_header(first.decode("ascii", "replace"))
        if header is None:
            raise ClimeError("word2vec binary file needs a 'count dim' header", path, 1)
        count, dim = header
        n = count if max_words is None else min(count, max_words)
        E = np.empty((n, dim), dtype=np.float32)
        words, seen, dups = [], set(), 0
        row = 0
        for i in tqdm(range(count), disable=not progress, leave=False, desc=f"reading {path.name}"):
            if row >= n:
                break
            wb = bytearray()
            while True:
                c = fh.read(1)
                if not c:
                    raise ClimeError(f"file ends inside entry {i + 1} of {count}", path)
                if c == b" ":
                    break
                if c != b"\n":
                    wb += c
            buf = fh.read(4 * dim)
            if len(buf) != 4 * dim:
                raise ClimeError(f"file ends inside the vector of entry {i + 1} of {count}", path)
            try:
                w = wb.decode("utf-8")
            except UnicodeDecodeError:
                raise ClimeError(f"entry {i + 1}: invalid UTF-8 in the word", path) from None
            if lower:
                w = w.lower()
            if w in seen:
                dups += 1
                continue
            seen.add(w)
            words.append(w)
            E[row] = np.frombuffer(buf, dtype="<f4")
            row += 1
    if dups:
        log.warning("%s: %d duplicate word(s) dropped (the first occurrence wins)", path, dups)
    return words, E[:row], {"duplicates": dups, "skipped": 0, "header": header}


def format_row(word, row, precision):
    return word + " " + " ".join(f"{x:.{precision}g}" for x in row.tolist())


def write_vec(path, words, vectors, precision=9, progress=True):
    """Write word2vec text with its header; gzip when the name ends in .gz. Atomic."""
    path = Path(path)
    vectors = np.asarray(vectors, dtype=np.float32)
    fmt = " ".join([f"%.{precision}g"] * vectors.shape[1])
    with atomic_open(path, "wb") as raw:
        fh = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if path.name.endswith(".gz") else raw
        try:
            fh.write(f"{len(words)} {vectors.shape[1]}\n".encode())
            for start in tqdm(range(0, len(words), 4096), disable=not progress, leave=False,
                              desc=f"writing {path.name}"):
                block = vectors[start:start + 4096]
                lines = [w + " " + (fmt % tuple(r)) for w, r in zip(words[start:start + 4096], block.tolist())]
                fh.write(("\n".join(lines) + "\n").encode("utf-8"))
        finally:
            if fh is not raw:
                fh.close()


# ---------------------------------------------------------------- normalisation

def normalize(E, mode="center-unit"):
    """Return a normalised float32 copy: 'center-unit' (mean-centre columns, then
    unit rows), 'unit' (unit rows) or 'none'."""
    if mode not in NORMALIZATIONS:
        raise ClimeError(f"unknown normalisation {mode!r} (choose from {', '.join(NORMALIZATIONS)})")
    E = np.array(E, dtype=np.float32, copy=True)
    if mode == "none":
        return E
    if mode == "center-unit":
        E -= E.mean(axis=0, dtype=np.float64).astype(np.float32)
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    E /= norms
    return E


# ---------------------------------------------------------------- directories

def save_embeddings(directory, vectors, words, meta=None):
    """Write an embedding directory atomically (replacing any old one)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ClimeError(f"matrix shape {vectors.shape} does not match {len(words)} words", directory)
    full_meta = {"n_words": len(words), "dim": int(vectors.shape[1]), "clime_version": __version__}
    full_meta.update(meta or {})
    with atomic_dir(directory) as tmp:
        np.save(tmp / "E.npy", vectors, allow_pickle=False)
        with open(tmp / "words.json", "w", encoding="utf-8") as fh:
            json.dump({w: i for i, w in enumerate(words)}, fh, ensure_ascii=False)
        with open(tmp / "meta.json", "w", encoding="utf-8") as fh:
            json.dump(full_meta, fh, ensure_ascii=False, indent=2)
            fh.write("\n")


def load_embeddings(directory, mmap=True):
    """Read an embedding directory (``E.npy`` or the 2020 ``E.pt``, plus ``words.json``)."""
    d = Path(directory)
    if not d.is_dir():
        raise ClimeError("not an embedding directory (run binarize.py first)" if not d.exists()
                         else "expected an embedding directory, found a file", d)
    wpath = d / "words.json"
    if not wpath.exists():
        raise ClimeError("words.json is missing", d)
    try:
        with open(wpath, encoding="utf-8") as fh:
            wobj = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ClimeError(f"not valid JSON ({err})", wpath) from None
    if isinstance(wobj, dict):
        words = [None] * len(wobj)
        for w, i in wobj.items():
            if not isinstance(i, int) or not 0 <= i < len(wobj) or words[i] is not None:
                raise ClimeError(f"word {w!r} has a bad or repeated row {i!r}", wpath)
            words[i] = w
    elif isinstance(wobj, list) and all(isinstance(w, str) for w in wobj):
        words = wobj
    else:
        raise ClimeError("expected an object word -> row (or a list of words)", wpath)
    if (d / "E.npy").exists():
        try:
            E = np.load(d / "E.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
        except ValueError as err:
            raise ClimeError(f"cannot read matrix ({err})", d / "E.npy") from None
    elif (d / "E.pt").exists():
        import torch

        try:
            t = torch.load(d / "E.pt", map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad file
            raise ClimeError(f"cannot read tensor ({err})", d / "E.pt") from None
        if not isinstance(t, torch.Tensor):
            raise ClimeError("expected a tensor", d / "E.pt")
        E = t.detach().to(torch.float32).numpy()
    else:
        raise ClimeError("no E.npy (or E.pt) matrix", d)
    if E.ndim != 2 or E.shape[0] != len(words):
        raise ClimeError(f"matrix shape {tuple(E.shape)} does not match {len(words)} words in words.json", d)
    if E.dtype != np.float32:
        E = E.astype(np.float32)
    meta = {}
    if (d / "meta.json").exists():
        try:
            with open(d / "meta.json", encoding="utf-8") as fh:
                meta = json.load(fh)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ClimeError(f"not valid JSON ({err})", d / "meta.json") from None
    return Embeddings(E, words, meta)


def check_same_dim(a, b, name_a="source", name_b="target"):
    if a.dim != b.dim:
        raise ClimeError(f"{name_a} embeddings have dimension {a.dim} but {name_b} embeddings have {b.dim}")
