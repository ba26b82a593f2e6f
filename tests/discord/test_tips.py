"""Daily tips on Discord: ``/tips`` through the real client, and the platform's poster posting to the
fake Discord when the scheduler runs on a fake clock, with the store in a temporary data directory."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.discord_bot.app import DiscordApp
from adapters.discord_bot.posting import DM_ONLY
from adapters.runner import run_tips
from bot import messages
from bot.context import Services, ServiceSettings
from bot.core import Core
from bot.errors import CommandError, PostError
from bot.knowledge.loader import default_knowledge_dir
from bot.registry import job_kinds
from bot.reply import Reply
from bot.schedule.clock import FakeClock
from bot.schedule.posting import Post
from bot.schedule.scheduler import Report, Scheduler
from bot.store.engine import Tenant
from bot.tips import messages as tip_messages
from bot.tips.rotation import post_key
from bot.tips.store import Subscription, TenantTips
from tests.discord.conftest import DiscordUser, Sent
from tests.discord.fake_discord import Call, FakeDiscord
from tests.discord.limits import buttons, check_message, plain, text
from tests.discord.payloads import BOT_ID, CHANNEL_ID, EPHEMERAL, GUILD_ID, USER, deny, guild_channel

ADMINISTRATOR, VIEW, SEND, EMBED = 1 << 3, 1 << 10, 1 << 11, 1 << 14
VOICE_ID, MUTED_ID, PLAIN_ID, HIDDEN_ID = (CHANNEL_ID + i for i in range(1, 5))
MONDAY_0600 = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)
MONDAY_0900 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
MESSAGES = rf"/channels/{CHANNEL_ID}/messages"


@dataclass
class TipsOnDiscord:
    fake: FakeDiscord
    user: DiscordUser
    app: DiscordApp
    core: Core
    services: Services
    clock: FakeClock

    async def tenant(self) -> TenantTips:
        """The guild's rows in the store, read directly."""
        return TenantTips(await self.services.store(), Tenant("discord", str(GUILD_ID)))

    async def tips(self, action: str, **options: Any) -> Sent:
        """``/tips action:<action> option:value ...`` as a member of the guild runs it."""
        return await self.user.command("tips", action=action, **options)

    async def subscriptions(self) -> list[Subscription]:
        return await (await self.tenant()).active()

    async def history(self, sub: Subscription) -> list[dict[str, Any]]:
        return await (await self.tenant()).history(sub.id)

    async def run_scheduler(self, at: datetime) -> Report:
        self.clock.set(at)
        store = await self.services.store()
        return await Scheduler(
            store, {"discord": self.app.poster}, job_kinds(lambda: self.core.kb), clock=self.clock
        ).run_once()

    def posts(self, status: int | None = 200) -> list[Call]:
        return self.fake.find("POST", MESSAGES, status=status)


def add_channels(fake: FakeDiscord) -> None:
    """The guild as a real server looks: @everyone without Administrator, and channels where the bot
    cannot post for each reason there is."""
    fake.guild["roles"][0]["permissions"] = str(0x7FFFFFFF & ~ADMINISTRATOR)
    fake.guild["channels"] += [
        guild_channel(VOICE_ID, "lounge", kind=2),
        guild_channel(MUTED_ID, "announcements", deny(BOT_ID, SEND)),
        guild_channel(PLAIN_ID, "plain-text", deny(GUILD_ID, EMBED, member=False)),  # @everyone's role id
        guild_channel(HIDDEN_ID, "staff", deny(BOT_ID, VIEW)),
    ]


async def start(
    fake: FakeDiscord, data_dir: Path, settings: ServiceSettings | None = None, *, clock: FakeClock | None = None
) -> TipsOnDiscord:
    clock = clock or FakeClock(MONDAY_0600)
    services = Services(
        environ={"CAREERBOT_DATA_DIR": str(data_dir)},  # SQLite in a temporary data directory
        clock=clock,
        rng=random.Random(5),
        settings=settings or ServiceSettings(),
    )
    core = Core(default_knowledge_dir(), services=services, rng=random.Random(7))
    add_channels(fake)
    user = DiscordUser(fake, core)
    app = await user.start()
    return TipsOnDiscord(fake, user, app, core, services, clock)


