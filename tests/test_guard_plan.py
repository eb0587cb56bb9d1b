"""The promotion guard's plan (bot.guard.plan), with plain values: who guards which
environment, which comparisons a pass makes, and over which windows. No I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.guard import AFTER, ROLLOUT, Check, Promoted
from bot.domain.promotions import FINAL, EnvState
from bot.domain.watchers import Watcher
from bot.guard.plan import after_checks, guarded, rollout_checks, windows

NOW = datetime(2026, 12, 5, 10, 30, tzinfo=UTC)
KEY_AT = datetime(2026, 12, 5, 10, 15, tzinfo=UTC)
KEY = "staging/cand1/20261205T101500"
AFTER_FOR = timedelta(minutes=30)
WINDOW = timedelta(minutes=10)  # the longest window the guard reads (bot.guard.plan.WINDOW)


def watcher(sid: int, target: str, model: str = "m1", **kw: object) -> Watcher:
    return Watcher(sid, "T1", f"C{sid}", model, target, frozenset(), **kw)  # type: ignore[arg-type]


def state(**kw: object) -> EnvState:
    values: dict[str, object] = {
        "model_id": "m1",
        "name": "staging",
        "current_id": "cur1",
        "current_name": "v1",
        "candidate_id": "cand1",
        "candidate_name": "v2",
        "status": "RAMPING_UP",
        "key": KEY,
        "since": NOW - timedelta(minutes=3),
    }
    values.update(kw)
    return EnvState(**values)  # type: ignore[arg-type]


def promoted(
    tid: int, at: datetime, *, env: str = "staging", new: str = "new1", previous: str | None = "old1"
) -> Promoted:
    return Promoted(tid, "m1", env, new, f"name-{new}", previous, f"name-{previous}", at)


# -- guarded -----------------------------------------------------------------------------------


def test_guarded_groups_the_watchers_of_an_environment_and_leaves_out_the_rest() -> None:
    staging_a, staging_b = watcher(1, "env:staging"), watcher(2, "env:staging", guard="5xx:1%,p95:2x,min:50")
    prod = watcher(3, "production")
    other_model = watcher(4, "env:staging", model="m2")
    left_out = [
        watcher(10, "*"),  # the whole model: hears no promotions
        watcher(11, "dep1abcd"),  # one deployment
        watcher(12, "env:staging", paused=True),
        watcher(13, "production", guard="off"),
        watcher(14, "env:staging", model="chain:abc"),
        watcher(15, "production", model="training:abc"),
    ]
    out = guarded([staging_a, *left_out, prod, staging_b, other_model])
    assert out == {
        ("m1", "staging"): [staging_a, staging_b],
        ("m1", "production"): [prod],
        ("m2", "staging"): [other_model],
    }


def test_an_unreadable_stored_guard_still_guards_with_the_default() -> None:
    w = watcher(1, "env:canary", guard="5xx:nonsense")
    assert guarded([w]) == {("m1", "canary"): [w]}


def test_no_watchers_guard_nothing() -> None:
    assert guarded([]) == {}
    assert guarded([watcher(1, "env:staging", guard="off")]) == {}


# -- rollout_checks ----------------------------------------------------------------------------


def test_a_promotion_under_way_is_one_rollout_check_from_its_key_time() -> None:
    states = {"m1": {"staging": state(), "production": state(name="production", status=None)}}
    checks = rollout_checks([("m1", "staging"), ("m1", "production")], states, NOW)
    assert checks == [
        Check("m1", "staging", KEY, ROLLOUT, "cand1", "v2", "cur1", "v1", started_at=KEY_AT),
    ]
    assert checks[0].ends_at is None and checks[0].announced == frozenset()


@pytest.mark.parametrize(
    "changed",
    [
        {"status": None},  # no promotion seen
        *({"status": s} for s in sorted(FINAL)),
        {"key": None},
        {"key": ""},
        {"candidate_id": None},
        {"current_id": None},
        {"candidate_id": ""},
        {"candidate_id": "cur1"},  # the candidate is the current one already
    ],
)
def test_no_rollout_check_without_a_promotion_between_two_known_deployments(changed: dict[str, object]) -> None:
    assert rollout_checks([("m1", "staging")], {"m1": {"staging": state(**changed)}}, NOW) == []


def test_no_rollout_check_for_an_environment_the_poller_has_not_seen() -> None:
    assert rollout_checks([("m1", "staging")], {}, NOW) == []
    assert rollout_checks([("m1", "canary")], {"m1": {"staging": state()}}, NOW) == []
    assert rollout_checks([], {"m1": {"staging": state()}}, NOW) == []


@pytest.mark.parametrize("status", ["RELEASING", "RAMPING_UP", "RAMPING_DOWN", "PAUSED"])
def test_every_status_not_an_end_is_under_way(status: str) -> None:
    (check,) = rollout_checks([("m1", "staging")], {"m1": {"staging": state(status=status)}}, NOW)
    assert (check.candidate_id, check.baseline_id, check.key) == ("cand1", "cur1", KEY)


def test_a_key_without_a_timestamp_starts_the_check_when_the_status_was_first_seen() -> None:
    since = NOW - timedelta(minutes=7)
    for key in ("staging/cand1/not-a-time", "staging/cand1/20261305T101500", "nokey"):
        (check,) = rollout_checks([("m1", "staging")], {"m1": {"staging": state(key=key, since=since)}}, NOW)
        assert (check.key, check.started_at) == (key, since)
    (check,) = rollout_checks([("m1", "staging")], {"m1": {"staging": state(key="x/y/z", since=None)}}, NOW)
    assert check.started_at == NOW


# -- after_checks ------------------------------------------------------------------------------


def test_a_recent_promotion_is_one_after_check_against_the_replaced_deployment() -> None:
    at = NOW - timedelta(minutes=5)
    (check,) = after_checks([("m1", "staging")], [promoted(7, at)], NOW, AFTER_FOR)
    assert check == Check(
        "m1",
        "staging",
        "after/new1/7",
        AFTER,
        "new1",
        "name-new1",
        "old1",
        "name-old1",
        started_at=at,
        ends_at=at + AFTER_FOR,
    )


def test_only_the_latest_promotion_of_each_environment_is_checked() -> None:
    promotions = [
        promoted(3, NOW - timedelta(minutes=9), new="a"),
        promoted(5, NOW - timedelta(minutes=2), new="c"),  # the latest of staging
        promoted(4, NOW - timedelta(minutes=4), new="b"),
        promoted(8, NOW - timedelta(minutes=1), env="production", new="p2"),
        promoted(6, NOW - timedelta(minutes=3), env="production", new="p1"),
    ]
    checks = after_checks([("m1", "staging"), ("m1", "production")], promotions, NOW, AFTER_FOR)
    assert sorted((c.environment, c.key) for c in checks) == [("production", "after/p2/8"), ("staging", "after/c/5")]


def test_at_the_same_moment_the_later_transition_is_the_latest() -> None:
    at = NOW - timedelta(minutes=2)
    (check,) = after_checks([("m1", "staging")], [promoted(9, at, new="b"), promoted(2, at, new="a")], NOW, AFTER_FOR)
    assert check.key == "after/b/9"


@pytest.mark.parametrize(
    ("ago", "checked"),
    [
        (timedelta(0), True),  # at the promotion itself
        (AFTER_FOR - timedelta(seconds=1), True),
        (AFTER_FOR, False),  # the window is [at, at + after)
        (AFTER_FOR + timedelta(minutes=1), False),
        (-timedelta(seconds=1), False),  # recorded after `now`
    ],
)
def test_an_after_check_lasts_from_the_promotion_for_after(ago: timedelta, checked: bool) -> None:
    checks = after_checks([("m1", "staging")], [promoted(1, NOW - ago)], NOW, AFTER_FOR)
    assert [c.key for c in checks] == (["after/new1/1"] if checked else [])


def test_a_newer_promotion_without_a_known_previous_hides_the_older_one() -> None:
    older = promoted(1, NOW - timedelta(minutes=5))
    for newest in (promoted(2, NOW - timedelta(minutes=1), previous=None), promoted(2, NOW, new="x", previous="x")):
        assert after_checks([("m1", "staging")], [older, newest], NOW, AFTER_FOR) == []
    assert [c.key for c in after_checks([("m1", "staging")], [older], NOW, AFTER_FOR)] == ["after/new1/1"]


def test_no_after_check_for_an_environment_nobody_guards() -> None:
    promotions = [promoted(1, NOW - timedelta(minutes=1)), promoted(2, NOW - timedelta(minutes=1), env="canary")]
    assert [c.environment for c in after_checks([("m1", "canary")], promotions, NOW, AFTER_FOR)] == ["canary"]
    assert after_checks([("m2", "staging")], promotions, NOW, AFTER_FOR) == []
    assert after_checks([], promotions, NOW, AFTER_FOR) == []


# -- windows -----------------------------------------------------------------------------------


def rollout(started: datetime) -> Check:
    return Check("m1", "staging", KEY, ROLLOUT, "cand1", "v2", "cur1", "v1", started_at=started)


@pytest.mark.parametrize(
    ("ago", "start"),
    [
        (timedelta(minutes=3), NOW - timedelta(minutes=3)),
        (WINDOW, NOW - WINDOW),
        (timedelta(hours=2), NOW - WINDOW),  # a long rollout: its last WINDOW
        (timedelta(0), NOW),
    ],
)
def test_a_rollout_compares_both_over_the_same_window(ago: timedelta, start: datetime) -> None:
    candidate, baseline = windows(rollout(NOW - ago), NOW)
    assert candidate == baseline == (start, NOW)


@pytest.mark.parametrize(
    ("ago", "length"),
    [
        (timedelta(minutes=4), timedelta(minutes=4)),
        (timedelta(seconds=20), timedelta(minutes=1)),  # at least a minute before the promotion
        (timedelta(0), timedelta(minutes=1)),
        (timedelta(minutes=25), WINDOW),
    ],
)
def test_after_a_promotion_the_baseline_is_as_long_just_before_it(ago: timedelta, length: timedelta) -> None:
    at = NOW - ago
    check = replace(rollout(at), phase=AFTER, key="after/cand1/1", ends_at=at + AFTER_FOR)
    (c_start, c_end), (b_start, b_end) = windows(check, NOW)
    assert (c_start, c_end) == (max(at, NOW - WINDOW), NOW)
    assert (b_start, b_end) == (at - length, at)
    assert b_end - b_start == max(c_end - c_start, timedelta(minutes=1))
