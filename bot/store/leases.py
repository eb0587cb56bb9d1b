"""The poller lease: leader election through the database, so that exactly one replica polls and delivers.

A lease row names its holder and an expiry. The holder renews it every `ttl / 3`;
any replica may take it once it has expired, with one conditional UPDATE that
works the same on SQLite and PostgreSQL. A replica that dies without cleanup
(SIGKILL) is replaced within `ttl` plus one renewal interval: under two lease
periods. Clocks of the replicas are trusted to agree within a few seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store import tables as t
from bot.store._sql import rowcount

log = logging.getLogger(__name__)
DEFAULT_TTL = timedelta(seconds=20)


class Lease:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        holder: str,
        now: Callable[[], datetime],
        name: str = "poller",
        ttl: timedelta = DEFAULT_TTL,
    ) -> None:
        self._sessions = sessions
        self.holder = holder
        self._now = now
        self._name = name
        self.ttl = ttl
        self.held = False

    async def renew(self) -> bool:
        """Takes the lease if it is free or expired, or extends it if this replica holds it."""
        now = self._now()
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(t.Lease)
                .where(
                    t.Lease.name == self._name,
                    or_(t.Lease.holder == self.holder, t.Lease.expires_at < now),
                )
                .values(holder=self.holder, expires_at=now + self.ttl)
            )
            got = rowcount(result) == 1
            if not got and await session.get(t.Lease, self._name) is None:
                got = await self._create(session, now)
        if got != self.held:
            log.info("%s the %s lease (%s)", "took" if got else "lost", self._name, self.holder)
            if got:
                async with self._sessions.begin() as session:
                    await session.execute(update(t.Lease).where(t.Lease.name == self._name).values(acquired_at=now))
        self.held = got
        return got

    async def _create(self, session: AsyncSession, now: datetime) -> bool:
        try:
            async with session.begin_nested():
                session.add(t.Lease(name=self._name, holder=self.holder, expires_at=now + self.ttl))
            return True
        except IntegrityError:
            return False

    async def release(self) -> None:
        """On a clean shutdown: lets another replica take over at once instead of after `ttl`."""
        if not self.held:
            return
        async with self._sessions.begin() as session:
            await session.execute(
                update(t.Lease)
                .where(t.Lease.name == self._name, t.Lease.holder == self.holder)
                .values(expires_at=self._now() - timedelta(seconds=1))
            )
        self.held = False
