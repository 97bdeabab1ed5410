"""Active learning: which unlabelled target documents the annotator should label.

A trained classifier (``train.py --output``) scores every candidate document of
the target language; a strategy picks ``n`` of them:

``max-entropy``
    the documents whose predicted class distribution has the highest entropy
    (uncertainty sampling, as in the CLIME paper); ties go to the earlier document.
``random``
    a uniform sample (the seed decides).
``diverse``
    uncertainty-weighted k-means++ over document vectors (the mean of the
    document's unit-length target word vectors, made unit length): the first
    pick is the most uncertain document, each next one is drawn with
    probability proportional to ``entropy * distance**2``, where distance is
    the cosine distance to the nearest document already picked, so a
    near-duplicate of a picked document is (almost) never picked.
``balanced-entropy``
    uncertainty sampling that does not skew the label mix: ``n`` is split into
    per-class quotas in proportion to the source training labels (largest
    remainders), and each quota is filled with the highest-entropy documents
    *predicted* as that class.  A class with too few candidates passes its
    unused quota on to the most uncertain documents left.  Plain max-entropy
    tends to pick documents of one or two confusable classes; the labels the
    annotator then gives shift the classifier toward those classes.

Everything is deterministic for a fixed seed.  The choice is written to
``ui_data/<task>/documents.json`` (:func:`write_selection`), which the app's
document page shows and ``simulate.py --oracle doc`` labels.
"""

import json
import logging
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import cli
from .errors import ClimeError
from .fileio import write_json

log = logging.getLogger(__name__)

STRATEGIES = ("max-entropy", "random", "diverse", "balanced-entropy")
DEFAULT_STRATEGY = "max-entropy"
FORMAT = 1
FILENAME = "documents.json"


# ---------------------------------------------------------------- scores

