"""The document page: the annotator labels the target documents that ``select_docs.py``
chose (``ui_data/<task>/documents.json``) with the task's categories.

Pages (GET):
  /<task>/<user>/documents             the first document not labelled yet (or the summary)
  /<task>/<user>/documents/<n>         document n (1-based): category buttons, skip, back; the
                                       text detokenised for reading (``detok``)
  /<task>/<user>/documents/done        summary and download
  /<task>/<user>/documents.jsonl       the labels as JSON lines {"id", "text", "label"}
Action (POST, JSON body {"n", "id", "label": category index or null}, header X-CSRF-Token):
  /api/<task>/<user>/documents/label

Every label is a row of ``doc_label`` (the current label) and an ``event`` row (action
``doc``); after each change the JSON-lines file is rewritten next to the user's feedback
CSV (``<feedback file>.docs.jsonl``).  The app's CSRF check, security headers and error
pages apply here as everywhere (they are app-wide hooks).
"""

import json
import logging
import threading
from collections import Counter

from flask import Blueprint, Response, abort, current_app, jsonify, redirect, render_template, url_for
from sqlalchemy import delete, select

from ..active import FILENAME, read_selection
from ..errors import ClimeError
from . import state
from .db import DocLabel, Event, now
from .detok import detokenize
from .export import document_rows, documents_path, feedback_path, write_documents
from .views import _ext, check_user, json_body, load_task, run

log = logging.getLogger(__name__)
bp = Blueprint("documents", __name__)
_CACHE = {}
_CACHE_LOCK = threading.Lock()
_EXPORT_LOCK = threading.Lock()


def selection_of(task):
    """The parsed documents.json of a TaskData (cached by mtime), or None when it has none."""
    path = task.dir / FILENAME
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return None
    with _CACHE_LOCK:
        hit = _CACHE.get(str(path))
        if hit is not None and hit[0] == mtime:
            return hit[1]
    try:
        sel = read_selection(path=path)
    except ClimeError as err:
        log.error("task %s: %s", task.name, err)
        abort(503, "the documents of this task cannot be read; please tell the person who prepared it")
    sel["keys"] = [json.dumps(d["id"]) for d in sel["documents"]]
    with _CACHE_LOCK:
        _CACHE[str(path)] = (mtime, sel)
    return sel


def _load(task, user):
    t = load_task(task)
    check_user(user)
    sel = selection_of(t)
    if sel is None:
        abort(404, "this task has no documents to label (prepare them with select_docs.py)")
    return t, sel


def _load_with_labels(task, user):
    """(TaskData, selection, the user's labels) for a page."""
    t, sel = _load(task, user)
    with _ext()["Session"]() as s:
        return t, sel, labels_of(s, task, user)


def labels_of(s, task, user):
    """{document key (JSON of its id): category label (decoded)} of one user."""
    ann = state.get_annotator(s, task, user)
    if ann is None:
        return {}
    return {r.doc_id: json.loads(r.label)
            for r in s.scalars(select(DocLabel).where(DocLabel.annotator_id == ann.id))}


def _index_of(sel, label):
    for i, c in enumerate(sel["categories"]):
        if c["label"] == label:
            return i
    return None


def _export(task, user, sel):
    """Rewrite the user's JSON-lines file from the database; False when it cannot be written."""
    try:
        path = documents_path(feedback_path(current_app.config["FEEDBACK_DIR"], task, user))
        with _EXPORT_LOCK:  # read and write together, so a slower request never writes older labels
            with _ext()["Session"]() as s:
                labels = labels_of(s, task, user)
            write_documents(path, sel["documents"], labels)
        return True
    except OSError as err:
        log.error("cannot write the document labels of %s/%s: %s", task, user, err)
        return False


# -- pages -------------------------------------------------------------------------

@bp.route("/<task>/<user>/documents")
def first_open(task, user):
    t, sel, labels = _load_with_labels(task, user)
    for n, key in enumerate(sel["keys"], 1):
        if key not in labels:
            return redirect(url_for("documents.page", task=task, user=user, n=n))
    return redirect(url_for("documents.done", task=task, user=user))


