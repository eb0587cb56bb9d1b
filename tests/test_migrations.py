"""Migrations match the tables, run both ways, and SQLite runs with WAL, a busy timeout and foreign keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.app.db import async_url, downgrade, make_async_engine, make_sync_engine, sessions, sync_url, upgrade
from bot.store.actions import ActionLog, Click
from bot.store.tables import Base, Mute, Subscription
from tests.conftest import MODEL, PROD, sqlite_only
from tests.fakes import FakeBaseten, FakeSlack
from tests.world import World


def test_migrations_match_the_tables(db_url: str) -> None:
    engine = make_sync_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_downgrade_upgrade_on_an_empty_database(db_url: str) -> None:
    url = db_url  # already at head: go down to nothing and back up
    upgrade(url)
    downgrade(url, "base")
    engine = make_sync_engine(url)
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    upgrade(url)
    upgrade(url)  # idempotent: serve runs it on every start
    engine = make_sync_engine(url)
    assert {"subscriptions", "snapshots", "model_states", "transitions", "deliveries", "threads"} <= set(
        sa.inspect(engine).get_table_names()
    )
    engine.dispose()


@sqlite_only
async def test_sqlite_pragmas(db_url: str) -> None:
    engine = make_async_engine(db_url)
    async with engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 10000
        assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    await engine.dispose()


@pytest.mark.parametrize(
    ("raw", "sync", "aio"),
    [
        ("sqlite:///x.db", "sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:***@h:5432/d", "postgresql+psycopg://u:***@h:5432/d"),
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
    ],
)
def test_database_urls(raw: str, sync: str, aio: str) -> None:
    assert str(sync_url(raw)) == sync
    assert str(async_url(raw)) == aio


def test_bad_database_url() -> None:
    with pytest.raises(ValueError, match="DATABASE_URL"):
        sync_url("definitely not a url")


def test_a_subscriptions_mute_becomes_the_channels_mute_and_back(empty_db_url: str) -> None:
    url = empty_db_url
    upgrade(url, "0005")
    engine = make_sync_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO subscriptions (team_id, channel_id, model_id, model_name, target, target_name, kinds,"
                " thread, created_by, created_at, muted_until) VALUES ('T1', 'C1', 'm1', 'llama', 'd1', 'v3', '',"
                " TRUE, 'U1', '2026-11-27 09:00:00', '2026-11-27 11:00:00')"
            )
        )
    upgrade(url)
    at = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)
    with engine.connect() as conn:
        m = Mute.__table__.c
        rows = conn.execute(sa.select(m.team_id, m.channel_id, m.model_id, m.target, m.target_name, m.until))
        assert [tuple(r) for r in rows] == [("T1", "C1", "m1", "d1", "v3", at)]
    downgrade(url, "0005")
    with engine.connect() as conn:
        assert conn.execute(sa.select(Subscription.__table__.c.muted_until)).scalar() == at
    engine.dispose()


async def test_this_version_runs_with_the_unused_subscription_columns_dropped(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str
) -> None:
    """Issue 22: subscriptions.muted_until and last_delivered_at are unused. This version maps them no
    more, so the next migration can drop them during a rolling upgrade; here they are dropped and every
    subscription command and a poll still work."""
    engine = sa.create_engine(sync_url(db_url))
    with engine.begin() as conn:
        for column in ("muted_until", "last_delivered_at"):
            conn.exec_driver_sql(f"ALTER TABLE subscriptions DROP COLUMN {column}")
    engine.dispose()
    world = World(baseten, slack, db_url)
    try:
        for text in (f"subscribe {MODEL}", f"mute {MODEL} 1h", "list", f"unmute {MODEL}", f"unsubscribe {MODEL}"):
            message, _ = await world.command(text)
            assert ":warning:" not in json.dumps(message.blocks), (text, message.text)
        await world.command(f"subscribe {MODEL} production")
        baseten.set_status(MODEL, PROD, "UNHEALTHY")
        await world.cycle()
        report = await world.cycle()
        assert report.failed_models == 0 and [p["text"] for p in slack.posts()] == [
            "llama-3-8b / v3: ACTIVE → UNHEALTHY"
        ]
    finally:
        await world.close()


async def test_action_rows_of_replicas_before_0010_and_after_live_side_by_side(empty_db_url: str) -> None:
    """A rolling upgrade: replicas still on 0009 write their clicks without a card (before and after the
    migration ran, any number of them), while upgraded ones claim cards; neither gets in the other's way."""
    url = empty_db_url
    upgrade(url, "0009")
    engine = make_sync_engine(url)

    def old_replica_click(key: str) -> None:  # what bot/store/actions.py wrote before 0010
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO actions (dedupe_key, repeat, team_id, channel_id, user_id, message_ts, verb, model_id,"
                    " deployment_id, environment, requested_at) VALUES (:key, 1, 'T1', 'C1', 'U1', '1.2', 'retry',"
                    " 'm1', 'd1', 'production', '2026-12-01 10:00:00')"
                ),
                {"key": key},
            )

    old_replica_click("a" * 64)
    upgrade(url)
    old_replica_click("b" * 64)
    old_replica_click("c" * 64)
    aio = make_async_engine(url)
    log = ActionLog(sessions(aio))
    click = Click("T1", "C1", "U1", "1.2", "retry", "m1", "d1", "production")
    try:
        assert await log.claim(click, "0123456789abcdef") is not None
        assert await log.claim(click, "0123456789abcdef") is None
    finally:
        await aio.dispose()
    with engine.connect() as conn:
        cards = conn.execute(sa.text("SELECT card_id FROM actions ORDER BY id")).scalars().all()
    assert cards == [None, None, None, "0123456789abcdef"]
    engine.dispose()
