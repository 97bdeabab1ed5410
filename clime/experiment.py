"""The end-to-end experiment: train -> rank -> preprocess -> simulate -> update -> retrain.

This module runs it (:class:`Runner`, :class:`Experiment`); the configuration and the
condition names are in :mod:`clime.experiment_config`, the statistics and the report in
:mod:`clime.experiment_report`, the equal-time comparison in :mod:`clime.comparison`.

Every stage runs as the project's own root script in a subprocess (``train.py``,
``rank_words.py``, ``preprocess_ui.py``, ``simulate.py``, ``update.py``,
``align.py``, ``binarize.py``), so the experiment measures exactly what a user
would run.  Work shared between conditions is done once and cached on disk:

* the base embeddings of each seed-dictionary size (``align.py``),
* per (seed size, model, seed): the "before" classifier, its keyword ranking
  and the annotation task (neighbours),
* per (oracle, keyword budget): the simulated feedback CSV,
* per condition: the update, the retrained classifier and word-translation P@1.

A finished step leaves a small stamp holding its command; a rerun with the
same configuration reuses it, so an interrupted experiment resumes.

Feedback starts from ``start``: the self-learned space (``selflearn``, default:
``align.py --refine`` from the seed dictionary) or the seed-only Procrustes space
(``procrustes``); every report also has a row for the other space (no annotator),
and every delta is against the starting space.

Conditions are written as ``+``-joined tokens: ``none`` (no update), an
objective of update.py (``dot``, ``cosine``, ``hinge``, ``retrofit``), ``realign``
(re-fit the cross-lingual map on the seed dictionary plus the accepted pairs;
alone it means ``--realign --no-local``), ``prop`` (``--propagate``), ``renorm``.
Example: ``realign+cosine+prop``.

Controls are conditions too: ``placebo-pairs`` or ``placebo-words`` joined to an
update (``placebo-pairs+realign``) feeds that update, instead of the oracle's
feedback, as many accepted cross-lingual pairs as the oracle accepted, but random
true dictionary pairs not tied to the keywords (``placebo-pairs``) or the same
keywords with random target words (``placebo-words``); see
:func:`clime.placebo.placebo_pairs`.  ``target-labels`` is the control for the label
oracle: no update, but the labelled target documents that oracle reads added to the
training set (``train.py --tgt-train``), i.e. the same information used directly.  The
report gives every condition's paired difference against ``none``, against each control
of the same update and against ``target-labels``.

Seed-dictionary sizes N are seeded random draws (``draw_seed``) from the whole
training dictionary (seed + oracle files, duplicates removed, sorted, then
shuffled), so a smaller seed is nested in a larger one and the draw does not
depend on the order of the files' lines.
"""

import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

import numpy as np

from . import cli
from .errors import ClimeError
from .experiment_config import (OTHER_SPACE, PATH_FIELDS, SELF_TRAIN, TARGET_LABELS, condition_args, condition_parts,
                                condition_train_args, fill_placeholders)
from .experiment_report import add_control_diffs, mean_std, paired_ci, plot_budgets, render_markdown
from .fileio import atomic_open, write_json

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
# ----------------------------------------------------------------------------- running scripts

def code_fingerprint():
    """A hash of the code a step runs (the root scripts and the clime package): a stamp
    from other code does not count, so a changed default never reuses a stale result."""
    h = hashlib.sha1()
    files = sorted(ROOT.glob("*.py")) + sorted((ROOT / "clime").rglob("*.py")) + sorted((ROOT / "clime").glob("*.c"))
    for f in files:
        h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


