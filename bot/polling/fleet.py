"""The fleet-wide change detector's reads: one request per kind watched, whatever the fleet's size.

GET /v1/models gives each model's deployment count and production and development ids;
GET /v1/chains each chain's deployment count; GET /v1/training_projects each project's
latest job with its status, so a new job, or the latest one ending, is seen at once. A
watched key whose signature changed between two reads is polled at once (bot.polling.loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from bot.baseten.client import BasetenClient
from bot.domain.subjects import Kind, kind_of
from bot.polling.schedule import Signature, signatures


async def read_fleet(client: BasetenClient, watched: Iterable[str]) -> dict[str, Signature]:
    """The signatures of every model, chain and training project of the kinds watched. Raises what
    the client raises: one read that fails makes the whole answer unknown (nothing is compared)."""
    kinds = {kind_of(key) for key in watched}
    reads = await asyncio.gather(
        client.list_models() if Kind.MODEL in kinds else _nothing(),
        client.list_chains() if Kind.CHAIN in kinds else _nothing(),
        client.list_training_projects() if Kind.TRAINING in kinds else _nothing(),
    )
    models, chains, projects = reads
    found = signatures(models)
    found.update({Kind.CHAIN.prefix + c.id: (c.deployments_count, None, None) for c in chains})
    for project in projects:
        job = project.latest_job
        found[Kind.TRAINING.prefix + project.id] = (None, job.id, job.current_status) if job else (None, None, None)
    return found


async def _nothing() -> list[Any]:
    return []
