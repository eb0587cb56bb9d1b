"""One poll cycle in three phases: read (watchers, memory, Baseten), decide (pure), write (record).

`decide` lives in bot.polling.decide and does no I/O. Between deciding and writing, the
changes that name a new or promoted deployment are attributed from the model's
audit log, and failures get their error lines (bot.polling.why, within a bounded wait).
Delivery is the notifier's job, beside the schedule.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.baseten.client import BasetenClient
from bot.baseten.errors import AuthError, BasetenError, NotFound
from bot.baseten.models import AuditLogEntry, Environment
from bot.delivery.notifier import Notifier
from bot.domain.changes import NEW, PROMOTED, PROMOTION, Change, Snap
from bot.domain.freezes import ALL, FLAG, flag, holding
from bot.domain.memory import History, ModelMemory, Outgoing
from bot.domain.promotions import EnvState
from bot.domain.subjects import Kind, kind_of
from bot.domain.watchers import Watcher
from bot.polling import runs, why
from bot.polling.decide import Decision, Failed, Fetched, ModelPlan, decide, history_window, plan
from bot.polling.known import Known
from bot.polling.promotions import START
from bot.store import Store
from bot.store.outbox import Conflict

log = logging.getLogger(__name__)


@dataclass
class CycleReport:
    models: int = 0
    failed_models: int = 0
    changes: int = 0
    deliveries_created: int = 0
    sent: int = 0
    conflict: bool = False
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Reading:
    """What the read phase gathered: who watches, what the bot knew, what Baseten answered."""

    watchers: list[Watcher]
    answers: list[tuple[ModelPlan, Fetched]]
    snaps: dict[str, dict[str, Snap]]
    states: dict[str, ModelMemory]
    history: History
    environments: dict[str, list[Environment] | None] = field(default_factory=dict)
    env_states: dict[str, dict[str, EnvState]] = field(default_factory=dict)


@dataclass(frozen=True)
class Polled:
    """What one `poll` read, decided and reported: the schedule learns from it what is in motion."""

    report: CycleReport
    reading: Reading
    decision: Decision


class Poller:
    def __init__(
        self,
        *,
        client: BasetenClient,
        store: Store,
        notifier: Notifier | None,
        now: Callable[[], datetime],
        log_wait: float = why.LOG_WAIT,
    ) -> None:
        self._client = client
        self._log_wait = log_wait  # all of a cycle's log reads together (bot.polling.why)
        self._store = store
        self._notifier = notifier
        self._now = now
        self.last_auth_error: str | None = None
        self.known = Known()  # what the poll loop last read of each model (bot.polling.known); cycles read afresh

    async def cycle(self, *, deliver: bool = True) -> CycleReport:
        """One full cycle; a model whose fetch failed records nothing this time."""
        watchers = await self._store.subscriptions.watchers()
        report = (await self.poll(watchers, plan(watchers))).report
        if deliver and self._notifier is not None:
            report.sent = (await self._notifier.deliver_due()).sent
        return report

    async def poll(
        self, watchers: list[Watcher], plans: list[ModelPlan], *, note: bool = True, remember: bool = False
    ) -> Polled:
        """Read, decide, attribute and write these models (all of a cycle's, or the one the schedule
        says is due), in one transaction. `note=False` leaves logging failed fetches to the caller;
        `remember=True` reads what is known of them from, and keeps it in, `self.known`."""
        ids = [p.model_id for p in plans]
        try:
            polled = await self._poll(watchers, plans, note=note, remember=remember)
        except BaseException:
            self.known.forget(ids)  # half-way: what it kept may no longer be what the database holds
            raise
        d = polled.decision
        if polled.report.conflict or d.snaps or d.models or d.outgoing or d.environments:
            self.known.forget(ids)  # it wrote (or tried to): the next poll reads what is there now
        return polled

    async def _poll(self, watchers: list[Watcher], plans: list[ModelPlan], *, note: bool, remember: bool) -> Polled:
        reading = await self.read(watchers, plans, note=note, remember=remember)
        now = self._now()
        decision = decide(
            watchers=reading.watchers,
            answers=reading.answers,
            snaps=reading.snaps,
            states=reading.states,
            history=reading.history,
            now=now,
            environments=reading.environments,
            env_states=reading.env_states,
        )
        # who did it (audit log) and why it failed (error lines), read together before writing
        attributed, reasons, extra = await asyncio.gather(
            self._attribute(decision.outgoing),
            why.for_changes(self._client, decision.outgoing, reading.answers, now=now, wait=self._log_wait),
            runs.for_changes(self._client, decision.outgoing, reading.answers, now=now, wait=self._log_wait),
        )
        decision.outgoing = await self._flag(runs.attach(why.attach(attributed, reasons), extra), now)
        report = self._report(reading, decision)
        await self.write(decision, report)
        return Polled(report, reading, decision)

    async def read(
        self, watchers: list[Watcher], plans: list[ModelPlan], *, note: bool = True, remember: bool = False
    ) -> Reading:
        """What the bot knows and what Baseten answers, overlapped."""
        known = asyncio.ensure_future(self._known([p.model_id for p in plans], remember=remember))
        try:
            fetched, envs = await asyncio.gather(
                asyncio.gather(*(self._fetch(p) for p in plans)),
                asyncio.gather(*(self._fetch_envs(p) for p in plans)),
            )
        finally:
            if not known.done():  # on failure or cancellation: wait, so no query is orphaned
                await asyncio.wait({known})
        snaps, states, history = await known
        # a model whose environments could not be read records nothing this cycle, as if its list failed
        answers = [(p, e if isinstance(e, Failed) else f) for p, f, e in zip(plans, fetched, envs, strict=True)]
        if note:
            self.note_failures(answers)
        environments = {
            p.model_id: e for p, e in zip(plans, envs, strict=True) if p.environments and not isinstance(e, Failed)
        }
        env_states = await self._store.environments.memory(environments)
        return Reading(watchers, answers, snaps, states, history, environments, env_states)

    async def _known(
        self, model_ids: list[str], *, remember: bool = False
    ) -> tuple[dict[str, dict[str, Snap]], dict[str, ModelMemory], History]:
        """Snapshots and model states, then the recent changes the noise rules count: kept ones when
        `remember` and all are kept, else read (and kept when `remember`)."""
        now = self._now()

        def window(snaps: Mapping[str, Mapping[str, Snap]]) -> datetime:
            return history_window(snaps, now)

        if remember and (kept := self.known.get(model_ids, window)) is not None:
            return kept
        snaps, states, history = await self._store.memory(model_ids, history_since=window)
        if remember:
            self.known.put(model_ids, snaps, states, history)
        return snaps, states, history

    async def write(self, decision: Decision, report: CycleReport) -> None:
        """One transaction; a conflict with another replica writes nothing."""
        try:
            report.deliveries_created = await self._store.outbox.record(
                snaps=decision.snaps,
                models=decision.models,
                outgoing=decision.outgoing,
                environments=decision.environments,
            )
        except Conflict as exc:
            log.info("another replica recorded these changes first (%s); nothing written by this one", exc)
            report.changes = 0
            report.conflict = True

    @staticmethod
    def _report(reading: Reading, decision: Decision) -> CycleReport:
        failed = [(p, r) for p, r in reading.answers if isinstance(r, Failed)]
        return CycleReport(
            models=len(reading.answers),
            failed_models=len(failed),
            changes=len(decision.outgoing),
            errors=[f"{p.model_id}: {r.reason}" for p, r in failed],
        )

    def note_failures(self, answers: list[tuple[ModelPlan, Fetched]]) -> None:
        """One log line for these failed fetches (a cycle's, or a few seconds' worth), and a refused key
        once, not per model."""
        failed = [(p, r) for p, r in answers if isinstance(r, Failed)]
        refused = next((r.reason for _, r in failed if r.auth), None)
        if refused and refused != self.last_auth_error:
            log.error("%s; polling records nothing until the key works", refused)
        elif self.last_auth_error and not refused:
            log.info("the Baseten API key works again")
        self.last_auth_error = refused
        others = [(p, r) for p, r in failed if not r.auth]
        if others:
            sample = "; ".join(f"{p.model_id}: {r.reason}" for p, r in others[:3])
            more = f" (and {len(others) - 3} more)" if len(others) > 3 else ""
            log.warning("%d of %d models could not be polled: %s%s", len(others), len(answers), sample, more)

    async def _attribute(self, outgoing: list[Outgoing]) -> list[Outgoing]:
        """Adds who deployed or promoted, from each model's audit log; silent when it can't be read."""
        # a model's audit log names who did it; Baseten's API has none for chains or training projects
        wanted = sorted(
            {o.change.model_id for o in outgoing if _attributed(o.change) and kind_of(o.change.model_id) is Kind.MODEL}
        )
        if not wanted:
            return outgoing
        logs = dict(zip(wanted, await asyncio.gather(*(self._audit(m) for m in wanted)), strict=True))
        return [
            replace(o, change=attribute(o.change, logs[o.change.model_id]))
            if _attributed(o.change) and o.change.model_id in logs
            else o
            for o in outgoing
        ]

    async def _flag(self, outgoing: list[Outgoing], now: datetime) -> list[Outgoing]:
        """Marks a new deployment or a promotion seen during a freeze of its model (a new deployment: in
        any environment; a promotion: in its own), so that its notice says so in every channel told."""
        if not any(_attributed(o.change) for o in outgoing):
            return outgoing
        live = await self._store.freezes.live()
        if not live:
            return outgoing
        flagged = []
        for o in outgoing:
            change = o.change
            env = ALL if change.kind == NEW else str(change.detail.get("environment") or "production")
            hold = holding(live, change.model_id, env, now) if _attributed(change) else None
            if hold is not None:
                o = replace(o, change=replace(change, detail={**change.detail, FLAG: flag(*hold)}))
            flagged.append(o)
        return flagged

    async def _audit(self, model_id: str) -> list[AuditLogEntry]:
        try:
            return await self._client.list_audit_logs(model_id, limit=50)
        except (BasetenError, ValueError):
            return []

    async def _fetch_envs(self, p: ModelPlan) -> list[Environment] | Failed | None:
        """A model's environments, when someone watches it by environment (one more request)."""
        if not p.environments:
            return None
        try:
            return await self._client.list_environments(p.model_id)
        except NotFound:
            return None  # the model is gone: its deployment list says so
        except AuthError as exc:
            return Failed(str(exc), auth=True)
        except (BasetenError, ValueError) as exc:
            return Failed(str(exc))

    async def _fetch(self, p: ModelPlan) -> Fetched:
        """One request per model: the list when it is cheaper or needed, else the deployment."""
        try:
            if p.whole or len(p.deployments) != 1:
                return await self._client.list_deployments(p.model_id)
            (dep_id,) = p.deployments
            try:
                return await self._client.get_deployment(p.model_id, dep_id)
            except NotFound:
                return []  # listed as nothing: exactly this deployment is gone
        except NotFound:
            return None
        except AuthError as exc:
            return Failed(str(exc), auth=True)
        except BasetenError as exc:
            return Failed(str(exc))
        except ValueError as exc:  # an id in the database that is not plain: never sent
            return Failed(str(exc))


def _attributed(change: Change) -> bool:
    """A new deployment, a promotion, or a promotion step seen starting: who did it is worth saying."""
    return change.kind in (NEW, PROMOTED) or (change.kind == PROMOTION and change.detail.get("phase") == START)


def attribute(change: Change, entries: list[AuditLogEntry]) -> Change:
    """The newest audit entry about this deployment's deploy or promotion names who did it."""
    for entry in entries:
        kind = entry.event_type.upper()
        wanted = "PROMOTED" in kind if change.kind in (PROMOTED, PROMOTION) else kind.endswith("DEPLOYED")
        if not wanted or entry.event_data.get("deployment_id") != change.deployment_id:
            continue
        actor = entry.actor
        who = actor.email or (f"API key {actor.api_key_name}" if actor.api_key_name else None) or actor.type
        if not who:
            return change
        via = f" via {entry.source}" if entry.source else ""
        return replace(change, detail={**change.detail, "actor": f"{who}{via}"})
    return change


def describe(report: CycleReport) -> str:
    return (
        f"cycle: {report.models} models, {report.failed_models} failed, "
        f"{report.changes} changes, {report.deliveries_created} notices queued, {report.sent} sent"
    )
