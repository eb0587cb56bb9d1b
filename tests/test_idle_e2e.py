"""Idle warm replicas (issue 25; CONTRACT.md "Cost"), end to end: the real `serve` process, the fake
Baseten serving v3's metrics (two replicas up, no requests) and instance type prices as its spec
allows, the fake Slack recording every post.

A channel that asked for `--on idle` hears one notice per idle spell, saying what the replicas cost a
day, with Scale to zero for operators: one confirmed click is exactly one PATCH of `min_replica: 0`.
A channel with the default `--on` hears none; a deployment serving traffic is never called idle.
IDLE_AFTER_MINUTES is 0.05 (three seconds) so a spell starts within the test.
"""

from __future__ import annotations

import json
import time
from functools import partial
from pathlib import Path
from typing import Any

from tests.conftest import MODEL, PROD, BotProcess, any_database
from tests.fakes import FakeBaseten, FakeSlack, wait_until
from tests.test_act_e2e import OPS, blocks_of, buttons, click, do_button, start
from tests.test_promotion_messages_e2e import posts
from tests.test_slash_e2e import answer, post_command

pytestmark = any_database

wait = partial(wait_until, timeout=30.0)
PATCHED = f"/v1/models/{MODEL}/deployments/{PROD}/autoscaling_settings"
L4 = "1x L4 (24 GiB)"  # v3's instance type in the fake


def idle_bot(baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path, *, requests: float) -> BotProcess:
    """v3: production, ACTIVE, two replicas up, minimum 1, `requests` in any window; L4 at $0.0125 a minute."""
    with baseten.lock:
        baseten.deployments[MODEL][PROD]["autoscaling_settings"]["min_replica"] = 1
    baseten.set_metrics(MODEL, PROD, requests=requests, replicas=2)
    baseten.set_price(L4, "0.0125")
    return start(
        baseten, slack, db_url, tmp_path, POLL_INTERVAL_SECONDS="1", HOT_POLL_SECONDS="1", IDLE_AFTER_MINUTES="0.05"
    )


def subscribe(bot: BotProcess, slack: FakeSlack, channel: str, options: str = "") -> None:
    post_command(bot, slack, f"subscribe {MODEL} {options}".strip(), channel=channel, name=f"sub-{channel}")
    said = answer(slack, f"sub-{channel}")
    assert said["response_type"] == "in_channel", said


def idle_posts(slack: FakeSlack, channel: str) -> list[dict[str, Any]]:
    """The idle notices posted in the channel, its threads included (a second spell replies in the
    deployment's thread, like any later notice about it)."""
    return [p for p in posts(slack, channel) if ": idle for " in str(p.get("text", ""))]


def metric_reads(baseten: FakeBaseten) -> int:
    with baseten.lock:
        return sum(1 for r in baseten.requests if r.path.endswith(f"/deployments/{PROD}/metrics"))


def test_an_idle_deployment_is_announced_once_with_its_cost_and_scale_to_zero_is_one_patch(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot = idle_bot(baseten, slack, db_url, tmp_path, requests=0)
    try:
        subscribe(bot, slack, "C1", "--on idle")
        subscribe(bot, slack, "C2")  # the default `--on`: idle replicas are not news here
        wait(lambda: idle_posts(slack, "C1"), what="the idle notice")
        (notice,) = idle_posts(slack, "C1")
        # two replicas × $0.0125 a minute × 1,440 minutes = $36.00 a day
        assert notice["text"].startswith("llama-3-8b / v3: idle for 3s, 2 replicas up, 0 requests")
        assert "about $36.00 a day" in notice["text"], notice["text"]
        shown = json.dumps(blocks_of(notice), ensure_ascii=False)
        assert "USD, rounded half up to the cent" in shown and L4 in shown
        (ask,) = [b for b in buttons(notice) if b["action_id"].startswith("act_")]
        assert ask["action_id"] == "act_ask_scale_to_zero"

        reads = metric_reads(baseten)
        wait(lambda: metric_reads(baseten) >= reads + 2, what="later idle checks")
        assert len(idle_posts(slack, "C1")) == 1  # once per idle spell, not every check
        assert not [p for p in slack.posts() if p["channel"] == "C2"]

        click(bot, slack, ask, user=OPS, name="card")
        card = answer(slack, "card")
        assert "min replicas `1`" in json.dumps(blocks_of(card), ensure_ascii=False)
        assert baseten.changes() == []  # the card changes nothing
        click(bot, slack, do_button(card), user=OPS, name="done")
        answer(slack, "done")
        (patch,) = baseten.patches(PATCHED)
        assert patch.body == {"min_replica": 0}
        assert [r.path for r in baseten.changes()] == [PATCHED]
    finally:
        bot.stop()


def test_a_deployment_serving_traffic_is_not_idle_and_a_spell_ends_when_traffic_returns(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot = idle_bot(baseten, slack, db_url, tmp_path, requests=500)
    try:
        subscribe(bot, slack, "C1", "--on idle,failures")
        reads = metric_reads(baseten)
        wait(lambda: metric_reads(baseten) >= reads + 3, what="idle checks of a busy deployment")
        assert idle_posts(slack, "C1") == []

        baseten.set_metrics(MODEL, PROD, requests=0, replicas=2)  # traffic stops: a spell
        wait(lambda: idle_posts(slack, "C1"), what="the first spell's notice")
        baseten.set_metrics(MODEL, PROD, requests=500, replicas=2)  # back: the spell ends
        reads = metric_reads(baseten)
        wait(lambda: metric_reads(baseten) >= reads + 2, what="checks of the busy deployment")
        baseten.set_metrics(MODEL, PROD, requests=0, replicas=2)  # quiet again: a new spell, told again
        wait(lambda: len(idle_posts(slack, "C1")) == 2, what="the second spell's notice")
        time.sleep(2)
        assert len(idle_posts(slack, "C1")) == 2
    finally:
        bot.stop()
