"""What the annotator's actions do to the database (each one a short transaction).

Every function here takes an open session inside a transaction; ``transaction``
runs one with a few retries (SQLite "database is locked", a lost insert race).
"""

import contextlib
import logging
import time

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from .db import Annotator, Event, Judgement, KeywordState, now

log = logging.getLogger(__name__)
MARKS = ("pos", "neg")


class ActionError(Exception):
    """A refused action: becomes a 4xx answer with this message."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def transaction(Session, fn, attempts=6, lock=None):
    """Run ``fn(session)`` in a transaction, retrying on lock contention and insert races.

    ``lock`` (optional) serialises the writers of this process: with SQLite a writer
    that finds the database locked sleeps in steps of up to 100 ms, so queueing on a
    Python lock instead is much faster; other processes still wait on busy_timeout.
    """
    for attempt in range(attempts):
        try:
            with lock or contextlib.nullcontext():
                with Session() as s:
                    with s.begin():
                        return fn(s)
        except (OperationalError, IntegrityError) as err:
            if attempt == attempts - 1:
                raise
            log.debug("retrying transaction after %s", err.__class__.__name__)
            time.sleep(0.005 * (2 ** attempt))


def touch_annotator(s, task, user, ts=None):
    """The annotator row of (task, user), created if missing.

    The first statement is a write, so that SQLite takes its write lock at the start
    of the transaction (and waits for it) instead of failing on a later upgrade.
    """
    ts = now() if ts is None else ts
    res = s.execute(update(Annotator).where(Annotator.task == task, Annotator.user == user)
                    .values(last_seen=ts))
    if res.rowcount == 0:
        s.add(Annotator(task=task, user=user, created=ts, last_seen=ts, page=1))
        s.flush()
    return s.scalars(select(Annotator).where(Annotator.task == task, Annotator.user == user)).one()


def get_annotator(s, task, user):
    return s.scalars(select(Annotator).where(Annotator.task == task, Annotator.user == user)).one_or_none()


def _keyword_state(s, ann, keyword, ts):
    ks = s.scalars(select(KeywordState).where(KeywordState.annotator_id == ann.id,
                                              KeywordState.keyword == keyword)).one_or_none()
    if ks is None:
        ks = KeywordState(annotator_id=ann.id, keyword=keyword, opened=ts, changed=ts, done=False)
        s.add(ks)
        s.flush()
    return ks


def _event(s, ann, ts, action, page=None, keyword=None, lang=None, word=None, value=None):
    s.add(Event(annotator_id=ann.id, ts=ts, action=action, page=page, keyword=keyword,
                lang=lang, word=word, value=value))


def _judgement(s, ann, keyword, lang, word):
    return s.scalars(select(Judgement).where(Judgement.annotator_id == ann.id, Judgement.keyword == keyword,
                                             Judgement.lang == lang, Judgement.word == word)).one_or_none()


def start(s, task, user):
    ts = now()
    ann = touch_annotator(s, task, user, ts)
    _event(s, ann, ts, "start", page=ann.page)
    return ann.page


def page_change(s, task, user, page, keyword, action):
    """``view`` (page shown), ``next`` (keyword done, moving on) or ``back``."""
    ts = now()
    ann = touch_annotator(s, task, user, ts)
    ks = _keyword_state(s, ann, keyword, ts)
    if action == "view":
        ann.page = page
    elif action == "next":
        ks.done = True
        ks.skipped = False
    _event(s, ann, ts, action, page=page, keyword=keyword)


# -- undoable state ------------------------------------------------------------
# An undoable action (mark, add, remove, skip) keeps the state of what it changed before
# and after it in its event (``prev``/``post``), and ``undo`` = "done".  Undo applies the
# ``prev`` of the newest "done" event and marks it "undone"; redo applies the ``post`` of
# the oldest "undone" one (the last undone) and marks it "done" again; any new undoable
# action drops the redo steps ("dropped").  Each undo/redo is an event of its own.
# A word's state: "-" (no row) or its mark ("pos", "neg", "none") with "+" when added.
# A keyword's state (skip): "open", "done" or "skip".
UNDOABLE = ("mark", "add", "remove", "skip")


def _word_state(j):
    if j is None:
        return "-"
    return (j.mark or "none") + ("+" if j.added else "")


def _set_word_state(s, ann, keyword, lang, word, code, ts):
    j = _judgement(s, ann, keyword, lang, word)
    if code == "-":
        if j is not None:
            s.delete(j)
        return None
    if j is None:
        j = Judgement(annotator_id=ann.id, keyword=keyword, lang=lang, word=word)
        s.add(j)
    added = code.endswith("+")
    mark = code.rstrip("+")
    j.mark = None if mark == "none" else mark
    j.added = added
    j.changed = ts
    return j


def _keyword_code(ks):
    return "skip" if ks.skipped else ("done" if ks.done else "open")


def _set_keyword_code(ks, code):
    ks.skipped = code == "skip"
    ks.done = code == "done"


def _undoable(s, ann, ts, action, prev, post, **fields):
    s.execute(update(Event).where(Event.annotator_id == ann.id, Event.undo == "undone").values(undo="dropped"))
    s.add(Event(annotator_id=ann.id, ts=ts, action=action, prev=prev, post=post, undo="done", **fields))


def _change_word(s, ann, ts, action, page, keyword, lang, word, post, value=None):
    ks = _keyword_state(s, ann, keyword, ts)
    prev = _word_state(_judgement(s, ann, keyword, lang, word))
    _set_word_state(s, ann, keyword, lang, word, post, ts)
    ks.changed = ts
    _undoable(s, ann, ts, action, prev, post, page=page, keyword=keyword, lang=lang, word=word, value=value)


def set_mark(s, task, user, page, keyword, lang, word, mark, on_page):
    """Mark ``word`` pos/neg, or clear it (mark None). ``on_page``: the neighbours shown."""
    ts = now()
    ann = touch_annotator(s, task, user, ts)
    j = _judgement(s, ann, keyword, lang, word)
    if word not in on_page and (j is None or not j.added):
        raise ActionError("that word is not on this page")
    post = (mark or "none") + ("+" if j is not None and j.added else "")
    _change_word(s, ann, ts, "mark", page, keyword, lang, word, post, value=mark or "clear")


def add_word(s, task, user, page, keyword, lang, word):
    """Add a word of ``lang`` to the keyword; it starts marked similar."""
    ts = now()
    ann = touch_annotator(s, task, user, ts)
    _change_word(s, ann, ts, "add", page, keyword, lang, word, "pos+", value="pos")


def remove_word(s, task, user, page, keyword, lang, word):
    ts = now()
    ann = touch_annotator(s, task, user, ts)
    j = _judgement(s, ann, keyword, lang, word)
    if j is None or not j.added:
        raise ActionError("that word was not added on this page")
    _change_word(s, ann, ts, "remove", page, keyword, lang, word, "-")


def skip(s, task, user, page, keyword):
    """Pass over a keyword (recorded, exported, counted): it is neither done nor judged."""
    ts = now()
    ann = touch_annotator(s, task, user, ts)
    ks = _keyword_state(s, ann, keyword, ts)
    prev = _keyword_code(ks)
    _set_keyword_code(ks, "skip")
    ks.changed = ts
    _undoable(s, ann, ts, "skip", prev, "skip", page=page, keyword=keyword)


MAX_COMMENT = 2000


def comment(s, task, user, page, keyword, text):
    """The annotator's free-text comment on a keyword (empty text: none)."""
    ts = now()
    ann = touch_annotator(s, task, user, ts)
    ks = _keyword_state(s, ann, keyword, ts)
    ks.comment = text or None
    _event(s, ann, ts, "comment", page=page, keyword=keyword, value=str(len(text)))


