"""Issue 25, items 1-4: slow clients, malformed Host headers, private document labels, the
Origin scheme, /go in team mode, waitress's own errors as JSON, keyword whitespace in the CSV.
(Item 5, the layouts, is tests/test_app_layout_browser.py.)"""

import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from clime.feedback import FeedbackRow, read_feedback, write_feedback
from clime.webapp.access import new_token
from clime.webapp.testdata import write_demo_documents, write_demo_task
from test_app_hardening import csrf, free_port, http_get, make_env

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ 1. slow and half-open clients

def start_app(tmp_path, db_url, *options):
    ui = tmp_path / "ui_data"
    if not (ui / "demo").exists():
        write_demo_task(ui, "demo")
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--ui-data", str(ui),
                             "--instance", str(tmp_path / "inst"), "--db", db_url,
                             "--feedbacks", str(tmp_path / "fb"), "-q", *options],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    while True:  # no deadline: a started server either answers or exits
        try:
            if http_get(port, "/demo/alice").startswith(b"HTTP/1.1 200"):
                return proc, port
        except OSError:
            pass
        if proc.poll() is not None:
            proc.kill()
            raise AssertionError(proc.stderr.read().decode()[-2000:])
        time.sleep(0.2)


def stop_app(proc):
    proc.terminate()
    proc.wait(30)
    assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]


class Tricklers:
    """``n`` connections that each send half a request, then one more byte every ``period`` s."""

    def __init__(self, port, n, period):
        self.period, self.stop = period, threading.Event()
        self.socks = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(f"GET /demo/alice HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Slow: ".encode())
            s.setblocking(False)  # a socket with a timeout would wait on MSG_DONTWAIT
            self.socks.append(s)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.wait(self.period):
            for s in self.socks:
                try:
                    s.send(b"x")
                except OSError:  # closed by the server: what we wait for
                    pass

    def closed_by_server(self):
        n = 0
        for s in self.socks:
            try:
                n += s.recv(1, socket.MSG_PEEK) == b""
            except BlockingIOError:
                pass  # still open, nothing to read
            except OSError:  # reset
                n += 1
        return n

    def close(self):
        self.stop.set()
        self.thread.join()
        for s in self.socks:
            s.close()


def served(port, count, deadline_s=120):
    """How many of ``count`` GETs (one connection each, one after the other) were answered 200."""
    ok = 0
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port), timeout=deadline_s) as s:
            s.sendall(f"GET /demo/alice HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
            try:
                ok += s.recv(12) == b"HTTP/1.1 200"
            except socket.timeout:
                break  # locked out: the rest would wait as long
    return ok


def test_trickling_clients_lock_nobody_out_and_are_closed(tmp_path, db_url):
    # 150 connections, more than the old limit of 100, each trickling a byte a second: the idle
    # timeout (30 s) never fires, the whole-request timeout (10 s) does
    proc, port = start_app(tmp_path, db_url)  # the defaults
    slow = Tricklers(port, 150, period=1.0)
    try:
        assert served(port, 8) == 8
        # they keep trickling, yet the server closes every one of them (the 8 GETs above did
        # not wait for that: with 150 open the limit of 1000 is far away)
        deadline = time.time() + 120
        while slow.closed_by_server() < 150 and time.time() < deadline:
            time.sleep(0.5)
        assert slow.closed_by_server() == 150
    finally:
        slow.close()
        stop_app(proc)


def test_at_the_connection_limit_the_oldest_half_open_one_makes_room(tmp_path, db_url):
    # timeouts far away: only making room at the limit lets the 8 GETs in past 30 tricklers
    proc, port = start_app(tmp_path, db_url, "--connection-limit", "20", "--request-timeout", "3600",
                           "--timeout", "3600")
    slow = Tricklers(port, 30, period=1.0)
    try:
        assert served(port, 8) == 8
        assert 30 - 20 <= slow.closed_by_server() < 30  # those over the limit made room; not all were dropped
    finally:
        slow.close()
        stop_app(proc)


def raw(port, request):
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), body


