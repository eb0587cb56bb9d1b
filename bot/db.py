"""Database URLs, engines and migrations: SQLite (WAL, busy timeout, foreign keys) or PostgreSQL."""

from __future__ import annotations

import contextlib
import fcntl
import importlib.resources
import logging
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

log = logging.getLogger(__name__)
SQLITE_BUSY_MS = 10_000


def _url(raw: str) -> URL:
    """Accepts `postgres://` and plain `postgresql://`, as hosting platforms hand them out."""
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://") :]
    try:
        return make_url(raw)
    except Exception:  # noqa: BLE001 - every unparsable URL is the same configuration error
        raise ValueError("DATABASE_URL: not a valid database URL") from None


def async_url(raw: str) -> URL:
    url = _url(raw)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    if backend == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    return url


def sync_url(raw: str) -> URL:
    url = _url(raw)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return url.set(drivername="sqlite")
    if backend == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_async_engine(raw: str) -> AsyncEngine:
    url = async_url(raw)
    kwargs: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=5)
    engine = create_async_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def make_sync_engine(raw: str) -> Engine:
    url = sync_url(raw)
    engine = sa.create_engine(url)
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def sessions(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(raw_url: str) -> Config:
    """An Alembic config pointing at the migrations shipped inside the package."""
    config = Config()
    config.set_main_option("script_location", str(importlib.resources.files("bot_migrations")))
    config.attributes["database_url"] = raw_url
    return config


def upgrade(raw_url: str, revision: str = "head") -> None:
    """Applies migrations up to `revision`; safe on every start, and from several replicas at once
    (PostgreSQL: an advisory lock in migrations/env.py; a SQLite file: a lock file beside it)."""
    with _sqlite_file_lock(raw_url):
        command.upgrade(alembic_config(raw_url), revision)


@contextlib.contextmanager
def _sqlite_file_lock(raw_url: str) -> Iterator[None]:
    url = sync_url(raw_url)
    path = url.database if url.get_backend_name() == "sqlite" else None
    if not path or path == ":memory:":
        yield
        return
    with open(f"{path}.migrate-lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def downgrade(raw_url: str, revision: str) -> None:
    command.downgrade(alembic_config(raw_url), revision)
