"""A simulated annotator: judges the neighbours of ``ui_data/<task>/setup.json``.

Two oracles stand for a careful bilingual user:

``dict`` (:class:`DictOracle`)
    Knows a bilingual dictionary (``source<TAB>target`` pairs).  With the
    languages given (``src_lang``/``tgt_lang``: the *fair* oracle, the default of
    simulate.py and experiment.py), words are also matched through their base
    form on both sides: every word is reduced by the Snowball stemmer of its
    language (:func:`stemmer`; the ``snowballstemmer`` package), and a target
    word is a translation of keyword k when its stem is the stem of a
    translation of any dictionary word with k's stem (``walking`` -> stem
    ``walk``, whose translation ``kävellä`` is then accepted); the dictionary
    "knows" a word when it knows its stem.  Without languages, exact words only.
    * target neighbour of keyword k: similar iff it is a translation of k;
      not similar if the dictionary knows the word (it has an English side)
      but it is not a translation of k; unmarked if the dictionary does not
      know the word, or does not know k at all.
    * source neighbour w of k: similar iff w is an inflection of k (see
      :func:`is_inflection`) or w and k share a translation; not similar if
      both words are in the dictionary and neither holds; unmarked otherwise.
    * added word (``new2``): the first translation of k in dictionary order
      that is in the task's target vocabulary (``vocab_tgt.json``) and is not
      already one of the shown target neighbours, as a user searching for it
      would; it is also listed in ``pos2``.

``label`` (:class:`LabelOracle`)
    Knows the task: it has labelled documents in each language (never the
    test set).  For each word it counts, per class, the documents containing
    it, divides by the class size (so a large class does not win by size) and
    normalises to a distribution.  A word has a *clear class* when it occurs
    in at least ``min_count`` (3) documents, its top class has a share of at
    least ``min_share`` (0.5) and exceeds the second class by more than
    ``margin`` (0.1).  A neighbour is similar iff its clear class is the
    keyword's clear class, not similar iff it has a clear class that differs;
    everything else (rare, spread over classes, unknown) stays unmarked, as
    does every neighbour of a keyword without a clear class.

``noise`` flips each made judgement (similar <-> not similar) with
probability p; ``budget`` judges only the first K keywords.  Everything is
deterministic for a fixed seed.
"""

import json
import logging
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from .errors import ClimeError
from .feedback import FeedbackRow, write_feedback
from .fileio import load_json

log = logging.getLogger(__name__)

# English suffixes stripped (longest first) by :func:`stem`.
SUFFIXES = ("ations", "ation", "ings", "ing", "ness", "ment", "ies", "ied", "ers", "er", "es", "ed", "ly", "s")


def stem(word):
    """A crude English stem: the word without its longest common suffix.

    The stem keeps at least 3 characters; a final doubled consonant left by
    ``-ed``/``-ing`` (``stopped`` -> ``stopp``) is undoubled, and ``-ies``/``-ied``
    become ``y`` (``studies`` -> ``study``) so that the base form matches.
    """
    w = word.lower()
    for suf in SUFFIXES:
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            base = w[: -len(suf)]
            if suf in ("ies", "ied"):
                return base + "y"
            if suf in ("ing", "ed", "er", "ers", "ings") and len(base) >= 4 and base[-1] == base[-2] and base[-1] not in "aeiouls":
                base = base[:-1]
            return base
    return w


def _strip_e(s):
    return s[:-1] if len(s) > 3 and s.endswith("e") else s


def is_inflection(a, b):
    """True when ``a`` and ``b`` look like forms of one word (documented heuristic).

    Either their stems (:func:`stem`, a final silent ``e`` ignored) are equal,
    or they share a prefix of at least 5 characters that covers at least 80%
    of the longer word (``hospital``/``hospitals``, ``elect``/``elected``).
    Identical strings are not inflections of each other.
    """
    a, b = a.lower(), b.lower()
    if a == b or not a.isalpha() or not b.isalpha():
        return False
    if _strip_e(stem(a)) == _strip_e(stem(b)):
        return True
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n >= 5 and n >= 0.8 * max(len(a), len(b))


