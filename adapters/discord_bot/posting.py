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

Private posts (a post with an ``audience``: mentoring intros, notes and check-ins) never go to the
channel itself. Each one gets its own private thread under the channel (not invitable, named after
the reply's title and the last 8 characters of the post key, so no user text), its members are
added to it, and the message is sent there with the same nonce as a channel post. When the bot may
not open private threads there (no Create Private Threads or Send Messages in Threads in the
channel, an announcement channel, or Discord answering 403), each member gets the message as a DM
instead; their buttons carry the server (``cb:dm:<guild>:/command``) since a DM has none. A DM
Discord refuses (50007: the member closed DMs from server members) fails the post for good with
one log line; the others still get theirs.

Threads and crashes: a thread is made once per post. This process remembers the thread of a post
until its message is sent (so its own retries reuse it), and after a crash the scheduler's
:meth:`DiscordTipPoster.find` looks the post's thread up among the guild's active threads by the key
in its name: with the bot's message in it, the post is found and not resent; without, the retake
reuses that thread. DMs cannot be looked up: a DM retake relies on the nonce (one per member) alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

import aiohttp
import discord

from adapters.discord_bot import render
from bot import metrics
from bot.errors import CommandError, PostError
from bot.schedule.posting import Channel, Post

log = logging.getLogger("careerbot.discord")
T = TypeVar("T")

#: What the bot needs in a channel to post a tip: (discord.py flag, name in Discord's settings).
NEEDED = (("view_channel", "View Channel"), ("send_messages", "Send Messages"), ("embed_links", "Embed Links"))
#: What it needs in a program channel to open a private thread per group; without it, DMs.
THREAD_NEEDED = (
    ("create_private_threads", "Create Private Threads"),
    ("send_messages_in_threads", "Send Messages in Threads"),
)
THREAD_NAME_MAX = 100  # Discord: a channel or thread name is 1-100 characters
THREAD_TAG = 8  # the last characters of a post key, in its thread's name
THREAD_ARCHIVE_MINUTES: Literal[10080] = 10080  # a week without messages before the thread leaves the sidebar
DMS_CLOSED = 50007  # "Cannot send messages to this user"
UNKNOWN_CHANNEL = 10003
REMEMBERED = 1024  # posts whose thread (or DMs sent) this process keeps until the post is sent
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

    private_groups = True
    """It reaches people privately (a private thread, else DMs): ``/mentoring program create`` may
    run on Discord."""

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
        self._threads: OrderedDict[str, int] = OrderedDict()  # post key -> its thread, until sent
        self._opening: dict[int, asyncio.Lock] = {}
        """One thread opened at a time per parent channel: discord.py 2.7 lets a burst through right
        after its bucket resets (it trusts the header's Remaining over requests still in flight), and
        each of those comes back 429. One after another, they go as fast as the bucket allows, without 429s."""
        self._dms: OrderedDict[str, dict[int, str]] = OrderedDict()  # post key -> member -> DM sent
        self._warned: set[int] = set()  # channels where the fallback to DMs was logged

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
        if not isinstance(found, discord.TextChannel):  # discord.py caches no channel kind outside KINDS
            label = next((label for kind, label in KINDS if isinstance(found, kind)), "not a text channel")
            raise CommandError(
                f"#{found.name} is {label}, and daily tips go to a text channel. Pick a text or announcement channel."
            )
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
            metrics.api_error("discord", "unavailable")
            raise CommandError(
                "Discord would not tell me my permissions in this server. Try again in a minute."
            ) from None

    async def default_timezone(self, tenant: str, user: str) -> str | None:
        """Discord exposes no server or member time zone: None, so ``/tips`` falls back to
        ``CAREERBOT_TIMEZONE`` (UTC unless set) when the admin gives no ``timezone``."""
        return None

    async def post(self, post: Post) -> str:
        try:
            channel_id, guild_id = int(post.channel), int(post.tenant)
        except ValueError:
            raise PostError(f"not a Discord channel: {post.tenant}/{post.channel}", permanent=True) from None
        if post.audience:  # private to them: never the channel itself
            if not all(user.isascii() and user.isdigit() for user in post.audience):
                raise PostError("not Discord user ids", permanent=True)
            members = list(dict.fromkeys(int(user) for user in post.audience))
            return await self._private(await self._connected(), post, guild_id, channel_id, members)
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
            metrics.api_error("discord", "refused")
            raise PostError(f"Discord refused the post: {_describe(exc)}", permanent=True) from None
        except discord.HTTPException as exc:
            metrics.api_error("discord", "refused")
            raise PostError(f"Discord did not take the post: {_describe(exc)}") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            metrics.api_error("discord", "unavailable")
            raise PostError(f"cannot reach Discord: {type(exc).__name__}") from None
        return str(message.id)

    async def find(self, post: Post) -> str | None:
        """Discord cannot look a message up by nonce: None for a channel post (the resend that
        follows carries the same nonce, which Discord deduplicates within its window) and for DMs.
        A private post's thread is looked up by the key in its name: the bot's message in it if
        there is one; otherwise None, and :meth:`post` reuses the thread instead of opening another."""
        if not post.audience:
            return None
        try:
            channel_id, guild_id = int(post.channel), int(post.tenant)
        except ValueError:
            return None
        client = await self._connected()
        try:
            found = await self._request("the thread lookup", client.http.get_active_threads, guild_id)
            tag = thread_tag(post.key)
            ours = sorted(
                int(t["id"])
                for t in found.get("threads", [])
                if str(t.get("parent_id")) == str(channel_id) and str(t.get("name", "")).endswith(tag)
            )
            if not ours:
                return None
            thread_id = ours[0]
            self._remember(self._threads, post.key, thread_id)  # if it holds no message yet, post() uses it
            sent = await self._request("the thread", client.http.logs_from, thread_id, 50, None, thread_id)
        except (discord.Forbidden, discord.NotFound):
            metrics.api_error("discord", "refused")
            return None  # cannot tell: the post is sent again (in the remembered thread, if any)
        me = str(client.user.id) if client.user else ""
        mine = sorted(int(m["id"]) for m in sent if m.get("author", {}).get("id") == me and m.get("type", 0) == 0)
        if not mine:
            return None
        self._threads.pop(post.key, None)
        return str(mine[0])

    # ------------------------------------------------------------------ private posts

    async def _private(
        self, client: discord.Client, post: Post, guild_id: int, channel_id: int, members: list[int]
    ) -> str:
        """In the post's private thread; by DM when the bot may not open one there."""
        refused = self._threads_refused(client, channel_id)
        if refused is None:
            try:
                return await self._in_thread(client, post, guild_id, channel_id, members)
            except discord.Forbidden as exc:
                self._threads.pop(post.key, None)
                refused = f"Discord refused the thread: {_describe(exc)}"
            except discord.NotFound as exc:
                raise PostError(f"Discord refused the private thread: {_describe(exc)}", permanent=True) from None
        if channel_id not in self._warned:
            self._warned.add(channel_id)
            log.warning(
                "discord: no private threads in channel %s of server %s (%s); mentoring messages go by DM",
                channel_id,
                guild_id,
                refused,
            )
        return await self._in_dms(client, post, guild_id, members)

    @staticmethod
    def _threads_refused(client: discord.Client, channel_id: int) -> str | None:
        """Why the bot may not open a private thread in the channel, as far as the cache tells."""
        channel = client.get_channel(channel_id)
        if not isinstance(channel, discord.TextChannel):
            return None  # not cached (or not a text channel): Discord will say
        if channel.is_news():
            return "an announcement channel has no private threads"
        me = channel.guild.me
        if me is None:
            return None
        allowed = channel.permissions_for(me)
        missing = [label for flag, label in THREAD_NEEDED if not getattr(allowed, flag)]
        return f"careerbot lacks {' and '.join(missing)} there" if missing else None

    async def _in_thread(
        self, client: discord.Client, post: Post, guild_id: int, channel_id: int, members: list[int]
    ) -> str:
        thread_id = self._threads.get(post.key)
        if thread_id is None:
            channel = client.get_channel(channel_id) or await self._request(
                "the channel lookup", client.fetch_channel, channel_id
            )
            if not isinstance(channel, discord.TextChannel):
                raise PostError(f"channel {channel_id} cannot hold private threads", permanent=True)
            async with self._opening.setdefault(channel_id, asyncio.Lock()):
                thread = await self._request("the private thread", open_thread, channel, thread_name(post))
            thread_id = thread.id
            self._remember(self._threads, post.key, thread_id)
        added = 0
        for user in members:
            try:
                await self._request("a member", client.http.add_user_to_thread, thread_id, user)
                added += 1
            except discord.NotFound as exc:
                if exc.code == UNKNOWN_CHANNEL:  # the thread was deleted meanwhile: a retry opens another
                    self._threads.pop(post.key, None)
                    raise PostError(f"the private thread is gone: {_describe(exc)}") from None
                # that member left the server; the others still get it
        if not added:
            raise PostError("nobody of the group is in the server any more", permanent=True)
        out = render.render(post.reply, source=None, shareable=False)
        target = client.get_partial_messageable(thread_id, guild_id=guild_id, type=discord.ChannelType.private_thread)
        try:
            message = await self._request("the post", send, target, out, post.key)
        except discord.NotFound as exc:
            if exc.code != UNKNOWN_CHANNEL:
                raise
            self._threads.pop(post.key, None)
            raise PostError(f"the private thread is gone: {_describe(exc)}") from None
        self._threads.pop(post.key, None)
        return str(message.id)

    async def _in_dms(self, client: discord.Client, post: Post, guild_id: int, members: list[int]) -> str:
        """One DM per member; its buttons carry the server. Members who cannot get one fail the post."""
        out = render.render(post.reply, source=None, shareable=False, guild=str(guild_id))
        sent = self._dms.get(post.key, {})
        refused: dict[str, int] = {}
        for user in members:
            if user in sent:
                continue
            try:
                channel = await self._request("a DM", client.create_dm, discord.Object(id=user))
                message = await self._request("a DM", send, channel, out, dm_nonce(post.key, user))
            except (discord.Forbidden, discord.NotFound) as exc:
                metrics.api_error("discord", "refused")
                why = "DMs closed" if exc.code == DMS_CLOSED else _describe(exc)
                refused[why] = refused.get(why, 0) + 1
                continue
            sent[user] = str(message.id)
            self._remember(self._dms, post.key, sent)
        if refused:
            self._dms.pop(post.key, None)  # failed for good: nothing left to retry
            reasons = "; ".join(f"{n} {why}" for why, n in refused.items())
            log.warning(
                "discord: a private mentoring message in server %s reached %d of %d members by DM (%s)",
                guild_id,
                len(sent),
                len(members),
                reasons,
            )
            raise PostError(
                f"Discord refused {sum(refused.values())} of {len(members)} DMs ({reasons})"[:200], permanent=True
            )
        self._dms.pop(post.key, None)
        return next(iter(sent.values()))

    @staticmethod
    def _remember(memory: OrderedDict[str, Any], key: str, value: Any) -> None:
        memory[key] = value
        memory.move_to_end(key)
        while len(memory) > REMEMBERED:
            memory.popitem(last=False)

    async def _request(self, what: str, call: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``call(*args)``, paced; Forbidden and NotFound pass through for the caller to judge,
        anything else is a :class:`PostError` to retry."""
        await self.pacer.wait()
        try:
            return await call(*args)
        except (discord.Forbidden, discord.NotFound):
            metrics.api_error("discord", "refused")
            raise
        except discord.HTTPException as exc:
            metrics.api_error("discord", "refused")
            raise PostError(f"Discord did not take {what}: {_describe(exc)}") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            metrics.api_error("discord", "unavailable")
            raise PostError(f"cannot reach Discord: {type(exc).__name__}") from None


async def open_thread(channel: discord.TextChannel, name: str) -> discord.Thread:
    """A private thread only the people added to it (and moderators) see; members cannot invite."""
    return await channel.create_thread(
        name=name,
        type=discord.ChannelType.private_thread,
        invitable=False,
        auto_archive_duration=THREAD_ARCHIVE_MINUTES,
    )


async def send(target: discord.abc.Messageable, out: render.Rendered, nonce: str) -> discord.Message:
    """A rendered reply, deduplicated by ``nonce`` (discord.py sets ``enforce_nonce``), pinging nobody."""
    extra: dict[str, Any] = {"view": out.view} if out.view is not None else {}
    return await target.send(embeds=out.embeds, nonce=nonce, allowed_mentions=discord.AllowedMentions.none(), **extra)


def thread_tag(key: str) -> str:
    """What ends the name of a post's thread: the last characters of its key."""
    return f" · {key[-THREAD_TAG:]}"


def thread_name(post: Post) -> str:
    """The reply's title (the core's words, never a member's) and the key's tag, within 100."""
    tag = thread_tag(post.key)
    title = " ".join(post.reply.title.split()) or "careerbot"
    return render.fit(title, THREAD_NAME_MAX - render.dlen(tag)) + tag


def dm_nonce(key: str, user: int) -> str:
    """A post's nonce in one member's DMs: Discord may match nonces across channels, so one each."""
    return hashlib.blake2b(f"{key}|{user}".encode(), digest_size=12).hexdigest()


def _describe(exc: discord.HTTPException) -> str:
    text = " ".join(str(exc.text or "").split())[:200]
    return f"{exc.status} {text}".strip() + (f" (code {exc.code})" if exc.code else "")
