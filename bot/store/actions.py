"""The actions record: one row per action asked from Slack, claimed before Baseten is called.

The only module that issues SQL for the `actions` table. `begin` is the
one-click-one-request rule: the same click (user, channel, message, verb, target)
within WINDOW finds the first one's row and gets None, in every replica, because the
claim is an INSERT under a unique key, not a check in memory. It also reads, and only
reads, the `promoted` transitions the outbox recorded, for `rollback`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store import tables as t
from bot.store._sql import Now, utcnow

WINDOW = timedelta(seconds=60)
PROMOTED = "promoted"  # bot.polling.transitions.PROMOTED: the store does not import the core's rules
RECENT_PROMOTIONS = 200  # how far back `previous_of` looks among a model's promotions


@dataclass(frozen=True)
class Click:
    """Who asked for what, where: the identity of one interaction."""

    team_id: str
    channel_id: str
    user_id: str
    message_ts: str
    verb: str
    model_id: str
    deployment_id: str
    environment: str

    @property
    def key(self) -> str:
        parts = [self.team_id, self.channel_id, self.user_id, self.message_ts, self.verb]
        parts += [self.model_id, self.deployment_id, self.environment]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Previous:
    """The deployment that was current in an environment before its latest promotion the bot saw."""

    deployment_id: str | None  # None: the bot did not know which one it was
    deployment_name: str
    promoted_id: str  # the deployment that promotion made current
    promoted_name: str


class ActionLog:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Now = utcnow) -> None:
        self._sessions = sessions
        self._now = now

    async def begin(self, click: Click, *, window: timedelta = WINDOW) -> int | None:
        """Records the action as asked and returns its id; None when the same click was already
        recorded within `window` (here or in another replica): then nothing must be sent."""
        now = self._now()
        key = click.key
        try:
            async with self._sessions.begin() as session:
                last = (
                    await session.execute(
                        select(t.Action.repeat, t.Action.requested_at)
                        .where(t.Action.dedupe_key == key)
                        .order_by(t.Action.repeat.desc())
                        .limit(1)
                    )
                ).first()
                if last is not None and last.requested_at > now - window:
                    return None
                row = t.Action(
                    dedupe_key=key,
                    repeat=(last.repeat + 1) if last is not None else 1,
                    team_id=click.team_id,
                    channel_id=click.channel_id,
                    user_id=click.user_id,
                    message_ts=click.message_ts,
                    verb=click.verb,
                    model_id=click.model_id,
                    deployment_id=click.deployment_id,
                    environment=click.environment,
                    requested_at=now,
                )
                session.add(row)
                await session.flush()
                return int(row.id)
        except IntegrityError:
            return None  # another request claimed this repeat first

    async def finish(self, action_id: int, *, status_code: int | None, outcome: str, reason: str, answer: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(t.Action)
                .where(t.Action.id == action_id)
                .values(
                    finished_at=self._now(),
                    status_code=status_code,
                    outcome=outcome,
                    reason=reason[:2000],
                    answer=answer[:2000],
                )
            )

    async def previous_of(self, model_id: str, environment: str) -> Previous | None:
        """What `rollback` promotes: from the latest `promoted` transition of that environment
        (a detail without `environment` is production's). None: the bot never saw one."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(t.Transition.deployment_id, t.Transition.deployment_name, t.Transition.detail)
                    .where(t.Transition.model_id == model_id, t.Transition.kind == PROMOTED)
                    .order_by(t.Transition.id.desc())
                    .limit(RECENT_PROMOTIONS)
                )
            ).all()
        for dep_id, dep_name, detail in rows:
            detail = detail or {}
            if (detail.get("environment") or "production") != environment:
                continue
            previous = detail.get("previous_deployment_id")
            return Previous(
                deployment_id=str(previous) if previous else None,
                deployment_name=str(detail.get("previous_deployment_name") or previous or ""),
                promoted_id=dep_id,
                promoted_name=dep_name or dep_id,
            )
        return None
