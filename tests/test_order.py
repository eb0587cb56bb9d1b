"""Notices to one channel go out in the order their changes happened.

A notice Slack refused for a while (429, 5xx) holds back the later ones of its channel,
across delivery passes, restarts and replicas, so none overtakes it or becomes a thread's
parent in its place; a row claimed by another replica holds them back too, and other
channels are not held up. First against the real `serve` process, then in-process with a
controlled clock for what a real process cannot be made to do on cue.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest

from tests.conftest import MODEL, PROD
from tests.fakes import Canned, FakeBaseten, FakeSlack, wait_until
from tests.test_faults_e2e import fast_bot
from tests.test_notices_e2e import posts_to
from tests.test_slash_e2e import answer, post_command
from tests.world import World

wait = partial(wait_until, timeout=60.0)  # a refused notice is retried after seconds, on a loaded machine
FIRST = "llama-3-8b / v3: ACTIVE → UNHEALTHY"
SECOND = "llama-3-8b / v3: UNHEALTHY → ACTIVE"
FIRST_TS = "1700000000.000001"  # the fake's ts for the first message it accepts


def refused(retry_after: int) -> list[Canned]:
    """A 503 the SDK retries once, then a 429 it does not: the bot retries after `retry_after` seconds."""
    return [
        Canned(503, {"ok": False, "error": "service_unavailable"}),
        Canned(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": str(retry_after)}),
    ]


def down_twice() -> list[Canned]:
    """Two 503s (the SDK retries the first): the bot backs off 2 s."""
    return [Canned(503, {"ok": False, "error": "service_unavailable"})] * 2


def assert_in_order_and_threaded(slack: FakeSlack, threaded: bool) -> None:
    bodies = [p for p in slack.posts() if p["channel"] == "C1"]
    assert [p["text"] for p in bodies] == [FIRST, SECOND], "a later notice overtook a refused one"
    if not threaded:
        assert [p.get("thread_ts") for p in bodies] == [None, None]
        assert slack.calls("chat.update") == []
        return
    assert "thread_ts" not in bodies[0]  # the refused notice is the thread's parent...
    assert bodies[1]["thread_ts"] == FIRST_TS  # ...and the later one replies under it
    (edit,) = [r.body for r in slack.calls("chat.update")]
    assert edit["ts"] == FIRST_TS and edit["text"].startswith(SECOND)
    assert "Started with *llama-3-8b* / *v3*: `ACTIVE` → `UNHEALTHY`" in json.dumps(edit["blocks"], ensure_ascii=False)


@pytest.mark.parametrize(
    ("threaded", "refusal", "said"),
    [
        (True, refused(5), "(429 ratelimited); retrying in 5s"),
        (False, down_twice() * 2, "(503 service_unavailable); retrying in 4s"),  # the second try
    ],
    ids=["threaded-429", "no-thread-503"],
)
def test_a_refused_notice_holds_back_the_next_one(
    threaded: bool,
    refusal: list[Canned],
    said: str,
    baseten: FakeBaseten,
    slack: FakeSlack,
    db_url: str,
    tmp_path: Path,
) -> None:
    bot = fast_bot(baseten, slack, db_url, tmp_path / "bot.log")
    try:
        flag = "" if threaded else " --no-thread"
        post_command(bot, slack, f"subscribe {MODEL} {PROD} --on all{flag}", channel="C1", name="sub")
        assert answer(slack, "sub")["response_type"] == "in_channel"
        slack.script("chat.postMessage", *refusal)
        baseten.set_status(MODEL, PROD, "UNHEALTHY")
        wait(lambda: said in bot.output(), what="the refusal")
        baseten.set_status(MODEL, PROD, "ACTIVE")  # recorded within a second; due at once, but second in line
        wait(lambda: len(posts_to(slack, "C1")) == 2, what="both notices")
        bot.wait_cycles(2)  # a pass or two more: nothing doubled
        assert_in_order_and_threaded(slack, threaded)
        assert "Traceback" not in bot.output()
    finally:
        bot.stop()


def test_the_order_holds_across_a_restart(baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path) -> None:
    bot = fast_bot(baseten, slack, db_url, tmp_path / "first.log")
    try:
        post_command(bot, slack, f"subscribe {MODEL} {PROD} --on all", channel="C1", name="sub")
        assert answer(slack, "sub")["response_type"] == "in_channel"
        slack.script("chat.postMessage", *refused(20))
        baseten.set_status(MODEL, PROD, "UNHEALTHY")
        wait(lambda: "retrying in 20s" in bot.output(), what="the refusal")
    finally:
        assert bot.stop() == 0
    baseten.set_status(MODEL, PROD, "ACTIVE")  # changed while the bot is down: the new process records it first
    bot = fast_bot(baseten, slack, db_url, tmp_path / "second.log")
    try:
        wait(lambda: len(posts_to(slack, "C1")) == 2, what="both notices")
        bot.wait_cycles(2)
        assert_in_order_and_threaded(slack, threaded=True)
    finally:
        bot.stop()


# -- in-process, with the clock in hand -------------------------------------------


@pytest.fixture
async def world(baseten: FakeBaseten, slack: FakeSlack, db_url: str) -> AsyncIterator[World]:
    w = World(baseten, slack, db_url)
    yield w
    await w.close()


@pytest.mark.parametrize("threaded", [True, False], ids=["threaded", "no-thread"])
async def test_a_later_pass_does_not_send_past_a_refused_notice(
    threaded: bool, world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    await world.command(f"subscribe {MODEL} {PROD} --on all" + ("" if threaded else " --no-thread"), channel="C1")
    slack.script("chat.postMessage", *down_twice())
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    assert (await world.cycle()).sent == 0  # refused: retried in 2 s
    baseten.set_status(MODEL, PROD, "ACTIVE")
    world.clock.advance(seconds=1)
    report = await world.poller.cycle()  # records the second change, then a delivery pass
    assert report.deliveries_created == 1 and report.sent == 0  # it waits behind the refused one
    world.clock.advance(seconds=1)
    assert (await world.notifier.deliver_due()).sent == 2
    assert_in_order_and_threaded(slack, threaded)


async def test_a_channel_behind_a_refused_notice_is_tried_again_within_a_minute(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    """However often Slack refuses a channel's oldest notice, its next try is at most a minute away:
    the notices behind it wait for it, so a backoff of many minutes would hold them all back."""
    await world.command(f"subscribe {MODEL} {PROD} --on all --no-thread", channel="C1")
    slack.script("chat.postMessage", *down_twice() * 8)  # eight tries refused in a row
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    await world.poller.cycle(deliver=False)
    baseten.set_status(MODEL, PROD, "ACTIVE")
    world.clock.advance(seconds=60)
    await world.poller.cycle(deliver=False)
    for attempt in range(8):
        assert (await world.notifier.deliver_due()).retried == 1, f"try {attempt + 1} was not made"
        world.clock.advance(seconds=60)
    assert (await world.notifier.deliver_due()).sent == 2
    assert posts_to(slack, "C1") == [FIRST, SECOND]


async def test_a_row_another_replica_is_sending_holds_back_its_channel_only(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    for channel in ("C1", "C2"):
        await world.command(f"subscribe {MODEL} {PROD} --on all", channel=channel)
    for status in ("UNHEALTHY", "ACTIVE"):
        baseten.set_status(MODEL, PROD, status)
        world.clock.advance(seconds=60)
        await world.poller.cycle(deliver=False)
    head = next(p for p in await world.store.outbox.due() if p.channel_id == "C1")
    assert await world.store.outbox.claim(head, holder="replica-2", for_=timedelta(seconds=30))
    assert (await world.notifier.deliver_due()).sent == 2
    assert posts_to(slack, "C2") == [FIRST, SECOND]  # another channel is not held up
    assert posts_to(slack, "C1") == []  # the later notice waits for the claimed one
    world.clock.advance(seconds=31)  # replica-2 died holding it: its claim expires, this one sends both
    assert (await world.notifier.deliver_due()).sent == 2
    assert posts_to(slack, "C1") == [FIRST, SECOND]
    c1, c2 = ([p for p in slack.posts() if p["channel"] == c] for c in ("C1", "C2"))
    assert "thread_ts" not in c1[0] and c1[1]["thread_ts"] not in (None, c2[1]["thread_ts"])  # each its own thread


async def test_a_failed_notice_holds_nothing_back(world: World, baseten: FakeBaseten, slack: FakeSlack) -> None:
    await world.command(f"subscribe {MODEL} {PROD} --on all --no-thread", channel="C1")
    slack.script("chat.postMessage", Canned(200, {"ok": False, "error": "msg_too_long"}))  # not retried
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    await world.cycle()
    assert await world.store.outbox.counts() == {"failed": 1}
    baseten.set_status(MODEL, PROD, "ACTIVE")
    world.clock.advance(seconds=1)
    assert (await world.poller.cycle()).sent == 1
    assert posts_to(slack, "C1") == [SECOND]


async def test_a_row_claimed_mid_pass_stops_the_pass_for_its_channel(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    """During a lease handover two replicas may deliver at once: the one that loses a row's claim
    must not go on to the rows behind it."""
    await world.command(f"subscribe {MODEL} {PROD} --on all --no-thread", channel="C1")
    for status in ("UNHEALTHY", "ACTIVE", "UNHEALTHY"):
        baseten.set_status(MODEL, PROD, status)
        world.clock.advance(seconds=60)
        await world.poller.cycle(deliver=False)
    first, second, third = await world.store.outbox.due()
    accepted = {"ok": True, "channel": "C1", "ts": "1700000000.000001"}
    slack.script("chat.postMessage", Canned(200, accepted, delay=3.0))  # Slack is slow with the first one
    passing = asyncio.ensure_future(world.notifier.deliver_due())
    await asyncio.to_thread(slack.wait_for, lambda: slack.calls("chat.postMessage"))
    assert await world.store.outbox.claim(second, holder="replica-2", for_=timedelta(seconds=30))
    assert (await passing).sent == 1
    assert posts_to(slack, "C1") == [FIRST]  # the third waits behind the second, which replica-2 holds
    world.clock.advance(seconds=31)  # replica-2 died holding it
    assert (await world.notifier.deliver_due()).sent == 2
    assert posts_to(slack, "C1") == [FIRST, SECOND, FIRST]
    assert third.id > second.id > first.id
