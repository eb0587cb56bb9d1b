"""Bolt listeners for acting on deployments: the typed commands and the two kinds of button.

Who may act is checked first, every time (a typed command, an ask button, the do button):
a user not in OPERATOR_USER_IDS gets a refusal only they see, the refusal is logged with
their user id, and Baseten is not called. At the do button, the click that acts, group
memberships are read from Slack then; when Slack cannot say, nobody acts. Both kinds of
button are read by one function (bot.actions.checks.read_button), and every click is answered.
An approval request's Approve and Reject (APPROVAL_REQUIRED, bot.actions.approvals) are operators'
clicks too, checked alike, group memberships read from Slack then.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.actions import buttons
from bot.actions.approval_messages import APPROVE, REJECT, read_id
from bot.actions.checks import read_button
from bot.actions.operations import Operations
from bot.actions.verbs import Target, Verb
from bot.commands.lookup import LookupFailed
from bot.commands.typed import Act
from bot.render import cards
from bot.render.cards import Message
from bot.store.actions import Click

log = logging.getLogger(__name__)
GONE = "That button can no longer be used. Ask again with `/baseten status MODEL DEPLOYMENT`."
UNSURE = (
    "Slack could not say just now whether you are in an operator group, so nothing was sent. Try again in a moment."
)
OLD_CARD = "this card is from before cards carried what they showed, so the bot cannot check it"
NOT_ADMIN = "Only the bot's admins (ADMIN_USER_IDS) may act through a freeze with `--override`. Nothing was changed."
OOPS = "Something went wrong on the bot's side; it has been logged. Nothing was changed unless it says so."


def register_acting(app: AsyncApp, ops: Operations) -> None:
    @app.action(re.compile("^" + re.escape(buttons.ASK)))
    async def ask(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        try:
            await _ask(body, action, respond, ops)
        except Exception:
            log.exception("answering an action button failed")
            await _reply(respond, cards.error(OOPS), replace_original=False)

    @app.action(re.compile("^" + re.escape(buttons.DO)))
    async def do(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        try:
            await _do(body, action, respond, ops)
        except Exception:
            log.exception("acting on a deployment failed")
            await _reply(respond, cards.error(OOPS), replace_original=False)

    @app.action(APPROVE)
    async def approve(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await _decide(body, action, respond, ops, approving=True)

    @app.action(REJECT)
    async def reject(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await _decide(body, action, respond, ops, approving=False)


async def act_command(ack: AsyncAck, cmd: Act, command: dict[str, Any], respond: AsyncRespond, ops: Operations) -> None:
    """`retry`, `activate`, `deactivate`, `promote`, `rollback`: the confirmation card, only for the asker."""
    user = str(command.get("user_id") or "")
    allowed = ops.operators.settled(user)
    if allowed is False:
        _refused(cmd.verb, user, ops)
        await ack(response_type="ephemeral", **buttons.refusal(anyone=ops.operators.anyone).as_kwargs())
        return
    await ack()
    if allowed is None and not await ops.operators.allows(user):  # a user group: asked after the ack
        _refused(cmd.verb, user, ops)
        await _reply(respond, buttons.refusal(anyone=True))
        return
    if cmd.override and (ops.admins is None or not await ops.admins.allows(user)):
        log.info("refused --override of %s from %s: not in ADMIN_USER_IDS", cmd.verb, user)
        await _reply(respond, buttons.note(NOT_ADMIN))
        return
    await _reply(respond, await _safe(lambda: ops.confirm_command(cmd)))


async def _ask(body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, ops: Operations) -> None:
    """A button on a card or a notice: the confirmation card, from the status now, for the clicker only."""
    user = _user(body)
    button = read_button(action, buttons.ASK)
    if button is None:
        await _reply(respond, buttons.note(GONE), replace_original=False)
        return
    verb, target, _ = button
    if not await ops.operators.allows(user):  # it changes nothing: a membership read in the last minute will do
        _refused(verb.name, user, ops)
        await _reply(respond, buttons.refusal(anyone=ops.operators.anyone), replace_original=False)
        return
    card = await _safe(lambda: ops.confirm_button(verb, target))
    await _reply(respond, card, replace_original=False)


async def _do(body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, ops: Operations) -> None:
    """The confirmation card's button, after Slack's confirm dialog: its card acts once, on what it showed."""
    user = _user(body)
    button = read_button(action, buttons.DO)
    if button is None:
        await _reply(respond, buttons.note(GONE), replace_original=False)
        return
    verb, target, shown = button
    may = await ops.operators.confirms(user)  # group memberships read from Slack now, not remembered
    if not may:
        _refused(verb.name, user, ops, unsure=may is None)
        answer = buttons.note(UNSURE) if may is None else buttons.refusal(anyone=ops.operators.anyone)
        await _reply(respond, answer, replace_original=False)
        return
    if shown is None:  # a card drawn before cards carried what they showed: it cannot be checked
        log.info("a card without what it showed, for %s by %s: nothing sent, a fresh card offered", verb.name, user)
        fresh = await _safe(lambda: ops.fresh_card(verb, target))
        await _reply(respond, buttons.instead(OLD_CARD, fresh), replace_original=True)
        return
    click = _click(body, user, verb, target)
    done = await ops.perform(verb, target, shown, click)
    await _reply(respond, done.message, replace_original=done.replace)
    if done.outcome is not None:
        await ops.announce(click, verb, target, done.outcome, override=done.override)


async def _decide(
    body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, ops: Operations, *, approving: bool
) -> None:
    """Approve or Reject on a request in the channel: an operator's, group memberships read now; the
    request's message is edited to say what happened, and the clicker told only what it does not say."""
    user, what = _user(body), "approve" if approving else "reject"
    try:
        approval_id = read_id(action.get("value"))
        if approval_id is None:
            await _reply(respond, buttons.note(GONE), replace_original=False)
            return
        may = await ops.operators.confirms(user)
        if not may:
            _refused(what, user, ops, unsure=may is None)
            answer = buttons.note(UNSURE) if may is None else buttons.refusal(anyone=ops.operators.anyone)
            await _reply(respond, answer, replace_original=False)
            return
        decide = ops.requests.approve if approving else ops.requests.reject
        container, message = body.get("container") or {}, body.get("message") or {}
        decided = await decide(approval_id, user, ts=str(container.get("message_ts") or message.get("ts") or ""))
        if decided.answer is not None:
            await _reply(respond, decided.answer, replace_original=False)
        if decided.announce is not None:
            click, verb, target, out, override = decided.announce
            await ops.announce(click, verb, target, out, override=override)
    except Exception:
        log.exception("deciding an approval request failed")
        await _reply(respond, cards.error(OOPS), replace_original=False)


