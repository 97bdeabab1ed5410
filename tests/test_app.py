"""The annotation app with Flask's test client: routes, saving, export, stats, security."""

import json
import random
import re
import stat

import pytest
from sqlalchemy import func, select, text

import app as app_script
from clime.errors import ClimeError
from clime.feedback import read_feedback
from clime.webapp import create_app, load_secret_key
from clime.webapp.db import Annotator, Event, Judgement, KeywordState
from clime.webapp.stats import agreement, cohen_kappa, krippendorff_alpha, time_per_keyword
from clime.webapp.taskdata import TaskCache
from clime.webapp.testdata import KEYWORDS, XSS_CAT, XSS_IMG, XSS_SCRIPT, write_demo_task


@pytest.fixture()
def env(tmp_path, db_url):
    ui = tmp_path / "ui_data"
    write_demo_task(ui, "demo")
    cfg = {"UI_DATA": str(ui), "INSTANCE_PATH": str(tmp_path / "instance"),
           "FEEDBACK_DIR": str(tmp_path / "feedbacks"),
           "DATABASE_URL": db_url}
    application = create_app(cfg)
    return {"app": application, "tmp": tmp_path, "ui": ui, "cfg": cfg, "db": cfg["DATABASE_URL"]}


class Annot:
    """A browser session of one user: cookie jar + CSRF token."""

    def __init__(self, application, task="demo", user="alice"):
        self.c = application.test_client()
        self.task, self.user = task, user
        page = self.c.get(f"/{task}/{user}")
        assert page.status_code == 200
        self.token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)

    def post(self, action, body=None, **kw):
        return self.c.post(f"/api/{self.task}/{self.user}/{action}", json=body if body is not None else {},
                           headers={"X-CSRF-Token": self.token}, **kw)

    def ok(self, action, body=None):
        r = self.post(action, body)
        assert r.status_code == 200, (action, body, r.status_code, r.get_data(as_text=True))
        return r.get_json()

    def mark(self, page, lang, word, mark):
        return self.ok("mark", {"page": page, "lang": lang, "word": word, "mark": mark})

    def page_data(self, page):
        r = self.c.get(f"/{self.task}/{self.user}/{page}")
        assert r.status_code == 200
        m = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', r.text, re.S)
        return json.loads(m.group(1))


def count(application, model):
    with application.extensions["clime"]["Session"]() as s:
        return s.scalar(select(func.count()).select_from(model))


# ---------------------------------------------------------------- pages and basics

def test_index_and_start_page(env):
    c = env["app"].test_client()
    r = c.get("/")
    assert r.status_code == 200 and "demo" in r.text
    r = c.get("/go?task=demo&user=bob")
    assert r.status_code == 302 and r.headers["Location"].endswith("/demo/bob")
    r = c.get("/demo/bob")
    assert r.status_code == 200
    assert "Start" in r.text and "saved continuously" in r.text and "not sure" in r.text
    assert "<kbd>a</kbd>" in r.text  # the keys are shown
    assert re.search(r'name="csrf-token" content="[^"]{20,}"', r.text)
    h = r.headers
    assert "default-src 'self'" in h["Content-Security-Policy"] and "script-src 'self'" in h["Content-Security-Policy"]
    assert h["X-Content-Type-Options"] == "nosniff" and h["X-Frame-Options"] == "DENY"
    assert h["Cache-Control"] == "no-store"
    assert "<script>" not in r.text.replace('<script src=', '')  # no inline script
    # categories are escaped (one planted category is HTML)
    assert XSS_CAT not in r.text and "&lt;b onmouseover=alert(3)&gt;politics&lt;/b&gt;" in r.text
    assert count(env["app"], Annotator) == 0  # a GET changes nothing


def test_unknown_task_is_friendly_404_without_rows(env):
    c = env["app"].test_client()
    r = c.get("/nosuchtask/alice")
    assert r.status_code == 404 and "no task called" in r.text and "<html" in r.text
    a = Annot(env["app"])
    r = a.c.post("/api/nosuchtask/alice/start", json={}, headers={"X-CSRF-Token": a.token})
    assert r.status_code == 404 and "no task" in r.get_json()["error"]
    for url in ("/nosuchtask/alice/1", "/nosuchtask/alice/done", "/nosuchtask/alice/feedback.csv",
                "/api/nosuchtask/contexts?lang=src&word=x", "/api/nosuchtask/complete?lang=src&q=x"):
        assert c.get(url).status_code == 404, url
    assert count(env["app"], Annotator) == 0


@pytest.mark.parametrize("url,code", [
    ("/a.b/alice", 400), ("/" + "t" * 65 + "/alice", 400), ("/demo/" + "u" * 65, 400),
    ("/demo/%3Cscript%3E", 400), ("/demo/al%20ice", 400), ("/%2e%2e/alice", 400),
    ("/..%2F..%2Fetc/alice", 404), ("/demo/alice/0", 404), ("/demo/alice/6", 404), ("/demo/alice/x", 404),
    ("/static/../app.py", 404), ("/api/demo/contexts?lang=xx&word=a", 400),
    ("/api/demo/contexts?lang=src", 400), ("/api/demo/complete?lang=src&q=" + "a" * 101, 400),
    ("/api/demo/complete?lang=src&q=a&limit=z", 400), ("/demo/nobody/done", 404),
])
def test_bad_urls_get_4xx(env, url, code):
    r = env["app"].test_client().get(url)
    assert r.status_code == code, (url, r.status_code)
    assert count(env["app"], Annotator) == 0


