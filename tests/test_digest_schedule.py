"""The digest's pure parts: `/baseten digest …` parsed (bot.commands.parse_digest), when a schedule is due
across DST changes, weekdays and zones (bot.domain.digests), what a period sums up to
(bot.domain.digest_summary), and the message (bot.render.digest) within Slack's limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.commands.parse import parse
from bot.commands.typed import Digest, UsageError
from bot.domain.changes import NEW, PROMOTED, STATUS
from bot.domain.digest_summary import Event, summarize
from bot.domain.digests import DAILY, WEEKLY, Schedule, describe, from_words, latest_due, next_due, period
from bot.render.cards import Message
from bot.render.digest import digest_message
from tests.test_render import within_limits


def texts(message: Message) -> str:
    """Every text of the message's blocks, one after another."""
    out = []
    for block in message.blocks:
        if "text" in block:
            out.append(str(block["text"]["text"]))
        out.extend(str(e.get("text", "")) for e in block.get("elements", []))
    return "\n".join(out)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "schedule"),
    [
        ("digest daily 09:00", Schedule(DAILY, 9, 0)),
        ("digest daily 9:05 Europe/Berlin", Schedule(DAILY, 9, 5, "Europe/Berlin")),
        ("DIGEST Daily 23:59 utc", Schedule(DAILY, 23, 59)),
        ("digest weekly mon 09:00", Schedule(WEEKLY, 9, 0, weekday=0)),
        ("digest weekly SUNDAY 00:00 america/new_york", Schedule(WEEKLY, 0, 0, "America/New_York", 6)),
        ("digest weekly Fri 17:30 Asia/Kolkata", Schedule(WEEKLY, 17, 30, "Asia/Kolkata", 4)),
    ],
)
def test_digest_schedules_parse(text: str, schedule: Schedule) -> None:
    assert parse(text) == Digest(schedule)
    assert from_words(schedule.words, schedule.tz) == schedule  # what the store keeps reads back the same


def test_digest_off_parses() -> None:
    assert parse("digest off") == Digest(None)
    assert parse("digest OFF") == Digest(None)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("digest", "needs `daily HH:MM`"),
        ("digest hourly 09:00", "takes `daily`, `weekly` or `off`, not `hourly`"),
        ("digest daily", "needs a time"),
        ("digest daily 24:00", "`24:00` is not a time of day"),
        ("digest daily 9", "`9` is not a time of day"),
        ("digest daily 09:60", "`09:60` is not a time of day"),
        ("digest daily 09:00 Mars/Olympus", "`Mars/Olympus` is not a time zone"),
        ("digest daily 09:00 ../../etc/passwd", "is not a time zone"),
        ("digest daily 09:00 +02:00", "`+02:00` is not a time zone"),
        ("digest daily 09:00 UTC now", "Too many arguments: `now`"),
        ("digest weekly 09:00", "`09:00` is not a day of the week"),
        ("digest weekly mon", "needs a time after the day"),
        ("digest weekly someday 09:00", "`someday` is not a day of the week"),
        ("digest off now", "`digest off` takes nothing more"),
    ],
)
def test_bad_digest_commands_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(text)
    assert says in str(caught.value)
    assert caught.value.usage is not None and "digest" in caught.value.usage


def test_daily_in_utc() -> None:
    s = Schedule(DAILY, 9, 0)
    assert latest_due(s, at("2026-12-05T09:00:00")) == at("2026-12-05T09:00:00")
    assert latest_due(s, at("2026-12-05T08:59:59")) == at("2026-12-04T09:00:00")
    assert next_due(s, at("2026-12-05T09:00:00")) == at("2026-12-06T09:00:00")  # strictly after
    assert period(s, at("2026-12-05T09:00:00")) == (at("2026-12-04T09:00:00"), at("2026-12-05T09:00:00"))


def test_weekly_picks_the_day_in_the_zone() -> None:
    s = Schedule(WEEKLY, 9, 0, "America/New_York", weekday=0)  # Mondays 09:00 in New York (EST: UTC-5)
    wednesday = at("2026-12-09T12:00:00")
    assert latest_due(s, wednesday) == at("2026-12-07T14:00:00")
    assert next_due(s, wednesday) == at("2026-12-14T14:00:00")
    assert period(s, at("2026-12-07T14:00:00")) == (at("2026-11-30T14:00:00"), at("2026-12-07T14:00:00"))
    # Sunday 23:00 in UTC is already Monday 01:00 in Berlin
    berlin = Schedule(WEEKLY, 0, 30, "Europe/Berlin", weekday=0)
    assert latest_due(berlin, at("2026-12-06T23:45:00")) == at("2026-12-06T23:30:00")


def test_a_day_across_the_spring_change_is_23_hours_and_the_autumn_one_25() -> None:
    s = Schedule(DAILY, 9, 0, "Europe/Berlin")
    spring = at("2026-03-29T07:00:00")  # 09:00 CEST, the first day of summer time
    assert latest_due(s, at("2026-03-29T12:00:00")) == spring
    start, end = period(s, spring)
    assert (start, end) == (at("2026-03-28T08:00:00"), spring) and end - start == timedelta(hours=23)
    autumn = at("2026-10-25T08:00:00")  # 09:00 CET again
    start, end = period(s, autumn)
    assert start == at("2026-10-24T07:00:00") and end - start == timedelta(hours=25)


