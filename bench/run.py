"""Poller benchmark: one command measures the bot against a loopback Baseten and writes BENCHMARKS.md.

    python bench/run.py                      # everything below, into BENCHMARKS.md
    python bench/run.py --sizes 100x10 --no-ack --no-answers --no-capacity --out -   # a quick look

For each (N deployments, M models) it seeds N watched deployments into a fresh
SQLite database, starts bench/fake.py (50 ms latency; its per-endpoint limit, answered
with 429s, is the rate the bot runs at) and runs the real poll loop (bot.polling.loop, as
`serve` runs it; BASETEN_MAX_RPS=100 unless --rps says otherwise) in a fresh process with
POLL_INTERVAL_SECONDS=1, so every model is always due and rounds run back to back as fast
as the budget allows. A *round* is the time to poll every watched model once. After a
warm-up round it times three unchanged rounds (the median is reported, all three are
printed), then a round in which 1% of the deployments changed, and the delivery of their
notices. HOT_POLL_SECONDS is capped by the interval, so the fleet detector asks every
second here (1 request a second of the budget; every 5 s by default). It records
wall time, requests, the peak requests in any one-second window, 429s, CPU seconds,
the peak RSS of the process running the poller (its own VmHWM; the database is seeded
by another process) and rows written, beside a naive poller (one request per
subscription, one at a time) and the floor (requests needed / allowed rate).

Capacity: the unchanged round at the largest model count with 1, 10 and 50 deployments
per model (--capacity), at 50 and at 100 requests per second (--capacity-rps), with
the fake enforcing the same rate.

Slash commands, against a real `baseten-bot serve` watching 5,000 deployments over
500 models: the ack latency of 200 commands while Baseten takes 8 s per answer and a
round is running; and the answer latency, from sending a `status` command to its
answer arriving through response_url, for 200 commands four a second while rounds
run back to back (POLL_INTERVAL_SECONDS=1, Baseten at 50 ms). Target: p99 under 1 s.

Percentiles are nearest-rank: of n sorted values, p99 is the one at ceil(0.99 n) - 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
SOAK_MARK = "<!-- soak"  # BENCHMARKS.md from here on is bench/soak.py's, kept when this script rewrites
sys.path.insert(0, str(ROOT))
from bench.common import terminate  # noqa: E402
from bench.stats import nearest_rank  # noqa: E402

SIZES = [(100, 10), (1000, 100), (5000, 500), (20000, 2000)]
CAPACITY = [(2000, 2000), (20000, 2000), (100000, 2000)]  # 1, 10 and 50 deployments per model
CAPACITY_RPS = [50.0, 100.0]
NAIVE_UP_TO = 1000
UNCHANGED_ROUNDS = 3  # unchanged rounds timed after the warm-up one; the median is reported
SECRET = "bench-signing-secret"
ANSWER_TARGET = 1.0  # seconds, p99 from sending a status command to its answer


# -- the loopback fake ---------------------------------------------------------------


class Fake:
    def __init__(self, models: int, per_model: int, latency: float, limit: float) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "fake.py"),
                "--models",
                str(models),
                "--per-model",
                str(per_model),
                "--latency",
                str(latency),
                "--limit",
                str(int(limit)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}"

    def control(self, **body: Any) -> dict[str, Any]:
        return dict(httpx.post(self.url + "/_control", json=body, timeout=30).json())

    def flip(self, fraction: float) -> int:
        return int(httpx.post(self.url + "/_control/flip", json={"fraction": fraction}, timeout=30).json()["flipped"])

    def answers(self) -> dict[str, dict[str, Any]]:
        return dict(httpx.get(self.url + "/_control/answers", timeout=30).json())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def seed(url: str, n: int, m: int) -> None:
    """N deployment subscriptions over M models (one channel per model), with matching snapshots."""
    from bot.app.db import make_sync_engine
    from bot.store.tables import Snapshot, Subscription

    per = n // m
    now = datetime.now(UTC)
    engine = make_sync_engine(url)
    models_per_batch = max(1, 10_000 // per)
    for first in range(0, m, models_per_batch):
        subs, snaps = [], []
        for mi in range(first, min(m, first + models_per_batch)):
            model_id = f"m{mi:05d}"
            for d in range(per):
                dep_id = f"{model_id.replace('m', 'd')}x{d:03d}"
                subs.append(
                    {
                        "team_id": "TBENCH",
                        "channel_id": f"C{mi:05d}",
                        "model_id": model_id,
                        "model_name": model_id,
                        "target": dep_id,
                        "target_name": dep_id,
                        "kinds": "",
                        "thread": True,
                        "created_by": "U1",
                        "created_at": now,
                    }
                )
                snaps.append(
                    {
                        "model_id": model_id,
                        "deployment_id": dep_id,
                        "name": dep_id,
                        "status": "ACTIVE",
                        "is_production": d == 0,
                        "is_development": False,
                        "environment": "production" if d == 0 else None,
                        "active_replica_count": 1,
                        "instance_type_name": "1x L4",
                        "status_since": now,
                        "gone": False,
                        "stuck_announced": 0,
                    }
                )
        with engine.begin() as conn:
            conn.execute(sa.insert(Subscription.__table__), subs)
            conn.execute(sa.insert(Snapshot.__table__), snaps)
    engine.dispose()


@contextlib.contextmanager
def seeded(n: int, m: int, prefix: str) -> Iterator[str]:
    """A fresh SQLite database at the newest migration, seeded with N watched deployments over M models."""
    from bot.app.db import upgrade

    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        seed(url, n, m)
        yield url
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def peak_rss_mb(pid: int | str = "self") -> float:
    """A process's peak resident set (VmHWM), in MiB; only that process, not its children."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def parse_size(size: str) -> tuple[int, int]:
    n, m = (int(x) for x in size.split("x"))
    return n, m


