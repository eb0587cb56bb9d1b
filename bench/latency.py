"""Detection latency (issues 16, 23): from a status change at Baseten to the notice in Slack.

    python bench/latency.py                          # 400 and 5,000 watched models, 6 minutes each; prints
    python bench/latency.py --write                  # … and replaces the latency section of BENCHMARKS.md
    python bench/latency.py --models 100 --minutes 2 # a quick look

For each size it seeds a fresh SQLite database (the newest migration) with M models and T training
projects (`--projects`), one channel each, every model subscribed as a whole model and every project
as a whole project (`training:ID`), with matching snapshots and model states so the first poll is a
silent baseline. It starts bench/latency_fake.py (Baseten at 50 ms, 100 requests per second per
endpoint, 429 {"retry_after": 1} beyond; Slack too) in its own process and a real `python -m bot
serve` (HTTP mode) with POLL_INTERVAL_SECONDS=60, BASETEN_MAX_RPS=50 and the default
HOT_POLL_SECONDS. Once the bot has polled every model and project (the fake's request log says so),
the fake plays a seeded scenario for `--minutes`: new deployments created under random models, each
then BUILDING → DEPLOYING → LOADING_MODEL → ACTIVE at 5 to 15 s steps; stable production deployments
failing (ACTIVE → UNHEALTHY, each once); and training jobs started in random projects, each
TRAINING_JOB_CREATED, RUNNING 5 to 15 s later, and after a run of 20 to 60 s COMPLETED (or, one in
four, FAILED with an error_message). After a drain window (twice the worst expected latency, or
until every change was heard and ten seconds more) the bot is stopped with SIGTERM.

Each change is matched to the notice (`chat.postMessage`) whose plain text names its deployment (or
job) and its old and new status ("new deployment → …" or "new job → …" for a creation); a change
without one is unseen. Times are time.monotonic() at the fake: when it made the change visible, and
when the message arrived. A state is seen when a notice names it (as the old or the new status).

A plain sweep polls every model and project once per POLL_INTERVAL_SECONDS, or as fast as 95% of
BASETEN_MAX_RPS allows: its period is max(POLL_INTERVAL_SECONDS, (M + T) / (0.95 × BASETEN_MAX_RPS))
and it sends (M + T) × 60 / period requests a minute (one deployment or job list per whole-model or
whole-project subscription). Percentiles are nearest-rank (bench/stats.py). Exits non-zero only when
the run broke (the bot died or exited non-zero, the fake faulted), never for a missed target.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import replace_section, terminate  # noqa: E402
from bench.latency_fake import INSTANCE, JOB_FAILS, JOB_RUN_SECONDS, JOB_START_SECONDS  # noqa: E402
from bench.run import machine, peak_rss_mb  # noqa: E402
from bench.stats import nearest_rank  # noqa: E402

POLL_INTERVAL = 60.0
MAX_RPS = 50.0
HOT_POLL = 5.0  # the bot's default HOT_POLL_SECONDS, left unset
HEADROOM = 0.95  # a sweep's share of BASETEN_MAX_RPS (bot.baseten.ratelimit)
LONG_STATE = 6.0  # seconds: a state at least this long must not go unseen
STEPS = ("BUILDING → DEPLOYING", "DEPLOYING → LOADING_MODEL", "LOADING_MODEL → ACTIVE")
JOB_ENDS = ("TRAINING_JOB_COMPLETED", "TRAINING_JOB_FAILED")
JOB_END_LIMIT = 10.0  # seconds: a job's end heard within this at p95, as a deployment's steps (issue 23)
JOB_INSTANCE = str(INSTANCE["name"])  # the fake's instance type, every job's
START, END = "<!-- latency -->", "<!-- /latency -->"
# bot.render.notices._headline: "MODEL / DEPLOYMENT: OLD → NEW", "… : new deployment → NEW", "… : new job → NEW"
NOTICE = re.compile(
    r"^(?P<model>\S+) / (?P<dep>\S+): (?:(?P<created>new (?:deployment|job))|(?P<old>\S+)) → (?P<new>\S+)"
)


def channel_of(subject: str) -> str:
    """The channel the benchmark subscribes a model (`m00012`: C00012) or a project (`p00012`: CP00012) from."""
    return f"C{subject[1:]}" if subject.startswith("m") else f"CP{subject[1:]}"


# -- the database ---------------------------------------------------------------------------


def seed(url: str, models: int, projects: int = 0) -> None:
    """M whole-model subscriptions (one channel each), with the production deployment's snapshot and
    the model's state as the fake shows them: the first poll finds nothing new and writes nothing.
    And T whole-project subscriptions (`training:p00012`, channel CP00012), each with its one
    completed job's snapshot and the project's state, the same way."""
    from bot.app.db import make_sync_engine
    from bot.store.tables import ModelState, Snapshot, Subscription

    now = datetime.now(UTC)
    engine = make_sync_engine(url)
    for first in range(0, models, 2000):
        subs, snaps, states = [], [], []
        for i in range(first, min(models, first + 2000)):
            model, dep = f"m{i:05d}", f"d{i:05d}x000"
            subs.append(
                {
                    "team_id": "TBENCH",
                    "channel_id": f"C{i:05d}",
                    "model_id": model,
                    "model_name": model,
                    "target": "*",
                    "target_name": "",
                    "kinds": "",
                    "thread": True,
                    "created_by": "U1",
                    "created_at": now,
                }
            )
            snaps.append(
                {
                    "model_id": model,
                    "deployment_id": dep,
                    "name": dep,
                    "status": "ACTIVE",
                    "is_production": True,
                    "is_development": False,
                    "environment": "production",
                    "active_replica_count": 1,
                    "instance_type_name": "1x L4",
                    "status_since": now,
                    "gone": False,
                    "stuck_announced": 0,
                }
            )
            states.append(
                {
                    "model_id": model,
                    "name": model,
                    "production_deployment_id": dep,
                    "development_deployment_id": None,
                    "baseline_at": now,
                }
            )
        with engine.begin() as conn:
            conn.execute(sa.insert(Subscription), subs)
            conn.execute(sa.insert(Snapshot), snaps)
            conn.execute(sa.insert(ModelState), states)
    subs, snaps, states = [], [], []
    for i in range(projects):
        project, job = f"p{i:05d}", f"j{i:05d}x000"
        key = f"training:{project}"
        subs.append(
            {
                "team_id": "TBENCH",
                "channel_id": channel_of(project),
                "model_id": key,
                "model_name": project,
                "target": "*",
                "target_name": "",
                "kinds": "",
                "thread": True,
                "created_by": "U1",
                "created_at": now,
            }
        )
        snaps.append(
            {
                "model_id": key,
                "deployment_id": job,
                "name": job,
                "status": "TRAINING_JOB_COMPLETED",
                "is_production": False,
                "is_development": False,
                "environment": None,
                "active_replica_count": None,
                "instance_type_name": JOB_INSTANCE,
                "status_since": now,
                "gone": False,
                "stuck_announced": 0,
            }
        )
        states.append(
            {
                "model_id": key,
                "name": project,
                "production_deployment_id": None,
                "development_deployment_id": None,
                "baseline_at": now,
            }
        )
    if subs:
        with engine.begin() as conn:
            conn.execute(sa.insert(Subscription), subs)
            conn.execute(sa.insert(Snapshot), snaps)
            conn.execute(sa.insert(ModelState), states)
    engine.dispose()


@contextlib.contextmanager
def seeded(models: int, projects: int) -> Iterator[tuple[str, Path]]:
    from bot.app.db import upgrade

    tmp = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    try:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        seed(url, models, projects)
        yield url, tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- the two processes ------------------------------------------------------------------------


class Broken(Exception):
    """The run itself broke: the bot died, or the fake faulted."""


class Fake:
    """bench/latency_fake.py in its own process."""

    def __init__(self, models: int, projects: int, latency: float, limit: int) -> None:
        command = [sys.executable, str(ROOT / "bench" / "latency_fake.py"), "--models", str(models)]
        command += ["--projects", str(projects)]
        command += ["--latency", str(latency), "--limit", str(limit)]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}"
        self.client = httpx.Client(base_url=self.url, timeout=60)

    def get(self, what: str) -> dict[str, Any]:
        if self.proc.poll() is not None:
            raise Broken(f"the fake exited ({self.proc.returncode})")
        body = dict(self.client.get(f"/_control/{what}").json())
        if body.get("errors"):
            raise Broken(f"the fake faulted: {body['errors'][:3]}")
        return body

    def start(self, *, seed: int, seconds: float, new: int, failures: int, jobs: int) -> dict[str, Any]:
        body = {"seed": seed, "seconds": seconds, "new": new, "failures": failures, "jobs": jobs}
        return dict(self.client.post("/_control/start", json=body).json())

    def close(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class Bot:
    """A real `python -m bot serve` (HTTP mode) against the fake, its log in a file."""

    def __init__(self, fake: Fake, url: str, log: Path) -> None:
        from bot.app.config import Settings

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
        env |= {
            "BASETEN_API_KEY": "bench-key",
            "BASETEN_API_URL": fake.url,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": "bench-signing-secret",
            "SLACK_API_URL": fake.url + "/api/",
            "DATABASE_URL": url,
            "BASETEN_MAX_RPS": f"{MAX_RPS:g}",
            "POLL_INTERVAL_SECONDS": f"{POLL_INTERVAL:g}",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "LOG_LEVEL": "INFO",
        }
        self.log = log
        with log.open("w") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "bot", "serve"], env=env, cwd=ROOT, stderr=out)
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            self.check()
            time.sleep(0.2)
        self.stop()
        raise Broken("baseten-bot serve never became healthy")

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise Broken(f"baseten-bot serve exited ({self.proc.returncode}) during the run:\n{self.tail()}")

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])

    def schedule(self) -> dict[str, Any]:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            return dict(httpx.get(self.base + "/healthz", timeout=5).json().get("schedule") or {})
        return {}

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> int:
        """SIGTERM; the exit code (killed after 15 s: -9)."""
        return terminate(self.proc)

    def log_counts(self) -> dict[str, Any]:
        """Warnings, errors and tracebacks in the bot's log, and the first few of those lines."""
        lines = self.log.read_text(errors="replace").splitlines()
        warnings = [line for line in lines if " WARNING " in line]
        errors = [line for line in lines if " ERROR " in line or " CRITICAL " in line]
        return {
            "warnings": len(warnings),
            "errors": len(errors),
            "tracebacks": sum(line.startswith("Traceback") for line in lines),
            "samples": [line[:300] for line in (errors + warnings)[:5]],
        }


