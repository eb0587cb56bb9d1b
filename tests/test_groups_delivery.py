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
from tests.fakes import Canned, FakeBaseten, FakeSlack, deployment
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


async def test_a_group_message_refused_for_good_leaves_its_lines_seen_in_the_channel(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    """With no group message to stand for them, lines are not hidden in threads: a failure line in its
    deployment's own thread is broadcast to the channel, the others go to the channel itself."""
    baseten.set_status(FLEET, "f0", "UPDATING")
    await world.poller.cycle()  # f0's thread opens
    (opened,) = slack.posts()
    fail(baseten, DEPS)
    await world.poller.cycle()
    world.clock.advance(seconds=10)
    slack.script("chat.postMessage", Canned(200, {"ok": False, "error": "msg_too_long"}))  # refused for good
    await world.notifier.deliver_due()
    world.clock.advance(seconds=2)
    await world.notifier.deliver_due()
    lines = slack.posts()[1:]
    assert sorted(str(p["text"]) for p in lines) == sorted(
        f"fleet / {d}: {'UPDATING' if d == 'f0' else 'ACTIVE'} → UNHEALTHY" for d in DEPS
    )
    by_dep = {str(p["text"]).split(" ")[2].rstrip(":"): p for p in lines}
    assert by_dep["f0"]["thread_ts"] == slack.ts_of(opened) and by_dep["f0"]["reply_broadcast"] is True
    assert all("thread_ts" not in by_dep[d] for d in DEPS[1:])
    assert await world.store.outbox.counts() == {"sent": 9}


async def test_a_row_another_replica_put_in_a_group_is_not_claimed_alone(world: World, baseten: FakeBaseten) -> None:
    """A replica that read a row before another formed a group of it does not send it alone: its claim
    names the group it read (none), and the row now has one."""
    fail(baseten, DEPS)
    await world.poller.cycle()
    read_alone = await world.store.outbox.due()
    assert read_alone and all(p.group_id is None for p in read_alone)
    group = await world.store.groups.form(read_alone[0].team_id, "C1", [p.id for p in read_alone])
    assert group is not None
    assert await world.store.outbox.claim(read_alone[0], holder="other", for_=timedelta(seconds=30)) is False
    (fresh, *_) = await world.store.outbox.due()
    assert fresh.group_id == group and await world.store.outbox.claim(fresh, holder="me", for_=timedelta(seconds=30))
