"""The annotation app in a real browser (Playwright for Python + Debian's /usr/bin/chromium).

Skipped when /usr/bin/chromium or playwright is missing, unless CLIME_REQUIRE_BROWSER=1
(CI), in which case they fail.  Never downloads a browser.
"""

import os
from pathlib import Path

import pytest

from clime.feedback import read_feedback
from clime.webapp import create_app
from clime.webapp.testdata import XSS_IMG, XSS_SCRIPT, write_demo_task

CHROMIUM = os.environ.get("CLIME_CHROMIUM", "/usr/bin/chromium")  # Debian's; never a downloaded one
REQUIRE = os.environ.get("CLIME_REQUIRE_BROWSER") == "1"
pytestmark = pytest.mark.browser


def _browser_missing():
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright (Python) not installed (pip install -r requirements-dev.txt)"
    return None


def need_browser():
    """Skip the test without chromium or playwright (fail instead under CLIME_REQUIRE_BROWSER=1)."""
    why = _browser_missing()
    if why:
        if REQUIRE:
            pytest.fail(f"browser tests required (CLIME_REQUIRE_BROWSER=1) but {why}")
        pytest.skip(why)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need_browser()
    tmp = tmp_path_factory.mktemp("browser")
    write_demo_task(tmp / "ui_data", "demo")
    servers = {}
    for mode in ("local", "team"):
        application = create_app({"UI_DATA": str(tmp / "ui_data"), "INSTANCE_PATH": str(tmp / "instance"),
                                  "FEEDBACK_DIR": str(tmp / "feedbacks"), "ACCESS": mode,
                                  "DATABASE_URL": f"sqlite:///{tmp / f'{mode}.db'}"})
        servers[mode] = serve_in_thread(application)
    yield {"url": servers["local"]["url"], "team": servers["team"], "tmp": tmp, "app": servers["local"]["app"]}
    for srv in servers.values():
        srv["stop"]()


def serve_in_thread(application):
    """The app behind waitress (as app.py serves it) on a free loopback port."""
    from clime.webapp.server import Background

    srv = Background(application)
    return {"url": srv.url, "port": srv.port, "app": application, "stop": srv.stop}


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
            # a DNS-rebinding attacker's name that resolves to this machine
            "--host-resolver-rules=MAP evil.test 127.0.0.1"])
        yield b
        b.close()


class Watch:
    """A page that records dialogs, JS errors and console errors: all must stay empty."""

    def __init__(self, browser, **ctx):
        self.ctx = browser.new_context(**ctx)
        self.page = self.ctx.new_page()
        self.page.set_default_timeout(8000)
        self.dialogs, self.errors = [], []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))

    def clean(self):
        assert self.dialogs == [], f"a dialog opened: planted script ran: {self.dialogs}"
        assert self.page.evaluate("window.__xss") is None, "a planted payload ran"
        assert self.errors == [], self.errors

    def saved(self):
        self.page.wait_for_function("() => document.body.dataset.saving === '0'")

    def mark_of(self, lang, word):
        return self.page.evaluate(
            """([lang, word]) => {
                 for (const li of document.querySelectorAll('#rows-' + lang + ' li.row')) {
                   if (li.querySelector('button.word').textContent === word) return li.dataset.mark;
                 }
                 return 'absent';
               }""", [lang, word])

    def row(self, lang, word):
        return self.page.locator(f"#rows-{lang} li.row").filter(
            has=self.page.get_by_role("button", name=word, exact=True))

    def words(self, lang):
        return self.page.locator(f"#rows-{lang} li.row button.word").all_text_contents()


