"""The fake Baseten's chains and training projects, as its published spec shapes them (issue 23).

Mixed into tests.fakes.FakeBaseten: the same server, lock, request log and spec checks (every
answer below is checked against management.json by FakeBaseten.answer, as a model's is). The
builders make spec-complete objects (ChainDeploymentV1, ChainletV1, TrainingJobV1); the helpers
move them as Baseten would, and each takes effect at the next request.

A chain always has a `production` environment, as Baseten creates one with the chain; its current
deployment is the one added with `environment="production"` (or none). A chain environment has no
promotion object in the spec: a promotion is a candidate deployment beside the current one
(`set_chain_candidate`), which becomes current when it ends (`finish_chain_promotion`).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

CREATED = "2026-11-20T10:00:00Z"
NOT_FOUND = (404, {"error": "Not found"})
ENDED = frozenset(
    {"TRAINING_JOB_COMPLETED", "TRAINING_JOB_FAILED", "TRAINING_JOB_DEPLOY_FAILED", "TRAINING_JOB_STOPPED"}
)


def logs_answer(lines: list[dict[str, Any]], query: dict[str, list[str]]) -> list[dict[str, Any]]:
    """What Baseten's logs endpoints answer (tests.fakes: one rule for a model's, a chainlet's and a job's)."""
    from tests.fakes import _logs  # tests.fakes mixes this module in: imported when first asked

    return _logs(lines, query)


def _copy(value: Any) -> Any:
    """What goes out is a copy: a later change to the fake's state must not reach an answer already given."""
    return json.loads(json.dumps(value))


def _autoscaling() -> dict[str, Any]:
    return {
        "min_replica": 0,
        "max_replica": 3,
        "autoscaling_window": 60,
        "scale_down_delay": 900,
        "concurrency_target": 2,
        "target_utilization_percentage": 70,
    }


def instance_of(name: str) -> dict[str, Any]:
    """An InstanceTypeV1 from Baseten's short id (`H100:2x` is two H100s); the id is the name shown."""
    match = re.fullmatch(r"([A-Za-z0-9_-]+):(\d+)x", name)
    gpus, gpu = (int(match.group(2)), match.group(1)) if match else (0, None)
    return {
        "id": name,
        "name": name,
        "memory_limit_mib": 1_048_576,
        "millicpu_limit": 96_000,
        "gpu_count": gpus,
        "gpu_type": gpu,
        "gpu_memory_limit_mib": 81_920 if gpu else None,
    }


# -- chains ----------------------------------------------------------------------------------------


def chainlet(
    chainlet_id: str, name: str, *, status: str = "ACTIVE", replicas: int = 1, instance: str = "1x L4 (24 GiB)"
) -> dict[str, Any]:
    """A ChainletV1 with every required field."""
    return {
        "id": chainlet_id,
        "name": name,
        "autoscaling_settings": _autoscaling(),
        "instance_type_name": instance,
        "active_replica_count": replicas,
        "status": status,
    }


def chain_deployment(
    dep_id: str,
    chain_id: str,
    *,
    status: str = "ACTIVE",
    environment: str | None = None,
    chainlets: list[dict[str, Any]] | None = None,
    created_at: str = CREATED,
) -> dict[str, Any]:
    """A ChainDeploymentV1 with every required field (one chainlet, `entry`, unless given)."""
    parts = chainlets if chainlets is not None else [chainlet(f"{dep_id}-entry", "entry", status=status)]
    return {
        "id": dep_id,
        "created_at": created_at,
        "chain_id": chain_id,
        "environment": environment,
        "chainlets": parts,
        "status": status,
    }


# -- training --------------------------------------------------------------------------------------


def training_job(
    job_id: str,
    project_id: str,
    *,
    status: str = "TRAINING_JOB_RUNNING",
    name: str | None = None,
    error_message: str | None = None,
    instance_type: str = "H100:2x",
    created_at: str = CREATED,
    updated_at: str | None = None,
) -> dict[str, Any]:
    """A TrainingJobV1 with every required field; its project's summary is filled in when it is added."""
    return {
        "id": job_id,
        "created_at": created_at,
        "current_status": status,
        "error_message": error_message,
        "instance_type": instance_of(instance_type),
        "updated_at": updated_at or created_at,
        "training_project_id": project_id,
        "training_project": {"id": project_id, "name": project_id},
        "name": name,
        "priority": 0,
    }


