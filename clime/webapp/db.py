"""Database models and engine (SQLAlchemy 2.0).

Every action is an ``Event`` row (with its time); the current state is kept beside it:
``Judgement`` per (annotator, keyword, language, word), last action wins, and
``KeywordState`` per (annotator, keyword): when it was opened, last changed, done.
Beside them, for access control and coordination only: ``AccessToken`` (the SHA-256 of
each invitation token, never the token) and ``ServerLease`` (one row per running server,
refreshed while it runs, so that ``clear_db.py`` can refuse to clear under it).
The schema is versioned by Alembic (``schema.py``, ``migrations/``).
Only the default URL is SQLite; for SQLite connections WAL mode, foreign keys and a
busy timeout are switched on in a connect hook, nothing else depends on the dialect.
"""

import logging
import os
import time
from pathlib import Path
from typing import Optional

from sqlalchemy import (Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
                        create_engine, delete, event, false, select)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from ..errors import ClimeError

log = logging.getLogger(__name__)


class Base(DeclarativeBase):
    pass


class Annotator(Base):
    """One user id working on one task."""

    __tablename__ = "annotator"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(64))
    user: Mapped[str] = mapped_column(String(64))
    created: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float] = mapped_column(Float)
    page: Mapped[int] = mapped_column(Integer, default=1)  # the page last viewed (1-based)
    finished: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    __table_args__ = (UniqueConstraint("task", "user", name="uq_annotator_task_user"),)


class KeywordState(Base):
    """A keyword an annotator has opened."""

    __tablename__ = "keyword_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotator.id", ondelete="CASCADE"))
    keyword: Mapped[str] = mapped_column(Text)
    opened: Mapped[float] = mapped_column(Float)
    changed: Mapped[float] = mapped_column(Float)  # last mark/add/remove (or opened)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # passed over
    comment: Mapped[Optional[str]] = mapped_column(Text, nullable=True)  # the annotator's free text
    __table_args__ = (UniqueConstraint("annotator_id", "keyword", name="uq_keyword_state"),)


class Judgement(Base):
    """The current state of one word on one keyword page."""

    __tablename__ = "judgement"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotator.id", ondelete="CASCADE"))
    keyword: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(3))
    word: Mapped[str] = mapped_column(Text)
    mark: Mapped[Optional[str]] = mapped_column(String(3), nullable=True)  # "pos", "neg" or None
    added: Mapped[bool] = mapped_column(Boolean, default=False)
    changed: Mapped[float] = mapped_column(Float)
    __table_args__ = (UniqueConstraint("annotator_id", "keyword", "lang", "word", name="uq_judgement"),)


class Event(Base):
    """One action, as it happened: view, next, back, mark, add, remove, skip, comment, undo, redo,
    start, finish."""

    __tablename__ = "event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotator.id", ondelete="CASCADE"))
    ts: Mapped[float] = mapped_column(Float)
    action: Mapped[str] = mapped_column(String(16))
    page: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    keyword: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    lang: Mapped[Optional[str]] = mapped_column(String(3), nullable=True)
    word: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    value: Mapped[Optional[str]] = mapped_column(String(16), nullable=True)
    # undoable actions (mark, add, remove, skip): the state before and after, and
    # "done" / "undone" / "dropped" (a new action after an undo drops the redo steps)
    prev: Mapped[Optional[str]] = mapped_column(String(16), nullable=True)
    post: Mapped[Optional[str]] = mapped_column(String(16), nullable=True)
    undo: Mapped[Optional[str]] = mapped_column(String(8), nullable=True)
    __table_args__ = (Index("ix_event_annotator_ts", "annotator_id", "ts"),
                      Index("ix_event_annotator_undo", "annotator_id", "undo"))


class DocLabel(Base):
    """The annotator's current label of one chosen target document (document page)."""

    __tablename__ = "doc_label"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotator.id", ondelete="CASCADE"))
    doc_id: Mapped[str] = mapped_column(Text)  # JSON of the document's id (int or str)
    label: Mapped[str] = mapped_column(Text)  # JSON of the category's label (int or str)
    changed: Mapped[float] = mapped_column(Float)
    __table_args__ = (UniqueConstraint("annotator_id", "doc_id", name="uq_doc_label"),)


class AccessToken(Base):
    """An invitation (team mode): the SHA-256 hex of a secret token and what it opens.

    ``role`` "annotator": the pages of (task, user); "owner": everything (export,
    statistics, every annotator).  The token itself is shown once and never stored.
    """

    __tablename__ = "access_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    task: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    user: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    created: Mapped[float] = mapped_column(Float)


class ServerLease(Base):
    """A running server: ``seen`` is refreshed every few seconds while it serves."""

    __tablename__ = "server_lease"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(300))
    started: Mapped[float] = mapped_column(Float)
    seen: Mapped[float] = mapped_column(Float)


TABLES = (Event, Judgement, KeywordState, DocLabel, Annotator)  # children first


def _sqlite_pragmas(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable across app crashes
    cur.close()


def make_engine(url, prepare_schema=True):
    """An engine for ``url``.

    With ``prepare_schema`` an empty database gets the current schema (by the migrations)
    and a database of an older or newer schema is refused with the command that upgrades it.
    """
    try:
        u = make_url(url)
    except ArgumentError as err:
        raise ClimeError(f"bad database URL ({err})") from None
    kwargs = {}
    if u.get_backend_name() == "sqlite":
        db = u.database
        if db and db != ":memory:" and not db.startswith("file:"):
            private_file(db)
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(u, **kwargs)
    except Exception as err:  # missing driver, bad option
        raise ClimeError(f"cannot open database {u.render_as_string(hide_password=True)} ({err})") from None
    if u.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    from .schema import prepare

    if not prepare_schema:
        return engine
    try:
        prepare(engine)
    except DBAPIError as err:  # OperationalError (cannot open), DatabaseError (not a database)
        raise ClimeError(f"cannot open database {u.render_as_string(hide_password=True)} ({err.orig})") from None
    return engine


def private_file(path):
    """Create ``path`` (and missing folders) readable by its owner only (0600 / 0700);
    an existing file readable by others is left as it is, with a warning."""
    from ..fileio import private_dir

    path = Path(path)
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        warn_if_readable(path, "database file")
    except OSError as err:
        raise ClimeError(f"cannot create the database file ({err.strerror})", path) from None


def warn_if_readable(path, what):
    """Log a warning when ``path`` can be read or written by other users."""
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        return
    if mode & 0o077:
        log.warning("WARNING: %s: the %s is readable by other users (mode %04o); run chmod %s %s",
                    path, what, mode, "700" if os.path.isdir(path) else "600", path)


def make_sessionmaker(engine):
    return sessionmaker(engine, expire_on_commit=False)


def now():
    return time.time()


def find_annotators(session, task=None, user=None):
    q = select(Annotator)
    if task is not None:
        q = q.where(Annotator.task == task)
    if user is not None:
        q = q.where(Annotator.user == user)
    return list(session.scalars(q.order_by(Annotator.task, Annotator.user)))


def delete_annotators(session, ids):
    """Delete annotators and all their rows (children first: works without FK cascades)."""
    ids = list(ids)
    if not ids:
        return
    for model in TABLES[:-1]:
        session.execute(delete(model).where(model.annotator_id.in_(ids)))
    session.execute(delete(Annotator).where(Annotator.id.in_(ids)))
