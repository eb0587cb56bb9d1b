"""The HTTP surface in process: /healthz answers 503 until the database and poller are ready."""

from __future__ import annotations

from pathlib import Path

import httpx
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.app.db import make_async_engine, sessions
from bot.app.metrics import Metrics
from bot.app.runtime import check_health, utcnow
from bot.app.web import MAX_BODY, build
from bot.delivery.notifier import Notifier
from bot.store import Store
from tests.conftest import sqlite_only


async def _get(app: object, path: str, method: str = "GET", content: bytes = b"") -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://bot") as client:
        return await client.request(method, path, content=content)


async def _app(url: str, *, scheduled: bool, bolt: AsyncApp | None = None) -> tuple[object, object]:
    engine = make_async_engine(url)
    store = Store(sessions(engine))
    notifier = Notifier(slack=AsyncWebClient(token="xoxb-x"), store=store, now=utcnow)

    async def health() -> tuple[bool, dict[str, object]]:
        return await check_health(store, scheduled=scheduled, notifier=notifier)

    return build(bolt=bolt, metrics=Metrics(), health=health), engine


async def test_healthz_ok(db_url: str) -> None:
    app, engine = await _app(db_url, scheduled=True)
    response = await _get(app, "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "poller": "scheduled"}
    await engine.dispose()  # type: ignore[attr-defined]


async def test_healthz_503_when_the_poller_is_not_scheduled(db_url: str) -> None:
    app, engine = await _app(db_url, scheduled=False)
    response = await _get(app, "/healthz")
    assert response.status_code == 503 and response.json()["poller"] == "stopped"
    await engine.dispose()  # type: ignore[attr-defined]


@sqlite_only
async def test_healthz_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    app, engine = await _app(f"sqlite:///{tmp_path}/missing-dir/bot.db", scheduled=True)
    response = await _get(app, "/healthz")
    assert response.status_code == 503 and response.json()["database"] == "unreachable"
    await engine.dispose()  # type: ignore[attr-defined]


async def test_oversized_bodies_are_refused(db_url: str) -> None:
    bolt = AsyncApp(token="xoxb-x", signing_secret="secret")
    app, engine = await _app(db_url, scheduled=True, bolt=bolt)
    response = await _get(app, "/slack/events", method="POST", content=b"x" * (MAX_BODY + 1))
    assert response.status_code == 413
    small = await _get(app, "/slack/events", method="POST", content=b"x=1")
    assert small.status_code == 401  # unsigned: Bolt's verification answers
    await engine.dispose()  # type: ignore[attr-defined]
