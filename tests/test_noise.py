"""The stuck and flapping rules as pure functions with an explicit clock, then end to end."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.domain.changes import FLAPPING, SETTLED, STATUS, STUCK, Change, Snap
from bot.polling import noise
from tests.conftest import DEV, MODEL, PROD
from tests.fakes import FakeBaseten, FakeSlack, deployment
from tests.world import World

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
M30 = timedelta(minutes=30)


def snap(status: str = "BUILDING", since: datetime = T0, **kw: Any) -> Snap:
    return Snap("m1", "d1", "v1", status, since, **kw)


@pytest.mark.parametrize(
    ("status", "elapsed", "announced", "thresholds", "due"),
    [
        ("BUILDING", 29, 0, [30], []),
        ("BUILDING", 30, 0, [30], [30]),
        ("DEPLOYING", 45, 0, [30, 60], [30]),
        ("LOADING_MODEL", 61, 30 * 60, [30, 60], [60]),  # 30 already announced
        ("UPDATING", 61, 60 * 60, [30, 60], []),
        ("WAKING_UP", 31, 0, [30], [30]),
        ("ACTIVE", 300, 0, [30], []),  # not in progress
        ("UNHEALTHY", 300, 0, [30], []),
        ("DEACTIVATING", 300, 0, [30], []),
    ],
)
def test_stuck_due(status: str, elapsed: int, announced: int, thresholds: list[int], due: list[int]) -> None:
    now = T0 + timedelta(minutes=elapsed)
    got = noise.stuck_due(snap(status, stuck_announced=announced), [timedelta(minutes=t) for t in thresholds], now)
    assert got == [timedelta(minutes=t) for t in due]


def test_gone_is_never_stuck() -> None:
    assert noise.stuck_due(snap(gone=True), [M30], T0 + timedelta(hours=2)) == []


@pytest.mark.parametrize(
    ("minutes_ago", "flapping"),
    [
        ([1, 2, 3, 4], False),  # four changes: not more than the limit
        ([0, 1, 2, 3, 4], True),
        ([0, 1, 2, 3, 40], False),  # one is outside the window
        ([], False),
    ],
)
def test_starts_flapping(minutes_ago: list[int], flapping: bool) -> None:
    now = T0 + timedelta(hours=1)
    times = [now - timedelta(minutes=m) for m in minutes_ago]
    assert noise.starts_flapping(times, now) is flapping


@pytest.mark.parametrize(
    ("flapping_since", "stable_for", "settled"),
    [(T0, 9, False), (T0, 10, True), (None, 60, False)],
)
def test_settled(flapping_since: datetime | None, stable_for: int, settled: bool) -> None:
    s = snap("ACTIVE", since=T0 + timedelta(minutes=5), flapping_since=flapping_since)
    assert noise.settled(s, T0 + timedelta(minutes=5 + stable_for)) is settled


def change(old: str, new: str, at: datetime) -> Change:
    return Change(STATUS, "m1", "d1", "v1", old, new, at)


def test_apply_flaps_holds_and_settles() -> None:
    now = T0 + timedelta(minutes=10)
    earlier = [T0 + timedelta(minutes=m) for m in (1, 3, 5, 7)]
    current = {"d1": snap("UNHEALTHY", since=now)}
    out = noise.apply(current, [change("ACTIVE", "UNHEALTHY", now)], {"d1": earlier}, [M30], now)
    assert [c.kind for c in out.changes] == [FLAPPING] and out.held == {"d1"}
    flapping = out.snaps[0]
    assert flapping.flapping_since == now
    # still changing: held, nothing new announced
    later = now + timedelta(minutes=2)
    moved = {"d1": Snap("m1", "d1", "v1", "ACTIVE", later, flapping_since=now)}
    out = noise.apply(moved, [change("UNHEALTHY", "ACTIVE", later)], {"d1": [*earlier, now]}, [M30], later)
    assert out.changes == [] and out.held == {"d1"}
    # stable for ten minutes: one summary, and the flag is cleared
    calm = later + timedelta(minutes=10)
    out = noise.apply(moved, [], {"d1": [*earlier, now, later]}, [M30], calm)
    assert [(c.kind, c.new_status, c.detail["changes"]) for c in out.changes] == [(SETTLED, "ACTIVE", 2)]
    assert out.snaps[0].flapping_since is None


def test_apply_churn_never_flaps() -> None:
    now = T0 + timedelta(minutes=10)
    times = [T0 + timedelta(minutes=m) for m in range(8)]
    out = noise.apply(
        {"d1": snap("SCALED_TO_ZERO", since=now)}, [change("ACTIVE", "SCALED_TO_ZERO", now)], {"d1": times}, [M30], now
    )
    assert out.changes == [] and out.held == set()


def test_apply_stuck_once_per_threshold() -> None:
    now = T0 + timedelta(minutes=31)
    out = noise.apply({"d1": snap("BUILDING")}, [], {}, [M30, timedelta(hours=1)], now)
    assert [(c.kind, c.detail["threshold_s"]) for c in out.changes] == [(STUCK, 1800)]
    assert out.snaps[0].stuck_announced == 1800
    again = noise.apply({"d1": out.snaps[0]}, [], {}, [M30, timedelta(hours=1)], now + timedelta(minutes=5))
    assert again.changes == []


# -- end to end -------------------------------------------------------------------


@pytest.fixture
async def world(baseten: FakeBaseten, slack: FakeSlack, db_url: str) -> AsyncIterator[World]:
    w = World(baseten, slack, db_url)
    yield w
    await w.close()


def texts(slack: FakeSlack, channel: str | None = None) -> list[str]:
    return [p["text"] for p in slack.posts() if channel is None or p["channel"] == channel]


async def test_stuck_is_announced_once_at_each_subscriptions_threshold(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    await world.command(f"subscribe {MODEL} {DEV}", channel="C1")  # default: 30 minutes
    await world.command(f"subscribe {MODEL} {DEV} --stuck 2h --no-thread", channel="C2")
    listing, _ = await world.command("list", channel="C2")
    assert "stuck after 2h" in json.dumps(listing.blocks)
    for _ in range(35):  # 35 one-minute cycles in BUILDING
        await world.cycle()
    assert texts(slack, "C1") == ["llama-3-8b / dev: stuck in BUILDING for 30m"]
    assert texts(slack, "C2") == []
    world.clock.advance(hours=1, minutes=30)
    await world.cycle()
    await world.cycle()
    assert texts(slack, "C1") == ["llama-3-8b / dev: stuck in BUILDING for 30m"]
    assert texts(slack, "C2") == ["llama-3-8b / dev: stuck in BUILDING for 2h 6m"]


async def test_flapping_is_announced_once_then_summarised(world: World, baseten: FakeBaseten, slack: FakeSlack) -> None:
    await world.command(f"subscribe {MODEL} {PROD} --no-thread")
    for status in ["UNHEALTHY", "ACTIVE"] * 4:
        baseten.set_status(MODEL, PROD, status)
        await world.cycle()
    got = texts(slack)
    assert got[:4] == [
        "llama-3-8b / v3: ACTIVE → UNHEALTHY",
        "llama-3-8b / v3: UNHEALTHY → ACTIVE",
        "llama-3-8b / v3: ACTIVE → UNHEALTHY",
        "llama-3-8b / v3: UNHEALTHY → ACTIVE",
    ]
    assert got[4].startswith("llama-3-8b / v3: flapping (5 changes in 30m), now UNHEALTHY")
    assert len(got) == 5  # the rest is held back
    for _ in range(12):  # stable for more than ten minutes
        await world.cycle()
    assert texts(slack)[5:] == ["llama-3-8b / v3: stopped flapping after 4 changes, settled at ACTIVE"]
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    await world.cycle()
    assert texts(slack)[-1] == "llama-3-8b / v3: ACTIVE → UNHEALTHY"  # back to normal


async def test_new_deployment_and_promotion_say_who_did_it(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    await world.command(f"subscribe {MODEL}")
    baseten.add_deployment(deployment("dep4new", MODEL, name="v4", status="BUILDING"))
    baseten.audit[MODEL] = [
        {
            "id": "a2",
            "created": "2026-11-27T09:02:00Z",
            "event_type": "MODEL_DEPLOYMENT_PROMOTED",
            "event_data": {"deployment_id": "dep4new"},
            "source": "API",
            "actor": {"type": "API_KEY", "api_key_name": "ci-deployer"},
        },
        {
            "id": "a1",
            "created": "2026-11-27T09:01:00Z",
            "event_type": "MODEL_DEPLOYED",
            "event_data": {"deployment_id": "dep4new"},
            "source": "UI",
            "actor": {"type": "USER", "email": "alice@example.com"},
        },
    ]
    await world.cycle()
    new_blocks = json.dumps(slack.posts()[-1]["blocks"])
    assert "by alice@example.com via UI" in new_blocks
    baseten.promote(MODEL, "dep4new")
    await world.cycle()
    promoted = [p for p in slack.posts() if "promoted" in p["text"]]
    assert promoted and "by API key ci-deployer via API" in json.dumps(promoted[0]["blocks"])


async def test_no_audit_access_degrades_silently(world: World, baseten: FakeBaseten, slack: FakeSlack) -> None:
    from tests.fakes import Canned

    await world.command(f"subscribe {MODEL}")
    baseten.script(f"/v1/models/{MODEL}/audit_logs", Canned(403, {"error": "forbidden"}))
    baseten.add_deployment(deployment("dep4new", MODEL, name="v4", status="BUILDING"))
    await world.cycle()
    assert texts(slack) == ["llama-3-8b / v4: new deployment → BUILDING"]
    assert " by " not in json.dumps(slack.posts()[0]["blocks"])
