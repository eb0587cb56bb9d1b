"""Approval requests (APPROVAL_REQUIRED): the I/O around the pure messages (bot.actions.approval_messages)
and the click path (bot.actions.clicks).

    done = await flow.made(action_id, verb, target, shown, click)  # a checked confirming click on a listed pair
    decided = await flow.approve(approval_id, user)                # Approve, by another operator
    decided = await flow.reject(approval_id, user)                 # Reject, by any operator (the requester: withdrawn)
    await Expiry(store=..., slack=..., now=...).run()              # the lease holder's pass

A confirmed card on a listed pair is claimed and checked as any card is (one card, one row), then,
instead of calling Baseten, becomes a pending request (bot.store.approvals) posted in the channel.
Each decision is one conditional UPDATE from pending, so a double click, a redelivery or a second
replica finds it decided and does nothing more. An approval then runs the card once, through the
same gate as a click (freezes, then the claim of its own key, the re-check against what the card
showed, the one request); the request's message is edited to say how it ended, whatever ended it.
Who may click at all (OPERATOR_USER_IDS) is the caller's check (bot.slack.actions).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.actions import buttons
from bot.actions.answers import Outcome
from bot.actions.approval_messages import (
    OWN,
    UNKNOWN,
    already,
    approved_head,
    decided,
    expired_head,
    rejected_head,
    request,
    sent_for_approval,
    unposted,
)
from bot.actions.checks import Shown, encode_card, read_card
from bot.actions.clicks import Done
from bot.actions.verbs import Target, Verb
from bot.render.cards import Block, Message
from bot.store import Store
from bot.store.actions import Click
from bot.store.approvals import PENDING, Approval, NewApproval

log = logging.getLogger(__name__)
NOT_RECORDED = (
    "The bot could not record the approval request, so nothing was sent and nobody was asked. "
    "Ask again with the command in a moment."
)
NOT_EDITED = "Rejected: nothing was sent. (The bot could not edit the request's message to say so.)"
NOT_RUN = "The bot could not record the approved action, so nothing was sent. Ask again with the command."
UNREADABLE = "The bot cannot read what this request was for, so nothing was sent."
TS_LOST = (
    "The bot posted the approval request but could not record it, so it cannot be approved and nothing will be "
    "sent. Ask again with the command in a moment."
)
TS_LOST_HERE = "This approval request could not be recorded by the bot, so nobody can approve it; nothing will be sent."
NOT_OPEN = "This request is no longer open; nothing was sent."

# the gate a confirming click goes through (bot.actions.operations.Operations.gated): freezes, then the
# click path; `admin` is whose `--override` counts, `then` what a checked click does instead of sending
# and `key` the claim's own key
Gate = Callable[..., Awaitable[Done]]


@dataclass(frozen=True)
class Decided:
    """The answer to an Approve or Reject click."""

    answer: Message | None = None  # for the clicker only; None: the request's message says it
    # the approved action's usual line in the channel: the click that ran it, and Baseten's answer
    announce: tuple[Click, Verb, Target, Outcome, str] | None = None


class Expiry:
    """Pending requests past APPROVAL_TTL_MINUTES: expired (pending → expired first), then edited to say so."""

    def __init__(self, *, store: Store, slack: AsyncWebClient | None, now: Callable[[], datetime]) -> None:
        self.store = store
        self._slack = slack
        self._now = now

    async def run(self) -> int:
        """One pass: how many expired. A failed edit is logged; the request stays expired."""
        expired = 0
        for found in await self.store.approvals.due():
            if await self.expire(found):
                expired += 1
        return expired

    async def expire(self, found: Approval) -> bool:
        if not await self.store.approvals.expire(found.id):
            return False  # decided meanwhile, by a click or another replica
        log.info(
            "approval request #%s (%s on %s by %s) expired", found.id, found.verb, found.model_id, found.requested_by
        )
        await self.edit(found, expired_head(found.expires_at))
        return True

    async def edit(self, found: Approval, head: tuple[str, str], below: list[Block] | None = None) -> bool:
        """The request's message edited to say how it ended; False when it could not be."""
        card = read_card(json.dumps(found.card))
        if card is None or not found.ts or self._slack is None:
            return False
        verb, target, shown = card
        message = decided(verb, target, shown, requester=found.requested_by, head=head, below=below or [])
        try:
            await self._slack.chat_update(channel=found.channel_id, ts=found.ts, **message.as_kwargs())
        except Exception as exc:  # noqa: BLE001 - the record stands; the clicker is told instead
            log.warning("could not edit approval request #%s in %s: %s", found.id, found.channel_id, _error(exc))
            return False
        return True


