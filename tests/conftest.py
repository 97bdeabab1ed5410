import os
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


import pytest  # noqa: E402


@pytest.fixture
def one_thread():
    """Tiny torch models: one thread is fastest (and not slowed by a busy shared CPU)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def db_url(tmp_path):
    """A fresh, empty database for one test: SQLite in tmp_path, or, when
    $CLIME_TEST_DB_URL names a PostgreSQL server (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5433/postgres``),
    a new database on it, dropped afterwards (.ci/run sets it)."""
    server = os.environ.get("CLIME_TEST_DB_URL")
    if not server:
        (tmp_path / "instance").mkdir(exist_ok=True)
        yield f"sqlite:///{tmp_path / 'instance' / 'clime.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"clime_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