# Snowball algorithm names by ISO 639-1 code (names such as "FRENCH" are accepted too)
SNOWBALL = {"ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german", "el": "greek",
            "en": "english", "es": "spanish", "et": "estonian", "eu": "basque", "fi": "finnish", "fr": "french",
            "ga": "irish", "hi": "hindi", "hu": "hungarian", "hy": "armenian", "id": "indonesian", "it": "italian",
            "lt": "lithuanian", "ne": "nepali", "nl": "dutch", "no": "norwegian", "fa": "persian", "pl": "polish",
            "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian", "sv": "swedish", "ta": "tamil",
            "tr": "turkish", "yi": "yiddish"}


def stemmer(lang):
    """A function word -> stem for ``lang`` (ISO 639-1 code or Snowball name, any case),
    or None for ``lang`` None.  An unknown language is a ClimeError."""
    if lang is None:
        return None
    name = SNOWBALL.get(str(lang).lower(), str(lang).lower())
    try:
        import snowballstemmer
    except ImportError:
        raise ClimeError("the fair dictionary oracle needs the snowballstemmer package (pip install "
                         "snowballstemmer), or pass no languages for exact matching") from None
    if name not in snowballstemmer.algorithms():
        raise ClimeError(f"no stemmer for language {lang!r} (ISO codes: {', '.join(sorted(SNOWBALL))})")
    st = snowballstemmer.stemmer(name)
    cache = {}

    def stem_word(word):
        if word not in cache:
            cache[word] = st.stemWord(word.lower())
        return cache[word]

    return stem_word


class DictOracle:
    """Judges by a bilingual dictionary; see the module docstring."""

    name = "dict"

    def __init__(self, pairs, src_lang=None, tgt_lang=None):
        self.src2tgt = {}
        self.tgt2src = defaultdict(set)
        for s, t in pairs:
            self.src2tgt.setdefault(s, [])
            if t not in self.src2tgt[s]:
                self.src2tgt[s].append(t)
            self.tgt2src[t].add(s)
        self.src2tgt_set = {s: set(ts) for s, ts in self.src2tgt.items()}
        self.stem_src, self.stem_tgt = stemmer(src_lang), stemmer(tgt_lang)
        self.fair = self.stem_src is not None and self.stem_tgt is not None
        if self.fair:
            self.src_forms = defaultdict(list)   # source stem -> dictionary source words with it
            self.stem_trans = defaultdict(set)   # source stem -> target stems of their translations
            for s, ts in self.src2tgt.items():
                self.src_forms[self.stem_src(s)].append(s)
                self.stem_trans[self.stem_src(s)].update(self.stem_tgt(t) for t in ts)
            self.tgt_stems = {self.stem_tgt(t) for t in self.tgt2src}

    def knows(self, keyword):
        """True when the oracle can judge target neighbours of ``keyword``."""
        if keyword in self.src2tgt_set:
            return True
        return self.fair and self.stem_src(keyword) in self.stem_trans

    def _translation_stems(self, word):
        return self.stem_trans.get(self.stem_src(word), set())

    def judge_src(self, keyword, word):
        if word == keyword:
            return None
        if is_inflection(keyword, word) or (self.fair and self.stem_src(keyword) == self.stem_src(word)):
            return True
        if self.fair:
            tk, tw = self._translation_stems(keyword), self._translation_stems(word)
            if not tk or not tw:
                return None
            return bool(tk & tw)
        tk, tw = self.src2tgt_set.get(keyword), self.src2tgt_set.get(word)
        if tk is None or tw is None:
            return None
        return bool(tk & tw)

    def judge_tgt(self, keyword, word):
        tk = self.src2tgt_set.get(keyword)
        if tk is not None and word in tk:
            return True
        if not self.fair:
            if tk is None or word not in self.tgt2src:
                return None
            return False
        stems = self._translation_stems(keyword)
        if not stems:
            return None
        ws = self.stem_tgt(word)
        if ws in stems:
            return True
        return False if (word in self.tgt2src or ws in self.tgt_stems) else None

    def additions(self, keyword, shown_tgt, vocab_tgt):
        candidates = list(self.src2tgt.get(keyword, ()))
        if self.fair:  # then the translations of the keyword's other forms (walk for walking)
            for s in self.src_forms.get(self.stem_src(keyword), ()):
                candidates += [t for t in self.src2tgt[s] if t not in candidates]
        for t in candidates:
            if t in shown_tgt:
                return []
            if vocab_tgt is None or t in vocab_tgt:
                return [t]
        return []


