"""A loopback Baseten and Slack for bench/latency.py, run as its own process (its own event loop).

A fleet of models `m00000`, `m00001`, … each with one ACTIVE production deployment `d00000x000`, ….
Baseten answers after `--latency` seconds and enforces `--limit` requests per second per endpoint
(429 {"retry_after": 1} beyond it, as bench/fake.py does). It answers what the bot asks, shaped as
Baseten's management API: `GET /v1/models` (every model with its deployment count and production and
development ids as they are now), a model, its deployments, one deployment (also `production` and
`development`), a deployment's logs and a model's audit log; anything else is a 404, counted.

Slack: `POST /api/METHOD`; every `chat.postMessage` and `chat.update` is recorded with its arrival
time (time.monotonic(), one clock for every process on Linux), channel and plain text.

The scenario (`POST /_control/start`) is scripted here from a seed: new deployments created under
random models, each then BUILDING → DEPLOYING → LOADING_MODEL → ACTIVE with every step lasting a random
5 to 15 s, and production deployments going ACTIVE → UNHEALTHY (each once). Each change is recorded
with the moment it was made visible, which is the moment the next answer shows it.

    python bench/latency_fake.py --models 400   (prints its port)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import sys
import time
import urllib.parse
from collections import Counter, deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.fake import template  # one endpoint template for both fakes

LIMIT = 100  # requests per second per endpoint, as the management API allows
PROGRESS = ("BUILDING", "DEPLOYING", "LOADING_MODEL", "ACTIVE")
STEP_SECONDS = (5.0, 15.0)  # each progress state lasts a random time in this range
NEW_TAIL = 3 * STEP_SECONDS[1]  # a new deployment is created this long before the run ends, at the latest


@dataclass(frozen=True)
class Event:
    """One scripted change, `offset` seconds after the scenario starts."""

    offset: float
    kind: str  # "new" (a deployment created), "progress" (its next step), "failure" (a stable one fails)
    model: str
    deployment: str
    status: str


def model_id(i: int) -> str:
    return f"m{i:05d}"


def production_id(model: str) -> str:
    return f"d{model[1:]}x000"


def script(models: int, *, seed: int, seconds: float, new: int, failures: int) -> list[Event]:
    """The scenario, sorted by time: `new` deployments created in the run's first `seconds - NEW_TAIL`
    (so each reaches ACTIVE within it), `failures` production deployments of distinct models failing
    at random times within it."""
    rng = random.Random(seed)
    events: list[Event] = []
    window = max(seconds * 0.25, seconds - NEW_TAIL)
    for k in range(new):
        model = model_id(rng.randrange(models))
        dep = f"d{model[1:]}n{k:03d}"
        at = rng.uniform(0, window)
        events.append(Event(at, "new", model, dep, PROGRESS[0]))
        for status in PROGRESS[1:]:
            at += rng.uniform(*STEP_SECONDS)
            events.append(Event(at, "progress", model, dep, status))
    for i in rng.sample(range(models), min(failures, models)):
        model = model_id(i)
        events.append(Event(rng.uniform(0, seconds), "failure", model, production_id(model), "UNHEALTHY"))
    return sorted(events, key=lambda e: e.offset)


def deployment(dep_id: str, model: str, *, production: bool, status: str, created_at: str) -> dict[str, Any]:
    return {
        "id": dep_id,
        "created_at": created_at,
        "name": dep_id,
        "model_id": model,
        "is_production": production,
        "is_development": False,
        "status": status,
        "active_replica_count": 1 if status == "ACTIVE" else 0,
        "autoscaling_settings": {
            "min_replica": 0,
            "max_replica": 2,
            "autoscaling_window": 60,
            "scale_down_delay": 900,
            "concurrency_target": 2,
            "target_utilization_percentage": 70,
        },
        "instance_type_name": "1x L4",
        "environment": "production" if production else None,
    }


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


class Fleet:
    def __init__(self, models: int, latency: float, limit: int) -> None:
        self.latency, self.limit = latency, limit
        self.deployments: dict[str, dict[str, dict[str, Any]]] = {}
        for i in range(models):
            m = model_id(i)
            dep = deployment(production_id(m), m, production=True, status="ACTIVE", created_at="2026-11-01T10:00:00Z")
            self.deployments[m] = {dep["id"]: dep}
        self.requests: list[tuple[float, str, int]] = []  # (arrival, endpoint template, HTTP status)
        self.windows: dict[str, deque[float]] = {}
        self.codes: Counter[int] = Counter()
        self.not_found: Counter[str] = Counter()  # by endpoint template
        self.polled: set[str] = set()  # models whose deployment list was answered
        self.changes: list[dict[str, Any]] = []  # applied: Event fields, old status, and `at`
        self.messages: list[dict[str, Any]] = []  # Slack posts and edits
        self.slack_methods: Counter[str] = Counter()
        self.errors: list[str] = []  # faults inside this fake: the run is broken
        self.scheduled = 0
        self.started: float | None = None

    # -- Baseten ------------------------------------------------------------------------

    def admit(self, endpoint: str, now: float) -> bool:
        window = self.windows.setdefault(endpoint, deque())
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= self.limit:
            return False
        window.append(now)
        return True

    def model(self, m: str) -> dict[str, Any]:
        deps = self.deployments[m].values()
        return {
            "id": m,
            "created_at": "2026-11-01T09:00:00Z",
            "name": m,
            "deployments_count": len(deps),
            "production_deployment_id": next((d["id"] for d in deps if d["is_production"]), None),
            "development_deployment_id": next((d["id"] for d in deps if d["is_development"]), None),
            "instance_type_name": "1x L4",
            "team_name": "bench",
        }

    def answer(self, parts: list[str]) -> tuple[int, Any]:
        """What Baseten answers for GET /v1/models/… (`parts` split on /, from "v1")."""
        if len(parts) == 2:
            return 200, {"models": [self.model(m) for m in self.deployments]}
        deps = self.deployments.get(parts[2])
        if deps is None:
            return 404, {"error": "not found"}
        if len(parts) == 3:
            return 200, self.model(parts[2])
        if parts[3] == "audit_logs" and len(parts) == 4:
            return 200, {"items": [], "pagination": {"has_more": False, "cursor": None}}
        if parts[3] != "deployments":
            return 404, {"error": "not found"}
        if len(parts) == 4:
            self.polled.add(parts[2])
            return 200, {"deployments": list(deps.values())}
        key = parts[4]
        if key in ("production", "development"):
            found = next((d for d in deps.values() if d[f"is_{key}"]), None)
        else:
            found = deps.get(key)
        if found is None or len(parts) > 6 or (len(parts) == 6 and parts[5] != "logs"):
            return 404, {"error": "not found"}
        if len(parts) == 6:
            return 200, {"logs": self.logs(found)}
        return 200, found

    @staticmethod
    def logs(dep: dict[str, Any]) -> list[dict[str, Any]]:
        if dep["status"] != "UNHEALTHY":
            return []
        stamp = str(time.time_ns() - 2_000_000_000)
        return [{"timestamp": stamp, "message": "Readiness probe failed", "replica": "r1", "level": "ERROR"}]

    # -- the scenario --------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        deps = self.deployments[event.model]
        old: str | None = None
        if event.kind == "new":
            deps[event.deployment] = deployment(
                event.deployment, event.model, production=False, status=event.status, created_at=iso(datetime.now(UTC))
            )
        else:
            dep = deps[event.deployment]
            old, dep["status"] = dep["status"], event.status
            if event.kind == "progress":
                dep["active_replica_count"] = 1 if event.status == "ACTIVE" else 0
        self.changes.append({**asdict(event), "old": old, "at": time.monotonic()})

    async def play(self, events: list[Event]) -> None:
        assert self.started is not None
        try:
            for event in events:
                await asyncio.sleep(max(0.0, self.started + event.offset - time.monotonic()))
                self.apply(event)
        except Exception as exc:  # noqa: BLE001 - reported to the benchmark, which stops
            self.errors.append(f"scenario: {type(exc).__name__}: {exc}")


def slack_args(raw: bytes, content_type: str) -> dict[str, Any]:
    if "json" in content_type:
        return dict(json.loads(raw or b"{}"))
    return {k: v[-1] for k, v in urllib.parse.parse_qs(raw.decode()).items()}


def app(fleet: Fleet) -> web.Application:
    ts = itertools.count(1)
    running: set[asyncio.Task[None]] = set()

    async def baseten(request: web.Request) -> web.Response:
        now = time.monotonic()
        endpoint = template(request.path)
        if not fleet.admit(endpoint, now):
            fleet.requests.append((now, endpoint, 429))
            fleet.codes[429] += 1
            return web.json_response({"error": "Rate limit exceeded", "retry_after": 1}, status=429)
        await asyncio.sleep(fleet.latency)
        try:
            status, body = fleet.answer(request.path.strip("/").split("/"))
        except Exception as exc:  # noqa: BLE001 - a fault of the fake, not of the bot
            fleet.errors.append(f"{request.path}: {type(exc).__name__}: {exc}")
            status, body = 500, {"error": "fake fault"}
        fleet.requests.append((now, endpoint, status))
        fleet.codes[status] += 1
        if status == 404:
            fleet.not_found[endpoint] += 1
        return web.json_response(body, status=status)

    async def slack(request: web.Request) -> web.Response:
        at = time.monotonic()
        method = request.match_info["method"]
        fleet.slack_methods[method] += 1
        args = slack_args(await request.read(), request.content_type)
        if method == "auth.test":
            return web.json_response({"ok": True, "team_id": "TBENCH", "user_id": "UBOT", "bot_id": "B1"})
        if method in ("chat.postMessage", "chat.update"):
            stamp = args.get("ts") if method == "chat.update" else f"1700000000.{next(ts):06d}"
            fleet.messages.append(
                {
                    "method": method,
                    "at": at,
                    "channel": args.get("channel"),
                    "text": args.get("text", ""),
                    "thread_ts": args.get("thread_ts"),
                    "ts": stamp,
                }
            )
            return web.json_response({"ok": True, "channel": args.get("channel"), "ts": stamp})
        return web.json_response({"ok": True})

    async def start(request: web.Request) -> web.Response:
        body = await request.json()
        events = script(
            len(fleet.deployments),
            seed=int(body["seed"]),
            seconds=float(body["seconds"]),
            new=int(body["new"]),
            failures=int(body["failures"]),
        )
        fleet.started, fleet.scheduled = time.monotonic(), len(events)
        task = asyncio.create_task(fleet.play(events))
        running.add(task)
        task.add_done_callback(running.discard)
        return web.json_response({"started": fleet.started, "events": len(events)})

    async def status(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "polled": len(fleet.polled),
                "requests": len(fleet.requests),
                "scheduled": fleet.scheduled,
                "applied": len(fleet.changes),
                "errors": fleet.errors,
            }
        )

    async def notices(_: web.Request) -> web.Response:
        return web.json_response({"changes": fleet.changes, "messages": fleet.messages})

    async def report(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "requests": fleet.requests,
                "codes": {str(k): v for k, v in fleet.codes.items()},
                "not_found": dict(fleet.not_found),
                "slack_methods": dict(fleet.slack_methods),
                "changes": fleet.changes,
                "messages": fleet.messages,
                "scheduled": fleet.scheduled,
                "started": fleet.started,
                "errors": fleet.errors,
            }
        )

    web_app = web.Application(client_max_size=16 * 2**20)
    web_app.router.add_route("GET", "/v1/{tail:.*}", baseten)
    web_app.router.add_route("POST", "/api/{method}", slack)
    web_app.router.add_route("POST", "/_control/start", start)
    web_app.router.add_route("GET", "/_control/status", status)
    web_app.router.add_route("GET", "/_control/notices", notices)
    web_app.router.add_route("GET", "/_control/report", report)
    return web_app


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--limit", type=int, default=LIMIT, help="requests per second per endpoint")
    args = parser.parse_args()
    runner = web.AppRunner(app(Fleet(args.models, args.latency, args.limit)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=2048)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)  # type: ignore[union-attr]
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
