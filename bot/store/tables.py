"""SQLAlchemy tables: subscriptions, mutes, snapshots, model states, transitions, deliveries, threads,
leases, revisions, actions, environment states and promotion messages; the later jobs' tables (guard
checks, digests, idle spells, alarms, notice groups) are in bot.store.tables_jobs, change control's (freezes,
approvals) in bot.store.tables_change, and named here too,
so that `t.X` reaches every table and Base.metadata holds them all."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.columns import ID, NAME, OPEN_ROWS, SLACK_ID, Base, UTCDateTime
from bot.store.tables_change import ApprovalRow, FreezeRow
from bot.store.tables_jobs import Alarm, Digest, GuardCheck, IdleSpell, NoticeGroup

__all__ = [
    "OPEN_ROWS",
    "Action",
    "Alarm",
    "ApprovalRow",
    "Base",
    "Delivery",
    "Digest",
    "EnvironmentState",
    "FreezeRow",
    "GuardCheck",
    "IdleSpell",
    "Lease",
    "ModelState",
    "Mute",
    "NoticeGroup",
    "PromotionMessage",
    "Revision",
    "Snapshot",
    "Subscription",
    "Thread",
    "Transition",
    "UTCDateTime",
]


class Subscription(Base):
    """A channel watching one deployment, the production/development one, or a whole model."""

    __tablename__ = "subscriptions"
    # muted_until and last_delivered_at, unused since mutes moved to `mutes` (0006) and `list` read
    # deliveries.sent_at, left the mapping in the release that brought migration 0010, and the
    # table with migration 0012 (its docstring: why not in one step).
    __table_args__ = (UniqueConstraint("team_id", "channel_id", "model_id", "target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(SLACK_ID)
    channel_id: Mapped[str] = mapped_column(SLACK_ID)
    model_id: Mapped[str] = mapped_column(ID, index=True)
    model_name: Mapped[str] = mapped_column(NAME, default="")
    # "*" whole model, "production", "development", or a deployment id
    target: Mapped[str] = mapped_column(ID)
    target_name: Mapped[str] = mapped_column(NAME, default="")
    kinds: Mapped[str] = mapped_column(String(500), default="")  # comma list; "" = default
    thread: Mapped[bool] = mapped_column(Boolean, default=True)
    stuck_after: Mapped[int | None] = mapped_column(Integer, default=None)  # seconds; None: 30 min
    # `--guard` as bot.domain.guard.describe says it (an environment's or production's); None: the default
    guard: Mapped[str | None] = mapped_column(String(100), default=None)
    # `--remind DURATION [--remind-max N]` (issue 26): seconds between reminders; None: no reminders
    remind_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    remind_max: Mapped[int | None] = mapped_column(Integer, default=None)  # None: the default, 8
    created_by: Mapped[str] = mapped_column(SLACK_ID, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paused_reason: Mapped[str | None] = mapped_column(String(100), default=None)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class Mute(Base):
    """A channel's mute on a model: all of it, or one target (production, development, a deployment).

    It holds for every subscription of the channel to that model, whatever their targets.
    """

    __tablename__ = "mutes"

    team_id: Mapped[str] = mapped_column(SLACK_ID, primary_key=True)
    channel_id: Mapped[str] = mapped_column(SLACK_ID, primary_key=True)
    model_id: Mapped[str] = mapped_column(ID, primary_key=True)
    # "*" the whole model, "production", "development", or a deployment id
    target: Mapped[str] = mapped_column(ID, primary_key=True)
    target_name: Mapped[str] = mapped_column(NAME, default="")
    until: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(SLACK_ID, default="")


class Snapshot(Base):
    """The last status the bot saw for a deployment, and since when."""

    __tablename__ = "snapshots"

    model_id: Mapped[str] = mapped_column(ID, primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME, default="")
    status: Mapped[str] = mapped_column(String(64))
    is_production: Mapped[bool | None] = mapped_column(Boolean, default=None)
    is_development: Mapped[bool | None] = mapped_column(Boolean, default=None)
    environment: Mapped[str | None] = mapped_column(NAME, default=None)
    active_replica_count: Mapped[int | None] = mapped_column(Integer, default=None)
    instance_type_name: Mapped[str | None] = mapped_column(NAME, default=None)
    status_since: Mapped[datetime] = mapped_column(UTCDateTime())
    gone: Mapped[bool] = mapped_column(Boolean, default=False)
    # the longest stuck threshold (seconds) already announced for the current status
    stuck_announced: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    flapping_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # a chain deployment's chainlets: [[id, name, status], ...]; NULL for a model's deployment
    parts: Mapped[list[list[str]] | None] = mapped_column(JSON, default=None)


class ModelState(Base):
    """A model polled through its deployment list: its known set has a baseline."""

    __tablename__ = "model_states"

    model_id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME, default="")
    production_deployment_id: Mapped[str | None] = mapped_column(ID, default=None)
    development_deployment_id: Mapped[str | None] = mapped_column(ID, default=None)
    baseline_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Transition(Base):
    """One change the poller saw: a status change, a new or deleted deployment, a promotion."""

    __tablename__ = "transitions"
    __table_args__ = (
        Index(None, "model_id", "deployment_id"),
        Index(None, "deployment_id", "detected_at"),  # recent changes of a deployment (flapping)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # status | new | deleted | promoted
    model_id: Mapped[str] = mapped_column(ID)
    model_name: Mapped[str] = mapped_column(NAME, default="")
    deployment_id: Mapped[str] = mapped_column(ID)
    deployment_name: Mapped[str] = mapped_column(NAME, default="")
    old_status: Mapped[str | None] = mapped_column(String(64), default=None)
    new_status: Mapped[str] = mapped_column(String(64))
    old_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Delivery(Base):
    """One transition owed to one channel: the outbox row, sent once."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("transition_id", "team_id", "channel_id"),
        Index(None, "state", "next_attempt_at"),
        Index(None, "team_id", "channel_id", "ts"),  # a thread's first notice
        Index(None, "team_id", "channel_id", "thread_ts"),  # a thread's replies
        # the rows not yet sent, failed or dropped, in order: what the notifier reads every pass,
        # a few among every notice ever sent
        Index("ix_deliveries_open", "id", sqlite_where=OPEN_ROWS, postgresql_where=OPEN_ROWS),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transition_id: Mapped[int] = mapped_column(ForeignKey("transitions.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL"), default=None, index=True
    )
    team_id: Mapped[str] = mapped_column(SLACK_ID)
    channel_id: Mapped[str] = mapped_column(SLACK_ID)
    thread: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed|dropped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    ts: Mapped[str | None] = mapped_column(String(32), default=None)
    thread_ts: Mapped[str | None] = mapped_column(String(32), default=None)
    # a replica claims a row before sending it; a claim that outlives its holder expires
    claimed_by: Mapped[str | None] = mapped_column(String(128), default=None)
    claim_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # the burst this row went out in (notice_groups.id), its line posted in its thread; None: on its own
    group_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)


