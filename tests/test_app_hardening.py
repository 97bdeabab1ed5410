"""Issue 14, items 1-8: what an attacker and a careless user broke in the app (Flask test client,
plus one real waitress server in a subprocess)."""

import contextlib
import csv
import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import app as app_script
import clear_db
from clime import cli
from clime.feedback import FeedbackRow, read_cell, read_feedback, safe_cell, write_feedback
from clime.webapp import create_app
from clime.webapp.access import allowed_hosts, owner_only, split_host
from clime.webapp.db import AccessToken
from clime.webapp.lease import Lease
from clime.webapp.testdata import write_demo_task
from clime.webapp.views import ACTIONS

ROOT = Path(__file__).resolve().parents[1]
TOKEN_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


def make_env(tmp_path, tasks=("demo",), **config):
    ui = tmp_path / "ui_data"
    for t in tasks:
        write_demo_task(ui, t)
    cfg = {"UI_DATA": str(ui), "INSTANCE_PATH": str(tmp_path / "instance"),
           "FEEDBACK_DIR": str(tmp_path / "feedbacks"),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'instance' / 'clime.db'}"}
    cfg.update(config)
    return create_app(cfg), cfg


@pytest.fixture()
def env(tmp_path):
    application, cfg = make_env(tmp_path)
    return {"app": application, "cfg": cfg, "tmp": tmp_path}


def csrf(client, url="/demo/alice", **kw):
    r = client.get(url, **kw)
    assert r.status_code == 200, (url, r.status_code)
    return TOKEN_RE.search(r.text).group(1)


# ------------------------------------------------------------------ 1. DNS rebinding

def test_foreign_host_header_is_refused(env):
    c = env["app"].test_client()
    tok = csrf(c)
    evil = {"Host": "evil.test:5077"}
    for url in ("/", "/demo/alice", "/demo/alice/1", "/api/demo/contexts?lang=src&word=doctor", "/api/csrf",
                "/static/app.css", "/nosuchpage/x/y/z"):
        r = c.get(url, headers=evil)
        assert r.status_code == 400, (url, r.status_code)
        assert "host" in r.get_data(as_text=True)
    # the issue's request: the token fetched, then a POST with a rebound name and matching Origin
    r = c.post("/api/demo/alice/view", json={"page": 1},
               headers={**evil, "Origin": "http://evil.test:5077", "X-CSRF-Token": tok})
    assert r.status_code == 400
    # a rebinding name cannot even fetch a token
    assert c.get("/api/csrf", headers={"Host": "evil.test"}).status_code == 400


def test_loopback_names_and_added_names_are_served(tmp_path):
    application, _ = make_env(tmp_path, ALLOWED_HOSTS=allowed_hosts("127.0.0.1", ["Annot.Example.org"]))
    c = application.test_client()
    for host in ("localhost", "localhost:5000", "127.0.0.1:5000", "[::1]:5000", "annot.example.org",
                 "ANNOT.example.org.:443"):
        assert c.get("/demo/alice", headers={"Host": host}).status_code == 200, host
    for host in ("example.org", "127.0.0.2", "annot.example.org.evil.test", "", "localhost:x", "[::1"):
        assert c.get("/demo/alice", headers={"Host": host}).status_code == 400, host


def test_allowed_hosts_default_list():
    assert allowed_hosts() == ["localhost", "127.0.0.1", "::1"]
    assert allowed_hosts("10.0.0.5", ["Lab.Example"]) == ["localhost", "127.0.0.1", "::1", "10.0.0.5", "lab.example"]
    assert allowed_hosts("0.0.0.0") == allowed_hosts() and allowed_hosts("::") == allowed_hosts()
    assert split_host("[::1]:80") == ("::1", "80") and split_host("Example.ORG") == ("example.org", None)


def test_origin_compared_against_the_served_hosts(env):
    def post(origin, host="localhost"):
        c = env["app"].test_client()
        tok = csrf(c, headers={"Host": host})
        h = {"X-CSRF-Token": tok, "Host": host}
        if origin is not None:
            h["Origin"] = origin
        return c.post("/api/demo/alice/view", json={"page": 1}, headers=h).status_code

    assert post(None) == 200 and post("http://localhost") == 200
    assert post("http://127.0.0.1:5000", host="127.0.0.1:5000") == 200
    for bad in ("http://evil.test", "http://localhost:8080", "null", "http://localhost.evil.test",
                "ftp://localhost", "http://127.0.0.1", "http://localhost/x"):
        assert post(bad) == 403, bad