def test_waitress_errors_on_the_api_are_json(tmp_path, db_url):
    proc, port = start_app(tmp_path, db_url)
    host = f"Host: 127.0.0.1:{port}\r\n"
    try:
        for req, code in ((f"POST /api/demo/alice/view HTTP/1.1\r\n{host}Content-Length: abc\r\n\r\n", 400),
                          (f"POST /api/demo/alice/view HTTP/1.1\r\n{host}Content-Length: {2 << 20}\r\n\r\n", 413),
                          (f"GET /api/demo/contexts HTTP/1.1\r\n{host}Content-Length: -1\r\n\r\n", 400)):
            head, body = raw(port, req.encode())
            assert head.startswith(f"HTTP/1.1 {code}"), head
            assert "Content-Type: application/json" in head and "nosniff" in head, head
            answer = json.loads(body)
            assert answer["status"] == code and answer["error"], answer
        # a page keeps waitress's plain text
        head, _ = raw(port, f"GET /demo/alice HTTP/1.1\r\n{host}Content-Length: abc\r\n\r\n".encode())
        assert head.startswith("HTTP/1.1 400") and "text/plain" in head
    finally:
        stop_app(proc)


def test_server_options_are_checked(tmp_path):
    from clime import cli
    import app as app_script

    for argv in (["--request-timeout", "0"], ["--trusted-proxy", "proxy.example"], ["--connection-limit", "10001"]):
        with pytest.raises(SystemExit) as e:
            cli.run(app_script.main, argv + ["--instance", str(tmp_path / "i"), "--ui-data", str(tmp_path), "-q"])
        assert e.value.code == 2, argv


# ------------------------------------------------------------------ 2. malformed Host headers

@pytest.mark.parametrize("host", ["localhost..:5000", "localhost..", "..", "a..b", "a" * 64, "a" * 64 + ".test",
                                  "127.0.0.1..", ".", "[::1", "::1]:80"])
def test_malformed_host_is_400_not_500(tmp_path, host):
    application, _ = make_env(tmp_path)
    c = application.test_client()
    for url in ("/demo/alice", "/api/demo/contexts?lang=src&word=x", "/static/app.css", "/no/such/page/here"):
        r = c.get(url, headers={"Host": host})
        assert r.status_code == 400, (host, url, r.status_code, r.text[:200])
    r = c.post("/api/demo/alice/view", headers={"Host": host}, json={"page": 1})
    assert r.status_code == 400 and r.get_json()["status"] == 400
    assert c.get("/demo/alice", headers={"Host": "localhost.:5000"}).status_code == 200  # one dot is a name


# ------------------------------------------------------------------ 3. document labels are private

