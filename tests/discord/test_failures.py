"""Discord failures other than a stale registration, through discord.py against the fake Discord: a
command that fails inside careerbot or whose answer Discord refuses, autocomplete that fails, a
mention the bot cannot answer, a declaration over Discord's 8,000 characters per command, and
``careerbot discord sync`` with a token Discord rejects or a network that fails."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
from collections.abc import Callable
from dataclasses import replace

import pytest
from click.testing import CliRunner, Result

from adapters.cli import main
from adapters.discord_bot.app import FAILED, FAILED_TITLE, STALE_TITLE, DiscordApp
from adapters.discord_bot.commands import COMMAND_TEXT_MAX, command_text, registration_payload
from bot.commands import Command, Invocation, Option
from bot.core import Core
from bot.errors import DeclarationError
from bot.registry import REGISTRY
from bot.reply import Reply
from tests.discord.conftest import DiscordUser
from tests.discord.fake_discord import FakeDiscord
from tests.discord.limits import check_message
from tests.discord.payloads import BOT_USER, CHANNEL_ID, GUILD_ID, TOKEN

CALLBACK = r"/interactions/\d+/[^/]+/callback"
MESSAGES = r"/channels/\d+/messages"
WRONG_TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.GfAkEd.not-the-right-token-at-all_0123456789"


def records(caplog: pytest.LogCaptureFixture, name: str = "careerbot.discord") -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == name]


async def until(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


# ---------------------------------------------------------------------------- commands


async def test_a_command_that_fails_inside_careerbot_is_answered_not_left_silent(
    discord_user: DiscordUser, core: Core, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(invocation: Invocation) -> Reply:
        raise RuntimeError("a bug in the adapter's path")

    monkeypatch.setattr(core, "answer", broken)
    with caplog.at_level(logging.INFO, logger="careerbot.discord"):
        reply = await discord_user.run("/role ehr")
    check_message(reply.body)
    assert reply.ephemeral and reply.title == FAILED_TITLE and FAILED in reply.text
    assert "Share in channel" not in reply.buttons
    (line,) = records(caplog)
    assert line.levelno == logging.ERROR and line.getMessage() == "discord command failed"
    assert line.exc_info is not None  # unexpected: the operator gets the traceback, the user does not
    assert "a bug" not in str(reply.body)
    assert STALE_TITLE not in str(reply.body)


async def test_an_answer_discord_refuses_is_followed_by_the_failure_message(
    discord_user: DiscordUser, caplog: pytest.LogCaptureFixture
) -> None:
    fake = discord_user.fake
    fake.fail("POST", CALLBACK, 400, 50035, "Invalid Form Body")
    with caplog.at_level(logging.INFO, logger="careerbot.discord"):
        reply = await discord_user.run("/role ehr")
    assert reply.ephemeral and reply.title == FAILED_TITLE
    assert [c.status for c in fake.find("POST", rf"/interactions/{reply.iid}/[^/]+/callback", status=None)] == [
        400,
        200,
    ]
    (line,) = records(caplog)
    assert line.levelno == logging.ERROR and "50035" in str(line.exc_info[1] if line.exc_info else "")


async def test_a_failure_after_the_answer_started_is_logged_and_not_answered_twice(
    discord_user: DiscordUser, core: Core, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Deferred ("careerbot is thinking..."), then the follow-up is refused: the interaction is
    already acknowledged, so there is nothing more to send; the operator gets the error."""
    fake, app = discord_user.fake, discord_user.app
    assert app is not None
    answer, slow = core.answer, asyncio.Event()

    async def late(invocation: Invocation) -> Reply:
        if invocation.command == "role":
            await slow.wait()
        return await answer(invocation)

    monkeypatch.setattr(core, "answer", late)
    app.defer_after = 0.01
    fake.fail("POST", r"/webhooks/\d+/[^/]+", 400, 50035, "Invalid Form Body")
    with caplog.at_level(logging.INFO):  # every logger: an error handler that raised would show
        iid = await fake.slash("role", {"query": "ehr"})
        first = await fake.response(iid)
        assert first["type"] == 5  # deferred
        slow.set()
        await until(lambda: records(caplog))
        later = await discord_user.run("/standard fhir")  # a later event: the bot carries on
        gc.collect()  # a task that died of an exception logs it when it is collected
    assert "FHIR" in later.title
    (line,) = records(caplog)
    assert line.levelno == logging.ERROR and line.getMessage() == "discord command failed"
    assert [r for r in caplog.records if r.exc_info] == [line]  # no second answer tried and refused
    assert [c.status for c in fake.find("POST", rf"/interactions/{iid}/[^/]+/callback", status=None)] == [200]
    token = re.escape(f"token-{iid}")
    assert [c.status for c in fake.find("POST", rf"/webhooks/\d+/{token}", status=None)] == [400]


# ---------------------------------------------------------------------------- autocomplete