# ------------------------------------------------------------------ 2. team mode

def invite(env, *args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert app_script.main(["invite", "--db", env["cfg"]["DATABASE_URL"], "-q", *args]) == 0
    (link,) = out.getvalue().splitlines()
    return link


def open_link(client, link):
    path = link.split("127.0.0.1:5000", 1)[1]
    r = client.get(path)
    assert r.status_code == 302 and "token" not in r.headers["Location"], r.headers.get("Location")
    return r.headers["Location"]


@pytest.fixture()
def team(tmp_path):
    application, cfg = make_env(tmp_path, ACCESS="team")
    return {"app": application, "cfg": cfg, "tmp": tmp_path}


def test_team_mode_needs_an_invitation(team):
    c = team["app"].test_client()
    for url in ("/", "/demo/alice", "/demo/alice/1", "/demo/alice/done", "/demo/alice/feedback.csv",
                "/api/demo/contexts?lang=src&word=doctor", "/api/demo/complete?lang=src&q=d",
                "/api/demo/stats", "/api/demo/feedback.csv"):
        assert c.get(url).status_code == 403, url
    tok = c.get("/api/csrf").get_json()["token"]  # public: a token alone opens nothing
    for action in ACTIONS:
        r = c.post(f"/api/demo/alice/{action}", json={"page": 1}, headers={"X-CSRF-Token": tok})
        assert r.status_code == 403, action
    assert c.get("/demo/alice?token=" + "x" * 32).status_code == 403  # a made-up token


def test_team_mode_annotator_sees_only_their_own_work(team):
    link = invite(team, "--task", "demo", "--user", "alice")
    assert re.fullmatch(r"http://127\.0\.0\.1:5000/demo/alice\?token=[A-Za-z0-9_-]{30,}", link)
    token = link.split("token=")[1]
    with team["app"].extensions["clime"]["Session"]() as s:  # stored hashed, never as is
        (row,) = s.query(AccessToken).all()
        assert row.token_hash != token and token not in json.dumps([row.token_hash, row.task, row.user])
    c = team["app"].test_client()
    assert open_link(c, link).endswith("/demo/alice")
    tok = csrf(c)
    assert c.post("/api/demo/alice/view", json={"page": 1}, headers={"X-CSRF-Token": tok}).status_code == 200
    body = {"page": 1, "lang": "src", "word": "doctor", "mark": "pos"}
    assert c.post("/api/demo/alice/mark", json=body, headers={"X-CSRF-Token": tok}).status_code == 200
    assert c.get("/demo/alice/1").status_code == 200 and c.get("/demo/alice/feedback.csv").status_code == 200
    assert c.get("/api/demo/contexts?lang=src&word=doctor").status_code == 200
    # someone else's work, export, statistics, the overview: refused
    for url in ("/demo/bob", "/demo/bob/1", "/demo/bob/feedback.csv", "/api/demo/stats", "/api/demo/feedback.csv", "/"):
        assert c.get(url).status_code == 403, url
    assert c.post("/api/demo/bob/mark", json=body, headers={"X-CSRF-Token": tok}).status_code == 403
    # a new invitation replaces the old link at once (also in a session that used it)
    link2 = invite(team, "--task", "demo", "--user", "alice")
    assert link2 != link
    assert c.get("/demo/alice/1").status_code == 403
    assert team["app"].test_client().get(link.split(":5000", 1)[1]).status_code == 403
    c2 = team["app"].test_client()
    open_link(c2, link2)
    assert c2.get("/demo/alice/1").status_code == 200
    assert app_script.main(["invite", "--db", team["cfg"]["DATABASE_URL"], "-q", "--task", "demo",
                            "--user", "alice", "--revoke"]) == 0
    assert c2.get("/demo/alice/1").status_code == 403


def test_team_mode_owner_opens_everything(team):
    a = team["app"].test_client()
    open_link(a, invite(team, "--task", "demo", "--user", "alice"))
    tok = csrf(a)
    body = {"page": 1, "lang": "src", "word": "doctor", "mark": "pos"}
    assert a.post("/api/demo/alice/mark", json=body, headers={"X-CSRF-Token": tok}).status_code == 200
    owner = team["app"].test_client()
    assert open_link(owner, invite(team, "--owner")).endswith("/")
    assert owner.get("/").status_code == 200
    for url in ("/demo/alice/1", "/demo/bob", "/demo/alice/feedback.csv"):
        assert owner.get(url).status_code == 200, url
    st = owner.get("/api/demo/stats").get_json()
    assert [u["user"] for u in st["users"]] == ["alice"]
    r = owner.get("/api/demo/feedback.csv")
    assert r.status_code == 200 and r.text.splitlines()[0].endswith(",user") and r.text.splitlines()[1].endswith(",alice")


def test_team_mode_covers_routes_added_later(tmp_path):
    """A blueprint added by another module gets the same checks without doing anything."""
    from flask import Blueprint

    bp = Blueprint("extra", __name__)
    bp.add_url_rule("/label/<task>/<user>", "label", lambda task, user: "ok")
    bp.add_url_rule("/label/<task>", "label_task", lambda task: "ok")
    bp.add_url_rule("/label-overview", "overview", lambda: "ok")
    bp.add_url_rule("/label-report/<task>", "report", owner_only(lambda task: "ok"))
    application, cfg = make_env(tmp_path, ACCESS="team")
    application.register_blueprint(bp)
    env = {"app": application, "cfg": cfg}
    c = application.test_client()
    for url in ("/label/demo/alice", "/label/demo", "/label-overview", "/label-report/demo"):
        assert c.get(url).status_code == 403, url
    assert c.get("/label/demo/alice", headers={"Host": "evil.test"}).status_code == 400
    open_link(c, invite(env, "--task", "demo", "--user", "alice"))
    assert [c.get(u).status_code for u in ("/label/demo/alice", "/label/demo", "/label/demo/bob",
                                            "/label-overview", "/label-report/demo")] == [200, 200, 403, 403, 403]


def test_local_mode_is_open_as_before(env):
    c = env["app"].test_client()
    for url in ("/", "/demo/alice", "/demo/bob/1", "/api/demo/stats", "/api/demo/feedback.csv"):
        assert c.get(url).status_code == 200, url


def test_invite_cli_refuses_bad_arguments(env):
    for argv in ([], ["--task", "demo"], ["--owner", "--task", "demo", "--user", "a"], ["--task", "../x", "--user", "a"],
                 ["--task", "demo", "--user", "a b"], ["--owner", "--url", "javascript:alert(1)"]):
        with pytest.raises(SystemExit) as e:
            cli.run(app_script.main, ["invite", "--db", env["cfg"]["DATABASE_URL"], "-q", *argv])
        assert e.value.code == 2, argv


# ------------------------------------------------------------------ 3. deep JSON

@pytest.mark.parametrize("body", ["[" * 5000 + "]" * 5000, '{"page": ' + "[" * 100000 + "]" * 100000 + "}",
                                  '{"page": 1' + "0" * 5000 + "}", '{"a": "\\ud800"}' + "x", b"\xff\xfe{}"])
def test_hostile_json_is_400_on_every_action(env, body):
    c = env["app"].test_client()
    tok = csrf(c)
    for action in ACTIONS:
        r = c.post(f"/api/demo/alice/{action}", data=body, content_type="application/json",
                   headers={"X-CSRF-Token": tok})
        assert r.status_code in (400, 413), (action, r.status_code, r.get_data(as_text=True)[:200])
        assert "internal error" not in r.get_data(as_text=True)


# ------------------------------------------------------------------ 5. feedback files

def test_feedback_files_of_different_annotators_never_collide(tmp_path):
    application, cfg = make_env(tmp_path, tasks=("a_b", "a"))
    for task, user, word in (("a_b", "c", "doctor"), ("a", "b_c", "nurse")):
        c = application.test_client()
        tok = csrf(c, f"/{task}/{user}")
        h = {"X-CSRF-Token": tok}
        body = {"page": 1, "lang": "src", "word": word, "mark": "pos"}
        assert c.post(f"/api/{task}/{user}/mark", json=body, headers=h).status_code == 200
        r = c.post(f"/api/{task}/{user}/finish", json={"page": 1}, headers=h)
        assert r.status_code == 200 and r.get_json()["written"] is True
    fb = tmp_path / "feedbacks"
    assert read_feedback(fb / "a_b" / "c.csv")[0].pos1 == ["doctor"]
    assert read_feedback(fb / "a" / "b_c.csv")[0].pos1 == ["nurse"]
    # the export CLI uses the same layout; merged files cannot be a task folder (no '.' in task names)
    base = ["--db", cfg["DATABASE_URL"], "--ui-data", cfg["UI_DATA"], "--feedbacks", str(fb), "-q"]
    assert app_script.main(["export", "--task", "a", "--merged"] + base) == 0
    assert app_script.main(["export", "--task", "a_b"] + base) == 0
    assert sorted(str(p.relative_to(fb)) for p in fb.rglob("*.csv")) == ["a.merged.csv", "a/b_c.csv", "a_b/c.csv"]


# ------------------------------------------------------------------ 7. permissions

def mode(path):
    return os.stat(path).st_mode & 0o777


def test_private_files_and_folders(env):
    tmp = env["tmp"]
    assert mode(tmp / "instance") == 0o700
    assert mode(tmp / "instance" / "clime.db") == 0o600
    assert mode(tmp / "instance" / "secret_key") == 0o600 if (tmp / "instance" / "secret_key").exists() else True
    c = env["app"].test_client()
    tok = csrf(c)
    assert c.post("/api/demo/alice/finish", json={}, headers={"X-CSRF-Token": tok}).status_code == 200
    for p in (tmp / "instance" / "clime.db-wal", tmp / "instance" / "clime.db-shm"):
        if p.exists():
            assert mode(p) == 0o600, p
    assert mode(tmp / "feedbacks") == 0o700 and mode(tmp / "feedbacks" / "demo") == 0o700
    assert mode(tmp / "feedbacks" / "demo" / "alice.csv") == 0o600
    out = tmp / "exp"
    assert app_script.main(["export", "--task", "demo", "--db", env["cfg"]["DATABASE_URL"], "--ui-data",
                            env["cfg"]["UI_DATA"], "--out", str(out), "-q"]) == 0
    assert mode(out) == 0o700 and mode(out / "alice.csv") == 0o600


def test_readable_key_and_database_are_warned_about(tmp_path, caplog):
    inst = tmp_path / "instance"
    create_app({"UI_DATA": str(tmp_path), "INSTANCE_PATH": str(inst)})  # key and database created private
    assert mode(inst / "secret_key") == 0o600 and mode(inst / "clime.db") == 0o600
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        create_app({"UI_DATA": str(tmp_path), "INSTANCE_PATH": str(inst)})
    assert not [r for r in caplog.records if "readable by other users" in r.getMessage()]
    os.chmod(inst / "secret_key", 0o644)
    os.chmod(inst / "clime.db", 0o644)
    os.chmod(inst, 0o755)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        create_app({"UI_DATA": str(tmp_path), "INSTANCE_PATH": str(inst)})
    warned = [r.getMessage() for r in caplog.records if "readable by other users" in r.getMessage()]
    assert any("secret_key" in m for m in warned) and any("clime.db" in m for m in warned), warned
    assert any("instance folder" in m and "chmod 700" in m for m in warned), warned


# ------------------------------------------------------------------ 8. CSV cells

HOSTILE = ["=HYPERLINK(\"http://evil.test\",\"x\")", "+1+1", "-2+3", "@SUM(A1:A9)", "'=x", "''@y", "'s",
           "\x1b[31mred\x1b[0m", "\x9b2J", "tab\there", "cr\rhere", "'\\x1b'", "\"q\"", "'", "plain", "-"]


def test_safe_cell_round_trip():
    for text in HOSTILE:
        cell = safe_cell(text)
        assert read_cell(cell) == text, (text, cell)
        assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), cell
        assert not any(ord(ch) < 32 or 0x7f <= ord(ch) < 0xa0 for ch in cell), cell
    for plain in ("hospital", "'s", "médecin", "a-b", "x=y"):  # older files read as before
        assert safe_cell(plain) == plain and read_cell(plain) == plain


