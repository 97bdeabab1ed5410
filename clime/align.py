"""Orthogonal Procrustes alignment and word-translation evaluation.

Shared by ``align.py`` and ``update.py --realign``.
"""

import logging

import numpy as np

from .errors import ClimeError
from .fileio import require_file

log = logging.getLogger(__name__)


def fit_orthogonal(X, Y, weights=None):
    """The orthogonal W minimising sum_i w_i ||X_i W - Y_i||^2 (one SVD).

    X, Y: [n, D] paired rows.  Returns W [D, D] (float64) so that ``X @ W ≈ Y``.
    With fewer independent pairs than dimensions, the rotation of the directions
    the pairs do not constrain is chosen closest to the identity (deterministic).
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if weights is not None:
        w = np.sqrt(np.asarray(weights, dtype=np.float64))[:, None]
        X, Y = X * w, Y * w
    M = X.T @ Y
    if not np.isfinite(M).all():
        raise ClimeError("cannot fit the orthogonal map: the paired vectors hold NaN or infinity")
    try:
        U, S, Vt = np.linalg.svd(M)
    except np.linalg.LinAlgError as err:
        raise ClimeError(f"cannot fit the orthogonal map: the SVD failed ({err})") from None
    if S.size and S[-1] <= 1e-7 * max(S[0], 1e-300):
        # Fewer independent pairs than dimensions: the best W is not unique, and
        # which one LAPACK returns differs between machines.  A tiny pull towards
        # the identity picks one canonical solution without moving the fit.
        U, _, Vt = np.linalg.svd(M + (1e-9 * max(S[0], 1e-300)) * np.eye(M.shape[0]))
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
    require_file(path, "a dictionary (source<TAB>target lines)")
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


def _index_pairs(src, tgt, pairs):
    """Word pairs (or (i, j) row pairs) -> in-vocabulary (i, j) rows, in order, no repeats."""
    out, seen = [], set()
    for s, t in pairs:
        if isinstance(s, str):
            i, j = src.index.get(s), tgt.index.get(t)
            if i is None or j is None:
                continue
        else:
            i, j = int(s), int(t)
        if (i, j) not in seen:
            seen.add((i, j))
            out.append((i, j))
    return out


class Precision(tuple):
    """``(p_at_1, n_queries)``; ``float()`` of it is ``p_at_1``."""

    def __new__(cls, p_at_1, n_queries):
        return super().__new__(cls, (float(p_at_1), int(n_queries)))

    def __float__(self):
        return self[0]


def translation_precision(src, tgt, pairs, method="nn", device="cpu", csls_k=10, chunk=4096):
    """Word-translation precision@1 from ``src`` words into ``tgt`` words.

    ``pairs``: (source word, target word) pairs (or (row, row) pairs); pairs with
    a word outside the vocabularies are ignored.  A source word counts as
    correct when its top-1 target (cosine for "nn", CSLS with ``csls_k`` for
    "csls", penalties over the full vocabularies) is any of its gold
    translations.  Returns ``(p_at_1, n_queries)`` (a tuple whose ``float()`` is
    p_at_1); (0.0, 0) when no pair is usable.
    """
    from .neighbors import mean_topk_sim, topk

    if method not in ("nn", "csls"):
        raise ValueError(f"unknown method {method!r} (nn or csls)")
    gold = {}
    for i, j in _index_pairs(src, tgt, pairs):
        gold.setdefault(i, set()).add(j)
    if not gold:
        return Precision(0.0, 0)
    queries = sorted(gold)
    Q = np.asarray(src.vectors[queries], dtype=np.float32)
    if method == "nn":
        idx, _ = topk(Q, tgt.vectors, 1, method="cosine", chunk=chunk, device=device)
    else:
        base_pen = mean_topk_sim(tgt.vectors, src.vectors, csls_k, chunk=chunk, device=device)
        query_pen = mean_topk_sim(Q, tgt.vectors, csls_k, chunk=chunk, device=device)
        idx, _ = topk(Q, tgt.vectors, 1, method="csls", csls_k=csls_k, base_penalty=base_pen,
                      query_penalty=query_pen, chunk=chunk, device=device)
    hits = sum(int(idx[r, 0]) in gold[i] for r, i in enumerate(queries))
    return Precision(hits / len(queries), len(queries))


def dictionary_pairs(path, src, tgt, min_pairs=10, what="dictionary"):
    """Read a dictionary file and keep its in-vocabulary (i, j) pairs (deduplicated).

    Refuses (ClimeError) when fewer than ``min_pairs`` pairs are usable, saying
    how many were found.
    """
    words = read_dictionary(path)
    ids = _index_pairs(src, tgt, words)
    if len(ids) < max(min_pairs, 1):
        raise ClimeError(f"only {len(ids)} of the {len(words)} {what} pairs have both words in the vocabularies "
                         f"(at least {max(min_pairs, 1)} needed; see --min-pairs)", path)
    return ids, len(words)


def align(src_vectors, tgt_vectors, pairs, direction="tgt2src", iter_norm=0):
    """Fit an orthogonal map on the (i, j) ``pairs`` and apply it.

    direction "tgt2src" maps the target space onto the source space (the source
    comes back unchanged); "src2tgt" the reverse.  With ``iter_norm`` > 0 both
    spaces are first iteratively normalised (unit rows + centred columns,
    ``iter_norm`` rounds), so both change.  Returns ``(S, T, W)`` float32 arrays
    (W float64, applied to the moved side).
    """
    if direction not in ("tgt2src", "src2tgt"):
        raise ValueError(f"unknown direction {direction!r}")
    S = np.asarray(src_vectors, dtype=np.float32)
    T = np.asarray(tgt_vectors, dtype=np.float32)
    if iter_norm > 0:
        S, T = iterative_normalize(S, iter_norm), iterative_normalize(T, iter_norm)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    Xs, Xt = S[pairs[:, 0]], T[pairs[:, 1]]
    if direction == "tgt2src":
        W = fit_orthogonal(Xt, Xs)
        T = (T @ W.astype(np.float32)).astype(np.float32)
    else:
        W = fit_orthogonal(Xs, Xt)
        S = (S @ W.astype(np.float32)).astype(np.float32)
    return S, T, W
