#!/usr/bin/env python3
"""Check the CUDA path of training and neighbour search, and time it against the CPU.

Run on a machine with an NVIDIA GPU (from the repository root):
    python bench/gpu_check.py --out /tmp/gpu_check
It binarizes the example, trains the CNN on --device cuda and on --device cpu
(same seed) and compares accuracies and times, then runs exact neighbour search
(cosine and CSLS) on a synthetic 200,000 x 300 space on both devices and checks
that they return the same neighbours.  Prints one JSON summary (also written to
OUT/gpu_check.json).  Without CUDA it says so and exits 1.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def sh(args, env):
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"failed: {' '.join(args)}")
    return dt, proc.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="work/gpu_check")
    ap.add_argument("--runs", type=int, default=2, help="training runs per device")
    ap.add_argument("--n", type=int, default=200_000, help="synthetic vocabulary size for neighbour search")
    args = ap.parse_args()
    import numpy as np
    import torch

    from clime.neighbors import topk

    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), TQDM_DISABLE="1")
    report = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}

    emb = out / "embeds"
    sh(["binarize.py", "data/eng.vec.gz", str(emb / "en"), "-q"], env)
    sh(["binarize.py", "data/fra.vec.gz", str(emb / "fr"), "-q"], env)
    for dev in ("cuda", "cpu"):
        res = out / f"train_{dev}.json"
        dt, _ = sh(["train.py", "--src-emb", str(emb / "en"), "--tgt-emb", str(emb / "fr"),
                    "--train", "data/en.json", "--test", "data/fr.json", "--type", "cnn",
                    "--runs", str(args.runs), "--device", dev, "--results", str(res),
                    "--output", str(out / f"model_{dev}.pt"), "-q"], env)
        r = json.loads(res.read_text())
        report[f"train_{dev}"] = {"seconds": round(dt, 2), "accuracy_mean": r["accuracy_mean"],
                                  "accuracy_std": r["accuracy_std"],
                                  "runs": [round(x["accuracy"], 4) for x in r["runs"]]}
    dt, top = sh(["rank_words.py", str(out / "model_cuda.pt"), "--train", "data/en.json", "--top", "10",
                  "--device", "cuda", "-q"], env)
    report["rank_cuda"] = {"seconds": round(dt, 2), "top10": [line.split("\t")[0] for line in top.splitlines()]}

    g = np.random.default_rng(0)
    base = g.standard_normal((args.n, 300), dtype=np.float32)
    queries = base[:50]
    for method in ("cosine", "csls"):
        res = {}
        for dev in ("cuda", "cpu"):
            topk(queries, base, 5, exclude=range(50), method=method, device=dev)  # warm-up
            if dev == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            idx, _ = topk(queries, base, 5, exclude=range(50), method=method, device=dev)
            res[dev] = (time.perf_counter() - t, idx)
        report[f"neighbors_50x{args.n}_{method}"] = {
            "cuda_s": round(res["cuda"][0], 4), "cpu_s": round(res["cpu"][0], 4),
            "same_neighbours": bool((res["cuda"][1] == res["cpu"][1]).all())}
    t = time.perf_counter()
    topk(base, base, 10, exclude=range(args.n), device="cuda", chunk=8192)
    torch.cuda.synchronize()
    report[f"full_table_{args.n}x{args.n}_cuda_s"] = round(time.perf_counter() - t, 2)
    text = json.dumps(report, indent=2)
    (out / "gpu_check.json").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
