"""Daily tips on Slack: a :class:`~bot.schedule.posting.Poster` over slack_sdk's ``AsyncWebClient``.

Rate limits: ``chat.postMessage`` allows about one message per second per channel plus a
workspace-wide limit. Posts are paced here so that Slack never sees more than ``per_channel`` per
channel and ``per_workspace`` per workspace in any ``period`` seconds: a window counts each post from
when its response arrived, which is after Slack counted it, so arrival jitter cannot push Slack's
own count over. ``conversations.open`` (Tier 3: 50+ a minute per workspace) is paced the same way, at
``opens_per_workspace`` per ``open_period`` seconds: without it, a round's intros meet its limit as
429s and each waits a whole ``Retry-After`` plus jitter (``bench.mentoring_intros``: 230 429s for 500
groups, 1.17 x the floor the limit allows; none, 1.02 x, paced). A 429 that still happens (another app instance, a
stricter real limit) is retried after its ``Retry-After`` by ``AsyncRateLimitErrorRetryHandler``.

Idempotency: Slack has no idempotency key for ``chat.postMessage``, so each post carries the key in
its message metadata (``event_type: careerbot_tip``), and :meth:`SlackTipPoster.find` looks for it
in the channel's recent history after a crash (needs the ``channels:history`` /
``groups:history`` scope; without it, the post is sent again).

Private posts (``post.audience``, a mentoring intro or check-in): ``conversations.open`` with the
people's ids gives their group DM (a DM for one person; the same conversation every time for the same
people, so the key is found in its history after a crash), and the post goes there with the same
body, pacing and metadata, never in ``post.channel``. Slack refuses the whole group when one person
cannot be reached (``user_disabled``, ``user_not_found``, ``cannot_dm_bot``,
``invalid_user_combination``, ``user_not_visible``) without saying who: each person is then tried
alone, those Slack refuses are left out (one log line naming them), and the rest are introduced when
at least two remain; otherwise (and for a note to one person) the post fails for good. Scopes:
``im:write`` and ``mpim:write`` to open, ``im:history`` and ``mpim:history`` for the crash look-up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot import metrics
from bot.errors import CommandError, PostError
from bot.reply import Reply
from bot.schedule.posting import Channel, Post, parse_channel

log = logging.getLogger("careerbot.slack.tips")
#: slack_sdk builds a debug line with the whole request body whenever its logger's own level is
#: unset (``logger.level <= DEBUG``), even if nothing would print it: a third of a post's CPU. Give it
#: a logger with a level.
sdk_log = logging.getLogger("careerbot.slack.tips.sdk")

METADATA_TYPE = "careerbot_tip"
#: Errors after which retrying the same post cannot succeed.
PERMANENT = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "cannot_reply_to_message",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "team_access_not_granted",
        "ekm_access_denied",
        "invalid_blocks",
        "msg_too_long",
        "msg_blocks_too_long",
    }
)
#: conversations.open errors caused by one of the people (Slack does not say which).
UNREACHABLE = frozenset(
    {"invalid_user_combination", "user_disabled", "user_not_found", "cannot_dm_bot", "user_not_visible"}
)
#: Slack's limit on the people in one group DM (the bot comes on top).
AUDIENCE_MAX = 8
#: Group DMs remembered per (workspace, people); forgotten all at once beyond this.
CONVERSATIONS_MAX = 10_000
#: Channels whose pacing windows are kept; beyond this, those with nothing in their window go.
CHANNEL_WINDOWS_MAX = 50_000
#: Replies kept rendered (a tip goes to many channels); forgotten all at once beyond this.
RENDERED_MAX = 1000
HISTORY_SLACK = 300
"""Search history from this many seconds before the post was due."""


class Window:
    """At most ``limit`` events per ``period`` seconds, counting each from when it completed.
    Waiters queue in order; only the first one watches the clock."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.done: deque[float] = deque()
        self.running = 0
        self.queue = asyncio.Lock()
        self.released = asyncio.Event()

    async def acquire(self) -> None:
        async with self.queue:
            while True:
                now = time.monotonic()
                while self.done and self.done[0] <= now - self.period:
                    self.done.popleft()
                if len(self.done) + self.running < self.limit:
                    self.running += 1
                    return
                self.released.clear()
                wait = self.done[0] + self.period - now if self.done else None
                try:
                    await asyncio.wait_for(self.released.wait(), wait)
                except TimeoutError:
                    pass

    async def release(self) -> None:
        self.running -= 1
        self.done.append(time.monotonic())
        self.released.set()

    def idle(self) -> bool:
        return not self.running and (not self.done or self.done[-1] <= time.monotonic() - self.period)


