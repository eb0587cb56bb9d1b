"""`baseten-bot`: parses the command line, reads Settings, and runs one command.

`serve` itself is bot.app.service.Service; the help text users see is DESCRIPTION and EXAMPLES below.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import textwrap
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from bot.app.config import ConfigError, Settings, load_settings
from bot.app.runtime import Runtime, baseten_client, utcnow
from bot.commands.lookup import DeploymentView, EnvironmentView, LookupFailed, look_up
from bot.commands.parse import parse
from bot.commands.typed import Command, Cost, Status, UsageError
from bot.render import cards
from bot.render.promotions import terminal_environment
from bot.render.text import printable

log = logging.getLogger("bot")

DESCRIPTION = """\
A Slack bot for Baseten: it watches model deployments, posts their status changes to
the Slack channels subscribed to them, and answers the /baseten slash command.

Settings come from environment variables (see README.md): BASETEN_API_KEY always;
`serve` also needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, or SLACK_APP_TOKEN for
Socket Mode; DATABASE_URL defaults to sqlite:///baseten-bot.app.db."""

EXAMPLES = """\
examples:
  BASETEN_API_KEY=... SLACK_BOT_TOKEN=xoxb-... SLACK_SIGNING_SECRET=... baseten-bot serve
  BASETEN_API_KEY=... baseten-bot status my-model production
  BASETEN_API_KEY=... baseten-bot cost my-model --days 30
  DATABASE_URL=postgresql://user:pass@host/db baseten-bot migrate

exit status: 0 success; 1 `status` or `cost` found nothing or Baseten failed;
             2 a missing or malformed setting, or a usage error.
Run `baseten-bot COMMAND --help` for one command."""


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str, *, does: str, example: str
) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=summary,
        description=textwrap.fill(does, 78),
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baseten-bot",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    _command(
        sub,
        "serve",
        "run the bot: poll Baseten, post notices, answer Slack",
        does="Migrates the database, polls Baseten every POLL_INTERVAL_SECONDS, posts status changes to "
        "subscribed channels, and answers Slack at http://HOST:PORT/slack/events (or over Socket Mode "
        "when SLACK_APP_TOKEN is set), with /healthz and /metrics beside. SIGTERM or SIGINT stops it "
        "cleanly, with exit status 0.",
        example="BASETEN_API_KEY=... SLACK_BOT_TOKEN=xoxb-... SLACK_SIGNING_SECRET=... baseten-bot serve",
    )
    status = _command(
        sub,
        "status",
        "show a model or one deployment in the terminal",
        does="Prints a deployment's status card, or an overview of a model's deployments. "
        "Needs only BASETEN_API_KEY. Exit status 1 when nothing matches or Baseten fails.",
        example="BASETEN_API_KEY=... baseten-bot status my-model production",
    )
    status.add_argument("model", help="model name or id")
    status.add_argument(
        "deployment", nargs="?", help="deployment name or id, or production or development (default: the whole model)"
    )
    cost = _command(
        sub,
        "cost",
        "what GPUs cost: spend per deployment, the change, the burn rate now",
        does="Prints the spend of the last N days (default 7, at most 31) per deployment, the change against "
        "the days before and the burn rate now, of a model, chain:CHAIN, training:PROJECT or the whole "
        "workspace. Needs only BASETEN_API_KEY, with billing access. Exit status 1 when nothing matches, "
        "Baseten fails or the key may not read billing.",
        example="BASETEN_API_KEY=... baseten-bot cost my-model --days 30",
    )
    cost.add_argument("target", nargs="?", help="model name or id, chain:CHAIN or training:PROJECT (default: all)")
    cost.add_argument("--days", default="7", metavar="N", help="the last N days, today included (1 to 31)")
    poll = _command(
        sub,
        "poll",
        "run one poll-and-deliver cycle, then exit",
        does="Polls Baseten once, records what changed and posts the notices due, as `serve` does "
        "every POLL_INTERVAL_SECONDS. Needs SLACK_BOT_TOKEN.",
        example="BASETEN_API_KEY=... SLACK_BOT_TOKEN=xoxb-... baseten-bot poll --once",
    )
    poll.add_argument("--once", action="store_true", required=True, help="one cycle (required)")
    _command(
        sub,
        "migrate",
        "create or upgrade the database to the newest schema",
        does="Upgrades DATABASE_URL to the newest migration. `serve` does this at every start; "
        "run it once yourself to migrate before a rollout of several replicas.",
        example="DATABASE_URL=postgresql://user:pass@host/db baseten-bot migrate",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "status":
            return _status(args.model, args.deployment)
        if args.command == "cost":
            return _cost(args.target, args.days)
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
    from bot.app.db import sync_url

    try:
        return sync_url(raw).password
    except ValueError:
        return None


def _migrate(settings: Settings) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.app.db import upgrade

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


def _terminal(answer: str) -> str:
    """An answer written for Slack, for a terminal: Baseten's names in it may carry control characters
    or bidi overrides (bot.render.text drops them), and backticks read better as quotes there."""
    return printable(answer).replace("`", "'")


def _typed(verb: str, text: str, run: Callable[[Settings, Command], Coroutine[Any, Any, int]]) -> int:
    """A terminal command typed as in Slack: a usage error or bad configuration exits 2, before
    anything is asked of Baseten; `run` answers (0, or 1 when not found or the API fails)."""
    try:
        cmd = parse(text)
    except UsageError as exc:
        print(_terminal(f"baseten-bot {verb}: {exc}"), file=sys.stderr)
        return 2
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"baseten-bot: configuration error: {exc}", file=sys.stderr)
        return 2
    _logging("WARNING" if settings.log_level == "INFO" else settings.log_level)
    return asyncio.run(run(settings, cmd))


