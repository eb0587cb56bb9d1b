"""Pure: APPROVAL_REQUIRED, the actions that need a second operator's approval, and the environments an
action is in (which freezes hold it, too). No I/O.

The setting is a comma-separated list of `verb:environment` pairs: `promote:production`,
`rollback:*`, `deactivate:production`, `scale_to_zero:*`, `stop:*`, `pause_promotion:staging`.
A verb is one of bot.actions.verbs.VERBS (`scale-to-zero` and `scale_to_zero` alike); the
environment is a name (matched as `status` matches it, case-insensitive) or `*`, every one.

An action's environments (`environments_of`):
- promote, rollback and a promotion's controls: the environment they name;
- a deployment's own action (retry, activate, deactivate, scale to zero): the environments its card's
  role names (production, or an environment whose current deployment it is; re-checked at the click,
  so a deployment whose role changed since sends nothing); `development` and a deployment current in
  no environment name none;
- a training job's (stop, recreate): none.
An action in no environment matches only `*` pairs (and only freezes of every environment); a pair
that could never match (a training job's verb with an environment other than `*`) is refused.
"""

from __future__ import annotations

from bot.actions.verbs import JOB_VERBS, VERBS, Verb
from bot.domain.ids import is_plain_id

ANY = "*"
DEVELOPMENT = "development"  # a role, not an environment
Pairs = frozenset[tuple[str, str]]


def parse_required(raw: str) -> Pairs:
    """The pairs of the setting; ValueError naming the first entry that is not one, or that never matches."""
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
        if verb in JOB_VERBS and env != ANY:
            raise ValueError(f"{shown!r} can never match: a training job is in no environment; use {verb}:*")
        pairs.add((verb, env.lower()))
    return frozenset(pairs)


def environments_of(verb: Verb, environment: str, role: str) -> tuple[str, ...]:
    """The environments this action is in: `environment` (the target's) for promote, rollback and the
    promotion controls; for a deployment's own action those its `role` (a card's, bot.actions.checks)
    names; none for a training job's."""
    if verb.name in JOB_VERBS:
        return ()
    if verb.name in ("promote", "rollback") or not verb.needs_deployment:
        return (environment,)
    named = (part.strip() for part in role.split(","))
    return tuple(r for r in named if r and r != "-" and r.lower() != DEVELOPMENT)


def needs_approval(pairs: Pairs, verb: str, environments: tuple[str, ...]) -> bool:
    """Whether this verb in any of these environments is listed (its own environment, or `*`)."""
    return (verb, ANY) in pairs or any((verb, env.lower()) in pairs for env in environments)
