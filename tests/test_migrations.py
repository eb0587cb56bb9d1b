"""Migrations match the tables, run both ways, and SQLite runs with WAL, a busy timeout and foreign keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bot.app.db import async_url, downgrade, make_async_engine, make_sync_engine, sessions, sync_url, upgrade
from bot.store.actions import ActionLog, Click
from bot.store.tables import Base, Mute, UTCDateTime
from tests.conftest import sqlite_only


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
        muted_until = sa.column("muted_until", UTCDateTime())  # no longer in the tables: 0012 dropped it
        assert conn.execute(sa.select(muted_until).select_from(sa.table("subscriptions"))).scalar() == at
    engine.dispose()


UNUSED = ("muted_until", "last_delivered_at")  # subscriptions' columns that migration 0012 drops


def _subscription_columns(engine: sa.Engine) -> dict[str, bool]:
    return {c["name"]: bool(c["nullable"]) for c in sa.inspect(engine).get_columns("subscriptions")}


def _a_subscription_and_its_delivery(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO subscriptions (id, team_id, channel_id, model_id, model_name, target, target_name,"
                " kinds, thread, created_by, created_at, muted_until, last_delivered_at) VALUES (7, 'T1', 'C1',"
                " 'm1', 'llama', '*', '', '', TRUE, 'U1', '2026-12-01 09:00:00', '2026-12-01 11:00:00',"
                " '2026-12-01 10:00:00')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO transitions (id, kind, model_id, model_name, deployment_id, deployment_name,"
                " new_status, detected_at, detail) VALUES (1, 'status', 'm1', 'llama', 'd1', 'v3', 'UNHEALTHY',"
                " '2026-12-01 09:30:00', '{}')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO deliveries (transition_id, subscription_id, team_id, channel_id, thread, state,"
                " attempts, next_attempt_at, created_at, sent_at) VALUES (1, 7, 'T1', 'C1', TRUE, 'sent', 1,"
                " '2026-12-01 09:30:00', '2026-12-01 09:30:00', '2026-12-01 09:30:01')"
            )
        )


def test_0012_drops_the_unused_subscription_columns_and_back(empty_db_url: str) -> None:
    """Up to head, down to 0011 and up again, with a subscription and a delivery of it in the table.
    Nothing but the two columns changes: above all no copy of `subscriptions`, which on SQLite (foreign
    keys on) would set every delivery's subscription_id to NULL when the old table is dropped."""
    url = empty_db_url
    upgrade(url, "0011")
    engine = make_sync_engine(url)
    _a_subscription_and_its_delivery(engine)

    def rows() -> list[tuple[object, ...]]:
        with engine.connect() as conn:
            subs = conn.execute(sa.text("SELECT id, team_id, channel_id, model_id, target FROM subscriptions"))
            deliveries = conn.execute(sa.text("SELECT subscription_id, state FROM deliveries"))
            return [tuple(r) for r in subs] + [tuple(r) for r in deliveries]

    before = rows()
    assert before == [(7, "T1", "C1", "m1", "*"), (7, "sent")]
    try:
        for _ in range(2):
            upgrade(url)
            assert not set(UNUSED) & set(_subscription_columns(engine)) and rows() == before
            with engine.connect() as conn:
                diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
            assert diff == []
            downgrade(url, "0011")
            columns = _subscription_columns(engine)
            assert all(columns.get(name) is True for name in UNUSED) and rows() == before
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT muted_until, last_delivered_at FROM subscriptions")).all() == [
                    (None, None)
                ]
    finally:
        engine.dispose()


