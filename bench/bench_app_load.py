#!/usr/bin/env python3
"""Load benchmark of the annotation app: N simulated annotators on loopback for a bounded time.

Starts `app.py` in a subprocess (its own SQLite database in a temp folder, the default
settings otherwise), then N threads each play an annotator with http.client over a
keep-alive connection: open the start page, start, and for each keyword load the page,
post the page view, mark words, sometimes type into autocomplete and add a word, open a
concordance, then Next.  Annotators arrive spread over the first 2 s.  Prints requests/s and p50/p95/p99 latency, overall and per kind.

  python bench/bench_app_load.py                 # 20 annotators, 20 s, 100 ms mean think time
  python bench/bench_app_load.py --think-ms 0    # saturation: no pause between requests
Uses ui_data/example when it exists (else a small synthetic task).
"""

import argparse
import http.client
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, port, stats, lock):
        self.port, self.stats, self.lock = port, stats, lock
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = None
        self.token = None

    def request(self, kind, method, path, body=None):
        headers = {}
        if self.cookie:
            headers["Cookie"] = self.cookie
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
            headers["X-CSRF-Token"] = self.token
        t0 = time.perf_counter()
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt:
                    raise
        dt = time.perf_counter() - t0
        sc = resp.getheader("Set-Cookie")
        if sc:
            self.cookie = sc.split(";", 1)[0]
        with self.lock:
            self.stats.setdefault(kind, []).append(dt)
            self.stats.setdefault("_trace", []).append((t0, dt, kind, path))
            if resp.status >= 400:
                self.stats.setdefault("_errors", []).append((kind, resp.status, payload[:100]))
        return resp.status, payload


def annotator(port, task, user, setup, deadline, think, seed, stats, lock):
    rng = random.Random(seed)
    c = Client(port, stats, lock)

    def pause():
        if think > 0:
            time.sleep(rng.uniform(0, 2 * think))

    time.sleep(rng.uniform(0, 2.0))  # annotators do not all arrive in the same millisecond
    _, html = c.request("page", "GET", f"/{task}/{user}")
    c.token = re.search(rb'name="csrf-token" content="([^"]+)"', html).group(1).decode()
    api = f"/api/{task}/{user}/"
    c.request("post", "POST", api + "start", {})
    kws = setup["keywords"]
    vocab = setup["_vocab_tgt"]
    page = 1
    while time.time() < deadline:
        kw = kws[page - 1]
        pause()
        c.request("page", "GET", f"/{task}/{user}/{page}")
        c.request("post", "POST", api + "view", {"page": page})
        words = [("src", n["word"]) for n in kw["src"]] + [("tgt", n["word"]) for n in kw["tgt"]]
        for lang, w in rng.sample(words, min(len(words), 6)):
            if time.time() >= deadline:
                return
            pause()
            c.request("post", "POST", api + "mark", {"page": page, "lang": lang, "word": w,
                                                     "mark": rng.choice(["pos", "neg", None])})
        if rng.random() < 0.5:
            lang, w = rng.choice(words)
            pause()
            c.request("api", "GET", f"/api/{task}/contexts?lang={lang}&word={quote(w)}")
        if vocab and rng.random() < 0.3:
            target = rng.choice(vocab)
            for n in range(1, min(4, len(target)) + 1):
                pause()
                c.request("api", "GET", f"/api/{task}/complete?lang=tgt&q={quote(target[:n])}")
            shown = {n["word"] for n in kw["tgt"]}
            if target not in shown:
                c.request("post", "POST", api + "add", {"page": page, "lang": "tgt", "word": target})
        pause()
        c.request("post", "POST", api + "next", {"page": page})
        page = page % len(kws) + 1


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))] if xs else float("nan")


