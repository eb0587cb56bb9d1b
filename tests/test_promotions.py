"""Promotion transitions as pure functions of (what the bot saw, what Baseten answers), and who hears them."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.baseten.models import Environment
from bot.commands.parse import parse
from bot.commands.typed import Status, Subscribe, Unsubscribe, UsageError
from bot.domain.changes import PROMOTED, PROMOTION, STATUS, Change
from bot.domain.promotions import ENDED, FINAL, REPLACED, EnvState
from bot.domain.watchers import Muted, Watcher
from bot.polling.audience import audience, covers
from bot.polling.decide import ModelPlan, decide, plan
from bot.polling.promotions import END, START, STEP, diff_environment
from tests.test_transitions import dep

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(minutes=5)
STATUSES = ["RELEASING", "RAMPING_UP", "RAMPING_DOWN", "PAUSED", "SUCCEEDED", "FAILED", "CANCELED"]


def env(
    name: str = "staging",
    current: str | None = "d1",
    candidate: str | None = "d2",
    status: str | None = "RAMPING_UP",
    traffic: int = 25,
    error: str | None = None,
) -> Environment:
    body: dict[str, Any] = {"name": name, "model_id": "m1"}
    body["current_deployment"] = None if current is None else dep(current).model_dump()
    body["candidate_deployment"] = None if candidate is None else dep(candidate).model_dump()
    if status is not None:
        body["in_progress_promotion"] = {
            "status": status,
            "percent_traffic_to_new_version": traffic,
            "error_message": error,
        }
    return Environment.model_validate(body)


def state(
    status: str | None = "RAMPING_UP", traffic: int | None = 25, candidate: str | None = "d2", **kw: Any
) -> EnvState:
    defaults: dict[str, Any] = {"model_id": "m1", "name": "staging", "current_id": "d1", "current_name": "d1"}
    key = "staging/d2/x" if status is not None else None
    return EnvState(
        **{**defaults, **kw},
        candidate_id=candidate if status else None,
        candidate_name=(candidate or "") if status else "",
        status=status,
        traffic=traffic if status else None,
        key=key,
        since=EARLIER,
    )


def only(changes: list[Change]) -> Change:
    assert len(changes) == 1, changes
    return changes[0]


@pytest.mark.parametrize(("before", "after"), list(itertools.product(STATUSES, STATUSES)))
def test_every_status_to_every_status(before: str, after: str) -> None:
    written, changes = diff_environment(state(before), env(status=after), model_id="m1", now=NOW)
    if before == after:
        assert (written, changes) == (None, [])  # nothing moved: nothing written, nothing said
        return
    assert written is not None and written.status == after and written.since == NOW
    change = only(changes)
    assert (change.kind, change.deployment_id, change.new_status) == (PROMOTION, "d2", after)
    if before in FINAL and after not in FINAL:  # the same candidate promoted again: a new promotion
        assert change.old_status is None and change.detail["phase"] == START
        assert written.key != "staging/d2/x" and change.detail["key"] == written.key
        return
    assert change.old_status == before and change.old_since == EARLIER
    assert change.detail["phase"] == (END if after in FINAL else STEP)
    assert change.detail["final"] is (after in FINAL)
    assert change.detail["key"] == written.key == "staging/d2/x"  # the same promotion, the same message


@pytest.mark.parametrize("status", STATUSES)
def test_a_promotion_first_seen_starts_with_its_status(status: str) -> None:
    written, changes = diff_environment(state(None), env(status=status), model_id="m1", now=NOW)
    change = only(changes)
    assert (change.old_status, change.new_status, change.detail["phase"]) == (None, status, START)
    assert change.detail["final"] is (status in FINAL) and change.detail["traffic"] == 25
    assert written is not None and written.key == change.detail["key"] == "staging/d2/20261128T100000"


@pytest.mark.parametrize("status", STATUSES)
def test_a_promotion_that_vanishes(status: str) -> None:
    # its candidate is not current: ended, and Baseten did not say how
    written, changes = diff_environment(state(status), env(candidate=None, status=None), model_id="m1", now=NOW)
    assert written is not None and (written.status, written.key, written.candidate_id) == (None, None, None)
    if status in FINAL:
        assert changes == []  # its end was announced when Baseten showed it
        return
    change = only(changes)
    assert (change.old_status, change.new_status, change.detail["phase"]) == (status, ENDED, END)
    # its candidate is current now: it succeeded, as far as the bot can tell
    _, changes = diff_environment(state(status), env(current="d2", candidate=None, status=None), model_id="m1", now=NOW)
    ended = next(c for c in changes if c.kind == PROMOTION)
    assert (ended.new_status, ended.detail["inferred"], ended.detail["final"]) == ("SUCCEEDED", True, True)


def test_an_inferred_end_names_the_deployment_current_now_by_name() -> None:
    """Issue 22: "Baseten no longer shows the promotion and the candidate is current" named the old
    deployment as current, since the end was built from the state when the promotion was last seen."""
    _, changes = diff_environment(
        state("RAMPING_UP"), env(current="d2", candidate=None, status=None), model_id="m1", now=NOW
    )
    ended = next(c for c in changes if c.kind == PROMOTION)
    assert (ended.detail["current_deployment_id"], ended.detail["current_deployment_name"]) == ("d2", "d2")
    assert ended.deployment_name == "d2"  # the candidate, as it was named when seen


def test_traffic_going_backwards_is_a_step_that_says_so() -> None:
    _, changes = diff_environment(state(traffic=50), env(traffic=25), model_id="m1", now=NOW)
    change = only(changes)
    assert (change.old_status, change.new_status) == ("RAMPING_UP", "RAMPING_UP")
    assert (change.detail["old_traffic"], change.detail["traffic"], change.detail["backwards"]) == (50, 25, True)
    _, forward = diff_environment(state(traffic=25), env(traffic=50), model_id="m1", now=NOW)
    assert "backwards" not in only(forward).detail


def test_a_candidate_that_changes_mid_promotion_ends_one_promotion_and_starts_another() -> None:
    written, changes = diff_environment(state(), env(candidate="d3", traffic=10), model_id="m1", now=NOW)
    old, new = changes
    assert (old.deployment_id, old.new_status, old.detail["phase"], old.detail["replaced_by"]) == (
        "d2",
        REPLACED,
        END,
        "d3",
    )
    assert old.detail["key"] == "staging/d2/x"
    assert (new.deployment_id, new.old_status, new.new_status, new.detail["phase"]) == ("d3", None, "RAMPING_UP", START)
    assert written is not None and written.key == new.detail["key"] != old.detail["key"]


def test_an_error_message_is_a_step_and_kept_the_database_can_hold() -> None:
    _, changes = diff_environment(
        state("FAILED"), env(status="FAILED", error="boom\x00" + "x" * 600), model_id="m1", now=NOW
    )
    error = only(changes).detail["error_message"]
    # the NUL goes (bot.render.text drops control characters; it used to become `?`)
    assert error.startswith("boomx") and "\x00" not in error and len(error) == 500


def test_the_first_sighting_is_a_silent_baseline_that_keys_its_promotion() -> None:
    written, changes = diff_environment(None, env(), model_id="m1", now=NOW)
    assert changes == [] and written is not None and written.key == "staging/d2/20261128T100000"
    written, changes = diff_environment(None, env(candidate=None, status=None), model_id="m1", now=NOW)
    assert changes == [] and written is not None and written.key is None


def test_another_current_deployment_is_a_promotion_into_that_environment() -> None:
    _, changes = diff_environment(state(None), env(current="d2", candidate=None, status=None), model_id="m1", now=NOW)
    change = only(changes)
    assert (change.kind, change.deployment_id, change.new_status) == (PROMOTED, "d2", "STAGING")
    assert change.detail == {"previous_deployment_id": "d1", "previous_deployment_name": "d1", "environment": "staging"}
    # production's comes from the deployment list, as before: not twice
    prod = state(None, name="production")
    assert (
        diff_environment(prod, env("production", current="d2", candidate=None, status=None), model_id="m1", now=NOW)[1]
        == []
    )


# -- who hears a promotion ----------------------------------------------------------


def watcher(sub_id: int, channel: str, target: str, **kw: Any) -> Watcher:
    return Watcher(sub_id, "T1", channel, "m1", target, frozenset(), **kw)


def step(environment: str = "staging", status: str = "RAMPING_UP") -> Change:
    return Change(PROMOTION, "m1", "d2", "v4", "RELEASING", status, NOW, None, {"environment": environment, "key": "k"})


def test_promotions_are_heard_by_their_environment_only() -> None:
    watchers = [
        watcher(1, "C1", "env:staging"),
        watcher(2, "C2", "production"),
        watcher(3, "C3", "*"),
        watcher(4, "C4", "d2"),
        watcher(5, "C5", "env:qa"),
    ]
    roles: dict[str, Any] = {"production_id": "d1", "development_id": None}
    assert [w.channel_id for w in audience(watchers, step(), **roles)] == ["C1"]
    assert [w.channel_id for w in audience(watchers, step("production"), **roles)] == ["C2"]
    promoted = Change(PROMOTED, "m1", "d2", "v4", None, "STAGING", NOW, None, {"environment": "staging"})
    assert [w.channel_id for w in audience(watchers, promoted, **roles)] == ["C1"]  # not production's
    assert audience(watchers, step(), **roles, environments={}) != []
    failures = Watcher(6, "T1", "C6", "m1", "env:staging", frozenset({"failures"}))
    assert audience([failures], step(), **roles) == []
    assert audience([failures], step(status="FAILED"), **roles) == [failures]


def test_an_environment_subscription_follows_its_current_deployment() -> None:
    change = Change(STATUS, "m1", "d2", "v4", "ACTIVE", "UNHEALTHY", NOW)
    roles: dict[str, Any] = {"production_id": "d1", "development_id": None}
    assert covers("env:staging", change, **roles, environments={"staging": "d2"})
    assert not covers("env:staging", change, **roles, environments={"staging": "d1"})
    assert not covers("env:staging", change, **roles)
    muted = watcher(1, "C1", "env:staging", mutes=(Muted("*", NOW + timedelta(hours=1)),))
    assert audience([muted], step(), **roles) == []


def test_environment_subscriptions_read_the_environments_once_per_model() -> None:
    plans = plan([watcher(1, "C1", "env:staging"), watcher(2, "C2", "env:qa"), watcher(3, "C3", "production")])
    assert plans == [
        ModelPlan("m1", "", True, frozenset(), True, roles=frozenset({"production", "env:staging", "env:qa"}))
    ]
    production = [replace(plans[0], roles=frozenset({"production"}))]
    assert plan([watcher(3, "C3", "production")]) == production  # production is an environment too
    whole = [ModelPlan("m1", "", True, frozenset({"d1"}), roles=frozenset({"*"}))]
    assert plan([watcher(1, "C1", "*"), watcher(2, "C1", "d1")]) == whole


def test_decide_announces_a_step_to_the_environment_and_records_its_state() -> None:
    decision = decide(
        watchers=[watcher(1, "C1", "env:staging"), watcher(2, "C2", "*")],
        answers=[(ModelPlan("m1", "llama", True, frozenset(), True), [dep("d1"), dep("d2")])],
        snaps={},
        states={},
        history={},
        now=NOW,
        environments={"m1": [env(traffic=50)]},
        env_states={"m1": {"staging": state()}},
    )
    (out,) = [o for o in decision.outgoing if o.change.kind == PROMOTION]
    assert [w.channel_id for w in out.watchers] == ["C1"] and out.change.detail["traffic"] == 50
    assert [(before, after.traffic) for before, after in decision.environments] == [(state(), 50)]


def test_a_muted_or_filtered_end_still_ends_the_live_message_quietly() -> None:
    """C1 hears the end; C2 is muted and C3 hears only failures: both get the same end marked quiet (an edit
    of their live message, if any, and nothing posted); C4 is paused and C5 watches another environment."""
    later = Muted("env:staging", NOW + timedelta(hours=1))
    watchers = [
        watcher(1, "C1", "env:staging"),
        watcher(2, "C2", "env:staging", mutes=(later,)),
        Watcher(3, "T1", "C3", "m1", "env:staging", frozenset({"failures"})),
        watcher(4, "C4", "env:staging", paused=True),
        watcher(5, "C5", "env:qa"),
        watcher(6, "C1", "env:staging", mutes=(later,)),  # C1 hears it through subscription 1
    ]

    def outgoing(status: str, **answer: Any) -> list[tuple[Change, list[str]]]:
        decision = decide(
            watchers=watchers,
            answers=[(ModelPlan("m1", "llama", True, frozenset(), True), [dep("d1"), dep("d2")])],
            snaps={},
            states={},
            history={},
            now=NOW,
            environments={"m1": [env(status=status, **answer)]},
            env_states={"m1": {"staging": state()}},
        )
        return [(o.change, [w.channel_id for w in o.watchers]) for o in decision.outgoing if o.change.kind == PROMOTION]

    (end, heard), (quiet, muted) = outgoing("SUCCEEDED", traffic=100)
    assert heard == ["C1"] and muted == ["C2", "C3"]
    assert end.detail["final"] and "quiet" not in end.detail
    assert quiet.detail == {**end.detail, "quiet": True} and quiet.new_status == "SUCCEEDED"
    ((step_, heard),) = outgoing("PAUSED")  # a step that is not the end: the mute holds, nothing quiet
    assert heard == ["C1"] and "quiet" not in step_.detail


# -- the command text -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status m1 env:staging", Status("m1", "env:staging")),
        ("status m1 env:production", Status("m1", "env:production")),  # the environment itself
        ("subscribe m1 env:staging --on failures", Subscribe("m1", "env:staging", frozenset({"failures"}))),
        ("subscribe m1 env:production", Subscribe("m1", "production")),  # one target with `production`
        ("subscribe m1 ENV:Production", Subscribe("m1", "production")),
        ("unsubscribe m1 env:qa-2", Unsubscribe("m1", "env:qa-2")),
    ],
)
def test_env_names_parse(text: str, expected: object) -> None:
    assert parse(text, statuses=frozenset({"ACTIVE"})) == expected


@pytest.mark.parametrize("word", ["env:", "env:a/b", "env:<!channel>", "env:" + "x" * 61, "env:stag%20ing"])
def test_env_names_are_checked_before_any_request(word: str) -> None:
    with pytest.raises(UsageError, match="environment name"):
        parse(f"subscribe m1 {word}")
