"""The poller lease and delivery claims, on the real database (SQLite, or PostgreSQL when configured)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from bot.app.db import make_async_engine, sessions
from bot.store import Store
from bot.store.leases import Lease
from tests.conftest import BotProcess, bot_env
from tests.fakes import FakeBaseten, FakeSlack
from tests.world import Clock

TTL = timedelta(seconds=20)


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
