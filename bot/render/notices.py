"""Pure Block Kit for notices: one change in a channel, and the thread parent that shows the latest."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain.changes import FLAPPING, GONE, NEW, PROMOTED, SETTLED, STATUS, STUCK, Change
from bot.domain.status import FAILURES, emoji
from bot.render import excerpt
from bot.render.cards import Block, Message, card_actions, context_block, duration, esc, section_block, short


def _headline(change: Change, model_name: str) -> tuple[str, str]:
    """(plain text, mrkdwn) naming the model, the deployment and old → new."""
    model = short(model_name or change.model_id)
    dep = short(change.deployment_name or change.deployment_id)
    old, new = short(change.old_status or ""), short(change.new_status)  # Baseten may send any string
    if change.kind == PROMOTED:
        # by name, as everywhere else; transitions recorded before names were kept give the id
        previous = change.detail.get("previous_deployment_name") or change.detail.get("previous_deployment_id")
        was = short(str(previous)) if previous else ""
        env = short(str(change.detail.get("environment") or "production"), 60)  # absent: production
        plain = f"{model} / {dep}: promoted → {env}" + (f" (was {was})" if was else "")
        rich = f"*{esc(model)}* / *{esc(dep)}* is now the {esc(env)} deployment"
        rich += f" (was *{esc(was)}*)" if was else ""
        return plain, rich
    if change.kind == STUCK:
        took = duration(change.at - change.old_since) if change.old_since else "a while"
        plain = f"{model} / {dep}: stuck in {new} for {took}"
        rich = f"*{esc(model)}* / *{esc(dep)}* has been `{esc(new)}` for {took}"
        return plain, rich
    if change.kind == FLAPPING:
        count = change.detail.get("changes", "several")
        plain = f"{model} / {dep}: flapping ({count} changes in 30m), now {new}; holding changes back until it settles"
        rich = (
            f"*{esc(model)}* / *{esc(dep)}* is flapping: {count} changes in 30 minutes, now `{esc(new)}`. "
            "Its changes are held back until it is stable."
        )
        return plain, rich
    if change.kind == SETTLED:
        count = change.detail.get("changes", "several")
        plain = f"{model} / {dep}: stopped flapping after {count} changes, settled at {new}"
        rich = f"*{esc(model)}* / *{esc(dep)}* stopped flapping after {count} changes; it is `{esc(new)}` now"
        return plain, rich
    if change.kind == NEW:
        plain = f"{model} / {dep}: new deployment → {new}"
        rich = f"New deployment *{esc(dep)}* of *{esc(model)}*: `{esc(new)}`"
        return plain, rich
    plain = f"{model} / {dep}: {old} → {new}"
    if change.kind == GONE:
        plain += " (deployment deleted)"
    rich = f"*{esc(model)}* / *{esc(dep)}*: `{esc(old)}` → `{esc(new)}`"
    return plain, rich


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
    if change.kind == SETTLED:
        return emoji(new), "Settled"
    if new in FAILURES:
        return ":rotating_light:", "Failure"
    if old in FAILURES and new == "ACTIVE":
        return ":white_check_mark:", "Recovered"
    if change.kind == NEW:
        return ":sparkles:", "New deployment"
    return emoji(new), "Status change"


def notice(change: Change, *, model_name: str, now: datetime, actions: Sequence[Block] = ()) -> Message:
    """A status-change notice: plain text with old → new, blocks for the rich view; `actions` are
    buttons after the dashboard link (bot.actions.buttons.notice_buttons)."""
    plain, rich = _headline(change, model_name)
    icon, verdict = _verdict(change)
    fields: list[tuple[str, str]] = []
    if change.old_status and change.old_since is not None and change.kind in (STATUS, GONE):
        fields.append((f"Time in {esc(change.old_status)}", duration(change.at - change.old_since)))
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
        fields.append(("Environment", esc(", ".join(roles))))
    blocks: list[Block] = [section_block(f"{icon} *{verdict}*: {rich}")]
    if fields:
        blocks.append(
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields],
            }
        )
    blocks.extend(excerpt.blocks(change.detail.get(excerpt.WHY)))  # a failure's error lines and labels
    stamp = int(change.at.timestamp())
    actor = change.detail.get("actor")
    by = f" · by {esc(short(str(actor)))}" if actor else ""
    blocks.append(
        context_block(
            f"Seen <!date^{stamp}^{{date_short_pretty}} {{time}}|{change.at:%Y-%m-%d %H:%M} UTC>{by}"
            f" · `{esc(short(change.deployment_id, 40))}` · states between two polls may be missed"
        )
    )
    if change.kind != GONE:
        blocks.append(card_actions(change.model_id, change.deployment_id, shareable=False, extra=actions))
    return Message(text=esc(plain), blocks=blocks)


def thread_parent(*, first: Change | None, latest: Change, model_name: str, replies: int) -> Message:
    """The edited parent of a deployment's thread: the latest status first, how it started below."""
    plain, rich = _headline(latest, model_name)
    # a promotion's new_status is a role, not a status: it gets the promotion's own icon
    icon = _verdict(latest)[0] if latest.kind == PROMOTED else emoji(latest.new_status)
    head = f"{icon} {rich}"
    lines = [f"Latest of {replies + 1} changes; every one is in the thread."]
    if first is not None:
        _, first_rich = _headline(first, model_name)
        lines.append(f"Started with {first_rich} at {_when(first.at)}.")
    blocks: list[Block] = [section_block(head), context_block(" ".join(lines))]
    if latest.kind != GONE:
        blocks.append(card_actions(latest.model_id, latest.deployment_id, shareable=False))
    return Message(text=esc(f"{plain} (latest of {replies + 1})"), blocks=blocks)


def _when(at: datetime) -> str:
    return f"<!date^{int(at.timestamp())}^{{time}}|{at:%H:%M} UTC>"
