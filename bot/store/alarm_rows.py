"""Opening an alarm (issue 26) as its failure notice is marked sent, inside bot.store.outbox's transaction.

Apart from bot.store.alarms (which adds reminders through the outbox) so that the outbox can call it
without an import cycle. Writes the `alarms` table only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.alarms import SUPERSEDED
from bot.domain.changes import Change
from bot.store import tables as t


async def open_alarm(
    session: AsyncSession,
    *,
    delivery_id: int,
    team_id: str,
    channel_id: str,
    subscription_id: int | None,
    change: Change,
    ts: str | None,
    thread_ts: str | None,
    now: datetime,
) -> list[int]:
    """A failure notice went out: its alarm opens, and older open ones of the deployment in the channel
    end (`superseded`): only the newest failure notice is reminded and acknowledged. Returns the alarms
    it superseded (the caller drops their queued reminders)."""
    a = t.Alarm
    older = (
        await session.scalars(
            select(a.delivery_id).where(
                a.team_id == team_id,
                a.channel_id == channel_id,
                a.deployment_id == change.deployment_id,
                a.model_id == change.model_id,
                a.ended_at.is_(None),
                a.delivery_id != delivery_id,
            )
        )
    ).all()
    if older:
        await session.execute(
            update(a).where(a.delivery_id.in_(older), a.ended_at.is_(None)).values(ended_at=now, ended_why=SUPERSEDED)
        )
    if await session.get(a, delivery_id) is not None:  # marked sent twice (a redelivery): opened once
        return list(older)
    session.add(
        t.Alarm(
            delivery_id=delivery_id,
            team_id=team_id,
            channel_id=channel_id,
            subscription_id=subscription_id,
            model_id=change.model_id,
            deployment_id=change.deployment_id,
            status=change.new_status,
            ts=ts,
            thread_ts=thread_ts,
            opened_at=now,
            reminders=0,
            edited=False,
        )
    )
    return list(older)
