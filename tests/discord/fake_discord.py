"""A fake Discord on 127.0.0.1 that the real discord.py client connects to over real sockets.

REST lives under ``/api/v10`` and a gateway websocket under ``/gateway``; :meth:`FakeDiscord.patched`
points ``discord.http.Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` at it and restores them.
Every REST call is recorded (modals the bot opens too: type 9 responses); interactions (slash commands,
autocomplete, button clicks, modal submissions) and messages are dispatched on demand; the next
matching requests can be answered with 429s or other errors. A channel message repeating a nonce
with ``enforce_nonce`` gets the first message back, as on Discord.
Private threads (created, members added, listed as active, their messages read and edited) and DM
channels work as on Discord; a user can close their DMs (403, code 50007); the bot can be removed from the
guild (``GUILD_DELETE``). Members are looked up one by one (:meth:`FakeDiscord.add_member`; anyone
else is 404 Unknown Member, 10007). Rate limits are optional: :meth:`FakeDiscord.bucket` (per route, with
``X-RateLimit-*`` headers) and :meth:`FakeDiscord.global_limit`. Knows nothing about careerbot:
it speaks only Discord's protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import WSMsgType, web

from tests.discord.payloads import (
    APP_ID,
    BOT_ID,
    BOT_USER,
    CHANNEL,
    CHANNEL_ID,
    EPHEMERAL,
    GUILD_ID,
    MEMBER,
    OPTION_TYPES,
    TIMESTAMP,
    TOKEN,
    USER,
    application,
    guild,
    message,
)

BODY: web.RequestKey[Any] = web.RequestKey("body")  # the parsed JSON body of a request


def respond(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with a content type of exactly ``application/json`` (discord.py parses nothing else)."""
    return web.Response(body=json.dumps(data).encode(), status=status, content_type="application/json", headers=headers)


@dataclass
class Call:
    method: str
    path: str  # without /api/v10
    query: dict[str, str]
    body: Any
    status: int = 0
    at: float = field(default_factory=time.monotonic)  # when it arrived


@dataclass
class RateLimit:
    method: str
    pattern: re.Pattern[str]
    times: int
    retry_after: float


@dataclass
class Bucket:
    """A limit as Discord applies one: ``limit`` requests per ``per`` seconds for each major
    parameter (the pattern's first group, e.g. the channel id; or one for all), in fixed windows that
    start with the first request after the last one ended."""

    method: str | None
    pattern: re.Pattern[str]
    limit: int
    per: float
    name: str
    announce: bool
    windows: dict[str, tuple[float, int]] = field(default_factory=dict)  # major -> (window end, used)

    def take(self, method: str, path: str) -> tuple[float, dict[str, str]] | None:
        """None if the request is not in this bucket; else (seconds to wait, 0 if it may go now and
        then it counts; the headers to answer with)."""
        found = self.pattern.fullmatch(path) if self.method in (None, method) else None
        if found is None:
            return None
        major = found.group(1) if self.pattern.groups else ""
        now = time.monotonic()
        end, used = self.windows.get(major, (0.0, 0))
        if now >= end:
            end, used = now + self.per, 0
        wait = end - now if used >= self.limit else 0.0
        if not wait:
            used += 1
            self.windows[major] = (end, used)
        if not self.announce:
            return wait, {}
        headers = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.limit - used)}
        after = math.ceil((end - now) * 1000) / 1000  # never before the window ends
        reset = {"X-RateLimit-Reset-After": f"{after:.3f}", "X-RateLimit-Reset": f"{time.time() + after:.3f}"}
        return wait, headers | reset | {"X-RateLimit-Bucket": self.name}


@dataclass
class Failure:
    method: str
    pattern: re.Pattern[str]
    status: int
    code: int
    message: str
    times: int


@dataclass
class Session:
    ws: web.WebSocketResponse
    shard: tuple[int, int] = (0, 1)
    identified: bool = False
    seq: int = 0
    identify: dict[str, Any] = field(default_factory=dict)
    session_id: str = ""
    resumed: bool = False

    async def send(self, op: int, data: Any, event: str | None = None) -> None:
        if event:
            self.seq += 1
        await self.ws.send_str(json.dumps({"op": op, "d": data, "s": self.seq if event else None, "t": event}))


