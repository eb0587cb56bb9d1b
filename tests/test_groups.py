"""Notice groups (issue 26): the burst rule and the count by kind (bot.domain.groups), the group's message
(bot.render.groups), and the store (bot.store.groups) on a real migrated database: SQLite, or PostgreSQL
with TEST_DATABASE_URL. A group is formed once, from rows still open and in no group; its message is
claimed by one replica at a time and never again once posted; retention prunes groups with no rows left."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.app.db import make_async_engine, make_sync_engine, sessions
from bot.domain.changes import GONE, GUARD, NEW, PROMOTION, REMIND, STATUS, STUCK, Change
from bot.domain.groups import Tally, Window, burst_until, groupable, word
from bot.domain.memory import Outgoing
from bot.domain.watchers import Watcher
from bot.render.cards import MAX_BLOCKS, MAX_SECTION
from bot.render.groups import group_message
from bot.store import Store
from bot.store import tables as t

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
WAIT = timedelta(seconds=10)


def change(dep: str, old: str | None, new: str, *, kind: str = STATUS, model: str = "m1") -> Change:
    return Change(
        kind=kind, model_id=model, deployment_id=dep, deployment_name=dep, old_status=old, new_status=new, at=NOW
    )


# --- the pure parts


def test_each_kind_is_counted_under_a_clear_word() -> None:
    assert word(change("d", "ACTIVE", "UNHEALTHY")) == "failed"
    assert word(change("d", None, "DEPLOY_FAILED", kind=NEW)) == "failed"
    assert word(change("d", "UNHEALTHY", "ACTIVE")) == "recovered"
    assert word(change("d", "UNHEALTHY", "UNHEALTHY", kind=REMIND)) == "still failing"
    assert word(change("d", None, "BUILDING", kind=NEW)) == "new"
    assert word(change("d", "ACTIVE", "ACTIVE", kind=GONE)) == "deleted"
    assert word(change("d", "DEPLOYING", "DEPLOYING", kind=STUCK)) == "stuck"
    assert word(change("d", "ACTIVE", "SCALED_TO_ZERO")) == "changed status"


def test_promotions_and_the_guard_go_alone_everything_else_groups() -> None:
    assert not groupable(change("d", None, "x", kind=PROMOTION))
    assert not groupable(change("d", None, "x", kind=GUARD))
    assert groupable(change("d", "UNHEALTHY", "UNHEALTHY", kind=REMIND))
    assert groupable(change("d", "ACTIVE", "UNHEALTHY"))


def test_the_tally_counts_deployments_and_models_distinct_and_kinds_in_order() -> None:
    changes = [change(f"d{i}", "ACTIVE", "UNHEALTHY", model=f"m{i % 7}") for i in range(9)]
    changes += [change(f"r{i}", "UNHEALTHY", "ACTIVE", model="m0") for i in range(3)]
    assert Tally.of(changes).sentence() == "12 deployments of 7 models changed: 9 failed, 3 recovered"
    recovered_first = list(reversed(changes))
    assert Tally.of(recovered_first).sentence() == "12 deployments of 7 models changed: 9 failed, 3 recovered"
    one = Tally.of([change("d", "ACTIVE", "UNHEALTHY"), change("d", "UNHEALTHY", "UNHEALTHY", kind=REMIND)])
    assert one.sentence() == "1 deployment of 1 model changed: 1 failed, 1 still failing"


def test_a_burst_is_more_than_over_counting_what_went_alone_and_goes_after_the_wait() -> None:
    assert burst_until(Window(None, 0, 0), over=5, wait=WAIT) is None
    assert burst_until(Window(NOW, 5, 0), over=5, wait=WAIT) is None  # five is not more than five
    assert burst_until(Window(NOW, 6, 0), over=5, wait=WAIT) == NOW + WAIT
    assert burst_until(Window(NOW, 2, 4), over=5, wait=WAIT) == NOW + WAIT  # a trickle adds up
    assert burst_until(Window(NOW, 6, 0), over=5, wait=timedelta(0)) == NOW  # no wait: at once


def test_the_group_message_counts_them_and_lists_them_by_kind() -> None:
    notices = [(change("v1", "ACTIVE", "UNHEALTHY"), "llama"), (change("v2", "UNHEALTHY", "ACTIVE"), "llama")]
    message = group_message(notices)
    assert message.text == "2 deployments of 1 model changed: 1 failed, 1 recovered"
    blocks = json.dumps(message.blocks, ensure_ascii=False)
    assert "*Failed* (1)" in blocks and "*llama* · *v1* `ACTIVE` → `UNHEALTHY`" in blocks
    assert blocks.index("*Failed*") < blocks.index("*Recovered*")


def test_the_group_message_stays_within_slacks_limits_and_escapes_names() -> None:
    notices = [(change(f"deployment-{i:04d}-" + "x" * 60, "ACTIVE", "UNHEALTHY"), "<!channel>") for i in range(400)]
    message = group_message(notices)
    assert len(message.blocks) <= MAX_BLOCKS
    texts = [b["text"]["text"] for b in message.blocks if b["type"] == "section"]
    assert all(len(x) <= MAX_SECTION for x in texts)
    assert "more" in texts[1] and "<!channel>" not in json.dumps(message.blocks)
    shown = texts[1].count("\n• ")  # each line after the head
    assert f"… and {400 - shown} more" in texts[1]


# --- the store


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
    engine = make_sync_engine(db_url)
    with sa.orm.Session(engine) as session, session.begin():
        session.add(t.Subscription(id=1, team_id="T1", channel_id="C1", model_id="m1", target="*", created_at=NOW))
    engine.dispose()
    aengine = make_async_engine(db_url)
    yield Store(sessions(aengine), now=clock)
    await aengine.dispose()


async def record(store: Store, *changes: Change) -> None:
    watcher = Watcher(1, "T1", "C1", "m1", "*", frozenset())
    await store.outbox.record(snaps=[], models=[], outgoing=[Outgoing(c, "llama", [watcher]) for c in changes])


async def test_the_window_counts_open_rows_near_the_oldest_and_those_sent_alone(store: Store, clock: Clock) -> None:
    assert await store.groups.window("T1", "C1", wait=WAIT) == Window(None, 0, 0)
    await record(store, change("a", "ACTIVE", "UNHEALTHY"), change("p", None, "x", kind=PROMOTION))
    (a, _) = await store.outbox.due()
    await store.outbox.mark_sent(a, ts="1.1", thread_ts=None)  # went alone, at NOW
    clock.at += timedelta(seconds=3)
    await record(store, *(change(f"d{i}", "ACTIVE", "UNHEALTHY") for i in range(3)))
    clock.at += timedelta(seconds=9)
    await record(store, change("late", "ACTIVE", "UNHEALTHY"))  # 9 s after the oldest open one: joins
    clock.at += timedelta(seconds=2)
    await record(store, change("later", "ACTIVE", "UNHEALTHY"))  # 11 s after it: does not
    window = await store.groups.window("T1", "C1", wait=WAIT)
    assert window == Window(NOW + timedelta(seconds=3), 4, 1)  # the promotion is not counted
    clock.at += timedelta(minutes=5)  # the verdict does not change while the burst waits
    assert await store.groups.window("T1", "C1", wait=WAIT) == window


async def test_a_group_is_formed_once_from_rows_still_open_and_in_no_group(store: Store, db_url: str) -> None:
    await record(store, *(change(f"d{i}", "ACTIVE", "UNHEALTHY") for i in range(4)))
    rows = await store.outbox.due()
    ids = [r.id for r in rows]
    await store.outbox.mark_sent(rows[3], ts="1.1", thread_ts=None)  # went meanwhile
    assert await store.groups.form("T1", "C1", ids) is None  # nothing written
    group = await store.groups.form("T1", "C1", ids[:3])
    assert group is not None
    assert await store.groups.form("T1", "C1", ids[:2]) is None  # never grouped twice
    assert [r.group_id for r in await store.outbox.due()] == [group] * 3
    engine = make_sync_engine(db_url)
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(t.NoticeGroup)) == 1
    engine.dispose()
    assert (await store.groups.window("T1", "C1", wait=WAIT)).oldest is None  # grouped rows are not counted


async def test_a_groups_message_is_claimed_once_and_never_posted_again(store: Store, clock: Clock) -> None:
    await record(store, *(change(f"d{i}", "ACTIVE", "UNHEALTHY") for i in range(2)))
    group = await store.groups.form("T1", "C1", [r.id for r in await store.outbox.due()])
    assert group is not None
    assert await store.groups.claim(group, holder="a", for_=timedelta(seconds=30))
    assert not await store.groups.claim(group, holder="b", for_=timedelta(seconds=30))  # a has it
    clock.at += timedelta(seconds=31)  # a died: its claim runs out, b posts it
    assert await store.groups.claim(group, holder="b", for_=timedelta(seconds=30))
    await store.groups.posted(group, ts="9.9")
    state = await store.groups.state(group)
    assert state is not None and state.ts == "9.9" and state.sent_at is not None
    clock.at += timedelta(minutes=5)
    assert not await store.groups.claim(group, holder="c", for_=timedelta(seconds=30))  # posted: never again
    await store.groups.release(group)  # a late release changes nothing
    assert (await store.groups.state(group)) == state


async def test_retention_prunes_groups_with_no_rows_left(store: Store) -> None:
    await record(store, *(change(f"d{i}", "ACTIVE", "UNHEALTHY") for i in range(2)))
    rows = await store.outbox.due()
    group = await store.groups.form("T1", "C1", [r.id for r in rows])
    assert group is not None
    later = NOW + timedelta(days=40)
    pruned = await store.retention.prune(before=later)
    assert pruned.rows["notice_groups"] == 0  # its rows are still owed
    for r in rows:
        await store.outbox.mark_sent(r, ts=f"1.{r.id}", thread_ts="9.9")
    assert (await store.retention.prune(before=later)).rows["notice_groups"] == 1
    assert await store.groups.state(group) is None
