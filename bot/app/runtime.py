"""The composition root's parts: everything `serve` and `poll --once` build from Settings."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.actions import buttons
from bot.app.config import Settings
from bot.app.db import make_async_engine, sessions
from bot.app.metrics import Metrics
from bot.baseten.client import BasetenClient
from bot.baseten.ratelimit import RateLimiter
from bot.delivery.notifier import Notifier
from bot.polling.poller import Poller
from bot.store import Store
from bot.store.leases import Lease
from bot.store.outage import Outage

log = logging.getLogger(__name__)
# this process among the replicas: in lease rows, delivery claims and the User-Agent sent to Baseten
INSTANCE = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class MovableClock:
    """Tests only (`BOT_TEST_CLOCK_FILE`): UTC now plus the seconds written in a file, read again
    whenever the file changes, so an end-to-end test can move a running bot's time forward (a card
    ten minutes old, a click replayed minutes later). A missing or unreadable file counts as 0."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._stamp: tuple[int, int] | None = None
        self._offset = timedelta(0)

    def __call__(self) -> datetime:
        try:
            stat = os.stat(self._path)
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp != self._stamp:
                with open(self._path) as f:
                    self._offset = timedelta(seconds=float(f.read().strip() or 0))
                self._stamp = stamp
        except (OSError, ValueError):
            self._stamp, self._offset = None, timedelta(0)
        return datetime.now(UTC) + self._offset


def clock(settings: Settings) -> Callable[[], datetime]:
    """The process's clock: UTC, or in tests that set BOT_TEST_CLOCK_FILE a movable one."""
    return MovableClock(settings.bot_test_clock_file) if settings.bot_test_clock_file else utcnow


def baseten_client(settings: Settings, metrics: Metrics | None = None, *, instance: str = INSTANCE) -> BasetenClient:
    client = BasetenClient(
        api_key=settings.baseten_api_key.get_secret_value(),
        base_url=settings.baseten_api_url,
        limiter=RateLimiter(settings.baseten_max_rps),
        user_agent=f"baseten-slack-bot ({instance})",
    )
    if metrics is not None:
        client.on_request = lambda _path, code: metrics.baseten_requests.labels(
            str(code) if code is not None else "none"
        ).inc()
    return client


def slack_client(token: str | None, base_url: str) -> AsyncWebClient:
    """Slack Web API client; the SDK's own handlers retry 429 (Retry-After), 5xx and resets."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=15,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=1),
            AsyncRateLimitErrorRetryHandler(max_retry_count=1),
            AsyncServerErrorRetryHandler(max_retry_count=1),
        ],
    )


async def check_health(
    store: Store,
    *,
    scheduled: bool,
    notifier: Notifier,
    leader: bool | None = None,
    baseten_problem: str | None = None,
    store_failing: bool = False,
) -> tuple[bool, dict[str, Any]]:
    """Healthy once the database answers and the poll job is scheduled."""
    detail: dict[str, Any] = {}
    if leader is not None:
        detail["role"] = "poller" if leader else "standby"
    try:
        await asyncio.wait_for(store.ping(), timeout=2)
        detail["database"] = "failing" if store_failing else "ok"  # it answers a ping, not the poller
    except Exception:  # noqa: BLE001 - any failure means unreachable
        detail["database"] = "unreachable"
    detail["poller"] = "scheduled" if scheduled else "stopped"
    if baseten_problem:
        detail["baseten"] = baseten_problem
    rejected = sorted(set(notifier.disabled_workspaces.values()))
    if rejected:
        detail["slack"] = "token rejected: " + ", ".join(rejected)
    return detail["database"] == "ok" and scheduled, detail


@dataclass
class Runtime:
    settings: Settings
    metrics: Metrics
    engine: AsyncEngine
    store: Store
    baseten: BasetenClient
    slack: AsyncWebClient
    notifier: Notifier
    poller: Poller
    lease: Lease
    now: Callable[[], datetime] = field(default=utcnow)  # the process's clock (`clock`)
    outage: Outage = field(default_factory=Outage)  # the database failing: one line a period, a back-off

    @classmethod
    def build(cls, settings: Settings, *, channel_pace: float = 1.0, instance: str = INSTANCE) -> Runtime:
        """`instance` names this replica; only a test running two in one process passes another."""
        metrics = Metrics()
        engine = make_async_engine(settings.database_url, pool_size=settings.database_pool_size, watch=metrics.pool)
        now = clock(settings)
        store = Store(sessions(engine), now=now)
        baseten = baseten_client(settings, metrics, instance=instance)
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
        slack = slack_client(token, settings.slack_api_url)
        notifier = Notifier(
            slack=slack,
            store=store,
            now=now,
            channel_pace=channel_pace,
            on_result=lambda outcome: metrics.notices.labels(outcome).inc(),
            on_recorded=metrics.notice_record_seconds.observe,
            holder=instance,
            # a dead leader's claims expire when its lease does: the next leader resends them
            claim_for=timedelta(seconds=max(settings.lease_seconds, 30.0)),
            buttons=buttons if any(settings.operator_ids) else None,  # drawn at send time
            group_over=settings.group_over,
            group_wait=timedelta(seconds=settings.group_wait_seconds),
            # Acknowledge, unless only operators may and there are none
            ack=not (settings.ack_operators_only and not any(settings.operator_ids)),
        )
        poller = Poller(client=baseten, store=store, notifier=notifier, now=now)
        lease = Lease(sessions(engine), holder=instance, now=now, ttl=timedelta(seconds=settings.lease_seconds))
        outage = Outage(period=settings.hot_poll_seconds)
        return cls(settings, metrics, engine, store, baseten, slack, notifier, poller, lease, now, outage)

    async def aclose(self) -> None:
        await self.baseten.aclose()
        session = getattr(self.slack, "session", None)
        if session is not None:
            await session.close()
        await self.engine.dispose()
