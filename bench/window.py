"""Why the duplicate window grew (issue 22): the real `baseten-bot serve` under a steady stream of
status changes, arms compared interleaved.

    python bench/window.py                                    # 30-model and 500-model arms, 3 pairs, SQLite
    python bench/window.py --sizes 30 --pairs 1 --seconds 20  # a quick look
    python bench/window.py --database-url postgresql://postgres@127.0.0.1:54329/postgres

The duplicate window is the time from Slack's ok for a notice to the commit that marks it sent
(baseten_bot_notice_record_seconds, bot/app/metrics.py). Each run starts bench/fake.py with M
models of 10 deployments, seeds a fresh database (SQLite: a new file; PostgreSQL: a new database
on that server) with one subscription per deployment of the models the arm watches, spread over
`--channels` channels as the soak spreads its (model i in channel i mod C, an even model in the
next one too: 1.5 notices a change), and starts `serve` through bench/window_probe.py (timing wrappers only) with
POLL_INTERVAL_SECONDS=1 and LEASE_SECONDS=2, as bench/soak.py runs it. After a warm-up it changes
the statuses of deployments of the first `--changing` models at a steady `--rate` per second for
`--seconds`, `--burst` at once (ACTIVE → INACTIVE, then back), so every arm gets the same changes and notices; then
it waits for the notices to arrive and reads, from the difference of two /metrics scrapes, the
histogram's mean and its p50/p99 bucket bounds.

Arms, for each size M:
  busy  – every one of the M models watched: the poll loop polls continuously (M per second, or
          the BASETEN_MAX_RPS budget), as in the soak;
  quiet – only the `--changing` models watched: the same changes and notices, few polls.
Run interleaved (busy, quiet, busy, quiet, …), `--pairs` times each.

The probe (bench/window_probe.py) splits each mark_sent into: waiting for SQLite's write turn
(bot/app/db.py takes it inside the process before BEGIN), waiting for a pooled connection, and
each aiosqlite operation as queued → started on the connection's thread (thread wake-up, the
GIL), the SQLite call, and done → resumed on the event loop; and says which transactions held
the turn while a mark_sent waited. The event loop's lag is a 5 ms sleep's lateness. CPU is the
serve process's user+system seconds over the measured stretch, per second.

Medians over the runs of an arm, with the lowest and highest, are printed; `--json FILE` keeps
every run's figures.

    python bench/window.py --soak-old /tmp/old --pairs 3 --soak-rounds 100

runs bench/soak.py (`--rounds 100 --out -`) alternately in /tmp/old, a checkout of the commit the
old all-at-once cycle was soaked at (`git archive b24b236 | tar -x -C /tmp/old`, with a
`bot_migrations -> migrations` link so its own migrations load), and in this tree, and prints
each run's window line and their medians: whether the soak's growth comes back run against run.
With `--probe`, every serve the soaks start loads bench/window_probe.py (through
bench/window_site/sitecustomize.py on PYTHONPATH) and the same split is printed per soak.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import terminate  # noqa: E402
from bench.run import Fake, machine  # noqa: E402
from bench.stats import bucket_bound, nearest_rank  # noqa: E402

WINDOW = "baseten_bot_notice_record_seconds"
PER_MODEL = 10


# -- one database per run --------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(base_url: str, name: str) -> Iterator[str]:
    """A new SQLite file, or a new database on the given PostgreSQL server, migrated; dropped after."""
    from bot.app.db import upgrade

    if not base_url:
        tmp = tempfile.mkdtemp(prefix="window-")
        try:
            url = f"sqlite:///{tmp}/window.db"
            upgrade(url)
            yield url
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    admin = sa.create_engine(sa.make_url(base_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(base_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(url: str, watched: int, channels: int) -> int:
    """One subscription per deployment of each watched model, from the soak's channels: model i in
    channel i mod C, an even one in the next channel too; threaded or not by model. Returns how many."""
    from bot.app.db import make_sync_engine
    from bot.store.tables import Snapshot, Subscription

    now = datetime.now(UTC)
    subs, snaps = [], []
    for mi in range(watched):
        model_id = f"m{mi:05d}"
        heard = [mi % channels] + ([(mi + 1) % channels] if mi % 2 == 0 and channels > 1 else [])
        for d in range(PER_MODEL):
            dep_id = f"d{mi:05d}x{d:03d}"
            for c in heard:
                subs.append(
                    {
                        "team_id": "TBENCH",
                        "channel_id": f"CWIN{c}",
                        "model_id": model_id,
                        "model_name": model_id,
                        "target": dep_id,
                        "target_name": dep_id,
                        "kinds": "",
                        "thread": mi % 4 < 2,
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
    return len(subs)


def notices_of(change: tuple[str, str, str], channels: int) -> int:
    mi = int(change[0][1:])
    return 1 + (mi % 2 == 0 and channels > 1)


# -- the process ---------------------------------------------------------------------------


class Serve:
    """`baseten-bot serve` started through the probe."""

    def __init__(self, fake: Fake, url: str, probe_out: Path, log: Path, *, rps: float) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {
            **os.environ,
            "BASETEN_API_KEY": "bench-key",
            "BASETEN_API_URL": fake.url,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": "bench-signing-secret",
            "SLACK_API_URL": fake.url + "/api/",
            "DATABASE_URL": url,
            "BASETEN_MAX_RPS": str(rps),
            "POLL_INTERVAL_SECONDS": "1",
            "LEASE_SECONDS": "2",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "LOG_LEVEL": "WARNING",
            "WINDOW_PROBE_OUT": str(probe_out),
        }
        self._log = open(log, "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "window_probe.py"), "serve"],
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.close()
        raise SystemExit(f"baseten-bot serve never became healthy; see {log}")

    def window(self) -> tuple[float, float, dict[float, float]]:
        """The histogram as /metrics has it now: sum, count, cumulative buckets."""
        total = count = 0.0
        buckets: dict[float, float] = {}
        for family in text_string_to_metric_families(httpx.get(self.base + "/metrics", timeout=5).text):
            if family.name != WINDOW:
                continue
            for sample in family.samples:
                if sample.name == WINDOW + "_sum":
                    total = sample.value
                elif sample.name == WINDOW + "_count":
                    count = sample.value
                elif sample.name == WINDOW + "_bucket":
                    buckets[float(sample.labels["le"])] = sample.value
        return total, count, buckets

    def cpu(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> int:
        code = terminate(self.proc)
        self._log.close()
        return code


# -- one run ---------------------------------------------------------------------------------


def changes(changing: int, count: int) -> list[tuple[str, str, str]]:
    """`count` status changes over the deployments of the first `changing` models, model by model in
    turn: each deployment goes ACTIVE → INACTIVE, and on a second pass back (two changes each, under
    the flapping threshold)."""
    deployments = [
        (f"m{m:05d}", f"d{m:05d}x{d:03d}") for d in range(PER_MODEL) for m in range(changing)
    ]  # interleaved: consecutive changes land on different models (different channels)
    out = []
    for i in range(count):
        model, dep = deployments[i % len(deployments)]
        out.append((model, dep, "INACTIVE" if (i // len(deployments)) % 2 == 0 else "ACTIVE"))
    return out


def run_once(args: argparse.Namespace, size: int, arm: str, index: int, workdir: Path) -> dict[str, Any]:
    watched = size if arm == "busy" else args.changing
    planned = changes(args.changing, int(args.rate * args.seconds))
    if len(planned) > 2 * args.changing * PER_MODEL:
        raise SystemExit("more changes than two per deployment: raise --changing or lower --rate")
    expected = sum(notices_of(c, args.channels) for c in planned)
    fake = Fake(size, PER_MODEL, args.latency, 100)
    probe_out = workdir / f"probe-{index}.json"
    try:
        with fresh_database(args.database_url, f"window_{os.getpid()}_{index}") as url:
            seed(url, watched, args.channels)
            serve = Serve(fake, url, probe_out, workdir / f"serve-{index}.log", rps=args.rps)
            try:
                # warm-up: every watched model polled at least twice, and a few seconds more
                deadline = time.monotonic() + 120
                while fake.control()["requests"] < 2 * watched + 5 and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(args.warmup)
                sum0, count0, buckets0 = serve.window()
                cpu0, t0 = serve.cpu(), time.monotonic()
                posts0 = fake.control()["posts"]
                for i in range(0, len(planned), args.burst):  # `burst` changes at once, `rate` a second
                    delay = t0 + i / args.rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    httpx.post(fake.url + "/_control/set", json={"changes": planned[i : i + args.burst]}, timeout=10)
                deadline = time.monotonic() + 30
                while fake.control()["posts"] - posts0 < expected and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(1.0)
                sum1, count1, buckets1 = serve.window()
                cpu1, t1 = serve.cpu(), time.monotonic()
                posts = fake.control()["posts"] - posts0
                requests = fake.control(since=t0, until=t1)["requests"]
            finally:
                code = serve.close()
    finally:
        fake.close()
    count = count1 - count0
    buckets = sorted((le, buckets1[le] - buckets0.get(le, 0.0)) for le in buckets1)
    result: dict[str, Any] = {
        "size": size,
        "arm": arm,
        "watched": watched,
        "changes": len(planned),
        "notices": expected,
        "posts": posts,
        "timed": int(count),
        "mean_ms": 1000 * (sum1 - sum0) / count if count else float("nan"),
        "p50_ms": 1000 * bucket_bound(buckets, 0.5),
        "p99_ms": 1000 * bucket_bound(buckets, 0.99),
        "cpu": (cpu1 - cpu0) / (t1 - t0),
        "baseten_rps": requests / (t1 - t0),
        "exit": code,
    }
    result.update(probe(probe_out, t0, t1))
    return result


def probe(path: Path, t0: float, t1: float) -> dict[str, Any]:
    """What the probe saw of the mark_sent calls that began between t0 and t1."""
    if not path.exists():
        return {"probe": "missing"}
    return probed(json.loads(path.read_text()), t0, t1)


def probe_dir(path: Path) -> dict[str, Any]:
    """Every process's probe file in `path` (a soak restarts its bot), as one, over its whole run."""
    data: dict[str, list[Any]] = {"marks": [], "turns": [], "lags": []}
    for file in path.glob("probe-*.json"):
        for key, values in json.loads(file.read_text()).items():
            data[key].extend(values)
    if not data["lags"]:
        return {"probe": "missing"}
    return probed(data, min(at for at, _ in data["lags"]), max(at for at, _ in data["lags"]))


