"""Daily tips on Slack, end to end as ``careerbot run`` wires them: the platform from
``build_platform`` (settings from the environment) served by :func:`adapters.runner.serve`, so the
real Bolt app answers signed ``/tips`` commands on 127.0.0.1 and the tips scheduler posts through the
platform's :class:`~adapters.slack_bot.posting.SlackTipPoster` to the fake Slack, on a frozen clock and a
temporary SQLite store."""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from adapters.runner import serve
from adapters.slack_bot.app import SlackPlatform, build_platform
from adapters.slack_bot.posting import METADATA_TYPE, SlackTipPoster
from bot.context import Services
from bot.core import Core
from bot.knowledge.loader import default_knowledge_dir
from bot.schedule.clock import FakeClock
from bot.schedule.scheduler import Settings as SchedulerSettings
from bot.store.engine import Store, Tenant, metadata
from bot.tips import messages as tip_messages
from bot.tips.store import Subscription, TenantTips
from tests.fakes.slack import TEAM_ID, FakeSlack
from tests.slack.conftest import BOT_TOKEN, SECRET, SlackHarness, texts

MONDAY_6AM = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)
SCHEDULER_TABLES = {"tip_workers", "tip_tenant_leases"}
POLL = SchedulerSettings().poll  # the idle scheduler sleeps this long between rounds
REFUSED = tip_messages.ADMINS_ONLY.split(" (")[0]  # "Only workspace admins can change daily tips"


class FrozenClock(FakeClock):
    """Time moves only when the test sets it; the scheduler's sleeps are short real pauses (a
    :class:`FakeClock` would race its own time ahead while the test talks to Slack). It counts the
    scheduler's idle rounds (each ends in a ``poll`` sleep), so a test that expects nothing to happen
    waits for rounds to have run, not for time to pass."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.idle_rounds = 0

    async def sleep(self, seconds: float) -> None:
        if seconds == POLL:
            self.idle_rounds += 1
        await asyncio.sleep(0.01)

    async def rounds(self, count: int = 3, timeout: float = 10.0) -> None:
        """Return when the scheduler has finished ``count`` more idle rounds: all but the first began
        after this call, so each of those looked at everything stored before it."""
        loop = asyncio.get_running_loop()
        target, deadline = self.idle_rounds + count, loop.time() + timeout
        while self.idle_rounds < target:
            assert loop.time() < deadline, f"the scheduler ran {count - target + self.idle_rounds} of {count} rounds"
            await asyncio.sleep(0.01)


@dataclass
class TipsSlack:
    slack: SlackHarness
    fake: FakeSlack
    platform: SlackPlatform
    services: Services
    clock: FrozenClock

    async def store(self) -> Store:
        return await self.services.store()

    async def subscriptions(self) -> list[Subscription]:
        return await TenantTips(await self.store(), Tenant("slack", TEAM_ID)).active()

    async def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table a command writes (not the scheduler's own heartbeats and
        leases): to prove a refused command changed nothing."""
        out = {}
        async with (await self.store()).connect() as conn:
            for table in metadata.sorted_tables:
                if table.name not in SCHEDULER_TABLES:
                    out[table.name] = [tuple(r) for r in await conn.execute(select(table))]
        return out

    def looked_up(self) -> list[str]:
        """The users users.info was asked about, in order."""
        return [str(c.body.get("user")) for c in self.fake.of("users.info")]


