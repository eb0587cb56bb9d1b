"""Delivering a promotion step: the live message first, then edits in place and replies in its thread.

A step's delivery comes from the outbox like any notice (claimed, in its channel's order,
marked sent once). What is sent depends on whether the channel already has the promotion's
message (bot.store.promotion_messages):

- none yet: the message is posted, showing the promotion as it is now, and its ts is
  recorded with the delivery in one transaction;
- one: it is edited to show this step (`chat.update`: idempotent, so it goes first and a
  retry may repeat it), then the step is posted as a reply in its thread, broadcast to the
  channel only when the promotion ends. A message Slack no longer has is posted anew;
- the end, for a channel that does not hear it (muted, filtered: a QUIET detail, see
  bot.polling.decide): its message, if it has one, is edited to the end state without
  controls, and nothing is posted.

Slack's errors propagate to the notifier, which retries, pauses or gives up as for any notice.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.errors import BLOCK_ERRORS, slack_error
from bot.domain.changes import QUIET, Change
from bot.render.cards import Block, Message
from bot.render.guard import live_blocks
from bot.render.promotions import live_message, step_reply
from bot.store import Store
from bot.store.outbox import Pending
from bot.store.promotion_messages import LiveMessage

GONE = frozenset({"message_not_found", "thread_not_found", "cant_update_message", "invalid_thread_ts"})


@dataclass(frozen=True)
class Sent:
    """What Slack accepted for one step: a new live message (ts), or a reply (ts) under `parent`."""

    ts: str | None
    parent: str | None
    started_by: str | None
    quiet: bool = False  # a quiet end: at most an edit, nothing posted


_LOCKS: weakref.WeakValueDictionary[tuple[str, str, str], asyncio.Lock] = weakref.WeakValueDictionary()


def live_lock(team_id: str, channel_id: str, key: str) -> asyncio.Lock:
    """One promotion's live message in one channel is edited by one writer at a time in this process:
    a step's delivery here, or the promotion guard's refresh (bot.guard.job), which reads the
    environment again under the lock, so it never paints an older state over a newer step."""
    lock = _LOCKS.get((team_id, channel_id, key))
    if lock is None:
        lock = _LOCKS[(team_id, channel_id, key)] = asyncio.Lock()
    return lock


async def send(
    slack: AsyncWebClient, store: Store, p: Pending, *, buttons: Callable[[Change, str], list[Block]] | None = None
) -> Sent:
    """The Slack side of one step; raises SlackApiError (or a network error) as Slack answered.
    `buttons`: draws the promotion's controls the message carries (OPERATOR_USER_IDS is set)."""
    key = str(p.transition.detail.get("key") or "")
    async with live_lock(p.team_id, p.channel_id, key):
        return await _send(slack, store, p, key, buttons)


async def _send(
    slack: AsyncWebClient, store: Store, p: Pending, key: str, buttons: Callable[[Change, str], list[Block]] | None
) -> Sent:
    change = p.transition
    controls = buttons(change, p.model_name) if buttons else []
    live = await store.promotions.find(p.team_id, p.channel_id, key) if key else None
    if change.detail.get(QUIET):
        return await _end_quietly(slack, p, live, await guard_blocks(store, p))
    if live is None:
        actor = change.detail.get("actor")
        return await _post_live(slack, p, None if actor is None else str(actor), controls, await guard_blocks(store, p))
    guard = await guard_blocks(store, p)
    message = live_message(change, model_name=p.model_name, started_by=live.started_by, actions=controls, guard=guard)
    try:
        await edit(slack, p.channel_id, live.ts, message)
    except SlackApiError as exc:
        if slack_error(exc) not in GONE:
            raise
        return await _post_live(
            slack, p, live.started_by, controls, guard
        )  # deleted in Slack: a new one takes its place
    reply = step_reply(change, model_name=p.model_name)
    response = await slack.chat_postMessage(
        channel=p.channel_id,
        thread_ts=live.ts,
        reply_broadcast=bool(change.detail.get("final")),
        unfurl_links=False,
        unfurl_media=False,
        **reply.as_kwargs(),
    )
    return Sent(_ts(response.data), live.ts, live.started_by)


async def _end_quietly(slack: AsyncWebClient, p: Pending, live: LiveMessage | None, guard: list[Block]) -> Sent:
    """A muted or filtered end: the channel's live message, if any, shows the end state without
    controls; no reply, nothing new in the channel. A message Slack no longer has stays gone."""
    if live is not None:
        message = live_message(p.transition, model_name=p.model_name, started_by=live.started_by, guard=guard)
        try:
            await edit(slack, p.channel_id, live.ts, message)
        except SlackApiError as exc:
            if slack_error(exc) not in GONE:
                raise
    return Sent(None, None, None, quiet=True)


async def guard_blocks(store: Store, p: Pending) -> list[Block]:
    """The promotion guard's part of the channel's live message: its latest reading of this promotion,
    judged by the channel's own guard; nothing when the guard is off or has not compared it."""
    change = p.transition
    key, environment = str(change.detail.get("key") or ""), str(change.detail.get("environment") or "")
    if not key or not environment or p.subscription_id is None:
        return []
    spec = await store.subscriptions.guard_of(p.subscription_id)
    if spec is None or spec.off:
        return []
    check = await store.guard.find(change.model_id, environment, key)
    return [] if check is None else live_blocks(check, spec)


async def record(store: Store, p: Pending, sent: Sent) -> None:
    """Marks the step sent; a new live message records its ts in the same transaction."""
    change = p.transition
    key = str(change.detail.get("key") or "")
    if sent.parent is None and sent.ts is not None and key and not sent.quiet:
        environment = str(change.detail.get("environment") or "")
        await store.promotions.posted(p, ts=sent.ts, key=key, environment=environment, started_by=sent.started_by)
    else:
        await store.outbox.mark_sent(p, ts=sent.ts, thread_ts=sent.parent)


async def _post_live(
    slack: AsyncWebClient, p: Pending, started_by: str | None, controls: list[Block], guard: list[Block]
) -> Sent:
    message = live_message(p.transition, model_name=p.model_name, started_by=started_by, actions=controls, guard=guard)
    try:
        response = await slack.chat_postMessage(
            channel=p.channel_id, unfurl_links=False, unfurl_media=False, **message.as_kwargs()
        )
    except SlackApiError as exc:
        if slack_error(exc) not in BLOCK_ERRORS:
            raise
        response = await slack.chat_postMessage(channel=p.channel_id, text=message.text)
    return Sent(_ts(response.data), None, started_by)


async def edit(slack: AsyncWebClient, channel: str, ts: str, message: Message) -> None:
    """Edits a live message in place; blocks Slack refuses leave it plain text (as a post would)."""
    try:
        await slack.chat_update(channel=channel, ts=ts, **message.as_kwargs())
    except SlackApiError as exc:
        if slack_error(exc) not in BLOCK_ERRORS:
            raise
        await slack.chat_update(channel=channel, ts=ts, text=message.text, blocks=[])


def _ts(data: object) -> str | None:
    raw = data.get("ts") if isinstance(data, dict) else None
    return raw if isinstance(raw, str) else None
