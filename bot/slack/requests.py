"""The gate in front of Bolt for `POST /slack/events`: signature first, then the shape.

Bolt parses a body before its own middleware checks the signature, and a body it cannot
parse raised inside the adapter: a 500 and a 60-line traceback for anyone who could reach
the URL (issue 22). Here an unsigned or wrongly signed request is refused (401) whatever
its body, and a signed one that is not what Slack sends (a payload that is not a JSON
object, block actions without an `action_id`, an event that is not an object, no
`response_url` where the bot answers through it) is refused (400), each with one log line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier


class Gate:
    def __init__(self, signing_secret: str) -> None:
        self._verifier = SignatureVerifier(signing_secret)

    def signed(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """Slack's v0 signature over this body, within Slack's five minutes."""
        timestamp = headers.get("x-slack-request-timestamp")
        signature = headers.get("x-slack-signature")
        if not timestamp or not signature:
            return False
        try:
            return self._verifier.is_valid(body.decode("utf-8"), timestamp, signature)
        except (UnicodeDecodeError, ValueError):
            return False


def malformed(body: bytes, content_type: str) -> str | None:
    """Why a signed body is not one Slack sends, or None. Checked only as far as the bot relies on it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    if content_type.split(";")[0].strip().lower() == "application/json":
        return _event(_json(text))
    form = {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
    if "payload" in form:
        return _interaction(_json(form["payload"]))
    if "command" in form:
        return None if form.get("response_url") else "a command without a response_url"
    if "ssl_check" in form:  # Slack checking the certificate of a slash command's URL
        return None
    return "neither a command, an interaction nor an event"


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _event(body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        return "an Events API body that is not a JSON object with a type"
    if body["type"] == "event_callback" and not isinstance(body.get("event"), dict):
        return "an event that is not a JSON object"
    return None


def _interaction(payload: Any) -> str | None:
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        return "an interaction payload that is not a JSON object with a type"
    if payload["type"] != "block_actions":
        return None
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions:
        return "block actions without actions"
    if not all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions):
        return "an action without an action_id"
    if not isinstance(payload.get("response_url"), str) or not payload["response_url"]:
        return "block actions without a response_url"
    if not isinstance(payload.get("user"), dict):
        return "block actions without a user"
    return None
