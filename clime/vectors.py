"""Word vectors trained on the user's own unlabelled text (``train_vectors.py``).

A low-resource language rarely has good pretrained vectors, but its users have some
text.  :class:`Corpus` streams it (plain text, one sentence or document a line, or
JSON-lines documents; gzip or not), tokenised with :func:`clime.text.tokenize` and the
language's rules, as a restartable iterable: every training pass reads the files
again, so memory does not grow with the corpus.  :func:`train` fits gensim's FastText
(subword character n-grams, so words outside the vocabulary still get a vector from
their n-grams); :func:`vocab_rows` adds such rows for the words of given documents;
:func:`write_vectors` writes word2vec text or an embedding directory.

Deterministic with ``workers=1`` and a fixed seed (gensim's threads otherwise race).
"""

import gzip
import logging
import time
import zlib
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import cli
from .errors import ClimeError
from .fileio import parse_json, require_file
from .text import tokenize

log = logging.getLogger(__name__)

# The defaults of train_vectors.py (chosen on the en-es-bible corpus; docs/train_vectors.md).
DEFAULTS = {"dim": 300, "epochs": 10, "min_count": 2, "window": 5, "sg": 1, "min_n": 3, "max_n": 6,
            "negative": 5, "sample": 1e-4, "bucket": 1_000_000}

_JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")


def _stem(path):
    name = Path(path).name.lower()
    return name[:-3] if name.endswith(".gz") else name


def is_json_lines(path):
    """True when the file name says JSON lines (``.json``, ``.jsonl``, ``.ndjson``, gzipped or not)."""
    return _stem(path).endswith(_JSON_SUFFIXES)


