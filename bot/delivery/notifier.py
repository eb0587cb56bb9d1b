"""Slack delivery of the outbox: one message per pending row, marked sent only after Slack's ok.

Channels are served concurrently and each channel in order (so a thread's parent
exists before its replies), paced to Slack's one message per second per channel.
A notice Slack refused for a while holds back the later ones of its channel until it
goes: the outbox leaves them out of `due()` meanwhile, across passes, restarts and replicas.
A permanent channel error pauses the channel's subscriptions; a workspace error
stops delivery to that workspace (rows stay pending) and is logged once.
A burst for one channel (more than GROUP_OVER notices within GROUP_WAIT_SECONDS) goes out as one
message, each notice a line in its deployment's thread or in that message's (bot.delivery.groups).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import promotions
from bot.delivery.errors import BLOCK_ERRORS, http_status, retry_after_of, slack_error
from bot.delivery.groups import Bursts
from bot.delivery.parents import edit_parent
from bot.delivery.report import Report
from bot.domain.changes import GUARD, PROMOTED, PROMOTION, REMIND, THREAD_AGE, Change, is_alarm, is_failure
from bot.render.cards import Block, Message
from bot.render.notices import notice
from bot.render.oncall import THREAD, ack_button, reminder
from bot.store import Store
from bot.store.outbox import Pending
from bot.store.threads import ThreadInfo

log = logging.getLogger(__name__)

CHANNEL_ERRORS = frozenset({"not_in_channel", "channel_not_found", "is_archived"})
WORKSPACE_ERRORS = frozenset(
    {"invalid_auth", "token_revoked", "account_inactive", "not_authed", "team_access_not_granted"}
)
THREAD_GONE = frozenset({"thread_not_found", "message_not_found", "invalid_thread_ts"})
# A refused notice holds back its channel's later ones, so its retries stay close together:
# 2 s doubling to at most a minute (the SDK already retried the call once). A longer cap made
# a channel wait minutes behind one notice when Slack failed a few calls in a row.
FIRST_BACKOFF = 2.0
MAX_BACKOFF = 60.0
CLAIM = timedelta(minutes=1)  # a claim outlives one send with its retries; serve uses the lease period


class Buttons(Protocol):
    """The action buttons notices and promotion messages carry (bot.actions.buttons, given by the
    composition root when OPERATOR_USER_IDS is set): delivery draws them, and knows no verb."""

    def notice_buttons(self, change: Change, model_name: str) -> list[Block]: ...

    def promotion_buttons(self, change: Change, model_name: str) -> list[Block]: ...


class Notifier:
    def __init__(
        self,
        *,
        slack: AsyncWebClient,
        store: Store,
        now: Callable[[], datetime],
        channel_pace: float = 1.0,
        max_channels: int = 16,
        on_result: Callable[[str], None] | None = None,
        on_recorded: Callable[[float], None] | None = None,
        holder: str = "local",
        claim_for: timedelta = CLAIM,
        buttons: Buttons | None = None,
        group_over: int | None = None,
        group_wait: timedelta = timedelta(seconds=10),
        ack: bool = True,
    ) -> None:
        self.holder = holder
        # failure notices and reminders carry Acknowledge (issue 26); False only when ACK_OPERATORS_ONLY
        # is set and there are no operators, so that nobody could use it
        self._ack = ack
        # GROUP_OVER, GROUP_WAIT_SECONDS; None (tests of single notices): every notice goes on its own
        self._bursts = None
        if group_over is not None:
            self._bursts = Bursts(
                store,
                now=now,
                over=group_over,
                wait=group_wait,
                holder=holder,
                claim_for=claim_for,
                on_result=on_result,
            )
        self._buttons = buttons  # OPERATOR_USER_IDS is set: failure notices carry Retry, Roll back, …
        self._claim_for = claim_for
        self._slack = slack
        self._store = store
        self._now = now
        self._pace = channel_pace
        self._channels = asyncio.Semaphore(max_channels)
        self._disabled: dict[str, str] = {}  # team id -> Slack error
        self._on_result = on_result
        self._on_recorded = on_recorded  # seconds from Slack's ok to the commit of mark_sent
        self._lock = asyncio.Lock()
        self._stopping = False

    @property
    def disabled_workspaces(self) -> dict[str, str]:
        return dict(self._disabled)

    def stop_sending(self) -> None:
        """At shutdown: no new notice is sent from now on; those in flight finish, the rest stay queued."""
        self._stopping = True

    async def deliver_due(self) -> Report:
        """Sends every pending row that is due; one pass at a time per process."""
        report = Report()
        if self._stopping:
            return report
        async with self._lock:
            pending = [p for p in await self._store.outbox.due() if p.team_id not in self._disabled]
            by_channel: dict[tuple[str, str], list[Pending]] = defaultdict(list)
            for p in pending:
                by_channel[(p.team_id, p.channel_id)].append(p)
            await asyncio.gather(*(self._channel(rows, report) for rows in by_channel.values()))
        return report

    async def _channel(self, rows: list[Pending], report: Report) -> None:
        async with self._channels:
            i = 0
            while i < len(rows):
                if not await self.paced(rows[i], wait=i > 0):
                    return
                bursts = self._bursts
                take = None if bursts is None else await bursts.take(rows[i:], fresh=i == 0)
                if take is not None and not take.rows:
                    return  # a burst gathers (or this list no longer shows all of it): the next pass sends it
                if take is not None and bursts is not None:
                    outcome = await bursts.send(self, take, report)
                    i += len(take.rows)
                else:
                    outcome = await self._one(rows[i], report)
                    i += 1
                if outcome == "stop":
                    return

    async def paced(self, p: Pending, *, wait: bool = True) -> bool:
        """Waits the channel's pace before its next message; False when sending to it stopped meanwhile."""
        if wait and self._pace:
            await asyncio.sleep(self._pace)
        return p.team_id not in self._disabled and not self._stopping

    async def _cut_releases(self, p: Pending, post: Awaitable[dict[str, object]]) -> dict[str, object]:
        """A send cut by shutdown gives its claimed row back at once: kept, it held its channel's later
        notices back until the claim ran out (30 s and more). Slack may have it already; resending it
        at the next start is the same risk as the claim running out, sooner."""
        try:
            return await post
        except asyncio.CancelledError:
            await asyncio.shield(self._store.outbox.release(p, error="the send was cut by a shutdown"))
            raise

    async def line(self, p: Pending, report: Report, *, group_ts: str | None) -> str:
        """A row of a group: its notice in its deployment's open thread, else under the group's message."""
        return await self._one(p, report, group_ts=group_ts)

    async def _one(self, p: Pending, report: Report, *, group_ts: str | None = None) -> str:
        if not await self._store.outbox.claim(p, holder=self.holder, for_=self._claim_for):
            return "stop"  # another replica has it: the channel's later rows wait their turn
        if p.transition.kind == PROMOTION:
            return await self._promotion(p, report)
        message = self.draw(p)
        thread = await self._thread(p, group_ts)
        grouped = group_ts is not None  # under a group's message, which is the channel's: no broadcast
        try:
            try:
                response = await self._cut_releases(p, self._post(p, message, thread, grouped=grouped))
            except SlackApiError as exc:
                if thread is not None and slack_error(exc) in THREAD_GONE:
                    # the parent was deleted: a line goes under its group's message, a notice starts a new thread
                    thread = _under(group_ts) if group_ts != thread.ts else None
                    response = await self._post(p, message, thread, grouped=grouped)
                elif slack_error(exc) in BLOCK_ERRORS:
                    response = await self._post(p, Message(text=message.text), thread, grouped=grouped)
                else:
                    raise
        except SlackApiError as exc:
            return await self._failed(p, exc, report)
        except Exception as exc:  # noqa: BLE001 - network failures of every kind are retried
            await self._retry(p, f"{type(exc).__name__}", None, report)
            return "stop"
        raw_ts = response.get("ts")
        ts = raw_ts if isinstance(raw_ts, str) else None
        # Slack has it: record that even if a shutdown cancels this pass now, or it would be sent twice
        await asyncio.shield(self._record(p, ts, thread))
        report.sent += 1
        self._result("sent")
        if thread is not None and thread.replies >= 0:
            await edit_parent(self._slack, self._store, p, thread, ack=self._ack)
        return "ok"

    def draw(self, p: Pending) -> Message:
        """One row's message as drawn now, alone or as a line of a group: the notice (or reminder) with the
        buttons it carries, Acknowledge on a failure notice. bot.oncall draws a sent notice again the same way
        when it is acknowledged or recovered."""
        change = p.transition
        if change.kind == REMIND:
            return reminder(change, model_name=p.model_name, now=self._now(), ack=self._ack)
        buttons = self._buttons.notice_buttons(change, p.model_name) if self._buttons else []
        if self._ack and is_failure(change):
            buttons = [ack_button(p.id), *buttons]
        return notice(change, model_name=p.model_name, now=self._now(), actions=buttons)

    async def _thread(self, p: Pending, group_ts: str | None) -> ThreadInfo | None:
        """Where a row goes: the deployment's thread, a promotion's live message, a reminder's failure notice
        (its thread, or the notice itself when it started none), else a group's message; None: the channel."""
        change = p.transition
        thread: ThreadInfo | None = None
        if change.kind == REMIND:  # replies -1: the parent is not edited to show the reminder
            ts = change.detail.get(THREAD)
            if p.thread and isinstance(ts, str) and ts:
                thread = ThreadInfo(ts, None, -1)
        else:
            thread = await self._promotion_thread(p)  # a promotion this channel watched: its end goes there
            if p.thread and thread is None and change.kind != GUARD:  # the guard's alarm: in the channel itself
                thread = await self._store.threads.thread(
                    p.team_id, p.channel_id, change.deployment_id, max_age=THREAD_AGE
                )
        return thread if thread is not None else _under(group_ts)

    async def _promotion_thread(self, p: Pending) -> ThreadInfo | None:
        """A `promoted` notice replies under the live message of the promotion that led to it, if any."""
        change = p.transition
        if change.kind != PROMOTED:
            return None
        ts = await self._store.promotions.of_candidate(
            p.team_id, p.channel_id, change.model_id, change.deployment_id, max_age=THREAD_AGE
        )
        return None if ts is None else ThreadInfo(ts, None, -1)  # replies -1: the parent is not a notice's

    async def _promotion(self, p: Pending, report: Report) -> str:
        """A promotion step: its live message posted or edited, the step in its thread (bot.delivery.promotions)."""
        try:
            sent = await promotions.send(
                self._slack, self._store, p, buttons=self._buttons.promotion_buttons if self._buttons else None
            )
        except SlackApiError as exc:
            return await self._failed(p, exc, report)
        except Exception as exc:  # noqa: BLE001 - network failures of every kind are retried
            await self._retry(p, f"{type(exc).__name__}", None, report)
            return "stop"
        answered = time.perf_counter()
        await asyncio.shield(promotions.record(self._store, p, sent))
        if self._on_recorded is not None:
            self._on_recorded(time.perf_counter() - answered)
        report.sent += 1
        self._result("sent")
        return "ok"

    async def _record(self, p: Pending, ts: str | None, thread: ThreadInfo | None) -> None:
        """Marks a notice sent (and, for a thread's first notice, remembers the thread)."""
        answered = time.perf_counter()  # from here until mark_sent commits, a SIGKILL doubles the notice
        await self._store.outbox.mark_sent(p, ts=ts, thread_ts=thread.ts if thread else None)
        if self._on_recorded is not None:
            self._on_recorded(time.perf_counter() - answered)
        change = p.transition
        if thread is None and p.thread and ts is not None and change.kind not in (GUARD, REMIND):  # they start none
            await self._store.threads.set_thread(p.team_id, p.channel_id, change.model_id, change.deployment_id, ts)

    async def _post(
        self, p: Pending, message: Message, thread: ThreadInfo | None, *, grouped: bool = False
    ) -> dict[str, object]:
        extra: dict[str, object] = {}
        if thread is not None:
            # a reminder is sent to the channel too; a group's line is not: its group's message is
            broadcast = (is_alarm(p.transition) or p.transition.kind == REMIND) and not grouped
            extra = {"thread_ts": thread.ts, "reply_broadcast": broadcast}
        response = await self._slack.chat_postMessage(
            channel=p.channel_id,
            unfurl_links=False,
            unfurl_media=False,
            **message.as_kwargs(),
            **extra,  # type: ignore[arg-type]
        )
        return dict(response.data) if isinstance(response.data, dict) else {}

    async def say(self, p: Pending, message: Message) -> dict[str, object]:
        """Posts a message of its own in p's channel (a group's)."""
        return await self._post(p, message, None)

    def permanent(self, exc: SlackApiError) -> bool:
        """Refused for good, and not for the channel's or the workspace's sake (see `failed`)."""
        return slack_error(exc) not in CHANNEL_ERRORS | WORKSPACE_ERRORS and not _transient(exc)

    async def failed(self, p: Pending, exc: BaseException, report: Report) -> str:
        """A send for p's row that did not go: retried, paused, or given up, as for a notice of its own."""
        if isinstance(exc, SlackApiError):
            return await self._failed(p, exc, report)
        await self._retry(p, f"{type(exc).__name__}", None, report)
        return "stop"

    async def _failed(self, p: Pending, exc: SlackApiError, report: Report) -> str:
        error = slack_error(exc)
        status = http_status(exc)
        if error in CHANNEL_ERRORS:
            await self._store.outbox.mark_failed(p, error=error)
            paused = await self._store.subscriptions.pause_channel(p.team_id, p.channel_id, error)
            log.warning(
                "Slack answered %s for channel %s: paused %d subscription(s) there",
                error,
                p.channel_id,
                paused,
            )
            report.failed += 1
            report.paused_channels += 1
            self._result("paused")
            return "stop"
        if error in WORKSPACE_ERRORS:
            if p.team_id not in self._disabled:
                log.error(
                    "Slack rejected the bot token for workspace %s (%s): delivery there stops "
                    "until the token is fixed and the bot restarted; notices stay queued",
                    p.team_id,
                    error,
                )
            self._disabled[p.team_id] = error
            await self._store.outbox.release(p, error=error)
            self._result("workspace_disabled")
            return "stop"
        if _transient(exc):
            retry_after = retry_after_of(exc)
            await self._retry(p, f"{status} {error}".strip(), retry_after, report)
            return "stop"
        await self._store.outbox.mark_failed(p, error=error or f"http {status}")
        log.error("Slack refused a notice for channel %s: %s (not retried)", p.channel_id, error)
        report.failed += 1
        self._result("failed")
        return "ok"

    async def _retry(self, p: Pending, error: str, after: float | None, report: Report) -> None:
        delay = after if after is not None else backoff(p.attempts)
        await self._store.outbox.mark_retry(p, error=error, at=self._now() + timedelta(seconds=delay))
        log.info(
            "notice for channel %s not delivered yet (%s); retrying in %.0fs",
            p.channel_id,
            error,
            delay,
        )
        report.retried += 1
        self._result("retry")

    def _result(self, outcome: str) -> None:
        if self._on_result is not None:
            self._on_result(outcome)


def _under(group_ts: str | None) -> ThreadInfo | None:
    """The thread of a group's message (replies -1: its parent is not a deployment's, and is not edited)."""
    return None if group_ts is None else ThreadInfo(group_ts, None, -1)


def backoff(attempts: int) -> float:
    """Seconds before a row that failed `attempts` times before is tried again: 2, 4, 8, … 60."""
    return min(MAX_BACKOFF, FIRST_BACKOFF * 2.0 ** min(attempts, 16))


def _transient(exc: SlackApiError) -> bool:
    """Refused for a while (rate limited, Slack failing): retried later."""
    status = http_status(exc)
    return status == 429 or status >= 500 or slack_error(exc) in ("ratelimited", "internal_error", "fatal_error")
