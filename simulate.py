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
from clime.fileio import check_paths

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
    p.add_argument("--src-lang", default=None,
                   help="dict oracle: language of the dictionary's source side (ISO 639-1 code or name), for matching "
                        "base forms (default: the task's src_lang in setup.json)")
    p.add_argument("--tgt-lang", default=None,
                   help="dict oracle: language of the target side (e.g. fr, fi); the oracle judges inflected forms "
                        "through their base form on both sides (Snowball stemmers) (default: the task's tgt_lang in "
                        "setup.json; exact words when neither names one)")
    p.add_argument("--exact", action="store_true", help="dict oracle: exact words only, even with --tgt-lang")
    p.add_argument("--docs-src", help="labelled source-language documents for --oracle label")
    p.add_argument("--docs-tgt", help="labelled target-language documents for --oracle label and doc (never the test set)")
    p.add_argument("--min-count", type=cli.integer(0), default=3, help="label oracle: documents a word needs before it is judged")
    p.add_argument("--min-share", type=cli.FRACTION, default=0.5, help="label oracle: least share of the strongest class")
    p.add_argument("--margin", type=cli.real(-1, 1), default=0.1, help="label oracle: strongest class share minus the second's must exceed this")
    p.add_argument("--budget", type=cli.integer(0), default=None,
                   help="judge only the first K keywords (--oracle doc: label the first K documents) (default: all)")
    p.add_argument("--noise", type=cli.FRACTION, default=0.0,
                   help="flip each judgement with this probability (--oracle doc: give another category)")
    p.add_argument("--no-add", action="store_true", help="do not add words (new2) with the dict oracle")
    p.add_argument("--out", required=True, help="feedback CSV to write (--oracle doc: JSON lines), atomically")
    p.add_argument("--stats", metavar="FILE.json", help="also write the counts (keywords, keywords the oracle knows, "
                                                        "judgements, ...) as JSON")
    args = cli.parse(p, argv)
    if args.budget is not None and args.budget < 0:
        raise ClimeError(f"--budget must be >= 0, got {args.budget}")
    task_dir = Path(args.task_dir) if args.task_dir else Path(args.ui_data) / args.task
    if args.oracle == "doc":
        check_paths({"--out": args.out}, {"--docs-tgt": args.docs_tgt,
                                          "documents.json": str(task_dir / "documents.json")})
        stats = sim.run_documents(task_dir, args.docs_tgt, args.out, budget=args.budget, noise=args.noise,
                                  seed=args.seed)
        log.info("doc oracle: %d documents, %d labelled, %d unknown, %d changed by noise -> %s", stats["documents"],
                 stats["labelled"], stats["unknown"], stats["flipped"], args.out)
        return 0
    check_paths({"--out": args.out}, {"--dict": args.dict, "--docs-src": args.docs_src, "--docs-tgt": args.docs_tgt,
                                      "setup.json": str(task_dir / "setup.json"),
                                      "vocab_tgt.json": str(task_dir / "vocab_tgt.json")})
    src_lang = tgt_lang = None
    if args.oracle == "dict":
        src_lang, tgt_lang, how = sim.oracle_languages(sim.load_setup(task_dir), args.src_lang, args.tgt_lang, args.exact)
        log.info("dict oracle: %s", how)
    oracle = sim.make_oracle(args.oracle, args.dict, args.docs_src, args.docs_tgt,
                             min_count=args.min_count, min_share=args.min_share, margin=args.margin,
                             src_lang=src_lang, tgt_lang=tgt_lang)
    stats = sim.run(task_dir, oracle, args.out, budget=args.budget, noise=args.noise, seed=args.seed,
                    add_words=not args.no_add)
    if args.stats:
        from clime.fileio import write_json

        write_json(args.stats, stats, indent=1)
    log.info("%s oracle: %d keywords (%d known to the oracle itself, %d with a judgement: update.py's "
             "'keyword(s)'), %d judgements (%d similar, %d not similar, %d added), %d left unmarked, "
             "%d flipped by noise -> %s",
             args.oracle, stats["keywords"], stats["keywords_known"], stats["keywords_judged"], stats["judgements"],
             stats["similar"], stats["not_similar"], stats["added"], stats["unmarked"], stats["flipped"], args.out)
    return 0


if __name__ == "__main__":
    cli.run(main)
