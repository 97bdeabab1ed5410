"""Keyword ranking by gradient salience.

salience(w) = sum over the training documents d that contain w of
||d loss(d) / d e_w||_2, times idf(w) = log(N / (1 + df(w))).

The gradient with respect to e_w in document d is the sum of the gradients at
the positions where w occurs.  Gradients are computed a batch at a time: the
embedded batch is a leaf tensor, and with the loss *summed* over the batch the
gradient at each position is that document's own gradient.  The model is in
eval mode (no dropout).  Only source-language words with a vector are ranked;
padding and unknown tokens never are.

With an averaged-vector model (lr, dan) the gradient is the same at every
position of a document, so a word's score mostly counts how often it occurs:
the keywords come out generic.  The CNN's gradients single out topical words.
"""

import logging
import math
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from . import cli
from .errors import ClimeError
from .fileio import require_file
from .train import MatrixBuilder, encode_labels, pack

log = logging.getLogger(__name__)

AVERAGED_MODELS = ("lr", "dan")


def document_frequency(token_lists):
    """word -> number of documents that contain it."""
    df = Counter()
    for toks in token_lists:
        df.update(list(dict.fromkeys(toks)))  # distinct tokens in text order (a set's order varies between runs)
    return df


def idf(df, n_docs):
    return math.log(n_docs / (1 + df))


