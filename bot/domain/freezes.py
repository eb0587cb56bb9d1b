"""Pure: change freezes, one-off or weekly, and what they hold. No I/O.

A freeze covers a model (or every model, `ALL`) in an environment (or every environment, `ALL`).
A one-off freeze holds from `starts_at` until `ends_at`. A weekly one (`fri 17:00 - mon 09:00` in an
IANA zone) holds in each of its windows: from the local start time on its day to the first local end
time after it, so a window may cross the week's end and lasts a week at most. Local times are read as
bot.domain.digests reads them across DST: a time the clocks skip counts with the offset before the
change (02:30 on a spring-forward night is 03:30 local), a time that happens twice at its first
occurrence; a window across a DST change is an hour shorter or longer in UTC, never shifted locally.

During a freeze the verbs in FROZEN_VERBS are refused: they put a deployment into service or move
traffic (Pause and Cancel of a promotion, and everything that takes a deployment down, stay allowed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from bot.domain.digests import DAYS

ALL = "*"  # every model, or every environment
NOWHERE = ""  # the environment of a deployment current in none: only a freeze of every environment holds it
FROZEN_VERBS = frozenset({"promote", "activate", "rollback", "resume_promotion", "force_roll_forward_promotion"})
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Weekly:
    """`fri 17:00 - mon 09:00` in a zone; days 0 (Monday) to 6."""

    start_day: int
    start: time
    end_day: int
    end: time
    tz: str = "UTC"

    @property
    def zone(self) -> tzinfo:
        return UTC if self.tz == "UTC" else ZoneInfo(self.tz)

    @property
    def words(self) -> str:
        """As stored and shown, without the zone: `fri 17:00 - mon 09:00`."""
        return f"{DAYS[self.start_day]} {self.start:%H:%M} - {DAYS[self.end_day]} {self.end:%H:%M}"

    def windows_near(self, now: datetime) -> list[tuple[datetime, datetime]]:
        """The windows (UTC) starting on the local dates from 8 days before `now` to 1 after."""
        today = now.astimezone(self.zone).date()
        found = []
        for n in range(-8, 2):
            day = today + timedelta(days=n)
            if day.weekday() == self.start_day:
                found.append((self._at(day, self.start), self._end_after(day)))
        return found

    def _end_after(self, start_day: date) -> datetime:
        days = (self.end_day - self.start_day) % 7
        if days == 0 and self.end <= self.start:
            days = 7
        return self._at(start_day + timedelta(days=days), self.end)

    def _at(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=self.zone).astimezone(UTC)

    def window_at(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The window holding `now` (UTC), or None between windows."""
        for start, end in self.windows_near(now):
            if start <= now < end:
                return start, end
        return None


def weekly_from_words(words: str, tz: str) -> Weekly:
    """What Weekly.words says, back; ValueError for anything else."""
    parts = words.split()
    if len(parts) != 5 or parts[2] != "-" or parts[0] not in DAYS or parts[3] not in DAYS:
        raise ValueError(f"not a weekly freeze: {words!r}")
    start, end = time.fromisoformat(parts[1]), time.fromisoformat(parts[4])
    return Weekly(DAYS.index(parts[0]), start, DAYS.index(parts[3]), end, tz)


@dataclass(frozen=True)
class Freeze:
    """A freeze as recorded: who set it, why, and when it holds."""

    id: int
    model_id: str  # ALL: every model
    model_name: str
    environment: str  # ALL: every environment
    created_by: str
    reason: str = ""
    starts_at: datetime | None = None  # a one-off freeze's start
    ends_at: datetime | None = None  # a one-off freeze's end
    weekly: Weekly | None = None

    def until(self, now: datetime) -> datetime | None:
        """When the freeze holding at `now` ends; None when it does not hold now."""
        if self.weekly is not None:
            window = self.weekly.window_at(now)
            return window[1] if window else None
        if self.starts_at is None or self.ends_at is None:
            return None
        return self.ends_at if self.starts_at <= now < self.ends_at else None

    def covers(self, model_id: str, environment: str) -> bool:
        """Whether it is about this model's environment (`ALL` as the environment: any of the model's;
        NOWHERE: none of them, so only a freeze of every environment). Environment names are compared
        case-insensitively, as Baseten and `status` find them: `env:Staging` is `staging`."""
        if self.model_id not in (ALL, model_id):
            return False
        return environment == ALL or self.environment == ALL or same_env(self.environment, environment)

    @property
    def what(self) -> str:
        """`llama-3-8b in production`, `every model in every environment`."""
        model = "every model" if self.model_id == ALL else (self.model_name or self.model_id)
        env = "every environment" if self.environment == ALL else self.environment
        return f"{model} in {env}"


def holding(freezes: list[Freeze], model_id: str, environment: str, now: datetime) -> tuple[Freeze, datetime] | None:
    """The freeze that holds this model's environment now and ends last (with its end), or None."""
    found = [(f, until) for f in freezes if f.covers(model_id, environment) and (until := f.until(now)) is not None]
    return max(found, key=lambda pair: pair[1]) if found else None


def holding_all(
    freezes: list[Freeze], model_id: str, environments: Sequence[str], now: datetime
) -> list[tuple[Freeze, datetime]]:
    """Every freeze holding this model in any of these environments now (none given: NOWHERE), with its
    end, the one that ends last first."""
    envs = tuple(environments) or (NOWHERE,)
    found = [
        (f, until) for f in freezes if any(f.covers(model_id, e) for e in envs) and (until := f.until(now)) is not None
    ]
    return sorted(found, key=lambda pair: pair[1], reverse=True)


def same_env(a: str, b: str) -> bool:
    """Two environment names are one environment when they differ only in case (Baseten's lookup)."""
    return a.casefold() == b.casefold()


def refuses(verb: str) -> bool:
    return verb in FROZEN_VERBS


FLAG = "frozen"  # a change's detail: the freeze a promotion or new deployment was seen during


def flag(freeze: Freeze, until: datetime) -> dict[str, str]:
    """What a notice's detail keeps (under FLAG) of the freeze its change was seen during."""
    return {"what": freeze.what, "by": freeze.created_by, "until": until.isoformat(), "reason": freeze.reason}
