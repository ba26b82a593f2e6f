"""Mentoring pools on Discord, through discord.py against the fake Discord on 127.0.0.1: before a
round, each member who joined is looked up by id (no privileged intent): one who left the server, a
bot, and one who can no longer see the program channel are not introduced; the others are. A refused
look-up changes nothing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.discord_bot.commands import intents
from adapters.discord_bot.pool import DiscordPoolSource
from bot.mentoring import tables
from bot.mentoring.pool import BOT, LEFT, Checked, refresh_pools
from tests.discord.fake_discord import FakeDiscord
from tests.discord.payloads import CHANNEL_ID, GUILD_ID, deny
from tests.discord.test_mentoring import PEOPLE, ROUND, VIEW, Mentoring, land, launch

BEFORE = ROUND - timedelta(hours=1)
IDS = [p["id"] for p in PEOPLE]
MEMBERS = rf"/guilds/{GUILD_ID}/members/\d+"


@pytest.fixture
async def mentoring(fake: FakeDiscord, tmp_path: Path) -> AsyncIterator[Mentoring]:
    """The server of the mentoring tests, where PEOPLE[3] may no longer see #general."""
    fake.guild["channels"][0]["permission_overwrites"] = [deny(int(IDS[3]), VIEW)]
    started = await launch(fake, tmp_path)
    yield started
    await land(started)


async def absent(m: Mentoring) -> dict[str, str | None]:
    store = await m.services.store()
    async with store.connect() as conn:
        rows = await conn.execute(select(tables.members.c.user_id, tables.members.c.absent))
        return {r.user_id: r.absent for r in rows}


async def test_who_left_the_bots_and_who_cannot_see_the_channel_are_not_introduced(
    mentoring: Mentoring, caplog: pytest.LogCaptureFixture
) -> None:
    m, fake = mentoring, mentoring.fake
    assert not intents().members and not intents().presences  # no privileged intent for any of it
    await m.start_program()  # PEOPLE[0..6] join
    for i in (0, 1, 3, 4, 5):
        fake.add_member(IDS[i])
    fake.add_member(IDS[2], bot=True)  # PEOPLE[6] left the server: 404 Unknown Member
    assert isinstance(m.app.pool, DiscordPoolSource)
    store = await m.services.store()

    # a refused look-up (403) changes nothing, in one line
    fake.fail("GET", MEMBERS, 403, 50001, "Missing Access")
    with caplog.at_level(logging.INFO, logger="careerbot"):
        assert await refresh_pools(store, "discord", m.app.pool, BEFORE) == Checked(failed=1)
    assert set((await absent(m)).values()) == {None}
    (line,) = [r for r in caplog.records if r.name == "careerbot.mentoring"]
    assert "(Forbidden: 403 Forbidden (error code: 50001)" in line.getMessage() and line.exc_info is None

    fake.rate_limit("GET", MEMBERS)  # and a 429, which discord.py waits out
    assert await refresh_pools(store, "discord", m.app.pool, BEFORE) == Checked(programs=1, absent=3)
    assert await absent(m) == {IDS[0]: None, IDS[1]: None, IDS[2]: BOT, IDS[3]: LEFT} | {
        IDS[4]: None,
        IDS[5]: None,
        IDS[6]: LEFT,
    }
    looked_up = [c.path.rpartition("/")[2] for c in fake.find("GET", MEMBERS, status=None)]
    assert sorted(set(looked_up)) == sorted(IDS)  # the program's members only, by id
    assert [c.status for c in fake.find("GET", MEMBERS, status=None)].count(429) == 1
    assert not fake.find("GET", rf"/guilds/{GUILD_ID}/members", status=None)  # never the member list

    report = await m.round(ROUND)
    assert (report.sent, report.failed) == (2, 0)
    assert sorted(u for people in fake.thread_members.values() for u in people) == sorted(
        [IDS[0], IDS[1], IDS[4], IDS[5]]
    )
    assert all(t["parent_id"] == str(CHANNEL_ID) for t in fake.threads.values())
