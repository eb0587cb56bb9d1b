"""Starlette app: POST /slack/events (Bolt), GET /healthz, GET /metrics."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.app.metrics import Metrics
from bot.slack.requests import Gate, malformed

log = logging.getLogger(__name__)
MAX_BODY = 256 * 1024  # Slack's payloads are far smaller; anything bigger is refused unread
Health = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


def build(*, bolt: AsyncApp | None, metrics: Metrics, health: Health, gate: Gate | None = None) -> Starlette:
    """The routes. `gate` checks each Slack request's signature and shape before Bolt parses it."""
    handler = AsyncSlackRequestHandler(bolt) if bolt is not None else None

    async def events(request: Request) -> Response:
        if handler is None:
            return PlainTextResponse("Socket Mode: events arrive over the socket", status_code=404)
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return PlainTextResponse("request body too large", status_code=413)
        body = await request.body()  # cached by Starlette for the Bolt adapter
        if len(body) > MAX_BODY:
            return PlainTextResponse("request body too large", status_code=413)
        if gate is not None:
            if not gate.signed(body, request.headers):
                return PlainTextResponse("invalid request signature", status_code=401)  # unlogged: anyone can send it
            if (problem := malformed(body, request.headers.get("content-type", ""))) is not None:
                log.warning("refused a signed Slack request: %s", problem)
                return PlainTextResponse("malformed request", status_code=400)
        try:
            return await handler.handle(request)
        except Exception as exc:  # noqa: BLE001 - Bolt could not parse what the gate let through: a refusal
            log.warning("refused a signed Slack request Bolt could not parse: %s", type(exc).__name__)
            return PlainTextResponse("malformed request", status_code=400)

    async def healthz(_: Request) -> Response:
        ok, detail = await health()
        return JSONResponse({"status": "ok" if ok else "unavailable", **detail}, status_code=200 if ok else 503)

    async def metrics_endpoint(_: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return Starlette(
        routes=[
            Route("/slack/events", events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ]
    )
