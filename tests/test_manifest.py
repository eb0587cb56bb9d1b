"""manifest.yaml is valid against Slack's app-manifest schema and matches what the bot handles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator

ROOT = Path(__file__).parent.parent
SCHEMA = Path(__file__).parent / "data" / "manifest.schema.1.0.0.json"


def manifest() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "manifest.yaml").read_text()))


def test_manifest_is_valid_against_slacks_schema() -> None:
    errors = sorted(Draft7Validator(json.loads(SCHEMA.read_text())).iter_errors(manifest()), key=str)
    assert not errors, [e.message for e in errors]


def test_the_schema_rejects_a_broken_manifest() -> None:
    broken = manifest()
    broken["features"]["slash_commands"][0]["command"] = "baseten"  # no leading slash
    broken["display_information"]["name"] = ""
    errors = list(Draft7Validator(json.loads(SCHEMA.read_text())).iter_errors(broken))
    assert len(errors) >= 2


def test_manifest_declares_what_the_bot_uses() -> None:
    m = manifest()
    (command,) = m["features"]["slash_commands"]
    assert command["command"] == "/baseten" and "status" in command["usage_hint"]
    assert command["url"].endswith("/slack/events")
    scopes = set(m["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "chat:write.public"} <= scopes
    assert {"channels:read", "groups:read"} <= scopes  # conversations.info before subscribing
    settings = m["settings"]
    assert {"member_joined_channel", "channel_unarchive"} <= set(settings["event_subscriptions"]["bot_events"])
    assert settings["event_subscriptions"]["request_url"].endswith("/slack/events")
    assert settings["interactivity"]["is_enabled"] is True
    assert "socket_mode_enabled" in settings
