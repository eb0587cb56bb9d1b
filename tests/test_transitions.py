"""Pure change detection and routing, table-driven, with an explicit clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.baseten.models import Deployment, Skipped
from bot.domain.changes import GONE, NEW, PROMOTED, STATUS, Change, Snap
from bot.domain.watchers import Muted, Watcher
from bot.polling.audience import audience, hears, passes
from bot.polling.transitions import diff_deployment, diff_model
from tests.fakes import deployment

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=2)


def dep(dep_id: str = "d1", status: str = "ACTIVE", **kw: Any) -> Deployment:
    return Deployment.model_validate(deployment(dep_id, "m1", status=status, **kw))


def snap(dep_id: str = "d1", status: str = "ACTIVE", **kw: Any) -> Snap:
    base: dict[str, Any] = {
        "model_id": "m1",
        "deployment_id": dep_id,
        "name": dep_id,
        "status": status,
        "since": T0,
        "is_production": False,
        "is_development": False,
        "environment": None,
        "replicas": 1,
        "instance_type": "1x L4 (24 GiB)",
    }
    base.update(kw)
    return Snap(**base)


@pytest.mark.parametrize(
    ("prev", "cur", "kinds", "writes"),
    [
        (None, dep(), [], 1),  # first sighting: silent baseline
        (snap(), dep(), [], 0),  # unchanged: nothing written
        (snap(), dep(status="UNHEALTHY"), [(STATUS, "ACTIVE", "UNHEALTHY")], 1),
        (snap(status="BUILDING"), dep(status="ACTIVE"), [(STATUS, "BUILDING", "ACTIVE")], 1),
        (snap(), dep(replicas=3), [], 1),  # replicas changed: remembered, not announced
        (snap(), None, [(GONE, "ACTIVE", "DELETED")], 1),  # 404: deleted, once
        (snap(status="DELETED", gone=True), None, [], 0),  # still gone: nothing more
        (snap(status="DELETED", gone=True), dep(status="ACTIVE"), [(STATUS, "DELETED", "ACTIVE")], 1),
        (None, None, [], 0),
        (snap(), dep(status="SOMETHING_NEW"), [(STATUS, "ACTIVE", "SOMETHING_NEW")], 1),
    ],
)
def test_diff_deployment(
    prev: Snap | None, cur: Deployment | None, kinds: list[tuple[str, str, str]], writes: int
) -> None:
    out = diff_deployment(prev, cur, now=NOW)
    assert [(c.kind, c.old_status, c.new_status) for c in out.changes] == kinds
    assert len(out.snaps) == writes


def test_a_status_change_remembers_how_long_the_old_status_lasted() -> None:
    out = diff_deployment(snap(), dep(status="UNHEALTHY", replicas=0), now=NOW)
    (change,) = out.changes
    assert change.old_since == T0 and change.at == NOW
    assert change.detail["old_replicas"] == 1 and change.detail["new_replicas"] == 0
    assert out.snaps[0].since == NOW


def test_an_unchanged_status_keeps_its_since() -> None:
    out = diff_deployment(snap(), dep(replicas=2), now=NOW)
    assert out.snaps[0].since == T0


def test_model_without_baseline_records_silently() -> None:
    out = diff_model(
        {},
        [dep("d1"), dep("d2", is_production=True)],
        model_id="m1",
        baseline_known=False,
        prev_production=None,
        now=NOW,
    )
    assert out.changes == [] and len(out.snaps) == 2 and out.production_id == "d2"


def test_model_new_deployment_is_announced() -> None:
    out = diff_model(
        {"d1": snap("d1")},
        [dep("d1"), dep("d2", status="BUILDING")],
        model_id="m1",
        baseline_known=True,
        prev_production=None,
        now=NOW,
    )
    assert [(c.kind, c.deployment_id, c.new_status) for c in out.changes] == [(NEW, "d2", "BUILDING")]


def test_model_deployment_missing_from_the_list_is_deleted_once() -> None:
    prev = {"d1": snap("d1"), "d2": snap("d2")}
    out = diff_model(prev, [dep("d1")], model_id="m1", baseline_known=True, prev_production=None, now=NOW)
    assert [(c.kind, c.deployment_id) for c in out.changes] == [(GONE, "d2")]
    prev["d2"] = out.snaps[0]
    again = diff_model(prev, [dep("d1")], model_id="m1", baseline_known=True, prev_production=None, now=NOW)
    assert again.changes == []


def test_a_deployment_left_out_of_the_list_is_neither_deleted_nor_new_and_keeps_its_role() -> None:
    """Issue 22: the client leaves out a deployment it cannot use (bot.baseten.models.Skipped); the diff
    must not take it for gone, announce it as new, or move production or development away from it."""
    prev = {"d1": snap("d1", is_production=True), "d2": snap("d2", is_development=True)}
    skipped = [Skipped("d1", "a name longer than 255", is_production=True), Skipped("d 3", "not a plain id")]
    out = diff_model(
        prev,
        [dep("d2", status="BUILDING", is_development=True)],
        model_id="m1",
        baseline_known=True,
        prev_production="d1",
        prev_development="d2",
        skipped=skipped,
        now=NOW,
    )
    assert [(c.kind, c.deployment_id, c.new_status) for c in out.changes] == [(STATUS, "d2", "BUILDING")]
    assert (out.production_id, out.development_id) == ("d1", "d2")
    assert [s.deployment_id for s in out.snaps] == ["d2"]


def test_model_gone_marks_every_deployment_deleted() -> None:
    prev = {"d1": snap("d1"), "d2": snap("d2", status="DELETED", gone=True)}
    out = diff_model(prev, None, model_id="m1", baseline_known=True, prev_production="d1", now=NOW)
    assert [(c.kind, c.deployment_id) for c in out.changes] == [(GONE, "d1")]


def test_promotion_is_announced_with_the_previous_production() -> None:
    prev = {"d1": snap("d1", is_production=True, name="d1-name"), "d2": snap("d2")}
    current = [dep("d1"), dep("d2", is_production=True)]
    out = diff_model(prev, current, model_id="m1", baseline_known=True, prev_production="d1", now=NOW)
    promoted = [c for c in out.changes if c.kind == PROMOTED]
    assert len(promoted) == 1 and promoted[0].deployment_id == "d2"
    assert promoted[0].detail["previous_deployment_id"] == "d1"
    assert promoted[0].detail["previous_deployment_name"] == "d1-name"  # named, as every line names it
    assert out.production_id == "d2"


def change(kind: str = STATUS, old: str | None = "ACTIVE", new: str = "UNHEALTHY", dep_id: str = "d1") -> Change:
    return Change(kind, "m1", dep_id, dep_id, old, new, NOW)


@pytest.mark.parametrize(
    ("kinds", "old", "new", "kind", "heard"),
    [
        ((), "ACTIVE", "UNHEALTHY", STATUS, True),
        ((), "ACTIVE", "SCALED_TO_ZERO", STATUS, False),  # churn is quiet by default
        ((), "SCALED_TO_ZERO", "WAKING_UP", STATUS, False),
        ((), "WAKING_UP", "ACTIVE", STATUS, False),
        ((), "BUILDING", "ACTIVE", STATUS, True),
        ((), None, "BUILDING", NEW, True),
        ((), "ACTIVE", "DELETED", GONE, True),
        ((), None, "PRODUCTION", PROMOTED, True),
        (("scaling",), "ACTIVE", "SCALED_TO_ZERO", STATUS, True),
        (("scaling",), "ACTIVE", "UNHEALTHY", STATUS, False),
        (("failures",), "ACTIVE", "UNHEALTHY", STATUS, True),
        (("failures",), "BUILDING", "BUILD_FAILED", STATUS, True),
        (("failures",), "DEPLOYING", "DEPLOY_FAILED", STATUS, True),
        (("failures",), "ACTIVE", "FAILED", STATUS, True),
        (("failures",), "UNHEALTHY", "ACTIVE", STATUS, False),
        (("recoveries",), "UNHEALTHY", "ACTIVE", STATUS, True),
        (("recoveries",), "BUILDING", "ACTIVE", STATUS, False),
        (("deploys",), "BUILDING", "DEPLOYING", STATUS, True),
        (("deploys",), "ACTIVE", "UPDATING", STATUS, True),
        (("deploys",), None, "PRODUCTION", PROMOTED, True),
        (("deploys",), "ACTIVE", "UNHEALTHY", STATUS, False),
        (("failures", "recoveries"), "UNHEALTHY", "ACTIVE", STATUS, True),
        (("all",), "ACTIVE", "SCALED_TO_ZERO", STATUS, True),
        (("UNHEALTHY",), "ACTIVE", "UNHEALTHY", STATUS, True),
        (("UNHEALTHY",), "ACTIVE", "FAILED", STATUS, False),
        # a status name hears changes into it, scale-to-zero churn aside...
        (("ACTIVE",), "WAKING_UP", "ACTIVE", STATUS, False),
        (("ACTIVE",), "SCALED_TO_ZERO", "ACTIVE", STATUS, False),
        (("ACTIVE", "failures"), "WAKING_UP", "ACTIVE", STATUS, False),
        (("ACTIVE",), "DEPLOYING", "ACTIVE", STATUS, True),
        (("ACTIVE",), "UNHEALTHY", "ACTIVE", STATUS, True),
        (("ACTIVE",), None, "ACTIVE", NEW, True),
        # ...but the statuses that exist for scaling are asked for by name, churn included
        (("SCALED_TO_ZERO",), "ACTIVE", "SCALED_TO_ZERO", STATUS, True),
        (("WAKING_UP",), "SCALED_TO_ZERO", "WAKING_UP", STATUS, True),
        (("SCALED_TO_ZERO",), "WAKING_UP", "ACTIVE", STATUS, False),
        (("ACTIVE", "scaling"), "WAKING_UP", "ACTIVE", STATUS, True),
    ],
)
def test_filter(kinds: tuple[str, ...], old: str | None, new: str, kind: str, heard: bool) -> None:
    assert passes(kinds, change(kind, old, new)) is heard


def watcher(target: str = "*", channel: str = "C1", **kw: Any) -> Watcher:
    return Watcher(
        kw.pop("sid", 1),
        kw.pop("team", "T1"),
        channel,
        kw.pop("model", "m1"),
        target,
        frozenset(kw.pop("kinds", ())),
        **kw,
    )


@pytest.mark.parametrize(
    ("target", "c", "prod", "heard"),
    [
        ("*", change(dep_id="d1"), "d2", True),
        ("d1", change(dep_id="d1"), "d2", True),
        ("d2", change(dep_id="d1"), "d2", False),
        ("production", change(dep_id="d2"), "d2", True),
        ("production", change(dep_id="d1"), "d2", False),  # the old production is no longer followed
        ("production", change(PROMOTED, None, "PRODUCTION", "d2"), "d2", True),
        ("d2", change(PROMOTED, None, "PRODUCTION", "d2"), "d2", False),
        ("development", change(dep_id="d3"), "d2", True),
    ],
)
def test_hears_follows_the_target(target: str, c: Change, prod: str, heard: bool) -> None:
    assert hears(watcher(target), c, production_id=prod, development_id="d3") is heard


def test_audience_is_one_per_channel_and_skips_muted_paused_and_other_models() -> None:
    ws = [
        watcher("*", "C1", sid=1),
        watcher("d1", "C1", sid=2),  # same channel: one notice
        watcher("*", "C2", sid=3),
        watcher("*", "C3", sid=4, mutes=(Muted("*", NOW + timedelta(minutes=5)),)),
        watcher("*", "C4", sid=5, model="other"),
        watcher("*", "C1", sid=6, team="T2"),  # same channel id in another workspace
        watcher("*", "C5", sid=7, kinds=("recoveries",)),
        watcher("*", "C6", sid=8, mutes=(Muted("*", NOW - timedelta(minutes=5)),)),  # expired mute
        watcher("*", "C7", sid=9, paused=True),  # paused: polled, but hears nothing
    ]
    got = audience(ws, change(), production_id=None, development_id=None)
    assert sorted((w.team_id, w.channel_id) for w in got) == [("T1", "C1"), ("T1", "C2"), ("T1", "C6"), ("T2", "C1")]


def test_a_mute_covers_its_target_in_every_subscription_of_the_channel() -> None:
    soon = NOW + timedelta(minutes=5)
    on_d1 = (Muted("d1", soon),)
    ws = [watcher("*", "C1", sid=1, mutes=on_d1), watcher("d1", "C1", sid=2, mutes=on_d1), watcher("*", "C2", sid=3)]
    heard = audience(ws, change(dep_id="d1"), production_id="d1", development_id=None)
    assert [w.channel_id for w in heard] == ["C2"]
    other = audience(ws, change(dep_id="d2"), production_id="d1", development_id=None)
    assert [w.subscription_id for w in other] == [1, 3]  # the rest of the model is still heard
    on_prod = (Muted("production", soon),)
    assert audience([watcher("*", mutes=on_prod)], change(dep_id="d1"), production_id="d1", development_id=None) == []
