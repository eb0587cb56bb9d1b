"""Crash safety: SIGKILL the real process at random points of its cycles, restart it, and
check that every change reaches every subscribed channel. The only duplicate allowed is a
crash between Slack's ok and the bot recording it; the test counts them, and counts the
kills that fell in that window, and prints both (`pytest -s`) and records them as
properties (`--junitxml`)."""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from bot.app.db import sync_url
from bot.store import tables as t
from tests.conftest import MODEL, PROD, BotProcess, bot_env
from tests.fakes import Canned, FakeBaseten, FakeSlack, wait_until
from tests.test_slash_e2e import answer, post_command

# four changes: a fifth within 30 minutes would (rightly) be held back as flapping
SEQUENCE = ["UNHEALTHY", "ACTIVE", "UPDATING", "ACTIVE"]


def test_sigkill_at_random_points_loses_nothing(
    baseten: FakeBaseten,
    slack: FakeSlack,
    db_url: str,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    rng = random.Random(7)
    env = bot_env(baseten, slack, db_url, POLL_INTERVAL_SECONDS="1", LEASE_SECONDS="2")
    started = time.monotonic()
    bot = BotProcess(env, tmp_path / "bot0.log")
    bot.wait_healthy()
    for channel in ("C1", "C2"):
        post_command(bot, slack, f"subscribe {MODEL} {PROD} --on all --no-thread", channel=channel, name=channel)
        answer(slack, channel)
    baseten.delay = 0.2  # a cycle spends time waiting on Baseten ...
    expected = []
    previous = "ACTIVE"
    in_window = left = 0  # kills that left notices Slack had accepted but the bot had not recorded; those notices
    for i, status in enumerate(SEQUENCE):
        # ... and on Slack, so a kill lands before the commit, between commit and Slack, or after Slack
        slack.script("chat.postMessage", *[Canned(200, {"ok": True, "ts": f"1.{i}{k}"}, delay=0.3) for k in range(2)])
        baseten.set_status(MODEL, PROD, status)
        expected.append(f"llama-3-8b / v3: {previous} → {status}")
        previous = status
        time.sleep(rng.uniform(0.2, 2.0))  # a random point to kill at, not a wait for an outcome
        bot.proc.send_signal(signal.SIGKILL)
        bot.proc.wait(5)
        bot.stop()
        caught = _left_in_window(db_url, slack, bot.proc.pid, since=started)
        in_window, left = in_window + (caught > 0), left + caught
        started = time.monotonic()
        bot = BotProcess(env, tmp_path / f"bot{i + 1}.log")
        bot.wait_healthy()
        # polling sees states, not events: flip again only once this change has been seen
        # (a notice orphaned mid-send waits for its claim to expire, 30 s, then goes again)
        wanted = expected[-1]
        slack.wait_for(lambda: all(wanted in t for t in _texts(slack).values()), timeout=60)  # noqa: B023
    try:
        # until every change arrived and the outbox is empty: a notice a kill left in the window
        # is sent again only when its claim expires (30 s), and only then is its duplicate counted
        wait_until(
            lambda: all(all(e in got for e in expected) for got in _texts(slack).values()) and not _unsent(db_url),
            90,
            what="every change delivered and the outbox empty",
        )
        bot.wait_cycles(3)  # and anything doubled would have come by now
    finally:
        bot.stop()
    duplicates = {c: len(got) - len(set(got)) for c, got in _texts(slack).items()}
    summary = (
        f"kills: {len(SEQUENCE)}, kills that fell in the window: {in_window} (leaving {left} notices), "
        f"duplicates: {sum(duplicates.values())} ({', '.join(f'{c}: {n}' for c, n in duplicates.items())})"
    )
    print(f"\n{summary}")
    record_property("kills", len(SEQUENCE))
    record_property("kills_in_window", in_window)
    record_property("notices_left_in_window", left)
    record_property("duplicates", sum(duplicates.values()))
    for channel in ("C1", "C2"):
        got = [p["text"] for p in slack.posts() if p["channel"] == channel]
        missing = [e for e in expected if e not in got]
        assert not missing, (channel, missing, got)
        # each kill can double at most the one notice in flight to this channel
        assert duplicates[channel] <= len(SEQUENCE), (summary, got)


def _texts(slack: FakeSlack) -> dict[str, list[str]]:
    return {c: [p["text"] for p in slack.posts() if p["channel"] == c] for c in ("C1", "C2")}


def _unsent(db_url: str) -> int:
    engine = sa.create_engine(sync_url(db_url))
    try:
        with engine.connect() as conn:
            query = sa.select(sa.func.count()).where(t.Delivery.state.in_(("pending", "sending")))
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def _left_in_window(db_url: str, slack: FakeSlack, pid: int, *, since: float) -> int:
    """Notices the killed process had claimed, that Slack accepted from it, and that it had not marked sent."""
    accepted = {
        (r.body.get("channel"), r.body.get("text")) for r in slack.calls("chat.postMessage") if r.ok and r.at >= since
    }
    engine = sa.create_engine(sync_url(db_url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    t.Delivery.channel_id,
                    t.Transition.model_name,
                    t.Transition.deployment_name,
                    t.Transition.old_status,
                    t.Transition.new_status,
                )
                .join(t.Transition, t.Delivery.transition_id == t.Transition.id)
                .where(t.Delivery.state == "sending", t.Delivery.claimed_by.like(f"%:{pid}:%"))  # host:pid:random
            ).all()
    finally:
        engine.dispose()
    return sum(1 for c, m, d, old, new in rows if (c, f"{m} / {d}: {old} → {new}") in accepted)
