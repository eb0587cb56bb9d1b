"""Pure Block Kit rendering: deployment cards, model overviews, help and error answers, and the
primitives (sections, limits) that bot.render.notices builds notices with.

Every string that came from Baseten goes through bot.render.text's rule for where it lands
(`plain` for a message's text, `mrkdwn` in blocks), so a deployment named `<!channel>` pings
nobody; a sentence the bot writes around a user's words is escaped whole (`escape`). Output
stays inside Slack's limits: at most 50 blocks, 3,000 characters per section text, 10 fields
per section.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from bot.baseten.models import Deployment, Model, Skipped
from bot.domain.status import emoji
from bot.domain.subjects import Kind, kind_of, own_id
from bot.render.text import escape, mrkdwn, plain, printable

Block = dict[str, Any]
DASHBOARD = "https://app.baseten.co"
MAX_BLOCKS = 50
MAX_SECTION = 3000
SHARE_ACTION = "share_card"
OPEN_ACTION = "open_dashboard"


@dataclass(frozen=True)
class Message:
    """A Slack message: plain `text` (notifications, screen readers) plus blocks."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def dashboard_url(model_id: str, deployment_id: str | None = None) -> str:
    """Ids are percent-encoded: an odd id from Baseten must not make Slack reject the whole message.
    A chain's page and its deployments' logs live under /chains/, a training project's jobs under
    /training/ (bot.domain.subjects names the key)."""
    kind = kind_of(model_id)
    own = quote(own_id(model_id), safe="")
    dep = None if deployment_id is None else quote(deployment_id, safe="")
    if kind is Kind.TRAINING:
        return f"{DASHBOARD}/training/{own}" + ("" if dep is None else f"/jobs/{dep}")
    section = "chains" if kind is Kind.CHAIN else "models"
    if dep is None:
        return f"{DASHBOARD}/{section}/{own}/overview"
    return f"{DASHBOARD}/{section}/{own}/logs/{dep}"


def age(when: datetime | None, now: datetime) -> str:
    """`3 days ago`; `unknown` when Baseten did not say."""
    if when is None:
        return "unknown"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return ago(now - when)


def ago(delta: Any) -> str:
    return f"{duration(delta)} ago"


def duration(delta: Any) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            whole, rest = divmod(seconds, size)
            if unit == "d":
                return f"{whole}d {rest // 3600}h" if rest >= 3600 else f"{whole}d"
            if unit == "h":
                return f"{whole}h {rest // 60}m" if rest >= 60 else f"{whole}h"
            return f"{whole}m"
    return f"{seconds}s"  # pragma: no cover - the loop always returns


def role(dep: Deployment) -> str:
    """`production`, `development`, the environment's name, or `-`."""
    roles = []
    if dep.is_production:
        roles.append("production")
    if dep.is_development:
        roles.append("development")
    if dep.environment and dep.environment not in roles:
        roles.append(dep.environment)
    return ", ".join(roles) if roles else "-"


def _replicas(dep: Deployment) -> str:
    active = "?" if dep.active_replica_count is None else str(dep.active_replica_count)
    scaling = dep.autoscaling_settings
    if scaling is None or (scaling.min_replica is None and scaling.max_replica is None):
        return f"{active} active"
    low = "?" if scaling.min_replica is None else scaling.min_replica
    high = "?" if scaling.max_replica is None else scaling.max_replica
    return f"{active} active (min {low}, max {high})"


def _concurrency(dep: Deployment) -> str:
    scaling = dep.autoscaling_settings
    if scaling is None or scaling.concurrency_target is None:
        return "-"
    text = str(scaling.concurrency_target)
    if scaling.target_utilization_percentage is not None:
        text += f" at {scaling.target_utilization_percentage}% target"
    return text


def title(model_name: str, dep: Deployment) -> str:
    return f"*{mrkdwn(model_name)}* / *{mrkdwn(dep.display_name)}*"


