#!/usr/bin/env python3
"""Benchmark: reading a 200,000 x 300 word2vec text file.

Times, each in a fresh child process (so peak memory is measured cleanly):
  (a) clime.embeddings.read_vec (what binarize.py uses): the compiled block parser when a C
      compiler is found, one thread per core; (a1) the same with one thread; (a2) the numpy
      parser that is used without a compiler (CLIME_NO_C=1), in worker processes;
  (b) the 2020-style parse: line by line, float() per value, into a preallocated torch tensor;
  (c) gensim.models.KeyedVectors.load_word2vec_format, when gensim is importable;
  (d) the whole `binarize.py` command (read + normalise + write the directory).
Prints the times, the ratios, and our peak memory against the float32 matrix plus
the vocabulary.  Targets: (a) >= 5x faster than (b), at least as fast as (c),
peak <= 1.5 x (matrix + vocabulary).  Timings on a shared machine are noisy:
run it when the machine is quiet, and compare ratios from the same run.

  python bench/bench_binarize.py            # writes the synthetic file to a temp dir first
  python bench/bench_binarize.py --words 20000 --file /tmp/small.vec
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD_PRELUDE = r"""
import json, sys, time
sys.path.insert(0, {root!r})
def hwm():  # peak RSS of this process (VmHWM; ru_maxrss would include the parent's before exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
import numpy as np
{imports}
base = hwm()
t0, c0 = time.perf_counter(), time.process_time()
{body}
dt, cpu = time.perf_counter() - t0, time.process_time() - c0
peak = hwm()
print(json.dumps({{"seconds": dt, "cpu_seconds": cpu, "peak_rss": peak, "base_rss": base, **extra}}))
"""

METHODS = {
    "ours": ("from clime.vecfile import read_vec, default_workers\nfrom clime import cparse\nimport resource",
             "words, E, info = read_vec(PATH, progress=False)\n"
             "vocab = sum(sys.getsizeof(w) for w in words) + sys.getsizeof(words)\n"
             "extra = {'n': len(words), 'matrix_bytes': E.nbytes, 'vocab_bytes': vocab,\n"
             "         'workers': default_workers(PATH), 'compiled': cparse.available()}"),
    "ours1": ("from clime.vecfile import read_vec",
              "words, E, info = read_vec(PATH, progress=False, workers=1)\n"
              "extra = {'n': len(words)}"),
    "numpy": ("import os, resource\nos.environ['CLIME_NO_C'] = '1'\nfrom clime.vecfile import read_vec",
              "words, E, info = read_vec(PATH, progress=False)\n"
              "extra = {'n': len(words),\n"
              "         'worker_peak_rss': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}"),
    "2020": ("import torch",
             "with open(PATH, encoding='utf-8') as fh:\n"
             "    n, d = map(int, fh.readline().split())\n"
             "    E = torch.zeros(n, d)\n"
             "    words = {}\n"
             "    for i, line in enumerate(fh):\n"
             "        parts = line.rstrip().split(' ')\n"
             "        words[parts[0]] = i\n"
             "        E[i] = torch.tensor([float(x) for x in parts[1:]])\n"
             "extra = {'n': len(words)}"),
    "gensim": ("from gensim.models import KeyedVectors",
               "kv = KeyedVectors.load_word2vec_format(PATH, binary=False)\n"
               "extra = {'n': len(kv.index_to_key)}"),
}


def child(method, path):
    imports, body = METHODS[method]
    code = CHILD_PRELUDE.format(root=str(ROOT), imports=imports, body=body.replace("PATH", repr(str(path))))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{method} failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def run_binarize(path, out):
    code = ("import runpy, sys, time\n"
            f"sys.argv = ['binarize.py', {str(path)!r}, {str(out)!r}, '-q']\n"
            "t0 = time.perf_counter()\n"
            "try:\n"
            f"    runpy.run_path({str(ROOT / 'binarize.py')!r}, run_name='__main__')\n"
            "except SystemExit as e:\n"
            "    assert not e.code, e.code\n"
            "hwm = [int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
            "print(time.perf_counter() - t0, hwm)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    if res.returncode != 0:
        raise RuntimeError(f"binarize.py failed:\n{res.stderr[-2000:]}")
    s, peak = res.stdout.split()
    return {"seconds": float(s), "peak_rss": int(peak)}


def generate(path, n, d, seed=0):
    """Synthetic word2vec text: 6 significant digits per value, like fastText's .vec files."""
    import numpy as np

    rng = np.random.default_rng(seed)
    fmt = " ".join(["%.6g"] * d)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"{n} {d}\n")
        for s in range(0, n, 5000):
            block = (rng.standard_normal((min(5000, n - s), d)) * 0.1).astype(np.float32)
            fh.write("".join(f"w{s + i}{'é' if (s + i) % 7 == 0 else ''} " + (fmt % tuple(r)) + "\n"
                             for i, r in enumerate(block.tolist())))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--words", type=int, default=200_000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--file", help="use (or create) this file instead of a temporary one")
    ap.add_argument("--skip", nargs="*", default=[], choices=["ours1", "numpy", "2020", "gensim", "binarize"])
    ap.add_argument("--json", help="also write the measurements here")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="clime_bench_") as tmp:
        path = Path(args.file) if args.file else Path(tmp) / "synthetic.vec"
        if not path.exists():
            t = time.perf_counter()
            print(f"writing {args.words} x {args.dim} to {path} ...", file=sys.stderr, flush=True)
            generate(path, args.words, args.dim)
            print(f"  done in {time.perf_counter() - t:.0f}s, {path.stat().st_size / 1e6:.0f} MB", file=sys.stderr)
        # warm the page cache so that no method pays the first disk read
        with open(path, "rb") as fh:
            while fh.read(1 << 24):
                pass
        res = {}
        for m in ("ours", "ours1", "numpy", "2020", "gensim"):
            if m in args.skip:
                continue
            if m == "gensim":
                try:
                    import gensim  # noqa: F401
                except ImportError:
                    print("gensim not importable: skipped", file=sys.stderr)
                    continue
            print(f"timing {m} ...", file=sys.stderr, flush=True)
            res[m] = child(m, path)
            print(f"  {res[m]['seconds']:.1f}s", file=sys.stderr, flush=True)
        if "binarize" not in args.skip:
            print("timing binarize.py ...", file=sys.stderr, flush=True)
            res["binarize"] = run_binarize(path, Path(tmp) / "out_dir")

    mb = 1 / 2**20
    ours = res["ours"]
    need = ours["matrix_bytes"] + ours["vocab_bytes"]
    lines = [f"file: {args.words} x {args.dim} word2vec text ({path.name}), machine: {os.cpu_count()} CPU(s), "
             f"python {sys.version.split()[0]}",
             f"{'method':<28}{'wall s':>9}{'CPU s':>9}{'peak RSS MiB':>14}"]
    kind = "compiled" if ours["compiled"] else "numpy"
    names = {"ours": f"(a) read_vec {kind}, {ours['workers']} thr.", "ours1": f"(a1) read_vec {kind}, 1 thr.",
             "numpy": "(a2) numpy, processes", "2020": "(b) 2020-style float() loop", "gensim": "(c) gensim",
             "binarize": "(d) binarize.py end to end"}
    for m, r in res.items():
        cpu = f"{r['cpu_seconds']:>9.1f}" if "cpu_seconds" in r else f"{'-':>9}"
        lines.append(f"{names[m]:<28}{r['seconds']:>9.1f}{cpu}{r['peak_rss'] * mb:>14.0f}")
    for m, target in (("2020", "5x"), ("gensim", "1x")):
        if m in res:
            for a in ("ours", "ours1", "numpy"):
                if a in res:
                    lines.append(f"speed-up of {names[a].split()[0]} over {names[m][:3]}: "
                                 f"{res[m]['seconds'] / res[a]['seconds']:.1f}x wall (target >= {target})")
    grown = ours["peak_rss"] - ours["base_rss"]
    lines.append(f"matrix {ours['matrix_bytes'] * mb:.0f} MiB + vocabulary {ours['vocab_bytes'] * mb:.0f} MiB "
                 f"= {need * mb:.0f} MiB")
    lines.append(f"(a) peak RSS above the interpreter's start ({ours['base_rss'] * mb:.0f} MiB): {grown * mb:.0f} MiB "
                 f"= {grown / need:.2f}x (target <= 1.5x); whole-process peak {ours['peak_rss'] / need:.2f}x")
    if "numpy" in res:
        lines.append(f"(a2) largest worker process peak RSS: {res['numpy']['worker_peak_rss'] * mb:.0f} MiB "
                     f"(forked: shares the parent's pages until they change)")
    if "binarize" in res:
        lines.append(f"(d) binarize.py whole-process peak: {res['binarize']['peak_rss'] / need:.2f}x")
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
