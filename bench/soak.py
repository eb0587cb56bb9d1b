"""Soak run: the real `baseten-bot serve` under random status changes, random Baseten and
Slack faults and random restarts (SIGTERM and SIGKILL), then an invariant check.

    python bench/soak.py                                   # 300 rounds, SQLite, seed 1
    python bench/soak.py --rounds 40 --seed 7 --out -      # a short one, printed
    python bench/soak.py --database-url postgresql://postgres@127.0.0.1:54329/postgres

Each round (about one poll interval) changes a few deployments, may script faults
into the loopback Baseten (500/502/503, 429 with retry_after, a hang-up, a garbage
body, a 10 s stall) and Slack (429 with Retry-After, 500/503, a hang-up, now and then
a revoked token that the "operator" fixes with a restart), and may kill the bot.
Every deployment walks ACTIVE → UNHEALTHY → DEPLOYING → DEPLOY_FAILED → ACTIVE at
most once, one step at a time and only after the previous step reached every
subscribed channel: polling sees states, not events, so a state that lasts less than
a poll is not a transition the bot could promise to announce, and more than four
changes in 30 minutes would (rightly) be held back as flapping.

At the end it waits for the outbox to drain and checks: every change reached every
subscribed channel; nothing reached a channel twice unless a SIGKILL fell between
Slack's ok and the bot's record of it (counted); no notice was invented; no
subscription was lost; the process's memory stayed flat over a last stretch of
rounds without restarts.

The duplicate window is measured twice over. The bot times each notice from Slack's
ok reaching it to the commit that marks it sent (the histogram
baseten_bot_notice_record_seconds); the soak scrapes /metrics just before every
restart it causes and sums what each process measured. And right after each stop
(SIGKILL or SIGTERM) it looks in the database for notices the stopped process had
claimed, that Slack had already accepted, and that were not marked sent: a stop that
left one behind fell in the window. It prints

    kills: N, kills that fell in the window: K, duplicates: D; SIGTERMs: T,
    SIGTERMs that fell in the window: S; notices those stops left in the window: C

(on one line; each such notice is sent again, so C and D should agree) and the
window's share of the run. It writes the figures into BENCHMARKS.md (or
`--out FILE`, `-` for stdout), one section per database kind, so a PostgreSQL run
keeps the SQLite one. Exit 1 when an invariant fails.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import os
import platform
import random
import re
import shlex
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import replace_section  # noqa: E402
from bench.stats import bucket_bound  # noqa: E402
from bot.app.db import sync_url  # noqa: E402
from bot.store import tables as t  # noqa: E402
from tests.conftest import BotProcess, bot_env  # noqa: E402
from tests.fakes import Canned, FakeBaseten, FakeSlack, deployment, wait_until  # noqa: E402
from tests.test_slash_e2e import answer, post_command  # noqa: E402

# the text of a burst's own message (bot/render/groups.py): `12 deployments of 7 models changed: 9 failed, …`
GROUP_TEXT = re.compile(r"^\d+ deployments of \d+ models? changed: ")
WALK = ["ACTIVE", "UNHEALTHY", "DEPLOYING", "DEPLOY_FAILED", "ACTIVE"]
CHANNELS = [f"C0SOAK{c}" for c in range(8)]
# BENCHMARKS.md: each database kind's section runs from <!-- soak:KIND --> to <!-- /soak:KIND -->;
# bench/run.py rewrites what comes before the first MARK and keeps the rest
MARK, END = "<!-- soak", "<!-- /soak"
WINDOW = "baseten_bot_notice_record_seconds"


@dataclass
class Run:
    rounds: int
    seed: int
    kills: list[float] = field(default_factory=list)  # monotonic times of SIGKILLs
    terms: int = 0
    revoked: int = 0
    baseten_faults: collections.Counter[str] = field(default_factory=collections.Counter)
    slack_faults: collections.Counter[str] = field(default_factory=collections.Counter)
    changes: int = 0
    expected: dict[str, list[str]] = field(default_factory=lambda: collections.defaultdict(list))
    processes: int = 0
    kills_in_window: int = 0  # SIGKILLs that left a notice Slack had accepted but the bot had not recorded
    terms_in_window: int = 0  # the same for SIGTERMs (a shutdown cancels a delivery pass that outlasts it)
    caught: int = 0  # such notices, over all stops
    window_sum: float = 0.0  # seconds, summed over every process's baseten_bot_notice_record_seconds
    window_count: float = 0.0
    window_buckets: collections.Counter[float] = field(default_factory=collections.Counter)
    scrape_failures: int = 0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Soak:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.workdir = workdir
        self.baseten = FakeBaseten()
        self.slack = FakeSlack()
        self.run = Run(args.rounds, args.seed)
        self.db_url = args.database_url or f"sqlite:///{workdir / 'soak.db'}"
        self.models = [f"soakm{m:02d}" for m in range(args.models)]
        self.step: dict[tuple[str, str], int] = {}  # (model, deployment) -> index into WALK
        for m in self.models:
            deps = [deployment(f"{m}d{d}", m, name=f"v{d}") for d in range(args.per_model)]
            self.baseten.add_model(m, m, deps)
            for d in deps:
                self.step[(m, d["id"])] = 0
        self.watchers: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
        self.subscriptions = 0
        self.bot: BotProcess | None = None
        self.rss: list[float] = []  # MB, once a round, of the process running now
        self.started_at = 0.0  # monotonic start of the process running now
        self.engine = sa.create_engine(sync_url(self.db_url))

    # -- the process ------------------------------------------------------------

    def start(self) -> BotProcess:
        env = bot_env(self.baseten, self.slack, self.db_url, POLL_INTERVAL_SECONDS="1", LEASE_SECONDS="2")
        self.started_at = time.monotonic()
        bot = BotProcess(env, self.workdir / f"bot{self.run.processes}.log")
        self.run.processes += 1
        bot.wait_healthy(timeout=30)
        self.bot, self.rss = bot, []
        return bot

    def stop(self, how: signal.Signals) -> None:
        assert self.bot is not None
        self.scrape_window()
        if how == signal.SIGKILL:
            self.run.kills.append(time.monotonic())
        else:
            self.run.terms += 1
        self.bot.proc.send_signal(how)
        code = self.bot.proc.wait(20)
        self.bot.stop()  # closes its log
        if how == signal.SIGTERM and code != 0:
            raise SystemExit(f"SIGTERM exit code {code}:\n{self.bot.output()[-3000:]}")
        time.sleep(0.2)  # a post the dead process had sent may still be being answered
        caught = self.caught_in_window(self.bot.proc.pid)
        self.run.caught += caught
        if how == signal.SIGKILL:
            self.run.kills_in_window += caught > 0
        else:
            self.run.terms_in_window += caught > 0

    def scrape_window(self) -> None:
        """Adds what this process measured of the duplicate window to the run's sum."""
        assert self.bot is not None
        try:
            text = httpx.get(self.bot.url + "/metrics", timeout=5).text
        except httpx.HTTPError:
            self.run.scrape_failures += 1
            return
        for family in text_string_to_metric_families(text):
            if family.name != WINDOW:
                continue
            for sample in family.samples:
                if sample.name == WINDOW + "_sum":
                    self.run.window_sum += sample.value
                elif sample.name == WINDOW + "_count":
                    self.run.window_count += sample.value
                elif sample.name == WINDOW + "_bucket":
                    self.run.window_buckets[float(sample.labels["le"])] += sample.value

    def caught_in_window(self, pid: int) -> int:
        """Notices this dead process had claimed, that Slack accepted from it, and that it had not marked sent."""
        accepted = {
            (r.body.get("channel"), r.body.get("text"))
            for r in self.slack.calls("chat.postMessage")
            if r.ok and r.at >= self.started_at
        }
        with self.engine.connect() as conn:
            rows = conn.execute(
                _notice_rows()
                .where(t.Delivery.state == "sending")
                .where(t.Delivery.claimed_by.like(f"%:{pid}:%"))  # the holder is host:pid:random
            ).all()
        return sum(1 for channel, text in _notice_texts(rows) if (channel, text) in accepted)

    def command(self, text: str, channel: str) -> dict[str, Any]:
        assert self.bot is not None
        name = f"cmd{time.monotonic_ns()}"
        post_command(self.bot, self.slack, text, name=name, channel=channel)
        return answer(self.slack, name, timeout=30)

    # -- the world --------------------------------------------------------------

    def subscribe_all(self) -> None:
        """Whole models, single deployments and production, threaded and not, over three channels."""
        for i, m in enumerate(self.models):
            n = len(CHANNELS)
            channels = [CHANNELS[i % n]] + ([CHANNELS[(i + 1) % n]] if i % 2 == 0 else [])
            for channel in channels:
                thread = "" if self.rng.random() < 0.5 else " --no-thread"
                answer = self.command(f"subscribe {m} --on all{thread}", channel)
                assert answer.get("response_type") == "in_channel", answer
                self.subscriptions += 1
                for d in range(self.args.per_model):
                    self.watchers[(m, f"{m}d{d}")].add(channel)
            if i % 3 == 0:  # a single deployment too, in a channel not watching the whole model
                other = next(c for c in CHANNELS if c not in channels)
                dep = f"{m}d1"
                answer = self.command(f"subscribe {m} {dep} --on all --no-thread", other)
                assert answer.get("response_type") == "in_channel", answer
                self.subscriptions += 1
                self.watchers[(m, dep)].add(other)

    def delivered(self) -> dict[str, collections.Counter[str]]:
        """Each channel's notices by text; a burst's own message (issue 26) is not one: its notices are
        its lines, each posted whole in a thread, and counted here like any notice."""
        out: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        for post in self.slack.posts():
            if not GROUP_TEXT.match(str(post["text"])):
                out[post["channel"]][post["text"]] += 1
        return out

    def group_posts(self) -> int:
        return sum(1 for post in self.slack.posts() if GROUP_TEXT.match(str(post["text"])))

    def change_some(self, pending: dict[tuple[str, str], str]) -> None:
        """Moves a few deployments one step along WALK; never one whose last step is still unseen."""
        got = self.delivered()
        for key, text in list(pending.items()):
            if all(got[c][text] for c in self.watchers[key]):
                del pending[key]
        free = [k for k, s in self.step.items() if s < len(WALK) - 1 and k not in pending]
        for key in self.rng.sample(free, min(len(free), self.rng.randint(1, self.args.changes))):
            model, dep = key
            old, new = WALK[self.step[key]], WALK[self.step[key] + 1]
            self.step[key] += 1
            self.baseten.set_status(model, dep, new)
            text = f"{model} / v{dep.rsplit('d', 1)[1]}: {old} → {new}"
            pending[key] = text
            self.run.changes += 1
            for channel in self.watchers[key]:
                self.run.expected[channel].append(text)

    def baseten_fault(self) -> None:
        model = self.rng.choice(self.models)
        kind = self.rng.choices(
            ["500", "502", "503", "429", "hang-up", "garbage", "stall"], weights=[3, 2, 2, 3, 2, 2, 1]
        )[0]
        canned = {
            "500": Canned(500, {"error": "internal"}),
            "502": Canned(502, raw=b"<html>Bad Gateway</html>", off_spec=True),  # a proxy's page
            "503": Canned(503, {"error": "unavailable"}),
            "429": Canned(429, {"error": "Rate limit exceeded. Please try again later.", "retry_after": 1}),
            "hang-up": Canned(500, drop=True),
            "garbage": Canned(200, raw=b"{not json", off_spec=True),
            "stall": Canned(200, drop=True, delay=10.5),  # the client gives up at 10 s
        }[kind]
        self.baseten.script(f"/v1/models/{model}/", *[canned] * self.rng.randint(1, 4))
        self.run.baseten_faults[kind] += 1

    def slack_fault(self) -> None:
        kind = self.rng.choice(["429", "500", "503", "hang-up"])
        canned = {
            "429": Canned(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "1"}),
            "500": Canned(500, {"ok": False, "error": "internal_error"}),
            "503": Canned(503, {"ok": False, "error": "service_unavailable"}),
            "hang-up": Canned(500, drop=True),
        }[kind]
        self.slack.script("chat.postMessage", *[canned] * self.rng.randint(1, 3))
        self.run.slack_faults[kind] += 1

    # -- the run ----------------------------------------------------------------

    def go(self) -> dict[str, Any]:
        started = time.monotonic()
        self.start()
        self.subscribe_all()
        pending: dict[tuple[str, str], str] = {}
        steady_from = int(self.args.rounds * 2 / 3)  # the last third: faults, no restarts
        revoked_until = -1
        for rnd in range(self.args.rounds):
            if time.monotonic() - started > self.args.max_seconds:
                print(f"stopping early at round {rnd}: --max-seconds reached", file=sys.stderr)
                break
            self.change_some(pending)
            if self.rng.random() < 0.35:
                self.baseten_fault()
            if self.rng.random() < 0.3:
                self.slack_fault()
            if rnd < steady_from and revoked_until < 0 and self.rng.random() < 0.03:
                self.slack.token_error = "token_revoked"
                revoked_until = rnd + self.rng.randint(2, 4)
                self.run.revoked += 1
            time.sleep(self.rng.uniform(0.4, 1.6))  # pacing: about one poll interval a round, not a proof
            assert self.bot is not None
            self.rss.append(rss_mb(self.bot.proc.pid))
            if rnd == revoked_until:  # the operator fixes the token and restarts the bot
                self.slack.token_error = None
                revoked_until = -1
                self.stop(signal.SIGTERM)
                self.start()
            elif rnd < steady_from and self.rng.random() < self.args.restart_chance:
                self.stop(signal.SIGKILL if self.rng.random() < 0.6 else signal.SIGTERM)
                self.start()
        self.slack.token_error = None
        drained = self.drain()
        rss = self.rss
        self.stop(signal.SIGTERM)
        return self.check(drained, rss, time.monotonic() - started)

    def drain(self) -> bool:
        """Waits until every expected notice arrived and the outbox is empty: a notice a stop left
        in the window is sent again, and so counted as a duplicate, only when its claim expires (30 s)."""

        def drained() -> bool:
            got = self.delivered()
            return all(got[c][t] for c, texts in self.run.expected.items() for t in texts) and not self.unsent()

        try:
            wait_until(drained, 240, what="every expected notice, and the outbox empty", every=0.5)
        except AssertionError:
            return False
        assert self.bot is not None
        self.bot.wait_cycles(3)  # and a few cycles more, for anything that should not come
        return True

    def unsent(self) -> int:
        with self.engine.connect() as conn:
            query = sa.select(sa.func.count()).where(t.Delivery.state.in_(("pending", "sending")))
            return int(conn.execute(query).scalar_one())

    def check(self, drained: bool, samples: list[float], seconds: float) -> dict[str, Any]:
        got = self.delivered()
        expected_total = sum(len(t) for t in self.run.expected.values())
        missing = [(c, t) for c, texts in self.run.expected.items() for t in texts if not got[c][t]]
        invented = [(c, t) for c in got for t in got[c] if t not in self.run.expected.get(c, [])]
        duplicates = [(c, t, n) for c in got for t, n in got[c].items() if n > 1]
        explained = sum(1 for c, t, _ in duplicates if self._explained(c, t))
        with self.engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT count(*) FROM subscriptions")).scalar_one()
            pending_rows = conn.execute(sa.text("SELECT count(*) FROM deliveries WHERE state <> 'sent'")).scalar_one()
            groups = conn.execute(sa.text("SELECT count(*) FROM notice_groups WHERE ts IS NOT NULL")).scalar_one()
        group_posts = self.group_posts()
        buckets = sorted(self.run.window_buckets.items())
        mean_ms = 1000 * self.run.window_sum / self.run.window_count if self.run.window_count else 0.0
        warm = samples[min(5, len(samples) - 1)] if samples else 0.0
        last = samples[-1] if samples else 0.0
        logs = "".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob("bot*.log")))
        for chunk in logs.split("Traceback")[1:]:
            print("a traceback in the logs:\nTraceback" + chunk[:3000], file=sys.stderr)
        report = {
            "rounds": self.args.rounds,
            "seed": self.args.seed,
            "seconds": round(seconds, 1),
            "models": len(self.models),
            "deployments": len(self.step),
            "subscriptions": self.subscriptions,
            "changes": self.run.changes,
            "notices expected": expected_total,
            "notices delivered": sum(sum(c.values()) for c in got.values()),
            "missing": len(missing),
            "invented": len(invented),
            "duplicates": sum(n - 1 for _, _, n in duplicates),
            "duplicates explained by a SIGKILL": explained,
            "kills that fell in the window": self.run.kills_in_window,
            "SIGTERMs that fell in the window": self.run.terms_in_window,
            "notices left in the window by a stop": self.run.caught,
            "processes": self.run.processes,
            "SIGKILLs": len(self.run.kills),
            "SIGTERMs": self.run.terms,
            "token revoked and fixed": self.run.revoked,
            "Baseten faults": dict(self.run.baseten_faults),
            "Slack faults": dict(self.run.slack_faults),
            "Slack calls refused or failed": sum(1 for r in self.slack.calls("chat.postMessage") if not r.ok),
            "subscriptions stored": stored,
            "burst messages posted, recorded": (group_posts, groups),
            "deliveries left unsent": pending_rows,
            "drained": drained,
            "steady RSS MB (start, end, rounds)": (round(warm, 1), round(last, 1), len(samples)),
            "steady RSS MB every 20 rounds": [round(mb, 1) for mb in samples[::20]],
            "notices timed from Slack's ok to the commit of their record": int(self.run.window_count),
            "that window ms (mean, p50 at most, p99 at most)": (
                round(mean_ms, 2),
                _ms(bucket_bound(buckets, 0.5)),
                _ms(bucket_bound(buckets, 0.99)),
            ),
            "share of the run inside that window": f"{self.run.window_sum / seconds:.3%}",
            "/metrics scrapes that failed": self.run.scrape_failures,
            "tracebacks in logs": logs.count("Traceback"),
            "fake Baseten answered off spec": len(self.baseten.violations),
        }
        report["ok"] = (
            drained
            and not missing
            and not invented
            and explained == len(duplicates)
            and stored == self.subscriptions
            and pending_rows == 0
            # a burst's message is posted once, but for a SIGKILL between Slack's ok and its record
            and (group_posts == groups or (group_posts > groups and bool(self.run.kills)))
            and last - warm < max(10.0, 0.1 * warm)
            and report["tracebacks in logs"] == 0
            and not self.baseten.violations
        )
        report["missing sample"] = missing[:5]
        report["invented sample"] = invented[:5]
        return report

    def _explained(self, channel: str, text: str) -> bool:
        """A duplicate is allowed only if a SIGKILL fell between the first ok post and the next try."""
        times = sorted(
            r.at
            for r in self.slack.calls("chat.postMessage")
            if r.ok and r.body.get("channel") == channel and r.body.get("text") == text
        )
        return all(any(a <= k <= b for k in self.run.kills) for a, b in itertools.pairwise(times))


