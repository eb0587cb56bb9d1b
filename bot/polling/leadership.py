"""Following the poller lease from the poll loop: whether this replica leads the polling now,
and what happens when that changes.

The lease (bot.store.leases) says by this replica's own clock whether it holds the lease;
the service's lease job renews it, and a standby's job tries it, every LEASE_SECONDS / 3.
Here, besides:

- at start, one try, so a fresh replica polls at once rather than a lease job later;
- a standby looks every `look_every` (a read, no write) and tries only when the lease is
  free: a clean stop elsewhere is followed within a look, an expiry within a look after it;
- gaining the lease calls `on_gain`; losing it calls `on_loss`, once, and nothing else
  does. Lost means not held, or held in a new term (lost and taken again between two
  follows): either way another replica may have polled meanwhile, so the loss is handled
  before the gain.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger("bot")


class Held(Protocol):
    """The lease as followed here (bot.store.leases.Lease)."""

    @property
    def held(self) -> bool: ...
    @property
    def term(self) -> int: ...

    async def renew(self) -> bool: ...
    async def free(self) -> bool: ...


class Leadership:
    def __init__(
        self,
        lease: Held,
        *,
        on_gain: Callable[[], None],
        on_loss: Callable[[], Awaitable[None]],
        look_every: float,
        shown: Callable[[bool], None] = lambda _leading: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lease = lease
        self._on_gain = on_gain
        self._on_loss = on_loss
        self._look_every = look_every
        self._shown = shown  # the leader gauge
        self._clock = clock
        self._term: int | None = None  # the lease term being led in; None while not leading
        self._looked = -math.inf

    @property
    def leading(self) -> bool:
        return self._term is not None

    async def take(self) -> None:
        """At start: tries the lease once (a failure is logged; the lease job tries again)."""
        self._looked = self._clock()
        try:
            await self._lease.renew()
        except Exception:
            log.exception("taking the poller lease failed; the lease job tries again")

    async def follow(self) -> bool:
        """Whether this replica leads now; calls `on_loss` and `on_gain` as that changes."""
        lease = self._lease
        if self._term is not None and (not lease.held or lease.term != self._term):
            self._term = None
            await self._on_loss()
        if not lease.held and self._clock() - self._looked >= self._look_every:
            self._looked = self._clock()
            await self._look()
        if lease.held and self._term is None:
            self._term = lease.term
            self._on_gain()
        self._shown(self.leading)
        return self.leading

    async def _look(self) -> None:
        try:
            if await self._lease.free():
                await self._lease.renew()
        except Exception as exc:  # noqa: BLE001 - the lease job's own try says so in the log, at its cadence
            log.debug("looking at the poller lease failed: %r", exc)