class Runner:
    """Runs root scripts as subprocesses, with stamps for resuming and per-stage timing."""

    def __init__(self, cfg, work):
        self.cfg = cfg
        self.work = Path(work)
        self.code = code_fingerprint()
        self.python = cfg.python or sys.executable
        self.times = {}
        self.lock = threading.Lock()
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = str(ROOT) + (os.pathsep + self.env["PYTHONPATH"] if self.env.get("PYTHONPATH") else "")
        self.env["TQDM_DISABLE"] = "1"
        # several scripts share the cores: an OpenMP thread that waits yields its core (docs/experiment.md, Threads)
        self.env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        if cfg.jobs > 1 and "OMP_NUM_THREADS" not in self.env:
            self.env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // cfg.jobs))

    def __getstate__(self):  # a dask task carries the runner to its worker: no lock, no times
        state = dict(self.__dict__, times={})
        del state["lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.lock = threading.Lock()

    def record(self, stage, seconds):
        with self.lock:
            self.times.setdefault(stage, []).append(seconds)

    def script(self, stage, script, args, outputs, stamp):
        """Run ``script args`` unless ``stamp`` says the same command, with the same code,
        already produced ``outputs``."""
        cmd = [self.python, str(ROOT / script)] + [str(a) for a in args]
        shown = [script] + [str(a) for a in args]
        stamp = Path(stamp)
        if stamp.exists() and all(Path(o).exists() for o in outputs):
            try:
                old = json.loads(stamp.read_text(encoding="utf-8"))
                if old.get("cmd") == shown and old.get("code") == self.code:
                    self.record(stage, old.get("seconds", 0.0))
                    return old.get("seconds", 0.0)
            except (ValueError, RecursionError, OSError, AttributeError):  # a damaged stamp: run again
                pass
        stamp.parent.mkdir(parents=True, exist_ok=True)
        log.debug("%s: %s", stage, " ".join(shown))
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=self.env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        logf = stamp.with_suffix(".log")
        logf.write_text(" ".join(shown) + "\n" + proc.stdout + proc.stderr, encoding="utf-8")
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
            raise ClimeError(f"{stage} failed (exit {proc.returncode}): {tail} [command: {' '.join(shown)}; log: {logf}]")
        missing = [str(o) for o in outputs if not Path(o).exists()]
        if missing:
            raise ClimeError(f"{stage} wrote no {', '.join(missing)} [command: {' '.join(shown)}]")
        write_json(stamp, {"cmd": shown, "code": self.code, "seconds": seconds})
        self.record(stage, seconds)
        return seconds


def oracle_args(cfg, oracle, label_docs):
    """simulate.py's arguments for a keyword oracle of the configuration: the dictionary oracle
    reads the oracle and seed dictionaries and judges inflected forms through their base forms
    (unless ``oracle_exact``); the label oracle reads the labelled documents ``label_docs``."""
    if oracle == "dict":
        args = ["--dict", cfg.oracle_dict] + (["--dict", cfg.seed_dict] if cfg.seed_dict else [])
        return args + (["--exact"] if cfg.oracle_exact else ["--src-lang", cfg.src_lang, "--tgt-lang", cfg.tgt_lang])
    return ["--docs-src", cfg.train, "--docs-tgt", label_docs]


def read_train_results(path):
    try:
        r = json.loads(Path(path).read_text(encoding="utf-8"))
        acc = r.get("accuracy_mean")
        f1 = r.get("macro_f1_mean")
        if acc is None and r.get("runs"):
            acc = float(np.mean([x["accuracy"] for x in r["runs"]]))
        if f1 is None and r.get("runs"):
            f1 = float(np.mean([x.get("macro_f1", np.nan) for x in r["runs"]]))
        return {"accuracy": float(acc), "macro_f1": None if f1 is None else float(f1)}
    except (OSError, KeyError, TypeError, ValueError, RecursionError) as err:
        raise ClimeError(f"cannot read train.py results ({err})", path) from None


def count_accepted(csv_path):
    """Accepted cross-lingual pairs (pos2, added words included) of a feedback CSV."""
    from .feedback import read_feedback
    from .placebo import accepted_count

    return accepted_count(read_feedback(csv_path))


def draw_seed_pairs(pairs, draw_seed, n=None):
    """A seeded random draw of ``n`` pairs (None: all) from ``pairs``: duplicates removed,
    sorted, shuffled with ``random.Random(draw_seed)``, the first ``n`` taken.  Draws of
    different sizes with one ``draw_seed`` are nested; the order of ``pairs`` does not matter."""
    import random

    pool = sorted(set(map(tuple, pairs)))
    random.Random(draw_seed).shuffle(pool)
    if n is not None and n > len(pool):
        raise ClimeError(f"seed size {n}: the seed and oracle dictionaries hold only {len(pool)} pairs")
    return pool if n is None else pool[:n]


def count_judgements(csv_path):
    from .feedback import read_feedback

    rows = read_feedback(csv_path)
    n = sum(len(r.pos1) + len(r.pos2) + len(r.neg1) + len(r.neg2) for r in rows)
    added = sum(len(r.new1) + len(r.new2) for r in rows)
    return {"keywords": len(rows), "judgements": n, "added": added}


# ----------------------------------------------------------------------------- word translation

_P1_CACHE = {}
_P1_LOCK = threading.Lock()


def word_translation(src_dir, tgt_dir, dict_path, csls_k=10, max_words=None):
    """Precision@1 (NN and CSLS) of translating the test dictionary's source words,
    by ``clime.align.translation_precisions`` (None where no pair is in the vocabularies).
    ``max_words``: None searches every target word, 0 skips P@1 (both None), N
    searches the first N target words only (pairs outside them are dropped).
    Cached per pair of directories (and their E.npy's size and time)."""
    if max_words == 0:
        return {"nn": None, "csls": None}
    key = (str(Path(src_dir).resolve()), str(Path(tgt_dir).resolve()), str(dict_path),
           _dir_stamp(src_dir), _dir_stamp(tgt_dir), max_words)
    with _P1_LOCK:
        if key in _P1_CACHE:
            return _P1_CACHE[key]
    from .align import read_dictionary, translation_precisions
    from .embeddings import Embeddings, load_embeddings

    src, tgt = load_embeddings(src_dir), load_embeddings(tgt_dir)
    if max_words is not None and max_words < len(tgt):
        tgt = Embeddings(tgt.vectors[:max_words], list(tgt.words[:max_words]))
    pairs = read_dictionary(dict_path)
    out = {m: (p_at_1 if n_queries else None)
           for m, (p_at_1, n_queries) in translation_precisions(src, tgt, pairs, ("nn", "csls"), csls_k=csls_k).items()}
    with _P1_LOCK:
        _P1_CACHE[key] = out
    return out


def _dir_stamp(d):
    p = Path(d) / "E.npy"
    try:
        st = p.stat()
        return (st.st_size, st.st_mtime_ns)
    except OSError:
        return None


# ----------------------------------------------------------------------------- the experiment

class Experiment:
    def __init__(self, cfg):
        cfg.check()
        for name in PATH_FIELDS:  # subprocesses run in the repository root: make paths absolute
            value = getattr(cfg, name)
            if value:
                setattr(cfg, name, str(Path(value).resolve()))
        self.cfg = cfg
        self.work = Path(cfg.work or f"work/experiments/{cfg.name}").resolve()
        self.out = Path(cfg.out or f"results/{cfg.name}").resolve()
        self.runner = Runner(cfg, self.work)
        self.eval_file, self.select_file = self.protocol_files()
        self.add_default_conditions()
        self.records = []
        self.bases = {}

    # -- shared steps
    def base_embeddings(self):
        cfg, r = self.cfg, self.runner
        src, tgt = cfg.src_emb, cfg.tgt_emb
        if not src:
            src = self.work / "emb" / "src"
            r.script("binarize", "binarize.py", [cfg.src_vec, src, "-q"], [src / "E.npy"], self.work / "emb" / "src.stamp")
        if not tgt:
            tgt = self.work / "emb" / "tgt"
            r.script("binarize", "binarize.py", [cfg.tgt_vec, tgt, "-q"], [tgt / "E.npy"], self.work / "emb" / "tgt.stamp")
        for size in cfg.seed_sizes:
            size = str(size)
            d = self.work / "emb" / f"seed{size}"
            d.mkdir(parents=True, exist_ok=True)
            if size == "given":  # the seed dictionary as given (the kits' vectors are not pre-aligned)
                uniq = _read_pairs(cfg.seed_dict)
            else:
                uniq = draw_seed_pairs(_read_pairs(cfg.seed_dict) + _read_pairs(cfg.oracle_dict), cfg.draw_seed,
                                       None if size == "full" else int(size))
            dict_path = d / "seed.tsv"
            text = "".join(f"{s}\t{t}\n" for s, t in uniq)
            if not dict_path.exists() or dict_path.read_text(encoding="utf-8") != text:
                with atomic_open(dict_path) as fh:
                    fh.write(text)
            # plain Procrustes on the seed pairs: the rough start (self-learning is the other space)
            r.script("align", "align.py", ["--src-emb", src, "--tgt-emb", tgt, "--dict", dict_path, "--refine", "0", "--min-pairs", 1,
                                           "--out-src", d / "src", "--out-tgt", d / "tgt", "-q"],
                     [d / "src" / "E.npy", d / "tgt" / "E.npy"], d / "align.stamp")
            self.bases[size] = {"src": d / "src", "tgt": d / "tgt", "seed_dict": str(dict_path),
                                "raw_src": Path(src), "raw_tgt": Path(tgt),
                                "pairs": None if size == "given" else len(uniq),
                                "sha1": hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]}
        self.label_docs = (self.honest_label_docs() if "label" in cfg.oracles or TARGET_LABELS in cfg.conditions
                           else None)
        for size, b in list(self.bases.items()):
            self.bases[size] = self.starting_spaces(size, b)
        for size, b in self.bases.items():
            for space in (b, b["other"]):
                t0 = time.perf_counter()
                space["p1"] = word_translation(space["src"], space["tgt"], cfg.test_dict, cfg.csls_k, cfg.p1_words)
                self.runner.record("word translation P@1", time.perf_counter() - t0)
            log.info("seed size %s: word translation P@1 NN %.3f, CSLS %.3f (start: %s; %s: %.3f, %.3f)", size,
                     b["p1"]["nn"] or 0, b["p1"]["csls"] or 0, cfg.start, b["other"]["name"],
                     b["other"]["p1"]["nn"] or 0, b["other"]["p1"]["csls"] or 0)

    def starting_spaces(self, size, proc):
        """The Procrustes space of a seed size and its self-learned version (align.py --refine from the
        same seed pairs); returns the space feedback starts from, with the other one under "other".
        Self-learning starts from the unaligned inputs, not from the Procrustes space: a space already
        fitted on the whole seed would leak the held-out seed pairs into align.py's guard."""
        d = self.work / "emb" / f"seed{size}_selflearn"
        args = ["--src-emb", proc.get("raw_src", proc["src"]), "--tgt-emb", proc.get("raw_tgt", proc["tgt"]),
                "--dict", proc["seed_dict"],
                "--out-src", d / "src", "--out-tgt", d / "tgt", "--csls-k", self.cfg.csls_k, "--min-pairs", 1, "-q"]
        if self.cfg.refine is not None:
            args += ["--refine", self.cfg.refine]
        self.runner.script("align (self-learning)", "align.py", args, [d / "src" / "E.npy", d / "tgt" / "E.npy"],
                           d / "align.stamp")
        selflearn = dict(proc, src=d / "src", tgt=d / "tgt")
        start, other = (selflearn, proc) if self.cfg.start == "selflearn" else (proc, selflearn)
        return dict(start, other={"name": OTHER_SPACE[self.cfg.start], "src": other["src"], "tgt": other["tgt"]})

    def add_default_conditions(self):
        """Every report shows self-learning (the start space, ``none``) and self-learning + self-training
        (``self-train``: ``train.py --self-train POOL``)."""
        cfg = self.cfg
        if SELF_TRAIN in cfg.train_tokens and SELF_TRAIN not in cfg.conditions:
            cfg.conditions = list(cfg.conditions) + [SELF_TRAIN]

    def fill(self, args, what, feedback=None, rank=None):
        """``args`` with their placeholders (``{pool}``, ``{labeled}``, ``{feedback}``, ...) filled for
        one unit; only the files named are prepared (a placeholder the unit lacks is a ClimeError)."""
        import string

        cfg = self.cfg
        makers = {"train": lambda: cfg.train, "seed_dict": lambda: cfg.seed_dict, "categories": lambda: cfg.categories,
                  "pool": self.pool_docs, "labeled": self.honest_label_docs}
        if feedback is not None:
            makers["feedback"] = lambda: str(feedback)
        if rank is not None:
            makers["rank"] = lambda: str(rank)
        names = {f for a in args for _, f, _, _ in string.Formatter().parse(str(a)) if f}
        return fill_placeholders(args, {n: makers[n]() for n in names if n in makers}, what)

    def pool_docs(self):
        """The unlabelled target pool without any dev or test document (by id or identical text)."""
        return self.clean_docs(self.cfg.tgt_unlabeled, "pool", labeled=False)

    def protocol_files(self):
        """``(evaluated file, model-selection file)``: model selection (``train.py --dev``) is always
        on target documents that no arm trains on and that are not evaluated.  Test mode: evaluate on
        ``test``, select on the whole ``dev``.  Dev mode: ``dev`` is split by :func:`split_dev` into a
        selection half and an evaluation half (written under the work folder).  ``select_on_dev``
        false: no ``--dev`` (train.py holds out part of the English training documents)."""
        cfg = self.cfg
        if not cfg.dev_only:
            return cfg.test, (cfg.dev if cfg.select_on_dev and cfg.dev else None)
        select, evaluate = split_dev(cfg.dev, self.work / "splits")
        return evaluate, (select if cfg.select_on_dev else None)

    def held_out(self):
        """Every document of the dev and test splits (read once)."""
        from .text import read_docs

        if "_held" not in self.__dict__:
            self._held = [d for p in sorted({p for p in (self.cfg.dev, self.cfg.test) if p and Path(p).exists()})
                          for d in read_docs(p, labeled=False)]
        return self._held

    def clean_docs(self, path, name, labeled=True):
        """``path`` without any document of the dev or test split (same id or identical text), so that
        no arm trains on them: ``path`` itself when none is there, else a copy under the work folder."""
        from .text import read_docs, shared_with, write_docs

        cache = self.__dict__.setdefault("_clean", {})
        if (str(path), name) in cache:
            return cache[str(path), name]
        docs = read_docs(path, labeled=labeled)
        drop = set(shared_with(docs, self.held_out())[0])
        kept = [d for i, d in enumerate(docs) if i not in drop]
        if len(kept) == len(docs):
            cache[str(path), name] = str(path)
            return str(path)
        if not kept:
            raise ClimeError("every document shares its id or text with the dev or test split", path)
        log.info("%s: %d of %d documents share an id or text with the dev or test split and are left out",
                 path, len(docs) - len(kept), len(docs))
        out = self.work / "splits" / f"{name}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        write_docs(out, kept)
        cache[str(path), name] = str(out)
        return str(out)

    def honest_label_docs(self):
        """The labelled target documents the label oracle, the document oracle and the target-labels
        control read: ``tgt_labeled`` without any document of the dev or test split, matched by id
        and by identical text (``data/fr_labeled.json`` holds the French train *and dev* documents)."""
        return self.clean_docs(self.cfg.tgt_labeled, "label_docs")

    def check_leaks(self):
        """A ``warning:`` for every training file that shares ids or identical texts with the dev or
        test split (parallel corpora such as SIB-200 give a sentence the same id in every language:
        an English training document with a test id is that test document's translation)."""
        from .text import read_docs, shared_with

        cfg = self.cfg
        files = {"train": cfg.train, "tgt_labeled": cfg.tgt_labeled, "tgt_unlabeled": cfg.tgt_unlabeled}
        args = list(cfg.train_args)
        files.update({f"train_args --tgt-train #{i}": args[i + 1] for i, a in enumerate(args[:-1]) if a == "--tgt-train"})
        splits = {"dev": cfg.dev, "test": cfg.test}
        held = {k: read_docs(p, labeled=False) for k, p in splits.items() if p and Path(p).exists()}
        found = 0
        for what, path in files.items():
            if not path or not Path(path).exists():
                continue
            docs = read_docs(path, labeled=False)
            for split, hdocs in held.items():
                if Path(path).resolve() == Path(splits[split]).resolve():
                    continue
                _, n_id, n_text = shared_with(hdocs, docs)
                if n_id or n_text:
                    found += 1
                    log.warning("warning: %s (%s) shares %d id(s) and %d identical text(s) with the %s split %s%s",
                                _rel(path), what, n_id, n_text, split, _rel(splits[split]),
                                " (left out of every arm's training)" if what in ("tgt_labeled", "tgt_unlabeled") else "")
        return found

    def train_args(self, src, tgt, model, seed, results, output=None):
        cfg = self.cfg
        a = ["--src-emb", src, "--tgt-emb", tgt, "--train", cfg.train, "--test", self.eval_file,
             "--type", model, "--runs", cfg.train_runs, "--seed", seed, "--results", results]
        if self.select_file:
            a += ["--dev", self.select_file]
        if output:
            a += ["--output", output]
        if cfg.epochs:
            a += ["--epochs", cfg.epochs]
        if cfg.device:
            a += ["--device", cfg.device]
        return a + list(cfg.train_args) + ["-q"]

    def before_steps(self, size, model, seed, max_keywords):
        """The shared start of a unit: the before classifier, its ranking and the keyword task.
        Returns (unit folder, base embeddings, before metrics, task folder)."""
        cfg, r = self.cfg, self.runner
        base = self.bases[size]
        d = self.work / f"seed{size}" / model / f"s{seed}"
        d.mkdir(parents=True, exist_ok=True)
        before_json = d / "before.json"
        r.script("train (before)", "train.py", self.train_args(base["src"], base["tgt"], model, seed, before_json, d / "model.pt"),
                 [before_json, d / "model.pt"], d / "train.stamp")
        before = read_train_results(before_json)
        rank = d / "word_rank.txt"
        r.script("rank", "rank_words.py", [d / "model.pt", "--train", cfg.train, "--output", rank] + list(cfg.rank_args) + ["-q"],
                 [rank], d / "rank.stamp")
        task = d / "ui"
        r.script("preprocess", "preprocess_ui.py",
                 ["--src-emb", base["src"], "--tgt-emb", base["tgt"], "-k", cfg.k, "--task", "experiment",
                  "--rank", rank, "--max", max_keywords, "--src-doc", cfg.train, "--tgt-doc", cfg.tgt_unlabeled,
                  "--src-lang", cfg.src_lang, "--tgt-lang", cfg.tgt_lang, "--categories", cfg.categories,
                  "--out-dir", task] + list(cfg.preprocess_args) + ["-q"],
                 [task / "setup.json"], d / "preprocess.stamp")
        return d, base, before, task

    def run_unit(self, size, model, seed):
        """Everything for one (seed size, model, seed): before, then every oracle/budget/condition."""
        cfg, r = self.cfg, self.runner
        d, base, before, task = self.before_steps(size, model, seed, max(int(b) for b in cfg.budgets))
        keywords = _top_keywords(task / "setup.json", 10)
        recs = []
        other = base["other"]
        other_json = d / "other_space.json"
        r.script("train (other space)", "train.py", self.train_args(other["src"], other["tgt"], model, seed, other_json),
                 [other_json], d / "train_other.stamp")
        other_result = read_train_results(other_json)
        for oracle in cfg.oracles:
            for budget in cfg.budgets:
                fb = d / f"feedback_{oracle}_b{budget}.csv"
                stats_path = d / f"feedback_{oracle}_b{budget}.stats.json"
                sim = ["--task", "experiment", "--task-dir", task, "--oracle", oracle, "--budget", budget,
                       "--seed", seed, "--out", fb, "--stats", stats_path, "-q"]
                if cfg.noise:
                    sim += ["--noise", cfg.noise]
                sim += oracle_args(cfg, oracle, self.label_docs)
                r.script("simulate", "simulate.py", sim, [fb, stats_path], d / f"simulate_{oracle}_b{budget}.stamp")
                oracle_counts = count_judgements(fb)
                known = (_load_json(stats_path) or {}).get("keywords_known")
                recs.append({"seed_size": size, "seed_pairs": base["pairs"], "model": model, "seed": seed,
                             "oracle": oracle, "budget": int(budget), "condition": other["name"], "before": before,
                             "p1_before": base["p1"], "keywords_top": keywords, **oracle_counts,
                             "keywords_known": known, "oracle_keywords": oracle_counts["keywords"],
                             "after": other_result, "p1_after": other["p1"], "judgements": 0, "added": 0,
                             "accepted": 0})
                for cond in cfg.conditions:
                    control, _ = condition_parts(cond)
                    feedback = fb
                    if control:
                        feedback = d / f"feedback_{oracle}_b{budget}_{control}.csv"
                        from .placebo import make_placebo

                        make_placebo(control, fb, task, feedback, dicts=[p for p in (cfg.oracle_dict, cfg.seed_dict) if p],
                                     seed=seed)
                    counts = count_judgements(feedback)
                    counts["accepted"] = count_accepted(feedback)
                    rec = {"seed_size": size, "seed_pairs": base["pairs"], "model": model, "seed": seed,
                           "oracle": oracle, "budget": int(budget), "condition": cond,
                           "before": before, "p1_before": base["p1"], "keywords_top": keywords, **counts,
                           "keywords_known": known, "oracle_keywords": oracle_counts["keywords"]}
                    if cond == TARGET_LABELS:
                        rec.update(after=self.target_labels(d, base, model, seed), p1_after=base["p1"], judgements=0,
                                   added=0, accepted=0)
                        recs.append(rec)
                        continue
                    uargs = condition_args(cond, cfg.train_tokens)
                    targs = condition_train_args(cond, cfg.train_tokens)
                    uses_feedback = any("{feedback}" in a for a in targs)
                    targs = self.fill(targs, f"condition {cond!r}", feedback, d / "word_rank.txt")
                    if uargs is None and not targs:
                        rec.update(after=before, p1_after=base["p1"], judgements=0, added=0, accepted=0)
                        recs.append(rec)
                        continue
                    if uargs is None:  # train tokens alone: the start space, retrained with their arguments
                        out = d / f"{oracle}_b{budget}_{_slug(cond)}.json" if uses_feedback else d / f"{_slug(cond)}.json"
                        ta = self.train_args(base["src"], base["tgt"], model, seed, out)
                        r.script(f"train ({cond})", "train.py", ta[:-1] + targs + ta[-1:], [out], out.with_suffix(".stamp"))
                        rec.update(after=read_train_results(out), p1_after=base["p1"])
                        if not uses_feedback:
                            rec.update(judgements=0, added=0, accepted=0)
                        recs.append(rec)
                        continue
                    cdir = d / f"{oracle}_b{budget}_{_slug(cond)}"
                    result = cdir / "result.json"
                    ua = ["--feedback", feedback, "--src-emb", base["src"], "--tgt-emb", base["tgt"],
                          "--out-src", cdir / "src", "--out-tgt", cdir / "tgt"] + uargs
                    if "--realign" in uargs:
                        ua += ["--seed-dict", base["seed_dict"]]
                    if cfg.device:
                        ua += ["--device", cfg.device]
                    ua += list(cfg.update_args) + ["--seed", seed, "-q"]
                    ta = self.train_args(cdir / "src", cdir / "tgt", model, seed, cdir / "after.json")
                    ta = ta[:-1] + targs + ta[-1:]
                    key = {"update": [str(a) for a in ua], "train": [str(a) for a in ta]}
                    cached = _load_json(result)
                    if cached and cached.get("key") == key:
                        for st, sec in cached["times"].items():
                            r.record(st, sec)
                        rec.update(after=cached["after"], p1_after=cached["p1_after"])
                        recs.append(rec)
                        continue
                    times = {}
                    times["update"] = r.script("update", "update.py", ua, [cdir / "src" / "E.npy", cdir / "tgt" / "E.npy"],
                                               cdir / "update.stamp")
                    times["train (after)"] = r.script("train (after)", "train.py", ta, [cdir / "after.json"], cdir / "train.stamp")
                    t0 = time.perf_counter()
                    p1 = word_translation(cdir / "src", cdir / "tgt", cfg.test_dict, cfg.csls_k, cfg.p1_words)
                    times["word translation P@1"] = time.perf_counter() - t0
                    r.record("word translation P@1", times["word translation P@1"])
                    after = read_train_results(cdir / "after.json")
                    write_json(result, {"key": key, "after": after, "p1_after": p1, "times": times}, indent=1)
                    if not cfg.keep_embeddings:
                        shutil.rmtree(cdir / "src", ignore_errors=True)
                        shutil.rmtree(cdir / "tgt", ignore_errors=True)
                    rec.update(after=after, p1_after=p1)
                    recs.append(rec)
        return recs

    def target_labels(self, d, base, model, seed):
        """The target-label control of one seed: the start space, no update, and the label oracle's
        documents (the labelled target documents it reads, never the evaluated split) added to the
        training set with ``train.py --tgt-train`` (trained once per seed; every oracle and budget
        compares against it)."""
        out = d / "target_labels.json"
        self.runner.script("train (target labels)", "train.py",
                           self.train_args(base["src"], base["tgt"], model, seed, out) + ["--tgt-train", self.label_docs],
                           [out], d / "train_target_labels.stamp")
        return read_train_results(out)

    def run(self, progress=True):
        from tqdm import tqdm

        cfg = self.cfg
        t_start = time.perf_counter()
        self.check_leaks()
        self.base_embeddings()
        units = [(str(size), model, cfg.seed + i) for size in cfg.seed_sizes for model in cfg.models for i in range(cfg.runs)]
        bar = tqdm(total=len(units), desc="experiment", unit="seed", disable=cli.bar_off(progress))
        finished = []

        def done(recs):
            # the report is rewritten after every finished seed, so an interrupted run still shows its numbers
            self.records.extend(recs)
            bar.update(1)
            finished.append(1)
            log.info("%s", progress_line(len(finished), len(units), time.perf_counter() - t_start,
                                         recs[0] if recs else None))
            if len(units) > 1:
                self.write(self.report(time.perf_counter() - t_start, partial=True))

        failures = []
        if cfg.executor == "dask":
            failures = run_on_dask(self, units, done)
        elif cfg.jobs > 1:
            with ThreadPoolExecutor(cfg.jobs) as pool:
                futures = {pool.submit(self.run_unit, *u): u for u in units}
                for f in as_completed(futures):
                    try:
                        done(f.result())
                    except ClimeError as err:  # keep the other seeds going; fail at the end
                        log.error("error: seed size %s, model %s, seed %s: %s", *futures[f], err)
                        failures.append(err)
        else:
            for u in units:
                done(self.run_unit(*u))
        bar.close()
        if failures:
            if self.records:
                self.write(self.report(time.perf_counter() - t_start, partial=True))
            raise failures[0]
        self.records.sort(key=lambda r: (str(r["seed_size"]), r["model"], r["seed"]))
        report = self.report(time.perf_counter() - t_start)
        self.write(report)
        return report

    # -- reporting
    def report(self, wall, partial=False):
        cfg = self.cfg
        groups = {}
        for rec in self.records:
            key = (rec["seed_size"], rec["model"], rec["oracle"], rec["budget"], rec["condition"])
            groups.setdefault(key, []).append(rec)
        order = {c: i + 1 for i, c in enumerate(cfg.conditions)}
        order[OTHER_SPACE[cfg.start]] = 0
        rows = []
        sizes = {str(x): i for i, x in enumerate(cfg.seed_sizes)}
        models = {m: i for i, m in enumerate(cfg.models)}
        oracles = {o: i for i, o in enumerate(cfg.oracles)}
        for key in sorted(groups, key=lambda k: (sizes.get(str(k[0]), 99), models.get(k[1], 99), oracles.get(k[2], 99),
                                                 k[3], order.get(k[4], 99))):
            recs = sorted(groups[key], key=lambda x: x["seed"])
            row = dict(zip(("seed_size", "model", "oracle", "budget", "condition"), key))
            row["seed_pairs"] = recs[0]["seed_pairs"]
            row["n"] = len(recs)
            row["seeds"] = [x["seed"] for x in recs]
            for metric in ("accuracy", "macro_f1"):
                b = [x["before"][metric] for x in recs]
                a = [x["after"][metric] for x in recs]
                row[f"{metric}_before_mean"], row[f"{metric}_before_std"] = mean_std(b)
                row[f"{metric}_after_mean"], row[f"{metric}_after_std"] = mean_std(a)
                row[f"{metric}_diff"] = paired_ci(b, a) if None not in b + a else None
            for m in ("nn", "csls"):
                row[f"p1_{m}_before"] = mean_std([x["p1_before"][m] for x in recs])[0]
                row[f"p1_{m}_after"] = mean_std([x["p1_after"][m] for x in recs])[0]
                row[f"p1_{m}_after_std"] = mean_std([x["p1_after"][m] for x in recs])[1]
            row["judgements_mean"] = float(np.mean([x["judgements"] for x in recs]))
            row["accepted_mean"] = float(np.mean([x.get("accepted", 0) for x in recs]))
            known = [x.get("keywords_known") for x in recs]
            n_kw = [x.get("oracle_keywords", x["keywords"]) for x in recs]
            row["oracle_coverage"] = (float(np.sum(known)) / max(1, float(np.sum(n_kw)))
                                      if None not in known else None)
            row["added_mean"] = float(np.mean([x["added"] for x in recs]))
            row["keywords_mean"] = float(np.mean([x["keywords"] for x in recs]))
            rows.append(row)
        add_control_diffs(rows, groups)
        times = {st: {"calls": len(v), "mean_s": float(np.mean(v)), "total_s": float(np.sum(v))}
                 for st, v in self.runner.times.items()}
        keywords = {}
        for rec in self.records:
            keywords.setdefault(f"{rec['seed_size']}/{rec['model']}/s{rec['seed']}", rec["keywords_top"])
        try:
            import torch
            torch_info = {"version": torch.__version__, "cuda": torch.cuda.is_available(),
                          "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
        except Exception:  # noqa: BLE001
            torch_info = None
        return {
            "name": cfg.name,
            "split": "dev" if cfg.dev_only else "test",
            "eval_file": _rel(self.eval_file),
            "select_file": _rel(self.select_file),
            "config": report_config(cfg),
            "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]) if sys.argv and sys.argv[0] else None,
            "rows": rows,
            "records": self.records,
            "times": times,
            "wall_s": wall,
            "partial": partial,
            "top_keywords": keywords,
            "seed_draws": {size: {"pairs": b.get("pairs"), "draw_seed": cfg.draw_seed, "sha1": b.get("sha1"),
                                  "file": _rel(b["seed_dict"])} for size, b in self.bases.items()},
            "machine": {"platform": platform.platform(), "machine": platform.machine(), "cpus": os.cpu_count(),
                        "python": platform.python_version(), "torch": torch_info},
        }

    def write(self, report):
        self.out.mkdir(parents=True, exist_ok=True)
        write_json(self.out / "report.json", report, indent=1)
        with atomic_open(self.out / "report.md") as fh:
            fh.write(render_markdown(report))
        plot = plot_budgets(report, self.out / "accuracy_vs_budget.png")
        if plot:
            report["plot"] = _rel(plot)


def progress_line(finished, total, elapsed, rec=None):
    """The line logged after each finished unit, with a bar or without (a log file gets it too):
    which unit, how many are done and an estimate of the time left from the mean so far."""
    what = f"seed size {rec['seed_size']}, model {rec['model']}, seed {rec['seed']}: " if rec else ""
    left = elapsed / max(1, finished) * (total - finished)
    est = "done" if finished >= total else f"about {_duration(left)} left"
    return f"unit {finished}/{total} finished ({what}{_duration(elapsed)} so far, {est})"


def _duration(seconds):
    return f"{seconds:.0f} s" if seconds < 90 else (f"{seconds / 60:.0f} min" if seconds < 5400 else
                                                     f"{seconds / 3600:.1f} h")


def _unit_task(exp, unit):
    """One unit on a dask worker: its steps write their own files (stamps, results) under the
    shared work folder; returns its records and its stage times for the report."""
    recs = exp.run_unit(*unit)
    return recs, exp.runner.times


def dask_client(cfg):
    """A dask.distributed Client: ``scheduler`` an address (``tcp://host:8786``), ``slurm`` or ``pbs``
    (a dask-jobqueue cluster from dask's configuration, ``jobqueue.slurm`` / ``jobqueue.pbs`` in
    ~/.config/dask/jobqueue.yaml, scaled to ``jobs`` jobs), or None: a LocalCluster of ``jobs``
    single-threaded worker processes."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ClimeError("executor dask needs dask and distributed (pip install -r requirements-dask.txt)") from None
    for name in ("distributed", "dask_jobqueue"):  # their INFO lines would bury the experiment's own
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
    sched = cfg.scheduler
    if sched in ("slurm", "pbs"):
        try:
            import dask_jobqueue
        except ImportError:
            raise ClimeError(f"scheduler {sched} needs dask-jobqueue (pip install dask-jobqueue)") from None
        cluster = (dask_jobqueue.SLURMCluster if sched == "slurm" else dask_jobqueue.PBSCluster)()
        cluster.scale(jobs=cfg.jobs)
        return Client(cluster), cluster
    if sched:
        return Client(sched), None
    os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else "")
    cluster = LocalCluster(n_workers=cfg.jobs, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.CRITICAL)  # a failed unit is reported here, once
    return Client(cluster), cluster


def run_on_dask(exp, units, done):
    """Run the units as dask tasks (each retried ``cfg.retries`` times); ``done(records)`` for each
    finished one as it finishes; returns the errors of the units that failed (the others are kept,
    and a rerun resumes from their stamps)."""
    from distributed import as_completed as dask_completed

    cfg = exp.cfg
    client, cluster = dask_client(cfg)
    failures = []
    try:
        log.info("dask: %d unit(s) on %s", len(units), client.dashboard_link if cfg.scheduler else "a LocalCluster of "
                 f"{cfg.jobs} worker process(es)")
        futures = {client.submit(_unit_task, exp, u, key=f"clime-{cfg.name}-{u[0]}-{u[1]}-s{u[2]}",
                                 retries=cfg.retries, pure=False): u for u in units}
        for f in dask_completed(futures):
            try:
                recs, times = f.result()
            except Exception as err:  # noqa: BLE001 - any failure of a unit is reported, the rest go on
                log.error("error: seed size %s, model %s, seed %s failed after %d retr%s: %s", *futures[f],
                          cfg.retries, "y" if cfg.retries == 1 else "ies", err)
                failures.append(err if isinstance(err, ClimeError) else ClimeError(f"dask unit {futures[f]}: {err}"))
                continue
            for stage, secs in times.items():
                for sec in secs:
                    exp.runner.record(stage, sec)
            done(recs)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return failures


def split_dev(path, folder, seed=0):
    """Split a dev file into ``(selection file, evaluation file)`` under ``folder``: the documents
    sorted by id, shuffled with ``random.Random(seed)``, the first half (rounded down) for model
    selection, the rest evaluated.  Rewritten only when their content changes (stamps stay valid)."""
    import random

    from .text import read_docs

    docs = sorted(read_docs(path), key=lambda d: str(d["id"]))
    if len(docs) < 2:
        raise ClimeError("the dev split needs at least 2 documents (half select, half evaluate)", path)
    random.Random(seed).shuffle(docs)
    half = len(docs) // 2
    Path(folder).mkdir(parents=True, exist_ok=True)
    out = []
    for name, part in (("dev_select", docs[:half]), ("dev_eval", docs[half:])):
        p = Path(folder) / f"{name}.json"
        text = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in part)
        if not p.exists() or p.read_text(encoding="utf-8") != text:
            with atomic_open(p) as fh:
                fh.write(text)
        out.append(str(p))
    return tuple(out)


def report_config(cfg):
    """The configuration as a report shows it: every path relative to the repository when inside it."""
    conf = asdict(cfg)
    for key in PATH_FIELDS + ("work", "out"):
        if conf.get(key):
            conf[key] = _rel(conf[key])
    return conf


def _rel(path):
    """``path`` relative to the repository when it is inside it (reports carry no machine's paths)."""
    if path is None:
        return None
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _slug(cond):
    return str(cond).replace("+", "_")


def _load_json(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # a missing or unreadable cache file is recomputed
        return None


def _read_pairs(path):
    from .align import read_dictionary

    return [tuple(p) for p in read_dictionary(path)] if path else []


def _top_keywords(setup_path, n):
    s = _load_json(setup_path) or {}
    return [k.get("word") for k in s.get("keywords", [])[:n]]