def probed(data: dict[str, Any], t0: float, t1: float) -> dict[str, Any]:
    marks = [m for m in data["marks"] if t0 <= m["start"] <= t1 and "turn_got" in m]
    turns = [tuple(x) for x in data["turns"] if t0 <= x[2] <= t1]
    lags = [lag for at, lag in data["lags"] if t0 <= at <= t1]
    if not marks:
        return {"probe": "no marks"}
    total = [m["end"] - m["start"] for m in marks]
    turn_wait = [m["turn_got"] - m["start"] for m in marks]
    pool = [m["pool"] for m in marks]
    to_thread = [sum(op[1] for op in m["ops"]) for m in marks]
    sqlite = [sum(op[2] for op in m["ops"]) for m in marks]
    to_loop = [sum(op[3] for op in m["ops"]) for m in marks]
    by_op: dict[str, list[float]] = defaultdict(list)
    for m in marks:
        for name, _, run, _ in m["ops"]:
            by_op[name].append(run)
    # who held the turn while a mark_sent waited for it: overlap of their holds with its wait
    blockers: Counter[str] = Counter()
    for m in marks:
        start, got = m["start"], m["turn_got"]
        for who, _, held_from, held_to in data["turns"]:
            overlap = min(got, held_to) - max(start, held_from)
            if overlap > 0 and held_from < got:
                blockers[who] += overlap
    holds: dict[str, list[float]] = defaultdict(list)
    for who, _, got, gave in turns:
        holds[who].append(gave - got)
    seconds = t1 - t0

    def mean_ms(values: list[float]) -> float:
        return 1000 * statistics.fmean(values) if values else 0.0

    return {
        "marks": len(marks),
        "probe_mean_ms": mean_ms(total),
        "probe_p50_ms": 1000 * nearest_rank(total, 0.5),
        "probe_p99_ms": 1000 * nearest_rank(total, 0.99),
        "turn_wait_ms": mean_ms(turn_wait),
        "pool_wait_ms": mean_ms(pool),
        "to_thread_ms": mean_ms(to_thread),
        "sqlite_ms": mean_ms(sqlite),
        "to_loop_ms": mean_ms(to_loop),
        "rest_ms": mean_ms(total) - mean_ms(turn_wait) - mean_ms(to_thread) - mean_ms(sqlite) - mean_ms(to_loop),
        "ops_per_mark": statistics.fmean(len(m["ops"]) for m in marks),
        "sqlite_by_op_ms": {k: round(mean_ms(v), 3) for k, v in sorted(by_op.items())},
        "turn_blockers_ms_per_mark": {k: round(1000 * v / len(marks), 3) for k, v in blockers.most_common(6)},
        "turns_per_s": {k: round(len(v) / seconds, 2) for k, v in sorted(holds.items(), key=lambda kv: -len(kv[1]))},
        "turn_hold_ms": {k: round(mean_ms(v), 2) for k, v in holds.items()},
        "turn_busy_share": sum(gave - got for _, _, got, gave in turns) / seconds,
        "loop_lag_mean_ms": mean_ms(lags),
        "loop_lag_p99_ms": 1000 * nearest_rank(lags, 0.99) if lags else 0.0,
    }


