#!/usr/bin/env python3
"""Time one CNN training run: clime.train (Conv1d, length-grouped batches, masked
max) against a re-implementation of the 2020 loop (Conv2d with (w, D) kernels
over the full embedding width, shuffled batches padded to the batch maximum,
model selection by accuracy on the training set itself).  Same data, same
frozen matrix, same batch size, epochs, optimiser and clipping.

    PYTHONPATH=. .venv/bin/python bench/bench_train.py [--epochs 30] [--threads 1] [--device cpu]

Prints seconds and test accuracy of each, and the time ratio.  Runs on the
example (data/en.json -> data/fr.json, if present) and on a synthetic set
(~15k words per language, 5k training documents).

    PYTHONPATH=. .venv/bin/python bench/bench_train.py --policy [--copies 3] [--burner 30] [--epochs 10]

measures the thread policy instead: ``train.py`` (CNN, the example, one run) as a user runs it,
under the old policy (torch's default: one thread per core, OpenMP's default spin-then-sleep
wait), one thread per core with ``OMP_WAIT_POLICY=PASSIVE``, and the new one (``train.py``'s
default: ``clime.cli.torch_threads``, one thread) (``--policies 0,2``: some of them), alone
and with ``--copies`` runs side by side (as ``experiment.py --jobs`` starts them), optionally with
``--burner N`` busy processes holding the load at about N.  A run past ``--limit`` seconds is
stopped and shown as "> LIMIT".

    PYTHONPATH=. .venv/bin/python bench/bench_train.py --sweep 30@1e-3,12@3e-3,10@5e-3

times CNN settings (epochs @ learning rate, in-process, one thread, 3 seeds each) with their test
accuracy; ``--profile`` prints a cProfile of one CNN run and the time of its convolution done three ways.
"""

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from clime.embeddings import Embeddings, normalize
from clime.vecfile import read_vec
from clime.text import read_docs
from clime.train import MatrixBuilder, TrainConfig, accuracy, label_mapping, encode_labels, train_classifier

ROOT = Path(__file__).resolve().parents[1]


class CNN2020(nn.Module):
    def __init__(self, E, n_classes, widths=(3, 4, 5), filters=100, dropout=0.5):
        super().__init__()
        self.emb = nn.Embedding.from_pretrained(E, freeze=True, padding_idx=0)
        D = E.shape[1]
        self.convs = nn.ModuleList(nn.Conv2d(1, filters, (w, D)) for w in widths)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(filters * len(widths), n_classes)

    def forward(self, ids):
        x = self.emb(ids).unsqueeze(1)  # [B, 1, L, D]
        hs = [torch.relu(conv(x)).squeeze(3) for conv in self.convs]  # [B, F, L-w+1]
        hs = [nn.functional.max_pool1d(h, h.shape[2]).squeeze(2) for h in hs]
        return self.fc(self.dropout(torch.cat(hs, 1)))


def _pad(id_lists, min_len=5):
    L = max(max(len(a) for a in id_lists), min_len)
    out = np.zeros((len(id_lists), L), dtype=np.int64)
    for i, a in enumerate(id_lists):
        out[i, : len(a)] = a
    return torch.from_numpy(out)


def run_2020(E, train_ids, y_train, test_ids, y_test, n_classes, epochs, batch_size, seed, device):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = CNN2020(torch.from_numpy(E), n_classes).to(device)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    yt = torch.as_tensor(y_train, device=device)

    def evaluate(id_lists):
        model.eval()
        preds = []
        with torch.no_grad():
            for i in range(0, len(id_lists), batch_size):
                preds.append(model(_pad(id_lists[i:i + batch_size]).to(device)).argmax(1).cpu().numpy())
        return np.concatenate(preds)

    best, best_state = -1, None
    for _ in range(epochs):
        model.train()
        perm = rng.permutation(len(train_ids))
        for i in range(0, len(perm), batch_size):
            idx = perm[i:i + batch_size]
            out = model(_pad([train_ids[j] for j in idx]).to(device))
            loss = loss_fn(out, yt[torch.as_tensor(idx, device=device)])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
        acc = accuracy(y_train, evaluate(train_ids))  # the 2020 code selected on the training set
        if acc > best:
            best, best_state = acc, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return accuracy(y_test, evaluate(test_ids))


