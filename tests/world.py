"""An in-process bot wired exactly as `serve` wires it, against the loopback fakes and a real SQLite file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.app.db import make_async_engine, sessions
from bot.app.metrics import Metrics
from bot.app.runtime import slack_client
from bot.baseten.client import BasetenClient
from bot.baseten.ratelimit import RateLimiter
from bot.commands.parse import parse
from bot.commands.subscriptions import Actor, Subscriptions
from bot.commands.typed import Command
from bot.delivery.notifier import Notifier
from bot.domain.status import KNOWN
from bot.polling.poller import CycleReport, Poller
from bot.render.cards import Message
from bot.slack.app import Deps, _run, _safe  # the same dispatch the Slack handler uses
from bot.store import Store
from tests.fakes import API_KEY, BOT_TOKEN, TEAM, FakeBaseten, FakeSlack


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


async def _quick_sleep(_: float) -> None:
    await asyncio.sleep(0)


class World:
    def __init__(self, baseten: FakeBaseten, slack: FakeSlack, db_url: str, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.engine = make_async_engine(db_url)
        self.store = Store(sessions(self.engine), now=self.clock)
        self.client = BasetenClient(
            api_key=API_KEY, base_url=baseten.url, limiter=RateLimiter(1000), timeout=2.0, sleep=_quick_sleep
        )
        self.slack = slack_client(BOT_TOKEN, slack.api_url)
        self.notifier = Notifier(slack=self.slack, store=self.store, now=self.clock, channel_pace=0)
        self.poller = Poller(client=self.client, store=self.store, notifier=self.notifier, now=self.clock)
        self.subs = Subscriptions(client=self.client, store=self.store, now=self.clock, slack=self.slack)

    async def command(self, text: str, channel: str = "C1", team: str = TEAM, user: str = "U1") -> tuple[Message, str]:
        cmd: Command = parse(text, statuses=KNOWN)
        actor = Actor(team, channel, user)
        deps = Deps(self.client, self.store, Metrics(), self.clock)
        return await _safe(lambda: _run(cmd, actor, deps, self.subs))

    async def cycle(self) -> CycleReport:
        self.clock.advance(seconds=60)
        return await self.poller.cycle()

    async def close(self) -> None:
        await self.client.aclose()
        if self.slack.session is not None:
            await self.slack.session.close()
        await self.engine.dispose()