def test_annotator_plays_through(server, browser):
    base = server["url"]
    w = Watch(browser, viewport={"width": 1366, "height": 800})
    page = w.page
    page.goto(f"{base}/demo/alice")
    assert "saved continuously" in page.content()
    page.get_by_role("button", name="Start").click()  # mouse
    page.wait_for_url(f"{base}/demo/alice/1")
    page.wait_for_selector("#rows-src li.row")
    w.saved()
    assert w.words("src")[3] == XSS_SCRIPT  # shown as text
    assert page.locator("#pageinfo").text_content().split() == ["Keyword", "1", "of", "5"]

    # keyboard: the first source word is selected
    page.keyboard.press("a")                      # doctor: similar
    page.keyboard.press("j")
    page.keyboard.press("2")                      # nurse: not similar
    page.keyboard.press("u")                      # ... cleared
    page.keyboard.press("ArrowDown")
    page.keyboard.press("1")                      # clinic: similar
    page.keyboard.press("x")                      # ... then not similar (last action wins)
    page.keyboard.press("ArrowRight")             # same position in the target column: infirmière
    page.keyboard.press("a")
    page.keyboard.press("a")                      # pressing the same mark again clears it
    page.keyboard.press("k")
    page.keyboard.press("a")                      # médecin: similar
    w.saved()
    assert [w.mark_of("src", x) for x in ("doctor", "nurse", "clinic")] == ["pos", "none", "neg"]
    assert [w.mark_of("tgt", x) for x in ("médecin", "infirmière")] == ["pos", "none"]

    # mouse: mark, click again to clear, mark again; the hostile word too
    neg = w.row("tgt", "ballon").get_by_role("button", name="✗ not similar")
    neg.click()
    assert w.mark_of("tgt", "ballon") == "neg"
    neg.click()
    assert w.mark_of("tgt", "ballon") == "none"
    neg.click()
    w.row("src", XSS_SCRIPT).get_by_role("button", name="✓ similar").click()
    w.saved()

    # add a word via autocomplete (keyboard): typing into the box must not trigger the keys
    page.keyboard.press("/")                      # focus the add box of the current (source) column
    page.keyboard.type("hea")
    page.wait_for_selector("#suggest-src li.opt")
    assert page.locator("#suggest-src li.opt").all_text_contents()[:2] == ["health", "healthy"]
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")                  # healthy
    page.wait_for_function("() => document.querySelectorAll('#rows-src li.row').length === 6")
    assert w.mark_of("src", "healthy") == "pos"
    assert w.mark_of("src", "doctor") == "pos"    # the 'a' typed in the box did nothing
    # ... and with the mouse in the target column
    page.locator("#add-tgt").click()
    page.keyboard.type("sa")
    page.locator("#suggest-tgt li.opt", has_text="santé").click()
    page.wait_for_function("() => document.querySelectorAll('#rows-tgt li.row').length === 6")
    assert w.row("tgt", "santé").locator(".tag").text_content() == "added"
    # a word not in the vocabulary is refused with a message
    page.locator("#add-tgt").fill("qwertz")
    page.locator("#addbtn-tgt").click()
    page.wait_for_function("() => document.getElementById('addmsg-tgt').textContent.includes('not in the')")
    assert len(w.errors) == 1 and "status of 400" in w.errors[0]  # the refused request, as expected
    w.errors.clear()
    page.keyboard.press("Escape")
    # remove an added word with the mouse
    page.locator("#add-src").fill("medicine")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('#rows-src li.row').length === 7")
    w.row("src", "medicine").get_by_role("button", name="remove").click()
    page.wait_for_function("() => document.querySelectorAll('#rows-src li.row').length === 6")
    w.saved()

    # concordance: click the keyword, then 'c' on a selected word
    page.locator("#keyword").click()
    page.wait_for_selector("#ctx-list li")
    assert page.locator("#ctx-word").text_content() == "hospital"
    assert page.locator("#ctx-list li").count() == 3
    assert page.locator("#ctx-list mark").first.text_content() == "hospital"
    assert XSS_SCRIPT in page.locator("#ctx-list li").first.text_content()  # as text
    page.keyboard.press("Escape")
    assert page.locator("#ctx-panel").is_hidden()
    w.row("tgt", "médecin").get_by_role("button", name="médecin").click()  # clicking a word
    page.wait_for_function("() => document.getElementById('ctx-word').textContent === 'médecin'")
    page.wait_for_selector("#ctx-list li")
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    page.keyboard.press("c")                      # contexts of the selected word
    page.wait_for_function("() => document.getElementById('ctx-word').textContent === 'infirmière'")
    page.keyboard.press("Escape")

    # reload mid-task: nothing lost
    page.reload()
    page.wait_for_selector("#rows-src li.row")
    w.saved()
    assert [w.mark_of("src", x) for x in ("doctor", "nurse", "clinic", XSS_SCRIPT, "healthy")] == \
        ["pos", "none", "neg", "pos", "pos"]
    assert [w.mark_of("tgt", x) for x in ("médecin", "ballon", "santé")] == ["pos", "neg", "pos"]
    assert w.mark_of("src", "medicine") == "absent"

    # next (key), judge, back (mouse): the marks are still there
    page.keyboard.press("n")
    page.wait_for_url(f"{base}/demo/alice/2")
    page.wait_for_selector("#rows-src li.row")
    assert "1 done" in page.locator("#doneinfo").text_content()
    page.keyboard.press("a")                      # game
    w.saved()
    page.get_by_role("button", name="← Back").click()
    page.wait_for_url(f"{base}/demo/alice/1")
    page.wait_for_selector("#rows-src li.row")
    assert w.mark_of("src", "doctor") == "pos" and w.mark_of("tgt", "santé") == "pos"
    page.get_by_role("button", name="Next").click()
    page.wait_for_url(f"{base}/demo/alice/2")
    page.wait_for_selector("#rows-src li.row")
    assert w.mark_of("src", "game") == "pos"
    page.keyboard.press("n")
    page.wait_for_url(f"{base}/demo/alice/3")
    page.wait_for_selector("#rows-src li.row")
    page.keyboard.press("n")

    # the hostile keyword page: everything is text, nothing runs
    page.wait_for_url(f"{base}/demo/alice/4")
    page.wait_for_selector("#rows-src li.row")
    assert page.locator("#keyword").text_content() == XSS_IMG
    page.locator("#keyword").click()
    page.wait_for_selector("#ctx-list li")
    assert XSS_SCRIPT in page.locator("#ctx-list").text_content()
    w.row("tgt", XSS_IMG).get_by_role("button", name=XSS_IMG).click()
    page.wait_for_selector("#ctx-list li")
    page.keyboard.press("Escape")
    page.locator("#add-tgt").click()
    page.keyboard.type("<")
    page.wait_for_selector("#suggest-tgt li.opt")
    offered = page.locator("#suggest-tgt li.opt").all_text_contents()
    assert offered == ["<b>"] and page.locator("#suggest-tgt b").count() == 0  # text, not a tag
    # (the planted <img onerror> word is on this page already, so it is not offered)
    page.keyboard.press("Escape")
    assert page.locator("img").count() == 0 and page.locator("#rows-src script").count() == 0
    w.clean()

    # finish (key): one keyword left, so the app asks first; then thank-you page, summary, CSV
    page.keyboard.press("f")
    page.wait_for_selector("#finish-dialog[open]")
    assert page.locator("#finish-text").text_content() == "1 keyword is still neither done nor skipped. Finish anyway?"
    page.get_by_role("button", name="Finish anyway").click()
    page.wait_for_url(f"{base}/demo/alice/done")
    assert "Thank you" in page.content()
    assert page.locator("#sum-keywords").text_content().strip() == "2"
    path = server["tmp"] / "feedbacks" / "demo" / "alice.csv"
    rows = read_feedback(path)
    assert [r.keyword for r in rows] == ["hospital", "match", "election", XSS_IMG]
    h = rows[0]
    assert h.pos1 == ["doctor", XSS_SCRIPT, "healthy"] and h.neg1 == ["clinic"]
    assert h.pos2 == ["médecin", "santé"] and h.neg2 == ["ballon"]
    assert h.new1 == ["healthy"] and h.new2 == ["santé"]
    assert rows[1].pos1 == ["game"] and rows[2].pos1 == [] and rows[3].pos1 == []
    href = page.locator("#download").get_attribute("href")
    assert w.ctx.request.get(base + href).body() == path.read_bytes()
    w.clean()
    w.ctx.close()


