#!/usr/bin/env python3
"""Convert word2vec text embeddings (fastText .vec, GloVe, MUSE/VecMap output; .gz;
word2vec .bin) into an embedding directory: E.npy (float32 [N, D]), words.json, meta.json.

  python binarize.py data/eng.vec.gz embeds/en
"""
import logging
import time
from pathlib import Path

from clime import __version__, cli
from clime.errors import ClimeError

log = logging.getLogger("clime.binarize")


def main(argv=None):
    p = cli.make_parser(__doc__)
    p.add_argument("input", help="word2vec text file (header 'N D' optional), .gz or .bin")
    p.add_argument("output", help="embedding directory to write (replaced whole, only on success)")
    p.add_argument("--max-words", type=cli.integer(1), metavar="N",
                   help="keep only the first N distinct words (files are sorted by frequency)")
    p.add_argument("--lower", action="store_true",
                   help="lower-case the words; on a collision the first occurrence wins")
    p.add_argument("--normalize", choices=["center-unit", "unit", "none"], default="center-unit",
                   help="center-unit: mean-centre the columns, then unit-length rows (the research default); "
                        "unit: unit-length rows only; none: keep the values as read")
    p.add_argument("--skip-bad", action="store_true",
                   help="skip malformed lines with a warning and a count instead of stopping")
    p.add_argument("--workers", type=cli.integer(0, 256), default=0, metavar="N",
                   help="threads (processes without a C compiler) that parse blocks of lines in parallel; "
                        "0: one per CPU core (at most 8) for files over 32 MB, else 1; the result is the same "
                        "either way")
    args = cli.parse(p, argv, seed=False)

    from clime.embeddings import normalize, save_embeddings
    from clime.vecfile import read_vec
    from clime.fileio import check_paths, require_dir_target

    if args.workers < 0:
        raise ClimeError(f"--workers must be 0 (automatic) or more, got {args.workers}")
    if args.max_words is not None and args.max_words < 1:
        raise ClimeError(f"--max-words must be at least 1, got {args.max_words}")
    out = Path(args.output)
    check_paths({"output": out}, {"input": args.input})
    require_dir_target(out, "an embedding directory")
    t0 = time.perf_counter()
    words, E, info = read_vec(args.input, max_words=args.max_words, lower=args.lower, skip_bad=args.skip_bad,
                              progress=not cli.progress_disabled(), workers=args.workers or None)
    t_read = time.perf_counter() - t0
    normalize(E, args.normalize, inplace=True)
    meta = {"source": str(args.input), "n_words": len(words), "dim": int(E.shape[1]),
            "normalization": args.normalize, "lower": args.lower, "max_words": args.max_words,
            "duplicates_dropped": info["duplicates"], "bad_lines_skipped": info["skipped"],
            "header": list(info["header"]) if info["header"] else None, "tool": f"clime {__version__} binarize.py"}
    save_embeddings(out, E, words, meta)
    extra = []
    if info["duplicates"]:
        extra.append(f"{info['duplicates']} duplicate word(s) dropped, first kept")
    if info["skipped"]:
        extra.append(f"{info['skipped']} bad line(s) skipped")
    log.info("%s: %d words x %d dims, normalisation %s, read in %.1fs -> %s%s", args.input, len(words),
             E.shape[1], args.normalize, t_read, out, f" ({'; '.join(extra)})" if extra else "")
    log.debug("parser: %s, %s worker(s)", info["parser"], info["workers"])
    return 0


if __name__ == "__main__":
    cli.run(main)
