"""Digests in the store (bot.store.digests, bot.store.history's PeriodHistory) and the job that sends
them (bot.delivery.digests), on a real migrated database: SQLite, or PostgreSQL with TEST_DATABASE_URL.
A period is claimed once whoever asks, sent once, settled when Slack refuses the channel for good, and
only the latest missed period goes out after a stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.app.db import make_async_engine, make_sync_engine, sessions
from bot.app.runtime import slack_client
from bot.delivery.digests import DigestJob
from bot.domain.changes import NEW, STATUS
from bot.domain.digests import DAILY, WEEKLY, Schedule
from bot.store import Store
from bot.store import tables as t
from tests.fakes import BOT_TOKEN, TEAM, FakeSlack

NOW = datetime(2026, 12, 5, 8, 30, tzinfo=UTC)  # a Saturday
DAILY_9 = Schedule(DAILY, 9, 0)
CLAIM = timedelta(seconds=30)


class Clock:
    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(db_url: str, clock: Clock) -> AsyncIterator[Store]:
    engine = make_async_engine(db_url)
    yield Store(sessions(engine), now=clock)
    await engine.dispose()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    yield fake
    fake.close()


def job(store: Store, fake: FakeSlack, clock: Clock, holder: str = "a", **kw: object) -> DigestJob:
    return DigestJob(
        store=store, slack=slack_client(BOT_TOKEN, fake.api_url), now=clock, holder=holder, claim_for=CLAIM, **kw
    )


def posts(fake: FakeSlack, channel: str = "C1") -> list[dict[str, object]]:
    return [p for p in fake.posts() if p.get("channel") == channel]


def seed(db_url: str) -> None:
    """C1 watches model m1 (all of it) and deployment m2/d9; m1's v1 failed and recovered yesterday and
    today, v2 appeared; m3, which nobody in C1 watches, failed too."""
    rows = [
        (STATUS, "m1", "d1", "v1", "ACTIVE", "UNHEALTHY", "2026-12-04T06:00:00"),
        (STATUS, "m1", "d1", "v1", "UNHEALTHY", "ACTIVE", "2026-12-04T08:00:00"),
        (STATUS, "m1", "d1", "v1", "ACTIVE", "UNHEALTHY", "2026-12-05T06:00:00"),
        (NEW, "m1", "d2", "v2", None, "BUILDING", "2026-12-05T07:00:00"),
        (STATUS, "m3", "d5", "x", "ACTIVE", "FAILED", "2026-12-05T07:00:00"),
        (STATUS, "m2", "d8", "other", "ACTIVE", "FAILED", "2026-12-05T07:00:00"),
    ]
    engine = make_sync_engine(db_url)
    with sa.orm.Session(engine) as session, session.begin():
        for model, target in (("m1", "*"), ("m2", "d9")):
            session.add(
                t.Subscription(
                    team_id=TEAM,
                    channel_id="C1",
                    model_id=model,
                    model_name=f"name-{model}",
                    target=target,
                    created_at=NOW - timedelta(days=9),
                )
            )
        for kind, model, dep, name, old, new, when in rows:
            session.add(
                t.Transition(
                    kind=kind,
                    model_id=model,
                    deployment_id=dep,
                    deployment_name=name,
                    old_status=old,
                    new_status=new,
                    detected_at=datetime.fromisoformat(when).replace(tzinfo=UTC),
                    detail={},
                )
            )
    engine.dispose()


async def test_set_replace_and_off(store: Store, clock: Clock) -> None:
    assert await store.digests.set(TEAM, "C1", DAILY_9, user_id="U1") is None
    view = await store.digests.get(TEAM, "C1")
    assert view is not None and view.schedule == DAILY_9
    assert view.last_due == datetime(2026, 12, 4, 9, 0, tzinfo=UTC)  # yesterday's period is not this digest's
    same = await store.digests.set(TEAM, "C1", DAILY_9, user_id="U2")
    assert same is not None and same.schedule == DAILY_9
    weekly = Schedule(WEEKLY, 9, 0, "Europe/Berlin", 0)
    replaced = await store.digests.set(TEAM, "C1", weekly, user_id="U1")
    assert replaced is not None and replaced.schedule == DAILY_9
    assert [v.schedule for v in await store.digests.all()] == [weekly]  # one digest a channel
    ended = await store.digests.off(TEAM, "C1")
    assert ended is not None and ended.schedule == weekly
    assert await store.digests.off(TEAM, "C1") is None and await store.digests.all() == []


async def test_a_period_is_claimed_once_whoever_asks(store: Store, clock: Clock) -> None:
    await store.digests.set(TEAM, "C1", DAILY_9, user_id="U1")
    clock.at = NOW + timedelta(hours=1)
    due = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    (view,) = await store.digests.all()
    claims = await asyncio.gather(*(store.digests.claim(view, due, holder=h, for_=CLAIM) for h in "abcdef"))
    assert sum(claims) == 1
    holder = "abcdef"[claims.index(True)]
    assert not await store.digests.claim(view, due, holder=holder, for_=CLAIM)  # its own live claim too
    clock.at += CLAIM * 2  # the holder died: its claim expires, another replica takes the period
    assert await store.digests.claim(view, due, holder="z", for_=CLAIM)
    await store.digests.mark_sent(view, due, holder=holder, ts="1.1")  # the dead holder's late record: ignored
    assert (await store.digests.get(TEAM, "C1")).last_due < due  # type: ignore[union-attr]
    await store.digests.mark_sent(view, due, holder="z", ts="1.2")
    settled = await store.digests.get(TEAM, "C1")
    assert settled is not None and settled.last_due == due and settled.sent_at == clock.at
    clock.at += CLAIM * 2
    assert not await store.digests.claim(view, due, holder="y", for_=CLAIM)  # sent: never again


async def test_a_claim_on_a_schedule_changed_meanwhile_fails(store: Store, clock: Clock) -> None:
    await store.digests.set(TEAM, "C1", DAILY_9, user_id="U1")
    (view,) = await store.digests.all()
    await store.digests.set(TEAM, "C1", Schedule(DAILY, 9, 30), user_id="U1")
    clock.at = NOW + timedelta(hours=2)
    assert not await store.digests.claim(view, datetime(2026, 12, 5, 9, 0, tzinfo=UTC), holder="a", for_=CLAIM)


async def test_the_history_of_a_period_is_what_the_channel_watches(store: Store, db_url: str) -> None:
    seed(db_url)
    since = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    until = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    period = await store.history.period({("m1", None), ("m2", "d9")}, since=since, until=until)
    assert sorted((e.deployment_id, e.new_status) for e in period.events) == [("d1", "UNHEALTHY"), ("d2", "BUILDING")]
    assert period.status_at_start == {("m1", "d1"): "ACTIVE"}  # after its last change before the period
    assert period.names == {("m1", "d1"): "v1", ("m1", "d2"): "v2"}
    later = await store.history.period({("m1", None)}, since=until, until=until + timedelta(days=1))
    assert later.status_at_start == {("m1", "d1"): "UNHEALTHY", ("m1", "d2"): "BUILDING"}


async def test_the_job_sends_each_period_once_and_only_the_latest_missed(
    store: Store, db_url: str, clock: Clock, fake_slack: FakeSlack
) -> None:
    seed(db_url)
    await store.digests.set(TEAM, "C1", DAILY_9, user_id="U1")
    first, second = job(store, fake_slack, clock, "a"), job(store, fake_slack, clock, "b")
    assert await first.run() == 0  # not due before 09:00
    clock.at = datetime(2026, 12, 5, 9, 0, 3, tzinfo=UTC)
    assert sum(await asyncio.gather(first.run(), second.run())) == 1
    assert await first.run() == 0 and await second.run() == 0
    (sent,) = posts(fake_slack)
    text = str(sent["blocks"])
    assert "Failures: *1* (1 the day before)" in text and "Deploys (new deployments): *1*" in text
    assert "*name-m1* / *v1*" in text and "m3" not in text and "other" not in text
    clock.at = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)  # down for four days: the 6th, 7th, 8th and 9th missed
    assert await second.run() == 1 and await first.run() == 0
    latest = posts(fake_slack)[-1]
    assert len(posts(fake_slack)) == 2 and "Digest" in str(latest["text"])
    assert "<!date^1796720400^" in str(latest["blocks"])  # from 2026-12-08 09:00 UTC: the latest period only


async def test_a_channel_slack_refuses_settles_the_period_and_list_says_why(
    store: Store, db_url: str, clock: Clock, fake_slack: FakeSlack
) -> None:
    await store.digests.set(TEAM, "C1", DAILY_9, user_id="U1")
    fake_slack.channel_errors["C1"] = "not_in_channel"
    clock.at = datetime(2026, 12, 5, 9, 1, tzinfo=UTC)
    assert await job(store, fake_slack, clock).run() == 0
    view = await store.digests.get(TEAM, "C1")
    assert view is not None and view.last_error == "not_in_channel"
    assert view.last_due == datetime(2026, 12, 5, 9, 0, tzinfo=UTC)  # not tried again every pass
    calls = len(fake_slack.calls("chat.postMessage"))
    assert calls == 1 and await job(store, fake_slack, clock).run() == 0
    assert len(fake_slack.calls("chat.postMessage")) == calls


class Spend:
    def __init__(self, lines: Sequence[str] | None, fail: bool = False) -> None:
        self.lines, self.fail, self.asked = lines, fail, 0

    async def spend_lines(
        self, *, team_id: str, channel_id: str, model_ids: Sequence[str], start: datetime, end: datetime
    ) -> Sequence[str] | None:
        self.asked += 1
        assert list(model_ids) == ["m1", "m2"] and end - start == timedelta(days=1)
        if self.fail:
            raise RuntimeError("billing said 403")
        return self.lines


@pytest.mark.parametrize(
    ("source", "says"), [(Spend(["m1: USD 12.40"]), True), (Spend(None), False), (Spend(["x"], fail=True), False)]
)
async def test_spend_comes_from_its_source_or_is_not_mentioned(
    store: Store, db_url: str, clock: Clock, fake_slack: FakeSlack, source: Spend, says: bool
) -> None:
    seed(db_url)
    await store.digests.set(TEAM, "C1", DAILY_9, user_id="U1")
    clock.at = datetime(2026, 12, 5, 9, 0, 3, tzinfo=UTC)
    assert await job(store, fake_slack, clock, spend=source).run() == 1
    blocks = str(posts(fake_slack)[0]["blocks"])
    assert source.asked == 1 and ("*Spend*" in blocks) is says and ("USD 12.40" in blocks) is says