def _db_marks(server, user):
    from sqlalchemy import select

    from clime.webapp.db import Annotator, Judgement

    application = server["app"]
    with application.extensions["clime"]["Session"]() as s:
        ann = s.scalars(select(Annotator).where(Annotator.task == "demo", Annotator.user == user)).one()
        return {(j.keyword, j.word): j.mark for j in s.scalars(select(Judgement).where(Judgement.annotator_id == ann.id))}


def test_undo_redo_skip_comment_finish(server, browser):
    base = server["url"]
    w = Watch(browser, viewport={"width": 1100, "height": 600})
    page = w.page
    # the start page opens at the top (the greeting is not hidden under the top bar)
    page.goto(f"{base}/demo/erin")
    page.wait_for_timeout(300)
    assert page.evaluate("window.scrollY") == 0
    assert page.locator("h1").bounding_box()["y"] > page.locator("header.topbar").bounding_box()["height"]
    page.goto(f"{base}/demo/erin/1")
    page.wait_for_selector("#rows-src li.row")
    w.saved()
    assert page.locator("#undo").is_disabled() and page.locator("#redo").is_disabled()
    page.keyboard.press("a")                               # doctor: similar
    w.saved()
    page.keyboard.press("Control+z")
    w.saved()
    assert w.mark_of("src", "doctor") == "none" and not page.locator("#redo").is_disabled()
    page.keyboard.press("Control+Shift+z")
    w.saved()
    assert w.mark_of("src", "doctor") == "pos"
    page.keyboard.press("n")
    page.wait_for_url(f"{base}/demo/erin/2")
    page.wait_for_selector("#rows-src li.row")
    page.keyboard.press("a")                               # game: similar
    w.saved()
    page.get_by_role("button", name="↶ Undo").click()     # game, on this page
    w.saved()
    assert w.mark_of("src", "game") == "none"
    page.keyboard.press("Control+z")                       # doctor, on page 1: the app goes there
    page.wait_for_url(f"{base}/demo/erin/1")
    page.wait_for_selector("#rows-src li.row")
    w.saved()
    assert w.mark_of("src", "doctor") == "none"
    assert _db_marks(server, "erin").get(("hospital", "doctor")) is None
    page.keyboard.press("Control+Shift+z")                 # doctor again, here
    w.saved()
    assert w.mark_of("src", "doctor") == "pos"
    page.get_by_role("button", name="↷ Redo").click()     # game, on page 2
    page.wait_for_url(f"{base}/demo/erin/2")
    page.wait_for_selector("#rows-src li.row")
    assert w.mark_of("src", "game") == "pos"
    assert _db_marks(server, "erin") == {("hospital", "doctor"): "pos", ("match", "game"): "pos"}

    # a comment, saved as typed; Ctrl+Z inside the box is the box's own undo, not the app's
    page.locator("#comment").click()
    page.keyboard.type("referee: sports only")
    page.wait_for_function("() => document.getElementById('comment-status').textContent === 'Comment saved'")
    page.keyboard.press("Control+z")
    page.wait_for_timeout(200)
    assert _db_marks(server, "erin")[("match", "game")] == "pos"   # the app's history untouched
    page.locator("#comment").fill("")
    page.keyboard.type("referee: sports only")
    page.wait_for_function("() => document.getElementById('comment-status').textContent === 'Comment saved'")
    page.keyboard.press("Escape")
    w.saved()
    # skip (key): next keyword, counted
    page.keyboard.press("s")
    page.wait_for_url(f"{base}/demo/erin/3")
    page.wait_for_selector("#rows-src li.row")
    assert page.locator("#skipinfo").text_content() == "1 skipped"
    page.goto(f"{base}/demo/erin/2")
    page.wait_for_selector("#rows-src li.row")
    assert page.locator("#skipped-note").is_visible()
    assert page.locator("#comment").input_value() == "referee: sports only"

    # autocomplete never offers a word already on the page
    page.goto(f"{base}/demo/erin/1")
    page.wait_for_selector("#rows-src li.row")
    page.locator("#add-tgt").click()
    page.keyboard.type("h")
    page.wait_for_selector("#suggest-tgt li.opt")
    offered = page.locator("#suggest-tgt li.opt").all_text_contents()
    assert "hôtel" in offered and "hôpital" not in offered
    page.keyboard.press("Escape")
    # while the contexts panel is open, a word that does not fit beside its buttons has them under
    # it (at 1100 px even "doctor" does not): never squeezed letter by letter (issue 25)
    page.locator("#keyword").click()
    page.wait_for_selector("#ctx-list li")
    for word in (XSS_SCRIPT, "doctor"):
        row = w.row("src", word)
        wb, mb = row.locator("button.word").bounding_box(), row.locator(".marks").bounding_box()
        beside = mb["y"] < wb["y"] + wb["height"] and wb["y"] < mb["y"] + mb["height"]
        assert (mb["x"] >= wb["x"] + wb["width"] - 1) if beside else (mb["y"] >= wb["y"] + wb["height"] - 1), word
        assert wb["width"] >= min(row.bounding_box()["width"] - 20, 8 * len(word)), word  # not squeezed
    page.keyboard.press("Escape")

    # Finish while keywords remain: asks, says how many; "Keep going" stays
    page.get_by_role("button", name="Finish now").click()
    page.wait_for_selector("#finish-dialog[open]")
    # done: 1 (hospital, by Next); skipped: match; this page (hospital) is done already -> 3 left
    assert page.locator("#finish-text").text_content() == "3 keywords are still neither done nor skipped. Finish anyway?"
    page.get_by_role("button", name="Keep going").click()
    assert page.locator("#finish-dialog[open]").count() == 0 and page.url.endswith("/demo/erin/1")
    page.keyboard.press("f")
    page.wait_for_selector("#finish-dialog[open]")
    page.keyboard.press("Escape")                          # Esc = keep going
    assert page.locator("#finish-dialog[open]").count() == 0
    page.keyboard.press("f")
    page.get_by_role("button", name="Finish anyway").click()
    page.wait_for_url(f"{base}/demo/erin/done")
    rows = {r.keyword: r for r in read_feedback(server["tmp"] / "feedbacks" / "demo" / "erin.csv")}
    assert rows["match"].extra == {"skipped": "yes", "comment": "referee: sports only"}
    w.clean()
    w.ctx.close()


