"""Pure: APPROVAL_REQUIRED, the actions that need a second operator's approval. No I/O.

The setting is a comma-separated list of `verb:environment` pairs: `promote:production`,
`rollback:*`, `deactivate:production`, `scale_to_zero:*`, `stop:*`, `pause_promotion:staging`.
A verb is one of bot.actions.verbs.VERBS (`scale-to-zero` and `scale_to_zero` alike); the
environment is a name (matched as `status` matches it, case-insensitive) or `*`, every one.
A deployment's own action (activate, deactivate, retry, scale to zero) counts as production's, and a
training job's (stop, recreate) as `*`'s only: they name no environment.
"""

from __future__ import annotations

from bot.actions.verbs import VERBS
from bot.domain.ids import is_plain_id

ANY = "*"
Pairs = frozenset[tuple[str, str]]


def parse_required(raw: str) -> Pairs:
    """The pairs of the setting; ValueError naming the first entry that is not one."""
    pairs: set[tuple[str, str]] = set()
    for part in raw.split(","):
        entry = part.strip()
        if not entry:
            continue
        verb, sep, env = entry.partition(":")
        verb = verb.strip().lower().replace("-", "_")
        env = env.strip()
        shown = entry if len(entry) <= 40 else entry[:40] + "…"
        if not sep or not env:
            raise ValueError(f"{shown!r} is not verb:environment (e.g. promote:production, rollback:*)")
        if verb not in VERBS:
            raise ValueError(f"{shown!r} names no action the bot takes; use one of {', '.join(sorted(VERBS))}")
        if env != ANY and not is_plain_id(env):
            raise ValueError(f"{shown!r}: the environment is a name (letters, digits, - and _) or *")
        pairs.add((verb, env.lower()))
    return frozenset(pairs)


def needs_approval(pairs: Pairs, verb: str, environment: str) -> bool:
    """Whether this verb in this environment is listed (its own environment, or `*`)."""
    return (verb, ANY) in pairs or (verb, environment.lower()) in pairs
