"""Secrets never leave the process: not in logs (even at DEBUG), metrics, Slack messages or answers."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.conftest import MODEL, PROD, BotProcess, any_database, bot_env
from tests.fakes import API_KEY, BOT_TOKEN, SIGNING_SECRET, Canned, FakeBaseten, FakeSlack, wait_until
from tests.test_slash_e2e import answer, post_command

pytestmark = any_database


def test_no_secret_in_any_output(baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path) -> None:
    bot = BotProcess(
        bot_env(baseten, slack, db_url, LOG_LEVEL="DEBUG", POLL_INTERVAL_SECONDS="1"), tmp_path / "bot.log"
    )
    bot.wait_healthy()
    try:
        post_command(bot, slack, f"subscribe {MODEL} {PROD}", name="sub")
        answer(slack, "sub")
        baseten.script("/v1/", Canned(401, {"error": f"bad key {API_KEY}"}))  # even if Baseten echoes it
        post_command(bot, slack, f"status {MODEL} {PROD}", name="s401")
        answer(slack, "s401")
        slack.script("chat.postMessage", Canned(200, {"ok": False, "error": "invalid_auth"}))
        baseten.set_status(MODEL, PROD, "UNHEALTHY")
        slack.wait_for(lambda: slack.calls("chat.postMessage"))
        wait_until(lambda: "invalid_auth" in bot.output(), what="the refusal to be logged")
        bot.wait_cycles(2)  # and more DEBUG output to search
        metrics = httpx.get(bot.url + "/metrics", timeout=5).text
        health = httpx.get(bot.url + "/healthz", timeout=5).text
    finally:
        bot.stop()
    everything = "\n".join([bot.output(), metrics, health, json.dumps([r.body for r in slack.requests], default=str)])
    for secret in (API_KEY, BOT_TOKEN, SIGNING_SECRET):
        assert secret not in everything
    assert "invalid_auth" in bot.output()  # the failure itself is logged, once, without the token
