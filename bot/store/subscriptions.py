"""Subscriptions: which channel watches what, with its options, mutes and pause.

The only module that issues SQL for the `subscriptions` table (mutes: bot.store.mutes). What a paused or
removed subscription still owed is dropped through bot.store.outbox, in the same
transaction. Every write then moves the watchers revision (bot.store.revisions), right
after it commits, so the poll loop reads every watcher again only when something changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy import true as sa_true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.changes import DEFAULT_STUCK, Snap
from bot.domain.guard import DEFAULT as DEFAULT_GUARD
from bot.domain.guard import GuardSpec
from bot.domain.guard import describe as describe_guard
from bot.domain.guard import stored as stored_guard
from bot.domain.memory import ModelRow
from bot.domain.watchers import Watcher, parse_kinds
from bot.store import tables as t
from bot.store._sql import Now, rowcount, utcnow
from bot.store.env_states import current_deployments
from bot.store.mutes import forget, holding, read_mutes
from bot.store.outbox import drop_pending, last_sent
from bot.store.revisions import Revisions
from bot.store.snapshots import read_for_models, write_baseline


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
    guard: str | None = None  # `--guard` as describe() says it; None: the default
    remind_seconds: int | None = None  # `--remind`; None: no reminders
    remind_max: int | None = None  # `--remind-max`; None: the default


@dataclass(frozen=True)
class Options:
    """What a subscription hears and how: `--on` kinds, threads, the stuck threshold (seconds; None: 30 min),
    the promotion guard (`--guard` as bot.domain.guard.describe says it; None: the default), reminders
    (`--remind` in seconds and `--remind-max`; None: none, the default count)."""

    kinds: frozenset[str]
    thread: bool
    stuck_after: int | None
    guard: str | None = None
    remind_seconds: int | None = None
    remind_max: int | None = None


@dataclass(frozen=True)
class KnownDeployments:
    """What the bot last saw of a model: its deployments (id, name) and production/development ids."""

    deployments: tuple[tuple[str, str], ...]
    production_id: str | None
    development_id: str | None


class SubscriptionStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Now = utcnow) -> None:
        self._sessions = sessions
        self._now = now
        self._revisions = Revisions(sessions)

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
        guard: GuardSpec | None = None,
        remind: tuple[int, int | None] | None = None,
        baseline: Sequence[Snap] = (),
        model_row: ModelRow | None = None,
    ) -> tuple[int, Options | None]:
        """Adds a subscription, or gives an existing one these options, with the first sightings of
        what it watches (`baseline`, and the model's roles in `model_row`) where none are known yet.

        Returns its id and, when it already existed, the options it had before (None: created).
        One transaction, and one statement each when new: a command holds its connection briefly.
        """
        now = self._now()
        wanted = Options(
            frozenset(kinds),
            thread,
            None if stuck_after is None else int(stuck_after.total_seconds()),
            None if guard is None or guard == DEFAULT_GUARD else describe_guard(guard),
            *(remind or (None, None)),
        )
        row = {
            "team_id": team_id,
            "channel_id": channel_id,
            "model_id": model_id,
            "model_name": model_name,
            "target": target,
            "target_name": target_name,
            "kinds": ",".join(sorted(wanted.kinds)),
            "thread": thread,
            "stuck_after": wanted.stuck_after,
            "guard": wanted.guard,
            "remind_seconds": wanted.remind_seconds,
            "remind_max": wanted.remind_max,
            "created_by": user_id,
            "created_at": now,
        }
        async with self._revisions.write() as session:
            await write_baseline(session, baseline, model_row, now)
            insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            while True:  # again only if an unsubscribe removed the row that was in the way meanwhile
                created = await session.scalar(
                    insert(t.Subscription).values(**row).on_conflict_do_nothing().returning(t.Subscription.id)
                )
                if created is not None:
                    return created, None
                existing = await _set_options(session, (team_id, channel_id, model_id, target), wanted)
                if existing is not None:  # subscribed before, or a concurrent or replayed request won the race
                    return existing

    async def unsubscribe(self, subscription_ids: Sequence[int]) -> None:
        """Removes subscriptions and drops what they still owed (it will not be sent).

        A channel that no longer follows a model forgets its mutes on it.
        """
        async with self._revisions.write() as session:
            await drop_pending(session, "unsubscribed", subscription_ids=subscription_ids)
            keys = (
                await session.execute(
                    select(t.Subscription.team_id, t.Subscription.channel_id, t.Subscription.model_id)
                    .where(t.Subscription.id.in_(subscription_ids))
                    .distinct()
                )
            ).all()
            await session.execute(delete(t.Subscription).where(t.Subscription.id.in_(subscription_ids)))
            for team_id, channel_id, model_id in keys:
                left = await session.scalar(
                    select(t.Subscription.id)
                    .where(
                        t.Subscription.team_id == team_id,
                        t.Subscription.channel_id == channel_id,
                        t.Subscription.model_id == model_id,
                    )
                    .limit(1)
                )
                if left is None:
                    await forget(session, team_id, channel_id, model_id)

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
            env_current = await current_deployments(session, {s.model_id for s in subs if s.target.startswith("env:")})
            delivered = await last_sent(session, [s.id for s in subs])
            mutes = await read_mutes(session, self._now(), t.Mute.team_id == team_id, t.Mute.channel_id == channel_id)
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
            elif sub.target.startswith("env:"):  # the environment's current deployment, as last polled
                wanted = env_current.get((sub.model_id, sub.target[4:]))
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
                    muted_until=max(
                        (m.until for m in mutes if m.model_id == sub.model_id and m.target in ("*", sub.target)),
                        default=None,
                    ),
                    last_delivered_at=delivered.get(sub.id),
                    stuck_after=sub.stuck_after,
                    guard=sub.guard,
                    remind_seconds=sub.remind_seconds,
                    remind_max=sub.remind_max,
                    statuses=tuple(sorted((s.name or s.deployment_id, s.status) for s in chosen if not s.gone)),
                )
            )
        return views

    async def pause_channel(self, team_id: str, channel_id: str, reason: str) -> int:
        """Pauses a channel's subscriptions after a permanent Slack error; drops what they owed."""
        now = self._now()
        async with self._revisions.write() as session:
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
        async with self._revisions.write() as session:
            query = update(t.Subscription).where(
                t.Subscription.team_id == team_id,
                t.Subscription.channel_id == channel_id,
                t.Subscription.paused_reason.is_not(None),
            )
            if ids is not None:
                query = query.where(t.Subscription.id.in_(ids))
            result = await session.execute(query.values(paused_reason=None, paused_at=None))
            return rowcount(result)

    async def known_deployments(self, model_id: str) -> KnownDeployments:
        """The model's deployments as the bot last saw them (not deleted ones), for names typed in commands."""
        async with self._sessions() as session:
            by_model, states = await read_for_models(session, {model_id})
        state = states.get(model_id)
        return KnownDeployments(
            tuple((s.deployment_id, s.name) for s in by_model.get(model_id, []) if not s.gone),
            state.production_deployment_id if state else None,
            state.development_deployment_id if state else None,
        )

    async def revision(self) -> int | None:
        """Moves with every change to subscriptions and mutes (None: no revision row, read watchers anyway)."""
        return await self._revisions.current()

    async def guard_of(self, subscription_id: int) -> GuardSpec | None:
        """A subscription's promotion guard; None when there is no such subscription."""
        async with self._sessions() as session:
            row = (
                await session.execute(select(t.Subscription.guard).where(t.Subscription.id == subscription_id))
            ).first()
        return None if row is None else stored_guard(row.guard)

    async def watchers(self, *, environments_only: bool = False) -> list[Watcher]:
        """Every subscription, paused ones flagged: the poller keeps their snapshots current.
        `environments_only`: those of an environment or production (what the promotion guard reads)."""
        s = t.Subscription
        only = (s.target == "production") | s.target.startswith("env:") if environments_only else sa_true()
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
                        t.Subscription.stuck_after,
                        t.Subscription.model_name,
                        t.Subscription.paused_reason,
                        t.Subscription.guard,
                        t.Subscription.remind_seconds,
                        t.Subscription.remind_max,
                    ).where(only)
                )
            ).all()
            mutes = await holding(session, self._now())
        return [
            Watcher(
                r.id,
                r.team_id,
                r.channel_id,
                r.model_id,
                r.target,
                parse_kinds(r.kinds),
                r.thread,
                tuple(mutes.get((r.team_id, r.channel_id, r.model_id), ())),
                timedelta(seconds=r.stuck_after) if r.stuck_after else DEFAULT_STUCK,
                r.model_name,
                paused=r.paused_reason is not None,
                guard=r.guard,
                remind_seconds=r.remind_seconds,
                remind_max=r.remind_max,
            )
            for r in rows
        ]


async def _set_options(
    session: AsyncSession, key: tuple[str, str, str, str], wanted: Options
) -> tuple[int, Options] | None:
    """The existing subscription's id and options before, now set to `wanted`; None if there is none."""
    team_id, channel_id, model_id, target = key
    row = await session.scalar(
        select(t.Subscription).where(
            t.Subscription.team_id == team_id,
            t.Subscription.channel_id == channel_id,
            t.Subscription.model_id == model_id,
            t.Subscription.target == target,
        )
    )
    if row is None:
        return None
    before = Options(parse_kinds(row.kinds), row.thread, row.stuck_after, row.guard, row.remind_seconds, row.remind_max)
    if before != wanted:
        row.kinds = ",".join(sorted(wanted.kinds))
        row.thread = wanted.thread
        row.stuck_after = wanted.stuck_after
        row.guard = wanted.guard
        row.remind_seconds = wanted.remind_seconds
        row.remind_max = wanted.remind_max
    return row.id, before
