"""Cross-lingual document classification over frozen embeddings.

Train on source-language labels, select on a dev set, test on the target
language.  Each language looks its words up in its own embeddings: the model
sees one combined frozen matrix ``[padding; source rows; target rows]`` with a
separate word -> row map per language, so a string present in both languages
(a name, a number, a loanword) keeps its own language's vector.  Only the rows
the documents use are read from the (memory-mapped) embedding matrices.
"""

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from . import cli
from .errors import ClimeError
from .fileio import atomic_path, require_file
from .models import MODEL_TYPES, build_model

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1
HOLDOUT_SEED = 2020  # the held-out dev split does not depend on --seed: every run selects on the same documents
EVAL_BATCH = 512


# ---------------------------------------------------------------- labels

def _label_key(label):
    return (isinstance(label, str), label)


def label_mapping(docs, path=None):
    """The sorted distinct labels of ``docs``.  Integer and string labels in one set
    (``1`` and ``"1"``) are a ClimeError: they would silently make separate classes."""
    labels = sorted({d["label"] for d in docs}, key=_label_key)
    ints = [lab for lab in labels if not isinstance(lab, str)]
    strs = [lab for lab in labels if isinstance(lab, str)]
    if ints and strs:
        raise ClimeError(f"mixed label types: integer labels (e.g. {ints[0]!r}) and string labels "
                         f"(e.g. {strs[0]!r}) in one training set; use one type", path)
    return labels


def read_labelled(path, labeled=True):
    """:func:`clime.text.read_docs`, with a pointer to make_kit.py when the file is not JSON lines
    (a TSV or CSV export, say)."""
    from .text import read_docs

    try:
        return read_docs(path, labeled=labeled)
    except ClimeError as err:
        if err.detail.startswith("not valid JSON"):
            raise ClimeError(f"{err.detail}: expected JSON lines, one {{\"id\", \"text\": [tokens], "
                             f"\"label\"}} object a line (a TSV or CSV file? convert it with make_kit.py; "
                             f"see docs/make_kit.md)", err.path, err.line) from None
        raise


def encode_labels(docs, labels, path=None, role="test"):
    """Label indices (int64 array); a label never seen in training is a ClimeError."""
    index = {lab: i for i, lab in enumerate(labels)}
    out = np.empty(len(docs), dtype=np.int64)
    for k, d in enumerate(docs):
        lab = d["label"]
        if lab not in index:
            raise ClimeError(f"{role} document {d['id']!r} has label {lab!r}, which never occurs in the "
                             f"training data (training labels: {', '.join(map(repr, labels))})", path)
        out[k] = index[lab]
    return out


# ---------------------------------------------------------------- inputs

@dataclass
class Coverage:
    tokens: int = 0
    known: int = 0
    docs: int = 0
    empty_docs: int = 0

    @property
    def ratio(self):
        return self.known / self.tokens if self.tokens else 0.0


class MatrixBuilder:
    """Collects the rows a set of documents needs into one combined matrix.

    Row 0 is padding (a zero vector).  Each language (``key``) has its own
    word -> row map, so equal strings in different languages get different rows.
    """

    def __init__(self, dim):
        self.dim = int(dim)
        self.maps = {}  # key -> {word: combined row}
        self.sources = {}  # key -> (Embeddings, [embedding rows in combined-row order], first combined row list)
        self.n_rows = 1

    def encode(self, key, emb, token_lists, name=None):
        """Token lists -> list of int64 arrays of combined rows (unknown words skipped)."""
        if emb.dim != self.dim:
            raise ClimeError(f"embeddings have dimension {emb.dim}, expected {self.dim}",
                             emb.meta.get("path", name))
        wmap = self.maps.setdefault(key, {})
        src = self.sources.setdefault(key, (emb, [], []))
        if src[0] is not emb:
            raise ValueError(f"language {key!r} used with two different embeddings")
        index = emb.index
        cov = Coverage(docs=len(token_lists))
        out = []
        for toks in token_lists:
            ids = []
            for t in toks:
                r = wmap.get(t)
                if r is None:
                    j = index.get(t)
                    if j is None:
                        continue
                    r = self.n_rows
                    self.n_rows += 1
                    wmap[t] = r
                    src[1].append(j)
                    src[2].append(r)
                ids.append(r)
            cov.tokens += len(toks)
            cov.known += len(ids)
            if not ids:
                cov.empty_docs += 1
            out.append(np.asarray(ids, dtype=np.int64))
        if name is not None:
            log.info("%s: %d of %d tokens (%.1f%%) have a vector%s", name, cov.known, cov.tokens,
                     100 * cov.ratio, f"; {cov.empty_docs} document(s) with no known word" if cov.empty_docs else "")
        return out, cov

    def matrix(self):
        """The combined float32 matrix [n_rows, D] (row 0 zeros)."""
        E = np.zeros((self.n_rows, self.dim), dtype=np.float32)
        for emb, rows, targets in self.sources.values():
            if rows:
                rows = np.asarray(rows, dtype=np.int64)
                order = np.argsort(rows)  # read the memory map in file order
                E[np.asarray(targets, dtype=np.int64)[order]] = emb.vectors[rows[order]]
        return E


