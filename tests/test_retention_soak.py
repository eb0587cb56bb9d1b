"""A retention soak: sixteen simulated days of the real poll, delivery, click and pruning paths with
RETENTION_DAYS=1. Every day writes rows to every table pruning looks after; their sizes level off
after the first retention period while the rows ever written grow by the same amount each day.

The pieces are those `serve` runs, on the in-process world's test clock: the world's poller,
notifier and store in a `Runtime` (bot.app.runtime) with RETENTION_DAYS=1, driven through the
service's own jobs (bot.app.service: the delivery pass, the lease, and `prune`, which prunes by
the runtime's clock), and clicks through the one click path (bot.actions.clicks).
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import pytest_asyncio
import sqlalchemy as sa

from bot.actions.checks import Shown
from bot.actions.clicks import Clicks
from bot.actions.verbs import VERBS, Target, Verb
from bot.app.config import Settings
from bot.app.db import make_sync_engine, sessions
from bot.app.metrics import Metrics
from bot.app.runtime import Runtime
from bot.app.service import Service
from bot.render.cards import Message
from bot.store import tables as t
from bot.store.actions import Click
from bot.store.leases import Lease
from tests.conftest import DEV, MODEL, MODEL_NAME, PROD
from tests.fakes import API_KEY, BOT_TOKEN, TEAM, FakeBaseten, FakeSlack, deployment
from tests.world import World

DAYS = 16
STEADY = DAYS // 2  # the second half: by then every row of the first days is older than RETENTION_DAYS
SLACK = 2  # rows a table may have over its size on days 2 and 3 (a day's activity is the same every day)
POLL = timedelta(minutes=3)  # simulated time from one poll to the next within a day
TABLES: dict[str, type[t.Base]] = {
    "transitions": t.Transition,
    "deliveries": t.Delivery,
    "actions": t.Action,
    "promotion_messages": t.PromotionMessage,
    "environment_states": t.EnvironmentState,
    "snapshots": t.Snapshot,
    "threads": t.Thread,
    "model_states": t.ModelState,
}
GROWING = ("transitions", "deliveries", "actions", "promotion_messages", "environment_states", "snapshots", "threads")
SIDE_MODELS = ("side0001", "side0002")  # watched by environment on alternate days


@dataclass
class Soak:
    world: World
    service: Service
    baseten: FakeBaseten
    caplog: pytest.LogCaptureFixture
    pruned: Counter[str] = field(default_factory=Counter)  # from the service's "pruned …" log lines

    async def poll(self) -> None:
        """One poll of every watched model, the service's delivery pass and its pruning job, POLL later."""
        self.world.clock.advance(seconds=POLL.total_seconds())
        report = await self.world.poller.cycle(deliver=False)
        assert report.failed_models == 0
        await self.service.deliver()
        await self.prune()

    async def prune(self) -> None:
        await self.service.keep_lease()  # the lease holder alone prunes
        assert self.service.runtime.lease.held
        await self.service.prune()
        for record in self.caplog.records:
            if record.name == "bot" and record.getMessage().startswith("pruned "):
                self.pruned.update({table: int(n) for n, table in re.findall(r"(\d+) (\w+)", record.getMessage())})
        self.caplog.clear()

    async def click(self, verb: Verb, dep_id: str, status: str, day: int) -> None:
        """An operator confirms a card on a failure notice: claimed, checked, sent once, recorded."""

        async def no_fresh_card(_verb: Verb, _target: Target) -> Message:
            raise AssertionError("the card should act")

        w = self.world
        clicks = Clicks(client=w.client, actions=w.store.actions, now=w.clock, fresh=no_fresh_card)
        shown = Shown(card=f"{day:016x}", drawn=w.clock().replace(microsecond=0), status=status, role="development")
        click = Click(TEAM, "C1", "U1", f"{day}.000001", verb.name, MODEL, dep_id, "production")
        done = await clicks.act(verb, Target(MODEL, dep_id, model_name=MODEL_NAME), shown, click)
        assert done.outcome is not None and done.outcome.accepted, done.message.text