def _step(s, ann, ev, code, ts, action):
    if ev.action == "skip":
        ks = _keyword_state(s, ann, ev.keyword, ts)
        _set_keyword_code(ks, code)
        ks.changed = ts
        state = {"keyword_state": code}
    else:
        _set_word_state(s, ann, ev.keyword, ev.lang, ev.word, code, ts)
        _keyword_state(s, ann, ev.keyword, ts).changed = ts
        state = {"exists": code != "-", "mark": None if code in ("-", "none", "none+") else code.rstrip("+"),
                 "added": code.endswith("+")}
    _event(s, ann, ts, action, page=ev.page, keyword=ev.keyword, lang=ev.lang, word=ev.word, value=str(ev.id))
    return {"undone": ev.action, "page": ev.page, "keyword": ev.keyword, "lang": ev.lang, "word": ev.word, **state}


def undo(s, task, user):
    """Undo the newest action not undone yet (on any page); returns what changed."""
    ts = now()
    ann = touch_annotator(s, task, user, ts)
    ev = s.scalars(select(Event).where(Event.annotator_id == ann.id, Event.undo == "done")
                   .order_by(Event.id.desc()).limit(1)).first()
    if ev is None:
        raise ActionError("nothing to undo", status=409)
    ev.undo = "undone"
    return _step(s, ann, ev, ev.prev, ts, "undo")


