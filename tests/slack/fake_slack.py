"""A fake Slack Web API on 127.0.0.1 for tests and the benchmark.

It answers ``auth.test``, ``chat.postMessage``, ``chat.postEphemeral``, ``apps.connections.open``,
``users.info``, ``conversations.info``, ``conversations.list`` and ``conversations.history`` under
``/api/`` (GET or POST, as slack_sdk sends them), ``response_url`` posts under ``/response/{id}``,
and a Socket Mode websocket at ``/link``; it records every call, and can be told to answer the next
calls of a method with a 429 (and ``Retry-After``), a Slack error, another HTTP status, or a dropped
connection.

    async with FakeSlack() as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        slack.fail("chat.postMessage", status=429, retry_after=1)
        ...
        call = await slack.wait_for("chat.postMessage")

Users are plain members unless :meth:`FakeSlack.user` says otherwise (``slack.user("U9",
is_admin=True)``); every channel exists with the bot in it unless :meth:`FakeSlack.channel` says
otherwise. ``chat.postMessage`` adds to the channel's history (with its message metadata).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

BOT_USER_ID = "UBOT"
TEAM_ID = "T0TEST"


@dataclass
class Call:
    """One request the fake received: ``method`` is an API method or ``response_url``."""

    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    path: str
    at: float = field(default_factory=time.monotonic)
    status: int = 200
    ok: bool = True
    """False when the fake answered with an injected fault."""


@dataclass
class Fault:
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    times: int = 1


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.faults: dict[str, list[Fault]] = {}
        self.port = 0
        self._ts = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.record = True
        self.sockets: list[web.WebSocketResponse] = []
        self._envelopes = itertools.count(1)
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}

    # ------------------------------------------------------------------ lifecycle

    async def start(self, port: int = 0) -> FakeSlack:
        app = web.Application()
        app.add_routes(
            [
                web.route("*", "/api/{method}", self._api),
                web.post("/response/{id}", self._response),
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
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (or ``"response_url"``) with this fault:
        an HTTP ``status`` (0 hangs up without answering), or ``ok: false`` with Slack's ``error``."""
        self.faults.setdefault(method, []).append(Fault(status, error, retry_after, times))

    def user(self, user: str, **profile: Any) -> None:
        """Set fields of ``user``'s users.info profile, e.g. ``is_admin=True``, ``tz="Europe/Berlin"``."""
        self.users.setdefault(user, {}).update(profile)

    def channel(self, channel: str, **info: Any) -> None:
        """Set fields of a channel's conversations.info, e.g. ``name="general"``, ``is_member=False``,
        or ``exists=False`` (then ``channel_not_found``)."""
        self.channels.setdefault(channel, {}).update(info)

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> Call:
        """The ``count``-th successful call of ``method``, waiting up to ``timeout`` seconds for it."""

        def done() -> bool:
            return len([c for c in self.of(method) if c.ok]) >= count

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(done), timeout)
        return [c for c in self.of(method) if c.ok][count - 1]

    async def settle(self, quiet: float = 0.3) -> None:
        """Wait until no call has arrived for ``quiet`` seconds."""
        seen = -1
        while seen != len(self.calls):
            seen = len(self.calls)
            await asyncio.sleep(quiet)

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
                self.calls.append(Call("socket_ack", json.loads(message.data), {}, request.path))
                async with self._changed:
                    self._changed.notify_all()
        return ws

    def _fault(self, method: str) -> Fault | None:
        queue = self.faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        return fault

    async def _record(self, request: web.Request, method: str, fault: Fault | None) -> dict[str, Any]:
        raw = await request.text()
        body: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            body.update(json.loads(raw) if raw else {})
        else:
            body.update(parse_qsl(raw))
        if self.record:
            status = fault.status if fault else 200
            self.calls.append(Call(method, body, dict(request.headers), request.path, status=status, ok=fault is None))
            async with self._changed:
                self._changed.notify_all()
        return body

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        fault = self._fault(method)
        body = await self._record(request, method, fault)
        if fault is not None and fault.status == 0:
            return self._hang_up(request)
        if fault is not None and fault.status != 200:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return web.json_response({"ok": False, "error": "ratelimited"}, status=fault.status, headers=headers)
        if fault is not None and fault.error:
            return web.json_response({"ok": False, "error": fault.error})
        if request.headers.get("Authorization", "") in ("", "Bearer "):
            return web.json_response({"ok": False, "error": "not_authed"})
        return web.json_response(self._answer(method, body))

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://careerbot-test.slack.com/",
                "team": "Test",
                "user": "careerbot",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": "BBOT",
                "is_enterprise_install": False,
            }
        if method in ("chat.postMessage", "chat.postEphemeral"):
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            if method == "chat.postMessage":
                message = {"ts": ts, "text": body.get("text", ""), "metadata": body.get("metadata")}
                self.history.setdefault(str(body.get("channel")), []).append(message)
            return {"ok": True, "channel": body.get("channel"), "ts": ts, "message_ts": ts, "message": body}
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"}
        if method == "users.info":
            user = str(body.get("user", ""))
            if not user:
                return {"ok": False, "error": "user_not_found"}
            profile = {"is_admin": False, "is_owner": False, "is_primary_owner": False, "tz": "UTC"}
            return {
                "ok": True,
                "user": {"id": user, "name": user.lower(), "team_id": TEAM_ID, **profile, **self.users.get(user, {})},
            }
        if method == "conversations.info":
            info = self._channel_info(str(body.get("channel", "")))
            return {"ok": True, "channel": info} if info else {"ok": False, "error": "channel_not_found"}
        if method == "conversations.list":
            listed = [self._channel_info(c) for c in self.channels]
            return {"ok": True, "channels": [c for c in listed if c], "response_metadata": {"next_cursor": ""}}
        if method == "conversations.history":
            oldest = float(body.get("oldest") or 0)
            found = [m for m in reversed(self.history.get(str(body.get("channel")), [])) if float(m["ts"]) >= oldest]
            return {"ok": True, "messages": found, "has_more": False, "response_metadata": {"next_cursor": ""}}
        return {"ok": False, "error": "unknown_method"}

    def _channel_info(self, channel: str) -> dict[str, Any] | None:
        info = {"id": channel, "name": channel.lower(), "is_member": True, "is_archived": False, "exists": True}
        info |= self.channels.get(channel, {})
        return info if info.pop("exists") else None

    async def _stats(self, request: web.Request) -> web.Response:
        """Successful calls per method (for the benchmark, which runs the fake in another process)."""
        counts: dict[str, int] = {}
        for call in self.calls:
            counts[call.method] = counts.get(call.method, 0) + int(call.ok)
        return web.json_response(counts)

    @staticmethod
    def _hang_up(request: web.Request) -> web.Response:
        """Drop the connection without an answer: the client sees a disconnected server."""
        assert request.transport is not None
        request.transport.close()
        return web.Response(status=500)

    async def _response(self, request: web.Request) -> web.Response:
        fault = self._fault("response_url")
        await self._record(request, "response_url", fault)
        if fault is not None and fault.status == 0:
            return self._hang_up(request)
        if fault is not None and fault.status != 200:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return web.Response(status=fault.status, text=fault.error or "rate_limited", headers=headers)
        return web.Response(text="ok")
