"""The promotion guard's store (bot.store.guard_checks) on a real migrated database: SQLite, or
PostgreSQL with TEST_DATABASE_URL. Rows written once, windows round-tripped, each spec announced
once through the outbox, the guard's pause claimed once, `promoted` changes read back, retention."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from bot.app.db import make_async_engine, make_sync_engine, sessions
from bot.domain.changes import GUARD, PROMOTED, STATUS, Change
from bot.domain.guard import AFTER, ROLLOUT, Check, Promoted, Window
from bot.domain.memory import Outgoing
from bot.domain.watchers import Watcher
from bot.store import Store
from bot.store import tables as t
from bot.store.guard_checks import GuardChecks
from bot.store.outbox import add_outgoing

NOW = datetime(2026, 12, 5, 10, 30, tzinfo=UTC)
STARTED = datetime(2026, 12, 5, 10, 15, tzinfo=UTC)
KEY = "staging/cand1/20261205T101500"
SPEC = "5xx:2%,p95:2x,min:50"
OTHER_SPEC = "5xx:1%,p95:2x,min:50,auto-pause"


class Clock:
    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    engine = make_async_engine(db_url)
    yield Store(sessions(engine), now=Clock())
    await engine.dispose()


def check(key: str = KEY, **kw: Any) -> Check:
    base = Check("m1", "staging", key, ROLLOUT, "cand1", "v2", "cur1", "v1", started_at=STARTED)
    return replace(base, **kw)


def subscribe(db_url: str, *ids: int) -> list[Watcher]:
    """Subscriptions to deliver to (a delivery's subscription must exist), and their watchers."""
    engine = make_sync_engine(db_url)
    with sa.orm.Session(engine) as session, session.begin():
        for sid in ids:
            session.add(
                t.Subscription(
                    id=sid, team_id="T1", channel_id=f"C{sid}", model_id="m1", target="env:staging", created_at=NOW
                )
            )
    engine.dispose()
    return [Watcher(sid, "T1", f"C{sid}", "m1", "env:staging", frozenset(), guard=SPEC) for sid in ids]


def notice(watchers: list[Watcher], spec: str = SPEC) -> Outgoing:
    detail = {"environment": "staging", "key": KEY, "phase": ROLLOUT, "spec": spec, "reasons": ["5xx rate 8%"]}
    change = Change(GUARD, "m1", "cand1", "v2", None, "FAILING", NOW, None, detail)
    return Outgoing(change, "llama", watchers)


def outbox(db_url: str) -> list[tuple[str, str, str, str | None, list[str]]]:
    """Each transition as (kind, deployment, spec, environment), with its deliveries' channels."""
    engine = make_sync_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.Transition.id, t.Transition.kind, t.Transition.deployment_id, t.Transition.detail)
        )
        out = []
        for tid, kind, dep, detail in rows.all():
            channels = conn.scalars(
                sa.select(t.Delivery.channel_id).where(t.Delivery.transition_id == tid, t.Delivery.state == "pending")
            )
            out.append((kind, dep, detail.get("spec", ""), detail.get("environment"), sorted(channels)))
    engine.dispose()
    return sorted(out)


async def test_begin_keeps_the_first_row_of_a_comparison(store: Store) -> None:
    first = check(candidate_name="v2", baseline_name="v1")
    await store.guard.begin([first])
    await store.guard.begin([replace(first, candidate_name="other", phase=AFTER, announced=frozenset({SPEC}))])
    await store.guard.begin([])
    assert await store.guard.find("m1", "staging", KEY) == first
    assert await store.guard.find("m1", "staging", "no-such-key") is None
    assert await store.guard.find("m1", "production", KEY) is None


