"""What a sent notice's message shows now, for the three that edit one: the notifier, when a new notice
replies in its thread (a thread's parent shows the thread's latest change), and on call (bot.oncall), when
its failure is acknowledged or recovers.

A failure notice's alarm (issue 26) is drawn in by all three the same way: Acknowledge while it is open
and unacknowledged; once acknowledged, who and when; once it recovered or went, that too. Each drawing its
own, the last edit won: a reply's parent edit dropped the acknowledgement, and the recovery edit put the
old failure back over the thread's summary.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.status import FAILURES
from bot.render.cards import Message
from bot.render.notices import thread_parent
from bot.render.oncall import with_alarm
from bot.store import Store
from bot.store.outbox import Pending
from bot.store.threads import ThreadInfo

log = logging.getLogger(__name__)


async def edit_parent(slack: AsyncWebClient, store: Store, p: Pending, thread: ThreadInfo, *, ack: bool) -> None:
    """Keeps a thread's parent showing the latest status (and its alarm's state); a failed edit loses nothing."""
    parent = thread_parent(first=thread.first, latest=p.transition, model_name=p.model_name, replies=thread.replies + 1)
    if thread.first_id is not None:
        # no Acknowledge once the thread's latest news is not a failure: the alarm ends at the next pass
        still = p.transition.new_status in FAILURES
        parent = with_alarm(parent, await store.alarms.get(thread.first_id), ack=ack and still)
    try:
        await slack.chat_update(channel=p.channel_id, ts=thread.ts, **parent.as_kwargs())
    except Exception as exc:  # noqa: BLE001 - the notice itself is delivered; the edit is cosmetic
        log.info("could not update the thread parent in %s: %s", p.channel_id, type(exc).__name__)


async def now_showing(
    store: Store, notice: Pending, parent_ts: str | None, draw: Callable[[Pending], Message]
) -> Message:
    """A sent notice as its message shows now, before its alarm's state is drawn in: the parent of a thread
    with replies (`parent_ts`: its ts, when it was posted in the channel itself) shows the thread's latest
    change, as the notifier's edits left it; any other notice is drawn as it was sent."""
    if parent_ts is not None:
        replies, latest = await store.threads.latest_reply(notice.team_id, notice.channel_id, parent_ts)
        if replies and latest is not None:
            return thread_parent(first=notice.transition, latest=latest, model_name=notice.model_name, replies=replies)
    return draw(notice)
