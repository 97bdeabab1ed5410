"""Feedback CSV export: the stored state of an annotator -> ``clime.feedback`` rows.

One row per keyword the annotator opened (keywords never opened are not written),
in the task's keyword order; ``timestamp`` is the keyword's last change (UTC, ISO 8601).
``pos``/``neg``: words marked similar / not similar; ``new``: words the annotator
added (an added word still marked similar is in ``pos`` too); unmarked words: nowhere.

Layout: ``<feedbacks>/<task>/<user>.csv`` (one folder per task, so no two (task, user)
pairs share a file) and ``<feedbacks>/<task>.merged.csv`` (task names have no '.', so it
is never a task folder); files 0600, folders 0700 (they are annotators' work).
"""

import json
from collections import defaultdict
from datetime import datetime, timezone
import os
from pathlib import Path

from sqlalchemy import select

from ..feedback import FeedbackRow, write_feedback
from ..fileio import atomic_open
from .db import Judgement, KeywordState, find_annotators


# extra columns after the 2020 ones: "skipped" ("yes" for a keyword passed over, its lists
# empty) and "comment" (the annotator's free text); a merged file ends with "user"
USER_FIELDS = ("skipped", "comment")
MERGED_FIELDS = USER_FIELDS + ("user",)


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
        row = FeedbackRow(keyword=ks.keyword, timestamp=iso(ks.changed),
                          extra={"skipped": "yes" if ks.skipped else "", "comment": ks.comment or ""})
        for lang, n in (("src", "1"), ("tgt", "2")):
            order = {w: i for i, w in enumerate(kw_entry.get(lang, []))}
            js = [j for j in by_kw.get(ks.keyword, []) if j.lang == lang]
            js.sort(key=lambda j: (0, order[j.word]) if (j.word in order and not j.added) else (1, j.id))
            getattr(row, "pos" + n).extend(j.word for j in js if j.mark == "pos")
            getattr(row, "neg" + n).extend(j.word for j in js if j.mark == "neg")
            getattr(row, "new" + n).extend(j.word for j in js if j.added)
        rows.append(row)
    return rows


def merged_rows(s, task_name, task=None):
    """The rows of every annotator of a task, each with ``extra["user"]``; and how many annotators."""
    anns = find_annotators(s, task=task_name)
    rows = []
    for ann in anns:
        for r in feedback_rows(s, ann, task):
            r.extra["user"] = ann.user
            rows.append(r)
    return rows, len(anns)


def feedback_path(feedback_dir, task, user):
    return Path(feedback_dir) / task / f"{user}.csv"


def merged_path(feedback_dir, task):
    return Path(feedback_dir) / f"{task}.merged.csv"


def check_own_name(path):
    """Refuse to write ``path`` when an existing file answers to it under another
    spelling (a case-insensitive file system: users ``Alice`` and ``alice``)."""
    path = Path(path)
    if path.exists() and path.name not in os.listdir(path.parent):
        raise OSError(f"{path}: a file of another spelling exists (case-insensitive file system); not overwritten")


def documents_path(feedback_file):
    """Where the document labels go: next to the feedback CSV, ``<name>.docs.jsonl``."""
    return Path(feedback_file).with_suffix(".docs.jsonl")


def document_rows(documents, labels):
    """The labelled ones of ``documents`` (selection order) as ``{"id", "text", "label"}``;
    ``labels`` maps the JSON of a document id to its label."""
    return [{"id": d["id"], "text": d["text"], "label": labels[json.dumps(d["id"])]}
            for d in documents if json.dumps(d["id"]) in labels]


def write_documents(path, documents, labels):
    """Write :func:`document_rows` as JSON lines (atomically; empty when nothing is labelled),
    private like the feedback CSV: the file 0600, folders it creates 0700."""
    rows = document_rows(documents, labels)
    check_own_name(path)
    with atomic_open(path, private=True) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


def write_user_feedback(s, ann, path, task=None):
    rows = feedback_rows(s, ann, task)
    check_own_name(path)
    write_feedback(path, rows, extra_fields=USER_FIELDS, private=True)
    return len(rows)


def export(s, task_name, task=None, user=None, out=None, merged=False, feedback_dir="feedbacks"):
    """Write feedback files; returns [(path, users, rows)].

    One user: ``out`` or ``<feedback_dir>/<task>/<user>.csv``.  All users: one file each,
    ``<user>.csv`` in ``out`` (a directory) or in ``<feedback_dir>/<task>/``; with ``merged``
    one file (``out`` or ``<feedback_dir>/<task>.merged.csv``) with a ``user`` column at the end.
    """
    written = []
    if merged:
        rows, n_users = merged_rows(s, task_name, task)
        path = Path(out) if out else merged_path(feedback_dir, task_name)
        write_feedback(path, rows, extra_fields=MERGED_FIELDS, private=True)
        written.append((path, n_users, len(rows)))
        return written
    anns = find_annotators(s, task=task_name, user=user)
    if user is not None:
        for ann in anns:
            path = Path(out) if out else feedback_path(feedback_dir, task_name, ann.user)
            written.append((path, 1, write_user_feedback(s, ann, path, task)))
        return written
    outdir = Path(out) if out else Path(feedback_dir) / task_name
    for ann in anns:
        path = outdir / f"{ann.user}.csv"
        written.append((path, 1, write_user_feedback(s, ann, path, task)))
    return written