def test_path_traversal_refused(env, tmp_path):
    cache = TaskCache(env["ui"])
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "setup.json").write_text("{}")
    for name in ("..", "../outside", "demo/../demo", "/etc", "demo\x00", ".", ""):
        assert cache.task_dir(name) is None
    assert cache.task_dir("demo") is not None
    assert cache.get("outside") is None and "outside" not in cache.names()


def test_task_data_loaded_once(env, monkeypatch):
    import clime.webapp.taskdata as td

    cache = env["app"].extensions["clime"]["tasks"]
    calls = []
    real = td._read_json
    monkeypatch.setattr(td, "_read_json", lambda p: calls.append(str(p)) or real(p))
    c = env["app"].test_client()
    for q in ("he", "hea", "heal", "d"):
        assert c.get(f"/api/demo/complete?lang=src&q={q}").status_code == 200
    for w in ("hospital", "doctor", "nope"):
        assert c.get(f"/api/demo/contexts?lang=src&word={w}").status_code == 200
    assert cache.get("demo") is cache.get("demo")
    # one read of setup.json at most (first request), one of each vocab / concordance file
    assert sorted(p.rsplit("/", 1)[1] for p in calls) == sorted(
        set(p.rsplit("/", 1)[1] for p in calls)), calls
    assert len([p for p in calls if "vocab" in p]) == 2 and len([p for p in calls if "concordance" in p]) == 2


def test_concordance_and_autocomplete(env):
    c = env["app"].test_client()
    js = c.get("/api/demo/contexts?lang=src&word=hospital").get_json()
    assert js["total"] == 3 and js["lang_name"] == "ENGLISH"
    assert js["contexts"][1] == {"doc": 2, "left": "nurses at the ", "word": "hospital", "right": " went on strike"}
    assert XSS_SCRIPT in js["contexts"][0]["right"]  # plain data, escaped only at display time
    assert c.get("/api/demo/contexts?lang=tgt&word=inconnu").get_json()["contexts"] == []
    words = c.get("/api/demo/complete?lang=src&q=he").get_json()["words"]
    assert words == ["health", "healthy", "healthcare", "heal"]  # by frequency
    assert c.get("/api/demo/complete?lang=tgt&q=sa&limit=2").get_json()["words"] == ["santé", "sain"]
    assert c.get("/api/demo/complete?lang=tgt&q=").get_json()["words"] == []
    assert c.get("/api/demo/complete?lang=tgt&q=Sa").get_json()["words"][0] == "santé"  # lower-case fallback


def test_keyword_page_escapes_everything(env):
    a = Annot(env["app"])
    r = a.c.get("/demo/alice/4")  # the keyword itself is hostile
    assert r.status_code == 200
    assert XSS_IMG not in r.text and XSS_SCRIPT not in r.text and XSS_CAT not in r.text
    assert "&lt;img src=x onerror=window.__xss=1;alert(2)&gt;" in r.text
    data = a.page_data(4)
    assert data["keyword"] == XSS_IMG and data["pages"] == 5 and data["page"] == 4
    assert [x["word"] for x in data["rows"]["src"]] == ["doctor", XSS_SCRIPT, "team"]
    assert not re.search(r"<script>(?!window)", r.text)  # only external scripts and the JSON block


# ---------------------------------------------------------------- CSRF and methods

def test_csrf_required_on_every_post(env):
    a = Annot(env["app"])
    for action in ("start", "view", "mark", "add", "remove", "next", "back", "finish"):
        r = a.c.post(f"/api/demo/alice/{action}", json={"page": 1})
        assert r.status_code == 400 and "CSRF" in r.get_json()["error"], action
        r = a.c.post(f"/api/demo/alice/{action}", json={"page": 1}, headers={"X-CSRF-Token": "x" * 43})
        assert r.status_code == 403, action
    # a token from another browser session is refused too
    b = Annot(env["app"], user="bob")
    r = a.c.post("/api/demo/alice/start", json={}, headers={"X-CSRF-Token": b.token})
    assert r.status_code == 403
    # a cross-origin POST is refused even with the token
    r = a.c.post("/api/demo/alice/start", json={}, headers={"X-CSRF-Token": a.token, "Origin": "http://evil.example"})
    assert r.status_code == 403
    assert count(env["app"], Annotator) == 0 and count(env["app"], Event) == 0
    # the token can be fetched again by the page (same origin only: JSON, no CORS)
    assert a.c.get("/api/csrf").get_json()["token"] == a.token
    a.ok("start")


def test_no_state_change_by_get(env):
    a = Annot(env["app"])
    for url in ("/api/demo/alice/start", "/api/demo/alice/mark", "/api/demo/alice/finish"):
        assert a.c.get(url).status_code == 405
    for url in ("/", "/demo/alice", "/demo/alice/1", "/demo/alice/2", "/api/demo/contexts?lang=src&word=a",
                "/api/demo/complete?lang=src&q=a", "/api/csrf"):
        assert a.c.get(url).status_code == 200
    assert count(env["app"], Annotator) == 0 and count(env["app"], Event) == 0


# ---------------------------------------------------------------- the annotator's flow

