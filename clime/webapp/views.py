"""Routes of the annotation app.

Pages (GET, never change anything):
  /                               the tasks found in ui_data
  /<task>/<user>                  start page: instructions, Start/Resume
  /<task>/<user>/<page>           one keyword (1-based page number)
  /<task>/<user>/done             thank-you page with a summary
  /<task>/<user>/feedback.csv     the user's feedback file, made from the database
  /api/<task>/contexts?lang=&word=    concordance of a word (JSON)
  /api/<task>/complete?lang=&q=[&page=N][&shown=w...]   autocomplete from the task's vocabulary,
                                  without the words on page N and the ``shown`` ones (JSON)
  /owner/<task>                   the owner's overview: progress, time, agreement, downloads (owner)
  /api/<task>/stats               progress and agreement of every user (JSON; owner)
  /api/<task>/feedback.csv        the feedback of every user, merged (owner)
Actions (POST, JSON body, header X-CSRF-Token):
  /api/<task>/<user>/start|view|next|back|mark|add|remove|skip|comment|undo|redo|finish
Who may open what (hosts, team mode) is decided in ``access`` before any view runs.
"""

import hmac
import json
import logging
import secrets
import tempfile
import unicodedata
from pathlib import Path

from flask import (Response, abort, current_app, jsonify, redirect, render_template, request, session,
                   url_for)
from flask.globals import request_ctx
from werkzeug.exceptions import HTTPException

from ..errors import ClimeError
from . import access, state
from .access import owner_only, public
from .export import MERGED_FIELDS, USER_FIELDS, feedback_path, feedback_rows, merged_rows, write_user_feedback
from .stats import task_stats, user_summary
from .taskdata import LANGS, MAX_WORD_LEN, valid_task, valid_user
from ..feedback import write_feedback

log = logging.getLogger(__name__)
MAX_CONTEXTS = 30
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


# -- helpers -------------------------------------------------------------------

def _ext():
    return current_app.extensions["clime"]


def csrf_token():
    tok = session.get("csrf")
    if not isinstance(tok, str) or len(tok) < 20:
        tok = secrets.token_urlsafe(32)
        session["csrf"] = tok
        session.permanent = True
    return tok


def load_task(task):
    if not valid_task(task):
        abort(400, "invalid task name (letters, digits, '-' and '_', at most 64)")
    try:
        t = _ext()["tasks"].get(task)
    except ClimeError as err:
        log.error("task %s: %s", task, err)
        abort(503, "the data of this task cannot be read; please tell the person who prepared it")
    if t is None:
        abort(404, f"there is no task called “{task}”")
    return t


def check_user(user):
    if not valid_user(user):
        abort(400, "invalid user id (letters, digits, '-', '_', '.', '@', at most 64)")


def clean_word(value, what="word"):
    if not isinstance(value, str):
        abort(400, f"'{what}' must be a string")
    w = unicodedata.normalize("NFC", value.strip())
    if not w or len(w) > MAX_WORD_LEN:
        abort(400, f"'{what}' must have 1 to {MAX_WORD_LEN} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") for ch in w):
        abort(400, f"'{what}' must not contain control characters")
    return w


def json_body():
    """The request's JSON object; anything else (not JSON, too deep, a 5,000-digit number,
    not an object) is a 400."""
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw) if raw else None
    except (ValueError, RecursionError):  # ValueError: bad JSON, bad UTF-8, too many digits
        data = None
    if not isinstance(data, dict):
        abort(400, "expected a JSON object")
    return data


def body_page(data, task):
    page = data.get("page")
    if not isinstance(page, int) or isinstance(page, bool) or task.keyword(page) is None:
        abort(400, f"unknown page (1 to {len(task)})")
    return page


def body_lang(data):
    lang = data.get("lang")
    if lang not in LANGS:
        abort(400, "'lang' must be 'src' or 'tgt'")
    return lang


def run(fn):
    try:
        return state.transaction(_ext()["Session"], fn, lock=_ext()["write_lock"])
    except state.ActionError as err:
        abort(err.status, str(err))


def page_rows(s, ann, task, page):
    kw = task.keyword(page)
    stored = state.page_marks(s, ann, kw["word"])
    rows = {}
    for lang in LANGS:
        marks = {r["word"]: r for r in stored[lang]}
        out = [{"word": w, "mark": marks[w]["mark"] if w in marks else None, "added": False}
               for w in kw[lang]]
        shown = set(kw[lang])
        out += [r for r in stored[lang] if r["added"] and r["word"] not in shown]
        rows[lang] = out
    return rows


