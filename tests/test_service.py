"""The `serve` service in process, without uvicorn: its poll, delivery, lease and shutdown,
on a real database and the loopback fakes. The real process is tested in test_slash_e2e
(signals) and test_replicas (SIGKILL)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, update

from bot.app.config import Settings
from bot.app.db import make_async_engine, make_sync_engine, sessions
from bot.app.runtime import Runtime, utcnow
from bot.app.service import Service
from bot.store import tables as t
from bot.store.leases import Lease
from tests.conftest import DEV, MODEL, PROD
from tests.fakes import API_KEY, BOT_TOKEN, Canned, FakeBaseten, FakeSlack
from tests.test_notices_e2e import posts_to
from tests.world import Clock, World

LEASE = 30.0  # a takeover by expiry would take this long; a clean stop hands over at once
CONTRACT = 10.0  # seconds the contract allows between SIGTERM and exit


def service(baseten: FakeBaseten, slack: FakeSlack, db_url: str, instance: str, lease: float = LEASE) -> Service:
    settings = Settings(
        baseten_api_key=API_KEY,
        baseten_api_url=baseten.url,
        slack_bot_token=BOT_TOKEN,
        slack_api_url=slack.api_url,
        database_url=db_url,
        poll_interval_seconds=1,
        lease_seconds=lease,
    )
    return Service(Runtime.build(settings, instance=instance), listen=False)


async def subscribe(baseten: FakeBaseten, slack: FakeSlack, db_url: str) -> None:
    clock = Clock()
    clock.now = datetime.now(UTC)
    world = World(baseten, slack, db_url, clock)
    _, visibility = await world.command(f"subscribe {MODEL} {PROD}")
    assert visibility == "in_channel"
    await world.close()


async def until(predicate: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def pollers(baseten: FakeBaseten, start: int) -> set[str]:
    """The instances that asked Baseten anything since `start` (the User-Agent names them)."""
    return {r.headers.get("User-Agent", "") for r in baseten.requests[start:]}


def sent(s: Service) -> float:
    """The service's count of notices Slack accepted and the database recorded as sent."""
    prefix = 'baseten_bot_notices_total{outcome="sent"} '
    lines = [line for line in s.runtime.metrics.render().decode().splitlines() if line.startswith(prefix)]
    return float(lines[0].removeprefix(prefix)) if lines else 0.0


