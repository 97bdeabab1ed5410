#!/usr/bin/env python3
"""Align two monolingual embedding spaces with an orthogonal Procrustes map fitted
on a seed dictionary, refined by self-learning (--refine), and/or measure
word-translation precision@1 (NN and CSLS).

  python align.py --src-emb embeds/en --tgt-emb embeds/fr --dict data/dict.seed.tsv \\
      --eval-dict data/dict.test.tsv --out-src embeds/en_al --out-tgt embeds/fr_al

Dictionaries are 'source<TAB>target' lines (source = the --src-emb language).
"""
import logging

from clime import cli
from clime.align import DEFAULT_HOLDOUT, DEFAULT_PATIENCE, DEFAULT_REFINE
from clime.errors import ClimeError

log = logging.getLogger("clime.align")


def main(argv=None):
    p = cli.make_parser(__doc__)
    p.add_argument("--src-emb", required=True, help="source-language embedding directory (e.g. English)")
    p.add_argument("--tgt-emb", required=True, help="target-language embedding directory")
    p.add_argument("--dict", help="training dictionary for the fit (required unless --eval-only)")
    p.add_argument("--out-src", help="output directory for the source side (required unless --eval-only)")
    p.add_argument("--out-tgt", help="output directory for the target side (required unless --eval-only)")
    p.add_argument("--direction", choices=["tgt2src", "src2tgt"], default="tgt2src",
                   help="tgt2src: rotate the target space onto the source space (the source is copied unchanged); "
                        "src2tgt: the reverse")
    p.add_argument("--iter-norm", type=cli.integer(0, 100), default=0, metavar="N",
                   help="rounds of iterative normalisation (unit rows + centred columns) of both spaces before "
                        "fitting; 0 = none (then the unmoved side is an exact copy)")
    p.add_argument("--refine", type=cli.integer(0), default=DEFAULT_REFINE, metavar="ROUNDS",
                   help="self-learning rounds after the seed fit: each induces a dictionary (CSLS mutual nearest "
                        "neighbours among the first --refine-vocab words of each side), adds it to the seed pairs "
                        "and re-fits; stops early when the induced dictionary no longer changes. 0 = plain "
                        "Procrustes on the seed dictionary")
    p.add_argument("--refine-vocab", type=cli.integer(1), default=20000, metavar="N",
                   help="self-learning induces pairs among the first N (most frequent) words of each side")
    p.add_argument("--holdout", type=cli.real(0, 1, hi_open=True), default=DEFAULT_HOLDOUT, metavar="FRACTION",
                   help="self-learning guard: this fraction of the seed's source words (drawn with --seed) is held "
                        "out, never fitted on; the round with the best held-out P@1 is kept and the output map "
                        "re-fitted on the whole seed plus that round's induced pairs. 0 = no guard (the last round "
                        "is kept)")
    p.add_argument("--patience", type=cli.integer(1), default=DEFAULT_PATIENCE, metavar="ROUNDS",
                   help="self-learning stops after this many rounds without a better held-out P@1")
    p.add_argument("--min-pairs", type=cli.integer(1), default=10,
                   help="refuse a training dictionary with fewer in-vocabulary pairs than this")
    p.add_argument("--eval-dict", help="test dictionary: print word-translation precision@1 (NN and CSLS)")
    p.add_argument("--csls-k", type=cli.integer(1), default=10,
                   help="neighbourhood size of the CSLS penalties (self-learning and evaluation)")
    p.add_argument("--eval-only", action="store_true",
                   help="do not fit: only evaluate --src-emb/--tgt-emb as given with --eval-dict")
    p.add_argument("--results", metavar="FILE",
                   help="write a JSON summary (p1_nn, p1_csls, n_pairs_used, n_eval, ...)")
    p.add_argument("--save-map", metavar="FILE.npy", help="also save the fitted orthogonal matrix W")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (for the self-learning's and the evaluation's neighbour search)")
    args = cli.parse(p, argv)

    import numpy as np

    from clime import align as al
    from clime.embeddings import check_same_dim, load_embeddings, save_embeddings
    from clime.fileio import check_paths, staged, write_json
    from clime.neighbors import resolve_device

    if args.eval_only:
        if not args.eval_dict:
            raise ClimeError("--eval-only needs --eval-dict")
        if args.dict or args.out_src or args.out_tgt:
            raise ClimeError("--eval-only does not fit: drop --dict, --out-src and --out-tgt")
    else:
        missing = [o for o, v in (("--dict", args.dict), ("--out-src", args.out_src), ("--out-tgt", args.out_tgt))
                   if not v]
        if missing:
            raise ClimeError(f"missing {', '.join(missing)} (or use --eval-only)")
    check_paths({"--out-src": args.out_src, "--out-tgt": args.out_tgt, "--results": args.results,
                 "--save-map": args.save_map},
                {"--src-emb": args.src_emb, "--tgt-emb": args.tgt_emb, "--dict": args.dict, "--eval-dict": args.eval_dict})
    device = str(resolve_device(args.device))

    src = load_embeddings(args.src_emb)
    tgt = load_embeddings(args.tgt_emb)
    check_same_dim(src, tgt)
    results = {"src_emb": args.src_emb, "tgt_emb": args.tgt_emb}
    eval_pairs = None
    if args.eval_dict:  # read (and validate) before spending time on the fit
        eval_pairs = al.read_dictionary(args.eval_dict)

    with staged() as stage:  # every output appears together at the end, or none does
        if not args.eval_only:
            pairs, n_total = al.dictionary_pairs(args.dict, src, tgt, args.min_pairs, "training dictionary")
            log.info("fitting on %d in-vocabulary pairs (of %d in %s), direction %s, iterative normalisation %d",
                     len(pairs), n_total, args.dict, args.direction, args.iter_norm)
            fit_info = {"dict": args.dict, "n_pairs_used": len(pairs), "n_pairs_in_file": n_total,
                        "direction": args.direction, "iter_norm": args.iter_norm, "refine": args.refine}
            if args.refine == 0:
                S, T, W = al.align(src.vectors, tgt.vectors, pairs, args.direction, args.iter_norm)
            else:
                evaluate = None
                if eval_pairs is not None:
                    evaluate = al.round_evaluator(src.words, tgt.words, eval_pairs, args.csls_k, device)
                S, T, W, history = al.align(src.vectors, tgt.vectors, pairs, args.direction, args.iter_norm,
                                            refine=args.refine, vocab=args.refine_vocab, csls_k=args.csls_k,
                                            device=device, evaluate=evaluate, progress=not cli.progress_disabled(),
                                            holdout=args.holdout, patience=args.patience, holdout_seed=args.seed)
                fit_info.update(refine_vocab=args.refine_vocab, holdout=args.holdout, patience=args.patience,
                                rounds=history[:-1], chosen_round=history[-1]["round"],
                                stopped=history[-1]["stopped"], n_heldout_pairs=history[-1]["heldout_pairs"],
                                n_pairs_final=history[-1]["pairs"])
            moved = "tgt" if args.direction == "tgt2src" else "src"
            written = []
            for emb, vectors, out, origin, side in ((src, S, args.out_src, args.src_emb, "src"),
                                                    (tgt, T, args.out_tgt, args.tgt_emb, "tgt")):
                meta = {k: v for k, v in emb.meta.items() if k not in ("n_words", "dim", "clime_version")}
                meta["align"] = dict(fit_info, input=str(origin), role="mapped" if side == moved else "reference")
                written.append(save_embeddings(out, vectors, emb.words, meta, stage=stage))
            if args.save_map:
                with open(stage.file(args.save_map), "wb") as fh:
                    np.save(fh, W, allow_pickle=False)
            results.update(fit_info)
            results.update(out_src=args.out_src, out_tgt=args.out_tgt)
            src, tgt = load_embeddings(written[0]), load_embeddings(written[1])

        if eval_pairs is not None:
            n_inv = len(al._index_pairs(src, tgt, eval_pairs))
            if n_inv == 0:
                raise ClimeError(f"none of the {len(eval_pairs)} test pairs has both words in the vocabularies",
                                 args.eval_dict)
            p_nn, n_eval = al.translation_precision(src, tgt, eval_pairs, "nn", device=device, csls_k=args.csls_k)
            p_csls, _ = al.translation_precision(src, tgt, eval_pairs, "csls", device=device, csls_k=args.csls_k)
            results.update(p1_nn=p_nn, p1_csls=p_csls, n_eval=n_eval, eval_dict=args.eval_dict,
                           n_eval_pairs_in_vocab=n_inv, n_eval_pairs_in_file=len(eval_pairs), csls_k=args.csls_k)
            print(f"word translation P@1 on {n_eval} source words ({args.eval_dict}): "
                  f"NN {100 * p_nn:.1f}%  CSLS(k={args.csls_k}) {100 * p_csls:.1f}%", flush=True)
        results.setdefault("n_pairs_used", 0)
        if args.results:
            results.setdefault("p1_nn", None)
            results.setdefault("p1_csls", None)
            results.setdefault("n_eval", 0)
            results["args"] = vars(args)
            write_json(stage.file(args.results), results, indent=2)
    if not args.eval_only:
        log.info("wrote %s and %s", args.out_src, args.out_tgt)
    return 0


if __name__ == "__main__":
    cli.run(main)