def test_tablet_touch_and_two_tabs(server, browser):
    """A tablet-sized page is usable by tapping; two tabs of one user do not corrupt each other."""
    base = server["url"]
    w = Watch(browser, viewport={"width": 820, "height": 1180}, has_touch=True, is_mobile=True)
    page = w.page
    page.goto(f"{base}/demo/bob/3")
    page.wait_for_selector("#rows-src li.row")
    box = w.row("src", "vote").get_by_role("button", name="✓ similar").bounding_box()
    assert box["height"] >= 36 and box["width"] >= 60  # big enough to tap
    w.row("src", "vote").get_by_role("button", name="✓ similar").tap()
    w.saved()
    other = w.ctx.new_page()
    other.goto(f"{base}/demo/bob/3")
    other.wait_for_selector("#rows-src li.row")
    other.locator("#rows-src li.row").filter(has=other.get_by_role("button", name="vote", exact=True)) \
        .get_by_role("button", name="✗ not similar").click()
    other.wait_for_function("() => document.body.dataset.saving === '0'")
    page.reload()
    page.wait_for_selector("#rows-src li.row")
    assert w.mark_of("src", "vote") == "neg"  # last action wins
    page.locator("#keyword").tap()
    page.wait_for_selector("#ctx-panel:not([hidden])")
    w.clean()
    w.ctx.close()


