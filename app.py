#!/usr/bin/env python3
"""The CLIME annotation app (Flask + SQLAlchemy).

  python app.py [--host 127.0.0.1] [--port 5000] [--db URL] [--ui-data ui_data]   run the server
  python app.py export --task T [--user U] [--out FILE] [--merged]                 write feedback CSVs
  python app.py stats --task T                                                     progress and agreement
  python app.py db upgrade|current|history [--db URL]                              the database schema

Annotators open http://HOST:PORT/<task>/<user_id>.  The database URL defaults to
$CLIME_DATABASE_URL, else an SQLite file instance/clime.db.
"""

import ipaddress
import json
import logging
import sys

from clime import cli
from clime.errors import ClimeError

log = logging.getLogger("clime.app")


def _add_db(p):
    p.add_argument("--db", default=None, metavar="URL",
                   help="SQLAlchemy database URL; unset: $CLIME_DATABASE_URL, else sqlite:///instance/clime.db")
    p.add_argument("--instance", default=None, metavar="DIR",
                   help="instance folder of the secret key and the default database; unset: instance/ in the project folder")


def _app(args, **extra):
    from clime.webapp import create_app

    config = {k: v for k, v in extra.items() if v is not None}
    if args.db:
        config["DATABASE_URL"] = args.db
    if args.instance:
        config["INSTANCE_PATH"] = args.instance
    return create_app(config)


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(argv):
    p = cli.make_parser(__doc__)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (anything but loopback exposes the app)")
    p.add_argument("--port", type=int, default=5000, help="port to listen on")
    p.add_argument("--ui-data", default="ui_data", help="folder of the tasks prepared by preprocess_ui.py")
    p.add_argument("--feedbacks", default="feedbacks", help="folder where Finish writes <task>_<user>.csv")
    _add_db(p)
    args = cli.parse(p, argv, seed=False)
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if not 0 < args.port < 65536:
        raise ClimeError(f"--port {args.port}: not a port number")
    app = _app(args, UI_DATA=args.ui_data, FEEDBACK_DIR=args.feedbacks)
    if not is_loopback(args.host):
        log.warning("WARNING: listening on %s: anyone who can reach this machine can open the app. "
                    "Use it only on a network you trust.", args.host)
    tasks = app.extensions["clime"]["tasks"].names()
    if not tasks:
        log.warning("no task found in %s (run preprocess_ui.py first)", args.ui_data)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    for t in tasks[:5]:
        log.info("task %s: open http://%s:%d/%s/<your_id>", t, shown, args.port, t)
    from werkzeug.serving import make_server

    try:
        server = make_server(args.host, args.port, app, threaded=True)
    except OSError as err:
        raise ClimeError(f"cannot listen on {args.host}:{args.port} ({err.strerror or err})") from None
    log.info("CLIME annotation app on http://%s:%d/ (Ctrl-C stops it)", shown, args.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _sessionmaker(args):
    from clime.webapp import default_database_url
    from clime.webapp.db import make_engine, make_sessionmaker

    return make_sessionmaker(make_engine(args.db or default_database_url(args.instance)))


def _task_arg(p):
    p.add_argument("--task", required=True, help="task name (a folder of ui_data)")
    p.add_argument("--ui-data", default="ui_data", help="folder of the tasks (orders keywords as in setup.json)")


def _load_task(ui_data, name):
    from clime.webapp.taskdata import TaskCache, valid_task

    if not valid_task(name):
        raise ClimeError(f"--task {name!r}: letters, digits, '-' and '_' only, at most 64")
    return TaskCache(ui_data).get(name)  # None when the task folder is gone: still exportable


def export_cmd(argv):
    p = cli.make_parser("Write the feedback CSV of one user, or of every user of a task.")
    _task_arg(p)
    p.add_argument("--user", default=None, help="only this user (default: every user of the task)")
    p.add_argument("--out", default=None,
                   help="output file (one user or --merged) or folder (all users); default: "
                        "feedbacks/<task>_<user>.csv, feedbacks/merged/<task>.csv with --merged")
    p.add_argument("--merged", action="store_true", help="one file for all users, with a 'user' column at the end")
    p.add_argument("--feedbacks", default="feedbacks", help="default output folder")
    _add_db(p)
    args = cli.parse(p, argv, seed=False)
    from clime.webapp.export import export
    from clime.webapp.taskdata import valid_user

    if args.user is not None and not valid_user(args.user):
        raise ClimeError(f"--user {args.user!r}: not a valid user id")
    task = _load_task(args.ui_data, args.task)
    with _sessionmaker(args)() as s:
        written = export(s, args.task, task=task, user=args.user, out=args.out, merged=args.merged,
                         feedback_dir=args.feedbacks)
    if not written or (args.merged and written[0][1] == 0):
        who = f"user {args.user!r} on " if args.user else ""
        raise ClimeError(f"nothing saved for {who}task {args.task!r} in this database")
    for path, users, rows in written:
        log.info("wrote %s (%d keyword row(s)%s)", path, rows, f", {users} users" if args.merged else "")
    return 0


def stats_cmd(argv):
    p = cli.make_parser("Per user: keywords done, judgements, minutes spent; agreement between users.")
    _task_arg(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_db(p)
    args = cli.parse(p, argv, seed=False)
    from clime.webapp.stats import format_stats, task_stats
    from clime.webapp.taskdata import valid_task

    if not valid_task(args.task):
        raise ClimeError(f"--task {args.task!r}: letters, digits, '-' and '_' only, at most 64")
    with _sessionmaker(args)() as s:
        st = task_stats(s, args.task)
    print(json.dumps(st, indent=1) if args.json else format_stats(st))
    return 0


def db_cmd(argv):
    p = cli.make_parser("The database schema: 'upgrade' it to this version of CLIME (rows are kept), "
                        "show its 'current' revision, or the 'history' of revisions.")
    p.add_argument("what", choices=("upgrade", "current", "history"), help="what to do")
    _add_db(p)
    args = cli.parse(p, argv, seed=False)
    from clime.webapp import default_database_url
    from clime.webapp import schema
    from clime.webapp.db import make_engine

    if args.what == "history":
        for rev, doc in schema.revisions():
            print(f"{rev}  {doc}")
        return 0
    from sqlalchemy.exc import DatabaseError

    engine = make_engine(args.db or default_database_url(args.instance), prepare_schema=False)
    try:
        if args.what == "current":
            with engine.connect() as conn:
                rev = schema.current(conn)
            print(rev or "empty", "(newest)" if rev == schema.head() else f"(newest is {schema.head()})")
            return 0
        before, after = schema.upgrade(engine)
    except DatabaseError as err:
        raise ClimeError(f"database {engine.url.render_as_string(hide_password=True)}: {err.orig}") from None
    finally:
        engine.dispose()
    if before == after:
        log.info("the database is already at the newest schema revision %s", after)
    else:
        log.info("upgraded the database from %s to %s", before or "empty", after)
    return 0


COMMANDS = {"export": export_cmd, "stats": stats_cmd, "db": db_cmd}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        return COMMANDS[argv[0]](argv[1:])
    return serve(argv)


if __name__ == "__main__":
    cli.run(main)
