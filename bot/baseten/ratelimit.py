"""One request-rate ceiling shared by every Baseten call, poller and commands together.

Two rules, checked at the moment a request starts: starts are spaced at least
`1 / (max_rps * HEADROOM)` apart, and no rolling one-second window holds more than
`max_rps * HEADROOM` starts. The window rule matters when the event loop stalls:
waiters whose turn passed during the stall do not all fire at once afterwards.
Aiming 5% under the ceiling absorbs the jitter between a start here and its arrival
at the server (bench/run.py measures the peak seen there).

A 429 anywhere pauses every caller for the server's `retry_after`. Interactive
callers (slash commands) go first: background callers wait while one is waiting.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

from bot.domain.rates import HEADROOM

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
        self._max_rps = max_rps
        self._interval = 1.0 / (max_rps * HEADROOM)
        self._per_second = max(1, math.ceil(max_rps * HEADROOM))
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._interactive_waiting = 0
        self._queue = asyncio.Lock()

    @property
    def max_rps(self) -> float:
        return self._max_rps

    def pause(self, seconds: float) -> None:
        """Holds every caller back for `seconds` (a 429's retry_after)."""
        self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))

    async def acquire(self, *, interactive: bool = False) -> None:
        """Waits for this caller's turn to start one request."""
        if interactive:
            self._interactive_waiting += 1
            try:
                while (wait := self._try_start(interactive=True)) > 0:
                    await self._sleep(wait)
            finally:
                self._interactive_waiting -= 1
            return
        # background callers queue in order: only the one at the head sleeps and wakes,
        # instead of every waiter waking at every slot
        async with self._queue:
            while (wait := self._try_start(interactive=False)) > 0:
                await self._sleep(wait)

    def _try_start(self, interactive: bool) -> float:
        """Starts now and returns 0, or returns how long to wait before trying again."""
        now = self._clock()
        if now < self._paused_until:
            return self._paused_until - now
        if not interactive and self._interactive_waiting:
            return self._interval
        while self._starts and now - self._starts[0] >= 1.0:
            self._starts.popleft()
        wait = self._next_slot - now
        if len(self._starts) >= self._per_second:
            wait = max(wait, self._starts[0] + 1.0 - now)
        if wait > 0:
            return wait
        self._starts.append(now)
        # keep to the schedule: a start that woke a little late does not push every later
        # one back (the window rule above still caps any one second). The first start after a
        # quiet second has no schedule to keep: the next one waits a whole interval, not none
        # (two at once spent the headroom meant for arrival jitter: a poller taking over sent
        # six requests within a second at BASETEN_MAX_RPS=5)
        kept = self._next_slot if len(self._starts) > 1 else now
        self._next_slot = max(kept, now - self._interval) + self._interval
        return 0.0