def test_every_action_is_saved_at_once(env):
    application = env["app"]
    a = Annot(application)
    assert a.ok("start")["page"] == 1
    a.ok("view", {"page": 1})
    a.mark(1, "src", "doctor", "pos")
    a.mark(1, "src", "football", "neg")
    a.mark(1, "tgt", "hôpital", "pos")
    a.mark(1, "tgt", "ballon", "neg")
    a.mark(1, "src", "football", None)  # unmark
    a.mark(1, "src", XSS_SCRIPT, "neg")
    assert a.ok("add", {"page": 1, "lang": "tgt", "word": "santé"})["mark"] == "pos"
    a.ok("add", {"page": 1, "lang": "src", "word": "medicine"})
    a.ok("remove", {"page": 1, "lang": "src", "word": "medicine"})
    a.ok("add", {"page": 1, "lang": "tgt", "word": "soins"})
    a.mark(1, "tgt", "soins", "neg")  # an added word can be re-marked
    with application.extensions["clime"]["Session"]() as s:
        actions = [e.action for e in s.scalars(select(Event).order_by(Event.id))]
        assert actions == ["start", "view"] + ["mark"] * 6 + ["add", "add", "remove", "add", "mark"]
        assert all(e.ts > 0 for e in s.scalars(select(Event)))
        cur = {(j.lang, j.word): (j.mark, j.added) for j in s.scalars(select(Judgement))}
    assert cur == {("src", "doctor"): ("pos", False), ("src", "football"): (None, False),
                   ("tgt", "hôpital"): ("pos", False), ("tgt", "ballon"): ("neg", False),
                   ("src", XSS_SCRIPT): ("neg", False), ("tgt", "santé"): ("pos", True),
                   ("tgt", "soins"): ("neg", True)}
    # the page shows exactly that state after a reload
    rows = a.page_data(1)["rows"]
    assert {r["word"]: r["mark"] for r in rows["src"]}["doctor"] == "pos"
    assert [r["word"] for r in rows["tgt"]][-2:] == ["santé", "soins"]
    assert all(r["added"] for r in rows["tgt"][-2:])


def test_refused_actions(env):
    a = Annot(env["app"])
    a.ok("start")
    cases = [
        ("mark", {"page": 1, "lang": "src", "word": "vote", "mark": "pos"}, 400),  # not on this page
        ("mark", {"page": 1, "lang": "tgt", "word": "doctor", "mark": "pos"}, 400),  # wrong column
        ("mark", {"page": 1, "lang": "src", "word": "doctor", "mark": "maybe"}, 400),
        ("mark", {"page": 1, "lang": "xx", "word": "doctor", "mark": "pos"}, 400),
        ("mark", {"page": 0, "lang": "src", "word": "doctor", "mark": "pos"}, 400),
        ("mark", {"page": 99, "lang": "src", "word": "doctor", "mark": "pos"}, 400),
        ("mark", {"page": "1", "lang": "src", "word": "doctor", "mark": "pos"}, 400),
        ("mark", {"page": True, "lang": "src", "word": "doctor", "mark": "pos"}, 400),
        ("mark", {"page": 1, "lang": "src", "word": 7, "mark": "pos"}, 400),
        ("mark", {"page": 1, "lang": "src", "word": "", "mark": "pos"}, 400),
        ("mark", {"page": 1, "lang": "src", "word": "a" * 101, "mark": "pos"}, 400),
        ("mark", {"page": 1, "lang": "src", "word": "doc\x00tor", "mark": "pos"}, 400),
        ("add", {"page": 1, "lang": "tgt", "word": "zzzz"}, 400),  # not in the vocabulary
        ("add", {"page": 1, "lang": "src", "word": "doctor"}, 409),  # already a neighbour
        ("add", {"page": 1, "lang": "src", "word": "hospital"}, 409),  # the keyword
        ("remove", {"page": 1, "lang": "src", "word": "doctor"}, 400),  # not an added word
        ("remove", {"page": 1, "lang": "src", "word": "health"}, 400),
        ("view", {}, 400),
        ("explode", {"page": 1}, 404),
    ]
    for action, body, code in cases:
        r = a.post(action, body)
        assert r.status_code == code, (action, body, r.status_code)
        assert isinstance(r.get_json()["error"], str)
    h = {"X-CSRF-Token": a.token, "Content-Type": "application/json"}
    for raw in (b"{not json", b"[1, 2]", b"null", b'"x"', b"\xff\xfe", b""):
        r = a.c.post("/api/demo/alice/view", data=raw, headers=h)
        assert r.status_code == 400, raw
    r = a.c.post("/api/demo/alice/view", data=b'{"page": 1, "x": "' + b"a" * 40000 + b'"}', headers=h)
    assert r.status_code == 413
    for bad in ("a b", "<x>", "u" * 65):
        r = a.c.post(f"/api/demo/{bad}/start", json={}, headers=h)
        assert r.status_code in (400, 404)
    assert count(env["app"], Judgement) == 0


