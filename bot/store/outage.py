"""A database outage is an expected failure: one warning line a period, a back-off, a resume.

The poll loop, delivery and the lease each meet the database many times a second; during an
outage each of those failures used to write a traceback (about 5,000 a minute at 5,000
models). They report here instead: `failed` counts and logs at most one WARNING line per
`period` (with the count and where), `ok` clears one place and logs one line when every
place that failed works again, `wait` says how long a caller should hold off (doubling up
to `longest`), and `failing` is what /healthz shows.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

log = logging.getLogger("bot")


class Outage:
    def __init__(self, *, period: float = 5.0, longest: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self._period = period
        self._longest = longest
        self._clock = clock
        self._since: float | None = None  # when the current outage began
        self._down: set[str] = set()  # the places failing now (a table can fail alone)
        self._logged = -float("inf")
        self._count: Counter[str] = Counter()  # failures since the last line, by where
        self._total = 0
        self._streak = 0

    @property
    def failing(self) -> bool:
        return self._since is not None

    def failed(self, where: str, exc: BaseException) -> None:
        now = self._clock()
        if self._since is None:
            self._since = now
        self._down.add(where)
        self._count[where] += 1
        self._total += 1
        self._streak += 1
        if now - self._logged >= self._period:
            parts = ", ".join(f"{n} in {w}" for w, n in self._count.most_common())
            log.warning("the database is failing (%s: %s); retrying with a back-off", type(exc).__name__, parts)
            self._logged = now
            self._count.clear()

    def ok(self, where: str) -> None:
        self._down.discard(where)
        if self._since is None or self._down:
            return
        log.warning(
            "the database answers again after %.0f s and %d failed attempts", self._clock() - self._since, self._total
        )
        self._since, self._total, self._streak = None, 0, 0
        self._count.clear()
        self._logged = -float("inf")

    def wait(self) -> float:
        """How long to hold off before the next attempt: 0 while all is well, then 1, 2, 4 … `longest` s."""
        return 0.0 if self._streak == 0 else min(self._longest, 2.0 ** (self._streak - 1))
