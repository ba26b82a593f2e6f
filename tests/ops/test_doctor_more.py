"""More of ``careerbot doctor``: a settings problem with its fix in the printed checklist, a store that
does not answer or cannot open, Socket Mode, Slack or Discord out of reach, a bot in no server, and
answers without the headers doctor reads (a proxy that strips them; a ``Date`` that is not a date)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import discord
import pytest

from adapters import doctor
from adapters.doctor import Check, check_discord, check_knowledge, check_slack, check_store, render, run_checks
from tests.discord.fake_discord import FakeDiscord
from tests.discord.payloads import TOKEN as DISCORD_TOKEN
from tests.fakes.slack import FakeSlack
from tests.faults import Proxy
from tests.slack.conftest import BOT_TOKEN, SECRET


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"CAREERBOT_DATA_DIR": str(tmp_path)}


class Bare:
    """An HTTP/1.1 server that sends only the headers it is given: no ``Date``, unlike aiohttp's own
    (as behind a proxy that strips headers). ``answers``: path -> (status, headers, JSON body)."""

    def __init__(self, answers: dict[str, tuple[int, dict[str, str], object]]) -> None:
        self.answers = answers
        self.paths: list[str] = []
        self._server: asyncio.Server | None = None
        self.url = ""

    async def __aenter__(self) -> Bare:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while request := await reader.readline():
                path = urlsplit(request.decode().split(" ")[1]).path
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    length = int(value) if name.strip().lower() == "content-length" else length
                await reader.readexactly(length)
                self.paths.append(path)
                status, headers, answer = self.answers.get(path, (404, {}, {"message": "404: Not Found"}))
                body = json.dumps(answer).encode()
                lines = [
                    f"HTTP/1.1 {status} Answered",
                    "Content-Type: application/json",
                    f"Content-Length: {len(body)}",
                ]
                lines += [f"{k}: {v}" for k, v in headers.items()]
                writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
                await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


async def test_a_bad_database_url_is_printed_with_its_fix(env: dict[str, str]) -> None:
    env |= {"CAREERBOT_DATABASE_URL": "mysql://cb:hunter2@db.example/careerbot"}
    checks = await run_checks(env)
    store = by_name(checks)["store"]
    assert not store.ok and "CAREERBOT_DATABASE_URL must be a postgresql:// or sqlite:// URL" in store.detail
    printed = render(checks).splitlines()
    assert printed[printed.index(f"FAIL  store: {store.detail}") + 1] == "      fix: fix CAREERBOT_DATABASE_URL"
    assert printed[-1] == f"{len(checks) - 1} ok, 1 failed"
    assert "hunter2" not in render(checks)


async def test_a_store_that_does_not_answer_in_time(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL accepts the connection and then says nothing (a stalled network)."""
    monkeypatch.setattr(doctor, "TIMEOUT", 0.2)
    async with Proxy(int(postgres_url.rsplit(":", 1)[1].split("/")[0])) as proxy:
        await proxy.stall()
        try:
            found = await check_store({"CAREERBOT_DATABASE_URL": proxy.url(postgres_url)})
        finally:
            await proxy.heal()
    assert not found.ok
    assert found.detail.endswith(": no answer in 0.2 s") and found.fix == "is the database running?"
    assert f"127.0.0.1:{proxy.port}" in found.detail


async def test_a_store_that_cannot_open_names_the_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_text("a file where the data directory should be")
    found = await check_store({"CAREERBOT_DATA_DIR": str(data)})
    assert not found.ok and "cannot create the directory" in found.detail and str(data) in found.detail
    assert found.fix == "check CAREERBOT_DATABASE_URL and the server"


async def test_socket_mode_is_named(slack: FakeSlack) -> None:
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xapp-1-A1-1-abc", "SLACK_API_URL": slack.api_url}
    mode = by_name(await check_slack(env))["slack mode"]
    assert mode.ok and mode.detail == "Socket Mode (SLACK_APP_TOKEN has the xapp- shape)"


async def test_slack_out_of_reach_is_the_network_not_the_token(
    slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The network to Slack accepts and then carries nothing (a stalled proxy)."""
    monkeypatch.setattr(doctor, "TIMEOUT", 0.2)
    async with Proxy(slack.port) as proxy:
        await proxy.stall()
        env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": proxy.url(slack.api_url)}
        try:
            found = by_name(await check_slack(env))
        finally:
            await proxy.heal()
    token = found["slack token"]
    assert not token.ok and token.detail == "cannot reach Slack (TimeoutError)" and token.fix == "check the network"
    assert "slack scopes" not in found and BOT_TOKEN not in json.dumps([c.__dict__ for c in found.values()])
    assert slack.calls == []  # nothing reached Slack


async def test_slack_answers_without_the_scopes_or_a_date() -> None:
    ok = {"ok": True, "user": "careerbot", "team": "Acme Health"}
    async with Bare({"/api/auth.test": (200, {}, ok)}) as bare:
        env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": f"{bare.url}/api/"}
        found = by_name(await check_slack(env))
    assert bare.paths == ["/api/auth.test"]
    assert found["slack token"].ok and found["slack token"].detail == "valid: careerbot in Acme Health"
    scopes = found["slack scopes"]
    assert not scopes.ok and scopes.detail == "Slack did not say which scopes the token has"
    assert "clock vs slack" not in found  # no Date: nothing to compare the clock with


async def test_discord_out_of_reach() -> None:
    fake = FakeDiscord()
    await fake.start()
    try:
        with fake.patched():
            fake.fail("GET", "/users/@me", 0, 0, "", times=2)  # hangs up (aiohttp tries a dropped GET twice)
            found = by_name(await check_discord({"DISCORD_TOKEN": DISCORD_TOKEN}))
    finally:
        await fake.close()
    token = found["discord token"]
    assert not token.ok and token.detail == "cannot reach Discord (ServerDisconnectedError)"
    assert token.fix == "check the network"
    assert not any(name.startswith("discord server") for name in found)


async def test_a_bot_in_no_server_with_a_date_that_is_not_a_date(monkeypatch: pytest.MonkeyPatch) -> None:
    me = {"id": "1", "username": "careerbot", "bot": True}
    answers: dict[str, tuple[int, dict[str, str], object]] = {
        "/api/v10/users/@me": (200, {"Date": "the day before yesterday"}, me),
        "/api/v10/users/@me/guilds": (200, {}, []),
    }
    async with Bare(answers) as bare:
        monkeypatch.setattr(discord.http.Route, "BASE", f"{bare.url}/api/v10")
        found = by_name(await check_discord({"DISCORD_TOKEN": DISCORD_TOKEN}))
    assert found["discord token"].ok and found["discord token"].detail == "valid: careerbot"
    servers = found["discord servers"]
    assert not servers.ok and servers.detail == "the bot is in no server" and "invite it" in servers.fix
    assert "clock vs discord" not in found  # a Date that cannot be read is no clock to compare with


def test_a_knowledge_directory_the_os_refuses_to_name() -> None:
    """A path with a NUL byte (from a script calling run_checks): the OS will not look it up."""
    found = check_knowledge(Path("knowledge\0old"))
    assert not found.ok and found.detail == "cannot read knowledge\0old (ValueError)"
    assert found.fix == "check CAREERBOT_KNOWLEDGE"
