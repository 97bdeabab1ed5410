"""Schema versions (Alembic): a new database is created at the newest revision, an older one
is refused with the command that upgrades it, and the upgrade keeps every row.

Runs on SQLite, and on PostgreSQL when $CLIME_TEST_DB_URL is set (.ci/run)."""

import os

import pytest
from sqlalchemy import create_engine, func, select, text

import app as app_script
from clime import cli
from clime.errors import ClimeError
from clime.webapp import create_app, schema
from clime.webapp.db import Annotator, Base, Event, Judgement, KeywordState, make_engine
from clime.webapp.testdata import write_demo_task

# The schema of commit 9d70c02 (the last one without migrations), as its create_all made it.
LEGACY_DDL = [
    """CREATE TABLE annotator (id INTEGER NOT NULL, task VARCHAR(64) NOT NULL, "user" VARCHAR(64) NOT NULL,
       created FLOAT NOT NULL, last_seen FLOAT NOT NULL, page INTEGER NOT NULL, finished FLOAT,
       PRIMARY KEY (id), CONSTRAINT uq_annotator_task_user UNIQUE (task, "user"))""",
    """CREATE TABLE keyword_state (id INTEGER NOT NULL, annotator_id INTEGER NOT NULL, keyword TEXT NOT NULL,
       opened FLOAT NOT NULL, changed FLOAT NOT NULL, done BOOLEAN NOT NULL, PRIMARY KEY (id),
       CONSTRAINT uq_keyword_state UNIQUE (annotator_id, keyword),
       FOREIGN KEY(annotator_id) REFERENCES annotator (id) ON DELETE CASCADE)""",
    """CREATE TABLE judgement (id INTEGER NOT NULL, annotator_id INTEGER NOT NULL, keyword TEXT NOT NULL,
       lang VARCHAR(3) NOT NULL, word TEXT NOT NULL, mark VARCHAR(3), added BOOLEAN NOT NULL,
       changed FLOAT NOT NULL, PRIMARY KEY (id), CONSTRAINT uq_judgement UNIQUE (annotator_id, keyword, lang, word),
       FOREIGN KEY(annotator_id) REFERENCES annotator (id) ON DELETE CASCADE)""",
    """CREATE TABLE event (id INTEGER NOT NULL, annotator_id INTEGER NOT NULL, ts FLOAT NOT NULL,
       action VARCHAR(16) NOT NULL, page INTEGER, keyword TEXT, lang VARCHAR(3), word TEXT, value VARCHAR(16),
       PRIMARY KEY (id), FOREIGN KEY(annotator_id) REFERENCES annotator (id) ON DELETE CASCADE)""",
    "CREATE INDEX ix_event_annotator_ts ON event (annotator_id, ts)",
]


def make_legacy(url):
    """A database as 9d70c02 left it: two annotators with keyword states, judgements, events."""
    eng = create_engine(url)
    with eng.begin() as c:
        for ddl in LEGACY_DDL:
            c.execute(text(ddl))
        c.execute(text('INSERT INTO annotator (id, task, "user", created, last_seen, page, finished) VALUES '
                       "(1, 'demo', 'alice', 1.0, 5.0, 2, NULL), (2, 'demo', 'bob', 2.0, 6.0, 1, 6.0)"))
        c.execute(text("INSERT INTO keyword_state (id, annotator_id, keyword, opened, changed, done) VALUES "
                       "(1, 1, 'doctor', 1.0, 3.0, TRUE), (2, 1, 'football', 3.0, 4.0, FALSE), "
                       "(3, 2, 'doctor', 2.0, 5.0, TRUE)"))
        c.execute(text("INSERT INTO judgement (id, annotator_id, keyword, lang, word, mark, added, changed) VALUES "
                       "(1, 1, 'doctor', 'src', 'nurse', 'pos', FALSE, 2.0), "
                       "(2, 1, 'doctor', 'tgt', 'médecin', 'pos', TRUE, 2.5), "
                       "(3, 2, 'doctor', 'src', 'nurse', 'neg', FALSE, 5.0)"))
        c.execute(text("INSERT INTO event (id, annotator_id, ts, action, page, keyword, lang, word, value) VALUES "
                       "(1, 1, 1.0, 'start', 1, NULL, NULL, NULL, NULL), "
                       "(2, 1, 2.0, 'mark', 1, 'doctor', 'src', 'nurse', 'pos'), "
                       "(3, 1, 2.5, 'add', 1, 'doctor', 'tgt', 'médecin', 'pos'), "
                       "(4, 2, 5.0, 'mark', 1, 'doctor', 'src', 'nurse', 'neg'), "
                       "(5, 2, 6.0, 'finish', 1, 'doctor', NULL, NULL, NULL)"))
    eng.dispose()


def rows(url):
    eng = create_engine(url)
    with eng.connect() as c:
        out = {t: sorted(tuple(r) for r in c.execute(text(f"SELECT * FROM {t}")))
               for t in ("annotator", "keyword_state", "judgement", "event")}
    eng.dispose()
    return out


