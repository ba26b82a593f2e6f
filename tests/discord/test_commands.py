"""Every declared command, as a Discord user runs it, through the real client and the fake Discord."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.commands import Invocation
from bot.core import Core
from bot.registry import REGISTRY
from bot.reply import Reply
from tests.discord.conftest import DiscordUser
from tests.discord.limits import check_message

EXAMPLES = [example for command in REGISTRY for example in command.examples]


def test_every_command_has_an_example_to_run() -> None:
    assert {e.split()[0][1:] for e in EXAMPLES} == set(REGISTRY.names())


@pytest.mark.parametrize("group", [False, True], ids=["top-level", "career-group"])
async def test_every_example_answers_with_the_cores_reply_in_an_embed(
    discord_user: DiscordUser, core: Core, group: bool
) -> None:
    for example in EXAMPLES:
        reply = await discord_user.run(example, group=group)
        declared = REGISTRY.get(example.split()[0][1:])
        if declared is not None and declared.admin:  # sharing would run the change again: no button
            assert "Share in channel" not in reply.buttons, example
            share = example
        else:
            share = reply.buttons["Share in channel"].removeprefix("cb:share:")
        expected = await core.ask(share if example.startswith("/tip") else example)  # a tip is random
        check_message(reply.body)
        assert reply.ephemeral, example
        if example.startswith("/tip"):  # the shared tip is the same tip; its title may drop "about X"
            assert reply.title.startswith(expected.title), example
        else:
            assert reply.title == " ".join(expected.title.split()), (example, reply.text)
        if expected.summary:
            assert " ".join(expected.summary.split()[:3]).replace("*", "") in reply.text.replace("*", ""), example


async def test_role_ehr_answers_with_the_ehr_role_and_its_follow_ups(discord_user: DiscordUser, core: Core) -> None:
    reply = await discord_user.run("/role ehr")
    card = await core.ask("/role ehr")
    assert reply.title == card.title and "EHR" in reply.title
    assert reply.buttons["Share in channel"] == "cb:share:/role ehr"
    for follow_up in card.follow_ups:
        assert reply.buttons[follow_up.label] == f"cb:run:{follow_up.command}"
    for section in card.sections:
        assert f"**{section.heading}**" in reply.embeds[0]["description"]
    fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    assert {f.name for f in card.fields if f.value} <= set(fields)


async def test_career_help_is_the_overview_and_explains_one_command(discord_user: DiscordUser) -> None:
    overview = await discord_user.command("career", group=True)
    for command in REGISTRY:
        assert f"/{command.name}" in overview.text
    explained = await discord_user.command("career", group=True, command="path")
    assert explained.title == "/path"
    assert "/path ROLE" in explained.text


@pytest.mark.parametrize(
    ("name", "options"),
    [("path", {}), ("retired-command", {})],
    ids=["required-option-missing", "unknown-command"],
)
async def test_a_stale_registration_gets_a_clear_answer_not_silence(
    discord_user: DiscordUser, name: str, options: dict[str, Any]
) -> None:
    """What Discord sends when the registered commands predate an upgrade (no sync since)."""
    reply = await discord_user.command(name, **options)
    assert reply.ephemeral and reply.title == "This command is out of date"
    assert "careerbot discord sync" in reply.text


async def test_a_direct_message_gets_the_same_answer(discord_user: DiscordUser, core: Core) -> None:
    reply = await discord_user.command("standard", dm=True, query="fhir")
    assert reply.title == (await core.ask("/standard fhir")).title


async def test_a_slow_core_is_deferred_within_three_seconds_then_followed_up(
    fake_slow_core: asyncio.Event, discord_user: DiscordUser
) -> None:
    assert discord_user.app is not None
    discord_user.app.defer_after = 0.05
    iid = await discord_user.fake.slash("role", {"query": "ehr"})
    first = await discord_user.fake.response(iid)
    assert first["type"] == 5 and first["data"]["flags"] == 64  # "careerbot is thinking...", privately
    fake_slow_core.set()  # the core answers only now, after the deferral
    message = await discord_user.fake.reply(iid)
    check_message(message)
    assert "EHR" in message["embeds"][0]["title"] and message["flags"] == 64


@pytest.fixture
def fake_slow_core(core: Core, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """A core that answers only once the returned event is set (the test sets it)."""
    release = asyncio.Event()
    answer = core.answer

    async def slow(invocation: Invocation) -> Reply:
        await release.wait()
        return await answer(invocation)

    monkeypatch.setattr(core, "answer", slow)
    return release