async def stop(tips: TipsOnDiscord) -> None:
    await tips.user.stop()
    await tips.core.aclose()


@pytest.fixture
async def tips(fake: FakeDiscord, tmp_path: Path) -> AsyncIterator[TipsOnDiscord]:
    """The bot as ``careerbot run`` wires it: ``/tips`` checks channels through the platform's poster."""
    started = await start(fake, tmp_path)
    started.services.add_poster("discord", started.app.poster)  # what adapters.runner.run_tips does first
    yield started
    await stop(started)


# ---------------------------------------------------------------------------- /tips


async def test_a_manage_server_member_subscribes_a_channel_by_mention(tips: TipsOnDiscord) -> None:
    reply = await tips.tips("subscribe", channel=f"<#{CHANNEL_ID}>", time="08:30", days="daily")
    check_message(reply.body)
    assert reply.ephemeral
    assert reply.title == tip_messages.SUBSCRIBED_TITLE.format(channel="#general")
    fields = {f["name"]: plain(f["value"]) for f in reply.embeds[0]["fields"]}
    assert fields["Time"] == "08:30" and fields["Days"] == "daily"
    assert fields["Time zone"] == "UTC"  # Discord has no server time zone: CAREERBOT_TIMEZONE, else UTC
    (sub,) = await tips.subscriptions()
    assert (sub.channel, sub.channel_name) == (str(CHANNEL_ID), "general")
    assert (sub.schedule.hour, sub.schedule.minute, sub.schedule.timezone) == (8, 30, "UTC")
    assert sub.next_date == "2025-03-03" and sub.created_by == USER["id"]


async def test_a_member_without_manage_server_is_refused_and_nothing_changes(tips: TipsOnDiscord) -> None:
    tips.fake.member_permissions = str(VIEW | SEND | EMBED)  # an ordinary member: no Manage Server
    refused = await tips.tips("subscribe", channel=f"<#{CHANNEL_ID}>")
    assert refused.title == messages.CANNOT_TITLE
    assert "Only workspace admins can change daily tips" in refused.text and "Manage Server" in refused.text
    assert await tips.subscriptions() == []
    assert not tips.posts(status=None)
    listed = await tips.tips("list")  # list and preview stay open to everyone
    assert listed.title == tip_messages.NONE_TITLE
    preview = await tips.tips("preview")
    assert preview.title.startswith(tip_messages.POST_TITLE)


@pytest.mark.parametrize(
    ("channel", "reason"),
    [
        (f"<#{VOICE_ID}>", "#lounge is a voice channel, and daily tips go to a text channel"),
        (f"<#{MUTED_ID}>", "I can't post in #announcements: I don't have Send Messages there"),
        (str(PLAIN_ID), "I can't post in #plain-text: I don't have Embed Links there"),
        ("#staff", "I can't post in #staff: I don't have View Channel there"),
        ("<#1999999999999999999>", "I can't find channel 1999999999999999999 in this server"),
        ("#nowhere", "There's no channel called #nowhere in this server"),
    ],
    ids=["voice", "no-send", "no-embeds", "hidden", "unknown-id", "unknown-name"],
)
async def test_a_channel_the_bot_cannot_post_in_gets_a_specific_reason(
    tips: TipsOnDiscord, channel: str, reason: str
) -> None:
    reply = await tips.tips("subscribe", channel=channel, time="08:30")
    assert reply.title == messages.CANNOT_TITLE
    assert reason in reply.text, reply.text
    if "I can't post" in reason:
        assert "allow careerbot View Channel, Send Messages and Embed Links" in reply.text
    assert await tips.subscriptions() == []


async def test_channels_resolve_by_mention_id_or_name_within_the_guild_only(tips: TipsOnDiscord) -> None:
    poster, guild = tips.app.poster, str(GUILD_ID)
    for given in (f"<#{CHANNEL_ID}>", str(CHANNEL_ID), "#general", "General"):
        found = await poster.check_channel(guild, given)
        assert (found.id, found.name) == (str(CHANNEL_ID), "general"), given
    with pytest.raises(CommandError, match="can't see this server"):
        await poster.check_channel("1200000000000000999", f"<#{CHANNEL_ID}>")  # another guild's tenant
    with pytest.raises(CommandError, match=f"^{re.escape(DM_ONLY)}$") as direct:
        await poster.check_channel("dm", "1")
    assert direct.value.reason == DM_ONLY
    assert await poster.default_timezone(guild, "1") is None
    in_dm = await tips.user.command("tips", dm=True, action="preview")
    assert DM_ONLY.split(".")[0] in in_dm.text


