"""Bring your own data: turn TSV/CSV documents, raw word vectors and a dictionary
into the files the pipeline and ``experiment.py`` read (``make_kit.py``).

Output (``src``/``tgt`` are the ISO 639-1 codes, ``SRC``/``TGT`` their 639-3
forms, e.g. ``en``/``fr`` and ``eng``/``fra``):

* ``src.json``          labelled source documents (training data)
* ``tgt.json``          labelled target test documents (reporting only)
* ``tgt_dev.json``      labelled target dev documents (choosing defaults), when given
* ``tgt_unlabeled.json`` target documents without labels (the annotator's concordances)
* ``tgt_labeled.json``  the same documents with labels, when the files have them
  (for the simulated label annotator and for tuning, never for testing)
* ``categories.txt``    label names, one a line, in label order
* ``SRC.vec.gz``, ``TGT.vec.gz``: the vector subset (every word of the documents
  and dictionaries that has a vector, plus the ``top`` most frequent), unit ->
  centre -> unit normalised, each in its own space (``prealign``: the target space
  mapped onto the source one by orthogonal Procrustes fitted on the seed pairs)
* ``dict.seed.tsv`` (``seed_pairs`` pairs drawn at random with ``seed``),
  ``dict.oracle.tsv`` (the rest of the training dictionary, sorted),
  ``dict.test.tsv`` (the test dictionary, or ``test_words`` source words drawn
  at random from the training dictionary with all their pairs)

Documents are tokenised with :func:`clime.text.tokenize` and the language's rules.
"""

import csv
import logging
import random
from collections import Counter
from pathlib import Path

import numpy as np

from .errors import ClimeError
from .fileio import atomic_dir, atomic_open, require_file
from .text import tokenize, write_docs

log = logging.getLogger(__name__)

# ISO 639-1 -> 639-3 for the vector file names (any other code is used as given)
ISO3 = {"en": "eng", "fr": "fra", "fi": "fin", "de": "deu", "es": "spa", "it": "ita", "pt": "por", "nl": "nld",
        "sv": "swe", "da": "dan", "no": "nor", "et": "est", "hu": "hun", "pl": "pol", "cs": "ces", "ru": "rus",
        "uk": "ukr", "tr": "tur", "ar": "ara", "fa": "fas", "hi": "hin", "bn": "ben", "ur": "urd", "sw": "swa",
        "zh": "zho", "ja": "jpn", "ko": "kor", "vi": "vie", "id": "ind", "th": "tha", "el": "ell", "he": "heb"}

csv.field_size_limit(2**31 - 1)


def iso3(lang):
    return ISO3.get(lang, lang)


def kit_names(src_lang, tgt_lang):
    """File names of a kit (see the module docstring)."""
    s, t = src_lang, tgt_lang
    return {"train": f"{s}.json", "test": f"{t}.json", "dev": f"{t}_dev.json", "unlabeled": f"{t}_unlabeled.json",
            "labeled": f"{t}_labeled.json", "categories": "categories.txt", "src_vec": f"{iso3(s)}.vec.gz",
            "tgt_vec": f"{iso3(t)}.vec.gz", "seed": "dict.seed.tsv", "oracle": "dict.oracle.tsv",
            "test_dict": "dict.test.tsv"}


# ----------------------------------------------------------------------------- documents

def _delimiter(path):
    name = path.name.lower()
    if name.endswith((".tsv", ".tab", ".txt")):
        return "\t"
    if name.endswith(".csv"):
        return ","
    raise ClimeError("cannot tell the format: name a TSV file .tsv (or .tab/.txt) or a CSV file .csv", path)


