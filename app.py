#!/usr/bin/env python3
"""The CLIME annotation app (Flask + SQLAlchemy).

  python app.py [--host 127.0.0.1] [--port 5000] [--team] [--allow-host NAME] ...   run the server
  python app.py invite --task T --user U [--url http://HOST:PORT]                  an annotator's link (team mode)
  python app.py invite --owner                                                     the owner's link (team mode)
  python app.py export --task T [--user U] [--out FILE] [--merged]                 write feedback CSVs
  python app.py stats --task T                                                     progress and agreement
  python app.py db upgrade|current|history [--db URL]                              the database schema

Annotators open http://HOST:PORT/<task>/<user_id> (local mode) or the link that
`invite` printed for them (--team).  The server is waitress (bounded thread pool,
idle and whole-request timeouts, a connection limit; see clime/webapp/server.py).  The database URL defaults to $CLIME_DATABASE_URL, else an SQLite file
instance/clime.db.
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


def _positive(name, value, high):
    if not 1 <= value <= high:
        raise ClimeError(f"--{name} {value}: must be from 1 to {high}")


def serve(argv):
    p = cli.make_parser(__doc__)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (anything but loopback exposes the app)")
    p.add_argument("--port", type=int, default=5000, help="port to listen on")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also serve requests for this host name or address (repeatable), e.g. the public "
                        "name of the machine; served by default: localhost, 127.0.0.1, ::1 and --host")
    p.add_argument("--team", action="store_true",
                   help="team mode: every page needs the invitation link of `app.py invite` "
                        "(default: local mode, whoever reaches the port may open everything)")
    p.add_argument("--ui-data", default="ui_data", help="folder of the tasks prepared by preprocess_ui.py")
    p.add_argument("--feedbacks", default="feedbacks", help="folder where Finish writes <task>/<user>.csv")
    p.add_argument("--threads", type=int, default=8, help="worker threads (requests handled at once)")
    p.add_argument("--timeout", type=int, default=30,
                   help="seconds a connection may stay idle (no byte either way) before it is closed")
    p.add_argument("--request-timeout", type=int, default=10,
                   help="seconds a request may take to arrive whole (request line, headers, body) from its "
                        "first byte; a slower one, e.g. trickled byte by byte, has its connection closed")
    p.add_argument("--connection-limit", type=int, default=1000,
                   help="open connections at most; at the limit the longest-idle or longest-unfinished one "
                        "is closed to make room")
    p.add_argument("--trusted-proxy", default=None, metavar="ADDRESS",
                   help="address of a reverse proxy (e.g. 127.0.0.1 for nginx on this machine) whose "
                        "X-Forwarded-Proto and X-Forwarded-For headers are believed; default: none")
    _add_db(p)
    args = cli.parse(p, argv, seed=False)
    if not 0 < args.port < 65536:
        raise ClimeError(f"--port {args.port}: not a port number")
    _positive("threads", args.threads, 256)
    _positive("timeout", args.timeout, 3600)
    _positive("request-timeout", args.request_timeout, 3600)
    _positive("connection-limit", args.connection_limit, 10000)
    if args.trusted_proxy is not None:
        try:
            ipaddress.ip_address(args.trusted_proxy)
        except ValueError:
            raise ClimeError(f"--trusted-proxy {args.trusted_proxy!r}: not an IP address") from None
    from clime.webapp.access import allowed_hosts, is_wildcard, normal_host, valid_host

    for name in args.allow_host:
        if not valid_host(normal_host(name)):
            raise ClimeError(f"--allow-host {name!r}: not a host name or address")
    hosts = allowed_hosts(args.host, args.allow_host)
    app = _app(args, UI_DATA=args.ui_data, FEEDBACK_DIR=args.feedbacks, ALLOWED_HOSTS=hosts,
               ACCESS="team" if args.team else "local")
    if not is_loopback(args.host):
        log.warning("WARNING: listening on %s: anyone who can reach this machine can reach the app%s.",
                    args.host, "" if args.team else " and open everything (use --team, see docs/app.md)")
    if is_wildcard(args.host) and not args.allow_host:
        log.warning("WARNING: --host %s with no --allow-host: only requests for %s are served; "
                    "add --allow-host with the name or address that others use", args.host, ", ".join(hosts))
    tasks = app.extensions["clime"]["tasks"].names()
    if not tasks:
        log.warning("no task found in %s (run preprocess_ui.py first)", args.ui_data)
    shown = "127.0.0.1" if is_wildcard(args.host) else (f"[{args.host}]" if ":" in args.host else args.host)
    base = f"http://{shown}:{args.port}"
    for t in tasks[:5]:
        if args.team:
            log.info("task %s: annotators open the links of `python app.py invite --task %s --user ID --url %s`",
                     t, t, base)
        else:
            log.info("task %s: open %s/%s/<your_id>", t, base, t)
    log.info("serving host names: %s; %s mode", ", ".join(hosts), "team" if args.team else "local")
    from clime.webapp import server

    return server.run(app, args.host, args.port, base=base, threads=args.threads, timeout=args.timeout,
                      request_timeout=args.request_timeout, connection_limit=args.connection_limit,
                      trusted_proxy=args.trusted_proxy)


def invite_cmd(argv):
    p = cli.make_parser("Print an invitation link (team mode): for one annotator of a task, or for the owner "
                        "(every page, export and statistics).  A new link replaces that person's old one.")
    p.add_argument("--task", default=None, help="the task (with --user)")
    p.add_argument("--user", default=None, help="the annotator's user id (with --task)")
    p.add_argument("--owner", action="store_true", help="the owner's link instead of an annotator's")
    p.add_argument("--revoke", action="store_true", help="delete the link instead of making one")
    p.add_argument("--url", default="http://127.0.0.1:5000", help="the address annotators use to reach the app")
    _add_db(p)
    args = cli.parse(p, argv, seed=False)
    from urllib.parse import quote, urlsplit

    from clime.webapp.access import new_token, revoke
    from clime.webapp.taskdata import valid_task, valid_user

    if args.owner == (args.task is not None or args.user is not None):
        raise ClimeError("give either --owner or both --task and --user")
    if not args.owner:
        if args.task is None or args.user is None:
            raise ClimeError("give both --task and --user (or --owner)")
        if not valid_task(args.task):
            raise ClimeError(f"--task {args.task!r}: letters, digits, '-' and '_' only, at most 64")
        if not valid_user(args.user):
            raise ClimeError(f"--user {args.user!r}: not a valid user id")
    url = args.url.rstrip("/")
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ClimeError(f"--url {args.url!r}: expected http://HOST:PORT or https://HOST")
    role = "owner" if args.owner else "annotator"
    who = "the owner" if args.owner else f"{args.user} on task {args.task}"
    with _sessionmaker(args)() as s, s.begin():
        if args.revoke:
            n = revoke(s, role, args.task, args.user)
            log.info("revoked %d link(s) of %s", n, who)
            return 0
        token = new_token(s, role, args.task, args.user)
    path = "/" if args.owner else f"/{quote(args.task)}/{quote(args.user)}"
    print(f"{url}{path}?token={token}")
    log.info("link of %s (valid in team mode, until replaced or revoked); send it privately", who)
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
                   help="output file (one user or --merged) or folder (all users: <user>.csv in it); default: "
                        "feedbacks/<task>/<user>.csv, feedbacks/<task>.merged.csv with --merged")
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


COMMANDS = {"export": export_cmd, "stats": stats_cmd, "invite": invite_cmd, "db": db_cmd}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        return COMMANDS[argv[0]](argv[1:])
    return serve(argv)


if __name__ == "__main__":
    cli.run(main)
