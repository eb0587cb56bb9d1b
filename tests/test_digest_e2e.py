"""The per-channel digest (issue 25; CONTRACT.md "Cost"), end to end: the real `serve` process fed signed
`/baseten digest …` commands, its clock moved by the test (BOT_TEST_CLOCK_FILE), the fake Slack recording
every post. A digest due within a minute is sent once; once also across a restart; a period missed while
no bot ran is sent once when one runs again (only the latest); bad input and non-admins change nothing."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import MODEL, BotProcess, any_database, bot_env
from tests.fakes import FakeBaseten, FakeSlack, wait_until
from tests.test_act_cards_e2e import Clock
from tests.test_slash_e2e import answer, post_command

pytestmark = any_database  # the store is the same on both databases: tests/test_digest_store.py runs on both

PASS = 5.0  # bot.app.service.DIGEST_CHECK_SECONDS


def start(baseten: FakeBaseten, slack: FakeSlack, db_url: str, log: Path, clock: Clock, **extra: str) -> BotProcess:
    bot = BotProcess(bot_env(baseten, slack, db_url, BOT_TEST_CLOCK_FILE=str(clock.path), **extra), log)
    bot.wait_healthy()
    return bot


def digests(slack: FakeSlack, channel: str = "C0GENERAL") -> list[dict[str, Any]]:
    return [p for p in slack.posts() if p.get("channel") == channel and str(p.get("text", "")).startswith("Digest")]


def due_soon(clock: Clock) -> datetime:
    """The next whole minute of the bot's clock at least 10 seconds away: the digest's time."""
    now = datetime.now(UTC) + timedelta(seconds=clock.offset)
    return (now + timedelta(seconds=70)).replace(second=0, microsecond=0)


def until_due(clock: Clock, due: datetime) -> float:
    """Seconds from the bot's now to `due`."""
    return (due - (datetime.now(UTC) + timedelta(seconds=clock.offset))).total_seconds()


def test_a_digest_due_within_a_minute_is_sent_once_also_across_restarts(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    clock = Clock(tmp_path / "clock")
    bot = start(baseten, slack, db_url, tmp_path / "a.log", clock)
    try:
        post_command(bot, slack, f"subscribe {MODEL}", name="sub")
        assert answer(slack, "sub")["response_type"] == "in_channel"
        due = due_soon(clock)
        post_command(bot, slack, f"digest daily {due:%H:%M}", name="set")
        said = answer(slack, "set")
        assert said["response_type"] == "in_channel" and "set a digest" in str(said["blocks"]), said
        post_command(bot, slack, "list", name="list")
        assert f"daily at {due:%H:%M} UTC, next <!date^{int(due.timestamp())}^" in str(answer(slack, "list")["blocks"])
        time.sleep(PASS + 1)
        assert digests(slack) == []  # not before its time
        clock.move(until_due(clock, due) - 3)  # three seconds before it is due
        wait_until(lambda: digests(slack), timeout=20, what="the digest")
        time.sleep(2 * PASS + 1)  # two more passes: nothing more
        (sent,) = digests(slack)
        assert "What changed" in str(sent["blocks"])
        # its spend, from the fake Baseten's billing (nothing billed): said as $0.00, never made up
        assert "*Spend*\\n• $0.00 in the last day (USD, Baseten's billing)" in str(sent["blocks"])
    finally:
        assert bot.stop() == 0
    again = start(baseten, slack, db_url, tmp_path / "b.log", clock)  # a restart on the same database
    try:
        time.sleep(2 * PASS + 1)
        assert len(digests(slack)) == 1, "the period sent before the restart was sent again"
    finally:
        again.stop()
    clock.move(3 * 86400)  # down for three days: three periods missed
    last = start(baseten, slack, db_url, tmp_path / "c.log", clock)
    try:
        wait_until(lambda: len(digests(slack)) == 2, timeout=20, what="the latest missed digest")
        time.sleep(2 * PASS + 1)
        assert len(digests(slack)) == 2  # only the latest missed period
        assert "sent the digest of C0GENERAL" in last.output()
    finally:
        last.stop()


def test_bad_input_and_non_admins_change_nothing_and_setting_again_replaces(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    clock = Clock(tmp_path / "clock")
    bot = start(baseten, slack, db_url, tmp_path / "bot.log", clock, ADMIN_USER_IDS="U0BOSS")
    try:
        refused = post_command(bot, slack, "digest daily 09:00", user="U0ALICE").json()
        assert "Only the bot's admins" in refused["text"]
        bad = post_command(bot, slack, "digest daily 25:00 Europe/Berlin", user="U0BOSS").json()
        assert "`25:00` is not a time of day" in bad["text"] and bad["response_type"] == "ephemeral"
        post_command(bot, slack, "list", name="empty", user="U0ALICE")
        assert "Digest" not in str(answer(slack, "empty"))
        post_command(bot, slack, "digest weekly mon 09:00 Europe/Berlin", name="set", user="U0BOSS")
        assert "weekly on Monday at 09:00 Europe/Berlin" in str(answer(slack, "set")["blocks"])
        post_command(bot, slack, "digest daily 18:30", name="again", user="U0BOSS")
        replaced = answer(slack, "again")
        assert replaced["response_type"] == "in_channel"
        assert "weekly on Monday at 09:00 Europe/Berlin → daily at 18:30 UTC" in str(replaced["blocks"])
        post_command(bot, slack, "list", name="list", user="U0ALICE")
        assert "*Digest*: daily at 18:30 UTC, next" in str(answer(slack, "list")["blocks"])
        post_command(bot, slack, "digest off", name="off", user="U0BOSS")
        assert "turned off this channel's digest" in str(answer(slack, "off")["blocks"])
        post_command(bot, slack, "digest off", name="off2", user="U0BOSS")
        assert "no digest; nothing changed" in str(answer(slack, "off2")["blocks"])
    finally:
        bot.stop()
