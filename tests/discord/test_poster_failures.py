"""The Discord poster's failure paths, through discord.py against the fake Discord on 127.0.0.1: a
client not connected in time, channels that are not text channels, two channels of one name, the
bot's member missing from the cache (``fetch_member``), ids that are not Discord's, and a network
that hangs up. Each says what the scheduler or the admin gets (a permanent or a transient
:class:`PostError`, or the reason an admin reads), and that nothing was posted."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.discord_bot.app import DiscordApp
from adapters.discord_bot.posting import NOT_CONNECTED
from bot.core import Core
from bot.errors import CommandError, PostError
from bot.reply import Reply
from bot.schedule.posting import Post
from tests.discord.conftest import DiscordUser
from tests.discord.fake_discord import FakeDiscord
from tests.discord.payloads import BOT_ID, CHANNEL_ID, GUILD_ID, TIMESTAMP, TOKEN, guild_channel

GUILD = str(GUILD_ID)
MESSAGES = r"/channels/\d+/messages"
VOICE_ID, STAGE_ID, FORUM_ID, CATEGORY_ID, THREAD_ID, TWIN_ID, LOUNGE_ID = (CHANNEL_ID + i for i in range(11, 18))
BOT_MEMBER = rf"/guilds/{GUILD_ID}/members/{BOT_ID}"


def tip(channel: int | str = CHANNEL_ID, *, tenant: str = GUILD, audience: tuple[str, ...] = ()) -> Post:
    reply = Reply(title="Daily tip", summary="Read the FHIR spec's Patient page.")
    return Post(
        tenant=tenant, channel=str(channel), reply=reply, key="tipkey0000000000000000001", due_at=0, audience=audience
    )


def public_thread(thread_id: int, parent: int, name: str) -> dict[str, Any]:
    """A public thread as GUILD_CREATE lists it."""
    metadata = {"archived": False, "auto_archive_duration": 1440, "archive_timestamp": TIMESTAMP, "locked": False}
    return {
        "id": str(thread_id),
        "type": 11,
        "guild_id": GUILD,
        "parent_id": str(parent),
        "owner_id": str(BOT_ID),
        "name": name,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "flags": 0,
        "thread_metadata": metadata,
    }


def add_odd_channels(fake: FakeDiscord) -> None:
    fake.guild["channels"] += [
        guild_channel(VOICE_ID, "huddle", kind=2),
        guild_channel(STAGE_ID, "town-hall", kind=13) | {"bitrate": 64000, "user_limit": 0, "rtc_region": None},
        guild_channel(FORUM_ID, "questions", kind=15) | {"available_tags": [], "default_reaction_emoji": None},
        guild_channel(CATEGORY_ID, "info", kind=4),
        guild_channel(TWIN_ID, "General"),  # a second text channel called general
        guild_channel(LOUNGE_ID + 100, "lounge", kind=2),  # listed first: a voice channel ...
        guild_channel(LOUNGE_ID, "lounge"),  # ... and a text channel of the same name
    ]
    fake.guild["threads"] = [public_thread(THREAD_ID, CHANNEL_ID, "weekly-chat")]


@pytest.fixture
async def bot(fake: FakeDiscord, core: Core) -> AsyncIterator[DiscordApp]:
    add_odd_channels(fake)
    user = DiscordUser(fake, core)
    app = await user.start()
    yield app
    await user.stop()


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]


# ---------------------------------------------------------------------------- not connected


async def test_a_post_due_before_the_client_connects_waits_for_it(fake: FakeDiscord, core: Core) -> None:
    """The scheduler may start before the gateway: the post waits for the login instead of failing."""
    app = DiscordApp(core, token=TOKEN)
    assert app.client is None
    posting = asyncio.create_task(app.poster.post(tip()))
    running = asyncio.create_task(app.run())
    try:
        message_id = await asyncio.wait_for(posting, 20)
        assert fake.messages[message_id]["channel_id"] == str(CHANNEL_ID)
    finally:
        running.cancel()
        await asyncio.gather(running, posting, return_exceptions=True)
        await app.close()


async def test_a_client_that_never_connects_fails_the_post_for_a_retry(
    fake: FakeDiscord, core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    app = DiscordApp(core, token=TOKEN)  # never run: no client at all
    app.poster.connect_timeout = 0.3
    with caplog.at_level(logging.DEBUG, logger="careerbot"):
        with pytest.raises(PostError, match=r"^not connected to Discord$") as raised:
            await app.poster.post(tip())
        assert not raised.value.permanent  # the scheduler tries again later
        with pytest.raises(PostError, match="not connected to Discord"):
            await app.poster.post(tip(audience=(str(BOT_ID + 1),)))
        with pytest.raises(CommandError, match=re.escape(NOT_CONNECTED)) as refused:
            await app.poster.check_channel(GUILD, f"<#{CHANNEL_ID}>")
    assert refused.value.reason == NOT_CONNECTED
    assert fake.calls == []  # nothing reached Discord
    no_traceback(caplog)


async def test_a_closed_client_is_not_connected(fake: FakeDiscord, core: Core) -> None:
    user = DiscordUser(fake, core)
    app = await user.start()
    await user.stop()  # the connection ended (the runner has not made the next client yet)
    assert app.client is not None and app.client.is_closed()
    app.poster.connect_timeout = 0.3
    with pytest.raises(PostError, match="not connected to Discord") as raised:
        await app.poster.post(tip())
    assert not raised.value.permanent
    with pytest.raises(CommandError, match="not connected to Discord right now"):
        await app.poster.check_channel(GUILD, f"<#{CHANNEL_ID}>")
    assert not fake.find("POST", MESSAGES, status=None)


# ---------------------------------------------------------------------------- channels


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        (f"<#{STAGE_ID}>", "#town-hall is a stage channel, and daily tips go to a text channel"),
        ("#questions", "#questions is a forum, and daily tips go to a text channel"),
        (str(CATEGORY_ID), "#info is a category, and daily tips go to a text channel"),
        (f"<#{THREAD_ID}>", "#weekly-chat is a thread, and daily tips go to a text channel"),
        ("huddle", "#huddle is a voice channel, and daily tips go to a text channel"),
    ],
    ids=["stage", "forum", "category", "thread", "voice-by-name"],
)
async def test_a_channel_that_is_not_a_text_channel_gets_its_kind_named(
    bot: DiscordApp, given: str, reason: str
) -> None:
    with pytest.raises(CommandError, match="Pick a text or announcement channel") as refused:
        await bot.poster.check_channel(GUILD, given)
    assert refused.value.reason == f"{reason}. Pick a text or announcement channel."


async def test_two_text_channels_of_one_name_ask_for_the_one_meant(bot: DiscordApp) -> None:
    with pytest.raises(CommandError, match=r"^Several channels here are called #general\. Type `#`"):
        await bot.poster.check_channel(GUILD, "#general")
    by_id = await bot.poster.check_channel(GUILD, f"<#{TWIN_ID}>")  # picked from the list: no doubt
    assert (by_id.id, by_id.name) == (str(TWIN_ID), "General")
    lounge = await bot.poster.check_channel(GUILD, "#lounge")  # a voice channel of the name does not count
    assert (lounge.id, lounge.name) == (str(LOUNGE_ID), "lounge")


async def test_a_private_post_to_a_channel_without_threads_fails_for_good(bot: DiscordApp, fake: FakeDiscord) -> None:
    with pytest.raises(PostError, match=rf"^channel {VOICE_ID} cannot hold private threads$") as raised:
        await bot.poster.post(tip(VOICE_ID, audience=("1400000000000000004",)))
    assert raised.value.permanent
    assert fake.thread_bodies() == [] and not fake.find("POST", MESSAGES, status=None)


# ---------------------------------------------------------------------------- the bot's member


@pytest.fixture
async def memberless(fake: FakeDiscord, core: Core) -> AsyncIterator[DiscordApp]:
    """GUILD_CREATE without the bot's own member (Discord sends it; a cache can still lack it)."""
    fake.guild["members"] = []
    fake.add_member(BOT_ID, bot=True)
    user = DiscordUser(fake, core)
    app = await user.start()
    yield app
    await user.stop()


