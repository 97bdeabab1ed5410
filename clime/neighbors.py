"""Exact nearest-neighbour search by cosine or CSLS, chunked so memory stays bounded.

All functions take float32 numpy arrays (or anything ``np.asarray`` takes) and
work with torch on the chosen device; results come back as numpy arrays.
"""

import numpy as np
import torch

DEFAULT_CHUNK = 4096


def resolve_device(device="auto"):
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _unit(x, device):
    t = torch.as_tensor(np.asarray(x, dtype=np.float32), device=device)
    return torch.nn.functional.normalize(t, dim=1)


def mean_topk_sim(queries, base, k=10, chunk=DEFAULT_CHUNK, device="cpu", exclude_self=False):
    """For each query row, the mean cosine to its ``k`` nearest rows of ``base``.

    ``exclude_self``: queries and base are the same matrix; a row is not its own neighbour.
    """
    device = resolve_device(device)
    q, b = _unit(queries, device), _unit(base, device)
    k = min(k, b.shape[0] - (1 if exclude_self else 0))
    out = torch.empty(q.shape[0], device=device)
    for s in range(0, q.shape[0], chunk):
        sims = q[s:s + chunk] @ b.T
        if exclude_self:
            idx = torch.arange(s, min(s + chunk, q.shape[0]), device=device)
            sims[torch.arange(len(idx), device=device), idx] = -float("inf")
        out[s:s + chunk] = sims.topk(k, dim=1).values.mean(dim=1)
    return out.cpu().numpy()


def topk(queries, base, k, exclude=None, method="cosine", csls_k=10, base_penalty=None,
         query_penalty=None, chunk=DEFAULT_CHUNK, device="cpu"):
    """Indices and scores of the ``k`` best rows of ``base`` for each query.

    method: "cosine" or "csls".  For CSLS, score = 2 cos(x, y) - r_q(x) - r_b(y),
    with r_b(y) the mean cosine of base row y to its ``csls_k`` nearest *queries
    side* vectors (``base_penalty``, computed against ``queries`` if not given)
    and r_q(x) the mean cosine of query x to its ``csls_k`` nearest base rows
    (``query_penalty``).  Pass penalties computed against the full vocabularies
    when the queries are only a subset.

    exclude: optional sequence with, for each query, a base index (or None / -1)
    that must never be returned (e.g. the keyword itself, excluded by identity).
    Ties are broken by the lower index, so results are deterministic.
    """
    device = resolve_device(device)
    q, b = _unit(queries, device), _unit(base, device)
    n = b.shape[0]
    k = min(k, n - (1 if exclude is not None else 0))
    if k <= 0:
        return np.zeros((q.shape[0], 0), dtype=np.int64), np.zeros((q.shape[0], 0), dtype=np.float32)
    if method == "csls":
        if base_penalty is None:
            base_penalty = mean_topk_sim(base, queries, csls_k, chunk, device)
        if query_penalty is None:
            query_penalty = mean_topk_sim(queries, base, csls_k, chunk, device)
        bp = torch.as_tensor(np.asarray(base_penalty, dtype=np.float32), device=device)
        qp = torch.as_tensor(np.asarray(query_penalty, dtype=np.float32), device=device)
    elif method != "cosine":
        raise ValueError(f"unknown method {method!r}")
    excl = None
    if exclude is not None:
        excl = torch.as_tensor(np.array([-1 if e is None else int(e) for e in exclude], dtype=np.int64),
                               device=device)
    idx_out = np.empty((q.shape[0], k), dtype=np.int64)
    val_out = np.empty((q.shape[0], k), dtype=np.float32)
    # a tiny index-based tie breaker keeps results independent of the chunking
    for s in range(0, q.shape[0], chunk):
        scores = q[s:s + chunk] @ b.T
        if method == "csls":
            scores = 2 * scores - bp[None, :] - qp[s:s + chunk, None]
        if excl is not None:
            e = excl[s:s + chunk]
            rows = torch.nonzero(e >= 0).flatten()
            scores[rows, e[rows]] = -float("inf")
        vals, idx = scores.topk(k, dim=1)
        idx_out[s:s + chunk] = idx.cpu().numpy()
        val_out[s:s + chunk] = vals.cpu().numpy()
    return idx_out, val_out