@pytest.fixture
async def tips_slack(fake: FakeSlack, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[TipsSlack]:
    clean_env.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    clean_env.setenv("SLACK_SIGNING_SECRET", SECRET)
    clean_env.setenv("SLACK_API_URL", fake.api_url)
    clock = FrozenClock(MONDAY_6AM)
    services = Services(environ={"CAREERBOT_DATA_DIR": str(tmp_path)}, clock=clock, rng=random.Random(11))
    core = Core(default_knowledge_dir(), services=services, rng=random.Random(3))
    platform = build_platform(core, {"port": 0, "host": "127.0.0.1"})
    serving = asyncio.create_task(serve(core, [platform], reload_interval=60))
    try:
        await asyncio.wait_for(platform.started.wait(), 5)
        async with aiohttp.ClientSession() as http:
            yield TipsSlack(SlackHarness(platform, fake, http), fake, platform, services, clock)
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        await sqlite_threads_done()
    assert platform.poster.session is None  # serve() closed the platform, poster included


async def sqlite_threads_done(timeout: float = 5.0) -> None:
    """Cancelling the scheduler mid-query makes SQLAlchemy terminate that aiosqlite connection: its
    worker thread finishes the query and then hands the result to the event loop. Wait for those
    threads while the loop still runs (pytest closes it right after the fixture)."""
    for thread in threading.enumerate():
        if "_connection_worker_thread" in thread.name:
            await asyncio.to_thread(thread.join, timeout)


# ---------------------------------------------------------------------------- wiring


async def test_the_platform_offers_a_poster_on_the_bot_token_and_api_url(tips_slack: TipsSlack) -> None:
    poster = tips_slack.platform.poster
    assert isinstance(poster, SlackTipPoster)
    assert poster.base_url == tips_slack.fake.api_url == tips_slack.platform.client.base_url
    assert poster.token_for(TEAM_ID) == BOT_TOKEN
    assert tips_slack.services.posters == {"slack": poster}  # serve() registered it: /tips checks channels with it
    assert tips_slack.services.settings.admins == frozenset()  # no CAREERBOT_ADMINS: admins come from Slack


# ---------------------------------------------------------------------------- who may subscribe


@pytest.mark.parametrize("role", ["is_admin", "is_owner", "is_primary_owner"])
async def test_a_workspace_admin_subscribes_a_channel(tips_slack: TipsSlack, role: str) -> None:
    tips_slack.fake.user("UBOSS", **{role: True})
    tips_slack.fake.channel("C2", name="daily-tips")
    message = await tips_slack.slack.command(
        "/tips", "subscribe #daily-tips time:09:00 timezone:UTC days:daily", user="UBOSS"
    )
    said = texts(message)
    assert "Daily tips on for #daily-tips" in said, said
    assert "Mon 03 Mar 2025, 09:00 UTC" in said  # the first one: today, still ahead on the clock
    assert message["response_type"] == "ephemeral"
    labels = [e["text"]["text"] for b in message["blocks"] for e in b.get("elements", []) if e.get("type") == "button"]
    assert "Preview the next tip" in labels and "Share in channel" not in labels  # sharing would subscribe again
    assert tips_slack.looked_up() == ["UBOSS"]
    assert [c.body["types"] for c in tips_slack.fake.of("conversations.list")] == ["public_channel,private_channel"]
    [sub] = await tips_slack.subscriptions()
    assert (sub.channel, sub.channel_name, sub.created_by) == ("C2", "daily-tips", "UBOSS")
    assert (sub.schedule.hour, sub.schedule.minute, sub.schedule.timezone) == (9, 0, "UTC")


async def test_a_member_is_refused_and_nothing_changes(tips_slack: TipsSlack) -> None:
    tips_slack.fake.user("UBOSS", is_admin=True)
    await tips_slack.slack.command("/tips", "subscribe time:08:00 timezone:UTC", user="UBOSS", channel="C1")
    before = await tips_slack.rows()
    assert len(before["tip_subscriptions"]) == 1

    for text in ("subscribe time:10:00 timezone:UTC", "unsubscribe", "skip"):
        said = texts(await tips_slack.slack.command("/tips", text, user="UMEMBER", channel="C1"))
        assert REFUSED in said, (text, said)
    said = texts(await tips_slack.slack.command("/career", "tips unsubscribe", user="UMEMBER", channel="C1"))
    assert REFUSED in said  # the umbrella command is no way around it

    assert await tips_slack.rows() == before
    assert tips_slack.looked_up() == ["UBOSS", "UMEMBER"]  # asked once, then remembered
    [sub] = await tips_slack.subscriptions()
    assert (sub.channel, sub.schedule.hour) == ("C1", 8)
    listed = texts(await tips_slack.slack.command("/tips", "list", user="UMEMBER"))
    assert "#c1" in listed and "08:00 UTC" in listed  # but anyone may look


async def test_when_slack_cannot_say_the_user_is_not_an_admin(
    tips_slack: TipsSlack, caplog: pytest.LogCaptureFixture
) -> None:
    tips_slack.fake.user("UBOSS", is_admin=True)
    tips_slack.fake.fail("users.info", error="missing_scope")
    with caplog.at_level(logging.WARNING, logger="careerbot.slack"):
        said = texts(await tips_slack.slack.command("/tips", "subscribe", user="UBOSS"))
    assert REFUSED in said
    assert await tips_slack.subscriptions() == []
    assert "users.info failed: missing_scope" in caplog.text
    assert BOT_TOKEN not in caplog.text and "xoxb-" not in caplog.text
    # a failure is not remembered: once Slack answers, the admin is an admin
    said = texts(await tips_slack.slack.command("/tips", "subscribe timezone:UTC", user="UBOSS"))
    assert "Daily tips on for #c1" in said
    assert tips_slack.looked_up() == ["UBOSS", "UBOSS"]


async def test_users_info_is_asked_only_for_admin_commands(tips_slack: TipsSlack) -> None:
    slack = tips_slack.slack
    for command, text in [
        ("/role", "ehr"),
        ("/tip", ""),
        ("/search", "fhir"),
        ("/career", "role ehr"),
        ("/career", ""),
    ]:
        message = await slack.command(command, text, user="U1")
        assert message["blocks"], (command, text)
    assert (
        await slack.event(
            {"type": "app_mention", "user": "U1", "text": "<@UBOT> what is fhir", "ts": "1.2", "channel": "C1"}
        )
        == 200
    )
    await slack.next_response("chat.postMessage")  # the mention was answered in its thread
    await tips_slack.fake.quiesce(tips_slack.platform.adapter)  # everything it set off has finished
    assert tips_slack.looked_up() == []

    await slack.command("/tips", "list", user="U1")
    await slack.command("/tips", "preview", user="U1")
    await slack.command("/career", "tips list", user="U1")
    assert tips_slack.looked_up() == ["U1"]  # /tips is declared admin; the answer is remembered per user
    await slack.command("/career", "tips list", user="U2")
    assert tips_slack.looked_up() == ["U1", "U2"]  # through the umbrella too


# ---------------------------------------------------------------------------- posting


async def test_the_scheduler_posts_the_tip_through_the_platforms_poster(tips_slack: TipsSlack) -> None:
    fake = tips_slack.fake
    fake.user("UBOSS", is_admin=True)
    fake.channel("C2", name="daily-tips")
    said = texts(
        await tips_slack.slack.command("/tips", "subscribe time:09:00 timezone:UTC", user="UBOSS", channel="C2")
    )
    assert "Daily tips on for #daily-tips" in said
    [sub] = await tips_slack.subscriptions()
    history = TenantTips(await tips_slack.store(), Tenant("slack", TEAM_ID))

    await tips_slack.clock.rounds(3)  # rounds at 06:00 that saw the subscription: nothing is due yet
    assert await history.history(sub.id) == [] and fake.of("chat.postMessage") == []  # not even a job

    tips_slack.clock.set(datetime(2025, 3, 3, 9, 0, 5, tzinfo=UTC))
    call = await fake.wait_for("chat.postMessage")
    assert call.body["channel"] == "C2"
    assert call.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    assert call.body["metadata"]["event_type"] == METADATA_TYPE and call.body["metadata"]["event_payload"]["key"]
    assert call.body["blocks"][0]["type"] == "header"
    assert call.body["blocks"][0]["text"]["text"].startswith(tip_messages.POST_TITLE)
    assert call.body["text"].startswith(tip_messages.POST_TITLE)
    ts = fake.history["C2"][0]["ts"]

    for _ in range(300):  # sent posts are marked in batches: wait for the row
        rows = await history.history(sub.id)
        if rows and rows[0]["state"] == "sent":
            break
        await asyncio.sleep(0.01)
    assert [(r["local_date"], r["state"], r["message_id"]) for r in rows] == [("2025-03-03", "sent", ts)]
    assert rows[0]["tip_id"]

    await tips_slack.clock.rounds(3)  # more rounds at 09:00: still exactly one post that day
    assert [(r["local_date"], r["state"], r["message_id"]) for r in await history.history(sub.id)] == [
        ("2025-03-03", "sent", ts)
    ]
    assert [c.body["channel"] for c in fake.of("chat.postMessage")] == ["C2"]
