"""The only module that issues SQL: subscriptions, snapshots, the outbox and threads."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import tables as t
from bot.status import CHURN
from bot.transitions import DEFAULT_STUCK, Change, Snap, Watcher, parse_kinds

Now = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


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
    statuses: tuple[tuple[str, str], ...]
    stuck_after: int | None = None  # (deployment name, status) known for the target


@dataclass(frozen=True)
class ModelPlan:
    """What the poller must fetch for one model, derived from every subscription on it."""

    model_id: str
    model_name: str
    whole: bool  # list the model (whole-model, production or development subscriptions)
    deployments: frozenset[str]  # deployment-id targets


ModelRow = tuple[str, str, str | None, str | None]  # model id, name, production id, development id


class Conflict(Exception):
    """Another replica recorded a change first; this cycle's writes were rolled back."""


@dataclass(frozen=True)
class ModelMemory:
    baseline_known: bool
    production_id: str | None
    development_id: str | None
    name: str


@dataclass(frozen=True)
class Outgoing:
    """A change and the channels owed a notice about it."""

    change: Change
    model_name: str
    watchers: Sequence[Watcher]


@dataclass(frozen=True)
class ThreadInfo:
    """A deployment's notice thread in one channel: its parent, first change and replies so far."""

    ts: str
    first: Change | None
    replies: int


@dataclass(frozen=True)
class Pending:
    """One delivery to attempt, with what the notice needs."""

    id: int
    team_id: str
    channel_id: str
    subscription_id: int | None
    thread: bool
    attempts: int
    transition: Change
    model_name: str


