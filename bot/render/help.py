"""The help answer, and each command's usage line and worked example (the parser's usage
errors quote them too)."""

from __future__ import annotations

from bot.render.cards import Message, section_block
from bot.render.text import escape

USAGE = {
    "status": "/baseten status MODEL [DEPLOYMENT | production | development | env:NAME]",
    "subscribe": (
        "/baseten subscribe MODEL [DEPLOYMENT | production | development | env:NAME] [--on KINDS] [--no-thread] "
        "[--stuck DURATION] [--remind DURATION [--remind-max N]] [--guard SPEC]"
    ),
    "unsubscribe": "/baseten unsubscribe MODEL [DEPLOYMENT | production | development | env:NAME]",
    "mute": "/baseten mute MODEL [DEPLOYMENT | production | development | env:NAME] DURATION",
    "unmute": "/baseten unmute MODEL [DEPLOYMENT | production | development | env:NAME]",
    "resume": "/baseten resume MODEL [DEPLOYMENT | production | development | env:NAME]",
    **{verb: f"/baseten {verb} MODEL DEPLOYMENT" for verb in ("retry", "activate", "deactivate")},
    "promote": "/baseten promote MODEL DEPLOYMENT [env:NAME]",
    "rollback": "/baseten rollback MODEL [env:NAME]",
    **{verb: f"/baseten {verb} training:PROJECT JOB" for verb in ("stop", "recreate")},
    "cost": "/baseten cost [MODEL | chain:CHAIN | training:PROJECT] [--days N]",
    "digest": "/baseten digest daily HH:MM [TZ] | weekly DAY HH:MM [TZ] | off",
    "freeze": '/baseten freeze [MODEL | all] [env:NAME] DURATION ["reason"]',
    "unfreeze": "/baseten unfreeze [MODEL | all] [env:NAME]",
    "freezes": "/baseten freezes",
    "list": "/baseten list",
    "help": "/baseten help",
}


# One worked example per command, for `help` and the README (a test parses each one).
EXAMPLES = {
    "status": "/baseten status llama-3-8b production",
    "subscribe": "/baseten subscribe llama-3-8b production --on failures,recoveries --stuck 45m",
    "unsubscribe": "/baseten unsubscribe llama-3-8b production",
    "mute": "/baseten mute llama-3-8b production 2h",
    "unmute": "/baseten unmute llama-3-8b production",
    "resume": "/baseten resume llama-3-8b",
    "retry": "/baseten retry llama-3-8b v4",
    "activate": "/baseten activate llama-3-8b v2",
    "deactivate": "/baseten deactivate llama-3-8b v2",
    "promote": "/baseten promote llama-3-8b v4 env:staging",
    "rollback": "/baseten rollback llama-3-8b",
    "stop": "/baseten stop training:ft-llama job-7q2",
    "recreate": "/baseten recreate training:ft-llama job-7q2",
    "cost": "/baseten cost llama-3-8b --days 30",
    "digest": "/baseten digest weekly mon 09:00 Europe/Berlin",
    "freeze": '/baseten freeze all env:production weekly fri 17:00 - mon 09:00 Europe/Berlin "weekend"',
    "unfreeze": "/baseten unfreeze all env:production",
    "freezes": "/baseten freezes",
    "list": "/baseten list",
    "help": "/baseten help",
}


HELP = (
    (
        "status",
        "a deployment's card, or every deployment of a model; a dashboard link works too:\n"
        "    `/baseten status https://app.baseten.co/models/MODEL/logs/DEPLOYMENT`",
    ),
    ("subscribe", "tell this channel when the status changes"),
    ("unsubscribe", "stop telling this channel"),
    ("mute", "record changes without announcing them, for up to 30 days"),
    ("unmute", "announce again before the mute ends"),
    ("resume", "resume a subscription paused because Slack refused a notice"),
    ("retry", "retry a failed build or deploy (operators; you confirm first)"),
    ("activate", "activate an inactive deployment (operators; you confirm first)"),
    ("deactivate", "deactivate a deployment (operators; you confirm first)"),
    ("promote", "promote a deployment to production, or to `env:NAME` (operators; you confirm first)"),
    ("rollback", "promote again what was current before the latest promotion the bot saw (operators)"),
    ("stop", "stop a training job that runs or waits (operators; you confirm first)"),
    ("recreate", "start a training job again with the same spec, as a new job (operators; you confirm first)"),
    (
        "cost",
        "what GPUs cost in the last N days (default 7, at most 31), of a model, chain, training project or "
        "the whole workspace: spend per deployment, the change against the days before, the burn rate now",
    ),
    (
        "digest",
        "a summary of what this channel watches, daily or weekly at a local time (`TZ`: an IANA zone such as "
        "`Europe/Berlin`, default UTC): deploys, failures, recoveries, promotions, time spent failing, the "
        "largest movers; `off` ends it",
    ),
    (
        "freeze",
        "refuse promote, activate, rollback, Resume and Force roll forward on a model (or `all`) in an "
        "environment (default: every one) for a while, or every week (`weekly fri 17:00 - mon 09:00 [TZ]`); "
        "an admin may add `--override` to an action (with ADMIN_USER_IDS unset, anyone who may act)",
    ),
    ("unfreeze", "lift the freezes of a model (or `all`), in one environment or every one"),
    ("freezes", "the freezes set, held now or to come"),
    ("list", "this channel's subscriptions and its digest, and the freezes holding now"),
)


