"""The Baseten client against the loopback fake, which answers like the spec."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator

import pytest

from bot.baseten.client import BasetenClient
from bot.baseten.errors import AuthError, BadResponse, NotFound, RateLimited, Unavailable
from bot.baseten.ratelimit import RateLimiter
from tests.conftest import DEV, MODEL, MODEL_NAME, OLD, PROD
from tests.fakes import API_KEY, Canned, FakeBaseten, deployment


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


class FakeTime:
    """A clock that only moves when somebody sleeps: backoff without waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)

    def limiter(self) -> RateLimiter:
        return RateLimiter(1000, clock=self.clock, sleep=self.sleep)


@pytest.fixture
async def client(baseten: FakeBaseten) -> AsyncIterator[BasetenClient]:
    c = BasetenClient(api_key=API_KEY, base_url=baseten.url, limiter=RateLimiter(1000), timeout=2.0)
    yield c
    await c.aclose()


async def test_get_deployment_reads_every_field(client: BasetenClient, baseten: FakeBaseten) -> None:
    dep = await client.get_deployment(MODEL, PROD)
    assert (dep.id, dep.model_id, dep.name, dep.status) == (PROD, MODEL, "v3", "ACTIVE")
    assert dep.is_production is True and dep.is_development is False
    assert dep.active_replica_count == 2
    assert dep.autoscaling_settings is not None
    assert dep.autoscaling_settings.concurrency_target == 2
    assert dep.autoscaling_settings.scale_down_delay == 900
    assert dep.instance_type_name == "1x L4 (24 GiB)"
    assert dep.environment == "production"
    assert dep.created_at is not None and dep.created_at.year == 2026
    seen = baseten.requests[-1]
    assert seen.path == f"/v1/models/{MODEL}/deployments/{PROD}"
    assert seen.headers["Authorization"] == f"Api-Key {API_KEY}"


async def test_shortcuts_list_model_and_find(client: BasetenClient) -> None:
    assert (await client.get_production_deployment(MODEL)).id == PROD
    assert (await client.get_development_deployment(MODEL)).id == DEV
    listed = await client.list_deployments(MODEL)
    assert {d.id for d in listed} == {PROD, DEV, OLD}
    assert [d.id for d in await client.list_deployments(MODEL, name="v2")] == [OLD]
    m = await client.get_model(MODEL)
    assert (m.name, m.production_deployment_id, m.development_deployment_id) == (MODEL_NAME, PROD, DEV)
    assert [x.id for x in await client.find_models(MODEL_NAME)] == [MODEL]
    assert await client.find_models("nope") == []
    assert await client.list_audit_logs(MODEL) == []


async def test_lookups_by_name_send_only_what_the_spec_declares(client: BasetenClient, baseten: FakeBaseten) -> None:
    """The published spec has no `name` filter on either list: Baseten answers every model and
    deployment, and the client picks the exact name out itself."""
    baseten.add_model("mdl2other", "mistral-7b", [deployment("dep9", "mdl2other", name="v2")])
    assert [m.id for m in await client.find_models(MODEL_NAME)] == [MODEL]
    assert [m.id for m in await client.find_models("mistral-7b")] == ["mdl2other"]
    assert [d.id for d in await client.list_deployments(MODEL, name="v2")] == [OLD]
    assert await client.list_deployments(MODEL, name="v9") == []
    assert all(r.query == {} for r in baseten.requests)


async def test_unknown_fields_and_statuses_are_kept(client: BasetenClient, baseten: FakeBaseten) -> None:
    extra = deployment("depnew", MODEL, status="TELEPORTING")
    extra["brand_new_field"] = {"x": 1}
    extra["autoscaling_settings"] = None
    baseten.add_deployment(extra)
    with baseten.off_spec():  # a status newer than the spec is the point of this test
        dep = await client.get_deployment(MODEL, "depnew")
    assert dep.status == "TELEPORTING"
    assert dep.autoscaling_settings is None
    assert dep.model_extra == {"brand_new_field": {"x": 1}}


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, AuthError), (403, AuthError), (404, NotFound)],
)
async def test_client_errors_are_typed_and_not_retried(
    client: BasetenClient, baseten: FakeBaseten, status: int, error: type[Exception]
) -> None:
    baseten.script("/v1/models", Canned(status, {"error": "nope"}))
    with pytest.raises(error):
        await client.get_deployment(MODEL, PROD)
    assert baseten.count() == 1


async def test_wrong_key_is_unauthorized(baseten: FakeBaseten) -> None:
    c = BasetenClient(api_key="wrong", base_url=baseten.url, limiter=RateLimiter(1000))
    try:
        with pytest.raises(AuthError) as caught:
            await c.get_model(MODEL)
        assert caught.value.status_code == 401
        assert "wrong" not in str(caught.value)
    finally:
        await c.aclose()


async def test_429_honours_retry_after_then_succeeds(baseten: FakeBaseten) -> None:
    fake = FakeTime()
    c = BasetenClient(api_key=API_KEY, base_url=baseten.url, limiter=fake.limiter(), sleep=fake.sleep)
    baseten.script("/v1/", Canned(429, {"error": "slow down", "retry_after": 3}))
    try:
        dep = await c.get_deployment(MODEL, PROD)
    finally:
        await c.aclose()
    assert dep.id == PROD
    assert baseten.count() == 2
    assert any(3.0 <= s < 3.2 for s in fake.slept)