class Store:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Now = utcnow) -> None:
        self._sessions = sessions
        self._now = now

    async def ping(self) -> None:
        async with self._sessions() as session:
            await session.execute(text("SELECT 1"))

    # -- subscriptions -----------------------------------------------------------

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
        existing = await self._find(team_id, channel_id, model_id, target)
        if existing is not None:
            return existing, False
        row = t.Subscription(
            team_id=team_id,
            channel_id=channel_id,
            model_id=model_id,
            model_name=model_name,
            target=target,
            target_name=target_name,
            kinds=",".join(sorted(kinds)),
            thread=thread,
            stuck_after=None if stuck_after is None else int(stuck_after.total_seconds()),
            created_by=user_id,
            created_at=self._now(),
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:  # a concurrent or replayed request won the race
            found = await self._find(team_id, channel_id, model_id, target)
            if found is None:
                raise
            return found, False
        return row.id, True

    async def _find(self, team_id: str, channel_id: str, model_id: str, target: str) -> int | None:
        async with self._sessions() as session:
            result = await session.scalar(
                select(t.Subscription.id).where(
                    t.Subscription.team_id == team_id,
                    t.Subscription.channel_id == channel_id,
                    t.Subscription.model_id == model_id,
                    t.Subscription.target == target,
                )
            )
            return result

    async def unsubscribe(self, subscription_ids: Sequence[int]) -> None:
        """Removes subscriptions and drops what they still owed (it will not be sent)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(t.Delivery)
                .where(t.Delivery.subscription_id.in_(subscription_ids), t.Delivery.state == "pending")
                .values(state="dropped", last_error="unsubscribed")
            )
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
            model_ids = {s.model_id for s in subs}
            snaps = (await session.scalars(select(t.Snapshot).where(t.Snapshot.model_id.in_(model_ids)))).all()
            states = {
                m.model_id: m
                for m in (await session.scalars(select(t.ModelState).where(t.ModelState.model_id.in_(model_ids)))).all()
            }
        by_model: dict[str, list[t.Snapshot]] = defaultdict(list)
        for snap in snaps:
            by_model[snap.model_id].append(snap)
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
                    last_delivered_at=sub.last_delivered_at,
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
            await session.execute(
                update(t.Delivery)
                .where(
                    t.Delivery.team_id == team_id,
                    t.Delivery.channel_id == channel_id,
                    t.Delivery.state == "pending",
                )
                .values(state="dropped", last_error=f"channel paused: {reason}")
            )
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

    # -- what the poller reads ---------------------------------------------------

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

    async def change_times(
        self, keys: set[tuple[str, str]], *, since: datetime
    ) -> dict[tuple[str, str], list[datetime]]:
        """When each of these deployments changed status (churn aside) since `since`,
        counting only from its last settling after a bout of flapping."""
        out: dict[tuple[str, str], list[datetime]] = defaultdict(list)
        settled_at: dict[tuple[str, str], datetime] = {}
        if not keys:
            return out
        dep_ids = sorted({d for _, d in keys})
        async with self._sessions() as session:
            for chunk in _chunks(dep_ids, 500):
                rows = (
                    await session.execute(
                        select(
                            t.Transition.model_id,
                            t.Transition.deployment_id,
                            t.Transition.kind,
                            t.Transition.detected_at,
                            t.Transition.old_status,
                            t.Transition.new_status,
                        ).where(
                            t.Transition.deployment_id.in_(chunk),
                            t.Transition.kind.in_(("status", "settled")),
                            t.Transition.detected_at >= since,
                        )
                    )
                ).all()
                for model_id, dep_id, kind, at, old, new in rows:
                    key = (model_id, dep_id)
                    if key not in keys:
                        continue
                    if kind == "settled":
                        settled_at[key] = max(at, settled_at.get(key, at))
                    elif not (old in CHURN and new in CHURN):
                        out[key].append(at)
        for key, at in settled_at.items():
            out[key] = [x for x in out[key] if x > at]
        return out

    async def memory(self, model_ids: Iterable[str]) -> tuple[dict[str, dict[str, Snap]], dict[str, ModelMemory]]:
        """Snapshots and model states for these models, read in bulk."""
        ids = list(set(model_ids))
        snaps: dict[str, dict[str, Snap]] = defaultdict(dict)
        states: dict[str, ModelMemory] = {}
        async with self._sessions() as session:
            for chunk in _chunks(ids, 500):
                for row in (await session.scalars(select(t.Snapshot).where(t.Snapshot.model_id.in_(chunk)))).all():
                    snaps[row.model_id][row.deployment_id] = _snap(row)
                for state in (
                    await session.scalars(select(t.ModelState).where(t.ModelState.model_id.in_(chunk)))
                ).all():
                    states[state.model_id] = ModelMemory(
                        True,
                        state.production_deployment_id,
                        state.development_deployment_id,
                        state.name,
                    )
        return snaps, states

    # -- what the poller writes --------------------------------------------------

    async def record(
        self,
        *,
        snaps: Sequence[tuple[Snap | None, Snap]],
        models: Sequence[tuple[ModelMemory | None, ModelRow]],
        outgoing: Sequence[Outgoing],
    ) -> int:
        """One transaction: snapshots, model states, transitions and their pending deliveries.

        Every write is conditional on what this cycle read (`before`): if another replica
        recorded a change first, nothing is written and `Conflict` is raised, so a change
        is recorded, and announced, once. Returns the number of deliveries created.
        """
        if not snaps and not models and not outgoing:
            return 0
        now = self._now()
        created = 0
        async with self._sessions.begin() as session:
            for before, after in snaps:
                if not await _write_snapshot(session, before, after):
                    raise Conflict(f"snapshot {after.model_id}/{after.deployment_id} changed under this cycle")
            for memory, row in models:
                if not await _write_model(session, memory, row, now):
                    raise Conflict(f"model state {row[0]} changed under this cycle")
            rows = []
            for item in outgoing:
                c = item.change
                transition = t.Transition(
                    kind=c.kind,
                    model_id=c.model_id,
                    model_name=item.model_name,
                    deployment_id=c.deployment_id,
                    deployment_name=c.deployment_name,
                    old_status=c.old_status,
                    new_status=c.new_status,
                    old_since=c.old_since,
                    detected_at=c.at,
                    detail=dict(c.detail),
                )
                session.add(transition)
                rows.append((transition, item))
            await session.flush()  # one round trip assigns every transition its id
            for transition, item in rows:
                for w in item.watchers:
                    session.add(
                        t.Delivery(
                            transition_id=transition.id,
                            subscription_id=w.subscription_id,
                            team_id=w.team_id,
                            channel_id=w.channel_id,
                            thread=w.thread,
                            state="pending",
                            attempts=0,
                            next_attempt_at=now,
                            created_at=now,
                        )
                    )
                    created += 1
        return created

    async def baseline(self, snaps: Sequence[Snap], model: ModelRow | None) -> None:
        """Records first sightings (at subscribe time) without touching what is already known."""
        async with self._sessions.begin() as session:
            await _insert_ignore(session, t.Snapshot, [_values(s) for s in snaps])
            if model is not None:
                await _insert_ignore(session, t.ModelState, [_model_values(model, self._now())])

    # -- the outbox ----------------------------------------------------------------

    async def due(self, *, limit: int = 500) -> list[Pending]:
        now = self._now()
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(t.Delivery, t.Transition)
                    .join(t.Transition, t.Delivery.transition_id == t.Transition.id)
                    .where(
                        or_(
                            and_(t.Delivery.state == "pending", t.Delivery.next_attempt_at <= now),
                            # claimed by a replica that died before it finished
                            and_(t.Delivery.state == "sending", t.Delivery.claim_until < now),
                        )
                    )
                    .order_by(t.Delivery.id)
                    .limit(limit)
                )
            ).all()
        return [
            Pending(
                id=d.id,
                team_id=d.team_id,
                channel_id=d.channel_id,
                subscription_id=d.subscription_id,
                thread=d.thread,
                attempts=d.attempts,
                transition=_change(tr),
                model_name=tr.model_name,
            )
            for d, tr in rows
        ]

    async def claim(self, pending: Pending, *, holder: str, for_: timedelta) -> bool:
        """Claims one row for sending; False if another replica has it or it is no longer due."""
        now = self._now()
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(t.Delivery)
                .where(
                    t.Delivery.id == pending.id,
                    or_(
                        t.Delivery.state == "pending",
                        and_(t.Delivery.state == "sending", t.Delivery.claim_until < now),
                    ),
                )
                .values(state="sending", claimed_by=holder, claim_until=now + for_)
            )
            return rowcount(result) == 1

    async def release(self, pending: Pending, *, error: str) -> None:
        """Gives a claimed row back untouched: it stays pending for when sending can work again."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(t.Delivery)
                .where(t.Delivery.id == pending.id, t.Delivery.state == "sending")
                .values(state="pending", claimed_by=None, claim_until=None, last_error=error[:500])
            )

    async def mark_sent(self, pending: Pending, *, ts: str | None, thread_ts: str | None) -> None:
        now = self._now()
        async with self._sessions.begin() as session:
            await session.execute(
                update(t.Delivery)
                .where(t.Delivery.id == pending.id)
                .values(
                    state="sent",
                    sent_at=now,
                    ts=ts,
                    thread_ts=thread_ts,
                    attempts=pending.attempts + 1,
                )
            )
            if pending.subscription_id is not None:
                await session.execute(
                    update(t.Subscription)
                    .where(t.Subscription.id == pending.subscription_id)
                    .values(last_delivered_at=now)
                )

    async def mark_retry(self, pending: Pending, *, error: str, at: datetime) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(t.Delivery)
                .where(t.Delivery.id == pending.id)
                .values(
                    state="pending",
                    attempts=pending.attempts + 1,
                    last_error=error[:500],
                    next_attempt_at=at,
                    claimed_by=None,
                    claim_until=None,
                )
            )

    async def mark_failed(self, pending: Pending, *, error: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(t.Delivery)
                .where(t.Delivery.id == pending.id)
                .values(state="failed", attempts=pending.attempts + 1, last_error=error[:500])
            )

    async def thread(
        self, team_id: str, channel_id: str, deployment_id: str, *, max_age: timedelta
    ) -> ThreadInfo | None:
        """The open thread of a deployment's notices in a channel, if one started within `max_age`."""
        async with self._sessions() as session:
            row = await session.get(t.Thread, (team_id, channel_id, deployment_id))
            if row is None or row.created_at < self._now() - max_age:
                return None
            first = (
                await session.execute(
                    select(t.Transition)
                    .join(t.Delivery, t.Delivery.transition_id == t.Transition.id)
                    .where(
                        t.Delivery.team_id == team_id,
                        t.Delivery.channel_id == channel_id,
                        t.Delivery.ts == row.ts,
                    )
                    .limit(1)
                )
            ).scalar_one_or_none()
            replies = await session.scalar(
                select(func.count())
                .select_from(t.Delivery)
                .where(
                    t.Delivery.team_id == team_id,
                    t.Delivery.channel_id == channel_id,
                    t.Delivery.thread_ts == row.ts,
                    t.Delivery.state == "sent",
                )
            )
        return ThreadInfo(row.ts, None if first is None else _change(first), int(replies or 0))

    async def set_thread(
        self, team_id: str, channel_id: str, model_id: str, deployment_id: str, ts: str | None
    ) -> None:
        """Starts (or, with ts None, forgets) the thread of a deployment's notices in a channel."""
        async with self._sessions.begin() as session:
            existing = await session.get(t.Thread, (team_id, channel_id, deployment_id))
            if existing is not None:
                await session.delete(existing)
                await session.flush()
            if ts is not None:
                session.add(
                    t.Thread(
                        team_id=team_id,
                        channel_id=channel_id,
                        deployment_id=deployment_id,
                        model_id=model_id,
                        ts=ts,
                        created_at=self._now(),
                    )
                )

    async def counts(self) -> dict[str, int]:
        """Outbox state counts, for metrics and tests."""
        async with self._sessions() as session:
            rows = (await session.execute(select(t.Delivery.state, func.count()).group_by(t.Delivery.state))).all()
        return {state: int(n) for state, n in rows}


