"""As a new user would try it: the real `serve` process, signed commands, fake Baseten and Slack."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.conftest import MODEL, PROD, BotProcess, bot_env
from tests.fakes import BOT_TOKEN, BOT_USER, TEAM, Canned, FakeBaseten, FakeSlack, sign
from tests.test_cli import run
from tests.test_slash_e2e import answer, post_command


def posts_to(slack: FakeSlack, channel: str) -> list[str]:
    return [p["text"] for p in slack.posts() if p["channel"] == channel]


def start(baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path, name: str) -> BotProcess:
    bot = BotProcess(bot_env(baseten, slack, db_url, POLL_INTERVAL_SECONDS="1"), tmp_path / f"{name}.log")
    bot.wait_healthy()
    return bot


def test_subscribe_flip_restart(baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path) -> None:
    bot = start(baseten, slack, db_url, tmp_path, "first")
    for channel in ("C1", "C2"):
        post_command(bot, slack, f"subscribe {MODEL} {PROD}", name=channel, channel=channel)
        confirmation = answer(slack, channel)
        assert confirmation["response_type"] == "in_channel"
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    slack.wait_for(lambda: len(slack.posts()) >= 2)
    bot.wait_cycles(3)  # more cycles: nothing new
    assert posts_to(slack, "C1") == ["llama-3-8b / v3: ACTIVE → UNHEALTHY"]
    assert posts_to(slack, "C2") == ["llama-3-8b / v3: ACTIVE → UNHEALTHY"]
    assert bot.stop() == 0

    baseten.set_status(MODEL, PROD, "ACTIVE")  # changed while the bot is down
    bot = start(baseten, slack, db_url, tmp_path, "second")
    try:
        slack.wait_for(lambda: len(slack.posts()) >= 4)
        bot.wait_cycles(3)
        assert posts_to(slack, "C1")[1:] == ["llama-3-8b / v3: UNHEALTHY → ACTIVE"]
        assert posts_to(slack, "C2")[1:] == ["llama-3-8b / v3: UNHEALTHY → ACTIVE"]
        post_command(bot, slack, "list", name="list", channel="C1")
        listing = json.dumps(answer(slack, "list"))
        assert "llama-3-8b" in listing and "ACTIVE" in listing
        # later notices about the same deployment reply in the first one's thread
        first_ts = next(r for r in slack.calls("chat.postMessage") if r.ok and r.body["channel"] == "C1")
        replies = [p for p in slack.posts() if p["channel"] == "C1"][1:]
        assert replies and all(p.get("thread_ts") for p in replies)
        assert first_ts.body.get("thread_ts") is None
        # every Web API call carried the bot token, as Slack requires (the fake refuses any other)
        web = [r for r in slack.requests if r.path.startswith("/api/")]
        assert {r.path for r in web} >= {"/api/chat.postMessage", "/api/chat.update"}
        assert all(r.headers.get("Authorization") == f"Bearer {BOT_TOKEN}" for r in web)
    finally:
        assert bot.stop() == 0


def test_poll_once_delivers(baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path) -> None:
    bot = BotProcess(bot_env(baseten, slack, db_url), tmp_path / "bot.log")  # polls once at start only
    bot.wait_healthy()
    post_command(bot, slack, f"subscribe {MODEL}", channel="C9", name="sub")
    answer(slack, "sub")
    assert bot.stop() == 0
    baseten.set_status(MODEL, PROD, "DEPLOY_FAILED")
    env = bot_env(baseten, slack, db_url)
    result = run("poll", "--once", env=env)
    assert result.returncode == 0, result.stderr
    assert "1 changes" in result.stdout and "1 sent" in result.stdout
    assert posts_to(slack, "C9") == ["llama-3-8b / v3: ACTIVE → DEPLOY_FAILED"]
    again = run("poll", "--once", env=env)
    assert "0 changes" in again.stdout and len(slack.posts()) == 1


def test_paused_channel_resumes_when_the_bot_is_invited_back(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot = start(baseten, slack, db_url, tmp_path, "bot")
    try:
        post_command(bot, slack, f"subscribe {MODEL} {PROD}", channel="C5", name="sub")
        answer(slack, "sub")
        slack.script("chat.postMessage", Canned(200, {"ok": False, "error": "not_in_channel"}))
        baseten.set_status(MODEL, PROD, "UNHEALTHY")
        slack.wait_for(lambda: "Slack answered not_in_channel" in bot.output())
        post_command(bot, slack, "list", channel="C5", name="l1")
        assert "not_in_channel" in json.dumps(answer(slack, "l1"))

        event = {
            "token": "x",
            "team_id": TEAM,
            "api_app_id": "A0TEST",
            "type": "event_callback",
            "event_id": "Ev01",
            "event_time": int(time.time()),
            "event": {
                "type": "member_joined_channel",
                "user": BOT_USER,
                "channel": "C5",
                "channel_type": "C",
                "team": TEAM,
                "event_ts": "1.2",
            },
        }
        body = json.dumps(event)
        headers = {**sign(body), "Content-Type": "application/json"}
        assert httpx.post(bot.url + "/slack/events", content=body, headers=headers, timeout=5).status_code == 200
        slack.wait_for(lambda: "invited back to C5: resumed 1 subscription(s)" in bot.output())
        post_command(bot, slack, "list", channel="C5", name="l2")
        assert "paused" not in json.dumps(answer(slack, "l2"))
        baseten.set_status(MODEL, PROD, "ACTIVE")
        slack.wait_for(lambda: posts_to(slack, "C5"))
        assert posts_to(slack, "C5") == ["llama-3-8b / v3: UNHEALTHY → ACTIVE"]  # nothing replayed
    finally:
        bot.stop()
