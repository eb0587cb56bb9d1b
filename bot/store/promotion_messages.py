"""The live message of each promotion in each channel: its ts, so every later step edits that message.

The only module that issues SQL for the `promotion_messages` table. A promotion's first
notice in a channel is marked sent (through bot.store.outbox) and its ts recorded in one
transaction, so a restart or another replica finds the message and never posts a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store import tables as t
from bot.store._sql import Now, utcnow
from bot.store.outbox import Pending, mark_sent_in


@dataclass(frozen=True)
class LiveMessage:
    """A promotion's message in one channel."""

    ts: str
    started_by: str | None
    created_at: datetime


class PromotionMessages:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Now = utcnow) -> None:
        self._sessions = sessions
        self._now = now

    async def find(self, team_id: str, channel_id: str, key: str) -> LiveMessage | None:
        async with self._sessions() as session:
            row = await session.get(t.PromotionMessage, (team_id, channel_id, key))
        return None if row is None else LiveMessage(row.ts, row.started_by, row.created_at)

    async def of_candidate(
        self, team_id: str, channel_id: str, model_id: str, deployment_id: str, *, max_age: timedelta
    ) -> str | None:
        """The ts of the newest promotion message in this channel about promoting this deployment, if recent:
        a `promoted` notice that ends a promotion the channel watched replies there, not as a new message."""
        m = t.PromotionMessage
        async with self._sessions() as session:
            ts = await session.scalar(
                select(m.ts)
                .where(
                    m.team_id == team_id,
                    m.channel_id == channel_id,
                    m.model_id == model_id,
                    m.candidate_deployment_id == deployment_id,
                    m.created_at >= self._now() - max_age,
                )
                .order_by(m.created_at.desc())
                .limit(1)
            )
        return ts

    async def posted(
        self,
        pending: Pending,
        *,
        ts: str,
        key: str,
        environment: str,
        started_by: str | None,
    ) -> None:
        """One transaction: the delivery is sent and the promotion's message in its channel is this ts
        (replacing one Slack no longer has)."""
        change = pending.transition
        now = self._now()
        async with self._sessions.begin() as session:
            await mark_sent_in(session, pending, ts=ts, thread_ts=None, now=now)
            m = t.PromotionMessage
            await session.execute(
                delete(m).where(
                    m.team_id == pending.team_id, m.channel_id == pending.channel_id, m.promotion_key == key
                )
            )
            session.add(
                t.PromotionMessage(
                    team_id=pending.team_id,
                    channel_id=pending.channel_id,
                    promotion_key=key,
                    model_id=change.model_id,
                    environment=environment,
                    candidate_deployment_id=change.deployment_id,
                    ts=ts,
                    started_by=started_by,
                    created_at=now,
                )
            )
