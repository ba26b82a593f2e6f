"""Daily tips on Discord: a :class:`~bot.schedule.posting.Poster` over the running discord.py client.

The Discord platform object exposes one as ``poster``, so :func:`adapters.runner.run_tips` starts the
scheduler beside it and ``/tips`` checks channels through it. It always uses the platform's current
client (a new one after each reconnect), and waits a little for it to be ready before a post.

Channels: a tenant is a guild id. A channel is given as ``<#123>`` (what Discord inserts when you
type ``#`` and pick one), a bare id, or a name (``#general``); it must be a text (or announcement)
channel of that guild in which the bot has View Channel, Send Messages and Embed Links.

Idempotency: every post carries ``nonce=post.key`` with ``enforce_nonce`` (discord.py sets it with
any nonce), so Discord answers a resend within its nonce window ("the past few minutes") with the
message it already created instead of a second one. Discord cannot look a message up by nonce, so
:meth:`DiscordTipPoster.find` returns None: a retake after a crash between the send and the store's
"sent" mark resends, which Discord deduplicates when the retake comes within that window (the claim
lease is 60 s); only a retake later than that can post a second copy. At least once, never zero.

Rate limits: discord.py waits out per-route 429s itself. Posts are also started at most
``per_second`` a second, under Discord's global 50 requests/s, because 429s count towards the
invalid-request limit for which Cloudflare blocks a bot's IP.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import discord

from adapters.discord_bot import render
from bot.errors import CommandError, PostError
from bot.schedule.posting import Channel, Post

#: What the bot needs in a channel to post a tip: (discord.py flag, name in Discord's settings).
NEEDED = (("view_channel", "View Channel"), ("send_messages", "Send Messages"), ("embed_links", "Embed Links"))
ALL_NEEDED = ", ".join(label for _, label in NEEDED[:-1]) + " and " + NEEDED[-1][1]
_ID = re.compile(r"<#(?P<id>\d{15,21})>|(?P<bare>\d{15,21})")
KINDS: tuple[tuple[type[Any], str], ...] = (
    (discord.Thread, "a thread"),
    (discord.VoiceChannel, "a voice channel"),
    (discord.StageChannel, "a stage channel"),
    (discord.ForumChannel, "a forum"),
    (discord.CategoryChannel, "a category"),
)

DM_ONLY = "Daily tips go to server channels. Run `/tips` in the server whose channel should get them."
NOT_CONNECTED = "I'm not connected to Discord right now. Try again in a minute."
NOT_IN_SERVER = "I can't see this server right now (am I still in it?). Try again in a minute."
PICK = "Type `#` in the channel option and pick the channel from the list."


class Pacer:
    """Starts at most ``rate`` operations a second, evenly spaced, first come first served."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self.lock:
            now = time.monotonic()
            if self.next > now:
                await asyncio.sleep(self.next - now)
                now = self.next
            self.next = now + self.interval


