#!/usr/bin/env python3
"""Train word vectors for one language from your own unlabelled text (gensim FastText,
subword character n-grams), when no good pretrained vectors exist for it.

  python train_vectors.py --lang es --corpus corpus.es.txt.gz --docs data/es/es_unlabeled.json \\
      --vocab-from data/es/es.json data/es/es_dev.json data/es/es_unlabeled.json --out es.vec.gz

--corpus: plain text, one sentence or document a line; --docs: JSON-lines documents
({"text": [tokens] or "raw text", ...}); both gzip or not, tokenised with the toolkit's
tokenizer for --lang, streamed (read again every epoch, never held in memory).
Output: word2vec text when --out ends in .vec/.vec.gz/.txt (the vocabulary in frequency
order, then the --vocab-from rows), else an embedding directory (E.npy + words.json, as
binarize.py writes).  Same bytes for the same --seed with --workers 1.  Defaults chosen
on a 853,033-token corpus: docs/train_vectors.md.
"""
import logging

from clime import cli
from clime.vectors import DEFAULTS

log = logging.getLogger("clime.vectors")


def main(argv=None):
    p = cli.make_parser(__doc__)
    p.add_argument("--lang", required=True, help="language code (ISO 639-1): the tokenizer's rules")
    p.add_argument("--corpus", nargs="+", default=[], metavar="FILE",
                   help="plain-text corpus files, one sentence or document a line (.gz or not)")
    p.add_argument("--docs", nargs="+", default=[], metavar="FILE",
                   help="JSON-lines document files whose texts join the corpus (labels are ignored)")
    p.add_argument("--vocab-from", nargs="+", default=[], metavar="DOCS",
                   help="JSON-lines documents (or text files) whose words outside the vocabulary get rows "
                        "from the model's character n-grams, so every word of them has a vector")
    p.add_argument("--out", required=True, help="output: FILE.vec / FILE.vec.gz (word2vec text) or a directory")
    p.add_argument("--dim", type=cli.integer(1), default=DEFAULTS["dim"],
                   help="vector dimension (use the other language's, e.g. 300, to align them)")
    p.add_argument("--epochs", type=cli.integer(1), default=DEFAULTS["epochs"], help="passes over the corpus")
    p.add_argument("--min-count", type=cli.integer(1), default=DEFAULTS["min_count"],
                   help="words seen fewer times get no row of their own (only n-gram rows via --vocab-from)")
    p.add_argument("--window", type=cli.integer(1), default=DEFAULTS["window"], help="context window (words each side)")
    p.add_argument("--cbow", action="store_true", help="CBOW instead of skip-gram (faster, worse on small corpora)")
    p.add_argument("--min-n", type=cli.integer(1), default=DEFAULTS["min_n"], help="shortest character n-gram")
    p.add_argument("--max-n", type=cli.integer(1), default=DEFAULTS["max_n"], help="longest character n-gram")
    p.add_argument("--bucket", type=cli.integer(1), default=DEFAULTS["bucket"],
                   help="hash buckets for the n-grams (memory: about bucket x dim x 4 bytes)")
    p.add_argument("--negative", type=cli.integer(1), default=DEFAULTS["negative"], help="negative samples")
    p.add_argument("--sample", type=cli.real(0, 1), default=DEFAULTS["sample"],
                   help="down-sampling threshold of frequent words")
    p.add_argument("--workers", type=cli.integer(1, 256), default=1,
                   help="training threads; only 1 gives the same bytes for the same --seed")
    p.add_argument("--max-tokens", type=cli.integer(1), metavar="N", help="use only about the first N tokens")
    p.add_argument("--digits", type=cli.integer(1, 9), default=6, help="significant digits in a .vec output")
    p.add_argument("--stats", metavar="FILE.json", help="also write the counts and settings as JSON")
    args = cli.parse(p, argv)

    from clime.errors import ClimeError
    from clime.fileio import check_paths, require_file, write_json
    from clime.vectors import Corpus, is_vec_name, train, vocab_rows, write_vectors

    if not args.corpus and not args.docs:
        raise ClimeError("give the text to train on: --corpus FILE and/or --docs FILE")
    for f in args.vocab_from:
        require_file(f, "a document file")
    check_paths({"--out": args.out, "--stats": args.stats},
                {"--corpus": args.corpus, "--docs": args.docs, "--vocab-from": args.vocab_from})
    if not is_vec_name(args.out):
        from clime.fileio import require_dir_target

        require_dir_target(args.out, "an embedding directory (or name a .vec / .vec.gz file)")
    corpus = Corpus(args.corpus + args.docs, args.lang, max_tokens=args.max_tokens)
    settings = {"dim": args.dim, "epochs": args.epochs, "min_count": args.min_count, "window": args.window,
                "sg": 0 if args.cbow else 1, "min_n": args.min_n, "max_n": args.max_n, "negative": args.negative,
                "sample": args.sample, "bucket": args.bucket, "workers": args.workers, "seed": args.seed}
    model, info = train(corpus, progress=not args.quiet, **settings)
    words, E, added = vocab_rows(model, args.vocab_from, args.lang)
    info.update({"rows": len(words), "vocab_from_rows": added, "settings": settings,
                 "files": [str(p) for p in corpus.paths]})
    write_vectors(args.out, words, E, digits=args.digits, progress=not args.quiet,
                  meta={"source": "train_vectors.py", **{k: v for k, v in info.items() if k != "seconds"}})
    log.info("%s: %d rows (%d words of the corpus, %d from n-grams for --vocab-from words), %d tokens, %.0f s",
             args.out, len(words), info["vocab"], added, info["tokens"], info["seconds"])
    if args.stats:
        write_json(args.stats, info, indent=1)


if __name__ == "__main__":
    cli.run(main)
