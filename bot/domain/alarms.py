"""What on call (issue 26) knows of a failure notice: an alarm, its reminder settings and why it ends.

Pure values shared by the store (bot.store.alarms), the on-call pass (bot.oncall) and the notices.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_REMIND_MAX = 8  # `--remind-max` unset
MAX_REMIND_MAX = 100
MIN_REMIND = timedelta(minutes=1)  # `--remind` is at least 1m
MAX_REMIND = timedelta(days=1)
# why an alarm ended (alarms.ended_why); an acknowledged alarm stays open until one of these
RECOVERED = "recovered"  # the deployment is no longer failing (now_status says what it is)
DELETED = "deleted"  # the deployment is gone
SUPERSEDED = "superseded"  # a newer failure notice of the deployment in the channel replaced it
UNSUBSCRIBED = "unsubscribed"  # its subscription went


@dataclass(frozen=True)
class Alarm:
    """A failure notice in a channel, as the on-call pass and the Acknowledge button read it."""

    delivery_id: int
    team_id: str
    channel_id: str
    subscription_id: int | None
    model_id: str
    deployment_id: str
    status: str  # the failing status the notice announced
    ts: str | None  # the notice's message
    thread_ts: str | None  # the thread it replied in, if any
    opened_at: datetime
    reminders: int = 0
    reminded_at: datetime | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None
    ended_at: datetime | None = None
    ended_why: str | None = None
    now_status: str | None = None
    edited: bool = False
    remind_seconds: int | None = None  # the subscription's `--remind`, as read with the alarm

    @property
    def thread(self) -> str | None:
        """Where a line about it goes: its thread, or a thread under the notice itself."""
        return self.thread_ts or self.ts


def remind_limit(remind_max: int | None) -> int:
    return DEFAULT_REMIND_MAX if remind_max is None else remind_max
