"""As a new user would try it: the real `serve` process, signed commands, fake Baseten and Slack."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import MODEL, PROD, BotProcess, bot_env
from tests.fakes import BOT_TOKEN, BOT_USER, TEAM, Canned, FakeBaseten, FakeSlack, sign, wait_until
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


def test_on_active_hears_deployments_coming_up_not_every_wake_up(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot = start(baseten, slack, db_url, tmp_path, "bot")
    try:
        for channel, on in (("C1", "ACTIVE"), ("C2", "all"), ("C3", "SCALED_TO_ZERO")):
            post_command(bot, slack, f"subscribe {MODEL} {PROD} --on {on}", channel=channel, name=channel)
            assert answer(slack, channel)["response_type"] == "in_channel"
        steps = ("SCALED_TO_ZERO", "WAKING_UP", "ACTIVE", "UNHEALTHY", "ACTIVE")
        for seen, status in enumerate(steps, start=1):
            baseten.set_status(MODEL, PROD, status)
            slack.wait_for(lambda n=seen: len(posts_to(slack, "C2")) >= n, timeout=30)
        slack.wait_for(lambda: posts_to(slack, "C1"), timeout=30)
        # the wake-up (WAKING_UP → ACTIVE) came first: had C1 heard it, it would be there already
        assert posts_to(slack, "C1") == ["llama-3-8b / v3: UNHEALTHY → ACTIVE"]
        assert posts_to(slack, "C3") == ["llama-3-8b / v3: ACTIVE → SCALED_TO_ZERO"]  # named: heard
    finally:
        bot.stop()


def listing(bot: BotProcess, slack: FakeSlack, channel: str, name: str) -> str:
    post_command(bot, slack, "list", channel=channel, name=name)
    return json.dumps(answer(slack, name))


def send_event(bot: BotProcess, event: dict[str, object], event_id: str) -> None:
    envelope = {
        "token": "x",
        "team_id": TEAM,
        "api_app_id": "A0TEST",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": event,
    }
    body = json.dumps(envelope)
    headers = {**sign(body), "Content-Type": "application/json"}
    assert httpx.post(bot.url + "/slack/events", content=body, headers=headers, timeout=5).status_code == 200


@pytest.mark.parametrize(
    ("error", "event"),
    [
        ("not_in_channel", {"type": "member_joined_channel", "user": BOT_USER, "channel_type": "C", "team": TEAM}),
        ("is_archived", {"type": "channel_unarchive", "user": "U0ALICE"}),
    ],
)
def test_changes_made_while_paused_are_not_replayed_when_the_channel_comes_back(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path, error: str, event: dict[str, object]
) -> None:
    bot = start(baseten, slack, db_url, tmp_path, "bot")
    try:
        post_command(bot, slack, f"subscribe {MODEL} {PROD}", channel="C7", name="sub")  # the only subscriber
        answer(slack, "sub")
        slack.channel_errors["C7"] = error
        baseten.set_status(MODEL, PROD, "UNHEALTHY")
        slack.wait_for(lambda: slack.calls("chat.postMessage"))  # refused: the channel pauses
        baseten.set_status(MODEL, PROD, "BUILD_FAILED")  # changed while paused
        polled = f"/v1/models/{MODEL}/deployments/{PROD}"
        seen = baseten.count(polled)
        wait_until(lambda: baseten.count(polled) >= seen + 2, 20, what="the paused subscription's model polled")
        paused = listing(bot, slack, "C7", "l0")
        assert "paused" in paused and "BUILD_FAILED" in paused and "UNHEALTHY" not in paused  # not stale
        del slack.channel_errors["C7"]
        send_event(bot, {**event, "channel": "C7", "event_ts": "1.2"}, "Ev07")
        asked = itertools.count(1)

        def resumed() -> str | None:  # the event is handled after its ack: ask until it took effect
            text = listing(bot, slack, "C7", f"l{next(asked)}")
            return None if "paused" in text else text

        assert "BUILD_FAILED" in wait_until(resumed, what="the channel resumed")
        seen = baseten.count(polled)
        wait_until(lambda: baseten.count(polled) >= seen + 2, 20, what="two cycles after the resume")
        assert posts_to(slack, "C7") == []  # the gap is not announced as a fresh change
        baseten.set_status(MODEL, PROD, "ACTIVE")
        slack.wait_for(lambda: posts_to(slack, "C7"))
        assert posts_to(slack, "C7") == ["llama-3-8b / v3: BUILD_FAILED → ACTIVE"]
    finally:
        bot.stop()