class Thread(Base):
    """The parent message of a deployment's notices in one channel."""

    __tablename__ = "threads"

    team_id: Mapped[str] = mapped_column(SLACK_ID, primary_key=True)
    channel_id: Mapped[str] = mapped_column(SLACK_ID, primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ID, primary_key=True)
    model_id: Mapped[str] = mapped_column(ID)
    ts: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Lease(Base):
    """A named lease: the replica holding `poller` is the only one that polls and delivers."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128), default="")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class Revision(Base):
    """A counter moved by every write of a kind (`watchers`: subscriptions and mutes), so a reader can
    tell cheaply whether what it holds is still current."""

    __tablename__ = "revisions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class Action(Base):
    """One action on a deployment asked from Slack, and what Baseten answered.

    The bot's own audit record: Baseten's audit log names the bot's API key, never the
    Slack user. `card_id` is unique: the first click on a confirmation card claims it,
    and any later click, redelivery or replay of that card finds the row and makes no
    request, in every replica alike.
    """

    __tablename__ = "actions"
    __table_args__ = (
        UniqueConstraint("dedupe_key", "repeat"),
        Index(None, "model_id", "requested_at"),
        Index(None, "card_id", unique=True),  # an index, not a constraint: SQLite adds one to a table in place
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(64))  # a hash of the card id (before 0010: of the click)
    repeat: Mapped[int] = mapped_column(Integer)  # 1 (before 0010: 2 for the same click after a minute, …)
    # the confirmation card this click confirmed: one card, one row (NULL in rows before 0010)
    card_id: Mapped[str | None] = mapped_column(String(32), default=None)
    team_id: Mapped[str] = mapped_column(SLACK_ID)
    channel_id: Mapped[str] = mapped_column(SLACK_ID)
    user_id: Mapped[str] = mapped_column(SLACK_ID)
    message_ts: Mapped[str] = mapped_column(String(32), default="")
    verb: Mapped[str] = mapped_column(String(32))
    model_id: Mapped[str] = mapped_column(ID)
    deployment_id: Mapped[str] = mapped_column(ID, default="")
    environment: Mapped[str] = mapped_column(NAME, default="")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)  # None: no answer (yet)
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)  # accepted | refused | unknown
    reason: Mapped[str | None] = mapped_column(Text, default=None)  # what the channel was told
    answer: Mapped[str | None] = mapped_column(Text, default=None)  # Baseten's body, shortened
    # issue 27: the freeze an admin's `--override` acted through (what, who froze it, why, until when)
    override: Mapped[str | None] = mapped_column(Text, default=None)
    approval_id: Mapped[int | None] = mapped_column(Integer, default=None)  # the approval request it ran


class EnvironmentState(Base):
    """What the bot last saw of a model's environment: its current deployment and the promotion in it."""

    __tablename__ = "environment_states"

    model_id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(ID, primary_key=True)
    current_deployment_id: Mapped[str | None] = mapped_column(ID, default=None)
    current_deployment_name: Mapped[str] = mapped_column(NAME, default="")
    candidate_deployment_id: Mapped[str | None] = mapped_column(ID, default=None)
    candidate_deployment_name: Mapped[str] = mapped_column(NAME, default="")
    promotion_status: Mapped[str | None] = mapped_column(String(64), default=None)
    traffic_percent: Mapped[int | None] = mapped_column(Integer, default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    # the bot's key for the promotion (environment/candidate/first seen): Baseten gives it no id
    promotion_key: Mapped[str | None] = mapped_column(String(200), default=None)
    since: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class PromotionMessage(Base):
    """The one live message of a promotion in a channel: posted once, then edited in place."""

    __tablename__ = "promotion_messages"
    __table_args__ = (
        Index("ix_promotion_messages_candidate", "team_id", "channel_id", "model_id", "candidate_deployment_id"),
    )

    team_id: Mapped[str] = mapped_column(SLACK_ID, primary_key=True)
    channel_id: Mapped[str] = mapped_column(SLACK_ID, primary_key=True)
    promotion_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    model_id: Mapped[str] = mapped_column(ID)
    environment: Mapped[str] = mapped_column(ID)
    candidate_deployment_id: Mapped[str] = mapped_column(ID, default="")
    ts: Mapped[str] = mapped_column(String(32))
    started_by: Mapped[str | None] = mapped_column(NAME, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
