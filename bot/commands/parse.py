"""Pure parser for `/baseten` text: returns a typed Command or raises UsageError."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.commands.cost import parse_cost
from bot.commands.parse_digest import parse_digest
from bot.commands.parse_freeze import parse_freeze, parse_freezes, parse_unfreeze, split_reason
from bot.commands.parse_remind import remind_every, remind_times, reminders
from bot.commands.typed import (
    ACT_VERBS,
    ENV,
    JOB_ACTS,
    MAX_ENV_NAME,
    WHOLE_MODEL,
    Act,
    Command,
    Help,
    ListSubs,
    Mute,
    Resume,
    Status,
    Subscribe,
    TargetWord,
    Unmute,
    Unsubscribe,
    UsageError,
)
from bot.commands.urls import looks_like_url, parse_dashboard_url
from bot.commands.words import plain as _plain
from bot.commands.words import quote as _quote
from bot.commands.words import subject
from bot.domain.guard import DEFAULT as DEFAULT_GUARD
from bot.domain.guard import GuardSpec, parse_guard
from bot.domain.ids import is_plain_id
from bot.domain.subjects import Kind, split_typed
from bot.render.help import USAGE

MAX_TEXT = 1000
SHORTCUTS = ("production", "development")
KIND_GROUPS = ("failures", "recoveries", "deploys", "scaling", "idle", "all")


_DURATION = re.compile(r"([0-9]+)([mhd])")
_UNITS = {"m": 60, "h": 3600, "d": 86400}
MAX_MUTE = timedelta(days=30)  # the longest mute, and the longest `--stuck`


def parse(text: str, *, statuses: frozenset[str] = frozenset()) -> Command:
    """Parses the text after `/baseten`. `statuses` are the status names `--on` accepts."""
    if len(text) > MAX_TEXT:
        raise UsageError(f"That command is too long ({len(text)} characters; at most {MAX_TEXT}).")
    body, reason = split_reason(text)
    words = [_dashes(w) for w in body.split()]
    if not words:
        return Help()
    verb, args = words[0].lower(), words[1:]
    if reason and verb not in (*ACT_VERBS, "freeze"):
        raise UsageError(f"`{_quote(words[0])}` takes no reason in quotes; actions and `freeze` do.")
    if verb in ("help", "-h", "--help", "?"):
        return Help()
    if verb == "list":
        _no_extra(args, "list")
        return ListSubs()
    if verb == "status":
        return _status(args)
    if verb == "subscribe":
        return _subscribe(args, statuses)
    if verb in ("unsubscribe", "unmute", "resume"):
        model, target = _model_target(args, verb)
        if verb == "unsubscribe":
            return Unsubscribe(model, target)
        return Unmute(model, target) if verb == "unmute" else Resume(model, target)
    if verb == "mute":
        return _mute(args)
    if verb in ACT_VERBS:
        return _act(verb, [w for w in args if w != "--override"], reason=reason, override="--override" in args)
    if verb == "freeze":
        return parse_freeze(args, reason, duration=lambda word, usage: parse_duration(word, usage=usage))
    if verb == "unfreeze":
        return parse_unfreeze(args)
    if verb == "freezes":
        return parse_freezes(args)
    if verb == "digest":
        return parse_digest(args)
    if verb == "cost":
        return parse_cost(args)
    raise UsageError(
        f"I don't know the command `{_quote(words[0])}`. "
        "Try `status`, `subscribe`, `unsubscribe`, `mute`, `unmute`, `resume`, `retry`, `activate`, "
        "`deactivate`, `promote`, `rollback`, `stop`, `recreate`, `cost`, `digest`, `freeze`, `unfreeze`, "
        "`freezes`, `list` or `help`."
    )


def _dashes(word: str) -> str:
    """`—on` or `–on` as `--on`: macOS and Slack turn a typed `--` into an em or en dash."""
    if word[:1] in ("\u2014", "\u2013") and len(word) > 1 and word[1].isalpha():
        return "--" + word[1:]
    return word


def _act(verb: str, args: list[str], *, reason: str = "", override: bool = False) -> Act:
    """`retry|activate|deactivate MODEL DEPLOYMENT`, `promote MODEL DEPLOYMENT [env:NAME]`,
    `rollback MODEL [env:NAME]`, `stop|recreate training:PROJECT JOB`; each may end with a reason in
    quotes, and take `--override` (an admin acting through a freeze)."""
    usage = USAGE[verb]
    environment = "production"
    rest: list[str] = []
    for word in args:
        if not word.lower().startswith(ENV):
            rest.append(word)
        elif verb in ("promote", "rollback"):
            environment = env_name(env_target(word[len(ENV) :])) or "production"
        else:
            thing = "a job" if verb in JOB_ACTS else "a deployment"
            raise UsageError(f"`{verb}` acts on {thing}, not an environment.", usage=usage)
    wanted = 1 if verb == "rollback" else 2
    if len(rest) < wanted:
        needs = "a training project and a job" if verb in JOB_ACTS else "a model and a deployment"
        raise UsageError(f"`{verb}` needs {needs if wanted == 2 else 'a model'}.", usage=usage)
    if len(rest) > wanted:
        raise UsageError(f"Too many arguments: `{_quote(' '.join(rest[wanted:]))}`.", usage=usage)
    kind, model = subject(rest[0])
    if kind is Kind.CHAIN or (kind is Kind.TRAINING) != (verb in JOB_ACTS):
        raise UsageError(_wrong_kind(verb, kind), usage=usage)
    deployment = _plain(rest[1], kind.part) if wanted == 2 else ""
    return Act(verb, model, deployment, environment, reason=reason, override=override)


def _wrong_kind(verb: str, kind: Kind) -> str:
    if verb in JOB_ACTS:
        return f"`{verb}` acts on a training job: `/baseten {verb} training:PROJECT JOB`."
    if kind is Kind.TRAINING:
        return f"`{verb}` acts on a model's deployment; a training job takes `stop` or `recreate`."
    return f"`{verb}` acts on a model's deployment; the bot does not act on chains from Slack."


def _status(args: list[str]) -> Status:
    if len(args) == 1 and looks_like_url(args[0]):
        model, deployment = parse_dashboard_url(args[0])
        return Status(model, deployment)
    model, target = _model_target(args, "status")
    return Status(model, target)


def _subscribe(args: list[str], statuses: frozenset[str]) -> Subscribe:
    usage = USAGE["subscribe"]
    positional: list[str] = []
    kinds: set[str] = set()
    thread = True
    stuck: timedelta | None = None
    guard: GuardSpec | None = None
    remind: dict[str, str] = {}  # `--remind` and `--remind-max` as typed
    on_ended, on_value = -2, ""  # the last word an `--on` read, and the list it made
    i = 0
    while i < len(args):
        word = args[i]
        flag = word.split("=", 1)[0]
        if flag in OPTION_VALUES:
            value, i = _option_value(args, i, flag)
            if flag == "--on":
                kinds |= parse_kinds(value, statuses)
                on_ended, on_value = i, value
            elif flag == "--stuck":
                stuck = parse_duration(value, usage=usage)
            elif flag in ("--remind", "--remind-max"):
                remind[flag] = value
            else:
                guard = _guard(value)
        elif word == "--no-thread":
            thread = False
        elif word.startswith("-"):
            raise UsageError(
                f"Unknown option `{_quote(word)}`: use `--on KINDS`, `--no-thread`, `--stuck DURATION`, "
                "`--remind DURATION`, `--remind-max N` or `--guard SPEC`.",
                usage=usage,
            )
        elif i == on_ended + 1 and _is_kind(word, statuses):
            raise UsageError(  # `--on failures recoveries`: not a deployment named `recoveries`
                f"`{_quote(word)}` right after `--on {_quote(on_value)}` would be read as a deployment: "
                f"join the kinds with commas, e.g. `--on {_quote(on_value.rstrip(','))},{_quote(word)}`.",
                usage=usage,
            )
        else:
            positional.append(word)
        i += 1
    if len(positional) == 1 and looks_like_url(positional[0]):
        model, deployment = parse_dashboard_url(positional[0])
    else:
        model, deployment = _model_target(positional, "subscribe")
    _stuck_fits(model, stuck)
    if guard is not None:
        _guarded(model, deployment)
    every = remind_every(remind["--remind"]) if "--remind" in remind else None
    times = remind_times(remind["--remind-max"]) if "--remind-max" in remind else None
    return Subscribe(
        model,
        deployment,
        frozenset(kinds),
        thread,
        stuck,
        None if guard == DEFAULT_GUARD else guard,
        reminders(every, times, asked="--remind" in remind),
    )


# the options of `subscribe` that take a value: what it is called when missing, an example, and
# whether it is a comma-separated list (which may be split by spaces around its commas)
OPTION_VALUES = {
    "--on": ("a value", "--on failures,recoveries", True),
    "--stuck": ("a duration", "--stuck 45m", False),
    "--remind": ("a duration", "--remind 30m", False),
    "--remind-max": ("a number", "--remind-max 8", False),
    "--guard": ("a value", "--guard 5xx:2%,p95:2x,min:50", True),
}


def _option_value(args: list[str], i: int, flag: str) -> tuple[str, int]:
    """The value of the option at `args[i]` (`--on X` or `--on=X`), and the index of its last word."""
    what, example, listed = OPTION_VALUES[flag]
    if args[i] == flag:
        if i + 1 >= len(args):
            raise UsageError(f"`{flag}` needs {what}, e.g. `{example}`.", usage=USAGE["subscribe"])
        value = args[i + 1]
        i += 1
    else:
        value = args[i][len(flag) + 1 :]
    # `--on failures, recoveries`: a list split by spaces around its commas is still one list
    while (
        listed
        and i + 1 < len(args)
        and not args[i + 1].startswith("-")
        and (value.endswith(",") or args[i + 1].startswith(","))
    ):
        value += args[i + 1]
        i += 1
    return value, i


def _guard(value: str) -> GuardSpec:
    try:
        return parse_guard(value)
    except ValueError as exc:
        raise UsageError(str(exc), usage=USAGE["subscribe"]) from None


def _guarded(model: str, target: TargetWord) -> None:
    """`--guard` guards promotions, of a model: only on an environment or `production`."""
    if split_typed(model)[0] is not Kind.MODEL:
        raise UsageError(
            "`--guard` compares a model's deployments by their metrics, which Baseten's API has only for models.",
            usage=USAGE["subscribe"],
        )
    if target != "production" and not target.startswith(ENV):
        raise UsageError(
            "`--guard` guards promotions: use it on an environment (`env:NAME`) or `production`, "
            f"e.g. `subscribe {_quote(model)} production --guard 5xx:1%`.",
            usage=USAGE["subscribe"],
        )


def _stuck_fits(model: str, stuck: timedelta | None) -> None:
    if stuck is not None and split_typed(model)[0] is Kind.TRAINING:
        raise UsageError(
            "`--stuck` is for deployments in motion; a training job pending 10 minutes gets a line of its own "
            "on why it waits, and a running one is not stuck.",
            usage=USAGE["subscribe"],
        )


def _is_kind(word: str, statuses: frozenset[str]) -> bool:
    return word.lower() in KIND_GROUPS or word.upper() in statuses


def parse_kinds(value: str, statuses: frozenset[str]) -> set[str]:
    """`failures,recoveries,ACTIVE` -> {"failures", "recoveries", "ACTIVE"}."""
    kinds: set[str] = set()
    for raw in value.split(","):
        item = raw.strip()
        if not item:
            continue
        if item.lower() in KIND_GROUPS:
            kinds.add(item.lower())
        elif item.upper() in statuses:
            kinds.add(item.upper())
        else:
            valid = ", ".join(KIND_GROUPS)
            raise UsageError(
                f"`--on` does not know `{_quote(item)}`. Valid: {valid}, or status names "
                "such as UNHEALTHY, ACTIVE, BUILD_FAILED.",
                usage=USAGE["subscribe"],
            )
    if not kinds:
        raise UsageError("`--on` needs at least one kind, e.g. `--on failures`.")
    return kinds


def _mute(args: list[str]) -> Mute:
    if not args:
        raise UsageError("Say what to mute and for how long.", usage=USAGE["mute"])
    for i, word in enumerate(args[1:-1], start=1):
        if _DURATION.fullmatch(word.lower()):  # `mute M 1h 2h`: not a deployment named `1h`
            extra = " ".join(args[i + 1 :])
            raise UsageError(
                f"Too many arguments: `{_quote(extra)}` after the duration `{_quote(word)}`; "
                "`mute` takes one duration, last.",
                usage=USAGE["mute"],
            )
    duration = parse_duration(args[-1])
    model, target = _model_target(args[:-1], "mute")
    return Mute(model, target, duration)


def parse_duration(word: str, *, usage: str = USAGE["mute"]) -> timedelta:
    match = _DURATION.fullmatch(word.lower())
    if match is None:
        raise UsageError(
            f"`{_quote(word)}` is not a duration: use minutes, hours or days, e.g. `30m`, `2h`, `1d`.",
            usage=usage,
        )
    seconds = int(match.group(1)) * _UNITS[match.group(2)]  # compared as an int: `99999999d` can't overflow
    if seconds > MAX_MUTE.total_seconds():
        raise UsageError(f"`{_quote(word)}` is too long: at most 30 days (`30d`).", usage=usage)
    if seconds == 0:
        raise UsageError(f"`{_quote(word)}` is too short: at least 1 minute (`1m`).", usage=usage)
    return timedelta(seconds=seconds)


def _model_target(args: list[str], verb: str) -> tuple[str, TargetWord]:
    usage = USAGE[verb]
    if not args:
        raise UsageError(f"`{verb}` needs a model.", usage=usage)
    if len(args) > 2:
        extra = " ".join(args[2:])
        raise UsageError(f"Too many arguments: `{_quote(extra)}`.", usage=usage)
    kind, model = subject(args[0])
    if len(args) == 1:
        return model, WHOLE_MODEL
    second = args[1]
    if kind is Kind.TRAINING:
        if second.lower() in SHORTCUTS or second.lower().startswith(ENV):
            raise UsageError(
                f"A training project has jobs, not `{_quote(second)}`: name a job, e.g. `{verb} {args[0]} JOB`.",
                usage=usage,
            )
        return model, _plain(second, "job")
    if kind is Kind.CHAIN and second.lower() == "development":
        raise UsageError(
            "A chain has no development deployment: name a chain deployment, `production` or `env:NAME`.",
            usage=usage,
        )
    if second.lower() in SHORTCUTS:
        return model, second.lower()
    if second.lower().startswith(ENV):  # `status` shows the environment itself, even production's
        return model, env_target(second[len(ENV) :], synonym=verb != "status")
    return model, _plain(second, "deployment")


def env_target(name: str, *, synonym: bool = True) -> TargetWord:
    """`staging` -> `env:staging`; `production` -> `production`, the synonym, so that a subscription,
    mute or resume of either is one target (`synonym=False` keeps `env:production`)."""
    if not is_plain_id(name) or len(name) > MAX_ENV_NAME:
        raise UsageError(
            f"`{_quote(name)}` is not a valid environment name: use letters, digits, `-` and `_` only "
            f"(at most {MAX_ENV_NAME}), e.g. `env:staging`."
        )
    return "production" if synonym and name.lower() == "production" else ENV + name


def env_name(target: TargetWord) -> str | None:
    """The environment a target names (`production` included), or None."""
    if target == "production":
        return "production"
    return target[len(ENV) :] if target.startswith(ENV) else None


def _no_extra(args: list[str], verb: str) -> None:
    if args:
        raise UsageError(f"`{verb}` takes no arguments.", usage=USAGE[verb])
