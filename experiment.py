#!/usr/bin/env python3
"""The end-to-end CLIME experiment with a simulated annotator:
train -> rank -> preprocess -> simulate -> update -> retrain, repeated over seeds,
for several conditions (update objectives, realign, propagate), oracles, keyword
budgets, seed-dictionary sizes and models, producing one report
(results/<name>/report.md + report.json).

  python experiment.py --config experiments/example.json
  python experiment.py --config experiments/example.json --dev-only --name example_dev
  python experiment.py --src-emb embeds/en --tgt-emb embeds/fr --runs 5 \\
      --conditions none cosine realign realign+cosine --oracles dict label

Conditions are '+'-joined: none | dot | cosine | hinge | retrofit, realign (alone:
--realign --no-local), prop (--propagate), renorm; controls: placebo-pairs+UPDATE,
placebo-words+UPDATE (e.g. placebo-pairs+realign; see docs/experiment.md). Command-line options override
the configuration file. Finished steps are cached under the work folder, so a rerun
resumes. --dev-only evaluates on half of the dev split, selecting epochs on the other half (for
choosing defaults honestly); no arm ever trains on a dev or test document (by id or identical text).

With --minutes (or "minutes" in the configuration) it runs the CLIME paper's comparison at
equal annotator time instead: Base, Active (labelled target documents chosen by
select_docs.py), CLIME (keyword feedback) and A+C (half the time each), e.g.
  python experiment.py --config experiments/active.json
  python experiment.py --minutes 20 40 --cost-keyword 0.9 --cost-document 0.9 --strategy max-entropy
"""
import logging
from dataclasses import fields
from pathlib import Path

from clime import cli
from clime import experiment as ex
from clime import experiment_config as excfg
from clime import experiment_report as exrep
from clime.errors import ClimeError
from clime.fileio import load_json

log = logging.getLogger("clime.experiment")


