"""Mutes: a channel's mutes on a model, or on one target of it, until a time.

The only module that issues SQL for the `mutes` table. Each write moves the watchers revision
(bot.store.revisions), as subscription writes do: the poll loop's watchers carry their mutes.
bot.store.subscriptions reads the mutes that hold for its watchers and `list`, and forgets a
channel's mutes on a model it no longer follows, through the functions below.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.watchers import Muted
from bot.store import tables as t
from bot.store._sql import Now, insert_ignore, utcnow
from bot.store.revisions import Revisions


@dataclass(frozen=True)
class MuteView:
    """One of a channel's mutes, still holding."""

    model_id: str
    target: str  # "*" the whole model, "production", "development", or a deployment id
    target_name: str
    until: datetime


class Mutes:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Now = utcnow) -> None:
        self._sessions = sessions
        self._now = now
        self._revisions = Revisions(sessions)

    async def mute(
        self,
        *,
        team_id: str,
        channel_id: str,
        model_id: str,
        target: str,
        target_name: str,
        until: datetime,
        user_id: str,
    ) -> None:
        """Mutes a model ("*") or one target of it in a channel until `until`; muting again moves the end."""
        row = {
            "team_id": team_id,
            "channel_id": channel_id,
            "model_id": model_id,
            "target": target,
            "target_name": target_name,
            "until": until,
            "created_by": user_id,
        }
        async with self._revisions.write() as session:
            if not await insert_ignore(session, t.Mute, [row]):
                await session.execute(
                    update(t.Mute)
                    .where(
                        t.Mute.team_id == team_id,
                        t.Mute.channel_id == channel_id,
                        t.Mute.model_id == model_id,
                        t.Mute.target == target,
                    )
                    .values(target_name=target_name, until=until, created_by=user_id)
                )

    async def unmute(self, team_id: str, channel_id: str, model_id: str, target: str | None) -> list[MuteView]:
        """Lifts a channel's mutes on a model (all of them when `target` is None); returns those that held."""
        where = [t.Mute.team_id == team_id, t.Mute.channel_id == channel_id, t.Mute.model_id == model_id]
        if target is not None:
            where.append(t.Mute.target == target)
        async with self._revisions.write() as session:
            lifted = await read_mutes(session, self._now(), *where)
            await session.execute(delete(t.Mute).where(*where))
        return lifted

    async def channel_mutes(self, team_id: str, channel_id: str) -> list[MuteView]:
        """The channel's mutes that still hold."""
        async with self._sessions() as session:
            return await read_mutes(session, self._now(), t.Mute.team_id == team_id, t.Mute.channel_id == channel_id)


async def read_mutes(session: AsyncSession, now: datetime, *where: ColumnElement[bool]) -> list[MuteView]:
    """The mutes that still hold, of these."""
    rows = (
        await session.scalars(select(t.Mute).where(*where, t.Mute.until > now).order_by(t.Mute.model_id, t.Mute.target))
    ).all()
    return [MuteView(r.model_id, r.target, r.target_name, r.until) for r in rows]


async def holding(session: AsyncSession, now: datetime) -> dict[tuple[str, str, str], list[Muted]]:
    """Every mute that holds, by (team, channel, model): what the poll loop's watchers carry."""
    mutes: dict[tuple[str, str, str], list[Muted]] = defaultdict(list)
    for m in (await session.scalars(select(t.Mute).where(t.Mute.until > now))).all():
        mutes[(m.team_id, m.channel_id, m.model_id)].append(Muted(m.target, m.until))
    return mutes


async def forget(session: AsyncSession, team_id: str, channel_id: str, model_id: str) -> None:
    """A channel's mutes on a model it no longer follows (inside the unsubscribing transaction)."""
    await session.execute(
        delete(t.Mute).where(t.Mute.team_id == team_id, t.Mute.channel_id == channel_id, t.Mute.model_id == model_id)
    )
