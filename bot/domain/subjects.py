"""What the bot watches besides models: chains and training projects, under one key.

A model is stored by its id; a chain as `chain:ID` and a training project as `training:ID`.
Everything the bot keeps per model (subscriptions, mutes, snapshots, transitions, threads)
is keyed by this one string, so a chain deployment or a training job is stored, diffed,
muted and announced as a deployment is. A model id is a plain id (no `:`), so the keys of
the three kinds never meet. The key must fit the 64-character id columns: a chain's own id
may hold at most 58 characters, a training project's 55 (Baseten's are far shorter).
"""

from __future__ import annotations

from enum import Enum

from bot.domain.ids import is_plain_id

KEY_LENGTH = 64  # bot.store.tables.ID


class Kind(Enum):
    MODEL = ""
    CHAIN = "chain:"
    TRAINING = "training:"

    @property
    def prefix(self) -> str:
        return self.value

    @property
    def noun(self) -> str:
        """What one subject of this kind is called: `model`, `chain`, `training project`."""
        return _NOUNS[self][0]

    @property
    def part(self) -> str:
        """What one of its parts is called: `deployment`, `chain deployment`, `job`."""
        return _NOUNS[self][1]

    @property
    def max_id(self) -> int:
        return KEY_LENGTH - len(self.prefix)


_NOUNS = {
    Kind.MODEL: ("model", "deployment"),
    Kind.CHAIN: ("chain", "chain deployment"),
    Kind.TRAINING: ("training project", "job"),
}
PREFIXED = (Kind.CHAIN, Kind.TRAINING)


def kind_of(key: str) -> Kind:
    """The kind a stored key (or a typed `chain:NAME`) names."""
    for kind in PREFIXED:
        if key.startswith(kind.prefix):
            return kind
    return Kind.MODEL


def own_id(key: str) -> str:
    """The id Baseten knows: `chain:abc` -> `abc`; a model's key is its id."""
    return key[len(kind_of(key).prefix) :]


def key_of(kind: Kind, id_: str) -> str:
    """The stored key of a subject Baseten calls `id_`; ValueError if it cannot be one."""
    if not is_plain_id(id_) or len(id_) > kind.max_id:
        raise ValueError(f"{kind.noun} id {id_[:80]!r} is not a plain id of at most {kind.max_id} characters")
    return kind.prefix + id_


def split_typed(word: str) -> tuple[Kind, str]:
    """What a user typed first: `chain:NAME` -> (CHAIN, "NAME"); a bare word is a model. The prefix
    is read in any case (`Chain:x`); the rest is returned as typed, not yet validated."""
    lowered = word.lower()
    for kind in PREFIXED:
        if lowered.startswith(kind.prefix):
            return kind, word[len(kind.prefix) :]
    return Kind.MODEL, word


def is_key(key: str) -> bool:
    """Whether `key` is a stored key the bot could have written: a plain model id, or a prefix and
    a plain id, within the id columns (a button's value is checked with this on its way back)."""
    return (
        is_plain_id(own_id(key))
        and len(key) <= KEY_LENGTH
        and (kind_of(key) is Kind.MODEL or key != kind_of(key).prefix)
    )