def help_message() -> Message:
    """Every command with its usage, what it does and one worked example; one section each."""
    blocks = [section_block("*Baseten for Slack*: look deployments up, and hear when their status changes.")]
    for verb, does in HELP:
        example = "" if EXAMPLES[verb] == USAGE[verb] else f"\n    e.g. `{EXAMPLES[verb]}`"
        blocks.append(section_block(escape(f"`{USAGE[verb]}`\n    {does}{example}")))
    options = [
        "`--on KINDS`: `failures`, `recoveries`, `deploys`, `scaling`, `idle`, `all` or status names, "
        "comma-separated. Default: every change except scale-to-zero churn and idle warm replicas.",
        "`--stuck DURATION`: announce a deployment as stuck when it is building, deploying, loading, "
        "updating or waking up for longer than this (default `30m`).",
        "`--no-thread`: one message per change instead of one thread per deployment.",
        "`--remind DURATION` (at least `1m`, at most `1d`; `off` for none) and `--remind-max N` (1 to 100, "
        "default 8): while a failure lasts and nobody acknowledged it, a reminder in its thread, also sent to "
        "the channel, every DURATION, at most N times. A recovery or an acknowledgement ends them; a mute "
        "pauses them.",
        "Acknowledge: the button on every failure notice (and reminder) says who is on it: the notice is "
        "edited to say who and when, a line goes in its thread, and reminders stop. With "
        "`ACK_OPERATORS_ONLY=true`, only operators may.",
        "`--guard SPEC` (on `env:NAME` or `production`): the promotion guard's thresholds, comma-separated: "
        "`5xx:N%` (the candidate's 5xx rate), `p95:Nx` (its p95 against the current deployment's), `min:N` "
        "(requests before any verdict), `auto-pause`; or `off`. Default: `5xx:2%,p95:2x,min:50`.",
        "`env:NAME`: an environment (`production`, `staging` or a custom one): its current deployment, "
        "and each promotion as one message edited as it moves.",
        "`chain:CHAIN`, `training:PROJECT`: a chain (by id or name; then a chain deployment or `env:NAME`) or a "
        "training project (then a job) wherever a model goes, e.g. `/baseten subscribe training:llama-ft`: "
        "a job created, running, completed, failed or stopped is a notice.",
        "`DURATION`: minutes, hours or days, from `1m` to `30d`, e.g. `30m`, `2h`, `1d`.",
        '`"reason"`: an action or a freeze may end with a reason in double quotes, e.g. '
        '`/baseten promote llama-3-8b v4 "fixes OOM"`.',
        "Approvals: with APPROVAL_REQUIRED (e.g. `promote:production`), a confirmed action on a listed pair "
        "is posted in the channel as a request with Approve and Reject; another operator, not the one who "
        "asked, approves it within APPROVAL_TTL_MINUTES, and it then runs once, only if nothing it showed "
        "has changed. Reject ends it (the one who asked may withdraw it); an expired one does nothing. Ask "
        "in a channel, not a DM. A deployment's own action (retry, activate, deactivate, scale to zero) is in "
        "the environments whose current deployment it is (production's, staging's); one in none, like a "
        "development deployment, matches only `verb:*`, and a freeze only of every environment.",
    ]
    blocks.append(section_block(escape("\n".join(options))))
    return Message(text="Baseten bot help: /baseten status, subscribe, list", blocks=blocks)
