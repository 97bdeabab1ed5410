"""The real server (app.py under waitress) on SQLite, or PostgreSQL with $CLIME_TEST_DB_URL:
concurrent annotators on two server processes lose and duplicate nothing, and every
acknowledged action survives ``kill -9``."""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from clime.webapp.db import Annotator, Event, Judgement
from clime.webapp.testdata import KEYWORDS, write_demo_task

ROOT = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp, db_url, port):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TQDM_DISABLE="1")
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--db", db_url,
                             "--ui-data", str(tmp / "ui"), "--instance", str(tmp / "inst"),
                             "--feedbacks", str(tmp / "fb"), "-q"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # no deadline: a started server either listens or exits (a loaded machine only makes it slower)
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"app.py exited {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return proc
        except OSError:
            time.sleep(0.1)


class Client:
    """One annotator over a keep-alive connection: cookie + CSRF token."""

    def __init__(self, port, user, task="demo"):
        self.port, self.user, self.task = port, user, task
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        status, body, headers = self.request("GET", f"/{task}/{user}")
        assert status == 200
        self.cookie = headers["Set-Cookie"].split(";", 1)[0]
        self.token = re.search(r'name="csrf-token" content="([^"]+)"', body).group(1)

    def request(self, method, path, body=None):
        headers = {}
        if getattr(self, "cookie", None):
            headers["Cookie"] = self.cookie
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers.update({"Content-Type": "application/json", "X-CSRF-Token": self.token})
        self.conn.request(method, path, body=data, headers=headers)
        r = self.conn.getresponse()
        return r.status, r.read().decode(), r.headers

    def action(self, name, body):
        status, text, _ = self.request("POST", f"/api/{self.task}/{self.user}/{name}", body)
        assert status == 200, (name, body, status, text)
        return json.loads(text)


@pytest.fixture()
def tmp(tmp_path):
    write_demo_task(tmp_path / "ui", "demo")
    return tmp_path


def plan(user_index):
    """The marks one annotator makes: (page, lang, word, mark), several changes per word."""
    steps = []
    for page, (_, src, tgt) in enumerate(KEYWORDS, 1):
        for i, w in enumerate(src[:3] + tgt[:3]):
            lang = "src" if i < 3 else "tgt"
            first = "pos" if (i + user_index) % 2 else "neg"
            steps.append((page, lang, w, first))
            steps.append((page, lang, w, "neg" if first == "pos" else "pos"))
    return steps


def test_concurrent_annotators_on_two_servers(tmp, db_url):
    ports = [free_port(), free_port()]
    procs = [start_server(tmp, db_url, p) for p in ports]
    n_users, errors = 8, []
    try:
        def work(i):
            try:
                c = Client(ports[i % 2], f"user{i}")
                c.action("start", {})
                for page, lang, w, m in plan(i):
                    c.action("mark", {"page": page, "lang": lang, "word": w, "mark": m})
            except Exception as err:  # reported below
                errors.append(repr(err))

        threads = [threading.Thread(target=work, args=(i,)) for i in range(n_users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        for p in procs:
            p.terminate()
            p.wait(20)
    assert not errors, errors[:3]
    eng = create_engine(db_url)
    with eng.connect() as c:
        assert c.scalar(select(func.count()).select_from(Annotator)) == n_users
        marks = c.scalar(select(func.count()).select_from(Event).where(Event.action == "mark"))
        assert marks == sum(len(plan(i)) for i in range(n_users))  # none lost, none doubled
        final = {(r.annotator_id, r.keyword, r.lang, r.word): r.mark for r in c.execute(select(Judgement))}
        users = {r.id: r.user for r in c.execute(select(Annotator))}
    eng.dispose()
    assert len(final) == n_users * len(KEYWORDS) * 6
    for (aid, kw, lang, word), mark in final.items():
        i = int(users[aid][4:])
        assert mark == [m for p, la, w, m in plan(i) if (KEYWORDS[p - 1][0], la, w) == (kw, lang, word)][-1]


def test_acknowledged_actions_survive_kill_9(tmp, db_url):
    port = free_port()
    proc = start_server(tmp, db_url, port)
    acked, stop = [], threading.Event()

    def work():
        c = Client(port, "alice")
        c.action("start", {})
        steps = plan(0) * 20
        for k, (page, lang, w, m) in enumerate(steps):
            if stop.is_set():
                return
            try:
                c.action("mark", {"page": page, "lang": lang, "word": w, "mark": m})
            except Exception:
                return  # the server died mid-request: not acknowledged
            acked.append((page, lang, w, m))

    t = threading.Thread(target=work)
    t.start()
    while len(acked) < 60 and t.is_alive():  # no deadline: the worker stops only on a failed request
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    stop.set()
    t.join(30)
    assert len(acked) >= 60
    eng = create_engine(db_url)
    with eng.connect() as c:
        n = c.scalar(select(func.count()).select_from(Event).where(Event.action == "mark"))
        final = {(r.keyword, r.lang, r.word): r.mark for r in c.execute(select(Judgement))}
    eng.dispose()
    assert n in (len(acked), len(acked) + 1)  # + the one in flight at the kill, if it was committed
    last = {}
    for page, lang, w, m in acked:
        last[(KEYWORDS[page - 1][0], lang, w)] = m
    for key, m in last.items():
        assert key in final
    if n == len(acked):
        assert {k: final[k] for k in last} == last
    # a restarted server serves the same work
    proc = start_server(tmp, db_url, port)
    try:
        c = Client(port, "alice")
        status, body, _ = c.request("GET", "/demo/alice/1")
        assert status == 200
    finally:
        proc.terminate()
        proc.wait(20)
