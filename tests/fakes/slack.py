"""A fake Slack Web API on 127.0.0.1, for the Slack adapter tests, the daily-tips tests and the benchmarks.

It answers ``auth.test``, ``chat.postMessage``, ``chat.postEphemeral``, ``apps.connections.open``,
``users.info``, ``views.open`` (the view recorded in the call; ``fail("views.open", "expired_trigger_id")``
for an expired trigger), ``conversations.members`` (a channel's ``members``, paged with ``cursor``),
``chat.update`` (a message of a channel's history rewritten in place, its earlier versions in its
``edits``), ``views.publish`` (a home tab, checked as Slack checks it, kept in
:attr:`FakeSlack.homes`), ``conversations.info``, ``conversations.list``, ``conversations.open`` and
``conversations.history`` under
``/api/`` (GET or POST, form or JSON, as slack_sdk sends them), ``response_url`` posts under
``/response/{id}``, a Socket Mode websocket at ``/link``, and ``GET /stats`` (:meth:`FakeSlack.summary`).

    async with FakeSlack() as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        slack.fail("chat.postMessage", status=429, retry_after=1)
        ...
        call = await slack.wait_for("chat.postMessage")

Workspaces: a token ``xoxb-<team>`` with nothing after the team (``xoxb-T1``) belongs to workspace
``<team>``; any other token (``xoxb-1111-2222-secret``, an ``xapp-`` token) to :data:`TEAM_ID`.
Channels, users and messages are per workspace; :meth:`FakeSlack.channel` and :meth:`FakeSlack.user`
take ``(team, id)``, or just ``id`` for :data:`TEAM_ID`. Every channel exists with the bot in it, and
every user is a plain member in UTC, unless they say otherwise. ``chat.postMessage`` refuses a
channel that is missing (``channel_not_found``), without the bot (``not_in_channel``) or archived
(``is_archived``), and adds the message (with its blocks and metadata) to the channel's history.

Group DMs: ``conversations.open(users="U1,U2")`` answers the same ``G...`` id for the same people in
any order (``D...`` for one person), and the conversation is a channel like the others (posts,
history; :meth:`FakeSlack.dm` finds it, :meth:`FakeSlack.dms` lists them). It refuses, as Slack does,
without saying who, a user marked ``deleted=True`` (``user_disabled``), ``exists=False``
(``user_not_found``, from ``users.info`` too), ``is_bot=True`` (``cannot_dm_bot``) or
``open_error="..."`` (that error, e.g. ``invalid_user_combination``), via :meth:`FakeSlack.user`.

Rate limits are optional: ``FakeSlack(limits=Limits())`` allows at most ``per_channel`` posts per
channel and ``per_workspace`` per workspace in any ``period`` seconds (counted on arrival, Slack's
1/s and 20/s by default) and answers the next with HTTP 429 and ``Retry-After``; ``FakeSlack()`` has none.
``Limits(methods=(("conversations.open", 50, 60.0),))`` gives other methods a tier of their own.

Every request is recorded as a :class:`Call`. :meth:`FakeSlack.fail` makes the next calls of a method
answer ``ok: false`` with a Slack error, another HTTP status (with ``Retry-After``), or a dropped connection.
Before asserting that nothing (more) was sent, ``await slack.quiesce(platform.adapter)`` waits until the
app has finished everything it started (no fixed sleep: see :meth:`FakeSlack.quiesce`).

In another process (``bench.tips_fanout``): ``python -m tests.fakes.slack [--per-channel N]
[--per-workspace N]`` prints ``PORT <n>`` and serves, with those limits, until stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import sys
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Protocol
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

BOT_USER_ID = "UBOT"
TEAM_ID = "T0TEST"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Call:
    """One request the fake received: ``method`` is an API method, ``response_url`` or ``socket_ack``."""

    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    path: str
    at: float = field(default_factory=time.monotonic)
    status: int = 200
    ok: bool = True
    """False when the fake answered with an injected fault or a 429 of its rate limits."""
    error: str | None = None
    """The Slack error the fake answered with (``ok: false``), whatever the reason."""


@dataclass
class Fault:
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    times: int = 1


@dataclass(frozen=True)
class Limits:
    """Slack's limits on ``chat.postMessage``: posts per channel and per workspace in any ``period`` seconds."""

    per_channel: int = 1
    per_workspace: int = 20
    period: float = 1.0
    methods: tuple[tuple[str, int, float], ...] = ()
    """Other methods' tiers: ``(method, calls, seconds)``, at most ``calls`` per workspace in any
    ``seconds`` (``("conversations.open", 50, 60.0)``: Tier 3, 50+ a minute), then 429 with ``Retry-After``."""