class ApprovalFlow:
    def __init__(
        self,
        *,
        store: Store,
        slack: AsyncWebClient | None,
        now: Callable[[], datetime],
        ttl: timedelta,
        gate: Gate,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.expiry = Expiry(store=store, slack=slack, now=now)
        self._slack = slack
        self._now = now
        self._gate = gate

    # -- the request ----------------------------------------------------------------

    async def made(
        self, action_id: int, verb: Verb, target: Target, shown: Shown, click: Click, *, override: str = ""
    ) -> Done:
        """The confirming click, claimed and checked: a pending request, posted in the channel (`override`:
        mrkdwn naming the freezes an admin's `--override` acts through, said in the request)."""
        expires = self._now().replace(microsecond=0) + self.ttl
        try:
            approval_id = await self.store.approvals.add(
                NewApproval(
                    team_id=click.team_id,
                    channel_id=click.channel_id,
                    requested_by=click.user_id,
                    verb=verb.name,
                    model_id=target.model_id,
                    deployment_id=target.deployment_id,
                    environment=target.environment,
                    card=json.loads(encode_card(verb.name, target, shown)),
                    reason=shown.reason,
                    expires_at=expires,
                )
            )
        except Exception as exc:  # noqa: BLE001 - nothing was sent, and the user is told
            log.warning("could not record an approval request for %s by %s: %s", verb.name, click.user_id, _error(exc))
            await self._finish(action_id, "unrecorded", "the approval request could not be recorded")
            return Done(buttons.note(NOT_RECORDED), replace=True, action_id=action_id)
        message = request(
            approval_id, verb, target, shown, requester=click.user_id, expires_at=expires, override=override
        )
        ts, error = await self._post(click.channel_id, message)
        if ts is None:
            await self.store.approvals.unposted(approval_id)
            await self._finish(action_id, "unposted", f"approval request #{approval_id}: {error}", approval_id)
            return Done(unposted(error), replace=True, action_id=action_id)
        if not await self._posted(approval_id, click.channel_id, ts):
            await self._finish(
                action_id, "unposted", f"approval request #{approval_id}: its ts not recorded", approval_id
            )
            return Done(buttons.note(TS_LOST), replace=True, action_id=action_id)
        await self._finish(
            action_id, "requested", f"approval request #{approval_id}, until {expires:%Y-%m-%d %H:%M} UTC", approval_id
        )
        log.info(
            "approval request #%s: %s on %s/%s by %s in %s, until %s",
            approval_id,
            verb.name,
            target.model_id,
            target.deployment_id or target.environment,
            click.user_id,
            click.channel_id,
            expires.isoformat(),
        )
        return Done(sent_for_approval(approval_id, expires), replace=True, action_id=action_id)

    async def _posted(self, approval_id: int, channel: str, ts: str) -> bool:
        """Records the request's message; when that fails, the request is `unposted` (it could never be
        approved: a click is checked against that message) and its message says so, if Slack lets it."""
        try:
            await self.store.approvals.posted(approval_id, ts)
            return True
        except Exception as exc:  # noqa: BLE001 - said in the channel and to the requester
            log.warning("could not record approval request #%s's message: %s", approval_id, _error(exc))
        try:
            await self.store.approvals.unposted(approval_id)
        except Exception as exc:  # noqa: BLE001 - pending without a message: never approvable, it expires
            log.warning("could not mark approval request #%s unposted: %s", approval_id, _error(exc))
        try:
            if self._slack is not None:
                await self._slack.chat_update(channel=channel, ts=ts, **buttons.note(TS_LOST_HERE).as_kwargs())
        except Exception as exc:  # noqa: BLE001 - the requester is told; the request cannot be approved anyway
            log.warning("could not edit approval request #%s in %s: %s", approval_id, channel, _error(exc))
        return False

    async def _post(self, channel: str, message: Message) -> tuple[str | None, str]:
        """The request's ts, or None and what Slack said."""
        if self._slack is None or not channel:
            return None, "no channel"
        try:
            answer = await self._slack.chat_postMessage(
                channel=channel, unfurl_links=False, unfurl_media=False, **message.as_kwargs()
            )
        except Exception as exc:  # noqa: BLE001 - said to the requester; nothing was sent
            log.warning("could not post an approval request in %s: %s", channel, _error(exc))
            return None, _error(exc)
        ts = answer.get("ts")
        return (ts, "") if isinstance(ts, str) and ts else (None, "no ts")

    async def _finish(self, action_id: int, outcome: str, reason: str, approval_id: int | None = None) -> None:
        try:
            await self.store.actions.finish(
                action_id, status_code=None, outcome=outcome, reason=reason, answer="", approval_id=approval_id
            )
        except Exception as exc:  # noqa: BLE001 - the approval's own row says it
            log.error("could not record the outcome of action %s (%s): %s", action_id, outcome, _error(exc))

    # -- the decisions --------------------------------------------------------------

    async def approve(self, approval_id: int, user: str, *, ts: str) -> Decided:
        """Another operator's approval on the request's message `ts`: once, in time, then the card runs
        through the gate once."""
        found = await self.store.approvals.get(approval_id)
        early = await self._early(found, user, ts, approving=True)
        if early is not None or found is None:
            return early or Decided(buttons.note(UNKNOWN))
        card = read_card(json.dumps(found.card))
        if card is None:
            log.warning("approval request #%s: its card does not read; nothing sent", found.id)
            return Decided(buttons.note(UNREADABLE))
        if not await self.store.approvals.approve(found.id, by=user):
            return await self._lost(found.id)
        verb, target, shown = card
        click = Click(
            team_id=found.team_id,
            channel_id=found.channel_id,
            user_id=user,
            message_ts=found.ts or "",
            verb=verb.name,
            model_id=target.model_id,
            deployment_id=target.deployment_id,
            environment=target.environment,
            approval_id=found.id,
        )
        log.info("approval request #%s approved by %s (asked by %s)", found.id, user, found.requested_by)
        done = await self._gate(verb, target, shown, click, admin=found.requested_by, key=f"approval-{found.id}")
        if done.action_id is not None:
            await self.store.approvals.ran(found.id, done.action_id)
        else:  # its run could not be claimed (the database refused it): approved, and nothing was sent
            done = Done(buttons.note(NOT_RUN), replace=True)
        edited = await self.expiry.edit(found, approved_head(user, self._now()), below=list(done.message.blocks))
        announce = None if done.outcome is None else (click, verb, target, done.outcome, done.override)
        return Decided(None if edited else done.message, announce)

    async def reject(self, approval_id: int, user: str, *, ts: str) -> Decided:
        """Any operator's rejection (on the request's message `ts`); the requester's own withdraws it.
        Nothing is sent either way."""
        found = await self.store.approvals.get(approval_id)
        early = await self._early(found, user, ts, approving=False)
        if early is not None or found is None:
            return early or Decided(buttons.note(UNKNOWN))
        if not await self.store.approvals.reject(found.id, by=user):
            return await self._lost(found.id)
        log.info("approval request #%s rejected by %s (asked by %s)", found.id, user, found.requested_by)
        head = rejected_head(user, found.requested_by, self._now())
        if await self.expiry.edit(found, head):
            return Decided()
        return Decided(buttons.note(NOT_EDITED))

    async def _early(self, found: Approval | None, user: str, ts: str, *, approving: bool) -> Decided | None:
        """What answers a click before any decision: no such request, a button on another message than
        the request's (a stale one, its id reused: on SQLite ids may be once the table is emptied),
        decided before, expired, one's own."""
        if found is None:
            return Decided(buttons.note(UNKNOWN))
        if found.ts is not None and found.ts != ts:
            log.info("ignored a click on approval request #%s by %s: from another message (%s)", found.id, user, ts)
            return Decided(buttons.note(NOT_OPEN))
        if found.state != PENDING:
            log.info("ignored a click on approval request #%s by %s: already %s", found.id, user, found.state)
            return Decided(_already(found))
        if self._now() > found.expires_at:
            await self.expiry.expire(found)
            return Decided(buttons.note(already("expired", None)))
        if approving and user == found.requested_by:
            log.info("refused approval request #%s to %s: they asked for it", found.id, user)
            return Decided(buttons.note(OWN))
        return None

    async def _lost(self, approval_id: int) -> Decided:
        """The conditional update found it decided: a click or a replica came first, or it just expired."""
        found = await self.store.approvals.get(approval_id)
        if found is None:
            return Decided(buttons.note(UNKNOWN))
        if found.state == PENDING:  # past its end this very moment: the pass (or the next click) edits it
            return Decided(buttons.note(already("expired", None)))
        return Decided(_already(found))


def _already(found: Approval) -> Message:
    said = already(found.state, found.decided_by)
    return Message(text=said, blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": said}}])


def _error(exc: Exception) -> str:
    """What Slack said (its error code), else the exception's kind: never a token or a body."""
    response = getattr(exc, "response", None)
    error = response.get("error") if response is not None and hasattr(response, "get") else None
    return str(error) if isinstance(error, str) else type(exc).__name__
