"""Database models and engine (SQLAlchemy 2.0).

Every action is an ``Event`` row (with its time); the current state is kept beside it:
``Judgement`` per (annotator, keyword, language, word), last action wins, and
``KeywordState`` per (annotator, keyword): when it was opened, last changed, done.
Only the default URL is SQLite; for SQLite connections WAL mode, foreign keys and a
busy timeout are switched on in a connect hook, nothing else depends on the dialect.
"""

import time
from typing import Optional

from sqlalchemy import (Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
                        create_engine, delete, event, select)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from ..errors import ClimeError


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
    """One action, as it happened: view, next, back, mark, add, remove, start, finish."""

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
    __table_args__ = (Index("ix_event_annotator_ts", "annotator_id", "ts"),)


class DocLabel(Base):
    """The annotator's current label of one chosen target document (document page)."""

    __tablename__ = "doc_label"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotator.id", ondelete="CASCADE"))
    doc_id: Mapped[str] = mapped_column(Text)  # JSON of the document's id (int or str)
    label: Mapped[str] = mapped_column(Text)  # JSON of the category's label (int or str)
    changed: Mapped[float] = mapped_column(Float)
    __table_args__ = (UniqueConstraint("annotator_id", "doc_id", name="uq_doc_label"),)


TABLES = (Event, Judgement, KeywordState, DocLabel, Annotator)  # children first


def _sqlite_pragmas(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable across app crashes
    cur.close()


def make_engine(url):
    """An engine for ``url``; the tables are created when missing."""
    try:
        u = make_url(url)
    except ArgumentError as err:
        raise ClimeError(f"bad database URL ({err})") from None
    kwargs = {}
    if u.get_backend_name() == "sqlite":
        db = u.database
        if db and db != ":memory:" and not db.startswith("file:"):
            from pathlib import Path

            Path(db).parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(u, **kwargs)
    except Exception as err:  # missing driver, bad option
        raise ClimeError(f"cannot open database {u.render_as_string(hide_password=True)} ({err})") from None
    if u.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        Base.metadata.create_all(engine)
    except OperationalError as err:
        raise ClimeError(f"cannot open database {u.render_as_string(hide_password=True)} ({err.orig})") from None
    return engine


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
