"""Self-training on unlabelled target documents: the free baseline (no annotator).

Each round, the current classifier labels the pool of unlabelled target-language
documents; the most confident predictions of each class become pseudo-labelled
training documents, and the classifier is trained again, from scratch, on the
labelled documents plus those.  Round ``r`` keeps ``min(1, r * fraction)`` of the
pool, split over the classes by the source label mix (:func:`clime.active.quotas`),
so the pseudo-labels keep the label mix of the training data instead of piling up
in the classes the classifier over-predicts: each class takes the documents with the
highest probability of that class (:func:`pick`), which corrects a classifier whose
target-language predictions are shifted toward some classes.  A pseudo-label is
only given when its probability is at least ``threshold``.

The pool must not contain dev or test documents: :func:`clean_pool` drops the ones
that share an id or an identical token list with them, with a warning.
"""

import logging
from dataclasses import dataclass

import numpy as np
import torch

from .active import quotas
from .errors import ClimeError
from .text import shared_with

log = logging.getLogger(__name__)


@dataclass
class SelfTrainConfig:
    # defaults chosen on the French dev split (docs/train.md, "Self-training")
    rounds: int = 1
    fraction: float = 0.2  # share of the pool pseudo-labelled per round (round r: r * fraction)
    weight: float = 1.0  # loss weight of a pseudo-labelled document (a source document weighs 1)
    threshold: float = 0.0  # minimum confidence of a pseudo-label

    def check(self):
        if self.rounds < 0:
            raise ClimeError(f"--self-train-rounds must be at least 0, got {self.rounds}")
        if not 0 < self.fraction <= 1:
            raise ClimeError(f"--self-train-fraction must be in (0, 1], got {self.fraction}")
        if not (self.weight > 0 and np.isfinite(self.weight)):
            raise ClimeError(f"--self-train-weight must be a positive number, got {self.weight}")
        if not 0 <= self.threshold < 1:
            raise ClimeError(f"--self-train-threshold must be in [0, 1), got {self.threshold}")


def clean_pool(pool, held_out, pool_name="the self-training pool"):
    """``pool`` without the documents that share an id or an identical text with a held-out
    set; ``held_out``: [(name, docs)].  Warns for each set; a pool left empty is an error."""
    drop = set()
    for name, docs in held_out:
        if not docs:
            continue
        idx, n_id, n_text = shared_with(pool, docs)
        if idx:
            log.warning("warning: %s: dropped %d of its %d documents that are also in %s (%d by id, %d by identical "
                        "text): pseudo-labels must never come from dev or test documents", pool_name, len(idx),
                        len(pool), name, n_id, n_text)
            drop.update(idx)
    kept = [d for i, d in enumerate(pool) if i not in drop]
    if not kept:
        raise ClimeError("no documents left after dropping the dev and test documents", pool_name)
    return kept


def pick(probs, prior, k, threshold=0.0):
    """Class-balanced pseudo-labels: ``(indices, labels)`` of at most ``k`` documents, class c
    getting at most ``quotas(prior, k)[c]`` of them.  The (document, class) pairs are taken in
    order of decreasing probability p(c | document), each document once, while its class has
    quota left and p(c) >= ``threshold`` (ties: the earlier document, then the earlier
    class).  So a class the classifier under-predicts still gets its share: the documents
    most likely to be of that class, even when another class is predicted for them.
    """
    probs = np.asarray(probs, dtype=np.float64)
    n, n_classes = probs.shape
    left = quotas(prior, min(int(k), n)).copy()
    flat = probs.ravel()
    order = np.argsort(-flat, kind="stable")  # row-major: ties go to the earlier document, then class
    taken = np.full(n, -1, dtype=np.int64)
    remaining = int(left.sum())
    for f in order:
        if remaining == 0 or flat[f] < threshold:
            break
        i, c = divmod(int(f), n_classes)
        if taken[i] >= 0 or left[c] == 0:
            continue
        taken[i] = c
        left[c] -= 1
        remaining -= 1
    idx = np.flatnonzero(taken >= 0)
    return idx.astype(np.int64), taken[idx]


def self_train(fit, predict_pool, base, pool_size, prior, config, labels, pool_gold=None):
    """Run the rounds.  ``fit(extra_idx, extra_labels)`` trains a fresh model on the base
    training set plus the pool documents ``extra_idx`` with those labels and returns
    ``(model, dev_accuracy or None, epoch)``; ``predict_pool(model)`` gives the pool's class
    probabilities.  ``base``: the (model, dev accuracy, epoch) of the classifier trained
    without pseudo-labels (round 0).  ``pool_gold``: the pool's true label indices, when
    the file has them, only to report how right the pseudo-labels are.

    Returns ``(model, dev accuracy, epoch, rounds)``; ``rounds`` lists per round
    ``{"round", "size", "per_class", "dev_accuracy", "epoch"}`` (+ ``pseudo_accuracy``),
    starting with round 0.  The last round's model is kept.
    """
    model, dev_acc, epoch = base
    rounds = [{"round": 0, "size": 0, "per_class": {}, "dev_accuracy": dev_acc, "epoch": epoch}]
    for r in range(1, config.rounds + 1):
        k = int(round(min(1.0, r * config.fraction) * pool_size))
        idx, y = pick(predict_pool(model), prior, k, config.threshold)
        model, dev_acc, epoch = fit(idx, y)
        counts = np.bincount(y, minlength=len(labels))
        info = {"round": r, "size": int(len(idx)),
                "per_class": {str(labels[c]): int(counts[c]) for c in range(len(labels)) if counts[c]},
                "dev_accuracy": dev_acc, "epoch": epoch}
        if pool_gold is not None and len(idx):
            info["pseudo_accuracy"] = float((pool_gold[idx] == y).mean())
        rounds.append(info)
        log.info("self-training round %d: %d pseudo-labelled document(s)%s%s", r, len(idx),
                 "" if dev_acc is None else f", dev accuracy {dev_acc:.3f}",
                 f", pseudo-label accuracy {info['pseudo_accuracy']:.3f}" if "pseudo_accuracy" in info else "")
    return model, dev_acc, epoch, rounds


def gold_labels(pool, labels):
    """The pool's label indices when every pool document carries a known label, else None."""
    index = {lab: i for i, lab in enumerate(labels)}
    if not pool or not all("label" in d and d["label"] in index for d in pool):
        return None
    return np.array([index[d["label"]] for d in pool], dtype=np.int64)


def concat_weights(n_base, base_weights, n_extra, weight, device):
    """Per-document loss weights of base + extra documents (float32 tensor)."""
    w = np.ones(n_base + n_extra, dtype=np.float32)
    if base_weights is not None:
        w[:n_base] = base_weights
    w[n_base:] = weight
    return torch.from_numpy(w).to(device)
