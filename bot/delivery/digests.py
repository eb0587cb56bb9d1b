"""Sending each channel's digest when it is due, on the lease holder (bot.app.service runs `run` every
few seconds there).

A pass computes each digest's latest due time (bot.domain.digests); one after the last period settled
is claimed in the store (bot.store.digests), summarised from the stored transitions, posted, and
marked sent. So a period goes out once across restarts and hand-overs, and a period missed while no
replica ran is sent once when one runs again: only the latest, since the latest due time is the one
looked at. A channel Slack refuses for good settles the period unsent (`list` says why); any other
failure leaves the claim to expire, and the next pass after it tries again.

Spend is a seam: `SpendSource` gives the lines of a "Spend" section (the billing client, plugged in by
the composition root). Without one, or when it has nothing to say, the digest says nothing of spend.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.errors import BLOCK_ERRORS, slack_error
from bot.delivery.notifier import CHANNEL_ERRORS, WORKSPACE_ERRORS
from bot.domain.digest_summary import Key, summarize
from bot.domain.digests import latest_due, period
from bot.render.cards import Message
from bot.render.digest import digest_message
from bot.store import Store
from bot.store.digests import DigestView
from bot.store.subscriptions import SubscriptionView

log = logging.getLogger(__name__)
GIVE_UP = CHANNEL_ERRORS | WORKSPACE_ERRORS  # Slack will refuse this period every time: settle it unsent


class SpendSource(Protocol):
    """Where a digest's spend comes from: plain lines for its "Spend" section (money as the source
    words it), or None to say nothing about spend. Called once per digest sent."""

    async def spend_lines(
        self, *, team_id: str, channel_id: str, model_ids: Sequence[str], start: datetime, end: datetime
    ) -> Sequence[str] | None: ...


class DigestJob:
    def __init__(
        self,
        *,
        store: Store,
        slack: AsyncWebClient,
        now: Callable[[], datetime],
        holder: str,
        claim_for: timedelta = timedelta(minutes=1),
        spend: SpendSource | None = None,
    ) -> None:
        self._store = store
        self._slack = slack
        self._now = now
        self._holder = holder
        self._claim_for = claim_for
        self._spend = spend

    async def run(self) -> int:
        """Sends every digest due and not sent yet; returns how many went out."""
        now = self._now()
        sent = 0
        for digest in await self._store.digests.all():
            due = latest_due(digest.schedule, now)
            if due <= digest.last_due:
                continue
            if not await self._store.digests.claim(digest, due, holder=self._holder, for_=self._claim_for):
                continue
            sent += await self._send(digest, due)
        return sent

    async def _send(self, digest: DigestView, due: datetime) -> int:
        message = await self.compose(digest, due)
        try:
            reply = await self._post(digest.channel_id, message)
        except SlackApiError as exc:
            error = slack_error(exc) or "error"
            if error in GIVE_UP:
                log.warning("the digest of %s was not sent: Slack said %s", digest.channel_id, error)
                await self._store.digests.settle(digest, due, holder=self._holder, error=error)
            else:
                log.info("the digest of %s failed for now (%s); tried again shortly", digest.channel_id, error)
                await self._store.digests.failed(digest, due, holder=self._holder, error=error)
            return 0
        except Exception as exc:  # noqa: BLE001 - Slack not reached: the claim expires, the next pass retries
            log.info("the digest of %s failed for now (%s); tried again shortly", digest.channel_id, exc)
            await self._store.digests.failed(digest, due, holder=self._holder, error=type(exc).__name__)
            return 0
        await self._store.digests.mark_sent(digest, due, holder=self._holder, ts=reply)
        log.info("sent the digest of %s due at %s", digest.channel_id, due.isoformat())
        return 1

    async def compose(self, digest: DigestView, due: datetime) -> Message:
        """The digest of the period due at `due`: what changed in what the channel watches now."""
        start, end = period(digest.schedule, due)
        previous, _ = period(digest.schedule, start)
        views = await self._store.subscriptions.channel_subscriptions(digest.team_id, digest.channel_id)
        watched = {(v.model_id, _deployment(v)) for v in views}
        history = await self._store.history.period(watched, since=previous, until=end)
        summary = summarize(history.events, history.status_at_start, previous=previous, start=start, end=end)
        model_names = {v.model_id: v.model_name for v in views if v.model_name}
        keys: set[Key] = {(m.model_id, m.deployment_id) for m in summary.movers}
        keys |= {key for key, _ in summary.failing_at_end}
        names = {k: (model_names.get(k[0], ""), history.names.get(k, "")) for k in keys}
        spend = await self._spend_lines(digest, sorted({m for m, _ in watched}), start, end)
        return digest_message(summary, schedule=digest.schedule, names=names, watched=len(views), spend=spend)

    async def _spend_lines(
        self, digest: DigestView, model_ids: Sequence[str], start: datetime, end: datetime
    ) -> Sequence[str] | None:
        if self._spend is None:
            return None
        try:
            return await self._spend.spend_lines(
                team_id=digest.team_id, channel_id=digest.channel_id, model_ids=model_ids, start=start, end=end
            )
        except Exception:  # no spend is said rather than a wrong one, and the digest still goes
            log.exception("the digest's spend could not be read; sent without it")
            return None

    async def _post(self, channel_id: str, message: Message) -> str | None:
        """Posts the digest; blocks Slack will not take go as the text alone. Returns the message's ts."""
        try:
            reply = await self._slack.chat_postMessage(channel=channel_id, unfurl_links=False, **message.as_kwargs())
        except SlackApiError as exc:
            if slack_error(exc) not in BLOCK_ERRORS:
                raise
            reply = await self._slack.chat_postMessage(channel=channel_id, text=message.text)
        ts = reply.get("ts")
        return str(ts) if ts else None


def _deployment(view: SubscriptionView) -> str | None:
    """The one deployment a subscription names, or None when it follows the model (all of it, a role or
    an environment: a digest covers the model's deployments then, the roles moving between them)."""
    target = view.target
    if target in ("*", "production", "development") or target.startswith("env:"):
        return None
    return target
