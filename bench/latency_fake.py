"""A loopback Baseten and Slack for bench/latency.py, run as its own process (its own event loop).

A fleet of models `m00000`, `m00001`, … each with one ACTIVE production deployment `d00000x000`, ….,
and of training projects `p00000`, `p00001`, … (`--projects`), each with one TRAINING_JOB_COMPLETED
job `j00000x000`, …. Baseten answers after `--latency` seconds and enforces `--limit` requests per
second per endpoint (429 {"retry_after": 1} beyond it, as bench/fake.py does). It answers what the
bot asks, shaped as Baseten's management API: `GET /v1/models` (every model with its deployment count
and production and development ids as they are now), a model, its deployments, one deployment (also
`production` and `development`), a deployment's logs and a model's audit log; `GET
/v1/training_projects` (every project with its latest job as it is now), a project, its jobs, one job,
a job's checkpoints and logs, and `GET /v1/training/jobs/{id}/queue_context`; anything else is a
404, counted.

Slack: `POST /api/METHOD`; every `chat.postMessage` and `chat.update` is recorded with its arrival
time (time.monotonic(), one clock for every process on Linux), channel and plain text.

The scenario (`POST /_control/start`) is scripted here from a seed: new deployments created under
random models, each then BUILDING → DEPLOYING → LOADING_MODEL → ACTIVE with every step lasting a random
5 to 15 s, and production deployments going ACTIVE → UNHEALTHY (each once); training jobs started in
random projects, each TRAINING_JOB_CREATED, then TRAINING_JOB_RUNNING after 5 to 15 s, then after a
run of 20 to 60 s TRAINING_JOB_COMPLETED, or (one in JOB_FAILS) TRAINING_JOB_FAILED with an
`error_message`. Each change is recorded with the moment it was made visible, which is the moment
the next answer shows it.

    python bench/latency_fake.py --models 400 --projects 50   (prints its port)
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

JOB_CREATED, JOB_RUNNING = "TRAINING_JOB_CREATED", "TRAINING_JOB_RUNNING"
JOB_COMPLETED, JOB_FAILED = "TRAINING_JOB_COMPLETED", "TRAINING_JOB_FAILED"
JOB_START_SECONDS = (5.0, 15.0)  # a new job is CREATED this long before it runs
JOB_RUN_SECONDS = (20.0, 60.0)  # and runs this long before it ends
JOB_FAILS = 0.25  # the share of jobs that end FAILED rather than COMPLETED
JOB_TAIL = JOB_START_SECONDS[1] + JOB_RUN_SECONDS[1]  # a job starts this long before the run ends, at the latest
JOB_ERROR = "Training process exited with code 1: torch.OutOfMemoryError: CUDA out of memory"
INSTANCE = {  # InstanceTypeV1
    "id": "H100x8",
    "name": "8x H100",
    "memory_limit_mib": 1_900_000,
    "millicpu_limit": 200_000,
    "gpu_count": 8,
    "gpu_type": "H100",
    "gpu_memory_limit_mib": 81_920,
}


@dataclass(frozen=True)
class Event:
    """One scripted change, `offset` seconds after the scenario starts."""

    offset: float
    # "new" (a deployment created), "progress" (its next step), "failure" (a stable one fails);
    # "job-new" (a training job created), "job-start" (it runs), "job-end" (it completed or failed)
    kind: str
    model: str  # a model's id, or a training project's
    deployment: str  # a deployment's id, or a training job's
    status: str


def model_id(i: int) -> str:
    return f"m{i:05d}"


def production_id(model: str) -> str:
    return f"d{model[1:]}x000"


def project_id(i: int) -> str:
    return f"p{i:05d}"


def first_job_id(project: str) -> str:
    return f"j{project[1:]}x000"


def script(
    models: int, *, seed: int, seconds: float, new: int, failures: int, projects: int = 0, jobs: int = 0
) -> list[Event]:
    """The scenario, sorted by time: `new` deployments created in the run's first `seconds - NEW_TAIL`
    (so each reaches ACTIVE within it), `failures` production deployments of distinct models failing
    at random times within it, and `jobs` training jobs started in random projects in its first
    `seconds - JOB_TAIL` (so each ends within it). The jobs draw from a generator of their own: the
    models' scenario for a seed is the same with or without them."""
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
    jrng = random.Random(f"{seed}/jobs")
    job_window = max(seconds * 0.25, seconds - JOB_TAIL)
    for k in range(jobs if projects else 0):
        project = project_id(jrng.randrange(projects))
        job = f"j{project[1:]}n{k:03d}"
        at = jrng.uniform(0, job_window)
        events.append(Event(at, "job-new", project, job, JOB_CREATED))
        at += jrng.uniform(*JOB_START_SECONDS)
        events.append(Event(at, "job-start", project, job, JOB_RUNNING))
        at += jrng.uniform(*JOB_RUN_SECONDS)
        ended = JOB_FAILED if jrng.random() < JOB_FAILS else JOB_COMPLETED
        events.append(Event(at, "job-end", project, job, ended))
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


