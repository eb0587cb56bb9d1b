"""The poller's decide phase with plain values: diffs, noise rules and audiences, no I/O."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.changes import FLAPPING, PROMOTED, STATUS
from bot.domain.memory import ModelMemory
from bot.domain.watchers import Muted, Watcher
from bot.polling.decide import Failed, ModelPlan, decide, history_window, plan
from bot.polling.noise import FLAP_WINDOW
from tests.test_transitions import NOW, dep, snap


def watcher(sub_id: int, channel: str, target: str = "*", **kw: object) -> Watcher:
    return Watcher(sub_id, "T1", channel, "m1", target, frozenset(), **kw)  # type: ignore[arg-type]


WHOLE = ModelPlan("m1", "llama", True, frozenset())
MEMORY = ModelMemory(True, "d1", None, "llama")


def test_a_change_goes_to_every_channel_that_hears_it_once() -> None:
    watchers = [watcher(1, "C1"), watcher(2, "C1", "d1"), watcher(3, "C2", "d1"), watcher(4, "C3", "d2")]
    decision = decide(
        watchers=watchers,
        answers=[(WHOLE, [dep("d1", "UNHEALTHY"), dep("d2")])],
        snaps={"m1": {"d1": snap("d1"), "d2": snap("d2")}},
        states={"m1": MEMORY},
        history={},
        now=NOW,
    )
    (out,) = decision.outgoing
    assert (out.change.kind, out.change.old_status, out.change.new_status) == (STATUS, "ACTIVE", "UNHEALTHY")
    assert sorted(w.channel_id for w in out.watchers) == ["C1", "C2"]  # one per channel; C3 watches d2
    assert [(before, after.status) for before, after in decision.snaps] == [(snap("d1"), "UNHEALTHY")]


def test_a_failed_model_records_nothing() -> None:
    decision = decide(
        watchers=[watcher(1, "C1")],
        answers=[(WHOLE, Failed("Baseten answered 503"))],
        snaps={"m1": {"d1": snap("d1")}},
        states={"m1": MEMORY},
        history={},
        now=NOW,
    )
    assert (decision.snaps, decision.models, decision.outgoing) == ([], [], [])


def test_muted_and_paused_channels_hear_nothing_but_the_change_is_recorded() -> None:
    decision = decide(
        watchers=[watcher(1, "C1", mutes=(Muted("*", NOW + timedelta(hours=1)),)), watcher(2, "C2", paused=True)],
        answers=[(WHOLE, [dep("d1", "UNHEALTHY")])],
        snaps={"m1": {"d1": snap("d1")}},
        states={"m1": MEMORY},
        history={},
        now=NOW,
    )
    (out,) = decision.outgoing
    assert out.watchers == []
    assert len(decision.snaps) == 1


def test_a_fifth_change_in_the_window_is_held_back_and_announced_as_flapping() -> None:
    times = [NOW - timedelta(minutes=m) for m in (25, 20, 15, 10)]
    decision = decide(
        watchers=[watcher(1, "C1")],
        answers=[(WHOLE, [dep("d1", "UNHEALTHY")])],
        snaps={"m1": {"d1": snap("d1")}},
        states={"m1": MEMORY},
        history={("m1", "d1"): times},
        now=NOW,
    )
    by_kind = {o.change.kind: o for o in decision.outgoing}
    assert by_kind[STATUS].watchers == []  # held back
    assert [w.channel_id for w in by_kind[FLAPPING].watchers] == ["C1"]
    (after,) = [a for _, a in decision.snaps]
    assert after.flapping_since == NOW


def test_a_promotion_moves_production_subscribers_and_updates_the_model_state() -> None:
    decision = decide(
        watchers=[watcher(1, "C1", "production"), watcher(2, "C2", "d1")],
        answers=[(WHOLE, [dep("d1", is_production=False), dep("d2", is_production=True)])],
        snaps={"m1": {"d1": snap("d1", is_production=True), "d2": snap("d2")}},
        states={"m1": MEMORY},
        history={},
        now=NOW,
    )
    promoted = [o for o in decision.outgoing if o.change.kind == PROMOTED]
    assert [(o.change.deployment_id, [w.channel_id for w in o.watchers]) for o in promoted] == [("d2", ["C1"])]
    assert decision.models == [(MEMORY, ("m1", "llama", "d2", None))]


def test_the_plan_lists_each_model_once_and_the_history_window_reaches_back_to_flapping() -> None:
    plans = plan([watcher(1, "C1", "d1"), watcher(2, "C2", "d2"), watcher(3, "C3", "production")])
    # production is an environment: its promotions are read too (one more request for the model)
    assert plans == [
        ModelPlan("m1", "", True, frozenset({"d1", "d2"}), environments=True, roles=frozenset({"production"}))
    ]
    start = NOW - timedelta(hours=3)
    assert history_window({"m1": {"d1": snap("d1")}}, NOW) == NOW - FLAP_WINDOW
    assert history_window({"m1": {"d1": snap("d1", flapping_since=start)}}, NOW) == start
