"""The experiment's configuration: :class:`Config` (every key of an ``experiments/*.json`` file,
with its type and range checks), the starting spaces, and the condition names (``none``,
objectives, ``realign``, ``prop``, ``renorm``, the ``placebo-*`` controls, ``target-labels``)
with the ``update.py`` arguments each one stands for.  Run by :mod:`clime.experiment`."""

import json
import re
import shlex
from dataclasses import dataclass, field, fields
from pathlib import Path

from .errors import ClimeError
from .placebo import PLACEBOS

OBJECTIVES = ("dot", "cosine", "hinge", "retrofit")


@dataclass
class Config:
    name: str = "example"
    src_vec: str = None            # word2vec text, binarized when src_emb is not given
    tgt_vec: str = None
    src_emb: str = None
    tgt_emb: str = None
    train: str = "data/en.json"
    test: str = "data/fr.json"
    dev: str = "data/fr_dev.json"
    tgt_unlabeled: str = "data/fr_unlabeled.json"
    tgt_labeled: str = "data/fr_labeled.json"
    categories: str = "data/categories.txt"
    seed_dict: str = "data/dict.seed.tsv"
    oracle_dict: str = "data/dict.oracle.tsv"
    test_dict: str = "data/dict.test.tsv"
    src_lang: str = "ENGLISH"
    tgt_lang: str = "FRENCH"
    runs: int = 5                   # seeds seed, seed+1, ...
    seed: int = 0
    models: list = field(default_factory=lambda: ["cnn"])
    epochs: int = None              # passed to train.py --epochs when set
    train_runs: int = 3             # train.py --runs per training (their mean is one seed's number); 3: docs/experiment.md
    budgets: list = field(default_factory=lambda: [50])
    k: int = 5
    oracles: list = field(default_factory=lambda: ["dict"])
    noise: float = 0.0
    conditions: list = field(default_factory=lambda: ["none", "dot", "cosine", "hinge", "realign", "realign+cosine"])
    seed_sizes: list = field(default_factory=lambda: ["given"])
    start: str = "selflearn"        # the space feedback starts from: "selflearn" (align.py --refine) or "procrustes"
    refine: int = None              # align.py --refine rounds for the self-learned space (None: its default)
    dev_only: bool = False
    select_on_dev: bool = True      # test mode: train.py --dev DEV (dev mode never does: it evaluates there)
    train_args: list = field(default_factory=list)
    update_args: list = field(default_factory=list)
    rank_args: list = field(default_factory=list)
    preprocess_args: list = field(default_factory=list)
    device: str = None
    jobs: int = 1                   # units at once (local threads; dask: LocalCluster workers / jobqueue jobs)
    executor: str = "local"         # "local" (threads in this process) or "dask" (dask.distributed tasks)
    scheduler: str = None           # dask: a scheduler address, "slurm"/"pbs" (dask-jobqueue), None: a LocalCluster
    retries: int = 1                # dask: times a failed unit is run again before it is reported
    work: str = None                # default work/experiments/<name>
    out: str = None                 # default results/<name>
    python: str = None              # default: this interpreter
    keep_embeddings: bool = False
    csls_k: int = 10
    draw_seed: int = 0              # seed of the seed-dictionary draws (sizes N)
    oracle_exact: bool = False      # dict oracle: exact words only (default: base forms, by src_lang/tgt_lang)
    p1_words: int = None            # word-translation P@1: None all target words, 0 off, N the first N
    # condition tokens that add train.py arguments (placeholders: PLACEHOLDERS); a condition of such
    # tokens alone trains in the start space without an update (e.g. "self-train"), joined to an
    # update it trains on the updated space with them (e.g. "realign+self-train")
    train_tokens: dict = field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_TRAIN_TOKENS.items()})

    @classmethod
    def from_dict(cls, d, path=None):
        if isinstance(d.get("train_tokens"), dict):  # the configuration's tokens join the default ones
            d = dict(d, train_tokens={**{k: list(v) for k, v in DEFAULT_TRAIN_TOKENS.items()}, **d["train_tokens"]})
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names - {"comment", "_comment"})
        if unknown:
            raise ClimeError(f"unknown configuration key(s): {', '.join(unknown)}", path)
        for f in fields(cls):
            if f.name in d:
                _check_config_value(f, d[f.name], path)
        return cls(**{k: v for k, v in d.items() if k in names})

    def check(self):
        check_name(self.name)
        if self.runs < 1:
            raise ClimeError(f"runs must be >= 1, got {self.runs}")
        if not self.budgets or any(int(b) < 1 for b in self.budgets):
            raise ClimeError(f"budgets must be positive integers, got {self.budgets}")
        for o in self.oracles:
            if o not in ("dict", "label"):
                raise ClimeError(f"unknown oracle {o!r} (dict, label)")
        check_train_tokens(self.train_tokens)
        for c in self.conditions:
            condition_args(c, self.train_tokens)
        if self.executor not in EXECUTORS:
            raise ClimeError(f"unknown executor {self.executor!r} ({', '.join(EXECUTORS)})")
        if self.start not in START_SPACES:
            raise ClimeError(f"unknown start {self.start!r} ({', '.join(START_SPACES)})")
        if self.p1_words is not None and (isinstance(self.p1_words, bool) or not isinstance(self.p1_words, int)
                                          or self.p1_words < 0):
            raise ClimeError(f"p1_words must be a number >= 0 (0: no P@1) or null (all words), got {self.p1_words!r}")
        for s in self.seed_sizes:
            if not (s in ("given", "full") or (isinstance(s, int) and s > 0) or (isinstance(s, str) and s.isdigit())):
                raise ClimeError(f"seed size must be 'given', 'full' or a number of pairs, got {s!r}")
        if not (self.src_emb or self.src_vec) or not (self.tgt_emb or self.tgt_vec):
            raise ClimeError("give the embeddings: src_emb/tgt_emb (directories) or src_vec/tgt_vec (word2vec text)")
        needed = {"train": self.train, "categories": self.categories, "test dictionary": self.test_dict,
                  ("dev" if self.dev_only else "test"): self.dev if self.dev_only else self.test,
                  "target documents": self.tgt_unlabeled}
        if "dict" in self.oracles or any(s not in ("given",) for s in self.seed_sizes):
            needed["oracle dictionary"] = self.oracle_dict
        if "label" in self.oracles:
            needed["labelled target documents"] = self.tgt_labeled
        needed["seed dictionary"] = self.seed_dict  # the self-learned space is fitted from it
        for what, p in needed.items():
            if not p:
                raise ClimeError(f"the configuration needs the {what} file")
            if not Path(p).exists():
                raise ClimeError(f"no such file ({what})", p)


