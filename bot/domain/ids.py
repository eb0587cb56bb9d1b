"""What counts as a plain Baseten id or name: the only text that may reach an API path."""

from __future__ import annotations

import re

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_plain_id(text: str) -> bool:
    """True for letters, digits, `-` and `_` only, 1 to 64 characters."""
    return _ID.fullmatch(text) is not None


USER_ID = re.compile(r"[UW][A-Z0-9]{1,30}")