@dataclass
class Split:
    """Padded token rows of a document set (on the training device)."""

    ids: torch.Tensor  # [N, Lmax] int64, 0 = padding
    lengths: torch.Tensor  # [N] int64, >= 1 (an empty document is one padding token)
    labels: torch.Tensor = None  # [N] int64 or None
    lengths_np: np.ndarray = field(default=None, repr=False)
    weights: torch.Tensor = None  # [N] float32 loss weight per document, or None (all 1)

    def __len__(self):
        return int(self.ids.shape[0])


def pack(id_lists, labels=None, device="cpu", min_length=1):
    n = len(id_lists)
    lens = np.array([len(a) for a in id_lists], dtype=np.int64)
    width = max(int(lens.max()) if n else 0, min_length, 1)
    ids = np.zeros((n, width), dtype=np.int64)
    for i, a in enumerate(id_lists):
        ids[i, : len(a)] = a
    lens = np.maximum(lens, 1)
    return Split(torch.from_numpy(ids).to(device), torch.from_numpy(lens).to(device),
                 None if labels is None else torch.as_tensor(labels, dtype=torch.int64, device=device), lens)


def length_batches(lengths, batch_size, rng):
    """Batches of similar length: shuffle, stable-sort by length, cut, shuffle the batches."""
    perm = rng.permutation(len(lengths))
    order = perm[np.argsort(lengths[perm], kind="stable")]
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def gather(E, split, idx, min_length=1):
    """Embedded batch ``x`` [B, L, D] and lengths [B] for document indices ``idx``."""
    idx_t = torch.as_tensor(idx, device=split.ids.device)
    lengths = split.lengths[idx_t]
    L = max(int(split.lengths_np[idx].max()), min_length)
    ids = split.ids[idx_t, :L]
    return E[ids], lengths


@torch.no_grad()
def scores(model, E, split, batch_size=EVAL_BATCH):
    """Class scores (logits) per document, float32 tensor [N, C] on the split's device."""
    model.eval()
    order = np.argsort(split.lengths_np, kind="stable")
    out = None
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        x, lengths = gather(E, split, idx, getattr(model, "min_length", 1))
        z = model(x, lengths)
        if out is None:
            out = torch.empty(len(split), z.shape[1], dtype=z.dtype, device=z.device)
        out[torch.as_tensor(idx, device=z.device)] = z
    return out


def predict(model, E, split, batch_size=EVAL_BATCH):
    """Predicted class index per document (int64 numpy array)."""
    return scores(model, E, split, batch_size).argmax(1).cpu().numpy()


def predict_proba(model, E, split, batch_size=EVAL_BATCH):
    """Class probabilities per document (float64 numpy [N, C])."""
    return torch.softmax(scores(model, E, split, batch_size).double(), dim=1).cpu().numpy()


def evaluate(model, E, split):
    """(accuracy, mean cross-entropy) of ``model`` on a labelled split."""
    z = scores(model, E, split)
    loss = float(nn.functional.cross_entropy(z.double(), split.labels).item())
    return accuracy(split.labels.cpu().numpy(), z.argmax(1).cpu().numpy()), loss