def test_resume_back_next_progress(env):
    application = env["app"]
    a = Annot(application)
    a.ok("start")
    a.ok("view", {"page": 1})
    a.mark(1, "src", "nurse", "pos")
    a.ok("next", {"page": 1})
    a.ok("view", {"page": 2})
    a.mark(2, "tgt", "équipe", "pos")
    a.ok("next", {"page": 2})
    a.ok("view", {"page": 3})
    a.ok("back", {"page": 3})
    a.ok("view", {"page": 2})
    # going back shows the marks made
    d2 = a.page_data(2)
    assert {r["word"]: r["mark"] for r in d2["rows"]["tgt"]}["équipe"] == "pos"
    assert d2["done"] == 2
    # another browser (fresh cookies) resumes at the page last viewed
    b = Annot(application)
    r = b.c.get("/demo/alice")
    assert "Resume at keyword 2 of 5" in r.text and "2 of 5 keywords done" in r.text
    assert b.ok("start") == {"ok": True, "page": 2, "url": "/demo/alice/2"}
    assert {r["word"]: r["mark"] for r in b.page_data(1)["rows"]["src"]}["nurse"] == "pos"
    with application.extensions["clime"]["Session"]() as s:
        assert s.scalar(select(func.count()).select_from(Annotator)) == 1
        done = {k.keyword: k.done for k in s.scalars(select(KeywordState))}
    assert done == {"hospital": True, "match": True, "election": False}


def test_two_tabs_last_action_wins(env):
    a1 = Annot(env["app"])
    a2 = Annot(env["app"])
    a1.mark(1, "src", "doctor", "pos")
    a2.mark(1, "src", "doctor", "neg")
    a1.mark(1, "src", "nurse", "neg")
    a2.mark(1, "src", "nurse", None)
    a1.ok("add", {"page": 1, "lang": "tgt", "word": "santé"})
    a2.ok("add", {"page": 1, "lang": "tgt", "word": "santé"})  # twice: still one row
    marks = {r["word"]: r["mark"] for r in a1.page_data(1)["rows"]["src"]}
    assert marks["doctor"] == "neg" and marks["nurse"] is None
    assert count(env["app"], Judgement) == 3


def test_finish_writes_feedback_and_summary(env):
    application = env["app"]
    a = Annot(application)
    a.ok("start")
    a.ok("view", {"page": 1})
    a.mark(1, "src", "doctor", "pos")
    a.mark(1, "src", "nurse", "pos")
    a.mark(1, "src", "football", "neg")
    a.mark(1, "tgt", "médecin", "pos")
    a.mark(1, "tgt", "ballon", "neg")
    a.mark(1, "tgt", XSS_IMG, "neg")
    a.mark(1, "src", "clinic", "pos")
    a.mark(1, "src", "clinic", None)  # unmarked: in no list
    a.ok("add", {"page": 1, "lang": "tgt", "word": "santé"})
    a.ok("add", {"page": 1, "lang": "src", "word": "medicine"})
    a.mark(1, "src", "medicine", None)  # added then unmarked: only in new1
    a.ok("next", {"page": 1})
    a.ok("view", {"page": 2})
    a.mark(2, "src", "goal", "pos")
    a.ok("next", {"page": 2})
    a.ok("view", {"page": 3})  # opened, nothing marked: an empty row
    res = a.ok("finish", {"page": 3})
    assert res["url"] == "/demo/alice/done" and res["written"] is True
    path = env["tmp"] / "feedbacks" / "demo" / "alice.csv"
    assert path.read_text().splitlines()[0] == "keyword,timestamp,pos1,pos2,neg1,neg2,new1,new2,skipped,comment"
    rows = read_feedback(path)
    assert [r.keyword for r in rows] == ["hospital", "match", "election"]  # page 4, 5 never opened
    h = rows[0]
    assert (h.pos1, h.pos2, h.neg1, h.neg2, h.new1, h.new2) == (
        ["doctor", "nurse"], ["médecin", "santé"], ["football"], [XSS_IMG, "ballon"], ["medicine"], ["santé"])  # neighbour order
    assert rows[1].pos1 == ["goal"] and rows[2].pos1 == [] and rows[2].new2 == []
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", h.timestamp)
    assert "['doctor', 'nurse']" in path.read_text()  # Python list literals
    # the thank-you page and the download
    r = a.c.get("/demo/alice/done")
    assert r.status_code == 200 and "Thank you" in r.text
    assert re.search(r'id="sum-judgements">8 ', r.text)  # 7 neighbour marks + santé
    assert re.search(r'id="sum-keywords">2<', r.text) and "3 of 5" in r.text
    dl = a.c.get("/demo/alice/feedback.csv")
    assert dl.status_code == 200 and dl.mimetype == "text/csv"
    assert "attachment" in dl.headers["Content-Disposition"]
    assert dl.get_data() == path.read_bytes()
    # finishing again after a change rewrites the file
    a.mark(3, "tgt", "vote", "pos")
    a.ok("finish", {})
    assert read_feedback(path)[2].pos2 == ["vote"]
    assert "See your summary" in a.c.get("/demo/alice").text


def test_time_per_keyword_from_events():
    class E:
        def __init__(self, ts, keyword, action="mark"):
            self.ts, self.keyword, self.action = ts, keyword, action

    evs = [E(100, "a", "view"), E(110, "a"), E(130, "a", "next"), E(131, "b", "view"), E(2000, "b"),
           E(2010, None, "finish"), E(3000, "c", "view")]
    t = time_per_keyword(evs)
    assert t == {"a": 31.0, "b": 300.0 + 10.0}  # gaps capped at 300 s; finish counts nothing


