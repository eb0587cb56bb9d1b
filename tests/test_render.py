"""Block Kit rendering: golden output, escaping, and Slack's size limits."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.baseten.models import Deployment, Model
from bot.commands.parse import parse
from bot.commands.typed import (
    Act,
    Cost,
    Digest,
    Freeze,
    Help,
    ListFreezes,
    ListSubs,
    Mute,
    Resume,
    Status,
    Subscribe,
    Unfreeze,
    Unmute,
    Unsubscribe,
)
from bot.domain.changes import GONE, NEW, PROMOTED, STATUS, Change
from bot.domain.status import KNOWN, Family, family
from bot.render import cards, notices, text
from bot.render.help import EXAMPLES, USAGE, help_message
from tests.fakes import deployment, model

GOLDEN = Path(__file__).parent / "golden"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def golden(name: str, message: cards.Message) -> None:
    path = GOLDEN / f"{name}.json"
    actual = {"text": message.text, "blocks": message.blocks}
    if os.environ.get("UPDATE_GOLDEN") or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
        if not os.environ.get("UPDATE_GOLDEN"):
            pytest.fail(f"golden file {path.name} was missing and has been written; check it in")
    assert actual == json.loads(path.read_text())


def dep(**kw: Any) -> Deployment:
    return Deployment.model_validate(deployment(**kw))


def within_limits(message: cards.Message) -> None:
    assert len(message.blocks) <= cards.MAX_BLOCKS
    assert len(message.text) <= 40_000
    for block in message.blocks:
        if block["type"] == "section":
            if "text" in block:
                assert len(block["text"]["text"]) <= 3000
            for f in block.get("fields", []):
                assert len(f["text"]) <= 2000
            assert len(block.get("fields", [])) <= 10
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
        if block["type"] == "actions":
            assert len(block["elements"]) <= 25


def test_card_golden() -> None:
    card = cards.deployment_card(
        dep(dep_id="dep1prod", model_id="mdl1abcd", name="v3", is_production=True, replicas=2),
        model_name="llama-3-8b",
        now=NOW,
        shareable=True,
    )
    golden("card", card)
    within_limits(card)


def test_overview_golden() -> None:
    deps = [
        dep(dep_id="dep3old", model_id="mdl1abcd", name="v2", status="INACTIVE", replicas=0),
        dep(dep_id="dep2dev", model_id="mdl1abcd", name="dev", status="BUILDING", is_development=True, replicas=0),
        dep(dep_id="dep1prod", model_id="mdl1abcd", name="v3", is_production=True, replicas=2),
    ]
    m = Model.model_validate(model("mdl1abcd", "llama-3-8b", [d.model_dump(mode="json") for d in deps]))
    overview = cards.model_overview(m, deps, now=NOW, shareable=True)
    golden("overview", overview)
    # production first, then development
    body = overview.blocks[1]["text"]["text"]
    assert body.index("dep1prod") < body.index("dep2dev") < body.index("dep3old")


def test_error_golden() -> None:
    golden("error", cards.error("Model `x` has no deployment `y`.", usage="/baseten status MODEL"))


def test_notice_golden_and_plain_text() -> None:
    change = Change(
        STATUS,
        "mdl1abcd",
        "dep1prod",
        "v3",
        "ACTIVE",
        "UNHEALTHY",
        NOW,
        NOW - timedelta(hours=3, minutes=2),
        {"old_replicas": 2, "new_replicas": 0, "is_production": True, "environment": "production"},
    )
    message = notices.notice(change, model_name="llama-3-8b", now=NOW)
    golden("notice_failure", message)
    assert message.text == "llama-3-8b / v3: ACTIVE → UNHEALTHY"
    within_limits(message)


@pytest.mark.parametrize(
    ("kind", "old", "new", "expect"),
    [
        (STATUS, "UNHEALTHY", "ACTIVE", ":white_check_mark: *Recovered*"),
        (STATUS, "ACTIVE", "FAILED", ":rotating_light: *Failure*"),
        (NEW, None, "BUILDING", ":sparkles: *New deployment*"),
        (GONE, "ACTIVE", "DELETED", ":wastebasket: *Deleted*"),
        (PROMOTED, None, "PRODUCTION", ":rocket: *Promoted*"),
    ],
)
def test_failures_and_recoveries_look_different(kind: str, old: str | None, new: str, expect: str) -> None:
    change = Change(kind, "m", "d", "dname", old, new, NOW, None, {"previous_deployment_id": "d0"})
    message = notices.notice(change, model_name="mname", now=NOW)
    assert message.blocks[0]["text"]["text"].startswith(expect)
    assert "mname" in message.text and "dname" in message.text


def test_every_status_family_has_its_own_emoji() -> None:
    samples = {
        Family.HEALTHY: "ACTIVE",
        Family.IN_PROGRESS: "DEPLOYING",
        Family.SCALED_TO_ZERO: "SCALED_TO_ZERO",
        Family.FAILED: "UNHEALTHY",
        Family.INACTIVE: "INACTIVE",
        Family.UNKNOWN: "SOMETHING_NEW",
    }
    emojis = {cards.emoji(status) for status in samples.values()}
    assert len(emojis) == len(samples)
    assert all(family(s) == f for f, s in samples.items())


def test_unknown_status_is_shown_as_it_is() -> None:
    card = cards.deployment_card(dep(dep_id="d1", model_id="m1", status="QUANTUM_FOAM"), model_name="m", now=NOW)
    assert "QUANTUM_FOAM" in json.dumps(card.blocks)
    assert "QUANTUM_FOAM" in card.text


def test_names_from_baseten_are_escaped() -> None:
    evil = dep(dep_id="d1", model_id="m1", name="<!channel> & <@U123>")
    card = cards.deployment_card(evil, model_name="<!here>", now=NOW)
    dumped = json.dumps({"t": card.text, "b": card.blocks})
    assert "<!channel>" not in dumped and "<!here>" not in dumped and "<@U123>" not in dumped
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in dumped
    change = Change(STATUS, "m1", "d1", "<!channel>", "ACTIVE", "<!everyone>", NOW)
    notice = notices.notice(change, model_name="<!here>", now=NOW)
    dumped = json.dumps({"t": notice.text, "b": notice.blocks})
    assert "<!channel>" not in dumped and "<!everyone>" not in dumped and "<!here>" not in dumped


def test_error_escapes_user_text() -> None:
    message = cards.error("no model `<!channel>`")
    assert "<!channel>" not in json.dumps(message.blocks) + message.text


def test_overview_of_200_deployments_stays_within_limits() -> None:
    deps = [
        dep(
            dep_id=f"d{i:04d}",
            model_id="m1",
            name=f"deployment-with-a-long-name-{i:04d}-" + "x" * 40,
            status=["ACTIVE", "SCALED_TO_ZERO", "UNHEALTHY", "INACTIVE"][i % 4],
            is_production=i == 150,
        )
        for i in range(200)
    ]
    m = Model.model_validate(model("m1", "big", [d.model_dump(mode="json") for d in deps]))
    overview = cards.model_overview(m, deps, now=NOW, shareable=True)
    within_limits(overview)
    text = json.dumps(overview.blocks)
    assert "d0150" in text.split("d0000")[0]  # production first
    assert overview.blocks[-1]["type"] == "actions"


def test_overview_of_2000_deployments_truncates_with_a_note() -> None:
    deps = [dep(dep_id=f"d{i:05d}", model_id="m1", name="n" * 80) for i in range(2000)]
    m = Model.model_validate(model("m1", "huge", [d.model_dump(mode="json") for d in deps[:1]]))
    overview = cards.model_overview(m, deps, now=NOW)
    within_limits(overview)
    assert "more" in json.dumps(overview.blocks)


def test_card_with_missing_fields_still_renders() -> None:
    bare = Deployment.model_validate({"id": "d1", "status": "ACTIVE"})
    card = cards.deployment_card(bare, model_name="m", now=NOW)
    within_limits(card)
    assert "unknown" in json.dumps(card.blocks)


def test_age_and_duration() -> None:
    assert cards.age(NOW - timedelta(days=3, hours=4), NOW) == "3d 4h ago"
    assert cards.age(None, NOW) == "unknown"
    assert cards.duration(timedelta(seconds=42)) == "42s"
    assert cards.duration(timedelta(minutes=5)) == "5m"
    assert cards.duration(timedelta(hours=2, minutes=1)) == "2h 1m"


ROOT = Path(__file__).parent.parent
EXAMPLE_OF = {
    "status": Status,
    "subscribe": Subscribe,
    "unsubscribe": Unsubscribe,
    "mute": Mute,
    "unmute": Unmute,
    "resume": Resume,
    "retry": Act,
    "activate": Act,
    "deactivate": Act,
    "promote": Act,
    "rollback": Act,
    "stop": Act,
    "recreate": Act,
    "cost": Cost,
    "digest": Digest,
    "freeze": Freeze,
    "unfreeze": Unfreeze,
    "freezes": ListFreezes,
    "list": ListSubs,
    "help": Help,
}


def test_every_worked_example_is_the_command_it_illustrates() -> None:
    assert set(EXAMPLES) == set(USAGE) == set(EXAMPLE_OF)
    for verb, example in EXAMPLES.items():
        assert isinstance(parse(example.removeprefix("/baseten "), statuses=KNOWN), EXAMPLE_OF[verb]), example
    assert parse(EXAMPLES["subscribe"].removeprefix("/baseten "), statuses=KNOWN).stuck_after  # type: ignore[union-attr]


def test_help_shows_every_command_with_an_example_and_stuck_within_slacks_limits() -> None:
    message = help_message()
    within_limits(message)
    shown = "\n".join(b["text"]["text"] for b in message.blocks)
    assert "…" not in shown  # nothing cut at a section's limit
    for verb in USAGE:
        if verb != "help":
            assert text.escape(USAGE[verb]) in shown, verb
            assert text.escape(EXAMPLES[verb]) in shown, verb
    assert "[--stuck DURATION]" in shown and "`--stuck DURATION`:" in shown and "--stuck 45m" in shown


def test_readme_and_manifest_show_stuck_and_every_example() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = readme[readme.index("## Commands") : readme.index("## Configuration")]
    for example in EXAMPLES.values():
        assert example in commands, example
    assert USAGE["subscribe"] in commands and "`--stuck DURATION`" in commands
    manifest = yaml.safe_load((ROOT / "manifest.yaml").read_text())
    hint = manifest["features"]["slash_commands"][0]["usage_hint"]
    assert "--stuck DURATION" in hint and len(hint) <= 1000  # Slack's limit (tests/data/manifest.schema)
