"""One request-rate ceiling shared by every Baseten call, poller and commands together.

Requests are spaced at least `1 / max_rps` apart (a spacing limiter, not a bucket
with a burst), so no one-second window ever holds more than `max_rps + 1` starts.
A 429 anywhere pauses every caller for the server's `retry_after`.
Interactive callers (slash commands) jump the queue: the poller reserves its slots
one at a time and yields to any waiting interactive caller.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class RateLimiter:
    def __init__(
        self,
        max_rps: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if max_rps <= 0:
            raise ValueError("max_rps must be positive")
        self._interval = 1.0 / max_rps
        self._clock = clock
        self._sleep = sleep
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._interactive_waiting = 0

    @property
    def max_rps(self) -> float:
        return 1.0 / self._interval

    def pause(self, seconds: float) -> None:
        """Holds every caller back for `seconds` (a 429's retry_after)."""
        self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))

    async def acquire(self, *, interactive: bool = False) -> None:
        """Waits for this caller's turn to start one request."""
        if interactive:
            self._interactive_waiting += 1
        try:
            while True:
                if not interactive:
                    while self._interactive_waiting:
                        await self._sleep(self._interval)
                now = self._clock()
                slot = max(now, self._next_slot, self._paused_until)
                self._next_slot = slot + self._interval
                if slot > now:
                    await self._sleep(slot - now)
                if self._clock() >= self._paused_until:
                    return
        finally:
            if interactive:
                self._interactive_waiting -= 1
