"""Bolt wiring: the `/baseten` command, interactive actions and channel events, each registered by kind.

Every command is acknowledged at once: answers that need no I/O go in the ack
itself; the rest follow through `respond()` (the command's response_url).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from prometheus_client import Counter
from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltRequest, AsyncRespond
from sqlalchemy.exc import SQLAlchemyError

from bot.actions import buttons
from bot.actions.checks import min_replica_of
from bot.actions.operations import Operations, deployment_target
from bot.baseten.client import BasetenClient
from bot.commands.digests import change_digest
from bot.commands.freezes import freeze, list_freezes, unfreeze
from bot.commands.lookup import DeploymentView, EnvironmentView, LookupFailed, ModelView, View, look_up
from bot.commands.parse import parse
from bot.commands.subscriptions import Actor, Subscriptions
from bot.commands.typed import (
    Act,
    Command,
    Cost,
    Digest,
    Freeze,
    Help,
    ListFreezes,
    ListSubs,
    Mute,
    Resume,
    Status,
    Subscribe,
    Unfreeze,
    Unmute,
    Unsubscribe,
    UsageError,
)
from bot.cost.cache import CostCache
from bot.cost.report import cost_report
from bot.domain.freezes import ALL
from bot.domain.status import KNOWN
from bot.oncall.acks import Acknowledger
from bot.polling import why
from bot.render import cards, excerpt, promotions
from bot.render.cost import cost_message
from bot.render.freezes import with_freezes
from bot.render.help import help_message
from bot.slack.actions import act_command, register_acting
from bot.slack.admins import Admins
from bot.slack.oncall import register_ack
from bot.store import Store

log = logging.getLogger(__name__)
CHANGES = (Subscribe, Unsubscribe, Mute, Unmute, Resume, Digest, Freeze, Unfreeze)  # ADMIN_USER_IDS's to make
OOPS = "Something went wrong on the bot's side; it has been logged. Please try again."
STORE_DOWN = "The bot's database did not answer in time, so this was not done. Please try again in a minute."
NOT_ADMIN = (
    "Only the bot's admins may change subscriptions, digests and freezes in this workspace. "
    "`status`, `list`, `freezes` and `help` are open to everyone."
)

NOT_OPERATOR = (
    "`--guard auto-pause` lets the bot pause promotions itself: only operators (`OPERATOR_USER_IDS`) "
    "may turn it on. Nothing changed. The guard without `auto-pause` is open to anyone who may subscribe."
)


class Counted(Protocol):
    """Where commands are counted (bot.app.metrics.Metrics)."""

    @property
    def commands(self) -> Counter: ...


@dataclass(frozen=True)
class Deps:
    client: BasetenClient
    store: Store
    metrics: Counted
    now: Callable[[], datetime]
    admins: Admins = field(default_factory=Admins)
    ops: Operations | None = None  # acting on deployments; None: the commands say it is not set up
    cost: CostCache | None = None  # the process's billing cache (bot.app.service); None: one per command
    acks: Acknowledger | None = None  # the Acknowledge button (issue 26); None: not listened to


def register(app: AsyncApp, deps: Deps) -> None:
    """Every listener, grouped by kind: one workspace, the command, interactive actions, events."""
    app.middleware(_one_workspace)
    _register_commands(app, deps)
    _register_actions(app, deps)
    if deps.ops is not None:
        register_acting(app, deps.ops)
    if deps.acks is not None:
        register_ack(app, deps.acks)
    _register_events(app, deps)


async def _one_workspace(
    req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
) -> BoltResponse:
    """The bot token belongs to one workspace: requests signed for another one are refused."""
    installed = req.context.authorize_result.team_id if req.context.authorize_result else None
    sender = req.context.team_id
    if installed and sender and sender != installed and not req.context.enterprise_id:
        log.warning("refused a request from workspace %s: this bot is installed in %s", sender, installed)
        if req.body.get("command"):
            refusal = cards.error("This bot is installed in another workspace; it cannot answer here.")
            return BoltResponse(
                status=200, body=json.dumps(_ephemeral(refusal)), headers={"content-type": ["application/json"]}
            )
        return BoltResponse(status=200, body="")
    return await next()


def _register_commands(app: AsyncApp, deps: Deps) -> None:
    subs = Subscriptions(client=deps.client, store=deps.store, now=deps.now, slack=app.client)

    @app.command("/baseten")
    async def baseten(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        await _command(ack, command, respond, deps, subs)


async def _command(
    ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, deps: Deps, subs: Subscriptions
) -> None:
    """Usage errors, help and refusals go in the ack; the rest follows through `respond()`."""
    try:
        cmd = parse(command.get("text") or "", statuses=KNOWN)
    except UsageError as exc:
        deps.metrics.commands.labels("usage_error").inc()
        await ack(**_ephemeral(cards.error(str(exc), usage=exc.usage)))
        return
    deps.metrics.commands.labels(type(cmd).__name__.lower()).inc()
    if isinstance(cmd, Help):
        await ack(**_ephemeral(help_message()))
        return
    if isinstance(cmd, Act):
        if deps.ops is None:
            await ack(**_ephemeral(buttons.refusal(anyone=False)))
            return
        await act_command(ack, cmd, command, respond, deps.ops)
        return
    user = str(command.get("user_id") or "")
    allowed = deps.admins.settled(user) if isinstance(cmd, CHANGES) else True
    if allowed is False:
        _log_refusal(cmd, user)
        await ack(**_ephemeral(cards.error(NOT_ADMIN)))
        return
    await ack()
    if allowed is None and not await deps.admins.allows(user):  # a user group: ask Slack after the ack
        _log_refusal(cmd, user)
        await _answer(respond, _refusal)
        return
    if _auto_pause(cmd) and (deps.ops is None or not await deps.ops.operators.allows(user)):
        log.info("refused --guard auto-pause from %s: not an operator", user)  # it makes the bot act
        await _answer(respond, _not_operator)
        return
    actor = Actor(
        team_id=str(command.get("team_id") or ""),
        channel_id=str(command.get("channel_id") or ""),
        user_id=user,
    )
    await _answer(respond, lambda: _run(cmd, actor, deps, subs))


def _register_actions(app: AsyncApp, deps: Deps) -> None:
    @app.action(cards.SHARE_ACTION)
    async def share(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        try:
            await _share(body, action, respond, deps)
        except Exception:
            log.exception("sharing a card failed")

    @app.action(cards.OPEN_ACTION)
    async def opened(ack: AsyncAck) -> None:
        await ack()  # a link button: Slack opens the URL, the bot only acknowledges


async def _share(body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, deps: Deps) -> None:
    """Posts a fresh card for everyone through response_url, then deletes the ephemeral one."""
    model, _, deployment = str(action.get("value") or "").partition("/")
    user = str((body.get("user") or {}).get("id") or "")

    async def shared() -> tuple[cards.Message, str]:
        try:
            parsed = parse(f"status {model} {deployment}".strip(), statuses=KNOWN)
        except UsageError:
            return cards.error("That card can no longer be shared."), "ephemeral"
        assert isinstance(parsed, Status)
        return await _status(parsed, deps, shareable=False, shared_by=user), "in_channel"

    message, kind = await _safe(shared)
    if kind == "in_channel":
        await respond(response_type="in_channel", replace_original=False, **message.as_kwargs())
        await respond(delete_original=True)
    else:
        await respond(response_type="ephemeral", replace_original=False, **message.as_kwargs())


def _register_events(app: AsyncApp, deps: Deps) -> None:
    @app.event("member_joined_channel")
    async def joined(event: dict[str, Any], context: dict[str, Any]) -> None:
        if event.get("user") and event.get("user") == context.get("bot_user_id"):
            team = str(event.get("team") or context.get("team_id") or "")
            resumed = await deps.store.subscriptions.resume_channel(team, str(event.get("channel") or ""))
            log.info("invited back to %s: resumed %d subscription(s)", event.get("channel"), resumed)

    async def unarchived(event: dict[str, Any], context: dict[str, Any]) -> None:
        channel = str(event.get("channel") or "")
        resumed = await deps.store.subscriptions.resume_channel(str(context.get("team_id") or ""), channel)
        log.info("unarchived %s: resumed %d subscription(s)", channel, resumed)

    # a public channel and a private one (a "group" in Slack's events) are unarchived alike
    app.event("channel_unarchive")(unarchived)
    app.event("group_unarchive")(unarchived)


def _log_refusal(cmd: Command, user: str) -> None:
    log.info("refused %s from %s: not in ADMIN_USER_IDS", type(cmd).__name__.lower(), user)


def _auto_pause(cmd: object) -> bool:
    """A subscribe that turns on `--guard auto-pause`: the bot would then act, an operator's call."""
    return isinstance(cmd, Subscribe) and cmd.guard is not None and cmd.guard.auto_pause


