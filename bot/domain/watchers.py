"""Who watches what: a subscription as the poller sees it, and a channel's mutes on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.changes import DEFAULT_STUCK


@dataclass(frozen=True)
class Muted:
    """A channel's mute on the watcher's model: `target` "*" (all of it), production, development or an id."""

    target: str
    until: datetime


@dataclass(frozen=True)
class Watcher:
    """The parts of a subscription that decide whether it hears a change."""

    subscription_id: int
    team_id: str
    channel_id: str
    model_id: str
    target: str
    kinds: frozenset[str]
    thread: bool = True
    mutes: tuple[Muted, ...] = ()  # the channel's mutes on this model: the same for all its watchers there
    stuck_after: timedelta = DEFAULT_STUCK
    model_name: str = ""
    # paused after a permanent Slack error: its model is still polled, so its snapshots stay
    # current and nothing made while paused is announced on resume, but it hears nothing
    paused: bool = False
    guard: str | None = None  # `--guard` as bot.domain.guard.describe says it; None: the default
    remind_seconds: int | None = None  # `--remind` (issue 26); None: no reminders
    remind_max: int | None = None  # `--remind-max`; None: the default (bot.domain.alarms)


def parse_kinds(text: str) -> frozenset[str]:
    return frozenset(k for k in text.split(",") if k)