class Idle(Protocol):
    def idle(self) -> bool: ...


class Busy(Protocol):
    """What :meth:`FakeSlack.quiesce` reads of the app: its background tasks and its answer queue."""

    @property
    def tasks(self) -> set[asyncio.Task[None]]: ...

    @property
    def answers(self) -> Idle: ...


@dataclass
class ChannelState:
    name: str
    is_member: bool = True
    is_archived: bool = False
    exists: bool = True
    messages: list[dict[str, Any]] = field(default_factory=list)
    members: tuple[str, ...] = ()
    """The people of a group DM or DM (``conversations.open``); for a channel, who
    ``conversations.members`` lists besides the bot (set with ``channel("C1", members=(...))``)."""


class FakeSlack:
    def __init__(self, *, limits: Limits | None = None) -> None:
        self.limits = limits
        self.calls: list[Call] = []
        self.faults: dict[str, list[Fault]] = {}
        self.channels: dict[tuple[str, str], ChannelState] = {}
        self.users: dict[tuple[str, str], dict[str, Any]] = {}
        self.homes: dict[tuple[str, str], dict[str, Any]] = {}
        """The home tab last published (``views.publish``) for each ``(team, user)``."""
        self.timezones: dict[tuple[str, str], str] = {}
        """``users.info``'s ``tz`` by ``(team, user)``: the same as ``user(team, user, tz=...)``."""
        self.rate_limited = 0
        """How many posts the rate limits answered with a 429."""
        self.first_post: float | None = None
        self.last_post: float | None = None
        self.sockets: list[web.WebSocketResponse] = []
        self.port = 0
        self.scopes: list[str] | None = None
        """The bot token's scopes, sent as ``x-oauth-scopes`` on ``auth.test`` (None: no header)."""
        self.clock_offset = 0.0
        """Seconds this fake's ``Date`` header is ahead of the machine's clock (a skewed host)."""
        self.list_limit: int | None = None
        """Most channels one ``conversations.list`` page holds: the request's ``limit`` (100 if none,
        at most this), the next page's ``cursor`` in ``response_metadata``, as Slack pages it. None:
        every channel on one page."""
        self._windows: dict[object, deque[float]] = {}
        self._opened: dict[tuple[str, frozenset[str]], str] = {}
        self._conversation_ids = itertools.count(1)
        self._ts = itertools.count(1)
        self._envelopes = itertools.count(1)
        self._changed = asyncio.Condition()
        self._answering = 0  # requests being answered right now (/api/ and response_url)
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self, port: int = 0) -> FakeSlack:
        app = web.Application()
        app.add_routes(
            [
                web.route("*", "/api/{method}", self._counted(self._api)),
                web.post("/response/{id}", self._counted(self._response)),
                web.get("/link", self._socket),
                web.get("/stats", self._stats),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        for ws in self.sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"{self.base_url}/response/{name}"

    # ------------------------------------------------------------------ control

    def fail(
        self,
        method: str,
        error: str | None = None,
        times: int = 1,
        *,
        status: int = 200,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (or ``"response_url"``) with this fault:
        ``ok: false`` with Slack's ``error``, or an HTTP ``status`` (0 hangs up without answering)."""
        self.faults.setdefault(method, []).append(Fault(status, error, retry_after, times))

    def channel(self, *where: str, **state: Any) -> ChannelState:
        """Set fields of a channel, by ``(team, channel)`` or ``channel`` of :data:`TEAM_ID`: ``name``,
        ``is_member``, ``is_archived``, or ``exists=False`` (then ``channel_not_found``)."""
        found = self.channels.setdefault(_where(where), ChannelState(name=where[-1].lower()))
        for key, value in state.items():
            if not hasattr(found, key):
                raise TypeError(f"a channel has no field {key!r}")
            setattr(found, key, value)
        return found

    def user(self, *where: str, **profile: Any) -> None:
        """Set fields of a user's users.info profile, by ``(team, user)`` or ``user`` of :data:`TEAM_ID`,
        e.g. ``is_admin=True``, ``tz="Europe/Berlin"``, ``deleted=True`` (disabled), ``is_bot=True``,
        ``is_restricted=True`` or ``is_ultra_restricted=True`` (guests);
        and two of the fake's own: ``exists=False`` (``user_not_found``) and ``open_error="..."``
        (what ``conversations.open`` answers for any conversation with them)."""
        self.users.setdefault(_where(where), {}).update(profile)

    # ------------------------------------------------------------------ inspection

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def posts(self, team: str | None = None, channel: str | None = None) -> list[dict[str, Any]]:
        """The messages in the channels' histories (``chat.postMessage``), oldest first per channel."""
        return [
            m
            for (t, c), state in self.channels.items()
            if (team is None or t == team) and (channel is None or c == channel)
            for m in state.messages
        ]

    def dm(self, *users: str, team: str = TEAM_ID) -> str | None:
        """The id of the group DM (or DM) of ``users`` if ``conversations.open`` made it."""
        return self._opened.get((team, frozenset(users)))

    def dms(self, team: str = TEAM_ID) -> dict[str, ChannelState]:
        """Every group DM and DM ``conversations.open`` made in ``team``, by id."""
        return {c: self.channels[(t, c)] for (t, _), c in self._opened.items() if t == team}

    @property
    def history(self) -> dict[str, list[dict[str, Any]]]:
        """The messages of each channel of :data:`TEAM_ID`, by channel id."""
        return {c: state.messages for (t, c), state in self.channels.items() if t == TEAM_ID and state.messages}

    def summary(self) -> dict[str, Any]:
        """What the benchmarks read from ``GET /stats``; ``calls`` counts the successful calls per method."""
        per_channel = Counter({f"{t}/{c}": len(s.messages) for (t, c), s in self.channels.items() if s.messages})
        keys = Counter(key for m in self.posts() if (key := _post_key(m)) is not None)
        return {
            "posts": sum(per_channel.values()),
            "channels": len(per_channel),
            "duplicate_channels": sum(1 for n in per_channel.values() if n > 1),
            "duplicate_keys": sum(1 for n in keys.values() if n > 1),
            "rate_limited": self.rate_limited,
            "first_post": self.first_post,
            "last_post": self.last_post,
            "calls": dict(Counter(c.method for c in self.calls if c.ok)),
            "cpu_seconds": time.process_time(),
        }

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> Call:
        """The ``count``-th successful call of ``method``, waiting up to ``timeout`` seconds for it."""

        def done() -> bool:
            return len([c for c in self.of(method) if c.ok]) >= count

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(done), timeout)
        return [c for c in self.of(method) if c.ok][count - 1]

    async def quiesce(self, app: Busy, timeout: float = 10.0) -> None:
        """Return once ``app`` (the Slack adapter, :class:`~adapters.slack_bot.listeners.SlackAdapter`)
        has nothing left that could still call Slack: no background task (``app.tasks``), no answer
        queued or being computed (``app.answers.idle()``), and no request to this fake half answered.

        Before asserting that nothing (more) was sent: Bolt runs with ``process_before_response``, so
        a request's HTTP response comes only after its listener returned, and a listener hands every
        piece of work it leaves behind to ``app.tasks`` or ``app.answers`` before it returns (and a
        task or an answer hands on what it starts before it ends). So once the requests' responses
        are in, this returns after everything they set off has finished, each call recorded.
        ``timeout`` only stops a hang."""
        async with asyncio.timeout(timeout):
            while True:
                if app.tasks:
                    await asyncio.wait(set(app.tasks))  # then look again: they may have started more
                elif not app.answers.idle() or self._answering:
                    await asyncio.sleep(0.002)  # a worker computing an answer: no task to wait on
                else:
                    return

    async def send_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Socket Mode: push a request (``slash_commands``, ``interactive``, ``events_api``) to the
        connected app; its ack arrives as a ``socket_ack`` call carrying the same ``envelope_id``."""
        envelope_id = f"env-{next(self._envelopes)}"
        message = {"envelope_id": envelope_id, "type": kind, "payload": payload, "accepts_response_payload": True}
        await self.sockets[-1].send_json(message)
        return envelope_id

    # ------------------------------------------------------------------ handlers

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}})
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                await self._record(Call("socket_ack", json.loads(message.data), {}, request.path))
        return ws

    def _counted(self, handler: Handler) -> Handler:
        """``handler``, counted in :attr:`_answering` while it runs (for :meth:`quiesce`)."""

        async def counted(request: web.Request) -> web.StreamResponse:
            self._answering += 1
            try:
                return await handler(request)
            finally:
                self._answering -= 1

        return counted

    def _fault(self, method: str) -> Fault | None:
        queue = self.faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        return fault

    async def _record(self, call: Call) -> None:
        self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        body: dict[str, Any] = dict(request.query)
        raw = await request.text()
        if request.content_type == "application/json":
            body.update(json.loads(raw) if raw else {})
        else:
            body.update(parse_qsl(raw))
        return body

    @staticmethod
    def _team(request: web.Request) -> str | None:
        """The workspace of the request's token; None without a token."""
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not token:
            return None
        team = token.removeprefix("xoxb-")
        return team if token.startswith("xoxb-") and team and "-" not in team else TEAM_ID

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        fault = self._fault(method)
        body = await self._body(request)
        team = self._team(request)
        if fault is not None and fault.status == 0:
            response = self._hang_up(request)
        elif fault is not None and fault.status != 200:
            error = _error(fault.error or "ratelimited")
            response = web.json_response(error, status=fault.status, headers=_retry_after(fault))
        elif fault is not None:
            response = web.json_response(_error(fault.error or "fatal_error"))
        elif team is None:
            response = web.json_response(_error("not_authed"))
        elif (wait := self._over_tier(team, method)) is not None:
            self.rate_limited += 1
            response = web.json_response(_error("ratelimited"), status=429, headers={"Retry-After": wait})
        elif method == "chat.postMessage":
            response = self._post(team, body)
        else:
            response = web.json_response(self._answer(method, team, body))
            if method == "auth.test" and self.scopes is not None:
                response.headers["x-oauth-scopes"] = ",".join(self.scopes)
        if self.clock_offset:
            response.headers["Date"] = formatdate(time.time() + self.clock_offset, usegmt=True)
        ok = fault is None and response.status == 200
        answer = json.loads(response.body) if isinstance(response.body, bytes) and response.body[:1] == b"{" else {}
        call = Call(method, body, dict(request.headers), request.path, status=response.status, ok=ok)
        call.error = answer.get("error")
        await self._record(call)
        return response

    @staticmethod
    def _hang_up(request: web.Request) -> web.Response:
        """Drop the connection without an answer: the client sees a disconnected server."""
        assert request.transport is not None
        request.transport.close()
        return web.Response(status=500)

    def _answer(self, method: str, team: str, body: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://careerbot-test.slack.com/",
                "team": "Test",
                "user": "careerbot",
                "team_id": team,
                "user_id": BOT_USER_ID,
                "bot_id": "BBOT",
                "is_enterprise_install": False,
            }
        if method == "chat.postEphemeral":
            ts = self._next_ts()
            return {"ok": True, "channel": body.get("channel"), "ts": ts, "message_ts": ts, "message": body}
        if method == "views.open":
            view = body.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            if not body.get("trigger_id") or not isinstance(view, dict):
                return _error("invalid_arguments")
            return {"ok": True, "view": {**view, "id": f"V{next(self._ts):09d}"}}
        if method == "chat.update":
            return self._update(team, body)
        if method == "views.publish":
            return self._publish(team, body)
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"}
        if method == "users.info":
            return self._user_info(team, str(body.get("user", "")))
        if method == "conversations.info":
            channel = str(body.get("channel", ""))
            state = self._lookup(team, channel)
            return {"ok": True, "channel": _info(channel, state)} if state.exists else _error("channel_not_found")
        if method == "conversations.members":
            return self._members(team, body)
        if method == "conversations.list":
            listed = [_info(c, s) for (t, c), s in self.channels.items() if t == team and s.exists]
            if self.list_limit is not None:
                return _page(listed, body, self.list_limit, "channels")
            return {"ok": True, "channels": listed, "response_metadata": {"next_cursor": ""}}
        if method == "conversations.open":
            return self._open(team, body)
        if method == "conversations.history":
            state = self._lookup(team, str(body.get("channel")))
            oldest = float(body.get("oldest") or 0)
            found = [m for m in reversed(state.messages) if float(m["ts"]) >= oldest]
            return {"ok": True, "messages": found, "has_more": False, "response_metadata": {"next_cursor": ""}}
        return _error("unknown_method")

    def _open(self, team: str, body: dict[str, Any]) -> dict[str, Any]:
        """``conversations.open``: the group DM (or DM) of ``users``, made on first use."""
        users = [u.strip() for u in str(body.get("users") or "").split(",") if u.strip()]
        if not users:
            return _error("users_list_not_supplied")
        if len(users) > 8:
            return _error("too_many_users")
        for user in users:  # Slack names the first problem, never the person
            profile = self.users.get((team, user), {})
            if profile.get("exists") is False:
                return _error("user_not_found")
            if profile.get("deleted"):
                return _error("user_disabled")
            if profile.get("is_bot"):
                return _error("cannot_dm_bot")
            if profile.get("open_error"):
                return _error(str(profile["open_error"]))
        key = (team, frozenset(users))
        known = self._opened.get(key)
        already = known is not None
        if known is None:
            prefix = "D" if len(key[1]) == 1 else "G"
            known = self._opened[key] = f"{prefix}{next(self._conversation_ids):09d}"
            name = "mpdm-" + "--".join(u.lower() for u in users) if prefix == "G" else known.lower()
            self.channels[(team, known)] = ChannelState(name=name, members=tuple(users))
        return {"ok": True, "channel": {"id": known}, "already_open": already}

    def _update(self, team: str, body: dict[str, Any]) -> dict[str, Any]:
        """``chat.update``: a message in a channel's history gets new text and blocks (``ts`` kept;
        the old ones in ``edits``); ``channel_not_found`` or ``message_not_found`` as Slack says."""
        state = self.channels.get((team, str(body.get("channel"))))
        if state is None or not state.exists:
            return _error("channel_not_found")
        found = next((m for m in state.messages if m["ts"] == str(body.get("ts"))), None)
        if found is None:
            return _error("message_not_found")
        blocks = body.get("blocks")
        found.setdefault("edits", []).append({"text": found["text"], "blocks": found["blocks"]})
        found["text"] = body.get("text", "")
        found["blocks"] = json.loads(blocks) if isinstance(blocks, str) else blocks
        return {"ok": True, "channel": body.get("channel"), "ts": found["ts"], "text": found["text"], "message": found}

    def _publish(self, team: str, body: dict[str, Any]) -> dict[str, Any]:
        """``views.publish``: a home tab for ``user_id``, refused as Slack refuses one (not a ``home``
        view, over 100 blocks, a block without a type, no user); the last one per user is kept in
        :attr:`homes`."""
        view = body.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        user = str(body.get("user_id") or "")
        if not user:
            return _error("invalid_arguments")
        if not isinstance(view, dict) or view.get("type") != "home" or not isinstance(view.get("blocks"), list):
            return _error("invalid_arguments")
        if len(view["blocks"]) > 100 or not all(isinstance(b, dict) and b.get("type") for b in view["blocks"]):
            return _error("invalid_blocks")
        if self.users.get((team, user), {}).get("exists") is False:
            return _error("user_not_found")
        self.homes[(team, user)] = view
        return {"ok": True, "view": {**view, "id": f"V{next(self._ts):09d}", "team_id": team}}

    def _members(self, team: str, body: dict[str, Any]) -> dict[str, Any]:
        """``conversations.members``: a channel's ``members`` (and the bot, if it is in it), ``limit``
        a page (100 by default, at most 1,000), the next page's ``cursor`` in ``response_metadata``."""
        state = self._lookup(team, str(body.get("channel")))
        if not state.exists:
            return _error("channel_not_found")
        everyone = [*state.members, *([BOT_USER_ID] if state.is_member and BOT_USER_ID not in state.members else [])]
        cursor = str(body.get("cursor") or "")
        if cursor and not cursor.startswith("page:"):
            return _error("invalid_cursor")
        start = int(cursor.removeprefix("page:") or 0)
        limit = min(max(int(body.get("limit") or 100), 1), 1000)
        following = f"page:{start + limit}" if start + limit < len(everyone) else ""
        page = everyone[start : start + limit]
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": following}}

    def _user_info(self, team: str, user: str) -> dict[str, Any]:
        if not user:
            return _error("user_not_found")
        own = self.users.get((team, user), {})
        if own.get("exists") is False:
            return _error("user_not_found")
        profile = {"is_admin": False, "is_owner": False, "is_primary_owner": False, "tz": "UTC"}
        profile |= {k: v for k, v in own.items() if k not in ("exists", "open_error")}
        if (team, user) in self.timezones:
            profile["tz"] = self.timezones[(team, user)]
        return {"ok": True, "user": {"id": user, "name": user.lower(), "team_id": team, **profile}}

    def _lookup(self, team: str, channel: str) -> ChannelState:
        """A channel's state; one never set up nor posted to is a default one, not kept."""
        return self.channels.get((team, channel)) or ChannelState(name=channel.lower())

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _post(self, team: str, body: dict[str, Any]) -> web.Response:
        channel = str(body.get("channel"))
        state = self._lookup(team, channel)
        if not state.exists:
            return web.json_response(_error("channel_not_found"))
        if not state.is_member:
            return web.json_response(_error("not_in_channel"))
        if state.is_archived:
            return web.json_response(_error("is_archived"))
        now = time.monotonic()
        if self.limits is not None and (wait := self._over_limits(team, channel, now)) is not None:
            self.rate_limited += 1
            headers = {"Retry-After": str(max(1, math.ceil(wait)))}
            return web.json_response(_error("ratelimited"), status=429, headers=headers)
        self.first_post = self.first_post or now
        self.last_post = now
        ts = self._next_ts()
        message = {
            "ts": ts,
            "text": body.get("text", ""),
            "blocks": body.get("blocks"),
            "metadata": body.get("metadata"),
        }
        self.channels.setdefault((team, channel), state).messages.append(message)
        return web.json_response({"ok": True, "channel": channel, "ts": ts, "message_ts": ts, "message": message})

    def _over_limits(self, team: str, channel: str, now: float) -> float | None:
        """Seconds until a post may go when one now would exceed the limits; else None, and it counts."""
        assert self.limits is not None
        limits = self.limits
        workspace = self._windows.setdefault(team, deque())
        recent = self._windows.setdefault((team, channel), deque())
        for window in (workspace, recent):
            while window and window[0] <= now - limits.period:
                window.popleft()
        full = [w for w, limit in ((workspace, limits.per_workspace), (recent, limits.per_channel)) if len(w) >= limit]
        if full:
            return max(w[0] + limits.period - now for w in full)
        workspace.append(now)
        recent.append(now)
        return None

    def _over_tier(self, team: str, method: str) -> str | None:
        """``Retry-After`` (whole seconds, as Slack sends it) when a call of ``method`` now would
        exceed its tier in :attr:`Limits.methods`; else None, and it counts."""
        tier = next((t for t in self.limits.methods if t[0] == method), None) if self.limits else None
        if tier is None:
            return None
        _, calls, seconds = tier
        now = time.monotonic()
        window = self._windows.setdefault((team, method, "tier"), deque())
        while window and window[0] <= now - seconds:
            window.popleft()
        if len(window) >= calls:
            return str(max(1, math.ceil(window[0] + seconds - now)))
        window.append(now)
        return None

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.summary())

    async def _response(self, request: web.Request) -> web.Response:
        fault = self._fault("response_url")
        body = await self._body(request)
        if fault is not None and fault.status == 0:
            response = self._hang_up(request)
        elif fault is not None and fault.status != 200:
            text = fault.error or "rate_limited"
            response = web.Response(status=fault.status, text=text, headers=_retry_after(fault))
        else:
            response = web.Response(text="ok")
        call = Call("response_url", body, dict(request.headers), request.path, status=response.status, ok=fault is None)
        await self._record(call)
        return response


def _where(where: tuple[str, ...]) -> tuple[str, str]:
    """``(team, id)`` from ``(team, id)`` or ``(id,)`` of :data:`TEAM_ID`."""
    if len(where) == 1:
        return TEAM_ID, where[0]
    if len(where) == 2:
        return where[0], where[1]
    raise TypeError(f"expected (team, id) or (id,), got {where!r}")


def _page(items: list[Any], body: dict[str, Any], most: int, key: str) -> dict[str, Any]:
    """One page of ``items`` as Slack pages a list: ``limit`` (100 if none, at most ``most``) from
    ``cursor`` (``page:<n>``), the next page's cursor in ``response_metadata`` ("" on the last)."""
    cursor = str(body.get("cursor") or "")
    if cursor and not cursor.startswith("page:"):
        return _error("invalid_cursor")
    start = int(cursor.removeprefix("page:") or 0)
    limit = min(max(int(body.get("limit") or 100), 1), most)
    following = f"page:{start + limit}" if start + limit < len(items) else ""
    return {"ok": True, key: items[start : start + limit], "response_metadata": {"next_cursor": following}}


def _retry_after(fault: Fault) -> dict[str, str]:
    return {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}


def _error(error: str) -> dict[str, Any]:
    return {"ok": False, "error": error}


def _info(channel: str, state: ChannelState) -> dict[str, Any]:
    return {"id": channel, "name": state.name, "is_member": state.is_member, "is_archived": state.is_archived}


def _post_key(message: dict[str, Any]) -> str | None:
    """The key a daily tip post carries in its metadata, if any."""
    metadata = message.get("metadata")
    if not isinstance(metadata, dict):
        return None
    key = (metadata.get("event_payload") or {}).get("key")
    return str(key) if key is not None else None


async def _serve(limits: Limits) -> None:
    fake = await FakeSlack(limits=limits).start()
    print(f"PORT {fake.port}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until stdin closes
    await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-channel", type=int, default=Limits.per_channel)
    parser.add_argument("--per-workspace", type=int, default=Limits.per_workspace)
    args = parser.parse_args()
    asyncio.run(_serve(Limits(per_channel=args.per_channel, per_workspace=args.per_workspace)))


if __name__ == "__main__":
    main()