async def test_without_its_member_cached_the_bot_fetches_it(memberless: DiscordApp, fake: FakeDiscord) -> None:
    assert memberless.client is not None
    guild = memberless.client.get_guild(GUILD_ID)
    assert guild is not None and guild.me is None
    found = await memberless.poster.check_channel(GUILD, f"<#{CHANNEL_ID}>")
    assert (found.id, found.name) == (str(CHANNEL_ID), "general")
    assert len(fake.find("GET", BOT_MEMBER)) == 1


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [(503, 0, "upstream connect error"), (404, 10007, "Unknown Member"), (0, 0, "")],
    ids=["discord-503", "unknown-member", "hang-up"],
)
async def test_when_discord_will_not_say_the_bots_permissions_the_admin_is_told_to_retry(
    memberless: DiscordApp, fake: FakeDiscord, status: int, code: int, message: str
) -> None:
    times = 2 if status == 0 else 1  # aiohttp sends a GET again once when the connection drops
    fake.fail("GET", BOT_MEMBER, status, code, message, times=times)
    with pytest.raises(CommandError, match="would not tell me my permissions") as refused:
        await memberless.poster.check_channel(GUILD, f"<#{CHANNEL_ID}>")
    assert refused.value.reason == "Discord would not tell me my permissions in this server. Try again in a minute."
    assert [c.status for c in fake.find("GET", BOT_MEMBER, status=None)] == [status] * times
    assert (await memberless.poster.check_channel(GUILD, "#general")).id == str(CHANNEL_ID)  # it passes