def entropy(probs):
    """Entropy (nats) of each row of a probability matrix."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1)


def doc_vectors(emb, token_lists):
    """Unit-length mean of the unit-length word vectors of each document (zeros when none is known)."""
    out = np.zeros((len(token_lists), emb.dim), dtype=np.float32)
    index = emb.index
    for i, toks in enumerate(token_lists):
        rows = sorted({index[t] for t in toks if t in index})
        if not rows:
            continue
        v = np.asarray(emb.vectors[rows], dtype=np.float32)
        v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        m = v.mean(axis=0)
        n = np.linalg.norm(m)
        out[i] = m / n if n > 0 else m
    return out


def predict_proba(model, tgt_emb, token_lists, device="cpu", batch_size=512, progress=True):
    """Class probabilities [N, C] of ``model`` (from :func:`clime.train.load_checkpoint`) for
    target-language token lists, looked up in ``tgt_emb``."""
    import torch

    from .train import MatrixBuilder, gather, pack

    builder = MatrixBuilder(tgt_emb.dim)
    ids, _ = builder.encode("tgt", tgt_emb, token_lists)
    E = torch.from_numpy(builder.matrix()).to(device)
    min_len = getattr(model, "min_length", 1)
    split = pack(ids, None, device, min_len)
    out = np.empty((len(split), 0), dtype=np.float64)
    order = np.argsort(split.lengths_np, kind="stable")
    model.eval()
    starts = range(0, len(order), batch_size)
    with torch.no_grad():
        for i in tqdm(starts, desc="scoring documents", unit="batch", leave=False, disable=cli.bar_off(progress)):
            idx = order[i:i + batch_size]
            x, lengths = gather(E, split, idx, min_len)
            p = torch.softmax(model(x, lengths).double(), dim=1).cpu().numpy()
            if out.shape[1] == 0:
                out = np.empty((len(split), p.shape[1]), dtype=np.float64)
            out[idx] = p
    return out


# ---------------------------------------------------------------- strategies

def quotas(prior, n):
    """Split ``n`` into per-class integer quotas proportional to ``prior`` (largest remainders;
    ties to the earlier class).  ``prior``: non-negative weights, e.g. label counts."""
    w = np.asarray(prior, dtype=np.float64)
    if w.ndim != 1 or len(w) == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"bad class prior {prior!r}")
    exact = int(n) * w / w.sum()
    q = np.floor(exact).astype(np.int64)
    rest = int(n) - int(q.sum())
    q[np.argsort(-(exact - q), kind="stable")[:rest]] += 1
    return q


def balanced_pick(scores, classes, prior, n):
    """Indices of ``n`` items: per class c, the ``quotas(prior, n)[c]`` items of class c
    (``classes[i]``) with the highest ``scores``; quota a class cannot fill goes to the
    best-scoring items left.  Returned best score first (ties: the earlier item)."""
    scores, classes = np.asarray(scores, dtype=np.float64), np.asarray(classes)
    n = min(int(n), len(scores))
    order = np.argsort(-scores, kind="stable")
    q = quotas(prior, n)
    taken = np.zeros(len(scores), dtype=bool)
    for c in range(len(q)):
        members = order[classes[order] == c][: q[c]]
        taken[members] = True
    short = n - int(taken.sum())
    if short > 0:
        taken[order[~taken[order]][:short]] = True
    return [int(i) for i in order if taken[i]]


def select(strategy, probs, n, seed=0, vectors=None, prior=None):
    """Indices of the ``n`` documents ``strategy`` picks, in the order picked.  ``prior``
    (per-class weights, e.g. the source label counts) is for ``balanced-entropy``;
    None means uniform."""
    if strategy not in STRATEGIES:
        raise ClimeError(f"unknown strategy {strategy!r} (choose from {', '.join(STRATEGIES)})")
    probs = np.asarray(probs, dtype=np.float64)
    total = probs.shape[0]
    n = min(int(n), total)
    if n <= 0:
        return []
    rng = np.random.default_rng(seed)
    if strategy == "random":
        return [int(i) for i in rng.permutation(total)[:n]]
    h = entropy(probs)
    if strategy == "max-entropy":
        return [int(i) for i in np.argsort(-h, kind="stable")[:n]]
    if strategy == "balanced-entropy":
        prior = np.ones(probs.shape[1]) if prior is None else np.asarray(prior, dtype=np.float64)
        if len(prior) != probs.shape[1]:
            raise ValueError(f"prior has {len(prior)} classes, the probabilities {probs.shape[1]}")
        return balanced_pick(h, probs.argmax(axis=1), prior, n)
    if vectors is None:
        raise ValueError("the diverse strategy needs document vectors")
    x = np.asarray(vectors, dtype=np.float64)
    weight = np.maximum(h, 1e-12)
    chosen = [int(np.argmax(weight))]
    dist = np.clip(1.0 - x @ x[chosen[0]], 0.0, 2.0)  # cosine distance to the nearest pick
    dist[chosen[0]] = 0.0
    while len(chosen) < n:
        score = weight * dist ** 2
        s = score.sum()
        if s <= 0:  # everything left duplicates a pick: fall back to uncertainty
            taken = set(chosen)
            chosen += [int(i) for i in np.argsort(-h, kind="stable") if int(i) not in taken][: n - len(chosen)]
            break
        j = int(rng.choice(total, p=score / s))
        chosen.append(j)
        dist = np.minimum(dist, np.clip(1.0 - x @ x[j], 0.0, 2.0))
        dist[chosen] = 0.0
    return chosen


# ---------------------------------------------------------------- the stage

def exclusion_set(paths):
    """Token tuples of every document in ``paths`` (documents never to be offered)."""
    from .text import read_docs

    out = set()
    for p in paths or ():
        out.update(tuple(d["text"]) for d in read_docs(p, labeled=False))
    return out


def category_table(labels, categories=None, path=None):
    """``[{"label", "name"}]`` for the model's labels.  With category names (one per
    label index, label 0 = first line), integer labels name themselves by line."""
    table = []
    for lab in labels:
        name = str(lab)
        if categories is not None:
            if isinstance(lab, int) and 0 <= lab < len(categories):
                name = categories[lab]
            elif isinstance(lab, int):
                raise ClimeError(f"the model has label {lab}, but only {len(categories)} categories are listed", path)
        table.append({"label": lab, "name": name})
    return table


def label_prior(checkpoint, path=None):
    """Per-class weights for ``balanced-entropy``: the label counts the checkpoint stores
    (train.py since this version), else those of its training file when it is still there,
    else uniform (with a warning)."""
    from .text import read_docs

    labels = checkpoint["labels"]
    counts = checkpoint.get("label_counts")
    if isinstance(counts, list) and len(counts) == len(labels) and sum(counts) > 0:
        return np.asarray(counts, dtype=np.float64)
    train_path = (checkpoint.get("paths") or {}).get("train")
    if train_path and Path(train_path).is_file():
        found = [d["label"] for d in read_docs(train_path)]
        counts = np.array([sum(lab == x for x in found) for lab in labels], dtype=np.float64)
        if counts.sum() > 0:
            log.info("balanced-entropy: class quotas from the label mix of %s", train_path)
            return counts
    log.warning("warning: the checkpoint %s has no label counts and its training file is gone: balanced-entropy uses "
                "equal quotas per class", path or "")
    return np.ones(len(labels))


def choose(model, labels, tgt_emb, docs, n, strategy=DEFAULT_STRATEGY, seed=0, exclude=(), device="cpu",
           prior=None):
    """Pick ``n`` of ``docs`` (dicts with ``id`` and ``text``).

    Documents whose token list is in ``exclude`` (a set of tuples) and repeated
    documents are not candidates.  Returns the picked documents in order, each
    ``{"id", "text", "entropy", "pred"}`` (``pred``: the model's label).
    """
    seen, pool = set(exclude), []
    for d in docs:
        key = tuple(d["text"])
        if key in seen:
            continue
        seen.add(key)
        pool.append(d)
    if len(pool) < len(docs):
        log.info("%d of %d documents left out (excluded or repeated)", len(docs) - len(pool), len(docs))
    if not pool:
        raise ClimeError("no candidate documents left after the exclusions")
    if n > len(pool):
        log.warning("asked for %d documents but only %d are candidates: taking all", n, len(pool))
    texts = [d["text"] for d in pool]
    probs = predict_proba(model, tgt_emb, texts, device=device)
    vectors = doc_vectors(tgt_emb, texts) if strategy == "diverse" else None
    picked = select(strategy, probs, n, seed=seed, vectors=vectors, prior=prior)
    h = entropy(probs)
    return [{"id": pool[i]["id"], "text": pool[i]["text"], "entropy": round(float(h[i]), 6),
             "pred": labels[int(np.argmax(probs[i]))]} for i in picked]


def write_selection(task_dir, picked, categories, strategy, seed, sources=None):
    """Write ``<task_dir>/documents.json`` atomically; returns its path."""
    path = Path(task_dir) / FILENAME
    write_json(path, {
        "format": FORMAT,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "strategy": strategy,
        "seed": seed,
        "sources": sources or {},
        "categories": categories,
        "documents": picked,
    }, indent=None)
    return path


def read_selection(task_dir=None, path=None):
    """Read and check a ``documents.json``; returns the dict."""
    path = Path(path) if path is not None else Path(task_dir) / FILENAME
    if not path.is_file():
        raise ClimeError("no such file (run select_docs.py first)", path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ClimeError(f"not valid JSON ({err})", path) from None
    if not isinstance(obj, dict) or not isinstance(obj.get("documents"), list) \
            or not isinstance(obj.get("categories"), list) or not obj["categories"]:
        raise ClimeError("expected an object with lists 'categories' and 'documents' (select_docs.py)", path)
    for i, c in enumerate(obj["categories"]):
        if not (isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("label"), (int, str))
                and not isinstance(c.get("label"), bool)):
            raise ClimeError(f"category #{i + 1}: expected {{'label', 'name'}}", path)
    ids = set()
    for i, d in enumerate(obj["documents"]):
        if not (isinstance(d, dict) and isinstance(d.get("id"), (int, str)) and not isinstance(d.get("id"), bool)
                and isinstance(d.get("text"), list) and all(isinstance(t, str) for t in d["text"])):
            raise ClimeError(f"document #{i + 1}: expected {{'id', 'text': [tokens]}}", path)
        if d["id"] in ids:
            raise ClimeError(f"document #{i + 1}: repeated id {d['id']!r}", path)
        ids.add(d["id"])
    return obj