# ---------------------------------------------------------------- metrics

def accuracy(gold, pred):
    gold, pred = np.asarray(gold), np.asarray(pred)
    return float((gold == pred).mean()) if len(gold) else 0.0


def macro_f1(gold, pred):
    """Macro-averaged F1 over the classes that occur in the gold or predicted labels."""
    gold, pred = np.asarray(gold), np.asarray(pred)
    scores = []
    for c in np.union1d(gold, pred):
        tp = np.sum((gold == c) & (pred == c))
        fp = np.sum((gold != c) & (pred == c))
        fn = np.sum((gold == c) & (pred != c))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


def mean_std(values):
    """Mean and sample standard deviation (0 for a single value)."""
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


# ---------------------------------------------------------------- training

# Adam learning rate per model when none is given: chosen on the example's French dev split
# (README section 2); logistic regression and the DAN underfit at the CNN's 1e-3 in 30 epochs
DEFAULT_LR = {"cnn": 1e-3, "dan": 1e-2, "lr": 5e-2}


@dataclass
class TrainConfig:
    model_type: str = "cnn"
    epochs: int = 30
    batch_size: int = 100
    lr: float = None  # None: DEFAULT_LR of the model type
    clip: float = 5.0
    dropout: float = None  # None: 0.5 for cnn/dan, 0 for lr
    filters: int = 100
    widths: tuple = (3, 4, 5)
    hidden: int = 300
    layers: int = 3
    holdout: float = 0.1
    dev_lang: str = "auto"  # language of --dev documents: auto, src or tgt

    def learning_rate(self):
        return self.lr if self.lr is not None else DEFAULT_LR[self.model_type]

    def sizes(self, dim, n_classes):
        dropout = self.dropout if self.dropout is not None else (0.0 if self.model_type == "lr" else 0.5)
        s = {"dim": int(dim), "n_classes": int(n_classes), "dropout": float(dropout)}
        if self.model_type == "cnn":
            s.update(filters=int(self.filters), widths=[int(w) for w in self.widths])
        elif self.model_type == "dan":
            s.update(hidden=int(self.hidden), layers=int(self.layers))
        return s


def seed_run(seed):
    cli.seed_everything(seed)
    torch.manual_seed(seed)


@dataclass
class Selection:
    """How a run's epoch was chosen: the best dev accuracy, the epoch kept, and how many
    epochs reached that accuracy (more than one: the lowest dev loss among them won)."""

    accuracy: float
    epoch: int
    tied: int = 1


def train_one(config, sizes, E, train, dev, seed, device, progress=True, desc="training", selection=None):
    """One training run.  Returns (model with the best dev state loaded, dev accuracy, best epoch).

    The epoch kept is the one with the highest dev accuracy; among epochs with equal
    accuracy, the one with the lowest dev loss (a small dev set is often at 100 % from the
    first epoch on, and the first such epoch is rarely the best model).  ``selection``: a
    list that receives this run's :class:`Selection`.  Without a dev split (``dev`` None)
    the last epoch's model is kept.
    """
    seed_run(seed)
    rng = np.random.default_rng(seed)
    model = build_model(config.model_type, sizes).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.learning_rate())
    loss_fn = nn.CrossEntropyLoss()
    per_doc = nn.CrossEntropyLoss(reduction="none")
    min_len = getattr(model, "min_length", 1)
    best = (-1.0, 0, None, math.inf)  # accuracy, epoch, state, loss
    tied = 0
    bar = tqdm(range(1, config.epochs + 1), desc=desc, leave=False, unit="epoch",
               disable=cli.bar_off(progress))
    for epoch in bar:
        model.train()
        for idx in length_batches(train.lengths_np, config.batch_size, rng):
            x, lengths = gather(E, train, idx, min_len)
            idx_t = torch.as_tensor(idx, device=train.ids.device)
            if train.weights is None:
                loss = loss_fn(model(x, lengths), train.labels[idx_t])
            else:  # weighted mean over the batch: a target document of weight w counts as w documents
                w = train.weights[idx_t]
                loss = (per_doc(model(x, lengths), train.labels[idx_t]) * w).sum() / w.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip and config.clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), config.clip)
            opt.step()
        if dev is not None:
            acc, dev_loss = evaluate(model, E, dev)
            if acc == best[0]:
                tied += 1
            elif acc > best[0]:
                tied = 1
            if acc > best[0] or (acc == best[0] and dev_loss < best[3]):
                best = (acc, epoch, {k: v.detach().clone() for k, v in model.state_dict().items()}, dev_loss)
            bar.set_postfix(dev=f"{acc:.3f}", best=f"{best[0]:.3f}")
        if bar.disable:   # no bar (stderr is not a terminal): a line per epoch at debug level and, when
            # progress was asked for, one at info level every 5 epochs, so a redirected log shows progress
            level = logging.INFO if progress and (epoch % 5 == 0 or epoch == config.epochs) else logging.DEBUG
            log.log(level, "%s epoch %d/%d%s", desc or "training", epoch, config.epochs,
                    f": dev accuracy {acc:.3f} (best {best[0]:.3f} at epoch {best[1]})" if dev is not None else "")
    bar.close()
    if dev is None:
        return model, float("nan"), config.epochs
    model.load_state_dict(best[2])
    if selection is not None:
        selection.append(Selection(best[0], best[1], tied))
    return model, best[0], best[1]