def class_profiles(docs, n_classes=None):
    """Per word, the class-size-normalised distribution of the documents containing it.

    Returns ``(profiles, counts, classes)``: ``profiles[w]`` is a float array over
    ``classes`` (sorted labels), ``counts[w]`` the number of documents with w.
    """
    classes = sorted({d["label"] for d in docs}, key=lambda x: (str(type(x)), x))
    cidx = {c: i for i, c in enumerate(classes)}
    size = np.zeros(len(classes))
    df = defaultdict(lambda: np.zeros(len(classes)))
    for d in docs:
        c = cidx[d["label"]]
        size[c] += 1
        for w in dict.fromkeys(d["text"]):  # distinct, in text order (not a set's hash order)
            df[w][c] += 1
    profiles, counts = {}, {}
    for w, v in df.items():
        p = v / np.maximum(size, 1)
        profiles[w] = p / p.sum()
        counts[w] = int(v.sum())
    return profiles, counts, classes


class LabelOracle:
    """Judges by the labelled documents of each language; see the module docstring."""

    name = "label"

    def __init__(self, docs_src, docs_tgt, min_count=3, min_share=0.5, margin=0.1):
        self.min_count, self.min_share, self.margin = min_count, min_share, margin
        self.src = class_profiles(docs_src)
        self.tgt = class_profiles(docs_tgt)
        if [str(c) for c in self.src[2]] != [str(c) for c in self.tgt[2]]:
            log.warning("source and target documents have different label sets: %s vs %s", self.src[2], self.tgt[2])

    def clear_class(self, word, side):
        """The word's class label when it is clear, else None (also for unknown words)."""
        profiles, counts, classes = side
        p = profiles.get(word)
        if p is None or counts[word] < self.min_count:
            return None
        order = np.argsort(-p, kind="stable")
        top = p[order[0]]
        second = p[order[1]] if len(p) > 1 else 0.0
        if top >= self.min_share and top - second > self.margin:
            return str(classes[order[0]])
        return None

    def knows(self, keyword):
        return self.clear_class(keyword, self.src) is not None

    def _judge(self, keyword, word, side):
        ck = self.clear_class(keyword, self.src)
        if ck is None or word == keyword and side is self.src:
            return None
        cw = self.clear_class(word, side)
        if cw is None:
            return None
        return cw == ck

    def judge_src(self, keyword, word):
        return self._judge(keyword, word, self.src)

    def judge_tgt(self, keyword, word):
        return self._judge(keyword, word, self.tgt)

    def additions(self, keyword, shown_tgt, vocab_tgt):
        return []


SETUP_FORMAT = 1  # clime.preprocess.FORMAT: the setup.json this module reads


def load_setup(task_dir):
    """Read and check ``setup.json`` of a task directory."""
    path = Path(task_dir) / "setup.json"
    if not path.exists():
        raise ClimeError("no such file (run preprocess_ui.py first)", path)
    setup = load_json(path)
    if isinstance(setup, dict) and "format" in setup and setup["format"] != SETUP_FORMAT:
        raise ClimeError(f"unknown setup format {json.dumps(setup['format'])[:40]} (this version reads format "
                         f"{SETUP_FORMAT}; rerun preprocess_ui.py)", path)
    kws = setup.get("keywords") if isinstance(setup, dict) else None
    if not isinstance(kws, list):
        raise ClimeError("missing list 'keywords'", path)
    for i, kw in enumerate(kws):
        if not (isinstance(kw, dict) and isinstance(kw.get("word"), str)
                and isinstance(kw.get("src", []), list) and isinstance(kw.get("tgt", []), list)):
            raise ClimeError(f"keyword #{i + 1}: expected {{'word', 'src', 'tgt'}}", path)
        for side in ("src", "tgt"):
            for n in kw.get(side, []):
                if not (isinstance(n, dict) and isinstance(n.get("word"), str)):
                    raise ClimeError(f"keyword {kw['word']!r}: bad {side} neighbour {n!r}", path)
    return setup


def load_vocab(task_dir, name="vocab_tgt.json"):
    """The set of words of ``vocab_*.json`` (``[[word, freq], ...]``), or None if absent."""
    path = Path(task_dir) / name
    if not path.exists():
        return None
    data = load_json(path)
    try:
        return {row[0] if isinstance(row, list) else row for row in data}
    except (IndexError, TypeError) as err:
        raise ClimeError(f"cannot read vocabulary ({err})", path) from None


