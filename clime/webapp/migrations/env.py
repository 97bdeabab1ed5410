"""Alembic environment of the annotation database.

Run through ``python app.py db upgrade`` (which passes an open connection), or with
the ``alembic`` command and the repository's ``alembic.ini``; the URL is then
``-x db=URL``, else ``$CLIME_DATABASE_URL``, else the default SQLite file.
"""

from alembic import context
from sqlalchemy import create_engine

from clime.webapp.db import Base

config = context.config
target_metadata = Base.metadata


def _url():
    url = context.get_x_argument(as_dictionary=True).get("db")
    if url:
        return url
    from clime.webapp import default_database_url

    return default_database_url()


def _configure(connection):
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite",  # SQLite: ALTER via table copies
                      compare_type=True)


def run_online():
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url())
    with engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_online()