def test_exported_csv_neutralised_and_read_back_unchanged(tmp_path):
    ui = tmp_path / "ui_data"
    d = write_demo_task(ui, "demo")
    setup = json.loads((d / "setup.json").read_text(encoding="utf-8"))
    hostile_kw = ["=cmd|' /C calc'!A0", "\x1b]8;;http://evil.test\x07click\x1b]8;;\x07", "@SUM(1+1)*cmd"]
    for kw, word in zip(setup["keywords"], hostile_kw):
        kw["word"] = word
    setup["keywords"][0]["src"][0]["word"] = "-2+3"
    (d / "setup.json").write_text(json.dumps(setup), encoding="utf-8")
    application, cfg = make_env(tmp_path, tasks=())
    c = application.test_client()
    tok = csrf(c)
    h = {"X-CSRF-Token": tok}
    for page in (1, 2, 3):
        word = setup["keywords"][page - 1]["src"][0]["word"]
        body = {"page": page, "lang": "src", "word": word, "mark": "pos"}
        assert c.post("/api/demo/alice/mark", json=body, headers=h).status_code == 200, word
    assert c.post("/api/demo/alice/finish", json={}, headers=h).status_code == 200
    path = tmp_path / "feedbacks" / "demo" / "alice.csv"
    raw = path.read_bytes()
    assert b"\x1b" not in raw and b"\x07" not in raw
    for cells in list(csv.reader(io.StringIO(raw.decode())))[1:]:
        assert all(cell[:1] not in "=+-@\t\r" or cell == "" for cell in cells), cells
    rows = read_feedback(path)
    assert [r.keyword for r in rows] == hostile_kw
    assert rows[0].pos1 == ["-2+3"]
    # the merged export and the download: the same cells
    r = c.get("/api/demo/feedback.csv")
    assert b"\x1b" not in r.data and r.data.split(b"\n")[1].startswith(b"'=cmd")
    merged = tmp_path / "m.csv"
    merged.write_bytes(r.data)
    assert [(x.keyword, x.extra["user"]) for x in read_feedback(merged)] == [(k, "alice") for k in hostile_kw]


