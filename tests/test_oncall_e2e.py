"""On call (issue 26; CONTRACT.md "Never silent, and on call"), end to end: the real `serve` process,
the fake Baseten failing a deployment, the fake Slack recording every post and edit, signed clicks,
and the bot's clock moved by the test (BOT_TEST_CLOCK_FILE) so that `--remind 1m` comes due at once.

- Acknowledge edits the failure notice to say who and when (without the button), adds a line in its
  thread, stops the reminders, and a second click is told who acknowledged it; a recovery then edits
  the acknowledged notice to say so.
- Reminders come at their interval in the failure's thread, also sent to the channel, capped by
  `--remind-max`, paused by a mute (and going on after it), ended by a recovery.
- With ACK_OPERATORS_ONLY, a non-operator's click is refused to them alone and changes nothing.
"""

from __future__ import annotations

import json
import time
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.app.db import make_sync_engine
from tests.conftest import MODEL, PROD, BotProcess, any_database
from tests.fakes import FakeBaseten, FakeSlack, wait_until
from tests.test_act_cards_e2e import Clock
from tests.test_act_e2e import blocks_of, buttons, click, start
from tests.test_slash_e2e import answer, post_command

pytestmark = any_database

wait = partial(wait_until, timeout=30.0)
FAILING = "llama-3-8b / v3: ACTIVE → UNHEALTHY"


def running(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path, **env: str
) -> tuple[BotProcess, Clock]:
    slack.usergroups["S0ONCALL"] = ["U0CAROL"]
    clock = Clock(tmp_path / "clock")
    bot = start(
        baseten,
        slack,
        db_url,
        tmp_path,
        POLL_INTERVAL_SECONDS="1",
        HOT_POLL_SECONDS="1",
        BOT_TEST_CLOCK_FILE=str(clock.path),
        **env,
    )
    return bot, clock


def command(bot: BotProcess, slack: FakeSlack, text: str, channel: str, name: str) -> dict[str, Any]:
    post_command(bot, slack, text, channel=channel, name=name)
    return answer(slack, name)


def notice(slack: FakeSlack, channel: str) -> dict[str, Any]:
    (found,) = wait(lambda: [p for p in slack.posts() if p["channel"] == channel and p["text"] == FAILING])
    return found  # the body itself: slack.ts_of finds it by identity


def reminders(slack: FakeSlack, channel: str) -> list[dict[str, Any]]:
    return [p for p in slack.posts() if p["channel"] == channel and str(p["text"]).startswith("Reminder ")]


def ack_of(message: dict[str, Any]) -> dict[str, Any]:
    (button,) = [b for b in buttons(message) if b["action_id"] == "ack_alarm"]
    return button


def edits_of(slack: FakeSlack, channel: str, ts: str) -> list[dict[str, Any]]:
    return [r.body for r in slack.calls("chat.update") if r.ok and r.body["channel"] == channel and r.body["ts"] == ts]


