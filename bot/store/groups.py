"""Notice groups (issue 26): a burst of notices for one channel sent as one message.

The only module that issues SQL for `notice_groups` and that sets `deliveries.group_id`. What the
burst rule reads (`window`) comes from the database, so it holds across restarts and replicas.
A group is formed in one transaction, conditional on each of its rows being still open and in no
group; its message is claimed like a delivery, and its ts recorded at once, so that a restart in
the middle of its lines posts the rest under it and never the message again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.groups import ALONE, Window
from bot.store import tables as t
from bot.store._sql import Now, rowcount, utcnow
from bot.store.outbox import OPEN


class _Changed(Exception):
    """A row of a group being formed was sent, claimed or grouped meanwhile: the group is not formed."""


@dataclass(frozen=True)
class GroupState:
    """A group's message: its ts once posted; `sent_at` also set when its post was given up (ts None)."""

    id: int
    ts: str | None
    sent_at: datetime | None


class Groups:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Now = utcnow) -> None:
        self._sessions = sessions
        self._now = now

    async def window(self, team_id: str, channel_id: str, *, wait: timedelta) -> Window:
        """What the burst rule reads of a channel's groupable notices (bot.domain.groups.Window)."""
        d, tr = t.Delivery, t.Transition
        mine = (d.team_id == team_id, d.channel_id == channel_id, d.group_id.is_(None), tr.kind.not_in(ALONE))

        def count(*where: ColumnElement[bool]) -> Select[int]:
            return select(func.count()).select_from(d).join(tr, d.transition_id == tr.id).where(*mine, *where)

        async with self._sessions() as session:
            oldest = await session.scalar(
                select(func.min(d.created_at)).join(tr, d.transition_id == tr.id).where(*mine, d.state.in_(OPEN))
            )
            if oldest is None:
                return Window(None, 0, 0)
            opened = await session.scalar(count(d.state.in_(OPEN), d.created_at <= oldest + wait))
            # counted from the oldest open one, not from now: the verdict stays while the burst waits
            alone = await session.scalar(count(d.state == "sent", d.sent_at >= oldest - wait))
        return Window(oldest, int(opened or 0), int(alone or 0))

    async def form(self, team_id: str, channel_id: str, ids: Sequence[int]) -> int | None:
        """One transaction: a new group of these deliveries, each still open and in no group; None
        (nothing written) if any of them was sent, claimed or grouped meanwhile."""
        now = self._now()
        d = t.Delivery
        try:
            async with self._sessions.begin() as session:
                group = t.NoticeGroup(team_id=team_id, channel_id=channel_id, created_at=now)
                session.add(group)
                await session.flush()
                result = await session.execute(
                    update(d)
                    .where(
                        d.id.in_(list(ids)),
                        d.group_id.is_(None),
                        # pending, or claimed by a replica that died before it finished
                        or_(d.state == "pending", and_(d.state == "sending", d.claim_until < now)),
                    )
                    .values(group_id=group.id)
                )
                if rowcount(result) != len(ids):
                    raise _Changed
                return int(group.id)
        except _Changed:
            return None

    async def state(self, group_id: int) -> GroupState | None:
        async with self._sessions() as session:
            row = await session.get(t.NoticeGroup, group_id)
            return None if row is None else GroupState(row.id, row.ts, row.sent_at)

    async def claim(self, group_id: int, *, holder: str, for_: timedelta) -> bool:
        """Claims a group's message for posting; False if it went already or another replica has it."""
        now = self._now()
        g = t.NoticeGroup
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(g)
                .where(g.id == group_id, g.sent_at.is_(None), or_(g.claim_until.is_(None), g.claim_until < now))
                .values(claimed_by=holder, claim_until=now + for_)
            )
            return rowcount(result) == 1

    async def posted(self, group_id: int, *, ts: str | None) -> None:
        """The group's message went (ts), or was given up (None): its lines go on, and it is not posted again."""
        g = t.NoticeGroup
        async with self._sessions.begin() as session:
            await session.execute(
                update(g).where(g.id == group_id).values(ts=ts, sent_at=self._now(), claimed_by=None, claim_until=None)
            )

    async def release(self, group_id: int) -> None:
        """Gives a claimed group message back unposted: it is tried again with its first row."""
        g = t.NoticeGroup
        async with self._sessions.begin() as session:
            await session.execute(
                update(g).where(g.id == group_id, g.sent_at.is_(None)).values(claimed_by=None, claim_until=None)
            )