def main(argv=None):
    p = cli.make_parser(__doc__)
    p.add_argument("--config", help="JSON file with any of the options below (underscores for dashes)")
    p.add_argument("--name", help="experiment name: results/<name>/, work/experiments/<name>/ (default: example)")
    g = p.add_argument_group("data (defaults: the committed example in data/)")
    data_help = {
        "src-emb": "source embedding directory (binarize.py), instead of --src-vec",
        "tgt-emb": "target embedding directory, instead of --tgt-vec",
        "src-vec": "source word2vec text file, binarized first (default: data/eng.vec.gz)",
        "tgt-vec": "target word2vec text file (default: data/fra.vec.gz)",
        "train": "labelled source documents, JSON lines (default: data/en.json)",
        "test": "labelled target test documents, reported only (default: data/fr.json)",
        "dev": "labelled target dev documents: model selection in test mode; with --dev-only one half selects, "
               "the other is evaluated (default: data/fr_dev.json)",
        "tgt-unlabeled": "target documents for the concordances (default: data/fr_unlabeled.json)",
        "tgt-labeled": "labelled target documents the label oracle reads, never the test set "
                       "(default: data/fr_labeled.json)",
        "categories": "category names, one a line in label order (default: data/categories.txt)",
        "seed-dict": "seed dictionary source<TAB>target (default: data/dict.seed.tsv)",
        "oracle-dict": "what the simulated bilingual annotator knows (default: data/dict.oracle.tsv)",
        "test-dict": "word-translation P@1 dictionary, disjoint from the others (default: data/dict.test.tsv)",
        "src-lang": "source language name for preprocess_ui.py and the oracle's stemmer (default: ENGLISH)",
        "tgt-lang": "target language name (default: FRENCH)",
    }
    for opt, text in data_help.items():
        g.add_argument(f"--{opt}", default=None, help=text)
    g = p.add_argument_group("what to compare")
    g.add_argument("--runs", type=cli.integer(1), help="seeds per condition (default: 5)")
    g.add_argument("--models", nargs="+", choices=["cnn", "dan", "lr"], help="classifiers (default: cnn)")
    g.add_argument("--conditions", nargs="+", help="update conditions (default: none dot cosine hinge realign realign+cosine)")
    g.add_argument("--objective", nargs="+", choices=list(excfg.OBJECTIVES),
                   help="shorthand: conditions none + these objectives (+ realign, realign+OBJ with --realign-variants)")
    g.add_argument("--realign-variants", action="store_true", help="with --objective: add realign and realign+OBJ")
    g.add_argument("--propagate-variants", action="store_true", help="add a +prop version of every updating condition")
    g.add_argument("--oracles", nargs="+", choices=["dict", "label"], help="simulated annotators (default: dict)")
    g.add_argument("--budgets", nargs="+", type=cli.integer(1), help="keyword budgets (default: 50)")
    g.add_argument("--seed-sizes", nargs="+", help="seed dictionary sizes: given (embeddings as they are), N pairs, full")
    g.add_argument("--noise", type=cli.FRACTION, help="simulated annotator's noise")
    g.add_argument("--start", choices=list(excfg.START_SPACES),
                   help="the space feedback starts from: selflearn (align.py --refine from the seed dictionary) "
                        "or procrustes (the seed fit alone); the report has a row for the other (default: selflearn)")
    g.add_argument("--refine", type=cli.integer(0), help="align.py --refine rounds of the self-learned space (default: align.py's)")
    g.add_argument("-k", type=cli.integer(1), help="neighbours per language shown for each keyword (default: 5)")
    g.add_argument("--draw-seed", type=cli.integer(0), help="seed of the random seed-dictionary draws for --seed-sizes N (default: 0)")
    g.add_argument("--oracle-exact", action="store_true", default=None,
                   help="dict oracle: exact words only (default: inflected forms judged through their base form, "
                        "by --src-lang/--tgt-lang)")
    g.add_argument("--p1-words", type=cli.integer(0), help="word-translation P@1: 0 = skip it, N = search the first N target "
                                                "words only (default: all)")
    g = p.add_argument_group("the comparison at equal annotator time (clime.comparison)")
    g.add_argument("--minutes", nargs="+", type=cli.real(0, lo_open=True),
                   help="annotator budgets in minutes (switches to the comparison)")
    g.add_argument("--cost-keyword", type=cli.NON_NEGATIVE, help="minutes per keyword (default: 0.9, the paper's ~50 in 45 min)")
    g.add_argument("--cost-document", type=cli.NON_NEGATIVE, help="minutes per document (default: 0.9)")
    g.add_argument("--strategy", help="select_docs.py strategy of the active arms (default: max-entropy)")
    g.add_argument("--clime-condition", help="update condition of the CLIME arms (default: realign, update.py's)")
    g.add_argument("--tgt-weight", type=cli.NON_NEGATIVE, help="train.py --tgt-weight of the document arms (default: 1)")
    g.add_argument("--arms", nargs="+", choices=["base", "active", "clime", "a+c"], help="arms (default: all four)")
    g = p.add_argument_group("how")
    g.add_argument("--dev-only", action="store_true", default=None,
                   help="evaluate on half of --dev instead of --test (epochs chosen on the other half)")
    g.add_argument("--epochs", type=cli.integer(1), help="train.py --epochs (default: train.py's)")
    g.add_argument("--train-runs", type=cli.integer(1), help="train.py --runs per training, their mean being the seed's number (default: 3, which cut the seed-to-seed spread 2.6x; docs/experiment.md)")
    g.add_argument("--device", help="--device for train.py and update.py (default: theirs)")
    g.add_argument("--jobs", type=cli.integer(1, 256), help="seeds run in parallel (default: 1; with --executor dask: "
                                                         "LocalCluster workers or dask-jobqueue jobs)")
    g.add_argument("--executor", choices=list(excfg.EXECUTORS),
                   help="local: units as threads of this process; dask: dask.distributed tasks (requirements-dask.txt) "
                        "(default: local)")
    g.add_argument("--scheduler", help="--executor dask: a scheduler address (tcp://HOST:8786), or slurm / pbs for a "
                                       "dask-jobqueue cluster from ~/.config/dask/jobqueue.yaml (default: a LocalCluster)")
    g.add_argument("--retries", type=cli.integer(0), help="--executor dask: reruns of a failed unit (default: 1)")
    g.add_argument("--work", help="work folder (default: work/experiments/<name>)")
    g.add_argument("--out", help="report folder (default: results/<name>)")
    g.add_argument("--keep-embeddings", action="store_true", default=None, help="keep every updated embedding directory")
    g.add_argument("--update-args", help="extra update.py arguments, one string (e.g. '--reg 2')")
    g.add_argument("--train-args", help="extra train.py arguments, one string")
    args = cli.parse(p, argv)

    conf = {}
    if args.config:
        path = Path(args.config)
        conf = load_json(path)
        if not isinstance(conf, dict):
            raise ClimeError("expected a JSON object", path)
    from clime import comparison

    names = {f.name for f in fields(comparison.CompareConfig)}
    for key, value in vars(args).items():
        if key in names and value is not None and key != "seed":
            conf[key] = value
    if args.seed != 0 or "seed" not in conf:
        conf["seed"] = args.seed
    for key in ("update_args", "train_args"):
        if getattr(args, key):
            conf[key] = excfg.split_args(getattr(args, key), "--" + key.replace("_", "-"))
    excfg.check_name(conf.get("name", "example"), args.config)
    if conf.get("update_args"):
        excfg.check_script_args("update.py", conf["update_args"], "update_args")
    if conf.get("train_args"):
        excfg.check_script_args("train.py", conf["train_args"], "train_args")
    if args.objective:
        conds = ["none"] + list(args.objective)
        if args.realign_variants:
            conds += ["realign"] + [f"realign+{o}" for o in args.objective]
        conf["conditions"] = conds
    if args.propagate_variants:
        conds = conf.get("conditions") or excfg.Config().conditions
        conf["conditions"] = list(conds) + [f"{c}+prop" for c in conds if c != "none" and c != "realign"]
    if not any(conf.get(k) for k in ("src_emb", "src_vec")):
        conf.setdefault("src_vec", "data/eng.vec.gz")
    if not any(conf.get(k) for k in ("tgt_emb", "tgt_vec")):
        conf.setdefault("tgt_vec", "data/fra.vec.gz")
    for key in ("seed_sizes", "conditions"):  # their types, before they are used below
        if key in conf:
            excfg.Config.from_dict({key: conf[key]}, args.config)
    conf["seed_sizes"] = [int(s) if str(s).isdigit() else s for s in conf.get("seed_sizes", ["given"])]
    if comparison.is_comparison(conf):
        conf.setdefault("oracles", ["dict"])
        experiment = comparison.Comparison(comparison.load_config(conf, args.config))
        render = comparison.render_markdown
    else:
        unknown = sorted(set(conf) & (names - {f.name for f in fields(excfg.Config)}))
        if unknown:
            raise ClimeError(f"{', '.join(unknown)}: only for the comparison (give minutes)", args.config)
        experiment = ex.Experiment(excfg.Config.from_dict(conf, args.config))
        render = exrep.render_markdown
    report = experiment.run(progress=not cli.progress_disabled())
    log.info("%s", render(report).split("## Time per stage")[0].rstrip())
    log.info("report: %s/report.md, %s/report.json", experiment.out, experiment.out)
    return 0


if __name__ == "__main__":
    cli.run(main)