def _refused(verb: str, user: str, ops: Operations, *, unsure: bool = False) -> None:
    why = "not in OPERATOR_USER_IDS" if ops.operators.anyone else "OPERATOR_USER_IDS is not set"
    if unsure:
        why = "Slack could not say whether they are in an operator group"
    log.info("refused %s from %s: %s", verb, user, why)


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


def _click(body: dict[str, Any], user: str, verb: Verb, target: Target) -> Click:
    container = body.get("container") or {}
    message = body.get("message") or {}
    return Click(
        team_id=str((body.get("team") or {}).get("id") or ""),
        channel_id=str((body.get("channel") or {}).get("id") or container.get("channel_id") or ""),
        user_id=user,
        message_ts=str(container.get("message_ts") or message.get("ts") or ""),
        verb=verb.name,
        model_id=target.model_id,
        deployment_id=target.deployment_id,
        environment=target.environment,
    )


async def _safe(work: Callable[[], Awaitable[Message]]) -> Message:
    try:
        return await work()
    except LookupFailed as exc:
        return cards.error(str(exc))
    except Exception:
        log.exception("preparing an action failed")
        return cards.error(OOPS)


async def _reply(respond: AsyncRespond, message: Message, *, replace_original: bool | None = None) -> None:
    kwargs: dict[str, Any] = {"response_type": "ephemeral", **message.as_kwargs()}
    if replace_original is not None:
        kwargs["replace_original"] = replace_original
    try:
        await respond(**kwargs)
    except Exception:
        log.exception("answering through response_url failed")
