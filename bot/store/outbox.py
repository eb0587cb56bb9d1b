"""The outbox: transitions and one pending delivery per channel, recorded with what a poll saw.

The only module that writes the `transitions` and `deliveries` tables. `record` is a
poll's one transaction: its conditional writes of snapshots and model states (through
bot.store.snapshots) and environments (bot.store.env_states), then its transitions and
their deliveries; the notifier then claims, sends and marks each delivery.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.changes import REMIND, Change, Snap, is_failure
from bot.domain.memory import ModelMemory, ModelRow, Outgoing
from bot.domain.promotions import EnvState
from bot.store import tables as t
from bot.store._sql import Now, chunks, rowcount, utcnow
from bot.store.alarm_rows import open_alarm
from bot.store.env_states import write_environment
from bot.store.snapshots import write_model, write_snapshot

OPEN = ("pending", "sending")  # a delivery not yet sent, failed or dropped
# rendered inline, not bound, so that the planner sees the partial index of open rows applies
_OPEN_ROW = t.Delivery.state.in_(bindparam("open_states", list(OPEN), expanding=True, literal_execute=True))


class Conflict(Exception):
    """Another replica recorded a change first; this cycle's writes were rolled back."""


@dataclass(frozen=True)
class Pending:
    """One delivery to attempt, with what the notice needs."""

    id: int
    team_id: str
    channel_id: str
    subscription_id: int | None
    thread: bool
    attempts: int
    transition: Change
    model_name: str
    group_id: int | None = None  # the burst it goes out in, as a line (bot.store.groups)


