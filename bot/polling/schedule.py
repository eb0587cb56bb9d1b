"""Pure: when each watched model is next polled, from what was last seen and a clock.

A model is *hot* while a watched deployment is in motion (building, deploying, loading,
updating, waking, deactivating), while one of its environments has a promotion in
progress, and for `linger` seconds after a change was heard (or the fleet-wide detector
saw its deployments change). A hot model is due every `hot` seconds, any other every
`cold` seconds.

The poller's share of `BASETEN_MAX_RPS` is spent one model at a time, evenly spaced
(`take` hands out at most one model's requests per `cost / rate` seconds, so a poll is
never part of a burst). When more is due than the budget allows, hot models go first;
a cold model that has waited past its due time for longer than its fair share (`bound`:
every model's requests once, at the poller's rate) goes ahead of them, so none starves.

No I/O and no clock of its own: every method takes `now` (seconds, any monotonic origin).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.baseten.models import Deployment, Environment, Model
from bot.domain.promotions import ENDS
from bot.domain.rates import HEADROOM
from bot.domain.status import IN_PROGRESS
from bot.polling.decide import Failed, Fetched, ModelPlan

LINGER_POLLS = 6  # a model that just changed stays hot for this many hot polls (30 s at the default 5 s)
CATCH_UP = 0.5  # of one poll's share of the budget: how much of a late wake-up the next take may make up
Signature = tuple[int | None, str | None, str | None]  # deployments_count, production id, development id


@dataclass
class _Slot:
    cost: int
    due: float
    token: int  # the heap entry that is current for this model; older ones are skipped
    in_motion: bool = False
    hot_until: float = -math.inf
    started: float | None = None  # when its poll in flight began (None: none in flight)
    again: bool = False  # poked while in flight: due again as soon as that poll ends


@dataclass(frozen=True)
class Stats:
    """The schedule at a glance, for /healthz and the log."""

    models: int
    hot: int
    requests_per_round: int
    rate: float  # the poller's requests per second
    bound: float  # seconds to poll every model once at `rate`: no cold model waits longer past due
    cold: float  # POLL_INTERVAL_SECONDS

    @property
    def interval_kept(self) -> bool:
        """False when polling every model once takes longer than POLL_INTERVAL_SECONDS."""
        return self.bound <= self.cold

    @property
    def cold_every(self) -> float:
        """About how often a cold model is polled: the interval, or the bound when that is longer."""
        return max(self.cold, self.bound)


class Schedule:
    def __init__(
        self,
        *,
        hot: float,
        cold: float,
        max_rps: float,
        reserve_rps: float = 0.0,
        linger: float | None = None,
    ) -> None:
        """`reserve_rps`: requests per second kept for others that run on their own clock (the detector)."""
        self.hot = min(hot, cold)
        self.cold = cold
        self.linger = linger if linger is not None else LINGER_POLLS * self.hot
        # never less than a tenth of the ceiling, however much is reserved
        self.rate = max(max_rps * HEADROOM - reserve_rps, max_rps * HEADROOM / 10)
        self._slots: dict[str, _Slot] = {}
        self._due: list[tuple[float, int, str]] = []  # (due, token, model): not yet due, or not looked at
        self._ready_hot: list[tuple[float, int, str]] = []
        self._ready_cold: list[tuple[float, int, str]] = []
        self._tokens = itertools.count()
        self._next_slot = -math.inf
        self._cost = 0

    # -- what is watched ------------------------------------------------------------

    def sync(self, costs: Mapping[str, int], now: float, *, spread: float = 0.0) -> None:
        """The watched models and each one's requests per poll. New ones fall due over the next `spread`
        seconds, evenly (a start or a hand-over polls everything soon, never all at once)."""
        for gone in [m for m in self._slots if m not in costs]:
            del self._slots[gone]  # its heap entries are skipped when they surface
        new = sorted(m for m in costs if m not in self._slots)
        for i, model in enumerate(new):
            self._slots[model] = _Slot(cost=max(1, costs[model]), due=now, token=-1)
            self._push(model, now + spread * i / len(new))
        for model, cost in costs.items():
            self._slots[model].cost = max(1, cost)
        self._cost = sum(s.cost for s in self._slots.values())

    def __contains__(self, model: str) -> bool:
        return model in self._slots

    def is_hot(self, model: str, now: float) -> bool:
        slot = self._slots.get(model)
        return slot is not None and (slot.in_motion or now < slot.hot_until)

    def stats(self, now: float) -> Stats:
        bound = self._cost / self.rate
        hot = sum(1 for m in self._slots if self.is_hot(m, now))
        return Stats(len(self._slots), hot, self._cost, self.rate, bound, self.cold)

    # -- handing out polls ------------------------------------------------------------

    def take(self, now: float) -> str | None:
        """The model to poll now, or None: nothing due, or the budget's next slot not yet reached."""
        if now < self._next_slot:
            return None
        self._surface(now)
        bound = self._cost / self.rate
        starving = self._top(self._ready_cold)
        if starving is not None and now - starving[0] >= bound:
            chosen = heapq.heappop(self._ready_cold)
        elif self._top(self._ready_hot) is not None:
            chosen = heapq.heappop(self._ready_hot)
        elif starving is not None:
            chosen = heapq.heappop(self._ready_cold)
        else:
            return None
        model = chosen[2]
        slot = self._slots[model]
        slot.started, slot.token = now, -1
        # keep to the pace: the next slot stays on the grid when this take woke a little late (a busy event
        # loop wakes a few ms late, every time, and the pace would sag by that lag), but never comes sooner
        # than half a share after this one: nothing bunches, after an idle spell either
        share = slot.cost / self.rate
        self._next_slot = max(self._next_slot + share, now + share * (1 - CATCH_UP))
        return model

    def wake_at(self, now: float) -> float:
        """When `take` may next hand out a model (math.inf: nothing is waiting)."""
        self._surface(now)
        if self._top(self._ready_hot) is not None or self._top(self._ready_cold) is not None:
            return max(now, self._next_slot)
        entry = self._top(self._due)
        return math.inf if entry is None else max(entry[0], self._next_slot)

    # -- what a poll found ------------------------------------------------------------

    def done(self, model: str, now: float, *, in_motion: bool, changed: bool) -> None:
        """A poll answered: hot or not from what it saw, and due again one interval after it began."""
        slot = self._slots.get(model)
        if slot is None or slot.started is None:
            return
        slot.in_motion = in_motion
        if changed:
            slot.hot_until = max(slot.hot_until, now + self.linger)
        self._reschedule(model, slot, now)

    def failed(self, model: str, now: float) -> None:
        """A poll that got no usable answer: tried again one interval later, as hot or cold as before."""
        slot = self._slots.get(model)
        if slot is not None and slot.started is not None:
            self._reschedule(model, slot, now)

    def poke(self, model: str, now: float) -> None:
        """The detector saw this model's deployments change: due at once, and hot for a while."""
        slot = self._slots.get(model)
        if slot is None:
            return
        slot.hot_until = max(slot.hot_until, now + self.linger)
        if slot.started is not None:
            slot.again = True  # the poll in flight may have read the old state
        else:
            self._push(model, now)

    # -- internals --------------------------------------------------------------------

    def _reschedule(self, model: str, slot: _Slot, now: float) -> None:
        began = slot.started if slot.started is not None else now
        slot.started = None
        if slot.again:
            slot.again = False
            self._push(model, now)
            return
        every = self.hot if self.is_hot(model, now) else self.cold
        self._push(model, max(now, began + every))

    def _push(self, model: str, due: float) -> None:
        slot = self._slots[model]
        slot.due, slot.token = due, next(self._tokens)
        heapq.heappush(self._due, (due, slot.token, model))

    def _current(self, entry: tuple[float, int, str]) -> bool:
        slot = self._slots.get(entry[2])
        return slot is not None and slot.token == entry[1] and slot.started is None

    def _top(self, heap: list[tuple[float, int, str]]) -> tuple[float, int, str] | None:
        while heap and not self._current(heap[0]):
            heapq.heappop(heap)
        return heap[0] if heap else None

    def _surface(self, now: float) -> None:
        """Moves what has fallen due into the hot or the cold queue, judged hot or cold as it falls due."""
        while (entry := self._top(self._due)) is not None and entry[0] <= now:
            heapq.heappop(self._due)
            heapq.heappush(self._ready_hot if self.is_hot(entry[2], now) else self._ready_cold, entry)


