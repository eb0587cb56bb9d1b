"""Why it failed, end to end: the real poller, notifier and status command against the fakes.

Most tests run the bot in process (tests.world: wired as `serve` wires it, a real SQLite file);
the last one runs the real `serve` process.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.polling.poller import Poller
from bot.render.oncall import ACK_ACTION
from tests.conftest import DEV, MODEL, PROD
from tests.fakes import Canned, FakeBaseten, FakeSlack, log_line
from tests.test_notices_e2e import start
from tests.test_slash_e2e import answer, post_command
from tests.world import World

FAILURE = "llama-3-8b / v3: ACTIVE → UNHEALTHY"
LABELS = {"commit": "9f1c2ab", "ci_run": "https://ci.example/acme/llama/runs/42"}


@pytest.fixture
async def world(baseten: FakeBaseten, slack: FakeSlack, db_url: str) -> AsyncIterator[World]:
    w = World(baseten, slack, db_url)
    yield w
    await w.close()


def without_ack(post: dict[str, Any]) -> dict[str, Any]:
    blocks = post["blocks"] if isinstance(post["blocks"], list) else json.loads(post["blocks"])
    kept = [
        {**b, "elements": [e for e in b["elements"] if e.get("action_id") != ACK_ACTION]}
        if b["type"] == "actions"
        else b
        for b in blocks
    ]
    return {**post, "blocks": kept}


def blocks_of(message: Any) -> str:
    blocks = message["blocks"] if isinstance(message, dict) else message.blocks
    return json.dumps(blocks if isinstance(blocks, list) else json.loads(blocks), ensure_ascii=False)


def code(message: Any) -> list[str]:
    """The lines of the message's code block."""
    texts = [b["text"]["text"] for b in json.loads(blocks_of(message)) if b["type"] == "section" and "text" in b]
    (block,) = [t for t in texts if "```" in t]
    return str(block).split("```")[1].strip("\n").split("\n")


def add_hostile_logs(baseten: FakeBaseten, at: float) -> None:
    baseten.add_logs(
        MODEL,
        PROD,
        log_line("loading weights", at=at - 50, level="INFO"),
        log_line("a line without a level", at=at - 45, level=None),
        log_line("CUDA error: out of memory <!channel> <@U0ALICE>", at=at - 40),
        log_line("&lt;oops&gt; " + "z" * 10_000, at=at - 30),
        log_line("\x1b[31mWorker died\x07\x00 ```", at=at - 20),
    )
    baseten.add_logs(MODEL, DEV, log_line("another deployment's error", at=at - 10))


async def test_the_client_asks_the_logs_endpoint_only_what_the_spec_defines(world: World, baseten: FakeBaseten) -> None:
    at = world.clock.now.timestamp()
    baseten.add_logs(
        MODEL, PROD, log_line("first", at=at - 20, level="WARNING"), log_line("second", at=at - 10, level=None)
    )
    hour_ago = int((at - 3600) * 1000)
    newest = await world.client.deployment_logs(MODEL, PROD, start_epoch_millis=hour_ago)
    assert [line.message for line in newest] == ["second", "first"]
    oldest = await world.client.deployment_logs(
        MODEL, PROD, start_epoch_millis=hour_ago, newest_first=False, min_level="WARNING", limit=1
    )
    assert [line.message for line in oldest] == ["first"]
    with pytest.raises(ValueError, match="min_level"):
        await world.client.deployment_logs(MODEL, PROD, min_level="error")
    assert len(baseten.log_requests()) == 2  # and the fake found nothing in them outside the spec


