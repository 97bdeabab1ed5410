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

from clime.update import LocalConfig, Problem, optimise


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
    """Per-keyword Python loop inside the Adam loop (the structure of the 2020 code, correct sign)."""
    x0 = torch.as_tensor(X0)
    X = x0.clone().requires_grad_(True)
    opt = torch.optim.Adam([X], lr=lr)
    per_kw = {}
    for k, w in zip(prob.pos_k.tolist(), prob.pos_w.tolist()):
        per_kw.setdefault(k, ([], []))[0].append(w)
    for k, w in zip(prob.neg_k.tolist(), prob.neg_w.tolist()):
        per_kw.setdefault(k, ([], []))[1].append(w)
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.0
        for k, (pos, neg) in per_kw.items():
            ek = X[k]
            for p in pos:
                loss = loss - torch.dot(ek, X[p])
            for n in neg:
                loss = loss + torch.dot(ek, X[n])
        loss = loss + reg * ((X - x0) ** 2).sum()
        loss.backward()
        opt.step()
    return X.detach().numpy()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10000, help="Adam steps for the vectorised version")
    ap.add_argument("--slow-steps", type=int, default=1000, help="Adam steps for the 2020-style loop")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
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

    ours(50)  # warm-up
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
    print(f"time ratio vectorised / 2020-style at equal steps: 1/{1 / ratio:.0f}  (target <= 1/50)")


if __name__ == "__main__":
    main()
