#!/usr/bin/env python3
"""Time self-learning and word-translation evaluation (clime.align) against straightforward dense versions.

    PYTHONPATH=. .venv/bin/python bench/bench_align.py                  # 20k x 20k round; 1,500 x 50k evaluation
    PYTHONPATH=. .venv/bin/python bench/bench_align.py --kit ../shared/datasets/en-fi   # real vectors

1. One self-learning round (CSLS mutual nearest neighbours among --round-n words of each side):
   clime.align.csls_mutual_nn (two blockwise passes, memory bounded by the block) against a dense
   version that holds the whole --round-n x --round-n score matrix (the same computation).
2. Word-translation P@1 (NN and CSLS) of --queries source words against --eval-n target words:
   clime.align.translation_precisions (one shared pass; exact penalties only where they can
   change a top-1) against the previous implementation (penalties of every target word against
   the whole source vocabulary, then a separate top-1 pass per method), and checks they agree.

Synthetic spaces (default): words drawn around cluster centres (so that neighbourhoods and hubs
exist, as in real vectors), the target a noisy copy of the source (already aligned).  With --kit: the first words
of the kit's vectors, unit-length and mean-centred, aligned by Procrustes on identical strings.
"""

import argparse
import time

import numpy as np
import torch

from clime import align as al
from clime.embeddings import Embeddings
from clime.neighbors import mean_topk_sim, resolve_device, topk, unit_rows


def timed(fn, repeat=1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def synthetic(n_src, n_tgt, dim, seed):
    rng = np.random.default_rng(seed)
    n = max(n_src, n_tgt)
    centres = rng.standard_normal((n // 20, dim)).astype(np.float32)
    base = centres[rng.integers(0, len(centres), n)] + 0.8 * rng.standard_normal((n, dim)).astype(np.float32)
    S = base[:n_src]
    T = base[:n_tgt] + 0.6 * rng.standard_normal((n_tgt, dim)).astype(np.float32)   # roughly aligned
    return S.astype(np.float32), T.astype(np.float32), list(range(n_tgt))


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
    return S, T, None


def dense_round(A, B, k):
    C = A @ B.T                                       # the whole na x nb matrix
    rA = C.topk(k, dim=1).values.mean(1)
    rB = C.topk(k, dim=0).values.mean(0)
    sc = 2 * C - rA[:, None] - rB[None, :]
    fwd, bwd = sc.argmax(1), sc.argmax(0)
    rows = torch.arange(len(A))
    keep = bwd[fwd] == rows
    return torch.stack([rows[keep], fwd[keep]], 1).numpy()


def previous_precisions(src, tgt, pairs, k, device):
    """The implementation before this bench: penalties of all target words, a pass per method."""
    gold = {}
    for i, j in pairs:
        gold.setdefault(i, set()).add(j)
    queries = sorted(gold)
    Q = np.asarray(src.vectors[queries], dtype=np.float32)
    out = {}
    idx, _ = topk(Q, tgt.vectors, 1, device=device)
    out["nn"] = sum(int(idx[r, 0]) in gold[i] for r, i in enumerate(queries)) / len(queries)
    bp = mean_topk_sim(tgt.vectors, src.vectors, k, device=device)
    qp = mean_topk_sim(Q, tgt.vectors, k, device=device)
    idx, _ = topk(Q, tgt.vectors, 1, method="csls", csls_k=k, base_penalty=bp, query_penalty=qp, device=device)
    out["csls"] = sum(int(idx[r, 0]) in gold[i] for r, i in enumerate(queries)) / len(queries)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--round-n", type=int, default=20000, help="words per side in the self-learning round")
    p.add_argument("--eval-n", type=int, default=50000, help="target words in the evaluation")
    p.add_argument("--eval-src", type=int, default=15000, help="source words in the evaluation (penalties)")
    p.add_argument("--queries", type=int, default=1500)
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--csls-k", type=int, default=10)
    p.add_argument("--kit", help="a data kit folder (en*.vec.gz + target .vec.gz) instead of synthetic vectors")
    p.add_argument("--no-dense", action="store_true", help="skip the dense round (it needs round-n^2 floats)")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    dev = resolve_device(a.device)
    print(f"torch {torch.__version__}, device {dev}, threads {torch.get_num_threads()}, csls k={a.csls_k}")

    # 1. one self-learning round
    if a.kit:
        S, T, _ = from_kit(a.kit, a.round_n, a.round_n)
    else:
        S, T, _ = synthetic(a.round_n, a.round_n, a.dim, a.seed)
    A, B = unit_rows(S, dev), unit_rows(T, dev)
    with torch.no_grad():
        t, pairs = timed(lambda: al.csls_mutual_nn(A, B, a.csls_k), a.repeat)
        print(f"self-learning round, {len(A)} x {len(B)} words: blockwise {t:.2f} s, {len(pairs)} mutual pairs")
        if not a.no_dense:
            td, dpairs = timed(lambda: dense_round(A, B, a.csls_k), a.repeat)
            same = len(pairs) == len(dpairs) and bool((pairs == dpairs).all())
            print(f"  dense ({len(A) * len(B) * 4 / 2**30:.1f} GiB score matrix): {td:.2f} s; "
                  f"ratio dense/blockwise {td / t:.2f}; same pairs: {same}")
    del A, B

    # 2. word-translation evaluation
    if a.kit:
        S, T, _ = from_kit(a.kit, a.eval_src, a.eval_n)
        rng = np.random.default_rng(a.seed)
        q = np.sort(rng.choice(len(S), min(a.queries, len(S)), replace=False))
        tgt_guess = topk(S[q], T, 1)[0][:, 0]     # a pretend gold: some right, some wrong
        pairs = [(int(i), int((j + (r % 3)) % len(T))) for r, (i, j) in enumerate(zip(q, tgt_guess))]
    else:
        S, T, _ = synthetic(a.eval_src, a.eval_n, a.dim, a.seed + 1)
        rng = np.random.default_rng(a.seed)
        q = np.sort(rng.choice(min(len(S), len(T)), a.queries, replace=False))
        pairs = [(int(i), int(i)) for i in q]
    src, tgt = Embeddings(S, list(range(len(S)))), Embeddings(T, list(range(len(T))))
    with torch.no_grad():
        t, new = timed(lambda: al.translation_precisions(src, tgt, pairs, device=dev, csls_k=a.csls_k), a.repeat)
        tp, old = timed(lambda: previous_precisions(src, tgt, pairs, a.csls_k, dev), 1)
    print(f"P@1 evaluation, {len(pairs)} queries x {len(T)} target words ({len(S)} source words): "
          f"{t:.2f} s (NN {new['nn'][0]:.3f}, CSLS {new['csls'][0]:.3f})")
    print(f"  previous implementation: {tp:.2f} s (NN {old['nn']:.3f}, CSLS {old['csls']:.3f}); "
          f"ratio previous/new {tp / t:.1f}; same P@1: {abs(old['nn'] - new['nn'][0]) < 1e-12 and abs(old['csls'] - new['csls'][0]) < 1e-12}")


if __name__ == "__main__":
    main()
