"""The fleet-wide change detector's reads: one request per kind watched, whatever the fleet's size.

GET /v1/models gives each model's deployment count and production and development ids;
GET /v1/chains each chain's deployment count; GET /v1/training_projects each project's
latest job with its status, so a new job, or the latest one ending, is seen at once. A
watched key whose signature changed between two reads is polled at once (bot.polling.loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from bot.baseten.client import BasetenClient
from bot.baseten.errors import BasetenError
from bot.domain.subjects import Kind, kind_of
from bot.polling.schedule import Signature, signatures


async def read_fleet(
    client: BasetenClient, watched: Iterable[str], before: Mapping[str, Signature] | None = None
) -> dict[str, Signature]:
    """The signatures of every model, chain and training project of the kinds watched. A kind whose list
    could not be read (a key without training access, a slow endpoint) keeps what `before` held for it,
    so it is neither compared nor poked, and the other kinds are still detected; when every kind watched
    fails, the client's error is raised."""
    kinds = sorted({kind_of(key) for key in watched}, key=lambda k: k.value)
    reads: dict[Kind, Callable[[], Awaitable[Sequence[Any]]]] = {
        Kind.MODEL: client.list_models,
        Kind.CHAIN: client.list_chains,
        Kind.TRAINING: client.list_training_projects,
    }
    answers = await asyncio.gather(*(reads[kind]() for kind in kinds), return_exceptions=True)
    found: dict[str, Signature] = {}
    failures: list[BaseException] = []
    for kind, answer in zip(kinds, answers, strict=True):
        if isinstance(answer, BaseException):
            if not isinstance(answer, BasetenError | ValueError):
                raise answer
            failures.append(answer)
            found.update({k: v for k, v in (before or {}).items() if kind_of(k) is kind})
        else:
            found.update(_signatures(kind, answer))
    if failures and len(failures) == len(kinds):
        raise failures[0]
    return found


def _signatures(kind: Kind, listed: Sequence[Any]) -> dict[str, Signature]:
    if kind is Kind.MODEL:
        return signatures(listed)
    if kind is Kind.CHAIN:
        return {Kind.CHAIN.prefix + c.id: (c.deployments_count, None, None) for c in listed}
    found: dict[str, Signature] = {}
    for project in listed:
        job = project.latest_job
        found[Kind.TRAINING.prefix + project.id] = (None, job.id, job.current_status) if job else (None, None, None)
    return found