def alarms(db_url: str) -> list[dict[str, Any]]:
    engine = make_sync_engine(db_url)
    with engine.connect() as conn:
        found = [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM alarms ORDER BY delivery_id"))]
    engine.dispose()
    return found


def test_acknowledge_edits_the_notice_stops_reminders_and_a_recovery_edits_it_again(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot, clock = running(baseten, slack, db_url, tmp_path)
    try:
        command(bot, slack, f"subscribe {MODEL} {PROD} --remind 1m", "C1", "sub1")
        command(bot, slack, f"subscribe {MODEL} {PROD} --remind 1m", "C2", "sub2")  # shows the passes go on
        baseten.set_status(MODEL, PROD, "UNHEALTHY")
        first = notice(slack, "C1")
        ts = slack.ts_of(first)
        button = ack_of(first)
        assert button["text"]["text"] == "Acknowledge"
        wait(lambda: len(alarms(db_url)) == 2, what="an alarm per channel")  # recorded as sent: the clock may move

        clock.move(61)
        (reminder,) = wait(lambda: reminders(slack, "C1"), what="the first reminder")
        assert reminder["text"].startswith("Reminder 1 of 8: llama-3-8b · v3 still UNHEALTHY for 1m")
        assert reminder["thread_ts"] == ts and reminder["reply_broadcast"] in (True, "true", "1")
        assert ack_of(reminder)["value"] == button["value"]  # the reminder acknowledges the same alarm

        click(bot, slack, ack_of(reminder), user="U0ALICE", name="ack", channel="C1")
        (edit,) = wait(lambda: edits_of(slack, "C1", ts), what="the notice edited")
        shown = json.dumps(blocks_of(edit))
        assert "Acknowledged by <@U0ALICE> at" in shown and "ack_alarm" not in shown
        assert edit["text"] == FAILING  # the same notice, drawn again
        line = wait(lambda: [p for p in slack.posts() if "acknowledged this" in p["text"]], what="the thread line")
        assert line[0]["text"] == "<@U0ALICE> acknowledged this; reminders stopped"
        assert line[0]["channel"] == "C1" and line[0]["thread_ts"] == ts
        assert "acknowledged by U0ALICE" in bot.output()

        click(bot, slack, button, user="U0BOB", name="again", channel="C1")  # a second click: told, nothing more
        assert "already acknowledged by <@U0ALICE>" in str(answer(slack, "again")["text"])

        wait(lambda: reminders(slack, "C2"), what="C2's first reminder")
        clock.move(61)
        wait(lambda: len(reminders(slack, "C2")) == 2, what="C2's second reminder: a pass after the move")
        assert len(reminders(slack, "C1")) == 1  # acknowledged: no more
        (row,) = [a for a in alarms(db_url) if a["channel_id"] == "C1"]
        assert row["acked_by"] == "U0ALICE" and row["acked_at"] is not None and row["reminders"] == 1

        baseten.set_status(MODEL, PROD, "ACTIVE")  # it recovers: the acknowledged notice says so
        # (the recovery replies in the notice's thread, whose parent is also edited to show the latest)
        said = wait(
            lambda: [e for e in edits_of(slack, "C1", ts) if "recovered" in json.dumps(blocks_of(e))],
            what="the notice edited to say it recovered",
        )
        shown = json.dumps(blocks_of(said[0]))
        assert "Acknowledged by <@U0ALICE>" in shown and "recovered (now `ACTIVE`)" in shown
        assert "ack_alarm" not in shown
        assert [a["ended_why"] for a in alarms(db_url)] == ["recovered", "recovered"]
        assert "Traceback" not in bot.output()
    finally:
        bot.stop()


def test_reminders_come_at_their_interval_capped_paused_by_a_mute_and_ended_by_a_recovery(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot, clock = running(baseten, slack, db_url, tmp_path)
    try:
        said = command(bot, slack, f"subscribe {MODEL} {PROD} --remind 1m --remind-max 2", "C1", "sub1")
        assert "reminds every 1m, at most 2 times" in json.dumps(said)
        for channel in ("C2", "C3"):
            command(bot, slack, f"subscribe {MODEL} {PROD} --remind 1m --remind-max 4", channel, f"sub-{channel}")
        listing = json.dumps(command(bot, slack, "list", "C1", "list"))
        assert "reminds every 1m, at most 2 times" in listing

        baseten.set_status(MODEL, PROD, "UNHEALTHY")
        for channel in ("C1", "C2", "C3"):
            notice(slack, channel)
        wait(lambda: len(alarms(db_url)) == 3, what="an alarm per channel")
        command(bot, slack, f"mute {MODEL} {PROD} 2h", "C3", "mute")  # pauses C3's reminders
        for n in (1, 2, 3):
            clock.move(61)
            wait(lambda n=n: len(reminders(slack, "C2")) == n, what=f"C2's reminder {n}")
        assert [p["text"].split(":")[0] for p in reminders(slack, "C2")] == [f"Reminder {n} of 4" for n in (1, 2, 3)]
        texts = [p["text"] for p in reminders(slack, "C1")]
        assert [t.split(":")[0] for t in texts] == ["Reminder 1 of 2", "Reminder 2 of 2"]  # capped at 2
        assert texts[-1].endswith("the last reminder")
        assert reminders(slack, "C3") == []  # muted

        command(bot, slack, f"unmute {MODEL} {PROD}", "C3", "unmute")  # they go on after the mute
        (resumed,) = wait(lambda: reminders(slack, "C3"), what="C3's reminder after the mute")
        assert resumed["text"].startswith("Reminder 1 of 4: llama-3-8b · v3 still UNHEALTHY for 3m")

        baseten.set_status(MODEL, PROD, "ACTIVE")
        wait(lambda: all(a["ended_why"] == "recovered" for a in alarms(db_url)), what="every alarm recovered")
        before = len(slack.posts())
        clock.move(61)
        time.sleep(6)  # more than an on-call pass after the move: C2 and C3 were owed one more, not now
        assert [p for p in slack.posts()[before:] if p["text"].startswith("Reminder ")] == []
        assert "Traceback" not in bot.output()
    finally:
        bot.stop()


def test_with_ack_operators_only_a_non_operator_is_refused_and_an_operator_acknowledges(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot, _ = running(baseten, slack, db_url, tmp_path, ACK_OPERATORS_ONLY="true")
    try:
        command(bot, slack, f"subscribe {MODEL} {PROD}", "C1", "sub1")
        baseten.set_status(MODEL, PROD, "BUILD_FAILED")
        (found,) = wait(lambda: [p for p in slack.posts() if p["text"] == "llama-3-8b / v3: ACTIVE → BUILD_FAILED"])
        ts = slack.ts_of(found)
        click(bot, slack, ack_of(found), user="U0MALLORY", name="no", channel="C1")
        refused = answer(slack, "no")
        assert refused["response_type"] == "ephemeral" and "Only the bot's operators" in str(refused["text"])
        assert edits_of(slack, "C1", ts) == [] and alarms(db_url)[0]["acked_by"] is None

        click(bot, slack, ack_of(found), user="U0CAROL", name="yes", channel="C1")  # an operator by her group
        (edit,) = wait(lambda: edits_of(slack, "C1", ts), what="the notice edited")
        assert "Acknowledged by <@U0CAROL>" in json.dumps(blocks_of(edit))
        assert alarms(db_url)[0]["acked_by"] == "U0CAROL"
        assert not slack.responses("yes")  # the edited notice is the answer
    finally:
        bot.stop()
