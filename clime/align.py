"""Orthogonal Procrustes alignment and word-translation evaluation.

Shared by ``align.py`` and ``update.py --realign``.
"""

import logging

import numpy as np

from .errors import ClimeError
from .fileio import require_file

log = logging.getLogger(__name__)

DEFAULT_REFINE = 5   # self-learning rounds of align.py --refine and update.py --realign (see docs/align.md)
DEFAULT_HOLDOUT = 0.2   # fraction of the seed's source words held out to choose the self-learning round
DEFAULT_PATIENCE = 2    # rounds without a better held-out P@1 before self-learning stops
HOLDOUT_MIN_WORDS = 10  # fewer held-out source words than this choose a round by noise: no guard then
PREALIGNED_GAIN = 0.9   # identity's seed-pair cosine >= this x the seed-only map's: aligned already (no guard)


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
    if method not in ("nn", "csls"):
        raise ValueError(f"unknown method {method!r} (nn or csls)")
    return translation_precisions(src, tgt, pairs, (method,), device, csls_k, chunk)[method]


def translation_precisions(src, tgt, pairs, methods=("nn", "csls"), device="cpu", csls_k=10, chunk=4096):
    """:func:`translation_precision` for several methods at once: {method: Precision}.

    The search is exact and shares its work: one blockwise pass of queries x target
    words gives the cosine top-1 and, for CSLS, a lower bound of every target word's
    penalty (its ``csls_k`` nearest *query* words are a subset of its nearest source
    words); the penalty against the whole source vocabulary is then computed only for
    the target words whose bound could still beat a query's best exact score
    (:func:`csls_top1`).
    """
    import torch

    from .neighbors import resolve_device

    for m in methods:
        if m not in ("nn", "csls"):
            raise ValueError(f"unknown method {m!r} (nn or csls)")
    gold = {}
    for i, j in _index_pairs(src, tgt, pairs):
        gold.setdefault(i, set()).add(j)
    if not gold:
        return {m: Precision(0.0, 0) for m in methods}
    queries = sorted(gold)
    device = resolve_device(device)
    with torch.no_grad():
        Q = _unit_tensor(np.asarray(src.vectors[queries], dtype=np.float32), device)
        B = _unit_tensor(tgt.vectors, device)
        S = _unit_tensor(src.vectors, device) if "csls" in methods else None
        nn, cs = csls_top1(Q, B, S, csls_k, chunk, with_csls="csls" in methods)
    top = {"nn": nn, "csls": cs}
    return {m: Precision(sum(int(top[m][r]) in gold[i] for r, i in enumerate(queries)) / len(queries), len(queries))
            for m in methods}


