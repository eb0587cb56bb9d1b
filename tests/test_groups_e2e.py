"""A burst of notices for one channel goes out as one message, each notice a line in a thread (issue 26).

Against the real `serve` process: 20 deployments of one model fail in one poll; the channel gets one
message counting them, and each deployment its own line (in its open thread if it has one, else
under the group's message). The bot is restarted in the middle of the lines: the restarted one posts
only the lines left, never the group's message again, and nothing is doubled.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from bot.app.db import make_sync_engine
from bot.render.oncall import ACK_ACTION
from bot.store import tables as t
from tests.conftest import BotProcess, any_database, bot_env
from tests.fakes import FakeBaseten, FakeSlack, deployment, wait_until
from tests.test_slash_e2e import answer, post_command

pytestmark = any_database  # what is shown is the notifier's order and claims; the store tests run on both

BURST = "mdlburst"
DEPS = [f"dep{i:02d}" for i in range(20)]
HEADER = "20 deployments of 1 model changed: 20 failed"


def _start(baseten: FakeBaseten, slack: FakeSlack, db_url: str, log: Path) -> BotProcess:
    env = bot_env(baseten, slack, db_url, POLL_INTERVAL_SECONDS="1", GROUP_WAIT_SECONDS="2", GROUP_OVER="5")
    bot = BotProcess(env, log)
    bot.wait_healthy()
    return bot


def _lines(slack: FakeSlack) -> list[dict[str, object]]:
    return [p for p in slack.posts() if p["channel"] == "C1" and p.get("thread_ts") and "dep" in str(p["text"])]


def test_a_burst_of_twenty_failures_is_one_message_and_twenty_lines_across_a_restart(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    baseten.add_model(BURST, "fleet", [deployment(d, BURST, name=d, status="ACTIVE") for d in DEPS])
    bot = _start(baseten, slack, db_url, tmp_path / "first.log")
    try:
        post_command(bot, slack, f"subscribe {BURST} --on all", channel="C1", name="sub")
        answer(slack, "sub")
        # dep00 has an open thread: its line in the burst goes there, the others under the group's message
        baseten.set_status(BURST, "dep00", "UPDATING")
        slack.wait_for(lambda: [p for p in slack.posts() if p["channel"] == "C1"], timeout=30)
        (alone,) = [p for p in slack.posts() if p["channel"] == "C1"]
        assert alone["text"] == "fleet / dep00: ACTIVE → UPDATING"
        thread_ts = slack.ts_of(alone)
        with baseten.lock:  # all at once: one poll reads them
            for d in DEPS:
                baseten.deployments[BURST][d]["status"] = "UNHEALTHY"
        wait_until(lambda: len(_lines(slack)) >= 5, 60, what="the group's message and its first lines")
    finally:
        bot.stop()  # a restart in the middle of the lines (20 lines take 20 s at Slack's pace)
    assert 5 <= len(_lines(slack)) < 20, "the restart did not fall in the middle of the lines"
    bot = _start(baseten, slack, db_url, tmp_path / "second.log")
    try:
        wait_until(lambda: len(_lines(slack)) >= 20, 90, what="every line")
        bot.wait_cycles(3)  # anything doubled would have come by now
    finally:
        bot.stop()
    channel = [p for p in slack.posts() if p["channel"] == "C1"]
    groups = [p for p in channel if "thread_ts" not in p and p is not alone]
    assert [g["text"] for g in groups] == [HEADER]  # one message, posted once across the restart
    group_ts = slack.ts_of(groups[0])
    assert "dep19" in str(groups[0]["blocks"])  # the lines, grouped by kind, in the message itself
    lines = _lines(slack)
    texts = [str(p["text"]) for p in lines]
    assert sorted(texts) == sorted(f"fleet / {d}: {'UPDATING' if d == 'dep00' else 'ACTIVE'} → UNHEALTHY" for d in DEPS)
    assert texts == sorted(texts, key=lambda x: DEPS.index(x.split(" ")[2].rstrip(":")))  # in order
    by_dep = {str(p["text"]).split(" ")[2].rstrip(":"): p for p in lines}
    assert by_dep["dep00"]["thread_ts"] == thread_ts  # its own thread
    assert all(by_dep[d]["thread_ts"] == group_ts for d in DEPS[1:])  # under the group's message
    assert not any(p.get("reply_broadcast") for p in lines)  # the group's message is the channel's
    assert all(ACK_ACTION in str(p["blocks"]) for p in lines)  # each failure line can be acknowledged
    engine = make_sync_engine(db_url)
    with engine.connect() as conn:
        states = conn.execute(sa.select(t.Delivery.state, sa.func.count()).group_by(t.Delivery.state)).all()
        grouped = conn.scalar(sa.select(sa.func.count()).where(t.Delivery.group_id.is_not(None)))
        group_rows = conn.execute(sa.select(t.NoticeGroup.ts, t.NoticeGroup.sent_at)).all()
        alarms = conn.execute(sa.select(t.Alarm.ts, t.Alarm.thread_ts, t.Alarm.ended_at)).all()
    engine.dispose()
    assert dict(states) == {"sent": 21} and grouped == 20
    assert [ts for ts, _ in group_rows] == [group_ts]
    # every line opened its alarm where it went: acknowledging or reminding reaches that line and its thread
    assert sorted((ts, th) for ts, th, _ in alarms) == sorted((slack.ts_of(p), p["thread_ts"]) for p in lines)
    assert all(ended is None for _, _, ended in alarms)