def test_rebound_name_is_refused_in_the_browser(server, browser):
    """evil.test resolves to 127.0.0.1 (as after DNS rebinding): the app refuses to serve it."""
    port = server["url"].rsplit(":", 1)[1]
    w = Watch(browser)
    r = w.page.goto(f"http://evil.test:{port}/demo/victim")
    assert r.status == 400 and "host" in w.page.content()
    # a script on the attacker's page cannot fetch a token or post an action either
    got = w.page.evaluate("""async () => {
        const a = await fetch('/api/csrf');
        const b = await fetch('/api/demo/victim/view', {method: 'POST', body: '{"page": 1}',
                              headers: {'Content-Type': 'application/json', 'X-CSRF-Token': 'x'}});
        return [a.status, b.status];
    }""")
    assert got == [400, 400]
    w.ctx.close()


def test_team_mode_invitation_in_the_browser(server, browser):
    from clime.webapp.access import new_token

    team = server["team"]
    with team["app"].extensions["clime"]["Session"]() as s, s.begin():
        token = new_token(s, "annotator", "demo", "carol")
    w = Watch(browser)
    page = w.page
    r = page.goto(f"{team['url']}/demo/dave")
    assert r.status == 403 and "invitation link" in page.content()
    w.errors.clear()  # the console's note about that 403
    page.goto(f"{team['url']}/demo/carol?token={token}")
    assert page.url == f"{team['url']}/demo/carol"  # the token left the address bar
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(f"{team['url']}/demo/carol/1")
    page.wait_for_selector("#rows-src li.row")
    w.saved()
    page.keyboard.press("a")
    w.saved()
    assert w.mark_of("src", "doctor") == "pos"
    assert w.ctx.request.get(f"{team['url']}/demo/dave/1").status == 403
    assert w.ctx.request.get(f"{team['url']}/api/demo/stats").status == 403
    w.clean()
    w.ctx.close()
