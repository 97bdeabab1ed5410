"""The annotation web app (Flask + SQLAlchemy): ``create_app(config)`` builds it.

Config keys (all optional): ``UI_DATA`` (task directories, default ``<repo>/ui_data``),
``FEEDBACK_DIR`` (default ``<repo>/feedbacks``), ``DATABASE_URL`` (default env
``CLIME_DATABASE_URL``, else ``sqlite:///<instance>/clime.db``), ``INSTANCE_PATH``
(default ``<repo>/instance``: the secret key and the default database live there),
``SECRET_KEY`` (tests only; normally a random key created once in ``instance/secret_key``),
``MAX_CONTENT_LENGTH`` (bytes of a request body, default 16 KiB), ``ACCESS`` (``"local"``,
the default: whoever reaches the port may open everything; ``"team"``: invitation tokens,
see ``access``), ``ALLOWED_HOSTS`` (host names served; default the loopback names).
The instance folder is created 0700, the secret key and an SQLite database 0600.
"""

import logging
import os
import secrets
import threading
from pathlib import Path

from flask import Flask

from ..fileio import private_dir
from .db import make_engine, make_sessionmaker, warn_if_readable
from .taskdata import TaskCache

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger(__name__)


def default_instance():
    return Path(os.environ.get("CLIME_INSTANCE") or ROOT / "instance")


def default_database_url(instance=None):
    url = os.environ.get("CLIME_DATABASE_URL")
    if url:
        return url
    instance = Path(instance or default_instance()).resolve()
    return f"sqlite:///{instance / 'clime.db'}"


def load_secret_key(path):
    """The secret key kept in ``path``; created (random, mode 0600) the first time.
    An existing key that other users can read is used, with a warning."""
    path = Path(path)
    if path.parent.is_dir():
        warn_if_readable(path.parent, "instance folder")
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        warn_if_readable(path, "secret key file")
        key = path.read_text(encoding="ascii").strip()
        if len(key) >= 32:
            return key
        raise RuntimeError(f"{path}: secret key too short; delete the file to make a new one") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key


def create_app(config=None):
    config = dict(config or {})
    instance = Path(config.pop("INSTANCE_PATH", None) or default_instance()).resolve()
    app = Flask(__name__, instance_path=str(instance), template_folder=str(ROOT / "templates"),
                static_folder=str(ROOT / "static"))
    app.config.update(
        UI_DATA=str(ROOT / "ui_data"),
        FEEDBACK_DIR=str(ROOT / "feedbacks"),
        DATABASE_URL=None,
        MAX_CONTENT_LENGTH=16 * 1024,
        MAX_FORM_MEMORY_SIZE=16 * 1024,
        SESSION_COOKIE_NAME="clime_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=30 * 24 * 3600,
        ACCESS="local",
        ALLOWED_HOSTS=None,
    )
    app.config.update(config)
    app.config["DEBUG"] = False
    app.debug = False
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = default_database_url(instance)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_secret_key(instance / "secret_key")
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["clime"] = {
        "engine": engine,
        "Session": make_sessionmaker(engine),
        "tasks": TaskCache(app.config["UI_DATA"]),
        # SQLite has one writer at a time: queue this process's writers on a lock
        "write_lock": threading.Lock() if engine.dialect.name == "sqlite" else None,
    }
    from . import documents, views

    views.init_app(app)
    app.register_blueprint(documents.bp)
    return app