def test_agreement_and_kappa():
    assert cohen_kappa([]) is None
    assert cohen_kappa([("pos", "pos")] * 3) is None  # one label only: undefined
    pairs = [("pos", "pos")] * 4 + [("neg", "neg")] * 4 + [("pos", "neg")] * 2
    assert cohen_kappa(pairs) == pytest.approx((0.8 - 0.48) / (1 - 0.48))
    ag = agreement({"u": {1: "pos", 2: "neg", 3: "pos"}, "v": {1: "pos", 2: "pos", 4: "neg"}, "w": {}})
    uv = [p for p in ag["pairs"] if p["users"] == ["u", "v"]][0]
    assert uv["common"] == 2 and uv["agreement"] == 0.5
    assert ag["overall"]["common"] == 2


def _two_users(application):
    a = Annot(application, user="alice")
    b = Annot(application, user="bob")
    for who, marks in ((a, {"doctor": "pos", "nurse": "pos", "football": "neg", "clinic": "pos"}),
                       (b, {"doctor": "pos", "nurse": "neg", "football": "neg"})):
        who.ok("start")
        who.ok("view", {"page": 1})
        for w, m in marks.items():
            who.mark(1, "src", w, m)
        who.ok("next", {"page": 1})
    b.ok("add", {"page": 1, "lang": "tgt", "word": "santé"})
    return a, b


def test_export_cli(env, capsys):
    _two_users(env["app"])
    out = env["tmp"] / "fb"
    base = ["--db", env["db"], "--ui-data", str(env["ui"]), "-q"]
    assert app_script.main(["export", "--task", "demo", "--user", "bob", "--out", str(out / "b.csv")] + base) == 0
    rows = read_feedback(out / "b.csv")
    assert len(rows) == 1 and rows[0].pos1 == ["doctor"] and rows[0].neg1 == ["nurse", "football"]
    assert rows[0].new2 == ["santé"] and rows[0].pos2 == ["santé"]
    assert app_script.main(["export", "--task", "demo", "--out", str(out / "all")] + base) == 0
    assert sorted(p.name for p in (out / "all").iterdir()) == ["alice.csv", "bob.csv"]
    assert app_script.main(["export", "--task", "demo", "--merged", "--out", str(out / "m.csv")] + base) == 0
    merged = read_feedback(out / "m.csv")
    assert [(r.keyword, r.extra["user"]) for r in merged] == [("hospital", "alice"), ("hospital", "bob")]
    assert (out / "m.csv").read_text().splitlines()[0].endswith(",new1,new2,skipped,comment,user")
    # default locations
    assert app_script.main(["export", "--task", "demo", "--feedbacks", str(out / "d")] + base) == 0
    assert (out / "d" / "demo" / "alice.csv").exists()
    assert app_script.main(["export", "--task", "demo", "--merged", "--feedbacks", str(out / "d")] + base) == 0
    assert (out / "d" / "demo.merged.csv").exists()
    # errors: exit 2 with one line, nothing written
    with pytest.raises(SystemExit) as e:
        app_script.cli.run(app_script.main, ["export", "--task", "demo", "--user", "carol",
                                             "--out", str(out / "c.csv")] + base)
    assert e.value.code == 2 and not (out / "c.csv").exists()
    with pytest.raises(SystemExit) as e:
        app_script.cli.run(app_script.main, ["export", "--task", "../x"] + base)
    assert e.value.code == 2


def test_merged_export_is_merged_by_majority_in_update(env):
    """update.py counts each annotator of a merged export as one voter (as for one file each),
    not the file as one annotator whose last row per keyword wins."""
    from clime import update as up

    _two_users(env["app"])
    c = Annot(env["app"], user="carol")
    c.ok("start")
    for w, m in {"doctor": "neg", "nurse": "neg", "football": "neg", "clinic": "neg"}.items():
        c.mark(1, "src", w, m)
    out = env["tmp"] / "fb"
    base = ["--db", env["db"], "--ui-data", str(env["ui"]), "-q"]
    assert app_script.main(["export", "--task", "demo", "--merged", "--out", str(out / "m.csv")] + base) == 0
    assert app_script.main(["export", "--task", "demo", "--out", str(out / "each")] + base) == 0
    merged = up.load_feedback([out / "m.csv"])
    each = up.load_feedback(sorted((out / "each").glob("*.csv")))
    assert merged.accepted == each.accepted and merged.rejected == each.rejected and merged.ties == each.ties
    acc, rej = set(merged.accepted["hospital"]), set(merged.rejected["hospital"])
    assert ("doctor", up.SRC) in acc          # alice, bob pos; carol neg: 2 to 1
    assert ("nurse", up.SRC) in rej           # alice pos; bob, carol neg
    assert ("clinic", up.SRC) not in acc | rej and merged.ties >= 1   # alice pos, carol neg: a tie
    assert ("santé", up.TGT) in acc           # bob's added word, nobody against
    # an empty user cell is refused with its line
    text = (out / "m.csv").read_text().splitlines()
    (out / "bad.csv").write_text("\n".join(text[:2] + [text[2].rsplit(",", 1)[0] + ","]) + "\n")
    with pytest.raises(ClimeError, match=r"bad\.csv:3: empty 'user' cell"):
        up.load_feedback([out / "bad.csv"])


