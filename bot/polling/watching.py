"""Pure: who watches what, as the poll loop last read it, and when to read it again.

Reading every watcher is the loop's largest read, so it is done only when it can have
changed: when the store's revision (one small read, moved right after every subscription
or mute write) is not the one last read, when there is no revision to compare, and at
least every REREAD_AT_LEAST seconds regardless (a replica of an older version, during a
rolling upgrade, writes subscriptions without moving the revision).

No I/O and no clock of its own: the loop reads the store and passes `now`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping

from bot.domain.watchers import Watcher
from bot.polling.decide import ModelPlan, plan

REREAD_AT_LEAST = 300.0  # seconds: every watcher is read again this often, changed or not


class Watching:
    def __init__(self, *, reread_every: float = REREAD_AT_LEAST) -> None:
        self._reread_every = reread_every
        self.plans: Mapping[str, ModelPlan] = {}  # what one poll of each watched model fetches
        self._watchers: dict[str, list[Watcher]] = {}
        self._revision: int | None = None  # of the watchers last taken
        self._reread_at = -math.inf  # take every watcher again by then, moved or not

    def stale(self, revision: int | None, now: float) -> bool:
        """Whether to read every watcher again, given the store's revision now."""
        return revision is None or revision != self._revision or now >= self._reread_at

    def take(self, watchers: list[Watcher], revision: int | None, now: float) -> Mapping[str, ModelPlan]:
        """Every watcher, read at `revision`: the plan and the watchers of each model. Recorded only once
        they are read, so a read that failed is tried again at the next refresh, not REREAD_AT_LEAST later."""
        by_model: dict[str, list[Watcher]] = defaultdict(list)
        for w in watchers:
            by_model[w.model_id].append(w)
        self.plans = {p.model_id: p for p in plan(watchers)}
        self._watchers = dict(by_model)
        self._revision, self._reread_at = revision, now + self._reread_every
        return self.plans

    def watchers(self, model: str) -> list[Watcher]:
        return self._watchers.get(model, [])

    def forget(self) -> None:
        """After losing the lease: others may have changed anything meanwhile, so a later lead reads afresh."""
        self.plans, self._watchers = {}, {}
        self._revision, self._reread_at = None, -math.inf
