"""The idle check's periodic pass (issue 25; CONTRACT.md "Cost"), on the lease holder.

1. the subscriptions that ask for idle notices, and what the poller last saw of their models'
   deployments (its snapshots: no extra deployment reads);
2. spells announced whose deployment is no longer up end (another status, no replicas, deleted,
   or nobody listening any more);
3. each candidate (bot.idle.plan) is read at most once a CHECK: its requests over the last
   IDLE_AFTER_MINUTES (`SUMMARY`), inside the client's shared rate budget. Unreadable metrics are
   no verdict: never a false idle notice, and the next check reads again;
4. an idle candidate not yet announced is announced once (bot.store.idle_spells claims it in the
   outbox's transaction), with its replicas, requests, instance type, what it costs a day (prices
   through the service's cost cache: read at most once a day) and its minimum replicas (one
   deployment read, for Scale to zero); a candidate that is busy again ends its spell.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from bot.baseten.client import BasetenClient
from bot.baseten.errors import AuthError, BasetenError
from bot.baseten.metrics import REPLICAS, REQUESTS, DeploymentMetrics, to_window
from bot.cost.cache import NoBilling
from bot.domain.cost import Prices, burn
from bot.domain.memory import Outgoing
from bot.idle.plan import Candidate, candidates, idle_change, is_idle, listening
from bot.store import Store

log = logging.getLogger(__name__)

CHECK = timedelta(minutes=10)  # a candidate's requests are read at most this often
READING = 4  # candidates read at once


class IdleJob:
    def __init__(
        self,
        *,
        store: Store,
        client: BasetenClient,
        now: Callable[[], datetime],
        after: timedelta,
        prices: Callable[[], Awaitable[Prices]],
    ) -> None:
        """`prices`: Baseten's instance type prices, cached (bot.cost.cache: a day; a 403 an hour)."""
        self._store = store
        self._client = client
        self._now = now
        self._after = after
        self._every = min(CHECK, after)
        self._checked: dict[tuple[str, str], datetime] = {}
        self._read_prices = prices
        self._reading = asyncio.Semaphore(READING)

    async def run(self) -> int:
        """One pass; the number of deployments whose requests were read."""
        now = self._now()
        listeners = listening(await self._store.subscriptions.watchers())
        announced = await self._store.idle.announced()
        if not listeners:
            self._checked.clear()
            await self._store.idle.end(announced)
            return 0
        snaps, models = await self._store.seen(listeners)
        states = await self._store.environments.memory(list(listeners))
        envs = {m: {name: s.current_id for name, s in by_env.items()} for m, by_env in states.items()}
        found = candidates(listeners, snaps, models, envs, now=now, after=self._after)
        up = {(c.model_id, c.deployment_id) for c in found}
        await self._store.idle.end(k for k in announced if k not in up)
        self._checked = {k: v for k, v in self._checked.items() if k in up}
        due = [c for c in found if self._checked.get(_key(c), now - self._every) <= now - self._every]
        read = await asyncio.gather(*(self._requests(c, now) for c in due))
        for candidate, requests in zip(due, read, strict=True):
            self._checked[_key(candidate)] = now
            if requests is None:
                continue
            if not is_idle(requests, self._after):
                if _key(candidate) in announced:
                    await self._store.idle.end([_key(candidate)])
            elif _key(candidate) not in announced:
                await self._announce(candidate, requests, now)
        return len(due)

    async def _requests(self, c: Candidate, now: datetime) -> float | None:
        """Its requests over the last IDLE_AFTER_MINUTES; None when Baseten did not say."""
        async with self._reading:
            try:
                answer = await self._client.deployment_metrics(
                    c.model_id,
                    c.deployment_id,
                    mode="SUMMARY",
                    start_epoch_millis=_millis(now - self._after),
                    end_epoch_millis=_millis(now),
                    metrics=(REQUESTS, REPLICAS),
                )
            except BasetenError as exc:
                log.info("idle check: no metrics for %s/%s: %s", c.model_id, c.deployment_id, type(exc).__name__)
                return None
        return requests_of(answer)

    async def _announce(self, c: Candidate, requests: float, now: datetime) -> None:
        detail = await self._detail(c, requests)
        change = idle_change(c.model_id, c.deployment_id, c.name, now=now, after=self._after, detail=detail)
        outgoing = [Outgoing(change, c.model_name, c.watchers)]
        if await self._store.idle.announce(_key(c), now - self._after, outgoing):
            log.info("idle: %s/%s, %s replicas, %s requests", c.model_id, c.deployment_id, c.replicas, requests)

    async def _detail(self, c: Candidate, requests: float) -> dict[str, Any]:
        """What the notice says: replicas, requests, instance type, price and cost a day, minimum."""
        replicas, instance_type, minimum = c.replicas, c.instance_type, None
        try:
            dep = await self._client.get_deployment(c.model_id, c.deployment_id)
        except BasetenError as exc:
            log.info("idle check: could not read %s/%s: %s", c.model_id, c.deployment_id, type(exc).__name__)
        else:
            replicas = dep.active_replica_count if dep.active_replica_count is not None else replicas
            instance_type = dep.instance_type_name or instance_type
            minimum = dep.autoscaling_settings.min_replica if dep.autoscaling_settings else None
        prices, note = await self._price_list()
        per_minute = prices.of(instance_type) if prices is not None and instance_type else None
        if prices is not None and per_minute is None:
            note = f"Baseten lists no price for the instance type {instance_type or '(not known)'}"
        detail: dict[str, Any] = {
            "replicas": replicas,
            "requests": round(requests),
            "minutes": round(self._after.total_seconds() / 60, 2),
            "instance_type": instance_type,
            "min_replica": minimum,
        }
        if per_minute is not None:
            detail["per_minute"] = str(per_minute)
            detail["per_day"] = str(burn(replicas, per_minute).per_day)
        if note and per_minute is None:
            detail["price_note"] = note
        return detail

    async def _price_list(self) -> tuple[Prices | None, str | None]:
        """Baseten's prices (cached by the caller), or why there are none."""
        try:
            return await self._read_prices(), None
        except (AuthError, NoBilling):
            return None, "this API key may not read Baseten's prices"
        except BasetenError:
            return None, "Baseten's prices could not be read"


def requests_of(answer: DeploymentMetrics) -> float | None:
    """Requests in a SUMMARY window. No request data while Baseten reports replicas up means none were
    served (a counter with no series had nothing to count); anything else unreadable is None."""
    window = to_window(answer)
    if window.requests is not None:
        return window.requests
    if answer.descriptor(REQUESTS) is None:
        return None
    known = [v for _, v in answer.series(REPLICAS) if v is not None]
    if known and max(known) > 0 and not any(v is not None for _, v in answer.series(REQUESTS)):
        return 0.0
    return None


def _key(c: Candidate) -> tuple[str, str]:
    return c.model_id, c.deployment_id


def _millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)
