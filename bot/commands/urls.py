"""A Baseten dashboard link pasted as a target: `<https://app.baseten.co/models/M/logs/D|label>`. Pure."""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.commands.typed import WHOLE_MODEL, TargetWord, UsageError
from bot.domain.ids import is_plain_id


def looks_like_url(word: str) -> bool:
    bare = word.strip("<>")
    return "://" in bare or bare.startswith("app.baseten.co")


def parse_dashboard_url(word: str) -> tuple[str, TargetWord]:
    """`<https://app.baseten.co/models/M/logs/D|label>` -> ("M", "D")."""
    bare = word
    if bare.startswith("<") and bare.endswith(">"):
        bare = bare[1:-1].split("|", 1)[0]
    if not bare.startswith(("http://", "https://")):
        bare = "https://" + bare
    bad = UsageError(
        "That is not a Baseten dashboard link. Paste one like `https://app.baseten.co/models/MODEL/logs/DEPLOYMENT`."
    )
    try:
        parts = urlsplit(bare)
    except ValueError:
        raise bad from None
    if parts.scheme != "https" or (parts.hostname or "") != "app.baseten.co" or parts.port:
        raise bad
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2 or segments[0] != "models":
        raise bad
    model = segments[1]
    deployment: str = WHOLE_MODEL
    if len(segments) >= 4 and segments[2] in ("logs", "deployments", "metrics"):
        deployment = segments[3]
    if not is_plain_id(model) or (deployment != WHOLE_MODEL and not is_plain_id(deployment)):
        raise bad
    return model, deployment
