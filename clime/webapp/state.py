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
    _event(s, ann, ts, action, page=page, keyword=keyword)


def set_mark(s, task, user, page, keyword, lang, word, mark, on_page):
    """Mark ``word`` pos/neg, or clear it (mark None). ``on_page``: the neighbours shown."""
    ts = now()
    ann = touch_annotator(s, task, user, ts)
    j = _judgement(s, ann, keyword, lang, word)
    if word not in on_page and (j is None or not j.added):
        raise ActionError("that word is not on this page")
    ks = _keyword_state(s, ann, keyword, ts)
    if j is None:
        j = Judgement(annotator_id=ann.id, keyword=keyword, lang=lang, word=word, added=False, changed=ts)
        s.add(j)
    j.mark = mark
    j.changed = ts
    ks.changed = ts
    _event(s, ann, ts, "mark", page=page, keyword=keyword, lang=lang, word=word, value=mark or "clear")


def add_word(s, task, user, page, keyword, lang, word):
    """Add a word of ``lang`` to the keyword; it starts marked similar."""
    ts = now()
    ann = touch_annotator(s, task, user, ts)
    ks = _keyword_state(s, ann, keyword, ts)
    j = _judgement(s, ann, keyword, lang, word)
    if j is None:
        j = Judgement(annotator_id=ann.id, keyword=keyword, lang=lang, word=word)
        s.add(j)
    j.added = True
    j.mark = "pos"
    j.changed = ts
    ks.changed = ts
    _event(s, ann, ts, "add", page=page, keyword=keyword, lang=lang, word=word, value="pos")


def remove_word(s, task, user, page, keyword, lang, word):
    ts = now()
    ann = touch_annotator(s, task, user, ts)
    j = _judgement(s, ann, keyword, lang, word)
    if j is None or not j.added:
        raise ActionError("that word was not added on this page")
    ks = _keyword_state(s, ann, keyword, ts)
    s.delete(j)
    ks.changed = ts
    _event(s, ann, ts, "remove", page=page, keyword=keyword, lang=lang, word=word)


def finish(s, task, user, page=None, keyword=None):
    ts = now()
    ann = touch_annotator(s, task, user, ts)
    if keyword is not None:
        ks = _keyword_state(s, ann, keyword, ts)
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