def test_document_labels_file_and_folders_are_private(tmp_path):
    application, cfg = make_env(tmp_path)
    write_demo_documents(Path(cfg["UI_DATA"]) / "demo")
    c = application.test_client()
    token = csrf(c)
    doc = json.loads((Path(cfg["UI_DATA"]) / "demo" / "documents.json").read_text())["documents"][0]
    r = c.post("/api/demo/alice/documents/label", json={"n": 1, "id": doc["id"], "label": 0},
               headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.get_json()["written"], r.text
    fb = Path(cfg["FEEDBACK_DIR"])
    modes = [stat.S_IMODE(p.stat().st_mode) for p in (fb, fb / "demo", fb / "demo" / "alice.docs.jsonl")]
    assert modes == [0o700, 0o700, 0o600], [oct(m) for m in modes]


# ------------------------------------------------------------------ 4. Origin scheme, /go, CSV whitespace

def test_origin_of_another_scheme_is_refused(tmp_path):
    application, _ = make_env(tmp_path)
    c = application.test_client()
    base = "http://127.0.0.1:5000"
    hdr = {"X-CSRF-Token": csrf(c, base_url=base)}

    def view(origin, base_url=base):
        return c.post("/api/demo/alice/view", json={"page": 1}, base_url=base_url, headers=dict(hdr, Origin=origin))

    assert view("http://127.0.0.1:5000").status_code == 200
    for origin in ("https://127.0.0.1:5000", "https://127.0.0.1"):
        assert view(origin).status_code == 403, origin
    # behind an HTTPS proxy (--trusted-proxy) the request's scheme is https, as is the browser's Origin
    assert view("https://127.0.0.1:5000", base_url="https://127.0.0.1:5000").status_code == 200
    assert view("http://127.0.0.1:5000", base_url="https://127.0.0.1:5000").status_code == 403


def test_team_go_does_not_reveal_which_tasks_exist(tmp_path):
    application, _ = make_env(tmp_path, ACCESS="team")
    c = application.test_client()
    a = c.get("/go?task=demo&user=x")
    b = c.get("/go?task=nosuchtask&user=x")
    assert a.status_code == b.status_code == 302
    assert c.get(a.headers["Location"]).status_code == c.get(b.headers["Location"]).status_code == 403
    assert c.get("/go?task=bad%20name&user=x").status_code == 400  # syntax only
    with application.extensions["clime"]["Session"]() as s, s.begin():
        owner = new_token(s, "owner")
    c.get(f"/?token={owner}")
    assert c.get("/go?task=demo&user=x").status_code == 302


def test_local_go_still_says_unknown_task(tmp_path):
    application, _ = make_env(tmp_path)
    c = application.test_client()
    assert c.get("/go?task=nosuchtask&user=x").status_code == 404
    assert c.get("/go?task=demo&user=x").status_code == 302


def test_keyword_whitespace_survives_the_csv(tmp_path):
    keywords = [" lead", "trail ", "\u00a0nbsp\u00a0", "\u2003em", "plain", "' quoted '", "=1+1"]
    path = tmp_path / "f.csv"
    write_feedback(path, [FeedbackRow(keyword=k, timestamp="t", pos1=[" w "], extra={"comment": " c "})
                          for k in keywords], extra_fields=("comment",))
    rows = read_feedback(path)
    assert [r.keyword for r in rows] == keywords
    assert rows[0].pos1 == [" w "] and rows[0].extra["comment"] == " c "
    assert path.read_text().splitlines()[5].startswith("plain,")  # ordinary cells stay as they were


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX open-file limits")
def test_connection_limit_fits_the_open_file_limit():
    code = ("import logging, resource, sys; logging.basicConfig(format='%(message)s');"
            "resource.setrlimit(resource.RLIMIT_NOFILE, (300, 300));"
            "from clime.webapp.server import make_server;"
            "s = make_server(lambda env, start: [], connection_limit=1000); print(s.adj.connection_limit);"
            "s2 = make_server(lambda env, start: [], connection_limit=50); print(s2.adj.connection_limit)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(300 - 8 - 32), "50"]
    assert r.stderr.startswith("warning: --connection-limit 1000 lowered to 260 (open-file limit 300)"), r.stderr


def browser_session(port, user, **headers):
    """A keep-alive connection with the session cookie and CSRF token of /demo/<user>;
    ``post(origin, proto)`` sends a view action with that Origin and X-Forwarded-Proto."""
    import http.client
    import re

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", f"/demo/{user}", headers=headers)
    r = conn.getresponse()
    token = re.search(r'name="csrf-token" content="([^"]+)"', r.read().decode()).group(1)
    cookie = r.headers["Set-Cookie"].split(";", 1)[0]

    def post(origin, proto):
        conn.request("POST", f"/api/demo/{user}/view", body=json.dumps({"page": 1}), headers={
            "Cookie": cookie, "X-CSRF-Token": token, "Content-Type": "application/json",
            "Origin": origin, "X-Forwarded-Proto": proto})
        answer = conn.getresponse()
        answer.read()
        return answer.status

    return post


def test_behind_a_trusted_https_proxy_the_origin_is_https(tmp_path, db_url):
    proc, port = start_app(tmp_path, db_url, "--trusted-proxy", "127.0.0.1")
    try:
        view = browser_session(port, "alice", **{"X-Forwarded-Proto": "https"})
        assert view(f"https://127.0.0.1:{port}", "https") == 200
        assert view(f"http://127.0.0.1:{port}", "https") == 403
        assert view(f"http://127.0.0.1:{port}", "http") == 200
    finally:
        stop_app(proc)
    # without --trusted-proxy the header is dropped: the request stays http, an https Origin is refused
    proc, port = start_app(tmp_path, db_url)
    try:
        view = browser_session(port, "bob")
        assert view(f"https://127.0.0.1:{port}", "https") == 403
        assert view(f"http://127.0.0.1:{port}", "https") == 200
    finally:
        stop_app(proc)


def test_concordance_lines_are_detokenised(tmp_path):
    application, _ = make_env(tmp_path)
    js = application.test_client().get("/api/demo/contexts?lang=tgt&word=hôpital").get_json()
    assert [(c["left"], c["word"], c["right"][:9]) for c in js["contexts"]] == [
        ("l'", "hôpital", " est plei"), ("un nouvel ", "hôpital", " a ouvert")]
