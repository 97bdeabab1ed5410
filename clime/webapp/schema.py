"""The version of the database schema (Alembic): check it, create it, upgrade it.

The revisions live in ``migrations/versions/`` (one file each, a chain from ``0001``,
the schema of the first release).  An empty database is created at the newest
revision; a database at an older one (or made before migrations existed: tables but
no ``alembic_version``) is refused until ``python app.py db upgrade`` has run.
"""

import logging
from pathlib import Path

from sqlalchemy import inspect, text

from ..errors import ClimeError

log = logging.getLogger(__name__)
logging.getLogger("alembic").setLevel(logging.WARNING)  # its chatter on every start; `db upgrade` lists steps
SCRIPTS = Path(__file__).resolve().parent / "migrations"
FIRST = "0001"          # the schema of commit 9d70c02, before migrations existed
UPGRADE_COMMAND = "python app.py db upgrade"


def alembic_config(connection=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def revisions():
    """[(revision, message)] from the first to the newest."""
    from alembic.script import ScriptDirectory

    scripts = list(ScriptDirectory.from_config(alembic_config()).walk_revisions())
    return [(s.revision, (s.doc or "").strip().splitlines()[0]) for s in reversed(scripts)]


def current(connection):
    """The revision of the database: a revision id, ``"legacy"`` (tables without a
    version: made before migrations) or None (empty)."""
    from alembic.runtime.migration import MigrationContext

    rev = MigrationContext.configure(connection).get_current_revision()
    if rev is not None:
        return rev
    return "legacy" if inspect(connection).has_table("annotator") else None


def _describe(engine):
    return engine.url.render_as_string(hide_password=True)


def _lock(connection):
    """One upgrader at a time (PostgreSQL: an advisory lock held until commit)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(7710415)"))


def upgrade(engine, target="head"):
    """Bring the database to ``target``; returns (revision before, revision after)."""
    from alembic import command

    with engine.begin() as conn:
        _lock(conn)
        before = current(conn)
        cfg = alembic_config(conn)
        if before == "legacy":
            command.stamp(cfg, FIRST)
        command.upgrade(cfg, target)
        after = current(conn)
    return before, after


def prepare(engine):
    """Create an empty database; refuse one whose schema is not the newest."""
    want = head()
    with engine.connect() as conn:
        have = current(conn)
    if have is None:
        try:
            upgrade(engine)
        except Exception:  # another process created it at the same moment: look again
            with engine.connect() as conn:
                if current(conn) != want:
                    raise
        log.debug("created the database schema %s in %s", want, _describe(engine))
        return want
    if have == want:
        return have
    known = {r for r, _ in revisions()}
    url = _describe(engine)
    if have != "legacy" and have not in known:
        raise ClimeError(f"the database {url} has schema revision {have}, newer than this CLIME knows "
                         f"(newest {want}): update CLIME")
    what = "was made before schema versions existed" if have == "legacy" else f"has schema revision {have}"
    raise ClimeError(f"the database {url} {what}; this CLIME needs revision {want}. "
                     f"Upgrade it (rows are kept) with: {UPGRADE_COMMAND} --db '{url}'")
