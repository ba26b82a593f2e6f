"""Slack fixtures: the fake Web API, and the real Bolt app serving HTTP on a real 127.0.0.1 port,
driven with correctly signed requests, so a test reads like a user in Slack:

    message = await slack.command("/role", "ehr")
    assert message["blocks"][0]["text"]["text"] == "EHR developer"
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from adapters.slack_bot.app import SlackPlatform, load_settings
from adapters.slack_bot.http import HttpLimits
from bot.core import Core
from tests.fakes.slack import BOT_USER_ID, TEAM_ID, FakeSlack

SECRET = "0123456789abcdef0123456789abcdef"
BOT_TOKEN = "xoxb-1111-2222-secrettokenvalue"
SLACK_VARIABLES = (
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_API_URL",
    "CAREERBOT_COMMAND_PREFIX",
)


def sign(body: str, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Slack's request signature headers for ``body``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def find_button(message: dict[str, Any], label: str) -> dict[str, Any]:
    for block in message.get("blocks", []):
        for element in block.get("elements", []):
            if element.get("type") == "button" and element["text"]["text"] == label:
                return dict(element)
    labels = [e["text"]["text"] for b in message.get("blocks", []) for e in b.get("elements", []) if "text" in e]
    raise AssertionError(f"no button {label!r} in {labels}")


def texts(message: dict[str, Any]) -> str:
    """All text of a message, to assert on what a user would read."""
    out = [message.get("text", "")]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    out.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("blocks", []))
    return "\n".join(out)


class SlackHarness:
    """Talks to the running app as Slack would."""

    def __init__(self, platform: SlackPlatform, fake: FakeSlack, http: aiohttp.ClientSession) -> None:
        self.platform = platform
        self.fake = fake
        self.http = http
        self.ids = iter(range(1, 10_000))
        self.consumed: dict[str, int] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.platform.port}/slack/events"

    async def post(
        self,
        body: str,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, float]:
        """POST a raw body (signed unless ``headers`` are given); status, text and seconds taken."""
        headers = sign(body) if headers is None else headers
        started = time.monotonic()
        async with self.http.post(self.url, data=body, headers={**headers, "Content-Type": content_type}) as resp:
            return resp.status, await resp.text(), time.monotonic() - started

    def command_body(
        self, command: str, text: str = "", *, user: str = "U1", channel: str = "C1", team: str = TEAM_ID
    ) -> str:
        return urlencode(
            {
                "token": "legacy",
                "team_id": team,
                "team_domain": "test",
                "channel_id": channel,
                "channel_name": "general",
                "user_id": user,
                "user_name": "pat",
                "command": command,
                "text": text,
                "api_app_id": "A1",
                "is_enterprise_install": "false",
                "response_url": self.fake.response_url(f"cmd{next(self.ids)}"),
                "trigger_id": "1.2.3",
            }
        )

    async def next_response(self, method: str = "response_url") -> dict[str, Any]:
        """The next successful ``method`` call this harness has not returned yet (waiting for it)."""
        self.consumed[method] = self.consumed.get(method, 0) + 1
        return (await self.fake.wait_for(method, self.consumed[method])).body

    async def command(self, command: str, text: str = "", **where: str) -> dict[str, Any]:
        """Run a slash command; the message it answers with: in the ack itself, or (when the core
        was slow and the ack went out empty) through ``response_url``."""
        status, body, _ = await self.post(self.command_body(command, text, **where))
        assert status == 200, body
        if body:
            answer: dict[str, Any] = json.loads(body)
            return answer
        return await self.next_response()

    def interaction(self, payload: dict[str, Any]) -> str:
        base = {
            "user": {"id": "U1", "username": "pat", "team_id": TEAM_ID},
            "api_app_id": "A1",
            "token": "legacy",
            "team": {"id": TEAM_ID, "domain": "test"},
            "channel": {"id": "C1", "name": "general"},
            "container": {"type": "message", "message_ts": "1.1", "channel_id": "C1", "is_ephemeral": True},
            "trigger_id": "1.2.3",
            "response_url": self.fake.response_url(f"act{next(self.ids)}"),
        }
        return urlencode({"payload": json.dumps({**base, **payload})})

    async def click(self, message: dict[str, Any], label: str, **overrides: Any) -> int:
        """Press a button of ``message``; the HTTP status of the (signed) block_actions request."""
        element = find_button(message, label)
        action = {**element, "block_id": "b1", "action_ts": "1.1"}
        status, _, _ = await self.post(self.interaction({"type": "block_actions", "actions": [action], **overrides}))
        return status

    async def event(self, event: dict[str, Any], event_id: str | None = None, *, team: str = TEAM_ID) -> int:
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": team,
                "api_app_id": "A1",
                "event": event,
                "type": "event_callback",
                "event_id": event_id or f"Ev{next(self.ids)}",
                "event_time": int(time.time()),
                "authorizations": [{"team_id": team, "user_id": BOT_USER_ID, "is_bot": True}],
            }
        )
        status, _, _ = await self.post(body, content_type="application/json")
        return status


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in SLACK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as running:
        yield running


async def start_platform(
    core: Core, fake: FakeSlack, limits: HttpLimits | None = None, **settings: str
) -> tuple[SlackPlatform, asyncio.Task[None]]:
    config = load_settings(
        slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET, slack_api_url=fake.api_url, **settings
    )
    platform = SlackPlatform(core, config, port=0, host="127.0.0.1", limits=limits)
    task = asyncio.create_task(platform.run())
    await asyncio.wait_for(platform.started.wait(), 5)
    return platform, task


async def stop_platform(platform: SlackPlatform, task: asyncio.Task[None]) -> None:
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    await platform.close()


@pytest.fixture
async def slack(core: Core, fake: FakeSlack, clean_env: pytest.MonkeyPatch) -> AsyncIterator[SlackHarness]:
    platform, task = await start_platform(core, fake)
    async with aiohttp.ClientSession() as http:
        yield SlackHarness(platform, fake, http)
    await stop_platform(platform, task)
