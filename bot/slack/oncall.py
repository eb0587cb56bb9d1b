"""The Bolt listener for Acknowledge (issue 26; bot.oncall.acks): acknowledged at once, every click
answered, no stack trace in Slack."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.oncall.acks import Acknowledger
from bot.render.oncall import ACK_ACTION, alarm_of

log = logging.getLogger(__name__)
OOPS = "Something went wrong on the bot's side; it has been logged. The failure may not be acknowledged."


def register_ack(app: AsyncApp, acks: Acknowledger) -> None:
    @app.action(ACK_ACTION)
    async def acknowledge(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        try:
            channel = (body.get("channel") or {}).get("id")
            answer = await acks.click(user, alarm_of(action.get("value")), channel=str(channel) if channel else None)
        except Exception:
            log.exception("acknowledging a failure failed")
            answer = OOPS
        if answer is None:
            return
        try:
            await respond(response_type="ephemeral", replace_original=False, text=answer)
        except Exception:
            log.exception("answering through response_url failed")
