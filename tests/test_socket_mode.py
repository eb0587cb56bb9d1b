"""Socket Mode: with SLACK_APP_TOKEN set, commands arrive over a websocket and are acked on it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import MODEL, PROD, BotProcess, any_database, bot_env
from tests.fakes import APP_TOKEN, FakeBaseten, FakeSlack, FakeSocketMode, wait_until

pytestmark = any_database


@pytest.fixture
def socket() -> Iterator[FakeSocketMode]:
    fake = FakeSocketMode()
    yield fake
    fake.close()


def test_slash_command_over_socket_mode(
    baseten: FakeBaseten, slack: FakeSlack, socket: FakeSocketMode, db_url: str, tmp_path: Path
) -> None:
    slack.socket_url = socket.url
    env = bot_env(baseten, slack, db_url, SLACK_APP_TOKEN=APP_TOKEN)
    del env["SLACK_SIGNING_SECRET"]  # not needed in Socket Mode
    bot = BotProcess(env, tmp_path / "bot.log")
    try:
        bot.wait_healthy()
        assert socket.connected.wait(15), bot.output()
        opened = slack.calls("apps.connections.open")
        assert opened and opened[0].headers["Authorization"] == f"Bearer {APP_TOKEN}"
        socket.send(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {
                    "team_id": "T0TEST",
                    "channel_id": "C1",
                    "user_id": "U1",
                    "command": "/baseten",
                    "text": f"status {MODEL} {PROD}",
                    "response_url": slack.response_url("sock"),
                    "trigger_id": "1.2",
                    "api_app_id": "A0TEST",
                },
            }
        )
        wait_until(lambda: socket.acks("env-1"), 10, what="the envelope's ack")
        card = slack.wait_for(lambda: slack.responses("sock"))[0]
        assert "v3: ACTIVE" in card["text"]
        # /slack/events is not served in Socket Mode; health and metrics are
        assert httpx.post(bot.url + "/slack/events", content=b"{}", timeout=5).status_code == 404
        assert httpx.get(bot.url + "/metrics", timeout=5).status_code == 200
    finally:
        assert bot.stop() == 0
    assert APP_TOKEN not in bot.output()
    assert json.dumps(socket.received).count("env-1") >= 1
