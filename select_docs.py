#!/usr/bin/env python3
"""Choose the unlabelled target documents the annotator should label (active learning)
and write them to ui_data/<task>/documents.json for the app's document page and for
simulate.py --oracle doc.

  python select_docs.py --model work/example/model.pt --tgt-emb embeds/fr --docs data/fr_unlabeled.json \\
      --task example --n 50 --strategy max-entropy --categories data/categories.txt --exclude data/fr.json

Strategies: max-entropy (the documents the model is least sure of; the CLIME paper's),
random, diverse (uncertainty-weighted k-means++ over document vectors: uncertain and
spread over the pool, no near-duplicates), balanced-entropy (the most uncertain documents
within each predicted class, with per-class quotas from the source label mix, so the
picks do not pile up in one or two classes).  Run it after preprocess_ui.py, which
replaces the task folder whole.
"""
import argparse
import logging
import time
from pathlib import Path

from clime import cli
from clime.errors import ClimeError

log = logging.getLogger("clime.select_docs")


def main(argv=None):
    from clime import active

    p = cli.make_parser(__doc__)
    p.add_argument("--model", required=True, default=argparse.SUPPRESS, help="classifier checkpoint (train.py --output)")
    p.add_argument("--tgt-emb", required=True, default=argparse.SUPPRESS,
                   help="target-language embedding directory the model is applied with")
    p.add_argument("--docs", required=True, default=argparse.SUPPRESS,
                   help="candidate target-language documents (JSON lines; labels, if any, are ignored)")
    p.add_argument("--task", required=True, default=argparse.SUPPRESS, help="task name (the folder UI_DATA/TASK)")
    p.add_argument("--ui-data", default="ui_data", help="folder holding the task folders")
    p.add_argument("--out-dir", default=None, help="the task folder itself (overrides --ui-data/--task)")
    p.add_argument("-n", "--n", type=int, default=50, help="documents to choose")
    p.add_argument("--strategy", choices=active.STRATEGIES, default=active.DEFAULT_STRATEGY, help="how to choose")
    p.add_argument("--categories", default=None,
                   help="category names, one a line, in label order (default: the task's setup.json, else the labels)")
    p.add_argument("--exclude", action="append", default=[], metavar="FILE",
                   help="documents never to offer, matched by their tokens (the test and dev sets, documents "
                        "already labelled); repeatable")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="torch device")
    args = cli.parse(p, argv)
    cli.torch_threads()  # one CPU thread unless CLIME_THREADS (docs/experiment.md, Threads)

    import torch

    from clime.embeddings import load_embeddings
    from clime.preprocess import check_task_name, read_categories
    from clime.simulate import load_setup
    from clime.text import read_docs
    from clime.train import load_checkpoint

    check_task_name(args.task)
    if args.n < 1:
        raise ClimeError(f"--n must be at least 1, got {args.n}")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ClimeError("--device cuda: no CUDA device available")
    task_dir = Path(args.out_dir) if args.out_dir else Path(args.ui_data) / args.task
    t0 = time.perf_counter()
    ck, model = load_checkpoint(args.model, device=args.device)
    tgt = load_embeddings(args.tgt_emb)
    if tgt.dim != ck["sizes"]["dim"]:
        raise ClimeError(f"dimension {tgt.dim} differs from the model's ({ck['sizes']['dim']})", args.tgt_emb)
    docs = read_docs(args.docs, labeled=False)
    exclude = active.exclusion_set(args.exclude)
    if args.categories:
        names, where = read_categories(args.categories), args.categories
    elif (task_dir / "setup.json").is_file() and load_setup(task_dir).get("categories"):
        names, where = [str(c) for c in load_setup(task_dir)["categories"]], task_dir / "setup.json"
    else:
        names, where = None, None
    categories = active.category_table(ck["labels"], names, where)
    prior = active.label_prior(ck, args.model) if args.strategy == "balanced-entropy" else None
    picked = active.choose(model, ck["labels"], tgt, docs, args.n, args.strategy, seed=args.seed, exclude=exclude,
                           device=args.device, prior=prior)
    sources = {"model": str(args.model), "tgt_emb": str(args.tgt_emb), "docs": str(args.docs),
               "exclude": list(args.exclude)}
    path = active.write_selection(task_dir, picked, categories, args.strategy, args.seed, sources)
    log.info("%s: %d of %d documents chosen by %s (mean entropy %.3f) -> %s (%.1f s)", args.task, len(picked),
             len(docs), args.strategy, sum(d["entropy"] for d in picked) / max(len(picked), 1), path,
             time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    cli.run(main)
