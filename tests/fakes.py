"""Loopback stand-ins for the outside world: a spec-shaped Baseten API and a recording Slack.

Both are real HTTP servers on 127.0.0.1, port 0, each in its own thread, so the bot
under test talks to them exactly as it would to api.baseten.co and slack.com.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import re
import select
import socket
import sys
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes_billing import PRICES, USAGE, BillingFake
from tests.fakes_metrics import MetricsFake
from tests.fakes_runs import RunsFake
from tests.spec import PUBLISHED, SPEC

API_KEY = "test-key.secretvalue123"
SIGNING_SECRET = "test-signing-secret-0123456789"
BOT_TOKEN = "xoxb-test-bot-token-0123456789"
APP_TOKEN = "xapp-1-test-app-token-0123"
TEAM = "T0TEST"
BOT_USER = "UBOTUSER"


def deployment(
    dep_id: str,
    model_id: str,
    *,
    name: str | None = None,
    status: str = "ACTIVE",
    is_production: bool = False,
    is_development: bool = False,
    replicas: int = 1,
    environment: str | None = None,
    created_at: str = "2026-11-20T10:00:00Z",
    autoscaling: dict[str, Any] | bool | None = True,
) -> dict[str, Any]:
    """A DeploymentV1 with every required field, as Baseten answers."""
    settings: dict[str, Any] | None
    if autoscaling is True:
        settings = {
            "min_replica": 0,
            "max_replica": 3,
            "autoscaling_window": 60,
            "scale_down_delay": 900,
            "concurrency_target": 2,
            "target_utilization_percentage": 70,
        }
    elif autoscaling is False:
        settings = None
    else:
        settings = autoscaling  # type: ignore[assignment]
    return {
        "id": dep_id,
        "created_at": created_at,
        "name": name or dep_id,
        "model_id": model_id,
        "is_production": is_production,
        "is_development": is_development,
        "status": status,
        "active_replica_count": replicas,
        "autoscaling_settings": settings,
        "instance_type_name": "1x L4 (24 GiB)",
        "environment": environment if environment is not None else ("production" if is_production else None),
    }


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")  # LogLevelV1, lowest first


def log_line(message: str, *, at: float, level: str | None = "ERROR", replica: str | None = "r1abc") -> dict[str, Any]:
    """A LogV1: `at` in epoch seconds, sent as epoch nanoseconds in a string, as Baseten does."""
    return {"timestamp": str(int(at * 1e9)), "message": message, "replica": replica, "request_id": None, "level": level}


def model(model_id: str, name: str, deployments: list[dict[str, Any]]) -> dict[str, Any]:
    prod = next((d["id"] for d in deployments if d["is_production"]), None)
    dev = next((d["id"] for d in deployments if d["is_development"]), None)
    return {
        "id": model_id,
        "created_at": "2026-11-01T09:00:00Z",
        "name": name,
        "deployments_count": len(deployments),
        "production_deployment_id": prod,
        "development_deployment_id": dev,
        "instance_type_name": "1x L4 (24 GiB)",
        "team_name": "ml-platform",
    }


@dataclass
class Canned:
    """A scripted answer that replaces the normal one."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: bytes | None = None
    drop: bool = False  # hang up without answering: a network error for the caller
    off_spec: bool = False  # deliberately not what the API documents (a proxy's page, a garbled body)


DROP = b"\x00drop"  # what answer() returns as the body to hang up


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    ok: bool = False
    response: Any = None  # what the fake answered (FakeSlack: a posted message's `ts` is in it)
    at: float = field(default_factory=time.monotonic)
    wall: float = field(default_factory=time.time)
    ended: float | None = None  # when the answer went out, or the caller hung up (monotonic)
    hung_up: bool = False  # the caller hung up while its answer was delayed (a cancelled request)


def _raw(canned: Canned) -> bytes | None:
    return DROP if canned.drop else canned.raw


