"""Pure Block Kit for notices: one change in a channel, and the thread parent that shows the latest."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.changes import (
    FLAPPING,
    GONE,
    GUARD,
    IDLE,
    NEW,
    PARTS,
    PROMOTED,
    QUEUE,
    QUEUED,
    RUN,
    SETTLED,
    STATUS,
    STUCK,
    Change,
)
from bot.domain.freezes import FLAG
from bot.domain.status import FAILURES, emoji
from bot.domain.subjects import kind_of
from bot.render import excerpt, guard, idle
from bot.render.cards import Block, Message, card_actions, context_block, duration, section_block
from bot.render.dates import stamp
from bot.render.freezes import flag_line
from bot.render.text import NAME, mrkdwn, plain


@dataclass(frozen=True)
class _Names:
    """What a headline names, each value by one context's rule (bot.render.text.plain or .mrkdwn)."""

    model: str
    dep: str
    old: str
    new: str
    env: str
    was: str
    count: str

    @staticmethod
    def of(change: Change, model_name: str, rule: Callable[[str, int], str]) -> _Names:
        # by name, as everywhere else; transitions recorded before names were kept give the id
        previous = change.detail.get("previous_deployment_name") or change.detail.get("previous_deployment_id")
        return _Names(
            model=rule(model_name or change.model_id, NAME),
            dep=rule(change.deployment_name or change.deployment_id, NAME),
            old=rule(change.old_status or "", NAME),  # Baseten may send any string
            new=rule(change.new_status, NAME),
            env=rule(str(change.detail.get("environment") or "production"), 60),  # absent: production
            was=rule(str(previous), NAME) if previous else "",
            count=rule(str(change.detail.get("changes", "several")), 20),
        )


def _headline(change: Change, model_name: str) -> tuple[str, str]:
    """(plain text, mrkdwn) naming the model, the deployment and old → new."""
    p, m = _Names.of(change, model_name, plain), _Names.of(change, model_name, mrkdwn)
    if change.kind == PROMOTED:
        text = f"{p.model} / {p.dep}: promoted → {p.env}" + (f" (was {p.was})" if p.was else "")
        rich = f"*{m.model}* / *{m.dep}* is now the {m.env} deployment"
        rich += f" (was *{m.was}*)" if m.was else ""
        return text, rich
    if change.kind == STUCK:
        took = duration(change.at - change.old_since) if change.old_since else "a while"
        return (
            f"{p.model} / {p.dep}: stuck in {p.new} for {took}",
            f"*{m.model}* / *{m.dep}* has been `{m.new}` for {took}",
        )
    if change.kind == QUEUED:
        waited = duration(change.at - change.old_since) if change.old_since else "a while"
        return (
            f"{p.model} / {p.dep}: pending for {waited}, waiting for GPU capacity",
            f"*{m.model}* / *{m.dep}* has been pending for {waited}, waiting for GPU capacity",
        )
    if change.kind == FLAPPING:
        text = (
            f"{p.model} / {p.dep}: flapping ({p.count} changes in 30m), now {p.new}; "
            "holding changes back until it settles"
        )
        rich = (
            f"*{m.model}* / *{m.dep}* is flapping: {m.count} changes in 30 minutes, now `{m.new}`. "
            "Its changes are held back until it is stable."
        )
        return text, rich
    if change.kind == SETTLED:
        text = f"{p.model} / {p.dep}: stopped flapping after {p.count} changes, settled at {p.new}"
        return text, f"*{m.model}* / *{m.dep}* stopped flapping after {m.count} changes; it is `{m.new}` now"
    part = kind_of(change.model_id).part
    if change.kind == NEW:
        return f"{p.model} / {p.dep}: new {part} → {p.new}", f"New {part} *{m.dep}* of *{m.model}*: `{m.new}`"
    text = f"{p.model} / {p.dep}: {p.old} → {p.new}" + (f" ({part} deleted)" if change.kind == GONE else "")
    return text, f"*{m.model}* / *{m.dep}*: `{m.old}` → `{m.new}`"


def _verdict(change: Change) -> tuple[str, str]:
    """(emoji, one word or phrase) telling failures and recoveries apart at a glance."""
    new, old = change.new_status, change.old_status
    if change.kind == PROMOTED:
        return ":rocket:", "Promoted"
    if change.kind == GONE:
        return ":wastebasket:", "Deleted"
    if change.kind == STUCK:
        return ":warning:", "Stuck"
    if change.kind == FLAPPING:
        return ":arrows_counterclockwise:", "Flapping"
    if change.kind == QUEUED:
        return ":hourglass:", "Queued"
    if change.kind == SETTLED:
        return emoji(new), "Settled"
    if new in FAILURES:
        return ":rotating_light:", "Failure"
    if old in FAILURES and new == "ACTIVE":
        return ":white_check_mark:", "Recovered"
    if change.kind == NEW:
        return ":sparkles:", f"New {kind_of(change.model_id).part}"
    return emoji(new), "Status change"