class Outbox:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Now = utcnow) -> None:
        self._sessions = sessions
        self._now = now

    async def record(
        self,
        *,
        snaps: Sequence[tuple[Snap | None, Snap]],
        models: Sequence[tuple[ModelMemory | None, ModelRow]],
        outgoing: Sequence[Outgoing],
        environments: Sequence[tuple[EnvState | None, EnvState]] = (),
    ) -> int:
        """One transaction: snapshots, model states, transitions and their pending deliveries.

        Every write is conditional on what this cycle read (`before`): if another replica
        recorded a change first, nothing is written and `Conflict` is raised, so a change
        is recorded, and announced, once. Returns the number of deliveries created.
        """
        if not snaps and not models and not outgoing and not environments:
            return 0
        now = self._now()
        async with self._sessions.begin() as session:
            if (changed := await _write_states(session, snaps, models, environments, now)) is not None:
                raise Conflict(f"{changed} changed under this cycle")
            return await add_outgoing(session, outgoing, now)

    async def due(self, *, limit: int = 500) -> list[Pending]:
        """Rows to send now, oldest first, keeping each channel in the order its changes happened.

        A channel's rows go out only up to its oldest open row (pending, or claimed) that is
        not due: one Slack refused for a while, or one another replica is sending. The later
        ones wait behind it, so none overtakes it or becomes a thread's parent in its place.
        Decided here, from the database, so it holds across passes, restarts and replicas.
        Sent, failed and dropped rows hold nothing back.
        """
        now = self._now()
        d = t.Delivery
        holding = (
            select(d.team_id, d.channel_id, func.min(d.id).label("first"))
            .where(
                _OPEN_ROW,
                or_(
                    and_(d.state == "pending", d.next_attempt_at > now),
                    and_(d.state == "sending", d.claim_until >= now),
                ),
            )
            .group_by(d.team_id, d.channel_id)
            .subquery()
        )
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(d, t.Transition)
                    .join(t.Transition, d.transition_id == t.Transition.id)
                    .outerjoin(holding, and_(holding.c.team_id == d.team_id, holding.c.channel_id == d.channel_id))
                    .where(
                        _OPEN_ROW,
                        or_(
                            and_(d.state == "pending", d.next_attempt_at <= now),
                            # claimed by a replica that died before it finished
                            and_(d.state == "sending", d.claim_until < now),
                        ),
                        or_(holding.c.first.is_(None), d.id < holding.c.first),
                    )
                    .order_by(d.id)
                    .limit(limit)
                )
            ).all()
        return [pending_of(d, tr) for d, tr in rows]

    async def claim(self, pending: Pending, *, holder: str, for_: timedelta) -> bool:
        """Claims one row for sending; False if another replica has it or it is no longer due."""
        now = self._now()
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(t.Delivery)
                .where(
                    t.Delivery.id == pending.id,
                    or_(
                        t.Delivery.state == "pending",
                        and_(t.Delivery.state == "sending", t.Delivery.claim_until < now),
                    ),
                    # a row read alone that another replica has since put in a group goes with its group
                    t.Delivery.group_id.is_(None)
                    if pending.group_id is None
                    else t.Delivery.group_id == pending.group_id,
                )
                .values(state="sending", claimed_by=holder, claim_until=now + for_)
            )
            return rowcount(result) == 1

    async def release(self, pending: Pending, *, error: str) -> None:
        """Gives a claimed row back untouched: it stays pending for when sending can work again."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(t.Delivery)
                .where(t.Delivery.id == pending.id, t.Delivery.state == "sending")
                .values(state="pending", claimed_by=None, claim_until=None, last_error=error[:500])
            )

    async def mark_sent(self, pending: Pending, *, ts: str | None, thread_ts: str | None) -> None:
        async with self._sessions.begin() as session:
            await mark_sent_in(session, pending, ts=ts, thread_ts=thread_ts, now=self._now())

    async def mark_retry(self, pending: Pending, *, error: str, at: datetime) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(t.Delivery)
                .where(t.Delivery.id == pending.id)
                .values(
                    state="pending",
                    attempts=pending.attempts + 1,
                    last_error=error[:500],
                    next_attempt_at=at,
                    claimed_by=None,
                    claim_until=None,
                )
            )

    async def mark_failed(self, pending: Pending, *, error: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(t.Delivery)
                .where(t.Delivery.id == pending.id)
                .values(state="failed", attempts=pending.attempts + 1, last_error=error[:500])
            )

    async def counts(self) -> dict[str, int]:
        """Outbox state counts, for metrics and tests."""
        async with self._sessions() as session:
            rows = (await session.execute(select(t.Delivery.state, func.count()).group_by(t.Delivery.state))).all()
        return {state: int(n) for state, n in rows}


async def add_outgoing(session: AsyncSession, outgoing: Sequence[Outgoing], now: datetime) -> int:
    """Inside the caller's transaction: each change as a transition, and a pending delivery for each
    of its channels. Returns the number of deliveries created."""
    rows = []
    for item in outgoing:
        c = item.change
        transition = t.Transition(
            kind=c.kind,
            model_id=c.model_id,
            model_name=item.model_name,
            deployment_id=c.deployment_id,
            deployment_name=c.deployment_name,
            old_status=c.old_status,
            new_status=c.new_status,
            old_since=c.old_since,
            detected_at=c.at,
            detail=dict(c.detail),
        )
        session.add(transition)
        rows.append((transition, item))
    await session.flush()  # one round trip assigns every transition its id
    return await _add_deliveries(session, rows, now)


async def _add_deliveries(session: AsyncSession, rows: list[tuple[t.Transition, Outgoing]], now: datetime) -> int:
    """One pending delivery per channel that hears each change; returns how many."""

    # the poll loop holds watchers for seconds: one that unsubscribed since is owed nothing (and a
    # delivery to it would break the foreign key, and with it the model's whole record)
    live = await _live_ids(session, {w.subscription_id for _, item in rows for w in item.watchers})
    created = 0
    for transition, item in rows:
        for w in item.watchers:
            if w.subscription_id is not None and w.subscription_id not in live:
                continue
            session.add(
                t.Delivery(
                    transition_id=transition.id,
                    subscription_id=w.subscription_id,
                    team_id=w.team_id,
                    channel_id=w.channel_id,
                    thread=w.thread,
                    state="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
            created += 1
    return created


async def mark_sent_in(
    session: AsyncSession, pending: Pending, *, ts: str | None, thread_ts: str | None, now: datetime
) -> None:
    """Marks a delivery sent inside the caller's transaction (a promotion message records its ts with it).
    A failure notice opens its alarm in the same transaction (issue 26: Acknowledge, reminders)."""
    await session.execute(
        update(t.Delivery)
        .where(t.Delivery.id == pending.id)
        .values(state="sent", sent_at=now, ts=ts, thread_ts=thread_ts, attempts=pending.attempts + 1)
    )
    if is_failure(pending.transition):
        superseded = await open_alarm(
            session,
            delivery_id=pending.id,
            team_id=pending.team_id,
            channel_id=pending.channel_id,
            subscription_id=pending.subscription_id,
            change=pending.transition,
            ts=ts,
            thread_ts=thread_ts,
            now=now,
        )
        # an older failure notice's reminder still queued would say "not acknowledged" of a replaced alarm
        await drop_reminders(session, superseded, "a newer failure notice replaced its alarm")


async def drop_pending(
    session: AsyncSession,
    reason: str,
    *,
    subscription_ids: Sequence[int] | None = None,
    channel: tuple[str, str] | None = None,
) -> None:
    """Drops what subscriptions (or a whole channel) still owed: it will not be sent."""
    query = update(t.Delivery).where(t.Delivery.state == "pending")
    if subscription_ids is not None:
        query = query.where(t.Delivery.subscription_id.in_(subscription_ids))
    if channel is not None:
        query = query.where(t.Delivery.team_id == channel[0], t.Delivery.channel_id == channel[1])
    await session.execute(query.values(state="dropped", last_error=reason))


async def drop_reminders(session: AsyncSession, alarm_ids: Sequence[int], reason: str) -> None:
    """Drops the reminders of these alarms not sent yet (acknowledged or ended meanwhile: issue 26)."""
    if not alarm_ids:
        return
    d, tr = t.Delivery, t.Transition
    ids = (
        await session.scalars(
            select(d.id)
            .join(tr, d.transition_id == tr.id)
            .where(_OPEN_ROW, d.state == "pending", tr.kind == REMIND, tr.detail["alarm"].as_integer().in_(alarm_ids))
        )
    ).all()
    if ids:
        await session.execute(
            update(d).where(d.id.in_(ids), d.state == "pending").values(state="dropped", last_error=reason)
        )


async def last_sent(session: AsyncSession, subscription_ids: Sequence[int]) -> dict[int, datetime]:
    """When each subscription last had a notice accepted by Slack."""
    rows = (
        await session.execute(
            select(t.Delivery.subscription_id, func.max(t.Delivery.sent_at))
            .where(t.Delivery.subscription_id.in_(subscription_ids), t.Delivery.state == "sent")
            .group_by(t.Delivery.subscription_id)
        )
    ).all()
    return {int(sub_id): at for sub_id, at in rows if sub_id is not None and at is not None}


def pending_of(d: t.Delivery, tr: t.Transition) -> Pending:
    """A stored delivery and its transition as the notifier reads them (also to draw a sent notice again)."""
    return Pending(
        id=d.id,
        team_id=d.team_id,
        channel_id=d.channel_id,
        subscription_id=d.subscription_id,
        thread=d.thread,
        attempts=d.attempts,
        transition=change_of(tr),
        model_name=tr.model_name,
        group_id=d.group_id,
    )


def change_of(tr: t.Transition) -> Change:
    """A stored transition as the Change it recorded."""
    return Change(
        kind=tr.kind,
        model_id=tr.model_id,
        deployment_id=tr.deployment_id,
        deployment_name=tr.deployment_name,
        old_status=tr.old_status,
        new_status=tr.new_status,
        at=tr.detected_at,
        old_since=tr.old_since,
        detail=tr.detail or {},
    )


async def _live_ids(session: AsyncSession, ids: Iterable[int | None]) -> set[int]:
    """Which of these subscriptions still exist, inside the recording transaction: the one read of
    the subscriptions table outside bot.store.subscriptions, which calls this module, not back."""
    live: set[int] = set()
    for chunk in chunks(sorted({i for i in ids if i is not None}), 500):
        live.update((await session.scalars(select(t.Subscription.id).where(t.Subscription.id.in_(chunk)))).all())
    return live


async def _write_states(
    session: AsyncSession,
    snaps: Sequence[tuple[Snap | None, Snap]],
    models: Sequence[tuple[ModelMemory | None, ModelRow]],
    environments: Sequence[tuple[EnvState | None, EnvState]],
    now: datetime,
) -> str | None:
    """What a poll saw, each write conditional on what it read (for bot.store.outbox's recording
    transaction). Returns what another writer changed first (the caller then writes nothing), or None."""
    for before, after in snaps:
        if not await write_snapshot(session, before, after):
            return f"snapshot {after.model_id}/{after.deployment_id}"
    for memory, row in models:
        if not await write_model(session, memory, row, now):
            return f"model state {row[0]}"
    for env_before, env_after in environments:
        if not await write_environment(session, env_before, env_after):
            return f"environment {env_after.model_id}/{env_after.name}"
    return None
