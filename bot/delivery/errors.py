"""What a failed Slack Web API call said, shared by the notifier and promotion delivery."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

BLOCK_ERRORS = frozenset({"invalid_blocks", "invalid_blocks_format"})  # send the text alone instead


def slack_error(exc: SlackApiError) -> str:
    """Slack's `error` field, or "" when the body was not JSON (a proxy's error page)."""
    try:
        return str(exc.response.get("error") or "")
    except Exception:  # noqa: BLE001 - a body that is not JSON has no error field
        return ""