def test_feedback_user_column_neutralised(tmp_path):
    rows = [FeedbackRow(keyword="k", pos1=["a"], extra={"user": "-alice"}), FeedbackRow(keyword="k", extra={"user": "@bob"})]
    path = tmp_path / "f.csv"
    write_feedback(path, rows, extra_fields=("user",))
    assert "\n'-alice" not in path.read_text() and ",'-alice" in path.read_text()
    assert [r.extra["user"] for r in read_feedback(path)] == ["-alice", "@bob"]


# ------------------------------------------------------------------ 6. clear_db.py

def filled_db(tmp_path):
    application, cfg = make_env(tmp_path)
    c = application.test_client()
    tok = csrf(c)
    body = {"page": 1, "lang": "src", "word": "doctor", "mark": "pos"}
    assert c.post("/api/demo/alice/mark", json=body, headers={"X-CSRF-Token": tok}).status_code == 200
    return application, cfg["DATABASE_URL"]


def n_annotators(url):
    import sqlite3
    con = sqlite3.connect(url.split("sqlite:///", 1)[1])
    try:
        return con.execute("select count(*) from annotator").fetchone()[0]
    finally:
        con.close()


def test_clear_db_refuses_while_a_server_holds_the_database(tmp_path, capsys):
    application, url = filled_db(tmp_path)
    lease = Lease(application.extensions["clime"]["Session"], "http://127.0.0.1:5000").start()
    try:
        with pytest.raises(SystemExit) as e:
            cli.run(clear_db.main, ["--db", url, "--yes"])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert "a server is using this database" in err and str(os.getpid()) in err
        assert n_annotators(url) == 1
    finally:
        lease.stop()
    assert clear_db.main(["--db", url, "--yes", "-q"]) == 0
    assert n_annotators(url) == 0


