"""One live message per promotion per channel, through the real `serve` process and the fake Baseten:
posted when the promotion is first seen, edited in place as it moves, its steps in its thread, only
its start and its end in the channel; across a restart and two replicas, never twice."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.app.db import sync_url
from bot.store import tables as t
from tests.conftest import DEV, MODEL, OLD, BotProcess, bot_env
from tests.fakes import FakeBaseten, FakeSlack, deployment, wait_until
from tests.test_replicas import role
from tests.test_slash_e2e import answer, post_command

wait = partial(wait_until, timeout=30.0)
NEW = "dep4new"


@pytest.fixture
def staging(baseten: FakeBaseten) -> FakeBaseten:
    """The model gets a staging environment running v2, and a v4 to promote into it."""
    baseten.add_deployment(deployment(NEW, MODEL, name="v4", status="ACTIVE"))
    baseten.add_environment(MODEL, "staging", current=OLD)
    baseten.audit[MODEL] = [
        {
            "id": "a1",
            "created": "2026-11-27T09:02:00Z",
            "event_type": "MODEL_DEPLOYMENT_PROMOTED",
            "event_data": {"deployment_id": NEW},
            "source": "UI",
            "actor": {"type": "USER", "email": "alice@example.com"},
        }
    ]
    return baseten


def start(baseten: FakeBaseten, slack: FakeSlack, db_url: str, log: Path, **extra: str) -> BotProcess:
    bot = BotProcess(bot_env(baseten, slack, db_url, POLL_INTERVAL_SECONDS="1", **extra), log)
    bot.wait_healthy()
    return bot


def subscribe(bot: BotProcess, slack: FakeSlack, target: str, channel: str = "C1") -> None:
    post_command(bot, slack, f"subscribe {MODEL} {target}", channel=channel, name=f"sub-{channel}")
    assert answer(slack, f"sub-{channel}")["response_type"] == "in_channel"


def posts(slack: FakeSlack, channel: str = "C1") -> list[dict[str, Any]]:
    return [p for p in slack.posts() if p["channel"] == channel]


def top_level(slack: FakeSlack, channel: str = "C1") -> list[dict[str, Any]]:
    return [p for p in posts(slack, channel) if "thread_ts" not in p]


def edits(slack: FakeSlack, channel: str = "C1") -> list[dict[str, Any]]:
    return [r.body for r in slack.calls("chat.update") if r.ok and r.body["channel"] == channel]


def edited_to(slack: FakeSlack, text: str, channel: str = "C1") -> list[dict[str, Any]]:
    return [e for e in edits(slack, channel) if text in e["text"]]


def in_channel(slack: FakeSlack, channel: str = "C1") -> list[str]:
    """What reached the channel itself: top-level posts, and replies broadcast to it."""
    return [p["text"] for p in posts(slack, channel) if "thread_ts" not in p or p.get("reply_broadcast") is True]


def test_a_rolling_promotion_is_one_message_edited_in_place(
    staging: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    baseten = staging
    bot = start(baseten, slack, db_url, tmp_path / "bot.log")
    try:
        subscribe(bot, slack, "env:staging")
        bot.wait_cycles(2)  # the environment's baseline
        baseten.start_promotion(MODEL, "staging", NEW, "RELEASING", 0)
        wait(lambda: top_level(slack), what="the live message")
        parent = top_level(slack)[0]
        assert parent["text"] == "llama-3-8b / v4 → staging: RELEASING (0% of traffic)"
        assert "alice@example.com via UI" in json.dumps(parent["blocks"])  # who did it, from the audit log
        for percent in (25, 75):
            baseten.set_promotion(MODEL, "staging", "RAMPING_UP", percent)
            wait(lambda: edited_to(slack, f"RAMPING_UP ({percent}% of traffic)"), what=f"the edit at {percent}%")  # noqa: B023
        baseten.set_promotion(MODEL, "staging", "SUCCEEDED", 100)
        wait(lambda: edited_to(slack, "SUCCEEDED"), what="the success")
        baseten.end_promotion(MODEL, "staging", promoted=True)  # gone from the answer, v4 current
        wait(lambda: len(posts(slack)) == 5, what="v4 promoted, in the promotion's thread")
        bot.wait_cycles(3)  # and nothing more
        parent_ts = slack.ts_of(parent)
        replies = posts(slack)[1:]
        assert [r["thread_ts"] for r in replies] == [parent_ts] * 4
        assert [r["text"] for r in replies] == [
            "llama-3-8b / v4 → staging: RELEASING → RAMPING_UP (25% of traffic)",
            "llama-3-8b / v4 → staging: RAMPING_UP → RAMPING_UP (75% of traffic)",
            "llama-3-8b / v4 → staging: RAMPING_UP → SUCCEEDED (100% of traffic)",
            "llama-3-8b / v4: promoted → staging (was v2)",
        ]
        assert [r["reply_broadcast"] for r in replies] == [False, False, True, False]
        assert in_channel(slack) == [parent["text"], replies[2]["text"]]  # only the start and the end
        assert {e["ts"] for e in edits(slack)} == {parent_ts}
        shown = [e["text"] for e in edits(slack)]
        assert shown == [
            "llama-3-8b / v4 → staging: RAMPING_UP (25% of traffic)",
            "llama-3-8b / v4 → staging: RAMPING_UP (75% of traffic)",
            "llama-3-8b / v4 → staging: SUCCEEDED (100% of traffic)",
        ]
        final = json.dumps(edits(slack)[-1]["blocks"], ensure_ascii=False)
        assert "▰▰▰▰▰▰▰▰▰▰ 100%" in final and "alice@example.com via UI" in final
    finally:
        bot.stop()


def test_a_failed_promotion_shows_its_error_message_and_production_is_an_environment(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot = start(baseten, slack, db_url, tmp_path / "bot.log")
    try:
        subscribe(bot, slack, "production")  # the synonym of env:production hears its promotions
        bot.wait_cycles(2)
        baseten.start_promotion(MODEL, "production", DEV, "RAMPING_UP", 10)
        wait(lambda: top_level(slack), what="the live message")
        baseten.set_promotion(MODEL, "production", "FAILED", 10, error="readiness probe failed: <oom>")
        wait(lambda: len(posts(slack)) == 2, what="the failure")
        failed = posts(slack)[1]
        assert failed["text"] == "llama-3-8b / dev → production: RAMPING_UP → FAILED (10% of traffic)"
        assert failed["reply_broadcast"] is True
        for body in (failed, edits(slack)[-1]):
            assert "readiness probe failed: &lt;oom&gt;" in json.dumps(body["blocks"])
        assert edits(slack)[-1]["text"] == "llama-3-8b / dev → production: FAILED (10% of traffic)"
        baseten.end_promotion(MODEL, "production", promoted=False)  # v3 stays production
        bot.wait_cycles(3)
        assert len(posts(slack)) == 2 and len(top_level(slack)) == 1  # its end was said once
    finally:
        bot.stop()


def test_a_restart_keeps_editing_the_same_message_and_catches_up_on_the_end(
    staging: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    baseten = staging
    bot = start(baseten, slack, db_url, tmp_path / "bot0.log")
    subscribe(bot, slack, "env:staging")
    bot.wait_cycles(2)
    baseten.start_promotion(MODEL, "staging", NEW, "RAMPING_UP", 10)
    wait(lambda: top_level(slack), what="the live message")
    assert bot.stop() == 0
    parent_ts = slack.ts_of(top_level(slack)[0])

    baseten.set_promotion(MODEL, "staging", "RAMPING_UP", 50)  # while the bot is down
    bot = start(baseten, slack, db_url, tmp_path / "bot1.log")
    wait(lambda: edited_to(slack, "50% of traffic"), what="the edit after the restart")
    assert bot.stop() == 0

    baseten.set_promotion(MODEL, "staging", "SUCCEEDED", 100)
    baseten.end_promotion(MODEL, "staging", promoted=True)  # it finished while the bot was down
    bot = start(baseten, slack, db_url, tmp_path / "bot2.log")
    try:
        wait(lambda: edited_to(slack, "SUCCEEDED"), what="the message brought to its final state")
        bot.wait_cycles(3)
    finally:
        bot.stop()
    assert len(top_level(slack)) == 1
    assert {e["ts"] for e in edits(slack)} == {parent_ts}
    ended = [p for p in posts(slack) if "SUCCEEDED" in p["text"]]
    assert len(ended) == 1 and ended[0]["reply_broadcast"] is True and ended[0]["thread_ts"] == parent_ts
    assert "Baseten no longer shows the promotion" in json.dumps(edits(slack)[-1]["blocks"])


@pytest.fixture
def replicas(staging: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[list[BotProcess]]:
    env = bot_env(staging, slack, db_url, POLL_INTERVAL_SECONDS="1", LEASE_SECONDS="3")
    bots = [BotProcess(env, tmp_path / f"bot{i}.log") for i in range(2)]
    for bot in bots:
        bot.wait_healthy()
    yield bots
    for bot in bots:
        bot.stop()


def open_deliveries(db_url: str) -> int:
    engine = sa.create_engine(sync_url(db_url))
    try:
        with engine.connect() as conn:
            query = sa.select(sa.func.count()).where(t.Delivery.state.in_(("pending", "sending")))
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def test_two_replicas_send_no_duplicate_across_a_hand_over(
    replicas: list[BotProcess], staging: FakeBaseten, slack: FakeSlack, db_url: str
) -> None:
    baseten = staging
    for i, channel in enumerate(("C1", "C2")):
        subscribe(replicas[i], slack, "env:staging", channel=channel)
    wait(lambda: sum(role(b) == "poller" for b in replicas) == 1, what="a leader")
    leader = next(b for b in replicas if role(b) == "poller")
    leader.wait_cycles(2)
    baseten.start_promotion(MODEL, "staging", NEW, "RELEASING", 0)
    wait(lambda: top_level(slack, "C1") and top_level(slack, "C2"), what="both live messages")
    wait(lambda: open_deliveries(db_url) == 0, what="both recorded")  # a kill now can't double them
    leader.proc.send_signal(signal.SIGKILL)  # the other replica takes over the promotion
    leader.proc.wait(5)
    survivor = next(b for b in replicas if b is not leader)
    wait(lambda: role(survivor) == "poller", what="the hand-over")
    baseten.set_promotion(MODEL, "staging", "RAMPING_UP", 50)
    baseten.set_promotion(MODEL, "staging", "CANCELED", 0)
    wait(lambda: all(edited_to(slack, "CANCELED", c) for c in ("C1", "C2")), what="the end in both channels")
    survivor.wait_cycles(3)
    for channel in ("C1", "C2"):
        assert len(top_level(slack, channel)) == 1, channel
        texts = [p["text"] for p in posts(slack, channel)]
        assert len(texts) == len(set(texts)), texts  # no step twice
        assert {e["ts"] for e in edits(slack, channel)} == {slack.ts_of(top_level(slack, channel)[0])}
        assert in_channel(slack, channel)[-1].endswith("CANCELED (0% of traffic)")


def test_a_whole_model_subscription_reads_no_environments(
    staging: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot = start(staging, slack, db_url, tmp_path / "bot.log")
    try:
        subscribe(bot, slack, "")
        bot.wait_cycles(3)
        assert staging.count(f"/v1/models/{MODEL}/environments") == 0
        subscribe(bot, slack, "env:staging", channel="C2")
        subscribe(bot, slack, "production", channel="C3")
        bot.wait_cycles(2)
        before = (staging.count(f"/v1/models/{MODEL}/environments"), staging.count(f"/v1/models/{MODEL}/deployments"))
        cycles = bot.cycles()
        bot.wait_cycles(4)
        envs = staging.count(f"/v1/models/{MODEL}/environments") - before[0]
        lists = staging.count(f"/v1/models/{MODEL}/deployments") - before[1]
        # one environments request per cycle beside the list, however many subscriptions read them
        assert envs >= 3 and abs(envs - lists) <= 1 and envs <= bot.cycles() - cycles + 1
    finally:
        bot.stop()
