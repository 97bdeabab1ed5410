#!/usr/bin/env python3
"""A simulated annotator: judge the neighbours of ui_data/<task>/setup.json with a
dictionary or label oracle and write a feedback CSV in the annotation app's format;
or (--oracle doc) label the documents of ui_data/<task>/documents.json (select_docs.py)
from a labelled target file and write them as JSON lines {"id", "text", "label"}.

  python simulate.py --task example --oracle dict --dict data/dict.oracle.tsv --out feedbacks/sim_dict.csv
  python simulate.py --task example --oracle label --docs-src data/en.json \\
      --docs-tgt data/fr_labeled.json --out feedbacks/sim_label.csv
  python simulate.py --task example --oracle doc --docs-tgt data/fr_labeled.json --out feedbacks/sim_docs.jsonl

Keep evaluation honest: the dictionary must be disjoint from the one word-translation
precision is measured on, and the labelled target documents must not be the test set.
"""
import logging
from pathlib import Path

from clime import cli
from clime import simulate as sim
from clime.errors import ClimeError

log = logging.getLogger("clime.simulate")


def main(argv=None):
    p = cli.make_parser(__doc__)
    p.add_argument("--task", required=True, help="task name (its files are in UI_DATA/TASK)")
    p.add_argument("--ui-data", default="ui_data", help="folder holding the task folders")
    p.add_argument("--task-dir", default=None, help="the task folder itself (overrides --ui-data/--task)")
    p.add_argument("--oracle", choices=["dict", "label", "doc"], default="dict",
                   help="who judges: dict or label judge keywords, doc labels the chosen documents")
    p.add_argument("--dict", action="append", default=[], metavar="FILE",
                   help="bilingual dictionary source<TAB>target for --oracle dict (repeatable; first translation listed = best)")
    p.add_argument("--docs-src", help="labelled source-language documents for --oracle label")
    p.add_argument("--docs-tgt", help="labelled target-language documents for --oracle label and doc (never the test set)")
    p.add_argument("--min-count", type=int, default=3, help="label oracle: documents a word needs before it is judged")
    p.add_argument("--min-share", type=float, default=0.5, help="label oracle: least share of the strongest class")
    p.add_argument("--margin", type=float, default=0.1, help="label oracle: strongest class share minus the second's must exceed this")
    p.add_argument("--budget", type=int, default=None,
                   help="judge only the first K keywords (--oracle doc: label the first K documents) (default: all)")
    p.add_argument("--noise", type=float, default=0.0,
                   help="flip each judgement with this probability (--oracle doc: give another category)")
    p.add_argument("--no-add", action="store_true", help="do not add words (new2) with the dict oracle")
    p.add_argument("--out", required=True, help="feedback CSV to write (--oracle doc: JSON lines), atomically")
    args = cli.parse(p, argv)
    if args.budget is not None and args.budget < 0:
        raise ClimeError(f"--budget must be >= 0, got {args.budget}")
    task_dir = Path(args.task_dir) if args.task_dir else Path(args.ui_data) / args.task
    if args.oracle == "doc":
        stats = sim.run_documents(task_dir, args.docs_tgt, args.out, budget=args.budget, noise=args.noise,
                                  seed=args.seed)
        log.info("doc oracle: %d documents, %d labelled, %d unknown, %d changed by noise -> %s", stats["documents"],
                 stats["labelled"], stats["unknown"], stats["flipped"], args.out)
        return 0
    oracle = sim.make_oracle(args.oracle, args.dict, args.docs_src, args.docs_tgt,
                             min_count=args.min_count, min_share=args.min_share, margin=args.margin)
    stats = sim.run(task_dir, oracle, args.out, budget=args.budget, noise=args.noise, seed=args.seed,
                    add_words=not args.no_add)
    log.info("%s oracle: %d keywords, %d judgements (%d similar, %d not similar, %d added), "
             "%d left unmarked, %d flipped by noise -> %s",
             args.oracle, stats["keywords"], stats["judgements"], stats["similar"], stats["not_similar"],
             stats["added"], stats["unmarked"], stats["flipped"], args.out)
    return 0


if __name__ == "__main__":
    cli.run(main)
