"""A deployment's metrics as Baseten answers them (management.json: GetDeploymentMetricsResponseV1,
DeploymentMetricDescriptorV1, DeploymentMetricValueSetV1), for the promotion guard (issue 24).

Pure data (pydantic, no I/O). The answer is index-mapped: each descriptor's position in
`metric_descriptors` is the index of its values in every value set, and a descriptor's
`label_sets` (one per series: `{}` for a plain metric, `{"status": "5xx"}`, `{"quantile": "0.95"}`)
give the order of the values within it; a series with no data is null (None here).

`unreadable` says why an answer the spec allows cannot be read as asked: values not aligned to
the descriptors as the spec promises, one metric or series given twice, another mode than asked,
a summary that is not one value set. The client refuses those (BadResponse). What one metric
alone does not give (no such metric, a null, a unit the bot does not know) is not a refusal:
the metric is unavailable, and the guard says so (`to_window`).
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import AllowInfNan, Strict

from bot.baseten.models import _Lenient
from bot.domain.guard import Window

REQUESTS = "baseten_inference_requests_total"  # a COUNTER, by status class
LATENCY = "baseten_end_to_end_response_time_seconds"  # a HISTOGRAM: quantiles and an average
REPLICAS = "baseten_replicas_active"

# a number as JSON has it: not a string or a boolean read as one, and never NaN or infinity
Number = Annotated[float, Strict(), AllowInfNan(False)]


class MetricDescriptor(_Lenient):
    """DeploymentMetricDescriptorV1. `unit_hint` and `kind` are open-ended: a newer value is kept verbatim."""

    name: str
    unit_hint: str
    kind: str = ""
    label_sets: list[dict[str, str]]


class MetricValueSet(_Lenient):
    """DeploymentMetricValueSetV1: one step's values, aligned to the descriptors, then to their label sets."""

    start_epoch_millis: int
    values: list[list[Number | None]]


class DeploymentMetrics(_Lenient):
    """GetDeploymentMetricsResponseV1. `step_seconds` (SERIES only) is not used: left out, it stays None."""

    start_epoch_millis: int
    end_epoch_millis: int
    mode: str
    step_seconds: int | None = None
    metric_descriptors: list[MetricDescriptor]
    metric_values: list[MetricValueSet]

    def descriptor(self, name: str) -> MetricDescriptor | None:
        return next((d for d in self.metric_descriptors if d.name == name), None)

    def series(self, name: str, step: int = 0) -> list[tuple[dict[str, str], float | None]]:
        """One metric's series in one value set (a summary's only one): each label set with its value.
        Empty when Baseten left the metric out (valid names that do not apply are omitted)."""
        for index, desc in enumerate(self.metric_descriptors):
            if desc.name == name:
                return list(zip(desc.label_sets, self.metric_values[step].values[index], strict=True))
        return []

    @property
    def seconds(self) -> float:
        """How long the answer's window is."""
        return (self.end_epoch_millis - self.start_epoch_millis) / 1000


def unreadable(answer: DeploymentMetrics, mode: str) -> str | None:
    """Why this answer to a request in `mode` cannot be read at all, or None."""
    if answer.mode != mode:
        return f"a {answer.mode[:20]!r} answer to a {mode} request"
    if answer.end_epoch_millis < answer.start_epoch_millis:
        return "a window that ends before it starts"
    if mode != "SERIES" and len(answer.metric_values) != 1:
        return f"{len(answer.metric_values)} value sets in a {mode} answer"
    names = [d.name for d in answer.metric_descriptors]
    if len(set(names)) != len(names):
        return "a metric described twice"
    for desc in answer.metric_descriptors:
        labels = [tuple(sorted(ls.items())) for ls in desc.label_sets]
        if len(set(labels)) != len(labels):
            return f"a series of {desc.name[:80]!r} given twice"
    widths = [len(d.label_sets) for d in answer.metric_descriptors]
    for step in answer.metric_values:
        if [len(v) for v in step.values] != widths:
            return "values not aligned to the metric descriptors"
    return None


def to_window(answer: DeploymentMetrics) -> Window:
    """A SUMMARY answer as the guard's window: requests and 5xx from the requests counter (by status
    class), p95 from the response-time quantiles. A value Baseten did not give is None, and `note`
    says why."""
    if answer.mode != "SUMMARY":
        raise ValueError("a guard window is read from a SUMMARY answer")
    requests, errors, why_requests = _requests(answer)
    p95, why_p95 = _p95(answer)
    note = "; ".join(why for why in (why_requests, why_p95) if why) or None
    return Window(requests=requests, errors_5xx=errors, p95_seconds=p95, note=note)


def _requests(answer: DeploymentMetrics) -> tuple[float | None, float | None, str | None]:
    """Requests and 5xx in the window, and why either is missing."""
    desc = answer.descriptor(REQUESTS)
    if desc is None:
        return None, None, "Baseten gave no request counts"
    if desc.unit_hint not in ("COUNT", "PER_SECOND"):
        return None, None, f"request counts in {desc.unit_hint[:20]!r}"
    scale = answer.seconds if desc.unit_hint == "PER_SECOND" else 1.0  # a rate over the window, as a count
    series = answer.series(REQUESTS)
    known = [(labels, value * scale) for labels, value in series if value is not None]
    if not known:
        return None, None, "no request data in the window"
    if any(value < 0 for _, value in known):
        return None, None, "a negative request count"
    total = sum(value for _, value in known)
    if not math.isfinite(total):  # a rate per second so large that as a count it is no number
        return None, None, "request counts too large to read"
    if [labels for labels, _ in series] == [{}]:
        return total, None, "request counts without status classes"
    if not all("status" in labels for labels, _ in series):
        return None, None, "request counts split in a way the bot does not read"
    # a status with no data had no requests of it; one that is not in the list did not occur
    errors = sum(value for labels, value in known if _server_error(labels["status"]))
    return total, errors, None


def _server_error(status: str) -> bool:
    """`5xx`, or one 5xx code (`503`)."""
    status = status.strip().lower()
    return status == "5xx" or (len(status) == 3 and status[0] == "5" and status[1:].isdigit())


def _p95(answer: DeploymentMetrics) -> tuple[float | None, str | None]:
    """The window's p95 response time in seconds, and why it is missing."""
    desc = answer.descriptor(LATENCY)
    if desc is None:
        return None, "Baseten gave no response times"
    if desc.unit_hint != "SECONDS":
        return None, f"response times in {desc.unit_hint[:20]!r}"
    found = [value for labels, value in answer.series(LATENCY) if set(labels) == {"quantile"} and _p95_label(labels)]
    if len(found) != 1:
        return None, "no single p95 among the response times"
    if found[0] is None:
        return None, "no response times in the window"
    if found[0] < 0:
        return None, "a negative response time"
    return found[0], None


def _p95_label(labels: dict[str, str]) -> bool:
    try:
        return float(labels["quantile"]) == 0.95
    except ValueError:
        return False