def read_table(path, text_col="text", label_col="label", id_col=None, need_label=True):
    """Rows of a TSV/CSV file with a header line: a list of ``(line, id, text, label)``
    (``label`` None where the file has no label column and ``need_label`` is False).

    TSV is read without quoting (a tab separates, quotes are text); CSV with the
    usual double-quote rules.  A missing column, a row with the wrong number of
    fields, an empty text or label, or a repeated id is a ClimeError naming the line.
    """
    path = require_file(path, "a TSV/CSV document file")
    delim = _delimiter(path)
    quoting = csv.QUOTE_NONE if delim == "\t" else csv.QUOTE_MINIMAL
    rows = []
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh, delimiter=delim, quoting=quoting, strict=delim == ",")
            try:
                header = next(reader)
            except StopIteration:
                raise ClimeError("empty file (expected a header line)", path, 1) from None
            header = [h.strip().lstrip("\ufeff") for h in header]
            cols = {}
            for what, name in (("text", text_col), ("label", label_col), ("id", id_col)):
                if name is None:
                    continue
                if name not in header:
                    if what == "label" and not need_label:
                        continue
                    raise ClimeError(f"no {what} column {name!r} in the header (columns: {', '.join(header)})",
                                     path, 1)
                cols[what] = header.index(name)
            seen = {}
            prev = reader.line_num
            for fields in reader:
                line = prev + 1
                prev = reader.line_num
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue
                if len(fields) != len(header):
                    raise ClimeError(f"expected {len(header)} fields like the header, found {len(fields)}", path, line)
                text = fields[cols["text"]].strip()
                if not text:
                    raise ClimeError("empty text", path, line)
                label = None
                if "label" in cols:
                    label = fields[cols["label"]].strip()
                    if not label:
                        raise ClimeError("empty label", path, line)
                doc_id = fields[cols["id"]].strip() if "id" in cols else None
                if doc_id is not None:
                    if not doc_id:
                        raise ClimeError("empty id", path, line)
                    if doc_id in seen:
                        raise ClimeError(f"id {doc_id!r} repeats line {seen[doc_id]}", path, line)
                    seen[doc_id] = line
                rows.append((line, doc_id, text, label))
    except UnicodeDecodeError as err:
        raise ClimeError(f"invalid UTF-8 ({err.reason})", path) from None
    except csv.Error as err:
        raise ClimeError(f"malformed CSV ({err})", path, reader.line_num) from None
    if not rows:
        raise ClimeError("no documents (only a header)", path)
    return rows


class DocumentReader:
    """Reads document files once each and gives them document ids that are the same
    wherever a file is used twice (e.g. the dev file, also part of the annotator's
    documents): the file's id column, or a running number across files.  ``cols`` is
    ``(text, label, id)``; :meth:`read` takes other columns for one side's files."""

    def __init__(self, text_col, label_col, id_col):
        self.cols = (text_col, label_col, id_col)
        self.cache = {}
        self.next_id = 0
        self.labels_seen = []

    def read(self, path, lang, need_label, cols=None):
        cols = tuple(cols or self.cols)
        text_col, label_col, id_col = cols
        key = (str(Path(path).resolve()), cols)
        if key not in self.cache:
            rows = read_table(path, text_col, label_col, id_col, need_label=False)
            docs = []
            for line, doc_id, text, label in rows:
                if id_col is None:
                    doc_id, self.next_id = self.next_id, self.next_id + 1
                else:
                    doc_id = int(doc_id) if doc_id.isdigit() else doc_id
                docs.append({"line": line, "id": doc_id, "text": tokenize(text, lang=lang), "label": label})
            self.cache[key] = docs
        docs = self.cache[key]
        if need_label and docs[0]["label"] is None:
            raise ClimeError(f"no label column {label_col!r} in the header, and this file needs labels", path, 1)
        return docs


def label_docs(docs, categories, path):
    """Documents with label names -> ``{"id", "text", "label": index}``; an unknown label names its line."""
    index = {c: i for i, c in enumerate(categories)}
    out = []
    for d in docs:
        if d["label"] not in index:
            raise ClimeError(f"label {d['label']!r} is not one of the categories ({', '.join(categories)})",
                             path, d["line"])
        out.append({"id": d["id"], "text": d["text"], "label": index[d["label"]]})
    return out


def check_unique_ids(groups, what):
    seen = {}
    for path, docs in groups:
        for d in docs:
            if d["id"] in seen and seen[d["id"]] != path:
                raise ClimeError(f"document id {d['id']!r} also appears in {seen[d['id']]} ({what} files are joined, "
                                 "so ids must differ; leave out the id column to number them)", path, d["line"])
            seen[d["id"]] = path


# ----------------------------------------------------------------------------- the non-parallel split

DEFAULT_SRC_SHARE = 0.7  # without src_size: this share of the parallel ids goes to the source side


