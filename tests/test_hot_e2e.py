"""The real `serve` process hears a change in seconds while POLL_INTERVAL_SECONDS is five minutes:
a deployment in motion is polled every HOT_POLL_SECONDS, and the fleet-wide detector (one
GET /v1/models) makes a quiet model due at once when a deployment appears under it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import MODEL, BotProcess, any_database, bot_env
from tests.fakes import FakeBaseten, FakeSlack, deployment, wait_until
from tests.test_notices_e2e import posts_to
from tests.test_slash_e2e import answer, post_command

pytestmark = any_database
QUIET, QUIET_NAME = "mdl2quiet", "quiet-model"
INTERVAL = 300  # seconds: what a change would wait without the hot schedule
HEARD_WITHIN = 60.0  # a wall-clock ceiling far below INTERVAL, with room for a loaded machine


def schedule(bot: BotProcess) -> dict[str, Any]:
    body = httpx.get(bot.url + "/healthz", timeout=5).json()
    return dict(body.get("schedule") or {})


def test_a_hot_deployment_and_a_new_one_under_a_quiet_model_are_heard_in_seconds(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    baseten.add_model(QUIET, QUIET_NAME, [deployment("dep9only", QUIET, name="v1", is_production=True)])
    env = bot_env(baseten, slack, db_url, POLL_INTERVAL_SECONDS=str(INTERVAL), HOT_POLL_SECONDS="2")
    bot = BotProcess(env, tmp_path / "bot.log")
    try:
        bot.wait_healthy()
        for name, model in (("hot", MODEL), ("quiet", QUIET)):
            post_command(bot, slack, f"subscribe {model}", name=name, channel="C1")
            assert answer(slack, name)["response_type"] == "in_channel"
        # both polled: the model whose development deployment is BUILDING is hot, the quiet one is not
        wait_until(lambda: schedule(bot).get("models") == 2 and schedule(bot).get("hot") == 1, 30, what="2, 1 hot")
        health = schedule(bot)
        assert health["hot_every_s"] == 2 and health["cold_every_s"] == INTERVAL and health["interval_kept"]

        baseten.set_status(MODEL, "dep2dev", "DEPLOYING")
        started = time.monotonic()
        wait_until(lambda: "llama-3-8b / dev: BUILDING → DEPLOYING" in posts_to(slack, "C1"), HEARD_WITHIN)
        hot_took = time.monotonic() - started

        baseten.add_deployment(deployment("dep9new", QUIET, name="v2", status="BUILDING"))
        started = time.monotonic()
        wait_until(lambda: "quiet-model / v2: new deployment → BUILDING" in posts_to(slack, "C1"), HEARD_WITHIN)
        new_took = time.monotonic() - started
        print(f"heard: in motion after {hot_took:.1f}s, a new deployment after {new_took:.1f}s")
        assert any(r.path == "/v1/models" for r in baseten.requests)  # the detector asked
    finally:
        assert bot.stop() == 0
