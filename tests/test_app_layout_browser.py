"""Issue 25, item 5: the layouts at a laptop width (1280 x 800) and a tablet width (820 x 1180),
measured in Chromium (nothing overflows its box, legend items do not overlap, words do not
break mid-word), the document text detokenised, and the Undo / Redo counts.

Skipped like tests/test_app_browser.py when the browser or playwright is missing.
"""

import json

import pytest

from clime.fileio import write_json
from clime.webapp import create_app
from clime.webapp.testdata import write_demo_documents, write_demo_task
from test_app_browser import CHROMIUM, Watch, need_browser, serve_in_thread

pytestmark = pytest.mark.browser
SIZES = [(1280, 800), (820, 1180)]
LONG_SRC = ["submarines", "oceanographers", "shipbuilding", "telecommunications", "navigation"]
LONG_TGT = ["sous-marins", "océanographes", "télécommunications", "constructions", "navigation"]
ADDED = "underwater"

# elements whose content is wider than their box
OVERFLOWING = """(sel) => [...document.querySelectorAll(sel)]
  .filter((e) => e.scrollWidth > e.clientWidth + 1)
  .map((e) => e.tagName + '.' + e.className + ': ' + e.textContent.trim().slice(0, 40))"""
# pairs of the given elements whose boxes overlap
OVERLAPPING = """(sel) => {
  const r = [...document.querySelectorAll(sel)].map((e) => [e.textContent.trim(), e.getBoundingClientRect()]);
  const out = [];
  for (let i = 0; i < r.length; i++) for (let j = i + 1; j < r.length; j++) {
    const [a, b] = [r[i][1], r[j][1]];
    if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1)
      out.push(r[i][0] + ' / ' + r[j][0]);
  }
  return out;
}"""
# words drawn on more than one line
BROKEN = """(sel) => [...document.querySelectorAll(sel)].filter((e) => {
  const range = document.createRange(); range.selectNodeContents(e);
  return new Set([...range.getClientRects()].map((x) => Math.round(x.top))).size > 1;
}).map((e) => e.textContent)"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    need_browser()
    tmp = tmp_path_factory.mktemp("layout")
    d = write_demo_task(tmp / "ui_data", "lay", categories=["science/technology", "health", "sports", "travel"],
                        hostile=False)
    setup = json.loads((d / "setup.json").read_text())
    kw = setup["keywords"][0]
    kw["src"] = [{"word": w, "sim": 0.9 - 0.05 * i} for i, w in enumerate(LONG_SRC)]
    kw["tgt"] = [{"word": w, "sim": 0.8 - 0.05 * i} for i, w in enumerate(LONG_TGT)]
    write_json(d / "setup.json", setup, indent=1)
    vocab = json.loads((d / "vocab_src.json").read_text()) + [[ADDED, 5]]
    write_json(d / "vocab_src.json", sorted(vocab))
    write_demo_documents(d, hostile=False)
    application = create_app({"UI_DATA": str(tmp / "ui_data"), "INSTANCE_PATH": str(tmp / "instance"),
                              "FEEDBACK_DIR": str(tmp / "fb"), "DATABASE_URL": f"sqlite:///{tmp / 'lay.db'}"})
    srv = serve_in_thread(application)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"])
        yield {"url": srv["url"], "browser": b}
        b.close()
    srv["stop"]()


def sized(site, width, height):
    return Watch(site["browser"], viewport={"width": width, "height": height})


def done(w, whole_page=True):
    """The page is no wider than the window, nothing went wrong in it; close it."""
    if whole_page:
        assert w.page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    w.clean()
    w.ctx.close()


@pytest.mark.parametrize("width,height", SIZES)
def test_start_page_legend(site, width, height):
    w = sized(site, width, height)
    w.page.goto(f"{site['url']}/lay/u{width}")
    assert w.page.evaluate(OVERLAPPING, "section.keys dl.keylist dt, section.keys dl.keylist dd") == []
    assert w.page.evaluate(OVERFLOWING, "dl.keylist > div, dl.keylist dt, dl.keylist dd, .box") == []
    done(w)


@pytest.mark.parametrize("width,height", SIZES)
def test_keyword_page_with_contexts_and_an_added_word(site, width, height):
    w = sized(site, width, height)
    page = w.page
    page.goto(f"{site['url']}/lay/k{width}/1")
    page.wait_for_selector("#rows-src li.row")
    page.locator("#add-src").fill(ADDED[:5])
    page.wait_for_selector("#suggest-src li.opt")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#rows-src li.row:has(button.word:text-is('{ADDED}'))")
    page.keyboard.press("Escape")
    w.row("src", "submarines").get_by_role("button", name="submarines").click()  # opens the contexts
    page.wait_for_selector("#ctx-panel:not([hidden])")
    w.saved()
    words = "li.row button.word"
    assert sorted(page.locator(words).all_text_contents()) == sorted(LONG_SRC + [ADDED] + LONG_TGT)
    assert page.evaluate(BROKEN, words) == []
    assert page.evaluate(OVERFLOWING, "li.row, li.row .marks, .col, .pager, .page, dl.keylist > div") == []
    assert page.evaluate(OVERLAPPING, "details.keys dl.keylist dt, details.keys dl.keylist dd") == []
    # the columns are not under the contexts panel on a laptop; on a tablet it is a bottom sheet
    if width >= 1100:
        panel = page.locator("#ctx-panel").bounding_box()
        col = page.locator("#col-tgt").bounding_box()
        assert col["x"] + col["width"] <= panel["x"] + 1
    done(w)


def test_undo_redo_buttons_show_their_counts(site):
    w = sized(site, 1280, 800)
    page = w.page
    page.goto(f"{site['url']}/lay/counts/1")
    page.wait_for_selector("#rows-src li.row")
    counts = lambda: (page.locator("#undo").text_content().split(), page.locator("#redo").text_content().split())  # noqa: E731
    assert counts() == (["↶", "Undo", "0"], ["↷", "Redo", "0"])
    for key in ("a", "j", "x", "j", "a"):
        page.keyboard.press(key)
    w.saved()
    assert counts() == (["↶", "Undo", "3"], ["↷", "Redo", "0"])
    page.locator("#undo").click()
    page.locator("#undo").click()
    page.wait_for_function("() => document.getElementById('redo-count').textContent === '2'")
    w.saved()
    assert counts() == (["↶", "Undo", "1"], ["↷", "Redo", "2"])
    page.reload()
    page.wait_for_selector("#rows-src li.row")
    assert counts() == (["↶", "Undo", "1"], ["↷", "Redo", "2"])  # the server's counts
    done(w, whole_page=False)


@pytest.mark.parametrize("width,height", SIZES)
def test_documents_page_and_summary(site, width, height):
    w = sized(site, width, height)
    page = w.page
    user = f"d{width}"
    page.goto(f"{site['url']}/lay/{user}/documents/1")
    assert page.locator("#doc-text").text_content() == "l'hôpital a ouvert un nouveau service."
    page.goto(f"{site['url']}/lay/{user}/documents/2")
    assert page.locator("#doc-text").text_content() == "le match s'est terminé par un but"
    page.keyboard.press("1")
    page.wait_for_url(f"{site['url']}/lay/{user}/documents/3")
    page.goto(f"{site['url']}/lay/{user}/documents/done")
    assert "science/technology" in page.locator("#doc-summary").text_content()
    assert page.evaluate(OVERFLOWING, "dl.summary > div, dl.summary dt, dl.summary dd, .actions") == []
    assert page.evaluate(OVERLAPPING, "dl.summary > div") == []
    done(w)
