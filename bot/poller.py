"""One poll cycle: fetch each watched target once -> diff with snapshots -> store -> deliver."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot import noise
from bot.baseten.client import BasetenClient
from bot.baseten.errors import AuthError, BasetenError, NotFound
from bot.baseten.models import AuditLogEntry, Deployment
from bot.notifier import Notifier
from bot.store import Store
from bot.store.outbox import Conflict, Outgoing
from bot.store.snapshots import ModelMemory, ModelRow
from bot.transitions import (
    NEW,
    PROMOTED,
    STATUS,
    Change,
    Diff,
    Snap,
    Watcher,
    audience,
    diff_deployment,
    diff_model,
)

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
class ModelPlan:
    """What the poller must fetch for one model, derived from every subscription on it."""

    model_id: str
    model_name: str
    whole: bool  # list the model (whole-model, production or development subscriptions)
    deployments: frozenset[str]  # deployment-id targets


def plan(watchers: Iterable[Watcher]) -> list[ModelPlan]:
    """Distinct targets per model: a model is listed once however many channels watch it."""
    whole: dict[str, bool] = defaultdict(bool)
    deps: dict[str, set[str]] = defaultdict(set)
    names: dict[str, str] = {}
    for w in watchers:
        names[w.model_id] = max(names.get(w.model_id, ""), w.model_name)
        if w.target in ("*", "production", "development"):
            whole[w.model_id] = True
        else:
            deps[w.model_id].add(w.target)
            whole.setdefault(w.model_id, False)
    return [ModelPlan(m, names.get(m, ""), whole[m], frozenset(deps.get(m, ()))) for m in sorted(whole)]


class _Failed:
    def __init__(self, reason: str, *, auth: bool = False) -> None:
        self.reason = reason
        self.auth = auth


Fetched = list[Deployment] | Deployment | None | _Failed


class Poller:
    def __init__(
        self,
        *,
        client: BasetenClient,
        store: Store,
        notifier: Notifier | None,
        now: Callable[[], datetime],
    ) -> None:
        self._client = client
        self._store = store
        self._notifier = notifier
        self._now = now
        self.last_auth_error: str | None = None

    async def cycle(self, *, deliver: bool = True) -> CycleReport:
        """One full cycle; a target whose fetch failed records nothing this time."""
        report = CycleReport()
        watchers = await self._store.subscriptions.watchers()
        plans = plan(watchers)
        report.models = len(plans)
        # read what the bot knows while Baseten answers: the database and the network overlap
        known_task = asyncio.ensure_future(self._store.snapshots.memory(p.model_id for p in plans))
        try:
            fetched = await asyncio.gather(*(self._fetch(p) for p in plans))
        finally:
            if not known_task.done():  # on failure or cancellation: wait, so no query is orphaned
                await asyncio.wait({known_task})
        snaps, states = await known_task
        self._note_failures(plans, fetched)
        by_model: dict[str, list[Watcher]] = defaultdict(list)
        for w in watchers:
            by_model[w.model_id].append(w)
        now = self._now()
        seen: list[_Seen] = []
        for p, result in zip(plans, fetched, strict=True):
            if isinstance(result, _Failed):
                report.failed_models += 1
                report.errors.append(f"{p.model_id}: {result.reason}")
                continue
            memory = states.get(p.model_id)
            known = snaps.get(p.model_id, {})
            diff = self._diff(p, result, known, memory, now)
            seen.append(_Seen(p, memory, diff, _current(p, result, known, diff)))
        times = await self._store.outbox.change_times(_noise_keys(seen), since=_noise_since(seen, now))
        to_write: list[tuple[Snap | None, Snap]] = []
        models: list[tuple[ModelMemory | None, ModelRow]] = []
        outgoing: list[Outgoing] = []
        for item in seen:
            p, memory, diff = item.plan, item.memory, item.diff
            extra = noise.apply(
                item.current,
                diff.changes,
                {d: times.get((p.model_id, d), []) for d in item.current},
                {w.stuck_after for w in by_model[p.model_id]},
                now,
            )
            after = {s.deployment_id: s for s in diff.snaps} | {s.deployment_id: s for s in extra.snaps}
            known = snaps.get(p.model_id, {})
            to_write.extend((known.get(dep_id), snap) for dep_id, snap in after.items())
            prod = diff.production_id if p.whole else (memory.production_id if memory else None)
            dev = diff.development_id if p.whole else (memory.development_id if memory else None)
            if p.whole and (
                memory is None
                or (memory.production_id, memory.development_id, memory.name) != (prod, dev, p.model_name)
            ):
                models.append((memory, (p.model_id, p.model_name, prod, dev)))
            changes = await self._attribute(p.model_id, [*diff.changes, *extra.changes])
            for change in changes:
                held = change.kind == STATUS and change.deployment_id in extra.held
                heard = [] if held else audience(by_model[p.model_id], change, production_id=prod, development_id=dev)
                outgoing.append(Outgoing(change, p.model_name, heard))
        report.changes = len(outgoing)
        try:
            report.deliveries_created = await self._store.outbox.record(
                snaps=to_write, models=models, outgoing=outgoing
            )
        except Conflict as exc:
            log.info("another replica recorded these changes first (%s); nothing written by this one", exc)
            report.changes = 0
            report.conflict = True
        if deliver and self._notifier is not None:
            report.sent = (await self._notifier.deliver_due()).sent
        return report

    def _note_failures(self, plans: list[ModelPlan], fetched: list[Fetched]) -> None:
        """One log line per cycle for failed fetches, and a refused key once, not per model."""
        failed = [(p, r) for p, r in zip(plans, fetched, strict=True) if isinstance(r, _Failed)]
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
            log.warning("%d of %d models could not be polled: %s%s", len(others), len(plans), sample, more)

    async def _attribute(self, model_id: str, changes: list[Change]) -> list[Change]:
        """Adds who deployed or promoted, from the model's audit log; silent when it can't be read."""
        wanted = [c for c in changes if c.kind in (NEW, PROMOTED)]
        if not wanted:
            return changes
        try:
            entries = await self._client.list_audit_logs(model_id, limit=50)
        except (BasetenError, ValueError):
            return changes
        return [attribute(c, entries) if c.kind in (NEW, PROMOTED) else c for c in changes]

    @staticmethod
    def _diff(
        p: ModelPlan,
        result: list[Deployment] | Deployment | None,
        known: dict[str, Snap],
        memory: ModelMemory | None,
        now: datetime,
    ) -> Diff:
        if p.whole:
            current = result if isinstance(result, list) or result is None else [result]
            return diff_model(
                known,
                current,
                model_id=p.model_id,
                baseline_known=memory is not None,
                prev_production=memory.production_id if memory else None,
                now=now,
            )
        out = Diff()
        if isinstance(result, list):
            listed = {d.id: d for d in result}
            for dep_id in p.deployments:
                out.extend(diff_deployment(known.get(dep_id), listed.get(dep_id), now=now))
        elif result is None:  # the model itself is gone
            for dep_id in p.deployments:
                out.extend(diff_deployment(known.get(dep_id), None, now=now))
        else:
            out.extend(diff_deployment(known.get(result.id), result, now=now))
        return out

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
            return _Failed(str(exc), auth=True)
        except BasetenError as exc:
            return _Failed(str(exc))
        except ValueError as exc:  # an id in the database that is not plain: never sent
            return _Failed(str(exc))


@dataclass(frozen=True)
class _Seen:
    plan: ModelPlan
    memory: ModelMemory | None
    diff: Diff
    current: dict[str, Snap]


def _current(
    p: ModelPlan, result: list[Deployment] | Deployment | None, known: dict[str, Snap], diff: Diff
) -> dict[str, Snap]:
    """Snapshots after this cycle of the deployments this cycle actually saw."""
    after = {**known, **{s.deployment_id: s for s in diff.snaps}}
    if isinstance(result, list) and p.whole:
        ids = {d.id for d in result}
    elif isinstance(result, list):
        ids = {d.id for d in result} & set(p.deployments)
    elif isinstance(result, Deployment):
        ids = {result.id}
    else:
        ids = set()
    return {d: after[d] for d in ids if d in after}


def _noise_keys(seen: list[_Seen]) -> set[tuple[str, str]]:
    keys = set()
    for item in seen:
        for c in item.diff.changes:
            if c.kind == STATUS:
                keys.add((c.model_id, c.deployment_id))
        for dep_id, snap in item.current.items():
            if snap.flapping_since is not None:
                keys.add((item.plan.model_id, dep_id))
    return keys


def _noise_since(seen: list[_Seen], now: datetime) -> datetime:
    starts = [s.flapping_since for item in seen for s in item.current.values() if s.flapping_since is not None]
    return min([now - noise.FLAP_WINDOW, *starts])


def attribute(change: Change, entries: list[AuditLogEntry]) -> Change:
    """The newest audit entry about this deployment's deploy or promotion names who did it."""
    for entry in entries:
        kind = entry.event_type.upper()
        wanted = "PROMOTED" in kind if change.kind == PROMOTED else kind.endswith("DEPLOYED")
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
