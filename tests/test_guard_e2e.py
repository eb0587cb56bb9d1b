"""The promotion guard (issue 24; CONTRACT.md "The promotion guard"), end to end: the real `serve`
process, the fake Baseten serving each deployment's scripted metrics as its spec allows, and the
fake Slack recording every post and edit.

While a promotion runs in a guarded environment, every GUARD_SECONDS the bot reads the candidate's
and the current deployment's metrics (SUMMARY, one window for both) and shows the verdict on the
promotion's live message: a `*Promotion guard*` section (`healthy`, `watch` with the reason, or
`failing` with the reasons) and a fields section with both deployments' requests, 5xx rate and p95.
A verdict that becomes `failing` is said once in the channel, with Pause and Cancel for operators;
with `auto-pause` the bot pauses the promotion itself, once, and offers Resume. After a promotion
succeeds, a regression of the new current deployment against the one it replaced offers Roll back.
Missing metrics are `watch`, never `failing`, never a traceback.
"""

from __future__ import annotations

import json
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.app.db import make_sync_engine
from tests.conftest import MODEL, OLD, BotProcess, any_database, bot_env
from tests.fakes import FakeBaseten, FakeSlack, Seen, deployment, wait_until
from tests.test_act_e2e import OPS, blocks_of, buttons, click, rows
from tests.test_promotion_messages_e2e import NEW, edits, posts, top_level
from tests.test_slash_e2e import answer, post_command

pytestmark = any_database  # the guard reads Baseten and writes Slack; the store is the same on both databases

wait = partial(wait_until, timeout=30.0)
GUARD_SECONDS = 1
DEFAULT_SPEC = "5xx:2%,p95:2x,min:50"
PAUSE = f"/v1/models/{MODEL}/environments/staging/pause_promotion"
GUARD_USER = "the promotion guard"
TEN_MINUTES_MILLIS = 10 * 60 * 1000


@pytest.fixture
def staging(baseten: FakeBaseten) -> FakeBaseten:
    """The model gets a staging environment whose current deployment is v2 (serving), and a v4 to promote."""
    baseten.set_status(MODEL, OLD, "ACTIVE", active_replica_count=1, environment="staging")
    baseten.add_deployment(deployment(NEW, MODEL, name="v4", status="ACTIVE"))
    baseten.add_environment(MODEL, "staging", current=OLD)
    return baseten


def start(baseten: FakeBaseten, slack: FakeSlack, db_url: str, log: Path, **extra: str) -> BotProcess:
    settings = {
        "POLL_INTERVAL_SECONDS": "1",
        "HOT_POLL_SECONDS": "1",
        "GUARD_SECONDS": str(GUARD_SECONDS),
        "OPERATOR_USER_IDS": OPS,
        **extra,
    }
    bot = BotProcess(bot_env(baseten, slack, db_url, **settings), log)
    bot.wait_healthy()
    return bot


def subscribe(bot: BotProcess, slack: FakeSlack, guard: str | None, channel: str = "C1") -> None:
    """`channel` follows env:staging, with `--guard guard` (None: the default spec)."""
    option = "" if guard is None else f" --guard {guard}"
    user = OPS if guard and "auto-pause" in guard else "U0ALICE"  # auto-pause is an operator's to turn on
    post_command(
        bot, slack, f"subscribe {MODEL} env:staging{option}", channel=channel, name=f"sub-{channel}", user=user
    )
    said = answer(slack, f"sub-{channel}")
    assert said["response_type"] == "in_channel", said


def begin(
    bot: BotProcess, baseten: FakeBaseten, slack: FakeSlack, status: str = "RAMPING_UP", percent: int = 25
) -> Any:
    """Once the environment's baseline is taken, v4's promotion into staging starts: its live message in C1."""
    bot.wait_cycles(2)
    baseten.start_promotion(MODEL, "staging", NEW, status, percent)
    wait(lambda: top_level(slack), what="the live message")
    return top_level(slack)[0]


def guard_of(message: dict[str, Any]) -> tuple[str, list[str]] | None:
    """The message's guard section text and the fields of the section after it; None without one."""
    blocks = blocks_of(message)
    for i, block in enumerate(blocks):
        text = str((block.get("text") or {}).get("text", ""))
        if block.get("type") == "section" and text.startswith("*Promotion guard*"):
            after = blocks[i + 1] if i + 1 < len(blocks) else {}
            return text, [str(f.get("text", "")) for f in after.get("fields") or []]
    return None