# configuration values: the element type of each list field, and the least value of each number
_LIST_ITEMS = {"budgets": (int,), "seed_sizes": (int, str), "minutes": (int, float), "arms": (str,)}
_LEAST = {"retries": 0, "runs": 1, "epochs": 1, "train_runs": 1, "k": 1, "jobs": 1, "csls_k": 1, "budgets": 1, "seed": 0}


def _check_config_value(f, value, path):
    """A configuration value of the type (and range) of field ``f``, or a ClimeError
    naming the key: a string where a number belongs would otherwise fail much later."""
    from .cli import check_number

    def bad(expected):
        raise ClimeError(f"key {f.name!r} must be {expected}, found {json.dumps(value)[:80]}", path)

    kind = f.type if isinstance(f.type, type) else {"str": str, "int": int, "float": float, "bool": bool,
                                                     "list": list, "dict": dict}.get(str(f.type))
    if value is None:
        if kind in (str,) or f.default is None:
            return
        bad(f"a {kind.__name__}")
    if kind is bool:
        if not isinstance(value, bool):
            bad("true or false")
    elif kind is str:
        if not isinstance(value, str):
            bad("a string")
    elif kind in (int, float):
        try:
            check_number(value, f"key {f.name!r}", kind, lo=_LEAST.get(f.name, 0 if kind is float else None),
                         hi=1 if f.name == "noise" else None)
        except ClimeError as err:
            raise ClimeError(err.detail, path) from None
    elif kind is dict:
        if not isinstance(value, dict) or (f.name == "train_tokens" and not all(
                isinstance(v, list) and all(isinstance(a, str) for a in v) for v in value.values())):
            bad("an object of lists of strings")
    elif kind is list:
        items = _LIST_ITEMS.get(f.name, (str,))
        if not isinstance(value, list) or not all(isinstance(v, items) and not isinstance(v, bool) for v in value):
            bad("a list of " + " or ".join({int: "integers", float: "numbers", str: "strings"}[t] for t in items))
        least = _LEAST.get(f.name)
        if least is not None and any(isinstance(v, int) and v < least for v in value):
            bad(f"a list of integers >= {least}")


