#!/usr/bin/env python3
"""Time one self-learning round and a word-translation evaluation (clime.align) against their matmul bound.

    PYTHONPATH=. .venv/bin/python bench/bench_align.py                  # 20k x 20k round; 1,500 x 50k evaluation
    PYTHONPATH=. .venv/bin/python bench/bench_align.py --kit ../shared/datasets/en-fi   # real vectors

Every figure is given in CPU-seconds (all threads of this process, ``time.process_time``) and wall
seconds, the best of --repeat runs, beside the **bound**: plain matrix products of the same shapes
and blocks, timed in the same run (what the computation cannot go below on this machine).

1. One self-learning round (CSLS mutual nearest neighbours among --round-n words of each side):
   clime.align.csls_mutual_nn (two blockwise passes with pruned column reductions; bound = two
   passes of the products), the dense reference clime.align.dense_mutual_nn (the whole score matrix;
   skipped with --no-dense) and a VecMap-style four-pass induction (row reductions only: the forward
   and backward penalties and argmaxes each in their own pass over the products or their transpose).
2. Word-translation P@1 (NN and CSLS) of --queries source words against --eval-n target words:
   clime.align.csls_top1 (one pass over queries x targets, exact penalties only where they can change
   a top-1; bound = that product once plus the products of the penalties it computed) against the
   dense reference clime.align.dense_csls_top1 (every target's penalty).

It checks that every version gives the same pairs / the same top-1 and says so.

Synthetic spaces (default): words drawn around cluster centres (so that neighbourhoods and hubs
exist, as in real vectors), the target a noisy copy of the source (already aligned).  With --kit: the
first words of the kit's vectors, unit-length and mean-centred, aligned by Procrustes on identical strings.
"""

import argparse
import os
import time

import numpy as np
import torch

from clime import align as al
from clime.neighbors import _block_rows, resolve_device, unit_rows


def timed(fn, repeat=1):
    """(cpu seconds, wall seconds, result) of the fastest of ``repeat`` calls (by CPU time)."""
    best, out = None, None
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        out = fn()
        t = (time.process_time() - c0, time.perf_counter() - w0)
        best = t if best is None or t[0] < best[0] else best
    return best[0], best[1], out


