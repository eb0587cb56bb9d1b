"""What the poll loop says in the log, throttled so that a slow or refusing Baseten is a few lines, not one a poll.

- Failed fetches: gathered, and said in one line at each refresh (bot.polling.poller's
  `note_failures`); a failure after a quiet spell is said at once, and a key that works
  again is said with the first answer that shows it.
- The interval: one warning when POLL_INTERVAL_SECONDS cannot be kept for every watched
  model, with what is kept instead, and one line when it can again.
"""

from __future__ import annotations

import logging
from typing import Protocol

from bot.polling.decide import Failed, Fetched, ModelPlan
from bot.polling.schedule import Stats

log = logging.getLogger("bot")


class Sayer(Protocol):
    """The poller's side of it (bot.polling.poller.Poller)."""

    @property
    def last_auth_error(self) -> str | None: ...

    def note_failures(self, answers: list[tuple[ModelPlan, Fetched]]) -> None: ...


class Notes:
    def __init__(self, poller: Sayer, *, every: float, max_rps: float) -> None:
        self._poller = poller
        self._every = every  # at most one line of failures this often
        self._max_rps = max_rps
        self._answers: list[tuple[ModelPlan, Fetched]] = []  # since the last line
        self._noted = -float("inf")  # when failures were last said
        self._kept = True  # what the last interval line said

    def answered(self, p: ModelPlan, answer: Fetched, now: float) -> None:
        """One poll's answer."""
        self._answers.append((p, answer))
        if isinstance(answer, Failed):
            if now - self._noted >= self._every:
                self.flush(now)
        elif self._poller.last_auth_error:
            self.flush(now)  # the key works again: said at once

    def flush(self, now: float) -> None:
        """The answers since the last line, in one line (none when nothing failed)."""
        if any(isinstance(answer, Failed) for _, answer in self._answers):
            self._noted = now
        if self._answers:
            self._poller.note_failures(self._answers)
            self._answers = []

    def refresh(self, now: float, stats: Stats) -> None:
        """At each refresh: the failures since the last line, and a line when the interval's fate changed."""
        self.flush(now)
        if stats.interval_kept == self._kept:
            return
        self._kept = stats.interval_kept
        if not stats.interval_kept:
            log.warning(
                "%d watched models take %d requests to poll once: at BASETEN_MAX_RPS=%g a model with "
                "nothing in motion is polled about every %.0fs, not every POLL_INTERVAL_SECONDS (%g); "
                "none waits longer than that past its turn, and hot ones go first",
                stats.models,
                stats.requests_per_round,
                self._max_rps,
                stats.bound,
                stats.cold,
            )
        else:
            log.info("every watched model is polled within POLL_INTERVAL_SECONDS (%g) again", stats.cold)
