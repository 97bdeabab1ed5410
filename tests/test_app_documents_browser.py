"""The document page in a real browser (Playwright + Debian's /usr/bin/chromium), keys and mouse.

Skipped like tests/test_app_browser.py when the browser or playwright is missing.
"""

import json

import pytest

from clime.webapp.export import documents_path, feedback_path
from clime.webapp.testdata import XSS_SCRIPT, write_demo_documents
from test_app_browser import Watch, browser, server  # noqa: F401 - the shared fixtures

pytestmark = pytest.mark.browser


def test_annotator_labels_documents(server, browser):  # noqa: F811
    base = server["url"]
    write_demo_documents(server["tmp"] / "ui_data" / "demo")
    w = Watch(browser, viewport={"width": 1280, "height": 800})
    page = w.page
    page.goto(f"{base}/demo/carol")
    page.locator("#documents-link").click()
    page.wait_for_url(f"{base}/demo/carol/documents/1")
    assert page.locator("#docinfo").text_content().split() == ["Document", "1", "of", "5"]
    assert page.locator(".catbtn").count() == 4

    page.keyboard.press("2")                                  # doc 1: second category, then doc 2 opens
    page.wait_for_url(f"{base}/demo/carol/documents/2")
    assert XSS_SCRIPT in page.locator("#doc-text").text_content()  # shown as text
    assert page.locator("#labelledinfo").text_content() == "1 labelled"
    page.locator(".catbtn").nth(0).click()                    # mouse: doc 2 gets the first category
    page.wait_for_url(f"{base}/demo/carol/documents/3")
    page.keyboard.press("n")                                  # skip doc 3
    page.wait_for_url(f"{base}/demo/carol/documents/4")
    page.keyboard.press("p")
    page.wait_for_url(f"{base}/demo/carol/documents/3")
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(f"{base}/demo/carol/documents/2")
    assert page.locator(".catbtn").nth(0).get_attribute("aria-pressed") == "true"  # survives reloading
    page.keyboard.press("u")                                  # clear doc 2's label: stays on the page
    page.wait_for_function("() => document.querySelector('#save-status').textContent === 'All changes saved'"
                           " && document.querySelector('.catbtn.chosen') === null")
    assert page.locator("#labelledinfo").text_content() == "1 labelled"
    assert page.url == f"{base}/demo/carol/documents/2"
    page.keyboard.press("f")
    page.wait_for_url(f"{base}/demo/carol/documents/done")
    assert page.locator("#docs-labelled").text_content() == "1"
    rows = [json.loads(x) for x in
            documents_path(feedback_path(server["tmp"] / "feedbacks", "demo", "carol")).read_text(encoding="utf-8").splitlines()]
    assert rows == [{"id": 10, "text": ["l'", "hôpital", "a", "ouvert", "un", "nouveau", "service", "."], "label": 1}]
    w.clean()
    w.ctx.close()
