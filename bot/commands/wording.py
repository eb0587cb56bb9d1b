"""Pure: the wording of subscription answers: targets, options, list lines, mute lines.

Names and statuses from Baseten (and a target as typed) are shown by bot.render.text's mrkdwn rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.baseten.models import Deployment
from bot.commands.typed import ENV, WHOLE_MODEL, Subscribe
from bot.domain.alarms import remind_limit
from bot.domain.changes import DEFAULT_STUCK
from bot.domain.guard import DEFAULT as DEFAULT_GUARD
from bot.domain.guard import describe as guard_text
from bot.domain.status import emoji
from bot.domain.subjects import Kind, kind_of
from bot.render import cards
from bot.render.dates import stamp
from bot.render.text import escape, mrkdwn
from bot.store.mutes import MuteView
from bot.store.subscriptions import Options, SubscriptionView


def describe_kinds(kinds: frozenset[str] | Sequence[str]) -> str:
    if not kinds:
        return "every change except scale-to-zero churn"
    return ", ".join(sorted(kinds))


def describe_stuck(stuck_after: timedelta) -> str:
    """A subscription's own `--stuck` threshold (the default, 30 minutes, goes unsaid)."""
    return f"stuck after {cards.duration(stuck_after)}"


def describe_remind(seconds: int | None, times: int | None) -> str:
    """A subscription's reminders: `reminds every 30m, at most 8 times`, or `no reminders`."""
    if not seconds:
        return "no reminders"
    return f"reminds every {cards.duration(timedelta(seconds=seconds))}, at most {remind_limit(times)} times"


def guarded(model_id: str, target: str) -> bool:
    """Whether the promotion guard applies to this subscription: a model's environment or production."""
    return kind_of(model_id) is Kind.MODEL and (target == "production" or target.startswith(ENV))


def describe_guard(guard: str | None) -> str:
    """A subscription's `--guard`, stored as describe() says it (None: the default)."""
    return f"promotion guard `{mrkdwn(guard or guard_text(DEFAULT_GUARD), 100)}`"


def describe_target(target: str, target_name: str, model_id: str = "") -> str:
    """What a subscription or mute is on, in a sentence: `all deployments` (of a chain: `all chain
    deployments`, of a training project: `all jobs`), a role, an environment or one deployment."""
    if target == WHOLE_MODEL:
        return f"all {kind_of(model_id).part}s"
    if target in ("production", "development"):
        return f"the {target} deployment"
    if target.startswith(ENV):
        return f"the *{mrkdwn(target[len(ENV) :], 60)}* environment"
    label = target_name or target
    return f"*{mrkdwn(label)}*" + (f" (`{mrkdwn(target)}`)" if target_name and target_name != target else "")


def option_changes(before: Options, cmd: Subscribe) -> str:
    """What subscribing again with `cmd`'s options changed, e.g. `notices: A → B`; empty when nothing did."""
    changes = []
    if before.kinds != cmd.kinds:
        changes.append(f"notices: {describe_kinds(before.kinds)} → {describe_kinds(cmd.kinds)}")
    if before.thread != cmd.thread:
        changes.append("one message per change" if not cmd.thread else "one thread per deployment")
    stuck = None if cmd.stuck_after is None else int(cmd.stuck_after.total_seconds())
    if before.stuck_after != stuck:
        old, new = (
            cards.duration(timedelta(seconds=s or DEFAULT_STUCK.total_seconds())) for s in (before.stuck_after, stuck)
        )
        changes.append(f"stuck after {old} → {new}")
    guard = None if cmd.guard is None else guard_text(cmd.guard)
    if before.guard != guard:
        shown = (f"`{mrkdwn(g or guard_text(DEFAULT_GUARD), 100)}`" for g in (before.guard, guard))
        changes.append("promotion guard {} → {}".format(*shown))
    remind = (None, None) if cmd.remind is None else (int(cmd.remind[0].total_seconds()), cmd.remind[1])
    if (before.remind_seconds, before.remind_max) != remind:
        changes.append(f"{describe_remind(before.remind_seconds, before.remind_max)} → {describe_remind(*remind)}")
    return "; ".join(changes)


def typed(model: str, target: str) -> str:
    return f"`{mrkdwn(model)}`" + ("" if target == WHOLE_MODEL else f" / `{mrkdwn(target)}`")


def status_counts(deployments: Sequence[Deployment]) -> str:
    counts: dict[str, int] = {}
    for d in deployments:
        counts[d.status] = counts.get(d.status, 0) + 1
    return ", ".join(f"{n} {mrkdwn(s, 40)}" for s, n in sorted(counts.items()))


def list_line(view: SubscriptionView, now: datetime) -> str:
    name = view.model_name or view.model_id
    head = f"• *{mrkdwn(name)}* / {describe_target(view.target, view.target_name, view.model_id)}"
    if view.statuses:
        shown = ", ".join(f"{mrkdwn(n, 40)} {emoji(s)} `{mrkdwn(s, 40)}`" for n, s in view.statuses[:5])
        more = f" +{len(view.statuses) - 5} more" if len(view.statuses) > 5 else ""
        head += f": {shown}{more}"
    extras = [describe_kinds(view.kinds)]
    if view.stuck_after:
        extras.append(describe_stuck(timedelta(seconds=view.stuck_after)))
    if guarded(view.model_id, view.target):
        extras.append(describe_guard(view.guard))
    if view.remind_seconds:
        extras.append(describe_remind(view.remind_seconds, view.remind_max))
    if not view.thread:
        extras.append("no threads")
    if view.muted_until is not None and view.muted_until > now:
        extras.append(f":mute: muted until {stamp(view.muted_until)}")
    if view.paused_reason:
        last = f", last delivered {stamp(view.last_delivered_at)}" if view.last_delivered_at else ""
        extras.append(
            f":double_vertical_bar: *paused*: Slack said `{mrkdwn(view.paused_reason)}`{last}. "
            "Invite the bot back or run `/baseten resume`"
        )
    return head + "\n    " + " · ".join(extras)


def mute_line(model_name: str, mute: MuteView) -> str:
    return (
        f"• :mute: *{mrkdwn(model_name)}* / {describe_target(mute.target, mute.target_name, mute.model_id)} "
        f"muted until {stamp(mute.until)}"
    )


def subscribed_lines(
    cmd: Subscribe, user_id: str, what: str, watched: Deployment | None, deployments: Sequence[Deployment]
) -> list[str]:
    """The lines that announce a new subscription in the channel (and its promotion guard, if it has one)."""
    guard = guarded(cmd.model, cmd.target)
    if watched is not None:
        current = f"It is {emoji(watched.status)} `{mrkdwn(watched.status, 40)}` now."
    else:
        counts = status_counts(deployments)
        part = kind_of(cmd.model).part
        current = f"{len(deployments)} {part}(s) now: {counts}." if deployments else f"It has no {part}s yet."
    return [
        f":bell: <@{escape(user_id)}> subscribed this channel to {what}. {current}",
        f"Notices: {describe_kinds(cmd.kinds)}"
        + (f"; {describe_stuck(cmd.stuck_after)}" if cmd.stuck_after else "")
        + (f"; {describe_remind(int(cmd.remind[0].total_seconds()), cmd.remind[1])}" if cmd.remind else "")
        + ("; one thread per deployment." if cmd.thread else "; one message per change."),
        *([f"Promotion guard: `{mrkdwn(guard_text(cmd.guard or DEFAULT_GUARD), 100)}`."] if guard else []),
    ]
