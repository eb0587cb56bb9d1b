"""A deployment's metrics through the real Baseten client, against the loopback fake (issue 24).

The endpoint as the spec has it (modes, window, metric names, only its query parameters), a summary
read as the guard's window, nulls as unavailable values, faults as the client's errors, answers the
spec allows but the bot cannot read as BadResponse; last, answers drawn at random from the spec's
own schema: read or refused, never anything else.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from bot.baseten.client import BasetenClient
from bot.baseten.errors import AuthError, BadResponse, NotFound, Unavailable
from bot.baseten.metrics import LATENCY, REPLICAS, REQUESTS, DeploymentMetrics, to_window
from bot.baseten.ratelimit import RateLimiter
from bot.domain.guard import DEFAULT, Window, verdict
from tests.conftest import MODEL, OLD, PROD, any_database
from tests.fakes import API_KEY, Canned, FakeBaseten, Seen, _Fake
from tests.spec import SPEC
from tests.test_spec_answers import SCHEMAS, instances

pytestmark = any_database  # no database: the client against the fake, once

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
END = int(NOW.timestamp() * 1000)
START = END - 10 * 60 * 1000  # the guard's window: the last ten minutes


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


@pytest.fixture
def metrics(baseten: FakeBaseten) -> FakeBaseten:
    baseten.clock = lambda: NOW
    return baseten


@pytest.fixture
async def client(metrics: FakeBaseten) -> AsyncIterator[BasetenClient]:
    c = BasetenClient(api_key=API_KEY, base_url=metrics.url, limiter=RateLimiter(1000), timeout=2.0, sleep=_no_sleep)
    yield c
    await c.aclose()


async def summary(client: BasetenClient, dep: str = PROD, **query: Any) -> DeploymentMetrics:
    return await client.deployment_metrics(MODEL, dep, start_epoch_millis=START, end_epoch_millis=END, **query)


# -- the endpoint as it is ------------------------------------------------------------------------


async def test_a_summary_is_read_as_the_guards_window(client: BasetenClient, metrics: FakeBaseten) -> None:
    metrics.set_metrics(MODEL, PROD, requests=1000, errors_5xx=20, p95=0.8, replicas=2)
    answer = await summary(client)
    assert (answer.mode, answer.start_epoch_millis, answer.end_epoch_millis) == ("SUMMARY", START, END)
    assert [d.name for d in answer.metric_descriptors] == [REPLICAS, REQUESTS, LATENCY]
    assert answer.series(REPLICAS) == [({}, 2.0)]
    assert to_window(answer) == Window(requests=1000, errors_5xx=20, p95_seconds=0.8)
    (seen,) = metrics.metric_requests()
    assert seen.path == f"/v1/models/{MODEL}/deployments/{PROD}/metrics"
    assert seen.query == {"mode": ["SUMMARY"], "start_epoch_millis": [str(START)], "end_epoch_millis": [str(END)]}


async def test_only_the_metrics_asked_for_are_sent_and_answered(client: BasetenClient, metrics: FakeBaseten) -> None:
    metrics.set_metrics(MODEL, PROD, requests=100, errors_5xx=0, p95=0.3)
    answer = await summary(client, metrics=[REQUESTS, LATENCY, "baseten_gpu_utilization"])
    assert [d.name for d in answer.metric_descriptors] == [REQUESTS, LATENCY]  # the GPU one does not apply
    assert metrics.metric_requests()[0].query["metrics"] == [REQUESTS, LATENCY, "baseten_gpu_utilization"]
    assert to_window(answer) == Window(100, 0, 0.3)


async def test_the_modes_and_the_default_window(client: BasetenClient, metrics: FakeBaseten) -> None:
    metrics.set_metrics(MODEL, PROD, requests=600, errors_5xx=60, p95=1.0)
    now = await client.deployment_metrics(MODEL, PROD, mode="CURRENT")
    assert (now.mode, now.start_epoch_millis, now.end_epoch_millis, len(now.metric_values)) == ("CURRENT", END, END, 1)
    hour = await client.deployment_metrics(MODEL, PROD)  # SUMMARY of the hour before now
    assert (hour.mode, hour.end_epoch_millis - hour.start_epoch_millis) == ("SUMMARY", 3600 * 1000)
    series = await client.deployment_metrics(MODEL, PROD, mode="SERIES", start_epoch_millis=START, end_epoch_millis=END)
    assert (series.mode, series.step_seconds, len(series.metric_values)) == ("SERIES", 60, 10)
    assert sum(v for _, v in series.series(REQUESTS, step=3) if v is not None) == pytest.approx(60)
    assert [r.query.get("mode") for r in metrics.metric_requests()] == [["CURRENT"], ["SUMMARY"], ["SERIES"]]


async def test_nulls_are_values_unavailable(client: BasetenClient, metrics: FakeBaseten) -> None:
    """A deployment with no data in the window: every series null, every value None, and the guard watches."""
    window = to_window(await summary(client))  # nothing scripted: no data at all
    assert (window.requests, window.errors_5xx, window.p95_seconds) == (None, None, None)
    assert window.note == "no request data in the window; no response times in the window"
    metrics.set_metrics(MODEL, PROD, requests=500, errors_5xx=5, p95=None)
    window = to_window(await summary(client))
    assert window == Window(500, 5, None, "no response times in the window")
    assert verdict(DEFAULT, window, Window(1000, 0, 0.5)).level == "watch"


@pytest.mark.parametrize(
    ("status", "error"), [(403, AuthError), (500, Unavailable), (502, Unavailable), (503, Unavailable)]
)
async def test_a_fault_is_the_clients_error(
    client: BasetenClient, metrics: FakeBaseten, status: int, error: type[Exception]
) -> None:
    metrics.metrics_fail(MODEL, PROD, status)
    with pytest.raises(error) as raised:
        await summary(client)
    if status == 403:
        assert "(403)" in str(raised.value)
    metrics.metrics_fail(MODEL, PROD, None)
    metrics.set_metrics(MODEL, PROD, requests=10)
    assert to_window(await summary(client)).requests == 10  # and it answers again


async def test_a_name_baseten_rejects_and_an_unknown_deployment(client: BasetenClient, metrics: FakeBaseten) -> None:
    with pytest.raises(BadResponse, match="400"):
        await summary(client, metrics=["baseten_no_such_metric"])
    with pytest.raises(NotFound):
        await summary(client, dep="dep9none")
    assert to_window(await summary(client, dep=OLD)).requests is None  # known, without traffic


@pytest.mark.parametrize(
    "query",
    [
        {"mode": "CURRENT", "start_epoch_millis": START},
        {"mode": "CURRENT", "end_epoch_millis": END},
        {"mode": "summary"},
        {"start_epoch_millis": END, "end_epoch_millis": START},
        {"start_epoch_millis": END - 8 * 24 * 3600 * 1000, "end_epoch_millis": END},
        {"metrics": []},
        {"metrics": REQUESTS},  # a string, not a list of names
        {"metrics": ["a metric"]},
    ],
)
async def test_a_query_the_spec_does_not_allow_is_never_sent(
    client: BasetenClient, metrics: FakeBaseten, query: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        await client.deployment_metrics(MODEL, PROD, **query)
    assert metrics.metric_requests() == []


@pytest.mark.parametrize(("model", "dep"), [(MODEL, "../x"), ("mdl 1", PROD), (MODEL, "dep%2f")])
async def test_ids_are_plain_before_any_request(
    client: BasetenClient, metrics: FakeBaseten, model: str, dep: str
) -> None:
    with pytest.raises(ValueError, match="not a plain id"):
        await client.deployment_metrics(model, dep)
    assert metrics.metric_requests() == []


async def test_a_chain_or_a_training_job_has_no_metrics(client: BasetenClient, metrics: FakeBaseten) -> None:
    for key in ("chain:ch1abc", "training:tp1abc"):
        with pytest.raises(NotFound):
            await client.deployment_metrics(key, "dep1")
    assert metrics.count() == 0


# -- answers the bot cannot read --------------------------------------------------------------------


def body(**fields: Any) -> dict[str, Any]:
    """A readable SUMMARY answer (requests by status, p95), with `fields` replaced."""
    base: dict[str, Any] = {
        "start_epoch_millis": START,
        "end_epoch_millis": END,
        "mode": "SUMMARY",
        "step_seconds": None,
        "metric_descriptors": [
            {"name": REQUESTS, "unit_hint": "COUNT", "kind": "COUNTER", "label_sets": [{"status": "2xx"}]},
            {"name": LATENCY, "unit_hint": "SECONDS", "kind": "HISTOGRAM", "label_sets": [{"quantile": "0.95"}]},
        ],
        "metric_values": [{"start_epoch_millis": START, "values": [[100], [0.5]]}],
    }
    return {**base, **fields}


ONE = body()["metric_descriptors"][0]
SPEC_ALLOWS = [  # each valid against GetDeploymentMetricsResponseV1, none readable as asked
    body(mode="SERIES"),
    body(mode="CURRENT"),
    body(metric_values=[]),
    body(metric_values=[{"start_epoch_millis": START, "values": [[100], [0.5]]}] * 2),
    body(metric_values=[{"start_epoch_millis": START, "values": [[100]]}]),  # a descriptor without values
    body(metric_values=[{"start_epoch_millis": START, "values": [[100, 3], [0.5]]}]),  # more values than series
    body(metric_values=[{"start_epoch_millis": START, "values": [[], [0.5]]}]),
    body(metric_descriptors=[ONE, ONE]),
    body(
        metric_descriptors=[
            {**ONE, "label_sets": [{"status": "2xx"}, {"status": "2xx"}]},
            body()["metric_descriptors"][1],
        ]
    ),
    body(start_epoch_millis=END, end_epoch_millis=START),
]
OFF_SPEC = [
    b"not json",
    b"[]",
    json.dumps(body(metric_values=[{"start_epoch_millis": START, "values": [["100"], [0.5]]}])).encode(),
    json.dumps(body(metric_values=[{"start_epoch_millis": START, "values": [[True], [0.5]]}])).encode(),
    json.dumps(body(metric_descriptors=None)).encode(),
    json.dumps({k: v for k, v in body().items() if k != "end_epoch_millis"}).encode(),
    json.dumps(body()).replace("[100]", "[NaN]").encode(),
    json.dumps(body()).replace("[100]", "[Infinity]").encode(),
    json.dumps(body()).replace("[100]", "[1e999]").encode(),
]
CHECK = Draft202012Validator(
    {"$ref": "#/components/schemas/GetDeploymentMetricsResponseV1", "components": {"schemas": SCHEMAS}}
)


def test_the_unreadable_answers_are_ones_the_spec_allows() -> None:
    assert all(not list(CHECK.iter_errors(b)) for b in SPEC_ALLOWS)
    assert not list(CHECK.iter_errors(body()))


@pytest.mark.parametrize("answer", SPEC_ALLOWS)
async def test_an_answer_the_spec_allows_but_the_bot_cannot_read_is_bad(
    client: BasetenClient, metrics: FakeBaseten, answer: dict[str, Any]
) -> None:
    metrics.script("/v1/models/", Canned(200, answer))
    with pytest.raises(BadResponse, match="cannot read"):
        await summary(client)


@pytest.mark.parametrize("raw", OFF_SPEC)
async def test_a_body_that_is_not_the_spec_is_bad(client: BasetenClient, metrics: FakeBaseten, raw: bytes) -> None:
    metrics.script("/v1/models/", Canned(200, raw=raw, off_spec=True))
    with pytest.raises(BadResponse):
        await summary(client)


async def test_the_readable_body_is_read(client: BasetenClient, metrics: FakeBaseten) -> None:
    metrics.script("/v1/models/", Canned(200, body()))
    assert to_window(await summary(client)) == Window(100, 0, 0.5)


# -- answers drawn from the spec --------------------------------------------------------------------

_spec_body = instances({"$ref": "#/components/schemas/GetDeploymentMetricsResponseV1"})
_BY_STATUS = [[{"status": "2xx"}, {"status": "4xx"}, {"status": "5xx"}], [{"status": "500"}, {"status": "200"}], [{}]]
_QUANTILES = [[{"quantile": "0.5"}, {"quantile": "0.95"}, {"stat": "avg"}], [{"quantile": "0.95"}], [{}]]
_SHAPES = {  # each of Baseten's metrics with the units and label sets it may come with
    REQUESTS: (["COUNT", "PER_SECOND"], _BY_STATUS),
    LATENCY: (["SECONDS"], _QUANTILES),
    REPLICAS: (["COUNT"], [[{}]]),
}
_values = st.one_of(
    st.none(), st.floats(0, 1e4), st.integers(0, 10_000), st.floats(allow_nan=False, allow_infinity=False)
)


@st.composite
def _baseten_like(draw: st.DrawFn) -> dict[str, Any]:
    """A spec answer with Baseten's own names, label sets and units, its values aligned: past the
    structural checks more often, into the reading of each metric."""
    answer: dict[str, Any] = draw(_spec_body)
    for desc in answer["metric_descriptors"]:
        desc["name"] = draw(st.sampled_from([REQUESTS, LATENCY, REPLICAS, desc["name"]]))
        units, label_sets = _SHAPES.get(desc["name"], ([], []))
        desc["unit_hint"] = draw(st.sampled_from([*units, *units, desc["unit_hint"]]))
        desc["label_sets"] = draw(st.sampled_from([*label_sets, *label_sets, desc["label_sets"]]))
    answer["mode"] = draw(st.sampled_from(["SUMMARY", "SUMMARY", answer["mode"]]))
    steps = draw(st.sampled_from([1, 1, 1, 0, 2]))
    answer["metric_values"] = [
        {
            "start_epoch_millis": answer["start_epoch_millis"],
            "values": [[draw(_values) for _ in d["label_sets"]] for d in answer["metric_descriptors"]],
        }
        for _ in range(steps)
    ]
    return answer


@st.composite
def _baseten_own(draw: st.DrawFn) -> dict[str, Any]:
    """Baseten's default set as it describes it, with values drawn (nulls, zeros, huge, negative ones)."""
    start = draw(st.integers(0, 2**41))
    names = draw(st.permutations([REQUESTS, LATENCY, REPLICAS]))
    descs = [{"name": n, "unit_hint": _SHAPES[n][0][0], "kind": "GAUGE", "label_sets": _SHAPES[n][1][0]} for n in names]
    return {
        "start_epoch_millis": start,
        "end_epoch_millis": start + draw(st.integers(0, 7 * 24 * 3600 * 1000)),
        "mode": "SUMMARY",
        "step_seconds": None,
        "metric_descriptors": descs,
        "metric_values": [
            {"start_epoch_millis": start, "values": [[draw(_values) for _ in d["label_sets"]] for d in descs]}
        ],
    }