# -- pages -----------------------------------------------------------------------

@owner_only
def index():
    return render_template("index.html", tasks=_ext()["tasks"].names())


@public
def go():
    """The index page's form: a redirect to the start page (no state change).  In team mode
    it does not look the task up (a 404 would tell a visitor without a link which tasks exist):
    the start page answers, 403 without the invitation."""
    task, user = request.args.get("task", ""), request.args.get("user", "").strip()
    if current_app.config.get("ACCESS") == "team":
        if not valid_task(task):
            abort(400, "invalid task name (letters, digits, '-' and '_', at most 64)")
    else:
        load_task(task)
    check_user(user)
    return redirect(url_for("start_page", task=task, user=user))


@public
def api_csrf():
    """The CSRF token of this browser session (for a page whose token went stale)."""
    return jsonify(token=csrf_token())


def start_page(task, user):
    t = load_task(task)
    check_user(user)
    with _ext()["Session"]() as s:
        ann = state.get_annotator(s, task, user)
        done = state.done_count(s, ann)
        info = None if ann is None else {"page": ann.page, "finished": ann.finished is not None}
    return render_template("start.html", task=t, user=user, info=info, done=done, pages=len(t))


def keyword_page(task, user, page):
    t = load_task(task)
    check_user(user)
    kw = t.keyword(page)
    if kw is None:
        abort(404, f"there is no page {page}: this task has pages 1 to {len(t)}")
    with _ext()["Session"]() as s:
        ann = state.get_annotator(s, task, user)
        rows = page_rows(s, ann, t, page)
        prog = progress(s, task, user, len(t))
        info = state.keyword_info(s, ann, kw["word"])
    done = prog["done"]
    data = {
        "task": task, "user": user, "page": page, "pages": len(t), "keyword": kw["word"],
        "langs": {"src": t.src_lang, "tgt": t.tgt_lang}, "rows": rows, "done": done,
        "progress": prog, "skipped": info["skipped"], "kwDone": info["done"], "comment": info["comment"],
        "maxComment": state.MAX_COMMENT,
        "urls": {
            "api": url_for("api_action", task=task, user=user, action="start").rsplit("/", 1)[0] + "/",
            "page": url_for("start_page", task=task, user=user) + "/",
            "contexts": url_for("api_contexts", task=task),
            "complete": url_for("api_complete", task=task),
            "csrf": url_for("api_csrf"),
        },
    }
    return render_template("keyword.html", task=t, user=user, page=page, pages=len(t), kw=kw,
                           done=done, progress=prog, info=info, data=data)


def _saved_annotator(s, task, user):
    """The annotator row, or 404 when this user has saved nothing on this task."""
    ann = state.get_annotator(s, task, user)
    if ann is None:
        abort(404, f"nothing has been saved yet for “{user}” on this task")
    return ann


def done_page(task, user):
    t = load_task(task)
    check_user(user)
    with _ext()["Session"]() as s:
        ann = _saved_annotator(s, task, user)
        summary = user_summary(s, ann)
    return render_template("done.html", task=t, user=user, summary=summary, pages=len(t))


