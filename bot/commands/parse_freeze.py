"""Pure parser for `freeze`, `unfreeze` and `freezes`, and for the reason in quotes an action or a
freeze may end with (`promote llama v4 "fixes OOM"`). bot.commands.parse hands it the words."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import time, timedelta

from bot.commands.parse_digest import clock, weekday, zone
from bot.commands.typed import ENV, MAX_ENV_NAME, Freeze, ListFreezes, Unfreeze, UsageError
from bot.commands.words import quote, subject
from bot.domain.freezes import ALL, Weekly
from bot.domain.ids import is_plain_id
from bot.domain.subjects import Kind
from bot.render.help import USAGE

MAX_REASON = 300
OPENING, CLOSING = '"“„«', '"”“»'  # Slack turns typed quotes into curly ones
_REASON = re.compile(rf"^(.*?)[{OPENING}]([^{OPENING}{CLOSING}]*)[{CLOSING}](.*)$", re.DOTALL)
_WEEKLY = re.compile(r"(\S+)\s+(\S+)\s*-\s*(\S+)\s+(\S+)(?:\s+(\S+))?")
_DURATION = re.compile(r"[0-9]+[mhd]")


def split_reason(text: str) -> tuple[str, str]:
    """The text without its argument in quotes, and that argument ("" when there is none). Written last,
    but an option after it (`--override`) is read as well; a second quoted argument, or a lone quote, is
    refused."""
    match = _REASON.match(text)
    body, reason = (f"{match.group(1)} {match.group(3)}", match.group(2).strip()) if match else (text, "")
    if any(ch in OPENING + CLOSING for ch in body):
        raise UsageError('Put the reason last, in double quotes, e.g. `promote llama-3-8b v4 "fixes OOM"`.')
    if len(reason) > MAX_REASON:
        raise UsageError(f"That reason is too long ({len(reason)} characters; at most {MAX_REASON}).")
    return body, " ".join(reason.split())


def parse_freeze(args: list[str], reason: str, *, duration: Callable[[str, str], timedelta]) -> Freeze:
    """`freeze [MODEL | all] [env:NAME] DURATION` or `… weekly DAY HH:MM - DAY HH:MM [TZ]`; `duration`
    reads a DURATION (bot.commands.parse.parse_duration, given the usage line to quote)."""
    usage = USAGE["freeze"]
    model, environment, rest = _scope(args, "freeze", usage)
    if not rest:
        raise UsageError("`freeze` needs how long, e.g. `2h`, or `weekly fri 17:00 - mon 09:00`.", usage=usage)
    if rest[0].lower() == "weekly":
        return Freeze(model, environment, weekly=_weekly(" ".join(rest[1:])), reason=reason)
    if len(rest) > 1:
        raise UsageError(f"Too many arguments: `{quote(' '.join(rest[1:]))}`.", usage=usage)
    return Freeze(model, environment, duration=duration(rest[0], usage), reason=reason)


def parse_unfreeze(args: list[str]) -> Unfreeze:
    usage = USAGE["unfreeze"]
    model, environment, rest = _scope(args, "unfreeze", usage)
    if rest:
        raise UsageError(f"Too many arguments: `{quote(' '.join(rest))}`.", usage=usage)
    return Unfreeze(model, None if environment == ALL else environment)


def parse_freezes(args: list[str]) -> ListFreezes:
    if args:
        raise UsageError("`freezes` takes no arguments.", usage=USAGE["freezes"])
    return ListFreezes()


def _scope(args: list[str], verb: str, usage: str) -> tuple[str, str, list[str]]:
    """The model (ALL for `all` or none), the environment (ALL for none) and the words after them."""
    environment, rest = ALL, []
    for word in args:
        if not word.lower().startswith(ENV):
            rest.append(word)
            continue
        if environment != ALL:
            raise UsageError(f"`{verb}` takes one `env:NAME`.", usage=usage)
        name = word[len(ENV) :]
        if not is_plain_id(name) or len(name) > MAX_ENV_NAME:
            raise UsageError(f"`{quote(name)}` is not a valid environment name, e.g. `env:production`.", usage=usage)
        environment = "production" if name.lower() == "production" else name
    if not rest or _DURATION.fullmatch(rest[0].lower()) or rest[0].lower() == "weekly":
        return ALL, environment, rest
    if rest[0].lower() == "all":
        return ALL, environment, rest[1:]
    kind, model = subject(rest[0])
    if kind is not Kind.MODEL:
        raise UsageError(f"`{verb}` is about models' deployments: name a model, or `all`.", usage=usage)
    return model, environment, rest[1:]


def _weekly(text: str) -> Weekly:
    usage = USAGE["freeze"]
    match = _WEEKLY.fullmatch(text.strip())
    if match is None:
        raise UsageError(
            "A weekly freeze reads `weekly DAY HH:MM - DAY HH:MM [TZ]`, e.g. `weekly fri 17:00 - mon 09:00 "
            "Europe/Berlin`.",
            usage=usage,
        )
    try:
        start_day, (sh, sm), end_day, (eh, em) = (
            weekday(match.group(1)),
            clock(match.group(2)),
            weekday(match.group(3)),
            clock(match.group(4)),
        )
        tz = zone(match.group(5)) if match.group(5) else "UTC"
    except UsageError as exc:
        raise UsageError(str(exc), usage=usage) from None
    if (start_day, sh, sm) == (end_day, eh, em):
        raise UsageError("A weekly freeze must end at another time than it starts.", usage=usage)
    return Weekly(start_day, time(sh, sm), end_day, time(eh, em), tz)
