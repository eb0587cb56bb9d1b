"""Prometheus metrics, on a registry of the app's own (no global state between tests)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.baseten_requests = Counter(
            "baseten_bot_baseten_requests",
            "Requests sent to the Baseten API, by status code (none: no answer)",
            ["code"],
            registry=self.registry,
        )
        self.commands = Counter(
            "baseten_bot_commands",
            "Slash commands handled, by subcommand",
            ["command"],
            registry=self.registry,
        )
        self.cycles = Counter(
            "baseten_bot_poll_cycles",
            "Poll cycles run, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.cycle_seconds = Histogram(
            "baseten_bot_poll_cycle_seconds",
            "Wall time of a poll cycle",
            registry=self.registry,
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
        )
        self.transitions = Counter(
            "baseten_bot_transitions",
            "Status changes detected",
            registry=self.registry,
        )
        self.notices = Counter(
            "baseten_bot_notices",
            "Notice delivery attempts, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.notice_record_seconds = Histogram(
            "baseten_bot_notice_record_seconds",
            "Seconds from Slack's ok for a notice to the commit marking it sent; a SIGKILL inside doubles it",
            registry=self.registry,
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.leader = Gauge(
            "baseten_bot_poller_leader",
            "1 while this replica holds the poller lease",
            registry=self.registry,
        )
        self.pool = PoolMetrics(self.registry)
        self.last_cycle = Gauge(
            "baseten_bot_last_poll_timestamp_seconds",
            "Unix time the last poll cycle finished",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class PoolMetrics:
    """Waits for a database connection, as the pool reports them (bot.app.db.PoolWatch)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.wait = Histogram(
            "baseten_bot_db_checkout_wait_seconds",
            "Seconds a caller waited for a database connection (DATABASE_POOL_SIZE)",
            registry=registry,
            buckets=(0.001, 0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.timeouts = Counter(
            "baseten_bot_db_checkout_timeouts",
            "Waits for a database connection that gave up after 30 seconds; each failed its work",
            registry=registry,
        )

    def waited(self, seconds: float) -> None:
        self.wait.observe(seconds)

    def timed_out(self) -> None:
        self.timeouts.inc()