def _csv_response(rows, filename, extra_fields=()):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "feedback.csv"
        write_feedback(path, rows, extra_fields=extra_fields)
        payload = path.read_bytes()
    return Response(payload, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


def feedback_download(task, user):
    t = load_task(task)
    check_user(user)
    with _ext()["Session"]() as s:
        ann = _saved_annotator(s, task, user)
        rows = feedback_rows(s, ann, t)
    return _csv_response(rows, f"{task}_{user}.csv", extra_fields=USER_FIELDS)


@owner_only
def task_feedback_download(task):
    """Every user's feedback in one file, with a ``user`` column (as ``app.py export --merged``)."""
    t = load_task(task)
    with _ext()["Session"]() as s:
        rows, _users = merged_rows(s, task, t)
    return _csv_response(rows, f"{task}.merged.csv", extra_fields=MERGED_FIELDS)


@owner_only
def owner_page(task):
    """The task owner's overview: progress and time per annotator, agreement, downloads."""
    t = load_task(task)
    with _ext()["Session"]() as s:
        st = task_stats(s, task)
    return render_template("owner.html", task=t, st=st, pages=len(t),
                           team=current_app.config.get("ACCESS") == "team")


@owner_only
def api_stats(task):
    load_task(task)
    with _ext()["Session"]() as s:
        return jsonify(task_stats(s, task))


# -- JSON API ------------------------------------------------------------------------

def api_contexts(task):
    t = load_task(task)
    lang = request.args.get("lang")
    if lang not in LANGS:
        abort(400, "'lang' must be 'src' or 'tgt'")
    word = clean_word(request.args.get("word"))
    ctxs = t.contexts(lang, word)
    return jsonify(word=word, lang=lang, lang_name=t.lang_name(lang), total=len(ctxs),
                   contexts=ctxs[:MAX_CONTEXTS])


def api_complete(task):
    t = load_task(task)
    lang = request.args.get("lang")
    if lang not in LANGS:
        abort(400, "'lang' must be 'src' or 'tgt'")
    q = request.args.get("q", "")
    if len(q) > MAX_WORD_LEN:
        abort(400, "query too long")
    try:
        limit = min(max(int(request.args.get("limit", 10)), 1), 50)
    except ValueError:
        abort(400, "'limit' must be a number")
    shown = set()
    if request.args.get("page") is not None:  # leave out the words already on that page
        try:
            kw = t.keyword(int(request.args["page"]))
        except ValueError:
            kw = None
        if kw is None:
            abort(400, f"unknown page (1 to {len(t)})")
        shown = set(kw[lang]) | ({kw["word"]} if lang == "src" else set())
    shown |= set(request.args.getlist("shown")[:200])  # e.g. the words added there
    words = [w for w in t.complete(lang, q.strip(), limit=limit + len(shown)) if w not in shown]
    return jsonify(words=words[:limit])


ACTIONS = ("start", "view", "next", "back", "mark", "add", "remove", "skip", "comment", "undo", "redo", "finish")


def clean_comment(value):
    if not isinstance(value, str):
        abort(400, "'text' must be a string")
    text = unicodedata.normalize("NFC", value.strip())
    if len(text) > state.MAX_COMMENT:
        abort(400, f"a comment has at most {state.MAX_COMMENT} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\n\t" for ch in text):
        abort(400, "a comment must not contain control characters")
    return text


def progress(s, task, user, pages):
    """Done, skipped and remaining keywords, and the undo/redo steps available."""
    ann = state.get_annotator(s, task, user)
    done, skipped = state.done_count(s, ann), state.skipped_count(s, ann)
    undo, redo = state.history_depth(s, ann)
    return {"done": done, "skipped": skipped, "remaining": max(0, pages - done - skipped),
            "undo": undo, "redo": redo}


def api_action(task, user, action):
    t = load_task(task)
    check_user(user)
    if action not in ACTIONS:
        abort(404, "unknown action")
    data = json_body()
    if action in ("undo", "redo"):
        fn = state.undo if action == "undo" else state.redo

        def step(s):
            out = fn(s, task, user)
            return out, progress(s, task, user, len(t))

        changed, info = run(step)
        if changed["page"] is not None and t.keyword(changed["page"]) is not None:
            changed["url"] = url_for("keyword_page", task=task, user=user, page=changed["page"])
        return jsonify(ok=True, changed=changed, progress=info)
    if action == "start":
        page = run(lambda s: state.start(s, task, user))
        return jsonify(ok=True, page=page, url=url_for("keyword_page", task=task, user=user, page=page))
    if action == "finish":
        page = data.get("page")
        kw = None
        if page is not None:
            page = body_page(data, t)
            kw = t.keyword(page)["word"]
        run(lambda s: state.finish(s, task, user, page, kw))
        written = True
        try:
            with _ext()["Session"]() as s:
                ann = state.get_annotator(s, task, user)
                write_user_feedback(s, ann, feedback_path(current_app.config["FEEDBACK_DIR"], task, user), t)
        except OSError as err:
            log.error("cannot write the feedback file of %s/%s: %s", task, user, err)
            written = False
        return jsonify(ok=True, written=written, url=url_for("done_page", task=task, user=user))
    page = body_page(data, t)
    kw = t.keyword(page)
    if action in ("view", "next", "back"):
        run(lambda s: state.page_change(s, task, user, page, kw["word"], action))
        return jsonify(ok=True)
    if action == "skip":
        info = run(lambda s: (state.skip(s, task, user, page, kw["word"]), progress(s, task, user, len(t)))[1])
        nxt = url_for("keyword_page", task=task, user=user, page=page + 1) if page < len(t) else None
        return jsonify(ok=True, next=nxt, progress=info)
    if action == "comment":
        text = clean_comment(data.get("text"))
        run(lambda s: state.comment(s, task, user, page, kw["word"], text))
        return jsonify(ok=True, text=text)
    lang = body_lang(data)
    word = clean_word(data.get("word"))
    if action == "mark":
        mark = data.get("mark")
        if mark not in ("pos", "neg", None):
            abort(400, "'mark' must be 'pos', 'neg' or null")
        on_page = t.neighbor_sets[page - 1][lang]
        run(lambda s: state.set_mark(s, task, user, page, kw["word"], lang, word, mark, on_page))
        return jsonify(ok=True, word=word, mark=mark)
    if action == "add":
        if word in t.neighbor_sets[page - 1][lang]:
            abort(409, f"“{word}” is already on this page: mark it there")
        if lang == "src" and word == kw["word"]:
            abort(409, "that is the keyword itself")
        if t.has_vocab(lang) and not t.in_vocab(lang, word):
            abort(400, f"“{word}” is not in the {t.lang_name(lang)} vocabulary of this task")
        run(lambda s: state.add_word(s, task, user, page, kw["word"], lang, word))
        return jsonify(ok=True, word=word, mark="pos", added=True)
    # remove
    run(lambda s: state.remove_word(s, task, user, page, kw["word"], lang, word))
    return jsonify(ok=True, word=word)


# -- wiring ------------------------------------------------------------------------

def check_csrf():
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    origin = request.headers.get("Origin")
    if origin is not None and not access.origin_allowed(origin):
        abort(403, "cross-origin request refused")
    sent = request.headers.get("X-CSRF-Token", "")
    expected = session.get("csrf")
    if not sent:
        abort(400, "missing CSRF token (header X-CSRF-Token); reload the page")
    if not isinstance(expected, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(403, "wrong CSRF token; reload the page")
    return None


def security_headers(resp):
    h = resp.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if not request.path.startswith("/static/"):
        h["Cache-Control"] = "no-store"
    return resp


def wants_json(path, method):
    """Errors of the JSON API and of every POST are JSON, the others an HTML page."""
    return path.startswith("/api/") or method == "POST"


def handle_http(err):
    code = err.code or 500
    message = err.description or err.name
    if wants_json(request.path, request.method):
        resp = jsonify(error=message, status=code)
    elif request_ctx.url_adapter is None:  # a Host that URLs cannot be built for: no template
        resp = Response(f"{code} {err.name}: {message}\n", mimetype="text/plain")
    else:
        resp = Response(render_template("error.html", code=code, name=err.name, message=message),
                        mimetype="text/html")
    resp.status_code = code
    if code == 405:
        for k, v in err.get_headers():
            if k.lower() == "allow":
                resp.headers["Allow"] = v
    return resp


def handle_unexpected(err):
    if isinstance(err, HTTPException):
        return handle_http(err)
    log.exception("unexpected error on %s %s", request.method, request.path)
    body = {"error": "internal error (logged on the server)", "status": 500}
    return jsonify(body), 500


def init_app(app):
    app.jinja_env.globals["csrf_token"] = csrf_token
    access.init_app(app)  # host allow-list and team-mode access: before anything else
    app.before_request(check_csrf)
    app.after_request(security_headers)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(Exception, handle_unexpected)
    add = app.add_url_rule
    add("/", "index", index)
    add("/go", "go", go)
    add("/api/csrf", "api_csrf", api_csrf)
    add("/<task>/<user>", "start_page", start_page)
    add("/<task>/<user>/<int:page>", "keyword_page", keyword_page)
    add("/<task>/<user>/done", "done_page", done_page)
    add("/<task>/<user>/feedback.csv", "feedback_download", feedback_download)
    add("/api/<task>/contexts", "api_contexts", api_contexts)
    add("/api/<task>/complete", "api_complete", api_complete)
    add("/owner/<task>", "owner_page", owner_page)
    add("/api/<task>/stats", "api_stats", api_stats)
    add("/api/<task>/feedback.csv", "task_feedback_download", task_feedback_download)
    add("/api/<task>/<user>/<action>", "api_action", api_action, methods=["POST"])