def cost(p: ModelPlan) -> int:
    """Requests one poll of this model sends: its deployments, and its environments when watched by one."""
    return 2 if p.environments else 1


def in_motion(p: ModelPlan, answer: Fetched, environments: Sequence[Environment] | None) -> bool:
    """A watched deployment in progress, or a promotion under way in a watched environment. Only what
    someone watches counts: a `production` subscription does not make its model hot while an unwatched
    development deployment builds."""
    if isinstance(answer, Failed) or answer is None:
        return False
    deps: Iterable[Deployment] = answer if isinstance(answer, list) else [answer]
    if any(d.status in IN_PROGRESS for d in deps if _watched(p, d)):
        return True
    every = "*" in p.roles or (p.whole and not p.roles)
    watched_envs = {r[len("env:") :] for r in p.roles if r.startswith("env:")} | (
        {"production"} if "production" in p.roles else set()
    )
    return any(
        e.in_progress_promotion is not None and e.in_progress_promotion.status not in ENDS
        for e in environments or ()
        if every or e.name in watched_envs
    )


def _watched(p: ModelPlan, d: Deployment) -> bool:
    if "*" in p.roles or (p.whole and not p.roles) or d.id in p.deployments:  # no roles: as before roles were kept
        return True
    if ("production" in p.roles and d.is_production) or ("development" in p.roles and d.is_development):
        return True
    return d.environment is not None and f"env:{d.environment}" in p.roles


def signatures(models: Iterable[Model]) -> dict[str, Signature]:
    return {m.id: (m.deployments_count, m.production_deployment_id, m.development_deployment_id) for m in models}


def fleet_changes(
    before: Mapping[str, Signature] | None, after: Mapping[str, Signature], watched: Iterable[str]
) -> set[str]:
    """Watched models whose deployment count, production or development deployment changed between two
    answers of GET /v1/models (or that vanished from it). The first answer is a baseline: nothing changed."""
    if before is None:
        return set()
    return {m for m in watched if m in before and after.get(m) != before[m]}
