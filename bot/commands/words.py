"""The words every command shares: a target's first word (a model, `chain:CHAIN`, `training:PROJECT`),
a plain id, and a user's text made safe to quote. Pure."""

from __future__ import annotations

from bot.commands.typed import UsageError
from bot.domain.ids import is_plain_id
from bot.domain.subjects import Kind, split_typed


def subject(word: str) -> tuple[Kind, str]:
    """The first word of a target: a model id or name, `chain:CHAIN` or `training:PROJECT` (the prefix in
    any case, kept lower case), validated like any id."""
    kind, rest = split_typed(word)
    if kind is Kind.MODEL:
        return kind, plain(word, "model")
    if not rest:
        example = "my-chain" if kind is Kind.CHAIN else "my-project"
        raise UsageError(f"`{kind.prefix}` needs a {kind.noun} id or name, e.g. `{kind.prefix}{example}`.")
    return kind, kind.prefix + plain(rest, kind.noun)


def plain(word: str, what: str) -> str:
    if not is_plain_id(word):
        raise UsageError(
            f"`{quote(word)}` is not a valid {what} id or name: use letters, digits, `-` and `_` only (at most 64)."
        )
    return word


def quote(text: str) -> str:
    """User text made safe to show inside backticks: short, one line, no backticks."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text).replace("`", "'")
    return clean if len(clean) <= 40 else clean[:39] + "…"
