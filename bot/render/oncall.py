"""Pure Block Kit for on call (issue 26): the Acknowledge button, a reminder, a notice redrawn once
acknowledged or recovered, the line in its thread, and the answers to a click."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from bot.domain.alarms import DELETED, RECOVERED, Alarm
from bot.domain.changes import Change
from bot.domain.ids import USER_ID
from bot.render.cards import Block, Message, card_actions, context_block, duration, section_block
from bot.render.dates import stamp
from bot.render.text import NAME, mrkdwn, plain

ACK_ACTION = "ack_alarm"  # its value: the alarm (the failure notice's delivery id)
# a reminder's detail (bot.oncall.plan): which alarm, which reminder of how many, since when, which thread
ALARM, NTH, OF, SINCE, THREAD = "alarm", "n", "max", "since", "thread_ts"


def ack_button(delivery_id: int) -> Block:
    return {
        "type": "button",
        "action_id": ACK_ACTION,
        "text": {"type": "plain_text", "text": "Acknowledge"},
        "style": "primary",
        "value": str(delivery_id),
    }


def alarm_of(value: object) -> int | None:
    """The alarm an Acknowledge button names, or None when its value is not one."""
    text = str(value or "")
    return int(text) if text.isdigit() and len(text) <= 18 else None


def mention(user: str | None) -> str:
    """`<@U123>` for a Slack user id; anything else is not put in mrkdwn."""
    return f"<@{user}>" if user and USER_ID.fullmatch(user) else "someone"


def hhmm(at: datetime) -> str:
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return f"{at:%H:%M} UTC"


def reminder(change: Change, *, model_name: str, now: datetime, ack: bool) -> Message:
    """`Reminder 2 of 8: MODEL · DEPLOYMENT still FAILED for 1h 4m, not acknowledged`, with Acknowledge."""
    detail = change.detail
    n, of = int(detail.get(NTH) or 1), int(detail.get(OF) or 1)
    since = _since(detail.get(SINCE)) or change.old_since or change.at
    took = duration(now - since)
    last = n >= of
    tail = " This is the last reminder." if last else ""
    p_model, p_dep = plain(model_name or change.model_id, NAME), plain(change.deployment_name or change.deployment_id)
    m_model, m_dep = mrkdwn(model_name or change.model_id, NAME), mrkdwn(change.deployment_name or change.deployment_id)
    text = (
        f"Reminder {n} of {of}: {p_model} · {p_dep} still {plain(change.new_status, 40)} for {took}, not acknowledged"
    )
    rich = (
        f":alarm_clock: *Reminder {n} of {of}*: *{m_model}* · *{m_dep}* still `{mrkdwn(change.new_status, 40)}` "
        f"for {took}, not acknowledged.{tail}"
    )
    extra = [ack_button(int(detail[ALARM]))] if ack and isinstance(detail.get(ALARM), int) else []
    blocks = [section_block(rich), card_actions(change.model_id, change.deployment_id, shareable=False, extra=extra)]
    return Message(text=text + ("; the last reminder" if last else ""), blocks=blocks)


def _since(raw: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None


def without_ack(message: Message) -> Message:
    """The same message without its Acknowledge button (an actions block left empty goes)."""
    blocks: list[Block] = []
    for block in message.blocks:
        if block.get("type") == "actions":
            elements = [e for e in block.get("elements", []) if e.get("action_id") != ACK_ACTION]
            if not elements:
                continue
            block = {**block, "elements": elements}
        blocks.append(block)
    return replace(message, blocks=blocks)


def closed(
    notice: Message,
    *,
    acked_by: str | None,
    acked_at: datetime | None,
    ended: tuple[str, str, datetime] | None = None,
) -> Message:
    """A failure notice redrawn once acknowledged (who, when), or ended (`ended`: why, the status now,
    when; `recovered` or `deleted`): without Acknowledge, with a line saying so."""
    parts = []
    if acked_by is not None and acked_at is not None:
        parts.append(f":white_check_mark: Acknowledged by {mention(acked_by)} at {stamp(acked_at, time_only=True)}")
    if ended is not None:
        why, status, at = ended
        said = "deleted" if why == "deleted" else f"recovered (now `{mrkdwn(status, 40)}`)"
        parts.append(f"{said} at {stamp(at, time_only=True)}")
    drawn = without_ack(notice)
    if not parts:
        return drawn
    line = " · ".join(parts)
    return replace(drawn, blocks=[*drawn.blocks, context_block(line[:1].upper() + line[1:])])


def ack_line(user: str, *, reminded: bool) -> Message:
    """The thread line of an acknowledgement."""
    text = f"{mention(user)} acknowledged this" + ("; reminders stopped" if reminded else "")
    return Message(text=text, blocks=[section_block(f":white_check_mark: {text}.")])


def already(user: str | None, at: datetime | None) -> str:
    when = f" at {hhmm(at)}" if at is not None else ""
    return f"This failure was already acknowledged by {mention(user)}{when}."


def ended(why: str | None, status: str | None, at: datetime | None) -> str:
    """A click on an alarm that ended: why there is nothing to acknowledge."""
    when = f" at {hhmm(at)}" if at is not None else ""
    if why == "recovered":
        return f"It recovered{when} (now `{mrkdwn(status or '?', 40)}`); there is nothing to acknowledge."
    if why == "deleted":
        return f"The deployment was deleted{when}; there is nothing to acknowledge."
    if why == "superseded":
        return "A newer failure notice replaced this one; acknowledge that one."
    return "This channel no longer follows it; there is nothing to acknowledge."


def with_alarm(message: Message, alarm: Alarm | None, *, ack: bool) -> Message:
    """A failure notice's message with its alarm's state: Acknowledge while open and unacknowledged (`ack`:
    the button is shown at all); who acknowledged it, and whether it recovered or went, once so."""
    if alarm is None:
        return message
    ending = None
    if alarm.ended_why in (RECOVERED, DELETED) and alarm.ended_at is not None:
        ending = (alarm.ended_why, alarm.now_status or "?", alarm.ended_at)
    if alarm.acked_by is not None or ending is not None:
        return closed(message, acked_by=alarm.acked_by, acked_at=alarm.acked_at, ended=ending)
    drawn = without_ack(message)
    if alarm.ended_at is not None or not ack:
        return drawn
    button = ack_button(alarm.delivery_id)
    blocks = list(drawn.blocks)
    for i, block in enumerate(blocks):
        if block.get("type") == "actions":
            blocks[i] = {**block, "elements": [button, *block.get("elements", [])]}
            return replace(drawn, blocks=blocks)
    return replace(drawn, blocks=[*blocks, {"type": "actions", "elements": [button]}])
