"""Keyword judgements as labelled target features.

The annotator judges a keyword's target-language neighbours; an accepted (``pos2``)
or added (``new2``) target word of a keyword salient for class c is evidence that
this target word signals class c.  ``rank_words.py`` writes the class beside each
keyword (``word<TAB>score<TAB>class<TAB>share``; readers of the old two columns
ignore the rest).  This module turns a feedback CSV (:mod:`clime.feedback`) and
that ranking into a word -> class table, and the table into labelled target
training documents (:func:`feature_documents`):

* each feature word alone, as a one-word document of its class (for the averaged
  models that is the word's own vector labelled with the class);
* each unlabelled target document (the self-training pool) in which the feature
  words vote for one class by at least ``min_hits`` words more than for any other
  class, labelled with that class.

Skipped keywords (``skipped`` = yes) and keywords missing from the ranking are
left out; a word voted for two classes equally is dropped.
"""

import logging
from collections import Counter, defaultdict
from pathlib import Path

from .errors import ClimeError
from .feedback import is_skipped, read_feedback
from .fileio import require_file

log = logging.getLogger(__name__)

ID_PREFIX = "keyword-feature:"


def read_ranking_classes(path):
    """``{keyword: class text}`` from a ranking with a class column (rank_words.py)."""
    path = Path(path)
    require_file(path, "a word ranking with classes (rank_words.py --output)")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ClimeError(f"invalid UTF-8 ({err.reason})", path, raw.count(b"\n", 0, err.start) + 1) from None
    out = {}
    for lineno, line in enumerate(text.split("\n"), 1):
        fields = line.rstrip("\r").split("\t")
        if not fields[0].strip():
            continue
        if len(fields) < 3 or not fields[2].strip():
            raise ClimeError("no class column (expected word<TAB>score<TAB>class<TAB>share; rank the "
                             "keywords again with this version of rank_words.py)", path, lineno)
        out.setdefault(fields[0].strip(), fields[2].strip())
    if not out:
        raise ClimeError("no words (empty ranking)", path)
    return out


def word_classes(feedback_paths, ranking_path, labels):
    """``{target word: label index}`` from the accepted and added target words of the judged
    keywords.  ``labels``: the classifier's labels; the ranking's class texts are matched to
    them by ``str(label)``."""
    classes = read_ranking_classes(ranking_path)
    index = {str(lab): i for i, lab in enumerate(labels)}
    votes = defaultdict(Counter)
    missing = skipped = 0
    for path in feedback_paths:
        for row in read_feedback(path):
            if is_skipped(row):
                skipped += 1
                continue
            cls = classes.get(row.keyword)
            if cls is None:
                missing += 1
                continue
            if cls not in index:
                raise ClimeError(f"keyword {row.keyword!r} has class {cls!r}, which is not a label of the training "
                                 f"data ({', '.join(map(repr, labels))})", ranking_path)
            for w in dict.fromkeys(row.pos2 + row.new2):
                votes[w][index[cls]] += 1
    if missing:
        log.warning("warning: %d judged keyword(s) are not in %s: their target words are not used", missing, ranking_path)
    out, ties = {}, 0
    for w in sorted(votes):
        (c, n), *rest = votes[w].most_common()
        if rest and rest[0][1] == n:
            ties += 1
            continue
        out[w] = c
    log.info("keyword features: %d target word(s) over %d class(es)%s%s", len(out), len(set(out.values())),
             f"; {ties} word(s) voted for two classes equally, dropped" if ties else "",
             f"; {skipped} skipped keyword(s)" if skipped else "")
    if not out:
        log.warning("warning: the feedback gives no accepted or added target word of a ranked keyword: no keyword features")
    return out


def label_documents(docs, features, n_classes, min_hits=1):
    """``[(document index, label index)]`` for the documents whose feature words vote for one
    class by at least ``min_hits`` more distinct words than for any other."""
    out = []
    for i, d in enumerate(docs):
        tally = [0] * n_classes
        for w in set(d["text"]):
            c = features.get(w)
            if c is not None:
                tally[c] += 1
        top = max(tally)
        second = max(tally[:tally.index(top)] + tally[tally.index(top) + 1:], default=0)
        if top - second >= min_hits and top > 0:
            out.append((i, tally.index(top)))
    return out


def drop_common(features, pool, max_df):
    """``features`` without the words found in more than the fraction ``max_df`` of the pool
    documents: a function word the annotator accepted (French *est* for a keyword *east*)
    would otherwise label half of the pool with one class."""
    if not pool or max_df >= 1:
        return features
    df = Counter(w for d in pool for w in set(d["text"]) if w in features)
    common = sorted(w for w in features if df[w] > max_df * len(pool))
    if common:
        log.warning("warning: keyword features: %d word(s) occur in more than %d%% of the pool documents and are "
                    "not used (%s)", len(common), round(100 * max_df), ", ".join(common[:8]))
    return {w: c for w, c in features.items() if w not in set(common)}


def feature_documents(features, labels, pool=(), min_hits=1, max_df=0.1):
    """Labelled target documents from a word -> label index table: one per feature word
    (id ``keyword-feature:WORD``) and the pool documents :func:`label_documents` labels,
    leaving out the words of more than ``max_df`` of the pool (:func:`drop_common`).
    Returns ``(documents, pool indices used)``."""
    features = drop_common(features, pool, max_df)
    docs = [{"id": ID_PREFIX + w, "text": [w], "label": labels[c]} for w, c in sorted(features.items())]
    hits = label_documents(pool, features, len(labels), min_hits) if features else []
    docs += [{"id": pool[i]["id"], "text": pool[i]["text"], "label": labels[c]} for i, c in hits]
    if pool:
        log.info("keyword features label %d of the %d pool document(s)", len(hits), len(pool))
    return docs, [i for i, _ in hits]

