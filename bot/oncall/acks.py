"""A click on Acknowledge (issue 26): who may, once, and what the channel then sees.

With ACK_OPERATORS_ONLY, only operators (OPERATOR_USER_IDS, user groups read from Slack) may; anyone
else gets a refusal only they see. The first click wins in the store (a conditional update), so a
double click or Slack's redelivery acknowledges once. Then the notice is edited to say who and when
(without the button), a line goes in its thread, and the acknowledgement is logged with the user id.
A click on an alarm acknowledged or ended before is answered, to the clicker only, with why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.parents import now_showing
from bot.domain.alarms import DELETED, RECOVERED, Alarm
from bot.oncall.job import edit_notice
from bot.render.cards import Message
from bot.render.oncall import ack_line, already, ended
from bot.store import Store
from bot.store.outbox import Pending

log = logging.getLogger(__name__)
GONE = "That button can no longer be used: the notice is too old, or was never a failure notice."
NOT_OPERATOR = (
    "Only the bot's operators may acknowledge failures here (ACK_OPERATORS_ONLY is set). "
    "Ask one of them, or whoever runs the bot to add you to OPERATOR_USER_IDS."
)
UNEDITED = "Acknowledged, but Slack would not let the bot edit the notice to say so."


class Operators(Protocol):
    """Who may act (bot.slack.admins.operators)."""

    async def allows(self, user: str) -> bool: ...


class Acknowledger:
    def __init__(
        self,
        *,
        store: Store,
        slack: AsyncWebClient,
        draw: Callable[[Pending], Message],
        operators: Operators,
        operators_only: bool,
    ) -> None:
        self._store = store
        self._slack = slack
        self._draw = draw
        self._operators = operators
        self._operators_only = operators_only

    async def click(self, user: str, alarm_id: int | None, *, channel: str | None = None) -> str | None:
        """Acknowledges the alarm for `user`; returns what only the clicker is told (None: the edited notice
        and its thread line say it all). `channel`: where the button was clicked; an alarm of another
        channel is not acknowledged from it."""
        if alarm_id is None:
            return GONE
        if self._operators_only and not await self._operators.allows(user):
            log.info("refused to acknowledge alarm %d for %s: not an operator (ACK_OPERATORS_ONLY)", alarm_id, user)
            return NOT_OPERATOR
        alarm = await self._store.alarms.get(alarm_id)
        if alarm is None or (channel is not None and channel != alarm.channel_id):
            return GONE
        won = alarm.acked_by is None and alarm.ended_at is None and await self._store.alarms.acknowledge(alarm_id, user)
        alarm = await self._store.alarms.get(alarm_id) or alarm
        if not won:
            return await self._not_now(alarm)
        log.info("alarm %d (%s/%s) acknowledged by %s", alarm_id, alarm.model_id, alarm.deployment_id, user)
        edited = await self._edit(alarm)
        await self._thread_line(alarm, user)
        later = await self._store.alarms.get(alarm_id)
        if later is not None and later.ended_why in (RECOVERED, DELETED):
            # it recovered while this click edited the notice: the on-call pass's edit may be under ours
            edited = await self._edit(later)
        return None if edited else UNEDITED

    async def _not_now(self, alarm: Alarm) -> str:
        """Acknowledged before, or ended: said to the clicker; a notice that recovered loses its button."""
        if alarm.acked_by is not None:
            return already(alarm.acked_by, alarm.acked_at)
        if alarm.ended_why in (RECOVERED, DELETED):
            await self._edit(alarm)
        return ended(alarm.ended_why, alarm.now_status, alarm.ended_at)

    async def _edit(self, alarm: Alarm) -> bool:
        notice = await self._store.alarms.notice(alarm.delivery_id)
        if notice is None or alarm.ts is None:
            return False
        # a notice that started a thread with replies shows the thread's latest change: kept, not drawn over
        drawn = await now_showing(self._store, notice, alarm.ts if alarm.thread_ts is None else None, self._draw)
        return await edit_notice(self._slack, alarm, drawn)

    async def _thread_line(self, alarm: Alarm, user: str) -> None:
        line = ack_line(user, reminded=alarm.remind_seconds is not None)
        try:
            await self._slack.chat_postMessage(
                channel=alarm.channel_id, thread_ts=alarm.thread, unfurl_links=False, **line.as_kwargs()
            )
        except Exception as exc:  # noqa: BLE001 - the acknowledgement stands; the line is a courtesy
            log.info("could not post the acknowledgement of alarm %d: %s", alarm.delivery_id, type(exc).__name__)
