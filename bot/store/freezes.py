"""Freezes (issue 27): set, lifted, and read back. The only module that issues SQL for `freezes`.

A freeze is the bot's, not a channel's: it holds actions from every channel of the workspace. A
lifted freeze keeps its row (`ended_at`, `ended_by`), the record of who froze and who lifted it; a
one-off freeze past its end is simply no longer read.
"""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.freezes import Freeze, same_env, weekly_from_words
from bot.store import tables as t
from bot.store._sql import Now, utcnow


class Freezes:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Now = utcnow) -> None:
        self._sessions = sessions
        self._now = now

    async def add(self, freeze: Freeze, *, team_id: str, channel_id: str) -> int:
        """Records a freeze; its id."""
        now = self._now()
        weekly = freeze.weekly
        async with self._sessions.begin() as session:
            row = t.FreezeRow(
                team_id=team_id,
                channel_id=channel_id,
                model_id=freeze.model_id,
                model_name=freeze.model_name[:255],
                environment=freeze.environment,
                starts_at=freeze.starts_at or now,
                ends_at=None if weekly else freeze.ends_at,
                weekly=weekly.words if weekly else None,
                tz=weekly.tz if weekly else "UTC",
                reason=freeze.reason,
                created_by=freeze.created_by,
                created_at=now,
            )
            session.add(row)
            await session.flush()
            return int(row.id)

    async def live(self) -> list[Freeze]:
        """Every freeze not lifted and not past its end: weekly ones, one-off ones holding or to come."""
        now = self._now()
        f = t.FreezeRow
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(f).where(f.ended_at.is_(None), or_(f.ends_at.is_(None), f.ends_at > now)).order_by(f.id)
                )
            ).all()
        return [_freeze(r) for r in rows]

    async def lift(self, model_id: str, environment: str | None, *, by: str) -> list[Freeze]:
        """Lifts the live freezes of exactly this model (or `*`), in this environment (or `*`; its name in
        any case, as freezes hold) or, with None, in any; those lifted."""
        lifted = [
            x
            for x in await self.live()
            if x.model_id == model_id and (environment is None or same_env(x.environment, environment))
        ]
        if not lifted:
            return []
        async with self._sessions.begin() as session:
            await session.execute(
                update(t.FreezeRow)
                .where(t.FreezeRow.id.in_([x.id for x in lifted]), t.FreezeRow.ended_at.is_(None))
                .values(ended_at=self._now(), ended_by=by)
            )
        return lifted


def _freeze(row: t.FreezeRow) -> Freeze:
    weekly = weekly_from_words(row.weekly, row.tz) if row.weekly else None
    return Freeze(
        id=int(row.id),
        model_id=row.model_id,
        model_name=row.model_name,
        environment=row.environment,
        created_by=row.created_by,
        reason=row.reason,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        weekly=weekly,
    )
