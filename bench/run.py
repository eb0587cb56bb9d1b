"""Poller benchmark: one command measures the bot against a loopback Baseten and writes BENCHMARKS.md.

    python bench/run.py                      # every size, the naive baseline, ack latency
    python bench/run.py --sizes 100x10 --no-ack --out -   # a quick look, printed

For each (N deployments, M models) it seeds N watched deployments straight into a
fresh SQLite database, starts bench/fake.py (50 ms latency, 100 requests/s per
endpoint enforced with 429s) and runs the real poller (BASETEN_MAX_RPS=100) in a
fresh process: an unchanged cycle, then a cycle where 1% of the deployments
changed and the delivery of their notices. It records wall time, requests, the
peak requests in any one-second window, 429s, CPU seconds, peak RSS and rows
written, beside a naive poller (one request per subscription, one at a time) and
the floor (requests needed / allowed rate). Finally it times 200 slash-command
acks against a real `baseten-bot serve` while Baseten takes 8 s per answer and a
5,000-deployment cycle is running.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
SOAK_MARK = "<!-- soak -->"  # BENCHMARKS.md from here on is bench/soak.py's, kept when this script rewrites
sys.path.insert(0, str(ROOT))
from tests.fakes import sign  # noqa: E402 - the suite's signer, after ROOT is importable

SIZES = [(100, 10), (1000, 100), (5000, 500), (20000, 2000)]
NAIVE_UP_TO = 1000
SECRET = "bench-signing-secret"


# -- the loopback fake ---------------------------------------------------------------


class Fake:
    def __init__(self, models: int, per_model: int, latency: float) -> None:
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

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def seed(url: str, n: int, m: int) -> None:
    """N deployment subscriptions over M models (one channel per model), with matching snapshots."""
    from bot.db import make_sync_engine
    from bot.tables import Snapshot, Subscription

    per = n // m
    now = datetime.now(UTC)
    subs, snaps = [], []
    for mi in range(m):
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
    engine = make_sync_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.insert(Subscription.__table__), subs)
        conn.execute(sa.insert(Snapshot.__table__), snaps)
    engine.dispose()


# -- one size, in its own process --------------------------------------------------------


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure_size(n: int, m: int, latency: float, rps: float) -> dict[str, Any]:
    fake = Fake(m, n // m, latency)
    try:
        return await _measure_size(fake, n, m, latency, rps)
    finally:
        fake.close()


async def _measure_size(fake: Fake, n: int, m: int, latency: float, rps: float) -> dict[str, Any]:
    from bot.config import Settings
    from bot.db import upgrade
    from bot.runtime import Runtime

    tmp = tempfile.mkdtemp(prefix="bench-")
    url = f"sqlite:///{tmp}/bench.db"
    upgrade(url)
    seed(url, n, m)
    settings = Settings(
        baseten_api_key="bench-key",
        baseten_api_url=fake.url,
        slack_bot_token="xoxb-bench",  # type: ignore[arg-type]
        slack_api_url=fake.url + "/api/",
        database_url=url,
        baseten_max_rps=rps,
    )
    runtime = Runtime.build(settings)
    written = [0]

    def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            written[0] += max(cursor.rowcount, 0)

    sa.event.listen(runtime.engine.sync_engine, "after_cursor_execute", count)

    async def cycle() -> dict[str, Any]:
        fake.control(reset=True)
        written[0] = 0
        started_cpu, started = cpu(), time.perf_counter()
        report = await runtime.poller.cycle(deliver=False)
        took = time.perf_counter() - started
        stats = fake.control()
        return {
            "seconds": took,
            "cpu": cpu() - started_cpu,
            "requests": stats["requests"],
            "peak_1s": stats["peak_1s"],
            "429s": stats["codes"].get("429", 0),
            "rows": written[0],
            "changes": report.changes,
            "failed_models": report.failed_models,
        }

    await cycle()  # the first cycle after start-up warms the connection pool and caches
    unchanged = await cycle()
    flipped = fake.flip(0.01)
    changed = await cycle()
    started = time.perf_counter()
    sent = 0
    while batch := (await runtime.notifier.deliver_due()).sent:
        sent += batch
    delivery = time.perf_counter() - started
    result: dict[str, Any] = {
        "n": n,
        "m": m,
        "latency": latency,
        "rps": rps,
        "floor": m / rps,
        "flipped": flipped,
        "unchanged": unchanged,
        "changed": changed,
        "delivery_seconds": delivery,
        "notices": sent,
    }
    if n <= NAIVE_UP_TO:
        result["naive"] = await naive(fake, n, m)
    await runtime.aclose()
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
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


# -- slash-command acks while Baseten is slow and a big cycle runs ---------------------------


def measure_acks(count: int = 200) -> dict[str, Any]:
    from bot.db import upgrade

    n, m = 5000, 500
    fake = Fake(m, n // m, 8.0)
    tmp = tempfile.mkdtemp(prefix="bench-ack-")
    url = f"sqlite:///{tmp}/bench.db"
    upgrade(url)
    seed(url, n, m)
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
        "BASETEN_MAX_RPS": "100",
        "POLL_INTERVAL_SECONDS": "3600",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        while fake.control()["requests"] < 64:  # the 5,000-deployment cycle is under way
            time.sleep(0.2)
        times = []
        with httpx.Client(timeout=10) as client:
            for i in range(count):
                body = urllib.parse.urlencode(
                    {
                        "team_id": "TBENCH",
                        "channel_id": "C1",
                        "user_id": "U1",
                        "command": "/baseten",
                        "text": f"status m{i % m:05d} d{i % m:05d}x001",
                        "response_url": f"{fake.url}/response/{i}",
                        "trigger_id": "1",
                        "api_app_id": "A1",
                    }
                )
                started = time.perf_counter()
                response = client.post(base + "/slack/events", content=body, headers=sign(body, secret=SECRET))
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
        stats = fake.control()
        still_running = stats["by_endpoint"].get("/v1/models/{model}/deployments", 0) < m
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(15)
        fake.close()
    times.sort()
    return {
        "count": count,
        "p50_ms": statistics.median(times) * 1000,
        "p99_ms": times[int(len(times) * 0.99) - 1] * 1000,
        "max_ms": times[-1] * 1000,
        "cycle_still_running": still_running,
        "list_requests_so_far": stats["by_endpoint"],
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


def markdown(results: list[dict[str, Any]], acks: dict[str, Any] | None, command: str) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `{command}` on {datetime.now(UTC):%Y-%m-%d}, on {machine()}.",
        f"Fake Baseten: {results[0]['latency'] * 1000:.0f} ms latency, 100 requests/s per endpoint enforced with 429s; "
        f"the bot runs with `BASETEN_MAX_RPS={results[0]['rps']:g}`. N watched deployments over M models, one "
        "deployment subscription each, one channel per model.",
        "",
        "## Poll cycles",
        "",
        "| N / M | cycle | wall s | floor s | × floor | requests | peak req in 1 s | 429s | CPU s | rows written |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for kind in ("unchanged", "changed"):
            c = r[kind]
            label = "unchanged" if kind == "unchanged" else f"1% changed ({r['flipped']})"
            lines.append(
                f"| {r['n']:,} / {r['m']:,} | {label} | {c['seconds']:.2f} | {r['floor']:.2f} | "
                f"{c['seconds'] / r['floor']:.2f} | {c['requests']:,} | {c['peak_1s']} | {c['429s']} | "
                f"{c['cpu']:.2f} | {c['rows']:,} |"
            )
    lines += [
        "",
        "## Delivery, memory and the naive poller",
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
    if acks:
        lines += [
            "",
            "## Slash-command acks under load",
            "",
            f"{acks['count']} signed `/baseten status` commands against a real `baseten-bot serve`, one after "
            "another, while Baseten took 8 s per answer and the 5,000-deployment / 500-model cycle was running "
            f"(still running at the end: {'yes' if acks['cycle_still_running'] else 'no'}).",
            "",
            "| p50 ms | p99 ms | max ms |",
            "|---:|---:|---:|",
            f"| {acks['p50_ms']:.1f} | {acks['p99_ms']:.1f} | {acks['max_ms']:.1f} |",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(f"{n}x{m}" for n, m in SIZES))
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--rps", type=float, default=100)
    parser.add_argument("--no-ack", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        n, m = (int(x) for x in args.one.split("x"))
        print(json.dumps(asyncio.run(measure_size(n, m, args.latency, args.rps))))
        return
    results = []
    for size in args.sizes.split(","):
        out = subprocess.run(
            [sys.executable, __file__, "--one", size, "--latency", str(args.latency), "--rps", str(args.rps)],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"{size}: {json.dumps(results[-1])}", file=sys.stderr)
    acks = None if args.no_ack else measure_acks()
    command = "python bench/run.py" + ("" if len(sys.argv) == 1 else " " + " ".join(sys.argv[1:]))
    text = markdown(results, acks, command)
    if args.out == "-":
        print(text)
    else:
        out = Path(args.out)
        kept = out.read_text().partition(SOAK_MARK)[2] if out.exists() else ""
        out.write_text(text.rstrip("\n") + "\n\n" + SOAK_MARK + kept if kept else text)  # bench/soak.py's part
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
