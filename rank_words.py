#!/usr/bin/env python3
"""Rank the source-language words of the training documents by how much the
classifier's loss depends on them: salience(w) = sum over the documents d that
contain w of ||d loss(d) / d e_w||, times log(N / (1 + df(w))).

Writes "word<TAB>score<TAB>class<TAB>share" lines, highest first, to stdout or --output:
the class is the label the word is most salient for (per training document of the label)
and share the part of the word's salience that label holds; readers of the older
"word<TAB>score" format ignore the extra fields (--no-class writes only those two).  Use a CNN
model (train.py --type cnn): averaged-vector models (lr, dan) give generic
keywords.
"""

import logging
import sys

from clime import cli
from clime.errors import ClimeError

log = logging.getLogger("clime.rank")


def main(argv=None):
    p = cli.make_parser(__doc__)
    p.add_argument("model", help="model checkpoint written by train.py --output")
    p.add_argument("--train", help="labelled source-language documents (default: the checkpoint's --train)")
    p.add_argument("--src-emb", help="source embedding directory (default: the checkpoint's --src-emb)")
    p.add_argument("--output", "-o", help="write the ranking here (atomically) instead of stdout")
    p.add_argument("--top", type=cli.integer(0), default=0, help="keep only the K best words (0: all)")
    p.add_argument("--min-df", type=cli.integer(0), default=1, help="drop words in fewer documents than this")
    p.add_argument("--max-df", type=cli.real(0, 1, lo_open=True), default=1.0,
                   help="drop words in more than this fraction of the documents (e.g. 0.1 drops very common words)")
    p.add_argument("--stopwords", help="file of words never to rank, one a line ('#' comments)")
    p.add_argument("--keep-symbols", action="store_true",
                   help="also rank tokens without any letter (punctuation, numbers)")
    p.add_argument("--aggregate", choices=("sum", "mean"), default="sum",
                   help="sum: the paper's salience (sum over documents); mean: divide by df(w), which favours "
                        "topical over frequent words (use with --min-df 3)")
    p.add_argument("--no-class", action="store_true",
                   help="write only word<TAB>score (no class columns; train.py --keyword-rank needs them)")
    p.add_argument("--batch-size", type=cli.integer(1), default=256, help="documents per gradient batch")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto: cuda when available")
    args = cli.parse(p, argv)
    cli.torch_threads()  # one CPU thread unless CLIME_THREADS (docs/experiment.md, Threads)
    if args.top < 0 or args.min_df < 0 or args.batch_size < 1:
        raise ClimeError("--top and --min-df must be >= 0, --batch-size >= 1")
    if not 0 < args.max_df <= 1:
        raise ClimeError("--max-df must be in (0, 1]")

    from clime.embeddings import load_embeddings
    from clime.fileio import atomic_open, check_paths
    from clime.neighbors import resolve_device
    from clime.rank import format_ranking, rank_words, read_stopwords, warn_if_generic
    from clime.text import read_docs
    from clime.train import load_checkpoint

    cli.seed_everything(args.seed)
    device = resolve_device(args.device)
    ck, model = load_checkpoint(args.model, device)
    paths = ck.get("paths") or {}
    train_path = args.train or paths.get("train")
    src_path = args.src_emb or paths.get("src")
    if not train_path:
        raise ClimeError("the checkpoint does not name its training documents: give --train", args.model)
    if not src_path:
        raise ClimeError("the checkpoint does not name its source embeddings: give --src-emb", args.model)
    check_paths({"--output": args.output}, {"model": args.model, "--train": train_path, "--src-emb": src_path,
                                            "--stopwords": args.stopwords})
    stop = read_stopwords(args.stopwords) if args.stopwords else set()
    src = load_embeddings(src_path)
    src.meta.setdefault("path", src_path)
    docs = read_docs(train_path)
    ranked = rank_words(ck, model, src, docs, device=device, min_df=args.min_df, max_df=args.max_df,
                        stopwords=stop, letters_only=not args.keep_symbols, batch_size=args.batch_size,
                        train_path=train_path, aggregate=args.aggregate, with_class=not args.no_class)
    if args.aggregate == "sum":
        warn_if_generic(ranked, docs)
    if args.top:
        ranked = ranked[: args.top]
    lines = format_ranking(ranked)
    if args.output:
        with atomic_open(args.output) as fh:
            fh.write(lines)
        log.info("ranked %d words into %s", len(ranked), args.output)
    else:
        sys.stdout.write(lines)
    return 0


if __name__ == "__main__":
    cli.run(main)
