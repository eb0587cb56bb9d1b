"""Slack's localised dates: `<!date^…>` shows each reader the time in their own zone, with a UTC fallback."""

from __future__ import annotations

from datetime import UTC, datetime

LONG = "{date_short_pretty} {time}"  # `Today at 12:00`, `Nov 27th at 12:00`
TIME = "{time}"


def stamp(at: datetime | int, *, time_only: bool = False) -> str:
    """`<!date^EPOCH^{date_short_pretty} {time}|2026-11-27 12:00 UTC>`, or with `time_only`
    `<!date^EPOCH^{time}|12:00 UTC>`. A naive datetime is UTC, as the bot keeps them; an int is epoch
    seconds. The fallback, shown where Slack cannot localise, is always in UTC, as it says."""
    if isinstance(at, int):
        at = datetime.fromtimestamp(at, UTC)
    elif at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    at = at.astimezone(UTC)
    if time_only:
        return f"<!date^{int(at.timestamp())}^{TIME}|{at:%H:%M} UTC>"
    return f"<!date^{int(at.timestamp())}^{LONG}|{at:%Y-%m-%d %H:%M} UTC>"