async def test_a_failure_notice_shows_the_error_lines_read_once_for_two_channels(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    for channel in ("C1", "C2"):
        await world.command(f"subscribe {MODEL} {PROD}", channel=channel)
    add_hostile_logs(baseten, world.clock.now.timestamp())
    baseten.set_status(MODEL, PROD, "UNHEALTHY", labels=LABELS)
    await world.cycle()

    posts = slack.posts()
    assert sorted(p["channel"] for p in posts) == ["C1", "C2"]
    assert [p["text"] for p in posts] == [FAILURE, FAILURE]  # the plain text still says what changed
    # the same notice in both, but for Acknowledge, which names each channel's own alarm
    assert blocks_of(without_ack(posts[0])) == blocks_of(without_ack(posts[1]))
    lines = code(posts[0])
    assert lines[0] == "CUDA error: out of memory &lt;!channel&gt; &lt;@U0ALICE&gt;"  # oldest of the newest first
    assert lines[1].startswith("&amp;lt;oops&amp;gt; zzz") and len(lines[1]) <= 400
    assert lines[2] == "Worker died ˋˋˋ"
    assert len(lines) == 3  # ERROR only: not the INFO line, nor the line without a level
    assert "commit: 9f1c2ab · ci_run: https://ci.example/acme/llama/runs/42" in blocks_of(posts[0])

    (request,) = baseten.log_requests()  # one read for the change, not one per channel
    assert request.path == f"/v1/models/{MODEL}/deployments/{PROD}/logs"
    assert request.query.keys() == {"min_level", "direction", "limit", "start_epoch_millis"}
    asked = {k: v for k, v in request.query.items() if k != "start_epoch_millis"}
    assert asked == {"min_level": ["ERROR"], "direction": ["desc"], "limit": ["5"]}


async def test_a_build_failure_reads_back_to_the_build(world: World, baseten: FakeBaseten, slack: FakeSlack) -> None:
    created = world.clock.now - timedelta(hours=3)
    baseten.set_status(MODEL, DEV, "BUILDING", created_at=created.isoformat().replace("+00:00", "Z"))
    await world.command(f"subscribe {MODEL} {DEV}")  # the bot first sees it building three hours in
    baseten.add_logs(MODEL, DEV, log_line("pip: no matching distribution for torch==9.0", at=created.timestamp() + 120))
    baseten.set_status(MODEL, DEV, "BUILD_FAILED")
    await world.cycle()
    (post,) = slack.posts()
    assert code(post) == ["pip: no matching distribution for torch==9.0"]
    (request,) = baseten.log_requests()
    assert request.query["start_epoch_millis"] == [str(int(created.timestamp() * 1000))]


async def test_a_slow_logs_endpoint_does_not_hold_the_notice_back(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    # the wait, shortened for the test, is far below the client's own 2 s timeout: a notice that
    # says "did not answer in time" was cut off by the bound, not by the client giving up
    world.poller = Poller(
        client=world.client, store=world.store, notifier=world.notifier, now=world.clock, log_wait=0.5
    )
    await world.command(f"subscribe {MODEL} {PROD}")
    baseten.log_fault = Canned(200, {"logs": [log_line("too late", at=world.clock.now.timestamp())]}, delay=5.0)
    baseten.set_status(MODEL, PROD, "UNHEALTHY", labels=LABELS)
    report = await world.cycle()
    assert report.changes == 1 and report.sent == 1
    (post,) = slack.posts()
    assert post["text"] == FAILURE
    shown = blocks_of(post)
    assert "Baseten's logs did not answer in time: no error lines here." in shown
    assert "too late" not in shown and "```" not in shown
    assert "commit: 9f1c2ab" in shown  # the labels come with the deployment, not the logs


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        (Canned(403, {"error": "This API key may not read logs"}), "Baseten's logs refused the bot's API key (403)"),
        (Canned(500, {"error": "internal error"}), "Baseten's logs could not be read"),
    ],
    ids=["403", "500"],
)
async def test_logs_baseten_refuses_leave_a_note_and_the_notice_goes_out(
    world: World, baseten: FakeBaseten, slack: FakeSlack, fault: Canned, says: str
) -> None:
    await world.command(f"subscribe {MODEL} {PROD}")
    add_hostile_logs(baseten, world.clock.now.timestamp())
    baseten.log_fault = fault
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    await world.cycle()
    (post,) = slack.posts()
    assert post["text"] == FAILURE
    assert says in blocks_of(post) and "```" not in blocks_of(post)
    assert world.poller.last_auth_error is None  # a key that may not read logs still polls


async def test_only_failures_read_the_logs(world: World, baseten: FakeBaseten, slack: FakeSlack) -> None:
    await world.command(f"subscribe {MODEL} {PROD} --on all")
    add_hostile_logs(baseten, world.clock.now.timestamp())
    for status in ("UPDATING", "ACTIVE", "SCALED_TO_ZERO"):
        baseten.set_status(MODEL, PROD, status)
        await world.cycle()
    assert len(slack.posts()) == 3
    assert baseten.log_requests() == []
    assert "```" not in json.dumps([blocks_of(p) for p in slack.posts()])


async def test_a_failure_nobody_hears_reads_nothing(world: World, baseten: FakeBaseten, slack: FakeSlack) -> None:
    await world.command(f"subscribe {MODEL} {PROD} --on recoveries")
    add_hostile_logs(baseten, world.clock.now.timestamp())
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    report = await world.cycle()
    assert report.changes == 1 and slack.posts() == []  # recorded, announced to nobody
    assert baseten.log_requests() == []


async def test_the_status_card_of_a_failing_deployment_shows_the_excerpt(world: World, baseten: FakeBaseten) -> None:
    add_hostile_logs(baseten, world.clock.now.timestamp())
    healthy, _ = await world.command(f"status {MODEL} {PROD}")
    assert "```" not in blocks_of(healthy) and baseten.log_requests() == []  # nothing read for a healthy one
    baseten.set_status(MODEL, PROD, "UNHEALTHY", labels=LABELS)
    card, _ = await world.command(f"status {MODEL} {PROD}")
    assert card.text == "llama-3-8b / v3: UNHEALTHY"
    assert code(card)[0] == "CUDA error: out of memory &lt;!channel&gt; &lt;@U0ALICE&gt;"
    assert "commit: 9f1c2ab" in blocks_of(card)
    assert [r.path for r in baseten.log_requests()] == [f"/v1/models/{MODEL}/deployments/{PROD}/logs"]
    baseten.log_fault = Canned(403, {"error": "This API key may not read logs"})
    refused, _ = await world.command(f"status {MODEL} {PROD}")
    assert "refused the bot's API key (403)" in blocks_of(refused)


def test_the_real_process_shows_why_in_the_notice_and_the_card(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot = start(baseten, slack, db_url, tmp_path, "bot")
    try:
        for channel in ("C1", "C2"):
            post_command(bot, slack, f"subscribe {MODEL} {PROD}", channel=channel, name=channel)
            assert answer(slack, channel)["response_type"] == "in_channel"
        add_hostile_logs(baseten, time.time())
        baseten.set_status(MODEL, PROD, "UNHEALTHY", labels=LABELS)
        slack.wait_for(lambda: len(slack.posts()) >= 2, timeout=30)
        bot.wait_cycles(2)
        posts = slack.posts()
        assert [p["text"] for p in posts] == [FAILURE, FAILURE]
        for post in posts:
            assert code(post)[0] == "CUDA error: out of memory &lt;!channel&gt; &lt;@U0ALICE&gt;"
            assert "<!channel>" not in blocks_of(post) and "<@U0ALICE>" not in blocks_of(post)
        assert len(baseten.log_requests()) == 1
        post_command(bot, slack, f"status {MODEL} {PROD}", name="card")
        card = answer(slack, "card")
        assert code(card)[2] == "Worker died ˋˋˋ"
        assert len(baseten.log_requests()) == 2
    finally:
        bot.stop()