@bp.route("/<task>/<user>/documents/<int:n>")
def page(task, user, n):
    t, sel, labels = _load_with_labels(task, user)
    total = len(sel["documents"])
    if not 1 <= n <= total:
        abort(404, f"there is no document {n}: this task has documents 1 to {total}")
    doc = sel["documents"][n - 1]
    key = sel["keys"][n - 1]
    chosen = _index_of(sel, labels[key]) if key in labels else None
    data = {"n": n, "total": total, "id": doc["id"], "label": chosen, "labelled": len(labels),
            "categories": len(sel["categories"]),
            "urls": {"label": url_for("documents.api_label", task=task, user=user),
                     "page": url_for("documents.first_open", task=task, user=user) + "/",
                     "done": url_for("documents.done", task=task, user=user),
                     "csrf": url_for("api_csrf")}}
    return render_template("documents.html", task=t, user=user, n=n, total=total, doc=doc,
                           text=detokenize(doc["text"], t.tgt_lang), categories=sel["categories"], chosen=chosen,
                           labelled=len(labels), data=data)


@bp.route("/<task>/<user>/documents/done")
def done(task, user):
    t, sel, labels = _load_with_labels(task, user)
    known = [labels[k] for k in sel["keys"] if k in labels]
    per = Counter(_index_of(sel, lab) for lab in known)
    counts = [(c["name"], per.get(i, 0)) for i, c in enumerate(sel["categories"])]
    return render_template("documents_done.html", task=t, user=user, total=len(sel["documents"]),
                           labelled=len(known), counts=counts)


@bp.route("/<task>/<user>/documents.jsonl")
def download(task, user):
    t, sel, labels = _load_with_labels(task, user)
    lines = [json.dumps(row, ensure_ascii=False) + "\n" for row in document_rows(sel["documents"], labels)]
    return Response("".join(lines), mimetype="application/x-ndjson", headers={
        "Content-Disposition": f'attachment; filename="{task}_{user}.docs.jsonl"'})


# -- the action ----------------------------------------------------------------------

@bp.route("/api/<task>/<user>/documents/label", methods=["POST"])
def api_label(task, user):
    t, sel = _load(task, user)
    data = json_body()
    n = data.get("n")
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= len(sel["documents"]):
        abort(400, f"unknown document number (1 to {len(sel['documents'])})")
    doc = sel["documents"][n - 1]
    if data.get("id") != doc["id"]:
        abort(409, "the documents of this task have changed; reload the page")
    index = data.get("label")
    if index is not None and (not isinstance(index, int) or isinstance(index, bool)
                              or not 0 <= index < len(sel["categories"])):
        abort(400, f"'label' must be a category number from 0 to {len(sel['categories']) - 1}, or null")
    key = sel["keys"][n - 1]
    value = None if index is None else json.dumps(sel["categories"][index]["label"])

    def save(s):
        ann = state.touch_annotator(s, task, user)
        ts = now()
        s.execute(delete(DocLabel).where(DocLabel.annotator_id == ann.id, DocLabel.doc_id == key))
        if value is not None:
            s.add(DocLabel(annotator_id=ann.id, doc_id=key, label=value, changed=ts))
        s.add(Event(annotator_id=ann.id, ts=ts, action="doc", page=n, word=key,
                    value=None if value is None else value[:16]))

    run(save)
    with _ext()["Session"]() as s:
        labelled = len(labels_of(s, task, user))
    written = _export(task, user, sel)
    return jsonify(ok=True, n=n, label=index, labelled=labelled, written=written)


def document_count(task):
    """Templates: how many documents a TaskData offers on the document page (0: none)."""
    sel = selection_of(task) if task is not None else None
    return 0 if sel is None else len(sel["documents"])


@bp.record_once
def _globals(setup_state):
    setup_state.app.jinja_env.globals["document_count"] = document_count
