"""Each channel's digest: its schedule, and which period was sent, claimed like a notice.

The only module that writes the `digests` table. A period is named by its due time
(bot.domain.digests). Sending one is: `claim` (a conditional UPDATE: the period is after the last
one settled, and nobody's claim on the row is live), post, then `mark_sent` (or `settle` when Slack
refuses the channel for good). A claim outlives its holder by `for_` at most, so a replica that died
mid-send leaves the period to the next one, which sends it again: twice only if the process died
between Slack's ok and the record, as with notices. Two replicas, or one restarted, never both claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.digests import Schedule, from_words, latest_due
from bot.store import tables as t
from bot.store._sql import Now, insert_ignore, rowcount, utcnow


@dataclass(frozen=True)
class DigestView:
    team_id: str
    channel_id: str
    schedule: Schedule
    last_due: datetime
    sent_at: datetime | None = None
    last_error: str | None = None


def _view(row: t.Digest) -> DigestView:
    return DigestView(
        row.team_id, row.channel_id, from_words(row.schedule, row.tz), row.last_due, row.sent_at, row.last_error
    )


class Digests:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Now = utcnow) -> None:
        self._sessions = sessions
        self._now = now

    async def set(self, team_id: str, channel_id: str, schedule: Schedule, *, user_id: str) -> DigestView | None:
        """Sets the channel's digest, replacing any; returns the one it replaced. The first period sent is
        the next one due: a new schedule settles its latest due time at once. The same schedule again
        changes nothing."""
        now = self._now()
        values = {
            "schedule": schedule.words,
            "tz": schedule.tz,
            "created_by": user_id,
            "updated_at": now,
            "last_due": latest_due(schedule, now),
            "sent_at": None,
            "ts": None,
            "last_error": None,
            "claimed_due": None,
            "claimed_by": None,
            "claim_until": None,
        }
        async with self._sessions.begin() as session:
            row = {"team_id": team_id, "channel_id": channel_id, **values}
            if await insert_ignore(session, t.Digest, [row]):
                return None
            old = await _row(session, team_id, channel_id)
            if old is None:  # turned off in between: set it now
                await insert_ignore(session, t.Digest, [row])
                return None
            before = _view(old)
            if before.schedule != schedule:
                await session.execute(update(t.Digest).where(_channel(team_id, channel_id)).values(**values))
            return before

    async def off(self, team_id: str, channel_id: str) -> DigestView | None:
        """Ends the channel's digest; returns it, or None when it had none."""
        async with self._sessions.begin() as session:
            old = await _row(session, team_id, channel_id)
            if old is None:
                return None
            await session.execute(delete(t.Digest).where(_channel(team_id, channel_id)))
            return _view(old)

    async def get(self, team_id: str, channel_id: str) -> DigestView | None:
        async with self._sessions() as session:
            row = await _row(session, team_id, channel_id)
            return None if row is None else _view(row)

    async def all(self) -> list[DigestView]:
        """Every channel's digest (one row a channel: the job reads them all and computes what is due)."""
        async with self._sessions() as session:
            rows = (await session.scalars(select(t.Digest).order_by(t.Digest.team_id, t.Digest.channel_id))).all()
            return [_view(r) for r in rows]

    async def claim(self, digest: DigestView, due: datetime, *, holder: str, for_: timedelta) -> bool:
        """Claims the period due at `due` for sending; False if it was settled, another replica (or this
        one) holds a live claim, or the schedule changed since `digest` was read."""
        now = self._now()
        d = t.Digest
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(d)
                .where(
                    _channel(digest.team_id, digest.channel_id),
                    d.schedule == digest.schedule.words,
                    d.tz == digest.schedule.tz,
                    d.last_due < due,
                    or_(d.claim_until.is_(None), d.claim_until < now),
                )
                .values(claimed_due=due, claimed_by=holder, claim_until=now + for_)
            )
            return rowcount(result) == 1

    async def mark_sent(self, digest: DigestView, due: datetime, *, holder: str, ts: str | None) -> None:
        """The period due at `due` was sent: settled, and the claim let go."""
        await self.settle(digest, due, holder=holder, ts=ts, error=None)

    async def settle(
        self, digest: DigestView, due: datetime, *, holder: str, ts: str | None = None, error: str | None
    ) -> None:
        """Settles the claimed period: sent (`error` None) or given up on (Slack refuses the channel)."""
        d = t.Digest
        values: dict[str, object] = {"last_due": due, "last_error": error, "claimed_due": None}
        values |= {"claimed_by": None, "claim_until": None}
        if error is None:
            values |= {"sent_at": self._now(), "ts": ts}
        async with self._sessions.begin() as session:
            await session.execute(
                update(d)
                .where(_channel(digest.team_id, digest.channel_id), d.claimed_due == due, d.claimed_by == holder)
                .values(**values)
            )

    async def failed(self, digest: DigestView, due: datetime, *, holder: str, error: str) -> None:
        """Sending failed for now: the claim stays until it expires, which paces the next try."""
        d = t.Digest
        async with self._sessions.begin() as session:
            await session.execute(
                update(d)
                .where(_channel(digest.team_id, digest.channel_id), d.claimed_due == due, d.claimed_by == holder)
                .values(last_error=error[:100])
            )


def _channel(team_id: str, channel_id: str) -> ColumnElement[bool]:
    return and_(t.Digest.team_id == team_id, t.Digest.channel_id == channel_id)


async def _row(session: AsyncSession, team_id: str, channel_id: str) -> t.Digest | None:
    return await session.scalar(select(t.Digest).where(_channel(team_id, channel_id)))
