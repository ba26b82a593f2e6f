"""Mentoring pools on Discord: a :class:`~bot.mentoring.pool.PoolSource` without privileged intents.

Listing a server's members needs the privileged *Server Members* intent; careerbot does not ask for
it. It needs to know only about the people who joined a program, so it looks each of them up by id:
``GET /guilds/{guild}/members/{user}`` (``Guild.fetch_member``), which needs no intent, one request
per member and round, paced like posts and with discord.py waiting out 429s. Then:

- 404 *Unknown Member* (10007): they left the server, absent ``left``; 404 *Unknown User* (10013):
  the account is gone, ``deactivated``;
- a bot account: ``bot``;
- a member who can no longer see the program channel (*View Channel*, computed from the roles the
  look-up returns and the channel's overwrites in the ``guilds`` intent's cache): ``left``;
- everyone else is present. Discord tells bots no time zone: none is given.

Any other answer (5xx, 403, timeouts, not connected, the server not in the cache yet) raises, so the
pass changes nothing for that program and tries again later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence

import discord

from adapters.discord_bot.posting import Pacer
from bot.mentoring.pool import BOT, DEACTIVATED, LEFT, Presence

UNKNOWN_MEMBER = 10007
UNKNOWN_USER = 10013


class DiscordPoolError(Exception):
    """Discord could not be asked (not connected, the server unknown)."""


class DiscordPoolSource:
    """Looks members up with whatever client ``client()`` returns (the platform's current one)."""

    def __init__(
        self, client: Callable[[], discord.Client | None], *, per_second: float = 10.0, connect_timeout: float = 30.0
    ) -> None:
        self.client = client
        self.pacer = Pacer(per_second)
        self.connect_timeout = connect_timeout

    async def _guild(self, tenant: str) -> discord.Guild:
        if not tenant.isdigit():
            raise DiscordPoolError(f"not a Discord server: {tenant}")
        deadline = time.monotonic() + self.connect_timeout
        while True:
            client = self.client()
            ready = client is not None and not client.is_closed() and client.user is not None
            guild = client.get_guild(int(tenant)) if client is not None and ready else None
            if guild is not None and not guild.unavailable:
                return guild
            if time.monotonic() >= deadline:
                raise DiscordPoolError("not connected to Discord, or the server is not available")
            await asyncio.sleep(0.2)

    async def presence(self, tenant: str, channel: str, users: Sequence[str]) -> Mapping[str, Presence]:
        guild = await self._guild(tenant)
        where = guild.get_channel(int(channel)) if channel.isdigit() else None
        out: dict[str, Presence] = {}
        for user in dict.fromkeys(users):
            if not (user.isascii() and user.isdigit()):
                continue  # not a Discord user id: nothing to say about it
            await self.pacer.wait()
            try:
                member = await guild.fetch_member(int(user))
            except discord.NotFound as exc:
                if exc.code == UNKNOWN_MEMBER:
                    out[user] = Presence.gone(LEFT)
                    continue
                if exc.code == UNKNOWN_USER:
                    out[user] = Presence.gone(DEACTIVATED)
                    continue
                raise
            if member.bot:
                out[user] = Presence.gone(BOT)
            elif where is not None and not where.permissions_for(member).view_channel:
                out[user] = Presence.gone(LEFT)
            else:
                out[user] = Presence.here()
        return out