async def test_a_cycle_stuck_on_baseten_is_abandoned_in_one_line(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await subscribe(baseten, slack, db_url)
    first = service(baseten, slack, db_url, "first")
    await first.start()
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    await until(lambda: posts_to(slack, "C1"), "the first notice")
    assert (await first.health())[1]["role"] == "poller"

    baseten.delay = 30  # longer than the budget, and than the client's 10 s timeout
    stalled = len(baseten.requests)
    baseten.set_status(MODEL, PROD, "ACTIVE")
    # a poll of the model (not the fleet detector's GET /v1/models, which may come first) waits on Baseten
    await until(lambda: any(r.path.startswith("/v1/models/") for r in baseten.requests[stalled:]), "a stuck poll")
    started = time.monotonic()
    await first.stop()  # the scheduler's shutdown cancels the stuck poll at once
    assert time.monotonic() - started < CONTRACT
    assert "poll cycle abandoned at shutdown; the next start polls again" in caplog.messages
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert posts_to(slack, "C1") == ["llama-3-8b / v3: ACTIVE → UNHEALTHY"]

    baseten.delay = 0
    after = service(baseten, slack, db_url, "after")  # the next start polls again
    await after.start()
    await until(lambda: len(posts_to(slack, "C1")) == 2, "the change hidden behind the stall")
    await after.stop()
    assert posts_to(slack, "C1") == ["llama-3-8b / v3: ACTIVE → UNHEALTHY", "llama-3-8b / v3: UNHEALTHY → ACTIVE"]


def slow_post(delay: float) -> Canned:
    body = {"ok": True, "channel": "C1", "ts": "1700000000.900000", "message": {"text": "slow"}}
    return Canned(200, body, delay=delay)


async def test_stop_lets_a_slow_delivery_finish(baseten: FakeBaseten, slack: FakeSlack, db_url: str) -> None:
    await subscribe(baseten, slack, db_url)
    first = service(baseten, slack, db_url, "first")
    await first.start()
    await until(lambda: first.runtime.lease.held, "the lease")
    slack.script("chat.postMessage", slow_post(3.0))  # well inside the budget
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    await until(lambda: slack.calls("chat.postMessage"), "the notice on its way")
    await first.stop()
    assert sent(first) == 1  # Slack answered and the row was marked sent before the end


async def test_stop_abandons_a_delivery_stuck_past_the_budget(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str
) -> None:
    await subscribe(baseten, slack, db_url)
    first = service(baseten, slack, db_url, "first")
    await first.start()
    await until(lambda: first.runtime.lease.held, "the lease")
    slack.script("chat.postMessage", slow_post(30.0))  # past the budget, and the client's 15 s timeout
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    await until(lambda: slack.calls("chat.postMessage"), "the notice on its way")
    started = time.monotonic()
    await first.stop()
    assert time.monotonic() - started < CONTRACT  # SHUTDOWN_BUDGET, with room to spare
    assert sent(first) == 0


async def test_a_second_service_takes_the_lease_when_the_first_stops(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str
) -> None:
    await subscribe(baseten, slack, db_url)
    first = service(baseten, slack, db_url, "first")
    await first.start()
    await until(lambda: first.runtime.lease.held, "the first to take the lease")
    second = service(baseten, slack, db_url, "second")
    await second.start()
    try:
        start = len(baseten.requests)
        await until(lambda: len(baseten.requests) - start >= 3, "a few polls with both running")
        assert pollers(baseten, start) == {"baseten-slack-bot (first)"}
        assert (await second.health())[1]["role"] == "standby"

        await first.stop()  # releases the lease: no wait for its 30 s to run out
        await until(lambda: second.runtime.lease.held, "the second to take over", timeout=LEASE / 2)
        assert (await second.health())[1]["role"] == "poller"
        handed_over = len(baseten.requests)
        baseten.set_status(MODEL, PROD, "UNHEALTHY")
        await until(lambda: posts_to(slack, "C1"), "a notice from the second")
        assert pollers(baseten, handed_over) == {"baseten-slack-bot (second)"}
        assert posts_to(slack, "C1") == ["llama-3-8b / v3: ACTIVE → UNHEALTHY"]
    finally:
        await second.stop()


async def test_stop_sends_nothing_new_and_the_next_start_sends_the_rest_once(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str
) -> None:
    clock = Clock()
    clock.now = datetime.now(UTC)
    world = World(baseten, slack, db_url, clock)
    for target in (PROD, DEV):  # two deployments, one channel: their notices queue behind each other
        _, visibility = await world.command(f"subscribe {MODEL} {target}")
        assert visibility == "in_channel"
    await world.close()
    first = service(baseten, slack, db_url, "first")
    await first.start()
    await until(lambda: first.runtime.lease.held, "the lease")
    slack.script("chat.postMessage", slow_post(2.0))  # the first is in flight when the stop comes
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    baseten.set_status(MODEL, DEV, "BUILD_FAILED")
    await until(lambda: slack.calls("chat.postMessage"), "the first notice on its way")
    await first.stop()
    assert sent(first) == 1  # the one in flight finished; the one queued behind it was not started
    assert len(slack.calls("chat.postMessage")) == 1

    after = service(baseten, slack, db_url, "after")
    await after.start()
    await until(lambda: len(posts_to(slack, "C1")) == 2, "the queued notice, after the restart")
    await after.stop()
    assert sorted(posts_to(slack, "C1")) == [  # each once
        "llama-3-8b / dev: BUILDING → BUILD_FAILED",
        "llama-3-8b / v3: ACTIVE → UNHEALTHY",
    ]


async def test_a_refused_notice_is_retried_while_a_cycle_waits_on_baseten(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str
) -> None:
    """Delivery does not wait for the next poll: a retry goes out seconds after Slack refused it,
    even while every cycle is stuck on a slow Baseten."""
    await subscribe(baseten, slack, db_url)
    first = service(baseten, slack, db_url, "first")
    await first.start()
    try:
        await until(lambda: first.runtime.lease.held, "the lease")
        slack.script("chat.postMessage", *[Canned(503, {"ok": False, "error": "service_unavailable"})] * 2)
        baseten.set_status(MODEL, PROD, "UNHEALTHY")
        await until(lambda: len(slack.calls("chat.postMessage")) == 2, "the refusal (the SDK retries once)")
        baseten.delay = 30  # from now on a cycle waits on Baseten: 4 tries of 10 s, longer than this test waits
        await until(lambda: posts_to(slack, "C1"), "the retried notice", timeout=25.0)
        assert posts_to(slack, "C1") == ["llama-3-8b / v3: ACTIVE → UNHEALTHY"]
    finally:
        baseten.delay = 0
        await first.stop()


async def test_a_lease_renewal_cancelled_at_shutdown_ends_quietly(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Shutdown cancels the scheduler's jobs; a renewal waiting for the database then must
    end without an exception, or APScheduler logs it as a crash (a traceback in the soak)."""
    s = service(baseten, slack, db_url, "first")
    assert await s.runtime.lease.renew()
    blocker = sessions(s.runtime.engine)
    async with blocker.begin() as session:  # holds SQLite's write turn, or PostgreSQL's row lock
        await session.execute(update(t.Lease).values(expires_at=t.Lease.expires_at))
        renewal = asyncio.create_task(s.keep_lease())
        await asyncio.sleep(0.3)
        assert not renewal.done()  # it waits for the database
        renewal.cancel()
        await renewal  # raised CancelledError before the fix
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    await s.runtime.aclose()


async def test_a_renewal_stuck_on_the_database_is_not_believed(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A renewal that cannot land in time fails, and the lease is then not held: by the time the row may
    have expired for the other replicas, this one has long stopped believing it leads."""
    s = service(baseten, slack, db_url, "first", lease=2.0)  # renewed every second; given up after 0.5 s
    assert await s.runtime.lease.renew()
    async with sessions(s.runtime.engine).begin() as session:  # holds SQLite's write turn, or PostgreSQL's row lock
        await session.execute(update(t.Lease).values(expires_at=t.Lease.expires_at))
        renewal = asyncio.create_task(s.keep_lease())
        await asyncio.sleep(1.6)  # past the lease less its margin (1.5 s), by this process's clock
        assert not s.runtime.lease.held
        assert renewal.done()  # it gave up, as a warning, without a traceback
    assert "renewing the poller lease took over 0.5s; not held until a renewal succeeds" in caplog.messages
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    await s.keep_lease()  # the database answers again, and nobody took the lease meanwhile
    assert s.runtime.lease.held
    await s.runtime.aclose()


async def test_a_standby_tries_the_lease_at_the_lease_jobs_pace_and_takes_over_in_time(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str
) -> None:
    """A standby writes to the lease row only as often as the lease job runs (LEASE_SECONDS / 3), however
    long it waits; when the leader dies it still takes over within two lease periods (the contract)."""
    await subscribe(baseten, slack, db_url)
    lease = 6.0  # the lease job every 2 s
    engine = make_async_engine(db_url)
    leader = Lease(sessions(engine), holder="leader", now=utcnow, ttl=timedelta(seconds=lease))  # another replica
    renewed = [time.monotonic()]
    assert await leader.renew()

    async def lead() -> None:
        while True:
            await asyncio.sleep(lease / 3)
            if await leader.renew():
                renewed.append(time.monotonic())

    leading = asyncio.create_task(lead())
    standby = service(baseten, slack, db_url, "standby", lease=lease)
    tries: list[float] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE LEASES"):
            tries.append(time.monotonic())

    event.listen(standby.runtime.engine.sync_engine, "before_cursor_execute", count)
    started = time.monotonic()
    await standby.start()
    try:
        await asyncio.sleep(2 * lease / 3 + 0.5)
        assert not standby.runtime.lease.held
        jobs = int((time.monotonic() - started) / (lease / 3))
        assert len(tries) <= 1 + jobs  # its try at start, then one a lease job

        leading.cancel()  # the leader dies without a word: its row expires a lease period after its last renewal
        await until(lambda: standby.runtime.lease.held, "the standby to take over", timeout=2 * lease)
        assert time.monotonic() - renewed[-1] < 2 * lease
    finally:
        leading.cancel()
        await standby.stop()
        await engine.dispose()


async def test_delivery_while_the_database_fails_is_one_line_and_a_back_off(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 22: every failed delivery pass (one a second) wrote a traceback during a database outage."""
    s = service(baseten, slack, db_url, "a")
    engine = make_sync_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE deliveries RENAME TO deliveries_away")  # every delivery query fails
    try:
        for _ in range(20):
            await s.deliver()
        assert s.runtime.outage.failing
        _, detail = await s.health()
        assert detail["database"] == "failing"
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE deliveries_away RENAME TO deliveries")
        s._deliver_after = 0.0  # the back-off has passed
        await s.deliver()
        assert not s.runtime.outage.failing
    finally:
        await s.runtime.aclose()
        engine.dispose()
    failing = [r for r in caplog.records if "database is failing" in r.getMessage()]
    assert len(failing) == 1 and "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)
    assert any("database answers again" in r.getMessage() for r in caplog.records)
