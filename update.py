#!/usr/bin/env python3
"""Refine cross-lingual embeddings from annotator feedback (feedback CSV -> new embedding directories).

Moves the keywords and judged words so that accepted words get closer to their
keyword and rejected ones farther (--objective), optionally re-fits the
cross-lingual map on the accepted translations first (--realign), and writes
new source and target embedding directories. Retrain with train.py on them.
"""
import argparse

from clime import cli
from clime.errors import ClimeError


def main(argv=None):
    from clime import update as up

    p = cli.make_parser(__doc__)
    p.add_argument("--feedback", nargs="+", required=True, metavar="CSV",
                   help="feedback CSV file(s); several annotators are merged by majority, ties dropped")
    p.add_argument("--src-emb", required=True, help="source embedding directory (binarize.py)")
    p.add_argument("--tgt-emb", required=True, help="target embedding directory")
    p.add_argument("--out-src", required=True, help="output source embedding directory (replaced atomically)")
    p.add_argument("--out-tgt", required=True, help="output target embedding directory (replaced atomically)")
    g = p.add_argument_group("local objective")
    g.add_argument("--objective", choices=sorted(up.OBJECTIVES), default=None,
                   help="giving it turns on --local; default hinge. Similarity in the objective: " + "; ".join(f"{k}: {v}" for k, v in up.OBJECTIVES.items()))
    g.add_argument("--reg", type=cli.NON_NEGATIVE, default=1.0, help="lambda: weight of sum ||e - e_orig||^2")
    g.add_argument("--iter", type=cli.integer(0), default=10000, help="maximum Adam steps")
    g.add_argument("--lr", type=cli.POSITIVE, default=0.001, help="Adam learning rate")
    g.add_argument("--tol", type=cli.NON_NEGATIVE, default=1e-6,
                   help="stop when the loss improves by less than tol*max(1,|loss|) over --check-every steps "
                        "(0: run all --iter steps)")
    g.add_argument("--check-every", type=cli.integer(1), default=50, help="steps between early-stopping checks")
    g.add_argument("--margin-pos", type=cli.COSINE, default=0.7, help="hinge: accepted pairs pulled up to this cosine")
    g.add_argument("--margin-neg", type=cli.COSINE, default=0.3,
                   help="hinge/retrofit: rejected pairs pushed down to this cosine")
    g.add_argument("--renorm", action="store_true", help="rescale touched rows to their original lengths afterwards")
    g.add_argument("--local", action=argparse.BooleanOptionalAction, default=None,
                   help="also run the local objective (--objective) after --realign (default: off unless "
                        "--objective is given: on the dev split of both example kits the re-fit alone did best, "
                        "docs/results.md)")
    g = p.add_argument_group("propagation to unjudged words")
    g.add_argument("--propagate", action="store_true",
                   help="move each untouched word by a similarity-weighted average of the displacements of its "
                        "nearest touched words (same language)")
    g.add_argument("--propagate-k", type=cli.integer(1), default=10, help="touched neighbours per untouched word")
    g.add_argument("--propagate-threshold", type=cli.real(0, 1, hi_open=True), default=0.5,
                   help="only touched neighbours with cosine >= this count; the move is scaled by "
                        "(best cosine - threshold) / (1 - threshold)")
    g.add_argument("--propagate-temperature", type=cli.POSITIVE, default=0.1,
                   help="softmax temperature over the neighbours' cosines")
    g = p.add_argument_group("re-fitting the cross-lingual map")
    g.add_argument("--realign", action=argparse.BooleanOptionalAction, default=True,
                   help="re-fit the orthogonal target->source map on the seed dictionary plus the accepted "
                        "(keyword, target word) pairs, without rejected pairs, and apply it to the whole "
                        "target space before the local objective")
    g.add_argument("--seed-dict", metavar="TSV",
                   help="seed dictionary for --realign (source<TAB>target); without it identical strings plus "
                        "mutual nearest neighbours are used")
    g.add_argument("--feedback-weight", type=cli.NON_NEGATIVE, default=1.0,
                   help="weight of an accepted feedback pair relative to a seed pair in --realign")
    g.add_argument("--refine", type=cli.integer(0), default=up.DEFAULT_REFINE, metavar="ROUNDS",
                   help="--realign re-fits by self-learning (as align.py --refine), seeded by the seed dictionary "
                        "plus the accepted pairs, which stay fixed; rejected pairs are never induced. "
                        "0 = one Procrustes fit on those pairs")
    g.add_argument("--refine-vocab", type=cli.integer(1), default=20000, metavar="N",
                   help="self-learning induces pairs among the first N words of each side")
    g.add_argument("--csls-k", type=cli.integer(1), default=10, help="neighbourhood size of the self-learning's CSLS")
    g.add_argument("--mnn-threshold", type=cli.COSINE, default=0.5,
                   help="without --seed-dict: minimum cosine of a mutual-nearest-neighbour seed pair")
    g.add_argument("--mnn-max-words", type=cli.integer(1), default=20000,
                   help="without --seed-dict: mutual nearest neighbours among this many first rows of each vocabulary")
    g = p.add_argument_group("feedback")
    g.add_argument("--n-keywords", type=cli.integer(1), metavar="K", help="use only the first K keywords of each file")
    g.add_argument("--strict", action="store_true",
                   help="a judged word or keyword missing from the vocabularies is an error (default: skipped, reported)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    args = cli.parse(p, argv)
    cli.torch_threads()  # one CPU thread unless CLIME_THREADS (docs/experiment.md, Threads)

    from clime.embeddings import check_same_dim, load_embeddings, save_embeddings
    from clime.fileio import check_paths, staged
    from clime.neighbors import resolve_device

    if args.reg < 0:
        raise ClimeError(f"--reg must be >= 0, got {args.reg}")
    if args.iter < 0 or args.lr <= 0:
        raise ClimeError("--iter must be >= 0 and --lr > 0")
    if args.n_keywords is not None and args.n_keywords < 1:
        raise ClimeError(f"--n-keywords must be >= 1, got {args.n_keywords}")
    if args.local is None:
        args.local = args.objective is not None
    args.objective = args.objective or "hinge"
    if not args.local and not args.realign:
        raise ClimeError("--no-realign without --local leaves nothing to do (add --local to run the local objective)")
    if args.propagate_k < 1 or not 0 <= args.propagate_threshold < 1 or args.propagate_temperature <= 0:
        raise ClimeError("--propagate-k must be >= 1, --propagate-threshold in [0, 1), --propagate-temperature > 0")
    if args.seed_dict and not args.realign:
        cli.log.info("--seed-dict is only used with --realign; ignored")
    if args.feedback_weight < 0:
        raise ClimeError(f"--feedback-weight must be >= 0, got {args.feedback_weight}")
    check_paths({"--out-src": args.out_src, "--out-tgt": args.out_tgt},
                {"--feedback": args.feedback, "--src-emb": args.src_emb, "--tgt-emb": args.tgt_emb,
                 "--seed-dict": args.seed_dict})
    device = str(resolve_device(args.device))

    judgements = up.load_feedback(args.feedback, args.n_keywords)
    src = load_embeddings(args.src_emb)
    tgt = load_embeddings(args.tgt_emb)
    check_same_dim(src, tgt)
    progress = not cli.progress_disabled()
    cfg = up.UpdateConfig(
        local=up.LocalConfig(objective=args.objective, reg=args.reg, iters=args.iter, lr=args.lr, tol=args.tol,
                             check_every=args.check_every, margin_pos=args.margin_pos, margin_neg=args.margin_neg,
                             renorm=args.renorm, device=device, progress=progress),
        run_local=args.local, realign=args.realign, seed_dict=args.seed_dict if args.realign else None,
        feedback_weight=args.feedback_weight, refine=args.refine, refine_vocab=args.refine_vocab,
        csls_k=args.csls_k, mnn_threshold=args.mnn_threshold, mnn_max_words=args.mnn_max_words,
        propagate=args.propagate,
        prop=up.PropagateConfig(k=args.propagate_k, threshold=args.propagate_threshold,
                                temperature=args.propagate_temperature))
    S, T, report = up.update(src, tgt, judgements, cfg, strict=args.strict)

    info = {"feedback": [str(f) for f in args.feedback], "objective": args.objective, "reg": args.reg,
            "iterations": report.get("local", {}).get("iterations", 0), "max_iterations": args.iter,
            "lr": args.lr, "tol": args.tol, "seed": args.seed, "mode": report["mode"], "renorm": args.renorm,
            "n_keywords": args.n_keywords, "report": report, "config": cfg.as_dict()}
    with staged() as stage:  # both directories appear together, or neither does
        for emb, vectors, out, origin in ((src, S, args.out_src, args.src_emb), (tgt, T, args.out_tgt, args.tgt_emb)):
            meta = {k: v for k, v in emb.meta.items() if k not in ("n_words", "dim", "clime_version", "update")}
            meta["update"] = dict(info, input=str(origin))
            save_embeddings(out, vectors, emb.words, meta, stage=stage)
    cli.log.info("wrote %s (%d words) and %s (%d words); mode %s", args.out_src, len(src), args.out_tgt, len(tgt),
                 report["mode"])
    return 0


if __name__ == "__main__":
    cli.run(main)