def redo(s, task, user):
    """Redo the action undone last; returns what changed."""
    ts = now()
    ann = touch_annotator(s, task, user, ts)
    ev = s.scalars(select(Event).where(Event.annotator_id == ann.id, Event.undo == "undone")
                   .order_by(Event.id).limit(1)).first()
    if ev is None:
        raise ActionError("nothing to redo", status=409)
    ev.undo = "done"
    return _step(s, ann, ev, ev.post, ts, "redo")


def history_depth(s, ann):
    """(undo steps, redo steps) available to this annotator."""
    if ann is None:
        return 0, 0
    rows = dict(s.execute(select(Event.undo, func.count()).where(Event.annotator_id == ann.id,
                                                                 Event.undo.in_(("done", "undone")))
                          .group_by(Event.undo)).all())
    return rows.get("done", 0), rows.get("undone", 0)


def finish(s, task, user, page=None, keyword=None):
    ts = now()
    ann = touch_annotator(s, task, user, ts)
    if keyword is not None:
        ks = _keyword_state(s, ann, keyword, ts)
        if not ks.skipped:  # finishing on a skipped keyword leaves it skipped
            ks.done = True
    ann.finished = ts
    _event(s, ann, ts, "finish", page=page, keyword=keyword)


# -- reading -----------------------------------------------------------------

def page_marks(s, ann, keyword):
    """{lang: [{"word", "mark", "added"}...]} of one keyword page: stored judgements only."""
    out = {"src": [], "tgt": []}
    if ann is None:
        return out
    rows = s.scalars(select(Judgement).where(Judgement.annotator_id == ann.id, Judgement.keyword == keyword)
                     .order_by(Judgement.id))
    for j in rows:
        if j.lang in out:
            out[j.lang].append({"word": j.word, "mark": j.mark, "added": bool(j.added)})
    return out


def done_count(s, ann):
    if ann is None:
        return 0
    return s.scalar(select(func.count()).select_from(KeywordState)
                    .where(KeywordState.annotator_id == ann.id, KeywordState.done.is_(True))) or 0


def skipped_count(s, ann):
    if ann is None:
        return 0
    return s.scalar(select(func.count()).select_from(KeywordState)
                    .where(KeywordState.annotator_id == ann.id, KeywordState.skipped.is_(True))) or 0


def keyword_info(s, ann, keyword):
    """{"skipped", "done", "comment"} of one keyword for this annotator."""
    ks = None if ann is None else s.scalars(select(KeywordState).where(
        KeywordState.annotator_id == ann.id, KeywordState.keyword == keyword)).one_or_none()
    if ks is None:
        return {"skipped": False, "done": False, "comment": ""}
    return {"skipped": bool(ks.skipped), "done": bool(ks.done), "comment": ks.comment or ""}
