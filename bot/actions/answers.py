"""Pure: reading Baseten's answer to an action: a 200 body by each verb's reader, a refusal by its
code and message, a missing answer as such, in words a channel can read, and as recorded. No I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.render.text import inline

ACCEPTED = "Baseten accepted it"


@dataclass(frozen=True)
class Outcome:
    """What Baseten answered, in words a channel can read, and as recorded."""

    accepted: bool
    words: str  # plain text, not yet escaped: "Baseten accepted it", "Baseten did not retry it: …"
    status_code: int | None  # None: no answer (timeout, connection lost)
    answer: str = ""  # Baseten's body, shortened, for the record


def read_retry(body: Any) -> tuple[bool, str]:
    if isinstance(body, dict) and body.get("retried") is True:
        return True, ACCEPTED
    reason = body.get("reason") if isinstance(body, dict) else None
    return False, f"Baseten did not retry it: {clean(str(reason)) if reason else 'it gave no reason'}"


def read_success(doing: str) -> Callable[[Any], tuple[bool, str]]:
    def read(body: Any) -> tuple[bool, str]:
        if isinstance(body, dict) and body.get("success", True) is not False:
            return True, ACCEPTED
        return False, f"Baseten answered that it did not {doing} it (`success: false`)"

    return read


def read_cancel(body: Any) -> tuple[bool, str]:
    """CancelPromotionResponseV1: CANCELED at once, or RAMPING_DOWN (traffic goes back step by step)."""
    status = body.get("status") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    said = f": {clean(str(message))}" if message else ""
    if status == "RAMPING_DOWN":
        return True, f"Baseten is ramping it down{said}"
    return True, f"{ACCEPTED}{said}"


def read_autoscaling(body: Any) -> tuple[bool, str]:
    """UpdateAutoscalingSettingsResponseV1: ACCEPTED, QUEUED (it takes effect later) or UNCHANGED (the
    settings already were so), with Baseten's message."""
    status = body.get("status") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    said = f": {clean(str(message))}" if message else ""
    if status == "QUEUED":
        return True, f"Baseten queued it{said}"
    if status == "UNCHANGED":
        return True, f"Baseten changed nothing, it was already so{said}"
    return True, f"{ACCEPTED}{said}"


def read_deployment(body: Any) -> tuple[bool, str]:
    """A promotion answers with the deployment: Baseten took it on (the poller reports what follows)."""
    return True, ACCEPTED


def read_stop(body: Any) -> tuple[bool, str]:
    """StopTrainingJobResponseV1: the job, with the status it has now."""
    job = body.get("training_job") if isinstance(body, dict) else None
    status = job.get("current_status") if isinstance(job, dict) else None
    return True, f"{ACCEPTED}; the job is `{clean(str(status), 60)}`" if status else ACCEPTED


def read_recreate(body: Any) -> tuple[bool, str]:
    """RecreateTrainingJobResponseV1: the new job (the old one stays as it was)."""
    job = body.get("training_job") if isinstance(body, dict) else None
    new = job.get("id") if isinstance(job, dict) else None
    return True, f"{ACCEPTED}; the new job is `{clean(str(new), 64)}`" if new else ACCEPTED


def outcome(read: Callable[[Any], tuple[bool, str]], status_code: int | None, body: Any) -> Outcome:
    """Baseten's answer as given: the 200 body read by the verb's `read`, a refusal with its code and message."""
    recorded = _recorded(body)
    if status_code is None:
        return Outcome(
            False,
            "Baseten did not answer, so the bot cannot tell whether it happened; it did not try again. "
            "Check the deployment's status before trying again",
            None,
            recorded,
        )
    if 200 <= status_code < 300:
        accepted, words = read(body)
        return Outcome(accepted, words, status_code, recorded)
    error = body.get("error") if isinstance(body, dict) else None
    said = f": {clean(str(error))}" if error else ""
    if status_code == 429:
        wait = body.get("retry_after") if isinstance(body, dict) else None
        again = f"; try again in {wait}s" if isinstance(wait, int | float) and not isinstance(wait, bool) else ""
        words = f"Baseten refused it (429, too many of these a minute{said}){again}"
    elif status_code == 403:
        words = f"Baseten refused it (403{said}): the bot's API key may not do this"
    elif status_code == 401:
        words = "Baseten rejected the bot's API key (401)"
    elif status_code == 404:
        words = f"Baseten has no such deployment or environment (404{said})"
    elif status_code >= 500:
        words = f"Baseten failed ({status_code}{said}); the bot did not try again, check the status first"
    else:
        words = f"Baseten refused it ({status_code}{said})"
    return Outcome(False, words, status_code, recorded)


def clean(text: str, limit: int = 200) -> str:
    """Baseten's text in an outcome's words, which are escaped whole and shown as mrkdwn: bot.render.text.inline."""
    return inline(text, limit)


def _recorded(body: Any) -> str:
    try:
        text = json.dumps(body, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(body)
    return text[:2000]