async def _not_operator() -> tuple[cards.Message, str]:
    return cards.error(NOT_OPERATOR), "ephemeral"


async def _refusal() -> tuple[cards.Message, str]:
    return cards.error(NOT_ADMIN), "ephemeral"


async def _answer(respond: AsyncRespond, work: Callable[[], Awaitable[tuple[cards.Message, str]]]) -> None:
    message, kind = await _safe(work)
    try:
        await respond(response_type=kind, **message.as_kwargs())
    except Exception:
        log.exception("answering through response_url failed")


async def _safe(
    work: Callable[[], Awaitable[tuple[cards.Message, str]]],
) -> tuple[cards.Message, str]:
    """Runs a command; any failure becomes a short answer, never a stack trace in Slack."""
    try:
        return await work()
    except LookupFailed as exc:
        return cards.error(str(exc)), "ephemeral"
    except UsageError as exc:
        return cards.error(str(exc), usage=exc.usage), "ephemeral"
    except SQLAlchemyError as exc:  # an expected failure (busy, unreachable): a line, not a traceback
        log.warning("a command could not use the database: %s", type(exc).__name__)
        return cards.error(STORE_DOWN), "ephemeral"
    except Exception:
        log.exception("a command failed")
        return cards.error(OOPS), "ephemeral"


