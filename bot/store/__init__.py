"""The database, by concern; each module alone issues SQL for its own tables.

- `subscriptions`: which channel watches what (options, mute, pause);
- `snapshots`: what the bot last saw of each deployment and model;
- `outbox`: transitions, their pending deliveries, and notice threads;
- `leases`: the poller lease that elects one replica;
- `actions`: actions on deployments asked from Slack, one per click.
- `env_states` and `promotion_messages`: environments and the live message of each promotion.

`Store` only bundles all but the lease over one session factory, so the poller,
the notifier and the commands share them without each building its own.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store._sql import Now, utcnow
from bot.store.actions import ActionLog
from bot.store.env_states import EnvStates
from bot.store.outbox import Outbox
from bot.store.promotion_messages import PromotionMessages
from bot.store.snapshots import Snapshots
from bot.store.subscriptions import SubscriptionStore


class Store:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Now = utcnow) -> None:
        self._sessions = sessions
        self.subscriptions = SubscriptionStore(sessions, now=now)
        self.snapshots = Snapshots(sessions, now=now)
        self.outbox = Outbox(sessions, now=now)
        self.actions = ActionLog(sessions, now=now)
        self.environments = EnvStates(sessions)
        self.promotions = PromotionMessages(sessions, now=now)

    async def ping(self) -> None:
        async with self._sessions() as session:
            await session.execute(text("SELECT 1"))
