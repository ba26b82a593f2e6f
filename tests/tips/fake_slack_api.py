"""A fake Slack Web API for daily tips, on 127.0.0.1, enforcing Slack-like rate limits.

It serves ``chat.postMessage`` (at most ``per_channel`` posts per channel and ``per_workspace`` per
workspace in any ``period`` seconds, counted on arrival; beyond that HTTP 429 with ``Retry-After``),
``conversations.history`` (with message metadata), ``conversations.info``, ``conversations.list``
and ``users.info``. A token ``xoxb-<team>`` belongs to workspace ``<team>``. Every channel exists and
has the bot as a member unless :meth:`FakeSlackAPI.channel` says otherwise.

In a test: ``async with FakeSlackAPI() as slack: ... slack.posts(team, channel)``.
In another process (the benchmark): ``python -m tests.tips.fake_slack_api`` prints ``PORT <n>`` and
serves until stdin closes; ``GET /stats`` reports counts.
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
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web


@dataclass
class ChannelState:
    name: str
    is_member: bool = True
    is_archived: bool = False
    exists: bool = True
    messages: list[dict[str, Any]] = field(default_factory=list)
    last: float = -math.inf


class FakeSlackAPI:
    def __init__(self, *, per_channel: int = 1, per_workspace: int = 20, period: float = 1.0) -> None:
        self.per_channel = per_channel
        self.per_workspace = per_workspace
        self.period = period
        self.channels: dict[tuple[str, str], ChannelState] = {}
        self.windows: dict[str, deque[float]] = {}
        self.channel_windows: dict[tuple[str, str], deque[float]] = {}
        self.calls: Counter[str] = Counter()
        self.rate_limited = 0
        self.first_post: float | None = None
        self.last_post: float | None = None
        self.faults: dict[str, list[str]] = {}
        self.timezones: dict[tuple[str, str], str] = {}
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self, port: int = 0) -> FakeSlackAPI:
        app = web.Application()
        app.add_routes([web.route("*", "/api/{method}", self._api), web.get("/stats", self._stats)])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeSlackAPI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    # ------------------------------------------------------------------ control and inspection

    def channel(self, team: str, channel: str, **state: Any) -> ChannelState:
        found = self._channel(team, channel)
        for key, value in state.items():
            setattr(found, key, value)
        return found

    def fail(self, method: str, error: str, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with ``ok: false`` and ``error``."""
        self.faults.setdefault(method, []).extend([error] * times)

    def posts(self, team: str | None = None, channel: str | None = None) -> list[dict[str, Any]]:
        return [
            m
            for (t, c), state in self.channels.items()
            if (team is None or t == team) and (channel is None or c == channel)
            for m in state.messages
        ]

    def summary(self) -> dict[str, Any]:
        per_channel = Counter({f"{t}/{c}": len(s.messages) for (t, c), s in self.channels.items() if s.messages})
        keys = Counter(m["metadata"]["event_payload"]["key"] for m in self.posts() if m.get("metadata"))
        return {
            "posts": sum(per_channel.values()),
            "channels": len(per_channel),
            "duplicate_channels": sum(1 for n in per_channel.values() if n > 1),
            "duplicate_keys": sum(1 for n in keys.values() if n > 1),
            "rate_limited": self.rate_limited,
            "first_post": self.first_post,
            "last_post": self.last_post,
            "calls": dict(self.calls),
            "cpu_seconds": time.process_time(),
        }

    # ------------------------------------------------------------------ handlers

    def _channel(self, team: str, channel: str) -> ChannelState:
        key = (team, channel)
        if key not in self.channels:
            self.channels[key] = ChannelState(name=channel.lower())
        return self.channels[key]

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            raw = await request.text()
            if request.content_type == "application/json":
                args.update(json.loads(raw) if raw else {})
            else:
                args.update(parse_qsl(raw))
        return args

    @staticmethod
    def _ok(**body: Any) -> web.Response:
        return web.json_response({"ok": True, **body})

    @staticmethod
    def _error(error: str) -> web.Response:
        return web.json_response({"ok": False, "error": error})

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls[method] += 1
        args = await self._args(request)
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer xoxb-"):
            return self._error("invalid_auth")
        team = auth.removeprefix("Bearer xoxb-")
        if self.faults.get(method):
            return self._error(self.faults[method].pop(0))
        if method == "chat.postMessage":
            return self._post(team, args)
        if method == "conversations.history":
            state = self._channel(team, str(args.get("channel")))
            oldest = float(args.get("oldest") or 0)
            found = [m for m in reversed(state.messages) if float(m["ts"]) >= oldest]
            return self._ok(messages=found, has_more=False)
        if method in ("conversations.info", "conversations.list"):
            if method == "conversations.list":
                listed = [self._info(c, s) for (t, c), s in self.channels.items() if t == team and s.exists]
                return self._ok(channels=listed, response_metadata={"next_cursor": ""})
            state = self._channel(team, str(args.get("channel")))
            if not state.exists:
                return self._error("channel_not_found")
            return self._ok(channel=self._info(str(args.get("channel")), state))
        if method == "users.info":
            user = str(args.get("user"))
            return self._ok(user={"id": user, "tz": self.timezones.get((team, user), "America/Los_Angeles")})
        return self._error("unknown_method")

    @staticmethod
    def _info(channel: str, state: ChannelState) -> dict[str, Any]:
        return {"id": channel, "name": state.name, "is_member": state.is_member, "is_archived": state.is_archived}

    def _post(self, team: str, args: dict[str, Any]) -> web.Response:
        channel = str(args.get("channel"))
        state = self._channel(team, channel)
        if not state.exists:
            return self._error("channel_not_found")
        if not state.is_member:
            return self._error("not_in_channel")
        if state.is_archived:
            return self._error("is_archived")
        now = time.monotonic()
        workspace = self.windows.setdefault(team, deque())
        recent = self.channel_windows.setdefault((team, channel), deque())
        for window in (workspace, recent):
            while window and window[0] <= now - self.period:
                window.popleft()
        full = [w for w, limit in ((workspace, self.per_workspace), (recent, self.per_channel)) if len(w) >= limit]
        if full:
            self.rate_limited += 1
            wait = max(w[0] + self.period - now for w in full)
            headers = {"Retry-After": str(max(1, math.ceil(wait)))}
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers=headers)
        workspace.append(now)
        recent.append(now)
        self.first_post = self.first_post or now
        self.last_post = now
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        message = {
            "ts": ts,
            "text": args.get("text", ""),
            "blocks": args.get("blocks"),
            "metadata": args.get("metadata"),
        }
        state.messages.append(message)
        return self._ok(channel=channel, ts=ts, message=message)

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.summary())


async def _serve(per_channel: int, per_workspace: int) -> None:
    fake = await FakeSlackAPI(per_channel=per_channel, per_workspace=per_workspace).start()
    print(f"PORT {fake.port}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until stdin closes
    await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-channel", type=int, default=1)
    parser.add_argument("--per-workspace", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(_serve(args.per_channel, args.per_workspace))


if __name__ == "__main__":
    main()
