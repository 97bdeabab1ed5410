#!/usr/bin/env python3
"""Write an embedding directory as word2vec text (with its 'N D' header line),
gzipped when the output name ends in .gz, or as word2vec binary (the format of
word2vec.c and gensim's binary=True) when it ends in .bin.

  python export_vec.py embeds/en_new embeds/eng_new.vec
  python export_vec.py embeds/en_new embeds/eng_new.bin
"""
import logging

from clime import cli

log = logging.getLogger("clime.export_vec")


def main(argv=None):
    p = cli.make_parser(__doc__)
    p.add_argument("input", help="embedding directory (E.npy or E.pt, and words.json)")
    p.add_argument("output", help="file to write: word2vec text (.vec, .txt; .gz compresses) or word2vec binary (.bin)")
    p.add_argument("--precision", type=cli.integer(1, 17), default=9,
                   help="significant digits per value in text output; 9 reproduces float32 values exactly "
                        "(binary output is always exact)")
    args = cli.parse(p, argv, seed=False)

    from clime.embeddings import load_embeddings
    from clime.vecfile import write_bin, write_vec
    from clime.fileio import check_paths

    check_paths({"output": args.output}, {"input": args.input})
    emb = load_embeddings(args.input)
    if args.output.endswith(".bin"):
        write_bin(args.output, emb.words, emb.vectors)
        log.info("wrote %s (word2vec binary, %d words x %d dims)", args.output, len(emb), emb.dim)
    else:
        write_vec(args.output, emb.words, emb.vectors, precision=args.precision,
                  progress=not cli.progress_disabled())
        log.info("wrote %s (%d words x %d dims, %d significant digits)", args.output, len(emb), emb.dim,
                 args.precision)
    return 0


if __name__ == "__main__":
    cli.run(main)