def run_once(args, db, tmp, ui, task, setup):
    """One measured run of the app on database URL ``db``; returns the results dict."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if db.startswith("postgresql"):  # a fresh schema on the shared throw-away cluster
        subprocess.run([sys.executable, str(ROOT / "app.py"), "db", "upgrade", "--db", db, "-q"], cwd=str(ROOT),
                       env=env, check=True)
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port),
                             "--db", db, "--ui-data", str(ui), "--feedbacks", str(tmp / "feedbacks"),
                             "--instance", str(tmp / "instance"), "-q"], cwd=str(ROOT), env=env)
    try:
        t_wait = time.time() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/")
                conn.getresponse().read()
                break
            except OSError:
                if time.time() > t_wait or proc.poll() is not None:
                    raise SystemExit("the app did not start")
                time.sleep(0.2)
        stats, lock = {}, threading.Lock()
        t0 = time.time()
        deadline = t0 + args.seconds
        threads = [threading.Thread(target=annotator, args=(port, task, f"bench{i:02d}", setup, deadline,
                                                            args.think_ms / 1000.0, i, stats, lock))
                   for i in range(args.users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.time() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    errors = stats.pop("_errors", [])
    trace = stats.pop("_trace", [])
    if os.environ.get("BENCH_TRACE"):
        t00 = min(t for t, *_ in trace)
        for t, dt, k, pth in sorted(trace, key=lambda x: -x[1])[:15]:
            print(f"   slow: at {t - t00:6.2f} s  {1000 * dt:6.1f} ms  {k} {pth[:50]}")
    allx = [x for v in stats.values() for x in v]
    res = {"database": db.split(":", 1)[0].split("+")[0], "users": args.users, "seconds": round(elapsed, 1),
           "think_ms": args.think_ms, "task": task, "cpus": os.cpu_count(), "load_avg": list(os.getloadavg()),
           "requests": len(allx), "errors": len(errors), "first_errors": errors[:3],
           "requests_per_s": round(len(allx) / elapsed, 1),
           "p50_ms": round(1000 * pct(allx, 50), 1), "p95_ms": round(1000 * pct(allx, 95), 1),
           "p99_ms": round(1000 * pct(allx, 99), 1),
           "kinds": {k: {"n": len(v), "p50_ms": round(1000 * pct(v, 50), 1), "p95_ms": round(1000 * pct(v, 95), 1),
                         "mean_ms": round(1000 * statistics.fmean(v), 1)} for k, v in sorted(stats.items())}}
    print(f"{args.users} annotators, {elapsed:.1f} s, think time {args.think_ms:.0f} ms, task {task}, "
          f"{os.cpu_count()} CPUs (load average {res['load_avg'][0]:.1f}), database {res['database']}")
    print(f"requests {res['requests']}  errors {res['errors']}  {res['requests_per_s']} req/s  "
          f"p50 {res['p50_ms']} ms  p95 {res['p95_ms']} ms  p99 {res['p99_ms']} ms")
    for k, v in res["kinds"].items():
        print(f"  {k:5} n={v['n']:6}  p50 {v['p50_ms']:6.1f} ms  p95 {v['p95_ms']:6.1f} ms  mean {v['mean_ms']:6.1f} ms")
    if errors:
        print("first errors:", errors[:3])
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=20, help="concurrent simulated annotators (default: 20)")
    ap.add_argument("--seconds", type=float, default=20.0, help="duration of each measured run (default: 20)")
    ap.add_argument("--think-ms", type=float, default=100.0,
                    help="mean pause between an annotator's actions (default: 100)")
    ap.add_argument("--task", default="example", help="task in ui_data (a synthetic one if it is missing; default: example)")
    ap.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file in a temp folder)")
    ap.add_argument("--both", action="store_true",
                    help="one run on a fresh SQLite file and one on PostgreSQL (--pg-url, else a throw-away cluster "
                         "started with scripts/pg_throwaway.sh), printed side by side")
    ap.add_argument("--pg-url", default=None, help="PostgreSQL URL for --both (default: a throw-away cluster)")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="clime_bench_"))
    ui = ROOT / "ui_data"
    task = args.task
    if not (ui / task / "setup.json").exists():
        from clime.webapp.testdata import write_demo_task

        ui = tmp / "ui_data"
        task = "demo"
        write_demo_task(ui, task)
    setup = json.loads((ui / task / "setup.json").read_text(encoding="utf-8"))
    vpath = ui / task / "vocab_tgt.json"
    setup["_vocab_tgt"] = [w for w, _ in json.loads(vpath.read_text(encoding="utf-8"))][:3000] if vpath.exists() else []
    pg_dir = None
    try:
        if not args.both:
            results = [run_once(args, args.db or f"sqlite:///{tmp / 'bench.db'}", tmp, ui, task, setup)]
        else:
            pg = args.pg_url
            if not pg:
                out = subprocess.run(["bash", str(ROOT / "scripts" / "pg_throwaway.sh"), "start"], capture_output=True,
                                     text=True)
                if out.returncode != 0:
                    raise SystemExit(f"could not start a throw-away PostgreSQL: {out.stderr.strip()[-300:]}")
                pg, pg_dir = out.stdout.split()
            results = [run_once(args, f"sqlite:///{tmp / 'bench.db'}", tmp / "sqlite", ui, task, setup),
                       run_once(args, pg, tmp / "pg", ui, task, setup)]
            print("\n| database | requests/s | p50 ms | p95 ms | p99 ms | errors |\n| --- | --- | --- | --- | --- | --- |")
            for r in results:
                print(f"| {r['database']} | {r['requests_per_s']} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} "
                      f"| {r['errors']} |")
            print(f"PostgreSQL / SQLite p95: {results[1]['p95_ms'] / max(results[0]['p95_ms'], 1e-9):.2f}x")
    finally:
        if pg_dir:
            subprocess.run(["bash", str(ROOT / "scripts" / "pg_throwaway.sh"), "stop", pg_dir], capture_output=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results if args.both else results[0], indent=1))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if not any(r["errors"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
