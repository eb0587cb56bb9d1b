"""The fake Baseten's deployment metrics, as its published spec shapes them (issue 24, the promotion guard).

Mixed into tests.fakes.FakeBaseten: the same server, lock, request log and spec checks (every answer
here is checked against management.json's GetDeploymentMetricsResponseV1 by FakeBaseten.answer).

`GET /v1/models/{model_id}/deployments/{deployment_id}/metrics` answers as the spec says:
- `mode` CURRENT (the default: a snapshot now, start and end must be omitted), SUMMARY (one value
  set over the whole window) or SERIES (evenly spaced value sets, the step derived from the window);
- the window defaults to the hour before the end, the end to now (the fake's `clock`); a start after
  the end, or a window over 7 days, is a 400;
- `metrics` names the metrics to return, by default replicas, requests and response time; an unknown
  name is a 400, a known one that does not apply to the deployment is left out.

Each deployment's window is scripted (`set_metrics`): requests by status class (`2xx`, `5xx`), the
response time's quantiles (p95 as given, the others derived from it) and active replicas; a value
not given is null ("a series with no data"). A deployment with none scripted has no data at all.
`metrics_fail` makes a deployment's metrics answer a fault (403, 500) until it is called with None.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

REQUESTS = "baseten_inference_requests_total"
LATENCY = "baseten_end_to_end_response_time_seconds"
REPLICAS = "baseten_replicas_active"
DEFAULT_METRICS = (REPLICAS, REQUESTS, LATENCY)
# valid names the fake's deployments (CPU only) have no series of: left out of an answer, not refused
NOT_APPLICABLE = ("baseten_gpu_memory_used", "baseten_gpu_utilization")
HOUR_MILLIS = 3600 * 1000
MAX_WINDOW_MILLIS = 7 * 24 * HOUR_MILLIS
MODES = ("CURRENT", "SUMMARY", "SERIES")


@dataclass
class Scripted:
    """One deployment's window: what the metrics endpoint reports for it, whatever window is asked."""

    requests: float | None = None
    errors_5xx: float | None = None
    p95: float | None = None
    replicas: float | None = None


def descriptors(names: list[str]) -> list[dict[str, Any]]:
    """DeploymentMetricDescriptorV1s, as Baseten describes its default set."""
    known = {
        REPLICAS: {"unit_hint": "COUNT", "kind": "GAUGE", "label_sets": [{}]},
        REQUESTS: {"unit_hint": "COUNT", "kind": "COUNTER", "label_sets": [{"status": "2xx"}, {"status": "5xx"}]},
        LATENCY: {
            "unit_hint": "SECONDS",
            "kind": "HISTOGRAM",
            "label_sets": [{"quantile": q} for q in ("0.5", "0.9", "0.95", "0.99")] + [{"stat": "avg"}],
        },
    }
    return [{"name": n, **known[n]} for n in names]


def values(names: list[str], window: Scripted, share: float = 1.0) -> list[list[float | None]]:
    """One value set's values for `names`; counters scaled by `share` (one step of a series)."""
    ok = None if window.requests is None or window.errors_5xx is None else (window.requests - window.errors_5xx) * share
    errors = None if window.errors_5xx is None else window.errors_5xx * share
    p95 = window.p95
    quantiles = [None] * 5 if p95 is None else [p95 * 0.5, p95 * 0.8, p95, p95 * 1.3, p95 * 0.6]
    by_name = {REPLICAS: [window.replicas], REQUESTS: [ok, errors], LATENCY: quantiles}
    return [list(by_name[n]) for n in names]


