"""The lease holder's poll loop: each watched model polled as it falls due (bot.polling.schedule).

A plain asyncio task, not an APScheduler job: the schedule hands out one model at a time,
evenly spaced at the poller's share of BASETEN_MAX_RPS, and the loop sleeps until the next
one is due. APScheduler's interval jobs fire on a fixed grid; this needs a per-model due time
and a sub-second pace that a scheduler job would only approximate. (APScheduler still runs
the between-cycles delivery and the lease renewal.)

The loop takes due models from the schedule, polls them (at most MAX_IN_FLIGHT at once) and
lands them; each model is read, decided and written on its own as its answer arrives (one small
transaction; the outbox and its exactly-once rules are the poller's, unchanged). What it leans on,
each in a module of its own:

- bot.polling.leadership: whether this replica leads. Losing the lease is handled in one place,
  `_lose`: every poll in flight and the fleet detector are cancelled and waited for (a poll writes
  all or nothing), so nothing polls on a lost lease and no model is ever polled twice at once;
- bot.polling.watching: who watches what, read again only when the store's revision moved (or
  every REREAD_AT_LEAST); checked every HOT_POLL_SECONDS, when the loop also asks `GET /v1/models`
  once for the whole fleet and makes a model whose deployments changed due at once;
- bot.polling.known: what the bot knows of a model, kept between its polls;
- bot.polling.rounds: the rounds the cycle metrics and the `cycle:` log line count;
- bot.polling.notes: the log lines, throttled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from prometheus_client import Counter, Gauge
from sqlalchemy.exc import SQLAlchemyError

from bot.baseten.client import BasetenClient
from bot.baseten.errors import BasetenError
from bot.polling.decide import Failed, ModelPlan
from bot.polling.fleet import read_fleet
from bot.polling.leadership import Leadership
from bot.polling.notes import Notes
from bot.polling.poller import CycleReport, Poller
from bot.polling.rounds import Rounds
from bot.polling.schedule import Schedule, Signature, cost, fleet_changes, in_motion
from bot.polling.watching import REREAD_AT_LEAST, Watching
from bot.store import Store
from bot.store.leases import Lease
from bot.store.outage import Outage

log = logging.getLogger("bot")
MAX_IN_FLIGHT = 64  # polls under way at once (the client's own concurrency)
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
    @property
    def outage(self) -> Outage: ...


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
        self._clock = clock
        settings = runtime.settings
        self.schedule = self._new_schedule()
        self.refresh_every = self.schedule.hot
        # at most a sixth of the lease, under its margin (a quarter): a hold that runs out is followed, and
        # the polls cancelled, before the row can have expired for the other replicas
        self._lease_check = max(0.2, min(1.0, settings.lease_seconds / 6))
        self.lead = Leadership(
            runtime.lease,
            on_gain=self._gain,
            on_loss=self._lose,
            look_every=self._lease_check,
            shown=lambda leading: runtime.metrics.leader.set(1 if leading else 0),
            clock=clock,
        )
        self.watching = Watching(reread_every=max(self.schedule.cold, REREAD_AT_LEAST))
        self.rounds = Rounds(on_round, clock())
        self.notes = Notes(runtime.poller, every=self.refresh_every, max_rps=settings.baseten_max_rps)
        self._flying: dict[str, asyncio.Task[None]] = {}
        self._detecting: asyncio.Task[None] | None = None
        self._signatures: dict[str, Signature] | None = None  # the fleet as the detector last read it
        self._next_refresh = 0.0
        self._held_back_until = 0.0  # while the database fails: no poll starts before then
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

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
            await self.lead.take()
            while not self._stopping.is_set():
                await self._step()
        finally:
            if await self._cancel():
                log.info("poll cycle abandoned at shutdown; the next start polls again")

    async def _step(self) -> None:
        if not await self.lead.follow():
            await self._pause(self._lease_check)
            return
        now = self._clock()
        if now >= self._next_refresh:
            await self._refresh(now)
            return  # it waited on the database: the lease is followed again before any poll starts
        if now < self._held_back_until:  # the database fails: polls would read Baseten and write nothing
            await self._pause(self._held_back_until - now)
            return
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

    # -- the lease ----------------------------------------------------------------------

    def _gain(self) -> None:
        """Leads now: another replica may have written meanwhile, so what is known is read afresh, at once."""
        self._next_refresh = self._clock()
        self.runtime.poller.known.clear()

    async def _lose(self) -> None:
        """The one place a lost lease is handled: another replica may poll now, so nothing of this one's
        polling goes on, and a later lead starts afresh (a new schedule, every watcher read again)."""
        cancelled = await self._cancel()
        self.schedule, self._signatures = self._new_schedule(), None
        self.watching.forget()
        self.runtime.poller.known.clear()
        log.warning("this replica no longer holds the poller lease: polling stops (%d polls cancelled)", cancelled)

    async def _cancel(self) -> int:
        """Cancels every poll in flight and the fleet detector, and waits for them (each writes all or
        nothing, so nothing of a cancelled poll is kept): none lands on a later schedule, and no model
        is polled twice at once. Returns how many polls were cancelled."""
        polls = [t for t in self._flying.values() if not t.done()]
        tasks = [*polls, *([self._detecting] if self._detecting is not None and not self._detecting.done() else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._flying.clear()
        self._detecting = None
        return len(polls)

    # -- every HOT_POLL_SECONDS: who watches what, the fleet detector, the round ---------

    async def _refresh(self, now: float) -> None:
        self._next_refresh = now + self.refresh_every
        subscriptions = self.runtime.store.subscriptions
        try:
            revision = await subscriptions.revision()
            if self.watching.stale(revision, now):
                self._sync(self.watching.take(await subscriptions.watchers(), revision, now), now)
        except SQLAlchemyError as exc:  # expected in an outage: counted in one line a period, not a traceback
            self.runtime.metrics.cycles.labels("error").inc()
            self._store_failed("reading the subscriptions", exc)
            return
        except Exception:
            self.runtime.metrics.cycles.labels("error").inc()
            log.exception("reading the subscriptions failed; polling tries again in a moment")
            return
        self.runtime.outage.ok("reading the subscriptions")
        self.rounds.end(now, self.watching.plans)
        idle = self._detecting is None or self._detecting.done()
        if self.watching.plans and idle:  # nobody watches: nothing to ask
            self._detecting = asyncio.create_task(self._detect())
        self.notes.refresh(now, self.schedule.stats(now))

    def _sync(self, plans: Mapping[str, ModelPlan], now: float) -> None:
        """The schedule, what is known and the round follow who watches what now."""
        self.runtime.poller.known.keep_only(plans)
        costs = {m: cost(p) for m, p in plans.items()}
        added = sum(c for m, c in costs.items() if m not in self.schedule)
        s = self.runtime.settings
        spread = min(s.poll_interval_seconds, s.lease_seconds, added / (self.schedule.rate * CATCH_UP_SHARE))
        self.schedule.sync(costs, now, spread=spread)
        self.rounds.keep_only(plans)

    async def _detect(self) -> None:
        """One GET /v1/models (and /v1/chains, /v1/training_projects when some are watched): a watched
        model, chain or project whose deployments or latest job changed is due at once."""
        try:
            after = await read_fleet(self.runtime.baseten, self.watching.plans, self._signatures)
        except (BasetenError, ValueError) as exc:
            log.debug("the fleet-wide change detector could not read the fleet: %s", exc)
            return
        now = self._clock()
        for model in fleet_changes(self._signatures, after, self.watching.plans):
            self.schedule.poke(model, now)
        self._signatures = after
        self._wake.set()

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
        p, watchers = self.watching.plans.get(model), self.watching.watchers(model)
        if p is None:
            self.schedule.failed(model, self._clock())
            return
        try:
            polled = await self.runtime.poller.poll(watchers, [p], note=False, remember=True)
        except Exception as exc:
            if isinstance(exc, SQLAlchemyError):  # nothing was recorded: the change is heard when it is back
                self._store_failed("polls", exc)
            else:
                log.exception("polling %s failed; it is tried again at its next turn", model)
            self.schedule.failed(model, self._clock())
            self._count(model, began, CycleReport(models=1, failed_models=1, errors=[f"{model}: crashed"]))
            return
        self.runtime.outage.ok("polls")
        now = self._clock()
        ((_, answer),) = polled.reading.answers
        if isinstance(answer, Failed):
            self.schedule.failed(model, now)
        else:
            envs = polled.reading.environments.get(model)
            self.schedule.done(model, now, in_motion=in_motion(p, answer, envs), changed=bool(polled.decision.outgoing))
        self.notes.answered(p, answer, now)
        if polled.report.deliveries_created:
            self._on_queued()
        self._count(model, began, polled.report)

    def _store_failed(self, where: str, exc: SQLAlchemyError) -> None:
        """One line a period for the whole outage (bot.store.outage), and no new poll for a back-off."""
        self.runtime.outage.failed(where, exc)
        self._held_back_until = self._clock() + self.runtime.outage.wait()

    def _count(self, model: str, began: float, report: CycleReport) -> None:
        self.rounds.count(model, began, report, self._clock(), self.watching.plans)