# -- one size ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    models: int
    seconds: float
    new: int
    failures: int
    seed: int
    latency: float
    limit: int
    drain: float | None  # None: twice the worst expected latency
    projects: int = 0  # training projects watched, besides the models
    jobs: int = 0  # training jobs started per run

    @property
    def subjects(self) -> int:
        """What the poller polls one list each of: the models and the projects."""
        return self.models + self.projects


def sweep_period(subjects: int) -> float:
    """How often a plain sweep polls each model or project: the interval, or longer when the rate can't keep it."""
    return max(POLL_INTERVAL, subjects / (HEADROOM * MAX_RPS))


def worst_expected(subjects: int) -> float:
    """The longest a change should wait to be heard: a cold model's turn, then one hot poll."""
    return sweep_period(subjects) + HOT_POLL


def run_size(plan: Plan) -> dict[str, Any]:
    """Seeds, starts the fake and the bot, plays the scenario, stops; the figures, or `broken`."""
    broken: str | None = None
    result: dict[str, Any] = {"plan": plan.__dict__}
    with seeded(plan.models, plan.projects) as (url, tmp):
        fake = Fake(plan.models, plan.projects, plan.latency, plan.limit)
        bot: Bot | None = None
        try:
            bot = Bot(fake, url, tmp / "bot.log")
            result |= play(plan, fake, bot)
        except Broken as exc:
            broken = str(exc)
        finally:
            result["stopped"] = time.monotonic()  # every state ends here
            if bot is not None:
                result["rss_mb"] = peak_rss_mb(bot.proc.pid) if bot.proc.poll() is None else float("nan")
                result["exit_code"] = bot.stop()
                result["log"] = bot.log_counts()
                if result["exit_code"] != 0 and broken is None:
                    broken = f"baseten-bot serve exited {result['exit_code']} on SIGTERM:\n{bot.tail()}"
            with contextlib.suppress(Broken, httpx.HTTPError):
                result["report"] = fake.get("report")
            fake.close()
    result["broken"] = broken
    return result


