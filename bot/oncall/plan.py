"""Pure: which alarms ended and which reminders are due (issue 26), from what the poller last saw.

- An open alarm ends when its subscription is gone (`unsubscribed`), its deployment is gone (`deleted`)
  or no longer in a failing status (`recovered`, with the status now). A deployment the poller has no
  snapshot of says nothing: the alarm stays as it is.
- A reminder is due when the alarm is open and not acknowledged, its subscription asks for reminders
  (`--remind`), is not paused and has not had its last one (`--remind-max`, default 8), the interval
  has passed since the notice (or the last reminder), and no mute holds on the deployment in the
  channel. A mute pauses reminders: none is made while it holds, and they go on after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from bot.domain.alarms import DELETED, RECOVERED, UNSUBSCRIBED, Alarm, remind_limit
from bot.domain.changes import REMIND, Change, Snap
from bot.domain.memory import ModelMemory, Outgoing
from bot.domain.status import DELETED as DELETED_STATUS
from bot.domain.status import FAILURES
from bot.domain.watchers import Watcher
from bot.polling.audience import is_muted
from bot.render.oncall import ALARM, NTH, OF, SINCE, THREAD

Snaps = Mapping[str, Mapping[str, Snap]]
End = tuple[int, str, str | None]


def endings(alarms: Iterable[Alarm], snaps: Snaps, subscriptions: Iterable[int]) -> list[End]:
    """(alarm, why, status now) for each open alarm that ended."""
    live = set(subscriptions)
    out: list[End] = []
    for a in alarms:
        if a.ended_at is not None:
            continue
        if a.subscription_id is None or a.subscription_id not in live:
            out.append((a.delivery_id, UNSUBSCRIBED, None))
            continue
        snap = snaps.get(a.model_id, {}).get(a.deployment_id)
        if snap is None:
            continue
        if snap.gone:
            out.append((a.delivery_id, DELETED, DELETED_STATUS))
        elif snap.status not in FAILURES:
            out.append((a.delivery_id, RECOVERED, snap.status))
    return out


def due(
    alarms: Iterable[Alarm],
    watchers: Mapping[int, Watcher],
    snaps: Snaps,
    models: Mapping[str, ModelMemory],
    environments: Mapping[str, Mapping[str, str | None]],
    *,
    now: datetime,
) -> list[tuple[Alarm, Outgoing]]:
    """Each alarm owed a reminder now, with the reminder (kind REMIND) for its channel."""
    out = []
    for a in alarms:
        w = watchers.get(a.subscription_id) if a.subscription_id is not None else None
        if a.ended_at is not None or a.acked_by is not None or w is None or w.paused or not w.remind_seconds:
            continue
        limit = remind_limit(w.remind_max)
        snap = snaps.get(a.model_id, {}).get(a.deployment_id)
        last = a.reminded_at or a.opened_at
        if a.reminders >= limit or now < last + timedelta(seconds=w.remind_seconds):
            continue
        if snap is None or snap.gone or snap.status not in FAILURES:
            continue  # ended, or about to be: no reminder
        change = reminder_change(a, snap, n=a.reminders + 1, of=limit, now=now)
        memory = models.get(a.model_id)
        if is_muted(
            w.mutes,
            change,
            production_id=memory.production_id if memory else None,
            development_id=memory.development_id if memory else None,
            environments=environments.get(a.model_id, {}),
        ):
            continue
        out.append((a, Outgoing(change, w.model_name or (memory.name if memory else ""), [w])))
    return out


def reminder_change(a: Alarm, snap: Snap, *, n: int, of: int, now: datetime) -> Change:
    """The reminder's transition: which alarm, which reminder of how many, failing since when, and the
    thread it goes in (the notice's thread, or the notice itself when it started none)."""
    since = snap.since if snap.status == a.status else a.opened_at
    return Change(
        kind=REMIND,
        model_id=a.model_id,
        deployment_id=a.deployment_id,
        deployment_name=snap.name,
        old_status=None,
        new_status=snap.status,
        at=now,
        old_since=since,
        detail={ALARM: a.delivery_id, NTH: n, OF: of, SINCE: since.isoformat(), THREAD: a.thread},
    )
