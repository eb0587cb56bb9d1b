"""`cost [MODEL | chain:CHAIN | training:PROJECT] [--days N]` as a typed command, or a usage error. Pure."""

from __future__ import annotations

from bot.commands.typed import Cost, UsageError
from bot.commands.words import quote, subject
from bot.domain.cost import MAX_DAYS
from bot.render.help import USAGE

DEFAULT_DAYS = 7


def parse_cost(args: list[str]) -> Cost:
    """The words after `cost`: at most one target and `--days N` (or `--days=N`), in any order."""
    usage = USAGE["cost"]
    targets: list[str] = []
    days: int | None = None
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--days" or word.startswith("--days="):
            if days is not None:
                raise UsageError("`--days` is given twice: give it once.", usage=usage)
            if word == "--days":
                if i + 1 >= len(args):
                    raise UsageError("`--days` needs a number of days, e.g. `--days 30`.", usage=usage)
                i += 1
                value = args[i]
            else:
                value = word[len("--days=") :]
            days = _days(value)
        elif word.startswith("-"):
            raise UsageError(f"Unknown option `{quote(word)}`: `cost` takes `--days N`.", usage=usage)
        else:
            targets.append(word)
        i += 1
    if len(targets) > 1:
        raise UsageError(
            f"Too many arguments: `{quote(' '.join(targets[1:]))}`. `cost` takes one model, chain or "
            "training project, or none for the whole workspace.",
            usage=usage,
        )
    try:
        named = subject(targets[0])[1] if targets else None
    except UsageError as exc:
        raise UsageError(str(exc), usage=usage) from None
    return Cost(named, DEFAULT_DAYS if days is None else days)


def _days(value: str) -> int:
    """A whole number of days from 1 to MAX_DAYS (Baseten answers at most 31 days of usage at once)."""
    if not value.isascii() or not value.isdigit():
        raise UsageError(
            f"`--days {quote(value)}` is not a number of days: give a whole number from 1 to {MAX_DAYS}, "
            "e.g. `--days 30`.",
            usage=USAGE["cost"],
        )
    days = int(value) if len(value) <= 6 else MAX_DAYS + 1  # no int() of a thousand digits
    if not 1 <= days <= MAX_DAYS:
        raise UsageError(
            f"`--days {quote(value)}` is out of range: from 1 to {MAX_DAYS} days (Baseten answers at most "
            f"{MAX_DAYS} days of usage at once).",
            usage=USAGE["cost"],
        )
    return days
