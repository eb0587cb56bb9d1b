"""A channel's digest schedule: daily or weekly at a local time in an IANA zone, and when it is due.

A period is named by the instant it ends, its due time: the digest sent then covers the time since
the previous due time (a day, or a week, of local time: 23 or 25 hours across a DST change). A local
time the clocks skip (02:30 on a spring-forward night) is due when the clocks jump past it, as the
zone's offset before the change reads it (03:30 local); a local time that happens twice is due at
its first occurrence. Each local date has exactly one due time either way, so a period is sent once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

DAILY = "daily"
WEEKLY = "weekly"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class Schedule:
    """`daily 09:00 Europe/Berlin` or `weekly mon 09:00 UTC`; `weekday` 0 is Monday (weekly only)."""

    cadence: str  # DAILY | WEEKLY
    hour: int
    minute: int
    tz: str = "UTC"
    weekday: int | None = None

    @property
    def zone(self) -> tzinfo:
        return UTC if self.tz == "UTC" else ZoneInfo(self.tz)  # UTC needs no zone database

    @property
    def words(self) -> str:
        """What is stored and shown, without the zone: `daily 09:00`, `weekly mon 09:00`."""
        day = f" {DAYS[self.weekday]}" if self.cadence == WEEKLY and self.weekday is not None else ""
        return f"{self.cadence}{day} {self.hour:02d}:{self.minute:02d}"


def from_words(words: str, tz: str) -> Schedule:
    """The schedule `words` (as Schedule.words says it) names in `tz`; ValueError if it names none."""
    parts = words.split()
    if len(parts) == 2 and parts[0] == DAILY:
        cadence, weekday, clock = DAILY, None, parts[1]
    elif len(parts) == 3 and parts[0] == WEEKLY and parts[1] in DAYS:
        cadence, weekday, clock = WEEKLY, DAYS.index(parts[1]), parts[2]
    else:
        raise ValueError(f"not a digest schedule: {words!r}")
    hour, _, minute = clock.partition(":")
    return Schedule(cadence, int(hour), int(minute), tz, weekday)


def describe(schedule: Schedule) -> str:
    """`daily at 09:00 Europe/Berlin`, `weekly on Monday at 09:00 UTC`."""
    at = f"{schedule.hour:02d}:{schedule.minute:02d} {schedule.tz}"
    if schedule.cadence == WEEKLY and schedule.weekday is not None:
        return f"weekly on {DAY_NAMES[schedule.weekday]} at {at}"
    return f"daily at {at}"


def _due_on(schedule: Schedule, day: date) -> datetime:
    """The due instant on a local date (fold 0: a skipped time reads with the offset before the change)."""
    local = datetime.combine(day, time(schedule.hour, schedule.minute), tzinfo=schedule.zone)
    return local.astimezone(UTC)


def _dues_around(schedule: Schedule, now: datetime) -> list[datetime]:
    """Due instants of the local dates from 8 days before `now` to 8 after, oldest first."""
    today = now.astimezone(schedule.zone).date()
    days = (today + timedelta(days=n) for n in range(-8, 9))
    return [_due_on(schedule, d) for d in days if schedule.cadence == DAILY or d.weekday() == (schedule.weekday or 0)]


def latest_due(schedule: Schedule, now: datetime) -> datetime:
    """The latest due time at or before `now` (UTC)."""
    return max(d for d in _dues_around(schedule, now) if d <= now)


def next_due(schedule: Schedule, now: datetime) -> datetime:
    """The first due time after `now` (UTC)."""
    return min(d for d in _dues_around(schedule, now) if d > now)


def period(schedule: Schedule, due: datetime) -> tuple[datetime, datetime]:
    """The time a digest due at `due` covers: from the previous due time up to `due`."""
    return latest_due(schedule, due - _TICK), due