def warn_overlap(train_sets, held_out):
    """Warn for every training set that shares ids or identical token lists with a dev or test
    set.  ``train_sets``/``held_out``: [(name, docs)].  In a parallel corpus (SIB-200) an equal id
    is the same sentence in another language, so a source document with a dev document's id is
    that dev document's translation.  Returns the number of warnings."""
    from .text import shared_with

    n_warn = 0
    for tname, tdocs in train_sets:
        for hname, hdocs in held_out:
            if not tdocs or not hdocs:
                continue
            idx, n_id, n_text = shared_with(tdocs, hdocs)
            if idx:
                n_warn += 1
                log.warning("warning: %s: %d of its %d training document(s) share %s with %s (%d by id, %d by identical "
                            "text; in a parallel corpus an equal id is the same sentence translated): the "
                            "accuracy on %s is not honest; see the split in docs/make_kit.md", tname, len(idx),
                            len(tdocs), "ids or texts", hname, n_id, n_text, hname)
    return n_warn


def _dev_language(dev_docs, src_emb, tgt_emb, name):
    def cov(emb):
        idx = emb.index
        n = sum(len(d["text"]) for d in dev_docs)
        return sum(t in idx for d in dev_docs for t in d["text"]) / max(n, 1)

    cs, ct = cov(src_emb), cov(tgt_emb)
    lang = "src" if cs > ct else "tgt"
    log.info("%s: dev documents taken as %s language (token coverage %.1f%% source, %.1f%% target; "
             "set --dev-lang to choose)", name, "source" if lang == "src" else "target", 100 * cs, 100 * ct)
    return lang


def holdout_split(n, fraction):
    """Indices (train, dev) of a fixed ``fraction`` hold-out, independent of the run seed."""
    n_dev = int(round(n * fraction))
    if fraction > 0:
        n_dev = max(n_dev, 1)
    if n - n_dev < 1:
        raise ClimeError(f"{n} training document(s) are too few to hold out {fraction:.0%} for model selection "
                         "(give --dev FILE or --holdout 0)")
    perm = np.random.default_rng(HOLDOUT_SEED).permutation(n)
    return np.sort(perm[n_dev:]), np.sort(perm[:n_dev])


@dataclass
class Result:
    runs: list  # dicts: seed, accuracy, macro_f1, dev_accuracy, epoch, seconds
    labels: list
    best_state: dict
    best_run: int
    sizes: dict
    vocab: list  # source words of the training documents that have a vector
    coverage: dict
    label_counts: list = None  # source training documents per label (the label mix)

    def summary(self):
        acc = mean_std([r["accuracy"] for r in self.runs])
        f1 = mean_std([r["macro_f1"] for r in self.runs])
        return {"accuracy_mean": acc[0], "accuracy_std": acc[1], "macro_f1_mean": f1[0], "macro_f1_std": f1[1]}