def _previous_release_subscription(*, maps_unused: bool) -> type[DeclarativeBase]:
    """Subscription as an older release mapped it: from 0010 (and at 0011) the two unused columns were
    in the Table but out of the mapping (exclude_properties); up to 0009 they were mapped."""

    class Old(DeclarativeBase):
        metadata = sa.MetaData()

    class OldSubscription(Old):
        __tablename__ = "subscriptions"
        __table_args__ = (
            sa.Column("muted_until", UTCDateTime(), nullable=True),
            sa.Column("last_delivered_at", UTCDateTime(), nullable=True),
        )
        __mapper_args__ = {"exclude_properties": [] if maps_unused else list(UNUSED)}  # noqa: RUF012

        id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
        team_id: Mapped[str] = mapped_column(sa.String(32))
        channel_id: Mapped[str] = mapped_column(sa.String(32))
        model_id: Mapped[str] = mapped_column(sa.String(64))
        model_name: Mapped[str] = mapped_column(sa.String(255), default="")
        target: Mapped[str] = mapped_column(sa.String(64))
        target_name: Mapped[str] = mapped_column(sa.String(255), default="")
        kinds: Mapped[str] = mapped_column(sa.String(500), default="")
        thread: Mapped[bool] = mapped_column(sa.Boolean, default=True)
        stuck_after: Mapped[int | None] = mapped_column(sa.Integer, default=None)
        created_by: Mapped[str] = mapped_column(sa.String(32), default="")
        created_at: Mapped[datetime] = mapped_column(UTCDateTime())
        paused_reason: Mapped[str | None] = mapped_column(sa.String(100), default=None)
        paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    return OldSubscription


def _old_replica_round(engine: sa.Engine, old: Any) -> None:
    """What a replica does with subscriptions: subscribe, read them (`list`, the poller's watchers),
    pause, unsubscribe, all through the ORM as bot/store/subscriptions.py does."""
    at = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    with Session(engine) as session, session.begin():
        session.add(old(team_id="T9", channel_id="C9", model_id="m9", target="*", created_at=at))
    with Session(engine) as session, session.begin():
        (sub,) = session.scalars(sa.select(old).where(old.team_id == "T9")).all()
        sub.paused_reason, sub.paused_at = "archived", at
    with Session(engine) as session, session.begin():
        session.execute(sa.delete(old).where(old.team_id == "T9"))


def test_a_replica_of_the_previous_release_runs_on_through_0012_one_from_0009_would_not(empty_db_url: str) -> None:
    """The rolling upgrade to 0012: the previous release (0010/0011) never names the dropped columns, so
    its replicas go on working beside the new one, on the connections they held across the migration
    with their statements prepared (psycopg prepares one run five times; one that names its columns is
    planned again with the same result). A release at 0009 or before names them in every read of a
    subscription: that is why the columns left the mapping one release before the table."""
    upgrade(empty_db_url, "0011")
    previous = _previous_release_subscription(maps_unused=False)
    engine = make_sync_engine(empty_db_url)
    try:
        for _ in range(6):
            _old_replica_round(engine, previous)
        upgrade(empty_db_url)
        for _ in range(2):
            _old_replica_round(engine, previous)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM subscriptions")).scalar() == 0
        with pytest.raises(sa.exc.DBAPIError, match=r"muted_until|last_delivered_at"):
            _old_replica_round(engine, _previous_release_subscription(maps_unused=True))
    finally:
        engine.dispose()


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


