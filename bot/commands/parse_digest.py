"""Pure parser for `/baseten digest daily HH:MM [TZ] | weekly DAY HH:MM [TZ] | off` (bot.commands.parse
hands it the words after `digest`)."""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache

from bot.commands.typed import Digest, UsageError
from bot.commands.words import quote
from bot.domain.digests import DAILY, DAY_NAMES, DAYS, WEEKLY, Schedule
from bot.render.help import USAGE

_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_ZONE = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+){0,2}")  # no `..`, no leading `/`
_USAGE = USAGE["digest"]


def parse_digest(args: list[str]) -> Digest:
    if not args:
        raise UsageError("`digest` needs `daily HH:MM`, `weekly DAY HH:MM` or `off`.", usage=_USAGE)
    cadence, rest = args[0].lower(), args[1:]
    if cadence == "off":
        if rest:
            raise UsageError(f"`digest off` takes nothing more, not `{quote(' '.join(rest))}`.", usage=_USAGE)
        return Digest(None)
    if cadence == DAILY:
        return Digest(_at(DAILY, None, rest, "`digest daily` needs a time, e.g. `digest daily 09:00`."))
    if cadence == WEEKLY:
        if not rest:
            raise UsageError("`digest weekly` needs a day and a time, e.g. `digest weekly mon 09:00`.", usage=_USAGE)
        return Digest(_at(WEEKLY, weekday(rest[0]), rest[1:], "`digest weekly` needs a time after the day."))
    raise UsageError(
        f"`digest` takes `daily`, `weekly` or `off`, not `{quote(args[0])}`, e.g. `digest daily 09:00`.",
        usage=_USAGE,
    )


def _at(cadence: str, day: int | None, rest: list[str], missing: str) -> Schedule:
    """The time and the optional zone after the cadence (and the day)."""
    if not rest:
        raise UsageError(missing, usage=_USAGE)
    if len(rest) > 2:
        raise UsageError(f"Too many arguments: `{quote(' '.join(rest[2:]))}`.", usage=_USAGE)
    hour, minute = clock(rest[0])
    tz = zone(rest[1]) if len(rest) == 2 else "UTC"
    return Schedule(cadence, hour, minute, tz, day)


def weekday(word: str) -> int:
    """`mon`, `Monday`, `MON` -> 0 … `sun` -> 6."""
    low = word.lower()
    for i, (short, full) in enumerate(zip(DAYS, DAY_NAMES, strict=True)):
        if low in (short, full.lower()):
            return i
    raise UsageError(
        f"`{quote(word)}` is not a day of the week: use `mon`, `tue`, `wed`, `thu`, `fri`, `sat` or `sun` "
        "(or the full name).",
        usage=_USAGE,
    )


def clock(word: str) -> tuple[int, int]:
    """`09:00` or `9:00` -> (9, 0); 24-hour, `00:00` to `23:59`."""
    match = _CLOCK.fullmatch(word)
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise UsageError(
            f"`{quote(word)}` is not a time of day: use 24-hour `HH:MM`, from `00:00` to `23:59`, e.g. `09:00`.",
            usage=_USAGE,
        )
    return int(match.group(1)), int(match.group(2))


def zone(word: str) -> str:
    """An IANA time zone (`Europe/Berlin`, `UTC`), in any case, as the zone database spells it."""
    if word.upper() == "UTC":
        return "UTC"  # also where the system has no zone database
    if _ZONE.fullmatch(word) and len(word) <= 64:
        zones = _zones()
        found = word if word in zones.values() else zones.get(word.lower())
        if found is not None:
            return found
    raise UsageError(
        f"`{quote(word)}` is not a time zone I know: use an IANA name such as `UTC`, `Europe/Berlin` or "
        "`America/New_York`.",
        usage=_USAGE,
    )


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    """Every zone the database has (not `localtime` and the like), by its lower-case name; read once."""
    return {name.lower(): name for name in zoneinfo.available_timezones()}
