#!/usr/bin/env python3
"""Time exact neighbour search (clime.neighbors.topk) on a synthetic N x D unit-vector space.

    PYTHONPATH=. .venv/bin/python bench/bench_neighbors.py                 # 200k x 300, 20k-query slice
    PYTHONPATH=. .venv/bin/python bench/bench_neighbors.py --full-queries 0   # the whole 200k x 200k table

Prints: the time for --keywords queries against the N words (cosine and CSLS with
precomputed penalties), and the time of the full N x N top-k table, measured on
--full-queries queries (0 = all N) and extrapolated linearly to N when a slice is
timed (each query block costs the same, so the extrapolation is a plain ratio).
"""

import argparse
import time

import numpy as np
import torch

from clime.neighbors import mean_topk_sim, resolve_device, topk, unit_rows


def timed(fn, repeat=1):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=200_000)
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--keywords", type=int, default=50)
    p.add_argument("--full-queries", type=int, default=20_000, help="queries timed for the full table (0 = all)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    dev = resolve_device(a.device)
    print(f"torch {torch.__version__}, device {dev}, threads {torch.get_num_threads()}")
    rng = np.random.default_rng(a.seed)
    E = rng.standard_normal((a.n, a.dim), dtype=np.float32)
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    kw = rng.choice(a.n, a.keywords, replace=False)
    print(f"space {a.n} x {a.dim} float32 ({E.nbytes / 2**20:.0f} MiB), k={a.k}")

    # 1. keywords against the whole space, normalisation of the base included
    t, (idx, _) = timed(lambda: topk(E[kw], E, a.k, exclude=kw, device=dev), repeat=3)
    assert not (idx == kw[:, None]).any()
    print(f"{a.keywords} keywords x {a.n} words, cosine (incl. normalising the base): {t:.3f} s")
    B = unit_rows(E, dev)
    Bkw = B[torch.as_tensor(kw)]
    t, _ = timed(lambda: topk(Bkw, B, a.k, exclude=kw, device=dev, assume_unit=True), repeat=3)
    print(f"{a.keywords} keywords x {a.n} words, cosine (base already a unit tensor):  {t:.3f} s")
    bp = np.zeros(a.n, dtype=np.float32)  # penalties are given; their own cost is the full-table cost below
    qp = np.zeros(a.keywords, dtype=np.float32)
    t, _ = timed(lambda: topk(Bkw, B, a.k, exclude=kw, method="csls", base_penalty=bp,
                              query_penalty=qp, device=dev, assume_unit=True), repeat=3)
    print(f"{a.keywords} keywords x {a.n} words, CSLS with precomputed penalties:     {t:.3f} s")

    # 2. the full table (as for --all): every word against every word
    nq = a.n if a.full_queries <= 0 else min(a.full_queries, a.n)
    Q = B[:nq]
    t, _ = timed(lambda: topk(Q, B, a.k, exclude=np.arange(nq), device=dev, progress=True, assume_unit=True))
    label = "full table" if nq == a.n else f"slice of {nq} queries"
    print(f"{label} x {a.n} words, cosine top-{a.k}: {t:.1f} s")
    if nq < a.n:
        print(f"  -> extrapolated full {a.n} x {a.n} table: {t * a.n / nq / 60:.1f} min (linear in the queries)")
    t2, _ = timed(lambda: mean_topk_sim(Q, B, 10, device=dev, assume_unit=True))
    print(f"CSLS penalties (mean of top-10) for {nq} rows: {t2:.1f} s"
          + (f" -> {t2 * a.n / nq / 60:.1f} min for {a.n}" if nq < a.n else ""))
    print("a CSLS --all run costs about 2 penalty passes + 1 table pass (monolingual) "
          "+ 2 penalty passes + 1 table pass (cross-lingual)")


if __name__ == "__main__":
    main()
