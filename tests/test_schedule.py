"""The poll schedule as a pure function of state and a fake clock: budget, hot first, fairness, no starvation."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable

from bot.baseten.models import Deployment, Environment, Model, Promotion
from bot.baseten.ratelimit import HEADROOM
from bot.polling.decide import Failed, ModelPlan
from bot.polling.schedule import Schedule, cost, fleet_changes, in_motion, signatures

Motion = Callable[[str, float], bool]


def never(_model: str, _at: float) -> bool:
    return False


def simulate(
    s: Schedule, *, until: float, start: float = 0.0, latency: float = 0.05, motion: Motion = never
) -> dict[str, list[float]]:
    """Runs the schedule on a fake clock, each poll answering after `latency`; when each model was taken."""
    polls: dict[str, list[float]] = defaultdict(list)
    flying: list[tuple[float, str]] = []
    now = start
    while now < until:
        for finish, model in sorted(f for f in flying if f[0] <= now):
            flying.remove((finish, model))
            s.done(model, now, in_motion=motion(model, now), changed=False)
        while (model := s.take(now)) is not None:
            polls[model].append(now)
            flying.append((now + latency, model))
        now = min([s.wake_at(now), *(f for f, _ in flying), until])
    return polls


def models(n: int, prefix: str = "m") -> dict[str, int]:
    return {f"{prefix}{i:04d}": 1 for i in range(n)}


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def busiest_second(polls: dict[str, list[float]], costs: dict[str, int]) -> int:
    starts = sorted(t for m, ts in polls.items() for t in ts for _ in range(costs[m]))
    best, left = 0, 0
    for right, t in enumerate(starts):
        while t - starts[left] >= 1.0:
            left += 1
        best = max(best, right - left + 1)
    return best


def test_the_budget_is_never_exceeded_and_requests_are_evenly_spaced() -> None:
    costs = models(300) | {f"e{i:03d}": 2 for i in range(50)}  # watched by environment: two requests a poll
    s = Schedule(hot=5, cold=10, max_rps=20)
    s.sync(costs, 0.0)  # all due at once: the worst case for a burst
    polls = simulate(s, until=120)
    # the schedule's pace: at most one poll's requests over its rate (the limiter's window rule caps the rest)
    assert busiest_second(polls, costs) <= 20 * HEADROOM + 2
    starts = sorted((t, m) for m, ts in polls.items() for t in ts)
    for (a, _), (b, _) in itertools.pairwise(starts):
        assert b - a >= 1 / s.rate - 0.002  # no two polls closer than one request's share
    assert sum(map(len, polls.values())) > 0.9 * 120 * s.rate / (400 / 350)  # and the budget is used


def test_every_model_is_polled_every_interval_when_the_budget_allows() -> None:
    s = Schedule(hot=5, cold=60, max_rps=50)
    s.sync(models(400), 0.0, spread=20)
    polls = simulate(s, until=600)
    for model, times in polls.items():
        assert times[0] <= 20.1, model
        assert all(abs(g - 60) < 0.1 for g in gaps(times)), (model, gaps(times))


def test_a_hot_model_is_polled_every_hot_interval_ahead_of_a_backlog_of_cold_ones() -> None:
    # 1,000 models at 10 requests a second: a sweep takes about 105 s, longer than the 60-s interval
    s = Schedule(hot=5, cold=60, max_rps=10)
    s.sync(models(1000), 0.0)
    building = {"m0500", "m0900"}
    polls = simulate(s, until=400, motion=lambda m, _t: m in building)
    for model in building:
        later = [t for t in polls[model] if t > 120]  # once its first poll has shown it building
        assert later and max(gaps(later)) <= 5 + 2 / s.rate, gaps(later)
    cold = polls["m0100"]
    assert max(gaps(cold)) > 60  # the cold ones are behind: the interval cannot be kept


def test_no_cold_model_waits_longer_than_its_fair_share_while_hot_ones_want_more_than_the_budget() -> None:
    # 100 hot models every 5 s want 20 requests a second; the budget is 9.5
    costs = models(100, "hot") | models(50, "cold")
    s = Schedule(hot=5, cold=30, max_rps=10)
    s.sync(costs, 0.0)
    polls = simulate(s, until=900, motion=lambda m, _t: m.startswith("hot"))
    bound = s.stats(0.0).bound
    assert 15 < bound < 16  # 150 models at 9.5 a second
    for model in costs:
        if model.startswith("cold"):
            times = polls[model]
            assert times and max(gaps(times)) <= 30 + bound + 3 / s.rate, (model, max(gaps(times)))
    hot_polls = sum(len(polls[m]) for m in costs if m.startswith("hot"))
    assert hot_polls > 0.6 * 900 * s.rate  # hot ones still get most of it


def test_cold_models_take_turns_fairly_when_the_interval_cannot_be_kept() -> None:
    s = Schedule(hot=5, cold=10, max_rps=10)
    s.sync(models(200), 0.0)
    polls = simulate(s, until=600)
    counts = [len(polls[m]) for m in models(200)]
    assert max(counts) - min(counts) <= 1
    bound = s.stats(0.0).bound
    assert not s.stats(0.0).interval_kept and s.stats(0.0).cold_every == bound
    assert all(max(gaps(polls[m])) <= bound + 2 / s.rate for m in models(200))


def test_a_model_that_just_changed_stays_hot_for_a_while_then_cools() -> None:
    s = Schedule(hot=5, cold=60, max_rps=50)
    s.sync({"m": 1}, 0.0)
    assert s.take(0.0) == "m"
    s.done("m", 0.1, in_motion=False, changed=True)
    assert s.is_hot("m", 1.0) and s.stats(1.0).hot == 1
    assert s.wake_at(0.1) == 5.0
    polls = simulate(s, start=0.1, until=200)["m"]
    assert polls[:7] == [5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0]  # hot until 30.1, when the 30-s poll began
    assert polls[7] == 95.0  # cooled after `linger` (30 s): the next one is a cold interval later
    assert not s.is_hot("m", 100.0)


def test_the_detector_makes_a_cold_model_due_at_once_even_while_its_poll_is_in_flight() -> None:
    s = Schedule(hot=5, cold=60, max_rps=50)
    s.sync({"a": 1, "b": 1}, 0.0)
    assert {s.take(0.0), s.take(1.0)} == {"a", "b"}
    s.done("a", 1.0, in_motion=False, changed=False)
    assert s.wake_at(1.1) == 60.0  # b is in flight, a is due in a minute
    s.poke("a", 2.0)
    s.poke("b", 2.0)
    assert s.take(2.0) == "a"
    s.done("b", 2.5, in_motion=False, changed=False)
    assert s.take(2.5) == "b"  # its poll began before the change: polled again at once
    s.poke("unwatched", 3.0)  # a model nobody watches is ignored
    assert "unwatched" not in s


def test_models_no_longer_watched_are_dropped_and_new_ones_are_spread_over_the_given_time() -> None:
    s = Schedule(hot=5, cold=60, max_rps=50)
    s.sync(models(10), 0.0, spread=10)
    assert s.take(0.0) == "m0000"
    assert s.take(0.5) is None and s.wake_at(0.5) == 1.0
    s.sync(models(3), 0.6)
    taken = [(m, t) for t in range(1, 20) if (m := s.take(float(t))) is not None]
    assert [m for m, _ in taken] == ["m0001", "m0002"]
    for m, t in taken:
        s.done(m, t + 0.1, in_motion=False, changed=False)
    assert s.stats(0.0).models == 3 and s.wake_at(20.0) == 61.0  # m0001's next turn (m0000 is in flight)
    s.done("m0000", 21.0, in_motion=False, changed=False)
    s.done("m0009", 21.0, in_motion=False, changed=False)  # dropped meanwhile: nothing happens
    assert s.wake_at(21.0) == 60.0  # m0000 taken at 0


def test_hot_is_never_slower_than_cold() -> None:
    s = Schedule(hot=5, cold=1, max_rps=50)
    assert s.hot == 1


def deployment(dep_id: str, status: str) -> Deployment:
    return Deployment(id=dep_id, status=status)


def test_in_motion_means_a_watched_deployment_in_progress_or_a_promotion_under_way() -> None:
    whole = ModelPlan("m", "m", True, frozenset())
    only_v1 = ModelPlan("m", "m", False, frozenset({"v1"}))
    listing = [deployment("v1", "ACTIVE"), deployment("v2", "BUILDING")]
    assert in_motion(whole, listing, None)
    assert not in_motion(only_v1, listing, None)  # v2 is building, but nobody watches it
    assert in_motion(only_v1, deployment("v1", "WAKING_UP"), None)
    assert not in_motion(whole, None, None) and not in_motion(whole, Failed("x"), None)
    ramping = Environment(name="production", in_progress_promotion=Promotion(status="RAMPING_UP"))
    finished = Environment(name="production", in_progress_promotion=Promotion(status="SUCCEEDED"))
    assert in_motion(whole, [deployment("v1", "ACTIVE")], [ramping])
    assert not in_motion(whole, [deployment("v1", "ACTIVE")], [finished, Environment(name="staging")])
    assert cost(whole) == 1 and cost(ModelPlan("m", "m", True, frozenset(), environments=True)) == 2


def test_only_what_someone_watches_makes_a_model_hot() -> None:
    """Issue 22: a `production`-only subscription made its model hot while an unwatched development
    deployment built, and any environment's promotion did the same for an `env:staging` one."""
    listing = [
        deployment("p", "ACTIVE").model_copy(update={"is_production": True}),
        deployment("d", "BUILDING").model_copy(update={"is_development": True}),
    ]
    production = ModelPlan("m", "m", True, frozenset(), environments=True, roles=frozenset({"production"}))
    development = ModelPlan("m", "m", True, frozenset(), roles=frozenset({"development"}))
    everything = ModelPlan("m", "m", True, frozenset(), roles=frozenset({"*", "production"}))
    assert not in_motion(production, listing, None)
    assert in_motion(development, listing, None) and in_motion(everything, listing, None)
    ramping = Environment(name="staging", in_progress_promotion=Promotion(status="RAMPING_UP"))
    staging = ModelPlan("m", "m", True, frozenset(), environments=True, roles=frozenset({"env:staging"}))
    assert not in_motion(production, listing[:1], [ramping]) and in_motion(staging, listing[:1], [ramping])


