"""Path segments and query parameters the client builds: nothing a user typed reaches a path
unvalidated (a plain id, percent-encoded as one segment), and only the spec's log parameters."""

from __future__ import annotations

from urllib.parse import quote

from bot.domain.ids import is_plain_id

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")  # LogLevelV1, lowest first


def segment(value: str, what: str) -> str:
    """One validated, percent-encoded path segment."""
    if not is_plain_id(value):
        raise ValueError(f"{what} is not a plain id: {value[:80]!r}")
    return quote(value, safe="")


def log_params(
    *, start_epoch_millis: int | None, min_level: str | None, newest_first: bool, limit: int
) -> dict[str, str]:
    """GetLogsRequest's query: without `start_epoch_millis` Baseten reads the last 30 minutes (at most
    7 days); `min_level` (DEBUG, INFO, WARNING, ERROR) also drops the lines that have no level."""
    if min_level is not None and min_level not in LOG_LEVELS:
        raise ValueError(f"min_level must be one of {', '.join(LOG_LEVELS)}")
    params = {"direction": "desc" if newest_first else "asc", "limit": str(max(1, min(limit, 1000)))}
    if min_level is not None:
        params["min_level"] = min_level
    if start_epoch_millis is not None:
        params["start_epoch_millis"] = str(start_epoch_millis)
    return params