class FakeDiscord:
    def __init__(self, *, shards: int = 1, token: str = TOKEN, record: bool = True) -> None:
        self.shards = shards
        self.token = token
        self.record = record  # False (benchmarks): keep no calls or messages, so memory stays flat
        self.member_permissions = MEMBER["permissions"]  # of the member who interacts (all but admin)
        self.bot_permissions = 2147483647
        """The bot's permissions in the guild, as ``GET /users/@me/guilds`` reports them."""
        self.guild = guild()  # sent in GUILD_CREATE: add channels or overwrites before the client connects
        self.nonces: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, nonce) -> message created
        self._failures: list[Failure] = []
        self.calls: list[Call] = []
        self.messages: dict[str, dict[str, Any]] = {}
        self.edits: dict[str, list[dict[str, Any]]] = {}  # message id -> its versions before each edit
        self.sessions: list[Session] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}  # "global" or guild id -> registered commands
        self._limits: list[RateLimit] = []
        self._buckets: list[Bucket] = []  # bucket(): per-route limits; global_limit(): the global one
        self._ids = itertools.count(1500000000000000000)
        self._interactions: dict[int, dict[str, Any]] = {}
        self._arrivals: dict[int, asyncio.Future[float]] = {}
        self._by_token: dict[str, dict[str, Any]] = {}  # interaction token -> message that answered it
        self.replies: dict[str, dict[str, Any]] = {}  # message id -> the bot's reply to it
        self.threads: dict[str, dict[str, Any]] = {}  # thread id -> the thread, as Discord returns it
        self.thread_members: dict[str, list[str]] = {}  # thread id -> user ids added, in order
        self.dm_channels: dict[str, dict[str, Any]] = {}  # user id -> the bot's DM channel with them
        self.dms_closed: set[str] = set()  # users who allow no DMs from server members (50007)
        # GET /guilds/{guild}/members/{user}: the guild's members by user id (add_member); anyone
        # else is 404 Unknown Member (10007), as for someone who left the server.
        self.guild_members: dict[str, dict[str, Any]] = {}
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        api = "/api/v10"
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get(f"{api}/users/@me", self._me)
        app.router.add_get(f"{api}/oauth2/applications/@me", self._application)
        app.router.add_get(f"{api}/gateway", self._gateway_url)
        app.router.add_get(f"{api}/gateway/bot", self._gateway_url)
        app.router.add_post(f"{api}/interactions/{{id}}/{{token}}/callback", self._callback)
        app.router.add_post(f"{api}/webhooks/{{app}}/{{token}}", self._webhook_post)
        app.router.add_patch(f"{api}/webhooks/{{app}}/{{token}}/messages/{{mid}}", self._webhook_patch)
        app.router.add_get(f"{api}/webhooks/{{app}}/{{token}}/messages/{{mid}}", self._webhook_get)
        app.router.add_put(f"{api}/applications/{{app}}/commands", self._put_commands)
        app.router.add_put(f"{api}/applications/{{app}}/guilds/{{guild}}/commands", self._put_commands)
        app.router.add_post(f"{api}/channels/{{channel}}/messages", self._channel_message)
        app.router.add_get(f"{api}/channels/{{channel}}/messages", self._channel_messages)
        app.router.add_patch(f"{api}/channels/{{channel}}/messages/{{mid}}", self._edit_message)
        app.router.add_get(f"{api}/channels/{{channel}}", self._channel)
        app.router.add_post(f"{api}/channels/{{channel}}/threads", self._create_thread)
        app.router.add_put(f"{api}/channels/{{channel}}/thread-members/{{user}}", self._add_thread_member)
        app.router.add_get(f"{api}/guilds/{{guild}}/threads/active", self._active_threads)
        app.router.add_get(f"{api}/guilds/{{guild}}/members/{{user}}", self._guild_member)
        app.router.add_post(f"{api}/users/@me/channels", self._create_dm)
        app.router.add_get(f"{api}/users/@me/guilds", self._my_guilds)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        for session in self.sessions:
            await session.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @contextlib.contextmanager
    def patched(self) -> Iterator[None]:
        """Point discord.py at this fake; the globals are restored on exit."""
        base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = f"{self.url}/api/v10"
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"ws://127.0.0.1:{self.port}/gateway")
        try:
            yield
        finally:
            discord.http.Route.BASE = base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway

    # ------------------------------------------------------------------ recording and waiting

    def rate_limit(self, method: str, path_regex: str, *, times: int = 1, retry_after: float = 0.05) -> None:
        """Answer the next ``times`` matching requests with 429 (as Discord's API does, with ``Via``)."""
        self._limits.append(RateLimit(method, re.compile(path_regex), times, retry_after))

    def bucket(
        self, method: str, path_regex: str, limit: int, per: float, *, name: str = "", announce: bool = True
    ) -> None:
        """A per-route limit, as Discord's: ``limit`` requests per ``per`` seconds for each value of
        the pattern's first group (its major parameter: the channel in ``/channels/(\\d+)/threads``),
        in fixed windows. Answers carry ``X-RateLimit-Limit/Remaining/Reset-After/Bucket`` (not with
        ``announce=False``: a limit the client cannot see coming); one over gets 429 with
        ``retry_after``. Requests and 429s are recorded as calls like any other."""
        self._buckets.append(Bucket(method, re.compile(path_regex), limit, per, name or path_regex, announce))

    def global_limit(self, limit: int = 50, per: float = 1.0) -> None:
        """Discord's global limit (50 requests a second for a bot): one over gets 429 with
        ``global: true`` and no bucket headers."""
        self._buckets.append(Bucket(None, re.compile(r"/.*"), limit, per, "global", announce=False))

    def fail(self, method: str, path_regex: str, status: int, code: int, message: str, *, times: int = 1) -> None:
        """Answer the next ``times`` matching requests with an error, as Discord's API does
        (e.g. 403, code 50013, "Missing Permissions"); ``status=0`` hangs up without answering (the
        network failed, not Discord)."""
        self._failures.append(Failure(method, re.compile(path_regex), status, code, message, times))

    async def _record(self, call: Call) -> None:
        if self.record:
            self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked after each REST call or gateway event)."""
        async with self._changed:
            return await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    def find(self, method: str, path_regex: str, status: int | None = 200) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == method and re.fullmatch(path_regex, c.path) and (status is None or c.status == status)
        ]

    async def connected(self, count: int = 1, timeout: float = 10.0) -> list[Session]:
        """Wait until ``count`` live gateway sessions have identified."""
        await self.wait_for(lambda: len(self.live()) >= count, timeout)
        return self.live()

    def live(self) -> list[Session]:
        return [s for s in self.sessions if s.identified and not s.ws.closed]

    def thread_bodies(self) -> list[dict[str, Any]]:
        """Every request body that creates a thread."""
        return [c.body for c in self.calls if c.method == "POST" and re.fullmatch(r"/channels/\d+/threads", c.path)]

    def channel_messages(self, channel: str | int) -> list[dict[str, Any]]:
        """The messages created in a channel, thread or DM, oldest first."""
        return sorted(
            (m for m in self.messages.values() if m["channel_id"] == str(channel)), key=lambda m: int(m["id"])
        )

    def dm_channel(self, user: str | int) -> dict[str, Any] | None:
        return self.dm_channels.get(str(user))

    def modal_bodies(self) -> list[dict[str, Any]]:
        """Every modal the bot opened (the ``data`` of each type 9 interaction response)."""
        return [c.body.get("data") or {} for c in self.modals()]

    def modals(self, iid: int | None = None) -> list[Call]:
        """The accepted MODAL responses (type 9), to interaction ``iid`` or to any."""
        which = str(iid) if iid is not None else r"\d+"
        path = rf"/interactions/{which}/[^/]+/callback"
        return [c for c in self.find("POST", path) if isinstance(c.body, dict) and c.body.get("type") == 9]

    def message_bodies(self) -> list[dict[str, Any]]:
        """Every request body that posts or edits a message (for checks that must hold of all)."""
        out = []
        for c in self.calls:
            if not isinstance(c.body, dict):
                continue
            if re.fullmatch(r"/interactions/\d+/[^/]+/callback", c.path) and c.body.get("type") in (4, 7):
                out.append(c.body.get("data") or {})
            elif re.fullmatch(r"/webhooks/\d+/[^/]+(/messages/[^/]+)?|/channels/\d+/messages", c.path):
                out.append(c.body)
        return out

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path.removeprefix("/api/v10")
        body = await request.json() if request.can_read_body else None
        request[BODY] = body
        call = Call(request.method, path, dict(request.query), body)
        for limit in self._limits:
            if limit.times > 0 and limit.method == request.method and limit.pattern.fullmatch(path):
                limit.times -= 1
                call.status = 429
                await self._record(call)
                headers = {"Via": "1.1 google", "Retry-After": str(limit.retry_after), "X-RateLimit-Scope": "user"}
                headers |= {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0"}
                headers |= {"X-RateLimit-Reset-After": str(limit.retry_after), "X-RateLimit-Bucket": "fake"}
                data = {"message": "You are being rate limited.", "retry_after": limit.retry_after, "global": False}
                return respond(data, 429, headers)
        answer_headers: dict[str, str] = {}
        for limiter in self._buckets if request.path.startswith("/api/") else ():
            taken = limiter.take(request.method, path)
            if taken is None:
                continue
            wait, headers = taken
            if wait:
                call.status = 429
                await self._record(call)
                scope = "global" if limiter.name == "global" else "user"
                headers |= {"Via": "1.1 google", "Retry-After": str(max(1, round(wait))), "X-RateLimit-Scope": scope}
                headers |= {"X-RateLimit-Global": "true"} if scope == "global" else {}
                data = {"message": "You are being rate limited.", "retry_after": round(wait, 3)}
                return respond(data | {"global": scope == "global"}, 429, headers)
            answer_headers |= headers
        for failure in self._failures:
            if failure.times > 0 and failure.method == request.method and failure.pattern.fullmatch(path):
                failure.times -= 1
                call.status = failure.status
                await self._record(call)
                if failure.status == 0:  # drop the connection: the client sees a disconnected server
                    assert request.transport is not None
                    request.transport.close()
                    return web.Response(status=500)
                return respond({"message": failure.message, "code": failure.code}, failure.status)
        protected = request.path.startswith("/api/") and not re.match(r"/(interactions|webhooks)/", path)
        if protected and request.headers.get("Authorization") != f"Bot {self.token}":
            call.status = 401
            await self._record(call)
            return respond({"message": "401: Unauthorized", "code": 0}, 401)
        response: web.StreamResponse = await handler(request)
        response.headers.update(answer_headers)
        call.status = response.status
        if request.path.startswith("/api/"):
            await self._record(call)
        return response

    # ------------------------------------------------------------------ REST

    async def _me(self, request: web.Request) -> web.Response:
        return respond(BOT_USER | {"flags": 0, "verified": True, "mfa_enabled": False})

    async def _my_guilds(self, request: web.Request) -> web.Response:
        found = {"id": str(GUILD_ID), "name": "careerbot test", "permissions": str(self.bot_permissions)}
        return respond([found | {"icon": None, "owner": False, "features": []}])

    async def _application(self, request: web.Request) -> web.Response:
        return respond(application())

    async def _gateway_url(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return respond(
            {"url": f"ws://127.0.0.1:{self.port}/gateway", "shards": self.shards, "session_start_limit": limit}
        )

    def _message(self, body: dict[str, Any], *, kind: int = 0, flags: int = 0) -> dict[str, Any]:
        created = message(str(next(self._ids)), body, kind=kind, flags=flags)
        if self.record:
            self.messages[created["id"]] = created
        return created

    async def _callback(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = request[BODY]
        iid = int(request.match_info["id"])
        arrival = self._arrivals.pop(iid, None)
        if arrival is not None and not arrival.done():
            arrival.set_result(time.perf_counter())
        interaction = self._interactions.get(iid)
        if interaction is None or interaction["token"] != request.match_info["token"]:
            return respond({"message": "Unknown interaction", "code": 10062}, 404)
        if interaction.get("responded"):
            return respond({"message": "Interaction has already been acknowledged.", "code": 40060}, 400)
        interaction["responded"] = True
        if not self.record:
            del self._interactions[iid]
        data = body.get("data") or {}
        flags = int(data.get("flags") or 0)
        info: dict[str, Any] = {"id": str(iid), "type": interaction["type"], "response_message_id": None}
        info |= {"response_message_loading": body["type"] == 5, "response_message_ephemeral": bool(flags & EPHEMERAL)}
        result: dict[str, Any] = {"interaction": info}
        if body["type"] in (4, 5):
            message = self._message(data, kind=20, flags=flags)
            if self.record:
                self._by_token[interaction["token"]] = message
            info["response_message_id"] = message["id"]
            result["resource"] = {"type": body["type"], "message": message}
        if request.query.get("with_response") in ("1", "true"):
            return respond(result)
        return web.Response(status=204)

    async def _webhook_post(self, request: web.Request) -> web.Response:
        body = request[BODY] or {}
        message = self._message(body, kind=0, flags=int(body.get("flags") or 0))
        if self.record:
            self._by_token[request.match_info["token"]] = message
        return respond(message) if request.query.get("wait") in ("1", "true", "True") else web.Response(status=204)

    async def _webhook_patch(self, request: web.Request) -> web.Response:
        body = request[BODY] or {}
        return respond(self._message(body, flags=int(body.get("flags") or 0)))

    async def _webhook_get(self, request: web.Request) -> web.Response:
        found = self.messages.get(request.match_info["mid"])
        return respond(found) if found else respond({"message": "Unknown Message", "code": 10008}, 404)

    async def _put_commands(self, request: web.Request) -> web.Response:
        scope = request.match_info.get("guild", "global")
        registered = [
            cmd
            | {"id": str(next(self._ids)), "application_id": str(APP_ID), "version": "1"}
            | ({"guild_id": scope} if scope != "global" else {})
            for cmd in request[BODY]
        ]
        self.commands[scope] = registered
        return respond(registered)

    async def _channel_message(self, request: web.Request) -> web.Response:
        """A message in a channel. With ``enforce_nonce``, a nonce this channel already saw returns
        the message it created and creates none (Discord does so for "the past few minutes")."""
        body = request[BODY] or {}
        channel = request.match_info["channel"]
        nonce = str(body["nonce"]) if body.get("nonce") is not None else None
        if nonce is not None and body.get("enforce_nonce") and (channel, nonce) in self.nonces:
            return respond(self.nonces[channel, nonce])
        dm = next((user for user, c in self.dm_channels.items() if c["id"] == channel), None)
        if dm is not None and dm in self.dms_closed:
            return respond({"message": "Cannot send messages to this user", "code": 50007}, 403)
        thread = self.threads.get(channel)
        if thread is not None and thread["thread_metadata"]["archived"]:
            return respond({"message": "Thread is archived", "code": 50083}, 400)
        reference = (body.get("message_reference") or {}).get("message_id")
        message = self._message(body, kind=19 if reference else 0)
        where = {"channel_id": channel} | ({} if dm is not None else {"guild_id": str(GUILD_ID)})
        message |= where | ({"nonce": nonce} if nonce else {})
        if reference:
            self.replies[str(reference)] = message
        if nonce is not None and self.record:
            self.nonces[channel, nonce] = message
        return respond(message)

    async def _edit_message(self, request: web.Request) -> web.Response:
        """Edit a message of the bot's in a channel, thread or DM: the fields given replace its own
        (``components: []`` removes its buttons); the old versions are kept in :attr:`edits`."""
        body = request[BODY] or {}
        found = self.messages.get(request.match_info["mid"])
        if found is None or found["channel_id"] != request.match_info["channel"]:
            return respond({"message": "Unknown Message", "code": 10008}, 404)
        if found["author"]["id"] != str(BOT_ID):
            return respond({"message": "Cannot edit a message authored by another user", "code": 50005}, 403)
        self.edits.setdefault(found["id"], []).append(dict(found))
        found |= {key: body[key] for key in ("content", "embeds", "components") if key in body}
        found["edited_timestamp"] = TIMESTAMP
        return respond(found)

    def _guild_channel(self, channel: str) -> dict[str, Any] | None:
        return next((c for c in self.guild["channels"] if c["id"] == channel), None)

    async def _channel(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        dm = next((c for c in self.dm_channels.values() if c["id"] == channel), None)
        found = self._guild_channel(channel) or self.threads.get(channel) or dm
        if found is None:
            return respond({"message": "Unknown Channel", "code": 10003}, 404)
        return respond(found | ({"guild_id": str(GUILD_ID)} if found is not dm else {}))

    async def _channel_messages(self, request: web.Request) -> web.Response:
        """GET messages: newest first, ``after`` and ``limit`` as on Discord (no nonces in them)."""
        channel = request.match_info["channel"]
        if self._guild_channel(channel) is None and channel not in self.threads:
            return respond({"message": "Unknown Channel", "code": 10003}, 404)
        after = int(request.query.get("after") or 0)
        limit = int(request.query.get("limit") or 50)
        found = [m for m in reversed(self.channel_messages(channel)) if int(m["id"]) > after]
        return respond([{k: v for k, v in m.items() if k != "nonce"} for m in found[:limit]])

    async def _create_thread(self, request: web.Request) -> web.Response:
        """Start a thread without a message (private: type 12), in a text channel of the guild."""
        body = request[BODY] or {}
        parent = self._guild_channel(request.match_info["channel"])
        if parent is None:
            return respond({"message": "Unknown Channel", "code": 10003}, 404)
        name = str(body.get("name") or "")
        if not 1 <= len(name) <= 100 or body.get("type") not in (11, 12):
            return respond({"message": "Invalid Form Body", "code": 50035}, 400)
        if parent["type"] != 0 or body.get("auto_archive_duration") not in (None, 60, 1440, 4320, 10080):
            return respond({"message": "Cannot execute action on this channel type", "code": 50024}, 400)
        tid = str(next(self._ids))
        metadata = {"archived": False, "auto_archive_duration": body.get("auto_archive_duration") or 1440}
        metadata |= {"archive_timestamp": TIMESTAMP, "locked": False, "create_timestamp": TIMESTAMP}
        if body["type"] == 12:
            metadata["invitable"] = bool(body.get("invitable", True))
        thread = {"id": tid, "type": body["type"], "guild_id": str(GUILD_ID), "parent_id": parent["id"]}
        thread |= {"owner_id": str(BOT_ID), "name": name, "last_message_id": None, "rate_limit_per_user": 0}
        thread |= {"message_count": 0, "member_count": 1, "flags": 0, "thread_metadata": metadata}
        thread["member"] = {"id": tid, "user_id": str(BOT_ID), "join_timestamp": TIMESTAMP, "flags": 0}
        self.threads[tid] = thread
        self.thread_members[tid] = []
        return respond(thread, 201)

    async def _add_thread_member(self, request: web.Request) -> web.Response:
        tid, user = request.match_info["channel"], request.match_info["user"]
        if tid not in self.threads:
            return respond({"message": "Unknown Channel", "code": 10003}, 404)
        if user not in self.thread_members[tid]:
            self.thread_members[tid].append(user)
            self.threads[tid]["member_count"] += 1
            added = self._message({"content": ""}, kind=7)  # "careerbot added someone to the thread"
            added |= {"channel_id": tid, "guild_id": str(GUILD_ID), "mentions": [{"id": user}]}
        return web.Response(status=204)

    async def _active_threads(self, request: web.Request) -> web.Response:
        """The guild's active threads the bot can see (here: every thread it made), newest first."""
        threads = [t for t in self.threads.values() if not t["thread_metadata"]["archived"]]
        threads.sort(key=lambda t: int(t["id"]), reverse=True)
        members = [{"id": t["id"], "user_id": str(BOT_ID), "join_timestamp": TIMESTAMP, "flags": 0} for t in threads]
        return respond({"threads": threads, "members": members})

    def add_member(self, user: str | int, *, bot: bool = False, roles: Sequence[str] = ()) -> None:
        """``user`` is a member of the guild (a bot account with ``bot=True``), for member look-ups."""
        who = USER | {"id": str(user), "username": f"user{str(user)[-4:]}", "global_name": None, "bot": bot}
        self.guild_members[str(user)] = MEMBER | {"user": who, "roles": list(roles)}

    async def _guild_member(self, request: web.Request) -> web.Response:
        """One member of the guild by id (no intent needed on Discord); 404 10007 for anyone else."""
        found = self.guild_members.get(request.match_info["user"])
        if request.match_info["guild"] != str(GUILD_ID) or found is None:
            return respond({"message": "Unknown Member", "code": 10007}, 404)
        return respond({k: v for k, v in found.items() if k != "permissions"})

    async def _create_dm(self, request: web.Request) -> web.Response:
        """The bot's DM channel with a user: the same one every time."""
        user = str((request[BODY] or {}).get("recipient_id") or "")
        if not user.isdigit():
            return respond({"message": "Invalid Form Body", "code": 50035}, 400)
        if user not in self.dm_channels:
            recipient = USER | {"id": user, "username": f"user{user[-4:]}", "global_name": None}
            self.dm_channels[user] = {"id": str(next(self._ids)), "type": 1, "last_message_id": None}
            self.dm_channels[user]["recipients"] = [recipient]
        return respond(self.dm_channels[user])

    async def remove_guild(self) -> None:
        """The bot is removed from the guild (kicked, or the guild deleted): ``GUILD_DELETE``."""
        await self.dispatch("GUILD_DELETE", {"id": str(GUILD_ID), "guild_id": str(GUILD_ID)})

    # ------------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        session = Session(ws)
        self.sessions.append(session)
        await session.send(10, {"heartbeat_interval": 41250})
        async for frame in ws:
            if frame.type is not WSMsgType.TEXT:
                continue
            payload = json.loads(frame.data)
            if payload["op"] == 1:
                await session.send(11, None)
            elif payload["op"] == 2:
                await self._identify(session, payload["d"])
            elif payload["op"] == 6:
                await self._resume(session, payload["d"])
        async with self._changed:
            self._changed.notify_all()
        return ws

    async def _identify(self, session: Session, data: dict[str, Any]) -> None:
        if data.get("token") != self.token:
            await session.ws.close(code=4004, message=b"Authentication failed.")
            return
        session.identify = data
        session.shard = (data.get("shard") or [0, 1])[0], (data.get("shard") or [0, 1])[1]
        session.session_id = f"session-{len(self.sessions)}"
        ready = {
            "v": 10,
            "user": BOT_USER,
            "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
            "session_id": session.session_id,
            "resume_gateway_url": f"ws://127.0.0.1:{self.port}/gateway",
            "application": {"id": str(APP_ID), "flags": 0},
            "shard": list(session.shard),
            "private_channels": [],
            "relationships": [],
        }
        await session.send(0, ready, "READY")
        if (GUILD_ID >> 22) % session.shard[1] == session.shard[0]:
            await session.send(0, self.guild, "GUILD_CREATE")
        session.identified = True
        async with self._changed:
            self._changed.notify_all()

    async def _resume(self, session: Session, data: dict[str, Any]) -> None:
        """RESUME after a dropped connection: the same session carries on, with nothing missed."""
        prior = next((s for s in self.sessions if s.session_id == data.get("session_id")), None)
        if data.get("token") != self.token or prior is None:
            await session.send(9, False)  # invalid session: the client identifies afresh
            return
        session.identify, session.shard, session.session_id = prior.identify, prior.shard, prior.session_id
        session.seq, session.resumed = int(data.get("seq") or 0), True
        await session.send(0, {}, "RESUMED")
        session.identified = True
        async with self._changed:
            self._changed.notify_all()

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a gateway event to the session whose shard owns the event's guild."""
        guild = int(data.get("guild_id") or 0)
        live = self.live()
        if not live:
            raise RuntimeError("no client is connected to the fake gateway")
        session = next((s for s in live if (guild >> 22) % s.shard[1] == s.shard[0]), live[0])
        await session.send(0, data, event)

    # ------------------------------------------------------------------ interactions

    def _interaction(
        self, kind: int, data: dict[str, Any], *, dm: bool = False, user: dict[str, Any] = USER
    ) -> dict[str, Any]:
        iid = next(self._ids)
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(APP_ID),
            "type": kind,
            "data": data,
            "token": f"token-{iid}",
            "version": 1,
            "locale": "en-US",
            "app_permissions": "2147483647",
            "entitlements": [],
            "attachment_size_limit": 8388608,
        }
        if dm:
            payload |= {"channel_id": "1", "channel": {"id": "1", "type": 1, "recipients": [user]}, "user": user}
            payload |= {"context": 1, "authorizing_integration_owners": {"1": str(user["id"])}}
        else:
            payload |= {"guild_id": str(GUILD_ID), "channel_id": str(CHANNEL_ID), "channel": CHANNEL}
            member = MEMBER | {"user": user, "permissions": self.member_permissions}
            payload |= {"member": member, "guild_locale": "en-US", "context": 0}
            payload |= {"authorizing_integration_owners": {"0": str(GUILD_ID)}}
        self._interactions[iid] = {"type": kind, "token": payload["token"]}
        return payload

    @staticmethod
    def options(values: dict[str, Any], focused: str | None = None) -> list[dict[str, Any]]:
        out = []
        for name, value in values.items():
            option = {"name": name, "type": OPTION_TYPES[type(value)], "value": value}
            out.append(option | ({"focused": True} if name == focused else {}))
        return out

    def command_payload(
        self,
        name: str,
        values: dict[str, Any] | None = None,
        *,
        group: str | None = None,
        dm: bool = False,
        user: dict[str, Any] = USER,
    ) -> dict[str, Any]:
        """An INTERACTION_CREATE payload for a slash command (``group`` for ``/group name``)."""
        options = self.options(values or {})
        if group is not None:
            options, name = [{"name": name, "type": 1, "options": options}], group
        data = {"id": str(next(self._ids)), "name": name, "type": 1, "options": options}
        return self._interaction(2, data, dm=dm, user=user)

    async def slash(
        self,
        name: str,
        values: dict[str, Any] | None = None,
        *,
        group: str | None = None,
        dm: bool = False,
        user: dict[str, Any] = USER,
    ) -> int:
        """Dispatch a slash command (by ``user``); returns the interaction id."""
        payload = self.command_payload(name, values, group=group, dm=dm, user=user)
        await self.dispatch("INTERACTION_CREATE", payload)
        return int(payload["id"])

    def arrival(self, iid: int) -> asyncio.Future[float]:
        """A future set to ``time.perf_counter()`` when interaction ``iid``'s callback arrives."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._arrivals[iid] = future
        return future

    async def autocomplete(self, name: str, values: dict[str, Any], focused: str, *, group: str | None = None) -> int:
        options = self.options(values, focused)
        if group is not None:
            options, name = [{"name": name, "type": 1, "options": options}], group
        payload = self._interaction(4, {"id": str(next(self._ids)), "name": name, "type": 1, "options": options})
        await self.dispatch("INTERACTION_CREATE", payload)
        return int(payload["id"])

    async def click(self, message: dict[str, Any], custom_id: str, *, user: dict[str, Any] = USER) -> int:
        """Press the button ``custom_id`` on ``message`` (a message payload this fake created), where
        it is: the guild channel, a thread of it, or a DM channel."""
        dm = next((c for c in self.dm_channels.values() if c["id"] == message.get("channel_id")), None)
        payload = self._interaction(3, {"custom_id": custom_id, "component_type": 2}, user=user, dm=dm is not None)
        thread = self.threads.get(str(message.get("channel_id")))
        if thread is not None:
            payload |= {"channel_id": thread["id"], "channel": thread}
        elif dm is not None:
            payload |= {"channel_id": dm["id"], "channel": {"id": dm["id"], "type": 1, "recipients": [user]}}
        payload["message"] = message
        await self.dispatch("INTERACTION_CREATE", payload)
        return int(payload["id"])

    async def submit(
        self,
        custom_id: str,
        components: list[dict[str, Any]],
        *,
        user: dict[str, Any] = USER,
        dm: bool = False,
    ) -> int:
        """Submit a modal (interaction type 5): ``components`` as Discord sends them, e.g. labels
        ``{"type": 18, "component": {"type": 4, "custom_id": "bio", "value": "..."}}``."""
        payload = self._interaction(5, {"custom_id": custom_id, "components": components}, user=user, dm=dm)
        await self.dispatch("INTERACTION_CREATE", payload)
        return int(payload["id"])

    async def say(
        self,
        content: str,
        *,
        mentions: Sequence[dict[str, Any]] = (),
        author: dict[str, Any] = USER,
        dm: bool = False,
    ) -> str:
        """A user posts ``content`` in the guild channel (or a DM); ``mentions`` are the users it pings."""
        mid = str(next(self._ids))
        message = self._message({"content": content}) | {"id": mid, "author": author}
        message["mentions"] = [m | ({} if dm else {"member": MEMBER}) for m in mentions]
        if dm:
            message["channel_id"] = "1"
        else:
            message |= {"guild_id": str(GUILD_ID), "member": MEMBER}
        await self.dispatch("MESSAGE_CREATE", message)
        return mid

    async def response(self, iid: int, timeout: float = 5.0) -> dict[str, Any]:
        """The accepted callback body for interaction ``iid`` (its ``data`` is the message)."""
        path = rf"/interactions/{iid}/[^/]+/callback"
        calls = await self.wait_for(lambda: self.find("POST", path), timeout)
        body: dict[str, Any] = calls[0].body
        return body

    async def reply(self, iid: int, timeout: float = 5.0) -> dict[str, Any]:
        """The message that answers interaction ``iid``, following a deferral to its follow-up."""
        body = await self.response(iid, timeout)
        if body["type"] != 5:
            data: dict[str, Any] = body.get("data") or {}
            return data
        token = re.escape(self._interactions[iid]["token"])
        calls = await self.wait_for(lambda: self.find("POST", rf"/webhooks/\d+/{token}"), timeout)
        followup: dict[str, Any] = calls[0].body
        return followup

    def message_for(self, iid: int) -> dict[str, Any]:
        """The message the fake created to answer interaction ``iid`` (pass it to :meth:`click`)."""
        return self._by_token[self._interactions[iid]["token"]]
