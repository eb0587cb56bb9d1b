"""The one sanitizer for text from Baseten on its way to Slack, with one rule for each place it lands.

Names, statuses, labels, error messages and log lines are hostile text. Every rule:

- drops ANSI colour codes, control and format characters (bidi overrides and isolates,
  zero-width characters, U+200E/U+200F) and unassigned code points, which could hide or
  reorder what a reader sees;
- puts the text on one line with its whitespace collapsed (a code block keeps its line breaks);
- escapes `&`, `<` and `>`, so `<!channel>` or `<@U123>` pings nobody and `&lt;` reads as typed;
- breaks `@here`, `@channel` and `@everyone` with a zero-width space, in case Slack is ever
  asked to link names;
- cuts to `limit` characters as sent (entities counted whole, never split), with an ellipsis.

The rules, by context:

- `plain`: a message's `text` (notifications, the fallback when blocks are refused) and
  plain_text objects (buttons, dialogs): backticks kept, nothing there makes code of them;
- `mrkdwn`: a value in section or context text, often between backticks: a backtick becomes
  MODIFIER LETTER GRAVE ACCENT, which looks the same and closes no code span;
- `code`: a value inside a ``` block: the same, and line breaks kept (unless `newlines=False`).

Below them, for a sentence the bot writes around Baseten's values and escapes whole (`escape`):
`inline` is such a value when the sentence is shown as mrkdwn (an answer, a note, an outcome's
words), `line` when it is only a message's `text`; `line` is also what the bot stores. `printable`
is the stripping alone, for the terminal. No I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

NAME = 80  # characters of a name (model, deployment, environment) shown
TICK = "\u02cb"  # MODIFIER LETTER GRAVE ACCENT: looks like a backtick, closes no code block
BREAK = "\u200b"  # ZERO WIDTH SPACE after the @: the word reads as typed and notifies nobody
ELLIPSIS = "…"
# SGR colours and other CSI sequences, and OSC ones (terminal hyperlinks): common in logs
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
_MASS = re.compile(r"@(?=(?:here|channel|everyone))", re.IGNORECASE)
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_WORK = 8  # characters read per character kept: a 10 MB line costs no more than a long one


def printable(text: str, *, newlines: bool = False) -> str:
    """The stripping alone: colour codes, control and format characters dropped, every other
    whitespace character a space; line breaks kept as `\\n` when `newlines`."""
    text = _ANSI.sub("", text)
    if newlines:
        return "\n".join(_chars(part) for part in text.splitlines())
    return _chars(text)


def _chars(text: str) -> str:
    # tabs, line breaks and other Cc whitespace count as spaces; every other C* character goes
    return "".join(" " if ch.isspace() else ch for ch in text if ch.isspace() or _visible(ch))


def _visible(ch: str) -> bool:
    return not unicodedata.category(ch).startswith("C")  # Cc, Cf (bidi controls), Cs, Co, Cn


def line(text: str, limit: int = NAME, *, newlines: bool = False) -> str:
    """Cleaned and cut but not escaped: what the bot stores, and a value in a plain sentence escaped whole."""
    return _cut(list(_flat(text, limit, newlines=newlines)), limit)


def inline(text: str, limit: int = NAME) -> str:
    """As `line`, its backticks replaced as mrkdwn's are: a value in a sentence escaped whole and shown
    as mrkdwn, between the bot's backticks or not."""
    return _cut([TICK if ch == "`" else ch for ch in _flat(text, limit, newlines=False)], limit)


def escape(text: str) -> str:
    """A sentence the bot wrote itself (around values from `inline` or `line`): entities and mass
    mentions only; its own backticks stay."""
    return "".join(_pieces(text, ticks=False))


def plain(text: str, limit: int = NAME) -> str:
    """Baseten's text for a message's `text` or a plain_text object."""
    return _cut(_pieces(_flat(text, limit, newlines=False), ticks=False), limit)


def mrkdwn(text: str, limit: int = NAME) -> str:
    """Baseten's text for section or context text, between backticks or not."""
    return _cut(_pieces(_flat(text, limit, newlines=False), ticks=True), limit)


def code(text: str, limit: int, *, newlines: bool = True) -> str:
    """Baseten's text inside a ``` code block, which it cannot close."""
    return _cut(_pieces(_flat(text, limit, newlines=newlines), ticks=True), limit)


def _flat(text: str, limit: int, *, newlines: bool) -> str:
    cap = max(limit, 1) * _WORK
    if len(text) > cap:
        text = text[:cap] + ELLIPSIS  # the cut shows even when what is left fits
    if not newlines:
        return " ".join(printable(text).split())
    kept = [part.rstrip() for part in printable(text, newlines=True).split("\n")]
    return "\n".join(kept).strip("\n")  # indentation stays: it is how a traceback reads


def _pieces(text: str, *, ticks: bool) -> list[str]:
    text = _MASS.sub("@" + BREAK, text)
    return [_ENTITIES.get(ch, TICK if ticks and ch == "`" else ch) for ch in text]


def _cut(pieces: Sequence[str], limit: int) -> str:
    """The pieces (characters, entities) joined, at most `limit` characters with the ellipsis."""
    limit = max(limit, 1)
    if sum(map(len, pieces)) <= limit:
        return "".join(pieces)
    out: list[str] = []
    size = 0
    for piece in pieces:
        if size + len(piece) > limit - len(ELLIPSIS):
            break
        out.append(piece)
        size += len(piece)
    return "".join(out) + ELLIPSIS