def _open_lines(path):
    """Binary lines of a plain or gzip file (gzip detected from the content)."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def _doc_tokens(line, path, lineno, lang):
    obj = parse_json(line, path, lineno)
    if not isinstance(obj, dict) or "text" not in obj:
        raise ClimeError("expected a JSON object with a 'text' field", path, lineno)
    text = obj["text"]
    if isinstance(text, str):
        return tokenize(text, lang=lang)
    if isinstance(text, list) and all(isinstance(t, str) for t in text):
        return [t.lower() for t in text]
    raise ClimeError("'text' must be a list of strings or a string", path, lineno)


def iter_file(path, lang):
    """Token lists of one file: a plain-text line, or a JSON-lines document, each.
    Blank lines are skipped; bad UTF-8, bad JSON and a damaged gzip are ClimeErrors
    naming the file (and line)."""
    path = require_file(path, "a text corpus or JSON-lines document file")
    json_lines = is_json_lines(path)
    lineno = 0
    try:
        with _open_lines(path) as fh:
            for lineno, raw in enumerate(fh, 1):
                try:
                    line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
                except UnicodeDecodeError as err:
                    raise ClimeError(f"invalid UTF-8 ({err.reason})", path, lineno) from None
                if not line.strip():
                    continue
                tokens = _doc_tokens(line, path, lineno, lang) if json_lines else tokenize(line, lang=lang)
                if tokens:
                    yield tokens
    except (OSError, EOFError, zlib.error) as err:
        raise ClimeError(f"cannot read, file is damaged ({err})", path, lineno + 1 if lineno else None) from None


class Corpus:
    """The token lists of ``paths`` in order, read afresh on every iteration (gensim
    iterates once to count words, then once per epoch).  ``max_tokens``: stop after
    about that many tokens (a quick run on part of a big corpus)."""

    def __init__(self, paths, lang, max_tokens=None):
        self.paths = [require_file(p, "a text corpus or JSON-lines document file") for p in paths]
        self.lang, self.max_tokens = lang, max_tokens
        if not self.paths:
            raise ClimeError("no corpus file given")

    def __iter__(self):
        seen = 0
        for p in self.paths:
            for tokens in iter_file(p, self.lang):
                yield tokens
                seen += len(tokens)
                if self.max_tokens is not None and seen >= self.max_tokens:
                    return


def _stable_hash(text):
    # gensim's default hashfxn is Python's hash(), salted per process; this one is not
    return zlib.crc32(str(text).encode("utf-8"))


def _epoch_bar(epochs, progress):
    from gensim.models.callbacks import CallbackAny2Vec

    class EpochBar(CallbackAny2Vec):
        def __init__(self):
            self.bar = None
            self.start = None

        def on_train_begin(self, model):
            self.bar = tqdm(total=epochs, unit=" epoch", desc="training", disable=cli.bar_off(progress),
                            leave=False)
            self.start = time.perf_counter()

        def on_epoch_end(self, model):
            self.bar.update(1)
            log.debug("epoch %d done, %.1f s", self.bar.n, time.perf_counter() - self.start)

        def on_train_end(self, model):
            self.bar.close()

    return EpochBar()


def train(corpus, dim=DEFAULTS["dim"], epochs=DEFAULTS["epochs"], min_count=DEFAULTS["min_count"],
          window=DEFAULTS["window"], sg=DEFAULTS["sg"], min_n=DEFAULTS["min_n"], max_n=DEFAULTS["max_n"],
          negative=DEFAULTS["negative"], sample=DEFAULTS["sample"], bucket=DEFAULTS["bucket"], workers=1, seed=0,
          progress=True):
    """Fit gensim FastText on ``corpus`` (an iterable of token lists, restartable).
    Returns ``(model, info)``; ``info`` counts sentences, tokens, vocabulary, seconds.
    An empty corpus or one with no word of ``min_count`` occurrences is a ClimeError."""
    from gensim.models import FastText

    for name, value, lo in (("--dim", dim, 1), ("--epochs", epochs, 1), ("--min-count", min_count, 1),
                            ("--window", window, 1), ("--workers", workers, 1), ("--min-n", min_n, 1),
                            ("--bucket", bucket, 1)):
        cli.check_number(value, name, int, lo=lo)
    if max_n < min_n:
        raise ClimeError(f"--max-n ({max_n}) must be at least --min-n ({min_n})")
    logging.getLogger("gensim").setLevel(logging.DEBUG if log.isEnabledFor(logging.DEBUG) else logging.WARNING)
    model = FastText(vector_size=dim, window=window, min_count=min_count, sg=int(sg), min_n=min_n, max_n=max_n,
                     negative=negative, sample=sample, bucket=bucket, workers=workers, seed=seed % (2**32),
                     hashfxn=_stable_hash, epochs=epochs, sorted_vocab=1)
    log.info("counting words")
    t0 = time.perf_counter()
    model.build_vocab(corpus_iterable=corpus)
    n_sent, n_tok = model.corpus_count, model.corpus_total_words
    if n_tok == 0:
        raise ClimeError("the corpus holds no tokens (empty files?)")
    if len(model.wv) == 0:
        raise ClimeError(f"no word occurs {min_count} times or more in the corpus ({n_tok} tokens); "
                         "lower --min-count or give more text")
    log.info("%d lines, %d tokens, %d words occur %d+ times; training %d epochs (%s, %d d)", n_sent, n_tok,
             len(model.wv), min_count, epochs, "skip-gram" if sg else "cbow", dim)
    model.train(corpus_iterable=corpus, total_examples=n_sent, total_words=n_tok, epochs=epochs,
                callbacks=[_epoch_bar(epochs, progress)])
    secs = time.perf_counter() - t0
    info = {"lines": n_sent, "tokens": n_tok, "vocab": len(model.wv), "seconds": round(secs, 1)}
    return model, info


def vocab_rows(model, docs_paths, lang):
    """The model's vocabulary in frequency order, then every word of the documents in
    ``docs_paths`` it lacks (first appearance order), with vectors made from the word's
    character n-grams.  Returns ``(words, float32 matrix, number of added rows)``."""
    wv = model.wv
    words = list(wv.index_to_key)
    known = set(words)
    extra = []
    for p in docs_paths:
        for tokens in iter_file(p, lang):
            for t in tokens:
                if t not in known and not any(c.isspace() for c in t):
                    known.add(t)
                    extra.append(t)
    E = np.asarray(wv.vectors, dtype=np.float32)
    if extra:
        E = np.vstack([E, np.stack([wv.get_vector(w) for w in extra]).astype(np.float32)])
    return words + extra, E, len(extra)


def is_vec_name(path):
    """True when ``path`` names a word2vec text file (``.vec``, ``.txt``, gzipped or not), else
    it is an embedding directory."""
    return _stem(path).endswith((".vec", ".txt"))


def write_vectors(path, words, E, digits=6, meta=None, progress=True):
    """Word2vec text (``.vec``/``.vec.gz``/``.txt``, ``digits`` significant digits) or an
    embedding directory (``E.npy`` + ``words.json``, exact float32), atomically."""
    from .embeddings import save_embeddings
    from .vecfile import write_vec

    if is_vec_name(path):
        write_vec(path, words, E, precision=digits, progress=progress)
    else:
        save_embeddings(path, E, words, meta=meta)