def play(plan: Plan, fake: Fake, bot: Bot) -> dict[str, Any]:
    """Warm-up, the measured run, the drain; what was measured on the way."""
    began = time.monotonic()
    deadline = began + 120 + 3 * plan.subjects / (HEADROOM * MAX_RPS)
    while fake.get("status")["polled"] < plan.subjects:
        bot.check()
        if time.monotonic() > deadline:
            raise Broken("the bot did not poll every model and project once within the warm-up deadline")
        time.sleep(0.5)
    warm_up = time.monotonic() - began
    cpu_before = bot.cpu_seconds()
    started = fake.start(seed=plan.seed, seconds=plan.seconds, new=plan.new, failures=plan.failures, jobs=plan.jobs)
    at, end = float(started["started"]), float(started["started"]) + plan.seconds
    while time.monotonic() < end:
        bot.check()
        fake.get("status")
        time.sleep(1)
    schedule = bot.schedule()  # what the lease holder's schedule said at the end of the measured run
    drain = plan.drain if plan.drain is not None else 2 * worst_expected(plan.subjects)
    heard_all: float | None = None
    while time.monotonic() < end + drain:
        bot.check()
        if heard_all is None and all_heard(fake.get("notices"), int(started["events"])):
            heard_all = time.monotonic()
        if heard_all is not None and time.monotonic() > heard_all + 10:
            break
        time.sleep(2)
    return {
        "warm_up_s": warm_up,
        "started": at,
        "drained_s": time.monotonic() - end,
        "schedule": schedule,
        "bot_cpu_s": bot.cpu_seconds() - cpu_before,
    }


