"""Pure: freezes in words, for the refusal of an action, `freezes`, `list`, cards and flagged notices."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain.freezes import Freeze
from bot.domain.ids import USER_ID
from bot.render.cards import Message, context_block
from bot.render.dates import stamp
from bot.render.text import escape, mrkdwn


def who(user: str) -> str:
    return f"<@{user}>" if USER_ID.fullmatch(user) else "someone"


def held(freeze: Freeze, until: datetime) -> str:
    """mrkdwn: `*llama-3-8b in production* is frozen by <@U1> until …: "fixes OOM"`."""
    why = f": “{mrkdwn(freeze.reason, 300)}”" if freeze.reason else " (no reason given)"
    weekly = f", every week {escape(freeze.weekly.words)} {escape(freeze.weekly.tz)}" if freeze.weekly else ""
    return f"*{mrkdwn(freeze.what, 140)}* is frozen by {who(freeze.created_by)} until {stamp(until)}{weekly}{why}"


def refusal(freeze: Freeze, until: datetime, verb_label: str) -> str:
    """mrkdwn: why an action is refused, and the way past it."""
    return (
        f":snowflake: {held(freeze, until)}. {escape(verb_label)} is refused during a freeze; nothing was sent. "
        "An admin may add `--override` to the command to act anyway (recorded and announced)."
    )


def overriding(freeze: Freeze, until: datetime) -> str:
    """mrkdwn: a card's note, and the channel's line, for an admin's `--override`."""
    return f":snowflake: :warning: Overriding a freeze: {held(freeze, until)}. This is recorded and announced."


def recorded(freeze: Freeze, until: datetime) -> str:
    """Plain text, for the action's record: the freeze it acted through, or was refused by."""
    reason = f": {freeze.reason}" if freeze.reason else ""
    return f"freeze #{freeze.id} of {freeze.what} by {freeze.created_by} until {until:%Y-%m-%d %H:%M} UTC{reason}"


def recorded_by(holds: Sequence[tuple[Freeze, datetime]], admin: str) -> str:
    """Plain text, for the action's record: the freezes an admin's `--override` acted through, and that admin
    (for an approved request, its requester, not the approver)."""
    return "; ".join(recorded(*hold) for hold in holds) + f"; overridden by {admin}"


def new_freeze(freeze: Freeze, until: datetime, verb_label: str) -> str:
    """mrkdwn: an override card (or request) whose freeze is not the one holding now: nothing is sent."""
    return (
        f":snowflake: A new freeze holds since this was asked: {held(freeze, until)}. The `--override` was for "
        f"the freeze shown then, not this one, so {escape(verb_label)} is refused; nothing was sent. An admin "
        "may ask again with `--override` to act through it."
    )


def listed(freeze: Freeze, now: datetime) -> str:
    """One line of `freezes`: held now, or when it holds (a weekly one between windows, one not begun)."""
    until = freeze.until(now)
    if until is not None:
        return f":snowflake: {held(freeze, until)} (#{freeze.id})"
    why = f": “{mrkdwn(freeze.reason, 300)}”" if freeze.reason else ""
    if freeze.weekly is not None:
        when = f"every week {escape(freeze.weekly.words)} {escape(freeze.weekly.tz)}"
    else:
        when = f"from {stamp(freeze.starts_at or now)} until {stamp(freeze.ends_at or now)}"
    return f"*{mrkdwn(freeze.what, 140)}*: frozen {when}, set by {who(freeze.created_by)}{why} (#{freeze.id})"


def active_lines(freezes: Sequence[Freeze], now: datetime) -> list[str]:
    """The freezes holding now, one line each (for `list` and the status cards)."""
    return [f":snowflake: {held(f, until)}" for f in freezes if (until := f.until(now)) is not None]


def with_freezes(message: Message, freezes: Sequence[Freeze], now: datetime) -> Message:
    """A card or a list with the freezes holding now beneath it (none: the message as it was)."""
    lines = active_lines(freezes, now)
    if not lines:
        return message
    return Message(text=message.text, blocks=[*message.blocks, context_block("\n".join(lines[:10]))])


def flag_line(frozen: object) -> str | None:
    """mrkdwn: the flag as a notice shows it; None for a detail without one."""
    if not isinstance(frozen, dict):
        return None
    try:
        until = stamp(datetime.fromisoformat(str(frozen.get("until"))))
    except ValueError:
        until = "its end"
    reason = str(frozen.get("reason") or "")
    why = f": “{mrkdwn(reason, 300)}”" if reason else ""
    return (
        f":snowflake: :warning: Seen during the freeze of *{mrkdwn(str(frozen.get('what') or ''), 140)}* "
        f"set by {who(str(frozen.get('by') or ''))} until {until}{why}."
    )