def train_classifier(src_emb, tgt_emb, train_docs, test_docs, dev_docs=None, config=None, runs=10, seed=0,
                     device="auto", progress=True, names=None, on_run=None, tgt_train_docs=None, tgt_weight=1.0,
                     self_train_docs=None, self_train=None, keyword_features=None, feature_weight=1.0,
                     keyword_min_hits=1, keyword_max_df=0.1):
    """Train ``runs`` models (seeds seed, seed+1, ...) and test each on ``test_docs``.

    ``src_emb``/``tgt_emb`` are :class:`clime.embeddings.Embeddings`; documents
    are lists of dicts from :func:`clime.text.read_docs`.  ``names`` maps
    "train", "test", "dev", "src", "tgt", "tgt_train", "self_train", "features" to paths for
    messages.  ``on_run(i, run_dict)`` is called after each run.  ``tgt_train_docs``: labelled
    *target*-language documents added to the training set (embedded with ``tgt_emb``; never
    part of the hold-out, so model selection is unchanged), each weighing ``tgt_weight``
    source documents in the loss.  ``self_train_docs``: unlabelled target documents for
    self-training (:mod:`clime.selftrain`, ``self_train`` its
    :class:`~clime.selftrain.SelfTrainConfig`); documents shared with the dev or test set are
    dropped.  Each run then has ``self_train_rounds``.  ``keyword_features``: ``{target word:
    label index}`` (:func:`clime.keyword_features.word_classes`): the feature words as
    one-word documents and the pool documents they label
    (:func:`~clime.keyword_features.feature_documents`, ``keyword_min_hits``, ``keyword_max_df``) are added to
    the training set with weight ``feature_weight`` and leave the self-training pool.
    Returns a :class:`Result`.
    """
    from . import keyword_features as kwf
    from . import selftrain
    from .neighbors import resolve_device

    config = config or TrainConfig()
    names = names or {}
    if config.model_type not in MODEL_TYPES:
        raise ClimeError(f"unknown model type {config.model_type!r} (choose from {', '.join(MODEL_TYPES)})")
    if runs < 1:
        raise ClimeError("--runs must be at least 1")
    if src_emb.dim != tgt_emb.dim:
        raise ClimeError(f"target embeddings have dimension {tgt_emb.dim} but the source embeddings "
                         f"({names.get('src', 'source')}) have {src_emb.dim}", names.get("tgt"))
    device = resolve_device(device)
    labels = label_mapping(train_docs, names.get("train"))
    if len(labels) < 2:
        log.warning("%s: only one label (%r) in the training data", names.get("train", "training data"), labels[0])
    y_train = encode_labels(train_docs, labels, names.get("train"), "training")
    y_test = encode_labels(test_docs, labels, names.get("test"), "test")
    label_counts = np.bincount(y_train, minlength=len(labels))
    held_out = [(names.get("test") or "the test set", test_docs)]
    if dev_docs is not None:
        held_out.append((names.get("dev") or "the dev set", dev_docs))
    pool_docs = list(self_train_docs or [])
    if pool_docs:
        self_train = self_train or selftrain.SelfTrainConfig()
        self_train.check()
        pool_docs = selftrain.clean_pool(pool_docs, held_out, names.get("self_train") or "the self-training pool")
    feature_docs = []
    if keyword_features is not None:
        feature_docs, used = kwf.feature_documents(keyword_features, labels, pool_docs, keyword_min_hits,
                                                   keyword_max_df)
        used = set(used)
        pool_docs = [d for i, d in enumerate(pool_docs) if i not in used]
    extra = []  # labelled target sets: (docs, label indices, weight, name, coverage key)
    for docs, weight, key, role, opt in ((tgt_train_docs, tgt_weight, "tgt_train", "target training", "--tgt-weight"),
                                         (feature_docs, feature_weight, "features", "keyword-feature",
                                          "--keyword-weight")):
        docs = list(docs or [])
        if not docs:
            continue
        if not (weight > 0 and math.isfinite(weight)):
            raise ClimeError(f"{opt} must be a positive number, got {weight}")
        name = names.get(key) or f"the {role} documents"
        extra.append((docs, encode_labels(docs, labels, names.get(key), role), weight, name, key))
    warn_overlap([(names.get("train") or "the source training set", train_docs)] + [(e[3], e[0]) for e in extra],
                 held_out)

    builder = MatrixBuilder(src_emb.dim)
    train_ids, cov_train = builder.encode("src", src_emb, [d["text"] for d in train_docs], names.get("train", "train"))
    vocab = list(builder.maps["src"].keys())
    if dev_docs is not None:
        y_dev = encode_labels(dev_docs, labels, names.get("dev"), "dev")
        lang = config.dev_lang
        if lang == "auto":
            lang = _dev_language(dev_docs, src_emb, tgt_emb, names.get("dev", "dev"))
        dev_ids, cov_dev = builder.encode(lang, src_emb if lang == "src" else tgt_emb,
                                          [d["text"] for d in dev_docs], names.get("dev", "dev"))
        tr_idx = np.arange(len(train_docs))
    elif config.holdout > 0:
        tr_idx, dv_idx = holdout_split(len(train_docs), config.holdout)
        dev_ids, y_dev, cov_dev = [train_ids[i] for i in dv_idx], y_train[dv_idx], None
        log.info("model selection on a fixed hold-out of %d of the %d training documents", len(dv_idx),
                 len(train_docs))
    else:
        tr_idx, dev_ids, cov_dev = np.arange(len(train_docs)), None, None
        log.warning("no dev set and --holdout 0: keeping the model of the last epoch")
    test_ids, cov_test = builder.encode("tgt", tgt_emb, [d["text"] for d in test_docs], names.get("test", "test"))
    cov = {}
    train_list, train_y = [train_ids[i] for i in tr_idx], y_train[tr_idx]
    weights = [np.ones(len(tr_idx), dtype=np.float32)]
    for docs, y_extra, weight, name, key in extra:
        ids, c = builder.encode("tgt", tgt_emb, [d["text"] for d in docs], name)
        cov[key] = c.__dict__
        train_list, train_y = train_list + ids, np.concatenate([train_y, y_extra])
        weights.append(np.full(len(docs), weight, dtype=np.float32))
        log.info("training on %d %s document(s) (weight %g)", len(docs), name, weight)
    pool_ids = None
    if pool_docs:
        pool_ids, c = builder.encode("tgt", tgt_emb, [d["text"] for d in pool_docs],
                                     names.get("self_train", "self-training pool"))
        cov["self_train"] = c.__dict__
    E_np = builder.matrix()
    E = torch.from_numpy(E_np).to(device)
    sizes = config.sizes(src_emb.dim, len(labels))
    min_len = max(sizes.get("widths", [1]))
    base_w = np.concatenate(weights)
    train = pack(train_list, train_y, device, min_len)
    if extra:
        train.weights = torch.from_numpy(base_w).to(device)
    dev = None if dev_ids is None else pack(dev_ids, y_dev, device, min_len)
    test = pack(test_ids, y_test, device, min_len)
    pool = None if pool_ids is None else pack(pool_ids, None, device, min_len)
    log.info("%d training, %s dev, %d test%s documents; %d classes; %d embedding rows; %s on %s",
             len(train), len(dev) if dev is not None else "no", len(test),
             f", {len(pool)} self-training" if pool is not None else "", len(labels), E_np.shape[0],
             config.model_type, device)

    results, best, selections = [], (None, -math.inf, None), []
    for r in range(runs):
        s = seed + r
        t0 = time.perf_counter()
        desc = f"run {r + 1}/{runs}"
        model, dev_acc, epoch = train_one(config, sizes, E, train, dev, s, device, progress, desc=desc,
                                          selection=selections)
        rounds = None
        if pool is not None and self_train.rounds > 0:
            def fit(idx, y, _s=s, _desc=desc):
                split = pack(train_list + [pool_ids[i] for i in idx], np.concatenate([train_y, y]), device,
                             min_len)
                split.weights = selftrain.concat_weights(len(train_list), base_w, len(idx), self_train.weight,
                                                         device)
                m, acc, ep = train_one(config, sizes, E, split, dev, _s, device, progress,
                                       desc=_desc + " self-training", selection=selections)
                return m, None if dev is None else acc, ep

            model, dev_acc, epoch, rounds = selftrain.self_train(
                fit, lambda m: predict_proba(m, E, pool), (model, None if dev is None else dev_acc, epoch),
                len(pool), label_counts, self_train, labels, selftrain.gold_labels(pool_docs, labels))
            dev_acc = float("nan") if dev_acc is None else dev_acc
        pred = predict(model, E, test)
        run = {"seed": s, "accuracy": accuracy(y_test, pred), "macro_f1": macro_f1(y_test, pred),
               "dev_accuracy": None if dev is None else dev_acc, "epoch": epoch,
               "seconds": round(time.perf_counter() - t0, 3)}
        if rounds is not None:
            run["self_train_rounds"] = rounds
        results.append(run)
        key = dev_acc if dev is not None else 0.0
        if best[0] is None or key > best[1]:
            best = (r, key, {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()})
        if on_run is not None:
            on_run(r, run)
    saturated = [x for x in selections if x.tied > 1 and x.accuracy >= 1.0]
    if saturated:
        log.warning("warning: the dev set (%d documents) is at 100%% accuracy for several epochs in %d of %d trainings, so "
                    "it cannot tell the models apart: the epoch was chosen by the lowest dev loss among them; a "
                    "larger dev set selects better", len(dev), len(saturated), len(selections))
    cov = {"train": cov_train.__dict__, "test": cov_test.__dict__, **cov}
    if cov_dev is not None:
        cov["dev"] = cov_dev.__dict__
    return Result(results, labels, best[2], best[0], sizes, vocab, cov, [int(c) for c in label_counts])