def csls_top1(Q, B, S=None, k=10, chunk=4096, with_csls=True, margin=4, stats=None):
    """Exact top-1 target of each query by cosine and by CSLS (numpy int64 arrays; ties: lower index).

    Q [nq, D] query rows, B [nb, D] target rows, S [ns, D] the whole source side (Q's rows are
    among them): unit-row torch tensors.  CSLS(x, y) = 2 cos(x, y) - r_S(x) - r_B(y); r_S(x) is
    the same for every y of a query, so the CSLS top-1 only needs r_B(y) = mean cosine of y to
    its ``k`` nearest rows of S.  One pass over the blocks of ``Q @ B.T``: each block gives the
    cosine top-1 and updates the running k best cosines of every target among the queries seen
    so far (pruned, :func:`_column_topk_merge`; cosines are >= -1, so before k queries are seen
    the missing ones count as -1).  Their mean lb(y) <= r_B(y), so ``2 cos - lb`` bounds every
    score from above; r_B is computed exactly (and kept) for each query's ``margin`` best bounds
    and for any further target whose bound reaches the query's best exact score.  The products
    are computed once.  Memory: one block of scores plus [nq, margin] candidates.  ``stats`` (a dict,
    optional) receives ``exact_penalties``: how many target penalties were computed.
    """
    import torch

    from .neighbors import _block_rows

    nq, nb = Q.shape[0], B.shape[0]
    dev = Q.device
    step = _block_rows(chunk, nb)
    nn = torch.empty(nq, dtype=torch.int64, device=dev)
    best_out = torch.empty(nq, dtype=torch.int64, device=dev) if with_csls else None
    exhaustive = with_csls and (S.shape[0] < k or nq < k)   # too few rows for the bound to be of use
    col = torch.full((min(k, nq), nb), -2.0, device=dev)   # running k best of 2 cos (>= -2) per target
    m = min(margin, nb)
    r = torch.full((nb,), float("nan"), device=dev)        # exact penalties, computed on demand
    known = torch.zeros(nb, dtype=torch.bool, device=dev)
    ks = min(k, S.shape[0]) if with_csls else 0

    def penalties(idx):
        idx = idx[~known[idx]]
        if len(idx):
            for s in range(0, len(idx), _block_rows(chunk, S.shape[0])):
                part = idx[s:s + _block_rows(chunk, S.shape[0])]
                r[part] = (B[part] @ S.T).topk(ks, dim=1).values.mean(dim=1)
            known[idx] = True

    if exhaustive:
        penalties(torch.arange(nb, device=dev))
    for s in range(0, nq, step):
        c2 = torch.mm(Q[s:s + step], B.T).mul_(2)
        nn[s:s + step] = c2.argmax(dim=1)
        if not with_csls:
            continue
        if exhaustive:
            best_out[s:s + step] = (c2 - r[None, :]).argmax(dim=1)
            continue
        _column_topk_merge(col, c2)
        lb = col.mean(dim=0).mul_(0.5).sub_(1e-5)   # slack for rounding differences between the products
        ub = c2 - lb[None, :]
        cand_ub, cand = ub.topk(m, dim=1)
        penalties(torch.unique(cand))
        best = (c2.gather(1, cand) - r[cand]).max(dim=1).values
        # targets outside the candidates whose bound reaches the best exact score
        more = cand_ub[:, -1] >= best
        if more.any():
            rows = torch.nonzero(more).flatten()
            penalties(torch.unique(torch.nonzero(ub[rows] >= best[rows, None])[:, 1]))
        # every target that could be the top-1 now has its exact penalty; argmax over those (sorted,
        # so a tie goes to the lower index)
        K = torch.nonzero(known).flatten()
        best_out[s:s + step] = K[(c2[:, K] - r[K][None, :]).argmax(dim=1)]
    if not with_csls:
        return nn.cpu().numpy(), None
    log.debug("CSLS top-1: exact penalties for %d of %d target words", int(known.sum()), nb)
    if stats is not None:
        stats["exact_penalties"] = int(known.sum())
    return nn.cpu().numpy(), best_out.cpu().numpy()


def dense_csls_top1(Q, B, S, k=10):
    """Reference for :func:`csls_top1`: the whole [nq, nb] score matrix and every target's penalty.

    Memory nq x nb and nb x ns floats: for tests and ``bench/bench_align.py`` only.
    """
    c2 = (Q @ B.T).mul_(2)
    r = (B @ S.T).topk(min(k, S.shape[0]), dim=1).values.mean(dim=1)
    return c2.argmax(dim=1).cpu().numpy(), (c2 - r[None, :]).argmax(dim=1).cpu().numpy()


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


