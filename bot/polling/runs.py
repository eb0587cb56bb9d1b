"""What a training job's notice says besides its status, read between deciding and writing.

A job that ended (completed, failed or stopped) gets how long it ran, its instance type and
how many checkpoints it wrote (one request: its checkpoints); a job pending longer than
QUEUE_NOTE gets one line on why it waits (one request: its queue context). Read for every
change of the cycle together within the same bounded wait as the error lines (bot.polling.why);
what could not be read in time is left out, and the change is recorded all the same.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.baseten.client import BasetenClient
from bot.baseten.errors import BasetenError
from bot.baseten.models import Deployment
from bot.baseten.runs import QueueContext
from bot.domain.changes import QUEUE, QUEUED, RUN, STATUS, Change
from bot.domain.memory import Outgoing
from bot.domain.status import FAILURES, JOB_COMPLETED, JOB_STOPPED
from bot.domain.subjects import Kind, kind_of, own_id
from bot.polling.decide import Fetched
from bot.polling.why import LOG_WAIT, deployments_of

log = logging.getLogger(__name__)
ENDS = FAILURES | {JOB_COMPLETED, JOB_STOPPED}


def wants_run(change: Change) -> bool:
    return change.kind == STATUS and change.new_status in ENDS and kind_of(change.model_id) is Kind.TRAINING


async def for_changes(
    client: BasetenClient,
    outgoing: Sequence[Outgoing],
    answers: Sequence[tuple[Any, Fetched]],
    *,
    now: datetime,
    wait: float = LOG_WAIT,
) -> dict[int, dict[str, Any]]:
    """Detail to add, by index in `outgoing`, for the training changes some channel hears."""
    seen = {(d.model_id, d.id): d for _, fetched in answers for d in deployments_of(fetched)}
    jobs: dict[int, Awaitable[dict[str, Any]]] = {}
    for i, item in enumerate(outgoing):
        change = item.change
        job = seen.get((change.model_id, change.deployment_id))
        if job is None or not item.watchers:
            continue
        if wants_run(change):
            jobs[i] = _ended(client, job, now)
        elif change.kind == QUEUED:
            jobs[i] = _queued(client, job)
    if not jobs:
        return {}
    tasks = {i: asyncio.ensure_future(job) for i, job in jobs.items()}
    try:
        await asyncio.wait(tasks.values(), timeout=wait)
    finally:
        late = [t for t in tasks.values() if not t.done()]
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
    return {i: t.result() for i, t in tasks.items() if not t.cancelled() and t.exception() is None}


def attach(outgoing: Sequence[Outgoing], detail: Mapping[int, dict[str, Any]]) -> list[Outgoing]:
    return [
        replace(item, change=replace(item.change, detail={**item.change.detail, **detail[i]})) if i in detail else item
        for i, item in enumerate(outgoing)
    ]


async def _ended(client: BasetenClient, job: Deployment, now: datetime) -> dict[str, Any]:
    """How long it took from its creation to its last update (any wait for GPUs included: the notice's
    "Time in TRAINING_JOB_RUNNING" is the run as the bot saw it), on what, and the checkpoints it wrote."""
    run: dict[str, Any] = {"instance_type": job.instance_type_name or ""}
    updated = (job.model_extra or {}).get("updated_at")
    end = _when(updated) or now
    if job.created_at is not None:
        run["duration_s"] = max(0, int((end - job.created_at).total_seconds()))
    try:
        run["checkpoints"] = len(await client.training_checkpoints(own_id(job.model_id), job.id))
    except (BasetenError, ValueError) as exc:
        log.info("checkpoints of %s/%s could not be read: %s", job.model_id, job.id, exc)
    return {RUN: run}


async def _queued(client: BasetenClient, job: Deployment) -> dict[str, Any]:
    try:
        context = await client.queue_context(job.id)
    except (BasetenError, ValueError) as exc:
        log.info("queue context of %s/%s could not be read: %s", job.model_id, job.id, exc)
        return {}
    return {QUEUE: queue_line(context)}


def queue_line(context: QueueContext) -> str:
    """One line on why a job waits: what it asked for, who held the pool, the caps, the latest event."""
    asked = f"{context.requested_gpus} × {context.gpu_type}" if context.gpu_type else f"{context.requested_gpus} GPUs"
    parts = [f"Waiting for {asked}"]
    held, ahead = len(context.active_at_submit), len(context.pending_ahead_at_submit)
    jobs = "1 job" if held == 1 else f"{held} jobs"
    parts.append(
        f"when it was submitted, {jobs} held that pool and {ahead} {'was' if ahead == 1 else 'were'} queued ahead of it"
    )
    caps = [
        f"{who} cap {cap.max_gpus} GPUs"
        for who, cap in (("org", context.org_capacity), ("team", context.team_capacity))
        if cap is not None and cap.max_gpus is not None
    ]
    if caps:
        parts.append(", ".join(caps))
    latest = next((e.event_message for e in reversed(context.events) if e.event_message), None)
    if latest:
        parts.append(f"latest: {latest}")
    return "; ".join(parts) + "."


def _when(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None