def plan(watchers: Iterable[Watcher]) -> list[ModelPlan]:
    """Distinct targets per model: a model is listed once however many channels watch it."""
    whole: dict[str, bool] = defaultdict(bool)
    deps: dict[str, set[str]] = defaultdict(set)
    names: dict[str, str] = {}
    for w in watchers:
        names[w.model_id] = max(names.get(w.model_id, ""), w.model_name)
        if w.target in ("*", "production", "development"):
            whole[w.model_id] = True
        else:
            deps[w.model_id].add(w.target)
            whole.setdefault(w.model_id, False)
    return [ModelPlan(m, names.get(m, ""), whole[m], frozenset(deps.get(m, ()))) for m in sorted(whole)]


def rowcount(result: object) -> int:
    """Rows an UPDATE or DELETE touched (0 where the driver does not say)."""
    return max(0, int(getattr(result, "rowcount", 0) or 0))


def _change(tr: t.Transition) -> Change:
    return Change(
        kind=tr.kind,
        model_id=tr.model_id,
        deployment_id=tr.deployment_id,
        deployment_name=tr.deployment_name,
        old_status=tr.old_status,
        new_status=tr.new_status,
        at=tr.detected_at,
        old_since=tr.old_since,
        detail=tr.detail or {},
    )


async def _insert_ignore(session: AsyncSession, table: type[t.Base], rows: list[dict[str, Any]]) -> int:
    """INSERT … ON CONFLICT DO NOTHING on SQLite and PostgreSQL; returns the rows inserted."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    key = next(iter(table.__table__.primary_key))
    inserted = 0
    for row in rows:
        # RETURNING, not rowcount: psycopg reports -1 for INSERT … ON CONFLICT DO NOTHING
        result = await session.execute(insert(table).values(**row).on_conflict_do_nothing().returning(key))
        inserted += len(result.all())
    return inserted


async def _write_snapshot(session: AsyncSession, before: Snap | None, after: Snap) -> bool:
    if before is None:
        return await _insert_ignore(session, t.Snapshot, [_values(after)]) == 1
    result = await session.execute(
        update(t.Snapshot)
        .where(
            t.Snapshot.model_id == before.model_id,
            t.Snapshot.deployment_id == before.deployment_id,
            t.Snapshot.status == before.status,
            t.Snapshot.status_since == before.since,
        )
        .values(**_values(after))
    )
    return rowcount(result) == 1


async def _write_model(session: AsyncSession, memory: ModelMemory | None, row: ModelRow, now: datetime) -> bool:
    if memory is None:
        return await _insert_ignore(session, t.ModelState, [_model_values(row, now)]) == 1
    result = await session.execute(
        update(t.ModelState)
        .where(
            t.ModelState.model_id == row[0],
            t.ModelState.production_deployment_id.is_not_distinct_from(memory.production_id),
            t.ModelState.development_deployment_id.is_not_distinct_from(memory.development_id),
        )
        .values(name=row[1], production_deployment_id=row[2], development_deployment_id=row[3])
    )
    return rowcount(result) == 1


def _model_values(row: ModelRow, now: datetime) -> dict[str, Any]:
    return {
        "model_id": row[0],
        "name": row[1],
        "production_deployment_id": row[2],
        "development_deployment_id": row[3],
        "baseline_at": now,
    }


def _values(snap: Snap) -> dict[str, Any]:
    return {
        "model_id": snap.model_id,
        "deployment_id": snap.deployment_id,
        "name": snap.name,
        "status": snap.status,
        "status_since": snap.since,
        "is_production": snap.is_production,
        "is_development": snap.is_development,
        "environment": snap.environment,
        "active_replica_count": snap.replicas,
        "instance_type_name": snap.instance_type,
        "gone": snap.gone,
        "stuck_announced": snap.stuck_announced,
        "flapping_since": snap.flapping_since,
    }


def _snap(row: t.Snapshot) -> Snap:
    return Snap(
        model_id=row.model_id,
        deployment_id=row.deployment_id,
        name=row.name,
        status=row.status,
        since=row.status_since,
        is_production=row.is_production,
        is_development=row.is_development,
        environment=row.environment,
        replicas=row.active_replica_count,
        instance_type=row.instance_type_name,
        gone=row.gone,
        stuck_announced=row.stuck_announced,
        flapping_since=row.flapping_since,
    )


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
