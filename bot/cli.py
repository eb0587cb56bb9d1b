"""`baseten-bot`: serve, status, poll --once, migrate. The composition root lives here."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from bot import render
from bot.commands import Status, UsageError, parse
from bot.config import ConfigError, Settings, load_settings
from bot.lookup import DeploymentView, LookupFailed, look_up
from bot.runtime import Runtime, baseten_client, utcnow

log = logging.getLogger("bot")


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
    """A poll skipped because the last one still runs is by design; Service.tick says so once per long cycle."""
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


async def serve(settings: Settings) -> int:
    """Runs the bot until SIGTERM or SIGINT, then stops within the shutdown budget; exit status 0."""
    from bot.service import Service

    service = Service(Runtime.build(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    await service.wait(stop)
    await service.stop()
    return 0
