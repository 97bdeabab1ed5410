#!/usr/bin/env python3
"""The dictionary oracle, exact words against base forms (the fair oracle), on the annotation
tasks an experiment made: share of keywords it can judge at all, and its judgements.

  python bench/bench_oracle_coverage.py work/experiments/evidence_fr --dict data/dict.oracle.tsv \\
      --dict data/dict.seed.tsv --src-lang en --tgt-lang fr --budget 50
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clime import simulate as sim  # noqa: E402
from clime.align import read_dictionary  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work", help="an experiment's work folder (its */ui/setup.json task folders are judged)")
    ap.add_argument("--dict", action="append", required=True)
    ap.add_argument("--src-lang", default="en")
    ap.add_argument("--tgt-lang", required=True)
    ap.add_argument("--budget", type=int, default=50)
    args = ap.parse_args()
    pairs = [p for d in args.dict for p in read_dictionary(d)]
    oracles = {"exact": sim.DictOracle(pairs), "base forms": sim.DictOracle(pairs, args.src_lang, args.tgt_lang)}
    tasks = sorted(Path(args.work).glob("**/ui/setup.json"))
    print(f"{len(tasks)} annotation tasks under {args.work}, first {args.budget} keywords each")
    print("| oracle | keywords it can judge | target neighbours similar (per task) | target not similar | unmarked (both sides) | added words |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, oracle in oracles.items():
        tot = {}
        for t in tasks:
            task = t.parent
            rows, stats = sim.simulate(sim.load_setup(task), oracle, budget=args.budget, vocab_tgt=sim.load_vocab(task))
            stats["tgt_similar"] = sum(len(r.pos2) - len(r.new2) for r in rows)
            stats["tgt_not"] = sum(len(r.neg2) for r in rows)
            for k, v in stats.items():
                tot[k] = tot.get(k, 0) + v
        n = max(1, len(tasks))
        print(f"| {name} | {100 * tot['keywords_known'] / max(1, tot['keywords']):.0f} % | {tot['tgt_similar'] / n:.1f} "
              f"| {tot['tgt_not'] / n:.1f} | {tot['unmarked'] / n:.1f} | {tot['added'] / n:.1f} |")


if __name__ == "__main__":
    main()
