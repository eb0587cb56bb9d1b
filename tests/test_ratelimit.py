"""The shared rate limit, seen from the server: real client calls against the loopback fake.

Two promises of bot/baseten/ratelimit.py that nothing else exercises end to end:
a 429 answered to one caller pauses every caller sharing the limiter, and a slash
command's request goes ahead of the poller's queued ones. Both are checked on what
the fake recorded (arrival times and order), not on the test's own clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.baseten.client import BasetenClient
from bot.baseten.ratelimit import RateLimiter
from tests.conftest import DEV, MODEL, PROD
from tests.fakes import API_KEY, Canned, FakeBaseten

RETRY_AFTER = 2  # whole seconds: Baseten documents retry_after as an integer


async def eventually(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """Awaits until `predicate` holds, letting the client's tasks run meanwhile."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out waiting on the fake"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    ("limited_is_interactive", "other_is_interactive"),
    [(False, True), (True, False), (False, False)],
    ids=["poller-limited-command-waits", "command-limited-poller-waits", "poller-limited-poller-waits"],
)
async def test_a_429_to_one_caller_pauses_the_other(
    baseten: FakeBaseten, limited_is_interactive: bool, other_is_interactive: bool
) -> None:
    limited_path = f"/v1/models/{MODEL}/deployments/{PROD}"
    other_path = f"/v1/models/{MODEL}/deployments/{DEV}"
    # only the first caller's path is scripted: the other one is never answered 429 itself
    baseten.script(limited_path, Canned(429, {"error": "slow down", "retry_after": RETRY_AFTER}))
    client = BasetenClient(api_key=API_KEY, base_url=baseten.url, limiter=RateLimiter(1000), timeout=10.0)
    got_429 = asyncio.Event()

    def on_request(path: str, status: int | None) -> None:
        if status == 429:
            got_429.set()

    # the client reports each answer just before acting on it; the other caller starts
    # right after the 429 came back, while the first one is still backing off
    client.on_request = on_request
    try:
        limited = asyncio.create_task(client.get_deployment(MODEL, PROD, interactive=limited_is_interactive))
        await asyncio.wait_for(got_429.wait(), 30)
        other = await client.get_deployment(MODEL, DEV, interactive=other_is_interactive)
        assert other.id == DEV
        assert (await limited).id == PROD
    finally:
        await client.aclose()

    first, retried = [r for r in baseten.requests if r.path == limited_path]
    (other_seen,) = [r for r in baseten.requests if r.path == other_path]
    assert retried.at - first.at >= RETRY_AFTER
    # the caller that was never told 429 still waited out the server's retry_after
    assert other_seen.at - first.at >= RETRY_AFTER, (
        f"the other caller reached Baseten {other_seen.at - first.at:.3f}s after the 429, "
        f"inside the {RETRY_AFTER}s the server asked for"
    )


async def test_a_command_goes_ahead_of_hundreds_of_queued_poller_requests(baseten: FakeBaseten) -> None:
    queued = 300
    # a slow ceiling keeps the poller's requests waiting in the limiter, not at the server
    client = BasetenClient(
        api_key=API_KEY,
        base_url=baseten.url,
        limiter=RateLimiter(20),
        timeout=10.0,
        max_concurrency=queued + 10,  # every poller request reaches the limiter's queue
    )
    background_path = f"/v1/models/{MODEL}/deployments/{PROD}"
    command_path = f"/v1/models/{MODEL}"
    poller = [asyncio.create_task(client.get_deployment(MODEL, PROD)) for _ in range(queued)]
    try:
        await eventually(lambda: baseten.count(background_path) >= 5)
        already = baseten.count(background_path)
        command = await client.get_model(MODEL, interactive=True)
        assert command.id == MODEL
        paths = [r.path for r in baseten.requests]
        position = paths.index(command_path)
    finally:
        for task in poller:
            task.cancel()
        await asyncio.gather(*poller, return_exceptions=True)
        await client.aclose()

    assert queued - already >= 100, "the poller was not queued up when the command was sent"
    # the command reached Baseten right after what had started when it was sent (a few in
    # flight at most), not behind the hundreds of poller requests still queued
    assert position <= already + 10, f"the command arrived {position - already} requests after it was sent"
