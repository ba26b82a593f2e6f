"""What a platform adapter implements so the scheduler can post daily tips: a small neutral protocol.

The scheduler never imports a platform SDK; each adapter hands it a :class:`Poster`. The console's
prints (``adapters/console.py``); Slack's uses ``chat.postMessage`` (``adapters/tips_slack.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from bot.reply import Reply

_MENTION = re.compile(r"^<#(?P<id>[A-Za-z0-9]+)(?:\|(?P<name>[^>]*))?>$")


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    name: str
    """For people: ``general`` (shown as ``#general``); the id when the name is unknown."""


def parse_channel(text: str) -> Channel:
    """A channel as typed, without asking the platform: ``<#C123|general>``, ``<#123>``, ``#general``, ``C123``."""
    text = text.strip()
    found = _MENTION.fullmatch(text)
    if found:
        return Channel(found["id"], found["name"] or found["id"])
    bare = text.lstrip("#")
    return Channel(bare, bare)


def looks_like_channel(text: str) -> bool:
    text = text.strip()
    return bool(
        _MENTION.fullmatch(text)
        or re.fullmatch(r"#[\w-]{1,80}", text)
        or re.fullmatch(r"[CGD][A-Z0-9]{6,}", text)  # a Slack channel id
        or re.fullmatch(r"\d{15,21}", text)  # a Discord snowflake
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class Post:
    """One scheduled message.

    ``key`` is the same on every attempt of the same day's post (25 characters of ``[a-z0-9]``):
    a platform that can deduplicate uses it (Discord: ``nonce`` with ``enforce_nonce``; Slack: message
    metadata, looked up by :meth:`Poster.find`). ``due_at``: when it was due (Unix seconds), so a
    lookup knows how far back to search.
    """

    tenant: str
    channel: str
    reply: Reply
    key: str
    due_at: int


class Poster(Protocol):
    async def check_channel(self, tenant: str, channel: str) -> Channel:
        """The channel ``channel`` names (an id, a mention such as ``<#C123|general>``, or ``#name``)
        if the bot can post there; otherwise raise :class:`~bot.errors.CommandError` with a reason
        an admin can act on ("invite me with /invite @careerbot")."""
        ...

    async def default_timezone(self, tenant: str, user: str) -> str | None:
        """The workspace's (or this admin's) IANA time zone, if the platform knows it."""
        ...

    async def post(self, post: Post) -> str:
        """Send it and return the platform's message id; raise :class:`~bot.errors.PostError`.
        Rate limits are the poster's job: wait for them (429 + Retry-After), do not fail."""
        ...

    async def find(self, post: Post) -> str | None:
        """After a crash: the message id if an earlier attempt of ``post`` did reach the channel,
        None if it did not or the platform cannot tell (the post is then sent again)."""
        ...