def _notice_rows() -> sa.Select[Any]:
    return sa.select(
        t.Delivery.channel_id,
        t.Transition.model_name,
        t.Transition.deployment_name,
        t.Transition.old_status,
        t.Transition.new_status,
    ).join(t.Transition, t.Delivery.transition_id == t.Transition.id)


def _notice_texts(rows: Any) -> list[tuple[str, str]]:
    """(channel, the notice's plain text) per row of _notice_rows()."""
    return [(channel, f"{model} / {dep}: {old} → {new}") for channel, model, dep, old, new in rows]


def _ms(seconds: float) -> float | str:
    return "over 2.5 s" if seconds == float("inf") else round(seconds * 1000, 1)


def summary(report: dict[str, Any]) -> list[str]:
    """The lines the README quotes: what the run measured of the duplicate window."""
    mean, p50, p99 = report["that window ms (mean, p50 at most, p99 at most)"]
    timed = report["notices timed from Slack's ok to the commit of their record"]
    return [
        f"kills: {report['SIGKILLs']}, kills that fell in the window: {report['kills that fell in the window']}, "
        f"duplicates: {report['duplicates']}; SIGTERMs: {report['SIGTERMs']}, "
        f"SIGTERMs that fell in the window: {report['SIGTERMs that fell in the window']}; "
        f"notices those stops left in the window: {report['notices left in the window by a stop']}",
        f"window from Slack's ok to the commit of the record, timed by the bot over "
        f"{timed} notices: mean {mean} ms, "
        f"p50 at most {p50} ms, p99 at most {p99} ms; share of the run's {report['seconds']} s inside it: "
        f"{report['share of the run inside that window']}",
    ]