def align(src_vectors, tgt_vectors, pairs, direction="tgt2src", iter_norm=0, refine=0, **refine_args):
    """Fit an orthogonal map on the (i, j) ``pairs`` and apply it.

    direction "tgt2src" maps the target space onto the source space (the source
    comes back unchanged); "src2tgt" the reverse.  With ``iter_norm`` > 0 both
    spaces are first iteratively normalised (unit rows + centred columns,
    ``iter_norm`` rounds), so both change.  Returns ``(S, T, W)`` float32 arrays
    (W float64, applied to the moved side).

    With ``refine`` > 0 the seed fit is followed by up to ``refine`` self-learning
    rounds (:func:`self_learn`, which takes ``refine_args``: vocab, csls_k, forbidden,
    device, evaluate, progress); the history of the rounds comes back as a fourth item.
    """
    if direction not in ("tgt2src", "src2tgt"):
        raise ValueError(f"unknown direction {direction!r}")
    S = np.asarray(src_vectors, dtype=np.float32)
    T = np.asarray(tgt_vectors, dtype=np.float32)
    if iter_norm > 0:
        S, T = iterative_normalize(S, iter_norm), iterative_normalize(T, iter_norm)
    if refine > 0:
        return self_learn(S, T, pairs, refine, direction=direction, **refine_args)
    # the same fit (sorted pairs) as self-learning's, so a guarded --refine that keeps round 0 gives these bytes
    W = _fit_pairs(S, T, {(int(i), int(j)): 1.0 for i, j in np.asarray(pairs, dtype=np.int64).reshape(-1, 2)},
                   direction)
    S, T = _apply(S, T, W, direction)
    return S, T, W


# ------------------------------------------------------------------ self-learning (blockwise CSLS)

def _unit_tensor(x, device):
    from .neighbors import unit_rows

    return unit_rows(x, device)


# ------------------------------------------------------------------ pruned column reductions
#
# A column reduction of a block of scores (``topk(dim=0)``, ``max(dim=0)``) walks the block across its
# memory layout and costs as much as a good part of the matrix product.  Once a running threshold per
# column is known (the column's k-th best so far), almost every score of a later block is below it; one
# comparison pass finds the few that are not, and only those are merged.  The results are exactly the
# dense reductions' (the tests compare them with :func:`dense_mutual_nn`).

PRUNE_DENSE_FRACTION = 1 / 16   # above this fraction of passing scores a block is reduced densely


def _column_topk_merge(top, block, row0=0, arg=None):
    """Merge the rows of ``block`` [b, nb] into the running per-column top-k ``top`` [k, nb] (descending,
    -inf padded) in place; ``arg`` [nb] (optional) follows the row (offset ``row0``) of each column's best.

    Only the scores above the column's current k-th best are merged (an equal score cannot change the
    multiset of the k best values); when many pass, the block is reduced densely instead.
    """
    import torch

    k = top.shape[0]
    thr = top[-1][None, :]
    # dense when many will pass: a column still short of k scores, or the block's first rows say so
    short = bool(torch.isneginf(thr).any()) or float((block[:8] > thr).float().mean()) > PRUNE_DENSE_FRACTION
    if not short:
        idx = (block > thr).nonzero()
        if len(idx) == 0:
            return
    if short or len(idx) > PRUNE_DENSE_FRACTION * block.numel():
        bv, bi = block.topk(min(k, block.shape[0]), dim=0)
        if arg is not None:
            better = bv[0] > top[0]
            arg[better] = bi[0][better] + row0
        top.copy_(torch.cat([top, bv]).topk(k, dim=0).values)
        return
    r, c = idx.unbind(1)
    v = block[r, c]
    ucols = torch.bincount(c, minlength=top.shape[1]).nonzero().flatten()    # the columns touched, sorted
    u = len(ucols)
    pos = torch.empty(top.shape[1], dtype=torch.int64, device=top.device)
    pos[ucols] = torch.arange(u, device=top.device)
    inv = pos[c]
    old = top[:, ucols]                                    # [k, u], descending
    vals = torch.cat([old.reshape(-1), v])
    cols = torch.cat([torch.arange(u, device=top.device).repeat(k), inv])
    order = torch.sort(vals, descending=True, stable=True).indices     # old values first on a tie
    order = order[torch.sort(cols[order], stable=True).indices]        # grouped by column, descending
    vals, cols = vals[order], cols[order]
    counts = torch.bincount(cols, minlength=u)
    rank = torch.arange(len(cols), device=top.device) - (torch.cumsum(counts, 0) - counts)[cols]
    keep = rank < k
    old[rank[keep], cols[keep]] = vals[keep]
    top[:, ucols] = old
    if arg is not None:
        first = keep & (rank == 0) & (order >= k * u)            # a new score became the column's best
        src = order[first] - k * u
        arg[ucols[cols[first]]] = r[src] + row0


