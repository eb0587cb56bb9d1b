"""Baseten management API client: typed errors, retries, one shared rate limit.

Nothing a user types reaches a path unvalidated: ids must be plain (bot.domain.ids) and
are percent-encoded as one path segment before the request is built. Nothing Baseten
answers reaches the bot unchecked either: an answer the spec allows but the bot cannot
use (an id that is not plain, a deployment of another model, a value its database cannot
hold) is a BadResponse, like a body that is not the spec's JSON. The answers' types live
in bot.baseten.models, the errors in bot.baseten.errors.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from bot.baseten.billing_api import BillingApi
from bot.baseten.errors import AuthError, BadResponse, BasetenError, NotFound, RateLimited, Unavailable
from bot.baseten.judge import env_owned, judged, owned, unusable
from bot.baseten.metrics_api import MetricsApi
from bot.baseten.models import (
    AuditLogEntry,
    AuditLogPage,
    Deployment,
    DeploymentList,
    Environment,
    EnvironmentList,
    Listed,
    LogLine,
    LogPage,
    Model,
    ModelList,
    Skipped,
)
from bot.baseten.paths import Query, log_params
from bot.baseten.paths import segment as _segment
from bot.baseten.ratelimit import RateLimiter
from bot.baseten.runs_api import RunsApi
from bot.domain.ids import is_plain_id
from bot.domain.subjects import Kind, kind_of

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)


Sleep = Callable[[float], Awaitable[None]]
ACT_METHODS = ("POST", "PATCH")  # what an action may send; everything else the client does is a GET


class BasetenClient(RunsApi, MetricsApi, BillingApi):
    """Async client for the read endpoints the bot uses.

    Retries 429 (honouring `retry_after`), 5xx, timeouts and connection errors with
    jittered exponential backoff, bounded by `max_attempts` and `max_seconds`.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        limiter: RateLimiter,
        timeout: float = 10.0,
        max_attempts: int = 4,
        max_seconds: float = 25.0,
        max_concurrency: int = 64,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        user_agent: str = "baseten-slack-bot",
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={
                "Authorization": f"Api-Key {api_key}",
                "Accept": "application/json",
                "User-Agent": user_agent,
            },
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            limits=httpx.Limits(max_connections=max_concurrency),
        )
        self._limiter = limiter
        self._max_attempts = max_attempts
        self._max_seconds = max_seconds
        self._sleep = sleep
        self._background = asyncio.Semaphore(max_concurrency)
        self.requests_sent = 0
        self._skipped_logged: set[tuple[str, str, str]] = set()
        self.on_request: Callable[[str, int | None], None] | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- endpoints -------------------------------------------------------------

    async def get_deployment(self, model_id: str, deployment_id: str, *, interactive: bool = False) -> Deployment:
        if kind_of(model_id) is not Kind.MODEL:
            return await self.subject_deployment(model_id, deployment_id, interactive=interactive)
        path = f"/v1/models/{_segment(model_id, 'model id')}/deployments/{_segment(deployment_id, 'deployment id')}"
        return owned(await self._get(path, Deployment, interactive=interactive), model_id, path)

    async def get_production_deployment(self, model_id: str, *, interactive: bool = False) -> Deployment:
        if kind_of(model_id) is not Kind.MODEL:
            return await self.subject_production(model_id, interactive=interactive)
        path = f"/v1/models/{_segment(model_id, 'model id')}/deployments/production"
        return owned(await self._get(path, Deployment, interactive=interactive), model_id, path)

    async def get_development_deployment(self, model_id: str, *, interactive: bool = False) -> Deployment:
        if kind_of(model_id) is not Kind.MODEL:
            raise NotFound("only a model has a development deployment")
        path = f"/v1/models/{_segment(model_id, 'model id')}/deployments/development"
        return owned(await self._get(path, Deployment, interactive=interactive), model_id, path)

    async def list_deployments(self, model_id: str, *, name: str | None = None, interactive: bool = False) -> Listed:
        if kind_of(model_id) is not Kind.MODEL:
            listed = await self.subject_deployments(model_id, interactive=interactive)
            return listed if name is None else Listed(d for d in listed if name in (d.name, d.id))
        path = f"/v1/models/{_segment(model_id, 'model id')}/deployments"
        # the API has no name filter: match here, and judge only what matched, so one odd deployment
        # elsewhere in the model does not make every lookup by name unreadable
        body = await self._get(path, DeploymentList, interactive=interactive, judge=False)
        if name is not None:
            found = [owned(dep, model_id, path) for dep in body.deployments if dep.name == name]
            return Listed(judged(DeploymentList(deployments=found), path).deployments)
        usable, skipped = [], []
        for raw in body.deployments:  # one odd deployment is left out on its own: the rest of the model is heard
            dep = raw if raw.model_id else raw.model_copy(update={"model_id": model_id})
            problem = unusable(dep) or (
                f"a deployment of model {dep.model_id[:80]!r}" if dep.model_id != model_id else None
            )
            if problem is None:
                usable.append(dep)
            else:
                skipped.append(Skipped(dep.id, problem, bool(dep.is_production), bool(dep.is_development)))
                self._log_skipped(model_id, dep.id, problem)
        return Listed(usable, skipped)

    def _log_skipped(self, model_id: str, item: str, problem: str) -> None:
        """Once per item and reason, not every poll: it stays odd until someone changes it."""
        key = (model_id, item, problem)
        if key not in self._skipped_logged:
            self._skipped_logged.add(key)
            what = "an environment" if item.startswith("environment ") else "a deployment"
            log.warning("left out %s of model %s that the bot cannot use: %s", what, model_id[:80], problem)

    async def get_model(self, model_id: str, *, interactive: bool = False) -> Model:
        if kind_of(model_id) is not Kind.MODEL:
            return await self.subject_model(model_id, interactive=interactive)
        path = f"/v1/models/{_segment(model_id, 'model id')}"
        return await self._get(path, Model, interactive=interactive)

    async def list_models(self) -> list[Model]:
        """Every model of the key's team, with its deployment count and production and development ids:
        the fleet-wide change detector's one request (bot.polling.schedule). Not judged: only the counts and ids
        are compared, and nothing from it is sent back, so one odd model does not blind the detector."""
        return (await self._get("/v1/models", ModelList, interactive=False, judge=False)).models

    async def find_models(self, name: str, *, interactive: bool = False) -> list[Model]:
        """Models named exactly `name` (names are unique per team only). Baseten's published spec has no
        name filter, so the list is read and matched here; bot.commands.lookup checks the names again."""
        if not is_plain_id(name):
            raise ValueError(f"model name is not plain: {name[:80]!r}")
        body = await self._get("/v1/models", ModelList, interactive=interactive, judge=False)
        return judged(ModelList(models=[m for m in body.models if m.name == name]), "/v1/models").models

    async def list_audit_logs(
        self, model_id: str, *, limit: int = 20, interactive: bool = False
    ) -> list[AuditLogEntry]:
        """The newest audit-log entries of a model (one page); chains and training projects have none."""
        if kind_of(model_id) is not Kind.MODEL:
            return []
        path = f"/v1/models/{_segment(model_id, 'model id')}/audit_logs"
        params = {"limit": str(max(1, min(limit, 200))), "direction": "DESC"}
        body = await self._get(path, AuditLogPage, params=params, interactive=interactive)
        return body.items

    async def deployment_logs(
        self,
        model_id: str,
        deployment_id: str,
        *,
        start_epoch_millis: int | None = None,
        min_level: str | None = None,
        newest_first: bool = True,
        limit: int = 500,
        interactive: bool = False,
    ) -> list[LogLine]:
        """One page of a deployment's logs, with only the query parameters the spec defines (paths.log_params)."""
        dep = _segment(deployment_id, "deployment id")
        path = f"/v1/models/{_segment(model_id, 'model id')}/deployments/{dep}/logs"
        params = log_params(
            start_epoch_millis=start_epoch_millis, min_level=min_level, newest_first=newest_first, limit=limit
        )
        return (await self._get(path, LogPage, params=params, interactive=interactive)).logs

    async def act(self, path: str, body: dict[str, Any], *, method: str = "POST") -> tuple[int, Any]:
        """One POST (retry, activate, deactivate, promote) or PATCH (scale to zero) that changes something:
        sent once, never retried (a retried request could act twice), inside the shared limiter, ahead
        of the poller.

        Returns Baseten's status code and JSON body as given, refusals included, for the caller to
        show; raises Unavailable when no answer came, when it cannot tell whether it happened."""
        if method not in ACT_METHODS:
            raise ValueError(f"not a method that acts: {method[:20]!r}")
        if not path.startswith("/v1/") or any(not is_plain_id(seg) for seg in path.strip("/").split("/")):
            raise ValueError(f"not a plain API path: {path[:120]!r}")
        await self._limiter.acquire(interactive=True)
        self.requests_sent += 1
        try:
            response = await self._http.request(method, path, json=body)
        except httpx.TimeoutException:
            self._count(path, None)
            raise Unavailable("Baseten did not answer in time") from None
        except httpx.TransportError:
            self._count(path, None)
            raise Unavailable("Baseten could not be reached") from None
        self._count(path, response.status_code)
        try:
            answer: Any = response.json()
        except ValueError:
            answer = {"error": response.text[:200]} if response.text else {}
        return response.status_code, answer

    async def list_environments(self, model_id: str, *, interactive: bool = False) -> list[Environment]:
        """Every environment of a model (production, staging, custom ones), with any promotion in progress."""
        if kind_of(model_id) is not Kind.MODEL:
            return await self.subject_environments(model_id, interactive=interactive)
        path = f"/v1/models/{_segment(model_id, 'model id')}/environments"
        body = await self._get(path, EnvironmentList, interactive=interactive, judge=False)
        usable = []
        for env in body.environments:  # an odd one is left out on its own, as an odd deployment is
            deps = [d for d in (env.current_deployment, env.candidate_deployment) if d is not None]
            other = next((d.model_id for d in deps if d.model_id and d.model_id != model_id), None)
            problem = unusable(env) or (f"a deployment of model {other[:80]!r}" if other else None)
            if problem is None:
                usable.append(env_owned(env, model_id, path))
            else:
                self._log_skipped(model_id, f"environment {env.name[:80]!r}", problem)
        return usable

    async def get_environment(self, model_id: str, env_name: str, *, interactive: bool = False) -> Environment:
        if kind_of(model_id) is not Kind.MODEL:
            return await self.subject_environment(model_id, env_name, interactive=interactive)
        path = f"/v1/models/{_segment(model_id, 'model id')}/environments/{_segment(env_name, 'environment name')}"
        return env_owned(await self._get(path, Environment, interactive=interactive), model_id, path)

    # -- transport ---------------------------------------------------------------

    async def _get(
        self,
        path: str,
        shape: type[T],
        *,
        params: Query | None = None,
        interactive: bool,
        judge: bool = True,
    ) -> T:
        content = await self._get_bytes(path, params=params, interactive=interactive)
        try:
            body = shape.model_validate_json(content)
        except ValidationError:
            raise BadResponse(f"Baseten sent an answer this bot cannot read ({path})") from None
        return judged(body, path) if judge else body

    async def _get_bytes(self, path: str, *, params: Query | None = None, interactive: bool) -> bytes:
        """A 2xx answer's body as sent, for a reader that parses it itself (bot.baseten.billing)."""
        if interactive:
            response = await self._send(path, params, interactive=True)
        else:
            async with self._background:
                response = await self._send(path, params, interactive=False)
        return response.content

    async def _send(self, path: str, params: Query | None, *, interactive: bool) -> httpx.Response:
        deadline = time.monotonic() + self._max_seconds
        failure: BasetenError = Unavailable("Baseten did not answer")
        for attempt in range(self._max_attempts):
            if attempt:
                delay = _backoff(attempt, failure)
                if time.monotonic() + delay > deadline:
                    break
                await self._sleep(delay)
            await self._limiter.acquire(interactive=interactive)
            self.requests_sent += 1
            try:
                response = await self._http.get(path, params=params)
            except httpx.TimeoutException:
                self._count(path, None)
                failure = Unavailable("Baseten did not answer in time")
                continue
            except httpx.TransportError:
                self._count(path, None)
                failure = Unavailable("Baseten could not be reached")
                continue
            self._count(path, response.status_code)
            status = response.status_code
            if 200 <= status < 300:
                return response
            if status == 404:
                raise NotFound("not found on Baseten")
            if status in (401, 403):
                raise AuthError(status, _auth_message(status))
            if status == 429:
                retry_after = _retry_after(response)
                self._limiter.pause(retry_after)
                failure = RateLimited(retry_after)
                continue
            if status >= 500:
                failure = Unavailable(f"Baseten answered {status}")
                continue
            raise BadResponse(f"Baseten answered {status} ({path})")
        raise failure

    def _count(self, path: str, status: int | None) -> None:
        if self.on_request is not None:
            self.on_request(path, status)


def _auth_message(status: int) -> str:
    if status == 401:
        return "Baseten rejected the API key (401): check BASETEN_API_KEY"
    return "the Baseten API key may not read this (403): it needs management access"


def _retry_after(response: httpx.Response) -> float:
    """Seconds from the body's `retry_after` (documented) or the Retry-After header."""
    value: Any = None
    try:
        body = response.json()
        if isinstance(body, dict):
            value = body.get("retry_after")
    except ValueError:
        value = None
    if value is None:
        value = response.headers.get("retry-after")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = 1.0
    return min(max(seconds, 0.0), 60.0)


def _backoff(attempt: int, failure: BasetenError) -> float:
    if isinstance(failure, RateLimited):
        return failure.retry_after + random.uniform(0, 0.1)  # noqa: S311 - jitter, not crypto
    base: float = 0.25 * (2 ** (attempt - 1))
    return float(min(base, 4.0) * random.uniform(0.5, 1.0))  # noqa: S311
