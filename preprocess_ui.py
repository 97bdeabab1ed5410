#!/usr/bin/env python3
"""Prepare an annotation task for the app: keywords, their neighbours in both
languages, concordances and autocomplete vocabularies, written to ui_data/<task>/.

Example:
  python preprocess_ui.py --src-emb embeds/en --tgt-emb embeds/fr -k 5 --task example \\
      --rank work/example/word_rank.txt --max 50 --src-doc data/en.json --tgt-doc data/fr_unlabeled.json \\
      --src-lang ENGLISH --tgt-lang FRENCH --categories data/categories.txt
"""
import argparse
import logging
import time

from clime import cli
from clime.errors import ClimeError

log = logging.getLogger("clime")


def main(argv=None):
    p = cli.make_parser(__doc__)
    p.add_argument("--src-emb", required=True, default=argparse.SUPPRESS, help="source-language embedding directory (binarize.py)")
    p.add_argument("--tgt-emb", required=True, default=argparse.SUPPRESS, help="target-language embedding directory, aligned with the source")
    p.add_argument("-k", type=cli.integer(1), default=5, help="neighbours shown per keyword in each language")
    p.add_argument("--task", required=True, default=argparse.SUPPRESS, help="task name: letters, digits, '-' and '_' (a folder name and URL)")
    p.add_argument("--rank", required=True, default=argparse.SUPPRESS, help="word ranking, best first: 'word<TAB>score' (or a bare word) a line")
    p.add_argument("--max", type=cli.integer(1), default=50, help="number of keywords (first ranked words in the source vocabulary)")
    p.add_argument("--src-doc", required=True, default=argparse.SUPPRESS, help="source-language documents (JSON lines; labels not needed)")
    p.add_argument("--tgt-doc", required=True, default=argparse.SUPPRESS, help="target-language documents (JSON lines, unlabelled)")
    p.add_argument("--src-f", type=cli.integer(1), default=20000,
                   help="source vocabulary: words of --src-doc among the first SRC_F rows of the embeddings")
    p.add_argument("--tgt-f", type=cli.integer(1), default=20000,
                   help="target vocabulary: words of --tgt-doc among the first TGT_F rows of the embeddings")
    p.add_argument("--src-lang", default="ENGLISH", help="source language name shown in the app")
    p.add_argument("--tgt-lang", default="FRENCH", help="target language name shown in the app")
    p.add_argument("--categories", required=True, default=argparse.SUPPRESS, help="category names, one a line, in label order")
    p.add_argument("--csls", action="store_true", help="rank neighbours by CSLS (k=10) instead of cosine")
    p.add_argument("--contexts", type=cli.integer(0), default=5, help="concordance windows per word, each from a different document")
    p.add_argument("--window", type=cli.integer(0), default=10, help="tokens on each side of the word in a concordance window")
    p.add_argument("--out-dir", default=argparse.SUPPRESS, help="output directory [default: ui_data/<task>]")
    p.add_argument("--all", action="store_true",
                   help="also write neighbors_all.json: the neighbours of every source vocabulary word")
    p.add_argument("--device", default="auto", help="torch device for the search: auto, cpu or cuda")
    args = cli.parse(p, argv)

    from clime import preprocess
    from clime.fileio import check_paths, require_dir_target

    preprocess.check_task_name(args.task)
    if args.device not in ("auto", "cpu") and not args.device.startswith("cuda"):
        raise ClimeError(f"unknown --device {args.device!r} (auto, cpu or cuda)")
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ClimeError("--device cuda asked for, but torch sees no CUDA GPU")
    out_dir = getattr(args, "out_dir", None) or f"ui_data/{args.task}"
    check_paths({"--out-dir": out_dir}, {"--src-emb": args.src_emb, "--tgt-emb": args.tgt_emb, "--rank": args.rank,
                                         "--src-doc": args.src_doc, "--tgt-doc": args.tgt_doc,
                                         "--categories": args.categories})
    require_dir_target(out_dir, "the task folder to write")
    t0 = time.perf_counter()
    summary = preprocess.prepare_task(
        out_dir, args.task, args.src_emb, args.tgt_emb, args.rank, args.src_doc, args.tgt_doc, args.categories,
        k=args.k, max_keywords=args.max, src_f=args.src_f, tgt_f=args.tgt_f, src_lang=args.src_lang,
        tgt_lang=args.tgt_lang, csls=args.csls, contexts=args.contexts, window=args.window,
        all_neighbours=args.all, device=args.device, args=vars(args), progress=not cli.progress_disabled())
    log.info("task %r ready in %s: %d keywords, vocabularies %d / %d words (%.1f s)", args.task,
             summary["out_dir"], summary["keywords"], summary["src_vocab"], summary["tgt_vocab"],
             time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    cli.run(main)