def simulate(setup, oracle, budget=None, noise=0.0, seed=0, vocab_tgt=None, add_words=True):
    """Judge the keywords of ``setup`` with ``oracle``.

    Returns ``(rows, stats)``: FeedbackRow objects in keyword order and a dict
    of counts (keywords, keywords_known: those the oracle knows itself (the dict oracle:
    the keyword, or its base form, is in the dictionary), keywords_judged: those with at
    least one judgement (a keyword the oracle does not know can still get some, e.g. its
    inflections among the source neighbours; update.py's "keyword(s)" counts these),
    judgements, similar, not_similar, added, flipped, unmarked).
    """
    if not 0.0 <= noise <= 1.0:
        raise ClimeError(f"--noise must be between 0 and 1, got {noise}")
    rng = np.random.RandomState(seed % (2**32))
    keywords = setup["keywords"] if budget is None else setup["keywords"][: max(budget, 0)]
    try:
        t0 = datetime.fromisoformat(str(setup.get("created", "")).replace("Z", "+00:00"))
    except ValueError:
        t0 = datetime(2000, 1, 1)
    stats = dict(keywords=len(keywords), keywords_known=sum(bool(oracle.knows(kw["word"])) for kw in keywords),
                 judgements=0, similar=0, not_similar=0, added=0, flipped=0, unmarked=0)
    rows = []
    for i, kw in enumerate(keywords):
        k = kw["word"]
        row = FeedbackRow(keyword=k, timestamp=(t0 + timedelta(seconds=30 * (i + 1))).isoformat(timespec="seconds"))
        for side, judge, pos, neg in (("src", oracle.judge_src, row.pos1, row.neg1),
                                      ("tgt", oracle.judge_tgt, row.pos2, row.neg2)):
            seen = set()
            for n in kw.get(side, []):
                w = n["word"]
                if w in seen:
                    continue
                seen.add(w)
                verdict = judge(k, w)
                if verdict is None:
                    stats["unmarked"] += 1
                    continue
                if noise > 0 and rng.random_sample() < noise:
                    verdict = not verdict
                    stats["flipped"] += 1
                (pos if verdict else neg).append(w)
        if add_words:
            shown = {n["word"] for n in kw.get("tgt", [])}
            for w in oracle.additions(k, shown, vocab_tgt):
                row.new2.append(w)
                row.pos2.append(w)
                stats["added"] += 1
        stats["similar"] += len(row.pos1) + len(row.pos2) - len(row.new2)
        stats["not_similar"] += len(row.neg1) + len(row.neg2)
        rows.append(row)
    stats["judgements"] = stats["similar"] + stats["not_similar"] + stats["added"]
    # keywords with at least one judgement: what update.py counts as "keyword(s)"
    stats["keywords_judged"] = sum(1 for r in rows if r.pos1 or r.pos2 or r.neg1 or r.neg2)
    return rows, stats


def oracle_languages(setup, src_lang=None, tgt_lang=None, exact=False):
    """The dict oracle's languages: ``(src, tgt, how)``, each given one winning over the task's
    ``setup.json`` (``src_lang``/``tgt_lang``, written by preprocess_ui.py); ``(None, None, ...)``
    means exact words (``exact``, or no language known, or one without a Snowball stemmer that
    the task, not the user, named: a warning).  ``how`` says which mode runs, for the log."""
    if exact:
        return None, None, "exact words (--exact)"
    src = src_lang or setup.get("src_lang")
    tgt = tgt_lang or setup.get("tgt_lang")
    if not (src and tgt):
        return None, None, "exact words (no languages given and none in setup.json)"
    try:
        stemmer(src), stemmer(tgt)
    except ClimeError as err:
        if src_lang and tgt_lang:
            raise
        log.warning("warning: %s; judging exact words only", err)
        return None, None, "exact words (no stemmer for the task's languages)"
    where = "given" if src_lang and tgt_lang else ("from setup.json" if not (src_lang or tgt_lang) else
                                                    "given and from setup.json")
    return src, tgt, f"base forms ({str(src).lower()} -> {str(tgt).lower()}, {where})"