def all_heard(notices: dict[str, Any], events: int) -> bool:
    """Every scripted change made and matched to its notice: the drain may end early."""
    changes = notices["changes"]
    return len(changes) == events and not missing(changes, match(changes, notices["messages"]))


# -- matching and figures ----------------------------------------------------------------------


@dataclass
class Matched:
    latency: dict[int, float] = field(default_factory=dict)  # change index -> seconds to its notice
    seen: set[tuple[str, str]] = field(default_factory=set)  # (deployment, status) named by a notice
    duplicates: int = 0
    skipped: int = 0  # a notice from a state to a later one: the states between went unseen
    unexplained: list[str] = field(default_factory=list)
    created_as: dict[str, str] = field(default_factory=dict)  # deployment -> the status its creation notice named


def change_key(c: dict[str, Any]) -> tuple[str, str | None, str]:
    created = c["kind"] in ("new", "job-new")
    return (c["deployment"], None, "new") if created else (c["deployment"], c["old"], c["status"])


def match(changes: list[dict[str, Any]], messages: list[dict[str, Any]]) -> Matched:
    """Each change to the first notice naming it, in its own channel."""
    out = Matched()
    wanted = {change_key(c): i for i, c in enumerate(changes)}
    history: dict[str, list[str]] = defaultdict(list)
    for c in changes:
        history[c["deployment"]].append(c["status"])
    for msg in sorted((m for m in messages if m["method"] == "chat.postMessage"), key=lambda m: m["at"]):
        found = NOTICE.match(msg["text"] or "")
        if found is None or msg["channel"] != channel_of(found["model"]):
            out.unexplained.append(f"{msg['channel']}: {msg['text']}")
            continue
        dep, old, new = found["dep"], found["old"], found["new"]
        out.seen |= {(dep, new)} | ({(dep, old)} if old else set())
        if found["created"]:
            out.created_as.setdefault(dep, new)
        key = (dep, None, "new") if found["created"] else (dep, old, new)
        i = wanted.get(key)
        if i is None:
            path = ["ACTIVE", *history.get(dep, [])] if dep.endswith("x000") else history.get(dep, [])
            if old in path and new in path[path.index(old) + 1 :]:
                out.skipped += 1
            else:
                out.unexplained.append(f"{msg['channel']}: {msg['text']}")
        elif i in out.latency:
            out.duplicates += 1
        else:
            out.latency[i] = msg["at"] - changes[i]["at"]
    return out