def test_clear_db_stale_lease_does_not_count(tmp_path):
    application, url = filled_db(tmp_path)
    from clime.webapp.db import ServerLease
    with application.extensions["clime"]["Session"]() as s, s.begin():
        s.add(ServerLease(host="h", pid=1, address="x", started=0.0, seen=time.time() - 60))
    assert clear_db.main(["--db", url, "--yes", "-q"]) == 0


def test_clear_db_backs_up_by_default_and_never_overwrites(tmp_path):
    _app, url = filled_db(tmp_path)
    backups = tmp_path / "instance" / "backups"
    assert clear_db.main(["--db", url, "--yes", "-q"]) == 0
    (first,) = backups.iterdir()
    assert re.fullmatch(r"clime-\d{8}T\d{6}Z\.db", first.name)
    assert mode(backups) == 0o700 and mode(first) == 0o600
    assert n_annotators("sqlite:///" + str(first)) == 1
    _app, url = filled_db(tmp_path)  # same database again, one annotator
    keep = tmp_path / "keep.db"
    keep.write_bytes(b"precious")
    with pytest.raises(SystemExit) as e:
        cli.run(clear_db.main, ["--db", url, "--yes", "--backup", str(keep), "-q"])
    assert e.value.code == 2 and keep.read_bytes() == b"precious" and n_annotators(url) == 1
    assert clear_db.main(["--db", url, "--yes", "-q"]) == 0  # a second default backup, same second or not
    assert len(list(backups.iterdir())) == 2
    _app, url = filled_db(tmp_path)
    assert clear_db.main(["--db", url, "--yes", "--no-backup", "-q"]) == 0
    assert len(list(backups.iterdir())) == 2
    for argv in (["--db", "sqlite:////"], ["--db", "::not a url::"], ["--backup", "x", "--no-backup", "--db", url]):
        with pytest.raises(SystemExit) as e:
            cli.run(clear_db.main, argv + ["--yes", "-q"])
        assert e.value.code == 2, argv


