"""Pure: `subscribe`'s reminder options (issue 26): `--remind DURATION` (from 1m to 1d, or `off`)
and `--remind-max N` (1 to 100; only with `--remind`)."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.commands.typed import UsageError
from bot.commands.words import quote
from bot.domain.alarms import MAX_REMIND, MAX_REMIND_MAX, MIN_REMIND
from bot.render.help import USAGE

_DURATION = re.compile(r"([0-9]+)([mhd])")
_UNITS = {"m": 60, "h": 3600, "d": 86400}
OFF = "off"


def remind_every(value: str) -> timedelta | None:
    """`--remind 30m` -> 30 minutes; `--remind off` -> None (no reminders)."""
    if value.lower() == OFF:
        return None
    match = _DURATION.fullmatch(value.lower())
    if match is None:
        raise UsageError(
            f"`--remind` takes a duration such as `30m`, `2h` or `1d` (or `off`), not `{quote(value)}`.",
            usage=USAGE["subscribe"],
        )
    seconds = int(match.group(1)) * _UNITS[match.group(2)]  # an int: `99999999d` can't overflow
    if seconds < MIN_REMIND.total_seconds():
        raise UsageError(f"`--remind {quote(value)}` is too often: at least `1m`.", usage=USAGE["subscribe"])
    if seconds > MAX_REMIND.total_seconds():
        raise UsageError(f"`--remind {quote(value)}` is too far apart: at most `1d`.", usage=USAGE["subscribe"])
    return timedelta(seconds=seconds)


def remind_times(value: str) -> int:
    """`--remind-max 8` -> 8: how many reminders at most, 1 to MAX_REMIND_MAX."""
    if not value.isdigit() or not 1 <= int(value) <= MAX_REMIND_MAX:
        raise UsageError(
            f"`--remind-max` takes a whole number from 1 to {MAX_REMIND_MAX}, not `{quote(value)}`.",
            usage=USAGE["subscribe"],
        )
    return int(value)


def reminders(every: timedelta | None, times: int | None, *, asked: bool) -> tuple[timedelta, int | None] | None:
    """The two options together: `--remind-max` needs `--remind` (`asked`: `--remind` was typed)."""
    if times is not None and every is None:
        why = "`--remind off` turns reminders off" if asked else "it needs `--remind DURATION`"
        raise UsageError(
            f"`--remind-max` says how many reminders at most: {why}, e.g. `--remind 30m --remind-max 4`.",
            usage=USAGE["subscribe"],
        )
    return None if every is None else (every, times)
