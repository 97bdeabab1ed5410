"""Placebo controls for the experiment: feedback with the same number of accepted cross-lingual
pairs as an oracle's, but not tied to what the annotator said (random true dictionary pairs, or
random target words for the same keywords).  Used by ``experiment.py``'s ``placebo-*``
conditions; see docs/experiment.md."""

from pathlib import Path

from .errors import ClimeError
from .feedback import FeedbackRow, write_feedback
from .simulate import load_vocab

PLACEBOS = ("placebo-pairs", "placebo-words")


def accepted_count(rows):
    """The accepted cross-lingual pairs of feedback ``rows`` (pos2, added words included)."""
    return sum(len(r.pos2) for r in rows)


def placebo_pairs(rows, pairs, vocab_src, vocab_tgt, seed=0):
    """A control for ``rows``: the same number of accepted cross-lingual pairs, but random
    true dictionary pairs not tied to the keywords (their source word is no keyword and no
    judged word; both words in the task's vocabularies), one feedback row per source word,
    nothing else judged.  Seeded; independent of the order of ``pairs``."""
    import random

    n = accepted_count(rows)
    tied = {r.keyword for r in rows} | {w for r in rows for w in r.pos1 + r.neg1}
    pool = sorted({(s, t) for s, t in pairs if s not in tied and (vocab_src is None or s in vocab_src)
                   and (vocab_tgt is None or t in vocab_tgt)})
    if n > len(pool):
        raise ClimeError(f"placebo-pairs: {n} pairs wanted, the dictionary has only {len(pool)} outside the keywords")
    by_src = {}
    for s, t in random.Random(seed).sample(pool, n):
        by_src.setdefault(s, []).append(t)
    return [FeedbackRow(keyword=s, timestamp=rows[0].timestamp if rows else "", pos2=ts) for s, ts in by_src.items()]


def placebo_words(rows, vocab_tgt, seed=0):
    """A control for ``rows``: the same keywords, each with as many accepted target words as
    it has in ``rows``, but drawn at random from the target vocabulary (never one of the
    keyword's real accepted words); nothing else judged.  Seeded."""
    import random

    rng = random.Random(seed)
    vocab = sorted(vocab_tgt)
    out = []
    for r in rows:
        k = len(r.pos2)
        if not k:
            continue
        real = set(r.pos2)
        pool = [w for w in vocab if w not in real]
        if k > len(pool):
            raise ClimeError(f"placebo-words: {k} words wanted, the target vocabulary has only {len(pool)}")
        out.append(FeedbackRow(keyword=r.keyword, timestamp=r.timestamp, pos2=rng.sample(pool, k)))
    return out


def make_placebo(kind, feedback_csv, task_dir, out, dicts=(), seed=0):
    """Write the ``kind`` control (see :data:`PLACEBOS`) of a feedback CSV; returns its accepted count."""
    from .align import read_dictionary
    from .feedback import read_feedback

    rows = read_feedback(feedback_csv)
    vocab_tgt = load_vocab(task_dir)
    if vocab_tgt is None:
        raise ClimeError("no vocab_tgt.json (run preprocess_ui.py first)", Path(task_dir))
    if kind == "placebo-pairs":
        pairs = [p for d in dicts for p in read_dictionary(d)]
        placebo = placebo_pairs(rows, pairs, load_vocab(task_dir, "vocab_src.json"), vocab_tgt, seed)
    elif kind == "placebo-words":
        placebo = placebo_words(rows, vocab_tgt, seed)
    else:
        raise ClimeError(f"unknown control {kind!r} ({', '.join(PLACEBOS)})")
    write_feedback(out, placebo)
    return accepted_count(placebo)