def make_oracle(kind, dicts=(), docs_src=None, docs_tgt=None, min_count=3, min_share=0.5, margin=0.1,
                src_lang=None, tgt_lang=None):
    """Build an oracle from file paths (dictionaries, or labelled document files); the
    dictionary oracle matches base forms when both languages are given."""
    from .align import read_dictionary
    from .text import read_docs

    if kind == "dict":
        if not dicts:
            raise ClimeError("--oracle dict needs --dict FILE")
        pairs = []
        for p in dicts:
            pairs.extend(read_dictionary(p))
        if not pairs:
            raise ClimeError("the dictionary has no pairs", dicts[0])
        return DictOracle(pairs, src_lang, tgt_lang)
    if kind == "label":
        if not docs_src or not docs_tgt:
            raise ClimeError("--oracle label needs --docs-src and --docs-tgt (labelled documents, never the test set)")
        ds, dt = read_docs(docs_src, labeled=True), read_docs(docs_tgt, labeled=True)
        if not ds:
            raise ClimeError("no documents", docs_src)
        if not dt:
            raise ClimeError("no documents", docs_tgt)
        return LabelOracle(ds, dt, min_count=min_count, min_share=min_share, margin=margin)
    raise ClimeError(f"unknown oracle {kind!r} (dict, label)")


def run(task_dir, oracle, out, budget=None, noise=0.0, seed=0, add_words=True):
    """Simulate on a task directory and write the feedback CSV; returns the stats."""
    setup = load_setup(task_dir)
    vocab = load_vocab(task_dir) if add_words else None
    rows, stats = simulate(setup, oracle, budget=budget, noise=noise, seed=seed, vocab_tgt=vocab, add_words=add_words)
    write_feedback(out, rows)
    return stats


# ---------------------------------------------------------------- the document oracle

class DocOracle:
    """Labels target documents from a labelled target file (never the test set).

    A chosen document is found by its id when that id's document has the same
    tokens, else by its tokens; a document the file does not hold stays unlabelled.
    """

    name = "doc"

    def __init__(self, labelled_docs):
        self.by_id = {d["id"]: d for d in labelled_docs}
        self.by_text = {}
        for d in labelled_docs:
            self.by_text.setdefault(tuple(d["text"]), d)

    def label(self, doc):
        hit = self.by_id.get(doc["id"])
        if hit is not None and hit["text"] == list(doc["text"]):
            return hit["label"]
        hit = self.by_text.get(tuple(doc["text"]))
        return None if hit is None else hit["label"]


def simulate_documents(selection, oracle, budget=None, noise=0.0, seed=0):
    """Label the documents of a ``documents.json`` selection (:func:`clime.active.read_selection`).

    ``budget`` labels only the first K documents; ``noise`` replaces each given label,
    with probability p, by another category drawn uniformly.  Returns ``(rows, stats)``:
    ``{"id", "text", "label"}`` dicts in selection order and counts (documents, labelled,
    unknown, flipped).
    """
    if not 0.0 <= noise <= 1.0:
        raise ClimeError(f"--noise must be between 0 and 1, got {noise}")
    rng = np.random.RandomState(seed % (2**32))
    labels = [c["label"] for c in selection["categories"]]
    docs = selection["documents"] if budget is None else selection["documents"][: max(budget, 0)]
    stats = dict(documents=len(docs), labelled=0, unknown=0, flipped=0)
    rows = []
    for d in docs:
        lab = oracle.label(d)
        if lab is None:
            stats["unknown"] += 1
            continue
        if lab not in labels:
            raise ClimeError(f"document {d['id']!r} has label {lab!r}, which is not one of the task's categories "
                             f"({', '.join(map(repr, labels))})")
        if noise > 0 and len(labels) > 1 and rng.random_sample() < noise:
            others = [x for x in labels if x != lab]
            lab = others[rng.randint(len(others))]
            stats["flipped"] += 1
        rows.append({"id": d["id"], "text": list(d["text"]), "label": lab})
        stats["labelled"] += 1
    return rows, stats


def run_documents(task_dir, docs_tgt, out, budget=None, noise=0.0, seed=0):
    """Label ``<task_dir>/documents.json`` from the labelled file ``docs_tgt`` and write
    JSON lines ``{"id", "text", "label"}`` to ``out`` (atomically); returns the stats."""
    from .active import read_selection
    from .text import read_docs, write_docs

    if not docs_tgt:
        raise ClimeError("--oracle doc needs --docs-tgt (labelled target documents, never the test set)")
    selection = read_selection(task_dir)
    rows, stats = simulate_documents(selection, DocOracle(read_docs(docs_tgt, labeled=True)), budget=budget,
                                     noise=noise, seed=seed)
    if stats["unknown"]:
        log.warning("%d of the %d chosen documents are not in %s and stay unlabelled", stats["unknown"],
                    stats["documents"], docs_tgt)
    if not rows:
        raise ClimeError("none of the chosen documents is in the labelled file", docs_tgt)
    write_docs(out, rows)
    return stats
