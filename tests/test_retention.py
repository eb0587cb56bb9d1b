"""RETENTION_DAYS: what is done and older goes, in small batches; what anything still needs stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bot.app.db import make_async_engine, make_sync_engine, sessions
from bot.store import Store
from bot.store import tables as t

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=40)
NEW = NOW - timedelta(days=1)


def _transition(
    session: sa.orm.Session, tid: int, kind: str, at: datetime, model: str = "m1", detail: dict[str, str] | None = None
) -> None:
    session.add(
        t.Transition(
            id=tid, kind=kind, model_id=model, deployment_id=f"d{tid}", new_status="ACTIVE", detected_at=at,
            detail=detail or {},
        )
    )  # fmt: skip


def _delivery(session: sa.orm.Session, did: int, tid: int, state: str, at: datetime) -> None:
    session.add(
        t.Delivery(
            id=did, transition_id=tid, team_id="T1", channel_id="C1", state=state, next_attempt_at=at, created_at=at
        )
    )


def _fill(db_url: str) -> None:
    engine = make_sync_engine(db_url)
    with sa.orm.Session(engine) as session, session.begin():
        session.add(t.Subscription(id=1, team_id="T1", channel_id="C1", model_id="watched", target="*", created_at=OLD))
        for tid, kind, at in [(1, "status", OLD), (2, "status", OLD), (3, "promoted", OLD), (4, "status", NEW)]:
            _transition(session, tid, kind, at)
        for n in range(5, 5 + 12):  # more than one batch of old, sent notices
            _transition(session, n, "status", OLD)
        # promotions: `rollback` reads the newest two of each model's environment (none named: production)
        _transition(session, 30, "promoted", OLD, detail={"environment": "production"})
        _transition(session, 31, "promoted", OLD, detail={"environment": ""})  # 3, 30, 31: 3 is superseded
        _transition(session, 32, "promoted", OLD, detail={"environment": "staging"})
        _transition(session, 33, "promoted", NEW, detail={"environment": "staging"})
        _transition(session, 34, "promoted", OLD, model="m2")  # another model's only one
        session.flush()  # transitions first: deliveries refer to them
        for n in range(5, 5 + 12):
            _delivery(session, n, n, "sent", OLD)
        _delivery(session, 1, 1, "sent", OLD)  # done and old: goes, and so does its transition
        _delivery(session, 2, 2, "pending", OLD)  # still owed: stays, with its transition
        _delivery(session, 3, 3, "sent", OLD)  # its transition is a promotion `rollback` reads: the row goes
        _delivery(session, 4, 4, "sent", NEW)  # recent: stays
        for aid, finished in [(1, OLD), (2, NEW), (3, None)]:
            session.add(
                t.Action(
                    id=aid, dedupe_key=f"k{aid}", repeat=1, team_id="T1", channel_id="C1", user_id="U1",
                    verb="retry", model_id="m1", requested_at=OLD, finished_at=finished,
                )
            )  # fmt: skip
        for model, key in [("watched", "k-live"), ("gone", "k-gone")]:
            session.add(t.EnvironmentState(model_id=model, name="staging", promotion_key=key, since=OLD))
        for key in ("k-live", "k-ended"):
            session.add(
                t.PromotionMessage(
                    team_id="T1", channel_id="C1", promotion_key=key, model_id="watched", environment="staging",
                    ts="1.1", created_at=OLD,
                )
            )  # fmt: skip
        for dep, gone, at in [("gone-old", True, OLD), ("gone-new", True, NEW), ("live-old", False, OLD)]:
            session.add(t.Snapshot(model_id="m1", deployment_id=dep, status="ACTIVE", status_since=at, gone=gone))
        for dep, at in [("old", OLD), ("new", NEW)]:
            session.add(
                t.Thread(team_id="T1", channel_id="C1", deployment_id=dep, model_id="m1", ts="1.1", created_at=at)
            )
    engine.dispose()


def _left(db_url: str) -> dict[str, list[object]]:
    engine = make_sync_engine(db_url)
    with engine.connect() as conn:
        left = {
            "transitions": sorted(conn.scalars(sa.select(t.Transition.id))),
            "deliveries": sorted(conn.scalars(sa.select(t.Delivery.id))),
            "actions": sorted(conn.scalars(sa.select(t.Action.id))),
            "promotion_messages": sorted(conn.scalars(sa.select(t.PromotionMessage.promotion_key))),
            "environment_states": sorted(conn.scalars(sa.select(t.EnvironmentState.model_id))),
            "snapshots": sorted(conn.scalars(sa.select(t.Snapshot.deployment_id))),
            "threads": sorted(conn.scalars(sa.select(t.Thread.deployment_id))),
        }
    engine.dispose()
    return left


async def test_pruning_removes_only_what_is_done_and_older(db_url: str) -> None:
    _fill(db_url)
    engine = make_async_engine(db_url)
    store = Store(sessions(engine))
    rollbacks = [("m1", "production"), ("m1", "staging"), ("m2", "production")]
    try:
        read_by_rollback = [await store.actions.previous_of(model, env) for model, env in rollbacks]
        pruned = await store.retention.prune(before=NOW - timedelta(days=30), batch=5)
        assert [await store.actions.previous_of(model, env) for model, env in rollbacks] == read_by_rollback
    finally:
        await engine.dispose()
    assert [p.promoted_id if p else None for p in read_by_rollback] == ["d31", "d33", "d34"]
    assert _left(db_url) == {
        "transitions": [2, 4, 30, 31, 32, 33, 34],
        "deliveries": [2, 4],
        "actions": [2, 3],
        "promotion_messages": ["k-live"],
        "environment_states": ["watched"],
        "snapshots": ["gone-new", "live-old"],  # a deployment deleted that long ago goes
        "threads": ["new"],  # a thread takes replies for a day: an older one never will again
    }
    assert pruned.rows == {
        "alarms": 0,  # none here: tests/test_oncall.py prunes one with its notice
        "deliveries": 14,
        "transitions": 14,
        "actions": 1,
        "promotion_messages": 1,
        "environment_states": 1,
        "snapshots": 1,
        "threads": 1,
        "guard_checks": 0,  # none here: tests/test_guard_store.py prunes them
        "notice_groups": 0,  # none here: tests/test_groups.py prunes them
        "approvals": 0,  # none here: tests/test_approvals.py prunes them
    }
