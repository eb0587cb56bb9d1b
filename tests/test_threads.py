"""Threads: the first notice is the parent, later ones reply under it, and the parent shows the latest."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import MODEL, PROD
from tests.fakes import Canned, FakeBaseten, FakeSlack
from tests.world import World


@pytest.fixture
async def world(baseten: FakeBaseten, slack: FakeSlack, db_url: str) -> AsyncIterator[World]:
    w = World(baseten, slack, db_url)
    yield w
    await w.close()


def posted(slack: FakeSlack) -> list[dict[str, Any]]:
    return slack.posts()


async def flip(world: World, baseten: FakeBaseten, *statuses: str) -> None:
    for status in statuses:
        baseten.set_status(MODEL, PROD, status)
        await world.cycle()


async def test_replies_in_the_thread_and_the_parent_shows_the_latest(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    await world.command(f"subscribe {MODEL} {PROD}")
    await flip(world, baseten, "UPDATING", "UNHEALTHY", "ACTIVE")
    parent, updating, recovered = posted(slack)[0], posted(slack)[1], posted(slack)[2]
    assert parent["text"] == "llama-3-8b / v3: ACTIVE → UPDATING" and "thread_ts" not in parent
    ts = "1700000000.000001"  # the fake's first ts: the parent's
    assert updating["text"] == "llama-3-8b / v3: UPDATING → UNHEALTHY"
    assert updating["thread_ts"] == ts and updating["reply_broadcast"] is True  # a failure
    assert recovered["thread_ts"] == ts and recovered["reply_broadcast"] is True  # a recovery
    edits = [r.body for r in slack.calls("chat.update")]
    assert [e["ts"] for e in edits] == [ts, ts]
    assert edits[-1]["text"].startswith("llama-3-8b / v3: UNHEALTHY → ACTIVE")
    assert "Started with" in str(edits[-1]["blocks"]) and "UPDATING" in str(edits[-1]["blocks"])


async def test_routine_progress_is_not_broadcast(world: World, baseten: FakeBaseten, slack: FakeSlack) -> None:
    await world.command(f"subscribe {MODEL} {PROD} --on all")
    await flip(world, baseten, "UPDATING", "ACTIVE", "SCALED_TO_ZERO")
    replies = posted(slack)[1:]
    assert [r["reply_broadcast"] for r in replies] == [False, False]


async def test_no_thread_gives_one_message_per_change(world: World, baseten: FakeBaseten, slack: FakeSlack) -> None:
    await world.command(f"subscribe {MODEL} {PROD} --no-thread")
    await flip(world, baseten, "UNHEALTHY", "ACTIVE")
    assert [p.get("thread_ts") for p in posted(slack)] == [None, None]
    assert slack.calls("chat.update") == []


async def test_the_thread_survives_a_restart(baseten: FakeBaseten, slack: FakeSlack, db_url: str) -> None:
    first = World(baseten, slack, db_url)
    await first.command(f"subscribe {MODEL} {PROD}")
    await flip(first, baseten, "UNHEALTHY")
    clock = first.clock
    await first.close()
    second = World(baseten, slack, db_url, clock)
    await flip(second, baseten, "ACTIVE")
    await second.close()
    parent, reply = posted(slack)
    assert reply["thread_ts"] == "1700000000.000001" and "thread_ts" not in parent


async def test_a_new_day_starts_a_new_thread(world: World, baseten: FakeBaseten, slack: FakeSlack) -> None:
    await world.command(f"subscribe {MODEL} {PROD}")
    await flip(world, baseten, "UNHEALTHY")
    world.clock.advance(hours=25)
    await flip(world, baseten, "ACTIVE")
    assert [p.get("thread_ts") for p in posted(slack)] == [None, None]


async def test_a_deleted_parent_starts_a_new_thread(world: World, baseten: FakeBaseten, slack: FakeSlack) -> None:
    await world.command(f"subscribe {MODEL} {PROD}")
    await flip(world, baseten, "UNHEALTHY")
    slack.script("chat.postMessage", Canned(200, {"ok": False, "error": "thread_not_found"}))
    await flip(world, baseten, "ACTIVE")
    await flip(world, baseten, "UNHEALTHY")
    texts = [(p["text"], p.get("thread_ts")) for p in posted(slack)]
    assert texts == [
        ("llama-3-8b / v3: ACTIVE → UNHEALTHY", None),
        ("llama-3-8b / v3: UNHEALTHY → ACTIVE", None),  # the new parent
        ("llama-3-8b / v3: ACTIVE → UNHEALTHY", "1700000000.000002"),
    ]


async def test_each_channel_has_its_own_thread(world: World, baseten: FakeBaseten, slack: FakeSlack) -> None:
    await world.command(f"subscribe {MODEL} {PROD}", channel="C1")
    await world.command(f"subscribe {MODEL} {PROD}", channel="C2")
    await flip(world, baseten, "UNHEALTHY", "ACTIVE")
    by_channel: dict[str, list[Any]] = {}
    for p in posted(slack):
        by_channel.setdefault(p["channel"], []).append(p.get("thread_ts"))
    assert by_channel["C1"][0] is None and by_channel["C2"][0] is None
    assert by_channel["C1"][1] != by_channel["C2"][1]
