"""Alembic environment: the URL comes from the caller (bot.app.db) or DATABASE_URL, never from alembic.ini."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.app.db import make_sync_engine
from bot.store.tables import Base

config = context.config
url = config.attributes.get("database_url") or os.environ.get("DATABASE_URL", "sqlite:///baseten-bot.db")
target_metadata = Base.metadata


def run_offline() -> None:
    from bot.app.db import sync_url

    context.configure(
        url=sync_url(url).render_as_string(hide_password=False),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_sync_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


MIGRATION_LOCK = 727_274  # any constant: replicas starting together migrate one at a time


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        connection.commit()
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
        connection.commit()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
