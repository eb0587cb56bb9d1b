"""Why it failed, the reading half: a failing deployment's newest error lines, within a bounded wait.

The poller reads them once per change, between deciding and writing, for every change of the
cycle together within `wait` seconds (5 by default); a fetch still running then, a 403 or any
other error leaves a marker that the logs could not be read, and the change is recorded all
the same. Requests go through the shared client, so through the BASETEN_MAX_RPS limiter.
What is kept and how it is shown: bot.render.excerpt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.baseten.client import BasetenClient
from bot.baseten.errors import AuthError, BasetenError
from bot.baseten.models import Deployment, LogLine
from bot.domain.memory import Outgoing
from bot.domain.status import FAILURES
from bot.domain.subjects import Kind, kind_of, own_id
from bot.polling.decide import Failed, Fetched, ModelPlan
from bot.render import excerpt

log = logging.getLogger(__name__)

LOG_WAIT = 5.0  # seconds for all of a cycle's log reads together, and for a status card's


async def read(
    client: BasetenClient,
    dep: Deployment,
    *,
    status: str,
    old_since: datetime | None,
    now: datetime,
    interactive: bool = False,
) -> dict[str, Any]:
    """The excerpt to keep for one failing deployment; never raises (except when cancelled)."""
    start = excerpt.window_start(status, created_at=dep.created_at, old_since=old_since, now=now)
    try:
        lines = await _lines(client, dep, int(start.timestamp() * 1000), interactive=interactive)
    except AuthError as exc:
        log.info("logs of %s/%s: %s", dep.model_id, dep.id, exc)
        return excerpt.unread("forbidden", dep.labels)
    except (BasetenError, ValueError) as exc:
        log.info("logs of %s/%s could not be read: %s", dep.model_id, dep.id, exc)
        return excerpt.unread("error", dep.labels)
    except Exception:  # a fault in reading them must never cost the notice
        log.exception("logs of %s/%s could not be read", dep.model_id, dep.id)
        return excerpt.unread("error", dep.labels)
    return excerpt.found(lines, dep.labels, since=start, message=_message(dep))


def _message(dep: Deployment) -> str | None:
    """What Baseten says went wrong, besides the logs: a training job's `error_message`."""
    said = (dep.model_extra or {}).get("error_message")
    return said if isinstance(said, str) and said.strip() else None


async def _lines(client: BasetenClient, dep: Deployment, start_ms: int, *, interactive: bool) -> list[LogLine]:
    """The newest ERROR lines of a model's deployment, a training job, or a chain deployment's failing
    chainlets (each line named by its chainlet; at most MAX_CHAINLETS read, newest lines first)."""
    query: dict[str, Any] = {
        "start_epoch_millis": start_ms,
        "min_level": "ERROR",
        "newest_first": True,
        "limit": excerpt.MAX_LINES,
        "interactive": interactive,
    }
    kind, own = kind_of(dep.model_id), own_id(dep.model_id)
    if kind is Kind.MODEL:
        return await client.deployment_logs(dep.model_id, dep.id, **query)
    if kind is Kind.TRAINING:
        return await client.training_job_logs(own, dep.id, **query)
    parts = dep.parts or []
    failing = [p for p in parts if p.status in FAILURES] or parts
    read = await asyncio.gather(*(client.chainlet_logs(own, dep.id, p.id, **query) for p in failing[:MAX_CHAINLETS]))
    named = [
        log.model_copy(update={"message": f"[{part.display_name}] {log.message}"})
        for part, logs in zip(failing, read, strict=False)
        for log in logs
    ]
    return sorted(named, key=lambda log: _ns(log.timestamp), reverse=True)


MAX_CHAINLETS = 3  # a chain deployment's failing chainlets whose logs one notice reads


def _ns(timestamp: str) -> int:
    try:
        return int(timestamp)
    except ValueError:
        return 0


async def within(wait: float, jobs: Mapping[int, tuple[Awaitable[dict[str, Any]], Deployment]]) -> dict[int, Any]:
    """Runs every job at once for at most `wait` seconds; one still running then is cancelled and
    kept as "did not answer in time"."""
    tasks = {key: asyncio.ensure_future(job) for key, (job, _) in jobs.items()}
    if not tasks:
        return {}
    try:
        await asyncio.wait(tasks.values(), timeout=wait)
    finally:
        late = [task for task in tasks.values() if not task.done()]
        for task in late:
            task.cancel()
        if late:  # cancelled requests end at once; waiting for them leaves nothing orphaned
            await asyncio.wait(late)
    out: dict[int, Any] = {}
    for key, task in tasks.items():
        if task.cancelled() or task.exception() is not None:
            out[key] = excerpt.unread("timeout" if task.cancelled() else "error", jobs[key][1].labels)
        else:
            out[key] = task.result()
    late_count = sum(task.cancelled() for task in tasks.values())
    if late_count:
        log.info("logs: %d of %d reads did not answer within %gs", late_count, len(tasks), wait)
    return out


async def for_changes(
    client: BasetenClient,
    outgoing: Sequence[Outgoing],
    answers: Sequence[tuple[ModelPlan, Fetched]],
    *,
    now: datetime,
    wait: float = LOG_WAIT,
) -> dict[int, Any]:
    """One read per failing change that some channel hears (however many), by its index in `outgoing`."""
    seen = {(d.model_id, d.id): d for _, fetched in answers for d in deployments_of(fetched)}
    jobs: dict[int, tuple[Awaitable[dict[str, Any]], Deployment]] = {}
    for i, item in enumerate(outgoing):
        change = item.change
        dep = seen.get((change.model_id, change.deployment_id))
        if dep is not None and item.watchers and excerpt.wants_logs(change):  # unheard: nothing to explain
            job = read(client, dep, status=change.new_status, old_since=change.old_since, now=now)
            jobs[i] = (job, dep)
    return await within(wait, jobs)


def attach(outgoing: Sequence[Outgoing], why: Mapping[int, Any]) -> list[Outgoing]:
    """The changes, each failing one with its excerpt in `detail`."""
    return [
        replace(item, change=replace(item.change, detail={**item.change.detail, excerpt.WHY: why[i]}))
        if i in why
        else item
        for i, item in enumerate(outgoing)
    ]


async def for_card(client: BasetenClient, dep: Deployment, *, now: datetime, wait: float = LOG_WAIT) -> Any:
    """The excerpt for a status card: read live, for this deployment only, when it is failing."""
    if dep.status not in FAILURES:
        return None
    job = read(client, dep, status=dep.status, old_since=None, now=now, interactive=True)
    return (await within(wait, {0: (job, dep)}))[0]


def deployments_of(fetched: Fetched) -> list[Deployment]:
    if isinstance(fetched, Deployment):
        return [fetched]
    if fetched is None or isinstance(fetched, Failed):
        return []
    return list(fetched)
