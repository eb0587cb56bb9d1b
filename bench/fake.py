"""A loopback Baseten (and a minimal Slack) for the benchmark, run as its own process.

Baseten answers after a configurable latency and enforces a limit per endpoint
(`--limit`, 100 requests per second by default, as the management API does),
answering 429 {"retry_after": 1} beyond it. A control API flips statuses and reports
what arrived: totals (or those between `since` and `until`, monotonic seconds), 429s,
and the peak number of requests that started in any one-second window. `GET /v1/models`
lists every model with its deployment count and production deployment, for the poll
loop's fleet-wide change detector. `POST /_control/set` sets chosen deployments' statuses, and
the control API counts the chat.postMessage calls answered (bench/window.py). Each POST to a
response_url (/response/NAME) is recorded with the time it arrived (time.monotonic(), which on
Linux is one clock for every process) and its body, for the benchmark to time command answers.

    python bench/fake.py --models 500 --per-model 10 --latency 0.05   (prints its port)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import time
from collections import Counter, deque
from typing import Any

from aiohttp import web

LIMIT = 100  # requests per second per endpoint, unless --limit says otherwise


def template(path: str) -> str:
    """The endpoint a path asks (its ids replaced by names), for the limit per endpoint and the counts."""
    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[:2] == ["v1", "models"]:
        parts[2] = "{model}"
        if len(parts) >= 5 and parts[3] == "deployments" and parts[4] not in ("production", "development"):
            parts[4] = "{deployment}"
    elif len(parts) >= 3 and parts[:2] == ["v1", "training_projects"]:
        parts[2] = "{project}"
        if len(parts) >= 5 and parts[3] == "jobs":
            parts[4] = "{job}"
    elif len(parts) >= 4 and parts[:3] == ["v1", "training", "jobs"]:
        parts[3] = "{job}"
    return "/" + "/".join(parts)


class State:
    def __init__(self, models: int, per_model: int, latency: float, limit: int = LIMIT) -> None:
        self.latency = latency
        self.limit = limit
        self.answers: dict[str, dict[str, Any]] = {}  # response_url name -> {"at": monotonic, "body": text}
        self.deployments: dict[str, dict[str, dict[str, Any]]] = {}
        for m in range(models):
            model_id = f"m{m:05d}"
            self.deployments[model_id] = {
                f"d{m:05d}x{d:03d}": deployment(f"d{m:05d}x{d:03d}", model_id, production=d == 0)
                for d in range(per_model)
            }
        self.reset()

    def reset(self) -> None:
        self.arrivals: list[float] = []
        self.throttled: list[float] = []  # when each 429 was answered
        self.windows: dict[str, deque[float]] = {}
        self.codes: Counter[int] = Counter()
        self.by_endpoint: Counter[str] = Counter()
        self.posts: list[float] = []  # when each chat.postMessage was answered (bench/window.py)

    def admit(self, endpoint: str) -> bool:
        now = time.monotonic()
        self.arrivals.append(now)
        self.by_endpoint[endpoint] += 1
        window = self.windows.setdefault(endpoint, deque())
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= self.limit:
            return False
        window.append(now)
        return True

    def peak(self, since: float = 0.0, until: float = float("inf")) -> int:
        times = sorted(t for t in self.arrivals if since <= t <= until)
        best, start = 0, 0
        for end, t in enumerate(times):
            while t - times[start] >= 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best


def deployment(dep_id: str, model_id: str, *, production: bool) -> dict[str, Any]:
    return {
        "id": dep_id,
        "created_at": "2026-11-01T10:00:00Z",
        "name": dep_id,
        "model_id": model_id,
        "is_production": production,
        "is_development": False,
        "status": "ACTIVE",
        "active_replica_count": 1,
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


def summary(model_id: str, deps: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A ModelV1: its deployment count and production deployment as they are now."""
    production = next((d["id"] for d in deps.values() if d["is_production"]), None)
    return {
        "id": model_id,
        "name": model_id,
        "created_at": "2026-11-01T09:00:00Z",
        "deployments_count": len(deps),
        "production_deployment_id": production,
        "development_deployment_id": None,
        "instance_type_name": "1x L4",
        "team_name": "bench",
    }