class SlackTipPoster:
    """Posts tips to any workspace the app is installed in; ``token_for(team_id)`` gives its bot token.
    Posts with an audience go to those people's group DM (``conversations.open``)."""

    private_groups = True
    """``/mentoring program create`` asks for this: the poster can reach people privately."""

    def __init__(
        self,
        token_for: Callable[[str], str | None],
        *,
        base_url: str = AsyncWebClient.BASE_URL,
        per_channel: int = 1,
        per_workspace: int = 20,
        period: float = 1.0,
        opens_per_workspace: int = 50,
        open_period: float = 60.0,
        rate_limit_retries: int = 5,
        render: Callable[[Reply], dict[str, Any]] | None = None,
    ) -> None:
        self.token_for = token_for
        self.base_url = base_url
        self.per_channel = per_channel
        self.per_workspace = per_workspace
        self.period = period
        self.render = render or render_message
        self.retry_handlers: list[AsyncRetryHandler] = [
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=rate_limit_retries),
        ]
        self.session: aiohttp.ClientSession | None = None
        self.clients: dict[str, AsyncWebClient] = {}
        if sdk_log.level == logging.NOTSET:
            sdk_log.setLevel(logging.DEBUG if sdk_log.isEnabledFor(logging.DEBUG) else logging.INFO)
        self.workspaces: dict[str, Window] = {}
        self.channels: dict[tuple[str, str], Window] = {}
        self.opens_per_workspace = opens_per_workspace
        self.open_period = open_period
        self.opening: dict[str, Window] = {}
        """conversations.open per workspace (Tier 3)."""
        self.rate_limited = 0
        self.conversations: dict[tuple[str, frozenset[str]], str] = {}
        """The group DM (or DM) of each (workspace, people) already opened: the same people in any
        order have the same one."""
        self._rendered: dict[int, tuple[Reply, bytes]] = {}

    # ------------------------------------------------------------------ plumbing

    def client(self, tenant: str) -> AsyncWebClient:
        if self.session is None or self.session.closed:
            connector = aiohttp.TCPConnector(limit=256)
            self.session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30))
            self.clients = {}
        if tenant not in self.clients:
            token = self.token_for(tenant)
            if not token:
                raise PostError(f"no Slack token for workspace {tenant}", permanent=True)
            self.clients[tenant] = AsyncWebClient(
                token=token,
                base_url=self.base_url,
                session=self.session,
                retry_handlers=self.retry_handlers,
                logger=sdk_log,
            )
        return self.clients[tenant]

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
        self.session, self.clients = None, {}

    def _window(self, tenant: str, channel: str) -> tuple[Window, Window]:
        if len(self.channels) > CHANNEL_WINDOWS_MAX:  # forget channels with nothing in their window
            self.channels = {k: w for k, w in self.channels.items() if not w.idle()}
        workspace = self.workspaces.setdefault(tenant, Window(self.per_workspace, self.period))
        return workspace, self.channels.setdefault((tenant, channel), Window(self.per_channel, self.period))

    def _body(self, post: Post, channel: str) -> bytes:
        """The JSON body of ``chat.postMessage`` to ``channel``. A tip goes to many channels: its
        blocks are rendered and encoded once, and only the channel and the key are added per post."""
        cached = self._rendered.get(id(post.reply))
        if cached is None or cached[0] is not post.reply:
            if len(self._rendered) > RENDERED_MAX:
                self._rendered.clear()
            encoded = json.dumps(self.render(post.reply), ensure_ascii=False, separators=(",", ":"))
            cached = self._rendered[id(post.reply)] = (post.reply, encoded[1:-1].encode())
        head = {
            "channel": channel,
            "unfurl_links": False,
            "unfurl_media": False,
            "metadata": {"event_type": METADATA_TYPE, "event_payload": {"key": post.key}},
        }
        return json.dumps(head, separators=(",", ":")).encode()[:-1] + b"," + cached[1] + b"}"

    # ------------------------------------------------------------------ Poster

    async def check_channel(self, tenant: str, channel: str) -> Channel:
        ref = parse_channel(channel)
        client = self.client(tenant)
        try:
            if channel.strip().startswith("#"):
                info = await self._by_name(client, ref.name)
            else:
                info = (await client.conversations_info(channel=ref.id))["channel"]
        except SlackApiError as exc:
            metrics.api_error("slack", "refused")
            error = exc.response.get("error", "")
            if error == "channel_not_found":
                raise CommandError(
                    f"I can't see a channel “{ref.name}”. Pick one from the list or invite me."
                ) from None
            raise CommandError(f"Slack would not tell me about “{ref.name}” ({error}).") from None
        if info is None:
            raise CommandError(f"I can't see a channel “#{ref.name}”. Invite me to it first.")
        name = info.get("name") or ref.name
        if info.get("is_archived"):
            raise CommandError(f"#{name} is archived, so I can't post there.")
        if not info.get("is_im") and not info.get("is_member"):
            raise CommandError(f"I'm not in #{name}, so I can't post there. Invite me with `/invite @careerbot`.")
        return Channel(info["id"], name)

    async def _by_name(self, client: AsyncWebClient, name: str) -> dict[str, Any] | None:
        cursor = None
        for _ in range(20):
            page = await client.conversations_list(
                types="public_channel,private_channel", exclude_archived=True, limit=1000, cursor=cursor
            )
            for info in page["channels"]:
                if info.get("name") == name:
                    return dict(info)
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return None

    async def default_timezone(self, tenant: str, user: str) -> str | None:
        try:
            found = await self.client(tenant).users_info(user=user)
        except (SlackApiError, aiohttp.ClientError, TimeoutError, PostError):
            return None
        tz = (found.get("user") or {}).get("tz")
        return str(tz) if tz else None

    async def post(self, post: Post) -> str:
        if post.audience:  # private: the people's group DM, never the channel
            conversation = await self.conversation(post)
            try:
                return await self._send(post, conversation)
            except PostError:
                self.conversations.pop((post.tenant, frozenset(post.audience)), None)  # ask Slack again next time
                raise
        return await self._send(post, post.channel)

    async def _send(self, post: Post, channel_id: str) -> str:
        client = self.client(post.tenant)
        body = self._body(post, channel_id)
        workspace, channel = self._window(post.tenant, channel_id)
        await channel.acquire()  # the channel first: never hold a workspace slot while a channel waits
        try:
            await workspace.acquire()
            try:
                response = await client.api_call(
                    "chat.postMessage",
                    data=body,  # type: ignore[arg-type]  # pre-encoded JSON (see _body)
                    headers={"Content-Type": "application/json;charset=utf-8"},
                )
            finally:
                await workspace.release()
        except SlackApiError as exc:
            metrics.api_error("slack", "refused")
            error = str(exc.response.get("error", exc.response.status_code))
            if exc.response.status_code == 429:
                self.rate_limited += 1
            raise PostError(f"chat.postMessage: {error}", permanent=error in PERMANENT) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            metrics.api_error("slack", "unavailable")
            raise PostError(f"chat.postMessage: {type(exc).__name__}") from None
        finally:
            await channel.release()
        return str(response["ts"])

    # ------------------------------------------------------------------ private posts

    async def conversation(self, post: Post) -> str:
        """The id of the group DM of ``post.audience`` (a DM for one person), opened with
        ``conversations.open``; people Slack will not let in are left out when two or more others
        remain. :class:`PostError` otherwise: permanent when Slack refused people, else to retry.
        The reason never names anyone (it is stored with the job); the log line does."""
        people = tuple(dict.fromkeys(post.audience))  # each once, in order
        known = self.conversations.get((post.tenant, frozenset(people)))
        if known is not None:
            return known
        if not people or len(people) > AUDIENCE_MAX:
            raise PostError(f"a group message is for 1 to {AUDIENCE_MAX} people, not {len(people)}", permanent=True)
        client = self.client(post.tenant)
        opened, refused = await self._open(post.tenant, client, people)
        if opened is None:
            if len(people) == 1:
                raise PostError(f"conversations.open: {refused}", permanent=True)
            why: dict[str, str] = {}
            for person in people:  # Slack does not say who: ask for each alone
                alone, error = await self._open(post.tenant, client, (person,))
                if alone is None:
                    why[person] = error
            kept = tuple(p for p in people if p not in why)
            named = ", ".join(f"{p} ({e})" for p, e in why.items())
            if not why or len(kept) < 2:
                if why:
                    log.warning(
                        "slack: group message %s: cannot reach %s; fewer than 2 people left, not sending",
                        post.key,
                        named,
                    )
                left = f"; {len(kept)} of {len(people)} people reachable" if why else ""
                raise PostError(f"conversations.open: {refused}{left}", permanent=True)
            opened, again = await self._open(post.tenant, client, kept)
            if opened is None:
                raise PostError(f"conversations.open: {again} (after leaving {len(why)} out)", permanent=True)
            log.warning("slack: group message %s: left out %s; sending it to the other %d", post.key, named, len(kept))
        if len(self.conversations) >= CONVERSATIONS_MAX:
            self.conversations.clear()
        self.conversations[(post.tenant, frozenset(people))] = opened
        return opened

    async def _open(self, tenant: str, client: AsyncWebClient, people: tuple[str, ...]) -> tuple[str | None, str]:
        """``(conversation id, "")``, or ``(None, error)`` when Slack refused one of the people
        (:data:`UNREACHABLE`); any other failure is a :class:`PostError`."""
        window = self.opening.setdefault(tenant, Window(self.opens_per_workspace, self.open_period))
        await window.acquire()
        try:
            response = await client.conversations_open(users=",".join(people))
        except SlackApiError as exc:
            metrics.api_error("slack", "refused")
            error = str(exc.response.get("error", exc.response.status_code))
            if error in UNREACHABLE:
                return None, error
            if exc.response.status_code == 429:
                self.rate_limited += 1
            raise PostError(f"conversations.open: {error}", permanent=error in PERMANENT) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            metrics.api_error("slack", "unavailable")
            raise PostError(f"conversations.open: {type(exc).__name__}") from None
        finally:
            await window.release()
        channel = response.get("channel")
        found = channel.get("id") if isinstance(channel, dict) else None
        if not found:
            raise PostError("conversations.open: no conversation id in the answer")
        return str(found), ""

    async def find(self, post: Post) -> str | None:
        client = self.client(post.tenant)
        channel = await self.conversation(post) if post.audience else post.channel
        cursor = None
        try:
            for _ in range(5):
                page = await client.conversations_history(
                    channel=channel,
                    oldest=str(post.due_at - HISTORY_SLACK),
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
                for message in page.get("messages") or []:
                    meta = message.get("metadata") or {}
                    if meta.get("event_type") == METADATA_TYPE and meta.get("event_payload", {}).get("key") == post.key:
                        return str(message["ts"])
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return None
        except SlackApiError as exc:
            metrics.api_error("slack", "refused")
            error = str(exc.response.get("error", exc.response.status_code))
            raise PostError(f"conversations.history: {error}", permanent=error in PERMANENT) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            metrics.api_error("slack", "unavailable")
            raise PostError(f"conversations.history: {type(exc).__name__}") from None
        return None


def render_message(reply: Reply) -> dict[str, Any]:
    """``text`` and ``blocks`` for a channel post, via the Slack adapter's renderer (first page)."""
    from adapters.slack_bot.render import render

    return render(reply)[0].payload()
