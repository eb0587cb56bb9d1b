"""What the poll loop keeps of each model between its polls (bot.polling.known): pure rules, then the poller
with it against the fakes and a real SQLite file, beside a second poller that writes behind its back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from bot.domain.changes import Snap
from bot.domain.memory import ModelMemory
from bot.polling.decide import plan
from bot.polling.known import Known
from bot.polling.poller import Poller
from tests.conftest import MODEL, PROD
from tests.fakes import FakeBaseten, FakeSlack
from tests.world import World

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def snap(model: str, dep: str, status: str = "ACTIVE") -> Snap:
    return Snap(model_id=model, deployment_id=dep, name=dep, status=status, since=T0)


def fixed(at: datetime) -> Any:
    def window(_snaps: Mapping[str, Mapping[str, Snap]]) -> datetime:
        return at

    return window


def test_only_models_all_kept_are_answered_and_forgetting_one_reads_it_again() -> None:
    known = Known()
    known.put(["m1", "m2"], {"m1": {"d1": snap("m1", "d1")}}, {"m1": ModelMemory(True, "d1", None, "one")}, {})
    assert known.get(["m1"], fixed(T0)) == (
        {"m1": {"d1": snap("m1", "d1")}},
        {"m1": ModelMemory(True, "d1", None, "one")},
        {},
    )
    assert known.get(["m2"], fixed(T0)) == ({}, {}, {})  # kept as knowing nothing: a first sighting
    assert known.get(["m1", "m3"], fixed(T0)) is None
    known.forget(["m1"])
    assert known.get(["m1"], fixed(T0)) is None
    known.keep_only(["m3"])
    assert len(known) == 0


def test_recent_changes_leave_the_window_as_time_moves_on() -> None:
    known = Known()
    times = [T0 - timedelta(minutes=20), T0 - timedelta(minutes=5), T0]
    known.put(["m1"], {"m1": {"d1": snap("m1", "d1")}}, {}, {("m1", "d1"): times})
    assert known.get(["m1"], fixed(T0 - timedelta(minutes=30)))[2] == {("m1", "d1"): times}  # type: ignore[index]
    assert known.get(["m1"], fixed(T0 - timedelta(minutes=10)))[2] == {("m1", "d1"): times[1:]}  # type: ignore[index]
    assert known.get(["m1"], fixed(T0 + timedelta(seconds=1)))[2] == {}  # type: ignore[index]


@pytest.fixture
async def world(baseten: FakeBaseten, slack: FakeSlack, db_url: str) -> AsyncIterator[World]:
    w = World(baseten, slack, db_url)
    yield w
    await w.close()


def count_snapshot_reads(world: World) -> list[int]:
    """Counts SELECTs on the snapshots table, from the engine's own event (not the bot's code)."""
    counter = [0]

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM snapshots" in statement:
            counter[0] += 1

    sa.event.listen(world.engine.sync_engine, "before_cursor_execute", seen)
    return counter


async def test_a_model_that_did_not_change_is_not_read_again(world: World) -> None:
    await world.command(f"subscribe {MODEL} {PROD}")
    watchers = await world.store.subscriptions.watchers()
    reads = count_snapshot_reads(world)
    await world.poller.poll(watchers, plan(watchers), remember=True)
    assert reads[0] == 1
    for _ in range(3):
        polled = await world.poller.poll(watchers, plan(watchers), remember=True)
        assert polled.report.changes == 0
    assert reads[0] == 1  # kept: nothing changed, nothing to read
    await world.poller.poll(watchers, plan(watchers))  # a cycle (poll --once) reads afresh
    assert reads[0] == 2


async def test_a_change_another_poller_recorded_meanwhile_is_announced_once(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    """The kept entry is stale when another process (a replica before a hand-over, `poll --once`) wrote:
    the change it decides from it writes nothing (a conflict), and the next poll reads what is there."""
    await world.command(f"subscribe {MODEL} {PROD}")
    watchers = await world.store.subscriptions.watchers()
    keeper = Poller(client=world.client, store=world.store, notifier=world.notifier, now=world.clock)
    assert (await keeper.poll(watchers, plan(watchers), remember=True)).report.changes == 0

    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    world.clock.advance(seconds=10)
    assert (await world.poller.poll(watchers, plan(watchers))).report.changes == 1  # the other one

    world.clock.advance(seconds=10)
    stale = await keeper.poll(watchers, plan(watchers), remember=True)
    assert stale.report.conflict and stale.report.deliveries_created == 0
    fresh = await keeper.poll(watchers, plan(watchers), remember=True)
    assert fresh.report.changes == 0 and not fresh.report.conflict
    await world.notifier.deliver_due()
    assert [p["text"] for p in slack.posts()] == ["llama-3-8b / v3: ACTIVE → UNHEALTHY"]