async def test_begin_writes_each_new_comparison_and_keeps_long_names_within_the_column(store: Store) -> None:
    long_name = "n" * 400
    after = check("after/new1/7", phase=AFTER, ends_at=NOW + timedelta(minutes=30), candidate_name=long_name)
    await store.guard.begin([check(), after, check(environment="production")])
    known = await store.guard.of([check(), after, check(environment="production"), check("never-begun")])
    assert sorted(known) == [("m1", "production", KEY), ("m1", "staging", "after/new1/7"), ("m1", "staging", KEY)]
    got = known[("m1", "staging", "after/new1/7")]
    assert got == replace(after, candidate_name="n" * 255)
    assert got.ends_at == NOW + timedelta(minutes=30) and got.phase == AFTER
    assert await store.guard.of([check(environment="qa")]) == {}  # the key alone does not find another's row
    assert await store.guard.of([]) == {}


async def test_save_round_trips_both_windows_with_missing_values_and_notes(store: Store) -> None:
    await store.guard.begin([check(), check("other")])
    candidate = Window(requests=1234.0, errors_5xx=7.0, p95_seconds=0.85)
    current = Window(requests=None, errors_5xx=None, p95_seconds=None, note="Baseten answered 403: no access")
    at = NOW + timedelta(seconds=30)
    await store.guard.save(check(), candidate, current, at=at)
    got = await store.guard.find("m1", "staging", KEY)
    assert got is not None
    assert (got.candidate, got.current, got.checked_at) == (candidate, current, at)
    untouched = (await store.guard.of([check("other")]))[("m1", "staging", "other")]
    assert (untouched.candidate, untouched.current, untouched.checked_at) == (None, None, None)
    await store.guard.save(check(), Window(requests=0.0), Window(p95_seconds=1.5), at=at + timedelta(seconds=30))
    got = await store.guard.find("m1", "staging", KEY)
    assert got is not None and (got.candidate, got.current) == (Window(requests=0.0), Window(p95_seconds=1.5))
    assert got.checked_at == at + timedelta(seconds=30)


async def test_a_spec_is_announced_once_through_the_outbox(store: Store, db_url: str) -> None:
    watchers = subscribe(db_url, 1, 2)
    await store.guard.begin([check()])
    read = await store.guard.find("m1", "staging", KEY)
    assert read is not None and read.announced == frozenset()
    assert await store.guard.announce(read, SPEC, [notice(watchers)]) is True
    after = await store.guard.find("m1", "staging", KEY)
    assert after is not None and after.announced == frozenset({SPEC})
    assert outbox(db_url) == [(GUARD, "cand1", SPEC, "staging", ["C1", "C2"])]
    # the same reading again (another replica, or an earlier pass): nothing more is written
    assert await store.guard.announce(read, SPEC, [notice(watchers)]) is False
    assert await store.guard.announce(read, OTHER_SPEC, [notice(watchers[:1], OTHER_SPEC)]) is False
    assert outbox(db_url) == [(GUARD, "cand1", SPEC, "staging", ["C1", "C2"])]
    # a different spec, announced on what is now stored, goes out too
    assert await store.guard.announce(after, OTHER_SPEC, [notice(watchers[:1], OTHER_SPEC)]) is True
    final = await store.guard.find("m1", "staging", KEY)
    assert final is not None and final.announced == frozenset({SPEC, OTHER_SPEC})
    assert outbox(db_url) == [
        (GUARD, "cand1", OTHER_SPEC, "staging", ["C1"]),
        (GUARD, "cand1", SPEC, "staging", ["C1", "C2"]),
    ]
    assert await store.guard.announce(final, SPEC, [notice(watchers)]) is True  # the set is unchanged, the row matches
    assert len(outbox(db_url)) == 3


async def test_announcing_a_comparison_never_begun_writes_nothing(store: Store, db_url: str) -> None:
    watchers = subscribe(db_url, 1)
    assert await store.guard.announce(check(), SPEC, [notice(watchers)]) is False
    assert outbox(db_url) == []