def gradient_norm_sums(model, E, split, vocab_size, batch_size=256, progress=True, n_classes=None):
    """Per combined row r: sum over documents of ||d loss(d) / d e_r|| (float64 numpy [vocab_size]).

    With ``n_classes``, also the same sums over the documents of each label: returns
    ``(total, by_class)`` with ``by_class`` float64 [n_classes, vocab_size]."""
    model.eval()
    device = E.device
    total = torch.zeros(vocab_size, dtype=torch.float64, device=device)
    by_class = None if n_classes is None else torch.zeros(n_classes * vocab_size, dtype=torch.float64, device=device)
    loss_fn = torch.nn.CrossEntropyLoss(reduction="sum")
    min_len = getattr(model, "min_length", 1)
    order = np.argsort(split.lengths_np, kind="stable")
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    for idx in tqdm(batches, desc="gradients", leave=False, disable=cli.bar_off(progress)):
        idx_t = torch.as_tensor(idx, device=device)
        L = max(int(split.lengths_np[idx].max()), min_len)
        ids = split.ids[idx_t, :L]  # [B, L]
        x = E[ids].detach().requires_grad_(True)
        loss = loss_fn(model(x, split.lengths[idx_t]), split.labels[idx_t])
        (grad,) = torch.autograd.grad(loss, x)  # [B, L, D]
        valid = ids != 0
        b = torch.arange(ids.shape[0], device=device)[:, None].expand_as(ids)[valid]
        w = ids[valid]
        g = grad[valid].to(torch.float64)  # [P, D]
        key = b * vocab_size + w
        uniq, inv = torch.unique(key, return_inverse=True)
        per_doc_word = torch.zeros(len(uniq), g.shape[1], dtype=torch.float64, device=device)
        per_doc_word.index_add_(0, inv, g)  # gradient w.r.t. e_w in doc b: sum over w's positions
        norms = per_doc_word.norm(dim=1)
        total.index_add_(0, uniq % vocab_size, norms)
        if by_class is not None:
            doc_label = split.labels[idx_t][uniq // vocab_size]
            by_class.index_add_(0, doc_label * vocab_size + uniq % vocab_size, norms)
    if by_class is None:
        return total.cpu().numpy()
    return total.cpu().numpy(), by_class.view(n_classes, vocab_size).cpu().numpy()


def read_stopwords(path):
    """One word a line; blank lines and lines starting with '#' are ignored."""
    path = Path(path)
    require_file(path, "a file of stopwords")
    words = set()
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as err:
                raise ClimeError(f"invalid UTF-8 ({err.reason})", path, lineno) from None
            if line and not line.startswith("#"):
                words.add(line)
    return words


def _has_letter(word):
    return any(ch.isalpha() for ch in word)


def rank_words(checkpoint, model, src_emb, docs, device="cpu", min_df=1, max_df=1.0, stopwords=(),
               letters_only=True, batch_size=256, progress=True, train_path=None, aggregate="sum", with_class=False):
    """Rank the source words of ``docs`` (labelled) by salience under ``model``.

    Returns a list of (word, score), highest first (ties by word).  ``max_df``
    drops words in more than that fraction of the documents; ``letters_only``
    drops tokens without any letter (punctuation, numbers).  ``aggregate`` "sum"
    is the salience above; "mean" divides the sum by df(w) (the average gradient
    norm per document containing w, times idf), which favours topical words over
    frequent ones; pair it with ``min_df`` >= 2 or 3.

    ``with_class``: 4-tuples (word, score, label, share): the class the word is salient for
    and the share of its salience that class holds.  A word's per-class salience is the sum
    of its gradient norms over the documents of that label, divided by the number of
    training documents of the label (so a large class does not win every word); the class
    is the one with the largest per-class salience (ties: the earlier label).
    """
    if aggregate not in ("sum", "mean"):
        raise ClimeError(f"unknown aggregate {aggregate!r} (sum or mean)")
    sizes = checkpoint["sizes"]
    if src_emb.dim != int(sizes["dim"]):
        raise ClimeError(f"embeddings have dimension {src_emb.dim} but the model was trained on "
                         f"{sizes['dim']}-dimensional vectors", src_emb.meta.get("path"))
    if checkpoint["model_type"] in AVERAGED_MODELS:
        log.warning("this is a %s model (averaged word vectors): its gradient is the same for every word of a "
                    "document, so the keywords will be generic frequent words. Train with --type cnn for "
                    "topical keywords, or use --stopwords / --max-df to drop the generic ones.",
                    checkpoint["model_type"])
    y = encode_labels(docs, checkpoint["labels"], train_path, "training")
    builder = MatrixBuilder(src_emb.dim)
    ids, cov = builder.encode("src", src_emb, [d["text"] for d in docs], train_path)
    E = torch.from_numpy(builder.matrix()).to(device)
    split = pack(ids, y, device, getattr(model, "min_length", 1))
    labels = checkpoint["labels"]
    sums, by_class = gradient_norm_sums(model, E, split, builder.n_rows, batch_size, progress, n_classes=len(labels))
    per_doc = by_class / np.maximum(np.bincount(y, minlength=len(labels)), 1)[:, None]
    df = document_frequency(d["text"] for d in docs)
    n = len(docs)
    stop = set(stopwords)
    out = []
    for word, row in builder.maps["src"].items():
        f = df[word]
        if f < min_df or f > max_df * n or word in stop or (letters_only and not _has_letter(word)):
            continue
        total = sums[row] / f if aggregate == "mean" else sums[row]
        score = float(total * idf(f, n))
        if with_class:
            col = per_doc[:, row]
            c = int(np.argmax(col))
            out.append((word, score, labels[c], float(col[c] / col.sum()) if col.sum() > 0 else 0.0))
        else:
            out.append((word, score))
    out.sort(key=lambda t: (-t[1], t[0]))
    return out


def format_ranking(ranked):
    """The ranking file: ``word<TAB>score`` lines, with ``<TAB>class<TAB>share`` for 4-tuples
    (readers of the two-column format, such as :func:`clime.preprocess.read_ranking`, ignore
    the extra fields)."""
    return "".join(f"{t[0]}\t{t[1]:.6g}\n" if len(t) == 2 else f"{t[0]}\t{t[1]:.6g}\t{t[2]}\t{t[3]:.3f}\n"
                   for t in ranked)


def warn_if_generic(ranked, docs, top=20, share=0.1):
    """The summed salience favours words found everywhere; say so when most of the
    top keywords occur in more than ``share`` of the documents."""
    df = document_frequency(d["text"] for d in docs)
    head = [t[0] for t in ranked[:top]]
    common = [w for w in head if df.get(w, 0) > share * len(docs)]
    if head and len(common) > len(head) / 2:
        log.warning("%d of the top %d keywords occur in more than %d%% of the documents (%s): they are "
                    "generic words, a poor use of an annotator's time; --aggregate mean --min-df 3 (or "
                    "--stopwords / --max-df) gives topical keywords", len(common), len(head), round(100 * share),
                    ", ".join(common[:6]))
