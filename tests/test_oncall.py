"""On call's parts (issue 26): the pure plan (which alarms end, which reminders are due), the reminder
options, the rendering, and the alarms store on a real, migrated SQLite file (or PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.app.db import make_async_engine, make_sync_engine, sessions
from bot.commands.parse import parse
from bot.commands.typed import Subscribe, UsageError
from bot.domain.alarms import Alarm
from bot.domain.changes import REMIND, STATUS, Change, Snap
from bot.domain.memory import ModelMemory, Outgoing
from bot.domain.watchers import Muted, Watcher
from bot.oncall.plan import due, endings
from bot.render.cards import Message
from bot.render.oncall import ACK_ACTION, ack_button, closed, reminder
from bot.store import Store
from bot.store import tables as t

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
OPENED = NOW - timedelta(minutes=5)


def alarm(**kw: object) -> Alarm:
    fields: dict[str, object] = {
        "delivery_id": 7,
        "team_id": "T1",
        "channel_id": "C1",
        "subscription_id": 1,
        "model_id": "m1",
        "deployment_id": "d1",
        "status": "UNHEALTHY",
        "ts": "1.1",
        "thread_ts": None,
        "opened_at": OPENED,
    }
    return Alarm(**{**fields, **kw})  # type: ignore[arg-type]


def snap(status: str = "UNHEALTHY", *, gone: bool = False) -> dict[str, dict[str, Snap]]:
    return {"m1": {"d1": Snap("m1", "d1", "v3", status, OPENED - timedelta(minutes=1), gone=gone)}}


def watcher(**kw: object) -> Watcher:
    fields: dict[str, object] = {
        "subscription_id": 1,
        "team_id": "T1",
        "channel_id": "C1",
        "model_id": "m1",
        "target": "d1",
        "kinds": frozenset(),
        "remind_seconds": 60,
        "remind_max": 3,
    }
    return Watcher(**{**fields, **kw})  # type: ignore[arg-type]


MODELS = {"m1": ModelMemory(True, "d1", None, "llama")}


def planned(a: Alarm, w: Watcher, snaps: dict[str, dict[str, Snap]] | None = None, now: datetime = NOW) -> list[int]:
    found = due([a], {w.subscription_id: w}, snap() if snaps is None else snaps, MODELS, {}, now=now)
    return [int(o.change.detail["n"]) for _, o in found]


def test_an_alarm_ends_when_the_deployment_recovers_goes_or_nobody_follows_it() -> None:
    assert endings([alarm()], snap("ACTIVE"), [1]) == [(7, "recovered", "ACTIVE")]
    assert endings([alarm()], snap("BUILD_FAILED"), [1]) == []  # still failing
    assert endings([alarm()], snap(gone=True), [1]) == [(7, "deleted", "DELETED")]
    assert endings([alarm()], snap(), []) == [(7, "unsubscribed", None)]
    assert endings([alarm(subscription_id=None)], snap(), [1]) == [(7, "unsubscribed", None)]
    assert endings([alarm()], {}, [1]) == []  # no snapshot says nothing
    assert endings([alarm(ended_at=NOW)], snap("ACTIVE"), [1]) == []  # ended already


def test_a_reminder_is_due_at_its_interval_up_to_its_cap() -> None:
    reminder_one = planned(alarm(), watcher())
    assert reminder_one == [1]
    (found,) = due([alarm()], {1: watcher()}, snap(), MODELS, {}, now=NOW)
    change = found[1].change
    assert change.kind == REMIND and change.new_status == "UNHEALTHY" and found[1].model_name == "llama"
    assert change.detail["alarm"] == 7 and change.detail["max"] == 3 and change.detail["thread_ts"] == "1.1"
    assert [w.channel_id for w in found[1].watchers] == ["C1"]
    assert planned(alarm(opened_at=NOW - timedelta(seconds=59)), watcher()) == []  # not yet
    assert planned(alarm(reminders=1, reminded_at=NOW - timedelta(seconds=30)), watcher()) == []
    assert planned(alarm(reminders=1, reminded_at=NOW - timedelta(seconds=60)), watcher()) == [2]
    assert planned(alarm(reminders=3, reminded_at=OPENED), watcher()) == []  # capped
    assert planned(alarm(reminders=7, reminded_at=OPENED), watcher(remind_max=None)) == [8]  # the default, 8
    assert planned(alarm(reminders=8, reminded_at=OPENED), watcher(remind_max=None)) == []


def test_no_reminder_when_acknowledged_ended_paused_unasked_recovered_or_muted() -> None:
    assert planned(alarm(acked_by="U1", acked_at=NOW), watcher()) == []
    assert planned(alarm(ended_at=NOW), watcher()) == []
    assert planned(alarm(), watcher(paused=True)) == []
    assert planned(alarm(), watcher(remind_seconds=None)) == []
    assert planned(alarm(), watcher(), snap("ACTIVE")) == []
    muted = watcher(mutes=(Muted("production", NOW + timedelta(hours=1)),))
    assert planned(alarm(), muted) == []  # d1 is production: a mute of production covers it
    assert planned(alarm(), watcher(mutes=(Muted("other", NOW + timedelta(hours=1)),))) == [1]
    assert planned(alarm(), watcher(mutes=(Muted("*", NOW - timedelta(seconds=1)),))) == [1]  # ended: goes on


def test_remind_options_parse_with_clear_refusals() -> None:
    cmd = parse("subscribe m1 production --remind 30m --remind-max 4")
    assert isinstance(cmd, Subscribe) and cmd.remind == (timedelta(minutes=30), 4)
    plain = parse("subscribe m1 --remind=1m")
    assert isinstance(plain, Subscribe) and plain.remind == (timedelta(minutes=1), None)
    off = parse("subscribe m1 --remind off")
    assert isinstance(off, Subscribe) and off.remind is None
    for text, said in [
        ("subscribe m1 --remind 0m", "at least `1m`"),
        ("subscribe m1 --remind 2d", "at most `1d`"),
        ("subscribe m1 --remind soon", "takes a duration"),
        ("subscribe m1 --remind-max 3", "needs `--remind DURATION`"),
        ("subscribe m1 --remind 5m --remind-max 0", "from 1 to 100"),
        ("subscribe m1 --remind 5m --remind-max 101", "from 1 to 100"),
        ("subscribe m1 --remind", "`--remind` needs a duration"),
    ]:
        with pytest.raises(UsageError) as err:
            parse(text)
        assert said in str(err.value), (text, str(err.value))


def test_a_reminder_says_which_of_how_many_and_the_last_says_so() -> None:
    change = Change(
        REMIND, "m1", "d1", "v3", None, "FAILED", NOW, OPENED, {"alarm": 7, "n": 2, "max": 8, "since": None}
    )
    message = reminder(change, model_name="llama", now=NOW + timedelta(minutes=59), ack=True)
    assert message.text == "Reminder 2 of 8: llama · v3 still FAILED for 1h 4m, not acknowledged"
    assert ACK_ACTION in str(message.blocks)
    last = reminder(
        Change(REMIND, "m1", "d1", "v3", None, "FAILED", NOW, OPENED, {"alarm": 7, "n": 8, "max": 8}),
        model_name="llama",
        now=NOW,
        ack=False,
    )
    assert last.text.endswith("; the last reminder") and ACK_ACTION not in str(last.blocks)


def test_an_acknowledged_notice_is_drawn_without_its_button_saying_who_and_when() -> None:
    drawn = Message("x", [{"type": "actions", "elements": [ack_button(7)]}, {"type": "section", "text": {}}])
    shown = closed(drawn, acked_by="U0ALICE", acked_at=NOW, ended=("recovered", "ACTIVE", NOW))
    assert ACK_ACTION not in str(shown.blocks) and shown.blocks[0]["type"] == "section"  # the empty row goes
    assert "Acknowledged by <@U0ALICE>" in str(shown.blocks[-1]) and "recovered (now `ACTIVE`)" in str(shown.blocks)
    assert "someone" in str(closed(drawn, acked_by="<!channel>", acked_at=NOW).blocks[-1])


async def _failure_sent(store: Store, channel: str = "C1", ts: str = "1.1") -> int:
    """Subscribes `channel` to m1/d1 and sends it a failure notice through the outbox; its delivery id."""
    sub_id, _ = await store.subscriptions.subscribe(
        team_id="T1", channel_id=channel, model_id="m1", model_name="llama", target="d1", target_name="v3",
        kinds=(), thread=True, user_id="U1", remind=(60, 3),
    )  # fmt: skip
    w = watcher(subscription_id=sub_id, channel_id=channel)
    change = Change(STATUS, "m1", "d1", "v3", "ACTIVE", "UNHEALTHY", NOW)
    await store.outbox.record(snaps=[], models=[], outgoing=[Outgoing(change, "llama", [w])])
    (pending,) = [p for p in await store.outbox.due() if p.channel_id == channel and p.transition.kind != REMIND]
    await store.outbox.mark_sent(pending, ts=ts, thread_ts=None)
    return pending.id


async def test_a_newer_failure_notice_drops_the_reminder_its_replaced_alarm_had_queued(db_url: str) -> None:
    """A reminder queued for an alarm that a newer failure notice then replaces would say "not
    acknowledged" of a notice nobody can act on any more: it is dropped with the alarm it was for."""
    engine = make_async_engine(db_url)
    store = Store(sessions(engine), now=lambda: NOW)
    try:
        await _failure_sent(store)
        live = (await store.alarms.live())[0]
        (plan,) = due([live], {live.subscription_id or 0: watcher(subscription_id=live.subscription_id)}, snap(),
                      MODELS, {}, now=NOW + timedelta(minutes=1))  # fmt: skip
        assert await store.alarms.remind(*plan) is True
        assert [p.transition.kind for p in await store.outbox.due()] == [REMIND]  # queued, not sent yet
        await _failure_sent(store, ts="1.2")
        assert [p for p in await store.outbox.due() if p.transition.kind == REMIND] == []
        assert (await store.outbox.counts()).get("dropped") == 1
    finally:
        await engine.dispose()


