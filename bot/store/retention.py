"""Pruning what the bot no longer needs, older than RETENTION_DAYS, in small batches.

What goes: deliveries that are done (sent, failed or dropped), transitions no open delivery
still needs (of the `promoted` ones, all but the newest two of each model's environment:
`rollback` reads those, bot.store.actions), finished actions, the live messages of promotions
no environment shows any more, what the bot last saw of environments nobody watches, the
snapshots of deployments deleted that long ago, and notice threads that old (a thread takes
replies for THREAD_AGE, a day at most, so none of them would take one again), the promotion
guard's comparisons not read since (their promotions ended long before), the messages of notice
groups none of whose deliveries is left, and approval requests decided (or expired) that long ago,
as their actions go. A failure notice's alarm (issue 26) goes with its notice. Each batch is
one short transaction of at most `batch` rows, so the lease holder's other writers never wait
long behind it; the service runs it off the poll loop's path (bot.app.service).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute, aliased

from bot.store import tables as t
from bot.store._sql import rowcount

DONE = ("sent", "failed", "dropped")
BATCH = 500
PENDING = "pending"  # bot.store.approvals.PENDING: an approval request not decided yet
PROMOTED = "promoted"  # bot.polling.transitions.PROMOTED, as bot.store.actions names it
# `promoted` transitions kept per model and environment however old: `rollback` reads the newest
# (what it rolls back from) and the one before it (since when a rollback counts as that promotion's)
KEEP_PROMOTIONS = 2


@dataclass
class Pruned:
    """Rows removed, by table."""

    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


class Retention:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def prune(self, *, before: datetime, batch: int = BATCH) -> Pruned:
        """Everything that may go and is older than `before`, `batch` rows a transaction."""
        d, tr, a, env, msg = t.Delivery, t.Transition, t.Action, t.EnvironmentState, t.PromotionMessage
        open_delivery = exists().where(d.transition_id == tr.id, d.state.not_in(DONE))
        shown = exists().where(env.promotion_key == msg.promotion_key, env.model_id == msg.model_id)
        watched = exists().where(t.Subscription.model_id == env.model_id)
        old_transition = and_(tr.detected_at < before, ~open_delivery)
        pruned = Pruned()
        done = and_(d.state.in_(DONE), d.created_at < before)
        alarm_done = exists().where(d.id == t.Alarm.delivery_id, done)
        steps: list[tuple[str, InstrumentedAttribute[object], ColumnElement[bool]]] = [
            # a notice's alarm goes with it, first: not left to the foreign key's cascade
            ("alarms", t.Alarm.delivery_id, alarm_done),
            ("deliveries", d.id, done),
            ("transitions", tr.id, and_(old_transition, tr.kind != PROMOTED)),
            ("promotions", tr.id, and_(old_transition, tr.kind == PROMOTED, _superseded())),
            ("actions", a.id, and_(a.finished_at.is_not(None), a.finished_at < before)),
        ]
        for name, key, where in steps:
            pruned.rows[name] = await self._by_id(key, where, batch)
        pruned.rows["transitions"] += pruned.rows.pop("promotions")
        grouped = exists().where(d.group_id == t.NoticeGroup.id)  # a group goes after its last delivery
        pruned.rows["notice_groups"] = await self._by_id(
            t.NoticeGroup.id, and_(t.NoticeGroup.created_at < before, ~grouped), batch
        )
        pruned.rows["promotion_messages"] = await self._where(msg, and_(msg.created_at < before, ~shown), batch)
        stale = and_(~watched, or_(env.since.is_(None), env.since < before))
        pruned.rows["environment_states"] = await self._where(env, stale, batch)
        snap = t.Snapshot
        pruned.rows["snapshots"] = await self._where(snap, and_(snap.gone, snap.status_since < before), batch)
        pruned.rows["threads"] = await self._where(t.Thread, t.Thread.created_at < before, batch)
        g = t.GuardCheck  # a comparison not read since `before`: its promotion ended long ago
        pruned.rows["guard_checks"] = await self._where(g, func.coalesce(g.checked_at, g.started_at) < before, batch)
        ap = t.ApprovalRow  # a pending one is never pruned: it expires first (bot.actions.approvals)
        decided = and_(ap.state != PENDING, func.coalesce(ap.decided_at, ap.expires_at) < before)
        pruned.rows["approvals"] = await self._by_id(ap.id, decided, batch)
        return pruned

    async def _by_id(self, key: InstrumentedAttribute[object], where: ColumnElement[bool], batch: int) -> int:
        """Deletes rows with an integer key, `batch` at a time, until none match."""
        table = key.class_
        removed = 0
        while True:
            async with self._sessions.begin() as session:
                ids = (await session.scalars(select(key).where(where).limit(batch))).all()
                if ids:
                    removed += rowcount(await session.execute(delete(table).where(key.in_(ids))))
            if len(ids) < batch:
                return removed

    async def _where(self, table: type[t.Base], where: ColumnElement[bool], batch: int) -> int:
        """Deletes rows of a table with a composite key, `batch` at a time, until none match."""
        keys = list(table.__table__.primary_key)
        removed = 0
        while True:
            async with self._sessions.begin() as session:
                rows = (await session.execute(select(*keys).where(where).limit(batch))).all()
                for row in rows:
                    match = and_(*(k == v for k, v in zip(keys, row, strict=True)))
                    removed += rowcount(await session.execute(delete(table).where(match)))
            if len(rows) < batch:
                return removed


def _environment(tr: type[t.Transition]) -> ColumnElement[str]:
    """A `promoted` transition's environment as `rollback` reads it: none named is production."""
    return func.coalesce(func.nullif(tr.detail["environment"].as_string(), ""), "production")


def _superseded() -> ColumnElement[bool]:
    """A `promoted` transition with KEEP_PROMOTIONS newer ones of its model and environment."""
    tr, newer = t.Transition, aliased(t.Transition)
    count = (
        select(func.count())
        .select_from(newer)
        .where(
            newer.model_id == tr.model_id,
            newer.kind == PROMOTED,
            newer.id > tr.id,
            _environment(newer) == _environment(tr),
        )
        .scalar_subquery()
    )
    return count >= KEEP_PROMOTIONS
