"""Several `serve` replicas on one database: all answer Slack, exactly one polls, and a
SIGKILLed leader is replaced within two lease periods without a lost or doubled notice.

Runs on SQLite (one shared file) and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import MODEL, PROD, BotProcess, bot_env
from tests.fakes import FakeBaseten, FakeSlack
from tests.test_slash_e2e import answer, post_command

LEASE = 3.0


@pytest.fixture
def replicas(baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[list[BotProcess]]:
    env = bot_env(baseten, slack, db_url, POLL_INTERVAL_SECONDS="1", LEASE_SECONDS=str(LEASE))
    bots = [BotProcess(env, tmp_path / f"bot{i}.log") for i in range(3)]
    for bot in bots:
        bot.wait_healthy()
    yield bots
    for bot in bots:
        bot.stop()


def role(bot: BotProcess) -> str:
    try:
        return str(httpx.get(bot.url + "/healthz", timeout=2).json().get("role"))
    except httpx.HTTPError:
        return "dead"


def wait_until(predicate: object, timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def pollers(baseten: FakeBaseten, start: int = 0) -> list[str]:
    """The instance behind each poll request, in order (the User-Agent names it)."""
    return [
        r.headers.get("User-Agent", "")
        for r in baseten.requests[start:]
        if r.path == f"/v1/models/{MODEL}/deployments" and not r.query
    ]


def runs(sequence: list[str]) -> list[str]:
    out: list[str] = []
    for item in sequence:
        if not out or out[-1] != item:
            out.append(item)
    return out


def test_one_poller_and_a_clean_takeover(replicas: list[BotProcess], baseten: FakeBaseten, slack: FakeSlack) -> None:
    # every replica answers Slack
    for i, bot in enumerate(replicas):
        post_command(bot, slack, f"subscribe {MODEL}", channel=f"C{i}", name=f"sub{i}")
        assert answer(slack, f"sub{i}")["response_type"] == "in_channel"
    start = len(baseten.requests)  # from here on, only the poller lists the model
    wait_until(lambda: sum(role(b) == "poller" for b in replicas) == 1, 10, "a leader")
    roles = [role(b) for b in replicas]
    assert roles.count("poller") == 1 and roles.count("standby") == 2
    leader = replicas[roles.index("poller")]

    expected: list[str] = []
    for status in ("UNHEALTHY", "ACTIVE"):
        old = "ACTIVE" if status == "UNHEALTHY" else "UNHEALTHY"
        baseten.set_status(MODEL, PROD, status)
        expected.append(f"llama-3-8b / v3: {old} → {status}")
        wanted = 3 * len(expected)
        wait_until(lambda: len(slack.posts()) >= wanted, 15, "notices")  # noqa: B023 - read at once

    # kill the leader mid-cycle: while it waits on a slow Baseten, before it records anything
    baseten.delay = 1.0
    wait_until(lambda: len(baseten.requests) and baseten.requests[-1].path.startswith("/v1/"), 5, "a poll")
    asked = len(baseten.requests)
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    expected.append("llama-3-8b / v3: ACTIVE → UNHEALTHY")
    wait_until(lambda: len(baseten.requests) > asked, 5, "a poll after the change")  # held for 1 s
    leader.proc.send_signal(signal.SIGKILL)
    leader.proc.wait(5)
    survivors = [b for b in replicas if b is not leader]
    # two lease periods, as the README says, plus room for a loaded machine (test_lease.py checks
    # the expiry itself on a fake clock)
    wait_until(lambda: any(role(b) == "poller" for b in survivors), 2 * LEASE + 10, "a new leader")
    wait_until(lambda: len(slack.posts()) >= 3 * len(expected), 30, "the notice after the takeover")
    baseten.delay = 0.0
    successor = next(b for b in survivors if role(b) == "poller")
    successor.wait_cycles(3)  # a few more cycles: nothing repeats

    for channel in ("C0", "C1", "C2"):
        got = [p["text"] for p in slack.posts() if p["channel"] == channel]
        assert got == expected, (channel, got)
    # polling moved from the killed leader to one survivor, once, never interleaved
    order = runs(pollers(baseten, start))
    assert len(order) == 2, order
    assert str(leader.proc.pid) in order[0] and str(leader.proc.pid) not in order[1]
