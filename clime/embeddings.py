"""Embedding directories and their matrices.

An *embedding directory* holds ``E.npy`` (float32 [N, D], memory-mappable),
``words.json`` (word -> row, UTF-8) and ``meta.json``.  The 2020 research
layout (``E.pt`` + ``words.json``) is read too.  Also here: normalisation and the
finiteness checks.  Word-vector files (.vec/.txt/.gz/.bin) are :mod:`clime.vecfile`.
"""

import contextlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .errors import ClimeError
from .fileio import atomic_dir, load_json

log = logging.getLogger(__name__)

NORMALIZATIONS = ("center-unit", "unit", "none")


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


# ---------------------------------------------------------------- normalisation

def normalize(E, mode="center-unit", inplace=False):
    """Normalise a float32 matrix: 'center-unit' (mean-centre the columns, then
    unit-length rows), 'unit' (unit rows) or 'none'.

    Returns a copy unless ``inplace`` (then ``E`` itself, which must be a
    writable float32 array, is changed).  Zero rows stay zero.
    """
    if mode not in NORMALIZATIONS:
        raise ClimeError(f"unknown normalisation {mode!r} (choose from {', '.join(NORMALIZATIONS)})")
    if inplace:
        if not (isinstance(E, np.ndarray) and E.dtype == np.float32 and E.flags.writeable):
            raise ValueError("inplace normalisation needs a writable float32 array")
    else:
        E = np.array(E, dtype=np.float32, copy=True)
    if mode == "none":
        return E
    if mode == "center-unit":
        E -= E.mean(axis=0, dtype=np.float64).astype(np.float32)
    step = 65536  # row blocks: no temporary as big as the matrix
    for s in range(0, E.shape[0], step):
        block = E[s:s + step]
        norms = np.sqrt(np.einsum("ij,ij->i", block, block, dtype=np.float64))
        norms[norms == 0] = 1.0
        block /= norms[:, None].astype(np.float32)
    return E


# ---------------------------------------------------------------- directories

def first_non_finite(vectors, step=65536):
    """Index of the first row of ``vectors`` holding a NaN or an infinity, or None.
    Reads the matrix in row blocks (a memory-mapped file is not loaded whole)."""
    for s in range(0, vectors.shape[0], step):
        ok = np.isfinite(vectors[s:s + step]).all(axis=1)
        if not ok.all():
            return s + int(np.argmin(ok))
    return None


def check_finite(vectors, words, where, action="holds"):
    """Raise a ClimeError naming ``where`` and the first word whose row is not finite."""
    bad = first_non_finite(vectors)
    if bad is not None:
        word = words[bad] if bad < len(words) else "?"
        n_bad = int((~np.isfinite(vectors).all(axis=1)).sum())
        raise ClimeError(f"{action} a non-finite value (NaN or infinity) in the row of word {word!r} "
                         f"(row {bad}; {n_bad} such row(s))", where)


def save_embeddings(directory, vectors, words, meta=None, stage=None):
    """Write an embedding directory atomically (replacing any old one).

    With ``stage`` (a :class:`clime.fileio.Staging`) the directory is only staged:
    it appears when the caller commits, together with its other outputs.
    A matrix holding NaN or infinity is refused; nothing is written.  Returns the
    directory that now holds the files (the staged temporary with ``stage``).
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ClimeError(f"matrix shape {vectors.shape} does not match {len(words)} words", directory)
    if len(set(words)) != len(words):
        raise ClimeError("the word list holds duplicates; an embedding directory needs one row per word", directory)
    check_finite(vectors, words, directory, "refusing to write: the result holds")
    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise ClimeError("exists and is not a directory; refusing to replace it", d)
    if d.is_dir() and any(d.iterdir()) and not ((d / "words.json").exists() or (d / "E.npy").exists()):
        raise ClimeError("exists and is not an embedding directory; refusing to replace it", d)
    full_meta = dict(meta or {})
    full_meta.update({"n_words": len(words), "dim": int(vectors.shape[1]), "clime_version": __version__})
    try:
        meta_text = json.dumps(full_meta, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    except ValueError as err:
        raise ClimeError(f"refusing to write a non-finite number into meta.json ({err})", directory) from None
    with contextlib.ExitStack() as stack:
        tmp = stage.dir(directory) if stage is not None else stack.enter_context(atomic_dir(directory))
        np.save(tmp / "E.npy", vectors, allow_pickle=False)
        with open(tmp / "words.json", "w", encoding="utf-8") as fh:
            json.dump({w: i for i, w in enumerate(words)}, fh, ensure_ascii=False)
        with open(tmp / "meta.json", "w", encoding="utf-8") as fh:
            fh.write(meta_text)
    return tmp if stage is not None else d


def load_embeddings(directory, mmap=True, check=True):
    """Read an embedding directory (``E.npy`` or the 2020 ``E.pt``, plus ``words.json``).

    With ``check`` (the default) a matrix holding NaN or infinity is a ClimeError
    naming the directory and the first such word (one pass over the matrix).
    """
    d = Path(directory)
    if not d.is_dir():
        raise ClimeError("not an embedding directory (run binarize.py first)" if not d.exists()
                         else "expected an embedding directory, found a file", d)
    wpath = d / "words.json"
    if not wpath.exists():
        raise ClimeError("words.json is missing", d)
    wobj = load_json(wpath)
    if isinstance(wobj, dict):
        words = [None] * len(wobj)
        for w, i in wobj.items():
            if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(wobj) or words[i] is not None:
                raise ClimeError(f"word {w!r} has a bad or repeated row {i!r}", wpath)
            words[i] = w
    elif isinstance(wobj, list) and all(isinstance(w, str) for w in wobj):
        words = wobj
    else:
        raise ClimeError("expected an object word -> row (or a list of words)", wpath)
    if (d / "E.npy").exists():
        try:
            E = np.load(d / "E.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise ClimeError(f"cannot read matrix ({str(err).splitlines()[0] if str(err) else type(err).__name__})",
                             d / "E.npy") from None
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
        meta = load_json(d / "meta.json", allow_nan=True)
        if not isinstance(meta, dict):
            raise ClimeError("expected a JSON object", d / "meta.json")
    if check:
        check_finite(E, words, d)
    return Embeddings(E, words, meta)


def check_same_dim(a, b, name_a="source", name_b="target"):
    if a.dim != b.dim:
        raise ClimeError(f"{name_a} embeddings have dimension {a.dim} but {name_b} embeddings have {b.dim}")