def test_stats_cli(env, capsys):
    _two_users(env["app"])
    base = ["--db", env["db"], "-q"]
    assert app_script.main(["stats", "--task", "demo", "--json"] + base) == 0
    st = json.loads(capsys.readouterr().out)
    users = {u["user"]: u for u in st["users"]}
    assert users["alice"]["keywords_done"] == 1 and users["alice"]["judgements"] == 4
    assert users["bob"]["judgements"] == 4 and users["bob"]["added"] == 1
    assert users["alice"]["minutes"] >= 0
    pair = st["agreement"]["pairs"][0]
    # common items: doctor (pos/pos), nurse (pos/neg), football (neg/neg)
    assert pair["common"] == 3 and pair["agreement"] == pytest.approx(2 / 3)
    assert pair["kappa"] == pytest.approx(cohen_kappa([("pos", "pos"), ("pos", "neg"), ("neg", "neg")]))
    assert app_script.main(["stats", "--task", "demo"] + base) == 0
    out = capsys.readouterr().out
    assert "alice" in out and "kappa" in out and "agreement 0.67" in out


def _marks(application, user="alice"):
    with application.extensions["clime"]["Session"]() as s:
        ann = s.scalars(select(Annotator).where(Annotator.user == user)).one()
        return {(j.keyword, j.lang, j.word): (j.mark, bool(j.added))
                for j in s.scalars(select(Judgement).where(Judgement.annotator_id == ann.id))}


def test_undo_redo_across_words_and_pages(env):
    application = env["app"]
    a = Annot(application)
    a.ok("start")
    assert a.post("undo").status_code == 409 and a.post("redo").status_code == 409
    a.mark(1, "src", "doctor", "pos")
    a.mark(1, "src", "doctor", "neg")
    a.ok("add", {"page": 1, "lang": "tgt", "word": "santé"})
    a.ok("next", {"page": 1})
    a.mark(2, "src", "game", "pos")
    a.ok("skip", {"page": 3})
    steps = []
    for _ in range(5):
        steps.append(a.ok("undo")["changed"])
    assert [c["undone"] for c in steps] == ["skip", "mark", "add", "mark", "mark"]
    assert steps[0]["page"] == 3 and steps[0]["keyword_state"] == "open" and steps[0]["url"] == "/demo/alice/3"
    assert steps[1] == dict(steps[1], page=2, word="game", exists=False, mark=None)  # never marked before
    assert steps[2]["word"] == "santé" and steps[2]["exists"] is False
    assert steps[3]["mark"] == "pos" and steps[4]["mark"] is None
    assert a.post("undo").status_code == 409
    assert _marks(application) == {}
    # redo in order; the page data shows the state; a new action drops the rest
    r = a.ok("redo")
    assert r["changed"]["mark"] == "pos" and r["progress"]["redo"] == 4 and r["progress"]["undo"] == 1
    a.ok("redo")
    assert a.page_data(1)["rows"]["src"][0] == {"word": "doctor", "mark": "neg", "added": False}
    a.mark(1, "src", "nurse", "pos")
    assert a.post("redo").status_code == 409
    assert a.ok("undo")["changed"]["word"] == "nurse"
    assert a.ok("undo")["changed"]["mark"] == "pos"     # back through the redone steps
    with application.extensions["clime"]["Session"]() as s:
        actions = [e.action for e in s.scalars(select(Event).order_by(Event.id))]
    assert actions.count("undo") == 7 and actions.count("redo") == 2   # each step saved as an event
    # the undo history survives a new app on the same database (a restart)
    b = Annot(create_app(env["cfg"]))
    u = b.ok("undo")["changed"]
    assert (u["word"], u["exists"], u["mark"]) == ("doctor", False, None)
    assert _marks(application) == {}
    assert b.ok("redo")["changed"]["mark"] == "pos"
    assert _marks(application) == {("hospital", "src", "doctor"): ("pos", False)}


def test_skip_and_comment_saved_exported_counted(env, capsys):
    a = Annot(env["app"])
    a.ok("start")
    r = a.ok("skip", {"page": 2})
    assert r["next"] == "/demo/alice/3" and r["progress"]["skipped"] == 1
    assert r["progress"]["remaining"] == len(KEYWORDS) - 1
    assert a.ok("skip", {"page": len(KEYWORDS)})["next"] is None
    a.ok("next", {"page": len(KEYWORDS)})   # judged after all: no longer skipped
    text = "nurse: only in the medical sense; =cmd|' /C calc'!A0"
    assert a.ok("comment", {"page": 1, "text": "  " + text + "  "})["text"] == text
    d = a.page_data(2)
    assert d["skipped"] is True and d["progress"] == dict(d["progress"], done=1, skipped=1, remaining=len(KEYWORDS) - 2)
    assert a.page_data(1)["comment"] == text
    for bad in ({"page": 1, "text": 5}, {"page": 1, "text": "x" * 2001}, {"page": 1, "text": "a\x1bb"},
                {"page": 99, "text": "x"}, {"page": 1}):
        assert a.post("comment", bad).status_code == 400, bad
    out = env["tmp"] / "fb.csv"
    assert app_script.main(["export", "--task", "demo", "--user", "alice", "--out", str(out),
                            "--db", env["db"], "--ui-data", str(env["ui"]), "-q"]) == 0
    rows = {r.keyword: r for r in read_feedback(out)}
    assert rows["hospital"].extra["comment"] == text and rows["match"].extra["skipped"] == "yes"
    assert rows[KEYWORDS[-1][0]].extra["skipped"] == ""
    assert "=cmd" not in [line.split(",")[-1][:4] for line in out.read_text().splitlines()]  # neutralised
    assert app_script.main(["stats", "--task", "demo", "--json", "--db", env["db"], "-q"]) == 0
    u = json.loads(capsys.readouterr().out)["users"][0]
    assert u["keywords_skipped"] == 1 and u["comments"] == 1
    # the keyword page shows the comment (escaped) and the skipped state
    assert '<p id="skipped-note" class="skipnote" >' in a.c.get("/demo/alice/2").text
    assert '<p id="skipped-note" class="skipnote" hidden>' in a.c.get("/demo/alice/1").text
    assert "nurse: only in the medical sense; =cmd|&#39; /C calc&#39;!A0</textarea>" in a.c.get("/demo/alice/1").text
    # finishing on a skipped keyword leaves it skipped (not counted twice)
    a.ok("skip", {"page": 3})
    a.ok("finish", {"page": 3})
    d = a.page_data(3)
    assert d["skipped"] is True and d["kwDone"] is False and d["progress"]["skipped"] == 2