def synthetic(seed=0, vocab=15000, dim=300, n_train=5000, n_test=1000, n_classes=4):
    rng = np.random.default_rng(seed)
    S = rng.standard_normal((vocab, dim)).astype(np.float32)
    S /= np.linalg.norm(S, axis=1, keepdims=True)
    T = S + 0.6 * rng.standard_normal((vocab, dim)).astype(np.float32) / np.sqrt(dim)  # rough alignment
    src = Embeddings(S, [f"s{i}" for i in range(vocab)])
    tgt = Embeddings(T.astype(np.float32), [f"t{i}" for i in range(vocab)])
    zipf = 1.0 / np.arange(1, vocab + 1)
    zipf /= zipf.sum()
    topical = rng.choice(np.arange(500, vocab), size=(n_classes, 60), replace=False)

    def docs(prefix, n, first):
        out = []
        for i in range(n):
            c = int(rng.integers(n_classes))
            L = int(np.clip(rng.lognormal(3.2, 0.6), 5, 300))
            words = rng.choice(vocab, size=L, p=zipf)
            topic = rng.random(L) < 0.12
            words[topic] = rng.choice(topical[c], size=int(topic.sum()))
            out.append({"id": first + i, "text": [f"{prefix}{w}" for w in words], "label": c})
        return out

    return src, tgt, docs("s", n_train, 0), docs("t", n_test, 100000)


def bench(name, src, tgt, train, test, dev, args):
    cfg = TrainConfig(model_type="cnn", epochs=args.epochs, batch_size=100)
    t0 = time.perf_counter()
    res = train_classifier(src, tgt, train, test, dev, config=cfg, runs=1, seed=args.seed, device=args.device,
                           progress=False)
    t_ours = time.perf_counter() - t0
    if args.ours_only:
        print(f"{name}: {args.epochs} epochs, {args.device}, {torch.get_num_threads()} thread(s): clime.train "
              f"{t_ours:.1f} s, test accuracy {100 * res.runs[0]['accuracy']:.1f}", flush=True)
        return
    # the 2020 loop on the same frozen rows
    labels = label_mapping(train)
    b = MatrixBuilder(src.dim)
    tr_ids, _ = b.encode("src", src, [d["text"] for d in train])
    te_ids, _ = b.encode("tgt", tgt, [d["text"] for d in test])
    tr_ids = [a if len(a) else np.zeros(1, np.int64) for a in tr_ids]
    te_ids = [a if len(a) else np.zeros(1, np.int64) for a in te_ids]
    E = b.matrix()
    t0 = time.perf_counter()
    acc_old = run_2020(E, tr_ids, encode_labels(train, labels), te_ids, encode_labels(test, labels), len(labels),
                       args.epochs, 100, args.seed, torch.device(args.device))
    t_old = time.perf_counter() - t0
    lens = [len(d["text"]) for d in train]
    print(f"{name}: {len(train)} train docs (mean length {np.mean(lens):.0f}, max {max(lens)}), {args.epochs} epochs, "
          f"{args.device}, {torch.get_num_threads()} thread(s)")
    print(f"  clime.train  {t_ours:8.1f} s   test accuracy {100 * res.runs[0]['accuracy']:.1f}")
    print(f"  2020 loop    {t_old:8.1f} s   test accuracy {100 * acc_old:.1f}")
    print(f"  speed-up     {t_old / t_ours:8.2f}x", flush=True)


def _burner():
    while True:
        pass


