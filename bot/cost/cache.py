"""What Baseten's billing said, kept: prices for a day, each usage window for an hour, and a refusal
(403, a key without billing access) for an hour, so neither a command nor a digest asks again and again.

One CostCache per process (bot.app.service.Service builds it), shared by `cost`, the digest and idle
notices. Two callers wanting the same answer at once wait for one request. Nothing else is kept: a
failure other than the 403 (Baseten down, rate limited, an answer the bot cannot read) is raised as is
and asked again next time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from bot.baseten.errors import AuthError
from bot.commands.lookup import LookupFailed
from bot.domain.cost import Prices, Usage

USAGE_FOR = timedelta(hours=1)
PRICES_FOR = timedelta(days=1)
REFUSED_FOR = timedelta(hours=1)
Key = tuple[str, date | None, date | None]  # ("usage", start, end) or ("prices", None, None)


class Billing(Protocol):
    """Baseten's billing endpoints (bot.baseten.billing_api.BillingApi, on BasetenClient)."""

    async def usage_summary(self, start: date, end: date, *, interactive: bool = False) -> Usage: ...

    async def instance_type_prices(self, *, interactive: bool = False) -> Prices: ...


class NoBilling(LookupFailed):
    """The API key may not read Baseten's billing (403); `str()` says so plainly, and when the bot asks again."""


@dataclass(frozen=True)
class _Kept:
    value: Usage | Prices
    until: datetime


class CostCache:
    """`usage(start, end)` and `prices()`, each answered from memory while fresh; a 403 remembered."""

    def __init__(
        self,
        client: Billing,
        *,
        now: Callable[[], datetime],
        usage_for: timedelta = USAGE_FOR,
        prices_for: timedelta = PRICES_FOR,
        refused_for: timedelta = REFUSED_FOR,
    ) -> None:
        self._client = client
        self._now = now
        self._for = {"usage": usage_for, "prices": prices_for}
        self._refused_for = refused_for
        self._kept: dict[Key, _Kept] = {}
        self._locks: dict[Key, asyncio.Lock] = {}
        self._refused_until: datetime | None = None

    def refused(self) -> NoBilling | None:
        """While a 403 is remembered, the error that says so; else None."""
        until = self._refused_until
        if until is None or self._now() >= until:
            return None
        return _refusal(until)

    async def usage(self, start: date, end: date, *, interactive: bool = False) -> Usage:
        """The usage summary of UTC days `start` to `end` (both included), at most an hour old."""
        value = await self._get(("usage", start, end), interactive=interactive)
        assert isinstance(value, Usage)
        return value

    async def prices(self, *, interactive: bool = False) -> Prices:
        """Every instance type's price a minute, at most a day old."""
        value = await self._get(("prices", None, None), interactive=interactive)
        assert isinstance(value, Prices)
        return value

    async def _get(self, key: Key, *, interactive: bool) -> Usage | Prices:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # a second caller waits for the first one's answer instead of asking again
            kept = self._kept.get(key)
            if kept is not None and self._now() < kept.until:
                return kept.value
            refused = self.refused()
            if refused is not None:
                raise refused
            value = await self._ask(key, interactive=interactive)
            now = self._now()
            self._drop_stale(now)
            self._kept[key] = _Kept(value, now + self._for[key[0]])
            return value

    async def _ask(self, key: Key, *, interactive: bool) -> Usage | Prices:
        try:
            if key[0] == "prices":
                return await self._client.instance_type_prices(interactive=interactive)
            _, start, end = key
            assert start is not None and end is not None
            return await self._client.usage_summary(start, end, interactive=interactive)
        except AuthError as exc:
            if exc.status_code != 403:
                raise
            self._refused_until = self._now() + self._refused_for
            raise _refusal(self._refused_until) from None

    def _drop_stale(self, now: datetime) -> None:
        """Windows asked an hour ago are gone: memory holds what is fresh, a few windows at most."""
        for key in [k for k, kept in self._kept.items() if now >= kept.until]:
            del self._kept[key]
            lock = self._locks.get(key)
            if lock is not None and not lock.locked():
                del self._locks[key]


def _refusal(until: datetime) -> NoBilling:
    return NoBilling(
        "This API key may not read Baseten's billing: Baseten answered 403 (forbidden) to the bot's "
        "billing request. Cost reports need a BASETEN_API_KEY with billing access; ask whoever runs the bot. "
        f"The bot asks Baseten again after {until:%H:%M} UTC."
    )
