"""Mentoring pools on Slack: a :class:`~bot.mentoring.pool.PoolSource` over the Web API.

Before a round, :func:`bot.mentoring.pool.refresh_pools` asks which of a program's members are still
there. This answers with two methods:

- ``conversations.members`` of the program channel (paginated with ``cursor``, 1,000 a page; scopes
  ``channels:read`` for public channels, ``groups:read`` for private ones): a member no longer in it
  is absent, ``left``;
- ``users.info`` (scope ``users:read``) for each member still in the channel, never for anyone else
  in it: ``deleted`` (deactivated), ``is_bot``, ``is_restricted`` / ``is_ultra_restricted`` (multi-
  and single-channel guests) are absent with that reason; the others are present, with their ``tz``.
  Answers are kept for :data:`USER_TTL` seconds, so a workspace with several programs asks once per
  person per pass. ``user_not_found`` reads as deactivated.

Both go through the tips poster's clients (one per workspace, its token), whose retry handlers wait
out 429s for their ``Retry-After`` and retry dropped connections. Any other error raises, so the pass
changes nothing for that program and tries again later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.mentoring.pool import BOT, DEACTIVATED, GUEST, LEFT, Presence

PAGE = 1000
"""Members per ``conversations.members`` page (Slack allows up to 1,000)."""
PAGES_MAX = 1000
"""A channel of more than a million members is not read to its end."""
USER_TTL = 600.0
"""Seconds a ``users.info`` answer is reused."""
USERS_MAX = 50_000
"""Answers kept at most; all are forgotten beyond this."""
CONCURRENCY = 4
"""``users.info`` calls in flight at once (Tier 4: 100+ a minute; 429s are waited out)."""


class SlackPoolError(Exception):
    """Slack did not answer a pool check (its error code, or the exception's type)."""


class SlackPoolSource:
    """``client(team)`` gives that workspace's Web API client (the tips poster's :meth:`client`)."""

    def __init__(self, client: Callable[[str], AsyncWebClient], *, ttl: float = USER_TTL, page: int = PAGE) -> None:
        self.client = client
        self.ttl = ttl
        self.page = page
        self.users: dict[tuple[str, str], tuple[float, Presence]] = {}

    async def presence(self, tenant: str, channel: str, users: Sequence[str]) -> Mapping[str, Presence]:
        client = self.client(tenant)
        inside = await self.channel_members(client, channel)
        out: dict[str, Presence] = {user: Presence.gone(LEFT) for user in users if user not in inside}
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(user: str) -> None:
            async with limit:
                out[user] = await self.user(client, tenant, user)

        asked = [one(user) for user in dict.fromkeys(users) if user in inside]
        failed = [r for r in await asyncio.gather(*asked, return_exceptions=True) if isinstance(r, BaseException)]
        if failed:  # all asked and settled first, so nothing is left running
            raise failed[0]
        return out

    async def channel_members(self, client: AsyncWebClient, channel: str) -> set[str]:
        found: set[str] = set()
        cursor = ""
        for _ in range(PAGES_MAX):
            page = await _call(client.conversations_members, channel=channel, limit=self.page, cursor=cursor or None)
            found.update(str(u) for u in page.get("members") or ())
            cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                break
        return found

    async def user(self, client: AsyncWebClient, tenant: str, user: str) -> Presence:
        now = time.monotonic()
        known = self.users.get((tenant, user))
        if known is not None and known[0] > now:
            return known[1]
        try:
            info = (await _call(client.users_info, user=user)).get("user") or {}
        except SlackPoolError as exc:
            if str(exc) != "user_not_found":
                raise
            info = {"deleted": True}
        if info.get("deleted"):
            seen = Presence.gone(DEACTIVATED)
        elif info.get("is_bot"):
            seen = Presence.gone(BOT)
        elif info.get("is_restricted") or info.get("is_ultra_restricted"):
            seen = Presence.gone(GUEST)
        else:
            tz = info.get("tz")
            seen = Presence.here(tz if isinstance(tz, str) else None)
        if len(self.users) >= USERS_MAX:
            self.users = {}
        self.users[(tenant, user)] = (now + self.ttl, seen)
        return seen


async def _call(method: Callable[..., Any], **params: Any) -> dict[str, Any]:
    """One Web API call: its response data, or :class:`SlackPoolError` with Slack's error code."""
    try:
        response = await method(**{k: v for k, v in params.items() if v is not None})
    except SlackApiError as exc:
        raise SlackPoolError(str(exc.response.get("error") or exc.response.status_code)) from None
    data = response.data
    return dict(data) if isinstance(data, dict) else {}