def verdict_of(message: dict[str, Any]) -> str | None:
    """`healthy`, `watch` or `failing`, as the message's guard section says; None without one, or before
    the guard's first reading (a section that says it is waiting for it)."""
    found = guard_of(message)
    if found is None:
        return None
    words = [w for w in ("healthy", "watch", "failing") if f"*{w}*" in found[0]]
    assert len(words) <= 1, found[0]
    return words[0] if words else None


def guarded_edits(slack: FakeSlack, channel: str = "C1") -> list[dict[str, Any]]:
    """The live message's edits that carry the guard's section, oldest first."""
    return [e for e in edits(slack, channel) if guard_of(e) is not None]


def latest_verdict(slack: FakeSlack, channel: str = "C1") -> str | None:
    shown = guarded_edits(slack, channel)
    return verdict_of(shown[-1]) if shown else None


def wait_verdict(slack: FakeSlack, verdict: str, channel: str = "C1") -> dict[str, Any]:
    """Waits for the live message to show `verdict`; that edit."""
    wait(lambda: latest_verdict(slack, channel) == verdict, what=f"the live message to show {verdict}")
    return guarded_edits(slack, channel)[-1]


def guard_posts(slack: FakeSlack, channel: str = "C1") -> list[dict[str, Any]]:
    """The guard's own messages to the channel, beginning `Promotion guard: ` (each test checks they are
    top-level: in the channel itself, not only in a thread)."""
    return [p for p in posts(slack, channel) if str(p["text"]).startswith("Promotion guard: ")]


def action_ids(message: dict[str, Any]) -> list[str]:
    return sorted(str(b["action_id"]) for b in buttons(message) if str(b["action_id"]).startswith("act_"))


def metric_reads(baseten: FakeBaseten, dep_id: str) -> list[Seen]:
    return [r for r in baseten.metric_requests() if r.path == f"/v1/models/{MODEL}/deployments/{dep_id}/metrics"]


def wait_reads(baseten: FakeBaseten, dep_id: str, more: int) -> None:
    """Waits until the guard has read `dep_id`'s metrics `more` more times: proof it kept looking."""
    start = len(metric_reads(baseten, dep_id))
    wait(lambda: len(metric_reads(baseten, dep_id)) >= start + more, what=f"{more} more reads of {dep_id}")


def healthy_traffic(baseten: FakeBaseten) -> None:
    """Both deployments serve enough traffic, almost without 5xx, at about the same latency."""
    baseten.set_metrics(MODEL, NEW, requests=200, errors_5xx=1, p95=0.4)
    baseten.set_metrics(MODEL, OLD, requests=400, errors_5xx=2, p95=0.35)


def subscriptions(db_url: str) -> int:
    engine = make_sync_engine(db_url)
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM subscriptions")).scalar_one()
    engine.dispose()
    return int(count)


def no_traceback(bot: BotProcess) -> None:
    assert "Traceback" not in bot.output(), bot.output()[-3000:]