def _column_argmax_merge(best, arg, block, row0, floor=None):
    """Running per-column max of ``block`` [b, nb] (rows ``row0``...) into ``best``/``arg`` in place.

    A tie keeps the lower row (blocks come in row order; within a block the lowest row of the tie).
    ``floor`` [nb]: a lower bound of each column's final max; scores below it and below the running
    best are skipped.
    """
    import torch

    thr = (best if floor is None else torch.maximum(best, floor))[None, :]
    idx = None if float((block[:8] >= thr).float().mean()) > PRUNE_DENSE_FRACTION else (block >= thr).nonzero()
    if idx is None or len(idx) > PRUNE_DENSE_FRACTION * block.numel():
        v, i = block.max(dim=0)
        better = v > best
        best[better] = v[better]
        arg[better] = i[better] + row0
        return
    if len(idx) == 0:
        return
    r, c = idx.unbind(1)
    v = block[r, c]
    cmax = torch.full_like(best, -float("inf")).scatter_reduce(0, c, v, "amax")
    at_max = v == cmax[c]
    big = torch.iinfo(torch.int64).max
    crow = torch.full(best.shape, big, dtype=torch.int64, device=best.device)
    crow = crow.scatter_reduce(0, c[at_max], r[at_max], "amin")
    better = cmax > best
    best[better] = cmax[better]
    arg[better] = crow[better] + row0


def _penalty_pass(A, B, k, chunk, progress):
    """One blockwise pass over ``A @ B.T``: (rA, rB, best, arg) with best[j] = max_i cos(A_i, B_j)
    and arg[j] a row holding it (see :func:`csls_penalties`)."""
    import torch
    from tqdm import tqdm

    from . import cli
    from .neighbors import _block_rows

    na, nb = A.shape[0], B.shape[0]
    ka, kb = min(k, nb), min(k, na)
    rA = torch.empty(na, device=A.device)
    col = torch.full((kb, nb), -float("inf"), device=A.device)
    arg = torch.zeros(nb, dtype=torch.int64, device=A.device)
    step = _block_rows(chunk, nb)
    for s in tqdm(range(0, na, step), disable=cli.bar_off(progress and na > step), leave=False,
                  desc="csls penalties", unit="block"):
        sims = torch.mm(A[s:s + step], B.T)
        rA[s:s + step] = sims.topk(ka, dim=1).values.mean(dim=1)
        _column_topk_merge(col, sims, s, arg)
    return rA, col.mean(dim=0), col[0], arg


def csls_penalties(A, B, k=10, chunk=4096, progress=False):
    """Both CSLS penalties in one blockwise pass over ``A @ B.T``.

    A [na, D], B [nb, D]: unit-row torch tensors on one device.  Returns
    ``(rA, rB)``: rA[i] = mean cosine of A_i to its ``k`` nearest rows of B, rB[j]
    = mean cosine of B_j to its ``k`` nearest rows of A.  The column top-k is a running
    top-k that merges only the scores above its current k-th best (:func:`_column_topk_merge`).
    Memory: one block of scores (at most ``neighbors.MAX_BLOCK_BYTES``) plus a running [k, nb] top-k.
    """
    return _penalty_pass(A, B, k, chunk, progress)[:2]


