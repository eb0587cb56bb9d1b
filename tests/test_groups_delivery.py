"""The notifier with GROUP_OVER and GROUP_WAIT_SECONDS, in-process with a controlled clock, against the
loopback fakes and a real database: a lone notice is never delayed; a burst waits for its stragglers and
goes as one message with its lines under it; a group's message Slack refused for a while holds the channel
and goes later, once, with every line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.delivery.notifier import Notifier
from bot.polling.poller import Poller
from tests.fakes import FakeBaseten, FakeSlack, deployment
from tests.test_order import refused
from tests.world import World

FLEET = "mdlfleet"
DEPS = [f"f{i}" for i in range(8)]


@pytest.fixture
async def world(baseten: FakeBaseten, slack: FakeSlack, db_url: str) -> AsyncIterator[World]:
    baseten.add_model(FLEET, "fleet", [deployment(d, FLEET, name=d) for d in DEPS])
    w = World(baseten, slack, db_url)
    w.notifier = Notifier(
        slack=w.slack, store=w.store, now=w.clock, channel_pace=0, group_over=5, group_wait=timedelta(seconds=10)
    )
    w.poller = Poller(client=w.client, store=w.store, notifier=w.notifier, now=w.clock)
    await w.command(f"subscribe {FLEET} --on all")
    yield w
    await w.close()


def fail(baseten: FakeBaseten, deps: list[str]) -> None:
    for d in deps:
        baseten.set_status(FLEET, d, "UNHEALTHY")


async def test_lone_notices_go_at_once_and_a_burst_waits_for_its_stragglers(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    fail(baseten, DEPS[:3])
    assert (await world.poller.cycle()).sent == 3  # no burst: at once, each alone
    assert [p["text"] for p in slack.posts()] == [f"fleet / {d}: ACTIVE → UNHEALTHY" for d in DEPS[:3]]
    world.clock.advance(seconds=2)
    fail(baseten, DEPS[3:7])  # 4 more within 10 s of the 3 sent alone: 7, a burst
    assert (await world.poller.cycle()).sent == 0  # held for stragglers
    world.clock.advance(seconds=5)
    fail(baseten, DEPS[7:])  # a straggler joins
    assert (await world.poller.cycle()).sent == 0
    world.clock.advance(seconds=5)  # 10 s after the oldest held one
    assert (await world.notifier.deliver_due()).sent == 5
    posts = slack.posts()[3:]
    assert posts[0]["text"] == "5 deployments of 1 model changed: 5 failed" and "thread_ts" not in posts[0]
    group_ts = slack.ts_of(posts[0])
    assert [p["text"] for p in posts[1:]] == [f"fleet / {d}: ACTIVE → UNHEALTHY" for d in DEPS[3:]]
    assert all(p["thread_ts"] == group_ts and not p.get("reply_broadcast") for p in posts[1:])
    assert (await world.notifier.deliver_due()).sent == 0 and len(slack.posts()) == 9  # nothing more


async def test_a_group_message_refused_for_a_while_goes_later_once_with_every_line(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    fail(baseten, DEPS)
    assert (await world.poller.cycle()).sent == 0
    world.clock.advance(seconds=10)
    slack.script("chat.postMessage", *refused(1))
    report = await world.notifier.deliver_due()
    assert report.sent == 0 and report.retried == 1 and slack.posts() == []  # the channel waits behind it
    world.clock.advance(seconds=2)
    assert (await world.notifier.deliver_due()).sent == 8
    posts = slack.posts()
    assert [p["text"] for p in posts] == ["8 deployments of 1 model changed: 8 failed"] + [
        f"fleet / {d}: ACTIVE → UNHEALTHY" for d in DEPS
    ]
    assert all(p["thread_ts"] == slack.ts_of(posts[0]) for p in posts[1:])
    assert await world.store.outbox.counts() == {"sent": 8}