async def test_without_a_timezone_the_operators_default_applies(fake: FakeDiscord, tmp_path: Path) -> None:
    started = await start(fake, tmp_path, ServiceSettings(default_timezone="Europe/Berlin"))
    started.services.add_poster("discord", started.app.poster)
    try:
        reply = await started.tips("subscribe", channel="#general")
        fields = {f["name"]: plain(f["value"]) for f in reply.embeds[0]["fields"]}
        assert fields["Time zone"] == "Europe/Berlin"
    finally:
        await stop(started)


# ---------------------------------------------------------------------------- posting


def check_tip_post(call: Call, key: str) -> None:
    body = call.body
    check_message(body)
    assert body["nonce"] == key and body["enforce_nonce"] is True  # Discord drops a resend in its window
    assert body["allowed_mentions"]["parse"] == []
    assert not int(body.get("flags") or 0) & EPHEMERAL
    embed = body["embeds"][0]
    assert plain(embed["title"]).startswith(tip_messages.POST_TITLE)
    assert plain(embed["footer"]["text"]) == tip_messages.POST_FOOTER
    assert "Share in channel" not in buttons(body)


class GatedClock(FakeClock):
    """A fake clock whose sleeps wait while the gate is closed: a test can then stop the scheduler
    between rounds, never in the middle of a database call."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.gate = asyncio.Event()
        self.gate.set()
        self.sleeping = 0

    async def sleep(self, seconds: float) -> None:
        self.sleeping += 1
        try:
            await self.gate.wait()
            await super().sleep(seconds)
        finally:
            self.sleeping -= 1


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_the_runner_posts_through_the_platforms_poster(fake: FakeDiscord, tmp_path: Path) -> None:
    """``careerbot run``: the runner finds the DiscordApp's ``poster`` and the scheduler posts with it."""
    clock = GatedClock(MONDAY_0600)
    started = await start(fake, tmp_path, clock=clock)
    task: asyncio.Task[None] | None = None
    try:
        started.services.add_poster("discord", started.app.poster)
        await started.tips("subscribe", channel=f"<#{CHANNEL_ID}>", time="09:00", days="daily")
        started.services.posters.clear()  # from here on, only the runner registers posters
        (sub,) = await started.subscriptions()
        clock.set(MONDAY_0900)
        task = asyncio.create_task(run_tips(started.core, [started.app]))
        (call,) = await fake.wait_for(lambda: started.posts(), timeout=10)
        assert started.services.posters == {"discord": started.app.poster}
        check_tip_post(call, post_key("discord", str(GUILD_ID), sub.id, "2025-03-03"))
        await until(lambda: clock.now() >= MONDAY_0900 + timedelta(minutes=2))  # dozens of rounds more
        clock.gate.clear()
        await until(lambda: clock.sleeping == 2)  # the scheduler's loop and its heartbeat, between rounds
        assert len(started.posts(status=None)) == 1
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await stop(started)


async def test_the_scheduler_posts_each_due_tip_once_with_its_key_as_nonce(tips: TipsOnDiscord) -> None:
    await tips.tips("subscribe", channel=f"<#{CHANNEL_ID}>", time="09:00", days="daily")
    (sub,) = await tips.subscriptions()
    early = await tips.run_scheduler(datetime(2025, 3, 3, 8, 59, tzinfo=UTC))
    assert early.sent == 0 and not tips.posts(status=None)
    report = await tips.run_scheduler(MONDAY_0900)
    assert (report.sent, report.failed, report.retried) == (1, 0, 0)
    (call,) = tips.posts()
    check_tip_post(call, post_key("discord", str(GUILD_ID), sub.id, "2025-03-03"))
    (created,) = [m for m in tips.fake.messages.values() if m.get("nonce") == call.body["nonce"]]
    (day,) = await tips.history(sub)
    assert (day["local_date"], day["state"], day["message_id"]) == ("2025-03-03", "sent", created["id"])
    again = await tips.run_scheduler(datetime(2025, 3, 3, 9, 5, tzinfo=UTC))
    assert again.sent == 0 and len(tips.posts(status=None)) == 1  # sent means sent once
    tuesday = await tips.run_scheduler(datetime(2025, 3, 4, 9, 0, tzinfo=UTC))
    assert tuesday.sent == 1 and len(tips.posts()) == 2
    assert tips.posts()[1].body["nonce"] == post_key("discord", str(GUILD_ID), sub.id, "2025-03-04")