def missing(changes: list[dict[str, Any]], m: Matched) -> list[int]:
    return [i for i in range(len(changes)) if i not in m.latency]


def latency_row(label: str, indices: list[int], m: Matched) -> dict[str, Any]:
    waits = [m.latency[i] for i in indices if i in m.latency]
    return {
        "change": label,
        "count": len(indices),
        "unseen": len(indices) - len(waits),
        "p50": nearest_rank(waits, 0.5) if waits else None,
        "p95": nearest_rank(waits, 0.95) if waits else None,
        "max": max(waits) if waits else None,
    }


def unseen_changes(changes: list[dict[str, Any]], m: Matched) -> list[str]:
    """Each change no notice named, with how long the state it left lasted and, for a deployment's or
    job's first step, the status its creation notice named (a state shorter than the wait for the first
    poll is never seen: the creation is announced at a later one)."""
    out = []
    for i in missing(changes, m):
        c = changes[i]
        before = [p for p in changes[:i] if p["deployment"] == c["deployment"]]
        what = f"{c['deployment']} {c['old'] or 'new'} → {c['status']}"
        if before and c["old"]:
            what += f" ({c['old']} lasted {c['at'] - before[-1]['at']:.1f} s"
            named = m.created_as.get(c["deployment"])
            what += f"; its creation was announced as {named})" if named and named != c["old"] else ")"
        out.append(what)
    return out


def long_states(changes: list[dict[str, Any]], m: Matched, stopped: float) -> tuple[int, list[str]]:
    """States the scenario made that lasted LONG_STATE seconds or more (the last one of a deployment
    lasts until the bot stopped), and those of them no notice named."""
    by_dep: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in changes:
        by_dep[c["deployment"]].append(c)
    count, unseen = 0, []
    for dep, steps in by_dep.items():
        steps.sort(key=lambda c: c["at"])
        for c, after in zip(steps, [*steps[1:], None], strict=True):
            lasted = (after["at"] if after else stopped) - c["at"]
            if lasted >= LONG_STATE:
                count += 1
                if (dep, c["status"]) not in m.seen:
                    unseen.append(f"{dep} {c['status']} ({lasted:.1f} s)")
    return count, unseen


def busiest_second(arrivals: list[float]) -> int:
    """The most requests started in any one-second window."""
    times, best, first = sorted(arrivals), 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