# -- report -----------------------------------------------------------------------------------

COLUMNS = [
    ("mean_ms", "window mean ms"),
    ("p50_ms", "p50 ≤ ms"),
    ("p99_ms", "p99 ≤ ms"),
    ("turn_wait_ms", "turn wait ms"),
    ("pool_wait_ms", "pool wait ms"),
    ("to_thread_ms", "→thread ms"),
    ("sqlite_ms", "SQLite ms"),
    ("to_loop_ms", "→loop ms"),
    ("rest_ms", "rest ms"),
    ("loop_lag_mean_ms", "loop lag ms"),
    ("turn_busy_share", "turn busy"),
    ("cpu", "CPU s/s"),
    ("baseten_rps", "Baseten req/s"),
]


def fmt(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 1 else f"{value:.2f}"


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| models watched (M) | arm | runs | notices timed | " + " | ".join(label for _, label in COLUMNS) + " |",
        "|---|---|---:|---:|" + "---:|" * len(COLUMNS),
    ]
    groups: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        groups[(r["size"], r["arm"])].append(r)
    for (size, arm), runs in groups.items():
        cells = []
        for key, _ in COLUMNS:
            values = [r[key] for r in runs if key in r]
            if not values:
                cells.append("–")
                continue
            med = statistics.median(values)
            cells.append(f"{fmt(med)} ({fmt(min(values))}–{fmt(max(values))})")
        timed = "/".join(str(r["timed"]) for r in runs)
        lines.append(f"| {runs[0]['watched']} of {size} | {arm} | {len(runs)} | {timed} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def details(results: list[dict[str, Any]]) -> str:
    """Per arm: where the turn wait went and who takes turns, medians of the runs' per-notice figures."""
    out = []
    groups: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        groups[(r["size"], r["arm"])].append(r)
    for (size, arm), runs in groups.items():
        if "turn_blockers_ms_per_mark" not in runs[0]:
            continue

        def merged(key: str, runs: list[dict[str, Any]] = runs) -> dict[str, float]:
            names = {k for r in runs for k in r[key]}
            return {k: round(statistics.median(r[key].get(k, 0.0) for r in runs), 3) for k in sorted(names)}

        blockers = dict(sorted(merged("turn_blockers_ms_per_mark").items(), key=lambda kv: -kv[1])[:5])
        rates = dict(sorted(merged("turns_per_s").items(), key=lambda kv: -kv[1])[:6])
        out.append(
            f"{arm} {size}: turn wait per notice by holder (ms) {blockers}; "
            f"write turns per second {rates}; SQLite ms per op {merged('sqlite_by_op_ms')}"
        )
    return "\n".join(out)


def soaks(args: argparse.Namespace) -> int:
    """`--soak-old TREE`: bench/soak.py run alternately in TREE (a checkout of the old all-at-once cycle)
    and in this tree, `--pairs` times, each printing its window line; the figures, side by side."""
    trees = {"old cycle": Path(args.soak_old).resolve(), "poll loop": ROOT}
    runs: dict[str, list[tuple[float, float, float, float, int]]] = defaultdict(list)
    probed_runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    pattern = re.compile(
        r"timed by the bot over (\d+) notices: mean ([\d.]+) ms, p50 at most ([\d.]+) ms, "
        r"p99 at most ([\d.]+|over 2.5 s).*run's ([\d.]+) s"
    )
    print(f"python bench/window.py {' '.join(sys.argv[1:])}\n{datetime.now(UTC):%Y-%m-%d}, {machine()}", flush=True)
    for pair in range(args.pairs):
        for name, tree in trees.items():
            command = [sys.executable, "bench/soak.py", "--rounds", str(args.soak_rounds), "--out", "-"]
            env = dict(os.environ)
            probes = Path(tempfile.mkdtemp(prefix="window-soak-probe-"))
            if args.probe:  # every serve the soak starts loads this tree's probe (bench/window_site)
                env.update(PYTHONPATH=str(ROOT / "bench" / "window_site"), WINDOW_PROBE_OUT=str(probes))
            done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
            seen = probe_dir(probes) if args.probe else {}
            shutil.rmtree(probes, ignore_errors=True)
            found = pattern.search(done.stderr)
            if found is None:
                print(f"  {name} pair {pair}: no window line (exit {done.returncode})\n{done.stderr[-2000:]}")
                continue
            n, mean, p50, p99, seconds = found.groups()
            p99_ms = float("inf") if p99.startswith("over") else float(p99)
            runs[name].append((float(mean), float(p50), p99_ms, float(seconds), int(n)))
            print(f"  {name:9} pair {pair}: {found.group(0)} (exit {done.returncode})", flush=True)
            if seen.get("marks"):
                probed_runs[name].append(seen)
                print("    probe: " + ", ".join(f"{label} {fmt(seen[key])}" for key, label in COLUMNS[3:11]))
                print(f"    turn wait per notice by holder (ms) {seen['turn_blockers_ms_per_mark']}")
                print(f"    write turns per second {seen['turns_per_s']}", flush=True)
    print("\n| soak | runs | notices | window mean ms | p50 ≤ ms | p99 ≤ ms |\n|---|---:|---:|---:|---:|---:|")
    for name, got in runs.items():
        cells = []
        for i in range(3):
            values = [g[i] for g in got]
            cells.append(f"{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))})")
        print(f"| {name} | {len(got)} | {'/'.join(str(g[4]) for g in got)} | " + " | ".join(cells) + " |")
    if probed_runs:
        print("\nThe probe, per notice, medians of the runs (lowest–highest):\n")
        print("| soak | " + " | ".join(label for _, label in COLUMNS[3:11]) + " |\n|---|" + "---:|" * 8)
        for name, got_probe in probed_runs.items():
            cells = []
            for key, _ in COLUMNS[3:11]:
                values = [g[key] for g in got_probe]
                cells.append(f"{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))})")
            print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="30,500", help="models in the fake (and watched in the busy arm)")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--arms", default="busy,quiet")
    parser.add_argument("--changing", type=int, default=10, help="models whose deployments change")
    parser.add_argument("--rate", type=float, default=2.0, help="status changes per second")
    parser.add_argument("--burst", type=int, default=4, help="changes made at once (the soak: up to 4 a round)")
    parser.add_argument("--channels", type=int, default=8, help="channels the subscriptions are spread over")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--latency", type=float, default=0.05, help="fake Baseten's answer time, seconds")
    parser.add_argument("--rps", type=float, default=50.0, help="BASETEN_MAX_RPS (the soak runs the default, 50)")
    parser.add_argument("--database-url", default="", help="a PostgreSQL server; SQLite files when not given")
    parser.add_argument("--json", default="", help="write every run's figures here")
    parser.add_argument("--soak-old", default="", help="a tree of the old cycle: compare bench/soak.py runs instead")
    parser.add_argument("--soak-rounds", type=int, default=100)
    parser.add_argument("--probe", action="store_true", help="with --soak-old: time the soaks' processes too")
    args = parser.parse_args()
    if args.soak_old:
        return soaks(args)
    sizes = [int(s) for s in args.sizes.split(",")]
    arms = args.arms.split(",")
    kind = "SQLite" if not args.database_url else "PostgreSQL"
    workdir = Path(tempfile.mkdtemp(prefix="window-bench-"))
    print(
        f"{' '.join(['python bench/window.py', *sys.argv[1:]])}\n{datetime.now(UTC):%Y-%m-%d}, {machine()}, "
        f"nproc {os.cpu_count()}, {kind}; {args.rate:g} changes/s for {args.seconds:g} s over "
        f"{args.changing} models' deployments, {args.burst} at once, heard in {args.channels} channels; "
        f"logs in {workdir}",
        flush=True,
    )
    results: list[dict[str, Any]] = []
    index = 0
    for size in sizes:
        for pair in range(args.pairs):
            for arm in arms:
                r = run_once(args, size, arm, index, workdir)
                index += 1
                r["pair"] = pair
                results.append(r)
                print(
                    f"  {arm:5} M={size:<4} pair {pair}: timed {r['timed']} of {r['notices']} notices "
                    f"(posts {r['posts']}), mean {r['mean_ms']:.2f} ms, turn wait {r.get('turn_wait_ms', 0):.2f}, "
                    f"SQLite {r.get('sqlite_ms', 0):.2f}, →loop {r.get('to_loop_ms', 0):.2f}, "
                    f"lag {r.get('loop_lag_mean_ms', 0):.2f}, CPU {r['cpu']:.2f}",
                    flush=True,
                )
                if args.json:
                    Path(args.json).write_text(json.dumps(results, indent=1))
    print()
    print(table(results))
    print()
    print(details(results))
    print(f"\n{platform.python_version()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
