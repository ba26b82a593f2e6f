"""What a platform adapter implements so the scheduler can post daily tips: a small neutral protocol.

The scheduler never imports a platform SDK; each adapter hands it a :class:`Poster`. The console's
prints (``adapters/console.py``); Slack's uses ``chat.postMessage`` (``adapters/tips_slack.py``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Protocol

from bot import messages
from bot.reply import Reply
from bot.safety import one_line

_MENTION = re.compile(r"^<#(?P<id>[A-Za-z0-9]+)(?:\|(?P<name>[^>]*))?>$")
_SLACK_ID = re.compile(r"[CGD][A-Z0-9]{6,20}")
_SNOWFLAKE = re.compile(r"\d{15,21}")

CHANNEL_ID_MAX = 64
"""The longest channel id careerbot accepts (and stores: ``tip_subscriptions.channel``)."""
CHANNEL_NAME_MAX = {"slack": 80, "discord": 100}
"""The longest channel name each platform allows; others (the console) get the longest of them."""
PLATFORM_LABEL = {"slack": "Slack", "discord": "Discord"}


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
    """True for what can only be meant as a channel: a mention, ``#name``, a Slack id or a Discord
    snowflake (used to place positional words; :func:`channel_problem` says whether it is valid)."""
    text = text.strip()
    return bool(
        _MENTION.fullmatch(text)
        or re.fullmatch(r"#[\w-]{1,100}", text)
        or _SLACK_ID.fullmatch(text)
        or _SNOWFLAKE.fullmatch(text)
    )


def is_channel_word(word: str) -> bool:
    """A word typed as a channel reference (``#...`` or ``<#...``): it is a channel or an error,
    never a topic or anything else."""
    return word.startswith(("#", "<#"))


def channel_problem(text: str, platform: str = "") -> str | None:
    """Why ``text`` cannot name a channel on ``platform``, in words for the admin who typed it; None
    when it can. Accepted: a mention (``<#C123|general>``, ``<#123456>``), ``#name`` or a bare name,
    a Slack channel id or a Discord snowflake. A name is letters, digits, hyphens and underscores
    (any script, either case: the platform matches it), at most 80 characters on Slack and 100 on
    Discord; on Discord symbols such as emoji too. Whether the channel exists and the bot may post
    there is the platform's answer (:meth:`Poster.check_channel`), asked only after this."""
    raw = text.strip()
    shown = one_line(raw, 40)
    if raw.startswith("<#") or (raw.startswith("<") and raw.endswith(">")):
        found = _MENTION.fullmatch(raw)
        if found is None:
            return messages.BAD_CHANNEL_MENTION.format(value=shown)
        if len(found["id"]) > CHANNEL_ID_MAX:
            return messages.CHANNEL_TOO_LONG.format(value=shown, what="id", limit=CHANNEL_ID_MAX, where="")
        name = found["name"]
        return _name_problem(name, raw, platform) if name else None
    if _SLACK_ID.fullmatch(raw) or _SNOWFLAKE.fullmatch(raw):
        return None
    return _name_problem(raw.removeprefix("#"), raw, platform)


def _name_problem(name: str, raw: str, platform: str) -> str | None:
    shown = one_line(raw, 40)
    if not name:
        return messages.EMPTY_CHANNEL.format(value=shown)
    limit = CHANNEL_NAME_MAX.get(platform, max(CHANNEL_NAME_MAX.values()))
    if len(name) > limit:
        where = f" on {PLATFORM_LABEL[platform]}" if platform in PLATFORM_LABEL else ""
        return messages.CHANNEL_TOO_LONG.format(value=shown, what="name", limit=limit, where=where)
    bad = [ch for ch in dict.fromkeys(name) if not _name_char(ch, platform)]
    if bad:
        chars = ", ".join(f"“{ch}”" if ch.isprintable() and not ch.isspace() else "a space" for ch in bad[:3])
        return messages.BAD_CHANNEL_NAME.format(value=shown, chars=one_line(chars, 40))
    return None


def _name_char(ch: str, platform: str) -> bool:
    if ch.isalnum() or ch in "-_":
        return True
    return platform != "slack" and unicodedata.category(ch) == "So"  # Discord names may carry emoji


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
    audience: tuple[str, ...] = ()
    """When set, the post is private to these people (platform user ids): a group conversation of
    them (Slack: a group DM; Discord: a private thread under ``channel``), never ``channel`` itself.
    A poster that cannot reach people privately raises a permanent :class:`~bot.errors.PostError`."""


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
