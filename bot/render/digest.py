"""A channel's digest as a Slack message: what changed in what it watches over the period, the
largest movers, what still fails, and the spend when a source of spend gave lines (none: not a word
about spend). Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

from bot.domain.digest_summary import Counts, Key, Mover, Summary
from bot.domain.digests import WEEKLY, Schedule, describe
from bot.domain.status import emoji
from bot.render.cards import Block, Message, context_block, duration, section_block
from bot.render.dates import stamp
from bot.render.text import escape, mrkdwn, plain

Names = Mapping[Key, tuple[str, str]]  # (model id, deployment id) -> (model name, deployment name)
MAX_FAILING = 10
MAX_SPEND = 15
TEXT_LIMIT = 1000


def digest_message(
    summary: Summary,
    *,
    schedule: Schedule,
    names: Names,
    watched: int,
    spend: Sequence[str] | None = None,
) -> Message:
    """The digest; `watched` is how many subscriptions the channel has, `spend` plain lines or None."""
    before = "the week before" if schedule.cadence == WEEKLY else "the day before"
    blocks: list[Block] = [
        section_block(
            f":newspaper: *Digest* ({escape(describe(schedule))}): {stamp(summary.start)} to {stamp(summary.end)}"
        )
    ]
    if not watched:
        blocks.append(
            section_block("This channel watches nothing yet. Add a subscription with `/baseten subscribe MODEL`.")
        )
    else:
        blocks.append(section_block("*What changed*\n" + "\n".join(_count_lines(summary.now, summary.before, before))))
        if summary.movers:
            lines = [_mover_line(m, names, before) for m in summary.movers]
            blocks.append(section_block("*Largest movers*\n" + "\n".join(lines)))
        if summary.failing_at_end:
            blocks.append(section_block("*Failing at the end of the period*\n" + _failing(summary, names)))
    if spend is not None:
        shown = [f"• {mrkdwn(s, 180)}" for s in spend[:MAX_SPEND]]
        more = [f"…and {len(spend) - MAX_SPEND} more."] if len(spend) > MAX_SPEND else []
        blocks.append(section_block("*Spend*\n" + ("\n".join(shown + more) or "No spend to show.")))
    if watched and not summary.now.changes and not summary.now.failing:
        blocks.append(context_block("Nothing changed in what this channel watches over the period."))
    return Message(text=_text(summary, schedule, watched), blocks=blocks)


def _count_lines(now: Counts, was: Counts, before: str) -> list[str]:
    rows = (
        ("Deploys (new deployments)", now.deploys, was.deploys),
        ("Failures", now.failures, was.failures),
        ("Recoveries", now.recoveries, was.recoveries),
        ("Promotions", now.promotions, was.promotions),
    )
    lines = [f"• {label}: *{n}* ({m} {before})" for label, n, m in rows]
    lines.append(f"• Time spent failing: *{_span(now.failing)}* ({_span(was.failing)} {before})")
    return lines


def _mover_line(m: Mover, names: Names, before: str) -> str:
    parts = []
    if m.now.failing:
        parts.append(f"failing {_span(m.now.failing)} ({_delta(m.now.failing - m.before.failing, before)})")
    if m.now.failures:
        parts.append(f"{m.now.failures} failure(s)")
    if m.now.deploys or m.now.promotions:
        parts.append(f"{m.now.deploys + m.now.promotions} deploy(s) or promotion(s)")
    parts.append(f"{m.now.changes} change(s) ({m.now.changes - m.before.changes:+d} vs {before})")
    now = f", now {emoji(m.status)} `{mrkdwn(m.status, 40)}`" if m.status else ""
    return f"• {_name(names, (m.model_id, m.deployment_id))}: {', '.join(parts)}{now}"


def _failing(summary: Summary, names: Names) -> str:
    lines = [
        f"• {_name(names, key)} {emoji(status)} `{mrkdwn(status, 40)}`"
        for key, status in summary.failing_at_end[:MAX_FAILING]
    ]
    if len(summary.failing_at_end) > MAX_FAILING:
        lines.append(f"…and {len(summary.failing_at_end) - MAX_FAILING} more.")
    return "\n".join(lines)


def _name(names: Names, key: Key) -> str:
    model, deployment = names.get(key, ("", ""))
    return f"*{mrkdwn(model or key[0])}* / *{mrkdwn(deployment or key[1])}*"


def _span(delta: timedelta) -> str:
    return "none" if not delta else duration(delta)


def _delta(delta: timedelta, before: str) -> str:
    """`+1h 20m vs the day before`; `same as the day before`."""
    if not delta:
        return f"same as {before}"
    sign = "+" if delta > timedelta(0) else "-"
    return f"{sign}{duration(abs(delta))} vs {before}"


def _text(summary: Summary, schedule: Schedule, watched: int) -> str:
    """The plain text: the counts in one sentence, within TEXT_LIMIT."""
    if not watched:
        return plain(f"Digest ({describe(schedule)}): this channel watches nothing yet.", TEXT_LIMIT)
    n = summary.now
    said = (
        f"Digest ({describe(schedule)}): {n.deploys} deploy(s), {n.failures} failure(s), "
        f"{n.recoveries} recovery(ies), {n.promotions} promotion(s), {_span(n.failing)} spent failing."
    )
    return plain(said, TEXT_LIMIT)
