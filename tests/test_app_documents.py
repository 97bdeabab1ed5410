"""The app's document page with Flask's test client: pages, saving, export, bad requests."""

import json
import re

import pytest
from sqlalchemy import func, select

from clime.webapp import create_app
from clime.webapp.export import documents_path, feedback_path
from clime.webapp.db import DocLabel, Event, delete_annotators, find_annotators
from clime.webapp.testdata import XSS_IMG, XSS_SCRIPT, write_demo_documents, write_demo_task


@pytest.fixture()
def env(tmp_path):
    ui = tmp_path / "ui_data"
    task_dir = write_demo_task(ui, "demo")
    write_demo_documents(task_dir)
    write_demo_task(ui, "nodocs")
    cfg = {"UI_DATA": str(ui), "INSTANCE_PATH": str(tmp_path / "instance"), "FEEDBACK_DIR": str(tmp_path / "feedbacks"),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'instance' / 'clime.db'}"}
    return {"app": create_app(cfg), "cfg": cfg, "tmp": tmp_path, "task_dir": task_dir}


class User:
    def __init__(self, application, task="demo", user="alice"):
        self.c = application.test_client()
        self.task, self.user = task, user
        page = self.c.get(f"/{task}/{user}")
        self.token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)

    def label(self, n, doc_id, label, token=True):
        headers = {"X-CSRF-Token": self.token} if token else {}
        return self.c.post(f"/api/{self.task}/{self.user}/documents/label", json={"n": n, "id": doc_id, "label": label},
                           headers=headers)

    def data(self, n):
        r = self.c.get(f"/{self.task}/{self.user}/documents/{n}")
        assert r.status_code == 200, r.text
        return json.loads(re.search(r'<script type="application/json" id="doc-data">(.*?)</script>', r.text, re.S).group(1))


def _jsonl(env, user="alice"):
    path = documents_path(feedback_path(env["tmp"] / "feedbacks", "demo", user))
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_start_page_links_the_documents_only_when_there_are_some(env):
    c = env["app"].test_client()
    r = c.get("/demo/alice")
    assert r.status_code == 200 and 'id="documents-link"' in r.text and "5 French documents" in r.text
    r = c.get("/nodocs/alice")
    assert r.status_code == 200 and "documents-link" not in r.text
    # the keyword summary page points to the documents too
    u = User(env["app"])
    u.c.post("/api/demo/alice/start", json={}, headers={"X-CSRF-Token": u.token})
    r = u.c.get("/demo/alice/done")
    assert r.status_code == 200 and "Label 5 documents" in r.text


def test_document_page_shows_escaped_text_categories_and_progress(env):
    c = env["app"].test_client()
    r = c.get("/demo/alice/documents")
    assert r.status_code == 302 and r.headers["Location"].endswith("/demo/alice/documents/1")
    r = c.get("/demo/alice/documents/2")
    assert r.status_code == 200
    assert XSS_SCRIPT not in r.text and "&lt;script&gt;" in r.text  # the document's tokens are escaped
    assert "<b onmouseover" not in r.text  # and so are category names
    assert r.text.count('data-index=') == 4 and "<kbd>4</kbd>" in r.text
    assert "Document <strong>2</strong> of 5" in r.text and "0 labelled" in r.text
    r = c.get("/demo/alice/documents/3")
    assert XSS_IMG not in r.text
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]