def database_kind(url: str) -> str:
    return "sqlite" if not url or sync_url(url).get_backend_name() == "sqlite" else "postgresql"


def command_line(argv: list[str]) -> str:
    """The command as run, without --out and with any database password hidden."""
    out, skip = [], False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg == "--out" or arg.startswith("--out="):
            skip = arg == "--out"
            continue
        if i and argv[i - 1] == "--database-url":
            arg = sa.make_url(arg).render_as_string(hide_password=True)
        elif arg.startswith("--database-url="):
            arg = "--database-url=" + sa.make_url(arg.split("=", 1)[1]).render_as_string(hide_password=True)
        out.append(shlex.quote(arg))
    return " ".join(["python bench/soak.py", *out])


def markdown(report: dict[str, Any], command: str, kind: str) -> str:
    started = datetime.now(UTC).strftime("%Y-%m-%d")
    name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[kind]
    rows = "\n".join(
        f"| {k} | {json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list | tuple) else v} |"
        for k, v in report.items()
        if k not in ("missing sample", "invented sample")
    )
    said = "\n".join(f"    {line}" for line in summary(report))
    return (
        f"{MARK}:{kind} -->\n## Soak run on {name}\n\n"
        f"`{command}` on {started}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}: the real "
        "`serve` process polling every second against the loopback fakes, with random status changes, "
        "Baseten and Slack faults, SIGKILLs and SIGTERMs (none in the last third of the rounds, where "
        "memory is measured). It printed:\n\n" + said + "\n\n| measure | value |\n|---|---|\n" + rows + "\n"
        f"{END}:{kind} -->\n"
    )