def policy_bench(args):
    """Old vs new thread policy of train.py, in subprocesses, alone and side by side."""
    import multiprocessing as mp
    import os
    import subprocess
    import sys
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="bench_threads_"))
    env = dict(os.environ, PYTHONPATH=str(ROOT), TQDM_DISABLE="1")
    for lang, vec in (("en", "eng"), ("fr", "fra")):
        subprocess.run([sys.executable, str(ROOT / "binarize.py"), str(ROOT / f"data/{vec}.vec.gz"), str(work / lang),
                        "-q"], check=True, env=env)
    cores = os.cpu_count() or 1
    policies = {"old (torch default: %d threads, OpenMP default wait)" % cores: (["--threads", str(cores)], {}),
                "%d threads, OMP_WAIT_POLICY=PASSIVE" % cores: (["--threads", str(cores)], {"OMP_WAIT_POLICY": "PASSIVE"}),
                "new (train.py default: 1 thread)": ([], {})}

    keep = [int(i) for i in args.policies.split(",")]
    policies = {k: v for i, (k, v) in enumerate(policies.items()) if i in keep}

    def start(policy, i):
        extra, env_extra = policy
        cmd = [sys.executable, str(ROOT / "train.py"), "--src-emb", str(work / "en"), "--tgt-emb", str(work / "fr"),
               "--train", str(ROOT / "data/en.json"), "--test", str(ROOT / "data/fr.json"), "--type", "cnn",
               "--runs", "1", "--epochs", str(args.epochs), "--seed", str(args.seed), "--results",
               str(work / f"r{i}.json"), "-q"] + extra
        run_env = {k: v for k, v in env.items() if k != "OMP_WAIT_POLICY"}
        run_env.update(env_extra)
        return subprocess.Popen(cmd, env=run_env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    burners = [mp.Process(target=_burner, daemon=True) for _ in range(args.burner)]
    for b in burners:
        b.start()
    try:
        time.sleep(3 if burners else 0)
        load = os.getloadavg()[0]
        print(f"thread policy: CNN on the example, {args.epochs} epochs, {cores} cores, {args.burner} burner "
              f"process(es), load {load:.1f} at the start", flush=True)
        t0 = time.perf_counter()  # the start-up alone: the interpreter and torch's import
        subprocess.run([sys.executable, "-c", "import torch"], env=env, check=True)
        print(f"  python -c 'import torch': {time.perf_counter() - t0:.1f} s", flush=True)
        for name, policy in policies.items():
            for copies in sorted({1, args.copies}):
                t0 = time.perf_counter()
                procs = [start(policy, i) for i in range(copies)]
                times = []
                for p in procs:
                    try:
                        p.wait(timeout=max(1.0, args.limit - (time.perf_counter() - t0)))
                        times.append(f"{time.perf_counter() - t0:.1f}")
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()
                        times.append(f"> {args.limit:.0f}")
                    if p.returncode not in (0, None, -9):
                        raise SystemExit(f"train.py failed: {p.stderr.read()[-500:]}")
                accs = []
                for i in range(copies):
                    try:
                        accs.append(f"{100 * json.loads((work / f'r{i}.json').read_text())['accuracy_mean']:.1f}")
                    except (OSError, ValueError, KeyError):
                        accs.append("-")
                    (work / f"r{i}.json").unlink(missing_ok=True)
                print(f"  {name}, {copies} at once: seconds {', '.join(times)}; accuracy {', '.join(accs)}; "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        for b in burners:
            b.terminate()
        shutil.rmtree(work, ignore_errors=True)


def sweep_bench(args):
    """Epochs x learning rate of the CNN on the example (in-process, one thread, 3 seeds): seconds per
    run and test accuracy, the figures behind docs/experiment.md's "The CNN's time"."""
    torch.set_num_threads(1)

    def emb(name):
        words, V, _ = read_vec(ROOT / f"data/{name}.vec.gz", progress=False)
        return Embeddings(normalize(V), words)

    src, tgt = emb("eng"), emb("fra")
    train, test, dev = (read_docs(ROOT / f"data/{f}.json") for f in ("en", "fr", "fr_dev"))
    for spec in args.sweep.split(","):
        epochs, lr = spec.split("@")
        cfg = TrainConfig(model_type="cnn", epochs=int(epochs), batch_size=100, lr=float(lr))
        t0 = time.perf_counter()
        res = train_classifier(src, tgt, train, test, dev, config=cfg, runs=3, seed=args.seed, device="cpu",
                               progress=False)
        accs = [100 * r["accuracy"] for r in res.runs]
        print(f"{epochs} epochs at lr {lr}: {(time.perf_counter() - t0) / 3:.1f} s a run, test accuracy "
              f"{np.mean(accs):.1f} ({', '.join(f'{a:.1f}' for a in accs)}), epochs chosen "
              f"{[r['epoch'] for r in res.runs]}", flush=True)


def profile_bench(args):
    """cProfile of one CNN run on the example (one thread): where the time goes."""
    import cProfile
    import pstats

    torch.set_num_threads(1)
    words, V, _ = read_vec(ROOT / "data/eng.vec.gz", progress=False)
    src = Embeddings(normalize(V), words)
    words, V, _ = read_vec(ROOT / "data/fra.vec.gz", progress=False)
    tgt = Embeddings(normalize(V), words)
    train, test, dev = (read_docs(ROOT / f"data/{f}.json") for f in ("en", "fr", "fr_dev"))
    lens = [len(d["text"]) for d in train]
    print(f"{len(train)} training documents (mean length {np.mean(lens):.1f}, max {max(lens)}), {len(dev)} dev, "
          f"{args.epochs} epochs, one thread", flush=True)
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    train_classifier(src, tgt, train, test, dev, config=TrainConfig(model_type="cnn", epochs=args.epochs),
                     runs=1, seed=args.seed, device="cpu", progress=False)
    prof.disable()
    print(f"{time.perf_counter() - t0:.1f} s in all", flush=True)
    pstats.Stats(prof).sort_stats("tottime").print_stats(8)
    # the convolution alone, three ways, one batch of the example's shape, forward + backward
    B, L, D, F, widths = 100, 26, src.dim, 100, (3, 4, 5)
    x = torch.randn(B, L, D)
    convs = nn.ModuleList(nn.Conv1d(D, F, w) for w in widths)

    def conv1d(x):
        return sum(c(x.transpose(1, 2)).amax(2).sum() for c in convs)

    def unfold_matmul(x):
        return sum((x.unfold(1, w, 1).reshape(B, L - w + 1, D * w) @ c.weight.reshape(F, D * w).t()
                    + c.bias).amax(1).sum() for w, c in zip(widths, convs))

    for name, f, autocast in (("Conv1d", conv1d, False), ("unfold + matmul", unfold_matmul, False),
                              ("Conv1d, bfloat16 autocast", conv1d, True)):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            for i in range(43):
                if i == 3:
                    t0 = time.perf_counter()
                for prm in convs.parameters():
                    prm.grad = None
                f(x).backward()
        print(f"{name}: {1000 * (time.perf_counter() - t0) / 40:.1f} ms a batch (forward + backward)", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", choices=("example", "synthetic"))
    p.add_argument("--ours-only", action="store_true", help="time only clime.train (no 2020 loop)")
    p.add_argument("--policy", action="store_true", help="measure the old vs the new thread policy of train.py")
    p.add_argument("--copies", type=int, default=3, help="--policy: also this many runs side by side")
    p.add_argument("--burner", type=int, default=0, help="--policy: busy processes running meanwhile")
    p.add_argument("--limit", type=float, default=150.0, help="--policy: seconds before a run is stopped")
    p.add_argument("--policies", default="0,1,2", help="--policy: which of old (0), 2 threads passive (1), new (2)")
    p.add_argument("--sweep", help="EPOCHS@LR,... : time and accuracy of these CNN settings (3 seeds, one thread)")
    p.add_argument("--profile", action="store_true", help="cProfile one CNN run on the example, and time its convolution")
    args = p.parse_args()
    if args.profile:
        return profile_bench(args)
    if args.sweep:
        return sweep_bench(args)
    if args.policy:
        return policy_bench(args)
    torch.set_num_threads(args.threads)
    if args.only != "synthetic" and (ROOT / "data/en.json").exists():
        words, V, _ = read_vec(ROOT / "data/eng.vec.gz", progress=False)
        src = Embeddings(normalize(V), words)
        words, V, _ = read_vec(ROOT / "data/fra.vec.gz", progress=False)
        tgt = Embeddings(normalize(V), words)
        bench("example en->fr", src, tgt, read_docs(ROOT / "data/en.json"), read_docs(ROOT / "data/fr.json"),
              read_docs(ROOT / "data/fr_dev.json"), args)
    if args.only != "example":
        src, tgt, train, test = synthetic(args.seed)
        bench("synthetic (15k words, 5k docs)", src, tgt, train, test, None, args)


if __name__ == "__main__":
    main()