class DiscordTipPoster:
    """Posts tips with whatever client ``client()`` returns (the platform's current one)."""

    def __init__(
        self,
        client: Callable[[], discord.Client | None],
        *,
        connect_timeout: float = 30.0,
        per_second: float = 40.0,
    ) -> None:
        self.client = client
        self.connect_timeout = connect_timeout
        self.pacer = Pacer(per_second)

    def _logged_in(self) -> discord.Client | None:
        """The current client once it has logged in (REST works; guilds arrive on the gateway)."""
        client = self.client()
        if client is None or client.is_closed() or client.user is None:
            return None
        return client

    async def _connected(self) -> discord.Client:
        """The logged-in client; waits up to ``connect_timeout`` (the scheduler may start first)."""
        deadline = time.monotonic() + self.connect_timeout
        while (client := self._logged_in()) is None:
            if time.monotonic() >= deadline:
                raise PostError("not connected to Discord")
            await asyncio.sleep(0.2)
        return client

    # ------------------------------------------------------------------ Poster

    async def check_channel(self, tenant: str, channel: str) -> Channel:
        if not tenant.isdigit():
            raise CommandError(DM_ONLY)
        client = self._logged_in()
        if client is None:
            raise CommandError(NOT_CONNECTED)
        guild = client.get_guild(int(tenant))
        if guild is None or guild.unavailable:
            raise CommandError(NOT_IN_SERVER)
        found = self._resolve(guild, channel.strip())
        for kind, label in KINDS:
            if isinstance(found, kind):
                raise CommandError(
                    f"#{found.name} is {label}, and daily tips go to a text channel. "
                    "Pick a text or announcement channel."
                )
        if not isinstance(found, discord.TextChannel):
            raise CommandError(f"#{found.name} is not a text channel, and daily tips go to one.")
        me = guild.me or await self._fetch_me(guild, client)
        allowed = found.permissions_for(me)
        # The first one missing: without View Channel Discord takes the others away, and without
        # Send Messages, Embed Links; naming those too would send the admin after the wrong setting.
        missing = next((label for flag, label in NEEDED if not getattr(allowed, flag)), None)
        if missing is not None:
            raise CommandError(
                f"I can't post in #{found.name}: I don't have {missing} there. A server admin can allow "
                f"careerbot {ALL_NEEDED} in the channel's settings (Edit Channel → Permissions), then "
                "subscribe again."
            )
        return Channel(str(found.id), found.name)

    @staticmethod
    def _resolve(guild: discord.Guild, text: str) -> Any:
        by_id = _ID.fullmatch(text)
        if by_id:
            channel_id = int(by_id["id"] or by_id["bare"])
            found = guild.get_channel_or_thread(channel_id)
            if found is None:
                raise CommandError(f"I can't find channel {channel_id} in this server. {PICK}")
            return found
        name = text.removeprefix("#").strip().casefold()
        if not name:
            raise CommandError(f"Which channel? {PICK}")
        named = [c for c in guild.channels if c.name.casefold() == name]
        texts = [c for c in named if isinstance(c, discord.TextChannel)]
        if len(texts) > 1:
            raise CommandError(f"Several channels here are called #{texts[0].name}. {PICK}")
        if texts or named:
            return (texts or named)[0]
        raise CommandError(f"There's no channel called #{text.removeprefix('#').strip()} in this server. {PICK}")

    @staticmethod
    async def _fetch_me(guild: discord.Guild, client: discord.Client) -> discord.Member:
        """The bot's member when the cache lacks it (Discord sends it with the guild, so rarely)."""
        assert client.user is not None
        try:
            return await guild.fetch_member(client.user.id)
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError):
            raise CommandError(
                "Discord would not tell me my permissions in this server. Try again in a minute."
            ) from None

    async def default_timezone(self, tenant: str, user: str) -> str | None:
        """Discord exposes no server or member time zone: None, so ``/tips`` falls back to
        ``CAREERBOT_TIMEZONE`` (UTC unless set) when the admin gives no ``timezone``."""
        return None

    async def post(self, post: Post) -> str:
        if post.audience:  # never post a private intro in the channel
            raise PostError("private group messages are not supported on Discord yet", permanent=True)
        try:
            channel_id, guild_id = int(post.channel), int(post.tenant)
        except ValueError:
            raise PostError(f"not a Discord channel: {post.tenant}/{post.channel}", permanent=True) from None
        client = await self._connected()
        out = render.render(post.reply, source=None, shareable=False)  # public: no Share; follow-ups stay
        extra: dict[str, Any] = {"view": out.view} if out.view is not None else {}
        target = client.get_partial_messageable(channel_id, guild_id=guild_id)
        await self.pacer.wait()
        try:
            message = await target.send(
                embeds=out.embeds, nonce=post.key, allowed_mentions=discord.AllowedMentions.none(), **extra
            )
        except (discord.Forbidden, discord.NotFound) as exc:  # no access, or the channel is gone
            raise PostError(f"Discord refused the post: {_describe(exc)}", permanent=True) from None
        except discord.HTTPException as exc:
            raise PostError(f"Discord did not take the post: {_describe(exc)}") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise PostError(f"cannot reach Discord: {type(exc).__name__}") from None
        return str(message.id)

    async def find(self, post: Post) -> str | None:
        """Discord cannot look a message up by nonce: None. The resend that follows carries the same
        nonce, which Discord deduplicates within its window (see the module docstring)."""
        return None


def _describe(exc: discord.HTTPException) -> str:
    text = " ".join(str(exc.text or "").split())[:200]
    return f"{exc.status} {text}".strip() + (f" (code {exc.code})" if exc.code else "")