def write_section(path: Path, kind: str, text: str) -> None:
    """Replaces this database kind's soak section in `path`, or appends it; other sections stay."""
    replace_section(path, f"{MARK}:{kind} -->", f"{END}:{kind} -->", text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--models", type=int, default=30)
    parser.add_argument("--per-model", type=int, default=10)
    parser.add_argument("--changes", type=int, default=4, help="at most this many status changes per round")
    parser.add_argument("--restart-chance", type=float, default=0.08)
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"), help="file to update, or - for stdout")
    parser.add_argument("--keep", action="store_true", help="keep the bot's logs and database")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="soak-")
    soak = Soak(args, Path(tmp))
    try:
        report = soak.go()
    finally:
        if soak.bot is not None and soak.bot.proc.poll() is None:
            soak.bot.proc.kill()
        soak.baseten.close()
        soak.slack.close()
        soak.engine.dispose()
        if args.keep:
            print(f"logs and database kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    for line in summary(report):
        print(line, file=sys.stderr)
    kind = database_kind(args.database_url)
    text = markdown(report, command_line(sys.argv[1:]), kind)
    if args.out == "-":
        print(text)
    else:
        write_section(Path(args.out), kind, text)
        print(f"wrote the {kind} section of {args.out}", file=sys.stderr)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