def notice(change: Change, *, model_name: str, now: datetime, actions: Sequence[Block] = ()) -> Message:
    """A status-change notice: plain text with old → new, blocks for the rich view; `actions` are
    buttons after the dashboard link (bot.actions.buttons.notice_buttons)."""
    if change.kind == GUARD:
        return guard.notice(change, model_name=model_name, actions=actions)
    if change.kind == IDLE:
        return idle.notice(change, model_name=model_name, actions=actions)
    text, rich = _headline(change, model_name)
    icon, verdict = _verdict(change)
    fields: list[tuple[str, str]] = []
    if change.old_status and change.old_since is not None and change.kind in (STATUS, GONE):
        fields.append((f"Time in {mrkdwn(change.old_status, 40)}", duration(change.at - change.old_since)))
    before, after = change.detail.get("old_replicas"), change.detail.get("new_replicas")
    if before is not None or after is not None:
        fields.append(("Replicas", f"{'?' if before is None else before} → {'?' if after is None else after}"))
    env = change.detail.get("environment")
    roles = [
        r
        for r, on in (
            ("production", change.detail.get("is_production")),
            ("development", change.detail.get("is_development")),
        )
        if on
    ]
    if env and env not in roles:
        roles.append(str(env))
    if roles:
        fields.append(("Environment", mrkdwn(", ".join(roles))))
    fields.extend(_run_fields(change.detail.get(RUN)))
    blocks: list[Block] = [section_block(f"{icon} *{verdict}*: {rich}")]
    if fields:
        blocks.append(
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields],
            }
        )
    blocks.extend(_parts(change.detail.get(PARTS)))
    queue = change.detail.get(QUEUE)
    if isinstance(queue, str) and queue:
        blocks.append(context_block(f":information_source: {mrkdwn(queue, 600)}"))
    blocks.extend(excerpt.blocks(change.detail.get(excerpt.WHY)))  # a failure's error lines and labels
    frozen = flag_line(change.detail.get(FLAG))  # a new deployment or promotion seen during a freeze
    if frozen:
        blocks.append(section_block(frozen))
    actor = change.detail.get("actor")
    by = f" · by {mrkdwn(str(actor))}" if actor else ""
    blocks.append(
        context_block(
            f"Seen {stamp(change.at)}{by}"
            f" · `{mrkdwn(change.deployment_id, 40)}` · states between two polls may be missed"
        )
    )
    if change.kind != GONE:
        blocks.append(card_actions(change.model_id, change.deployment_id, shareable=False, extra=actions))
    return Message(text=text, blocks=blocks)


def _run_fields(run: object) -> list[tuple[str, str]]:
    """A training job's end: how long it ran, on what, and the checkpoints it wrote (bot.polling.runs)."""
    if not isinstance(run, dict):
        return []
    out: list[tuple[str, str]] = []
    if isinstance(run.get("duration_s"), int):
        out.append(("Created to end", duration(timedelta(seconds=run["duration_s"]))))
    if isinstance(run.get("instance_type"), str) and run["instance_type"]:
        out.append(("Instance type", mrkdwn(run["instance_type"], 80)))
    if isinstance(run.get("checkpoints"), int):
        out.append(("Checkpoints written", str(run["checkpoints"])))
    return out


def _parts(moved: object) -> list[Block]:
    """One line per chainlet whose status changed (bot.polling.transitions.parts_moved), at most 20."""
    if not isinstance(moved, list) or not moved:
        return []
    lines = []
    for name, old, new in moved[:20]:
        was = f"`{mrkdwn(str(old), 40)}` → " if old else "new, "
        lines.append(f"• chainlet *{mrkdwn(str(name), 60)}*: {was}`{mrkdwn(str(new), 40)}`")
    if len(moved) > 20:
        lines.append(f"… and {len(moved) - 20} more chainlets")
    return [section_block("\n".join(lines))]


def thread_parent(*, first: Change | None, latest: Change, model_name: str, replies: int) -> Message:
    """The edited parent of a deployment's thread: the latest status first, how it started below."""
    text, rich = _headline(latest, model_name)
    # a promotion's new_status is a role, not a status: it gets the promotion's own icon
    icon = _verdict(latest)[0] if latest.kind == PROMOTED else emoji(latest.new_status)
    head = f"{icon} {rich}"
    lines = [f"Latest of {replies + 1} changes; every one is in the thread."]
    if first is not None:
        _, first_rich = _headline(first, model_name)
        lines.append(f"Started with {first_rich} at {stamp(first.at, time_only=True)}.")
    blocks: list[Block] = [section_block(head), context_block(" ".join(lines))]
    if latest.kind != GONE:
        blocks.append(card_actions(latest.model_id, latest.deployment_id, shareable=False))
    return Message(text=f"{text} (latest of {replies + 1})", blocks=blocks)
