"""A failure notice that starts its deployment's thread is edited by three (issue 26): the notifier as
replies come (the parent shows the latest change), the Acknowledge click and the on-call pass. They draw
it alike (bot.delivery.parents): a reply's edit keeps the acknowledgement, and shows no Acknowledge once
the thread's latest news is not a failure. In-process against the loopback fakes and a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.oncall.job import OnCallJob
from bot.render.oncall import ACK_ACTION
from tests.fakes import FakeBaseten, FakeSlack, deployment
from tests.world import World

MODEL = "mdlthread"


@pytest.fixture
async def world(baseten: FakeBaseten, slack: FakeSlack, db_url: str) -> AsyncIterator[World]:
    baseten.add_model(MODEL, "llama", [deployment("d1", MODEL, name="v3"), deployment("d2", MODEL, name="v4")])
    w = World(baseten, slack, db_url)
    await w.command(f"subscribe {MODEL} d1")
    yield w
    await w.close()


def _parent_edits(slack: FakeSlack, ts: str) -> list[dict[str, Any]]:
    return [dict(c.body) for c in slack.calls("chat.update") if isinstance(c.body, dict) and c.body.get("ts") == ts]


async def test_a_reply_keeps_the_acknowledgement_on_the_failure_notice_it_edits(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    baseten.set_status(MODEL, "d1", "UNHEALTHY")
    await world.poller.cycle()
    (notice,) = slack.posts()
    assert ACK_ACTION in str(notice["blocks"])
    (alarm,) = await world.store.alarms.live()
    assert await world.store.alarms.acknowledge(alarm.delivery_id, "U0ALICE")
    baseten.set_status(MODEL, "d1", "FAILED")  # still failing: a reply in the thread, the parent edited
    await world.poller.cycle()
    (edit,) = _parent_edits(slack, slack.ts_of(notice))
    assert "Acknowledged by <@U0ALICE>" in str(edit["blocks"]) and ACK_ACTION not in str(edit["blocks"])


async def test_a_reply_that_is_no_failure_leaves_no_acknowledge_on_the_parent(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    baseten.set_status(MODEL, "d1", "UNHEALTHY")
    await world.poller.cycle()
    (notice,) = slack.posts()
    baseten.set_status(MODEL, "d1", "ACTIVE")  # recovered, not acknowledged
    await world.poller.cycle()
    (edit,) = _parent_edits(slack, slack.ts_of(notice))
    assert "ACTIVE" in str(edit["text"]) and ACK_ACTION not in str(edit["blocks"])


async def test_the_recovery_edit_keeps_the_threads_latest_change_on_its_parent(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    """The on-call pass edits an acknowledged notice that recovered; a thread's parent keeps showing the
    thread's latest change under it, not the failure it started with."""
    baseten.set_status(MODEL, "d1", "UNHEALTHY")
    await world.poller.cycle()
    (notice,) = slack.posts()
    (alarm,) = await world.store.alarms.live()
    assert await world.store.alarms.acknowledge(alarm.delivery_id, "U0ALICE")
    baseten.set_status(MODEL, "d1", "ACTIVE")
    await world.poller.cycle()
    job = OnCallJob(store=world.store, slack=world.slack, now=world.clock, draw=world.notifier.draw)
    await job.run()
    *_, last = _parent_edits(slack, slack.ts_of(notice))
    assert str(last["text"]).endswith("ACTIVE (latest of 2)")
    assert "Acknowledged by <@U0ALICE>" in str(last["blocks"]) and "recovered" in str(last["blocks"])
