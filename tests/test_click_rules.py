"""The click path's decisions, as a table (bot.actions.checks, pure): spent, unrecorded, expired,
stale, gone or go; and how a button's value comes back, ask and do alike."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.actions import buttons
from bot.actions.checks import (
    CLAIMED,
    EXPIRED,
    FAILED,
    GO,
    GONE,
    SPENT,
    STALE,
    TAKEN,
    UNRECORDED,
    Seen,
    Shown,
    encode_card,
    on_claim,
    on_read,
    read_button,
    role_of,
)
from bot.actions.verbs import VERBS, Target, encode
from bot.baseten.models import Deployment

DRAWN = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
CARD = "0123456789abcdef"
DEP = Target("m1", "d4", "production", "llama", "v4")
ROLLBACK = Target("m1", "d3", "production", "llama", "v3", expect="d2")
PROMO = Target("m1", "d4", "staging", "llama", "v4")


@pytest.mark.parametrize(
    ("claim", "age", "kind"),
    [
        (CLAIMED, timedelta(0), GO),
        (CLAIMED, timedelta(minutes=9, seconds=59), GO),
        (CLAIMED, timedelta(minutes=10, seconds=1), EXPIRED),
        (CLAIMED, timedelta(hours=5), EXPIRED),
        (CLAIMED, -timedelta(seconds=30), GO),  # another replica's clock, a little ahead
        (CLAIMED, -timedelta(minutes=3), EXPIRED),  # "drawn" in the future: not a card the bot drew
        (TAKEN, timedelta(seconds=1), SPENT),  # a double click, a redelivery
        (TAKEN, timedelta(seconds=75), SPENT),  # a replay a minute later
        (TAKEN, timedelta(seconds=290), SPENT),  # a replay just inside Slack's five minutes
        (TAKEN, timedelta(hours=5), SPENT),  # spent, whatever its age
        (FAILED, timedelta(0), UNRECORDED),  # the claim could not be written: nothing is sent
        (FAILED, timedelta(hours=5), UNRECORDED),
    ],
)
def test_before_anything_is_read_the_claim_then_the_age(claim: str, age: timedelta, kind: str) -> None:
    shown = Shown(CARD, DRAWN, "ACTIVE", "-")
    assert on_claim(claim, shown, DRAWN + age).kind == kind


@pytest.mark.parametrize(
    ("verb", "target", "shown", "seen", "kind", "says"),
    [
        # a deployment's card: its status and its role
        ("deactivate", DEP, ("ACTIVE", "-"), Seen("ACTIVE", "-"), GO, ""),
        (
            "promote",
            DEP,
            ("ACTIVE", "-"),
            Seen("UNHEALTHY", "-"),
            STALE,
            "v4 was ACTIVE when this card was shown and is UNHEALTHY now",
        ),
        (
            "deactivate",
            DEP,
            ("ACTIVE", "-"),
            Seen("ACTIVE", "production"),
            STALE,
            "was in no environment when this card was shown and is production now",
        ),
        (
            "retry",
            DEP,
            ("BUILD_FAILED", "-"),
            Seen("BUILDING", "staging"),
            STALE,
            "is BUILDING now; v4 was in no environment",
        ),
        ("activate", DEP, ("INACTIVE", "-"), Seen(None), GONE, "v4 is no longer on Baseten"),
        # a rollback's card: the environment as the card found it, then the deployment rolled back to
        ("rollback", ROLLBACK, ("INACTIVE", "-"), Seen("INACTIVE", "-", current="d2"), GO, ""),
        (
            "rollback",
            ROLLBACK,
            ("INACTIVE", "-"),
            Seen("INACTIVE", "-", current="d3", current_name="v3"),
            STALE,
            "production changed since this card was shown: v3 is current there now",
        ),
        (
            "rollback",
            ROLLBACK,
            ("INACTIVE", "-"),
            Seen("BUILD_FAILED", "-", current="d2"),
            STALE,
            "v3 was INACTIVE when this card was shown and is BUILD_FAILED now",
        ),
        # a promotion's control: the promotion's status, its candidate, and that it still runs
        ("pause_promotion", PROMO, ("RAMPING_UP", ""), Seen("RAMPING_UP", "d4", "v4"), GO, ""),
        (
            "force_roll_forward_promotion",
            PROMO,
            ("RAMPING_UP", ""),
            Seen("RAMPING_UP", "d5", "v5"),
            STALE,
            "the promotion in staging is now of v5, not of v4",
        ),
        (
            "resume_promotion",
            PROMO,
            ("PAUSED", ""),
            Seen("RAMPING_UP", "d4", "v4"),
            STALE,
            "was PAUSED when this card was shown and is RAMPING_UP now",
        ),
        (
            "cancel_promotion",
            PROMO,
            ("RAMPING_UP", ""),
            Seen(None),
            GONE,
            "the promotion of v4 to staging has ended since",
        ),
        (
            "cancel_promotion",
            PROMO,
            ("RAMPING_UP", ""),
            Seen("SUCCEEDED", "d4", "v4"),
            GONE,
            "has ended (SUCCEEDED) since",
        ),
    ],
)
def test_after_the_read_what_the_card_showed_against_what_is(
    verb: str, target: Target, shown: tuple[str, str], seen: Seen, kind: str, says: str
) -> None:
    verdict = on_read(VERBS[verb], target, Shown(CARD, DRAWN, *shown), seen)
    assert verdict.kind == kind and says in verdict.why
    assert verdict.go is (kind == GO)


def test_a_deployments_role_is_the_one_its_card_shows() -> None:
    def dep(**kw: object) -> Deployment:
        return Deployment.model_validate({"id": "d", "status": "ACTIVE", **kw})

    assert role_of(dep()) == "-"
    assert role_of(dep(is_production=True, environment="production")) == "production"
    assert role_of(dep(is_development=True)) == "development"
    assert role_of(dep(environment="staging")) == "staging"


def test_ask_and_do_buttons_are_read_alike_and_only_as_the_bot_wrote_them() -> None:
    shown = Shown(CARD, DRAWN, "ACTIVE", "-")
    do = {"action_id": buttons.DO + "deactivate", "value": encode_card("deactivate", DEP, shown)}
    assert read_button(do, buttons.DO) == (VERBS["deactivate"], DEP, shown)
    ask = {"action_id": buttons.ASK + "deactivate", "value": encode("deactivate", DEP)}
    assert read_button(ask, buttons.ASK) == (VERBS["deactivate"], DEP, None)
    assert read_button(do, buttons.ASK) is None  # a do value on an ask button
    assert read_button({**do, "action_id": buttons.DO + "retry"}, buttons.DO) is None  # another verb's button
    assert read_button({**ask, "value": encode("deactivate", Target("m1"))}, buttons.ASK) is None  # no deployment
    old = {"action_id": buttons.DO + "deactivate", "value": encode("deactivate", DEP)}
    assert read_button(old, buttons.DO) == (VERBS["deactivate"], DEP, None)  # a card from before: no Shown
    raw = json.loads(do["value"])
    for bad in ({"c": "not-hex"}, {"c": 5}, {"t": "soon"}, {"t": True}, {"t": 10**20}, {"s": ["ACTIVE"]}, {"r": 3}):
        value = json.dumps({**raw, **bad})
        assert read_button({**do, "value": value}, buttons.DO) == (VERBS["deactivate"], DEP, None), bad
    assert len(encode_card("deactivate", DEP, Shown(CARD, DRAWN, "S" * 500, "R" * 500))) < 2000