def app(state: State) -> web.Application:
    ts = itertools.count(1)

    async def baseten(request: web.Request) -> web.Response:
        endpoint = template(request.path)
        if not state.admit(endpoint):
            state.codes[429] += 1
            state.throttled.append(time.monotonic())
            return web.json_response({"error": "Rate limit exceeded", "retry_after": 1}, status=429)
        await asyncio.sleep(state.latency)
        parts = request.path.strip("/").split("/")
        if len(parts) == 2:  # GET /v1/models: the poll loop's fleet-wide change detector
            state.codes[200] += 1
            return web.json_response({"models": [summary(m, deps) for m, deps in state.deployments.items()]})
        deps = state.deployments.get(parts[2]) if len(parts) > 2 else None
        if deps is None:
            state.codes[404] += 1
            return web.json_response({"error": "not found"}, status=404)
        state.codes[200] += 1
        if len(parts) == 3:
            return web.json_response(summary(parts[2], deps))
        if len(parts) == 4:
            return web.json_response({"deployments": list(deps.values())})
        found = deps.get(parts[4])
        if found is None:
            state.codes[200] -= 1
            state.codes[404] += 1
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response(found)

    async def slack(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method == "auth.test":
            return web.json_response({"ok": True, "team_id": "TBENCH", "user_id": "UBOT", "bot_id": "B1"})
        if method == "chat.postMessage":
            state.posts.append(time.monotonic())
        return web.json_response({"ok": True, "ts": f"1700000000.{next(ts):06d}"})

    async def response_url(request: web.Request) -> web.Response:
        at = time.monotonic()
        state.answers.setdefault(request.match_info["name"], {"at": at, "body": await request.text()})
        return web.Response(text="ok")

    async def answers(_: web.Request) -> web.Response:
        return web.json_response(state.answers)

    async def flip(request: web.Request) -> web.Response:
        body = await request.json()
        everything = [d for deps in state.deployments.values() for d in deps.values()]
        chosen = random.Random(body.get("seed", 1)).sample(everything, int(len(everything) * body["fraction"]))
        for dep in chosen:
            dep["status"] = "UNHEALTHY" if dep["status"] == "ACTIVE" else "ACTIVE"
        return web.json_response({"flipped": len(chosen)})

    async def set_status(request: web.Request) -> web.Response:
        """{"changes": [[model, deployment, status], ...]}: those deployments answer that status from now on."""
        body = await request.json()
        for model_id, dep_id, status in body["changes"]:
            state.deployments[model_id][dep_id]["status"] = status
        return web.json_response({"set": len(body["changes"])})

    async def control(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        if "latency" in body:
            state.latency = float(body["latency"])
        if body.get("reset"):
            state.reset()
        since, until = float(body.get("since", 0.0)), float(body.get("until", float("inf")))
        return web.json_response(
            {
                "requests": sum(1 for t in state.arrivals if since <= t <= until),
                "peak_1s": state.peak(since, until),
                "429s": sum(1 for t in state.throttled if since <= t <= until),
                "codes": dict(state.codes),
                "by_endpoint": dict(state.by_endpoint),
                "posts": sum(1 for t in state.posts if since <= t <= until),
            }
        )

    web_app = web.Application()
    web_app.router.add_route("GET", "/v1/{tail:.*}", baseten)
    web_app.router.add_route("POST", "/api/{method}", slack)
    web_app.router.add_route("POST", "/response/{name}", response_url)
    web_app.router.add_route("POST", "/_control/flip", flip)
    web_app.router.add_route("POST", "/_control/set", set_status)
    web_app.router.add_route("GET", "/_control/answers", answers)
    web_app.router.add_route("POST", "/_control", control)
    return web_app


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, required=True)
    parser.add_argument("--per-model", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--limit", type=int, default=LIMIT, help="requests per second per endpoint")
    args = parser.parse_args()
    runner = web.AppRunner(app(State(args.models, args.per_model, args.latency, args.limit)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=2048)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)  # type: ignore[union-attr]
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
