"""The tables of the jobs beside the poller: the promotion guard's checks, digests, idle spells, and
on call's alarms and notice groups (issue 26). Named through bot.store.tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.columns import ID, NAME, SLACK_ID, Base, UTCDateTime


class GuardCheck(Base):
    """The promotion guard's latest reading of one comparison: a promotion's candidate against the
    environment's current deployment while it runs (phase `rollout`), or a promotion's new current
    against the one it replaced for GUARD_AFTER_MINUTES after it (phase `after`)."""

    __tablename__ = "guard_checks"

    model_id: Mapped[str] = mapped_column(ID, primary_key=True)
    environment: Mapped[str] = mapped_column(ID, primary_key=True)
    # the promotion's key (environment_states.promotion_key), or `after/…` for the comparison after one
    check_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    phase: Mapped[str] = mapped_column(String(16))
    candidate_id: Mapped[str] = mapped_column(ID)
    candidate_name: Mapped[str] = mapped_column(NAME, default="")
    baseline_id: Mapped[str] = mapped_column(ID)
    baseline_name: Mapped[str] = mapped_column(NAME, default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # the two windows as last read: {"requests", "errors_5xx", "p95_seconds", "note"}
    candidate: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    current: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # the specs (`--guard` as described) whose failing verdict was announced: once each
    announced: Mapped[str] = mapped_column(Text, default="")  # "|" between them
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)  # the guard's own pause, once


class Digest(Base):
    """A channel's one digest: its schedule, the last period sent (named by its due time), and the claim
    of the replica sending one, so that each period goes out once across restarts and hand-overs."""

    __tablename__ = "digests"

    team_id: Mapped[str] = mapped_column(SLACK_ID, primary_key=True)
    channel_id: Mapped[str] = mapped_column(SLACK_ID, primary_key=True)
    schedule: Mapped[str] = mapped_column(String(32))  # `daily 09:00`, `weekly mon 09:00`
    tz: Mapped[str] = mapped_column(String(64))  # an IANA zone name
    created_by: Mapped[str] = mapped_column(SLACK_ID, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # the due time of the last period settled: sent, or given up on (a channel Slack refuses for good);
    # a new schedule starts at its latest due time, so a period before the digest existed is not sent
    last_due: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    ts: Mapped[str | None] = mapped_column(String(32), default=None)
    last_error: Mapped[str | None] = mapped_column(String(100), default=None)
    # a replica claims a period before sending it; a claim that outlives its holder expires
    claimed_due: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    claimed_by: Mapped[str | None] = mapped_column(String(128), default=None)
    claim_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class IdleSpell(Base):
    """A deployment announced idle (issue 25): replicas up with (almost) no requests. The row is the
    claim that its spell was announced, once in all replicas; it goes when the spell ends (requests
    again, no replicas up, another status), so the next spell is announced again."""

    __tablename__ = "idle_spells"

    model_id: Mapped[str] = mapped_column(ID, primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ID, primary_key=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime())  # the start of the idle window first read
    announced_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Alarm(Base):
    """A failure notice sent to a channel (issue 26): acknowledged from Slack, reminded while it lasts.

    Keyed by the notice's delivery: pruned with it (bot.store.retention). Acknowledging it stops its
    reminders but does not end it, so that its notice can still be edited to say it recovered. It ends
    (ended_at, ended_why: bot.domain.alarms) when the deployment is no longer failing (`recovered`,
    now_status saying what it is now) or is gone (`deleted`), when a newer failure notice of the
    deployment in the channel replaces it (`superseded`), or when its subscription goes (`unsubscribed`)."""

    __tablename__ = "alarms"
    __table_args__ = (Index(None, "team_id", "channel_id", "deployment_id"),)

    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True)
    team_id: Mapped[str] = mapped_column(SLACK_ID)
    channel_id: Mapped[str] = mapped_column(SLACK_ID)
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL"), default=None
    )
    model_id: Mapped[str] = mapped_column(ID)
    deployment_id: Mapped[str] = mapped_column(ID)
    status: Mapped[str] = mapped_column(String(64))  # the failing status the notice announced
    ts: Mapped[str | None] = mapped_column(String(32), default=None)  # the notice's message
    thread_ts: Mapped[str | None] = mapped_column(String(32), default=None)  # its thread, if it replied in one
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reminders: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    acked_by: Mapped[str | None] = mapped_column(SLACK_ID, default=None)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None, index=True)
    ended_why: Mapped[str | None] = mapped_column(String(32), default=None)
    now_status: Mapped[str | None] = mapped_column(String(64), default=None)
    # an acknowledged notice edited to say the deployment recovered: once
    edited: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class NoticeGroup(Base):
    """A burst of notices for one channel sent as one message (issue 26): more than GROUP_OVER within
    GROUP_WAIT_SECONDS. Its deliveries (deliveries.group_id) each post their own line in their thread;
    the message is posted once (claimed like a delivery) and its ts kept, so that a restart in the
    middle of the lines posts the rest and never the message again."""

    __tablename__ = "notice_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(SLACK_ID)
    channel_id: Mapped[str] = mapped_column(SLACK_ID)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ts: Mapped[str | None] = mapped_column(String(32), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    claimed_by: Mapped[str | None] = mapped_column(String(128), default=None)
    claim_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
