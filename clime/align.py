"""Orthogonal Procrustes alignment and word-translation evaluation.

Shared by ``align.py`` and ``update.py --realign``.
"""

import logging

import numpy as np

from .errors import ClimeError

log = logging.getLogger(__name__)


def fit_orthogonal(X, Y, weights=None):
    """The orthogonal W minimising sum_i w_i ||X_i W - Y_i||^2 (one SVD).

    X, Y: [n, D] paired rows.  Returns W [D, D] (float64) so that ``X @ W ≈ Y``.
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if weights is not None:
        w = np.sqrt(np.asarray(weights, dtype=np.float64))[:, None]
        X, Y = X * w, Y * w
    U, _, Vt = np.linalg.svd(X.T @ Y)
    return U @ Vt


def iterative_normalize(E, n_iter=5):
    """Repeat unit-length rows then mean-centred columns ``n_iter`` times, then unit rows."""
    E = np.array(E, dtype=np.float32, copy=True)
    for _ in range(n_iter):
        E /= np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)
        E -= E.mean(axis=0, dtype=np.float64).astype(np.float32)
    E /= np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)
    return E


def read_dictionary(path, src_index=None, tgt_index=None):
    """Read ``source<TAB>target`` (or space separated) pairs.

    With indexes given, returns only in-vocabulary pairs as (i, j) rows and the
    count of pairs dropped.  Malformed lines are a ClimeError naming file and line.
    """
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        raise ClimeError("no such file", path)
    pairs = []
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise ClimeError("invalid UTF-8", path, lineno) from None
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t") if "\t" in line else line.split()
            if len(parts) != 2 or not parts[0] or not parts[1]:
                raise ClimeError("expected 'source<TAB>target'", path, lineno)
            pairs.append((parts[0].strip(), parts[1].strip()))
    if src_index is None:
        return pairs
    ids = [(src_index[s], tgt_index[t]) for s, t in pairs if s in src_index and t in tgt_index]
    return ids, len(pairs) - len(ids)