async def test_429_forever_raises_rate_limited(baseten: FakeBaseten) -> None:
    fake = FakeTime()
    c = BasetenClient(api_key=API_KEY, base_url=baseten.url, limiter=fake.limiter(), sleep=fake.sleep)
    baseten.script("/v1/", *[Canned(429, {"error": "slow down", "retry_after": 1})] * 10)
    try:
        with pytest.raises(RateLimited) as caught:
            await c.get_deployment(MODEL, PROD)
    finally:
        await c.aclose()
    assert caught.value.retry_after == 1
    assert baseten.count() == 4  # bounded


async def test_5xx_is_retried_then_succeeds(baseten: FakeBaseten) -> None:
    c = BasetenClient(api_key=API_KEY, base_url=baseten.url, limiter=RateLimiter(1000), sleep=_no_sleep)
    baseten.script("/v1/", Canned(500, {"error": "boom"}), Canned(502, raw=b"<html>bad gateway</html>", off_spec=True))
    try:
        assert (await c.get_deployment(MODEL, PROD)).id == PROD
    finally:
        await c.aclose()
    assert baseten.count() == 3


async def test_5xx_forever_is_unavailable(baseten: FakeBaseten) -> None:
    c = BasetenClient(api_key=API_KEY, base_url=baseten.url, limiter=RateLimiter(1000), sleep=_no_sleep)
    baseten.script("/v1/", *[Canned(503, {"error": "down"})] * 10)
    try:
        with pytest.raises(Unavailable):
            await c.get_deployment(MODEL, PROD)
    finally:
        await c.aclose()
    assert baseten.count() == 4


async def test_timeout_is_unavailable_within_bounded_time(baseten: FakeBaseten) -> None:
    c = BasetenClient(
        api_key=API_KEY,
        base_url=baseten.url,
        limiter=RateLimiter(1000),
        timeout=0.2,
        max_attempts=2,
        sleep=_no_sleep,
    )
    baseten.delay = 1.0
    started = time.monotonic()
    try:
        with pytest.raises(Unavailable) as caught:
            await c.get_deployment(MODEL, PROD)
    finally:
        await c.aclose()
    assert "in time" in str(caught.value)
    assert time.monotonic() - started < 10  # bounded: two 0.2 s attempts, with room for a loaded machine


async def test_connection_refused_is_unavailable() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = BasetenClient(api_key=API_KEY, base_url=f"http://127.0.0.1:{port}", limiter=RateLimiter(1000), sleep=_no_sleep)
    try:
        with pytest.raises(Unavailable):
            await c.get_model(MODEL)
    finally:
        await c.aclose()


@pytest.mark.parametrize(
    "raw",
    [b"not json at all", b"[1, 2, 3]", b'{"deployments": "nope"}', b'{"id": 5}', b""],
)
async def test_garbage_body_is_bad_response(client: BasetenClient, baseten: FakeBaseten, raw: bytes) -> None:
    baseten.script("/v1/", Canned(200, raw=raw, off_spec=True))
    with pytest.raises(BadResponse):
        await client.get_deployment(MODEL, PROD)


@pytest.mark.parametrize("bad", ["../x", "a/b", "a?b=1", "%2F", "a b", "a\nb", "", "x" * 65, "é"])
async def test_ids_are_validated_before_any_request(client: BasetenClient, baseten: FakeBaseten, bad: str) -> None:
    with pytest.raises(ValueError, match="not a plain id"):
        await client.get_deployment(MODEL, bad)
    with pytest.raises(ValueError, match="not a plain id"):
        await client.list_deployments(bad)
    assert baseten.count() == 0


async def test_rate_limiter_spaces_requests() -> None:
    now = [0.0]
    starts: list[float] = []

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter(10, clock=lambda: now[0], sleep=sleep)

    async def one() -> None:
        await limiter.acquire()
        starts.append(now[0])

    for _ in range(25):
        await one()
    # no one-second window holds more than max_rps starts
    for s in starts:
        assert sum(1 for x in starts if s <= x < s + 1.0) <= 10
    assert starts[-1] == pytest.approx(24 / 9.5)


async def test_rate_limiter_spaces_the_first_requests_after_a_quiet_spell() -> None:
    """Issue 22: the first two starts after a quiet second went out together (a takeover's first poll and
    the fleet detector), and with the window rule six reached Baseten within a second at max_rps=5."""
    now = [5000.0]  # a monotonic clock long past zero, as a process has
    starts: list[float] = []

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter(5, clock=lambda: now[0], sleep=sleep)
    for quiet in (0.0, 30.0):  # at the first request ever, and again after a quiet spell
        now[0] += quiet
        began = len(starts)
        for _ in range(12):
            await limiter.acquire()
            starts.append(now[0])
        gaps = [b - a for a, b in itertools.pairwise(starts[began:])]
        assert min(gaps) == pytest.approx(1 / (5 * 0.95))
        # no window a little over a second holds more than max_rps: a request may arrive 50 ms late
        assert max(sum(1 for x in starts if s <= x <= s + 1.05) for s in starts[began:]) <= 5


async def test_rate_limiter_pause_holds_everyone() -> None:
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter(100, clock=lambda: now[0], sleep=sleep)
    limiter.pause(5)
    await limiter.acquire()
    assert now[0] >= 5.0
