#!/usr/bin/env python3
"""Screenshots of the annotation app for the README (docs/app_*.png).

Runs the app on a free loopback port with a fresh database, on ui_data/example when it
exists (else a small synthetic task), and drives Debian's /usr/bin/chromium with Playwright:
  python scripts/screenshots.py [--task example] [--out docs]
  python scripts/screenshots.py --documents-only   # docs/app_documents.png (the task needs documents.json)
"""

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clime.webapp import create_app  # noqa: E402
from clime.webapp.testdata import write_demo_documents, write_demo_task  # noqa: E402


# the contexts panel has its sentences (or says there are none), not "Loading..."
CONTEXTS_SHOWN = """() => document.querySelector('#ctx-list li') !== null
  || !/Loading/.test(document.getElementById('ctx-note').textContent)"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--task", default="example")
    ap.add_argument("--out", default=str(ROOT / "docs"))
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--ui-data", default=str(ROOT / "ui_data"), help="folder holding the task folders")
    ap.add_argument("--documents-only", action="store_true", help="only the document page (app_documents.png)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    from clime.webapp.server import Background

    tmp = Path(tempfile.mkdtemp(prefix="clime_shots_"))
    ui, task = Path(args.ui_data), args.task
    if not (ui / task / "setup.json").exists():
        ui, task = tmp / "ui_data", "demo"
        write_demo_documents(write_demo_task(ui, task, hostile=False), hostile=False)
    app = create_app({"UI_DATA": str(ui), "INSTANCE_PATH": str(tmp / "instance"), "FEEDBACK_DIR": str(tmp / "fb")})
    srv = Background(app)
    base = srv.url
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=args.chromium,
                              args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"])
        ctx = b.new_context(viewport={"width": 1366, "height": 860}, device_scale_factor=1)
        page = ctx.new_page()
        if (ui / task / "documents.json").exists():
            # another annotator: a label would turn alice's Start button (app_start.png) into Resume
            page.goto(f"{base}/{task}/dana/documents/1")
            page.keyboard.press("3")  # label the first document: the second one opens
            page.wait_for_url(f"{base}/{task}/dana/documents/2")
            page.set_viewport_size({"width": 1100, "height": 620})
            page.screenshot(path=str(out / "app_documents.png"))
            page.set_viewport_size({"width": 1366, "height": 860})
            print(out / "app_documents.png")
        if args.documents_only:
            b.close()
            srv.stop()
            return 0
        page.goto(f"{base}/{task}/alice")
        page.set_viewport_size({"width": 1366, "height": 1040})
        page.screenshot(path=str(out / "app_start.png"))
        page.set_viewport_size({"width": 1366, "height": 860})
        page.get_by_role("button", name="Start").click()
        page.wait_for_url(f"{base}/{task}/alice/1")
        page.wait_for_selector("#rows-src li.row")
        # a few judgements with the keyboard, an added word, a concordance
        for key in ("a", "j", "a", "j", "x", "ArrowRight", "a", "k", "a"):
            page.keyboard.press(key)
        vocab_word = None
        for prefix in ("sa", "ma", "po", "e", "a"):
            page.locator("#add-tgt").fill(prefix)
            page.wait_for_timeout(300)
            if page.locator("#suggest-tgt li.opt").count():
                vocab_word = page.locator("#suggest-tgt li.opt").first.text_content()
                break
        if vocab_word:
            page.keyboard.press("Enter")
            page.wait_for_timeout(300)
        page.locator("#keyword").click()
        page.wait_for_function(CONTEXTS_SHOWN)
        page.wait_for_timeout(300)
        page.mouse.move(0, 0)
        page.screenshot(path=str(out / "app_keyword.png"))
        page.keyboard.press("Escape")
        tab = b.new_context(viewport={"width": 820, "height": 1180}, has_touch=True, is_mobile=True,
                            device_scale_factor=1)
        tp = tab.new_page()
        tp.goto(f"{base}/{task}/alice/1")
        tp.wait_for_selector("#rows-src li.row")
        tp.locator("#rows-tgt button.word").first.tap()
        tp.wait_for_function(CONTEXTS_SHOWN)
        tp.wait_for_timeout(300)
        tp.screenshot(path=str(out / "app_tablet.png"))
        tab.close()
        page.keyboard.press("n")
        page.wait_for_url(f"{base}/{task}/alice/2")
        page.wait_for_selector("#rows-src li.row")
        page.keyboard.press("a")
        # the controls: a comment, one keyword skipped and the undo / redo steps
        page.locator("#comment").fill("ambiguous: depends on the context")
        page.keyboard.press("Escape")
        page.wait_for_timeout(500)
        page.keyboard.press("j")
        page.keyboard.press("x")
        page.keyboard.press("Control+z")
        page.wait_for_timeout(400)
        page.mouse.move(0, 0)
        box = page.locator("nav.pager").bounding_box()
        top = page.locator("#comment").bounding_box()
        if box and top:
            y0 = max(0, top["y"] - 40)
            page.screenshot(path=str(out / "app_controls.png"),
                            clip={"x": 0, "y": y0, "width": 1366, "height": box["y"] + box["height"] + 16 - y0})
        page.keyboard.press("f")
        page.wait_for_selector("#finish-yes", state="visible")
        page.locator("#finish-yes").click()
        page.wait_for_url(f"{base}/{task}/alice/done")
        page.set_viewport_size({"width": 1366, "height": 560})
        page.screenshot(path=str(out / "app_done.png"))
        # two more annotators, so that the owner's page shows agreement
        for user, keys in (("bob", ("a", "j", "a", "j", "x", "ArrowRight", "a", "n", "a", "j", "x")),
                           ("carol", ("a", "j", "x", "j", "x", "ArrowRight", "a", "n", "s"))):
            other = ctx.new_page()
            other.goto(f"{base}/{task}/{user}/1")
            other.wait_for_selector("#rows-src li.row")
            for key in keys:
                other.keyboard.press(key)
                if key in ("n", "s"):
                    other.wait_for_selector("#rows-src li.row")
            other.wait_for_timeout(500)
            other.close()
        page.goto(f"{base}/owner/{task}")
        page.wait_for_selector("#alpha")
        page.set_viewport_size({"width": 1366, "height": 700})
        page.screenshot(path=str(out / "app_owner.png"), full_page=True)
        b.close()
    srv.stop()
    for name in ("app_start", "app_keyword", "app_tablet", "app_controls", "app_done", "app_owner"):
        print(out / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
