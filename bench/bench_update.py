#!/usr/bin/env python3
"""Time the vectorised local update against a per-keyword loop in the style of the 2020 implementation.

Synthetic 300-d spaces, 50 keywords with about 10 judgements each (5 source and
5 target words, half accepted).  Both versions run the same number of Adam steps
(lr 0.001, reg 1, dot objective, no early stopping) over the same touched rows;
the 2020-style version builds the loss with a Python loop over keywords at
every step.  Prints the times and the ratio; checks that both reach the same rows.

    PYTHONPATH=. .venv/bin/python bench/bench_update.py [--steps 1000] [--slow-steps 1000]
"""

import argparse
import time

import numpy as np
import torch

from clime.local_objective import LocalConfig, optimise
from clime.update import Problem


def make_problem(rng, n_vocab=20000, dim=300, n_kw=50, per_lang=5):
    S = rng.standard_normal((n_vocab, dim)).astype(np.float32)
    T = rng.standard_normal((n_vocab, dim)).astype(np.float32)
    S /= np.linalg.norm(S, axis=1, keepdims=True)
    T /= np.linalg.norm(T, axis=1, keepdims=True)
    kws = rng.choice(n_vocab, n_kw, replace=False)
    judged = []  # (keyword row, word row, lang, label)
    for k in kws:
        for lang in (1, 2):
            words = rng.choice(n_vocab, per_lang, replace=False)
            for i, w in enumerate(words):
                if lang == 1 and w == k:
                    continue
                judged.append((int(k), int(w), lang, 1 if i % 2 == 0 else -1))
    src_rows = sorted({k for k, _, _, _ in judged} | {w for _, w, lang, _ in judged if lang == 1})
    tgt_rows = sorted({w for _, w, lang, _ in judged if lang == 2})
    sp = {r: i for i, r in enumerate(src_rows)}
    tp = {r: len(src_rows) + i for i, r in enumerate(tgt_rows)}
    pos_k, pos_w, neg_k, neg_w = [], [], [], []
    for k, w, lang, label in judged:
        (pos_k if label > 0 else neg_k).append(sp[k])
        (pos_w if label > 0 else neg_w).append(sp[w] if lang == 1 else tp[w])
    a = lambda x: np.asarray(x, dtype=np.int64)  # noqa: E731
    prob = Problem(a(src_rows), a(tgt_rows), a(pos_k), a(pos_w), a(neg_k), a(neg_w), [], [], list(kws), [], [])
    X0 = np.concatenate([S[prob.src_rows], T[prob.tgt_rows]])
    return prob, X0


def slow_2020_style(X0, prob, steps, lr=0.001, reg=1.0):
    """The structure of the 2020 code (with the sign corrected): at every Adam step, a Python loop
    over the keywords builds the loss from the keyword's accepted and rejected words of each language
    (one gather and one matrix-vector product per group), then autograd and torch.optim.Adam."""
    x0 = torch.as_tensor(X0)
    X = x0.clone().requires_grad_(True)
    opt = torch.optim.Adam([X], lr=lr)
    groups = {}
    for label, ks, ws in ((1, prob.pos_k, prob.pos_w), (-1, prob.neg_k, prob.neg_w)):
        for k, w in zip(ks.tolist(), ws.tolist()):
            g = groups.setdefault(k, {})
            g.setdefault((label, w < prob.n_src), []).append(w)
    per_kw = [(k, [(label, torch.tensor(ws)) for (label, _), ws in sorted(g.items())]) for k, g in groups.items()]
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.0
        for k, parts in per_kw:
            ek = X[k]
            for label, idx in parts:
                loss = loss - label * (X[idx] @ ek).sum()
        loss = loss + reg * ((X - x0) ** 2).sum()
        loss.backward()
        opt.step()
    return X.detach().numpy()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10000, help="Adam steps for the vectorised version")
    ap.add_argument("--slow-steps", type=int, default=1000, help="Adam steps for the 2020-style loop")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads for both versions")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    prob, X0 = make_problem(rng)
    print(f"touched rows: {len(X0)} ({prob.n_src} source, {len(prob.tgt_rows)} target), "
          f"{len(prob.pos_k)} accepted + {len(prob.neg_k)} rejected pairs, dim {X0.shape[1]}, "
          f"torch threads {torch.get_num_threads()}")

    def ours(steps, objective="dot"):
        cfg = LocalConfig(objective=objective, iters=steps, tol=0.0, progress=False, device="cpu")
        t = time.perf_counter()
        out, info = optimise(X0, prob, cfg)
        return time.perf_counter() - t, out

    ours(300)  # warm-up
    n = min(args.steps, args.slow_steps)
    t_fast_n, out_fast = ours(n)
    t_slow, out_slow = None, None
    t = time.perf_counter()
    out_slow = slow_2020_style(X0, prob, args.slow_steps)
    t_slow = time.perf_counter() - t
    t_fast, _ = ours(args.steps)
    t_cos, _ = ours(args.steps, "cosine")
    diff = float(np.abs(out_fast - out_slow).max()) if args.slow_steps == n else float("nan")
    print(f"2020-style loop, dot:   {args.slow_steps:6d} steps {t_slow:8.2f} s  ({1e3 * t_slow / args.slow_steps:.2f} ms/step)")
    print(f"vectorised, dot:        {n:6d} steps {t_fast_n:8.2f} s  ({1e3 * t_fast_n / n:.3f} ms/step)")
    print(f"vectorised, dot:        {args.steps:6d} steps {t_fast:8.2f} s  ({1e3 * t_fast / args.steps:.3f} ms/step)")
    print(f"vectorised, cosine:     {args.steps:6d} steps {t_cos:8.2f} s  ({1e3 * t_cos / args.steps:.3f} ms/step)")
    print(f"max |difference| between the two after {n} steps: {diff:.2e}")
    ratio = (t_fast_n / n) / (t_slow / args.slow_steps)
    print(f"time ratio vectorised / 2020-style, both {n} steps: 1/{1 / ratio:.0f}  (target <= 1/50)")
    ratio_full = t_fast / (t_slow * args.steps / args.slow_steps)
    print(f"time ratio for {args.steps} steps (2020-style extrapolated from {args.slow_steps}): "
          f"1/{1 / ratio_full:.0f}")


if __name__ == "__main__":
    main()