def deployment_card(
    dep: Deployment,
    *,
    model_name: str,
    now: datetime,
    shareable: bool = False,
    shared_by: str | None = None,
    why: Sequence[Block] = (),
    actions: Sequence[Block] = (),
) -> Message:
    """A deployment's status card; `why`: a failing one's error lines (bot.render.excerpt), below its fields;
    `actions`: buttons after the card's own (bot.actions.buttons)."""
    status = dep.status
    head = f"{emoji(status)} {title(model_name, dep)}  `{mrkdwn(status, 40)}`"
    model_id = dep.model_id
    fields = [
        ("Status", f"{emoji(status)} {mrkdwn(status, 40)}"),
        ("Environment", mrkdwn(role(dep))),
        ("Replicas", _replicas(dep)),
        ("Concurrency target", _concurrency(dep)),
        ("Instance type", mrkdwn(dep.instance_type_name or "-")),
        ("Created", age(dep.created_at, now)),
    ]
    if kind_of(model_id) is Kind.TRAINING:  # a job has no environment, replicas or concurrency
        fields = [f for f in fields if f[0] in ("Status", "Instance type", "Created")]
    blocks: list[Block] = [
        section_block(head),
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields],
        },
        *_chainlets(dep),
        *why,
    ]
    kind = kind_of(model_id)
    context = f"{kind.part.capitalize()} `{mrkdwn(dep.id)}` of {kind.noun} `{mrkdwn(own_id(model_id))}`"
    if shared_by:
        context += f" · shared by <@{escape(shared_by)}>"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    blocks.append(card_actions(model_id, dep.id, shareable=shareable, extra=actions))
    text = f"{plain(model_name)} / {plain(dep.display_name)}: {plain(status, 40)}"
    return Message(text=text, blocks=blocks)


_ASK = {
    Kind.MODEL: "`/baseten status MODEL DEPLOYMENT`",
    Kind.CHAIN: "`/baseten status chain:CHAIN DEPLOYMENT`",
    Kind.TRAINING: "`/baseten status training:PROJECT JOB`",
}


def _chainlets(dep: Deployment) -> list[Block]:
    """A chain deployment's chainlets, a line each (at most 20)."""
    if not dep.parts:
        return []
    lines = [
        f"{emoji(p.status)} chainlet *{mrkdwn(p.display_name, 60)}* `{mrkdwn(p.status, 40)}`" for p in dep.parts[:20]
    ]
    if len(dep.parts) > 20:
        lines.append(f"… and {len(dep.parts) - 20} more chainlets")
    return [section_block("\n".join(lines))]


def _sort_key(dep: Deployment) -> tuple[int, float]:
    rank = 0 if dep.is_production else 1 if dep.is_development else 2
    created = dep.created_at.timestamp() if dep.created_at else 0.0
    return rank, -created


def overview_line(dep: Deployment) -> str:
    tags = [t for t in ("production" if dep.is_production else "",) if t]
    if dep.is_development:
        tags.append("development")
    if dep.environment and dep.environment not in tags:
        tags.append(dep.environment)
    tag = f" · _{mrkdwn(', '.join(tags))}_" if tags else ""
    replicas = "" if dep.active_replica_count is None else f" · {dep.active_replica_count} up"
    return (
        f"{emoji(dep.status)} *{mrkdwn(dep.display_name, 60)}* `{mrkdwn(dep.id, 40)}` "
        f"{mrkdwn(dep.status, 40)}{tag}{replicas}"
    )


def model_overview(
    model: Model,
    deployments: Sequence[Deployment],
    *,
    now: datetime,
    shareable: bool = False,
    shared_by: str | None = None,
    skipped: Sequence[Skipped] = (),
) -> Message:
    """Every deployment of a model with its status, production first; then the ones the bot could not
    show (`skipped`: an id or a name it cannot use), named, so nobody takes the list as whole."""
    ordered = sorted(deployments, key=_sort_key)
    count = len(ordered)
    kind = kind_of(model.id)
    noun = kind.part if count == 1 else kind.part + "s"
    head = f"*{mrkdwn(model.display_name)}* (`{mrkdwn(own_id(model.id))}`): {count} {noun}"
    blocks: list[Block] = [section_block(head)]
    reserved = 3  # a possible "and N more" note, the context and the actions
    packed, shown = pack([overview_line(dep) for dep in ordered], room=MAX_BLOCKS - 1 - reserved)
    blocks.extend(packed)
    if count == 0:
        blocks.append(section_block(f"_This {kind.noun} has no {kind.part}s._"))
    if shown < count:
        ask = _ASK[kind]
        blocks.append(context_block(f"…and {count - shown} more. Ask for one with {ask}."))
    if skipped:
        blocks.append(context_block(unshown(skipped)))
    context = f"{kind.noun.capitalize()} `{mrkdwn(own_id(model.id))}`"
    if shared_by:
        context += f" · shared by <@{escape(shared_by)}>"
    blocks.append(context_block(context))
    blocks.append(card_actions(model.id, None, shareable=shareable))
    statuses = ", ".join(sorted({d.status for d in ordered})) or f"no {kind.part}s"
    text = f"{plain(model.display_name)}: {count} {noun} ({plain(statuses, 200)})"
    return Message(text=text, blocks=blocks)


