"""A burst of slash commands against the real `serve` process: every one answered, none failed.

A platform team's set-up script once sent 2,750 `subscribe` commands in about a minute;
one in twenty was answered "something went wrong" when the database's connection pool
ran dry (issue 11). Here 1,000 signed commands for 500 models arrive from a bounded set
of senders, as fast as the bot acknowledges them, and each answer is awaited at its
response_url. The same test runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import sqlalchemy as sa

from bot.app.db import make_sync_engine
from bot.slack.app import OOPS, STORE_DOWN
from tests.conftest import BotProcess, bot_env
from tests.fakes import FakeBaseten, FakeSlack, deployment, sign, slash_body, wait_until

COMMANDS = 1000
MODELS = 500
SENDERS = 12


def _text(i: int) -> tuple[str, str]:
    """Command i: each model twice, in two channels, once whole and once its production deployment."""
    model = f"burst{i % MODELS:04d}"
    return f"subscribe {model}" + ("" if i < MODELS else " production"), f"C0BURST{i // MODELS}"


def test_a_burst_of_subscribes_is_answered_every_one(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    for m in range(MODELS):
        model = f"burst{m:04d}"
        baseten.add_model(
            model,
            f"model-{m}",
            [
                deployment(f"{model}p", model, name="v2", is_production=True),
                deployment(f"{model}d", model, name="dev", status="BUILDING", is_development=True),
            ],
        )
    # Baseten's rate is not what this measures: the bot's own work, and its database, are
    bot = BotProcess(bot_env(baseten, slack, db_url, BASETEN_MAX_RPS="1000"), tmp_path / "bot.log")
    bot.wait_healthy()
    try:
        with httpx.Client(timeout=30) as client:

            def send(i: int) -> int:
                text, channel = _text(i)
                body = slash_body(text, response_url=slack.response_url(f"b{i}"), channel=channel)
                return client.post(bot.url + "/slack/events", content=body, headers=sign(body)).status_code

            with ThreadPoolExecutor(SENDERS) as senders:
                acks = list(senders.map(send, range(COMMANDS)))
        assert acks == [200] * COMMANDS
        wait_until(lambda: len(slack.responses()) >= COMMANDS, 120, what=f"{COMMANDS} answers")
        answers: dict[str, list[dict[str, object]]] = {}
        for request in slack.requests:
            if request.path.startswith("/response/b"):
                answers.setdefault(request.path, []).append(request.body)
        assert len(answers) == COMMANDS and all(len(a) == 1 for a in answers.values())
        failed = [a[0] for a in answers.values() if OOPS in json.dumps(a[0]) or STORE_DOWN in json.dumps(a[0])]
        assert not failed, f"{len(failed)} of {COMMANDS} failed, e.g. {failed[0]}"
        assert all(a[0]["response_type"] == "in_channel" for a in answers.values())
        metrics = httpx.get(bot.url + "/metrics", timeout=10).text
        assert _sample(metrics, "baseten_bot_db_checkout_timeouts_total") == 0
        assert _sample(metrics, "baseten_bot_db_checkout_wait_seconds_count") >= COMMANDS
    finally:
        bot.stop()
    assert "Traceback" not in bot.output()
    engine = make_sync_engine(db_url)
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM subscriptions")) == COMMANDS
    engine.dispose()


def _sample(metrics: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", metrics, re.MULTILINE)
    assert found, f"{name} is not in /metrics"
    return float(found.group(1))