def checkpoint(
    checkpoint_id: str, job_id: str, *, created_at: str = CREATED, size_bytes: int = 1_000_000, kind: str = "lora"
) -> dict[str, Any]:
    """A TrainingJobCheckpointV1 with every required field."""
    return {
        "checkpoint_id": checkpoint_id,
        "created_at": created_at,
        "checkpoint_type": kind,
        "base_model": None,
        "lora_adapter_config": None,
        "size_bytes": size_bytes,
        "training_job_id": job_id,
    }


def queue_context(job_id: str, **fields: Any) -> dict[str, Any]:
    """A GetTrainingJobQueueContextResponseV1 for a job still pending; `fields` replace the defaults."""
    base: dict[str, Any] = {
        "target_job_id": job_id,
        "gpu_type": "H100",
        "requested_gpus": 2,
        "submitted_at": CREATED,
        "released_at": None,
        "pending_seconds": None,
        "org_capacity": None,
        "team_capacity": None,
        "active_at_submit": [],
        "pending_ahead_at_submit": [],
        "events": [],
        "events_window_end": CREATED,
    }
    return {**base, **fields}


class RunsFake:
    """Chains and training projects: state, helpers, and the routes FakeBaseten sends their paths to."""

    lock: threading.Lock

    def __init__(self) -> None:
        self.chains: dict[str, dict[str, Any]] = {}  # id -> {"name", "created_at"}
        self.chain_deployments: dict[str, dict[str, dict[str, Any]]] = {}  # chain -> id -> ChainDeploymentV1
        self.chain_environments: dict[str, dict[str, dict[str, str | None]]] = {}  # chain -> name -> current/candidate
        self.chainlet_log_lines: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self.projects: dict[str, dict[str, Any]] = {}  # id -> {"name", "created_at", "updated_at"}
        self.jobs: dict[str, dict[str, dict[str, Any]]] = {}  # project -> id -> TrainingJobV1
        self.job_log_lines: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.checkpoints: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.queue_contexts: dict[str, dict[str, Any]] = {}  # job -> GetTrainingJobQueueContextResponseV1
        self._recreated = itertools.count(1)
        # Baseten's clock, for what its own actions stamp (a stop's updated_at, a recreated job's created_at);
        # a test with a clock of its own sets it (tests.world.World.clock)
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        super().__init__()

    # -- chains: state --------------------------------------------------------------

    def add_chain(self, chain_id: str, name: str, deployments: list[dict[str, Any]]) -> None:
        with self.lock:
            self.chains[chain_id] = {"name": name, "created_at": "2026-11-01T09:00:00Z"}
            self.chain_deployments[chain_id] = {}
            self.chain_environments[chain_id] = {"production": {"current": None, "candidate": None}}
        for dep in deployments:
            self.add_chain_deployment(dep)

    def add_chain_deployment(self, dep: dict[str, Any]) -> None:
        """A new deployment of its chain; one added with an environment is that environment's current one."""
        with self.lock:
            chain_id = dep["chain_id"]
            self.chain_deployments[chain_id][dep["id"]] = dep
            if dep["environment"]:
                self._make_current(chain_id, dep["environment"], dep["id"])

    def set_chain_status(self, chain_id: str, dep_id: str, status: str, *, chainlets: bool = False) -> None:
        """The chain deployment's own status; with `chainlets`, each of its chainlets' too."""
        with self.lock:
            dep = self.chain_deployments[chain_id][dep_id]
            dep["status"] = status
            for part in dep["chainlets"] if chainlets else ():
                part["status"] = status

    def set_chainlet_status(self, chain_id: str, dep_id: str, chainlet_id: str, status: str, **fields: Any) -> None:
        with self.lock:
            parts = self.chain_deployments[chain_id][dep_id]["chainlets"]
            next(p for p in parts if p["id"] == chainlet_id).update(status=status, **fields)

    def add_chainlet_logs(self, chain_id: str, dep_id: str, chainlet_id: str, *lines: dict[str, Any]) -> None:
        with self.lock:
            self.chainlet_log_lines.setdefault((chain_id, dep_id, chainlet_id), []).extend(lines)

    def add_chain_environment(
        self, chain_id: str, name: str, current: str | None = None, candidate: str | None = None
    ) -> None:
        with self.lock:
            self.chain_environments[chain_id][name] = {"current": None, "candidate": candidate}
            if current is not None:
                self._make_current(chain_id, name, current)

    def set_chain_candidate(self, chain_id: str, env: str, candidate: str | None) -> None:
        """A promotion into `env` begins (`candidate`), or is called off (None)."""
        with self.lock:
            self.chain_environments[chain_id][env]["candidate"] = candidate

    def finish_chain_promotion(self, chain_id: str, env: str) -> None:
        """The candidate is now the environment's current deployment; the promotion is over."""
        with self.lock:
            record = self.chain_environments[chain_id][env]
            candidate, record["candidate"] = record["candidate"], None
            assert candidate is not None, f"no promotion into {env} of chain {chain_id}"
            self._make_current(chain_id, env, candidate)

    def _make_current(self, chain_id: str, env: str, dep_id: str) -> None:
        """(under the lock) One deployment per environment, one environment per deployment: the one it
        replaces leaves the environment, and it leaves the one it was in."""
        for record in self.chain_environments[chain_id].values():
            if record["current"] == dep_id:
                record["current"] = None
        for dep in self.chain_deployments[chain_id].values():
            if dep["id"] == dep_id:
                dep["environment"] = env
            elif dep["environment"] == env:
                dep["environment"] = None
        self.chain_environments[chain_id].setdefault(env, {"current": None, "candidate": None})["current"] = dep_id

    # -- training: state -------------------------------------------------------------

    def add_training_project(self, project_id: str, name: str, jobs: list[dict[str, Any]] | None = None) -> None:
        with self.lock:
            self.projects[project_id] = {"name": name, "created_at": "2026-11-01T09:00:00Z"}
            self.jobs[project_id] = {}
        for job in jobs or ():
            self.add_job(job)

    def add_job(self, job: dict[str, Any]) -> None:
        """A new job of its project (a submitted or recreated one)."""
        with self.lock:
            project_id = job["training_project_id"]
            job["training_project"] = {"id": project_id, "name": self.projects[project_id]["name"]}
            self.jobs[project_id][job["id"]] = job

    def set_job_status(self, project_id: str, job_id: str, status: str, **fields: Any) -> None:
        """`current_status` and any other field (`updated_at`, `error_message`) as given."""
        with self.lock:
            self.jobs[project_id][job_id].update(current_status=status, **fields)

    def add_job_logs(self, project_id: str, job_id: str, *lines: dict[str, Any]) -> None:
        with self.lock:
            self.job_log_lines.setdefault((project_id, job_id), []).extend(lines)

    def add_checkpoint(self, project_id: str, job_id: str, checkpoint_id: str, **fields: Any) -> None:
        with self.lock:
            self.checkpoints.setdefault((project_id, job_id), []).append(checkpoint(checkpoint_id, job_id, **fields))

    def set_queue_context(self, job_id: str, context: dict[str, Any]) -> None:
        """What the queue-context endpoint says of this job: `context` over queue_context()'s defaults."""
        with self.lock:
            self.queue_contexts[job_id] = queue_context(job_id, **context)

    # -- HTTP -------------------------------------------------------------------------

    def _route_runs(self, method: str, segs: list[str], query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        """Any path under /v1/chains, /v1/training_projects or /v1/training (under the lock)."""
        if segs[1] == "chains":
            return self._chain_get(segs[2:], query) if method == "GET" else NOT_FOUND
        if segs[1] == "training" and segs[2:3] == ["jobs"] and segs[4:] == ["queue_context"] and method == "GET":
            context = self.queue_contexts.get(segs[3])
            return (200, _copy(context)) if context is not None else NOT_FOUND
        if segs[1] != "training_projects":
            return NOT_FOUND
        if method == "POST":
            return self._job_act(segs[2:], body)
        return self._training_get(segs[2:], query) if method == "GET" else NOT_FOUND

    def _chain(self, chain_id: str) -> dict[str, Any]:
        row = self.chains[chain_id]
        return {
            "id": chain_id,
            "created_at": row["created_at"],
            "name": row["name"],
            "deployments_count": len(self.chain_deployments[chain_id]),
            "team_name": "ml-platform",
        }

    def _chain_get(self, segs: list[str], query: dict[str, list[str]]) -> tuple[int, Any]:
        """segs after /v1/chains."""
        if not segs:
            return 200, {"chains": [self._chain(c) for c in self.chains]}
        chain_id, rest = segs[0], segs[1:]
        if chain_id not in self.chains:
            return NOT_FOUND
        deps = self.chain_deployments[chain_id]
        if not rest:
            return 200, self._chain(chain_id)
        if rest == ["deployments"]:
            return 200, {"deployments": _copy(list(deps.values()))}
        if rest[0] == "deployments":
            dep = deps.get(rest[1])
            if dep is None:
                return NOT_FOUND
            if len(rest) == 2:
                return 200, _copy(dep)
            if len(rest) == 5 and rest[2] == "chainlets" and rest[4] == "logs":
                if all(p["id"] != rest[3] for p in dep["chainlets"]):
                    return NOT_FOUND
                return 200, {
                    "logs": logs_answer(self.chainlet_log_lines.get((chain_id, dep["id"], rest[3]), []), query)
                }
            return NOT_FOUND
        if rest == ["environments"]:
            names = sorted(self.chain_environments[chain_id])
            return 200, {"environments": [self._chain_environment(chain_id, n) for n in names]}
        if rest[0] == "environments" and len(rest) == 2 and rest[1] in self.chain_environments[chain_id]:
            return 200, self._chain_environment(chain_id, rest[1])
        return NOT_FOUND

    def _chain_environment(self, chain_id: str, name: str) -> dict[str, Any]:
        """A ChainEnvironmentV1 (the list's items too: see tests.spec on the list's declared type)."""
        record = self.chain_environments[chain_id][name]
        deps = self.chain_deployments[chain_id]
        current = deps.get(record["current"] or "")
        candidate = deps.get(record["candidate"] or "")
        settings = [
            {
                "chainlet_name": part["name"],
                "autoscaling_settings": part["autoscaling_settings"],
                "instance_type": instance_of("L4:1x"),
            }
            for part in (current or {}).get("chainlets", [])
        ]
        return _copy(
            {
                "name": name,
                "created_at": "2026-11-01T09:00:00Z",
                "chain_id": chain_id,
                "promotion_settings": {"rolling_deploy": False, "redeploy_on_promotion": False},
                "chainlet_settings": settings,
                "current_deployment": current,
                "candidate_deployment": candidate,
            }
        )

    def _project(self, project_id: str) -> dict[str, Any]:
        """A TrainingProjectV1, its latest job the one created last (the last added, on a tie)."""
        row, jobs = self.projects[project_id], list(self.jobs[project_id].values())
        latest = max(reversed(jobs), key=lambda j: j["created_at"], default=None)
        updated = max([row["created_at"], *(j["updated_at"] for j in jobs)])
        return {
            "id": project_id,
            "name": row["name"],
            "created_at": row["created_at"],
            "updated_at": updated,
            "team_name": "ml-platform",
            "latest_job": latest,
        }

    def _training_get(self, segs: list[str], query: dict[str, list[str]]) -> tuple[int, Any]:
        """segs after /v1/training_projects."""
        if not segs:
            return 200, _copy({"training_projects": [self._project(p) for p in self.projects]})
        project_id, rest = segs[0], segs[1:]
        if project_id not in self.projects:
            return NOT_FOUND
        project, jobs = self._project(project_id), self.jobs[project_id]
        if not rest:
            return 200, _copy({"training_project": project})
        if rest == ["jobs"]:
            return 200, _copy({"training_project": project, "training_jobs": list(jobs.values())})
        job = jobs.get(rest[1]) if rest[0] == "jobs" else None
        if job is None:
            return NOT_FOUND
        if len(rest) == 2:
            return 200, _copy({"training_project": project, "training_job": job})
        if rest[2:] == ["logs"]:
            return 200, {"logs": logs_answer(self.job_log_lines.get((project_id, job["id"]), []), query)}
        if rest[2:] == ["checkpoints"]:
            return 200, _copy({"training_job": job, "checkpoints": self.checkpoints.get((project_id, job["id"]), [])})
        return NOT_FOUND

    def _job_act(self, segs: list[str], body: Any) -> tuple[int, Any]:
        """POST .../jobs/{id}/stop and .../recreate, as Baseten answers them (segs after /v1/training_projects)."""
        if len(segs) != 4 or segs[1] != "jobs" or segs[0] not in self.projects:
            return NOT_FOUND
        project_id, verb = segs[0], segs[3]
        job = self.jobs[project_id].get(segs[2])
        if job is None:
            return NOT_FOUND
        if verb == "stop":
            if job["current_status"] in ENDED:
                return 400, {"error": f"Training job is {job['current_status']}; only a running job can be stopped"}
            job.update(current_status="TRAINING_JOB_STOPPED", updated_at=self._stamp())
            return 200, _copy({"training_job": job})
        if verb == "recreate":
            new = {
                **_copy(job),
                "id": f"{job['id']}-r{next(self._recreated)}",
                "current_status": "TRAINING_JOB_CREATED",
                "error_message": None,
                "created_at": self._stamp(),
                "updated_at": self._stamp(),
            }
            self.jobs[project_id][new["id"]] = new
            return 200, _copy({"training_job": new})
        return NOT_FOUND

    def _stamp(self) -> str:
        return self.clock().astimezone(UTC).isoformat().replace("+00:00", "Z")
