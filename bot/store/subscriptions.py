"""Subscriptions: which channel watches what, with its options, mute and pause.

The only module that issues SQL for the `subscriptions` table. What a paused or
removed subscription still owed is dropped through bot.store.outbox, in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import tables as t
from bot.store._sql import Now, rowcount, utcnow
from bot.store.outbox import drop_pending, last_sent
from bot.store.snapshots import read_for_models
from bot.transitions import DEFAULT_STUCK, Watcher, parse_kinds


@dataclass(frozen=True)
class SubscriptionView:
    """A subscription as `list` shows it, with the target's last known status."""

    id: int
    model_id: str
    model_name: str
    target: str
    target_name: str
    kinds: frozenset[str]
    thread: bool
    paused_reason: str | None
    muted_until: datetime | None
    last_delivered_at: datetime | None
    statuses: tuple[tuple[str, str], ...]  # (deployment name, status) known for the target
    stuck_after: int | None = None


class SubscriptionStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Now = utcnow) -> None:
        self._sessions = sessions
        self._now = now

    async def subscribe(
        self,
        *,
        team_id: str,
        channel_id: str,
        model_id: str,
        model_name: str,
        target: str,
        target_name: str,
        kinds: Iterable[str],
        thread: bool,
        user_id: str,
        stuck_after: timedelta | None = None,
    ) -> tuple[int, bool]:
        """Adds a subscription; returns (id, created). Subscribing twice changes nothing."""
        row = {
            "team_id": team_id,
            "channel_id": channel_id,
            "model_id": model_id,
            "model_name": model_name,
            "target": target,
            "target_name": target_name,
            "kinds": ",".join(sorted(kinds)),
            "thread": thread,
            "stuck_after": None if stuck_after is None else int(stuck_after.total_seconds()),
            "created_by": user_id,
            "created_at": self._now(),
        }
        # one transaction, and one statement when new: a command holds its connection briefly
        async with self._sessions.begin() as session:
            insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            while True:  # again only if an unsubscribe removed the row that was in the way meanwhile
                created = await session.scalar(
                    insert(t.Subscription).values(**row).on_conflict_do_nothing().returning(t.Subscription.id)
                )
                if created is not None:
                    return created, True
                existing = await session.scalar(
                    select(t.Subscription.id).where(
                        t.Subscription.team_id == team_id,
                        t.Subscription.channel_id == channel_id,
                        t.Subscription.model_id == model_id,
                        t.Subscription.target == target,
                    )
                )
                if existing is not None:  # a concurrent or replayed request won the race
                    return existing, False

    async def unsubscribe(self, subscription_ids: Sequence[int]) -> None:
        """Removes subscriptions and drops what they still owed (it will not be sent)."""
        async with self._sessions.begin() as session:
            await drop_pending(session, "unsubscribed", subscription_ids=subscription_ids)
            await session.execute(delete(t.Subscription).where(t.Subscription.id.in_(subscription_ids)))

    async def channel_subscriptions(self, team_id: str, channel_id: str) -> list[SubscriptionView]:
        async with self._sessions() as session:
            subs = (
                await session.scalars(
                    select(t.Subscription)
                    .where(t.Subscription.team_id == team_id, t.Subscription.channel_id == channel_id)
                    .order_by(t.Subscription.model_name, t.Subscription.model_id, t.Subscription.id)
                )
            ).all()
            by_model, states = await read_for_models(session, {s.model_id for s in subs})
            delivered = await last_sent(session, [s.id for s in subs])
        views = []
        for sub in subs:
            known = by_model.get(sub.model_id, [])
            state = states.get(sub.model_id)
            wanted: str | None = sub.target
            if sub.target == "production":
                wanted = state.production_deployment_id if state else None
            elif sub.target == "development":
                wanted = state.development_deployment_id if state else None
            elif sub.target == "*":
                wanted = None
            chosen = [s for s in known if (wanted is None and sub.target == "*") or s.deployment_id == wanted]
            views.append(
                SubscriptionView(
                    id=sub.id,
                    model_id=sub.model_id,
                    model_name=sub.model_name,
                    target=sub.target,
                    target_name=sub.target_name,
                    kinds=parse_kinds(sub.kinds),
                    thread=sub.thread,
                    paused_reason=sub.paused_reason,
                    muted_until=sub.muted_until,
                    last_delivered_at=delivered.get(sub.id),
                    stuck_after=sub.stuck_after,
                    statuses=tuple(sorted((s.name or s.deployment_id, s.status) for s in chosen if not s.gone)),
                )
            )
        return views

    async def pause_channel(self, team_id: str, channel_id: str, reason: str) -> int:
        """Pauses a channel's subscriptions after a permanent Slack error; drops what they owed."""
        now = self._now()
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(t.Subscription)
                .where(
                    t.Subscription.team_id == team_id,
                    t.Subscription.channel_id == channel_id,
                    t.Subscription.paused_reason.is_(None),
                )
                .values(paused_reason=reason, paused_at=now)
            )
            await drop_pending(session, f"channel paused: {reason}", channel=(team_id, channel_id))
            return rowcount(result)

    async def resume_channel(self, team_id: str, channel_id: str, ids: Sequence[int] | None = None) -> int:
        async with self._sessions.begin() as session:
            query = update(t.Subscription).where(
                t.Subscription.team_id == team_id,
                t.Subscription.channel_id == channel_id,
                t.Subscription.paused_reason.is_not(None),
            )
            if ids is not None:
                query = query.where(t.Subscription.id.in_(ids))
            result = await session.execute(query.values(paused_reason=None, paused_at=None))
            return rowcount(result)

    async def set_mute(self, ids: Sequence[int], until: datetime | None) -> None:
        async with self._sessions.begin() as session:
            await session.execute(update(t.Subscription).where(t.Subscription.id.in_(ids)).values(muted_until=until))

    async def watchers(self) -> list[Watcher]:
        """Every subscription that is not paused."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(
                        t.Subscription.id,
                        t.Subscription.team_id,
                        t.Subscription.channel_id,
                        t.Subscription.model_id,
                        t.Subscription.target,
                        t.Subscription.kinds,
                        t.Subscription.thread,
                        t.Subscription.muted_until,
                        t.Subscription.stuck_after,
                        t.Subscription.model_name,
                    ).where(t.Subscription.paused_reason.is_(None))
                )
            ).all()
        return [
            Watcher(
                r.id,
                r.team_id,
                r.channel_id,
                r.model_id,
                r.target,
                parse_kinds(r.kinds),
                r.thread,
                r.muted_until,
                timedelta(seconds=r.stuck_after) if r.stuck_after else DEFAULT_STUCK,
                r.model_name,
            )
            for r in rows
        ]