async def test_the_store_opens_supersedes_acknowledges_once_and_reminds_once(db_url: str) -> None:
    engine = make_async_engine(db_url)
    store = Store(sessions(engine), now=lambda: NOW)
    try:
        first = await _failure_sent(store)
        (opened,) = await store.alarms.live()
        assert (opened.delivery_id, opened.status, opened.ts, opened.remind_seconds) == (first, "UNHEALTHY", "1.1", 60)
        second = await _failure_sent(store, ts="1.2")  # a newer failure notice in the channel replaces it
        assert [a.delivery_id for a in await store.alarms.live()] == [second]
        assert (await store.alarms.get(first)).ended_why == "superseded"  # type: ignore[union-attr]

        live = (await store.alarms.live())[0]
        (plan,) = due([live], {live.subscription_id or 0: watcher(subscription_id=live.subscription_id)}, snap(),
                      MODELS, {}, now=NOW + timedelta(minutes=1))  # fmt: skip
        assert await store.alarms.remind(*plan) is True
        assert await store.alarms.remind(*plan) is False  # the same count read twice: one reminder
        queued = [p for p in await store.outbox.due() if p.transition.kind == REMIND]
        assert [p.transition.detail["n"] for p in queued] == [1]

        assert await store.alarms.acknowledge(second, "U0ALICE") is True
        assert await store.alarms.acknowledge(second, "U0BOB") is False  # a double click: once
        acked = await store.alarms.get(second)
        assert acked is not None and acked.acked_by == "U0ALICE" and acked.acked_at == NOW
        assert [p for p in await store.outbox.due() if p.transition.kind == REMIND] == []  # dropped: not sent
        assert await store.alarms.remind(acked, plan[1]) is False  # acknowledged: no more
        assert await store.alarms.end([(second, "recovered", "ACTIVE")]) == 1
        assert [a.delivery_id for a in await store.alarms.live()] == [second]  # left to edit: acknowledged
        await store.alarms.mark_edited(second)
        assert await store.alarms.live() == []
    finally:
        await engine.dispose()


async def test_retention_prunes_an_alarm_with_its_notice(db_url: str) -> None:
    engine = make_async_engine(db_url)
    store = Store(sessions(engine), now=lambda: NOW)
    try:
        await _failure_sent(store)
        pruned = await store.retention.prune(before=NOW + timedelta(seconds=1))
        assert pruned.rows["alarms"] == 1 and pruned.rows["deliveries"] == 1
    finally:
        await engine.dispose()
    sync = make_sync_engine(db_url)
    with sync.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.Alarm.__table__)).scalar() == 0
    sync.dispose()