def unshown(skipped: Sequence[Skipped]) -> str:
    """The line that names the deployments an overview leaves out, and why (the bot's log has the detail)."""
    ids = ", ".join(mrkdwn(s.id, 40) for s in skipped[:5])
    more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
    noun = "deployment" if len(skipped) == 1 else "deployments"
    return (
        f":warning: {len(skipped)} more {noun} not shown: {ids}{more}. Its id or a field is one the bot "
        "cannot use (too long, or not a plain id); the rest of the model is still watched."
    )


def pack(lines: Sequence[str], *, room: int) -> tuple[list[Block], int]:
    """Lines joined into sections of at most MAX_SECTION characters, at most `room` of them;
    returns the sections and how many lines fit."""
    blocks: list[Block] = []
    chunk: list[str] = []
    size = packed = 0
    for line in lines:
        line = line[:MAX_SECTION]
        if chunk and size + len(line) + 1 > MAX_SECTION:
            if len(blocks) + 2 > room:  # this full chunk and the next one must both fit
                break
            blocks.append(section_block("\n".join(chunk)))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
        packed += 1
    if chunk:
        blocks.append(section_block("\n".join(chunk)))
    return blocks, packed


def lines_message(lines: Sequence[str], text: str) -> Message:
    """An answer made of lines (a list, a confirmation), packed into as many sections as fit; `text` is
    a plain sentence escaped whole (a Baseten value in it: bot.render.text.line)."""
    return Message(text=escape(text), blocks=pack(lines, room=45)[0])


def card_actions(model_id: str, deployment_id: str | None, *, shareable: bool, extra: Sequence[Block] = ()) -> Block:
    elements: list[Block] = [
        {
            "type": "button",
            "action_id": OPEN_ACTION,
            "text": {"type": "plain_text", "text": "Open in Baseten"},
            "url": dashboard_url(model_id, deployment_id),
        }
    ]
    if shareable:
        value = model_id if deployment_id is None else f"{model_id}/{deployment_id}"
        elements.append(
            {
                "type": "button",
                "action_id": SHARE_ACTION,
                "text": {"type": "plain_text", "text": "Share in channel"},
                "value": value,
            }
        )
    elements.extend(extra)
    return {"type": "actions", "elements": elements}


def error(message: str, *, usage: str | None = None) -> Message:
    """A short, specific answer to a command that could not be carried out: a sentence escaped whole
    (a Baseten value in it: bot.render.text.inline)."""
    blocks: list[Block] = [section_block(f":warning: {escape(message)}")]
    if usage:
        blocks.append(context_block(f"Usage: `{escape(usage)}`"))
    return Message(text=escape(message), blocks=blocks)


def info(message: str) -> Message:
    return Message(text=escape(message), blocks=[section_block(escape(message))])


def answer(rich: str) -> Message:
    """A one-line answer already in mrkdwn, its values cleaned by bot.render.text: escaped once, not again."""
    return Message(text=rich, blocks=[section_block(rich)])


def terminal_card(dep: Deployment, *, model_name: str, now: datetime) -> str:
    """The card as plain text for `baseten-bot status`."""
    kind = kind_of(dep.model_id)
    rows = [
        (kind.noun.capitalize(), f"{model_name} ({own_id(dep.model_id)})"),
        (kind.part.capitalize(), f"{dep.display_name} ({dep.id})"),
        ("Status", dep.status),
        ("Environment", role(dep)),
        ("Replicas", _replicas(dep)),
        ("Concurrency target", _concurrency(dep)),
        ("Instance type", dep.instance_type_name or "-"),
        ("Created", age(dep.created_at, now)),
        ("Dashboard", dashboard_url(dep.model_id, dep.id)),
    ]
    if kind is Kind.TRAINING:  # a job has no environment, replicas or autoscaling
        rows = [r for r in rows if r[0] not in ("Environment", "Replicas", "Concurrency target")]
    return "\n".join(f"{k + ':':<20}{printable(v)}" for k, v in rows)


def terminal_overview(model: Model, deployments: Sequence[Deployment], skipped: Sequence[Skipped] = ()) -> str:
    part = kind_of(model.id).part
    lines = [f"{printable(model.display_name)} ({model.id}): {len(deployments)} {part}s"]
    for dep in sorted(deployments, key=_sort_key):
        tag = role(dep)
        tag = "" if tag == "-" else printable(tag)
        lines.append(f"  {printable(dep.status):<16}{printable(dep.display_name):<32}{dep.id:<12}{tag}")
    lines += [f"  not shown: {printable(s.id[:80])} ({printable(s.reason)})" for s in skipped]
    return "\n".join(lines)


def section_block(text: str) -> Block:
    if len(text) > MAX_SECTION:
        text = text[: MAX_SECTION - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context_block(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:MAX_SECTION]}]}
