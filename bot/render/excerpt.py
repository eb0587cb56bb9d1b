"""Why it failed, pure: which changes get error lines, how far back to read, and the excerpt's blocks.

A failing deployment's newest ERROR lines from Baseten's logs, and its labels (commit, CI run),
are kept in the change's `detail` under `why` (bot.polling.why reads them) and shown in the notice and
the status card. Log lines and labels are hostile text: they are kept as bot.render.text.line
cleans them (one short printable line) and shown by its rules, each log line on one line of the
code block it cannot close, the labels as mrkdwn. No I/O here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.baseten.models import LogLine
from bot.domain.changes import NEW, SETTLED, STATUS, Change
from bot.domain.status import FAILURES
from bot.render.cards import Block, context_block, section_block
from bot.render.dates import stamp
from bot.render.text import code, line, mrkdwn

WHY = "why"  # the key in a change's detail
MAX_LINES = 5
KEEP = 200  # characters of one line (or label value) kept, before escaping
SHOWN = 400  # characters of one escaped line shown: five of them stay far inside a section's 3,000
MAX_LABELS = 6
MESSAGE = 500  # characters of Baseten's own error message kept
BUILD_TIME = frozenset({"BUILD_FAILED", "DEPLOY_FAILED"})
API_DEFAULT = timedelta(minutes=30)  # what Baseten reads when no start is given
API_LIMIT = timedelta(days=7)  # the longest window Baseten allows
SKEW = timedelta(hours=1)  # room for the bot's clock and Baseten's to disagree
UNREAD = {
    "timeout": "did not answer in time",
    "forbidden": "refused the bot's API key (403)",
    "error": "could not be read",
}


def wants_logs(change: Change) -> bool:
    """A status change, new deployment or settling that ends in a failure: its notice says why."""
    return change.new_status in FAILURES and change.kind in (STATUS, NEW, SETTLED)


def window_start(status: str, *, created_at: datetime | None, old_since: datetime | None, now: datetime) -> datetime:
    """Where the log window starts; it always ends now (Baseten's default end).

    A build or deploy failure reads back to the deployment's `created_at`: the build starts when
    the deployment is created, while `old_since` is only when the bot first saw the status it
    left (later than the build's start for a deployment first seen mid-build, or after the bot
    was down). A runtime failure reads back to when the bot saw the deployment enter the status
    it left (its last known good state), else to its creation. Never less than Baseten's default
    half hour, never more than its 7-day limit (less an hour of clock skew)."""
    wanted = created_at if status in BUILD_TIME or old_since is None else old_since
    wanted = wanted or old_since or created_at
    earliest, latest = now - API_LIMIT + SKEW, now - API_DEFAULT
    if wanted is None:
        return earliest
    if wanted.tzinfo is None:
        wanted = wanted.replace(tzinfo=UTC)
    return max(earliest, min(wanted, latest))


def found(
    lines: Sequence[LogLine], labels: Mapping[str, Any] | None, *, since: datetime, message: str | None = None
) -> dict[str, Any]:
    """What a change keeps of its logs: the newest lines (fetched newest first), shown oldest first;
    and what Baseten said went wrong besides (`message`: a training job's error_message), if anything."""
    kept = [text for text in (line(log.message, KEEP) for log in lines[:MAX_LINES]) if text]
    out = {"lines": kept[::-1], "since": int(since.timestamp()), "labels": kept_labels(labels)}
    said = line(message, MESSAGE) if message else ""
    return {**out, "message": said} if said else out


def unread(reason: str, labels: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a change keeps when the logs could not be read: why not, and the labels all the same."""
    return {"lines": [], "unread": reason if reason in UNREAD else "error", "labels": kept_labels(labels)}


def kept_labels(labels: Mapping[str, Any] | None) -> dict[str, str]:
    """At most MAX_LABELS labels, keys and values as short printable text (values may be any JSON)."""
    if not isinstance(labels, Mapping):
        return {}
    out: dict[str, str] = {}
    for key, value in list(labels.items())[:MAX_LABELS]:
        text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
        out[line(str(key), 40)] = line(text, KEEP)
    return out


def blocks(why: Any) -> list[Block]:
    """The excerpt's blocks: the lines in a code block, or why there are none, then the labels.
    `why` is read back from the database: anything not shaped as written shows nothing."""
    if not isinstance(why, Mapping):
        return []
    lines = why.get("lines")
    lines = [code(str(x), SHOWN, newlines=False) for x in lines[:MAX_LINES]] if isinstance(lines, list) else []
    lines = [line for line in lines if line]
    out: list[Block] = []
    said = why.get("message")
    if isinstance(said, str) and said:
        out.append(section_block(f"*Baseten says:*\n```\n{code(said, SHOWN * 2, newlines=False)}\n```"))
    if lines:
        out.append(section_block("*Latest error lines* from Baseten's logs:\n```\n" + "\n".join(lines) + "\n```"))
    elif why.get("unread"):
        reason = UNREAD.get(str(why["unread"]), UNREAD["error"])
        out.append(context_block(f":grey_question: Baseten's logs {reason}: no error lines here."))
    elif isinstance(why.get("since"), int):
        out.append(context_block(f"No ERROR lines in Baseten's logs since {stamp(why['since'])}."))
    labels = why.get("labels")
    if isinstance(labels, Mapping) and labels:
        shown = " · ".join(f"{mrkdwn(str(k), 60)}: {mrkdwn(str(v), 300)}" for k, v in list(labels.items())[:MAX_LABELS])
        out.append(context_block(f"Labels: {shown}"))
    return out
