"""The actions record: one row per confirming click, claimed before Baseten is called.

The only module that issues SQL for the `actions` table. `claim` is the one-card-one-request
rule: a confirmation card has its own id, and the first click on it inserts the row that
holds that id under a unique key; any later click, a redelivery or a replay, at any time and
in any replica, finds the card taken, because the claim is an INSERT, not a check in memory.
It also reads, and only reads, the `promoted` transitions the outbox recorded, for `rollback`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store import tables as t
from bot.store._sql import Now, utcnow

PROMOTED = "promoted"  # bot.polling.transitions.PROMOTED: the store does not import the core's rules
RECENT_PROMOTIONS = 200  # how far back `previous_of` looks among a model's promotions
ROLLBACK = "rollback"  # the verb, as recorded
ACCEPTED = "accepted"  # an outcome, as recorded


@dataclass(frozen=True)
class Click:
    """Who asked for what, where: one confirming click."""

    team_id: str
    channel_id: str
    user_id: str
    message_ts: str
    verb: str
    model_id: str
    deployment_id: str
    environment: str
    override: str | None = None  # the freeze an admin's `--override` acts through, in words
    approval_id: int | None = None  # the approval request this action runs for


@dataclass(frozen=True)
class Previous:
    """The deployment that was current in an environment before its latest promotion the bot saw."""

    deployment_id: str | None  # None: the bot did not know which one it was
    deployment_name: str
    promoted_id: str  # the deployment that promotion made current
    promoted_name: str
    # that promotion was a rollback an operator made through the bot: `deployment_id` is the one it
    # replaced, which a rollback must never offer back
    by_rollback: bool = False


def card_key(card: str) -> str:
    """The row's `dedupe_key` for a card: unique with `repeat` 1, as the card id is unique."""
    return hashlib.sha256(("card\x1f" + card).encode()).hexdigest()


class ActionLog:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Now = utcnow) -> None:
        self._sessions = sessions
        self._now = now

    async def claim(self, click: Click, card: str) -> int | None:
        """Records the click as the one action of this card and returns its id; None when the card was
        claimed before (here or in another replica): then nothing must be sent. Any other database
        error propagates: the card was not claimed, nothing must be sent, and it may be clicked again."""
        try:
            async with self._sessions.begin() as session:
                row = t.Action(
                    dedupe_key=card_key(card),
                    repeat=1,
                    card_id=card,
                    team_id=click.team_id,
                    channel_id=click.channel_id,
                    user_id=click.user_id,
                    message_ts=click.message_ts,
                    verb=click.verb,
                    model_id=click.model_id,
                    deployment_id=click.deployment_id,
                    environment=click.environment,
                    requested_at=self._now(),
                    override=click.override,
                    approval_id=click.approval_id,
                )
                session.add(row)
                await session.flush()
                return int(row.id)
        except IntegrityError:
            if await self._claimed(card):
                return None  # the card's row exists: an earlier click has it
            raise  # not the unique key: a database that refused the write

    async def _claimed(self, card: str) -> bool:
        async with self._sessions() as session:
            found = await session.scalar(select(t.Action.id).where(t.Action.card_id == card).limit(1))
        return found is not None

    async def finish(
        self,
        action_id: int,
        *,
        status_code: int | None,
        outcome: str,
        reason: str,
        answer: str,
        approval_id: int | None = None,
    ) -> None:
        """How it ended; `approval_id`: the approval request a confirming click became (outcome `requested`)."""
        values: dict[str, object] = {
            "finished_at": self._now(),
            "status_code": status_code,
            "outcome": outcome,
            "reason": reason[:2000],
            "answer": answer[:2000],
        }
        if approval_id is not None:
            values["approval_id"] = approval_id
        async with self._sessions.begin() as session:
            await session.execute(update(t.Action).where(t.Action.id == action_id).values(**values))

    async def previous_of(self, model_id: str, environment: str) -> Previous | None:
        """What `rollback` promotes: from the latest `promoted` transition of that environment
        (a detail without `environment` is production's). None: the bot never saw one.

        That promotion was a rollback (`by_rollback`) when an operator's rollback to the deployment
        it made current was accepted after the promotion before it (the one rolled back)."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(
                        t.Transition.deployment_id,
                        t.Transition.deployment_name,
                        t.Transition.detail,
                        t.Transition.detected_at,
                    )
                    .where(t.Transition.model_id == model_id, t.Transition.kind == PROMOTED)
                    .order_by(t.Transition.id.desc())
                    .limit(RECENT_PROMOTIONS)
                )
            ).all()
            mine = [r for r in rows if ((r.detail or {}).get("environment") or "production") == environment]
            if not mine:
                return None
            latest, before = mine[0], (mine[1].detected_at if len(mine) > 1 else None)
            by_rollback = await _rolled_back_to(session, model_id, environment, latest.deployment_id, after=before)
        detail = latest.detail or {}
        previous = detail.get("previous_deployment_id")
        return Previous(
            deployment_id=str(previous) if previous else None,
            deployment_name=str(detail.get("previous_deployment_name") or previous or ""),
            promoted_id=latest.deployment_id,
            promoted_name=latest.deployment_name or latest.deployment_id,
            by_rollback=by_rollback,
        )


async def _rolled_back_to(
    session: AsyncSession, model_id: str, environment: str, deployment_id: str, *, after: datetime | None
) -> bool:
    """Whether an operator's rollback to this deployment was accepted (after `after`, when given)."""
    a = t.Action
    query = select(a.id).where(
        a.model_id == model_id,
        a.environment == environment,
        a.verb == ROLLBACK,
        a.deployment_id == deployment_id,
        a.outcome == ACCEPTED,
    )
    if after is not None:
        query = query.where(a.requested_at > after)
    return (await session.scalar(query.limit(1))) is not None
