"""The digest command: set, replace or end this channel's digest (sent by bot.delivery.digests).

Changes are announced in the channel; what changes nothing is said only to the person who asked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.commands.typed import Digest
from bot.domain.digests import Schedule, describe, next_due
from bot.render import cards
from bot.render.cards import Message
from bot.render.dates import stamp
from bot.render.text import escape, mrkdwn
from bot.store import Store
from bot.store.digests import DigestView

Answer = tuple[Message, str]


async def change_digest(
    cmd: Digest,
    *,
    store: Store,
    team_id: str,
    channel_id: str,
    user_id: str,
    now: Callable[[], datetime],
    check_channel: Callable[[str], Awaitable[None]],
) -> Answer:
    """`digest off`, or a new schedule (replacing the channel's one digest, and saying so)."""
    who = f"<@{escape(user_id)}>"
    if cmd.schedule is None:
        ended = await store.digests.off(team_id, channel_id)
        if ended is None:
            return cards.answer("This channel has no digest; nothing changed."), "ephemeral"
        said = f":newspaper: {who} turned off this channel's digest ({escape(describe(ended.schedule))})."
        return cards.lines_message([said], "Turned off this channel's digest"), "in_channel"
    await check_channel(channel_id)  # a private channel the bot is not in: it could never post the digest
    schedule = cmd.schedule
    before = await store.digests.set(team_id, channel_id, schedule, user_id=user_id)
    first = f"The next one: {stamp(next_due(schedule, now()))}."
    if before is not None and before.schedule == schedule:
        same = f"This channel's digest is already {escape(describe(schedule))}; nothing changed. {first}"
        return cards.answer(same), "ephemeral"
    if before is not None:
        said = (
            f":newspaper: {who} changed this channel's digest: {escape(describe(before.schedule))} → "
            f"{escape(describe(schedule))}. {first}"
        )
        return cards.lines_message([said], "Changed this channel's digest"), "in_channel"
    said = (
        f":newspaper: {who} set a digest for this channel, {escape(describe(schedule))}: what changed in what it "
        f"watches (deploys, failures, recoveries, promotions, time spent failing) and the largest movers. {first}"
    )
    return cards.lines_message([said], "Set a digest for this channel"), "in_channel"


def digest_line(view: DigestView, now: datetime) -> str:
    """`list`'s line: `Digest: daily at 09:00 Europe/Berlin, next …`, and the last one when it was not sent."""
    schedule: Schedule = view.schedule
    said = f":newspaper: *Digest*: {escape(describe(schedule))}, next {stamp(next_due(schedule, now))}"
    if view.last_error:
        said += f" · the last one was not delivered: Slack said `{mrkdwn(view.last_error, 60)}`"
    elif view.sent_at is not None:
        said += f" · last sent {stamp(view.sent_at)}"
    return said
