"""Hostile input never produces a mention or a payload Discord would reject.

The ``fake`` fixture also checks every message sent in each test: allowed_mentions parse == [],
within every limit, and no live mention token in any embed text.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.discord.conftest import DiscordUser
from tests.discord.limits import check_message
from tests.discord.payloads import BOT_USER, GUILD_ID
from tests.mentions import live_mentions

HOSTILE = {
    "everyone": "@everyone @here look",
    "fullwidth": "＠everyone ＠here",
    "user": "<@1400000000000000004> <@!1400000000000000004>",
    "role": f"<@&{GUILD_ID}> <@&123456789012345678>",
    "channel": "<#1300000000000000003>",
    "markdown": "**bold** __u__ ~~s~~ ||spoiler|| `code` > quote\n# heading\n-# small [x](https://evil.example)",
    "control": "ehr\x00\x07\x1b[31m\u202e\u2066reversed\x7f\x9f",
    "huge": "fhir " * 2_000,  # 10 KB
    "huge-markup": "*_`~|>#-" * 1_300,
    "astral": "🩺" * 3_000,
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
async def test_hostile_options_never_ping_or_exceed_a_limit(discord_user: DiscordUser, text: str) -> None:
    cases: list[tuple[str, dict[str, Any]]] = [
        ("search", {"text": text}),
        ("role", {"query": text}),
        ("tip", {"topic": text}),
        ("career", {"command": text}),
        ("path", {"role": text}),
    ]
    for command, options in cases:
        reply = await discord_user.command(command, **options)
        check_message(reply.body)
        assert not live_mentions(reply.text)


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
async def test_hostile_mentions_of_the_bot_never_ping(discord_user: DiscordUser, text: str) -> None:
    fake = discord_user.fake
    mid = await fake.say(f"<@{BOT_USER['id']}> {text}", mentions=[BOT_USER])
    await fake.wait_for(lambda: mid in fake.replies)
    sent = fake.find("POST", r"/channels/\d+/messages")[-1].body
    check_message(sent)
    assert str(sent["message_reference"]["message_id"]) == mid


@pytest.mark.parametrize("custom_id", ["cb:run:/search @everyone <@&1>", "cb:share:/role <@1400000000000000004>"])
async def test_hostile_button_payloads_never_ping(discord_user: DiscordUser, custom_id: str) -> None:
    fake = discord_user.fake
    iid = await fake.click(fake.message_for((await discord_user.run("/why")).iid), custom_id)
    check_message(await fake.reply(iid))
