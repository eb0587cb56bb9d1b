"""Pure Block Kit for approval requests (APPROVAL_REQUIRED): the request in the channel, with Approve
and Reject; the same message edited once it is decided (approved and what Baseten answered, rejected,
withdrawn, expired); and the short answers to the people who click. No I/O.

The request says what will happen (the verb's sentence), what the card showed when it was asked
(the approval acts only while that still holds), who asked, the reason typed with it, and until when
another operator may approve it. Its buttons carry only the request's id: everything else is read
from the database at the click.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from bot.actions.buttons import mention
from bot.actions.checks import Shown, role_words
from bot.actions.verbs import Target, Verb
from bot.domain.status import emoji
from bot.render.cards import Block, Message, context_block, section_block
from bot.render.dates import stamp
from bot.render.text import escape, mrkdwn, plain

APPROVE = "approval_approve"
REJECT = "approval_reject"
_ID = re.compile(r"[0-9]{1,12}")

OWN = (
    "You asked for this, so another operator must approve it; nothing was sent. "
    "Reject withdraws it, if you no longer want it."
)
UNKNOWN = "The bot knows no such approval request; nothing was sent."


def read_id(value: object) -> int | None:
    """An Approve or Reject button's value back to the request's id; None for anything the bot did not write."""
    return int(value) if isinstance(value, str) and _ID.fullmatch(value) else None


def _what(target: Target) -> str:
    return f"`{mrkdwn(target.label, 60)}` of *{mrkdwn(target.model_name or target.model_id, 60)}*"


def _asked(verb: Verb, target: Target, shown: Shown, requester: str) -> list[Block]:
    """What was asked, by whom, why, and what the card showed then (mrkdwn throughout)."""
    head = f":raised_hand: *Approval needed*: {mention(requester)} asks to *{escape(verb.label)}* {_what(target)}"
    if not verb.needs_deployment or verb.name in ("promote", "rollback"):
        head += f" in `{mrkdwn(target.environment, 64)}`"
    status = f"Status when asked: {emoji(shown.status)} `{mrkdwn(shown.status, 40)}`"
    if verb.needs_deployment:
        status += f" · {escape(role_words(shown.role))}"
    if shown.min_replica is not None:
        status += f" · min replicas `{shown.min_replica}`"
    reason = f"Reason: “{mrkdwn(shown.reason, 300)}”" if shown.reason else "No reason given."
    return [section_block(head), section_block("\n".join([mrkdwn(verb.does(target), 600), status, reason]))]


def _text(verb: Verb, target: Target, requester: str) -> str:
    return (
        f"{mention(requester)} asks to {plain(verb.label.lower(), 40)} {plain(target.label, 60)} of "
        f"{plain(target.model_name or target.model_id, 60)}"
    )


def request(
    approval_id: int,
    verb: Verb,
    target: Target,
    shown: Shown,
    *,
    requester: str,
    expires_at: datetime,
    override: str = "",
) -> Message:
    """The request as posted in the channel: Approve (after Slack's confirm dialog) and Reject; `override`
    (mrkdwn): the freezes an admin's `--override` acts through (who froze them, why, until when), said
    so that the approver knows, and the only ones it acts through."""
    value = str(approval_id)
    approve: Block = {
        "type": "button",
        "action_id": APPROVE,
        "text": {"type": "plain_text", "text": "Approve"},
        "value": value,
        "style": "primary",
        "confirm": {
            "title": {"type": "plain_text", "text": "Approve?"},
            "text": {"type": "plain_text", "text": plain(verb.does(target), 300)},
            "confirm": {"type": "plain_text", "text": f"Approve: {verb.label}"[:30]},
            "deny": {"type": "plain_text", "text": "Cancel"},
        },
    }
    reject: Block = {
        "type": "button",
        "action_id": REJECT,
        "text": {"type": "plain_text", "text": "Reject"},
        "value": value,
    }
    through = [section_block(f"{override}\nApproved, it acts through this freeze (and no other).")] if override else []
    blocks = [
        *_asked(verb, target, shown, requester),
        *through,
        context_block(
            f"Another operator (not {mention(requester)}) may approve it until {stamp(expires_at)}; then it "
            "expires and does nothing. Approved, it runs once, and only if what it shows still holds. "
            f"Request #{approval_id}."
        ),
        {"type": "actions", "elements": [approve, reject]},
    ]
    return Message(text=f"Approval needed: {_text(verb, target, requester)}", blocks=blocks)


def decided(
    verb: Verb, target: Target, shown: Shown, *, requester: str, head: tuple[str, str], below: Sequence[Block] = ()
) -> Message:
    """The request edited once decided: what was asked, without its buttons, then `head` (mrkdwn, and
    its plain text for the notification) and `below` (the outcome's blocks)."""
    rich, said = head
    blocks = [*_asked(verb, target, shown, requester), section_block(rich), *below]
    blocks[0] = section_block(
        f":ballot_box_with_check: Approval request: {mention(requester)} asked to *{escape(verb.label)}* "
        f"{_what(target)}"
    )
    return Message(text=f"{said}: {_text(verb, target, requester)}", blocks=blocks)


def approved_head(by: str, at: datetime) -> tuple[str, str]:
    return f":white_check_mark: Approved by {mention(by)} {stamp(at)}. What the bot did:", f"Approved by {mention(by)}"


def rejected_head(by: str, requester: str, at: datetime) -> tuple[str, str]:
    if by == requester:
        rich = f":leftwards_arrow_with_hook: Withdrawn by {mention(by)}, who asked, {stamp(at)}. Nothing was sent."
        return rich, f"Withdrawn by {mention(by)}"
    return f":no_entry_sign: Rejected by {mention(by)} {stamp(at)}. Nothing was sent.", f"Rejected by {mention(by)}"


def expired_head(expires_at: datetime) -> tuple[str, str]:
    return f":hourglass: Expired {stamp(expires_at)} without an approval. Nothing was sent.", "Expired"


def already(state: str, by: str | None) -> str:
    """The answer to a click on a request decided before (a double click, a redelivery, a late click)."""
    who = f" by {mention(by)}" if by else ""
    if state == "expired":
        return "This request expired without an approval; nothing was sent."
    if state == "unposted":
        return "This request was never posted; nothing was sent."
    return f"This request was already {escape(state)}{who}; nothing more was sent."


def sent_for_approval(approval_id: int, expires_at: datetime) -> Message:
    """Replaces the requester's confirmation card: the request is in the channel."""
    rich = (
        f":raised_hand: Sent for approval (request #{approval_id}): it needs a second operator "
        "(APPROVAL_REQUIRED). The request is in this channel; another operator may approve it until "
        f"{stamp(expires_at)}. Nothing has been sent to Baseten yet."
    )
    text = f"Sent for approval (request #{approval_id}); nothing has been sent to Baseten yet."
    return Message(text=text, blocks=[section_block(rich)])


def unposted(error: str) -> Message:
    """The request could not be posted: nobody could approve it, so it is not made."""
    said = f" (Slack said `{mrkdwn(error, 60)}`)" if error else ""
    rich = (
        f":x: This action needs a second operator's approval (APPROVAL_REQUIRED), and the bot could not post the "
        f"request in this channel{said}. Nothing was sent. Invite the bot here, or ask from a channel it is in."
    )
    text = "The bot could not post the approval request in this channel; nothing was sent."
    return Message(text=text, blocks=[section_block(rich)])
