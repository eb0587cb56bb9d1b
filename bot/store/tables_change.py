"""The tables of change control (issue 27): freezes and approval requests. Named through bot.store.tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.columns import ID, NAME, SLACK_ID, Base, UTCDateTime


class FreezeRow(Base):
    """A freeze of a model (or `*`, every model) in an environment (or `*`, every one): one-off from
    `starts_at` to `ends_at`, or weekly (`weekly`, `tz`). Kept when lifted (`ended_at`, `ended_by`):
    the record of who froze what and who lifted it."""

    __tablename__ = "freezes"
    __table_args__ = (Index(None, "ended_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(SLACK_ID)
    channel_id: Mapped[str] = mapped_column(SLACK_ID)
    model_id: Mapped[str] = mapped_column(ID)
    model_name: Mapped[str] = mapped_column(NAME, default="")
    environment: Mapped[str] = mapped_column(ID)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)  # NULL: weekly
    weekly: Mapped[str | None] = mapped_column(String(40), default=None)  # `fri 17:00 - mon 09:00`
    tz: Mapped[str] = mapped_column(String(64), default="UTC")
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(SLACK_ID)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    ended_by: Mapped[str | None] = mapped_column(SLACK_ID, default=None)


class ApprovalRow(Base):
    """A confirmed action on an APPROVAL_REQUIRED pair, waiting for a second operator: the request's
    message in the channel, what the card showed (`shown`, checked again at the approval), and how it
    ended (`state`: pending, approved, rejected, expired, or unposted when its message could not be posted),
    by whom. `action_id` is the action it ran (bot.store.approvals)."""

    __tablename__ = "approvals"
    __table_args__ = (Index(None, "state", "expires_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(SLACK_ID)
    channel_id: Mapped[str] = mapped_column(SLACK_ID)
    ts: Mapped[str | None] = mapped_column(String(32), default=None)  # the request's message
    requested_by: Mapped[str] = mapped_column(SLACK_ID)
    verb: Mapped[str] = mapped_column(String(32))
    model_id: Mapped[str] = mapped_column(ID)
    deployment_id: Mapped[str] = mapped_column(ID, default="")
    environment: Mapped[str] = mapped_column(ID)
    # the button value of the card confirmed: the verb, the target and what the card showed
    card: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text, default="")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by: Mapped[str | None] = mapped_column(SLACK_ID, default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    action_id: Mapped[int | None] = mapped_column(Integer, default=None)