def _hung_up_within(conn: socket.socket, seconds: float) -> bool:
    """Waits `seconds` before answering, as a slow server does, but ends early when the caller hangs up
    (a cancelled request closes its connection): True then. A test sees when each request really ended."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([conn], [], [], left)
        if not readable:
            continue
        try:
            if not conn.recv(1, socket.MSG_PEEK):
                return True
        except OSError:
            return True
        time.sleep(max(0.0, deadline - time.monotonic()))  # bytes, not a hang-up (callers send none while waiting)
    return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A caller that hangs up (a killed bot) is part of the test, not an error of the fake."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Fake:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[Seen] = []
        self.open_connections: set[socket.socket] = set()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with owner.lock:
                    owner.open_connections.add(self.connection)

            def finish(self) -> None:
                with owner.lock:
                    owner.open_connections.discard(self.connection)
                super().finish()

            def do_GET(self) -> None:
                owner._dispatch(self, "GET")

            def do_POST(self) -> None:
                owner._dispatch(self, "POST")

            def do_PATCH(self) -> None:
                owner._dispatch(self, "PATCH")

        self._handler = Handler
        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop_listening(self) -> None:
        """Close the port and hang up kept-alive connections: callers now get connection refused."""
        self.close()
        with self.lock:
            for conn in list(self.open_connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    def listen_again(self) -> None:
        host, port = self.server.server_address[:2]
        self.server = _Server((str(host), int(port)), self._handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _dispatch(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urllib.parse.urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        body: Any = raw
        ctype = h.headers.get("Content-Type", "")
        if raw and "json" in ctype:
            body = json.loads(raw)
        elif raw and "form" in ctype:
            body = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
        seen = Seen(method, parts.path, urllib.parse.parse_qs(parts.query), dict(h.headers.items()), body)
        with self.lock:
            self.requests.append(seen)
        try:
            self._respond(h, seen)
        finally:
            seen.ended = time.monotonic()

    def _respond(self, h: BaseHTTPRequestHandler, seen: Seen) -> None:
        try:
            status, payload, headers, delay, bytes_out = self.answer(seen)
        except Exception as exc:  # a bug in the fake must be loud, not a hang
            status, payload, headers, delay, bytes_out = 599, {"error": repr(exc)}, {}, 0.0, None
        if delay and _hung_up_within(h.connection, delay):
            seen.hung_up = True
            h.close_connection = True
            return
        if bytes_out == DROP:
            h.close_connection = True
            return
        data = bytes_out if bytes_out is not None else json.dumps(payload).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
            h.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def answer(self, seen: Seen) -> tuple[int, Any, dict[str, str], float, bytes | None]:
        raise NotImplementedError


class FakeBaseten(BillingFake, MetricsFake, RunsFake, _Fake):
    """Answers like Baseten's published spec, and checks every request and answer against it.

    Models here; chains and training projects in tests.fakes_runs, deployment metrics in
    tests.fakes_metrics, usage and prices in tests.fakes_billing (the same server and checks).

    A request for an operation the spec lacks, or with a query parameter the operation does
    not declare, is a violation; so is any answer (routed or scripted, 200 or fault) whose
    body the spec does not allow, unless it is scripted with `off_spec=True` or served inside
    `with fake.off_spec():`. The `baseten` fixture fails a test that leaves violations.
    """

    def __init__(self, *, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.models: dict[str, dict[str, Any]] = {}
        self.deployments: dict[str, dict[str, dict[str, Any]]] = {}
        self.audit: dict[str, list[dict[str, Any]]] = {}
        self.logs: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (model, deployment) -> LogV1s
        self.log_fault: Canned | None = None  # every logs request gets it: a slow, 403 or 500 logs endpoint
        # model -> environment name -> {"current": id | None, "candidate": id | None, "promotion": {...} | None};
        # production's current deployment is always the one marked is_production
        self.environments: dict[str, dict[str, dict[str, Any]]] = {}
        self.scripted: deque[tuple[str, Canned]] = deque()
        self.delay = 0.0
        self.violations: list[str] = []
        self.off_spec_ok = False  # only ever set by off_spec(), which restores it
        super().__init__()

    @contextlib.contextmanager
    def off_spec(self) -> Iterator[None]:
        """Answers served inside this block may leave the spec (a newer status is the test's point)."""
        self.off_spec_ok = True
        try:
            yield
        finally:
            self.off_spec_ok = False

    # -- state --------------------------------------------------------------------

    def add_model(self, model_id: str, name: str, deployments: list[dict[str, Any]]) -> None:
        with self.lock:
            self.deployments[model_id] = {d["id"]: d for d in deployments}
            self.models[model_id] = model(model_id, name, deployments)

    def set_status(self, model_id: str, dep_id: str, status: str, **fields: Any) -> None:
        with self.lock:
            self.deployments[model_id][dep_id].update(status=status, **fields)

    def add_deployment(self, dep: dict[str, Any]) -> None:
        with self.lock:
            self.deployments[dep["model_id"]][dep["id"]] = dep

    def delete_deployment(self, model_id: str, dep_id: str) -> None:
        with self.lock:
            del self.deployments[model_id][dep_id]

    def promote(self, model_id: str, dep_id: str) -> None:
        with self.lock:
            for dep in self.deployments[model_id].values():
                dep["is_production"] = dep["id"] == dep_id
                dep["environment"] = "production" if dep["id"] == dep_id else None

    def add_logs(self, model_id: str, dep_id: str, *lines: dict[str, Any]) -> None:
        with self.lock:
            self.logs.setdefault((model_id, dep_id), []).extend(lines)

    def log_requests(self) -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if r.path.endswith("/logs")]

    def add_environment(self, model_id: str, name: str, current: str | None = None) -> None:
        with self.lock:
            self.environments.setdefault(model_id, {})[name] = {
                "current": current,
                "candidate": None,
                "promotion": None,
            }

    def start_promotion(
        self, model_id: str, env: str, candidate: str, status: str = "RELEASING", percent: int = 0
    ) -> None:
        """A promotion of `candidate` into `env` begins (rolling: it moves with set_promotion)."""
        with self.lock:
            record = self._env(model_id, env)
            record["candidate"] = candidate
            record["promotion"] = {"status": status, "percent_traffic_to_new_version": percent, "rolling_deploy": True}

    def set_promotion(self, model_id: str, env: str, status: str, percent: int, error: str | None = None) -> None:
        with self.lock:
            promo = self._env(model_id, env)["promotion"]
            promo.update(status=status, percent_traffic_to_new_version=percent, error_message=error)

    def end_promotion(self, model_id: str, env: str, *, promoted: bool) -> None:
        """The promotion disappears from the answer; with `promoted`, its candidate is now current."""
        with self.lock:
            record = self._env(model_id, env)
            candidate, record["candidate"], record["promotion"] = record["candidate"], None, None
        if promoted and env == "production":
            self.promote(model_id, candidate)
        elif promoted:
            with self.lock:
                record["current"] = candidate
                for dep in self.deployments[model_id].values():
                    if dep.get("environment") == env or dep["id"] == candidate:
                        dep["environment"] = env if dep["id"] == candidate else None

    def _env(self, model_id: str, name: str) -> dict[str, Any]:
        envs = self.environments.setdefault(model_id, {})
        if name == "production" and name not in envs:
            envs[name] = {"current": None, "candidate": None, "promotion": None}
        return envs[name]

    def _environment(self, model_id: str, name: str) -> dict[str, Any]:
        """An EnvironmentV1 as Baseten answers it (under the lock)."""
        record = self._env(model_id, name)
        deps = self.deployments[model_id]
        if name == "production":
            current = next((d for d in deps.values() if d["is_production"]), None)
        else:
            current = deps.get(record["current"] or "")
        candidate = deps.get(record["candidate"] or "")
        return json.loads(
            json.dumps(
                {
                    "name": name,
                    "created_at": "2026-11-01T09:00:00Z",
                    "model_id": model_id,
                    "current_deployment": current,
                    "candidate_deployment": candidate,
                    "in_progress_promotion": record["promotion"],
                    "autoscaling_settings": {
                        "min_replica": 1,
                        "max_replica": 4,
                        "autoscaling_window": 60,
                        "scale_down_delay": 900,
                        "concurrency_target": 2,
                        "target_utilization_percentage": 70,
                    },
                    "promotion_settings": {"rolling_deploy": True, "redeploy_on_promotion": False},
                    "instance_type": {
                        "id": "L4",
                        "name": "1x L4 (24 GiB)",
                        "memory_limit_mib": 16384,
                        "millicpu_limit": 4000,
                        "gpu_count": 1,
                        "gpu_type": "L4",
                        "gpu_memory_limit_mib": 24576,
                    },
                }
            )
        )

    def script(self, path_prefix: str, *answers: Canned) -> None:
        """The next requests whose path starts with `path_prefix` get these answers, in order."""
        with self.lock:
            for a in answers:
                self.scripted.append((path_prefix, a))

    def count(self, prefix: str = "/v1/") -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.path.startswith(prefix))

    # -- HTTP ---------------------------------------------------------------------

    def _violation(self, seen: Seen, problems: list[str]) -> None:
        if problems:
            with self.lock:
                self.violations.append(f"{seen.method} {seen.path}: {problems[:3]}")

    def _authorized(self, seen: Seen) -> bool:
        # the spec's BearerAuth: `Bearer <key>`, and the legacy `Api-Key <key>` it also accepts
        return seen.headers.get("Authorization") in (f"Bearer {self.api_key}", f"Api-Key {self.api_key}")

    def answer(self, seen: Seen) -> tuple[int, Any, dict[str, str], float, bytes | None]:
        op = SPEC.operation(seen.method, seen.path)
        if op is None:
            self._violation(seen, [f"no such operation in {PUBLISHED.name}"])
        else:
            self._violation(seen, op.check_query(seen.query) + op.check_body(seen.body))
        if not self._authorized(seen):
            status, body = 401, {"error": "Invalid API key"}
            canned = None
        else:
            with self.lock:
                canned = next(((i, c) for i, (p, c) in enumerate(self.scripted) if seen.path.startswith(p)), None)
                if canned is not None:
                    del self.scripted[canned[0]]
                elif self.log_fault is not None and seen.path.endswith("/logs"):
                    canned = (-1, self.log_fault)
            if canned is not None:
                status, body = canned[1].status, canned[1].body
            else:
                status, body = self._route(seen)
        c = canned[1] if canned is not None else None
        if op is not None and not (c is not None and (c.drop or c.off_spec)) and not self.off_spec_ok:
            self._violation(seen, op.check_answer(status, _decoded(c.raw) if c and c.raw is not None else body))
        if c is not None:
            return c.status, c.body, dict(c.headers), c.delay, _raw(c)
        return status, body, {}, self.delay, None

    def posts(self, suffix: str = "") -> list[Seen]:
        """The POSTs received (actions on deployments), whose path ends with `suffix`."""
        with self.lock:
            return [r for r in self.requests if r.method == "POST" and r.path.endswith(suffix)]

    def patches(self, suffix: str = "") -> list[Seen]:
        """The PATCHes received (a deployment's autoscaling settings), whose path ends with `suffix`."""
        with self.lock:
            return [r for r in self.requests if r.method == "PATCH" and r.path.endswith(suffix)]

    def changes(self) -> list[Seen]:
        """Every request that could change something on Baseten: anything but a GET."""
        with self.lock:
            return [r for r in self.requests if r.method != "GET"]

    def _autoscale(self, segs: list[str], body: Any) -> tuple[int, Any]:
        """PATCH …/deployments/{id|production|development}/autoscaling_settings, as Baseten answers it:
        only the fields passed (and not null) are set; ACCEPTED when one changed, UNCHANGED when none did."""
        deps = self.deployments.get(segs[2])
        if deps is None:
            return 404, {"error": "Not found"}
        key = segs[4]
        flag = {"production": "is_production", "development": "is_development"}.get(key)
        dep = next((d for d in deps.values() if d[flag]), None) if flag else deps.get(key)
        if dep is None:
            return 404, {"error": "Not found"}
        if not isinstance(body, dict):
            return 400, {"error": "The request body must be a JSON object"}
        settings = dep.get("autoscaling_settings")
        if settings is None:  # DeploymentV1: null while the model has not finished deploying
            return 400, {"error": "The deployment has no autoscaling settings yet"}
        given = {k: v for k, v in body.items() if v is not None}
        if all(settings.get(k) == v for k, v in given.items()):
            return 200, {"status": "UNCHANGED", "message": "Autoscaling settings are unchanged"}
        settings.update(given)
        return 200, {"status": "ACCEPTED", "message": "Autoscaling settings updated"}

    def _act(self, segs: list[str], body: Any) -> tuple[int, Any]:
        """The action endpoints, as Baseten answers them: a retry of a deployment that did not fail is
        `retried: false` with a reason; the others take effect at once (the next poll sees it)."""
        not_found = (404, {"error": "Not found"})
        model_id = segs[2]
        deps = self.deployments.get(model_id)
        if deps is None:
            return not_found
        if segs[3] == "environments" and len(segs) == 6 and segs[5] in PROMOTION_SIGNALS:
            return self._signal(model_id, segs[4], segs[5])
        if segs[3] == "environments" and segs[5:] == ["promote"]:
            dep = deps.get(str((body or {}).get("deployment_id")))
            if dep is None:
                return not_found
            dep["environment"] = segs[4]
            return 200, json.loads(json.dumps(dep))
        dep = deps.get(segs[4]) if segs[3] == "deployments" and len(segs) == 6 else None
        if dep is None:
            return not_found
        verb = segs[5]
        if verb == "retry":
            if dep["status"] not in ("BUILD_FAILED", "DEPLOY_FAILED"):
                reason = f"Deployment is {dep['status']}; only a failed deployment can be retried"
                return 200, {"retried": False, "reason": reason, "deployment": json.loads(json.dumps(dep))}
            dep["status"] = "BUILDING"
            return 200, {"retried": True, "reason": None, "deployment": json.loads(json.dumps(dep))}
        if verb in ("activate", "deactivate"):
            dep["status"] = "ACTIVE" if verb == "activate" else "INACTIVE"
            return 200, {"success": True}
        if verb == "promote":
            for other in deps.values():
                other["is_production"] = other["id"] == dep["id"]
                other["environment"] = "production" if other["id"] == dep["id"] else None
            return 200, json.loads(json.dumps(dep))
        return not_found

    def _signal(self, model_id: str, env: str, signal: str) -> tuple[int, Any]:
        """A promotion's controls, as Baseten answers them: 404 for an unknown environment, 400 when no
        promotion runs there; a cancel of a rolling one ramps down, the others are signalled."""
        if env != "production" and env not in self.environments.get(model_id, {}):
            return 404, {"error": "Not found"}
        promo = self._env(model_id, env)["promotion"]
        if promo is None:
            return 400, {"error": f"No promotion is in progress in {env}"}
        if signal == "cancel_promotion":
            promo["status"] = "RAMPING_DOWN" if promo.get("rolling_deploy") else "CANCELED"
            return 200, {"status": promo["status"], "message": "Promotion cancel requested"}
        if signal == "pause_promotion":
            promo["status"] = "PAUSED"
        elif signal == "resume_promotion":
            promo["status"] = "RAMPING_UP"
        elif signal == "force_roll_forward_promotion":
            promo.update(status="RAMPING_UP", percent_traffic_to_new_version=100)
        return 200, {"success": True}

    def _route(self, seen: Seen) -> tuple[int, Any]:
        segs = [urllib.parse.unquote(s) for s in seen.path.split("/") if s]
        not_found = (404, {"error": "Not found"})
        if segs[:1] == ["v1"] and segs[1:2] in (["chains"], ["training_projects"], ["training"]):
            with self.lock:
                return self._route_runs(seen.method, segs, seen.query, seen.body)
        if seen.path in (USAGE, PRICES) and seen.method == "GET":
            with self.lock:
                return self._billing(seen.path, seen.query)
        if segs[:2] == ["v1", "models"] and seen.method == "POST" and len(segs) >= 6:
            with self.lock:
                return self._act(segs, seen.body)
        if segs[:2] == ["v1", "models"] and seen.method == "PATCH":
            if len(segs) != 6 or segs[3] != "deployments" or segs[5] != "autoscaling_settings":
                return not_found
            with self.lock:
                return self._autoscale(segs, seen.body)
        if segs[:2] != ["v1", "models"] or seen.method != "GET":
            return not_found
        with self.lock:
            if len(segs) == 2:  # counts and production/development ids as they are now, as Baseten answers
                listed = [model(m, row["name"], list(self.deployments[m].values())) for m, row in self.models.items()]
                return 200, {"models": json.loads(json.dumps(listed))}
            model_id = segs[2]
            if model_id not in self.models:
                return not_found
            deps = self.deployments[model_id]
            if len(segs) == 3:
                return 200, model(model_id, self.models[model_id]["name"], list(deps.values()))
            if segs[3] == "audit_logs" and len(segs) == 4:
                items = self.audit.get(model_id, [])
                return 200, {"items": items, "pagination": {"has_more": False, "cursor": None}}
            if segs[3] == "environments" and len(segs) in (4, 5):
                names = sorted({"production", *self.environments.get(model_id, {})})
                if len(segs) == 4:
                    return 200, {"environments": [self._environment(model_id, n) for n in names]}
                return (200, self._environment(model_id, segs[4])) if segs[4] in names else not_found
            if segs[3] != "deployments":
                return not_found
            if len(segs) == 6 and segs[5] == "metrics":
                return self._metrics(model_id, segs[4], seen.query) if segs[4] in deps else not_found
            if len(segs) == 6 and segs[5] == "logs":
                if segs[4] not in deps:
                    return not_found
                return 200, {"logs": _logs(self.logs.get((model_id, segs[4]), []), seen.query)}
            if len(segs) == 4:
                return 200, {"deployments": json.loads(json.dumps(list(deps.values())))}
            if len(segs) == 5:
                key = segs[4]
                if key == "production":
                    found = next((d for d in deps.values() if d["is_production"]), None)
                elif key == "development":
                    found = next((d for d in deps.values() if d["is_development"]), None)
                else:
                    found = deps.get(key)
                if found is None:
                    return not_found
                return 200, json.loads(json.dumps(found))
        return not_found


