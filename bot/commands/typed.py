"""What a command is once parsed: the typed commands, the words a target may be, the usage error.

Pure values (bot.commands.parse makes them; the subscription commands, lookups and actions
take them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bot.domain.digests import Schedule
from bot.domain.freezes import Weekly
from bot.domain.guard import GuardSpec

# what follows MODEL: "*" (whole model), "production", "development", "env:NAME", or a deployment id or name
TargetWord = str
WHOLE_MODEL: TargetWord = "*"
ENV = "env:"  # `env:staging`; `env:production` is stored as plain `production`, the same target
MAX_ENV_NAME = 60  # "env:" + the name must fit the 64-character target column


class UsageError(Exception):
    """The text is not a valid command; the message says what is wrong and how to fix it."""

    def __init__(self, message: str, *, usage: str | None = None) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class ListSubs:
    pass


@dataclass(frozen=True)
class Status:
    model: str
    target: TargetWord = WHOLE_MODEL


@dataclass(frozen=True)
class Subscribe:
    model: str
    target: TargetWord = WHOLE_MODEL
    kinds: frozenset[str] = field(default_factory=frozenset)
    thread: bool = True
    stuck_after: timedelta | None = None  # None: the default, 30 minutes
    guard: GuardSpec | None = None  # `--guard`, on an environment or production; None: the default spec
    # `--remind DURATION [--remind-max N]` (issue 26): how often, and how many at most (None: the default)
    remind: tuple[timedelta, int | None] | None = None


@dataclass(frozen=True)
class Unsubscribe:
    model: str
    target: TargetWord = WHOLE_MODEL


@dataclass(frozen=True)
class Mute:
    model: str
    target: TargetWord
    duration: timedelta


@dataclass(frozen=True)
class Unmute:
    model: str
    target: TargetWord = WHOLE_MODEL


@dataclass(frozen=True)
class Resume:
    model: str
    target: TargetWord = WHOLE_MODEL


ACT_VERBS = ("retry", "activate", "deactivate", "promote", "rollback", "stop", "recreate")
JOB_ACTS = ("stop", "recreate")  # a training job's (`training:PROJECT JOB`); the rest a model deployment's


@dataclass(frozen=True)
class Act:
    """An action on a deployment, answered with a confirmation card: nothing changes before its button."""

    verb: str  # one of ACT_VERBS
    model: str
    deployment: str = ""  # "" for `rollback`: the bot knows which deployment was current before
    environment: str = "production"
    reason: str = ""  # the optional last argument in quotes: `promote llama v4 "fixes OOM"`
    override: bool = False  # `--override`: an admin acting through a freeze


@dataclass(frozen=True)
class Freeze:
    """`freeze [MODEL | all] [env:NAME] DURATION ["reason"]`, or weekly (`weekly fri 17:00 - mon 09:00 [TZ]`).
    `model` and `environment` are bot.domain.freezes.ALL for every model, every environment."""

    model: str
    environment: str
    duration: timedelta | None = None
    weekly: Weekly | None = None
    reason: str = ""


@dataclass(frozen=True)
class Unfreeze:
    """`unfreeze [MODEL | all] [env:NAME]`: lifts the freezes of that model (or of every model), in that
    environment, or in any when none is named (None)."""

    model: str
    environment: str | None = None


@dataclass(frozen=True)
class ListFreezes:
    pass


@dataclass(frozen=True)
class Cost:
    """What GPUs cost (CONTRACT.md "Cost"): the spend of the last `days` days, today included, of one model,
    `chain:CHAIN` or `training:PROJECT` (`subject`, as typed), or of the whole workspace (None)."""

    subject: str | None = None
    days: int = 7


@dataclass(frozen=True)
class Digest:
    """`digest daily|weekly …` sets the channel's one digest (replacing any); `digest off` (None) ends it."""

    schedule: Schedule | None


Command = (
    Help
    | ListSubs
    | Status
    | Subscribe
    | Unsubscribe
    | Mute
    | Unmute
    | Resume
    | Act
    | Digest
    | Cost
    | Freeze
    | Unfreeze
    | ListFreezes
)
