"""The Discord poster's remaining recovery paths, through discord.py against the fake Discord: a
channel option that names no channel, a private post whose thread Discord loses on the way (before
the members are added, before the message is sent, or between a retake's look-up and its resend),
a channel deleted before its first private post, a group nobody of which is still in the server,
an announcement channel (DMs instead of a thread, retried member by member), a bot whose member is
not cached, and the bounded memory of threads opened but not yet posted in."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from adapters.discord_bot import posting
from adapters.discord_bot.app import DiscordApp
from adapters.discord_bot.posting import PICK, DiscordTipPoster, thread_tag
from bot.core import Core
from bot.errors import CommandError, PostError
from bot.reply import Reply
from bot.schedule.posting import Post
from tests.discord.conftest import DiscordUser
from tests.discord.fake_discord import FakeDiscord
from tests.discord.payloads import BOT_ID, CHANNEL_ID, GUILD_ID, guild_channel

GUILD = str(GUILD_ID)
NEWS_ID = CHANNEL_ID + 40
GONE_ID = CHANNEL_ID + 41  # a channel id the server does not have (deleted)
ANN, BEA, CAL = "1400000000000000031", "1400000000000000032", "1400000000000000033"
MESSAGES = r"/channels/\d+/messages"
MEMBERS = r"/channels/\d+/thread-members/\d+"
THREADS = r"/channels/\d+/threads"


def private(*audience: str, key: str = "introkey00000000000000001", channel: int = CHANNEL_ID) -> Post:
    """A mentoring message for ``audience``: never the channel itself."""
    reply = Reply(title="Meet your mentoring group", summary="Say hello and pick a time to talk.")
    return Post(tenant=GUILD, channel=str(channel), reply=reply, key=key, due_at=0, audience=audience)


def bot_messages(fake: FakeDiscord, channel: str | int) -> list[dict[str, object]]:
    return [m for m in fake.channel_messages(channel) if m["type"] == 0]


def thread_of(fake: FakeDiscord, message_id: str) -> str:
    tid = str(fake.messages[message_id]["channel_id"])
    assert tid in fake.threads, "not in a private thread"
    return tid


@pytest.fixture
async def bot(fake: FakeDiscord, core: Core) -> AsyncIterator[DiscordApp]:
    fake.guild["channels"] = [*fake.guild["channels"], guild_channel(NEWS_ID, "announcements", kind=5)]
    user = DiscordUser(fake, core)
    app = await user.start()
    yield app
    await user.stop()


# ---------------------------------------------------------------------------- the channel option


@pytest.mark.parametrize("given", ["#", "   ", "# "])
async def test_a_channel_option_that_names_no_channel_asks_which(
    bot: DiscordApp, fake: FakeDiscord, given: str
) -> None:
    before = len(fake.calls)
    with pytest.raises(CommandError, match=r"^Which channel\? ") as refused:
        await bot.poster.check_channel(GUILD, given)
    assert refused.value.reason == f"Which channel? {PICK}"
    assert len(fake.calls) == before  # answered from the cache: nothing asked of Discord


# ---------------------------------------------------------------------------- the thread lost on the way


async def test_a_thread_deleted_before_the_members_are_added_is_opened_again_on_the_retry(
    bot: DiscordApp, fake: FakeDiscord
) -> None:
    fake.fail("PUT", MEMBERS, 404, 10003, "Unknown Channel")
    post = private(ANN, BEA)
    with pytest.raises(PostError, match=r"^the private thread is gone: 404 Unknown Channel \(code 10003\)$") as raised:
        await bot.poster.post(post)
    assert not raised.value.permanent  # the scheduler retries it
    (first,) = fake.threads
    assert bot_messages(fake, first) == []
    message_id = await bot.poster.post(post)
    second = thread_of(fake, message_id)
    assert second != first  # the lost thread is forgotten, not reused
    assert fake.thread_members[second] == [ANN, BEA]


async def test_a_thread_deleted_before_the_message_is_opened_again_on_the_retry(
    bot: DiscordApp, fake: FakeDiscord
) -> None:
    fake.fail("POST", MESSAGES, 404, 10003, "Unknown Channel")
    post = private(ANN)
    with pytest.raises(PostError, match=r"^the private thread is gone: 404 Unknown Channel") as raised:
        await bot.poster.post(post)
    assert not raised.value.permanent
    (first,) = fake.threads
    message_id = await bot.poster.post(post)
    assert thread_of(fake, message_id) != first and bot_messages(fake, first) == []
    assert bot_messages(fake, CHANNEL_ID) == []  # never the channel itself


async def test_a_404_on_the_threads_message_that_is_not_unknown_channel_fails_for_good(
    bot: DiscordApp, fake: FakeDiscord
) -> None:
    """A bare 404 (no Discord error code, as from a proxy) is not "the thread is gone": retrying the
    same request would get the same answer."""
    fake.fail("POST", MESSAGES, 404, 0, "Not Found")
    with pytest.raises(PostError, match=r"^Discord refused the private thread: 404 Not Found$") as raised:
        await bot.poster.post(private(ANN))
    assert raised.value.permanent
    assert all(bot_messages(fake, tid) == [] for tid in fake.threads) and not fake.dm_channels


async def test_a_private_post_to_a_deleted_channel_fails_for_good(bot: DiscordApp, fake: FakeDiscord) -> None:
    with pytest.raises(PostError, match=r"^Discord refused the private thread: 404 Unknown Channel") as raised:
        await bot.poster.post(private(ANN, channel=GONE_ID))
    assert raised.value.permanent
    assert [c.status for c in fake.find("GET", rf"/channels/{GONE_ID}", status=None)] == [404]
    assert fake.threads == {} and not fake.find("POST", MESSAGES, status=None)


async def test_a_group_nobody_of_which_is_in_the_server_fails_for_good(bot: DiscordApp, fake: FakeDiscord) -> None:
    fake.fail("PUT", MEMBERS, 404, 10007, "Unknown Member", times=2)
    with pytest.raises(PostError, match=r"^nobody of the group is in the server any more$") as raised:
        await bot.poster.post(private(ANN, BEA))
    assert raised.value.permanent
    (tid,) = fake.threads
    assert fake.thread_members[tid] == [] and bot_messages(fake, tid) == []


# ---------------------------------------------------------------------------- a retake's look-up


async def test_a_retake_whose_thread_vanishes_after_the_look_up_posts_in_a_new_one(
    bot: DiscordApp, fake: FakeDiscord
) -> None:
    post = private(ANN)
    fake.fail("PUT", MEMBERS, 0, 0, "", times=2)  # the first process opened the thread, then lost the network
    with pytest.raises(PostError, match="cannot reach Discord"):
        await bot.poster.post(post)
    (old,) = fake.threads
    assert fake.threads[old]["name"].endswith(thread_tag(post.key))

    retake = DiscordTipPoster(lambda: bot.client)  # the next process: it remembers no thread
    fake.fail("GET", rf"/channels/{old}/messages", 404, 10003, "Unknown Channel")  # deleted meanwhile
    assert await retake.find(post) is None  # cannot tell: it is posted again
    del fake.threads[old]
    with pytest.raises(PostError, match=r"^the private thread is gone: ") as raised:
        await retake.post(post)  # the remembered thread is gone ...
    assert not raised.value.permanent
    message_id = await retake.post(post)  # ... and the next try opens a new one
    new = thread_of(fake, message_id)
    assert new != old and fake.thread_members[new] == [ANN]


async def test_a_retake_that_may_not_list_the_threads_cannot_tell_and_sends(bot: DiscordApp, fake: FakeDiscord) -> None:
    fake.fail("GET", rf"/guilds/{GUILD_ID}/threads/active", 403, 50001, "Missing Access")
    post = private(ANN)
    assert await bot.poster.find(post) is None
    assert not fake.find("GET", MESSAGES, status=None)  # no thread to read
    message_id = await bot.poster.post(post)
    assert fake.thread_members[thread_of(fake, message_id)] == [ANN]


# ---------------------------------------------------------------------------- announcement channels: DMs


async def test_an_announcement_channel_sends_dms_and_a_retry_skips_who_already_got_theirs(
    bot: DiscordApp, fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="careerbot.discord"):
        warm = await bot.poster.post(private(ANN, key="introkey00000000000000000", channel=NEWS_ID))
        ann_dm = fake.dm_channels[ANN]["id"]  # discord.py now has Ann's DM channel cached
        assert fake.messages[warm]["channel_id"] == ann_dm
        post = private(ANN, BEA, channel=NEWS_ID)
        fake.fail("POST", "/users/@me/channels", 0, 0, "")  # opening Bea's DM: the network drops
        with pytest.raises(PostError, match=r"^cannot reach Discord: ServerDisconnectedError$") as raised:
            await bot.poster.post(post)
        assert not raised.value.permanent
        assert len(bot_messages(fake, ann_dm)) == 2 and BEA not in fake.dm_channels
        message_id = await bot.poster.post(post)  # the retry
    assert len(bot_messages(fake, ann_dm)) == 2  # Ann got it once, not again
    assert len(bot_messages(fake, fake.dm_channels[BEA]["id"])) == 1
    assert fake.messages[message_id]["channel_id"] == ann_dm  # the first DM sent stands for the post
    assert fake.threads == {} and bot_messages(fake, NEWS_ID) == []
    warned = [r.getMessage() for r in caplog.records if "no private threads" in r.getMessage()]
    assert warned == [
        f"discord: no private threads in channel {NEWS_ID} of server {GUILD_ID} "
        "(an announcement channel has no private threads); mentoring messages go by DM"
    ]  # once per channel, not per post


# ---------------------------------------------------------------------------- the bot's member not cached


@pytest.fixture
async def memberless(fake: FakeDiscord, core: Core) -> AsyncIterator[DiscordApp]:
    fake.guild["members"] = []  # GUILD_CREATE without the bot's own member
    user = DiscordUser(fake, core)
    app = await user.start()
    yield app
    await user.stop()


async def test_without_its_member_cached_a_private_post_tries_the_thread(
    memberless: DiscordApp, fake: FakeDiscord
) -> None:
    """The cache cannot say whether threads are allowed: the bot opens one and lets Discord decide."""
    assert memberless.client is not None
    guild = memberless.client.get_guild(GUILD_ID)
    assert guild is not None and guild.me is None
    message_id = await memberless.poster.post(private(ANN, BEA))
    tid = thread_of(fake, message_id)
    assert fake.thread_members[tid] == [ANN, BEA] and not fake.dm_channels
    assert not fake.find("GET", rf"/guilds/{GUILD_ID}/members/{BOT_ID}", status=None)


# ---------------------------------------------------------------------------- bounded memory


async def test_the_memory_of_open_threads_is_bounded_and_a_forgotten_post_opens_a_new_thread(
    bot: DiscordApp, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(posting, "REMEMBERED", 1)  # remember one post's thread (1,024 in production)
    first, second = private(ANN, key="introkey00000000000000001"), private(BEA, key="introkey00000000000000002")
    for post in (first, second):
        fake.fail("PUT", MEMBERS, 0, 0, "", times=2)  # each opens its thread, then the network drops
        with pytest.raises(PostError, match="cannot reach Discord"):
            await bot.poster.post(post)
    old_first, old_second = (
        next(t for t, thread in fake.threads.items() if thread["name"].endswith(thread_tag(p.key)))
        for p in (first, second)
    )
    assert thread_of(fake, await bot.poster.post(second)) == old_second  # remembered: reused
    new_first = thread_of(fake, await bot.poster.post(first))  # pushed out by the second: opened anew
    assert new_first not in (old_first, old_second) and len(fake.threads) == 3
    assert bot_messages(fake, old_first) == []
