"""Approval requests (issue 27, APPROVAL_REQUIRED): the only module that issues SQL for `approvals`.

A request is `pending` until exactly one of these, each one conditional UPDATE, so a double click,
a redelivery or two replicas at once find it decided and do nothing more:

- `approve`: by another operator than the requester, before `expires_at`;
- `reject`: by any operator (the requester too: withdrawn), before `expires_at`;
- `expire`: after `expires_at` (the lease holder's pass, or a click that came too late);
- `unposted`: its message could not be posted, so nobody could ever approve it.

Rows are kept when decided: the record of who asked, why, who decided and what ran (`action_id`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store import tables as t
from bot.store._sql import Now, rowcount, utcnow

PENDING, APPROVED, REJECTED, EXPIRED, UNPOSTED = "pending", "approved", "rejected", "expired", "unposted"


@dataclass(frozen=True)
class Approval:
    id: int
    team_id: str
    channel_id: str
    ts: str | None  # the request's message; None until posted
    requested_by: str
    verb: str
    model_id: str
    deployment_id: str
    environment: str
    card: dict[str, Any]  # the confirmed card's button value: verb, target and what it showed
    reason: str
    requested_at: datetime
    expires_at: datetime
    state: str
    decided_by: str | None = None
    decided_at: datetime | None = None
    action_id: int | None = None


@dataclass(frozen=True)
class NewApproval:
    team_id: str
    channel_id: str
    requested_by: str
    verb: str
    model_id: str
    deployment_id: str
    environment: str
    card: dict[str, Any]
    reason: str
    expires_at: datetime


class Approvals:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Now = utcnow) -> None:
        self._sessions = sessions
        self._now = now

    async def add(self, new: NewApproval) -> int:
        """Records a pending request; its id."""
        async with self._sessions.begin() as session:
            row = t.ApprovalRow(
                team_id=new.team_id,
                channel_id=new.channel_id,
                requested_by=new.requested_by,
                verb=new.verb,
                model_id=new.model_id,
                deployment_id=new.deployment_id,
                environment=new.environment,
                card=new.card,
                reason=new.reason,
                requested_at=self._now(),
                expires_at=new.expires_at,
                state=PENDING,
            )
            session.add(row)
            await session.flush()
            return int(row.id)

    async def posted(self, approval_id: int, ts: str) -> None:
        """The request's message, once Slack took it."""
        async with self._sessions.begin() as session:
            await session.execute(update(t.ApprovalRow).where(t.ApprovalRow.id == approval_id).values(ts=ts))

    async def get(self, approval_id: int) -> Approval | None:
        async with self._sessions() as session:
            row = await session.get(t.ApprovalRow, approval_id)
        return None if row is None else _approval(row)

    async def approve(self, approval_id: int, *, by: str) -> bool:
        """pending → approved, by another user than the requester, not past its end; False: it was not."""
        a = t.ApprovalRow
        return await self._decide(
            approval_id, APPROVED, by, a.requested_by != by, a.expires_at >= self._now(), a.ts.is_not(None)
        )

    async def reject(self, approval_id: int, *, by: str) -> bool:
        """pending → rejected (by the requester: withdrawn), not past its end; False: it was not."""
        return await self._decide(approval_id, REJECTED, by, t.ApprovalRow.expires_at >= self._now())

    async def expire(self, approval_id: int) -> bool:
        """pending → expired, once past its end; False: it was decided, or is not past its end."""
        return await self._decide(approval_id, EXPIRED, None, t.ApprovalRow.expires_at < self._now())

    async def unposted(self, approval_id: int) -> bool:
        """pending → unposted: its message could not be posted, so nobody could approve it."""
        return await self._decide(approval_id, UNPOSTED, None)

    async def _decide(self, approval_id: int, state: str, by: str | None, *where: Any) -> bool:
        a = t.ApprovalRow
        async with self._sessions.begin() as session:
            done = await session.execute(
                update(a)
                .where(a.id == approval_id, a.state == PENDING, *where)
                .values(state=state, decided_by=by, decided_at=self._now())
            )
        return rowcount(done) == 1

    async def ran(self, approval_id: int, action_id: int) -> None:
        """The action an approval ran (its row in `actions`)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(t.ApprovalRow).where(t.ApprovalRow.id == approval_id).values(action_id=action_id)
            )

    async def due(self, *, limit: int = 100) -> list[Approval]:
        """Pending requests past their end, the oldest first."""
        a = t.ApprovalRow
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(a).where(a.state == PENDING, a.expires_at < self._now()).order_by(a.expires_at).limit(limit)
                )
            ).all()
        return [_approval(r) for r in rows]


def _approval(row: t.ApprovalRow) -> Approval:
    return Approval(
        id=int(row.id),
        team_id=row.team_id,
        channel_id=row.channel_id,
        ts=row.ts,
        requested_by=row.requested_by,
        verb=row.verb,
        model_id=row.model_id,
        deployment_id=row.deployment_id,
        environment=row.environment,
        card=dict(row.card or {}),
        reason=row.reason,
        requested_at=row.requested_at,
        expires_at=row.expires_at,
        state=row.state,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        action_id=row.action_id,
    )