def test_a_healthy_rollout_shows_healthy_on_every_edit_and_says_nothing_else(
    staging: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    baseten = staging
    healthy_traffic(baseten)
    bot = start(baseten, slack, db_url, tmp_path / "bot.log", GUARD_AFTER_MINUTES="0")
    try:
        subscribe(bot, slack, None)  # the default spec guards an environment subscription
        parent = begin(bot, baseten, slack, "RELEASING", 0)
        first = wait_verdict(slack, "healthy")
        text, fields = guard_of(first) or ("", [])
        assert f"`{DEFAULT_SPEC}`" in text and ":white_check_mark: *healthy*" in text
        assert first["ts"] == slack.ts_of(parent) and first["text"] == parent["text"]  # the same message, same text
        candidate = next(f for f in fields if f.startswith("*Candidate*"))
        current = next(f for f in fields if f.startswith("*Current*"))
        assert "`v4`" in candidate and "200 requests" in candidate and "5xx 0.5%" in candidate
        assert "p95 400 ms" in candidate
        assert "`v2`" in current and "400 requests" in current and "5xx 0.5%" in current
        assert "p95 350 ms" in current

        for percent in (25, 75):
            baseten.set_promotion(MODEL, "staging", "RAMPING_UP", percent)
            step = f"RAMPING_UP ({percent}% of traffic)"
            wait(lambda: [e for e in guarded_edits(slack) if step in e["text"]], what=step)  # noqa: B023
        baseten.set_promotion(MODEL, "staging", "SUCCEEDED", 100)
        wait(lambda: [e for e in edits(slack) if "SUCCEEDED" in e["text"]], what="the success")
        baseten.end_promotion(MODEL, "staging", promoted=True)
        wait(lambda: [p for p in posts(slack) if "promoted → staging" in p["text"]], what="v4 promoted")

        # every edit once the guard had read, while the promotion ran, says healthy; the text is the bot's own
        shown = edits(slack)
        since = shown.index(first)
        running = [e for e in shown[since:] if "SUCCEEDED" not in e["text"]]
        assert [verdict_of(e) for e in running] == ["healthy"] * len(running)
        assert {e["ts"] for e in shown} == {slack.ts_of(parent)}
        assert all(e["text"].startswith("llama-3-8b / v4 → staging: ") for e in shown)
        assert "RAMPING_UP (75% of traffic)" in {e["text"].split(": ", 1)[1] for e in running}
        assert guard_posts(slack) == [] and baseten.posts() == []  # nothing said, nothing sent

        # the guard's reads: SUMMARY, candidate and current over one window, at most the last 10 minutes
        reads = metric_reads(baseten, NEW) + metric_reads(baseten, OLD)
        assert metric_reads(baseten, NEW) and metric_reads(baseten, OLD)
        for read in reads:
            query = {k: v[-1] for k, v in read.query.items() if k != "metrics"}
            assert query["mode"] == "SUMMARY", read.query
            start_ms, end_ms = int(query["start_epoch_millis"]), int(query["end_epoch_millis"])
            assert 0 <= end_ms - start_ms <= TEN_MINUTES_MILLIS
            assert abs(end_ms - read.wall * 1000) < 5000  # it ends now

        def windows(dep_id: str) -> set[tuple[str, str]]:
            return {
                (r.query["start_epoch_millis"][-1], r.query["end_epoch_millis"][-1])
                for r in metric_reads(baseten, dep_id)
            }

        assert windows(OLD) <= windows(NEW)  # the current is read over the candidate's very window

        # GUARD_AFTER_MINUTES=0: once it ended, the guard reads nothing more
        bot.wait_cycles(2)
        settled = len(baseten.metric_requests())
        bot.wait_cycles(3)
        time.sleep(2 * GUARD_SECONDS)
        assert len(baseten.metric_requests()) == settled
        no_traceback(bot)
    finally:
        bot.stop()


def test_a_candidate_with_8_percent_5xx_is_caught_within_two_guard_periods(
    staging: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    baseten = staging
    healthy_traffic(baseten)
    period = 2  # long enough that the message's own delivery cannot pass for a guard period
    bot = start(baseten, slack, db_url, tmp_path / "bot.log", GUARD_SECONDS=str(period))
    try:
        subscribe(bot, slack, None)
        parent = begin(bot, baseten, slack)
        wait_verdict(slack, "healthy")

        before = len(metric_reads(baseten, NEW))
        changed = time.monotonic()
        baseten.set_metrics(MODEL, NEW, requests=500, errors_5xx=40, p95=0.4)  # 8% of its requests fail
        wait(lambda: guard_posts(slack), what="the guard's message to the channel")
        (said,) = guard_posts(slack)
        (sent,) = [r for r in slack.calls("chat.postMessage") if r.body is said]
        reads = [r for r in metric_reads(baseten, NEW)[before:] if r.at < sent.at]
        assert len(reads) <= 2, f"caught after {len(reads)} guard reads"  # within two guard periods
        assert sent.at - changed < 2 * period + 2

        assert "thread_ts" not in said  # the channel itself, not only the thread
        assert "is failing:" in said["text"] and "5xx rate 8% is above 2%" in said["text"]
        assert "v4" in said["text"] and "staging" in said["text"]
        assert action_ids(said) == ["act_ask_cancel_promotion", "act_ask_pause_promotion"]

        failing = wait_verdict(slack, "failing")
        text, fields = guard_of(failing) or ("", [])
        assert ":rotating_light: *failing*: " in text and "5xx rate 8% is above 2%" in text
        assert any(f.startswith("*Candidate*") and "500 requests" in f and "5xx 8%" in f for f in fields)
        assert failing["ts"] == slack.ts_of(parent) and failing["text"] == parent["text"]

        # the pause it offers brings up the usual card; nothing is sent until an operator confirms
        pause = next(b for b in buttons(said) if b["action_id"] == "act_ask_pause_promotion")
        click(bot, slack, pause, name="card", channel="C1")
        card = answer(slack, "card")
        assert card["response_type"] == "ephemeral" and "RAMPING_UP" in json.dumps(card["blocks"])

        wait_reads(baseten, NEW, 3)  # still failing, several guard periods on: said once
        assert len(guard_posts(slack)) == 1 and baseten.posts() == []
        no_traceback(bot)
    finally:
        bot.stop()


def test_auto_pause_sends_exactly_one_pause_and_offers_resume(
    staging: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    """Two channels, two specs, both `auto-pause`: the promotion is paused once, by the guard, recorded as its
    action; each channel is told once that the guard paused it, with Resume and Cancel rather than Pause."""
    baseten = staging
    baseten.set_metrics(MODEL, NEW, requests=500, errors_5xx=40, p95=0.4)  # failing from the start
    baseten.set_metrics(MODEL, OLD, requests=400, errors_5xx=0, p95=0.35)
    bot = start(baseten, slack, db_url, tmp_path / "bot.log")
    try:
        post_command(bot, slack, f"subscribe {MODEL} env:staging --guard auto-pause", channel="C1", name="not-op")
        refused = answer(slack, "not-op")  # a user who may subscribe, but not act: refused, nothing stored
        assert refused["response_type"] == "ephemeral" and "only operators" in json.dumps(refused)
        assert subscriptions(db_url) == 0
        subscribe(bot, slack, "auto-pause", channel="C1")
        subscribe(bot, slack, "5xx:1%,auto-pause", channel="C2")
        begin(bot, baseten, slack, "RAMPING_UP", 25)
        wait(lambda: guard_posts(slack, "C1") and guard_posts(slack, "C2"), what="both channels told")
        wait(lambda: baseten.posts(), what="the pause")
        wait(lambda: [e for e in edits(slack) if "PAUSED" in e["text"]], what="the live message showing it paused")
        wait_reads(baseten, NEW, 4)  # the guard keeps reading the paused promotion, still failing

        assert [p.path for p in baseten.posts()] == [PAUSE]  # exactly one, whatever the periods and specs
        assert baseten.posts()[0].body in ({}, None)
        (row,) = [r for r in rows(db_url) if r["verb"] == "pause_promotion"]
        assert row["user_id"] == GUARD_USER and row["model_id"] == MODEL and row["environment"] == "staging"
        assert row["outcome"] == "accepted"
        for channel, spec in (("C1", "5xx:2%,p95:2x,min:50,auto-pause"), ("C2", "5xx:1%,p95:2x,min:50,auto-pause")):
            (said,) = guard_posts(slack, channel)
            assert "thread_ts" not in said, channel
            assert "is failing:" in said["text"] and "5xx rate 8% is above" in said["text"], channel
            assert "the promotion guard paused the promotion" in said["text"], channel
            assert action_ids(said) == ["act_ask_cancel_promotion", "act_ask_resume_promotion"], channel
            assert f"`{spec}`" in (guard_of(guarded_edits(slack, channel)[-1]) or ("",))[0], channel
        no_traceback(bot)
    finally:
        bot.stop()


def test_a_p95_regression_after_the_promotion_offers_roll_back(
    staging: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    baseten = staging
    healthy_traffic(baseten)
    bot = start(baseten, slack, db_url, tmp_path / "bot.log", GUARD_AFTER_MINUTES="5")
    try:
        subscribe(bot, slack, "p95:2x")
        begin(bot, baseten, slack)
        wait_verdict(slack, "healthy")
        baseten.set_promotion(MODEL, "staging", "SUCCEEDED", 100)
        baseten.end_promotion(MODEL, "staging", promoted=True)
        wait(lambda: [p for p in posts(slack) if "promoted → staging" in p["text"]], what="v4 promoted")
        assert guard_posts(slack) == []

        baseten.set_metrics(MODEL, NEW, requests=300, errors_5xx=0, p95=1.2)  # 3x the p95 it replaced
        wait(lambda: guard_posts(slack), what="the regression said in the channel")
        (said,) = guard_posts(slack)
        assert "thread_ts" not in said
        assert "since it was promoted" in said["text"] and "p95" in said["text"] and "v4" in said["text"]
        assert "act_ask_rollback" in action_ids(said)
        assert "act_ask_pause_promotion" not in action_ids(said)  # nothing left to pause

        ask = next(b for b in buttons(said) if b["action_id"] == "act_ask_rollback")
        click(bot, slack, ask, name="rollback", channel="C1")
        card = answer(slack, "rollback")
        assert "`v2`" in json.dumps(card["blocks"])  # back to the deployment v4 replaced
        wait_reads(baseten, NEW, 3)
        assert len(guard_posts(slack)) == 1 and baseten.posts() == []

        # v4 then fails outright: its notice does not thread under the guard's message, which stays as said
        baseten.set_status(MODEL, NEW, "UNHEALTHY")
        wait(lambda: [p for p in posts(slack) if "UNHEALTHY" in p["text"]], what="v4's failure notice")
        guard_ts = slack.ts_of(said)
        assert all(p.get("thread_ts") != guard_ts for p in posts(slack))
        assert [e for e in edits(slack) if e["ts"] == guard_ts] == []
        no_traceback(bot)
    finally:
        bot.stop()


def test_too_little_traffic_stays_watch_whatever_its_errors(
    staging: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    baseten = staging
    baseten.set_metrics(MODEL, NEW, requests=12, errors_5xx=6, p95=3.0)  # half failing, 10x slower: only 12
    baseten.set_metrics(MODEL, OLD, requests=400, errors_5xx=0, p95=0.3)
    bot = start(baseten, slack, db_url, tmp_path / "bot.log")
    try:
        subscribe(bot, slack, "auto-pause")
        begin(bot, baseten, slack)
        shown = wait_verdict(slack, "watch")
        text, _ = guard_of(shown) or ("", [])
        assert ":eyes: *watch*: too little traffic (12 of min 50 requests)" in text
        wait_reads(baseten, NEW, 4)
        assert {verdict_of(e) for e in guarded_edits(slack)} == {"watch"}
        assert guard_posts(slack) == [] and baseten.posts() == []  # never failing, never paused
        no_traceback(bot)
    finally:
        bot.stop()


def test_metrics_answering_403_are_watch_with_the_reason_then_healthy_again(
    staging: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    baseten = staging
    healthy_traffic(baseten)
    for dep in (NEW, OLD):
        baseten.metrics_fail(MODEL, dep, 403)  # a key that may not read metrics
    bot = start(baseten, slack, db_url, tmp_path / "bot.log")
    try:
        subscribe(bot, slack, "auto-pause")
        begin(bot, baseten, slack)
        shown = wait_verdict(slack, "watch")
        text, _ = guard_of(shown) or ("", [])
        assert ":eyes: *watch*: metrics unavailable" in text
        wait_reads(baseten, NEW, 3)
        assert {verdict_of(e) for e in guarded_edits(slack)} == {"watch"}

        baseten.set_metrics(MODEL, NEW, requests=None, p95=None)  # readable, but nulls: still watch
        for dep in (NEW, OLD):
            baseten.metrics_fail(MODEL, dep, None)
        wait_reads(baseten, NEW, 2)
        assert latest_verdict(slack) == "watch"

        healthy_traffic(baseten)  # data again: the verdict follows
        wait_verdict(slack, "healthy")
        assert guard_posts(slack) == [] and baseten.posts() == []
        no_traceback(bot)
    finally:
        bot.stop()


def test_an_environment_guarded_off_reads_no_metrics(
    staging: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    """`--guard off` alone: no reads, no section, nothing said. Then a second channel guards the same
    environment: the guard reads and shows it there, and the channel guarded off still sees none of it."""
    baseten = staging
    baseten.set_metrics(MODEL, NEW, requests=500, errors_5xx=40, p95=0.4)
    baseten.set_metrics(MODEL, OLD, requests=400, errors_5xx=0, p95=0.35)
    bot = start(baseten, slack, db_url, tmp_path / "bot.log")
    try:
        subscribe(bot, slack, "off")
        begin(bot, baseten, slack)
        baseten.set_promotion(MODEL, "staging", "RAMPING_UP", 50)
        wait(lambda: [e for e in edits(slack) if "50% of traffic" in e["text"]], what="the edit at 50%")
        bot.wait_cycles(3)
        time.sleep(2 * GUARD_SECONDS)
        assert baseten.metric_requests() == [] and guarded_edits(slack) == [] and guard_posts(slack) == []

        subscribe(bot, slack, None, channel="C2")  # the default guard, in another channel
        baseten.set_promotion(MODEL, "staging", "RAMPING_UP", 75)
        wait(lambda: guard_posts(slack, "C2"), what="C2 told the rollout is failing")
        wait_verdict(slack, "failing", channel="C2")
        wait_reads(baseten, NEW, 2)
        assert metric_reads(baseten, OLD)
        assert guarded_edits(slack, "C1") == [] and guard_posts(slack, "C1") == []
        assert [e for e in edits(slack, "C1") if "75% of traffic" in e["text"]]  # C1 still follows the rollout
        no_traceback(bot)
    finally:
        bot.stop()