def training_job(job_id: str, project: str, *, status: str, created_at: str) -> dict[str, Any]:
    """TrainingJobV1."""
    return {
        "id": job_id,
        "created_at": created_at,
        "current_status": status,
        "error_message": None,
        "instance_type": INSTANCE,
        "updated_at": created_at,
        "training_project_id": project,
        "training_project": {"id": project, "name": project},
        "name": job_id,
        "priority": 0,
    }


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


class Fleet:
    def __init__(self, models: int, latency: float, limit: int, projects: int = 0) -> None:
        self.latency, self.limit = latency, limit
        self.deployments: dict[str, dict[str, dict[str, Any]]] = {}
        for i in range(models):
            m = model_id(i)
            dep = deployment(production_id(m), m, production=True, status="ACTIVE", created_at="2026-11-01T10:00:00Z")
            self.deployments[m] = {dep["id"]: dep}
        self.jobs: dict[str, dict[str, dict[str, Any]]] = {}  # project -> job id -> TrainingJobV1, oldest first
        self.job_project: dict[str, str] = {}  # job id -> its project
        for i in range(projects):
            p = project_id(i)
            job = training_job(first_job_id(p), p, status=JOB_COMPLETED, created_at="2026-11-01T10:00:00Z")
            self.jobs[p] = {job["id"]: job}
            self.job_project[job["id"]] = p
        self.requests: list[tuple[float, str, int]] = []  # (arrival, endpoint template, HTTP status)
        self.windows: dict[str, deque[float]] = {}
        self.codes: Counter[int] = Counter()
        self.not_found: Counter[str] = Counter()  # by endpoint template
        self.polled: set[str] = set()  # models whose deployment list, `training:ID`s whose job list, was answered
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
        """What Baseten answers for GET /v1/… (`parts` split on /, from "v1")."""
        if parts[1] == "models":
            return self.models_answer(parts)
        if parts[1] == "training_projects":
            return self.training_answer(parts)
        if parts[1:3] == ["training", "jobs"] and len(parts) == 5 and parts[4] == "queue_context":
            return self.queue_context(parts[3])
        return 404, {"error": "not found"}

    def models_answer(self, parts: list[str]) -> tuple[int, Any]:
        """GET /v1/models/…"""
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

    # -- Baseten: training -----------------------------------------------------------------

    def project(self, p: str) -> dict[str, Any]:
        """TrainingProjectV1, with its latest job (the newest created) as it is now."""
        jobs = list(self.jobs[p].values())
        return {
            "id": p,
            "name": p,
            "created_at": "2026-11-01T09:00:00Z",
            "updated_at": max(j["updated_at"] for j in jobs) if jobs else "2026-11-01T09:00:00Z",
            "team_name": "bench",
            "latest_job": jobs[-1] if jobs else None,
        }

    def training_answer(self, parts: list[str]) -> tuple[int, Any]:
        """GET /v1/training_projects/…"""
        if len(parts) == 2:
            return 200, {"training_projects": [self.project(p) for p in self.jobs]}
        jobs = self.jobs.get(parts[2])
        if jobs is None:
            return 404, {"error": "not found"}
        project = self.project(parts[2])
        if len(parts) == 3:
            return 200, {"training_project": project}
        if parts[3] != "jobs":
            return 404, {"error": "not found"}
        if len(parts) == 4:
            self.polled.add(f"training:{parts[2]}")
            return 200, {"training_project": project, "training_jobs": list(jobs.values())}
        job = jobs.get(parts[4])
        if job is None or len(parts) > 6:
            return 404, {"error": "not found"}
        if len(parts) == 5:
            return 200, {"training_project": project, "training_job": job}
        if parts[5] == "checkpoints":
            return 200, {"training_job": job, "checkpoints": self.checkpoints(job)}
        if parts[5] == "logs":
            return 200, {"logs": self.job_logs(job)}
        return 404, {"error": "not found"}

    @staticmethod
    def checkpoints(job: dict[str, Any]) -> list[dict[str, Any]]:
        """TrainingJobCheckpointV1s: three for a completed job, one for a failed one, none before."""
        count = {JOB_COMPLETED: 3, JOB_FAILED: 1}.get(job["current_status"], 0)
        return [
            {
                "checkpoint_id": f"checkpoint-{n}",
                "created_at": job["updated_at"],
                "checkpoint_type": "full",
                "base_model": None,
                "lora_adapter_config": None,
                "size_bytes": 2 * 2**30,
                "sync_status": "COMPLETE",
                "training_job_id": job["id"],
            }
            for n in range(1, count + 1)
        ]

    @staticmethod
    def job_logs(job: dict[str, Any]) -> list[dict[str, Any]]:
        if job["current_status"] != JOB_FAILED:
            return []
        stamp = str(time.time_ns() - 2_000_000_000)
        return [{"timestamp": stamp, "message": JOB_ERROR, "replica": "node-0", "level": "ERROR"}]

    def queue_context(self, job_id: str) -> tuple[int, Any]:
        """GetTrainingJobQueueContextResponseV1: released at once, nothing ahead of it."""
        project = self.job_project.get(job_id)
        if project is None:
            return 404, {"error": "not found"}
        job = self.jobs[project][job_id]
        waiting = job["current_status"] == "TRAINING_JOB_PENDING"
        return 200, {
            "target_job_id": job_id,
            "target_job_name": job["name"],
            "gpu_type": INSTANCE["gpu_type"],
            "requested_gpus": INSTANCE["gpu_count"],
            "submitted_at": job["created_at"],
            "released_at": None if waiting else job["created_at"],
            "pending_seconds": None if waiting else 0,
            "org_capacity": None,
            "team_capacity": None,
            "active_at_submit": [],
            "pending_ahead_at_submit": [],
            "events": [],
            "events_window_end": iso(datetime.now(UTC)) if waiting else job["created_at"],
        }

    # -- the scenario --------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        if event.kind.startswith("job-"):
            self.apply_job(event)
            return
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

    def apply_job(self, event: Event) -> None:
        jobs, now = self.jobs[event.model], iso(datetime.now(UTC))
        old: str | None = None
        if event.kind == "job-new":
            jobs[event.deployment] = training_job(event.deployment, event.model, status=event.status, created_at=now)
            self.job_project[event.deployment] = event.model
        else:
            job = jobs[event.deployment]
            old, job["current_status"], job["updated_at"] = job["current_status"], event.status, now
            if event.status == JOB_FAILED:
                job["error_message"] = JOB_ERROR
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
            projects=len(fleet.jobs),
            jobs=int(body.get("jobs", 0)),
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
    parser.add_argument("--projects", type=int, default=0, help="training projects")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--limit", type=int, default=LIMIT, help="requests per second per endpoint")
    args = parser.parse_args()
    runner = web.AppRunner(app(Fleet(args.models, args.latency, args.limit, args.projects)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=2048)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)  # type: ignore[union-attr]
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
