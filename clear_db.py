#!/usr/bin/env python3
"""Clear the annotation database (everything, or one task / one user), after a confirmation.

  python clear_db.py                      everything (asks first)
  python clear_db.py --task T --user U    only that user's work on task T
  python clear_db.py --yes --backup old.db

It refuses while an app.py server is using the database (stop the server first).
A backup is written first, by default to backups/<name>-<UTC time>.db beside an SQLite
database (a JSON dump of every table in <instance>/backups/ for other databases); an
existing backup file is never overwritten.  Feedback files under feedbacks/ are left alone.
"""

import json
import logging
import sqlite3
import sys
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from clime import cli
from clime.errors import ClimeError
from clime.fileio import atomic_open, atomic_path

log = logging.getLogger("clime.clear_db")


def _sqlite_file(u):
    return u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:" \
        and not u.database.startswith("file:")


def default_backup(u, instance):
    """A new file name for a backup of the database at URL ``u`` (no existing file)."""
    from clime.webapp import default_instance

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    if _sqlite_file(u):
        db = Path(u.database)
        folder, stem, ext = db.parent / "backups", db.stem, ".db"
    else:
        folder, stem, ext = Path(instance or default_instance()) / "backups", "clime", ".json"
    path, n = folder / f"{stem}-{stamp}{ext}", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{stamp}-{n}{ext}"
    return path


def backup(engine, url, path):
    """Copy the database to ``path`` (a new file, 0600; never over an existing one): an
    SQLite file for SQLite, else a JSON dump of every table."""
    from clime.webapp.db import Base

    path = Path(path)
    u = make_url(url)
    if path.exists():
        raise ClimeError("backup file exists already; not overwritten (choose another --backup)", path)
    try:
        _write_backup(engine, u, path, Base)
    except FileExistsError:
        raise ClimeError("backup file appeared while writing; not overwritten", path) from None


def _write_backup(engine, u, path, Base):
    if _sqlite_file(u):
        src = sqlite3.connect(u.database)
        try:
            with atomic_path(path, private=True, replace=False) as tmp:
                dst = sqlite3.connect(tmp)
                try:
                    src.backup(dst)
                finally:
                    dst.close()
        finally:
            src.close()
        return
    dump = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            dump[table.name] = [dict(r._mapping) for r in conn.execute(select(table))]
    with atomic_open(path, private=True, replace=False) as fh:
        json.dump(dump, fh, ensure_ascii=False)


def main(argv=None):
    p = cli.make_parser(__doc__)
    p.add_argument("--db", default=None, metavar="URL",
                   help="SQLAlchemy database URL; unset: $CLIME_DATABASE_URL, else sqlite:///instance/clime.db")
    p.add_argument("--instance", default=None, metavar="DIR", help="instance folder of the default database; unset: instance/ in the project folder")
    p.add_argument("--task", default=None, help="clear only this task")
    p.add_argument("--user", default=None, help="clear only this user (on every task unless --task)")
    p.add_argument("--backup", default=None, metavar="FILE",
                   help="copy the database to FILE first (a new file); unset: backups/<name>-<UTC time>.db "
                        "beside an SQLite database, <instance>/backups/clime-<UTC time>.json otherwise")
    p.add_argument("--no-backup", action="store_true", help="do not write a backup")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    args = cli.parse(p, argv, seed=False)

    from clime.webapp import default_database_url
    from clime.webapp.db import Event, Judgement, delete_annotators, find_annotators, make_engine, make_sessionmaker
    from clime.webapp.lease import active, describe
    from clime.webapp.taskdata import valid_task, valid_user

    if args.task is not None and not valid_task(args.task):
        raise ClimeError(f"--task {args.task!r}: not a valid task name")
    if args.user is not None and not valid_user(args.user):
        raise ClimeError(f"--user {args.user!r}: not a valid user id")
    if args.backup and args.no_backup:
        raise ClimeError("--backup and --no-backup: choose one")
    if args.backup and Path(args.backup).exists():
        raise ClimeError("backup file exists already; not overwritten (choose another --backup)", args.backup)
    url = args.db or default_database_url(args.instance)
    try:
        u = make_url(url)
    except (ArgumentError, ValueError) as err:
        raise ClimeError(f"--db: not a database URL ({err})") from None
    if _sqlite_file(u) and not Path(u.database).exists():
        raise ClimeError("no such database file", u.database)
    engine = make_engine(url)
    Session = make_sessionmaker(engine)

    def refuse_if_served(s):
        servers = active(s)
        if servers:
            raise ClimeError(f"a server is using this database ({describe(servers[0])}); stop it first "
                             "(a server stopped by kill -9 stops counting after 20 s)")

    with Session() as s:
        refuse_if_served(s)
        anns = find_annotators(s, task=args.task, user=args.user)
        ids = [a.id for a in anns]
        n_events = s.scalar(select(func.count()).select_from(Event).where(Event.annotator_id.in_(ids))) if ids else 0
        n_judg = s.scalar(select(func.count()).select_from(Judgement).where(Judgement.annotator_id.in_(ids))) if ids else 0
    scope = " ".join(x for x in (f"task {args.task!r}" if args.task else "",
                                 f"user {args.user!r}" if args.user else "") if x) or "EVERYTHING"
    where = u.render_as_string(hide_password=True)
    if not anns:
        log.info("nothing to clear for %s in %s", scope, where)
        return 0
    what = (f"{len(anns)} annotator(s) ({', '.join(sorted({a.task + '/' + a.user for a in anns})[:8])}"
            f"{', …' if len(anns) > 8 else ''}), {n_judg} judgement(s), {n_events} event(s)")
    if not args.yes:
        if not sys.stdin.isatty():
            raise ClimeError(f"would delete {what}; confirm with --yes (stdin is not a terminal)")
        answer = input(f"Delete {what} from {where} ({scope})? Type 'yes' to confirm: ")
        if answer.strip().lower() != "yes":
            log.info("nothing deleted")
            return 1
    if not args.no_backup:
        path = Path(args.backup) if args.backup else default_backup(u, args.instance)
        backup(engine, url, path)
        log.info("backup written to %s", path)
    with Session() as s:
        with s.begin():
            refuse_if_served(s)  # a server started meanwhile
            delete_annotators(s, [a.id for a in anns])
    log.info("deleted %s", what)
    return 0


if __name__ == "__main__":
    cli.run(main)
