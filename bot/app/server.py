"""The bot's listening side: uvicorn serving /slack/events, /healthz and /metrics,
and the Socket Mode link to Slack when SLACK_APP_TOKEN is set."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Generator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp

from bot.actions.operations import Operations
from bot.app.runtime import Runtime
from bot.app.web import Health, build
from bot.cost.cache import CostCache
from bot.oncall.acks import Acknowledger
from bot.slack.admins import Admins, operators
from bot.slack.app import Deps, register
from bot.slack.requests import Gate

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

log = logging.getLogger("bot")


class _Uvicorn:
    """uvicorn without its own signal handling: `serve` owns SIGTERM/SIGINT and exits 0."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        import uvicorn

        class Quiet(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Generator[None, None, None]:
                yield

        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        self.server = Quiet(config)

    def bound(self) -> list[str]:
        out = []
        for server in getattr(self.server, "servers", []):
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                out.append(f"http://{host}:{port}")
        return out


def bolt_app(runtime: Runtime, cost: CostCache | None = None) -> AsyncApp:
    """The Slack app: slash commands, buttons and events, wired to the runtime's parts; `cost` is the
    service's billing cache (None: each `cost` command reads Baseten afresh)."""
    settings = runtime.settings
    signing = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    bolt = AsyncApp(client=runtime.slack, signing_secret=signing, process_before_response=False)
    acting = operators(*settings.operator_ids, runtime.slack)
    admins = Admins(*settings.admin_ids, runtime.slack)
    register(
        bolt,
        Deps(
            client=runtime.baseten,
            store=runtime.store,
            metrics=runtime.metrics,
            now=runtime.now,
            admins=admins,
            ops=Operations(
                client=runtime.baseten,
                store=runtime.store,
                operators=acting,
                slack=runtime.slack,
                now=runtime.now,
                admins=admins,
                approvals=settings.approvals,
                approval_ttl=timedelta(minutes=settings.approval_ttl_minutes),
            ),
            cost=cost,
            acks=Acknowledger(
                store=runtime.store,
                slack=runtime.slack,
                draw=runtime.notifier.draw,
                operators=acting,
                operators_only=settings.ack_operators_only,
            ),
        ),
    )
    return bolt


class Server:
    """HTTP (Slack events unless in Socket Mode, health, metrics) plus the Socket Mode link."""

    def __init__(self, runtime: Runtime, health: Health, *, cost: CostCache | None = None) -> None:
        settings = runtime.settings
        self.socket_mode = settings.socket_mode
        self._bolt = bolt_app(runtime, cost)
        signing = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
        web = build(
            bolt=None if self.socket_mode else self._bolt,
            metrics=runtime.metrics,
            health=health,
            gate=None if self.socket_mode else Gate(signing),
        )
        self._uvicorn = _Uvicorn(web, settings.host, settings.port)
        self._app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
        self.task: asyncio.Task[Any] | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._socket_task: asyncio.Task[Any] | None = None

    async def start(self) -> None:
        """Listens, and returns once uvicorn has bound its port (or given up)."""
        server = self._uvicorn.server
        self.task = asyncio.create_task(server.serve())
        if self.socket_mode:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            assert self._app_token is not None
            self._socket = AsyncSocketModeHandler(self._bolt, self._app_token)
            # connecting retries until Slack answers: never let it hold up start-up or a signal
            self._socket_task = asyncio.create_task(self._socket.connect_async())  # type: ignore[no-untyped-call]
        while not server.started and not self.task.done():  # noqa: ASYNC110 - uvicorn exposes a flag
            await asyncio.sleep(0.02)
        mode = "Socket Mode" if self.socket_mode else "HTTP mode, Slack events at /slack/events"
        log.info("baseten-bot serving (%s) on %s", mode, ", ".join(self._uvicorn.bound()) or "?")

    async def stop(self, deadline: float) -> None:
        """Closes the socket link and lets uvicorn finish its requests until half a second before `deadline`."""
        self._uvicorn.server.should_exit = True
        if self._socket is not None:
            if self._socket_task is not None and not self._socket_task.done():
                self._socket_task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._socket.close_async(), timeout=1)  # type: ignore[no-untyped-call]
        if self.task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.task, timeout=max(0.1, deadline - time.monotonic() - 0.5))
