"""Idle spells (issue 25): the deployments announced idle, so each spell is announced once.

The only module that issues SQL for the `idle_spells` table. A spell is announced in one transaction
that inserts its row (INSERT … ON CONFLICT DO NOTHING: the first replica wins) and, only when the row
was new, adds the notice to the outbox; a spell that ends deletes its row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.memory import Outgoing
from bot.store import tables as t
from bot.store._sql import Now, chunks, insert_ignore, rowcount, utcnow
from bot.store.outbox import add_outgoing

Key = tuple[str, str]  # (model id, deployment id)


class IdleSpells:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Now = utcnow) -> None:
        self._sessions = sessions
        self._now = now

    async def announced(self) -> dict[Key, datetime]:
        """Every spell announced and not ended, with the start of its idle window."""
        async with self._sessions() as session:
            rows = (
                await session.execute(select(t.IdleSpell.model_id, t.IdleSpell.deployment_id, t.IdleSpell.since))
            ).all()
        return {(r.model_id, r.deployment_id): r.since for r in rows}

    async def announce(self, key: Key, since: datetime, outgoing: Sequence[Outgoing]) -> bool:
        """One transaction: the spell's row and its notice in the outbox. False (nothing written) when
        the spell was announced already (another replica, or an earlier pass)."""
        now = self._now()
        async with self._sessions.begin() as session:
            row = {"model_id": key[0], "deployment_id": key[1], "since": since, "announced_at": now}
            if await insert_ignore(session, t.IdleSpell, [row]) != 1:
                return False
            await add_outgoing(session, outgoing, now)
        return True

    async def end(self, keys: Iterable[Key]) -> int:
        """These spells are over: the next one is announced again."""
        wanted = sorted(set(keys))
        if not wanted:
            return 0
        ended = 0
        s = t.IdleSpell
        async with self._sessions.begin() as session:
            for chunk in chunks(wanted, 500):
                result = await session.execute(delete(s).where(tuple_(s.model_id, s.deployment_id).in_(chunk)))
                ended += rowcount(result)
        return ended