def csls_mutual_nn(A, B, k=10, chunk=4096, progress=False):
    """Mutual nearest neighbours under CSLS between the rows of A and B (unit-row torch tensors).

    Returns an int64 numpy array [m, 2] of (row of A, row of B), sorted by the A row:
    j is the CSLS-best row of B for A_i and i the CSLS-best row of A for B_j (ties: the
    lower index).  Two blockwise passes over ``A @ B.T``; memory bounded by the block.
    The second pass's column maximum starts from a lower bound of it (the CSLS score of each
    column's cosine-best row, from the first pass) and merges only the scores that reach it.
    The same pairs as :func:`dense_mutual_nn`.
    """
    import torch
    from tqdm import tqdm

    from . import cli
    from .neighbors import _block_rows

    na, nb = A.shape[0], B.shape[0]
    if na == 0 or nb == 0:
        return np.zeros((0, 2), dtype=np.int64)
    rA, rB, top1, arg1 = _penalty_pass(A, B, k, chunk, progress)
    neg_rB = -rB[None, :]
    floor = (2 * top1 - rB - rA[arg1]).sub_(1e-5)     # a score in each column: its max is at least this
    fwd = torch.empty(na, dtype=torch.int64, device=A.device)
    best = torch.full((nb,), -float("inf"), device=A.device)
    bwd = torch.zeros(nb, dtype=torch.int64, device=A.device)
    step = _block_rows(chunk, nb)
    for s in tqdm(range(0, na, step), disable=cli.bar_off(progress and na > step), leave=False,
                  desc="mutual neighbours", unit="block"):
        sc = torch.addmm(neg_rB, A[s:s + step], B.T, alpha=2).sub_(rA[s:s + step, None])
        fwd[s:s + step] = sc.argmax(dim=1)
        _column_argmax_merge(best, bwd, sc, s, floor)
    rows = torch.arange(na, device=A.device)
    mutual = bwd[fwd] == rows
    return torch.stack([rows[mutual], fwd[mutual]], dim=1).cpu().numpy().astype(np.int64)


def dense_mutual_nn(A, B, k=10):
    """Reference for :func:`csls_mutual_nn`: the whole [na, nb] score matrix at once (the same arithmetic,
    unpruned).  Memory na x nb floats: for tests and ``bench/bench_align.py`` only."""
    import torch

    C = A @ B.T
    rA = C.topk(min(k, C.shape[1]), dim=1).values.mean(dim=1)
    rB = C.topk(min(k, C.shape[0]), dim=0).values.mean(dim=0)
    sc = (2 * C - rB[None, :]) - rA[:, None]
    fwd, bwd = sc.argmax(dim=1), sc.argmax(dim=0)
    rows = torch.arange(len(A), device=A.device)
    keep = bwd[fwd] == rows
    return torch.stack([rows[keep], fwd[keep]], dim=1).cpu().numpy().astype(np.int64)


def _fit_pairs(S, T, weights, direction):
    """The orthogonal map of ``direction`` fitted on a {(i, j): weight} dict (sorted pairs)."""
    pairs = np.array(sorted(weights), dtype=np.int64).reshape(-1, 2)
    w = np.array([weights[(int(i), int(j))] for i, j in pairs], dtype=np.float64)
    Xs, Xt = np.asarray(S[pairs[:, 0]]), np.asarray(T[pairs[:, 1]])
    return fit_orthogonal(Xt, Xs, w) if direction == "tgt2src" else fit_orthogonal(Xs, Xt, w)


def _already_aligned(S, T, W, pairs, direction):
    """Whether the spaces were aligned before the fit: the mean cosine of the seed pairs as given is at least
    ``PREALIGNED_GAIN`` times (and at least 0.1) their mean cosine under the seed-only map W."""
    p = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    X, Y = np.asarray(S[p[:, 0]], dtype=np.float64), np.asarray(T[p[:, 1]], dtype=np.float64)

    def mean_cos(a, b):
        return float(np.mean((a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1),
                                                         1e-12)))

    given = mean_cos(X, Y)
    mapped = mean_cos(X, Y @ W) if direction == "tgt2src" else mean_cos(X @ W, Y)
    return given >= 0.1 and given >= PREALIGNED_GAIN * mapped


