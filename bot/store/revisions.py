"""The watchers revision: one number that moves after every change to who watches what.

The only module that issues SQL for the `revisions` table. The poll loop reads every
watcher again only when the number moved (bot.polling.loop), so each write to subscriptions
or mutes goes through `Revisions.write`, which moves it once that write has committed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store import tables as t

log = logging.getLogger(__name__)
WATCHERS = "watchers"  # the row: subscriptions and mutes


class Revisions:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction; once it has committed, the watchers revision moves (`moved`)."""
        async with self._sessions.begin() as session:
            yield session
        await self.moved()

    async def moved(self) -> None:
        """Moves the watchers revision, after the change it announces has committed.

        Not inside the change's transaction: there, the one revision row stayed locked until
        the commit, a round trip later, and on PostgreSQL every concurrent subscription write
        queued behind it holding a pooled connection. Under a burst of commands the pool ran
        dry and a command failed after 30 s (issue 28). Here the row is locked for one
        statement, and a row already locked is skipped: its holder's move commits after this
        change did, so the poll loop, which reads the revision before the watchers, sees this
        change either way. A move that fails is logged; the loop re-reads every watcher within
        REREAD_AT_LEAST regardless.
        """
        unlocked = (
            select(t.Revision.name)
            .where(t.Revision.name == WATCHERS)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        try:
            async with self._sessions.begin() as session:
                await session.execute(
                    update(t.Revision).where(t.Revision.name == unlocked).values(value=t.Revision.value + 1)
                )
        except SQLAlchemyError as exc:
            log.warning("a subscription change is stored, but its revision did not move (%s)", type(exc).__name__)

    async def current(self) -> int | None:
        """The watchers revision now (None: no revision row; read the watchers anyway)."""
        async with self._sessions() as session:
            return await session.scalar(select(t.Revision.value).where(t.Revision.name == WATCHERS))
