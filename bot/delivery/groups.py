"""A burst of notices for one channel sent as one message (issue 26), then each notice as a line.

The notifier asks `take` at each step of a channel's due rows: a row of a group already formed
(after a restart, or behind a retried line) continues its group; a run of groupable rows at the head
of the channel goes as a new group once the channel is in a burst (bot.domain.groups.burst_until)
and its wait is over; meanwhile the channel waits, its later rows behind the burst. Otherwise the
row goes on its own.

A group is sent in steps that each survive a restart: formed in one transaction (bot.store.groups);
its message claimed, posted unless it already was, its ts recorded at once; then each row claimed,
posted and marked sent like any notice (through the outbox's mark_sent). A restart finds the group
with its ts and its remaining rows pending: it posts only those. A message Slack refuses for a while
holds the group (the first row is retried, so the channel waits behind it); refused for good, the
group's rows go without it (each in its thread, or in the channel) rather than not at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import takewhile
from typing import Protocol

from slack_sdk.errors import SlackApiError

from bot.delivery.errors import BLOCK_ERRORS, slack_error
from bot.delivery.report import Report
from bot.domain.groups import MIN_GROUP, burst_until, groupable
from bot.render.cards import Message
from bot.render.groups import group_message
from bot.store import Store
from bot.store.outbox import Pending

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Take:
    """What the notifier sends next: `rows` as group `group_id`; no rows: nothing now (the channel waits)."""

    group_id: int
    rows: list[Pending]


WAIT = Take(0, [])


class Lines(Protocol):
    """What a group needs of the notifier: its lines are notices, sent and marked as the notifier does."""

    async def line(self, p: Pending, report: Report, *, group_ts: str | None) -> str: ...

    async def say(self, p: Pending, message: Message) -> dict[str, object]: ...

    def permanent(self, exc: SlackApiError) -> bool: ...

    async def failed(self, p: Pending, exc: BaseException, report: Report) -> str: ...

    async def paced(self, p: Pending, *, wait: bool = True) -> bool: ...


class Bursts:
    def __init__(
        self,
        store: Store,
        *,
        now: Callable[[], datetime],
        over: int,
        wait: timedelta,
        holder: str,
        claim_for: timedelta,
        on_result: Callable[[str], None] | None = None,
    ) -> None:
        self._store = store
        self._now = now
        self._over = over
        self._wait = wait
        self._holder = holder
        self._claim_for = claim_for
        self._on_result = on_result

    async def take(self, rows: Sequence[Pending], *, fresh: bool) -> Take | None:
        """The group `rows` (a channel's due rows, in order) start with; None: the first goes alone.

        `fresh`: the rows were just read from the outbox. A burst found in rows read earlier (the
        channel sent some of them since) waits for the next pass, which reads the whole of it."""
        head = rows[0]
        if head.group_id is not None:
            return Take(head.group_id, list(takewhile(lambda r: r.group_id == head.group_id, rows)))
        run = list(takewhile(lambda r: r.group_id is None and groupable(r.transition), rows))
        if len(run) < MIN_GROUP:
            return None
        window = await self._store.groups.window(head.team_id, head.channel_id, wait=self._wait)
        until = burst_until(window, over=self._over, wait=self._wait)
        if until is None:
            return None
        if not fresh or self._now() < until:
            return WAIT
        group_id = await self._store.groups.form(head.team_id, head.channel_id, [r.id for r in run])
        if group_id is None:
            return WAIT  # a row changed under this pass (another replica): the next pass reads again
        log.info("%d notices for channel %s go as one message (group %d)", len(run), head.channel_id, group_id)
        return Take(group_id, [replace(r, group_id=group_id) for r in run])  # lines: no broadcast

    async def send(self, lines: Lines, take: Take, report: Report) -> str:
        """The group's message unless it went already, then each row's line under it, in order."""
        state = await self._store.groups.state(take.group_id)
        group_ts = None if state is None else state.ts  # a group pruned, or its message given up: lines alone
        if state is not None and state.sent_at is None:
            if not await self._store.groups.claim(take.group_id, holder=self._holder, for_=self._claim_for):
                return "stop"  # another replica posts it: the channel waits
            outcome, group_ts = await self._message(lines, take, report)
            if outcome == "stop":
                return outcome
            if not await lines.paced(take.rows[0]):
                return "stop"
        for i, row in enumerate(take.rows):
            if i and not await lines.paced(row):
                return "stop"
            if await lines.line(row, report, group_ts=group_ts) == "stop":
                return "stop"
        return "ok"

    async def _message(self, lines: Lines, take: Take, report: Report) -> tuple[str, str | None]:
        """Posts the claimed group's message and records its ts at once; ("stop", None) when it did not go."""
        first, groups = take.rows[0], self._store.groups
        message = group_message([(r.transition, r.model_name) for r in take.rows])
        try:
            try:
                response = await lines.say(first, message)
            except SlackApiError as exc:
                if slack_error(exc) not in BLOCK_ERRORS:
                    raise
                response = await lines.say(first, Message(text=message.text))
        except asyncio.CancelledError:
            await asyncio.shield(groups.release(take.group_id))  # a shutdown cut it: the next start posts it
            raise
        except Exception as exc:  # noqa: BLE001 - Slack's refusals and network failures, as for a notice
            await groups.release(take.group_id)
            if isinstance(exc, SlackApiError) and lines.permanent(exc):
                log.error("Slack refused a group message for %s (%s): its notices go alone", first.channel_id, exc)
                await groups.posted(take.group_id, ts=None)
                return "ok", None
            return await lines.failed(first, exc, report), None  # the first row waits, the channel behind it
        raw = response.get("ts")
        ts = raw if isinstance(raw, str) else None
        await asyncio.shield(groups.posted(take.group_id, ts=ts))  # Slack has it: never posted again
        if self._on_result is not None:
            self._on_result("group")
        return "ok", ts
