"""Scale to zero, in pure parts and against the loopback Baseten: the one PATCH and its answer, when
the button is offered, what its card shows and carries (the minimum replicas), and the re-check that
keeps a card from acting on a minimum that changed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.actions import buttons
from bot.actions.answers import outcome
from bot.actions.checks import GO, STALE, Seen, Shown, encode_card, min_replica_of, on_read, read_button
from bot.actions.verbs import SCALE_TO_ZERO, VERBS, Target, decode, encode, fits, scales_to_zero
from bot.baseten.client import BasetenClient
from bot.baseten.models import Deployment
from bot.baseten.ratelimit import RateLimiter
from tests.conftest import MODEL, OLD, PROD
from tests.fakes import API_KEY, Canned, FakeBaseten, deployment
from tests.test_render import within_limits

VERB = VERBS[SCALE_TO_ZERO]
TARGET = Target("mdl1abcd", "dep1prod", "production", "llama-3-8b", "v3")
DRAWN = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
CARD = "0123456789abcdef"
SHOWN = Shown(CARD, DRAWN, "ACTIVE", "production", 2)
PATH = f"/v1/models/{MODEL}/deployments/{PROD}/autoscaling_settings"


def kept_up(min_replica: int | None = 2) -> dict[str, Any]:
    return {
        "min_replica": min_replica,
        "max_replica": 4,
        "autoscaling_window": 60,
        "scale_down_delay": 900,
        "concurrency_target": 2,
        "target_utilization_percentage": 70,
    }


def client_for(baseten: FakeBaseten) -> BasetenClient:
    return BasetenClient(api_key=API_KEY, base_url=baseten.url, limiter=RateLimiter(1000), timeout=2.0)


# -- the one request -----------------------------------------------------------------------


def test_the_request_is_one_patch_of_the_minimum_only() -> None:
    assert VERB.request(TARGET) == (PATH, {"min_replica": 0})
    assert VERB.method == "PATCH" and all(v.method == "POST" for v in VERBS.values() if v is not VERB)
    with pytest.raises(ValueError, match="not a plain id"):
        VERB.request(Target(MODEL, "a/b"))


async def test_the_client_sends_a_patch_once_and_the_fake_baseten_takes_it_as_the_spec_allows(
    baseten: FakeBaseten,
) -> None:
    baseten.set_status(MODEL, PROD, "ACTIVE", autoscaling_settings=kept_up(2))
    client = client_for(baseten)
    try:
        assert await client.act(PATH, {"min_replica": 0}, method="PATCH") == (
            200,
            {"status": "ACCEPTED", "message": "Autoscaling settings updated"},
        )
        (patch,) = baseten.patches()
        assert patch.path == PATH and patch.body == {"min_replica": 0}
        assert baseten.deployments[MODEL][PROD]["autoscaling_settings"] == kept_up(0)  # only the minimum
        assert min_replica_of(await client.get_deployment(MODEL, PROD)) == 0  # the next read sees it
        code, body = await client.act(PATH, {"min_replica": 0}, method="PATCH")  # a second one changes nothing
        assert (code, body["status"]) == (200, "UNCHANGED")

        baseten.script(PATH, Canned(503, {"error": "upstream"}))
        assert await client.act(PATH, {"min_replica": 0}, method="PATCH") == (503, {"error": "upstream"})
        assert len(baseten.patches()) == 3  # a 5xx is shown as given, never retried: it could act twice
        for wrong in ("DELETE", "GET", "patch"):
            with pytest.raises(ValueError, match="not a method that acts"):
                await client.act(PATH, {"min_replica": 0}, method=wrong)
        assert len(baseten.changes()) == 3 and baseten.posts() == []
    finally:
        await client.aclose()


async def test_the_fake_answers_a_deployment_without_settings_or_an_unknown_one_as_a_fault(
    baseten: FakeBaseten,
) -> None:
    baseten.add_deployment(deployment("dep9new", MODEL, status="DEPLOYING", autoscaling=False))
    client = client_for(baseten)
    try:
        code, body = await client.act(
            f"/v1/models/{MODEL}/deployments/dep9new/autoscaling_settings", {"min_replica": 0}, method="PATCH"
        )
        assert code == 400 and "no autoscaling settings" in body["error"]
        code, _ = await client.act(
            f"/v1/models/{MODEL}/deployments/nosuch/autoscaling_settings", {"min_replica": 0}, method="PATCH"
        )
        assert code == 404
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("code", "body", "accepted", "words"),
    [
        (200, {"status": "ACCEPTED", "message": "Updated"}, True, "Baseten accepted it: Updated"),
        (200, {"status": "QUEUED", "message": "Soon"}, True, "Baseten queued it: Soon"),
        (200, {"status": "UNCHANGED", "message": "Same"}, True, "Baseten changed nothing, it was already so: Same"),
        (200, {}, True, "Baseten accepted it"),
        (403, {"error": "Forbidden"}, False, "Baseten refused it (403: Forbidden)"),
        (429, {"error": "Slow down", "retry_after": 7}, False, "try again in 7s"),
        (None, None, False, "Baseten did not answer"),
    ],
)
def test_basetens_answer_in_words_as_given(code: int | None, body: Any, accepted: bool, words: str) -> None:
    out = outcome(VERB.read, code, body)
    assert out.accepted is accepted and words in out.words


# -- where the button is offered -------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "min_replica", "offered"),
    [
        ("ACTIVE", 1, True),
        ("ACTIVE", 3, True),
        ("UNHEALTHY", 1, True),
        ("WAKING_UP", 2, True),
        ("ACTIVE", 0, False),  # scales to zero already
        ("ACTIVE", None, False),  # Baseten does not say: never offered on a guess
        ("INACTIVE", 1, False),
        ("BUILD_FAILED", 1, False),
        ("DEPLOYING", 1, False),
    ],
)
def test_the_button_is_offered_only_on_a_running_deployment_kept_up(
    status: str, min_replica: int | None, offered: bool
) -> None:
    assert scales_to_zero(status, min_replica) is offered
    button = buttons.scale_to_zero_button(
        MODEL, PROD, status=status, min_replica=min_replica, model_name="llama-3-8b", deployment_name="v3"
    )
    assert (button is not None) is offered
    on_card = [b["action_id"] for b in buttons.ask_buttons(status, TARGET, production=True, min_replica=min_replica)]
    assert ("act_ask_scale_to_zero" in on_card) is offered
    if button is not None:
        assert button["action_id"] == "act_ask_scale_to_zero" and "confirm" not in button  # it changes nothing
        assert button["text"]["text"] == "Scale to zero…"
        assert decode(button["value"]) == (VERB, Target(MODEL, PROD, "production", "llama-3-8b", "v3"))


def test_the_button_is_a_models_only_and_only_for_ids_the_bot_can_send_back() -> None:
    for model_id, dep_id in (("chain:c1abc", "d1"), ("training:p1abc", "j1"), (MODEL, "a/b"), ("../x", PROD)):
        assert buttons.scale_to_zero_button(model_id, dep_id, status="ACTIVE", min_replica=2) is None
    assert decode(encode(SCALE_TO_ZERO, Target("training:p1abc", "j1"))) is None
    assert not fits(SCALE_TO_ZERO, "INACTIVE", production=False) and fits(SCALE_TO_ZERO, "ACTIVE", production=True)
    # the buttons that were there stay as they were
    assert [b["action_id"] for b in buttons.ask_buttons("ACTIVE", TARGET, production=False)] == ["act_ask_deactivate"]


# -- what the card shows and carries, and the re-check ----------------------------------------


def test_the_card_shows_the_minimum_and_its_button_carries_it() -> None:
    card = buttons.confirmation(VERB, TARGET, SHOWN)
    within_limits(card)
    text = json.dumps(card.blocks, ensure_ascii=False)
    assert "min replicas `2`" in text and "minimum replicas of v3 to 0" in text
    (button,) = [e for b in card.blocks if b["type"] == "actions" for e in b["elements"]]
    assert button["action_id"] == "act_do_scale_to_zero" and button["confirm"]["confirm"]["text"] == "Scale to zero"
    assert json.loads(button["value"])["n"] == 2
    assert read_button(button, buttons.DO) == (VERB, TARGET, SHOWN)
    # the other cards carry no minimum: their values are as before
    assert "n" not in json.loads(encode_card("deactivate", TARGET, Shown(CARD, DRAWN, "ACTIVE", "production")))


@pytest.mark.parametrize("n", ['"2"', "true", "-1", "1000001", "2.5", "null"])
def test_a_minimum_the_bot_did_not_write_makes_no_card(n: str) -> None:
    value = json.loads(encode_card(SCALE_TO_ZERO, TARGET, SHOWN))
    raw = json.dumps(value).replace('"n": 2', f'"n": {n}')
    read = read_button({"action_id": "act_do_scale_to_zero", "value": raw}, buttons.DO)
    assert read is not None and (read[2] is None) is (n != "null")
    if n == "null":  # no minimum at all: a card the re-check refuses (below)
        assert read[2] == Shown(CARD, DRAWN, "ACTIVE", "production")


@pytest.mark.parametrize(
    ("shown", "seen", "kind", "says"),
    [
        (SHOWN, Seen("ACTIVE", "production", min_replica=2), GO, ""),
        (
            SHOWN,
            Seen("ACTIVE", "production", min_replica=0),
            STALE,
            "v3 had min replicas 2 when this card was shown and has 0 now",
        ),
        (
            SHOWN,
            Seen("ACTIVE", "production", min_replica=3),
            STALE,
            "had min replicas 2 when this card was shown and has 3 now",
        ),
        (SHOWN, Seen("ACTIVE", "production", min_replica=None), STALE, "and has unknown now"),
        (
            SHOWN,
            Seen("INACTIVE", "production", min_replica=2),
            STALE,
            "v3 was ACTIVE when this card was shown and is INACTIVE now",
        ),
        (
            Shown(CARD, DRAWN, "ACTIVE", "production"),
            Seen("ACTIVE", "production", min_replica=2),
            STALE,
            "this card does not say what minimum replicas of v3 it showed",
        ),
        (
            Shown(CARD, DRAWN, "ACTIVE", "production", 0),
            Seen("ACTIVE", "production", min_replica=0),
            STALE,
            "v3 has min replicas 0 already",
        ),
    ],
)
def test_a_card_acts_only_on_the_minimum_it_showed(shown: Shown, seen: Seen, kind: str, says: str) -> None:
    verdict = on_read(VERB, TARGET, shown, seen)
    assert verdict.kind == kind and says in verdict.why


def test_other_cards_do_not_go_stale_on_a_changed_minimum() -> None:
    shown = Shown(CARD, DRAWN, "ACTIVE", "production")
    assert on_read(VERBS["deactivate"], TARGET, shown, Seen("ACTIVE", "production", min_replica=5)).kind == GO


def test_the_minimum_is_read_from_the_autoscaling_settings() -> None:
    dep = Deployment.model_validate(deployment(PROD, MODEL, autoscaling=kept_up(2)))
    assert min_replica_of(dep) == 2
    assert min_replica_of(Deployment.model_validate(deployment(OLD, MODEL, autoscaling=False))) is None
