#!/usr/bin/env python3
"""Train a cross-lingual classifier on frozen embeddings: source-language labels in,
target-language test accuracy out.

Each language looks its words up in its own embedding directory.  Models: cnn
(Kim 2014: widths 3,4,5 x 100 filters), dan (deep averaging network), lr
(logistic regression on the mean vector).  The model of each run is chosen by
accuracy on --dev, or, without --dev, on a fixed 10 percent of the training documents
(the same documents for every seed); the test set is only reported.
"""

import logging

from clime import cli
from clime.errors import ClimeError
from clime.selftrain import SelfTrainConfig

log = logging.getLogger("clime.train")


def main(argv=None):
    p = cli.make_parser(__doc__)
    p.add_argument("--src-emb", required=True, help="source-language embedding directory (binarize.py)")
    p.add_argument("--tgt-emb", required=True, help="target-language embedding directory")
    p.add_argument("--train", required=True, help="labelled source-language documents (JSON lines)")
    p.add_argument("--test", required=True, help="labelled target-language documents (JSON lines)")
    p.add_argument("--tgt-train", action="append", default=[], metavar="FILE",
                   help="labelled target-language documents added to the training set, embedded with --tgt-emb "
                        "(repeatable; e.g. the annotator's document labels); never used for model selection")
    p.add_argument("--tgt-weight", type=float, default=1.0,
                   help="loss weight of each --tgt-train document relative to a source document")
    p.add_argument("--self-train", action="append", default=[], metavar="FILE",
                   help="unlabelled target-language documents (JSON lines) for self-training: rounds of class-balanced "
                        "pseudo-labels from the current classifier (repeatable; documents shared with --dev or "
                        "--test are dropped with a warning)")
    p.add_argument("--self-train-rounds", type=cli.integer(0), default=SelfTrainConfig.rounds,
                   help="self-training rounds (each retrains from scratch; 0: the pool only serves "
                        "--keyword-features)")
    p.add_argument("--self-train-fraction", type=cli.real(0, 1, lo_open=True), default=SelfTrainConfig.fraction,
                   help="share of the pool pseudo-labelled per round (round r takes r times this), split over the "
                        "classes by the source label mix, most confident first")
    p.add_argument("--self-train-weight", type=cli.POSITIVE, default=SelfTrainConfig.weight,
                   help="loss weight of a pseudo-labelled document relative to a source document")
    p.add_argument("--self-train-threshold", type=cli.real(0, 1, hi_open=True), default=SelfTrainConfig.threshold,
                   help="minimum confidence (highest class probability) of a pseudo-label")
    p.add_argument("--keyword-features", action="append", default=[], metavar="FEEDBACK.csv",
                   help="keyword judgements (the app's or simulate.py's feedback CSV; repeatable): the accepted and "
                        "added target words of each keyword become labelled features of the keyword's class "
                        "(needs --keyword-rank)")
    p.add_argument("--keyword-rank", metavar="FILE",
                   help="the keyword ranking with classes (rank_words.py --output) the feedback was made from")
    p.add_argument("--keyword-weight", type=cli.POSITIVE, default=1.0,
                   help="loss weight of each keyword-feature document relative to a source document")
    p.add_argument("--keyword-min-hits", type=cli.integer(1), default=1,
                   help="a --self-train document is labelled by the keyword features when its feature words vote "
                        "for one class by at least this many words more than for any other")
    p.add_argument("--keyword-max-df", type=cli.real(0, 1, lo_open=True), default=0.1,
                   help="keyword feature words found in more than this fraction of the --self-train documents are "
                        "not used (an accepted function word would label much of the pool with one class)")
    p.add_argument("--dev", help="labelled dev documents for model selection (default: hold out --holdout of --train)")
    p.add_argument("--dev-lang", choices=("auto", "src", "tgt"), default="auto",
                   help="language of --dev; auto picks the embeddings that cover more of its tokens")
    p.add_argument("--holdout", type=cli.real(0, 1, hi_open=True), default=0.1,
                   help="fraction of --train held out for model selection when there is no --dev "
                        "(0: keep the last epoch)")
    p.add_argument("--type", dest="model_type", choices=("cnn", "dan", "lr"), default="cnn", help="model")
    p.add_argument("--runs", type=cli.integer(1), default=10, help="training runs, with seeds seed, seed+1, ...")
    p.add_argument("--epochs", type=cli.integer(1), default=30, help="training epochs per run")
    p.add_argument("--batch-size", type=cli.integer(1), default=100, help="documents per training batch")
    p.add_argument("--lr", type=cli.POSITIVE,
                   help="Adam learning rate (default: 1e-3 for cnn, 1e-2 for dan, 5e-2 for lr; chosen on the "
                        "example's dev split)")
    p.add_argument("--clip", type=cli.NON_NEGATIVE, default=5.0, help="gradient-norm clipping (0: none)")
    p.add_argument("--dropout", type=cli.real(0, 1, hi_open=True), help="dropout (default: 0.5 for cnn and dan, 0 for lr)")
    p.add_argument("--filters", type=cli.integer(1), default=100, help="cnn: filters per width")
    p.add_argument("--widths", default="3,4,5", help="cnn: filter widths, comma-separated")
    p.add_argument("--hidden", type=cli.integer(1), default=300, help="dan: hidden layer size")
    p.add_argument("--layers", type=cli.integer(0), default=3, help="dan: hidden layers")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto: cuda when available")
    p.add_argument("--threads", type=cli.integer(0, 1024), default=0, help="torch CPU threads (0: clime.cli's default, 1, or CLIME_THREADS)")
    p.add_argument("--output", help="save the best run's model (by dev accuracy) here, for rank_words.py")
    p.add_argument("--results", help="write per-run numbers, mean, std and the arguments here (JSON)")
    args = cli.parse(p, argv)

    import torch

    from clime import train
    from clime.embeddings import load_embeddings
    from clime.fileio import check_paths, write_json

    cli.torch_threads(args.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    cli.seed_everything(args.seed)
    try:
        widths = tuple(int(w) for w in args.widths.split(","))
    except ValueError:
        raise ClimeError(f"--widths must be comma-separated integers, got {args.widths!r}") from None
    for name in ("runs", "epochs", "batch_size", "filters", "hidden"):
        if getattr(args, name) < 1:
            raise ClimeError(f"--{name.replace('_', '-')} must be at least 1")
    if not 0 <= args.holdout < 1:
        raise ClimeError("--holdout must be in [0, 1)")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ClimeError("--device cuda: no CUDA device available")

    if args.keyword_features and not args.keyword_rank:
        raise ClimeError("--keyword-features needs --keyword-rank (the ranking with classes the keywords came from)")
    check_paths({"--output": args.output, "--results": args.results},
                {"--src-emb": args.src_emb, "--tgt-emb": args.tgt_emb, "--train": args.train, "--test": args.test,
                 "--dev": args.dev, "--keyword-rank": args.keyword_rank})
    src = load_embeddings(args.src_emb)
    tgt = load_embeddings(args.tgt_emb)
    if src.dim != tgt.dim:
        raise ClimeError(f"dimension {tgt.dim} differs from the source embeddings ({args.src_emb}: {src.dim})",
                         args.tgt_emb)
    train_docs = train.read_labelled(args.train)
    test_docs = train.read_labelled(args.test)
    dev_docs = train.read_labelled(args.dev) if args.dev else None
    tgt_train_docs = [d for path in args.tgt_train for d in train.read_labelled(path)]
    pool_docs = [d for path in args.self_train for d in train.read_labelled(path, labeled=False)]
    self_cfg = SelfTrainConfig(rounds=args.self_train_rounds, fraction=args.self_train_fraction,
                               weight=args.self_train_weight, threshold=args.self_train_threshold)
    self_cfg.check()
    features = None
    if args.keyword_features:
        from clime.keyword_features import word_classes

        features = word_classes(args.keyword_features, args.keyword_rank, train.label_mapping(train_docs, args.train))
    if not (args.tgt_weight > 0 and args.tgt_weight < float("inf")):
        raise ClimeError(f"--tgt-weight must be a positive number, got {args.tgt_weight}")
    config = train.TrainConfig(model_type=args.model_type, epochs=args.epochs, batch_size=args.batch_size,
                               lr=args.lr, clip=args.clip, dropout=args.dropout, filters=args.filters,
                               widths=widths, hidden=args.hidden, layers=args.layers, holdout=args.holdout,
                               dev_lang=args.dev_lang)
    args.lr = config.learning_rate()  # the results and the checkpoint record the rate used
    names = {"src": args.src_emb, "tgt": args.tgt_emb, "train": args.train, "test": args.test, "dev": args.dev,
             "tgt_train": ", ".join(args.tgt_train) or None, "self_train": ", ".join(args.self_train) or None,
             "features": "keyword features of " + ", ".join(args.keyword_features) if args.keyword_features else None}

    def report(i, run):
        dev = "" if run["dev_accuracy"] is None else f"dev accuracy {100 * run['dev_accuracy']:.1f}, "
        print(f"run {i + 1}/{args.runs} seed {run['seed']}: {dev}test accuracy {100 * run['accuracy']:.1f}, "
              f"macro-F1 {100 * run['macro_f1']:.1f} (epoch {run['epoch']}, {run['seconds']:.1f} s)", flush=True)

    result = train.train_classifier(src, tgt, train_docs, test_docs, dev_docs, config, runs=args.runs,
                                    seed=args.seed, device=args.device, names=names, on_run=report,
                                    tgt_train_docs=tgt_train_docs, tgt_weight=args.tgt_weight,
                                    self_train_docs=pool_docs, self_train=self_cfg, keyword_features=features,
                                    feature_weight=args.keyword_weight, keyword_min_hits=args.keyword_min_hits,
                                    keyword_max_df=args.keyword_max_df)
    summ = result.summary()
    print(f"accuracy {100 * summ['accuracy_mean']:.1f} ± {100 * summ['accuracy_std']:.1f} ({args.runs} runs), "
          f"macro-F1 {100 * summ['macro_f1_mean']:.1f} ± {100 * summ['macro_f1_std']:.1f}", flush=True)
    arg_dict = train._plain(vars(args))
    if args.output:
        ck = train.make_checkpoint(result, args.model_type, arg_dict, names)
        train.save_checkpoint(args.output, ck)
        log.info("saved the model of run %d (seed %d) to %s", result.best_run + 1,
                 result.runs[result.best_run]["seed"], args.output)
    if args.results:
        keys = ("seed", "accuracy", "macro_f1", "dev_accuracy", "epoch", "seconds", "self_train_rounds")
        obj = {"runs": [{k: r[k] for k in keys if k in r} for r in result.runs], **summ,
               "labels": train._plain(result.labels), "label_counts": result.label_counts,
               "coverage": result.coverage, "args": arg_dict,
               "tgt_train": {"files": list(args.tgt_train), "documents": len(tgt_train_docs), "weight": args.tgt_weight}}
        if args.self_train:
            obj["self_train"] = {"files": list(args.self_train), "documents": len(pool_docs),
                                 "rounds": args.self_train_rounds, "fraction": args.self_train_fraction,
                                 "weight": args.self_train_weight, "threshold": args.self_train_threshold}
        if features is not None:
            obj["keyword_features"] = {"files": list(args.keyword_features), "rank": args.keyword_rank,
                                       "words": len(features), "weight": args.keyword_weight,
                                       "min_hits": args.keyword_min_hits, "max_df": args.keyword_max_df}
        write_json(args.results, obj, indent=2)
    return 0


if __name__ == "__main__":
    cli.run(main)
