"""Unarchiving a channel, public or private, resumes its paused subscriptions (signed events, real process)."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import MODEL, PROD, BotProcess, bot_env
from tests.fakes import TEAM, Canned, FakeBaseten, FakeSlack, sign, wait_until
from tests.test_slash_e2e import answer, post_command

_names = itertools.count()


def listing(bot: BotProcess, slack: FakeSlack, channel: str) -> str:
    name = f"list{next(_names)}"
    post_command(bot, slack, "list", channel=channel, name=name)
    return json.dumps(answer(slack, name))


def send_event(bot: BotProcess, event: dict[str, object]) -> None:
    body = json.dumps(
        {
            "token": "x",
            "team_id": TEAM,
            "api_app_id": "A0TEST",
            "type": "event_callback",
            "event_id": f"Ev{time.monotonic_ns()}",
            "event_time": int(time.time()),
            "event": event,
        }
    )
    headers = {**sign(body), "Content-Type": "application/json"}
    assert httpx.post(bot.url + "/slack/events", content=body, headers=headers, timeout=5).status_code == 200


@pytest.mark.parametrize(("event_type", "channel"), [("channel_unarchive", "C7"), ("group_unarchive", "G7")])
def test_unarchiving_resumes_the_channel(
    event_type: str, channel: str, baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot = BotProcess(bot_env(baseten, slack, db_url, POLL_INTERVAL_SECONDS="1"), tmp_path / "bot.log")
    bot.wait_healthy()
    try:
        post_command(bot, slack, f"subscribe {MODEL} {PROD}", channel=channel, name="sub")
        answer(slack, "sub")
        slack.script("chat.postMessage", Canned(200, {"ok": False, "error": "is_archived"}))
        baseten.set_status(MODEL, PROD, "UNHEALTHY")
        wait_until(lambda: "is_archived" in listing(bot, slack, channel), timeout=20, what="the channel to pause")

        send_event(bot, {"type": event_type, "channel": channel, "user": "U0ADMIN", "event_ts": "1.2"})
        wait_until(lambda: f"unarchived {channel}: resumed 1" in bot.output(), timeout=20, what="the resume")
        assert "paused" not in listing(bot, slack, channel)
        baseten.set_status(MODEL, PROD, "ACTIVE")
        wait_until(lambda: [p for p in slack.posts() if p["channel"] == channel], timeout=20, what="a notice")
        assert [p["text"] for p in slack.posts() if p["channel"] == channel] == ["llama-3-8b / v3: UNHEALTHY → ACTIVE"]
    finally:
        assert bot.stop() == 0
    assert "Unhandled request" not in bot.output()
