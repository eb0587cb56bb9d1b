"""The poller lease: leader election through the database, so that exactly one replica polls and delivers.

A lease row names its holder and an expiry. The holder renews it every `ttl / 3`;
any replica may take it once it has expired, with one conditional UPDATE that
works the same on SQLite and PostgreSQL. A replica that dies without cleanup
(SIGKILL) is replaced within `ttl` plus one renewal interval: under two lease
periods. Clocks of the replicas are trusted to agree within `ttl / 4` (the margin).

This replica believes it holds the lease only while its own monotonic clock says no other
replica can have taken it: until `ttl - margin` after its last successful renewal was sent
(the row's expiry and that instant are read together, just before the UPDATE goes out). A
renewal that fails, or that takes longer than `patience`, means not held at once: nothing
polls on a lease whose row may already be someone else's.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`now` is the wall clock written to the row (the replicas compare it); `clock` is this
        process's monotonic clock, which alone says how long this replica may believe it holds the lease."""
        self._sessions = sessions
        self.holder = holder
        self._now = now
        self._clock = clock
        self._name = name
        self.ttl = ttl
        seconds = ttl.total_seconds()
        self.margin = seconds / 4  # how far the replicas' wall clocks may disagree
        # a renewal slower than this fails: shorter than the `ttl / 3` between two, so the lease job never
        # overlaps itself, and it lands (or fails) well before the hold it would extend runs out
        self.patience = seconds / 4
        self._until = -math.inf  # held until then, by `clock`
        self.term = 0  # times this replica took the lease: a new term after any spell of not holding it

    @property
    def held(self) -> bool:
        """Whether this replica holds the lease now, by its own clock (no I/O)."""
        return self._clock() < self._until

    async def renew(self) -> bool:
        """Takes the lease if it is free or expired, or extends it if this replica holds it.

        Raises what the database raised, or TimeoutError after `patience`; either way the lease
        is then not held. A cancelled renewal (shutdown) leaves the hold as the clock has it."""
        was = self.held
        try:
            async with asyncio.timeout(self.patience):
                sent = await self._update(was)
        except Exception:
            self._until = -math.inf
            raise
        if sent is None:
            if was:
                log.info("lost the %s lease (%s)", self._name, self.holder)
            self._until = -math.inf
            return False
        if not self.held:  # taken, or taken again after a spell without it (the clock ran out first)
            self.term += 1
            log.info("took the %s lease (%s)", self._name, self.holder)
        self._until = max(self._until, sent + self.ttl.total_seconds() - self.margin)
        return True

    async def _update(self, was: bool) -> float | None:
        """The conditional UPDATE (or the first INSERT); when it took the lease, the `clock` reading
        taken with the expiry it wrote."""
        async with self._sessions.begin() as session:
            now, sent = self._now(), self._clock()  # together: the row's expiry and this hold start at once
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
            if got and not was:
                await session.execute(update(t.Lease).where(t.Lease.name == self._name).values(acquired_at=now))
        return sent if got else None

    async def _create(self, session: AsyncSession, now: datetime) -> bool:
        try:
            async with session.begin_nested():
                session.add(t.Lease(name=self._name, holder=self.holder, expires_at=now + self.ttl))
            return True
        except IntegrityError:
            return False

    async def free(self) -> bool:
        """Whether `renew` would take the lease now: no live row names another holder.

        One read and no write (no write lock, on SQLite no write turn): a standby looks this
        often and tries only when it is free, so a clean stop elsewhere is followed at once."""
        async with asyncio.timeout(self.patience), self._sessions() as session:
            taken = await session.scalar(
                select(t.Lease.name).where(
                    t.Lease.name == self._name,
                    t.Lease.holder != self.holder,
                    t.Lease.expires_at >= self._now(),
                )
            )
        return taken is None

    async def release(self) -> None:
        """On a clean shutdown: lets another replica take over at once instead of after `ttl`."""
        if self.term == 0:
            return  # never took it: nothing of ours to hand over
        self._until = -math.inf  # first: nothing goes on polling on a lease being handed over
        async with self._sessions.begin() as session:
            await session.execute(
                update(t.Lease)
                .where(t.Lease.name == self._name, t.Lease.holder == self.holder)
                .values(expires_at=self._now() - timedelta(seconds=1))
            )
