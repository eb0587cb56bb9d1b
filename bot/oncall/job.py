"""The on-call pass (issue 26), on the lease holder every few seconds.

1. open alarms whose deployment recovered (or went), or whose subscription went, end (bot.oncall.plan,
   from the poller's snapshots: no Baseten request);
2. each reminder due is queued through the outbox with its alarm's count moved, in one transaction
   (bot.store.alarms.remind): once each, in order with the channel's other notices, across restarts and
   replicas;
3. an acknowledged notice whose deployment recovered is edited to say so, once; a failed edit is tried
   again for a few passes, then given up (logged).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.parents import now_showing
from bot.domain.alarms import DELETED, RECOVERED, Alarm
from bot.oncall.plan import due, endings
from bot.render.cards import Message
from bot.render.oncall import closed
from bot.store import Store
from bot.store.outbox import Pending

log = logging.getLogger(__name__)
EDIT_TRIES = 3  # passes that try to edit an acknowledged notice that recovered, before giving up


class OnCallJob:
    def __init__(
        self, *, store: Store, slack: AsyncWebClient, now: Callable[[], datetime], draw: Callable[[Pending], Message]
    ) -> None:
        """`draw`: a sent notice drawn again as the notifier draws it (bot.delivery.notifier.Notifier.draw)."""
        self._store = store
        self._slack = slack
        self._now = now
        self._draw = draw
        self._failed_edits: dict[int, int] = {}

    async def run(self) -> int:
        """One pass; the number of reminders queued."""
        alarms = await self._store.alarms.live()
        if not alarms:
            return 0
        watchers = {w.subscription_id: w for w in await self._store.subscriptions.watchers()}
        model_ids = sorted({a.model_id for a in alarms})
        snaps, models = await self._store.seen(model_ids)
        states = await self._store.environments.memory(model_ids)
        envs = {m: {name: s.current_id for name, s in by_env.items()} for m, by_env in states.items()}
        ends = endings(alarms, snaps, watchers)
        if ends:
            await self._store.alarms.end(ends)
            for delivery_id, why, status in ends:
                log.info("alarm %d ended: %s%s", delivery_id, why, f" (now {status})" if status else "")
        ended = {e[0] for e in ends}
        queued = 0
        for alarm, outgoing in due(
            [a for a in alarms if a.delivery_id not in ended], watchers, snaps, models, envs, now=self._now()
        ):
            if await self._store.alarms.remind(alarm, outgoing):
                queued += 1
                log.info("reminder %d for alarm %d in %s", alarm.reminders + 1, alarm.delivery_id, alarm.channel_id)
        if ends or any(a.ended_at is not None for a in alarms):
            await self._edit_recovered()
        return queued

    async def _edit_recovered(self) -> None:
        for alarm in await self._store.alarms.live():
            if alarm.ended_at is None or alarm.acked_by is None or alarm.edited:
                continue
            if await self._edit(alarm):
                await self._store.alarms.mark_edited(alarm.delivery_id)
                self._failed_edits.pop(alarm.delivery_id, None)
                continue
            tries = self._failed_edits[alarm.delivery_id] = self._failed_edits.get(alarm.delivery_id, 0) + 1
            if tries >= EDIT_TRIES:
                log.warning("gave up editing the notice of alarm %d to say it recovered", alarm.delivery_id)
                await self._store.alarms.mark_edited(alarm.delivery_id)
                self._failed_edits.pop(alarm.delivery_id, None)

    async def _edit(self, alarm: Alarm) -> bool:
        """The acknowledged notice, drawn again saying who acknowledged it and that it recovered."""
        notice = await self._store.alarms.notice(alarm.delivery_id)
        if notice is None or alarm.ts is None:
            return True  # nothing to edit any more
        # a notice that started a thread with replies shows the thread's latest change: kept, not drawn over
        drawn = await now_showing(self._store, notice, alarm.ts if alarm.thread_ts is None else None, self._draw)
        return await edit_notice(self._slack, alarm, drawn)


async def edit_notice(slack: AsyncWebClient, alarm: Alarm, drawn: Message) -> bool:
    """Edits a failure notice to say who acknowledged it and whether it recovered; False when Slack refused."""
    ending = None
    if alarm.ended_why in (RECOVERED, DELETED) and alarm.ended_at is not None:
        ending = (alarm.ended_why, alarm.now_status or "?", alarm.ended_at)
    message = closed(drawn, acked_by=alarm.acked_by, acked_at=alarm.acked_at, ended=ending)
    try:
        await slack.chat_update(channel=alarm.channel_id, ts=alarm.ts or "", **message.as_kwargs())
    except Exception as exc:  # noqa: BLE001 - Slack refused or is unreachable: the caller says what follows
        log.info("could not edit the failure notice of alarm %d: %s", alarm.delivery_id, type(exc).__name__)
        return False
    return True
