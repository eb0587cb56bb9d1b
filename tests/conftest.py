"""Shared fixtures: the loopback fakes, a migrated SQLite file, and a real `serve` process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from bot.app.db import sync_url, upgrade
from tests.fakes import API_KEY, BOT_TOKEN, SIGNING_SECRET, FakeBaseten, FakeSlack, deployment, wait_until

MODEL = "mdl1abcd"
MODEL_NAME = "llama-3-8b"
PROD = "dep1prod"
DEV = "dep2dev"
OLD = "dep3old"
CYCLES = "baseten_bot_poll_cycles_total"  # bot/app/metrics.py: one per finished poll cycle, by outcome


def standard_deployments() -> list[dict[str, Any]]:
    return [
        deployment(PROD, MODEL, name="v3", status="ACTIVE", is_production=True, replicas=2),
        deployment(DEV, MODEL, name="dev", status="BUILDING", is_development=True, replicas=0),
        deployment(OLD, MODEL, name="v2", status="INACTIVE", replicas=0, created_at="2026-10-01T08:00:00Z"),
    ]


@pytest.fixture
def baseten() -> Iterator[FakeBaseten]:
    fake = FakeBaseten()
    fake.add_model(MODEL, MODEL_NAME, standard_deployments())
    yield fake
    fake.close()
    assert not fake.violations, f"a request or an answer outside Baseten's spec: {fake.violations}"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    yield fake
    fake.close()


POSTGRES = os.environ.get("TEST_DATABASE_URL", "")
on_postgres = pytest.mark.skipif(not POSTGRES, reason="needs TEST_DATABASE_URL (a PostgreSQL server)")
sqlite_only = pytest.mark.skipif(bool(POSTGRES), reason="about SQLite itself")
# Slow end-to-end modules whose subject is not the database (Slack's signatures and answers,
# Baseten's faults, the terminal, secrets in output): run once, on SQLite. What they store is
# the same store code the in-process suites check on both databases.
any_database = pytest.mark.skipif(bool(POSTGRES), reason="the database does not change what this shows: run on SQLite")


@pytest.fixture
def empty_db_url(tmp_path: Path) -> Iterator[str]:
    """A database with no tables: a SQLite file, or with TEST_DATABASE_URL a fresh PostgreSQL database."""
    if not POSTGRES:
        yield f"sqlite:///{tmp_path / 'bot.db'}"
        return
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(sync_url(POSTGRES), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield sync_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """The same database, migrated to head."""
    upgrade(empty_db_url)
    return empty_db_url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bot_env(baseten: FakeBaseten, slack: FakeSlack, db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BASETEN_", "DATABASE_"))}
    env.update(
        BASETEN_API_KEY=API_KEY,
        BASETEN_API_URL=baseten.url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url,
        DATABASE_URL=db_url,
        POLL_INTERVAL_SECONDS="3600",
        HOST="127.0.0.1",
        LOG_LEVEL="INFO",
    )
    env.update(extra)
    return env


class BotProcess:
    """A real `baseten-bot serve` process; its output is kept for assertions."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        env = {**env, "PORT": str(self.port)}
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"], env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"bot exited early:\n{self.output()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"bot never became healthy:\n{self.output()}")

    def cycles(self) -> int:
        """Poll cycles this process has finished, of every outcome, from its own /metrics."""
        text = httpx.get(self.url + "/metrics", timeout=5).text
        return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(CYCLES + "{")))

    def wait_cycles(self, more: int = 3, timeout: float = 60.0) -> None:
        """Waits until `more` further poll cycles have finished: at least `more - 1` of them began
        after this call. The proof a "nothing else happened" check needs that the bot kept looking."""
        start = self.cycles()
        wait_until(lambda: self.cycles() >= start + more, timeout, what=f"{more} more poll cycles", every=0.1)

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return int(self.proc.returncode)


@pytest.fixture
def bot(baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[BotProcess]:
    process = BotProcess(bot_env(baseten, slack, db_url), tmp_path / "bot.log")
    process.wait_healthy()
    yield process
    process.stop()