def _id_key(doc_id):
    return (isinstance(doc_id, str), doc_id)  # ints before strings, each in their order


def shared_ids(src_docs, tgt_docs):
    """Ids that occur among both the source and the target documents (parallel files)."""
    return {d["id"] for d in src_docs} & {d["id"] for d in tgt_docs}


def split_parallel(src_docs, pool_docs, held_docs, src_size=None, seed=0):
    """Make parallel (translated) documents non-parallel: no id, and no identical text,
    of the source training documents, the target pool, and the held-out target
    documents (``held_docs``: dev and test) in two of them.

    Ids are joined into groups when their documents share an identical text (any side,
    any language: names and numbers are not translated).  A group touching a held
    document is dropped from source and pool.  A group with documents on one side only
    stays on that side.  The other groups (parallel: an id with both sides, or identical
    texts across the sides) are ordered by their smallest id, shuffled with
    ``random.Random(seed)``, and given to the source side until it holds ``src_size`` of
    their ids (default: ``DEFAULT_SRC_SHARE`` of them); the rest go to the pool.  Each
    document keeps its file order.  With singleton groups this is: sort the ids, shuffle,
    the first ``src_size`` are source documents, the rest the pool.

    Returns ``(source documents, pool documents, info)``; ``info`` counts the groups.
    """
    docs = [("src", d) for d in src_docs] + [("pool", d) for d in pool_docs] + [("held", d) for d in held_docs]
    parent = {}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a, b):
        ra, rb = find(a), find(b)
        if ra != rb:
            if _id_key(rb) < _id_key(ra):
                ra, rb = rb, ra
            parent[rb] = ra

    by_text = {}
    for _, d in docs:
        parent.setdefault(d["id"], d["id"])
    for _, d in docs:
        first = by_text.setdefault(tuple(d["text"]), d["id"])
        union(first, d["id"])
    sides = {}
    for side, d in docs:
        sides.setdefault(find(d["id"]), set()).add(side)
    members = {}
    for side, d in docs:
        if side != "held":
            members.setdefault(find(d["id"]), set()).add(d["id"])
    fixed = {}
    parallel = []
    for root, s in sides.items():
        if "held" in s:
            fixed[root] = "dropped" if s != {"held"} else "held"
        elif s == {"src"} or s == {"pool"}:
            fixed[root] = next(iter(s))
        else:
            parallel.append(root)
    parallel.sort(key=_id_key)
    n_parallel = sum(len(members[r]) for r in parallel)
    if src_size is None:
        src_size = int(DEFAULT_SRC_SHARE * n_parallel)
    if not 0 <= src_size <= n_parallel:
        raise ClimeError(f"--src-size {src_size}: there are only {n_parallel} parallel documents to split "
                         "(the others are held out or on one side only)")
    random.Random(seed).shuffle(parallel)
    taken = 0
    for root in parallel:
        size = len(members[root])
        if taken + size <= src_size:
            fixed[root], taken = "src", taken + size
        else:
            fixed[root] = "pool"
    src = [d for d in src_docs if fixed[find(d["id"])] == "src"]
    pool = [d for d in pool_docs if fixed[find(d["id"])] == "pool"]
    dropped_src = len(src_docs) - len(src)
    dropped_pool = len(pool_docs) - len(pool)
    info = {"parallel_ids": n_parallel, "src_from_parallel": taken, "src_docs": len(src), "pool_docs": len(pool),
            "src_left_out": dropped_src, "pool_left_out": dropped_pool,
            "groups_touching_held": sum(1 for v in fixed.values() if v == "dropped"),
            "multi_id_groups": sum(1 for r in parallel if len(members[r]) > 1)}
    return src, pool, info


# ----------------------------------------------------------------------------- dictionaries and vectors

