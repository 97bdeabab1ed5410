"""Exact nearest-neighbour search by cosine or CSLS, chunked so memory stays bounded.

All functions take float32 numpy arrays (or anything ``np.asarray`` takes, or
torch tensors) and work with torch on the chosen device; results come back as
numpy arrays.

Memory: the queries are processed in blocks of at most ``chunk`` rows, and a
block never holds more than ``MAX_BLOCK_BYTES`` of scores (the block is made
smaller for a large base), so a 200,000 x 200,000 table needs the two
normalised matrices plus ~256 MiB, whatever the chunk asked for.
"""

import numpy as np
import torch
from tqdm import tqdm

from . import cli

DEFAULT_CHUNK = 4096
MAX_BLOCK_BYTES = 256 * 2**20


def resolve_device(device="auto"):
    """"auto" -> cuda when available, else cpu; anything else as torch.device."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _as_array(x):
    if isinstance(x, torch.Tensor):
        return x.detach().to(torch.float32)
    a = np.asarray(x, dtype=np.float32)
    if not a.flags.writeable or not a.flags.c_contiguous:
        a = np.ascontiguousarray(a).copy()  # memmaps are read-only; torch wants writable memory
    return a


def unit_rows(x, device="cpu"):
    """A float32 tensor on ``device`` with the rows of ``x`` scaled to unit length
    (zero rows stay zero)."""
    t = torch.as_tensor(_as_array(x), device=resolve_device(device))
    if t.ndim != 2:
        raise ValueError(f"expected a 2-d matrix, got shape {tuple(t.shape)}")
    return torch.nn.functional.normalize(t, dim=1)


def _block_rows(chunk, n_base):
    """Rows per block: at most ``chunk`` and at most MAX_BLOCK_BYTES of float32 scores."""
    return max(1, min(int(chunk), MAX_BLOCK_BYTES // (4 * max(n_base, 1))))


def _tensor(x, device):
    return torch.as_tensor(_as_array(x), device=device)


def _pair(queries, base, device, assume_unit=False):
    prep = _tensor if assume_unit else unit_rows
    b = prep(base, device)
    q = b if queries is base else prep(queries, device)
    return q, b


def mean_topk_sim(queries, base, k=10, chunk=DEFAULT_CHUNK, device="cpu", exclude_self=False,
                  progress=False, assume_unit=False):
    """For each query row, the mean cosine to its ``k`` nearest rows of ``base``
    (the CSLS penalty r).

    ``exclude_self``: queries and base are the same matrix (row i of one is row i
    of the other); a row is not its own neighbour.
    ``assume_unit``: the rows are already unit length (skips normalising them).
    """
    device = resolve_device(device)
    q, b = _pair(queries, base, device, assume_unit)
    if exclude_self and q.shape[0] != b.shape[0]:
        raise ValueError("exclude_self needs queries and base with the same rows")
    k = min(k, b.shape[0] - (1 if exclude_self else 0))
    if k <= 0:
        return np.zeros(q.shape[0], dtype=np.float32)
    out = torch.empty(q.shape[0], device=device)
    step = _block_rows(chunk, b.shape[0])
    for s in tqdm(range(0, q.shape[0], step), disable=cli.bar_off(progress and q.shape[0] > step), leave=False,
                  desc="csls penalty", unit="block"):
        sims = q[s:s + step] @ b.T
        if exclude_self:
            rows = torch.arange(sims.shape[0], device=device)
            sims[rows, rows + s] = -float("inf")
        out[s:s + step] = sims.topk(k, dim=1).values.mean(dim=1)
    return out.cpu().numpy()


def topk(queries, base, k, exclude=None, method="cosine", csls_k=10, base_penalty=None,
         query_penalty=None, chunk=DEFAULT_CHUNK, device="cpu", progress=False, assume_unit=False):
    """Indices and scores of the ``k`` best rows of ``base`` for each query.

    Returns ``(idx [q, k] int64, scores [q, k] float32)``, best first; ``k`` is
    lowered when the base is smaller.  Equal scores are listed by lower index.

    method: "cosine" or "csls".  For CSLS, score = 2 cos(x, y) - r_q(x) - r_b(y),
    with r_b(y) the mean cosine of base row y to its ``csls_k`` nearest *queries
    side* vectors (``base_penalty``, computed against ``queries`` if not given)
    and r_q(x) the mean cosine of query x to its ``csls_k`` nearest base rows
    (``query_penalty``).  Pass penalties computed against the full vocabularies
    when the queries are only a subset (see :func:`mean_topk_sim`).

    exclude: optional sequence with, for each query, a base index (or None / -1)
    that must never be returned (e.g. the keyword itself, excluded by identity:
    another word with the very same vector is still returned).

    assume_unit: the rows of queries and base are already unit length (e.g.
    from :func:`unit_rows`), so they are used as they are (saves a pass over
    a large base).
    """
    device = resolve_device(device)
    q, b = _pair(queries, base, device, assume_unit)
    nq, n = q.shape[0], b.shape[0]
    if exclude is not None and len(exclude) != nq:
        raise ValueError(f"exclude has {len(exclude)} entries for {nq} queries")
    k = min(int(k), n - (1 if exclude is not None else 0))
    if k <= 0 or nq == 0:
        return np.zeros((nq, max(k, 0)), dtype=np.int64), np.zeros((nq, max(k, 0)), dtype=np.float32)
    if method == "csls":
        if base_penalty is None:
            base_penalty = mean_topk_sim(b, q, csls_k, chunk, device, assume_unit=True)
        if query_penalty is None:
            query_penalty = mean_topk_sim(q, b, csls_k, chunk, device, assume_unit=True)
        bp = torch.as_tensor(np.asarray(base_penalty, dtype=np.float32), device=device)
        qp = torch.as_tensor(np.asarray(query_penalty, dtype=np.float32), device=device)
        if bp.shape != (n,) or qp.shape != (nq,):
            raise ValueError("penalty sizes do not match the base / the queries")
    elif method != "cosine":
        raise ValueError(f"unknown method {method!r}")
    excl = None
    if exclude is not None:
        excl = torch.as_tensor(np.array([-1 if e is None else int(e) for e in exclude], dtype=np.int64),
                               device=device)
    idx_out = np.empty((nq, k), dtype=np.int64)
    val_out = np.empty((nq, k), dtype=np.float32)
    step = _block_rows(chunk, n)
    for s in tqdm(range(0, nq, step), disable=cli.bar_off(progress and nq > step), leave=False, desc="neighbours",
                  unit="block"):
        scores = q[s:s + step] @ b.T
        if method == "csls":
            scores.mul_(2).sub_(bp[None, :]).sub_(qp[s:s + step, None])
        if excl is not None:
            e = excl[s:s + step]
            rows = torch.nonzero(e >= 0).flatten()
            scores[rows, e[rows]] = -float("inf")
        vals, idx = scores.topk(k, dim=1)
        idx_out[s:s + step] = idx.cpu().numpy()
        val_out[s:s + step] = vals.cpu().numpy()
    # equal scores by lower index, so that results do not depend on the topk implementation
    order = np.lexsort((idx_out, -val_out), axis=-1)
    idx_out = np.take_along_axis(idx_out, order, axis=1)
    val_out = np.take_along_axis(val_out, order, axis=1)
    return idx_out, val_out