DRAWN = st.one_of(_spec_body, _baseten_like(), _baseten_own())


class SpecMetrics(_Fake):
    """Answers every request with the body drawn for it."""

    def __init__(self) -> None:
        self.body: Any = None
        super().__init__()

    def answer(self, seen: Seen) -> tuple[int, Any, dict[str, str], float, bytes | None]:
        with self.lock:
            return 200, json.loads(json.dumps(self.body)), {}, 0.0, None


@pytest.fixture
def spec_metrics() -> Iterator[SpecMetrics]:
    fake = SpecMetrics()
    yield fake
    fake.close()


def test_the_drawn_answers_are_ones_the_spec_allows() -> None:
    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(DRAWN)
    def drawn(answer: dict[str, Any]) -> None:
        assert not [e.message for e in CHECK.iter_errors(answer)][:3]

    drawn()
    op = SPEC.operation("GET", f"/v1/models/{MODEL}/deployments/{PROD}/metrics")
    assert op is not None and op.ok is not None


FEW = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def test_spec_answers_are_read_or_refused_never_anything_else(spec_metrics: SpecMetrics) -> None:
    outcomes: set[str] = set()

    async def read() -> None:
        try:
            answer = await client.deployment_metrics(MODEL, PROD, start_epoch_millis=START, end_epoch_millis=END)
        except BadResponse:
            outcomes.add("refused")
            return
        window = to_window(answer)
        assert verdict(DEFAULT, window, window).level in ("healthy", "watch", "failing")
        outcomes.add("read, with requests" if window.requests is not None else "read, without requests")
        if window.p95_seconds is not None:
            outcomes.add("read, with p95")

    @FEW
    @given(DRAWN)
    def drawn(answer: dict[str, Any]) -> None:
        with spec_metrics.lock:
            spec_metrics.body = answer
        runner.run(read())

    with asyncio.Runner() as runner:
        client = BasetenClient(api_key=API_KEY, base_url=spec_metrics.url, limiter=RateLimiter(1000), timeout=2.0)
        try:
            drawn()
        finally:
            runner.run(client.aclose())
    assert outcomes == {"refused", "read, with requests", "read, without requests", "read, with p95"}, outcomes


def test_the_fake_checks_the_metrics_query_against_the_spec(metrics: FakeBaseten) -> None:
    """A parameter the spec does not name (`window`, `step_seconds`: the training metrics' own) is a violation."""
    path = f"{metrics.url}/v1/models/{MODEL}/deployments/{PROD}/metrics"
    headers = {"Authorization": f"Api-Key {API_KEY}"}
    ok = httpx.get(path, params={"mode": "SERIES", "metrics": [REQUESTS, LATENCY]}, headers=headers)
    assert ok.status_code == 200 and metrics.violations == []
    for extra in ({"window": "10m"}, {"step_seconds": "60"}, {"mode": "HOURLY"}):
        httpx.get(path, params=extra, headers=headers)
    found, metrics.violations[:] = list(metrics.violations), []
    assert len(found) == 3 and "'window' is not in the spec" in found[0] and "HOURLY" in found[2], found
