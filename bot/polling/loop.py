"""The lease holder's poll loop: each watched model polled as it falls due (bot.polling.schedule).

A plain asyncio task, not an APScheduler job: the schedule hands out one model at a time,
evenly spaced at the poller's share of BASETEN_MAX_RPS, and the loop sleeps until the next
one is due. APScheduler's interval jobs fire on a fixed grid; this needs a per-model due time
and a sub-second pace that a scheduler job would only approximate. (APScheduler still runs
the between-cycles delivery and the lease renewal.)

Each model is read, decided and written on its own as its answer arrives (one small
transaction; the outbox and its exactly-once rules are the poller's, unchanged). What the
bot knows of a model is kept between its polls (bot.polling.known), and read again only after a
poll wrote for it. Every
HOT_POLL_SECONDS the loop checks who watches what and asks `GET /v1/models` once for the
whole fleet: a model whose deployment count, production or development deployment changed
is due at once; it reads every watcher again only when the subscriptions or mutes changed
(a revision the store moves with each write), and every five minutes regardless. A *round*
ends when every model watched at its start has been polled since: it is what the cycle
metrics and the `cycle:` log line count.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import Counter, Gauge

from bot.baseten.client import BasetenClient
from bot.baseten.errors import BasetenError
from bot.domain.watchers import Watcher
from bot.polling.decide import Failed, Fetched, ModelPlan, plan
from bot.polling.poller import CycleReport, Poller
from bot.polling.schedule import Schedule, Signature, cost, fleet_changes, in_motion, signatures
from bot.store import Store
from bot.store.leases import Lease

log = logging.getLogger("bot")
MAX_IN_FLIGHT = 64  # polls under way at once (the client's own concurrency)
REREAD_AT_LEAST = 300.0  # seconds: every watcher is read again this often, changed or not
CATCH_UP_SHARE = 0.5  # a start or a hand-over polls everything at no more than this share of the budget


class LoopSettings(Protocol):
    """The settings the loop reads (bot.app.config.Settings)."""

    @property
    def poll_interval_seconds(self) -> float: ...
    @property
    def hot_poll_seconds(self) -> float: ...
    @property
    def lease_seconds(self) -> float: ...
    @property
    def baseten_max_rps(self) -> float: ...


class LoopMetrics(Protocol):
    """The metrics the loop moves (bot.app.metrics.Metrics)."""

    @property
    def cycles(self) -> Counter: ...
    @property
    def leader(self) -> Gauge: ...


class Parts(Protocol):
    """What the loop works with, built by the composition root (bot.app.runtime.Runtime)."""

    @property
    def settings(self) -> LoopSettings: ...
    @property
    def metrics(self) -> LoopMetrics: ...
    @property
    def store(self) -> Store: ...
    @property
    def baseten(self) -> BasetenClient: ...
    @property
    def poller(self) -> Poller: ...
    @property
    def lease(self) -> Lease: ...


@dataclass
class _Round:
    started: float
    pending: set[str]
    report: CycleReport = field(default_factory=CycleReport)


class PollLoop:
    def __init__(
        self,
        runtime: Parts,
        *,
        on_queued: Callable[[], None],
        on_round: Callable[[CycleReport, float], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runtime = runtime
        self._on_queued = on_queued  # notices were queued: start delivering
        self._on_round = on_round
        self._clock = clock
        settings = runtime.settings
        self.schedule = self._new_schedule()
        self.refresh_every = self.schedule.hot
        self._plans: dict[str, ModelPlan] = {}
        self._watchers: dict[str, list[Watcher]] = {}
        self._signatures: dict[str, Signature] | None = None
        self._flying: dict[str, asyncio.Task[None]] = {}
        self._detecting: asyncio.Task[None] | None = None
        self._answers: list[tuple[ModelPlan, Fetched]] = []  # since the last refresh, for one log line
        self._round = _Round(clock(), set())
        self._next_refresh = 0.0
        self._revision: int | None = None  # of the watchers last read
        self._reread_at = 0.0  # read every watcher again by then, moved or not
        self._kept = True
        self._noted = -float("inf")  # when failed fetches were last put in a log line (one a refresh period)
        self._leading = False
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._lease_check = max(0.2, min(1.0, settings.lease_seconds / 6))

    def _new_schedule(self) -> Schedule:
        s = self.runtime.settings
        hot = min(s.hot_poll_seconds, s.poll_interval_seconds)
        return Schedule(hot=hot, cold=s.poll_interval_seconds, max_rps=s.baseten_max_rps, reserve_rps=1 / hot)

    # -- running ----------------------------------------------------------------------

    def stop(self) -> None:
        """Takes no more models; `run` returns once the polls under way are cancelled (nothing of them is kept)."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                await self._step()
        finally:
            await self._abandon()

    async def _step(self) -> None:
        if not await self._lead():
            await self._pause(self._lease_check)
            return
        now = self._clock()
        if now >= self._next_refresh:
            await self._refresh(now)
            now = self._clock()
        while len(self._flying) < MAX_IN_FLIGHT and (model := self.schedule.take(now)) is not None:
            task = asyncio.create_task(self._poll(model, now))
            self._flying[model] = task
            task.add_done_callback(self._landed)
        if len(self._flying) >= MAX_IN_FLIGHT:
            await self._pause(self._lease_check)
        else:
            await self._pause(min(self.schedule.wake_at(now), self._next_refresh) - now)

    async def _pause(self, seconds: float) -> None:
        """Sleeps until then, a poll landing, or stop; never past a lease check."""
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, min(seconds, self._lease_check)))

    def _landed(self, task: asyncio.Task[None]) -> None:
        for model in [m for m, t in self._flying.items() if t is task]:
            del self._flying[model]
        self._wake.set()

    async def _abandon(self) -> None:
        """At shutdown: a poll under way writes all or nothing, so cancelling it keeps nothing of it."""
        polls = [t for t in self._flying.values() if not t.done()]
        children = [*polls, *([self._detecting] if self._detecting is not None else [])]
        for task in children:
            task.cancel()
        await asyncio.gather(*children, return_exceptions=True)
        if polls:
            log.info("poll cycle abandoned at shutdown; the next start polls again")

    async def _lead(self) -> bool:
        """Polls only while this replica holds the lease (renewed by the service's lease job)."""
        lease, metrics = self.runtime.lease, self.runtime.metrics
        if not self._leading and not lease.held:
            try:
                await lease.renew()  # at start, and after losing it: take it if it is free
            except Exception:
                log.exception("renewing the poller lease failed")
        metrics.leader.set(1 if lease.held else 0)
        if lease.held and not self._leading:
            self._leading, self._next_refresh = True, self._clock()
            self.runtime.poller.known.clear()  # another replica may have written meanwhile: read afresh
        elif not lease.held and self._leading:
            self._leading = False  # another replica polls now; a later takeover starts afresh
            self.schedule, self._signatures, self._reread_at = self._new_schedule(), None, 0.0
        return self._leading

    # -- every HOT_POLL_SECONDS: who watches what, the fleet detector, the round ---------

    async def _refresh(self, now: float) -> None:
        self._next_refresh = now + self.refresh_every
        try:
            if await self._watchers_moved(now):
                self._take(await self.runtime.store.subscriptions.watchers(), now)
        except Exception:
            self.runtime.metrics.cycles.labels("error").inc()
            log.exception("reading the subscriptions failed; polling tries again in a moment")
            return
        self._end_round(now)
        if self._plans and (self._detecting is None or self._detecting.done()):  # nobody watches: nothing to ask
            self._detecting = asyncio.create_task(self._detect())
        self._note(now)

    async def _watchers_moved(self, now: float) -> bool:
        """Whether to read every watcher again: a subscription or mute changed (one small read tells), or
        REREAD_AT_LEAST passed (a replica of an older version, during a rolling upgrade, moves no revision)."""
        revision = await self.runtime.store.subscriptions.revision()
        if revision is not None and revision == self._revision and now < self._reread_at:
            return False
        self._revision, self._reread_at = revision, now + max(self.schedule.cold, REREAD_AT_LEAST)
        return True

    def _take(self, watchers: list[Watcher], now: float) -> None:
        """Who watches what now: plans per model, and the schedule's models with their costs."""
        plans = {p.model_id: p for p in plan(watchers)}
        by_model: dict[str, list[Watcher]] = defaultdict(list)
        for w in watchers:
            by_model[w.model_id].append(w)
        self._plans, self._watchers = plans, dict(by_model)
        self.runtime.poller.known.keep_only(plans)
        costs = {m: cost(p) for m, p in plans.items()}
        added = sum(c for m, c in costs.items() if m not in self.schedule)
        s = self.runtime.settings
        spread = min(s.poll_interval_seconds, s.lease_seconds, added / (self.schedule.rate * CATCH_UP_SHARE))
        self.schedule.sync(costs, now, spread=spread)
        self._round.pending &= set(plans)

    async def _detect(self) -> None:
        """One GET /v1/models: a watched model whose deployments changed is due at once."""
        try:
            listed = await self.runtime.baseten.list_models()
        except (BasetenError, ValueError) as exc:
            log.debug("the fleet-wide change detector could not read the models: %s", exc)
            return
        after = signatures(listed)
        now = self._clock()
        for model in fleet_changes(self._signatures, after, self._plans):
            self.schedule.poke(model, now)
        self._signatures = after
        self._wake.set()

    def _note(self, now: float) -> None:
        """Failed fetches in one line; a line when the interval cannot be kept, and when it can again."""
        self._flush(now)
        stats = self.schedule.stats(now)
        if stats.interval_kept != self._kept:
            self._kept = stats.interval_kept
            if not stats.interval_kept:
                log.warning(
                    "%d watched models take %d requests to poll once: at BASETEN_MAX_RPS=%g a model with "
                    "nothing in motion is polled about every %.0fs, not every POLL_INTERVAL_SECONDS (%g); "
                    "none waits longer than that past its turn, and hot ones go first",
                    stats.models,
                    stats.requests_per_round,
                    self.runtime.settings.baseten_max_rps,
                    stats.bound,
                    stats.cold,
                )
            else:
                log.info("every watched model is polled within POLL_INTERVAL_SECONDS (%g) again", stats.cold)

    def _flush(self, now: float) -> None:
        """The fetches since the last line, in one line (at most one per refresh period, and at once
        when a failure comes after a quiet spell)."""
        if any(isinstance(answer, Failed) for _, answer in self._answers):
            self._noted = now
        if self._answers:
            self.runtime.poller.note_failures(self._answers)
            self._answers = []

    def health(self) -> dict[str, Any]:
        """The schedule for /healthz: how many models, how many hot, and the starvation bound."""
        stats = self.schedule.stats(self._clock())
        return {
            "models": stats.models,
            "hot": stats.hot,
            "hot_every_s": self.schedule.hot,
            "cold_every_s": round(stats.cold_every, 1),
            "starvation_bound_s": round(stats.bound, 1),
            "interval_kept": stats.interval_kept,
        }

    # -- one model ----------------------------------------------------------------------

    async def _poll(self, model: str, began: float) -> None:
        p, watchers = self._plans.get(model), self._watchers.get(model, [])
        if p is None:
            self.schedule.failed(model, self._clock())
            return
        try:
            polled = await self.runtime.poller.poll(watchers, [p], note=False, remember=True)
        except Exception:
            log.exception("polling %s failed; it is tried again at its next turn", model)
            self.schedule.failed(model, self._clock())
            self._count(model, began, CycleReport(models=1, failed_models=1, errors=[f"{model}: crashed"]))
            return
        now = self._clock()
        ((_, answer),) = polled.reading.answers
        self._answers.append((p, answer))
        if isinstance(answer, Failed):
            self.schedule.failed(model, now)
            if now - self._noted >= self.refresh_every:
                self._flush(now)
        else:
            envs = polled.reading.environments.get(model)
            self.schedule.done(model, now, in_motion=in_motion(p, answer, envs), changed=bool(polled.decision.outgoing))
            if self.runtime.poller.last_auth_error:
                self._flush(now)  # the key works again: said at once
        if polled.report.deliveries_created:
            self._on_queued()
        self._count(model, began, polled.report)

    def _count(self, model: str, began: float, report: CycleReport) -> None:
        r = self._round
        if began >= r.started and model in r.pending:
            r.pending.discard(model)
            r.report.models += report.models
            r.report.failed_models += report.failed_models
            r.report.changes += report.changes
            r.report.deliveries_created += report.deliveries_created
            r.report.conflict |= report.conflict
            r.report.errors += report.errors
        self._end_round(self._clock())

    def _end_round(self, now: float) -> None:
        """A round ends when every model watched at its start has been polled since; the next begins."""
        if self._round.pending:
            return
        done, self._round = self._round, _Round(now, set(self._plans))
        self._on_round(done.report, now - done.started)