def figures(plan: Plan, result: dict[str, Any]) -> dict[str, Any]:
    report = result["report"]
    changes = report["changes"]
    m = match(changes, report["messages"])
    kinds: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(changes):
        kinds[c["kind"]].append(i)
        if c["kind"] in ("progress", "job-end"):
            kinds[f"{c['old']} → {c['status']}"].append(i)
    rows = [latency_row("new deployment announced", kinds["new"], m)]
    rows += [latency_row(f"progress: {step}", kinds[step], m) for step in STEPS]
    rows += [latency_row("progress: every step", kinds["progress"], m)]
    rows += [latency_row("stable deployment fails (ACTIVE → UNHEALTHY)", kinds["failure"], m)]
    if plan.projects:
        rows += [latency_row("new training job announced", kinds["job-new"], m)]
        rows += [latency_row("job starts: TRAINING_JOB_CREATED → TRAINING_JOB_RUNNING", kinds["job-start"], m)]
        rows += [
            latency_row(f"job ends: TRAINING_JOB_RUNNING → {end}", kinds[f"TRAINING_JOB_RUNNING → {end}"], m)
            for end in JOB_ENDS
        ]
        rows += [latency_row("job ends: every one", kinds["job-end"], m)]
    states, unseen = long_states(changes, m, result["stopped"])
    start, end = result["started"], result["started"] + plan.seconds
    window = [(at, endpoint) for at, endpoint, _ in report["requests"] if start <= at < end]
    per_minute = 60 / plan.seconds
    by_endpoint = {e: n * per_minute for e, n in Counter(e for _, e in window).most_common()}
    return {
        "rows": rows,
        "long_states": states,
        "long_states_unseen": unseen,
        "rpm": len(window) * per_minute,
        "rpm_by_endpoint": by_endpoint,
        "rpm_models": sum(n for e, n in by_endpoint.items() if e.startswith("/v1/models")),
        "rpm_training": sum(n for e, n in by_endpoint.items() if e.startswith("/v1/training")),
        "sweep_rpm": plan.subjects * 60 / sweep_period(plan.subjects),
        "busiest_second": busiest_second([at for at, _, _ in report["requests"]]),
        "429s": int(report["codes"].get("429", 0)),
        "404s": report["not_found"],
        "duplicates": m.duplicates,
        "skipped": m.skipped,
        "unexplained": m.unexplained,
        "unseen_changes": unseen_changes(changes, m),
        "slack_methods": report["slack_methods"],
    }


# -- targets and the report ----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    figure: str
    value: float | None  # None: no sample to judge
    limit: float
    shown: str  # the value as printed
    goal: str  # the target as printed

    @property
    def met(self) -> bool:
        return self.value is not None and self.value <= self.limit


