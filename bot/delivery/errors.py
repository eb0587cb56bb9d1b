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


def http_status(exc: SlackApiError) -> int:
    """HTTP status of a failed call: a SlackResponse has `status_code`; when Slack's body is not JSON
    (a 5xx page from a proxy), the SDK raises with the raw aiohttp response, which has `status`."""
    response = exc.response
    value = getattr(response, "status_code", None) or getattr(response, "status", None) or 0
    return int(value)


def retry_after_of(exc: SlackApiError) -> float | None:
    headers = getattr(exc.response, "headers", None) or {}
    for key, value in dict(headers).items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(1.0, float(raw))
            except (TypeError, ValueError):
                return None
    return None