PROMOTION_SIGNALS = ("pause_promotion", "resume_promotion", "cancel_promotion", "force_roll_forward_promotion")


def _logs(lines: list[dict[str, Any]], query: dict[str, list[str]]) -> list[dict[str, Any]]:
    """What Baseten's logs endpoint answers: the window (default: the last 30 minutes), the level
    floor (which drops lines without a level), the order and the limit."""
    q = {k: v[-1] for k, v in query.items()}
    end = int(q["end_epoch_millis"]) if q.get("end_epoch_millis", "").isdigit() else int(time.time() * 1000)
    start = int(q["start_epoch_millis"]) if q.get("start_epoch_millis", "").isdigit() else end - 30 * 60 * 1000
    floor = LOG_LEVELS.index(q["min_level"]) if q.get("min_level") in LOG_LEVELS else None
    picked = [
        line
        for line in lines
        if start * 1_000_000 <= int(line["timestamp"]) <= end * 1_000_000
        and (floor is None or (line.get("level") in LOG_LEVELS and LOG_LEVELS.index(line["level"]) >= floor))
    ]
    picked.sort(key=lambda line: int(line["timestamp"]), reverse=q.get("direction") == "desc")
    limit = int(q["limit"]) if q.get("limit", "").isdigit() else 500
    return json.loads(json.dumps(picked[:limit]))


