"""A burst of notices for one channel, sent as one message (issue 26): which notices group, when a
channel is in a burst, and how a group counts its notices by kind. No I/O.

More than GROUP_OVER notices for a channel within GROUP_WAIT_SECONDS are a burst. A lone notice is
never delayed: a channel is in a burst only once its open notices (created within GROUP_WAIT_SECONDS
of the oldest one), plus those sent to it on their own in the GROUP_WAIT_SECONDS before it, number
more than GROUP_OVER; its open notices then wait until GROUP_WAIT_SECONDS after the oldest one, so
that stragglers join, and go as one group. Every count is anchored on the oldest open notice, not on
the clock: a burst found stays one while it waits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.changes import (
    FLAPPING,
    GONE,
    GUARD,
    IDLE,
    NEW,
    PROMOTED,
    PROMOTION,
    QUEUED,
    REMIND,
    SETTLED,
    STUCK,
    Change,
    is_failure,
)
from bot.domain.status import FAILURES

# a promotion's live message and the guard's alarm with its controls are messages of their own
ALONE = (PROMOTION, GUARD)
MIN_GROUP = 2  # a burst's last straggler alone goes as its own notice, not as a group of one

FAILED = "failed"
STILL = "still failing"
RECOVERED = "recovered"
# how a group's message names its notices, in the order it lists them: the alarming ones first
WORDS = (
    FAILED,
    STILL,
    "stuck",
    "flapping",
    RECOVERED,
    "settled",
    "new",
    "promoted",
    "deleted",
    "idle",
    "queued",
    "changed status",
)
_BY_KIND = {
    REMIND: STILL,
    STUCK: "stuck",
    FLAPPING: "flapping",
    SETTLED: "settled",
    PROMOTED: "promoted",
    GONE: "deleted",
    IDLE: "idle",
    QUEUED: "queued",
    NEW: "new",
}


def groupable(change: Change) -> bool:
    """Whether a notice may go out as a line of a group (every kind but a promotion's and the guard's)."""
    return change.kind not in ALONE


def word(change: Change) -> str:
    """The word a group's message counts this notice under (one of WORDS)."""
    if is_failure(change):
        return FAILED
    if change.kind in _BY_KIND:
        return _BY_KIND[change.kind]
    if change.old_status in FAILURES and change.new_status == "ACTIVE":
        return RECOVERED
    return "changed status"


@dataclass(frozen=True)
class Tally:
    """What a group holds: distinct deployments and models, and its notices by word (in WORDS order)."""

    deployments: int
    models: int
    by_word: tuple[tuple[str, int], ...]

    @staticmethod
    def of(changes: Sequence[Change]) -> Tally:
        counts = {w: 0 for w in WORDS}
        for change in changes:
            counts[word(change)] += 1
        return Tally(
            deployments=len({(c.model_id, c.deployment_id) for c in changes}),
            models=len({c.model_id for c in changes}),
            by_word=tuple((w, n) for w, n in counts.items() if n),
        )

    def sentence(self) -> str:
        """`12 deployments of 7 models changed: 9 failed, 3 recovered`."""
        deps = f"{self.deployments} deployment{'' if self.deployments == 1 else 's'}"
        models = f"{self.models} model{'' if self.models == 1 else 's'}"
        return f"{deps} of {models} changed: " + ", ".join(f"{n} {w}" for w, n in self.by_word)


@dataclass(frozen=True)
class Window:
    """A channel's groupable notices as the database has them: its oldest open one (None: none), how many
    open ones were created within GROUP_WAIT_SECONDS of it, how many went alone in the GROUP_WAIT_SECONDS before it."""

    oldest: datetime | None
    open: int
    sent_alone: int


def burst_until(window: Window, *, over: int, wait: timedelta) -> datetime | None:
    """When a channel in a burst sends its open notices as one group; None when it is not in a burst."""
    if window.oldest is None or window.open + window.sent_alone <= over:
        return None
    return window.oldest + wait