def test_autocomplete_leaves_out_words_on_the_page(env):
    c = Annot(env["app"])
    c.ok("start")
    everything = c.c.get("/api/demo/complete?lang=tgt&q=h").get_json()["words"]
    assert "hôpital" in everything
    r = c.c.get("/api/demo/complete?lang=tgt&q=h&page=1").get_json()["words"]
    assert "hôpital" not in r and r == [w for w in everything if w != "hôpital"]
    assert "hospital" not in c.c.get("/api/demo/complete?lang=src&q=hos&page=1").get_json()["words"]  # the keyword
    assert "health" not in c.c.get("/api/demo/complete?lang=src&q=hea&shown=health").get_json()["words"]
    assert c.c.get("/api/demo/complete?lang=src&q=h&page=99").status_code == 400
    assert c.c.get("/api/demo/complete?lang=src&q=h&page=x").status_code == 400


def test_krippendorff_alpha_hand_computed():
    # items: [pos pos neg], [pos pos], [neg neg neg], [pos] (one label: not pairable)
    # coincidences: o(pos,pos) = 1 + 2 = 3, o(pos,neg) = o(neg,pos) = 1, o(neg,neg) = 3;
    # n_pos = n_neg = 4, n = 8: alpha = 1 - 7 * 2 / (4*4 + 4*4) = 0.5625
    alpha, items = krippendorff_alpha([["pos", "pos", "neg"], ["pos", "pos"], ["neg"] * 3, ["pos"]])
    assert items == 3 and alpha == pytest.approx(0.5625)
    assert krippendorff_alpha([["pos", "pos"], ["neg", "neg"]]) == (1.0, 2)
    assert krippendorff_alpha([["pos", "pos"], ["pos"]]) == (None, 1)   # one value only: undefined
    assert krippendorff_alpha([]) == (None, 0)
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 coders, 12 units,
    # missing values, nominal alpha = 0.743
    n = None
    coders = [[1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n], [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
              [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n], [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n]]
    alpha, items = krippendorff_alpha([[x for x in unit if x is not None] for unit in zip(*coders)])
    assert items == 11 and round(alpha, 3) == 0.743
    # two annotators, no missing data: alpha is close to (and below) Cohen's kappa
    ag = agreement({"u": {1: "pos", 2: "neg", 3: "pos", 4: "neg"}, "v": {1: "pos", 2: "neg", 3: "neg", 4: "neg"}})
    assert ag["alpha"]["items"] == 4 and ag["alpha"]["annotators"] == 2
    assert ag["alpha"]["alpha"] == pytest.approx(1 - 7 * 2 / (2 * 3 * 5))


def _cells(html, attr, key):
    row = re.search(rf'<tr data-{attr}="{re.escape(key)}">(.*?)</tr>', html, re.S).group(1)
    return dict(re.findall(r'<td data-k="([a-z_]+)">([^<]*)</td>', row))


def test_owner_page_equals_stats(env, capsys):
    a, b = _two_users(env["app"])
    a.ok("view", {"page": 2})
    a.ok("skip", {"page": 2})
    a.ok("comment", {"page": 1, "text": "nurse: depends on the context"})
    c = env["app"].test_client()
    r = c.get("/owner/demo")
    assert r.status_code == 200
    assert app_script.main(["stats", "--task", "demo", "--json", "--db", env["db"], "-q"]) == 0
    st = json.loads(capsys.readouterr().out)
    for u in st["users"]:
        cells = _cells(r.text, "user", u["user"])
        for k in ("keywords_done", "keywords_skipped", "keywords_opened", "judgements", "similar",
                  "not_similar", "added", "comments"):
            assert int(cells[k]) == u[k], (u["user"], k)
        assert cells["minutes"] == f"{u['minutes']:.1f}"
        assert cells["mean_seconds_per_keyword"] == f"{u['mean_seconds_per_keyword']:.1f}"
        assert cells["last_activity"] == u["last_activity"].replace("T", " ").replace("+00:00", "")
    users = {u["user"]: u for u in st["users"]}
    assert users["alice"]["keywords_skipped"] == 1 and users["alice"]["comments"] == 1
    pair = _cells(r.text, "pair", "alice/bob")
    assert int(pair["common"]) == 3 and pair["agreement"] == "0.67"
    assert pair["kappa"] == f"{st['agreement']['pairs'][0]['kappa']:.2f}"
    alpha = re.search(r'<strong data-k="alpha">([^<]*)</strong>', r.text).group(1)
    assert alpha == f"{st['agreement']['alpha']['alpha']:.3f}"
    # the download buttons work
    for href in re.findall(r'href="([^"]+)"[^>]* download', r.text):
        d = c.get(href)
        assert d.status_code == 200 and len(d.data) > 0, href
    assert c.get("/owner/nosuchtask").status_code == 404
    assert c.get("/owner/..").status_code in (400, 404)


def test_owner_page_needs_the_owner_token_in_team_mode(env):
    from clime.webapp.access import new_token

    cfg = dict(env["cfg"], ACCESS="team")
    application = create_app(cfg)
    with application.extensions["clime"]["Session"]() as s, s.begin():
        annot = new_token(s, "annotator", "demo", "alice")
        owner = new_token(s, "owner")
    c = application.test_client()
    assert c.get("/owner/demo").status_code == 403
    assert c.get(f"/demo/alice?token={annot}").status_code == 302
    assert c.get("/owner/demo").status_code == 403          # an annotator is not the owner
    o = application.test_client()
    assert o.get(f"/owner/demo?token={owner}").status_code == 302
    assert o.get("/owner/demo").status_code == 200


# ---------------------------------------------------------------- configuration

def test_secret_key_created_once(tmp_path):
    p = tmp_path / "inst" / "secret_key"
    k1 = load_secret_key(p)
    assert len(k1) >= 64 and stat.S_IMODE(p.stat().st_mode) == 0o600
    assert load_secret_key(p) == k1
    assert load_secret_key(tmp_path / "other" / "secret_key") != k1


def test_app_config_defaults(env):
    application = env["app"]
    assert application.debug is False
    assert application.config["MAX_CONTENT_LENGTH"] <= 64 * 1024
    assert application.config["SECRET_KEY"] == (env["tmp"] / "instance" / "secret_key").read_text().strip()
    eng = application.extensions["clime"]["engine"]
    if eng.dialect.name != "sqlite":
        return
    with eng.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar().lower() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_database_url_from_environment(tmp_path, monkeypatch):
    ui = tmp_path / "ui"
    write_demo_task(ui, "demo")
    db = tmp_path / "elsewhere" / "x.db"
    monkeypatch.setenv("CLIME_DATABASE_URL", f"sqlite:///{db}")
    application = create_app({"UI_DATA": str(ui), "INSTANCE_PATH": str(tmp_path / "inst")})
    Annot(application).ok("start")
    assert db.exists()


def test_serve_refuses_bad_port_and_warns_on_public_host(tmp_path):
    assert app_script.is_loopback("127.0.0.1") and app_script.is_loopback("::1")
    assert app_script.is_loopback("localhost") and not app_script.is_loopback("0.0.0.0")
    with pytest.raises(Exception):
        app_script.main(["--port", "70000", "--ui-data", str(tmp_path)])


# ---------------------------------------------------------------- fuzz

def test_fuzz_routes_never_500(env):
    rng = random.Random(0)
    a = Annot(env["app"])
    a.ok("start")
    junk = ["", "..", "../..", "%00", "%2e%2e%2f", "a" * 300, "<script>", "demo", "alice", "1", "-1", "0",
            "99999999999999999999", "done", "feedback.csv", "static", "api", "é", "\u202e", "%ff", "x y",
            "contexts", "complete", "start", "mark", "csrf", "null"]
    values = [None, True, 0, -1, 1, 2, 5, 6, 10**30, 1.5, "1", "", "pos", "neg", "src", "tgt", "doctor",
              "santé", XSS_SCRIPT, "a" * 200, [], {}, ["src"], {"x": 1}, "\x00", "\ud800"]
    keys = ["page", "lang", "word", "mark", "x"]
    seen = 0
    for _ in range(600):
        parts = [rng.choice(junk) for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.5:
            parts = ["api"] + parts
        parts[0] = parts[0] or "x"  # "//..." would be read as a host name by the test client
        url = "/" + "/".join(parts)
        if rng.random() < 0.3:
            url += "?" + "&".join(f"{rng.choice(['lang', 'word', 'q', 'limit'])}={rng.choice(junk)}"
                                  for _ in range(rng.randint(1, 3)))
        if rng.random() < 0.5:
            r = a.c.get(url)
        else:
            body = {k: rng.choice(values) for k in rng.sample(keys, rng.randint(0, len(keys)))}
            try:
                payload = json.dumps(body)
            except (TypeError, ValueError):
                payload = "{}"
            hdr = {"Content-Type": "application/json"}
            if rng.random() < 0.8:
                hdr["X-CSRF-Token"] = a.token
            r = a.c.post(url, data=payload.encode("utf-8", "surrogatepass"), headers=hdr)
        assert r.status_code < 500, (url, r.status_code, r.get_data(as_text=True)[:200])
        seen += 1
    # targeted: every action with random bodies
    for _ in range(400):
        action = rng.choice(["start", "view", "next", "back", "mark", "add", "remove", "finish"])
        body = {k: rng.choice(values) for k in rng.sample(keys, rng.randint(0, len(keys)))}
        r = a.c.post(f"/api/demo/alice/{action}", data=json.dumps(body).encode("utf-8", "surrogatepass"),
                     headers={"Content-Type": "application/json", "X-CSRF-Token": a.token})
        assert r.status_code < 500, (action, body, r.status_code, r.get_data(as_text=True)[:200])
    assert seen == 600


def test_keywords_constant_matches_setup(env):
    setup = json.loads((env["ui"] / "demo" / "setup.json").read_text())
    assert [k["word"] for k in setup["keywords"]] == [k[0] for k in KEYWORDS]
