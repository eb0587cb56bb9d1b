"""Path segments and query parameters the client builds: nothing a user typed reaches a path
unvalidated (a plain id, percent-encoded as one segment), and only the spec's log and metrics parameters."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import quote

from bot.domain.ids import is_plain_id

Query = Mapping[str, str | Sequence[str]]  # a query string: a parameter the spec types as an array repeats

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


METRIC_MODES = ("CURRENT", "SUMMARY", "SERIES")  # DeploymentMetricModeV1
MAX_METRICS_WINDOW_MILLIS = 7 * 24 * 3600 * 1000  # "The window between start and end must not exceed 7 days."
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,199}")  # a Prometheus metric name, as Baseten's are


def metric_params(
    *, mode: str, start_epoch_millis: int | None, end_epoch_millis: int | None, metrics: Sequence[str] | None
) -> dict[str, str | list[str]]:
    """The deployment metrics endpoint's query, and only it: `mode`, the window's ends (CURRENT takes none;
    left out, Baseten reads the hour before now), and the metric names (left out, its default set)."""
    if mode not in METRIC_MODES:
        raise ValueError(f"mode must be one of {', '.join(METRIC_MODES)}")
    if mode == "CURRENT" and (start_epoch_millis is not None or end_epoch_millis is not None):
        raise ValueError("a CURRENT read takes no start or end")
    window = None if start_epoch_millis is None or end_epoch_millis is None else end_epoch_millis - start_epoch_millis
    if window is not None and not 0 <= window <= MAX_METRICS_WINDOW_MILLIS:
        raise ValueError("the window must end after it starts, within 7 days")
    params: dict[str, str | list[str]] = {"mode": mode}
    if start_epoch_millis is not None:
        params["start_epoch_millis"] = str(start_epoch_millis)
    if end_epoch_millis is not None:
        params["end_epoch_millis"] = str(end_epoch_millis)
    if metrics is not None:
        if not metrics or isinstance(metrics, str) or not all(_METRIC_NAME.fullmatch(m) for m in metrics):
            raise ValueError("metrics must be one or more metric names")
        params["metrics"] = list(metrics)
    return params