# ---------------------------------------------------------------- checkpoints

def _plain(v):
    """Make an argument value storable under torch.load(weights_only=True)."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return str(v)


def make_checkpoint(result, model_type, args=None, paths=None):
    """A plain dict (tensors, lists, str, numbers): loads with torch.load(weights_only=True)."""
    best = result.runs[result.best_run]
    return {
        "format": CHECKPOINT_FORMAT,
        "model_type": model_type,
        "sizes": _plain(result.sizes),
        "state_dict": result.best_state,
        "labels": _plain(result.labels),
        "vocab": list(result.vocab),
        "paths": _plain(paths or {}),
        "args": _plain(args or {}),
        "run": _plain(best),
        "coverage": _plain(result.coverage),  # includes "tgt_train" when target documents were trained on
        "label_counts": _plain(result.label_counts),  # the source label mix (select_docs.py balanced-entropy)
    }


def save_checkpoint(path, checkpoint):
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)


def load_checkpoint(path, device="cpu"):
    """Read a checkpoint written by :func:`save_checkpoint`; returns (checkpoint dict, model in eval mode)."""
    from pathlib import Path

    path = Path(path)
    require_file(path, "a model checkpoint (train.py --output)")
    if path.stat().st_size == 0:
        raise ClimeError("empty file (0 bytes), not a CLIME model checkpoint", path)
    try:
        ck = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means a bad file
        why = (str(err).splitlines() or [type(err).__name__])[0][:200]
        raise ClimeError(f"not a CLIME model checkpoint ({why})", path) from None
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT or "state_dict" not in ck:
        raise ClimeError("not a CLIME model checkpoint (written by train.py --output)", path)
    if ck.get("model_type") not in MODEL_TYPES:
        raise ClimeError(f"unknown model type {ck.get('model_type')!r}", path)
    model = build_model(ck["model_type"], ck["sizes"])
    try:
        model.load_state_dict(ck["state_dict"])
    except RuntimeError as err:
        raise ClimeError(f"damaged checkpoint ({str(err).splitlines()[0][:200]})", path) from None
    model.to(device).eval()
    return ck, model