def split_dictionary(pairs, seed_pairs, seed, test_words=0):
    """(seed, oracle, test) from the training pairs: ``test_words`` source words drawn
    at random (with all their pairs) for the test dictionary, then ``seed_pairs`` pairs
    drawn at random for the seed; the rest is the oracle (sorted).  The draw depends
    on the set of pairs and ``seed`` only, not on their order in the file."""
    uniq = sorted(set(pairs))
    rng = random.Random(seed)
    test = []
    if test_words:
        sources = sorted({s for s, _ in uniq})
        if test_words >= len(sources):
            raise ClimeError(f"--test-words {test_words}: the dictionary has only {len(sources)} source words")
        held = set(rng.sample(sources, test_words))
        test = [p for p in uniq if p[0] in held]
        uniq = [p for p in uniq if p[0] not in held]
    if seed_pairs > len(uniq):
        raise ClimeError(f"--seed-pairs {seed_pairs}: the training dictionary has only {len(uniq)} usable pairs")
    shuffled = uniq[:]
    rng.shuffle(shuffled)
    return shuffled[:seed_pairs], sorted(shuffled[seed_pairs:]), test


def apostrophe_aliases(tokens, vocab):
    """Tokens without a vector whose apostrophes stripped have one (``l'`` -> ``l``,
    ``'s`` -> ``s``, ``jusqu'`` -> ``jusqu``): {token: word whose vector it gets}."""
    out = {}
    for t in tokens:
        if t not in vocab and "'" in t:
            bare = t.strip("'")
            if bare and bare in vocab:
                out[t] = bare
    return out


def coverage(docs, vocab):
    """Share of tokens, and of word tokens (with a letter or digit), that have a vector."""
    n = n_in = w = w_in = 0
    for d in docs:
        for t in d["text"]:
            inside = t in vocab
            n += 1
            n_in += inside
            if any(ch.isalnum() for ch in t):
                w += 1
                w_in += inside
    return {"tokens": n, "tokens_covered": n_in / n if n else 0.0, "words": w,
            "words_covered": w_in / w if w else 0.0}


def _unit(E):
    return E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)


def select_rows(words, E, needed, top, aliases):
    """The first ``top`` rows plus every needed word, in file order, then the alias rows."""
    keep = [i for i, w in enumerate(words) if i < top or w in needed]
    index = {w: i for i, w in enumerate(words)}
    out_words = [words[i] for i in keep] + sorted(aliases)
    rows = keep + [index[aliases[a]] for a in sorted(aliases)]
    return out_words, E[rows]


def _write_pairs(path, pairs):
    with atomic_open(path) as fh:
        for s, t in pairs:
            fh.write(f"{s}\t{t}\n")


