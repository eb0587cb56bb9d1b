"""The README's fault matrix, row by row, against the real `serve` process: a real
database, signed commands, and the loopback fakes misbehaving on cue.

For every Baseten fault, a status change hides behind it; the test checks that the
fault is logged as the README says, that nothing is announced while it lasts, and that
the change is announced exactly once when Baseten answers again. For every Slack fault,
it checks what is retried, what pauses, and that no notice is lost or doubled.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import MODEL, PROD, BotProcess, any_database, bot_env
from tests.fakes import Canned, FakeBaseten, FakeSlack, deployment, wait_until
from tests.test_notices_e2e import posts_to
from tests.test_slash_e2e import answer, post_command

pytestmark = any_database

FAULTY = "faultymdl"
STEPS = 12


wait = partial(wait_until, timeout=30.0)  # a notice retried after 429 and 503 needs 1 s, then a few seconds of backoff


def healthz(bot: BotProcess) -> dict[str, Any]:
    return dict(httpx.get(bot.url + "/healthz", timeout=5).json())


@pytest.fixture
def faulty(baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[BotProcess]:
    """A bot polling every second, with C1 subscribed to every change of a 12-deployment model."""
    baseten.add_model(FAULTY, "faulty", [deployment(f"d{i}", FAULTY) for i in range(STEPS)])
    bot = fast_bot(baseten, slack, db_url, tmp_path / "bot.log")
    post_command(bot, slack, f"subscribe {FAULTY} --on all --no-thread", channel="C1", name="sub")
    assert answer(slack, "sub")["response_type"] == "in_channel"
    yield bot
    bot.stop()


def test_baseten_faults_hide_nothing_and_invent_nothing(
    faulty: BotProcess, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    bot, listing = faulty, f"/v1/models/{FAULTY}/"
    expected: list[str] = []

    def flip_behind(step: int, answers: list[Canned], status: str = "UNHEALTHY") -> None:
        """Baseten misbehaves, and meanwhile deployment d<step> changes; the change must come through once."""
        baseten.script(listing, *answers)
        baseten.set_status(FAULTY, f"d{step}", status)
        expected.append(f"faulty / d{step}: ACTIVE → {status}")
        wait(lambda: all(not p.startswith(listing) for p, _ in baseten.scripted), what="the fault to be served")
        wait(lambda: expected[-1] in posts_to(slack, "C1"), what=expected[-1])
        assert posts_to(slack, "C1") == expected  # nothing announced while Baseten misbehaved

    def warnings() -> int:
        return bot.output().count("models could not be polled")

    # 500, 502, 503 on every attempt of a cycle: one warning line, the next cycle catches up
    for step, code in enumerate((500, 502, 503)):
        before = warnings()
        flip_behind(step, [Canned(code, {"error": "upstream"})] * 4)
        assert warnings() > before, code
    assert "Baseten answered 503" in bot.output()

    # 429 with retry_after: everyone pauses that long, then the same cycle succeeds
    before = warnings()
    limited = Canned(429, {"error": "Rate limit exceeded. Please try again later.", "retry_after": 2})
    flip_behind(3, [limited, limited])
    hits = [r.at for r in baseten.requests if r.path.startswith(listing)]
    assert any(b - a >= 1.9 for a, b in itertools.pairwise(hits)), "retry_after was not honoured"

    # a timeout (the client waits 10 s) is retried within the cycle
    flip_behind(4, [Canned(200, {"deployments": []}, delay=10.5)])
    assert warnings() == before  # retried and recovered inside one cycle: nothing to report

    # a dropped connection, a garbage body, and an answer without `status`: unreadable, never a change
    flip_behind(5, [Canned(500, drop=True)] * 4)
    flip_behind(6, [Canned(200, raw=b"<html>502 Bad Gateway</html>", off_spec=True)])
    gutted = [{"id": f"d{i}", "name": f"d{i}"} for i in range(STEPS)]
    flip_behind(7, [Canned(200, {"deployments": gutted}, off_spec=True)])
    assert "cannot read" in bot.output()

    # a payload missing every optional field is read as it is
    minimal = [{"id": d["id"], "status": d["status"]} for d in baseten.deployments[FAULTY].values()]
    minimal[8]["status"] = "DEPLOY_FAILED"
    baseten.script(listing, Canned(200, {"deployments": minimal}, off_spec=True))
    baseten.set_status(FAULTY, "d8", "DEPLOY_FAILED")  # and so the next full answer agrees
    expected.append("faulty / d8: ACTIVE → DEPLOY_FAILED")
    wait(lambda: expected[-1] in posts_to(slack, "C1"), what=expected[-1])

    # an unknown status value is announced as it is (and leaving it is announced too)
    with baseten.off_spec():
        baseten.set_status(FAULTY, "d9", "QUANTUM_FOAM")
        expected.append("faulty / d9: ACTIVE → QUANTUM_FOAM")
        wait(lambda: expected[-1] in posts_to(slack, "C1"), what=expected[-1])
        baseten.set_status(FAULTY, "d9", "ACTIVE")
        expected.append("faulty / d9: QUANTUM_FOAM → ACTIVE")
        wait(lambda: expected[-1] in posts_to(slack, "C1"), what=expected[-1])

    # a rejected key (401): one error line, a /healthz detail, no notice; then it works again
    good_key = baseten.api_key
    baseten.api_key = "rotated-elsewhere"
    baseten.set_status(FAULTY, "d10", "UNHEALTHY")
    wait(lambda: "rejected the API key" in bot.output(), what="the 401 log line")
    detail = wait(lambda: (h := healthz(bot)).get("baseten") and h, what="the /healthz detail")
    assert "401" in detail["baseten"] and "BASETEN_API_KEY" in detail["baseten"]
    bot.wait_cycles(3)  # more cycles, still refused: still one line
    assert bot.output().count("rejected the API key") == 1
    baseten.api_key = good_key
    expected.append("faulty / d10: ACTIVE → UNHEALTHY")
    wait(lambda: expected[-1] in posts_to(slack, "C1"), what=expected[-1])
    assert "the Baseten API key works again" in bot.output()
    assert "baseten" not in healthz(bot)

    # a key too weak for management (403): the same, said differently
    baseten.script(listing, *[Canned(403, {"error": "Forbidden"})] * 3)
    baseten.set_status(FAULTY, "d11", "UNHEALTHY")
    wait(lambda: "may not read this (403)" in bot.output(), what="the 403 log line")
    expected.append("faulty / d11: ACTIVE → UNHEALTHY")
    wait(lambda: expected[-1] in posts_to(slack, "C1"), what=expected[-1])
    assert bot.output().count("may not read this (403)") == 1

    bot.wait_cycles(3)  # a few quiet cycles more
    assert posts_to(slack, "C1") == expected, "a notice was lost, doubled or invented"
    assert "Traceback" not in bot.output()


def fast_bot(baseten: FakeBaseten, slack: FakeSlack, db_url: str, log: Path, **extra: str) -> BotProcess:
    bot = BotProcess(bot_env(baseten, slack, db_url, POLL_INTERVAL_SECONDS="1", **extra), log)
    bot.wait_healthy()
    return bot


def subscribe(bot: BotProcess, slack: FakeSlack, channel: str, target: str = f"{MODEL} {PROD}") -> None:
    post_command(bot, slack, f"subscribe {target} --on all --no-thread", channel=channel, name=f"sub-{channel}")
    assert answer(slack, f"sub-{channel}")["response_type"] == "in_channel"


def test_a_404_is_announced_deleted_once(baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path) -> None:
    bot = fast_bot(baseten, slack, db_url, tmp_path / "bot.log")
    try:
        subscribe(bot, slack, "C1")
        baseten.delete_deployment(MODEL, PROD)  # GET .../deployments/dep1prod now answers 404
        wait(lambda: posts_to(slack, "C1"), what="the deleted notice")
        bot.wait_cycles(3)  # three more cycles of 404
        assert posts_to(slack, "C1") == ["llama-3-8b / v3: ACTIVE → DELETED (deployment deleted)"]
    finally:
        bot.stop()


def test_connection_refused_then_back(baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path) -> None:
    bot = fast_bot(baseten, slack, db_url, tmp_path / "bot.log")
    try:
        subscribe(bot, slack, "C1")
        baseten.stop_listening()
        baseten.set_status(MODEL, PROD, "UNHEALTHY")
        wait(lambda: "could not be reached" in bot.output(), what="the refused connection to be logged")
        post_command(bot, slack, f"status {MODEL} {PROD}", name="status")
        assert "not answering" in json.dumps(answer(slack, "status", timeout=40))
        assert posts_to(slack, "C1") == [] and healthz(bot)["poller"] == "scheduled"
        baseten.listen_again()
        wait(lambda: posts_to(slack, "C1"), what="the change made while Baseten was away")
        bot.wait_cycles(3)
        assert posts_to(slack, "C1") == ["llama-3-8b / v3: ACTIVE → UNHEALTHY"]
    finally:
        bot.stop()


def test_slack_429_5xx_and_hang_ups_are_retried_and_sent_once(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot = fast_bot(baseten, slack, db_url, tmp_path / "bot.log")
    try:
        subscribe(bot, slack, "C1")
        limited = Canned(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "1"})
        down = Canned(503, {"ok": False, "error": "service_unavailable"})
        slack.script("chat.postMessage", limited, limited, down, down)  # the SDK retries each once
        baseten.set_status(MODEL, PROD, "UNHEALTHY")
        wait(lambda: posts_to(slack, "C1"), what="the notice after 429 and 503")
        assert len(slack.calls("chat.postMessage")) == 5
        slack.script("chat.postMessage", Canned(500, drop=True), Canned(500, drop=True))
        baseten.set_status(MODEL, PROD, "ACTIVE")
        wait(lambda: len(posts_to(slack, "C1")) == 2, what="the notice after two hang-ups")
        bot.wait_cycles(3)
        assert posts_to(slack, "C1") == ["llama-3-8b / v3: ACTIVE → UNHEALTHY", "llama-3-8b / v3: UNHEALTHY → ACTIVE"]
        log = bot.output()
        assert "not delivered yet (429 ratelimited); retrying in 1s" in log
        assert "not delivered yet (503 service_unavailable)" in log
        assert "Traceback" not in log
    finally:
        bot.stop()


def test_channel_errors_pause_that_channel_only(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot = fast_bot(baseten, slack, db_url, tmp_path / "bot.log")
    errors = {"C1": "not_in_channel", "C2": "channel_not_found", "C3": "is_archived"}
    try:
        for channel in (*errors, "C4"):
            subscribe(bot, slack, channel)
        slack.channel_errors.update(errors)
        baseten.set_status(MODEL, PROD, "UNHEALTHY")
        wait(lambda: posts_to(slack, "C4"), what="the healthy channel's notice")
        wait(lambda: bot.output().count("paused 1 subscription(s) there") == 3, what="three pauses")
        for channel, error in errors.items():
            post_command(bot, slack, "list", channel=channel, name=f"list-{channel}")
            assert error in json.dumps(answer(slack, f"list-{channel}")), channel
            assert f"Slack answered {error} for channel {channel}" in bot.output()
        tried = len(slack.calls("chat.postMessage"))
        baseten.set_status(MODEL, PROD, "ACTIVE")
        wait(lambda: len(posts_to(slack, "C4")) == 2, what="the second notice")
        bot.wait_cycles(3)
        assert len(slack.calls("chat.postMessage")) == tried + 1  # paused channels are not tried again
    finally:
        bot.stop()


@pytest.mark.parametrize("error", ["invalid_auth", "token_revoked", "account_inactive"])
def test_a_rejected_token_keeps_notices_for_the_next_start(
    error: str, baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot = fast_bot(baseten, slack, db_url, tmp_path / "first.log")
    try:
        subscribe(bot, slack, "C1")
        slack.token_error = error
        baseten.set_status(MODEL, PROD, "UNHEALTHY")
        detail = wait(lambda: (h := healthz(bot)).get("slack") and h, what="the /healthz detail")
        assert detail["slack"] == f"token rejected: {error}"
        baseten.set_status(MODEL, PROD, "ACTIVE")
        bot.wait_cycles(3)
        assert bot.output().count("Slack rejected the bot token") == 1
        assert len(slack.calls("chat.postMessage")) == 1  # tried once, then stopped
    finally:
        assert bot.stop() == 0
    slack.token_error = None  # the operator fixes the token and restarts
    bot = fast_bot(baseten, slack, db_url, tmp_path / "second.log")
    try:
        wait(lambda: len(posts_to(slack, "C1")) == 2, what="the queued notices")
        bot.wait_cycles(3)
        assert posts_to(slack, "C1") == ["llama-3-8b / v3: ACTIVE → UNHEALTHY", "llama-3-8b / v3: UNHEALTHY → ACTIVE"]
    finally:
        bot.stop()