def test_a_skipped_time_is_due_when_the_clocks_jump_and_a_doubled_one_once() -> None:
    s = Schedule(DAILY, 2, 30, "Europe/Berlin")  # 02:30 does not exist on 2026-03-29, and is twice on 10-25
    assert latest_due(s, at("2026-03-29T05:00:00")) == at("2026-03-29T01:30:00")  # 03:30 CEST
    assert latest_due(s, at("2026-10-25T05:00:00")) == at("2026-10-25T00:30:00")  # the first 02:30 (CEST)
    dues, now = [], at("2026-01-01T00:00:00")
    while now < at("2027-01-01T00:00:00"):
        now = next_due(s, now)
        dues.append(now)
    assert len(dues) == 366 and dues == sorted(set(dues))  # one a local date, none twice, in order


def test_describe() -> None:
    assert describe(Schedule(DAILY, 9, 0, "Europe/Berlin")) == "daily at 09:00 Europe/Berlin"
    assert describe(Schedule(WEEKLY, 17, 5, "UTC", 4)) == "weekly on Friday at 17:05 UTC"


START, END, PREVIOUS = at("2026-12-05T09:00:00"), at("2026-12-06T09:00:00"), at("2026-12-04T09:00:00")


def events() -> list[Event]:
    return [
        Event(STATUS, "m1", "d1", "ACTIVE", "UNHEALTHY", at("2026-12-04T10:00:00")),  # the period before
        Event(STATUS, "m1", "d1", "UNHEALTHY", "ACTIVE", at("2026-12-04T11:00:00")),
        Event(STATUS, "m1", "d1", "ACTIVE", "UNHEALTHY", at("2026-12-05T10:00:00")),
        Event(STATUS, "m1", "d1", "UNHEALTHY", "ACTIVE", at("2026-12-05T13:00:00")),
        Event(NEW, "m1", "d2", None, "BUILDING", at("2026-12-05T14:00:00")),
        Event(STATUS, "m1", "d2", "BUILDING", "BUILD_FAILED", at("2026-12-05T14:30:00")),
        Event(PROMOTED, "m1", "d3", "ACTIVE", "ACTIVE", at("2026-12-05T15:00:00")),
    ]


def test_a_period_sums_up_counts_time_failing_and_movers() -> None:
    summary = summarize(events(), {("m1", "d4"): "FAILED"}, previous=PREVIOUS, start=START, end=END)
    now = summary.now
    assert (now.deploys, now.failures, now.recoveries, now.promotions) == (1, 2, 1, 1)
    # d1 3h, d2 from 14:30 to the end (18h 30m), d4 failing throughout (24h)
    assert now.failing == timedelta(hours=3) + timedelta(hours=18, minutes=30) + timedelta(hours=24)
    assert summary.before.failing == timedelta(hours=1) + timedelta(hours=24) and summary.before.failures == 1
    assert [(m.deployment_id, m.status) for m in summary.movers] == [
        ("d4", "FAILED"),
        ("d2", "BUILD_FAILED"),
        ("d1", "ACTIVE"),
        ("d3", None),
    ]
    assert summary.failing_at_end == ((("m1", "d2"), "BUILD_FAILED"), (("m1", "d4"), "FAILED"))


def test_the_message_says_what_changed_and_nothing_of_spend_without_a_source() -> None:
    summary = summarize(events(), {}, previous=PREVIOUS, start=START, end=END)
    names = {("m1", "d1"): ("llama", "v1"), ("m1", "d2"): ("llama", "v2"), ("m1", "d3"): ("llama", "v3")}
    message = digest_message(summary, schedule=Schedule(DAILY, 9, 0, "Europe/Berlin"), names=names, watched=2)
    within_limits(message)
    shown = texts(message)
    assert "Failures: *2* (1 the day before)" in shown and "Promotions: *1*" in shown
    assert "*Largest movers*" in shown and "*llama* / *v2*" in shown and "BUILD_FAILED" in shown
    assert "spend" not in shown.lower() and "spend" not in message.text.lower() and "$" not in shown
    assert message.text.startswith("Digest (daily at 09:00 Europe/Berlin): 1 deploy(s), 2 failure(s)")
    with_spend = digest_message(
        summary, schedule=Schedule(WEEKLY, 9, 0, weekday=0), names=names, watched=2, spend=["llama: USD 12.40"] * 40
    )
    within_limits(with_spend)
    assert "*Spend*\n• llama: USD 12.40" in texts(with_spend) and "…and 25 more." in texts(with_spend)


def test_a_quiet_period_and_a_channel_that_watches_nothing() -> None:
    quiet = summarize([], {}, previous=PREVIOUS, start=START, end=END)
    message = digest_message(quiet, schedule=Schedule(DAILY, 9, 0), names={}, watched=1)
    assert "Nothing changed in what this channel watches" in texts(message)
    empty = digest_message(quiet, schedule=Schedule(DAILY, 9, 0), names={}, watched=0)
    assert "watches nothing yet" in empty.text


def test_names_from_baseten_cannot_break_the_message() -> None:
    summary = summarize(events(), {}, previous=PREVIOUS, start=START, end=END)
    nasty = "`<!channel>` *x* " + "y" * 5000
    names = {("m1", d): (nasty, nasty) for d in ("d1", "d2", "d3")}
    message = digest_message(summary, schedule=Schedule(DAILY, 9, 0), names=names, watched=1, spend=[nasty] * 20)
    within_limits(message)
    assert "<!channel>" not in texts(message) and len(message.text) <= 1000
