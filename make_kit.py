#!/usr/bin/env python3
"""Bring your own data: turn TSV/CSV documents (a text and a label column), two raw
word-vector files and a bilingual dictionary into a kit the pipeline and
experiment.py read (tokenised JSON lines, categories.txt, a seeded seed / oracle /
test split of the dictionary, the vector subset with a rough seed alignment).

  python make_kit.py --src-lang en --tgt-lang fr --out mykit \\
      --src-train en_train.tsv --tgt-train fr_train.tsv --tgt-dev fr_dev.tsv --tgt-test fr_test.tsv \\
      --src-vec en.vec.gz --tgt-vec fr.vec.gz --dict en-fr.tsv --test-words 1500

Files: see docs/make_kit.md.  The output directory is replaced whole, and only
once every file is made.  Deterministic for a fixed --seed.
"""
import json
import logging

from clime import cli
from clime.kit import DEFAULT_SRC_SHARE

log = logging.getLogger("clime.kit")


def main(argv=None):
    p = cli.make_parser(__doc__)
    p.add_argument("--out", required=True, help="output directory (replaced)")
    p.add_argument("--src-lang", required=True, help="source language code (ISO 639-1, e.g. en): names and tokeniser")
    p.add_argument("--tgt-lang", required=True, help="target language code (e.g. fr, fi)")
    p.add_argument("--src-train", nargs="+", required=True, metavar="FILE",
                   help="labelled source documents, TSV or CSV with a header (joined in order)")
    p.add_argument("--tgt-train", nargs="+", required=True, metavar="FILE",
                   help="target documents for the annotator (labels, if the files have them, go to "
                        "<tgt>_labeled.json, for the simulated label annotator only)")
    p.add_argument("--tgt-dev", nargs="*", default=[], metavar="FILE",
                   help="labelled target dev documents (the split that chooses defaults)")
    p.add_argument("--tgt-test", nargs="+", required=True, metavar="FILE", help="labelled target test documents")
    p.add_argument("--src-vec", required=True, help="source word vectors, word2vec text (.vec, .vec.gz) or .bin")
    p.add_argument("--tgt-vec", required=True, help="target word vectors, same formats")
    p.add_argument("--dict", required=True, help="training dictionary, 'source<TAB>target' lines")
    p.add_argument("--test-dict", help="word-translation test dictionary (or draw one with --test-words)")
    p.add_argument("--test-words", type=int, default=0, metavar="N",
                   help="without --test-dict: N source words drawn from --dict, with all their pairs, as the test "
                        "dictionary (and left out of the seed and oracle)")
    p.add_argument("--seed-pairs", type=int, default=200, help="pairs drawn at random for dict.seed.tsv")
    p.add_argument("--top", type=int, default=5000, help="most frequent words kept per language beside the needed ones")
    p.add_argument("--digits", type=int, default=4, help="significant digits of the written vectors")
    p.add_argument("--prealign", action="store_true",
                   help="write the target vectors already mapped onto the source space by Procrustes on the seed "
                        "pairs (default: each language in its own space; align.py fits the map, and its guard "
                        "needs seed pairs that the vectors were never fitted on)")
    p.add_argument("--no-dict-vectors", action="store_true",
                   help="no vectors for the training dictionary's words beyond the documents' words, the --top most "
                        "frequent and the test dictionary's words; the training dictionary keeps only the pairs "
                        "inside them (a smaller kit)")
    p.add_argument("--categories", help="label names in label order: a file (one a line) or a comma list "
                                        "(default: order of first appearance in --src-train)")
    p.add_argument("--text-column", default="text", help="column of the document text")
    p.add_argument("--label-column", default="label", help="column of the label name")
    p.add_argument("--id-column", help="column of a document id (default: documents numbered in file order)")
    p.add_argument("--tgt-text-column", help="the target files' text column, when their header differs "
                                             "(default: --text-column)")
    p.add_argument("--tgt-label-column", help="the target files' label column (default: --label-column)")
    p.add_argument("--tgt-id-column", help="the target files' id column (default: --id-column)")
    p.add_argument("--src-size", type=cli.integer(0), metavar="N",
                   help="parallel files (source and target documents share ids): N of the parallel documents "
                        "become source training documents, the rest the target pool (<tgt>_unlabeled/_labeled); "
                        f"default: {int(100 * DEFAULT_SRC_SHARE)}%% of them")
    p.add_argument("--split-seed", type=cli.integer(0), default=0, help="seed of the parallel split's shuffle")
    p.add_argument("--no-split", action="store_true",
                   help="keep parallel files as given (the same sentence may then be in the source training "
                        "documents and among the target documents); without it they are split, with a warning")
    p.add_argument("--summary", metavar="FILE.json", help="also write the summary (counts, token coverage) as JSON")
    args = cli.parse(p, argv)

    from clime.fileio import write_json
    from clime.kit import build_kit

    summary = build_kit(
        args.out, args.src_lang, args.tgt_lang, args.src_train, args.tgt_train, args.tgt_test, args.src_vec,
        args.tgt_vec, args.dict, tgt_dev=args.tgt_dev, test_dict=args.test_dict, test_words=args.test_words,
        seed_pairs=args.seed_pairs, top=args.top, digits=args.digits, seed=args.seed, categories=args.categories,
        text_col=args.text_column, label_col=args.label_column, id_col=args.id_column,
        dict_vectors=not args.no_dict_vectors, prealign=args.prealign, progress=not args.quiet, tgt_text_col=args.tgt_text_column,
        tgt_label_col=args.tgt_label_column, tgt_id_col=args.tgt_id_column, split=not args.no_split,
        src_size=args.src_size, split_seed=args.split_seed)
    cov = summary["coverage"]
    log.info("%s: %d %s / %d %s words; %d source documents, %d target test, %d dev, %d target documents; "
             "seed %d / oracle %d / test %d pairs", summary["out"], summary["src_words"], args.src_lang,
             summary["tgt_words"], args.tgt_lang, summary["src_docs"], summary["test_docs"], summary["dev_docs"],
             summary["tgt_docs"], summary["seed_pairs"], summary["oracle_pairs"], summary["test_pairs"])
    for side in ("source", "target"):
        log.info("%s token coverage: %.1f%% of tokens, %.1f%% of word tokens (%.1f%% with %d apostrophe aliases)",
                 side, 100 * cov[side]["tokens_covered"], 100 * cov[side]["words_covered"],
                 100 * cov[side + "_kit"]["words_covered"],
                 summary["src_aliases" if side == "source" else "tgt_aliases"])
    if args.summary:
        write_json(args.summary, summary, indent=1)
    else:
        log.debug("%s", json.dumps(summary))


if __name__ == "__main__":
    cli.run(main)
