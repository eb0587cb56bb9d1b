"""Database URLs, engines, sessions and migrations: SQLite (WAL, busy timeout, foreign keys) or PostgreSQL.

Connections are a pool of `DATABASE_POOL_SIZE`; a caller waits for one at most
`POOL_TIMEOUT` seconds, and how long it waited is reported (`/metrics`). On SQLite,
write transactions take turns inside the process before they take a connection,
so that none holds a pooled connection while it waits for SQLite's one write lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import importlib.resources
import logging
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry

log = logging.getLogger(__name__)
SQLITE_BUSY_MS = 10_000
# Connections one process may hold at once (DATABASE_POOL_SIZE): the notifier's parallel
# channels (16), the poller, the lease and /healthz (one each), and room for commands.
# Measured with the burst of tests/test_burst_e2e.py (1,000 subscribes) on PostgreSQL: with
# 10 connections 68 of 2,009 waits for one took over 10 s; with 20, none took over 5 s.
DEFAULT_POOL_SIZE = 20
POOL_TIMEOUT = 30.0  # seconds a caller waits for a connection before its work fails


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


class PoolWatch(Protocol):
    """What the pool reports: each wait for a connection, and each wait that timed out."""

    def waited(self, seconds: float) -> None:
        """After every checkout: the seconds the caller waited (opening a new connection included)."""

    def timed_out(self) -> None:
        """When a caller gave up waiting (after POOL_TIMEOUT, unless the engine says otherwise)."""


class _Unwatched:
    def waited(self, seconds: float) -> None:
        pass

    def timed_out(self) -> None:
        pass


def _timed_pool(watch: PoolWatch) -> type[AsyncAdaptedQueuePool]:
    """The pool class, timing each checkout. (Pool events fire only once a connection is
    handed out, so they cannot tell how long the caller waited for it.)"""

    class TimedPool(AsyncAdaptedQueuePool):
        def _do_get(self) -> ConnectionPoolEntry:
            started = time.monotonic()
            try:
                entry = super()._do_get()
            except PoolTimeout:
                watch.timed_out()
                raise
            finally:
                watch.waited(time.monotonic() - started)
            return entry

    return TimedPool


def make_async_engine(
    raw: str,
    *,
    pool_size: int = DEFAULT_POOL_SIZE,
    watch: PoolWatch | None = None,
    pool_timeout: float = POOL_TIMEOUT,
) -> AsyncEngine:
    url = async_url(raw)
    kwargs: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        kwargs.update(pool_pre_ping=True)
    if url.database not in (None, "", ":memory:"):  # an in-memory SQLite database is one connection
        kwargs.update(
            poolclass=_timed_pool(watch or _Unwatched()),
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=pool_timeout,
        )
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


class _Turns:
    """SQLite's write lock, taken in turn by this process's tasks, first come first served."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None and task is self._holder:
            raise RuntimeError("a write transaction inside another one would wait for itself")
        async with self._lock:
            self._holder = task
            try:
                yield
            finally:
                self._holder = None


_TURNS: weakref.WeakKeyDictionary[Engine, _Turns] = weakref.WeakKeyDictionary()


class Sessions(async_sessionmaker[AsyncSession]):
    """The session factory. On SQLite, `begin()` (every write transaction) first waits for
    its turn, then takes a connection: SQLite has one write lock, and a transaction that
    waits for it inside SQLite (busy_timeout) holds a pooled connection all the while.
    A burst of commands then emptied the pool (issue 11)."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine, expire_on_commit=False)
        self._turns = _TURNS.setdefault(engine.sync_engine, _Turns()) if engine.dialect.name == "sqlite" else None

    def begin(self) -> Any:
        if self._turns is None:
            return super().begin()
        return self._begin_in_turn(self._turns)

    @contextlib.asynccontextmanager
    async def _begin_in_turn(self, turns: _Turns) -> AsyncIterator[AsyncSession]:
        async with turns.turn(), super().begin() as session:
            yield session


def sessions(engine: AsyncEngine) -> Sessions:
    """Sessions on `engine`; every factory on one engine shares its SQLite turns."""
    return Sessions(engine)


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
