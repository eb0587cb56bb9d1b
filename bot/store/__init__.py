"""The database, by concern; each module alone issues SQL for its own tables.

- `subscriptions`: which channel watches what (options, pause);
- `mutes`: a channel's mutes on a model, or on one target of it;
- `snapshots`: what the bot last saw of each deployment and model (written with a new
  subscription, and by the outbox);
- `outbox`: transitions and their pending deliveries, and a poll's one recording transaction;
- `threads`: which message a deployment's notices reply to in each channel;
- `groups`: bursts of notices for one channel sent as one message, and the burst rule's reading;
- `history`: when each deployment changed recently, for the noise rules, and what changed over a
  digest's period;
- `retention`: pruning what is done and older than RETENTION_DAYS;
- `revisions`: the watchers revision, moved after each change to who watches what;
- `outage`: a database outage as one line a period and a back-off (no SQL of its own);
- `leases`: the poller lease that elects one replica;
- `actions`: actions on deployments asked from Slack, one per click.
- `env_states` and `promotion_messages`: environments and the live message of each promotion;
- `guard_checks`: the promotion guard's comparisons, what it announced, its own pause;
- `digests`: each channel's digest schedule, and which period was sent (claimed like a notice);
- `alarms` (and `alarm_rows`, which opens one as its notice is marked sent): failure notices
  acknowledged and reminded (issue 26).
- `freezes`: change freezes (issue 27), kept when lifted;
- `approvals`: requests for a second operator's approval (APPROVAL_REQUIRED), kept when decided.

`Store` bundles all but the lease over one session factory, so the poller,
the notifier and the commands share them without each building its own; `memory`
reads what the poller knows of some models in one session, through the owning modules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.changes import Snap
from bot.domain.memory import History, ModelMemory
from bot.store._sql import Now, utcnow
from bot.store.actions import ActionLog
from bot.store.alarms import Alarms
from bot.store.approvals import Approvals
from bot.store.digests import Digests
from bot.store.env_states import EnvStates
from bot.store.freezes import Freezes
from bot.store.groups import Groups
from bot.store.guard_checks import GuardChecks
from bot.store.history import PeriodHistory, read_change_times
from bot.store.idle_spells import IdleSpells
from bot.store.mutes import Mutes
from bot.store.outbox import Outbox
from bot.store.promotion_messages import PromotionMessages
from bot.store.retention import Retention
from bot.store.snapshots import read_memory
from bot.store.subscriptions import SubscriptionStore
from bot.store.threads import Threads


class Store:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Now = utcnow) -> None:
        self._sessions = sessions
        self.subscriptions = SubscriptionStore(sessions, now=now)
        self.mutes = Mutes(sessions, now=now)
        self.outbox = Outbox(sessions, now=now)
        self.threads = Threads(sessions, now=now)
        self.groups = Groups(sessions, now=now)
        self.retention = Retention(sessions)
        self.actions = ActionLog(sessions, now=now)
        self.environments = EnvStates(sessions)
        self.promotions = PromotionMessages(sessions, now=now)
        self.guard = GuardChecks(sessions, now=now)
        self.digests = Digests(sessions, now=now)
        self.history = PeriodHistory(sessions)
        self.idle = IdleSpells(sessions, now=now)
        self.alarms = Alarms(sessions, now=now)
        self.freezes = Freezes(sessions, now=now)
        self.approvals = Approvals(sessions, now=now)

    async def memory(
        self, model_ids: list[str], *, history_since: Callable[[Mapping[str, Mapping[str, Snap]]], datetime]
    ) -> tuple[dict[str, dict[str, Snap]], dict[str, ModelMemory], History]:
        """Snapshots, model states, and the recent changes the noise rules count (from `history_since`
        of the snapshots), in one session: the poll loop reads this for one model at a time."""
        async with self._sessions() as session:
            snaps, states = await read_memory(session, model_ids)
            keys = {(m, d) for m, deps in snaps.items() for d in deps}
            history = await read_change_times(session, keys, since=history_since(snaps))
        return snaps, states, history

    async def seen(self, model_ids: Iterable[str]) -> tuple[dict[str, dict[str, Snap]], dict[str, ModelMemory]]:
        """What the poller last saw of these models' deployments (status, since when, replicas) and the
        models themselves (name, production and development), without the noise rules' history."""
        async with self._sessions() as session:
            return await read_memory(session, model_ids)

    async def ping(self) -> None:
        async with self._sessions() as session:
            await session.execute(text("SELECT 1"))