def test_the_fleet_detector_names_watched_models_whose_deployments_changed() -> None:
    def m(model_id: str, count: int, prod: str | None, dev: str | None = None) -> Model:
        return Model(id=model_id, deployments_count=count, production_deployment_id=prod, development_deployment_id=dev)

    before = signatures([m("a", 2, "p"), m("b", 1, "p"), m("c", 1, None), m("d", 3, "x"), m("e", 1, "q")])
    after = signatures([m("a", 3, "p"), m("b", 1, "p2"), m("c", 1, None, "dv"), m("d", 3, "x"), m("z", 1, None)])
    watched = ["a", "b", "c", "d", "e", "z"]
    assert fleet_changes(before, after, watched) == {"a", "b", "c", "e"}  # e vanished; z is new: a baseline
    assert fleet_changes(before, after, ["d"]) == set()
    assert fleet_changes(None, after, watched) == set()
    assert math.isinf(Schedule(hot=5, cold=60, max_rps=50).wake_at(0.0))


def test_a_loop_that_wakes_late_every_time_still_keeps_the_pace_without_bunching() -> None:
    """A busy event loop wakes a few ms after the time asked for, every time; the pace must not sag
    by that lag (it did: 5,000 deployments over 500 models took 1.36x the floor), nor bunch."""
    s = Schedule(hot=5, cold=1, max_rps=100)  # every model always due: the budget sets the pace
    s.sync(models(500), 0.0)
    share, lag = 1 / s.rate, 0.004
    now, taken = 0.0, []
    while now < 60:
        model = s.take(now)
        if model is not None:
            taken.append(now)
            s.done(model, now, in_motion=False, changed=False)
        now = s.wake_at(now) + lag
    assert len(taken) >= 0.97 * 60 * s.rate
    assert min(gaps(taken)) >= share / 2 - 1e-9
