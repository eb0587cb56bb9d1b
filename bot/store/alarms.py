"""Alarms (issue 26): failure notices acknowledged from Slack and reminded while they last.

The only module that issues SQL for the `alarms` table, but for opening one (bot.store.alarm_rows,
inside the outbox's transaction that marks its notice sent). Every write is conditional on what its
caller read, so a double click, a redelivered click or two replicas change an alarm once; a reminder
is its alarm's count moved and its notice queued in the outbox, in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.alarms import DELETED, RECOVERED, Alarm
from bot.domain.memory import Outgoing
from bot.store import tables as t
from bot.store._sql import Now, rowcount, utcnow
from bot.store.outbox import Pending, add_outgoing, drop_reminders, pending_of

End = tuple[int, str, str | None]  # (delivery id, why, the status now)


class Alarms:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Now = utcnow) -> None:
        self._sessions = sessions
        self._now = now

    async def get(self, delivery_id: int) -> Alarm | None:
        async with self._sessions() as session:
            found = await _read(session, t.Alarm.delivery_id == delivery_id)
        return found[0] if found else None

    async def live(self) -> list[Alarm]:
        """What the on-call pass looks at: open alarms, and acknowledged ones that recovered (or went)
        whose notice does not say so yet."""
        a = t.Alarm
        edit = and_(a.acked_by.is_not(None), a.ended_why.in_((RECOVERED, DELETED)), a.edited.is_(False))
        async with self._sessions() as session:
            return await _read(session, or_(a.ended_at.is_(None), edit))

    async def acknowledge(self, delivery_id: int, user_id: str) -> bool:
        """The first acknowledgement of an open alarm wins; False when it was acknowledged or ended before."""
        a = t.Alarm
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(a)
                .where(a.delivery_id == delivery_id, a.acked_by.is_(None), a.ended_at.is_(None))
                .values(acked_by=user_id, acked_at=self._now())
            )
            if rowcount(result) != 1:
                return False
            await drop_reminders(session, [delivery_id], "acknowledged")
            return True

    async def end(self, ends: Sequence[End]) -> int:
        """Ends open alarms (recovered, deleted, unsubscribed); one already ended keeps its first reason."""
        if not ends:
            return 0
        a, now, ended = t.Alarm, self._now(), 0
        async with self._sessions.begin() as session:
            for delivery_id, why, status in ends:
                result = await session.execute(
                    update(a)
                    .where(a.delivery_id == delivery_id, a.ended_at.is_(None))
                    .values(ended_at=now, ended_why=why, now_status=status)
                )
                ended += rowcount(result)
            await drop_reminders(session, [e[0] for e in ends], "the alarm ended")
        return ended

    async def remind(self, alarm: Alarm, outgoing: Outgoing) -> bool:
        """One transaction: the alarm's count moves from what `alarm` read to the next, and the reminder
        is queued in the outbox. False (nothing written) when another pass or replica moved it first,
        or it was acknowledged or ended meanwhile."""
        a, now = t.Alarm, self._now()
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(a)
                .where(
                    a.delivery_id == alarm.delivery_id,
                    a.reminders == alarm.reminders,
                    a.acked_by.is_(None),
                    a.ended_at.is_(None),
                )
                .values(reminders=alarm.reminders + 1, reminded_at=now)
            )
            if rowcount(result) != 1:
                return False
            await add_outgoing(session, [outgoing], now)
        return True

    async def mark_edited(self, delivery_id: int) -> None:
        """The notice says it recovered (or the edit was given up on): not edited again."""
        async with self._sessions.begin() as session:
            await session.execute(update(t.Alarm).where(t.Alarm.delivery_id == delivery_id).values(edited=True))

    async def notice(self, delivery_id: int) -> Pending | None:
        """The failure notice an alarm is about, as the notifier drew it: to draw it again."""
        d = t.Delivery
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(d, t.Transition)
                    .join(t.Transition, d.transition_id == t.Transition.id)
                    .where(d.id == delivery_id)
                )
            ).first()
        if row is None:
            return None
        return pending_of(*row)


async def _read(session: AsyncSession, where: ColumnElement[bool]) -> list[Alarm]:
    a, s = t.Alarm, t.Subscription
    rows = (
        await session.execute(
            select(a, s.remind_seconds).outerjoin(s, s.id == a.subscription_id).where(where).order_by(a.delivery_id)
        )
    ).all()
    return [
        Alarm(
            delivery_id=r.delivery_id,
            team_id=r.team_id,
            channel_id=r.channel_id,
            subscription_id=r.subscription_id,
            model_id=r.model_id,
            deployment_id=r.deployment_id,
            status=r.status,
            ts=r.ts,
            thread_ts=r.thread_ts,
            opened_at=r.opened_at,
            reminders=r.reminders,
            reminded_at=r.reminded_at,
            acked_by=r.acked_by,
            acked_at=r.acked_at,
            ended_at=r.ended_at,
            ended_why=r.ended_why,
            now_status=r.now_status,
            edited=r.edited,
            remind_seconds=remind,
        )
        for r, remind in rows
    ]
