"""clear_db.py: confirmation, --yes, --task, --user, --backup."""

import re
import sqlite3

import pytest
from sqlalchemy import func, select

import clear_db
from clime import cli
from clime.webapp import create_app
from clime.webapp.db import Annotator, Event, Judgement, KeywordState
from clime.webapp.testdata import write_demo_task


@pytest.fixture()
def filled(tmp_path):
    ui = tmp_path / "ui"
    write_demo_task(ui, "demo")
    write_demo_task(ui, "other")
    url = f"sqlite:///{tmp_path / 'clime.db'}"
    application = create_app({"UI_DATA": str(ui), "INSTANCE_PATH": str(tmp_path / "inst"), "DATABASE_URL": url})
    for task, user in (("demo", "alice"), ("demo", "bob"), ("other", "alice")):
        c = application.test_client()
        tok = re.search(r'name="csrf-token" content="([^"]+)"', c.get(f"/{task}/{user}").text).group(1)
        h = {"X-CSRF-Token": tok}
        assert c.post(f"/api/{task}/{user}/view", json={"page": 1}, headers=h).status_code == 200
        body = {"page": 1, "lang": "src", "word": "doctor", "mark": "pos"}
        assert c.post(f"/api/{task}/{user}/mark", json=body, headers=h).status_code == 200
    return {"app": application, "url": url, "tmp": tmp_path}


def who(application):
    with application.extensions["clime"]["Session"]() as s:
        pairs = sorted((a.task, a.user) for a in s.scalars(select(Annotator)))
        rest = [s.scalar(select(func.count()).select_from(m)) for m in (Event, Judgement, KeywordState)]
    return pairs, rest


def test_clear_one_user_of_one_task(filled):
    assert clear_db.main(["--db", filled["url"], "--task", "demo", "--user", "alice", "--yes", "-q"]) == 0
    pairs, rest = who(filled["app"])
    assert pairs == [("demo", "bob"), ("other", "alice")]
    assert rest == [4, 2, 2]  # the rows of the others are intact


def test_clear_task_and_user_everywhere(filled):
    assert clear_db.main(["--db", filled["url"], "--user", "alice", "--yes", "-q"]) == 0
    assert who(filled["app"])[0] == [("demo", "bob")]
    assert clear_db.main(["--db", filled["url"], "--task", "demo", "--yes", "-q"]) == 0
    assert who(filled["app"]) == ([], [0, 0, 0])
    assert clear_db.main(["--db", filled["url"], "--yes", "-q"]) == 0  # nothing left: fine


def test_clear_everything_with_backup(filled):
    backup = filled["tmp"] / "backups" / "before.db"
    assert clear_db.main(["--db", filled["url"], "--yes", "--backup", str(backup), "-q"]) == 0
    assert who(filled["app"]) == ([], [0, 0, 0])
    con = sqlite3.connect(backup)
    assert con.execute("select count(*) from annotator").fetchone()[0] == 3
    assert con.execute("select count(*) from judgement").fetchone()[0] == 3
    con.close()


def test_confirmation(filled, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    assert clear_db.main(["--db", filled["url"], "-q"]) == 1
    assert len(who(filled["app"])[0]) == 3
    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "yes")
    assert clear_db.main(["--db", filled["url"], "--task", "other", "-q"]) == 0
    assert "1 annotator(s)" in asked[0] and "other/alice" in asked[0]
    assert who(filled["app"])[0] == [("demo", "alice"), ("demo", "bob")]


def test_refuses_without_terminal_or_yes(filled, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False, raising=False)
    with pytest.raises(SystemExit) as e:
        cli.run(clear_db.main, ["--db", filled["url"], "-q"])
    assert e.value.code == 2
    assert len(who(filled["app"])[0]) == 3


def test_bad_arguments(filled, tmp_path):
    for argv in (["--task", "../x"], ["--user", "a b"], ["--db", f"sqlite:///{tmp_path / 'missing.db'}"]):
        if "--db" not in argv:
            argv = argv + ["--db", filled["url"]]
        with pytest.raises(SystemExit) as e:
            cli.run(clear_db.main, argv + ["--yes", "-q"])
        assert e.value.code == 2
    assert not (tmp_path / "missing.db").exists()
    assert len(who(filled["app"])[0]) == 3