async def test_autocomplete_that_fails_answers_no_choices_rather_than_spin(
    discord_user: DiscordUser, core: Core, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(command: str, option: str, current: str) -> list[object]:
        raise RuntimeError("index gone")

    monkeypatch.setattr(core, "autocomplete", broken)
    with caplog.at_level(logging.INFO, logger="careerbot.discord"):
        assert await discord_user.complete("role", "query", "eh") == []
        assert await discord_user.complete("role", "query", "eh", group=True) == []
    lines = records(caplog)
    assert [r.getMessage() for r in lines] == ["autocomplete for /role query failed"] * 2
    assert not [r for r in caplog.records if r.name.startswith("discord.")]  # not discord.py's "Ignoring exception"


async def test_autocomplete_for_a_command_no_longer_registered_answers_no_choices(
    discord_user: DiscordUser, caplog: pytest.LogCaptureFixture
) -> None:
    fake = discord_user.fake
    with caplog.at_level(logging.INFO, logger="careerbot.discord"):
        iid = await fake.autocomplete("retired-command", {"query": "eh"}, "query")
        body = await fake.response(iid)
    assert body == {"type": 8, "data": {"choices": []}}
    (line,) = records(caplog)
    assert line.levelno == logging.WARNING and "run `careerbot discord sync`" in line.getMessage()
    assert line.exc_info is None


# ---------------------------------------------------------------------------- mentions


async def mention(fake: FakeDiscord, text: str) -> str:
    return await fake.say(f"<@{BOT_USER['id']}> {text}", mentions=[BOT_USER])


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [(403, 50013, "Missing Permissions"), (403, 50001, "Missing Access"), (0, 0, "")],
    ids=["no-send-permission", "no-access", "hang-up"],
)
async def test_a_mention_the_bot_cannot_answer_is_one_log_line(
    discord_user: DiscordUser, caplog: pytest.LogCaptureFixture, status: int, code: int, message: str
) -> None:
    fake = discord_user.fake
    fake.fail("POST", MESSAGES, status, code, message)
    with caplog.at_level(logging.INFO):
        refused = await mention(fake, "fhir")
        await until(lambda: records(caplog))
        answered = await mention(fake, "hipaa")  # a later mention is answered: the bot carries on
        await fake.wait_for(lambda: answered in fake.replies)
    assert refused not in fake.replies
    assert [c.status for c in fake.find("POST", MESSAGES, status=None)] == [status, 200]
    (line,) = records(caplog)
    assert line.levelno == logging.WARNING
    assert line.getMessage().startswith(f"cannot answer a mention in channel {CHANNEL_ID}: ")
    assert ("cannot reach Discord" if status == 0 else f"{status} Forbidden (error code: {code})") in line.getMessage()
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]


# ---------------------------------------------------------------------------- 8,000 characters


def big_option(name: str) -> Option:
    """25 choices of 100 characters: about 5,100 of Discord's 8,000 characters per command."""
    return Option(name=name, description="d" * 100, choices=tuple(f"{i:02d}" + "x" * 98 for i in range(25)))


def declared(*options: Option) -> Command:
    return replace(next(iter(REGISTRY)), name="big", options=options)


def test_one_command_over_8000_characters_fails_at_start_up() -> None:
    alone = registration_payload([declared(big_option("a"))])  # every field within its own limit
    assert all(command_text(c) <= COMMAND_TEXT_MAX for c in alone)
    with pytest.raises(DeclarationError, match=r"^/big: over Discord's 8000 characters per command$"):
        registration_payload([declared(big_option("a"), big_option("b"))])


def test_the_career_group_counts_every_subcommand_against_8000() -> None:
    """Each command fits alone, but ``/career`` holds them all as subcommands: Discord would refuse
    the whole registration, so it fails here, naming the group."""
    with pytest.raises(DeclarationError, match=r"^/career: over Discord's 8000 characters per command$"):
        registration_payload([*REGISTRY, declared(big_option("a"))])


def test_the_platform_refuses_to_start_over_8000_characters(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core, "registry", [*REGISTRY, declared(big_option("a"))])
    with pytest.raises(DeclarationError, match="over Discord's 8000 characters"):
        DiscordApp(core, token=TOKEN)


# ---------------------------------------------------------------------------- discord sync


async def sync(*args: str, token: str = TOKEN) -> Result:
    """``careerbot discord sync`` in a thread of its own (it runs its own event loop), against the fake."""
    return await asyncio.to_thread(CliRunner().invoke, main, ["discord", "sync", *args], env={"DISCORD_TOKEN": token})


async def test_sync_with_a_token_discord_rejects_is_one_clear_line(fake: FakeDiscord) -> None:
    result = await sync(token=WRONG_TOKEN)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: DISCORD_TOKEN was rejected by Discord (401 Unauthorized): reset it in the Developer Portal"
    ]
    assert "not-the-right-token" not in result.output and "Traceback" not in result.output
    assert [c.status for c in fake.calls] == [401]  # only the login was tried
    assert fake.commands == {}


async def test_sync_that_discord_refuses_says_so_and_registers_nothing(fake: FakeDiscord) -> None:
    fake.fail("PUT", r"/applications/\d+/guilds/\d+/commands", 400, 50035, "Invalid Form Body")
    result = await sync("--guild", str(GUILD_ID))
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: Discord refused the registration: ") and "error code 50035" in line
    assert TOKEN not in result.output and fake.commands == {}


async def test_sync_without_a_network_says_it_cannot_reach_discord(fake: FakeDiscord) -> None:
    fake.fail("GET", "/users/@me", 0, 0, "", times=2)  # aiohttp sends a GET again once when it drops
    result = await sync()
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: cannot reach Discord: Server disconnected"]
    assert fake.commands == {}


async def test_sync_still_works_after_a_rejected_token(fake: FakeDiscord) -> None:
    assert (await sync(token=WRONG_TOKEN)).exit_code == 1
    result = await sync("--guild", str(GUILD_ID))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{len(REGISTRY.names())} commands registered in guild {GUILD_ID}: ")