# ---------------------------------------------------------------------------- bad ids


@pytest.mark.parametrize(
    ("tenant", "channel"), [("dm", str(CHANNEL_ID)), (GUILD, "general"), (GUILD, "<#123>"), ("T0TEST", "C1")]
)
async def test_ids_that_are_not_discords_fail_for_good_without_a_request(
    bot: DiscordApp, fake: FakeDiscord, tenant: str, channel: str
) -> None:
    before = len(fake.calls)
    with pytest.raises(PostError, match=r"^not a Discord channel: ") as raised:
        await bot.poster.post(tip(channel, tenant=tenant))
    assert raised.value.permanent
    assert await bot.poster.find(tip(channel, tenant=tenant, audience=("1400000000000000004",))) is None
    assert len(fake.calls) == before


@pytest.mark.parametrize("audience", [("alice",), ("1400000000000000004", "<@1400000000000000005>"), ("١٢٣",)])
async def test_an_audience_that_is_not_discord_user_ids_fails_for_good(
    bot: DiscordApp, fake: FakeDiscord, audience: tuple[str, ...]
) -> None:
    before = len(fake.calls)
    with pytest.raises(PostError, match=r"^not Discord user ids$") as raised:
        await bot.poster.post(tip(audience=audience))
    assert raised.value.permanent and len(fake.calls) == before


# ---------------------------------------------------------------------------- the network


async def test_a_network_that_hangs_up_fails_the_post_for_a_retry(
    bot: DiscordApp, fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail("POST", MESSAGES, 0, 0, "")
    with (
        caplog.at_level(logging.DEBUG, logger="careerbot"),
        pytest.raises(PostError, match="cannot reach Discord") as raised,
    ):
        await bot.poster.post(tip())
    assert not raised.value.permanent
    assert raised.value.reason == "cannot reach Discord: ServerDisconnectedError"
    assert fake.channel_messages(CHANNEL_ID) == []
    no_traceback(caplog)
    assert await bot.poster.post(tip()) in fake.messages  # the next try goes through


@pytest.mark.parametrize("path", [r"/channels/\d+/threads", r"/channels/\d+/thread-members/\d+"])
async def test_a_hang_up_while_opening_a_private_thread_fails_the_post_for_a_retry(
    bot: DiscordApp, fake: FakeDiscord, path: str
) -> None:
    fake.add_member("1400000000000000004")
    method = "POST" if path.endswith("threads") else "PUT"
    fake.fail(method, path, 0, 0, "", times=1 if method == "POST" else 2)  # aiohttp resends a PUT once
    private = tip(audience=("1400000000000000004",))
    with pytest.raises(PostError, match=r"^cannot reach Discord: ServerDisconnectedError$") as raised:
        await bot.poster.post(private)
    assert not raised.value.permanent
    assert not fake.find("POST", MESSAGES, status=None)
    message_id = await bot.poster.post(private)  # the retry: in one thread, whichever step failed
    (thread,) = fake.threads.values()
    assert fake.messages[message_id]["channel_id"] == thread["id"]
    assert fake.thread_members[thread["id"]] == ["1400000000000000004"]