def test_each_label_is_saved_exported_and_survives_a_restart(env):
    u = User(env["app"])
    r = u.label(1, 10, 0)
    assert r.status_code == 200 and r.get_json() == {"ok": True, "n": 1, "label": 0, "labelled": 1, "written": True}
    assert _jsonl(env) == [{"id": 10, "text": ["l'", "hôpital", "a", "ouvert", "un", "nouveau", "service", "."],
                            "label": 0}]
    assert u.label(2, "d-11", 1).status_code == 200
    assert u.label(1, 10, 3).status_code == 200  # changed: last label wins
    rows = _jsonl(env)
    assert [(x["id"], x["label"]) for x in rows] == [(10, 3), ("d-11", 1)]
    assert u.data(1)["label"] == 3 and u.data(1)["labelled"] == 2
    # the start redirect goes to the first document without a label
    r = u.c.get("/demo/alice/documents")
    assert r.headers["Location"].endswith("/documents/3")
    # a restart (a new app on the same database) keeps everything
    again = create_app(env["cfg"])
    assert User(again).data(2)["label"] == 1
    r = again.test_client().get("/demo/alice/documents.jsonl")
    assert r.status_code == 200 and [json.loads(x) for x in r.text.splitlines()] == rows
    # clearing removes the document from the export
    assert u.label(2, "d-11", None).status_code == 200
    assert [x["id"] for x in _jsonl(env)] == [10]
    with env["app"].extensions["clime"]["Session"]() as s:
        assert s.scalar(select(func.count()).select_from(DocLabel)) == 1
        assert s.scalar(select(func.count()).select_from(Event).where(Event.action == "doc")) == 4
    # other users are separate
    User(env["app"], user="bob").label(5, 14, 0)
    assert [x["id"] for x in _jsonl(env, "bob")] == [14] and [x["id"] for x in _jsonl(env)] == [10]


def test_done_page_and_every_document_labelled(env):
    u = User(env["app"])
    for n, doc_id in enumerate([10, "d-11", 12, 13, 14], 1):
        assert u.label(n, doc_id, n % 2).status_code == 200
    r = u.c.get("/demo/alice/documents")
    assert r.headers["Location"].endswith("/demo/alice/documents/done")
    r = u.c.get("/demo/alice/documents/done")
    assert r.status_code == 200 and 'id="docs-labelled">5<' in r.text and "docs-download" in r.text
    assert len(_jsonl(env)) == 5


def test_clear_db_deletes_document_labels(env):
    u = User(env["app"])
    u.label(1, 10, 0)
    with env["app"].extensions["clime"]["Session"]() as s, s.begin():
        delete_annotators(s, [a.id for a in find_annotators(s, task="demo")])
    with env["app"].extensions["clime"]["Session"]() as s:
        assert s.scalar(select(func.count()).select_from(DocLabel)) == 0


@pytest.mark.parametrize("body,status", [
    ({"n": 1, "id": 10, "label": 4}, 400),          # outside the categories
    ({"n": 1, "id": 10, "label": -1}, 400),
    ({"n": 1, "id": 10, "label": True}, 400),
    ({"n": 1, "id": 10, "label": "health"}, 400),
    ({"n": 0, "id": 10, "label": 0}, 400),
    ({"n": 6, "id": 10, "label": 0}, 400),
    ({"n": "1", "id": 10, "label": 0}, 400),
    ({"n": 1, "id": 11, "label": 0}, 409),          # not the document shown as number 1
])
def test_bad_labels_are_4xx(env, body, status):
    u = User(env["app"])
    r = u.c.post("/api/demo/alice/documents/label", json=body, headers={"X-CSRF-Token": u.token})
    assert r.status_code == status and "error" in r.get_json()
    assert not documents_path(feedback_path(env["tmp"] / "feedbacks", "demo", "alice")).exists()


def test_csrf_and_bad_names(env):
    u = User(env["app"])
    assert u.label(1, 10, 0, token=False).status_code == 400
    r = u.c.post("/api/demo/alice/documents/label", json={"n": 1, "id": 10, "label": 0}, headers={"X-CSRF-Token": "x" * 40})
    assert r.status_code == 403
    r = u.c.post("/api/demo/alice/documents/label", data="not json", headers={"X-CSRF-Token": u.token})
    assert r.status_code == 400
    c = env["app"].test_client()
    assert c.get("/demo/alice/documents/0").status_code == 404
    assert c.get("/demo/alice/documents/6").status_code == 404
    assert c.get("/nodocs/alice/documents/1").status_code == 404
    assert c.get("/nope/alice/documents").status_code == 404
    assert c.get("/demo/bad user!/documents/1").status_code == 400
    assert c.post("/demo/alice/documents/1").status_code in (400, 405)  # pages take no POST


def test_broken_documents_file_is_503_not_500(env):
    (env["task_dir"] / "documents.json").write_text('{"categories": 3}', encoding="utf-8")
    r = env["app"].test_client().get("/demo/alice/documents/1")
    assert r.status_code == 503