def _decoded(raw: bytes) -> Any:
    """A scripted raw body as JSON, or a marker that fails every schema when it is not JSON."""
    try:
        return json.loads(raw)
    except ValueError:
        return _NotJson(raw[:40])


class _NotJson(bytes):
    """Not a JSON value: no schema of an object accepts it."""


# The Web API methods the bot calls, and the kind of token each takes (Slack answers
# `not_allowed_token_type` to the other kind and `unknown_method` to a method it lacks).
SLACK_METHODS = {
    "auth.test": "bot",
    "chat.postMessage": "bot",
    "chat.update": "bot",
    "usergroups.users.list": "bot",
    "conversations.info": "bot",
    "apps.connections.open": "app",
}
TS = re.compile(r"\d+\.\d+")


class FakeSlack(_Fake):
    """Records every Web API call and response_url post, with bodies; answers like Slack.

    Every Web API call must carry the right token (`Authorization: Bearer ...`, or a `token`
    argument); a `chat.postMessage` needs a channel and text or blocks, and may only reply
    in a thread it started; a `chat.update` may only edit a message it posted. Slack's own
    error codes come back otherwise, with HTTP 200 and `"ok": false`, as Slack answers.
    """

    def __init__(self, *, bot_token: str = BOT_TOKEN, app_token: str = APP_TOKEN) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.scripted: dict[str, deque[Canned]] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.channel_errors: dict[str, str] = {}  # channel -> the error every post there gets
        self.token_error: str | None = None  # every call with the bot token gets it (a revoked token)
        self.socket_url: str | None = None  # what apps.connections.open hands out (Socket Mode)
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) -> what was posted
        # conversations.info: what Slack says of a channel; None is `channel_not_found` (a private
        # channel the bot can't see). A channel not listed is a public one the bot is in.
        self.channels: dict[str, dict[str, Any] | None] = {}
        self._ts = itertools.count(1)
        super().__init__()

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def response_url(self, name: str = "cmd") -> str:
        return f"{self.url}/response/{name}"

    def script(self, method: str, *answers: Canned) -> None:
        with self.lock:
            self.scripted.setdefault(method, deque()).extend(answers)

    def calls(self, method: str) -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if r.path == f"/api/{method}"]

    def ts_of(self, post: dict[str, Any]) -> str:
        """The ts Slack gave an accepted chat.postMessage (by its body, as `posts()` returns it)."""
        with self.lock:
            found = [
                r.response["ts"]
                for r in self.requests
                if r.path == "/api/chat.postMessage" and r.ok and r.body is post and isinstance(r.response, dict)
            ]
        assert len(found) == 1, found
        return str(found[0])

    def posts(self) -> list[dict[str, Any]]:
        """Bodies of chat.postMessage calls that Slack accepted (ok)."""
        with self.lock:
            return [r.body for r in self.requests if r.path == "/api/chat.postMessage" and r.ok]

    def responses(self, name: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                r.body
                for r in self.requests
                if r.path.startswith("/response/") and (name is None or r.path == f"/response/{name}")
            ]

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> Any:
        return wait_until(predicate, timeout, what="Slack traffic")

    def answer(self, seen: Seen) -> tuple[int, Any, dict[str, str], float, bytes | None]:
        if seen.path.startswith("/response/"):  # a response_url: its own secret, no token
            return 200, {"ok": True}, {}, 0.0, b"ok"
        method = seen.path.removeprefix("/api/")
        args = _slack_args(seen)
        if method not in SLACK_METHODS:
            return _refuse("unknown_method", req_method=method)
        refusal = self._auth_error(seen, args, SLACK_METHODS[method])
        if refusal:
            return _refuse(refusal)
        with self.lock:
            queue = self.scripted.get(method)
            canned = queue.popleft() if queue else None
        if canned is not None:
            seen.ok = canned.status == 200 and isinstance(canned.body, dict) and canned.body.get("ok") is True
            if seen.ok and method == "chat.postMessage" and isinstance(canned.body.get("ts"), str):
                with self.lock:
                    self.messages[(str(args.get("channel")), canned.body["ts"])] = dict(args)
            return canned.status, canned.body, dict(canned.headers), canned.delay, _raw(canned)
        status, body = self._method(method, args)
        seen.ok = body.get("ok") is True
        seen.response = body
        return status, body, {}, 0.0, None

    def _auth_error(self, seen: Seen, args: dict[str, Any], kind: str) -> str | None:
        header = seen.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else str(args.get("token") or "")
        if not token:
            return "not_authed"
        if token not in (self.bot_token, self.app_token):
            return "invalid_auth"
        if token != (self.bot_token if kind == "bot" else self.app_token):
            return "not_allowed_token_type"
        return self.token_error if kind == "bot" else None

    def _method(self, method: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "auth.test":
            return 200, {
                "ok": True,
                "url": "https://test.slack.com/",
                "team": "Test",
                "user": "baseten",
                "team_id": TEAM,
                "user_id": BOT_USER,
                "bot_id": "BBOT",
            }
        if method == "apps.connections.open":
            if self.socket_url is None:
                return 200, {"ok": False, "error": "internal_error"}
            return 200, {"ok": True, "url": self.socket_url}
        if method == "usergroups.users.list":
            group = args.get("usergroup")
            if not group:
                return 200, {"ok": False, "error": "invalid_arguments"}
            with self.lock:
                members = self.usergroups.get(str(group))
            if members is None:
                return 200, {"ok": False, "error": "no_such_subteam"}
            return 200, {"ok": True, "users": list(members)}
        channel = str(args.get("channel") or "")
        if not channel:
            return 200, {"ok": False, "error": "channel_not_found"}
        if method == "conversations.info":
            with self.lock:
                info = self.channels.get(channel, {"is_channel": True, "is_private": False, "is_member": True})
            if info is None:
                return 200, {"ok": False, "error": "channel_not_found"}
            return 200, {"ok": True, "channel": {"id": channel, "name": channel.lower(), **info}}
        with self.lock:
            refusal = self.channel_errors.get(channel)
        if refusal:
            return 200, {"ok": False, "error": refusal}
        if method == "chat.update":
            ts = str(args.get("ts") or "")
            with self.lock:
                known = (channel, ts) in self.messages
            if not known:
                return 200, {"ok": False, "error": "message_not_found"}
            if not _has_content(args):
                return 200, {"ok": False, "error": "no_text"}
            with self.lock:
                self.messages[(channel, ts)] = dict(args)
            message = {"type": "message", "text": args.get("text"), "bot_id": "BBOT", "ts": ts}
            return 200, {"ok": True, "channel": channel, "ts": ts, "text": args.get("text"), "message": message}
        # chat.postMessage
        if not _has_content(args):
            return 200, {"ok": False, "error": "no_text"}
        thread_ts = args.get("thread_ts")
        if thread_ts is not None:
            if not TS.fullmatch(str(thread_ts)):
                return 200, {"ok": False, "error": "invalid_thread_ts"}
            with self.lock:
                if (channel, str(thread_ts)) not in self.messages:
                    return 200, {"ok": False, "error": "thread_not_found"}
        ts = f"1700000000.{next(self._ts):06d}"
        with self.lock:
            self.messages[(channel, ts)] = dict(args)
        message = {"type": "message", "text": args.get("text"), "bot_id": "BBOT", "ts": ts}
        if thread_ts is not None:
            message["thread_ts"] = str(thread_ts)
        return 200, {"ok": True, "channel": channel, "ts": ts, "message": message}


def _slack_args(seen: Seen) -> dict[str, Any]:
    """A Web API call's arguments: the query string and a form or JSON body, as Slack reads them."""
    args: dict[str, Any] = {k: v[-1] for k, v in seen.query.items()}
    if isinstance(seen.body, dict):
        args.update(seen.body)
    return args


def _has_content(args: dict[str, Any]) -> bool:
    """Slack's `no_text`: a message needs text, blocks or attachments."""
    return any(args.get(k) not in (None, "", [], "[]") for k in ("text", "blocks", "attachments"))


def _refuse(error: str, **extra: Any) -> tuple[int, Any, dict[str, str], float, bytes | None]:
    return 200, {"ok": False, "error": error, **extra}, {}, 0.0, None


def wait_until(predicate: Any, timeout: float = 10.0, *, what: str = "", every: float = 0.02) -> Any:
    """Polls `predicate` until it returns something truthy, and returns that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def sign(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack would send with this body."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def slash_body(
    text: str, *, response_url: str, channel: str = "C0GENERAL", user: str = "U0ALICE", team: str = TEAM
) -> str:
    return urllib.parse.urlencode(
        {
            "token": "legacy-unused",
            "team_id": team,
            "team_domain": "test",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": "alice",
            "command": "/baseten",
            "text": text,
            "api_app_id": "A0TEST",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    )


class FakeSocketMode:
    """A Socket Mode websocket endpoint: says hello, sends envelopes, records the bot's acks."""

    def __init__(self) -> None:
        import asyncio

        from aiohttp import web

        self.received: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self._outbox: Any = None
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        owner = self

        async def link(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse(autoping=True)
            await ws.prepare(request)
            await ws.send_json(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "fake"},
                    "connection_info": {"app_id": "A0TEST"},
                }
            )
            owner.connected.set()

            async def pump() -> None:
                while not ws.closed:
                    envelope = await owner._outbox.get()
                    await ws.send_json(envelope)

            sender = asyncio.ensure_future(pump())
            async for msg in ws:
                if msg.type == web.WSMsgType.TEXT:
                    with owner_lock:
                        owner.received.append(json.loads(msg.data))
            sender.cancel()
            return ws

        owner_lock = threading.Lock()
        self._lock = owner_lock

        async def boot() -> None:
            owner._outbox = asyncio.Queue()
            app = web.Application()
            app.router.add_get("/link", link)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            owner._runner = runner
            owner.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()

        def main() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(boot())
            self._loop.run_forever()

        self.thread = threading.Thread(target=main, daemon=True)
        self.thread.start()
        ready.wait(5)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link"

    def send(self, envelope: dict[str, Any]) -> None:
        self._loop.call_soon_threadsafe(self._outbox.put_nowait, envelope)

    def acks(self, envelope_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.received if r.get("envelope_id") == envelope_id]

    def close(self) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