async def test_a_resend_after_a_crash_is_deduplicated_by_the_nonce(tips: TipsOnDiscord) -> None:
    """A process posted, then died before marking the post sent: the retake sends the same nonce,
    so Discord (within its window) returns the first message and the store records that one."""
    await tips.tips("subscribe", channel=f"<#{CHANNEL_ID}>", time="09:00", days="daily")
    (sub,) = await tips.subscriptions()
    key = post_key("discord", str(GUILD_ID), sub.id, "2025-03-03")
    landed = await tips.app.poster.post(
        Post(tenant=str(GUILD_ID), channel=str(CHANNEL_ID), reply=Reply(title="Daily tip"), key=key, due_at=0)
    )
    report = await tips.run_scheduler(MONDAY_0900)
    assert report.sent == 1
    first, resend = tips.posts()
    assert first.body["nonce"] == resend.body["nonce"] == key and resend.body["enforce_nonce"] is True
    assert [m["id"] for m in tips.fake.messages.values() if m.get("nonce") == key] == [landed]
    (day,) = await tips.history(sub)
    assert (day["state"], day["message_id"]) == ("sent", landed)


def tip(key: str = "tipkey0000000000000000001") -> Post:
    reply = Reply(title="Daily tip", summary="Ping @everyone and <@&1> <@1>? Never.")
    return Post(tenant=str(GUILD_ID), channel=str(CHANNEL_ID), reply=reply, key=key, due_at=0)


@pytest.mark.parametrize(
    ("status", "code", "message", "permanent"),
    [
        (403, 50013, "Missing Permissions", True),
        (403, 50001, "Missing Access", True),
        (404, 10003, "Unknown Channel", True),
        (503, 0, "upstream connect error", False),
        (400, 50035, "Invalid Form Body", False),
    ],
)
async def test_http_errors_become_post_errors(
    tips: TipsOnDiscord, status: int, code: int, message: str, permanent: bool
) -> None:
    tips.fake.fail("POST", MESSAGES, status, code, message)
    with pytest.raises(PostError, match=re.escape(message)) as caught:
        await tips.app.poster.post(tip())
    assert caught.value.permanent is permanent
    assert str(status) in caught.value.reason and message in caught.value.reason
    assert await tips.app.poster.post(tip()) in tips.fake.messages  # the failure was that one request


async def test_a_403_fails_the_days_post_for_good(tips: TipsOnDiscord) -> None:
    await tips.tips("subscribe", channel=f"<#{CHANNEL_ID}>", time="09:00", days="daily")
    (sub,) = await tips.subscriptions()
    tips.fake.fail("POST", MESSAGES, 403, 50013, "Missing Permissions")
    report = await tips.run_scheduler(MONDAY_0900)
    assert (report.sent, report.failed, report.retried) == (0, 1, 0)
    (day,) = await tips.history(sub)
    assert day["state"] == "failed" and "403 Missing Permissions" in day["error"]
    later = await tips.run_scheduler(datetime(2025, 3, 3, 10, 0, tzinfo=UTC))
    assert later.sent == 0 and len(tips.posts(status=None)) == 1  # not retried


async def test_a_429_on_a_post_is_waited_out(tips: TipsOnDiscord) -> None:
    tips.fake.rate_limit("POST", MESSAGES, times=1, retry_after=0.05)
    message_id = await tips.app.poster.post(tip())
    assert [c.status for c in tips.posts(status=None)] == [429, 200]
    assert message_id in tips.fake.messages
    assert "everyone" in text(tips.posts()[0].body)  # shown as text; check_message at teardown: no ping