async def test_the_guards_pause_is_claimed_once_in_every_replica(store: Store, db_url: str) -> None:
    await store.guard.begin([check(), check("other")])
    assert await store.guard.claim_pause(check()) is True
    assert await store.guard.claim_pause(check()) is False
    engine = make_async_engine(db_url)
    try:
        replica = GuardChecks(sessions(engine), now=lambda: NOW + timedelta(minutes=1))
        assert await replica.claim_pause(check()) is False
        assert await replica.claim_pause(check("other")) is True
        assert await replica.claim_pause(check("never-begun")) is False
    finally:
        await engine.dispose()
    known = await store.guard.of([check(), check("other")])
    assert known[("m1", "staging", KEY)].paused_at == NOW
    assert known[("m1", "staging", "other")].paused_at == NOW + timedelta(minutes=1)


def promoted_change(dep: str, at: datetime, detail: dict[str, Any], model: str = "m1") -> Outgoing:
    change = Change(PROMOTED, model, dep, f"name-{dep}", None, "PRODUCTION", at, None, detail)
    return Outgoing(change, "llama", [])


async def test_promoted_since_reads_the_promotions_the_outbox_recorded(store: Store, db_url: str) -> None:
    early, late = NOW - timedelta(hours=2), NOW - timedelta(minutes=5)
    engine = make_async_engine(db_url)
    try:
        async with sessions(engine).begin() as session:
            outgoing = [
                promoted_change("p0", early, {"previous_deployment_id": "x", "previous_deployment_name": "vx"}),
                promoted_change("p1", late, {"previous_deployment_id": "p0", "previous_deployment_name": "v0"}),
                promoted_change("s1", late, {"environment": "staging", "previous_deployment_id": "s0"}),
                promoted_change("e1", late, {"environment": "", "previous_deployment_id": ""}),
                promoted_change("q1", late, {"previous_deployment_id": "q0"}, model="m2"),
                promoted_change("q2", late, {}, model="m3"),
                Outgoing(Change(STATUS, "m1", "p1", "v1", "DEPLOYING", "ACTIVE", late), "llama", []),
            ]
            await add_outgoing(session, outgoing, NOW)
    finally:
        await engine.dispose()
    got = sorted(await store.guard.promoted_since(["m1", "m3"], NOW - timedelta(hours=1)), key=lambda p: p.new_id)
    ids = {p.new_id: p.transition_id for p in got}
    assert got == [
        Promoted(ids["e1"], "m1", "production", "e1", "name-e1", None, "", late),
        Promoted(ids["p1"], "m1", "production", "p1", "name-p1", "p0", "v0", late),
        Promoted(ids["q2"], "m3", "production", "q2", "name-q2", None, "", late),
        Promoted(ids["s1"], "m1", "staging", "s1", "name-s1", "s0", "", late),
    ]
    assert len(set(ids.values())) == 4
    older = await store.guard.promoted_since(["m1"], early)
    assert sorted(p.new_id for p in older) == ["e1", "p0", "p1", "s1"]
    assert await store.guard.promoted_since([], early) == []


KEYS = ("old-unread", "old-read-long-ago", "old-read-recently", "new-unread", "at-before")


async def test_retention_prunes_comparisons_not_read_since_before(store: Store) -> None:
    before = NOW - timedelta(days=30)
    old, new = before - timedelta(days=1), before + timedelta(days=1)
    await store.guard.begin(
        [
            check("old-unread", started_at=old),
            check("old-read-long-ago", started_at=old - timedelta(days=5)),
            check("old-read-recently", started_at=old - timedelta(days=5)),
            check("new-unread", started_at=new),
            check("at-before", started_at=before),
        ]
    )
    window = Window(requests=1.0)
    await store.guard.save(check("old-read-long-ago"), window, window, at=old)
    await store.guard.save(check("old-read-recently"), window, window, at=new)
    pruned = await store.retention.prune(before=before, batch=1)
    assert pruned.rows["guard_checks"] == 2
    left = sorted(key for _, _, key in await store.guard.of([check(k) for k in KEYS]))
    assert left == ["at-before", "new-unread", "old-read-recently"]
    assert (await store.retention.prune(before=before, batch=1)).rows["guard_checks"] == 0