def _status(model: str, deployment: str | None) -> int:
    return _typed("status", f"status {model} {deployment or ''}".strip(), _status_async)


async def _status_async(settings: Settings, cmd: Command) -> int:
    assert isinstance(cmd, Status)
    client = baseten_client(settings)
    try:
        view = await look_up(client, cmd.model, cmd.target)
    except LookupFailed as exc:
        print(_terminal(f"baseten-bot status: {exc}"), file=sys.stderr)
        return 1
    finally:
        await client.aclose()
    now = utcnow()
    if isinstance(view, DeploymentView):
        print(cards.terminal_card(view.deployment, model_name=view.model.display_name, now=now))
    elif isinstance(view, EnvironmentView):
        print(terminal_environment(view.model, view.environment))
    else:
        print(cards.terminal_overview(view.model, view.deployments, view.skipped))
    return 0


# -- cost ------------------------------------------------------------------------


def _cost(target: str | None, days: str) -> int:
    return _typed("cost", f"cost {target or ''} --days {days}", _cost_async)


async def _cost_async(settings: Settings, cmd: Command) -> int:
    assert isinstance(cmd, Cost)
    from bot.cost.cache import CostCache
    from bot.cost.report import cost_report
    from bot.render.cost import terminal_cost

    client = baseten_client(settings)
    try:
        report = await cost_report(client, CostCache(client, now=utcnow), cmd, today=utcnow().date())
    except LookupFailed as exc:
        print(_terminal(f"baseten-bot cost: {exc}"), file=sys.stderr)
        return 1
    finally:
        await client.aclose()
    print(terminal_cost(report))
    return 0


# -- poll --once -------------------------------------------------------------------


async def _poll_once(settings: Settings) -> int:
    from bot.polling.poller import describe

    runtime = Runtime.build(settings)
    try:
        report = await runtime.poller.cycle()
        print(describe(report))
        for error in report.errors:
            print(_terminal(f"  failed: {error}"), file=sys.stderr)
        return 0
    finally:
        await runtime.aclose()


# -- serve -----------------------------------------------------------------------


async def serve(settings: Settings) -> int:
    """Runs the bot until SIGTERM or SIGINT, then stops within the shutdown budget; exit status 0."""
    from bot.app.service import Service

    service = Service(Runtime.build(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    await service.wait(stop)
    await service.stop()
    return 0
