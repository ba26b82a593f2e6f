"""Buttons: Share in channel, follow-ups and More, also on old messages after a restart."""

from __future__ import annotations

import pytest

from bot.commands import Invocation
from bot.core import Core
from bot.reply import Field, FollowUp, Link, Reply, Section
from tests.discord.conftest import DiscordUser, Sent
from tests.discord.limits import check_message
from tests.discord.payloads import USER

OTHER_USER = USER | {"id": "1400000000000000099", "username": "bob"}


async def test_share_posts_the_same_answer_publicly_with_its_follow_ups(discord_user: DiscordUser) -> None:
    private = await discord_user.run("/role ehr")
    shared = await discord_user.click(private, "Share in channel")
    assert private.ephemeral and not shared.ephemeral
    assert shared.embeds == private.embeds
    assert "Share in channel" not in shared.buttons
    assert {k: v for k, v in private.buttons.items() if k != "Share in channel"} == shared.buttons


async def test_a_follow_up_button_answers_that_command_privately(discord_user: DiscordUser, core: Core) -> None:
    role = await discord_user.run("/role ehr")
    path = await discord_user.click(role, "Learning path")
    assert path.title == (await core.ask("/path ehr")).title
    assert path.ephemeral and path.buttons["Share in channel"] == "cb:share:/path ehr"


async def test_anyone_can_press_a_follow_up_on_a_shared_answer(discord_user: DiscordUser, core: Core) -> None:
    shared = await discord_user.click(await discord_user.run("/standard fhir"), "Share in channel")
    first = next(label for label in shared.buttons)
    fake = discord_user.fake
    iid = await fake.click(fake.message_for(shared.iid), shared.buttons[first], user=OTHER_USER)
    answer = Sent(iid, await fake.reply(iid))
    expected = await core.ask(shared.buttons[first].removeprefix("cb:run:"))
    assert answer.ephemeral and answer.title == expected.title


async def test_buttons_on_old_messages_work_after_a_restart(discord_user: DiscordUser, core: Core) -> None:
    before = await discord_user.run("/compliance hipaa")
    await discord_user.restart()
    assert discord_user.fake.find("GET", "/users/@me") and len(discord_user.fake.sessions) == 2
    shared = await discord_user.click(before, "Share in channel")
    assert not shared.ephemeral and shared.embeds == before.embeds
    follow_up = next(label for label, custom_id in before.buttons.items() if custom_id.startswith("cb:run:"))
    answer = await discord_user.click(before, follow_up)
    assert answer.title == (await core.ask(before.buttons[follow_up].removeprefix("cb:run:"))).title


async def test_a_button_for_an_unknown_command_explains_instead_of_failing(discord_user: DiscordUser) -> None:
    fake = discord_user.fake
    iid = await fake.click(fake.message_for((await discord_user.run("/why")).iid), "cb:run:/no-such-command")
    answer = Sent(iid, await fake.reply(iid))
    assert answer.ephemeral and "no-such-command" in answer.title


@pytest.mark.parametrize("custom_id", ["another-bot:vote", "cb:run:no-slash", "cb:delete:/role ehr"])
async def test_buttons_that_are_not_ours_are_left_alone(discord_user: DiscordUser, custom_id: str) -> None:
    fake = discord_user.fake
    message = fake.message_for((await discord_user.run("/why")).iid)
    iid = await fake.click(message, custom_id)
    # then one of ours on the same message: handled the same way after it, so once it is answered the
    # first click has had its chance to be answered too
    ours = await fake.click(message, "cb:run:/role ehr")
    assert "EHR" in (await fake.reply(ours))["embeds"][0]["title"]
    assert not fake.find("POST", rf"/interactions/{iid}/.*", status=None)


def huge_reply(invocation: Invocation) -> Reply:
    """As long as a neutral reply can be, with markup that escaping makes longer still."""
    text = "\n".join(f"- *item* {i} with `code` and_under_scores {'x' * 60}" for i in range(40))
    return Reply(
        title=f"Everything about {invocation.command}" + " *" * 100,
        summary="A **very** long answer. " * 80,
        sections=tuple(Section(heading=f"Part {i} **of** it", text=text) for i in range(12)),
        fields=tuple(Field(name=f"Field {i}", value="_v_ " * 300) for i in range(10)),
        links=tuple(Link(label=f"Source {i}", url=f"https://example.org/{i}") for i in range(10)),
        follow_ups=tuple(FollowUp(label=f"Next {i}", command=f"/role r{i}") for i in range(10)),
        footer="Footnote. " * 30,
    )


@pytest.fixture
def huge_core(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    async def answer(invocation: Invocation) -> Reply:
        return huge_reply(invocation)

    monkeypatch.setattr(core, "answer", answer)


async def test_a_reply_too_long_for_one_message_pages_with_a_more_button(
    huge_core: None, discord_user: DiscordUser
) -> None:
    page = await discord_user.run("/role ehr")
    pages = [page]
    while any(label.startswith("More") for label in page.buttons):
        more = next(label for label in page.buttons if label.startswith("More"))
        page = await discord_user.click(page, more)
        pages.append(page)
        assert len(pages) < 20
    assert len(pages) > 1
    for i, page in enumerate(pages, 1):
        check_message(page.body)
        assert page.ephemeral and f"Page {i}/{len(pages)}" in page.embeds[-1]["footer"]["text"]
    everything = "\n".join(p.text for p in pages)
    for i in range(12):
        assert f"Part {i} of it" in everything.replace("*", "")
    for i in range(10):
        assert f"Field {i}" in everything and f"[Source {i}](https://example.org/{i})" in everything
    assert "Footnote." in pages[-1].embeds[-1]["footer"]["text"]
