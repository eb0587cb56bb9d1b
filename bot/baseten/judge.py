"""What of Baseten's answer the bot can use: ids it can send back, text and numbers its database
holds, deployments of the model asked about. An answer it cannot use is refused (BadResponse,
"could not read") rather than half-stored; a list leaves out the odd item on its own (client).
"""

from __future__ import annotations

import logging
from typing import TypeVar

from pydantic import BaseModel

from bot.baseten.errors import BadResponse
from bot.baseten.models import Deployment, DeploymentList, Environment, EnvironmentList, Model, ModelList, Part
from bot.domain.ids import is_plain_id

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)


def owned(dep: Deployment, model_id: str, path: str) -> Deployment:
    """Fills in the owning model when the server left `model_id` out; another model's is unusable."""
    if not dep.model_id:
        return dep.model_copy(update={"model_id": model_id})
    if dep.model_id != model_id:
        log.info("Baseten's answer to %s is unusable: a deployment of model %r", path, dep.model_id)
        raise BadResponse(f"Baseten sent an answer this bot cannot read ({path})")
    return dep


def env_owned(env: Environment, model_id: str, path: str) -> Environment:
    """An environment's deployments belong to its model, like a listed deployment's."""
    update = {
        k: owned(dep, model_id, path)
        for k, dep in (
            ("current_deployment", env.current_deployment),
            ("candidate_deployment", env.candidate_deployment),
        )
        if dep is not None
    }
    return env.model_copy(update=update) if update else env


# what the database holds (bot.store.tables): a status in String(64), names in String(255), counts in INTEGER
_MAX_STATUS = 64
_MAX_NAME = 255
_MAX_INT = 2**31 - 1


def judged(body: T, path: str) -> T:
    """The answer, if the bot can use all of it; else BadResponse ("could not read")."""
    problem = unusable(body)
    if problem:
        log.info("Baseten's answer to %s is unusable: %s", path, problem)
        raise BadResponse(f"Baseten sent an answer this bot cannot read ({path})")
    return body


def unusable(body: BaseModel) -> str | None:
    """Why the bot cannot use this answer, or None: ids it could not send back to Baseten,
    text or numbers its database cannot hold. (A deployment's model: see `owned`.)"""
    if isinstance(body, ModelList):
        return next(filter(None, map(unusable, body.models)), None)
    if isinstance(body, DeploymentList):
        return next(filter(None, map(unusable, body.deployments)), None)
    if isinstance(body, EnvironmentList):
        return next(filter(None, map(unusable, body.environments)), None)
    if isinstance(body, Environment):
        promo = body.in_progress_promotion
        traffic = promo.percent_traffic_to_new_version if promo else None
        deps = [d for d in (body.current_deployment, body.candidate_deployment) if d is not None]
        return (
            _bad_id("environment name", body.name)
            or next(filter(None, map(unusable, deps)), None)
            or (_bad_text("promotion status", promo.status, _MAX_STATUS) if promo else None)
            or (
                f"percent_traffic_to_new_version {traffic}" if traffic is not None and abs(traffic) > _MAX_INT else None
            )
        )
    if isinstance(body, Model):
        return _bad_id("model id", body.id) or _bad_text("model name", body.name, _MAX_NAME)
    if isinstance(body, Deployment):
        count = body.active_replica_count
        return (
            _bad_id("deployment id", body.id)
            or _bad_text("status", body.status, _MAX_STATUS)
            or _bad_text("deployment name", body.name, _MAX_NAME)
            or _bad_text("environment", body.environment, _MAX_NAME)
            or _bad_text("instance type", body.instance_type_name, _MAX_NAME)
            or (f"active_replica_count {count}" if count is not None and not 0 <= count <= _MAX_INT else None)
            or next(filter(None, map(_bad_part, body.parts or ())), None)
        )
    return None


def _bad_part(part: Part) -> str | None:
    """A chainlet the bot names in a notice and asks Baseten for the logs of."""
    return (
        _bad_id("chainlet id", part.id)
        or _bad_text("chainlet status", part.status, _MAX_STATUS)
        or _bad_text("chainlet name", part.name, _MAX_NAME)
    )


def _bad_id(what: str, value: str) -> str | None:
    return None if is_plain_id(value) else f"{what} {value[:80]!r} is not a plain id"


def _bad_text(what: str, value: str | None, limit: int) -> str | None:
    """Text PostgreSQL refuses: a NUL character, or longer than its column."""
    if value is None:
        return None
    if "\x00" in value or len(value) > limit:
        return f"{what} {value[:80]!r} is longer than {limit} characters or holds a NUL"
    return None