def test_new_database_is_at_head_and_matches_the_models(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    eng = make_engine(db_url)
    with eng.connect() as c:
        assert schema.current(c) == schema.head()
        diff = compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata)
    eng.dispose()
    assert diff == [], f"the migrations and clime/webapp/db.py disagree: {diff}"


def test_legacy_database_refused_then_upgraded_without_losing_rows(db_url, tmp_path, capsys):
    make_legacy(db_url)
    before = rows(db_url)
    with pytest.raises(ClimeError) as err:
        make_engine(db_url)
    assert "python app.py db upgrade" in str(err.value) and "before schema versions" in str(err.value)
    # the app refuses to start, with the same message
    ui = tmp_path / "ui"
    write_demo_task(ui, "demo")
    with pytest.raises(ClimeError, match="db upgrade"):
        create_app({"UI_DATA": str(ui), "INSTANCE_PATH": str(tmp_path / "inst"), "DATABASE_URL": db_url})
    with pytest.raises(SystemExit) as exit_:
        cli.run(app_script.main, ["stats", "--task", "demo", "--db", db_url, "-q"])
    assert exit_.value.code == 2
    assert "python app.py db upgrade" in capsys.readouterr().err
    assert rows(db_url) == before  # refusing changed nothing

    assert app_script.main(["db", "upgrade", "--db", db_url, "-q"]) == 0
    after = rows(db_url)
    for table, old in before.items():
        assert len(after[table]) == len(old)
        n = len(old[0])
        assert [r[:n] for r in after[table]] == old, table  # old columns unchanged, new ones appended
    eng = make_engine(db_url)
    with eng.connect() as c:
        assert schema.current(c) == schema.head()
    with eng.connect() as c:
        ks = c.execute(select(KeywordState.skipped, KeywordState.comment)).all()
        assert ks and all(s is False and cm is None for s, cm in ks)
        assert c.execute(select(func.count()).select_from(Event).where(Event.undo.is_not(None))).scalar() == 0
    eng.dispose()
    # the upgraded database serves the old work
    application = create_app({"UI_DATA": str(ui), "INSTANCE_PATH": str(tmp_path / "inst"), "DATABASE_URL": db_url})
    assert application.test_client().get("/demo/alice/1").status_code == 200
    from clime.webapp.stats import task_stats

    with application.extensions["clime"]["Session"]() as s:
        users = {u["user"]: u for u in task_stats(s, "demo")["users"]}
    assert users["alice"]["judgements"] == 2 and users["alice"]["added"] == 1 and users["bob"]["finished"]
    assert app_script.main(["db", "upgrade", "--db", db_url, "-q"]) == 0  # a second upgrade: nothing to do


def test_older_revision_refused_and_upgraded(db_url):
    eng = create_engine(db_url)
    with eng.begin() as c:
        from alembic import command

        command.upgrade(schema.alembic_config(c), schema.FIRST)
    eng.dispose()
    with pytest.raises(ClimeError, match=r"revision 0001.*python app\.py db upgrade"):
        make_engine(db_url)
    before, after = schema.upgrade(create_engine(db_url))
    assert (before, after) == ("0001", schema.head())
    make_engine(db_url).dispose()


def test_newer_revision_refused(db_url):
    make_engine(db_url).dispose()
    eng = create_engine(db_url)
    with eng.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    eng.dispose()
    with pytest.raises(ClimeError, match="newer than this CLIME"):
        make_engine(db_url)
    assert make_engine(db_url, prepare_schema=False) is not None


def test_db_command_current_and_history(db_url, capsys):
    assert app_script.main(["db", "current", "--db", db_url, "-q"]) == 0
    assert capsys.readouterr().out.startswith("empty")
    assert app_script.main(["db", "upgrade", "--db", db_url, "-q"]) == 0
    assert app_script.main(["db", "current", "--db", db_url, "-q"]) == 0
    assert capsys.readouterr().out.strip() == f"{schema.head()} (newest)"
    assert app_script.main(["db", "history", "-q"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("0001 ") and out[-1].startswith(schema.head())


def test_revision_chain_is_linear():
    """One head, each revision revising the one before: a second head means two branches
    added revisions in parallel (renumber the later one's down_revision)."""
    from alembic.script import ScriptDirectory

    sd = ScriptDirectory.from_config(schema.alembic_config())
    assert len(sd.get_heads()) == 1
    revs = schema.revisions()
    assert revs[0][0] == schema.FIRST
    for (prev, _), (rev, _) in zip(revs, revs[1:]):
        assert sd.get_revision(rev).down_revision == prev


def test_ci_runs_on_postgres_when_required(db_url):
    if os.environ.get("CLIME_REQUIRE_POSTGRES"):
        assert db_url.startswith("postgresql"), "CLIME_REQUIRE_POSTGRES is set but the tests run on SQLite"
    eng = make_engine(db_url)
    assert eng.dialect.name == ("postgresql" if os.environ.get("CLIME_TEST_DB_URL") else "sqlite")
    eng.dispose()
