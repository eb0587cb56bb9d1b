"""The promotion guard's spec and verdict (issue 24), with plain values: no I/O.

Table tests at the edges of every threshold (exactly at, just above, just below), missing
values, zero traffic, a current p95 of zero or unknown, and every parse error; then a summary
answer read as a window (bot.baseten.metrics.to_window).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.baseten.metrics import LATENCY, REQUESTS, DeploymentMetrics, to_window
from bot.domain.guard import (
    DEFAULT,
    OFF,
    GuardSpec,
    Verdict,
    Window,
    describe,
    parse_guard,
    percent,
    seconds,
    unavailable,
    verdict,
)

# -- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("5xx:2%,p95:2x,min:50", DEFAULT),
        ("off", OFF),
        (" OFF ", OFF),
        ("auto-pause", GuardSpec(auto_pause=True)),  # each item replaces its part of the default
        ("5xx:0.5%", GuardSpec(max_5xx_percent=0.5)),
        ("5xx:0%", GuardSpec(max_5xx_percent=0.0)),  # any 5xx fails
        ("5xx:100%", GuardSpec(max_5xx_percent=100.0)),
        ("p95:1x", GuardSpec(max_p95_ratio=1.0)),
        ("p95:1.25x,min:0", GuardSpec(max_p95_ratio=1.25, min_requests=0)),
        ("min:1000000000", GuardSpec(min_requests=1_000_000_000)),
        ("min:200, auto-pause , 5XX:1%", GuardSpec(max_5xx_percent=1.0, min_requests=200, auto_pause=True)),
        ("auto-pause,p95:3x,5xx:5%,min:10", GuardSpec(5.0, 3.0, 10, auto_pause=True)),
    ],
)
def test_a_guard_spec_parses(text: str, spec: GuardSpec) -> None:
    assert parse_guard(text) == spec


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "needs a value"),
        ("   ", "needs a value"),
        ("5xx:2", "in percent"),
        ("5xx:%", "in percent"),
        ("5xx:-1%", "in percent"),
        ("5xx:100.01%", "from 0 to 100"),
        ("5xx:nan%", "in percent"),
        ("5xx:inf%", "in percent"),
        ("5xx:1e3%", "in percent"),
        ("5xx:2%%", "in percent"),
        ("p95:2", "as a ratio"),
        ("p95:0.99x", "at least 1"),
        ("p95:0x", "at least 1"),
        ("p95:1001x", "as a ratio"),
        ("p95:2.5.1x", "as a ratio"),
        ("min:-1", "whole number"),
        ("min:2.5", "whole number"),
        ("min:", "whole number"),
        ("min:1000000001", "whole number"),
        ("min:99999999999", "whole number"),
        ("p99:2x", "does not know `p99:2x`"),
        ("5xx", "in percent"),
        ("autopause", "does not know"),
        ("5xx:2%,5xx:3%", "`5xx` twice"),
        ("auto-pause,auto-pause", "`auto-pause` twice"),
        ("off,auto-pause", "stands alone"),
        ("5xx:2%,off", "stands alone"),
        ("5xx:2%,,min:5", "empty item"),
        ("5xx:2%,", "empty item"),
        ("x" * 201, "longer than 200"),
        ("`rm`", "does not know `'rm'`"),
    ],
)
def test_a_bad_guard_spec_says_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_guard(text)
    assert says in str(raised.value), str(raised.value)


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        (DEFAULT, "5xx:2%,p95:2x,min:50"),
        (OFF, "off"),
        (GuardSpec(0.25, 1.5, 0, auto_pause=True), "5xx:0.25%,p95:1.5x,min:0,auto-pause"),
    ],
)
def test_describe_says_the_spec_as_guard_takes_it(spec: GuardSpec, text: str) -> None:
    assert describe(spec) == text


_percents = st.from_regex(r"\d{1,2}(\.\d{1,4})?", fullmatch=True)
_ratios = st.from_regex(r"[1-9]\d{0,2}(\.\d{1,4})?", fullmatch=True)
_items = st.lists(st.sampled_from(["5xx", "p95", "min", "auto-pause"]), unique=True, min_size=1, max_size=4).flatmap(
    lambda names: st.tuples(
        *[
            {
                "5xx": _percents.map(lambda v: f"5xx:{v}%"),
                "p95": _ratios.map(lambda v: f"p95:{v}x"),
                "min": st.integers(0, 10**9).map(lambda v: f"min:{v}"),
                "auto-pause": st.just("auto-pause"),
            }[n]
            for n in names
        ]
    )
)


@settings(max_examples=200, deadline=None)
@given(_items)
def test_describe_and_parse_round_trip(items: tuple[str, ...]) -> None:
    spec = parse_guard(",".join(items))
    assert parse_guard(describe(spec)) == spec


# -- the verdict -------------------------------------------------------------------------------

CURRENT = Window(requests=1000, errors_5xx=1, p95_seconds=1.0)
GOOD = Window(requests=100, errors_5xx=0, p95_seconds=1.0)


def judged(candidate: Window, current: Window = CURRENT, spec: GuardSpec = DEFAULT) -> Verdict:
    return verdict(spec, candidate, current)


@pytest.mark.parametrize(
    ("requests", "errors", "level"),
    [
        (100, 1, "healthy"),  # 1%: below 2%
        (100, 2, "healthy"),  # exactly 2%: not above
        (100, 3, "failing"),  # 3%: above
        (5000, 100, "healthy"),  # exactly 2%
        (5000, 101, "failing"),  # 2.02%: just above
        (5000, 99, "healthy"),  # 1.98%: just below
        (50, 1, "healthy"),  # exactly 2% at exactly the minimum
        (50, 2, "failing"),  # 4% at exactly the minimum: judged
        (49, 49, "watch"),  # every request failed, but one short of the minimum: no verdict yet
        (512.5, 10.25, "healthy"),  # counts Baseten extrapolated: exactly 2% still
        (512.5, 10.375, "failing"),
        (100, 100, "failing"),  # every request
    ],
)
def test_the_5xx_threshold_at_its_edges(requests: float, errors: float, level: str) -> None:
    got = judged(replace(GOOD, requests=requests, errors_5xx=errors))
    assert got.level == level, got


def test_a_zero_percent_threshold_fails_on_any_5xx_and_not_on_none() -> None:
    spec = GuardSpec(max_5xx_percent=0.0)
    assert judged(replace(GOOD, errors_5xx=0), spec=spec).level == "healthy"
    assert judged(replace(GOOD, errors_5xx=1), spec=spec).level == "failing"


@pytest.mark.parametrize(
    ("candidate_p95", "current_p95", "ratio", "level"),
    [
        (2.0, 1.0, 2.0, "healthy"),  # exactly 2x: not above
        (2.001, 1.0, 2.0, "failing"),  # just above
        (1.999, 1.0, 2.0, "healthy"),  # just below
        (0.5, 1.0, 2.0, "healthy"),  # faster
        (0.3, 0.2, 1.5, "healthy"),  # exactly 1.5x (0.30000000000000004 would be above: floats at the edge)
        (0.31, 0.2, 1.5, "failing"),
        (1.0, 1.0, 1.0, "healthy"),  # 1x: no slower at all
        (1.01, 1.0, 1.0, "failing"),
        (0.0, 1.0, 2.0, "healthy"),
    ],
)
def test_the_p95_threshold_at_its_edges(candidate_p95: float, current_p95: float, ratio: float, level: str) -> None:
    got = judged(
        replace(GOOD, p95_seconds=candidate_p95),
        replace(CURRENT, p95_seconds=current_p95),
        GuardSpec(max_p95_ratio=ratio),
    )
    assert got.level == level, got


@pytest.mark.parametrize(
    ("current_requests", "minimum", "level", "reason"),
    [
        (49, 50, "watch", "too little traffic on the current deployment to compare p95 (49 of min 50)"),
        (50, 50, "failing", "p95 3 s is above 2x the current's 1 s (2 s)"),  # exactly the minimum: compared
        (0, 0, "watch", "too little traffic on the current deployment to compare p95 (0 of min 0)"),
        (None, 50, "watch", "metrics unavailable: the current deployment's requests"),
    ],
)
def test_p95_is_compared_only_with_a_baseline_that_served_the_minimum(
    current_requests: float | None, minimum: int, level: str, reason: str
) -> None:
    """A p95 over a handful of requests (the current near the end of a rollout) is no reference."""
    candidate = Window(requests=500, errors_5xx=0, p95_seconds=3.0)
    current = Window(requests=current_requests, errors_5xx=0, p95_seconds=1.0)
    got = verdict(GuardSpec(min_requests=minimum), candidate, current)
    assert (got.level, got.reasons) == (level, [reason])


def test_after_a_promotion_the_reasons_name_the_replaced_deployment() -> None:
    candidate = Window(requests=500, errors_5xx=50, p95_seconds=3.0)
    got = verdict(DEFAULT, candidate, Window(400, 4, 1.0), baseline="replaced")
    assert got.reasons == ["5xx rate 10% is above 2%; replaced 1%", "p95 3 s is above 2x the replaced's 1 s (2 s)"]


@pytest.mark.parametrize(
    ("requests", "minimum", "level", "reason"),
    [
        (0, 50, "watch", "too little traffic (0 of min 50 requests)"),
        (49, 50, "watch", "too little traffic (49 of min 50 requests)"),
        (49.5, 50, "watch", "too little traffic (49.5 of min 50 requests)"),
        (50, 50, "healthy", None),
        (51, 50, "healthy", None),
        (0, 0, "watch", "too little traffic (0 of min 0 requests)"),  # no traffic: nothing to judge, even at min 0
        (1, 0, "healthy", None),
        (1999, 2000, "watch", "too little traffic (1,999 of min 2000 requests)"),
    ],
)
def test_too_little_traffic_is_watch(requests: float, minimum: int, level: str, reason: str | None) -> None:
    got = judged(replace(GOOD, requests=requests), spec=GuardSpec(min_requests=minimum))
    assert got.level == level
    assert got.reasons == ([reason] if reason else [])


def test_a_healthy_verdict_carries_both_measures() -> None:
    got = judged(Window(requests=400, errors_5xx=4, p95_seconds=0.9), Window(1000, 5, 0.8))
    assert got == Verdict("healthy", [], got.measures)
    five, p95 = got.measures
    assert (five.metric, five.candidate, five.current, five.threshold, five.limit) == ("5xx rate", 1.0, 0.5, "2%", 2.0)
    assert (p95.metric, p95.candidate, p95.current, p95.threshold, p95.limit) == (
        "p95",
        0.9,
        0.8,
        "2x the current's",
        1.6,
    )
    assert not got.failing


def test_a_failing_verdict_names_the_metric_both_values_and_the_threshold() -> None:
    got = judged(Window(requests=500, errors_5xx=40, p95_seconds=3.0), Window(1000, 1, 1.2))
    assert got.level == "failing"
    assert got.reasons == [
        "5xx rate 8% is above 2%; current 0.1%",
        "p95 3 s is above 2x the current's 1.2 s (2.4 s)",
    ]
    assert [m.metric for m in got.failing] == ["5xx rate", "p95"]


@pytest.mark.parametrize(
    ("candidate", "current", "reason"),
    [
        (Window(), CURRENT, "metrics unavailable: the candidate's requests"),
        (unavailable("the API key may not read metrics (403)"), CURRENT, "the candidate's requests (the API key"),
        (replace(GOOD, errors_5xx=None), CURRENT, "metrics unavailable: the candidate's 5xx rate"),
        (replace(GOOD, errors_5xx=101), CURRENT, "the candidate's 5xx count is above its request count"),
        (replace(GOOD, p95_seconds=None), CURRENT, "metrics unavailable: the candidate's p95"),
        (GOOD, replace(CURRENT, p95_seconds=None), "metrics unavailable: the current deployment's p95"),
        (GOOD, unavailable("Baseten answered 503"), "the current deployment's p95 (Baseten answered 503)"),
        (GOOD, replace(CURRENT, p95_seconds=0.0), "the current deployment's p95 is 0"),
    ],
)
def test_a_missing_value_is_watch_with_the_reason(candidate: Window, current: Window, reason: str) -> None:
    got = judged(candidate, current)
    assert got.level == "watch"
    assert any(reason in r for r in got.reasons), got.reasons


def test_a_crossed_threshold_fails_even_when_another_is_unavailable() -> None:
    """The 5xx rate is the candidate's own: it fails without the current deployment's metrics."""
    got = judged(Window(requests=100, errors_5xx=10, p95_seconds=None), unavailable("Baseten answered 503"))
    assert got.level == "failing"
    assert got.reasons == ["5xx rate 10% is above 2%"]
    got = judged(Window(requests=100, errors_5xx=None, p95_seconds=5.0), CURRENT)
    assert got.level == "failing"
    assert [m.metric for m in got.failing] == ["p95"]


def test_an_off_guard_judges_nothing() -> None:
    with pytest.raises(ValueError, match="off"):
        verdict(OFF, GOOD, CURRENT)


_values = st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False), st.integers(0, 10**6).map(float))
_windows = st.builds(Window, requests=_values, errors_5xx=_values, p95_seconds=_values)
_specs = st.builds(
    GuardSpec,
    max_5xx_percent=st.floats(0, 100, allow_nan=False),
    max_p95_ratio=st.floats(1, 1000, allow_nan=False),
    min_requests=st.integers(0, 1000),
)


@settings(max_examples=500, deadline=None)
@given(_specs, _windows, _windows)
def test_missing_data_never_makes_a_verdict_fail(spec: GuardSpec, candidate: Window, current: Window) -> None:
    """Taking any value away never turns a verdict failing; a failing one rests on values Baseten gave."""
    got = verdict(spec, candidate, current)
    assert got.level in ("healthy", "watch", "failing")
    assert (got.level == "failing") == bool(got.failing)
    for m in got.failing:
        assert m.candidate is not None and m.limit is not None and m.candidate > m.limit
    if got.level != "failing":
        for name in ("requests", "errors_5xx", "p95_seconds"):
            assert verdict(spec, replace(candidate, **{name: None}), current).level != "failing", name
            assert verdict(spec, candidate, replace(current, **{name: None})).level != "failing", name


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, "n/a"), (0.0, "0%"), (8.0, "8%"), (0.25, "0.25%"), (2.0049, "2%"), (0.004, "<0.01%"), (100.0, "100%")],
)
def test_percent_as_shown(value: float | None, shown: str) -> None:
    assert percent(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, "n/a"), (0.0, "0 ms"), (0.85, "850 ms"), (0.9999, "1 s"), (1.25, "1.25 s"), (12.0, "12 s")],
)
def test_seconds_as_shown(value: float | None, shown: str) -> None:
    assert seconds(value) == shown


# -- a summary answer as a window --------------------------------------------------------------


def summary(
    *metrics: tuple[str, str, list[dict[str, str]], list[float | None]], seconds: int = 300
) -> DeploymentMetrics:
    """A SUMMARY answer: each metric as (name, unit_hint, label_sets, values)."""
    body: dict[str, Any] = {
        "start_epoch_millis": 1_800_000_000_000,
        "end_epoch_millis": 1_800_000_000_000 + seconds * 1000,
        "mode": "SUMMARY",
        "step_seconds": None,
        "metric_descriptors": [
            {"name": name, "unit_hint": unit, "kind": "GAUGE", "label_sets": labels}
            for name, unit, labels, _ in metrics
        ],
        "metric_values": [{"start_epoch_millis": 1_800_000_000_000, "values": [v for *_, v in metrics]}],
    }
    return DeploymentMetrics.model_validate(body)


BY_STATUS = [{"status": "2xx"}, {"status": "4xx"}, {"status": "5xx"}]
QUANTILES = [{"quantile": "0.5"}, {"quantile": "0.95"}, {"quantile": "0.99"}, {"stat": "avg"}]


def requests_(values: list[float | None], unit: str = "COUNT", labels: list[dict[str, str]] = BY_STATUS) -> Any:
    return (REQUESTS, unit, labels, values)


def latency(values: list[float | None], unit: str = "SECONDS", labels: list[dict[str, str]] = QUANTILES) -> Any:
    return (LATENCY, unit, labels, values)


@pytest.mark.parametrize(
    ("answer", "window"),
    [
        (summary(requests_([900, 60, 40]), latency([0.2, 0.8, 1.5, 0.3])), Window(1000, 40, 0.8)),
        # a status with no data had none; so did one not listed
        (summary(requests_([500, None, None]), latency([0.2, 0.8, None, 0.3])), Window(500, 0, 0.8)),
        (
            summary(requests_([500], labels=[{"status": "2xx"}]), latency([0.8], labels=[{"quantile": "0.95"}])),
            Window(500, 0, 0.8),
        ),
        (summary(requests_([90, 7, 3], labels=[{"status": "200"}, {"status": "503"}, {"status": "500"}])), None),
        # a rate per second over a 300 s window, as counts
        (summary(requests_([3.0, 0.0, 0.5], unit="PER_SECOND"), latency([0.1, 0.2, 0.3, 0.1])), Window(1050, 150, 0.2)),
        (
            summary(requests_([1000], labels=[{}]), latency([0.1, 0.2, 0.3, 0.1])),
            Window(1000, None, 0.2, "request counts without status classes"),
        ),
    ],
)
def test_a_summary_answer_as_a_window(answer: DeploymentMetrics, window: Window | None) -> None:
    got = to_window(answer)
    if window is None:  # by code rather than class
        assert (got.requests, got.errors_5xx) == (100, 10)
    else:
        assert got == window


@pytest.mark.parametrize(
    ("answer", "note"),
    [
        (summary(latency([0.2, 0.8, 1.5, 0.3])), "Baseten gave no request counts"),
        (summary(requests_([None, None, None]), latency([0.2, 0.8, 1.5, 0.3])), "no request data in the window"),
        (summary(requests_([], labels=[]), latency([0.2, 0.8, 1.5, 0.3])), "no request data in the window"),
        (summary(requests_([1, 2, 3], unit="BYTES"), latency([0.2, 0.8, 1.5, 0.3])), "request counts in 'BYTES'"),
        (summary(requests_([1, -2, 3]), latency([0.2, 0.8, 1.5, 0.3])), "a negative request count"),
        (summary(requests_([1e308, 0, 0], unit="PER_SECOND"), latency([0.2, 0.8, 1.5, 0.3])), "too large"),
        (summary(requests_([1, 2], labels=[{}, {"status": "5xx"}]), latency([0.2, 0.8, 1.5, 0.3])), "split in a way"),
        (summary(requests_([980, 15, 5])), "Baseten gave no response times"),
        (summary(requests_([980, 15, 5]), latency([0.2, None, 1.5, 0.3])), "no response times in the window"),
        (summary(requests_([980, 15, 5]), latency([0.2, 0.8, 1.5, 0.3], unit="COUNT")), "response times in 'COUNT'"),
        (
            summary(requests_([980, 15, 5]), latency([0.2, 0.3], labels=[{"quantile": "0.5"}, {"stat": "avg"}])),
            "no single p95",
        ),
        (
            summary(requests_([980, 15, 5]), latency([1.0], labels=[{"quantile": "0.95", "region": "x"}])),
            "no single p95",
        ),
        (summary(requests_([980, 15, 5]), latency([1.0], labels=[{"quantile": "p95"}])), "no single p95"),
        (
            summary(requests_([980, 15, 5]), latency([-1.0, 0.2], labels=[{"quantile": "0.950"}, {"stat": "avg"}])),
            "a negative response time",
        ),
    ],
)
def test_what_a_summary_does_not_give_is_none_with_the_reason(answer: DeploymentMetrics, note: str) -> None:
    got = to_window(answer)
    assert got.note is not None and note in got.note, got
    assert verdict(DEFAULT, got, CURRENT).level == "watch"


def test_every_reason_a_value_is_missing_is_said() -> None:
    got = to_window(summary(requests_([1000], labels=[{}])))
    assert got == Window(1000, None, None, "request counts without status classes; Baseten gave no response times")
    reasons = verdict(DEFAULT, got, CURRENT).reasons
    assert all("(request counts without status classes; Baseten gave no response times)" in r for r in reasons)
    assert len(reasons) == 2  # the 5xx rate and the p95, each unavailable


def test_only_a_summary_is_read_as_a_window() -> None:
    series = summary(requests_([1, 2, 3])).model_copy(update={"mode": "SERIES"})
    with pytest.raises(ValueError, match="SUMMARY"):
        to_window(series)