def test_0013_adds_the_guard_column_and_back_without_copying_the_table(empty_db_url: str) -> None:
    """Up to head, down to 0012 and up again, with a subscription and a delivery of it in the table:
    only the nullable `guard` column comes and goes (NULL, the default guard, for what was there), and
    no copy of `subscriptions` sets a delivery's subscription_id to NULL on SQLite."""
    url = empty_db_url
    upgrade(url, "0012")
    engine = make_sync_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO subscriptions (id, team_id, channel_id, model_id, model_name, target, target_name,"
                " kinds, thread, created_by, created_at) VALUES (7, 'T1', 'C1', 'm1', 'llama', 'production', '',"
                " '', TRUE, 'U1', '2026-12-01 09:00:00')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO transitions (id, kind, model_id, model_name, deployment_id, deployment_name,"
                " new_status, detected_at, detail) VALUES (1, 'status', 'm1', 'llama', 'd1', 'v3', 'UNHEALTHY',"
                " '2026-12-01 09:30:00', '{}')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO deliveries (transition_id, subscription_id, team_id, channel_id, thread, state,"
                " attempts, next_attempt_at, created_at, sent_at) VALUES (1, 7, 'T1', 'C1', TRUE, 'sent', 1,"
                " '2026-12-01 09:30:00', '2026-12-01 09:30:00', '2026-12-01 09:30:01')"
            )
        )

    def rows() -> list[tuple[object, ...]]:
        with engine.connect() as conn:
            subs = conn.execute(sa.text("SELECT id, team_id, channel_id, model_id, target FROM subscriptions"))
            deliveries = conn.execute(sa.text("SELECT subscription_id, state FROM deliveries"))
            return [tuple(r) for r in subs] + [tuple(r) for r in deliveries]

    before = rows()
    assert before == [(7, "T1", "C1", "m1", "production"), (7, "sent")]
    try:
        for _ in range(2):
            upgrade(url)
            assert _subscription_columns(engine)["guard"] is True and rows() == before
            with engine.begin() as conn:
                assert conn.execute(sa.text("SELECT guard FROM subscriptions")).scalar() is None
                conn.execute(sa.text("UPDATE subscriptions SET guard = 'off'"))
            with engine.connect() as conn:
                diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
            assert diff == []
            downgrade(url, "0012")
            assert "guard" not in _subscription_columns(engine) and rows() == before
    finally:
        engine.dispose()


def test_a_replica_of_the_previous_release_runs_on_through_0013(empty_db_url: str) -> None:
    """The rolling upgrade to 0013: the release at 0012 never names `guard`, so it subscribes, reads,
    pauses and unsubscribes as before beside the new one (its subscriptions get the default guard)."""
    upgrade(empty_db_url, "0012")
    previous = _previous_release_subscription(maps_unused=False)
    engine = make_sync_engine(empty_db_url)
    try:
        for _ in range(6):
            _old_replica_round(engine, previous)
        upgrade(empty_db_url)
        for _ in range(2):
            _old_replica_round(engine, previous)
        at = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
        with Session(engine) as session, session.begin():
            session.add(previous(team_id="T8", channel_id="C8", model_id="m8", target="production", created_at=at))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT target, guard FROM subscriptions")).all() == [("production", None)]
    finally:
        engine.dispose()


def test_0015_adds_the_digests_table_and_back(empty_db_url: str) -> None:
    """Up to head and down to 0014 twice, with a subscription in place: `digests` alone comes and goes,
    a digest set in it round-trips, and what was there before is untouched."""
    url = empty_db_url
    upgrade(url, "0014")
    engine = make_sync_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO subscriptions (id, team_id, channel_id, model_id, model_name, target, target_name,"
                " kinds, thread, created_by, created_at) VALUES (7, 'T1', 'C1', 'm1', 'llama', '*', '',"
                " '', TRUE, 'U1', '2026-12-01 09:00:00')"
            )
        )
    try:
        for _ in range(2):
            upgrade(url)
            assert "digests" in sa.inspect(engine).get_table_names()
            with engine.begin() as conn:
                conn.execute(
                    sa.text(
                        "INSERT INTO digests (team_id, channel_id, schedule, tz, created_by, updated_at, last_due)"
                        " VALUES ('T1', 'C1', 'weekly mon 09:00', 'Europe/Berlin', 'U1', '2026-12-06 10:00:00',"
                        " '2026-11-30 08:00:00')"
                    )
                )
            with engine.connect() as conn:
                row = conn.execute(sa.text("SELECT schedule, tz, claimed_due FROM digests")).one()
                assert tuple(row) == ("weekly mon 09:00", "Europe/Berlin", None)
                diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
            assert diff == []
            downgrade(url, "0014")
            assert "digests" not in sa.inspect(engine).get_table_names()
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT id, target FROM subscriptions")).all() == [(7, "*")]
    finally:
        engine.dispose()
