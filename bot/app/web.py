"""Starlette app: POST /slack/events (Bolt), GET /healthz, GET /metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.app.metrics import Metrics

MAX_BODY = 256 * 1024  # Slack's payloads are far smaller; anything bigger is refused unread
Health = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


def build(*, bolt: AsyncApp | None, metrics: Metrics, health: Health) -> Starlette:
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
        return await handler.handle(request)

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