def secs(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def targets(plan: Plan, f: dict[str, Any]) -> list[Target]:
    """The issue's targets. Progress p95 is 10 s at 400 models, 15 s above. Failures: 65 s, which is
    a sweep's 60 s interval plus a hot poll ("no worse than a sweep"); where a sweep takes longer than
    the interval (5,000 models at 50/s), a sweep's period plus a hot poll."""
    rows = {r["change"]: r for r in f["rows"]}
    progress, new = rows["progress: every step"]["p95"], rows["new deployment announced"]["p95"]
    failure = rows["stable deployment fails (ACTIVE → UNHEALTHY)"]["p95"]
    progress_limit = 10.0 if plan.models <= 400 else 15.0
    failure_limit = max(65.0, worst_expected(plan.subjects))
    failure_goal = "≤ 65" if failure_limit == 65.0 else f"≤ {failure_limit:.1f} (a sweep's period + {HOT_POLL:g})"
    ceiling = 1.3 * f["sweep_rpm"]
    unseen = len(f["long_states_unseen"])
    jobs = []
    if plan.projects:
        ended = rows["job ends: every one"]["p95"]
        jobs = [Target("training jobs' ends, p95 s", ended, JOB_END_LIMIT, secs(ended), f"≤ {JOB_END_LIMIT:g}")]
    return [
        Target("progress changes, p95 s", progress, progress_limit, secs(progress), f"≤ {progress_limit:g}"),
        Target(f"states lasting ≥ {LONG_STATE:g} s unseen", unseen, 0, f"{unseen} of {f['long_states']}", "0"),
        Target("new deployments, p95 s", new, 10.0, secs(new), "≤ 10"),
        Target("failures of stable deployments, p95 s", failure, failure_limit, secs(failure), failure_goal),
        *jobs,
        Target(
            "requests per minute",
            f["rpm"],
            ceiling,
            f"{f['rpm']:,.0f} ({f['rpm'] / f['sweep_rpm']:.2f}× a sweep's {f['sweep_rpm']:,.0f})",
            f"≤ {ceiling:,.0f} (1.3×)",
        ),
        Target("busiest second (requests started)", f["busiest_second"], MAX_RPS, str(f["busiest_second"]), "≤ 50"),
        Target("429s answered by the fake", f["429s"], 0, str(f["429s"]), "0"),
    ]


def size_section(plan: Plan, result: dict[str, Any], f: dict[str, Any]) -> list[str]:
    r, sched = result, result.get("schedule") or {}
    projects = f" and {plan.projects:,} training projects" if plan.projects else ""
    jobs = f", {plan.jobs} training jobs started" if plan.projects else ""
    lines = [
        "",
        f"### {plan.models:,} watched models{projects}",
        "",
        f"Scenario (seed {plan.seed}): {plan.new} new deployments, {plan.failures} failures of stable "
        f"production deployments{jobs} over {plan.seconds / 60:g} min, after a warm-up of {r['warm_up_s']:.0f} s "
        f"(every model and project polled once); drain {r['drained_s']:.0f} s. The bot's schedule at the end "
        f"of the run: {sched.get('hot', '?')} hot, cold ones polled every {sched.get('cold_every_s', '?')} s, "
        f"starvation bound {sched.get('starvation_bound_s', '?')} s. Bot CPU over run and drain: "
        f"{r['bot_cpu_s']:.0f} s; peak RSS {r['rss_mb']:.0f} MB.",
        "",
        "| change | count | unseen | p50 s | p95 s | max s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in f["rows"]:
        lines.append(
            f"| {row['change']} | {row['count']} | {row['unseen']} | {secs(row['p50'])} | {secs(row['p95'])} | "
            f"{secs(row['max'])} |"
        )
    lines += ["", "| figure | value | target | |", "|---|---:|---:|---|"]
    for t in targets(plan, f):
        lines.append(f"| {t.figure} | {t.shown} | {t.goal} | {'met' if t.met else '**missed**'} |")
    by_endpoint = ", ".join(f"`{e}` {n:,.0f}" for e, n in f["rpm_by_endpoint"].items())
    split = ""
    if plan.projects:
        models_sweep = plan.models * 60 / sweep_period(plan.subjects)
        projects_sweep = plan.projects * 60 / sweep_period(plan.subjects)
        split = (
            f" The models' endpoints: {f['rpm_models']:,.0f} ({f['rpm_models'] / models_sweep:.2f}× their share "
            f"of a sweep, {models_sweep:,.0f}); the training endpoints: {f['rpm_training']:,.0f} "
            f"({f['rpm_training'] / projects_sweep:.2f}× their share, {projects_sweep:,.0f})."
        )
    unseen = f["unseen_changes"]
    log = r.get("log", {})
    lines += [
        "",
        f"Requests per minute during the run, by endpoint: {by_endpoint}.{split} 404s: {f['404s'] or 0}. "
        f"Notices: {f['duplicates']} duplicates, {f['skipped']} naming a step across unseen states, "
        f"{len(f['unexplained'])} matching no change. Bot log: {log.get('warnings', 0)} warnings, "
        f"{log.get('errors', 0)} errors, {log.get('tracebacks', 0)} tracebacks; exit code on SIGTERM "
        f"{r.get('exit_code')}.",
        "",
        f"Unseen changes: {'; '.join(unseen) if unseen else 'none'}.",
    ]
    return lines


Done = tuple[Plan, dict[str, Any], dict[str, Any]]  # a size's plan, what its run measured, and its figures


def markdown(done: list[Done], command: str) -> str:
    p = done[0][0]
    lines = [
        START,
        "## Detection latency (issues 16, 23)",
        "",
        f"Produced by `{command}` on {datetime.now(UTC):%Y-%m-%d}, on {machine()}.",
        f"A real `baseten-bot serve` (HTTP mode, fresh SQLite database) with POLL_INTERVAL_SECONDS="
        f"{POLL_INTERVAL:g}, BASETEN_MAX_RPS={MAX_RPS:g} and HOT_POLL_SECONDS at its default ({HOT_POLL:g}); "
        f"the fake Baseten and Slack (bench/latency_fake.py) in their own process: {p.latency * 1000:.0f} ms "
        f"per answer, {p.limit} requests per second per endpoint. Every model is watched as a whole model, "
        "and every training project as a whole project (`training:ID`), from its own channel. Latency is "
        "from the moment the fake made a change visible to the moment the notice naming it reached the "
        "fake Slack (nearest-rank percentiles); a change with no such notice is unseen. New deployments "
        "step BUILDING → DEPLOYING → LOADING_MODEL → ACTIVE, each state lasting a random 5 to 15 s. A "
        f"training job starts TRAINING_JOB_CREATED in a random project, is RUNNING {JOB_START_SECONDS[0]:g} "
        f"to {JOB_START_SECONDS[1]:g} s later, and after a run of {JOB_RUN_SECONDS[0]:g} to "
        f"{JOB_RUN_SECONDS[1]:g} s ends COMPLETED or (one in {1 / JOB_FAILS:g}) FAILED. A plain sweep sends "
        "(M + T) × 60 / max(POLL_INTERVAL_SECONDS, (M + T) / (0.95 × BASETEN_MAX_RPS)) requests a minute "
        "for M models and T projects; the busiest second counts every Baseten request started, warm-up "
        "and drain included.",
    ]
    for plan, result, f in done:
        lines += size_section(plan, result, f)
    return "\n".join([*lines, END]) + "\n"


def write_section(path: Path, text: str) -> None:
    """Replaces the latency section of BENCHMARKS.md, or appends it (after bench/run.py's and soak's parts,
    which run.py keeps when it rewrites the head)."""
    replace_section(path, START, END, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="400,5000", help="watched models, comma separated")
    parser.add_argument("--minutes", type=float, default=6.0, help="the measured run, per size")
    parser.add_argument("--new", type=int, default=30, help="new deployments per run")
    parser.add_argument("--failures", type=int, default=30, help="failures of stable deployments per run")
    parser.add_argument("--projects", type=int, default=50, help="watched training projects, at every size")
    parser.add_argument("--jobs", type=int, default=40, help="training jobs started per run")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.05, help="the fake's seconds per answer")
    parser.add_argument("--limit", type=int, default=100, help="the fake's requests per second per endpoint")
    parser.add_argument("--drain", type=float, default=None, help="seconds after the run (default 2 × worst)")
    parser.add_argument("--write", action="store_true", help="replace the latency section of BENCHMARKS.md")
    args = parser.parse_args()
    plans = [
        Plan(
            int(n),
            args.minutes * 60,
            args.new,
            args.failures,
            args.seed,
            args.latency,
            args.limit,
            args.drain,
            projects=args.projects,
            jobs=args.jobs,
        )
        for n in args.models.split(",")
        if n.strip()
    ]
    done: list[Done] = []
    broken = 0
    for plan in plans:
        result = run_size(plan)
        summary = {k: v for k, v in result.items() if k != "report"}
        print(f"{plan.models} models: {json.dumps(summary)}", file=sys.stderr)
        if result["broken"]:
            broken += 1
            print(f"{plan.models} models: the run broke: {result['broken']}", file=sys.stderr)
            continue
        f = figures(plan, result)
        print(f"{plan.models} models: {json.dumps(f)}", file=sys.stderr)
        done.append((plan, result, f))
    if done:
        command = " ".join(["python bench/latency.py", *sys.argv[1:]])
        text = markdown(done, command)
        print(text)
        if args.write and not broken:
            write_section(ROOT / "BENCHMARKS.md", text)
            print("wrote the latency section of BENCHMARKS.md", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
