"""A `cost` report read from Baseten: the target resolved as `status` resolves it, the window's usage and
the window before's (through the shared CostCache), and what runs now with its price (the burn rate).

Requests stay bounded: the usage summary is one request per window, prices one a day; for the burn rate a
target's own deployments are listed once, and the whole workspace lists only the models and chains that
spent in the window, the largest first, at most MAX_LISTED of them.
"""

from __future__ import annotations

from datetime import date

from bot.baseten.client import BasetenClient
from bot.baseten.errors import BasetenError
from bot.commands.lookup import LookupFailed, explain, resolve_model
from bot.commands.typed import Cost
from bot.cost.cache import CostCache
from bot.domain.cost import Usage, last_days, window_before, window_problem
from bot.domain.spend import BurnNow, Report, Running, Scope, burn_now, ranked, report
from bot.domain.subjects import Kind, kind_of, own_id

MAX_LISTED = 10  # models and chains whose deployments the whole workspace's burn rate reads
RUNNING_JOB = "TRAINING_JOB_RUNNING"


async def cost_report(client: BasetenClient, cache: CostCache, cmd: Cost, *, today: date) -> Report:
    """The report `cmd` asks for, the window ending `today` (UTC). LookupFailed (NoBilling among them)
    when it cannot be answered."""
    refused = cache.refused()
    if refused is not None:
        raise refused  # asked nothing: the key was refused within the hour
    scope = await _scope(client, cmd.subject)
    start, end = last_days(cmd.days, today)
    usage = await _usage(cache, start, end)
    before, before_note = None, None
    earlier = window_before(start, end)
    problem = window_problem(*earlier)
    if problem is None:
        before = await _usage(cache, *earlier)
    else:
        before_note = f"the window before would start on {earlier[0].isoformat()}, and {problem}"
    scope, running, unread = await _running(client, scope, usage)
    burn, burn_note = await _burn(cache, running, unread)
    return report(scope, usage, before, before_note=before_note, burn=burn, burn_note=burn_note)


async def _scope(client: BasetenClient, typed: str | None) -> Scope:
    if typed is None:
        return Scope()
    model = await resolve_model(client, typed)  # LookupFailed: not found, several, Baseten failing
    return Scope(subject=kind_of(model.id), own_id=own_id(model.id), name=model.name)


async def _usage(cache: CostCache, start: date, end: date) -> Usage:
    try:
        return await cache.usage(start, end, interactive=True)
    except BasetenError as exc:
        raise LookupFailed(explain(exc)) from None


async def _running(client: BasetenClient, scope: Scope, usage: Usage) -> tuple[Scope, list[Running], str | None]:
    """What runs now in the scope (and a model's deployment ids, to match its usage by), and what could
    not be read."""
    try:
        if scope.subject is Kind.MODEL:
            deployments = await client.list_deployments(scope.own_id, interactive=True)
            ids = frozenset(d.id for d in deployments)
            running = [Running(d.display_name, d.active_replica_count or 0, d.instance_type_name) for d in deployments]
            return Scope(scope.subject, scope.own_id, scope.name, ids), running, None
        if scope.subject is Kind.CHAIN:
            return scope, await _chainlets(client, scope.own_id), None
        if scope.subject is Kind.TRAINING:
            jobs = await client.list_training_jobs(scope.own_id, interactive=True)
            type_of = [(j, j.instance_type.name or j.instance_type.id) for j in jobs if j.instance_type]
            return scope, [Running(j.name or j.id, 1, t) for j, t in type_of if j.current_status == RUNNING_JOB], None
    except BasetenError as exc:
        part = scope.subject.part if scope.subject is not None else "deployment"
        return scope, [], f"its {part}s could not be listed ({explain(exc)})"
    return scope, *await _workspace(client, usage)


async def _chainlets(client: BasetenClient, chain_id: str) -> list[Running]:
    deployments = await client.list_chain_deployments(chain_id, interactive=True)
    return [
        Running(c.name or c.id, c.active_replica_count or 0, c.instance_type_name)
        for d in deployments
        for c in d.chainlets
    ]


async def _workspace(client: BasetenClient, usage: Usage) -> tuple[list[Running], str | None]:
    """What runs now among the models and chains that spent in the window (the largest first, at most
    MAX_LISTED): a model or chain with replicas up has usage today, so none that runs is missed."""
    models: list[str] = []
    chains: list[str] = []
    for line in ranked(usage.lines):
        if line.kind == "MODEL_DEPLOYMENT" and not line.is_deleted and line.parent and line.parent not in models:
            models.append(line.parent)
        elif line.kind == "CHAINLET" and line.chain_id and line.chain_id not in chains:
            chains.append(line.chain_id)
    wanted = (models + chains)[:MAX_LISTED]
    left = len(models) + len(chains) - len(wanted)
    running: list[Running] = []
    failed = 0
    try:
        ids = {m.name: m.id for m in await client.list_models()} if set(wanted) & set(models) else {}
    except BasetenError:
        ids, failed = {}, len([w for w in wanted if w in models])
    for name in wanted:
        try:
            if name in models:
                if name not in ids:
                    continue  # no model of that name now (deleted): nothing of it runs
                listed = await client.list_deployments(ids[name], interactive=True)
                running += [Running(d.display_name, d.active_replica_count or 0, d.instance_type_name) for d in listed]
            else:
                running += await _chainlets(client, name)
        except BasetenError:
            failed += 1
    return running, _unread(left, failed)


def _unread(left: int, failed: int) -> str | None:
    parts = []
    if left:
        parts.append(f"the replicas of {left} more models and chains that spent less (at most {MAX_LISTED} are read)")
    if failed:
        noun = "model or chain" if failed == 1 else "models and chains"
        parts.append(f"the replicas of {failed} {noun} Baseten did not list just now")
    return "; ".join(parts) or None


async def _burn(cache: CostCache, running: list[Running], unread: str | None) -> tuple[BurnNow | None, str | None]:
    if not running and unread is not None:
        return None, unread
    try:
        prices = await cache.prices(interactive=True)
    except BasetenError as exc:  # NoBilling is not a BasetenError: a refusal answers the whole command
        return None, f"Baseten's prices could not be read: {explain(exc)}"
    return burn_now(running, prices, unread=unread), None