# ------------------------------------------------------------------ 4 (+6). the real server

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def threads_of(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def http_get(port, path, host="127.0.0.1"):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc")
def test_real_server_bounded_threads_timeouts_and_lease(tmp_path):
    ui = tmp_path / "ui_data"
    write_demo_task(ui, "demo")
    port = free_port()
    db = f"sqlite:///{tmp_path / 'inst' / 'clime.db'}"
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--ui-data", str(ui),
                             "--instance", str(tmp_path / "inst"), "--db", db, "--threads", "4", "--timeout", "10",
                             "--feedbacks", str(tmp_path / "fb"), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    socks = []
    try:
        while True:  # no deadline: a started server either answers or exits
            try:
                reply = http_get(port, "/demo/alice")
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
                time.sleep(0.2)
        head = reply.split(b"\r\n\r\n")[0].decode()
        assert head.startswith("HTTP/1.1 200") and "Server: clime" in head and "Werkzeug" not in head
        assert http_get(port, "/demo/alice", host="evil.test").startswith(b"HTTP/1.1 400")
        # 60 half-sent POSTs (Content-Length 1000, 11 bytes sent) hold no worker thread
        before = threads_of(proc.pid)
        for _ in range(60):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(f"POST /api/demo/alice/view HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: "
                      "application/json\r\nContent-Length: 1000\r\n\r\n{\"page\": 1,".encode())
            socks.append(s)
        time.sleep(0.5)
        assert threads_of(proc.pid) <= max(before, 4 + 3), (before, threads_of(proc.pid))
        t0 = time.time()
        assert http_get(port, "/demo/alice").startswith(b"HTTP/1.1 200")
        # ... at once: before the idle timeout has closed the half-sent requests (not a wall-clock limit,
        # which a loaded machine would trip: a server blocked by them would answer only after closing them)
        socks[-1].setblocking(False)
        try:
            assert socks[-1].recv(1) != b"", "answered only after the half-sent requests were closed"
        except BlockingIOError:
            pass
        socks[-1].setblocking(True)
        # ... and the idle timeout closes them (10 s, checked every second)
        closed = 0
        for s in socks:
            s.settimeout(max(0.1, t0 + 60 - time.time()))
            try:
                closed += s.recv(1) == b""
            except (socket.timeout, ConnectionResetError):
                closed += 0
        assert closed == len(socks), closed
        # 6. while it runs, clear_db.py refuses and deletes nothing
        r = subprocess.run([sys.executable, str(ROOT / "clear_db.py"), "--db", db, "--yes"], cwd=ROOT,
                           capture_output=True, text=True)
        assert r.returncode == 2 and "a server is using this database" in r.stderr and "Traceback" not in r.stderr
    finally:
        for s in socks:
            s.close()
        proc.terminate()
        proc.wait(15)
    assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]
    r = subprocess.run([sys.executable, str(ROOT / "clear_db.py"), "--db", db, "--yes", "-q"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr  # the lease is gone with the server


def test_serve_refuses_bad_server_options(tmp_path):
    for argv in (["--threads", "0"], ["--timeout", "0"], ["--connection-limit", "0"], ["--threads", "100000"],
                 ["--allow-host", "evil test"], ["--allow-host", "a/b"], ["--allow-host", ""]):
        with pytest.raises(SystemExit) as e:
            cli.run(app_script.main, argv + ["--instance", str(tmp_path / "i"), "--ui-data", str(tmp_path), "-q"])
        assert e.value.code == 2, argv
    assert not (tmp_path / "i").exists()  # refused before anything was created


def test_damaged_database_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not an SQLite file at all" * 100)
    bad.chmod(0o600)  # no warning about its mode: the error is the only line
    url = f"sqlite:///{bad}"
    for main, argv in ((clear_db.main, ["--db", url, "--yes"]), (app_script.main, ["stats", "--task", "demo", "--db", url]),
                       (app_script.main, ["invite", "--owner", "--db", url])):
        with pytest.raises(SystemExit) as e:
            cli.run(main, argv)
        assert e.value.code == 2, argv
        err = capsys.readouterr().err
        assert "Traceback" not in err and "bad.db" in err and len(err.strip().splitlines()) == 1, err