async def _run(cmd: Command, actor: Actor, deps: Deps, subs: Subscriptions) -> tuple[cards.Message, str]:
    if isinstance(cmd, Status):
        return await _status(cmd, deps, shareable=True), "ephemeral"
    if isinstance(cmd, ListSubs):
        listed = await subs.list_channel(actor)
        return with_freezes(listed, await deps.store.freezes.live(), deps.now()), "ephemeral"
    if isinstance(cmd, Subscribe):
        return await subs.subscribe(cmd, actor)
    if isinstance(cmd, Unsubscribe):
        return await subs.unsubscribe(cmd, actor)
    if isinstance(cmd, Mute):
        return await subs.mute(cmd, actor)
    if isinstance(cmd, Unmute):
        return await subs.unmute(cmd, actor)
    if isinstance(cmd, Resume):
        return await subs.resume(cmd, actor)
    if isinstance(cmd, Cost):
        cache = deps.cost or CostCache(deps.client, now=deps.now)
        today = deps.now().astimezone(UTC).date()
        return cost_message(await cost_report(deps.client, cache, cmd, today=today)), "ephemeral"
    if isinstance(cmd, Digest):
        return await change_digest(
            cmd,
            store=deps.store,
            team_id=actor.team_id,
            channel_id=actor.channel_id,
            user_id=actor.user_id,
            now=deps.now,
            check_channel=subs.check_channel,
        )
    return await _freezes(cmd, actor, deps)


async def _freezes(cmd: Command, actor: Actor, deps: Deps) -> tuple[cards.Message, str]:
    if isinstance(cmd, Freeze):
        return await freeze(
            cmd,
            client=deps.client,
            store=deps.store,
            now=deps.now,
            team_id=actor.team_id,
            channel_id=actor.channel_id,
            user_id=actor.user_id,
        )
    if isinstance(cmd, Unfreeze):
        return await unfreeze(cmd, client=deps.client, store=deps.store, user_id=actor.user_id)
    if isinstance(cmd, ListFreezes):
        return await list_freezes(store=deps.store, now=deps.now)
    return help_message(), "ephemeral"


async def _status(cmd: Status, deps: Deps, *, shareable: bool, shared_by: str | None = None) -> cards.Message:
    """The card, with the freezes holding its model (its environment, for an environment's) beneath it."""
    view = await look_up(deps.client, cmd.model, cmd.target)
    env = view.environment.name if isinstance(view, EnvironmentView) else ALL
    held = [f for f in await deps.store.freezes.live() if f.covers(view.model.id, env)]
    return with_freezes(await _card(view, deps, shareable=shareable, shared_by=shared_by), held, deps.now())


async def _card(view: View, deps: Deps, *, shareable: bool, shared_by: str | None) -> cards.Message:
    now = deps.now()
    if isinstance(view, ModelView):
        return cards.model_overview(
            view.model, view.deployments, now=now, shareable=shareable, shared_by=shared_by, skipped=view.skipped
        )
    if isinstance(view, EnvironmentView):
        return promotions.environment_card(view.model, view.environment, now=now)
    assert isinstance(view, DeploymentView)
    dep = view.deployment
    reason = await why.for_card(deps.client, dep, now=now)  # None unless it is failing
    shown: list[cards.Block] = []
    if deps.ops is not None and deps.ops.buttons:  # only when somebody may use them
        target = deployment_target(dep, view.model.display_name)
        low = min_replica_of(dep)  # Scale to zero… while it keeps replicas up
        shown = buttons.ask_buttons(dep.status, target, production=bool(dep.is_production), min_replica=low)
    return cards.deployment_card(
        dep,
        model_name=view.model.display_name,
        now=now,
        shareable=shareable,
        shared_by=shared_by,
        why=excerpt.blocks(reason),
        actions=shown,
    )


def _ephemeral(message: cards.Message) -> dict[str, Any]:
    return {"response_type": "ephemeral", **message.as_kwargs()}
