"""`baseten-bot`: serve, status, poll --once, migrate. The composition root lives here."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Generator, Sequence
from typing import Any

from bot import render
from bot.commands import Status, UsageError, parse
from bot.config import ConfigError, Settings, load_settings
from bot.lookup import DeploymentView, LookupFailed, look_up
from bot.runtime import Runtime, baseten_client, check_health, utcnow

log = logging.getLogger("bot")
SHUTDOWN_BUDGET = 8.0  # seconds; the contract allows 10


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="baseten-bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the bot: migrations, poller, Slack (HTTP or Socket Mode)")
    status = sub.add_parser("status", help="look a model or deployment up in the terminal")
    status.add_argument("model")
    status.add_argument("deployment", nargs="?")
    poll = sub.add_parser("poll", help="run one poll-and-deliver cycle")
    poll.add_argument("--once", action="store_true", required=True)
    sub.add_parser("migrate", help="upgrade the database to the newest migration")
    args = parser.parse_args(argv)
    try:
        if args.command == "status":
            return _status(args.model, args.deployment)
        settings = load_settings()
        _logging(settings.log_level)
        if args.command == "migrate":
            _migrate(settings)
            print("database is up to date")
            return 0
        if args.command == "poll":
            if settings.slack_bot_token is None:
                raise ConfigError("SLACK_BOT_TOKEN: required to deliver notices")
            _migrate(settings)
            return asyncio.run(_poll_once(settings))
        settings.require_serve()
        _migrate(settings)
        return asyncio.run(serve(settings))
    except ConfigError as exc:
        print(f"baseten-bot: configuration error: {exc}", file=sys.stderr)
        return 2


def _logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in (
        "httpx",
        "httpcore",
        "apscheduler",
        "slack_bolt",
        "slack_sdk",
        "aiohttp",
        "uvicorn.access",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    logging.getLogger("apscheduler.scheduler").addFilter(_no_skip_warnings)


def _no_skip_warnings(record: logging.LogRecord) -> bool:
    """A poll skipped because the last one still runs is by design; `tick` says so once per long cycle."""
    return "maximum number of running instances reached" not in record.getMessage()


def _password(raw: str) -> str | None:
    from bot.db import sync_url

    try:
        return sync_url(raw).password
    except ValueError:
        return None


def _migrate(settings: Settings) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.db import upgrade

    try:
        upgrade(settings.database_url)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    except (OSError, SQLAlchemyError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        password = _password(settings.database_url)
        if password:
            reason = reason.replace(password, "***")
        raise ConfigError(f"DATABASE_URL: cannot open or migrate the database: {reason}") from None


# -- status ----------------------------------------------------------------------


def _status(model: str, deployment: str | None) -> int:
    text = f"status {model} {deployment or ''}".strip()
    try:
        cmd = parse(text)
    except UsageError as exc:
        print(f"baseten-bot status: {exc}".replace("`", "'"), file=sys.stderr)
        return 2
    assert isinstance(cmd, Status)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"baseten-bot: configuration error: {exc}", file=sys.stderr)
        return 2
    _logging("WARNING" if settings.log_level == "INFO" else settings.log_level)
    return asyncio.run(_status_async(settings, cmd))


async def _status_async(settings: Settings, cmd: Status) -> int:
    client = baseten_client(settings)
    try:
        view = await look_up(client, cmd.model, cmd.target)
    except LookupFailed as exc:
        print(f"baseten-bot status: {exc}".replace("`", "'"), file=sys.stderr)
        return 1
    finally:
        await client.aclose()
    now = utcnow()
    if isinstance(view, DeploymentView):
        print(render.terminal_card(view.deployment, model_name=view.model.display_name, now=now))
    else:
        print(render.terminal_overview(view.model, view.deployments))
    return 0


# -- poll --once -------------------------------------------------------------------


async def _poll_once(settings: Settings) -> int:
    from bot.poller import describe

    runtime = Runtime.build(settings)
    try:
        report = await runtime.poller.cycle()
        print(describe(report))
        for error in report.errors:
            print(f"  failed: {error}", file=sys.stderr)
        return 0
    finally:
        await runtime.aclose()


# -- serve -----------------------------------------------------------------------


class _Server:
    """uvicorn without its own signal handling: `serve` owns SIGTERM/SIGINT and exits 0."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        import uvicorn

        class Quiet(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Generator[None, None, None]:
                yield

        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        self.server = Quiet(config)

    def bound(self) -> list[str]:
        out = []
        for server in getattr(self.server, "servers", []):
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                out.append(f"http://{host}:{port}")
        return out


async def serve(settings: Settings) -> int:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from slack_bolt.async_app import AsyncApp

    from bot.admins import Admins
    from bot.slack_app import Deps, register
    from bot.web import build

    runtime = Runtime.build(settings)
    socket_mode = settings.socket_mode
    signing = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    bolt = AsyncApp(client=runtime.slack, signing_secret=signing, process_before_response=False)
    register(
        bolt,
        Deps(
            client=runtime.baseten,
            store=runtime.store,
            metrics=runtime.metrics,
            now=utcnow,
            admins=Admins(*settings.admin_ids, runtime.slack),
        ),
    )

    running: set[asyncio.Task[Any]] = set()

    async def tick() -> None:
        task = asyncio.current_task()
        if task is not None:
            running.add(task)
        started = time.monotonic()
        try:
            if not await runtime.lease.renew():
                return  # another replica polls and delivers
            runtime.metrics.leader.set(1)
            report = await runtime.poller.cycle(deliver=False)
            start_delivery()  # fan-out runs beside the schedule: slow Slack never delays a poll
        except asyncio.CancelledError:
            # shutdown gave up waiting: a cycle writes all or nothing, so nothing of it was kept.
            # Said in one line here, since the scheduler would log the cancellation as a crash.
            log.info("poll cycle abandoned at shutdown; the next start polls again")
            return
        except Exception:
            runtime.metrics.cycles.labels("error").inc()
            log.exception("poll cycle failed; the next one will try again")
            return
        finally:
            runtime.metrics.leader.set(1 if runtime.lease.held else 0)
            if task is not None:
                running.discard(task)
        took = time.monotonic() - started
        runtime.metrics.cycles.labels("ok" if not report.failed_models else "partial").inc()
        runtime.metrics.cycle_seconds.observe(took)
        if took > settings.poll_interval_seconds:
            log.info(
                "that cycle took %.1fs, longer than POLL_INTERVAL_SECONDS (%g); the polls due meanwhile were skipped",
                took,
                settings.poll_interval_seconds,
            )
        runtime.metrics.transitions.inc(report.changes)
        runtime.metrics.last_cycle.set(time.time())
        from bot.poller import describe

        level = logging.INFO if report.changes or report.failed_models or report.sent else logging.DEBUG
        log.log(level, describe(report))

    delivering: list[asyncio.Task[Any]] = []

    def start_delivery() -> None:
        if delivering and not delivering[-1].done():
            return  # the running pass picks up what this cycle queued when it looks again
        task = asyncio.create_task(deliver())
        delivering[:] = [task]
        running.add(task)
        task.add_done_callback(running.discard)

    async def deliver() -> None:
        try:
            while (await runtime.notifier.deliver_due()).sent:
                pass  # rows queued meanwhile go out now, not a poll interval later
        except Exception:
            log.exception("delivering notices failed; pending ones are retried next cycle")

    async def keep_lease() -> None:
        try:
            await runtime.lease.renew()
        except Exception:
            log.exception("renewing the poller lease failed")
        runtime.metrics.leader.set(1 if runtime.lease.held else 0)

    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        tick,
        "interval",
        id="poll",
        seconds=settings.poll_interval_seconds,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=max(1, int(settings.poll_interval_seconds)),
        next_run_time=utcnow(),
    )
    scheduler.add_job(
        keep_lease,
        "interval",
        id="lease",
        seconds=max(1.0, settings.lease_seconds / 3),
        coalesce=True,
        max_instances=1,
    )

    async def health() -> tuple[bool, dict[str, Any]]:
        scheduled = bool(scheduler.running and scheduler.get_job("poll") is not None)
        return await check_health(
            runtime.store,
            scheduled=scheduled,
            notifier=runtime.notifier,
            leader=runtime.lease.held,
            baseten_problem=runtime.poller.last_auth_error,
        )

    web = build(bolt=None if socket_mode else bolt, metrics=runtime.metrics, health=health)
    server = _Server(web, settings.host, settings.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    scheduler.start()
    server_task = asyncio.create_task(server.server.serve())
    socket_handler = None
    socket_task: asyncio.Task[Any] | None = None
    if socket_mode:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        assert settings.slack_app_token is not None
        socket_handler = AsyncSocketModeHandler(bolt, settings.slack_app_token.get_secret_value())
        # connecting retries until Slack answers: never let it hold up start-up or a signal
        socket_task = asyncio.create_task(socket_handler.connect_async())  # type: ignore[no-untyped-call]
    while not server.server.started and not server_task.done():  # noqa: ASYNC110 - uvicorn exposes a flag
        await asyncio.sleep(0.02)
    mode = "Socket Mode" if socket_mode else "HTTP mode, Slack events at /slack/events"
    log.info("baseten-bot serving (%s) on %s", mode, ", ".join(server.bound()) or "?")
    stop_wait = asyncio.create_task(stop.wait())
    await asyncio.wait({stop_wait, server_task}, return_when=asyncio.FIRST_COMPLETED)
    log.info("shutting down")
    deadline = time.monotonic() + SHUTDOWN_BUDGET
    scheduler.shutdown(wait=False)
    if running:
        _, pending = await asyncio.wait(running, timeout=max(0.1, deadline - time.monotonic() - 2))
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(runtime.lease.release(), timeout=1)
    server.server.should_exit = True
    if socket_handler is not None:
        if socket_task is not None and not socket_task.done():
            socket_task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(socket_handler.close_async(), timeout=1)  # type: ignore[no-untyped-call]
    with contextlib.suppress(Exception):
        await asyncio.wait_for(server_task, timeout=max(0.1, deadline - time.monotonic() - 0.5))
    stop_wait.cancel()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(runtime.aclose(), timeout=1)
    log.info("stopped")
    return 0