def synthetic(n_src, n_tgt, dim, seed):
    rng = np.random.default_rng(seed)
    n = max(n_src, n_tgt)
    centres = rng.standard_normal((n // 20, dim)).astype(np.float32)
    base = centres[rng.integers(0, len(centres), n)] + 0.8 * rng.standard_normal((n, dim)).astype(np.float32)
    S = base[:n_src]
    T = base[:n_tgt] + 0.6 * rng.standard_normal((n_tgt, dim)).astype(np.float32)   # roughly aligned
    return S.astype(np.float32), T.astype(np.float32)


def from_kit(kit, n_src, n_tgt):
    from pathlib import Path

    from clime.embeddings import normalize
    from clime.vecfile import read_vec

    vecs = sorted(Path(kit).glob("*.vec.gz"))
    src = next(v for v in vecs if v.name.startswith("en"))
    tgt = next(v for v in vecs if not v.name.startswith("en"))
    sw, S, _ = read_vec(src, max_words=n_src, progress=False)
    tw, T, _ = read_vec(tgt, max_words=n_tgt, progress=False)
    S, T = normalize(S, "center-unit"), normalize(T, "center-unit")
    ti = {w: j for j, w in enumerate(tw)}
    pairs = [(i, ti[w]) for i, w in enumerate(sw) if w in ti]
    _, T, _ = al.align(S, T, pairs)
    return S, T


def matmul_passes(X, Y, passes):
    """The bound: ``passes`` blockwise passes of X @ Y.T (the blocks clime.align uses), nothing else."""
    step = _block_rows(4096, Y.shape[0])
    out = torch.empty(min(step, X.shape[0]), Y.shape[0])
    for _ in range(passes):
        for s in range(0, X.shape[0], step):
            blk = X[s:s + step]
            torch.mm(blk, Y.T, out=out[:len(blk)])


def vecmap_style(A, B, k):
    """CSLS mutual neighbours the way VecMap's induction computes them: four passes, row reductions only."""
    step_b, step_a = _block_rows(4096, len(B)), _block_rows(4096, len(A))
    rA = torch.cat([(A[s:s + step_b] @ B.T).topk(k, dim=1).values.mean(1) for s in range(0, len(A), step_b)])
    rB = torch.cat([(B[s:s + step_a] @ A.T).topk(k, dim=1).values.mean(1) for s in range(0, len(B), step_a)])
    fwd = torch.cat([((A[s:s + step_b] @ B.T) * 2 - rB[None, :]).argmax(1) for s in range(0, len(A), step_b)])
    bwd = torch.cat([((B[s:s + step_a] @ A.T) * 2 - rA[None, :]).argmax(1) for s in range(0, len(B), step_a)])
    rows = torch.arange(len(A))
    keep = bwd[fwd] == rows
    return torch.stack([rows[keep], fwd[keep]], 1).numpy()


def row(name, cpu, wall, bound, extra=""):
    print(f"  {name:<34} {cpu:7.2f} CPU-s {wall:7.2f} s wall  {cpu / bound:5.2f}x bound{extra}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--round-n", type=int, default=20000, help="words per side in the self-learning round")
    p.add_argument("--eval-n", type=int, default=50000, help="target words in the evaluation")
    p.add_argument("--eval-src", type=int, default=15000, help="source words in the evaluation (penalties)")
    p.add_argument("--queries", type=int, default=1500)
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--csls-k", type=int, default=10)
    p.add_argument("--kit", help="a data kit folder (en*.vec.gz + target .vec.gz) instead of synthetic vectors")
    p.add_argument("--no-dense", action="store_true", help="skip the dense references (round-n^2 floats)")
    p.add_argument("--no-vecmap", action="store_true", help="skip the VecMap-style four-pass induction")
    p.add_argument("--skip-round", action="store_true", help="only the evaluation")
    p.add_argument("--skip-eval", action="store_true", help="only the round")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    dev = resolve_device(a.device)
    print(f"torch {torch.__version__}, device {dev}, threads {torch.get_num_threads()}, csls k={a.csls_k}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    ok = True
    torch.set_grad_enabled(False)
    if not a.skip_round:
        S, T = from_kit(a.kit, a.round_n, a.round_n) if a.kit else synthetic(a.round_n, a.round_n, a.dim, a.seed)
        A, B = unit_rows(S, dev), unit_rows(T, dev)
        bound, bw, _ = timed(lambda: matmul_passes(A, B, 2), a.repeat)
        gflop = 2 * 2 * len(A) * len(B) * A.shape[1] / 1e9
        print(f"1. one self-learning round, {len(A)} x {len(B)} words: bound (two passes of the products, "
              f"{gflop:.0f} GFLOP) {bound:.2f} CPU-s, {bw:.2f} s wall ({gflop / bound:.0f} GFLOP per CPU-s)")
        c, w, pairs = timed(lambda: al.csls_mutual_nn(A, B, a.csls_k), a.repeat)
        row("clime.align.csls_mutual_nn", c, w, bound, f"  {len(pairs)} mutual pairs")
        if not a.no_vecmap:
            c, w, vp = timed(lambda: vecmap_style(A, B, a.csls_k), 1)
            same = vp.shape == pairs.shape and bool((vp == pairs).all())
            ok &= same
            row("VecMap-style four passes", c, w, bound, f"  same pairs: {same}")
        if not a.no_dense:
            c, w, dp = timed(lambda: al.dense_mutual_nn(A, B, a.csls_k), 1)
            same = dp.shape == pairs.shape and bool((dp == pairs).all())
            ok &= same
            row(f"dense reference ({len(A) * len(B) * 4 / 2**30:.1f} GiB)", c, w, bound, f"  same pairs: {same}")
        del A, B
    if not a.skip_eval:
        if a.kit:
            S, T = from_kit(a.kit, a.eval_src, a.eval_n)
        else:
            S, T = synthetic(a.eval_src, a.eval_n, a.dim, a.seed + 1)
        q = np.sort(np.random.default_rng(a.seed).choice(min(len(S), len(T)), min(a.queries, len(S)), replace=False))
        Sx, Bx = unit_rows(S, dev), unit_rows(T, dev)
        Q = Sx[torch.as_tensor(q)]
        stats = {}
        c, w, (nn, cs) = timed(lambda: al.csls_top1(Q, Bx, Sx, a.csls_k, stats=stats), a.repeat)
        n_pen = stats["exact_penalties"]
        idx = torch.arange(n_pen)
        bound, bw, _ = timed(lambda: (matmul_passes(Q, Bx, 1), matmul_passes(Bx[idx], Sx, 1)), a.repeat)
        gflop = 2 * Q.shape[1] * (len(Q) * len(Bx) + n_pen * len(Sx)) / 1e9
        print(f"2. P@1 evaluation, {len(Q)} queries x {len(Bx)} targets ({len(Sx)} source words): bound "
              f"(queries x targets once + {n_pen} exact penalties x source words, {gflop:.0f} GFLOP) "
              f"{bound:.2f} CPU-s, {bw:.2f} s wall")
        row("clime.align.csls_top1", c, w, bound)
        if not a.no_dense:
            c, w, (dnn, dcs) = timed(lambda: al.dense_csls_top1(Q, Bx, Sx, a.csls_k), 1)
            same = bool((dnn == nn).all() and (dcs == cs).all())
            ok &= same
            row("dense reference (all penalties)", c, w, bound, f"  same top-1 (NN and CSLS): {same}")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; all versions agree: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
