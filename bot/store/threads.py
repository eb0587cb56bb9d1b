"""Notice threads: which message a deployment's notices reply to in each channel.

The only module that issues SQL for the `threads` table (and reads the deliveries of a
thread, to count its replies). The notifier starts and reads threads; an action's line
goes into the deployment's thread when one is open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.changes import REMIND, Change
from bot.store import tables as t
from bot.store._sql import Now, utcnow
from bot.store.outbox import change_of


@dataclass(frozen=True)
class ThreadInfo:
    """A deployment's notice thread in one channel: its parent, first change and replies so far."""

    ts: str
    first: Change | None
    replies: int
    first_id: int | None = None  # the parent's delivery: a failure notice's alarm is keyed by it (issue 26)


class Threads:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Now = utcnow) -> None:
        self._sessions = sessions
        self._now = now

    async def thread(
        self, team_id: str, channel_id: str, deployment_id: str, *, max_age: timedelta
    ) -> ThreadInfo | None:
        """The open thread of a deployment's notices in a channel, if one started within `max_age`."""
        async with self._sessions() as session:
            row = await session.get(t.Thread, (team_id, channel_id, deployment_id))
            if row is None or row.created_at < self._now() - max_age:
                return None
            first = (
                await session.execute(
                    select(t.Transition, t.Delivery.id)
                    .join(t.Delivery, t.Delivery.transition_id == t.Transition.id)
                    .where(
                        t.Delivery.team_id == team_id,
                        t.Delivery.channel_id == channel_id,
                        t.Delivery.ts == row.ts,
                    )
                    .limit(1)
                )
            ).first()
            replies = await session.scalar(
                select(func.count())
                .select_from(t.Delivery)
                .join(t.Transition, t.Delivery.transition_id == t.Transition.id)
                .where(
                    t.Delivery.team_id == team_id,
                    t.Delivery.channel_id == channel_id,
                    t.Delivery.thread_ts == row.ts,
                    t.Delivery.state == "sent",
                    t.Transition.kind != REMIND,  # a reminder is not a change of the deployment
                )
            )
        if first is None:
            return ThreadInfo(row.ts, None, int(replies or 0))
        return ThreadInfo(row.ts, change_of(first[0]), int(replies or 0), int(first[1]))

    async def latest_reply(self, team_id: str, channel_id: str, ts: str) -> tuple[int, Change | None]:
        """How many notices replied to the message `ts` in a channel (reminders aside), and the newest one:
        what a thread's parent shows (bot.delivery.parents)."""
        d, tr = t.Delivery, t.Transition
        where = (d.team_id == team_id, d.channel_id == channel_id, d.thread_ts == ts, d.state == "sent")
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(d).join(tr, d.transition_id == tr.id).where(*where, tr.kind != REMIND)
            )
            newest = (
                await session.execute(
                    select(tr)
                    .join(d, d.transition_id == tr.id)
                    .where(*where, tr.kind != REMIND)
                    .order_by(d.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
        return int(count or 0), None if newest is None else change_of(newest)

    async def set_thread(
        self, team_id: str, channel_id: str, model_id: str, deployment_id: str, ts: str | None
    ) -> None:
        """Starts (or, with ts None, forgets) the thread of a deployment's notices in a channel."""
        async with self._sessions.begin() as session:
            # a statement, not the ORM's delete of a row read first: pruning may have removed it meanwhile
            th = t.Thread
            where = (th.team_id == team_id, th.channel_id == channel_id, th.deployment_id == deployment_id)
            await session.execute(delete(th).where(*where))
            if ts is not None:
                session.add(
                    t.Thread(
                        team_id=team_id,
                        channel_id=channel_id,
                        deployment_id=deployment_id,
                        model_id=model_id,
                        ts=ts,
                        created_at=self._now(),
                    )
                )
