"""Crash safety: SIGKILL the real process at random points of its cycles, restart it, and
check that every change reaches every subscribed channel. The only duplicate allowed is a
crash between Slack's ok and the bot recording it; the test counts them."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

from tests.conftest import MODEL, PROD, BotProcess, bot_env
from tests.fakes import Canned, FakeBaseten, FakeSlack, wait_until
from tests.test_slash_e2e import answer, post_command

# four changes: a fifth within 30 minutes would (rightly) be held back as flapping
SEQUENCE = ["UNHEALTHY", "ACTIVE", "UPDATING", "ACTIVE"]


def test_sigkill_at_random_points_loses_nothing(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    rng = random.Random(7)
    env = bot_env(baseten, slack, db_url, POLL_INTERVAL_SECONDS="1", LEASE_SECONDS="2")
    bot = BotProcess(env, tmp_path / "bot0.log")
    bot.wait_healthy()
    for channel in ("C1", "C2"):
        post_command(bot, slack, f"subscribe {MODEL} {PROD} --on all --no-thread", channel=channel, name=channel)
        answer(slack, channel)
    baseten.delay = 0.2  # a cycle spends time waiting on Baseten ...
    expected = []
    previous = "ACTIVE"
    for i, status in enumerate(SEQUENCE):
        # ... and on Slack, so a kill lands before the commit, between commit and Slack, or after Slack
        slack.script("chat.postMessage", *[Canned(200, {"ok": True, "ts": f"1.{i}{k}"}, delay=0.3) for k in range(2)])
        baseten.set_status(MODEL, PROD, status)
        expected.append(f"llama-3-8b / v3: {previous} → {status}")
        previous = status
        time.sleep(rng.uniform(0.2, 2.0))  # a random point to kill at, not a wait for an outcome
        bot.proc.send_signal(signal.SIGKILL)
        bot.proc.wait(5)
        bot.stop()
        bot = BotProcess(env, tmp_path / f"bot{i + 1}.log")
        bot.wait_healthy()
        # polling sees states, not events: flip again only once this change has been seen
        # (a notice orphaned mid-send waits for its claim to expire, 30 s, then goes again)
        wanted = expected[-1]
        slack.wait_for(lambda: all(wanted in t for t in _texts(slack).values()), timeout=60)  # noqa: B023
    try:
        wait_until(lambda: all(all(e in got for e in expected) for got in _texts(slack).values()), 60, what="all")
        bot.wait_cycles(3)  # and anything doubled would have come by now
    finally:
        bot.stop()
    for channel in ("C1", "C2"):
        got = [p["text"] for p in slack.posts() if p["channel"] == channel]
        missing = [e for e in expected if e not in got]
        assert not missing, (channel, missing, got)
        duplicates = len(got) - len(set(got))
        # each kill can double at most the one notice in flight to this channel
        assert duplicates <= len(SEQUENCE), got


def _texts(slack: FakeSlack) -> dict[str, list[str]]:
    return {c: [p["text"] for p in slack.posts() if p["channel"] == c] for c in ("C1", "C2")}