def _read_categories(spec):
    if spec is None:
        return None
    p = Path(spec)
    if p.is_file():
        cats = [line.strip() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        cats = [c.strip() for c in spec.split(",") if c.strip()]
    if len(set(cats)) != len(cats) or len(cats) < 2:
        raise ClimeError("categories: at least two, all different", spec if p.is_file() else None)
    return cats


# ----------------------------------------------------------------------------- the kit

def _split_if_parallel(src_docs, unlabeled, labeled, held, split, src_size, split_seed):
    """:func:`split_parallel` when source and target documents share ids (with a warning)."""
    shared = shared_ids(src_docs, unlabeled + held)
    if not shared:
        if src_size is not None:
            log.warning("warning: --src-size ignored: the source and target documents share no id (not parallel)")
        return src_docs, unlabeled, labeled, None
    if not split:
        log.warning("warning: %d ids name both a source and a target document (parallel files?); kept as given "
                    "(--no-split): the same sentence may be in two splits", len(shared))
        return src_docs, unlabeled, labeled, None
    src_docs, pool, info = split_parallel(src_docs, unlabeled, held, src_size, split_seed)
    keep = {d["id"] for d in pool}
    unlabeled = [d for d in unlabeled if d["id"] in keep]
    labeled = None if labeled is None else [d for d in labeled if d["id"] in keep]
    log.warning("warning: %d ids name both a source and a target document: the files look parallel (translations "
                "of each other); split so that no sentence is in two splits: %d source documents, %d target "
                "documents for the annotator; %d source and %d target documents left out (their sentence is in "
                "another split; --no-split keeps the files as given)", len(shared), len(src_docs), len(unlabeled),
                info["src_left_out"], info["pool_left_out"])
    return src_docs, unlabeled, labeled, info


def build_kit(out, src_lang, tgt_lang, src_train, tgt_train, tgt_test, src_vec, tgt_vec, dictionary, tgt_dev=(),
              test_dict=None, test_words=0, seed_pairs=200, top=5000, digits=4, seed=0, categories=None,
              text_col="text", label_col="label", id_col=None, dict_vectors=True, progress=True,
              tgt_text_col=None, tgt_label_col=None, tgt_id_col=None, split=True, src_size=None, split_seed=0,
              prealign=False):
    """Write a kit into directory ``out`` (replaced whole, only once everything is made).
    Returns a summary dict (counts, coverage).  Without ``dict_vectors`` the vector
    subset has the documents' words, the ``top`` most frequent and the test
    dictionary's words only, and the training dictionary keeps only the pairs inside
    it (before the seed is drawn): a smaller kit.

    ``tgt_*_col``: the target files' columns, when their header differs (default: the
    shared ones).  When source and target documents share ids (parallel files, e.g.
    SIB-200), a warning says so and, with ``split``, :func:`split_parallel` keeps every
    sentence in one split only (``src_size`` parallel documents for the source side,
    drawn with ``split_seed``; the pool is the rest).

    The vectors are written in their own, unaligned spaces unless ``prealign``: then the
    target space is rotated onto the source with the seed pairs.  Pre-aligned vectors leak
    the whole seed into every later fit: with 200 pairs in 300 dimensions Procrustes is
    rank-deficient, so a fit on part of the seed keeps the pre-alignment in the other
    directions, and align.py's guard (held-out seed pairs) cannot choose its round."""
    from .align import fit_orthogonal, read_dictionary
    from .vecfile import read_vec, write_vec

    if seed_pairs < 1 or top < 0 or digits < 1 or test_words < 0:
        raise ClimeError("--seed-pairs and --digits must be >= 1, --top and --test-words >= 0")
    if bool(test_dict) == bool(test_words):
        raise ClimeError("give either a test dictionary (--test-dict) or --test-words N to draw one")
    names = kit_names(src_lang, tgt_lang)
    reader = DocumentReader(text_col, label_col, id_col)
    src_raw = [(p, reader.read(p, src_lang, True)) for p in src_train]
    tgt_cols = (tgt_text_col or text_col, tgt_label_col or label_col, tgt_id_col or id_col)
    test_raw = [(p, reader.read(p, tgt_lang, True, tgt_cols)) for p in tgt_test]
    dev_raw = [(p, reader.read(p, tgt_lang, True, tgt_cols)) for p in tgt_dev]
    tr_raw = [(p, reader.read(p, tgt_lang, False, tgt_cols)) for p in tgt_train]
    for what, groups in (("source", src_raw), ("target test", test_raw), ("target dev", dev_raw),
                         ("target", tr_raw)):
        check_unique_ids(groups, what)
    cats = _read_categories(categories)
    if cats is None:  # order of first appearance in the source documents
        cats = list(dict.fromkeys(d["label"] for _, docs in src_raw for d in docs))
        if len(cats) < 2:
            raise ClimeError("the source documents have fewer than two labels", src_train[0])

    def labelled(groups):
        return [d for p, docs in groups for d in label_docs(docs, cats, p)]

    src_docs, test_docs, dev_docs = labelled(src_raw), labelled(test_raw), labelled(dev_raw)
    has_labels = all(docs[0]["label"] is not None for _, docs in tr_raw)
    tgt_labeled = labelled(tr_raw) if has_labels else None
    tgt_unlabeled = [{"id": d["id"], "text": d["text"]} for _, docs in tr_raw for d in docs]
    src_docs, tgt_unlabeled, tgt_labeled, split_info = _split_if_parallel(
        src_docs, tgt_unlabeled, tgt_labeled, test_docs + dev_docs, split, src_size, split_seed)

    train_pairs = read_dictionary(dictionary)
    given_test = read_dictionary(test_dict) if test_dict else []

    log.info("reading %s and %s", src_vec, tgt_vec)
    s_words, s_E = read_vec(src_vec, progress=progress)[:2]
    t_words, t_E = read_vec(tgt_vec, progress=progress)[:2]
    if s_E.shape[1] != t_E.shape[1]:
        raise ClimeError(f"the vectors differ in dimension ({s_E.shape[1]} and {t_E.shape[1]})", tgt_vec)
    s_vocab, t_vocab = set(s_words), set(t_words)
    n_train = len(train_pairs)
    train_pairs = [p for p in train_pairs if p[0] in s_vocab and p[1] in t_vocab]
    given_test = [p for p in given_test if p[0] in s_vocab and p[1] in t_vocab]
    log.info("training dictionary: %d of %d pairs have vectors on both sides", len(train_pairs), n_train)

    src_all = src_docs
    unl = {(d["id"], tuple(d["text"])) for d in tgt_unlabeled}  # a dev file also among --tgt-train counts once
    tgt_all = test_docs + [d for d in dev_docs if (d["id"], tuple(d["text"])) not in unl] + tgt_unlabeled
    s_tokens = {t for d in src_all for t in d["text"]}
    t_tokens = {t for d in tgt_all for t in d["text"]}
    s_alias, t_alias = apostrophe_aliases(s_tokens, s_vocab), apostrophe_aliases(t_tokens, t_vocab)
    s_need, t_need = s_tokens & s_vocab, t_tokens & t_vocab
    s_need |= {s for s, _ in given_test}
    t_need |= {t for _, t in given_test}
    if not dict_vectors:  # the training dictionary keeps only the pairs inside the kit's words
        s_kept, t_kept = s_need | set(s_words[:top]), t_need | set(t_words[:top])
        n_before = len(train_pairs)
        train_pairs = [p for p in train_pairs if p[0] in s_kept and p[1] in t_kept]
        log.info("training dictionary: %d of %d pairs inside the kept words", len(train_pairs), n_before)
    seed_d, oracle_d, drawn_test = split_dictionary(train_pairs, seed_pairs, seed, test_words)
    test_d = given_test or drawn_test
    if not test_d:
        raise ClimeError("no test dictionary pair has vectors on both sides", test_dict)
    s_need |= {s for s, _ in (train_pairs if dict_vectors else []) + test_d}
    t_need |= {t for _, t in (train_pairs if dict_vectors else []) + test_d}
    cov = {"source": coverage(src_all, s_vocab), "target": coverage(tgt_all, t_vocab)}
    s_words, s_E = select_rows(s_words, s_E, s_need, top, s_alias)
    t_words, t_E = select_rows(t_words, t_E, t_need, top, t_alias)
    cov["source_kit"] = coverage(src_all, set(s_words))
    cov["target_kit"] = coverage(tgt_all, set(t_words))
    s_E, t_E = (_unit(_unit(E) - _unit(E).mean(0)) for E in (s_E, t_E))
    s_ix = {w: i for i, w in enumerate(s_words)}
    t_ix = {w: i for i, w in enumerate(t_words)}
    if prealign:
        W = fit_orthogonal(t_E[[t_ix[t] for _, t in seed_d]], s_E[[s_ix[s] for s, _ in seed_d]])
        t_E = (t_E @ W).astype(np.float32)

    with atomic_dir(out) as tmp:
        write_docs(tmp / names["train"], src_docs)
        write_docs(tmp / names["test"], test_docs)
        if dev_docs:
            write_docs(tmp / names["dev"], dev_docs)
        write_docs(tmp / names["unlabeled"], tgt_unlabeled)
        if tgt_labeled is not None:
            write_docs(tmp / names["labeled"], tgt_labeled)
        with atomic_open(tmp / names["categories"]) as fh:
            fh.write("\n".join(cats) + "\n")
        _write_pairs(tmp / names["seed"], seed_d)
        _write_pairs(tmp / names["oracle"], oracle_d)
        _write_pairs(tmp / names["test_dict"], test_d)
        write_vec(tmp / names["src_vec"], s_words, s_E.astype(np.float32), precision=digits, progress=progress)
        write_vec(tmp / names["tgt_vec"], t_words, t_E, precision=digits, progress=progress)
    n_tok = Counter(len(d["text"]) for d in src_docs)
    return {"out": str(out), "categories": cats, "src_docs": len(src_docs), "test_docs": len(test_docs),
            "dev_docs": len(dev_docs), "tgt_docs": len(tgt_unlabeled), "tgt_labeled": tgt_labeled is not None,
            "src_words": len(s_words), "tgt_words": len(t_words), "src_aliases": len(s_alias),
            "tgt_aliases": len(t_alias), "seed_pairs": len(seed_d), "oracle_pairs": len(oracle_d),
            "test_pairs": len(test_d), "coverage": cov, "split": split_info,
            "src_mean_tokens": sum(k * v for k, v in n_tok.items()) / len(src_docs)}