class MetricsFake:
    """Deployment metrics: scripted windows and faults, and the route FakeBaseten sends the path to."""

    lock: threading.Lock
    requests: list[Any]  # tests.fakes._Fake's request log
    clock: Callable[[], datetime]  # tests.fakes_runs.RunsFake's: Baseten's clock

    def __init__(self) -> None:
        self.metric_windows: dict[tuple[str, str], Scripted] = {}
        self.metric_faults: dict[tuple[str, str], int] = {}
        super().__init__()

    def set_metrics(
        self,
        model_id: str,
        dep_id: str,
        *,
        requests: float | None = None,
        errors_5xx: float | None = None,
        p95: float | None = None,
        replicas: float | None = 1,
    ) -> None:
        """What the deployment's metrics say from the next request on: `requests` in the window, of which
        `errors_5xx` were 5xx; `p95` seconds. None: no data (null). Requests without `errors_5xx` are
        all 2xx."""
        if requests is not None and errors_5xx is None:
            errors_5xx = 0
        with self.lock:
            self.metric_windows[(model_id, dep_id)] = Scripted(requests, errors_5xx, p95, replicas)

    def metrics_fail(self, model_id: str, dep_id: str, status: int | None) -> None:
        """From the next request on, the deployment's metrics answer `status` (403, 500, 503); None: data again."""
        with self.lock:
            if status is None:
                self.metric_faults.pop((model_id, dep_id), None)
            else:
                self.metric_faults[(model_id, dep_id)] = status

    def metric_requests(self) -> list[Any]:
        with self.lock:
            return [r for r in self.requests if r.path.endswith("/metrics")]

    def _metrics(self, model_id: str, dep_id: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        """(under the lock) The answer to one metrics request for a deployment known to exist."""
        fault = self.metric_faults.get((model_id, dep_id))
        if fault is not None:
            words = {403: "Forbidden", 429: "Too many requests"}.get(fault, "Internal server error")
            return fault, {"error": words, "retry_after": 1} if fault == 429 else {"error": words}
        q = {k: v[-1] for k, v in query.items() if k != "metrics"}
        mode = q.get("mode", "CURRENT")
        if mode not in MODES:
            return 400, {"error": f"Invalid mode: {mode[:40]}"}
        if any(not q[k].lstrip("-").isdigit() for k in ("start_epoch_millis", "end_epoch_millis") if k in q):
            return 400, {"error": "start_epoch_millis and end_epoch_millis must be integers"}
        names = query.get("metrics") or list(DEFAULT_METRICS)
        unknown = [n for n in names if n not in DEFAULT_METRICS + NOT_APPLICABLE]
        if unknown:
            return 400, {"error": f"Unknown metric names: {', '.join(unknown)[:200]}"}
        names = [n for n in dict.fromkeys(names) if n in DEFAULT_METRICS]
        now = int(self.clock().timestamp() * 1000)
        if mode == "CURRENT":
            if "start_epoch_millis" in q or "end_epoch_millis" in q:
                return 400, {"error": "start_epoch_millis and end_epoch_millis must be omitted in CURRENT mode"}
            start = end = now
        else:
            end = int(q["end_epoch_millis"]) if "end_epoch_millis" in q else now
            start = int(q["start_epoch_millis"]) if "start_epoch_millis" in q else end - HOUR_MILLIS
            if not 0 <= end - start <= MAX_WINDOW_MILLIS:
                return 400, {"error": "The window must end after it starts and span at most 7 days"}
        window = self.metric_windows.get((model_id, dep_id), Scripted())
        step, steps = _steps(start, end) if mode == "SERIES" else (None, [start])
        share = 1 / len(steps)
        return 200, {
            "start_epoch_millis": start,
            "end_epoch_millis": end,
            "mode": mode,
            "step_seconds": step // 1000 if step is not None else None,
            "metric_descriptors": descriptors(names),
            "metric_values": [{"start_epoch_millis": s, "values": values(names, window, share)} for s in steps],
        }


def _steps(start: int, end: int) -> tuple[int, list[int]]:
    """A series' step and its starts: about 60 across the window, each a whole number of minutes (at least one)."""
    step = max(60_000, (end - start) // 60 // 60_000 * 60_000)
    return step, list(range(start, max(end, start + 1), step))