async def a_day(soak: Soak, day: int) -> None:
    """A new deployment is built and promoted through staging (a live promotion message), the one
    from the day before yesterday is deleted, production goes UNHEALTHY and back, development fails
    and an operator retries it from a card, and a side model is watched by environment for the day
    while yesterday's is dropped."""
    b, w = soak.baseten, soak.world
    new = f"dep{day:04d}"
    b.add_deployment(deployment(new, MODEL, name=f"v{day + 10}", status="BUILDING", replicas=0))
    if day >= 2:
        b.delete_deployment(MODEL, f"dep{day - 2:04d}")
    side, yesterdays = SIDE_MODELS[day % 2], SIDE_MODELS[(day + 1) % 2]
    message, _ = await w.command(f"subscribe {side} env:qa", channel="C4")
    assert ":warning:" not in str(message.blocks), message.text
    if day >= 1:
        await w.command(f"unsubscribe {yesterdays} env:qa", channel="C4")
    await soak.poll()
    b.set_status(MODEL, new, "ACTIVE", active_replica_count=1)
    b.set_status(MODEL, PROD, "UNHEALTHY")
    b.set_status(MODEL, DEV, "DEPLOY_FAILED")
    await soak.poll()
    await soak.click(VERBS["retry"], DEV, "DEPLOY_FAILED", day)  # the fake Baseten: BUILDING
    b.start_promotion(MODEL, "staging", new, "RELEASING", 0)
    b.set_status(MODEL, PROD, "ACTIVE")
    await soak.poll()
    b.set_promotion(MODEL, "staging", "RAMPING_UP", 50)
    await soak.poll()
    b.end_promotion(MODEL, "staging", promoted=True)
    b.set_status(MODEL, DEV, "ACTIVE")
    await soak.poll()


def sizes(db_url: str) -> dict[str, int]:
    engine = make_sync_engine(db_url)
    try:
        with engine.connect() as conn:
            return {
                name: int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
                for name, table in TABLES.items()
            }
    finally:
        engine.dispose()


@pytest_asyncio.fixture
async def soak(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[Soak]:
    caplog.set_level(logging.INFO, logger="bot")
    world = World(baseten, slack, db_url)
    settings = Settings(
        baseten_api_key=API_KEY,
        baseten_api_url=baseten.url,
        slack_bot_token=BOT_TOKEN,
        slack_api_url=slack.api_url,
        database_url=db_url,
        retention_days=1,
    )
    ttl = timedelta(seconds=settings.lease_seconds)
    lease = Lease(sessions(world.engine), holder="soak", now=world.clock, ttl=ttl)
    w = world
    runtime = Runtime(
        settings, Metrics(), w.engine, w.store, w.client, w.slack, w.notifier, w.poller, lease, now=w.clock
    )
    for side in SIDE_MODELS:
        baseten.add_model(side, side, [deployment(f"{side}d1", side, name="s1", is_production=True)])
        baseten.add_environment(side, "qa", current=f"{side}d1")
    baseten.add_environment(MODEL, "staging", current=PROD)
    try:
        yield Soak(world, Service(runtime, listen=False), baseten, caplog)
    finally:
        await world.close()


async def test_a_fortnight_at_one_days_retention_keeps_every_table_level(
    soak: Soak, slack: FakeSlack, db_url: str
) -> None:
    started = time.monotonic()
    for text, channel in [(f"subscribe {MODEL}", "C1"), (f"subscribe {MODEL} production", "C2")]:
        await soak.world.command(text, channel=channel)
    await soak.world.command(f"subscribe {MODEL} env:staging", channel="C3")
    await soak.poll()
    kept: list[dict[str, int]] = []  # rows in each table at the end of each day
    ever: list[dict[str, int]] = []  # rows ever written to each: those kept and those pruned
    for day in range(DAYS):
        posted = len(slack.posts())
        await a_day(soak, day)
        assert len(slack.posts()) > posted
        soak.world.clock.now = soak.world.clock.now.replace(hour=9, minute=0) + timedelta(days=1)
        await soak.prune()
        kept.append(sizes(db_url))
        ever.append({name: kept[-1][name] + soak.pruned[name] for name in TABLES})
    elapsed = time.monotonic() - started
    print(f"\nday  {'  '.join(f'{n[:11]:>11}' for n in TABLES)}   (kept / ever written; {elapsed:.1f} s)")
    for day in range(DAYS):
        print(f"{day + 1:3}  " + "  ".join(f"{kept[day][n]:>5}/{ever[day][n]:<5}" for n in TABLES))
    for name in TABLES:
        steady = max(k[name] for k in kept[STEADY:])
        assert steady <= max(k[name] for k in kept[1:3]) + SLACK, (name, [k[name] for k in kept])
    for name in GROWING:  # meanwhile every day writes rows, about as many as the day before
        daily = [b[name] - a[name] for a, b in zip(ever[STEADY - 1 :], ever[STEADY:], strict=False)]
        assert min(daily) >= 1 and max(daily) <= 2 * min(daily) + SLACK, (name, daily)
        assert ever[-1][name] >= 2 * max(k[name] for k in kept[STEADY:]), (name, ever[-1][name])
