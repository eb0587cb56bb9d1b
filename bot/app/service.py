"""`baseten-bot serve` as an object: the poll loop (bot.polling.loop), the poller lease, delivery beside
the polls, health, the listening side, and a shutdown within SHUTDOWN_BUDGET.

    service = Service(Runtime.build(settings))
    await service.start()
    await service.wait(stop)   # an asyncio.Event set by SIGTERM/SIGINT
    await service.stop()

`Service(runtime, listen=False)` is the same without the HTTP server and Socket Mode:
the poller, lease and delivery alone, as the tests drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.exc import SQLAlchemyError

from bot.actions.approvals import Expiry
from bot.app.runtime import Runtime, check_health
from bot.app.server import Server
from bot.cost.cache import CostCache
from bot.cost.digest_spend import DigestSpend
from bot.delivery.digests import DigestJob
from bot.guard.job import GuardJob
from bot.idle.job import IdleJob
from bot.oncall.job import OnCallJob
from bot.polling.loop import PollLoop
from bot.polling.poller import CycleReport, describe

log = logging.getLogger("bot")
SHUTDOWN_BUDGET = 8.0  # seconds; the contract allows 10
# Between cycles the lease holder looks for notices due again this often: a notice Slack refused
# is retried seconds later, not after the next poll (a minute, or longer while Baseten is slow).
DELIVERY_CHECK_SECONDS = 1.0
# A digest is due at a minute of a local time: looking this often sends it within seconds of it
DIGEST_CHECK_SECONDS = 5.0
ONCALL_CHECK_SECONDS = 5.0  # on call's pass: a reminder goes out within seconds of its time, a recovery is seen
IDLE_CHECK_SECONDS = 60.0  # the idle check's pass, at most; each deployment is read at most every 10 minutes
# an approval request past APPROVAL_TTL_MINUTES is edited to say it expired within this (a click on it
# finds it expired at once, whatever this pass has done)
APPROVAL_CHECK_SECONDS = 5.0
PRUNE_EVERY_SECONDS = 600.0  # RETENTION_DAYS is days: pruning a few times an hour keeps each pass small


class Service:
    def __init__(self, runtime: Runtime, *, listen: bool = True) -> None:
        self.runtime = runtime
        self._running: set[asyncio.Task[Any]] = set()  # ticks and delivery passes, awaited at shutdown
        self._delivering: asyncio.Task[Any] | None = None
        self._deliver_after = 0.0  # while the database fails: no delivery pass before then
        settings = runtime.settings
        self.guard_job = GuardJob(
            store=runtime.store,
            client=runtime.baseten,
            slack=runtime.slack,
            now=runtime.now,
            after=timedelta(minutes=settings.guard_after_minutes),
            acting=any(settings.operator_ids),
        )
        self.cost = CostCache(runtime.baseten, now=runtime.now)  # commands, the digest and idle notices share it
        self.digest_job = DigestJob(
            store=runtime.store,
            slack=runtime.slack,
            now=runtime.now,
            holder=runtime.lease.holder,
            # a dead leader's claim expires with its lease: the next leader sends the period
            claim_for=timedelta(seconds=max(settings.lease_seconds, 30.0)),
            spend=DigestSpend(store=runtime.store, cache=self.cost),
        )
        self.idle_after = timedelta(minutes=settings.idle_after_minutes)
        self.idle_job = IdleJob(
            store=runtime.store, client=runtime.baseten, now=runtime.now, after=self.idle_after, prices=self.cost.prices
        )
        self.oncall_job = OnCallJob(
            store=runtime.store, slack=runtime.slack, now=runtime.now, draw=runtime.notifier.draw
        )
        self.approval_expiry = Expiry(store=runtime.store, slack=runtime.slack, now=runtime.now)
        self._scheduler = self._schedule()
        self.loop = PollLoop(runtime, on_queued=self._start_delivery, on_round=self._record)
        self._polling: asyncio.Task[None] | None = None
        # Baseten's billing, kept (prices a day, usage an hour, a 403 an hour): `cost`, the digest and
        # idle notices read it through this one cache
        self.server = Server(runtime, self.health, cost=self.cost) if listen else None

    def _schedule(self) -> AsyncIOScheduler:
        """Delivery between polls and the lease renewal; the polls themselves run in bot.polling.loop."""
        settings = self.runtime.settings
        scheduler = AsyncIOScheduler(timezone="UTC")
        scheduler.add_job(
            self.deliver_due_between_cycles,
            "interval",
            id="deliver",
            seconds=DELIVERY_CHECK_SECONDS,
            coalesce=True,
            max_instances=1,
        )
        scheduler.add_job(
            self.keep_lease,
            "interval",
            id="lease",
            seconds=max(1.0, settings.lease_seconds / 3),  # standbys too: a try is an UPDATE
            coalesce=True,
            max_instances=1,
        )
        scheduler.add_job(
            self.guard, "interval", id="guard", seconds=settings.guard_seconds, coalesce=True, max_instances=1
        )
        scheduler.add_job(
            self.digests, "interval", id="digest", seconds=DIGEST_CHECK_SECONDS, coalesce=True, max_instances=1
        )
        scheduler.add_job(
            self.idle,
            "interval",
            id="idle",
            # a tenth of IDLE_AFTER_MINUTES, at most a minute: a spell is heard within a tenth of its length
            seconds=min(IDLE_CHECK_SECONDS, max(1.0, self.idle_after.total_seconds() / 10)),
            coalesce=True,
            max_instances=1,
        )
        scheduler.add_job(
            self.oncall, "interval", id="oncall", seconds=ONCALL_CHECK_SECONDS, coalesce=True, max_instances=1
        )
        scheduler.add_job(
            self.approvals,
            "interval",
            id="approvals",
            seconds=APPROVAL_CHECK_SECONDS,
            coalesce=True,
            max_instances=1,
        )
        scheduler.add_job(
            self.prune, "interval", id="prune", seconds=PRUNE_EVERY_SECONDS, coalesce=True, max_instances=1
        )
        return scheduler

    # -- start, wait, stop ------------------------------------------------------------

    async def start(self) -> None:
        """Starts polling at once, then listens (when `listen`)."""
        self._scheduler.start()
        self._polling = asyncio.create_task(self.loop.run())
        self._running.add(self._polling)
        self._polling.add_done_callback(self._running.discard)
        if self.server is not None:
            await self.server.start()

    async def wait(self, stop: asyncio.Event) -> None:
        """Until `stop` is set, or the HTTP server ends by itself."""
        stopped = asyncio.create_task(stop.wait())
        waits: set[asyncio.Task[Any]] = {stopped}
        if self.server is not None and self.server.task is not None:
            waits.add(self.server.task)
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()

    async def stop(self) -> None:
        """Within SHUTDOWN_BUDGET: ends the schedule, finishes or abandons running work, hands the lease over.

        Note: the poll loop cancels the polls under way at once (each writes all or nothing),
        so the wait in `_finish_running` serves delivery passes.
        """
        log.info("shutting down")
        deadline = time.monotonic() + SHUTDOWN_BUDGET
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self.loop.stop()
        self.runtime.notifier.stop_sending()  # what is in flight finishes; the rest waits for the next start
        await self._finish_running(deadline - 2)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.runtime.lease.release(), timeout=1)
        if self.server is not None:
            await self.server.stop(deadline)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.runtime.aclose(), timeout=1)
        log.info("stopped")

    async def _finish_running(self, until: float) -> None:
        """Waits for ticks and delivery passes until `until`, then cancels what still runs."""
        if not self._running:
            return
        _, pending = await asyncio.wait(self._running, timeout=max(0.1, until - time.monotonic()))
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # -- the scheduled jobs -----------------------------------------------------------

    def _record(self, report: CycleReport, took: float) -> None:
        """A round of the poll loop ended: every model watched at its start was polled since."""
        metrics = self.runtime.metrics
        metrics.cycles.labels("ok" if not report.failed_models else "partial").inc()
        metrics.cycle_seconds.observe(took)
        metrics.transitions.inc(report.changes)
        metrics.last_cycle.set(time.time())
        level = logging.INFO if report.changes or report.failed_models or report.sent else logging.DEBUG
        log.log(level, describe(report))

    async def deliver_due_between_cycles(self) -> None:
        """Starts a delivery pass when this replica holds the lease and none is running."""
        if self.runtime.lease.held:
            self._start_delivery()

    def _start_delivery(self) -> None:
        if self._delivering is not None and not self._delivering.done():
            return  # the running pass picks up what this cycle queued when it looks again
        task = asyncio.create_task(self.deliver())
        self._delivering = task
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def deliver(self) -> None:
        """Sends what is due until nothing is; a failure leaves the rest for the next cycle. While the
        database fails, passes back off (bot.store.outage) and the failure is one line a period."""
        outage = self.runtime.outage
        if time.monotonic() < self._deliver_after:
            return
        try:
            while (await self.runtime.notifier.deliver_due()).sent:
                pass  # rows queued meanwhile go out now, not a poll interval later
        except SQLAlchemyError as exc:
            outage.failed("delivery", exc)
            self._deliver_after = time.monotonic() + outage.wait()
            return
        except Exception:
            log.exception("delivering notices failed; pending ones are retried in a moment")
            return
        outage.ok("delivery")

    async def keep_lease(self) -> None:
        """Renews the lease (a standby: tries it) every LEASE_SECONDS / 3; the poll loop follows what it holds."""
        lease = self.runtime.lease
        try:
            await lease.renew()
            self.runtime.outage.ok("the lease")
        except asyncio.CancelledError:
            # shutdown cancelled a renewal waiting for its database turn; the lease is released
            # next, so there is nothing to renew. Returning keeps the scheduler from logging it as a crash.
            return
        except TimeoutError:
            # the database is slow, not broken: a warning, and the next run tries again
            log.warning("renewing the poller lease took over %gs; not held until a renewal succeeds", lease.patience)
        except SQLAlchemyError as exc:  # the database fails: one line a period for the whole outage
            self.runtime.outage.failed("the lease", exc)
        except Exception:
            log.exception("renewing the poller lease failed; not held until a renewal succeeds")

    async def guard(self) -> None:
        """On the lease holder: the promotion guard's pass (bot.guard.job)."""
        await self._leader_pass("the promotion guard", self.guard_job.run)

    async def digests(self) -> None:
        """On the lease holder: each channel's digest that is due and not sent yet (bot.delivery.digests).
        A period claimed by a leader stopped mid-pass is sent by the next once its claim expires."""
        await self._leader_pass("the digests", self.digest_job.run)

    async def idle(self) -> None:
        """On the lease holder: idle warm replicas (bot.idle.job)."""
        await self._leader_pass("the idle check", self.idle_job.run)

    async def oncall(self) -> None:
        """On the lease holder: alarms ended, reminders due, acknowledged notices that recovered (bot.oncall.job)."""
        await self._leader_pass("on call", self.oncall_job.run)

    async def approvals(self) -> None:
        """On the lease holder: approval requests past their end, expired and edited to say so."""
        await self._leader_pass("the approval requests", self.approval_expiry.run)

    async def _leader_pass(self, what: str, run: Callable[[], Awaitable[object]]) -> None:
        """One periodic pass that only the lease holder makes; a failing database is one line a period
        for the whole outage, any other failure is logged and the next pass tries again."""
        if not self.runtime.lease.held:
            return
        try:
            await run()
        except asyncio.CancelledError:
            return  # shutdown: the next leader's pass starts again
        except SQLAlchemyError as exc:
            self.runtime.outage.failed(what, exc)
            return
        except Exception:
            log.exception("%s: a pass failed; the next one tries again", what)
            return
        self.runtime.outage.ok(what)

    async def prune(self) -> None:
        """On the lease holder: what is done and older than RETENTION_DAYS goes, in small batches."""
        if not self.runtime.lease.held:
            return
        before = self.runtime.now() - timedelta(days=self.runtime.settings.retention_days)
        try:
            pruned = await self.runtime.store.retention.prune(before=before)
        except asyncio.CancelledError:
            return  # shutdown: the next start prunes the rest
        except SQLAlchemyError as exc:
            self.runtime.outage.failed("pruning", exc)
            return
        self.runtime.outage.ok("pruning")
        if pruned.total:
            log.info("pruned %s", ", ".join(f"{n} {table}" for table, n in pruned.rows.items() if n))

    async def health(self) -> tuple[bool, dict[str, Any]]:
        """What /healthz reports: the database answers and the poll loop runs; the schedule's figures."""
        polling = self._polling is not None and not self._polling.done()
        scheduled = bool(self._scheduler.running and polling)
        healthy, detail = await check_health(
            self.runtime.store,
            scheduled=scheduled,
            notifier=self.runtime.notifier,
            leader=self.runtime.lease.held,
            baseten_problem=self.runtime.poller.last_auth_error,
            store_failing=self.runtime.outage.failing,
        )
        if self.runtime.lease.held:
            detail["schedule"] = self.loop.health()
        return healthy, detail
