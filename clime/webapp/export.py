"""Feedback CSV export: the stored state of an annotator -> ``clime.feedback`` rows.

One row per keyword the annotator opened (keywords never opened are not written),
in the task's keyword order; ``timestamp`` is the keyword's last change (UTC, ISO 8601).
``pos``/``neg``: words marked similar / not similar; ``new``: words the annotator
added (an added word still marked similar is in ``pos`` too); unmarked words: nowhere.
"""

import json
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select

from ..feedback import FeedbackRow, write_feedback
from .db import Judgement, KeywordState, find_annotators


def iso(ts):
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def feedback_rows(s, ann, task=None):
    """FeedbackRow objects of one annotator; ``task`` (TaskData) orders keywords and words."""
    states = list(s.scalars(select(KeywordState).where(KeywordState.annotator_id == ann.id)
                            .order_by(KeywordState.opened, KeywordState.id)))
    by_kw = defaultdict(list)
    for j in s.scalars(select(Judgement).where(Judgement.annotator_id == ann.id).order_by(Judgement.id)):
        by_kw[j.keyword].append(j)
    index = task.index if task is not None else {}
    big = len(index) + 1
    states.sort(key=lambda ks: (index.get(ks.keyword, big),))  # stable: unknown keywords by time
    rows = []
    for ks in states:
        kw_entry = task.keywords[index[ks.keyword]] if ks.keyword in index else {"src": [], "tgt": []}
        row = FeedbackRow(keyword=ks.keyword, timestamp=iso(ks.changed))
        for lang, n in (("src", "1"), ("tgt", "2")):
            order = {w: i for i, w in enumerate(kw_entry.get(lang, []))}
            js = [j for j in by_kw.get(ks.keyword, []) if j.lang == lang]
            js.sort(key=lambda j: (0, order[j.word]) if (j.word in order and not j.added) else (1, j.id))
            getattr(row, "pos" + n).extend(j.word for j in js if j.mark == "pos")
            getattr(row, "neg" + n).extend(j.word for j in js if j.mark == "neg")
            getattr(row, "new" + n).extend(j.word for j in js if j.added)
        rows.append(row)
    return rows


def feedback_path(feedback_dir, task, user):
    return Path(feedback_dir) / f"{task}_{user}.csv"


def documents_path(feedback_file):
    """Where the document labels go: next to the feedback CSV, ``<name>.docs.jsonl``."""
    return Path(feedback_file).with_suffix(".docs.jsonl")


def document_rows(documents, labels):
    """The labelled ones of ``documents`` (selection order) as ``{"id", "text", "label"}``;
    ``labels`` maps the JSON of a document id to its label."""
    return [{"id": d["id"], "text": d["text"], "label": labels[json.dumps(d["id"])]}
            for d in documents if json.dumps(d["id"]) in labels]


def write_documents(path, documents, labels):
    """Write :func:`document_rows` as JSON lines (atomically; empty when nothing is labelled)."""
    from ..text import write_docs

    rows = document_rows(documents, labels)
    write_docs(path, rows)
    return len(rows)


def write_user_feedback(s, ann, path, task=None):
    rows = feedback_rows(s, ann, task)
    write_feedback(path, rows)
    return len(rows)


def export(s, task_name, task=None, user=None, out=None, merged=False, feedback_dir="feedbacks"):
    """Write feedback files; returns [(path, users, rows)].

    One user: ``out`` or ``<feedback_dir>/<task>_<user>.csv``.  All users: one file each
    in ``out`` (a directory) or ``feedback_dir``; with ``merged`` one file (``out`` or
    ``<feedback_dir>/merged/<task>.csv``) with a ``user`` column at the end.
    """
    anns = find_annotators(s, task=task_name, user=user)
    written = []
    if merged:
        rows = []
        for ann in anns:
            for r in feedback_rows(s, ann, task):
                r.extra["user"] = ann.user
                rows.append(r)
        path = Path(out) if out else Path(feedback_dir) / "merged" / f"{task_name}.csv"
        write_feedback(path, rows, extra_fields=("user",))
        written.append((path, len(anns), len(rows)))
        return written
    if user is not None:
        for ann in anns:
            path = Path(out) if out else feedback_path(feedback_dir, task_name, ann.user)
            written.append((path, 1, write_user_feedback(s, ann, path, task)))
        return written
    outdir = Path(out) if out else Path(feedback_dir)
    for ann in anns:
        path = feedback_path(outdir, task_name, ann.user)
        written.append((path, 1, write_user_feedback(s, ann, path, task)))
    return written
