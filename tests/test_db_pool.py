"""The database connection pool: sized from DATABASE_POOL_SIZE, its waits in /metrics, and on
SQLite writers that take turns before they take a connection."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app.config import ConfigError, load_settings
from bot.app.db import make_async_engine, sessions
from bot.app.metrics import Metrics
from bot.app.runtime import Runtime
from bot.commands.subscriptions import Subscriptions
from bot.slack.app import OOPS, STORE_DOWN
from bot.store import Store
from bot.store import tables as t
from tests.conftest import MODEL, PROD, sqlite_only
from tests.fakes import FakeBaseten, FakeSlack
from tests.world import World


def _lease(name: str) -> t.Lease:
    return t.Lease(name=name, holder="test", expires_at=datetime(2026, 11, 27, tzinfo=UTC))


@sqlite_only
async def test_a_writer_waiting_for_sqlites_lock_holds_no_connection(db_url: str) -> None:
    """While one write transaction runs, another waits for its turn without a connection,
    so a read still finds one free, and the waiting writer then succeeds."""
    engine = make_async_engine(db_url, pool_size=2)
    factory = sessions(engine)
    store = Store(sessions(engine))  # another factory on the same engine: the same turns

    async def second_writer() -> None:
        async with factory.begin() as session:
            session.add(_lease("second"))

    try:
        async with factory.begin() as session:
            session.add(_lease("first"))
            await session.flush()  # this transaction now holds SQLite's write lock
            waiting = asyncio.create_task(second_writer())
            await asyncio.sleep(0.3)  # were it to take a connection, it would have one by now
            await store.ping()  # the pool's other connection is free
        await waiting  # its turn came once the first committed: no "database is locked"
    finally:
        await engine.dispose()
    sync = sa.create_engine(db_url)
    with sync.connect() as conn:
        assert {"first", "second"} <= set(conn.scalars(sa.select(t.Lease.name)))
    sync.dispose()


@sqlite_only
async def test_a_write_inside_a_write_is_an_error_not_a_hang(db_url: str) -> None:
    engine = make_async_engine(db_url)
    factory = sessions(engine)

    async def nested() -> None:
        async with factory.begin(), factory.begin():
            pass

    try:
        with pytest.raises(RuntimeError, match="wait for itself"):
            await asyncio.wait_for(nested(), timeout=30)  # a hang would fail, not stall the suite
    finally:
        await engine.dispose()


async def _hold_one_and_ask_again(engine: AsyncEngine) -> None:
    async with engine.connect() as held:
        await held.execute(sa.text("SELECT 1"))
        with pytest.raises(sa.exc.TimeoutError):
            async with engine.connect() as second:
                await second.execute(sa.text("SELECT 1"))


async def test_waits_and_timeouts_for_a_connection_are_in_metrics(db_url: str) -> None:
    metrics = Metrics()
    engine = make_async_engine(db_url, pool_size=1, watch=metrics.pool, pool_timeout=0.2)
    try:
        await _hold_one_and_ask_again(engine)
    finally:
        await engine.dispose()
    shown = metrics.render().decode()
    assert "baseten_bot_db_checkout_timeouts_total 1.0" in shown
    assert "baseten_bot_db_checkout_wait_seconds_count 2.0" in shown  # the one that got it, the one that gave up
    assert 'baseten_bot_db_checkout_wait_seconds_bucket{le="0.1"} 1.0' in shown  # the timeout waited 0.2 s


def test_database_pool_size_sizes_the_pool(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in [k for k in os.environ if k.startswith(("SLACK_", "BASETEN_", "DATABASE_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("BASETEN_API_KEY", "k")
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert load_settings().database_pool_size == 20  # the default
    monkeypatch.delenv("DATABASE_URL")
    assert load_settings().database_url == "sqlite:///baseten-bot.db"  # CONTRACT.md's default
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DATABASE_POOL_SIZE", "3")
    runtime = Runtime.build(load_settings())
    try:
        assert runtime.engine.sync_engine.pool.size() == 3  # type: ignore[attr-defined]
    finally:
        asyncio.run(runtime.aclose())
    monkeypatch.setenv("DATABASE_POOL_SIZE", "0")
    with pytest.raises(ConfigError, match="DATABASE_POOL_SIZE"):
        load_settings()


async def test_a_command_whose_database_fails_is_told_so(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A command that cannot get a connection in time (the pool held, as in a burst) is answered
    that the database did not answer, not "something went wrong", and logs no traceback."""
    world = World(baseten, slack, db_url)
    tiny = make_async_engine(db_url, pool_size=1, pool_timeout=0.2)
    world.store = Store(sessions(tiny), now=world.clock)
    world.subs = Subscriptions(client=world.client, store=world.store, now=world.clock, slack=world.slack)
    try:
        async with tiny.connect() as held:
            await held.execute(sa.text("SELECT 1"))
            for text in ("list", f"subscribe {MODEL} {PROD}"):
                message, kind = await world.command(text)
                assert kind == "ephemeral" and STORE_DOWN in message.text and OOPS not in message.text
    finally:
        await tiny.dispose()
        await world.close()
    assert "Traceback" not in caplog.text and "could not use the database: TimeoutError" in caplog.text
