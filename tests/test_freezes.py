"""Freezes, pure: weekly windows at their edges (across DST and the week's end), what a freeze
covers, and the parser of `freeze`, `unfreeze`, `freezes` and of an action's reason and `--override`."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from bot.actions.rules import environments_of, needs_approval, parse_required
from bot.actions.verbs import VERBS
from bot.app.db import make_async_engine, sessions
from bot.commands.parse import parse
from bot.commands.typed import Act, Freeze, ListFreezes, Unfreeze, UsageError
from bot.domain.freezes import ALL, NOWHERE, Weekly, holding, holding_all, refuses, weekly_from_words
from bot.domain.freezes import Freeze as Held
from bot.store import Store

BERLIN_WEEKEND = Weekly(4, time(17, 0), 0, time(9, 0), "Europe/Berlin")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "until"),
    [
        ("2026-03-27 15:59", None),  # Friday 16:59 CET: not yet
        ("2026-03-27 16:00", "2026-03-30 07:00"),  # Friday 17:00 CET to Monday 09:00 CEST (spring forward)
        ("2026-03-30 06:59", "2026-03-30 07:00"),
        ("2026-03-30 07:00", None),  # Monday 09:00 CEST: over, an hour earlier in UTC than the week before
        ("2026-03-23 07:59", "2026-03-23 08:00"),  # the week before: Monday 09:00 CET
        ("2026-10-23 15:00", "2026-10-26 08:00"),  # fall back: Friday 17:00 CEST to Monday 09:00 CET
        ("2026-10-26 07:59", "2026-10-26 08:00"),
        ("2026-10-26 08:00", None),
        ("2026-10-28 12:00", None),  # Wednesday
    ],
)
def test_a_weekly_freeze_holds_from_its_local_start_to_its_local_end_across_dst(now: str, until: str | None) -> None:
    window = BERLIN_WEEKEND.window_at(at(now))
    assert (window[1] if window else None) == (at(until) if until else None)


def test_a_window_across_the_weeks_end_and_one_ending_earlier_on_its_own_day() -> None:
    night = Weekly(6, time(23, 0), 0, time(1, 0))  # Sunday 23:00 to Monday 01:00
    assert night.window_at(at("2026-06-01 00:30")) == (at("2026-05-31 23:00"), at("2026-06-01 01:00"))
    assert night.window_at(at("2026-06-01 01:00")) is None
    most = Weekly(5, time(22, 0), 5, time(6, 0))  # Saturday 22:00 until the next Saturday 06:00
    start = at("2026-06-06 22:00")
    assert most.window_at(start + timedelta(days=6, hours=7, minutes=59)) == (start, start + timedelta(days=6, hours=8))
    assert most.window_at(at("2026-06-06 21:00")) is None


def test_weekly_words_round_trip() -> None:
    assert BERLIN_WEEKEND.words == "fri 17:00 - mon 09:00"
    assert weekly_from_words(BERLIN_WEEKEND.words, "Europe/Berlin") == BERLIN_WEEKEND
    with pytest.raises(ValueError, match="not a weekly freeze"):
        weekly_from_words("fri 17:00 mon 09:00", "UTC")


def test_what_a_freeze_covers_and_which_holds() -> None:
    now = at("2026-06-01 12:00")
    one = Held(1, "m1", "llama", "production", "U1", "release", now - timedelta(hours=1), now + timedelta(hours=1))
    every = Held(2, ALL, "", ALL, "U2", "", now, now + timedelta(hours=3))
    later = Held(3, "m1", "llama", ALL, "U3", "", now + timedelta(hours=1), now + timedelta(hours=5))
    assert one.covers("m1", "production") and not one.covers("m1", "staging") and not one.covers("m2", "production")
    assert one.covers("m1", ALL)  # a new deployment: any of the model's environments
    assert holding([one], "m1", "production", now) == (one, now + timedelta(hours=1))
    assert holding([one, every, later], "m1", "production", now) == (every, now + timedelta(hours=3))  # ends last
    assert holding([one, later], "m1", "staging", now) is None  # `later` has not begun
    assert holding([one], "m1", "production", now + timedelta(hours=1)) is None  # its end is not in it
    assert every.what == "every model in every environment" and one.what == "llama in production"
    assert refuses("promote") and refuses("resume_promotion") and refuses("force_roll_forward_promotion")
    assert not refuses("pause_promotion") and not refuses("cancel_promotion") and not refuses("deactivate")


def test_an_actions_environments_come_from_what_it_names_or_its_deployments_role() -> None:
    deactivate, promote, pause, stop = (VERBS[v] for v in ("deactivate", "promote", "pause_promotion", "stop"))
    assert environments_of(deactivate, "production", "staging") == ("staging",)  # staging's current
    assert environments_of(deactivate, "production", "production, staging") == ("production", "staging")
    assert environments_of(deactivate, "production", "development") == ()  # development: no environment
    assert environments_of(deactivate, "production", "-") == ()
    assert environments_of(promote, "staging", "production") == ("staging",)  # where it promotes to
    assert environments_of(pause, "qa", "") == ("qa",)
    assert environments_of(stop, "production", "") == ()


def test_freezes_match_environments_in_any_case_and_a_deployment_in_none_only_by_a_freeze_of_every_one() -> None:
    now = at("2026-06-01 12:00")
    typed = Held(1, "m1", "llama", "Staging", "U1", "", now, now + timedelta(hours=1))
    every = Held(2, "m1", "llama", ALL, "U1", "", now, now + timedelta(hours=2))
    assert typed.covers("m1", "staging") and typed.covers("m1", "STAGING") and not typed.covers("m1", "production")
    assert not typed.covers("m1", NOWHERE) and every.covers("m1", NOWHERE)
    assert holding_all([typed, every], "m1", ("production", "staging"), now) == [
        (every, now + timedelta(hours=2)),
        (typed, now + timedelta(hours=1)),
    ]
    assert holding_all([typed], "m1", (), now) == [] and holding_all([every], "m1", (), now) != []


def test_freeze_commands_parse() -> None:
    assert parse("freeze 2h") == Freeze(ALL, ALL, duration=timedelta(hours=2))
    assert parse('freeze llama env:Production 30m "release week"') == Freeze(
        "llama", "production", duration=timedelta(minutes=30), reason="release week"
    )
    assert parse("freeze all weekly fri 17:00-mon 9:00 europe/berlin") == Freeze(ALL, ALL, weekly=BERLIN_WEEKEND)
    assert parse("unfreeze") == Unfreeze(ALL, None)
    assert parse("unfreeze llama env:staging") == Unfreeze("llama", "staging")
    assert parse("freezes") == ListFreezes()


def test_an_action_takes_a_reason_in_quotes_and_override() -> None:
    assert parse("promote llama v4 “fixes OOM” --override") == Act(
        "promote", "llama", "v4", reason="fixes OOM", override=True
    )
    assert parse('rollback llama env:staging "bad p95"') == Act("rollback", "llama", "", "staging", reason="bad p95")


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("freeze llama", "needs how long"),
        ("freeze 2h 3h", "Too many arguments"),
        ("freeze 45d", "too long"),
        ("freeze chain:c 2h", "name a model, or `all`"),
        ("freeze all env:a env:b 2h", "one `env:NAME`"),
        ("freeze all weekly fri 17:00", "weekly DAY HH:MM - DAY HH:MM"),
        ("freeze all weekly fri 17:00 - fri 17:00", "another time"),
        ("freeze all weekly fry 17:00 - mon 09:00", "not a day of the week"),
        ("freeze all weekly fri 25:00 - mon 09:00", "not a time of day"),
        ("freeze all weekly fri 17:00 - mon 09:00 Mars/Base", "not a time zone"),
        ('freeze 2h "a" "b"', "Put the reason last"),
        ('promote llama "v4', "Put the reason last"),
        ('status llama "why"', "takes no reason"),
        ("unfreeze llama 2h", "Too many arguments"),
        ("freezes now", "takes no arguments"),
        ('freeze 2h "' + "x" * 301 + '"', "too long"),
    ],
)
def test_bad_freeze_input_gets_a_specific_answer(text: str, said: str) -> None:
    with pytest.raises(UsageError, match=said):
        parse(text)


def test_approval_required_pairs() -> None:
    pairs = parse_required(" promote:production, rollback:* ,scale-to-zero:Staging,,")
    assert pairs == {("promote", "production"), ("rollback", "*"), ("scale_to_zero", "staging")}
    assert needs_approval(pairs, "promote", ("Production",)) and needs_approval(pairs, "rollback", ("qa",))
    assert not needs_approval(pairs, "promote", ("staging",)) and not needs_approval(
        pairs, "deactivate", ("production",)
    )
    assert needs_approval(pairs, "scale_to_zero", ("production", "Staging"))
    assert not needs_approval(pairs, "scale_to_zero", ())  # in no environment: only `*` pairs
    assert parse_required("") == frozenset()
    assert parse_required("stop:*,recreate:*") == {("stop", "*"), ("recreate", "*")}
    for bad, said in [
        ("promote", "verb:environment"),
        ("launch:*", "names no action"),
        ("promote:a/b", "a name"),
        ("stop:production", "can never match: a training job is in no environment; use stop:\\*"),
        ("recreate:staging", "can never match"),
    ]:
        with pytest.raises(ValueError, match=said):
            parse_required(bad)


async def test_unfreeze_lifts_a_freeze_whatever_the_case_of_its_environment(db_url: str) -> None:
    engine = make_async_engine(db_url)
    store = Store(sessions(engine))
    try:
        now = datetime.now(UTC)
        typed = Held(0, "m1", "llama", "Staging", "U1", "", now, now + timedelta(hours=1))
        kept = Held(0, "m1", "llama", "production", "U1", "", now, now + timedelta(hours=1))
        first = await store.freezes.add(typed, team_id="T1", channel_id="C1")
        await store.freezes.add(kept, team_id="T1", channel_id="C1")
        assert [f.id for f in await store.freezes.lift("m1", "staging", by="U2")] == [first]
        assert [f.environment for f in await store.freezes.live()] == ["production"]
    finally:
        await engine.dispose()