def split_holdout(weights, fraction=None, seed=0):
    """Split seed pairs into (fitted, held_out) {(i, j): weight} dicts by source word.

    ``round(fraction * number of seed source words)`` source words (at least one when the fraction is
    above 0 and there are two or more) are drawn with ``numpy.random.default_rng(seed)`` and held out
    with all their pairs; the draw depends on the set of pairs and ``seed`` only.
    """
    fraction = DEFAULT_HOLDOUT if fraction is None else float(fraction)
    if not 0 <= fraction < 1:
        raise ValueError("the held-out fraction must be in [0, 1)")
    sources = sorted({i for i, _ in weights})
    n = int(round(fraction * len(sources)))
    if fraction > 0 and len(sources) >= 2:
        n = min(max(n, 1), len(sources) - 1)
    else:
        n = 0
    held = set(np.random.default_rng(seed).choice(sources, n, replace=False).tolist()) if n else set()
    fitted = {p: w for p, w in weights.items() if p[0] not in held}
    return fitted, {p: w for p, w in weights.items() if p[0] in held}


def self_learn(S, T, seed, rounds, vocab=20000, csls_k=10, direction="tgt2src", forbidden=(), device="cpu",
               chunk=4096, evaluate=None, progress=False, holdout=None, patience=None, holdout_seed=0,
               ties_later=False):
    """Self-learning orthogonal alignment with a held-out guard.

    ``ties_later``: a round whose held-out hits equal the best so far replaces it (it still counts
    toward ``patience``).  align.py keeps the earlier round (from a rough start a tie cannot show
    that the induced pairs helped); update.py's re-fit takes the later one, because it starts from
    an already self-learned space whose seed fit (round 0) would throw that alignment away.

    A part of the seed dictionary (``holdout``, default ``DEFAULT_HOLDOUT``, by source word:
    :func:`split_holdout` with ``holdout_seed``) is held out: its words are never fitted on nor
    induced.  The map is fitted on the rest of the seed, then up to ``rounds`` times a dictionary is
    induced (CSLS mutual nearest neighbours among the first ``vocab`` rows of each side, in the current
    space), added to the fitted seed pairs and the map re-fitted.  After every fit the held-out pairs'
    P@1 (NN and CSLS over the whole vocabularies) and, for the record, the mean cosine of each held-out
    word to its nearest gold translation are measured; the round with the most held-out hits (NN + CSLS;
    a tie keeps the earlier round: a round must earn its place) is kept, and the loop stops after ``patience`` (default
    ``DEFAULT_PATIENCE``) rounds without a better one, or when the induced dictionary stops changing.
    The output map is then re-fitted on the **whole** seed (the held-out pairs too) plus the chosen
    round's induced pairs, so with round 0 chosen it is exactly plain Procrustes on the seed.  When no
    round beats round 0, a ``warning:`` names the figures.  ``holdout=0``, or a held-out
    part of fewer than ``HOLDOUT_MIN_WORDS`` source words (then with a warning), turns the guard off
    (the last round is the output, as before).

    S, T: the two spaces (already normalised as wanted; rows in frequency order).
    seed: list of (i, j) pairs (weight 1) or a {(i, j): weight} dict; seed pairs are always
    kept with their weight, induced pairs weigh 1.  forbidden: (i, j) pairs never induced
    (and removed from the seed).  evaluate: optional ``f(S_aligned, T_aligned) -> dict``
    called after the seed fit and after every round (for the log and the results).
    Returns ``(S, T, W, history)``: the aligned float32 spaces (the reference side unchanged),
    W (float64, applied to the moved side) and one dict per fit (round 0 = the seed alone; per
    round ``induced``, ``pairs``, ``heldout_nn``/``heldout_csls``/``heldout_cos``, ``seed_agreement``), then a last
    dict with ``final: true``: the chosen ``round``, ``pairs`` of the output fit, ``stopped`` (why).
    """
    import time

    import torch

    holdout = DEFAULT_HOLDOUT if holdout is None else holdout
    patience = DEFAULT_PATIENCE if patience is None else patience
    if rounds < 0 or vocab < 1 or csls_k < 1 or patience < 1:
        raise ValueError("rounds must be >= 0, vocab, csls_k and patience >= 1")
    if direction not in ("tgt2src", "src2tgt"):
        raise ValueError(f"unknown direction {direction!r}")
    forbidden = {(int(i), int(j)) for i, j in forbidden}
    if isinstance(seed, dict):
        weights = {(int(i), int(j)): float(w) for (i, j), w in seed.items()}
    else:
        weights = {(int(i), int(j)): 1.0 for i, j in seed}
    weights = {p: w for p, w in weights.items() if p not in forbidden}
    if not weights:
        raise ClimeError("self-learning: no seed pair left to fit the map on")
    S = np.asarray(S, dtype=np.float32)
    T = np.asarray(T, dtype=np.float32)
    fitted, held = split_holdout(weights, holdout, holdout_seed) if rounds > 0 else (weights, {})
    if held and len({i for i, _ in held}) < HOLDOUT_MIN_WORDS:
        log.warning("warning: self-learning without its guard: a held-out part of %d seed source word(s) is too "
                    "small to choose a round (at least %d needed; a larger seed or --holdout)",
                    len({i for i, _ in held}), HOLDOUT_MIN_WORDS)
        fitted, held = weights, {}
    ns, nt = min(vocab, len(S)), min(vocab, len(T))
    A = _unit_tensor(S[:ns], device)
    B = _unit_tensor(T[:nt], device)
    history = []
    W = _fit_pairs(S, T, fitted, direction)
    if held and _already_aligned(S, T, W, fitted, direction):
        # The seed-only map is close to the identity: the inputs were already aligned, most likely on this
        # very seed (make_kit.py rotates the target onto the source with its seed pairs), so the held-out
        # pairs were fitted on when the inputs were made and would favour round 0 whatever it is worth.
        log.warning("warning: self-learning without its guard: the spaces are already aligned (the seed-only map "
                    "gains little on the identity for the seed pairs), so the held-out seed pairs were probably "
                    "fitted on when the inputs were made and cannot choose the round")
        fitted, held = weights, {}
        W = _fit_pairs(S, T, fitted, direction)
    fit_weights = fitted
    held_src, held_tgt = {i for i, _ in held}, {j for _, j in held}
    gold = {}
    for i, j in held:
        gold.setdefault(i, set()).add(j)
    queries = sorted(gold)
    if held:
        log.info("self-learning: %d seed pair(s) of %d source word(s) held out to choose the round (never fitted "
                 "on until the output fit)", len(held), len(queries))

    def heldout_p1(Sa, Ta):
        if not queries:
            return {}
        with torch.no_grad():
            Sx, Tx = _unit_tensor(Sa, device), _unit_tensor(Ta, device)
            nn, cs = csls_top1(Sx[torch.as_tensor(queries, device=Sx.device)], Tx, Sx, csls_k, chunk)
            cos = [float((Tx[sorted(gold[i])] @ Sx[i]).max()) for i in queries]
        hits = {m: sum(int(top[r]) in gold[i] for r, i in enumerate(queries)) for m, top in (("nn", nn), ("csls", cs))}
        mean_cos = float(np.mean(cos))
        return {"heldout_nn": hits["nn"] / len(queries), "heldout_csls": hits["csls"] / len(queries),
                "heldout_cos": round(mean_cos, 6), "_score": hits["nn"] + hits["csls"]}

    def record(r, induced, seconds):
        h = {"round": r, "induced": None if induced is None else len(induced), "pairs": len(fit_weights),
             "seconds": round(seconds, 3)}
        Sa, Ta = _apply(S, T, W, direction)
        h.update(heldout_p1(Sa, Ta))
        if induced is not None:
            seed_t = {}
            for i, j in fitted:
                seed_t.setdefault(i, set()).add(j)
            got = [(i, j) for i, j in induced if i in seed_t]
            h["seed_agreement"] = round(sum(j in seed_t[i] for i, j in got) / len(got), 4) if got else None
        if evaluate is not None:
            h.update(evaluate(Sa, Ta))
        history.append(h)
        log.info("self-learning round %d: %s induced pair(s), fitted on %d%s", r, "-" if induced is None else len(induced),
                 h["pairs"], "".join(f", {k} {v:.3f}" for k, v in h.items()
                                     if k.startswith(("p1_", "heldout_")) and v is not None))
        return h

    best = record(0, None, 0.0)
    best_induced, last, stale, stopped = set(), None, 0, "rounds"
    for r in range(1, rounds + 1):
        t0 = time.perf_counter()
        Wt = torch.as_tensor(W, dtype=torch.float32, device=A.device)
        with torch.no_grad():
            if direction == "tgt2src":
                pairs = csls_mutual_nn(A, B @ Wt, csls_k, chunk, progress)
            else:
                pairs = csls_mutual_nn(A @ Wt, B, csls_k, chunk, progress)
        induced = {(int(i), int(j)) for i, j in pairs
                   if (int(i), int(j)) not in forbidden and int(i) not in held_src and int(j) not in held_tgt}
        if induced == last:
            log.info("self-learning: the induced dictionary did not change in round %d; stopping", r)
            history.append({"round": r, "induced": len(induced), "pairs": len(fit_weights), "converged": True,
                            "seconds": round(time.perf_counter() - t0, 3)})
            stopped = "converged"
            break
        last = induced
        fit_weights = dict(fitted)
        for p in induced:
            fit_weights.setdefault(p, 1.0)
        W = _fit_pairs(S, T, fit_weights, direction)
        h = record(r, induced, time.perf_counter() - t0)
        better = not queries or h["_score"] > best["_score"]
        if better or (ties_later and h["_score"] == best["_score"]):
            best, best_induced = h, induced
        if better:
            stale = 0
        else:
            stale += 1
            if stale >= patience:
                log.info("self-learning: held-out P@1 not above round %d's for %d round(s); stopping", best["round"],
                         stale)
                stopped = "patience"
                break
    fits = [h for h in history if not h.get("converged")]
    if queries and best["round"] == 0 and len(fits) > 1:
        log.warning("warning: self-learning did not improve on the seed-only fit for the held-out seed pairs (%s); "
                    "kept the seed-only fit",
                    "; ".join(f"round {h['round']} P@1 NN {100 * h['heldout_nn']:.1f}% CSLS "
                              f"{100 * h['heldout_csls']:.1f}% ({h['induced'] or 0} induced)" for h in fits))
    for h in history:
        h.pop("_score", None)
    final = dict(weights)
    for p in best_induced:
        if p not in forbidden:
            final.setdefault(p, 1.0)
    W = _fit_pairs(S, T, final, direction)
    history.append({"final": True, "round": best["round"], "pairs": len(final), "heldout_pairs": len(held),
                    "stopped": stopped})
    log.info("self-learning: kept round %d; output map fitted on %d pair(s) (the %d held-out seed pair(s) included)",
             best["round"], len(final), len(held))
    S_out, T_out = _apply(S, T, W, direction)
    return S_out, T_out, W, history


def _apply(S, T, W, direction):
    """The aligned pair of spaces (float32): the moved side times W, the reference side as it is."""
    Wf = W.astype(np.float32)
    if direction == "tgt2src":
        return S, (T @ Wf).astype(np.float32)
    return (S @ Wf).astype(np.float32), T


def round_evaluator(src_words, tgt_words, pairs, csls_k=10, device="cpu"):
    """``f(S, T) -> {"p1_nn", "p1_csls"}`` on the word pairs, for :func:`self_learn`'s ``evaluate``."""
    from .embeddings import Embeddings

    src_index = {w: i for i, w in enumerate(src_words)}
    tgt_index = {w: i for i, w in enumerate(tgt_words)}
    rows = [(src_index[s], tgt_index[t]) for s, t in pairs if s in src_index and t in tgt_index]

    def evaluate(S, T):
        src, tgt = Embeddings(S, src_words), Embeddings(T, tgt_words)
        return {f"p1_{m}": float(translation_precision(src, tgt, rows, m, device=device, csls_k=csls_k))
                for m in ("nn", "csls")}

    return evaluate