# -- one size: the parent seeds, a fresh process runs the poller -----------------------------


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_size(n: int, m: int, latency: float, rps: float, *, cycles_only: bool = False) -> dict[str, Any]:
    with seeded(n, m, "bench-") as url:
        command = [sys.executable, __file__, "--one", f"{n}x{m}", "--db", url, "--latency", str(latency)]
        command += ["--rps", str(rps)] + (["--cycles-only"] if cycles_only else [])
        out = subprocess.run(command, capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"{n}x{m} at {rps:g}/s failed:\n{out.stderr[-4000:]}")
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))


async def measure_size(n: int, m: int, url: str, latency: float, rps: float, cycles_only: bool) -> dict[str, Any]:
    fake = Fake(m, n // m, latency, rps)
    try:
        return await _measure_size(fake, n, m, url, latency, rps, cycles_only)
    finally:
        fake.close()


async def _measure_size(
    fake: Fake, n: int, m: int, url: str, latency: float, rps: float, cycles_only: bool
) -> dict[str, Any]:
    from bot.app.config import Settings
    from bot.app.runtime import Runtime
    from bot.polling.loop import PollLoop

    settings = Settings(
        baseten_api_key="bench-key",
        baseten_api_url=fake.url,
        slack_bot_token="xoxb-bench",  # type: ignore[arg-type]
        slack_api_url=fake.url + "/api/",
        database_url=url,
        baseten_max_rps=rps,
        poll_interval_seconds=1,  # every model is always due: rounds run back to back, as fast as the budget allows
    )
    runtime = Runtime.build(settings)
    written = [0]

    def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            written[0] += max(cursor.rowcount, 0)

    sa.event.listen(runtime.engine.sync_engine, "after_cursor_execute", count)
    ended: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def on_round(report: Any, took: float) -> None:
        ended.put_nowait({"report": report, "took": took, "at": time.monotonic(), "cpu": cpu(), "rows": written[0]})

    async def keep_lease() -> None:
        """What serve's lease job does: the loop only follows the lease, and stops polling when it runs out."""
        while True:
            await asyncio.sleep(runtime.settings.lease_seconds / 3)
            with contextlib.suppress(Exception):
                await runtime.lease.renew()

    loop = PollLoop(runtime, on_queued=lambda: None, on_round=on_round)
    running = asyncio.create_task(loop.run())
    keeping = asyncio.create_task(keep_lease())
    previous = await asyncio.wait_for(ended.get(), timeout=60)  # the empty round before the first refresh

    async def next_round() -> dict[str, Any]:
        """The loop's next round: from its start until every model watched then was polled once since."""
        nonlocal previous
        r = await asyncio.wait_for(ended.get(), timeout=1800)
        stats = await asyncio.to_thread(fake.control, since=r["at"] - r["took"], until=r["at"])
        done, previous = previous, r
        return {
            "seconds": r["took"],
            "cpu": r["cpu"] - done["cpu"],
            "requests": stats["requests"],
            "peak_1s": stats["peak_1s"],
            "429s": stats["429s"],
            "rows": r["rows"] - done["rows"],
            "changes": r["report"].changes,
            "failed_models": r["report"].failed_models,
        }

    await next_round()  # the first round after start-up warms the connection pool and caches
    unchanged = sorted([await next_round() for _ in range(UNCHANGED_ROUNDS)], key=lambda r: float(r["seconds"]))
    result: dict[str, Any] = {
        "n": n,
        "m": m,
        "latency": latency,
        "rps": rps,
        "floor": m / rps,
        "unchanged": unchanged[len(unchanged) // 2],  # the median round: one round can meet a GC pause
        "unchanged_rounds": [r["seconds"] for r in unchanged],
    }
    if cycles_only:
        loop.stop()
    else:
        # flipped as the next round begins: nearly all of its polls read the new statuses
        result["flipped"] = await asyncio.to_thread(fake.flip, 0.01)
        result["changed"] = await next_round()
        loop.stop()
    await running
    keeping.cancel()
    if not cycles_only:
        started = time.perf_counter()
        sent = 0
        while batch := (await runtime.notifier.deliver_due()).sent:
            sent += batch
        result["delivery_seconds"] = time.perf_counter() - started
        result["notices"] = sent
    await runtime.aclose()
    result["peak_rss_mb"] = peak_rss_mb()  # before the naive poller runs in this process
    if not cycles_only and n <= NAIVE_UP_TO:
        result["naive"] = await naive(fake, n, m)
    return result


async def naive(fake: Fake, n: int, m: int) -> dict[str, Any]:
    """What a cron script does: one GET per watched deployment, one after another."""
    fake.control(reset=True)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=fake.url, headers={"Authorization": "Api-Key bench"}) as client:
        for mi in range(m):
            for d in range(n // m):
                await client.get(f"/v1/models/m{mi:05d}/deployments/d{mi:05d}x{d:03d}")
    stats = fake.control()
    return {
        "seconds": time.perf_counter() - started,
        "requests": stats["requests"],
        "429s": stats["codes"].get("429", 0),
    }


# -- slash commands against a real `serve` while cycles run ---------------------------------


class Serve:
    """A real `baseten-bot serve` against the fake, on a seeded database."""

    def __init__(self, fake: Fake, url: str, *, rps: float, poll_interval: float) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {
            **os.environ,
            "BASETEN_API_KEY": "bench-key",
            "BASETEN_API_URL": fake.url,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.url + "/api/",
            "DATABASE_URL": url,
            "BASETEN_MAX_RPS": str(rps),
            "POLL_INTERVAL_SECONDS": str(poll_interval),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "LOG_LEVEL": "WARNING",
        }
        self.fake = fake
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(timeout=10)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if self.client.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.close()
        raise SystemExit("baseten-bot serve never became healthy")

    def command(self, text: str, response_name: str) -> httpx.Response:
        from tests.fakes import sign  # the suite's signer

        body = urllib.parse.urlencode(
            {
                "team_id": "TBENCH",
                "channel_id": "C1",
                "user_id": "U1",
                "command": "/baseten",
                "text": text,
                "response_url": f"{self.fake.url}/response/{response_name}",
                "trigger_id": "1",
                "api_app_id": "A1",
            }
        )
        response = self.client.post(self.base + "/slack/events", content=body, headers=sign(body, secret=SECRET))
        assert response.status_code == 200, response.text
        return response

    def cycles(self) -> tuple[float, float]:
        """Poll cycles finished so far, and the seconds they took, from /metrics."""
        count = seconds = 0.0
        for family in text_string_to_metric_families(self.client.get(self.base + "/metrics").text):
            for sample in family.samples:
                if sample.name == "baseten_bot_poll_cycles_total":
                    count += sample.value
                elif sample.name == "baseten_bot_poll_cycle_seconds_sum":
                    seconds += sample.value
        return count, seconds

    def close(self) -> float:
        """Stops the process; returns its peak RSS in MiB, read just before it exits."""
        rss = peak_rss_mb(self.proc.pid) if self.proc.poll() is None else float("nan")
        self.client.close()
        terminate(self.proc)
        return rss


def wait_for_cycle(fake: Fake, m: int) -> None:
    deadline = time.monotonic() + 120
    while fake.control()["requests"] < min(64, m // 2) and time.monotonic() < deadline:
        time.sleep(0.2)


def measure_acks(n: int, m: int, rps: float, count: int = 200) -> dict[str, Any]:
    """Ack latency of `count` commands, one after another, while Baseten takes 8 s and a cycle runs."""
    fake = Fake(m, n // m, 8.0, rps)
    try:
        with seeded(n, m, "bench-ack-") as url:
            serve = Serve(fake, url, rps=rps, poll_interval=3600)
            try:
                wait_for_cycle(fake, m)
                times = []
                for i in range(count):
                    started = time.perf_counter()
                    serve.command(f"status m{i % m:05d} d{i % m:05d}x000", f"ack{i}")
                    times.append(time.perf_counter() - started)
                stats = fake.control()
            finally:
                rss = serve.close()
    finally:
        fake.close()
    lists = stats["by_endpoint"].get("/v1/models/{model}/deployments", 0)
    return {
        "n": n,
        "m": m,
        "count": count,
        "p50_ms": nearest_rank(times, 0.5) * 1000,
        "p99_ms": nearest_rank(times, 0.99) * 1000,
        "max_ms": max(times) * 1000,
        "cycle_still_running": lists < m,
        "list_requests_so_far": lists,
        "peak_rss_mb": rss,
    }


def measure_answers(n: int, m: int, latency: float, rps: float, count: int, every: float) -> dict[str, Any]:
    """From sending a `status` command to its answer arriving at response_url, while cycles run back to back."""
    per = n // m
    fake = Fake(m, per, latency, rps)
    try:
        with seeded(n, m, "bench-answer-") as url:
            serve = Serve(fake, url, rps=rps, poll_interval=1)
            try:
                wait_for_cycle(fake, m)
                cycles_before, busy_before = serve.cycles()
                window_started = time.monotonic()
                sent: dict[str, tuple[float, str]] = {}
                next_at = time.monotonic()
                for i in range(count):
                    dep = f"d{i % m:05d}x{(i // m) % per:03d}"
                    name = f"answer{i}"
                    at = time.monotonic()
                    serve.command(f"status m{i % m:05d} {dep}", name)
                    sent[name] = (at, dep)
                    next_at += every
                    time.sleep(max(0.0, next_at - time.monotonic()))
                deadline = time.monotonic() + 60
                while len(answers := fake.answers()) < count and time.monotonic() < deadline:
                    time.sleep(0.5)
                window = time.monotonic() - window_started
                cycles_after, busy_after = serve.cycles()
                lists = fake.control()["by_endpoint"]
            finally:
                rss = serve.close()
    finally:
        fake.close()
    waits = [answers[name]["at"] - at for name, (at, _) in sent.items() if name in answers]
    wrong = sum(
        1
        for name, (_, dep) in sent.items()
        if name in answers and f"/ {dep}: " not in str(json.loads(answers[name]["body"]).get("text", ""))
    )
    return {
        "n": n,
        "m": m,
        "rps": rps,
        "latency": latency,
        "count": count,
        "every": every,
        "answered": len(waits),
        "not_a_card": wrong,
        "p50_ms": nearest_rank(waits, 0.5) * 1000 if waits else float("nan"),
        "p99_ms": nearest_rank(waits, 0.99) * 1000 if waits else float("nan"),
        "max_ms": max(waits) * 1000 if waits else float("nan"),
        "seconds": window,
        "cycles_finished": int(cycles_after - cycles_before),
        "poller_busy": (busy_after - busy_before) / window,
        "requests_by_endpoint": lists,
        "peak_rss_mb": rss,
    }


# -- report ------------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({model}), {mem:.0f} GiB, Python {platform.python_version()}, {platform.system()}"


def markdown(
    results: list[dict[str, Any]],
    capacity: list[dict[str, Any]],
    acks: dict[str, Any] | None,
    answers: dict[str, Any] | None,
    command: str,
    latency: float,
) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `{command}` on {datetime.now(UTC):%Y-%m-%d}, on {machine()}.",
        f"Fake Baseten (bench/fake.py): {latency * 1000:.0f} ms latency, and a limit per endpoint, answered with "
        "429s, equal to the bot's `BASETEN_MAX_RPS`. N watched deployments over M models, one deployment "
        "subscription each, one channel per model. Every figure in this part was printed by that command; "
        "the floor (M / rate), the ratios and the columns marked *estimate* are computed from the measured "
        "ones by the formula given beside them.",
    ]
    if results:
        lines += [
            "",
            f"## Poll rounds at {results[0]['rps']:g} requests per second",
            "",
            "A round: every watched model polled once by the poll loop, rounds back to back. *unchanged* is the "
            "median of three rounds (all three in seconds beside it). A model is due at most once a second "
            "(`POLL_INTERVAL_SECONDS=1`, the least allowed), so a fleet the budget polls in under a second "
            "shows a round of one second: there the round measures the interval, not the work (the "
            "naive / bot ratio below too).",
            "",
            "| N / M | round | wall s | floor s | × floor | requests | peak req in 1 s | 429s | CPU s | rows written |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in results:
            for kind in ("unchanged", "changed"):
                c = r[kind]
                rounds = ", ".join(f"{x:.2f}" for x in r.get("unchanged_rounds", []))
                label = f"unchanged ({rounds})" if kind == "unchanged" else f"1% changed ({r['flipped']})"
                lines.append(
                    f"| {r['n']:,} / {r['m']:,} | {label} | {c['seconds']:.2f} | {r['floor']:.2f} | "
                    f"{c['seconds'] / r['floor']:.2f} | {c['requests']:,} | {c['peak_1s']} | {c['429s']} | "
                    f"{c['cpu']:.2f} | {c['rows']:,} |"
                )
        lines += [
            "",
            "## Delivery, memory and the naive poller",
            "",
            "Peak RSS is the VmHWM of the process that ran the poller (the database was seeded by another).",
            "",
            "| N / M | notices sent | delivery s | peak RSS MB | naive poller s | naive requests | naive / bot |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in results:
            naive = r.get("naive")
            nv = (
                f"{naive['seconds']:.1f} | {naive['requests']:,} | {naive['seconds'] / r['unchanged']['seconds']:.0f}×"
                if naive
                else "not run | – | –"
            )
            lines.append(
                f"| {r['n']:,} / {r['m']:,} | {r['notices']} | {r['delivery_seconds']:.2f} | "
                f"{r['peak_rss_mb']:.0f} | {nv} |"
            )
    if capacity:
        lines += [
            "",
            "## Capacity: rate and deployments per model",
            "",
            "The unchanged round (the median of three, after one warm-up round) at each rate, with the fake "
            "enforcing the same rate per endpoint. *Models per 60 s* is an estimate: 60 × M / wall s, which "
            "assumes the round time "
            "grows in proportion to the models; the README's formula, 60 × 0.95 × rate, is beside it.",
            "",
            "| rate /s | N / M | deployments per model | wall s | floor s | requests | 429s | CPU s | "
            "peak RSS MB | models per 60 s (*estimate*: 60 × M / wall s) | 60 × 0.95 × rate (*estimate*) |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in capacity:
            c = r["unchanged"]
            lines.append(
                f"| {r['rps']:g} | {r['n']:,} / {r['m']:,} | {r['n'] // r['m']} | {c['seconds']:.2f} | "
                f"{r['floor']:.2f} | {c['requests']:,} | {c['429s']} | {c['cpu']:.2f} | {r['peak_rss_mb']:.0f} | "
                f"{60 * r['m'] / c['seconds']:,.0f} | {60 * 0.95 * r['rps']:,.0f} |"
            )
    if acks:
        lines += [
            "",
            "## Slash-command acks under load",
            "",
            f"{acks['count']} signed `/baseten status` commands against a real `baseten-bot serve`, one after "
            f"another, while Baseten took 8 s per answer and the {acks['n']:,}-deployment / {acks['m']:,}-model "
            f"round was running (still running at the end: {'yes' if acks['cycle_still_running'] else 'no'}). "
            f"Peak RSS of that `serve` process: {acks['peak_rss_mb']:.0f} MB.",
            "",
            "| p50 ms | p99 ms | max ms |",
            "|---:|---:|---:|",
            f"| {acks['p50_ms']:.1f} | {acks['p99_ms']:.1f} | {acks['max_ms']:.1f} |",
        ]
    if answers:
        a = answers
        met = "met" if a["answered"] == a["count"] and a["p99_ms"] < ANSWER_TARGET * 1000 else "NOT met"
        lines += [
            "",
            "## Slash-command answers while rounds run back to back",
            "",
            f"{a['count']} signed `/baseten status MODEL DEPLOYMENT` commands, one every {a['every']:g} s, against "
            f"a real `baseten-bot serve` watching {a['n']:,} deployments over {a['m']:,} models with "
            f"`POLL_INTERVAL_SECONDS=1` and `BASETEN_MAX_RPS={a['rps']:g}` (Baseten at {a['latency'] * 1000:.0f} ms). "
            "Each is timed from sending the command to its answer arriving at the fake's response_url. "
            f"Over the {a['seconds']:.0f} s, {a['cycles_finished']} poll rounds finished, and their durations add "
            f"up to {a['poller_busy']:.0%} of it; answers received: {a['answered']} of {a['count']}, "
            f"{a['not_a_card']} of them not the deployment's card. Peak RSS of that `serve` process: "
            f"{a['peak_rss_mb']:.0f} MB. Target p99 under {ANSWER_TARGET:g} s: **{met}**.",
            "",
            "| p50 ms | p99 ms | max ms |",
            "|---:|---:|---:|",
            f"| {a['p50_ms']:.1f} | {a['p99_ms']:.1f} | {a['max_ms']:.1f} |",
        ]
    return "\n".join(lines) + "\n"


def command_line(argv: list[str]) -> str:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--out":
            skip = True
        elif not arg.startswith("--out="):
            out.append(arg)
    return " ".join(["python bench/run.py", *out])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(f"{n}x{m}" for n, m in SIZES), help="NxM,… ('' for none)")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--rps", type=float, default=100, help="BASETEN_MAX_RPS and the fake's limit")
    parser.add_argument("--capacity", default=",".join(f"{n}x{m}" for n, m in CAPACITY))
    parser.add_argument("--capacity-rps", default=",".join(f"{r:g}" for r in CAPACITY_RPS))
    parser.add_argument("--no-capacity", action="store_true")
    parser.add_argument("--command-size", default="5000x500", help="NxM watched by `serve` for the command runs")
    parser.add_argument("--no-ack", action="store_true")
    parser.add_argument("--no-answers", action="store_true")
    parser.add_argument("--answers", type=int, default=200, help="status commands whose answers are timed")
    parser.add_argument("--answer-every", type=float, default=0.25, help="seconds between those commands")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"), help="file to write, or - for stdout")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--cycles-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        n, m = parse_size(args.one)
        print(json.dumps(asyncio.run(measure_size(n, m, args.db, args.latency, args.rps, args.cycles_only))))
        return
    results = []
    for size in filter(None, args.sizes.split(",")):
        results.append(run_size(*parse_size(size), args.latency, args.rps))
        print(f"{size}: {json.dumps(results[-1])}", file=sys.stderr)
    capacity = []
    if not args.no_capacity:
        for rps in (float(r) for r in args.capacity_rps.split(",")):
            for size in filter(None, args.capacity.split(",")):
                capacity.append(run_size(*parse_size(size), args.latency, rps, cycles_only=True))
                print(f"capacity {size} at {rps:g}/s: {json.dumps(capacity[-1])}", file=sys.stderr)
    n, m = parse_size(args.command_size)
    acks = None if args.no_ack else measure_acks(n, m, args.rps)
    if acks:
        print(f"acks: {json.dumps(acks)}", file=sys.stderr)
    answers = None
    if not args.no_answers:
        answers = measure_answers(n, m, args.latency, args.rps, args.answers, args.answer_every)
        print(f"answers: {json.dumps(answers)}", file=sys.stderr)
    text = markdown(results, capacity, acks, answers, command_line(sys.argv[1:]), args.latency)
    if args.out == "-":
        print(text)
    else:
        out = Path(args.out)
        kept = out.read_text().partition(SOAK_MARK)[2] if out.exists() else ""
        out.write_text(text.rstrip("\n") + "\n\n" + SOAK_MARK + kept if kept else text)  # bench/soak.py's part
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
