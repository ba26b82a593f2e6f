"""Make text inert before it reaches a channel: no pings, no control characters, bounded length."""

from __future__ import annotations

import re
import unicodedata

ZWSP = "\u200b"

# Broadcast words and the tokens Slack and Discord turn into pings or channel/role references.
_MENTION = re.compile(
    r"@(?=everyone|here|channel)"  # @everyone @here @channel
    r"|<(?=[!@#])",  # <!channel> <!here> <!subteam^..> <@U123> <@&123> <@!123> <#C123>
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
ELLIPSIS = "…"


def clip(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    return text[: limit - 1].rstrip() + ELLIPSIS


def inert(text: str, limit: int = 2000) -> str:
    """Return ``text`` with every mention token defused, control characters removed, and at most
    ``limit`` characters long. Idempotent: ``inert(inert(x)) == inert(x)``.

    NFKC folds look-alikes (a full-width ＠ becomes @) so they cannot slip past the check.
    A zero-width space after ``@`` or ``<`` keeps the text readable but stops the platform parsing it.
    """
    # NFKC would turn the ellipsis that marks a cut into "...", so a second pass would cut again.
    text = ELLIPSIS.join(unicodedata.normalize("NFKC", part) for part in text.split(ELLIPSIS))
    text = _CONTROL.sub("", text)
    text = _MENTION.sub(lambda m: m.group(0) + ZWSP, text)
    return clip(text, limit)


def one_line(text: str, limit: int = 200) -> str:
    """User text echoed inside a sentence: whitespace collapsed, inert, short."""
    return inert(" ".join(text.split()), limit)