START_SPACES = ("selflearn", "procrustes")
EXECUTORS = ("local", "dask")
# the row of the other starting space in every report (no annotator; Δ against the start)
OTHER_SPACE = {"selflearn": "procrustes (seed only)", "procrustes": "selflearn (automatic)"}

PATH_FIELDS = ("src_vec", "tgt_vec", "src_emb", "tgt_emb", "train", "test", "dev", "tgt_unlabeled", "tgt_labeled",
               "categories", "seed_dict", "oracle_dict", "test_dict")


TARGET_LABELS = "target-labels"   # control: no update; train.py --tgt-train on the label oracle's documents


SELF_TRAIN = "self-train"          # train.py --self-train on the kit's unlabelled target pool
DEFAULT_TRAIN_TOKENS = {SELF_TRAIN: ["--self-train", "{pool}"]}
# what a train.py argument of a train token or a custom arm may name, filled per unit
PLACEHOLDERS = {"pool": "the unlabelled target pool without any dev or test document",
                "labeled": "the labelled target documents without any dev or test document",
                "feedback": "the keyword feedback CSV of the condition or arm",
                "rank": "the unit's keyword ranking (rank_words.py's output, with each keyword's class)",
                "train": "the labelled source training documents", "seed_dict": "the seed dictionary",
                "categories": "the category names"}


def check_train_tokens(tokens):
    """Train-token names must not be condition words; their arguments name known placeholders only."""
    for name, args in tokens.items():
        if not name or "+" in name or name in OBJECTIVES or name in PLACEBOS or name in (
                "none", "realign", "prop", "renorm", TARGET_LABELS):
            raise ClimeError(f"train token {name!r}: not a name a condition may use for train.py arguments")
        fill_placeholders(args, {k: "x" for k in PLACEHOLDERS}, f"train token {name!r}")


def fill_placeholders(args, values, what="train.py arguments"):
    """``args`` with ``{pool}``, ``{feedback}``, ... replaced from ``values``; an unknown or missing
    placeholder is a ClimeError."""
    out = []
    for a in args:
        try:
            out.append(str(a).format_map(values))
        except KeyError as err:
            known = ", ".join("{%s}" % k for k in PLACEHOLDERS)
            raise ClimeError(f"{what}: {a!r} names {{{err.args[0]}}}, which is not available here ({known})") from None
        except (ValueError, IndexError):
            raise ClimeError(f"{what}: {a!r} is not a valid placeholder text (use {{pool}}, ...)") from None
    return out


def split_train_tokens(cond, train_tokens=()):
    """``(update condition or None, [train token, ...])`` of a condition name."""
    tokens = [t.strip() for t in str(cond).split("+") if t.strip()]
    rest = [t for t in tokens if t not in train_tokens]
    return ("+".join(rest) if rest else None), [t for t in tokens if t in train_tokens]


def condition_train_args(cond, train_tokens=()):
    """The train.py arguments (placeholders unfilled) the train tokens of ``cond`` add."""
    return [a for t in split_train_tokens(cond, train_tokens)[1] for a in train_tokens[t]]


NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_name(name, path=None):
    """An experiment name is one folder name (results/<name>, work/experiments/<name>): letters, digits,
    ``.``, ``_``, ``-``, not starting with ``.`` (so ``../x`` or ``a/b`` never leave those folders)."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ClimeError(f"experiment name {name!r}: use letters, digits, '.', '_' and '-' only "
                         "(one folder name, not starting with '.'), at most 100 characters", path)
    return name


def split_args(text, option):
    """Extra script arguments given as one string, split as a shell would (quotes kept together)."""
    try:
        return shlex.split(text)
    except ValueError as err:
        raise ClimeError(f"{option} {text!r}: {err} (quote as in a shell)") from None


def check_script_args(script, args, what):
    """Check extra arguments against ``script``'s parser up front (``--help`` runs nothing), so a
    typo fails before the experiment starts, not when the script first runs minutes later."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    if not all(isinstance(a, str) for a in args):
        raise ClimeError(f"{what} must be a list of strings, got {args!r}")
    probe = _ARG_PROBES.get(script, [])
    proc = subprocess.run([sys.executable, str(root / script)] + probe + list(args) + ["--help"],
                          capture_output=True, text=True, cwd=root)
    shown = " ".join(shlex.quote(a) for a in args)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise ClimeError(f"{what} {shown}: {script} refuses them: {tail}")
    known = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", proc.stdout))
    unknown = [a.split("=", 1)[0] for a in args if a.startswith("-") and not _is_number(a)
               and a.split("=", 1)[0] not in known]
    if unknown:
        raise ClimeError(f"{what} {shown}: {script} has no option {', '.join(unknown)} (see {script} --help)")


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


# the required options of a script, so that --help checks only the extra arguments
_ARG_PROBES = {"update.py": ["--feedback", "x", "--src-emb", "x", "--tgt-emb", "x", "--out-src", "x", "--out-tgt", "x"],
               "train.py": ["--src-emb", "x", "--tgt-emb", "x", "--train", "x", "--test", "x"]}


def condition_parts(cond):
    """``(control, update tokens)`` of a condition name: the placebo control in it (or None)."""
    tokens = [t.strip() for t in str(cond).split("+") if t.strip()]
    controls = [t for t in tokens if t in PLACEBOS]
    if len(controls) > 1:
        raise ClimeError(f"condition {cond!r}: two controls")
    return (controls[0] if controls else None), [t for t in tokens if t not in PLACEBOS]


def condition_args(cond, train_tokens=()):
    """update.py arguments of a condition name; None for ``none`` (no update), for the target-labels
    control and for a condition of ``train_tokens`` only."""
    if cond == TARGET_LABELS:
        return None
    cond, trained = split_train_tokens(cond, train_tokens)
    if cond is None:
        if trained:
            return None
        cond = ""
    control, tokens = condition_parts(cond)
    if not tokens:
        raise ClimeError(f"empty condition {cond!r}" if not control else
                         f"condition {cond!r}: a control needs an update (e.g. {control}+realign)")
    if tokens == ["none"]:
        if control:
            raise ClimeError(f"condition {cond!r}: a control needs an update (e.g. {control}+realign)")
        return None
    args, realign, objective = [], False, None
    for t in tokens:
        if t == "realign":
            realign = True
        elif t in OBJECTIVES:
            if objective is not None:
                raise ClimeError(f"condition {cond!r}: two objectives")
            objective = t
        elif t == "prop":
            args.append("--propagate")
        elif t == "renorm":
            args.append("--renorm")
        else:
            raise ClimeError(f"condition {cond!r}: unknown part {t!r} (none, {', '.join(OBJECTIVES)}, realign, prop, "
                             f"renorm, {', '.join(PLACEBOS)})")
    if realign:
        args = ["--realign"] + args
        args += ["--local", "--objective", objective] if objective else ["--no-local"]
    else:
        if objective is None:
            raise ClimeError(f"condition {cond!r}: needs an objective or realign")
        args = ["--no-realign", "--local", "--objective", objective] + args
    return args
