"""The poller lease and delivery claims, on the real database (SQLite, or PostgreSQL when configured).
The wall clock the replicas compare and this process's monotonic clock are both faked where it matters."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, update

from bot.app.db import make_async_engine, sessions
from bot.store import Store
from bot.store import tables as t
from bot.store.leases import Lease
from tests.conftest import BotProcess, bot_env
from tests.fakes import FakeBaseten, FakeSlack
from tests.world import Clock

TTL = timedelta(seconds=20)
SHORT = timedelta(seconds=2)  # a renewal gives up after half a second


class Ticks:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def test_one_holder_at_a_time_and_takeover_after_expiry(db_url: str) -> None:
    engine = make_async_engine(db_url)
    clock = Clock()
    a = Lease(sessions(engine), holder="a", now=clock, ttl=TTL)
    b = Lease(sessions(engine), holder="b", now=clock, ttl=TTL)
    assert await a.renew() is True
    assert await b.renew() is False
    clock.advance(seconds=15)
    assert await a.renew() is True  # renewed: good for another 20 s
    clock.advance(seconds=15)
    assert await b.renew() is False
    clock.advance(seconds=6)  # a stopped renewing 21 s ago: it is dead
    assert await b.renew() is True
    assert await a.renew() is False and a.held is False
    await b.release()
    assert await a.renew() is True  # a clean shutdown hands over at once
    await engine.dispose()


async def test_racing_replicas_elect_exactly_one(db_url: str) -> None:
    engine = make_async_engine(db_url)
    clock = Clock()
    leases = [Lease(sessions(engine), holder=f"r{i}", now=clock, ttl=TTL) for i in range(8)]
    results = await asyncio.gather(*(lease.renew() for lease in leases), return_exceptions=True)
    assert [r for r in results if r is True] == [True]
    await engine.dispose()


async def test_a_delivery_is_claimed_by_one_replica(db_url: str, baseten: FakeBaseten, slack: FakeSlack) -> None:
    from tests.world import World

    world = World(baseten, slack, db_url)
    await world.command("subscribe mdl1abcd dep1prod")
    baseten.set_status("mdl1abcd", "dep1prod", "UNHEALTHY")
    await world.cycle()  # delivers; now make one pending row by hand through a failed send
    engine = make_async_engine(db_url)
    store = Store(sessions(engine), now=world.clock)
    baseten.set_status("mdl1abcd", "dep1prod", "ACTIVE")
    await world.poller.cycle(deliver=False)
    (pending,) = await store.outbox.due()
    claims = await asyncio.gather(*(store.outbox.claim(pending, holder=f"r{i}", for_=TTL) for i in range(5)))
    assert claims.count(True) == 1
    assert await store.outbox.due() == []  # claimed: nobody else sees it
    world.clock.advance(seconds=21)
    assert [p.id for p in await store.outbox.due()] == [pending.id]  # its holder died: due again
    await engine.dispose()
    await world.close()


def test_two_replicas_starting_together_on_an_empty_database(
    baseten: FakeBaseten, slack: FakeSlack, empty_db_url: str, tmp_path: Path
) -> None:
    env = bot_env(baseten, slack, empty_db_url)
    bots = [BotProcess(env, tmp_path / f"bot{i}.log") for i in range(2)]
    try:
        for bot in bots:
            bot.wait_healthy(timeout=40)
    finally:
        for bot in bots:
            assert bot.stop() == 0, bot.output()
    logs = "".join(b.output() for b in bots)
    assert logs.count("Running upgrade  -> 0001") <= 1


async def test_the_lease_is_held_only_until_its_expiry_by_the_local_clock(db_url: str) -> None:
    engine = make_async_engine(db_url)
    ticks = Ticks()
    a = Lease(sessions(engine), holder="a", now=Clock(), ttl=TTL, clock=ticks)
    assert await a.renew() and a.held and a.term == 1
    ticks.advance(TTL.total_seconds() - a.margin - 0.01)
    assert a.held
    ticks.advance(0.02)  # no renewal landed since: by the others' clocks the row may be free for the taking
    assert not a.held
    assert await a.renew() and a.held  # nobody took it: taken again, in a new term
    assert a.term == 2
    await engine.dispose()


async def test_a_renewal_waiting_on_the_database_is_not_believed_past_the_expiry(db_url: str) -> None:
    engine = make_async_engine(db_url)
    ticks = Ticks()
    a = Lease(sessions(engine), holder="a", now=Clock(), ttl=SHORT, clock=ticks)
    assert await a.renew()
    async with sessions(engine).begin() as session:  # the row held by another transaction (SQLite: the write turn)
        await session.execute(update(t.Lease).values(expires_at=t.Lease.expires_at))
        renewal = asyncio.create_task(a.renew())
        await asyncio.sleep(0.1)
        assert not renewal.done() and a.held
        ticks.advance(SHORT.total_seconds() - a.margin)  # the hold of the last renewal runs out while it waits
        assert not a.held
        with pytest.raises(TimeoutError):
            await renewal  # after `patience`, by the event loop's clock
        assert not a.held and a.patience == 0.5
    await engine.dispose()


async def test_a_renewal_that_fails_means_not_held_at_once(db_url: str) -> None:
    engine = make_async_engine(db_url)
    ticks = Ticks()
    a = Lease(sessions(engine), holder="a", now=Clock(), ttl=TTL, clock=ticks)
    assert await a.renew()
    async with engine.begin() as conn:  # the database refuses the renewal
        await conn.exec_driver_sql("ALTER TABLE leases RENAME TO leases_away")
    try:
        with pytest.raises(Exception, match="leases"):
            await a.renew()
        assert not a.held  # though the clock says the last renewal's hold has not run out
    finally:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("ALTER TABLE leases_away RENAME TO leases")
    assert await a.renew() and a.held and a.term == 2
    await engine.dispose()


async def test_a_look_tells_whether_the_lease_may_be_taken_and_writes_nothing(db_url: str) -> None:
    engine = make_async_engine(db_url)
    clock = Clock()
    a = Lease(sessions(engine), holder="a", now=clock, ttl=TTL)
    b = Lease(sessions(engine), holder="b", now=clock, ttl=TTL)
    assert await b.free()  # no row yet
    assert await a.renew()
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement.lstrip().split()[0].upper())

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    assert not await b.free() and await a.free()  # a live row names a: only a may renew it
    await a.release()
    assert await b.free()  # a clean stop: free at once
    assert set(statements) <= {"SELECT", "UPDATE"} and statements.count("UPDATE") == 1  # the release's
    event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert await a.renew()
    clock.advance(seconds=21)
    assert await b.free()  # expired
    await engine.dispose()
