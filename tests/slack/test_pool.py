"""Mentoring pools on Slack, through slack_sdk against the fake Slack on 127.0.0.1: before a round,
``conversations.members`` and ``users.info`` (the platform's :class:`~adapters.slack_bot.pool.SlackPoolSource`)
leave out a member who left the channel, a deactivated one, a bot and a guest, read time zones, wait
out 429s, and change nothing when Slack fails; the round then introduces only the others."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from adapters.slack_bot.pool import SlackPoolSource
from bot.mentoring import tables
from bot.mentoring.pool import BOT, DEACTIVATED, GUEST, LEFT, Checked, refresh_pools
from tests.fakes.slack import BOT_USER_ID, TEAM_ID
from tests.slack.test_mentoring import (
    MEMBERS,
    ROUND,
    MentoringSlack,
    database,
    group_dms,
    mentoring_slack,
    postgres_url,
)

__all__ = ["database", "postgres_url", "mentoring_slack"]  # the fixtures, imported for pytest

BEFORE = ROUND - timedelta(hours=1)


async def members(m: MentoringSlack) -> dict[str, tuple[str | None, str]]:
    """``(absent, timezone)`` of each member."""
    t = tables.members
    async with (await m.store()).connect() as conn:
        rows = await conn.execute(select(t.c.user_id, t.c.absent, t.c.timezone))
        return {r.user_id: (r.absent, r.timezone) for r in rows}


async def test_the_left_the_deactivated_bots_and_guests_are_not_introduced(mentoring_slack: MentoringSlack) -> None:
    m, fake = mentoring_slack, mentoring_slack.fake
    await m.start_program()
    await m.join(MEMBERS)  # UMEM1..UMEM7, all in UTC (the fake's default tz)
    still_here = tuple(u for u in MEMBERS if u != "UMEM3") + ("UOTHER1", "UOTHER2")
    fake.channel("C1", members=still_here)  # UMEM3 left #mentoring; two people never joined the program
    fake.user("UMEM2", deleted=True)
    fake.user("UMEM4", is_bot=True)
    fake.user("UMEM5", is_restricted=True)  # a multi-channel guest
    fake.user("UMEM6", tz="Europe/Berlin")
    fake.fail("users.info", status=429, retry_after=1)  # Tier 4 said "later" once: waited out
    asked_before = len(fake.of("users.info"))

    m.clock.set(BEFORE)
    checked = await refresh_pools(await m.store(), "slack", m.platform.pool, BEFORE)
    assert checked == Checked(programs=1, absent=4, timezones=1)
    assert await members(m) == {
        "UMEM1": (None, "UTC"),
        "UMEM2": (DEACTIVATED, "UTC"),
        "UMEM3": (LEFT, "UTC"),
        "UMEM4": (BOT, "UTC"),
        "UMEM5": (GUEST, "UTC"),
        "UMEM6": (None, "Europe/Berlin"),
        "UMEM7": (None, "UTC"),
    }
    listed = fake.of("conversations.members")
    assert [c.body["channel"] for c in listed] == ["C1"]
    # users.info for the program's members still in the channel only, each once (and the one 429)
    asked = [c.body["user"] for c in fake.of("users.info")[asked_before:]]
    assert sorted(set(asked)) == ["UMEM1", "UMEM2", "UMEM4", "UMEM5", "UMEM6", "UMEM7"]
    assert len(asked) == 7 and [c.status for c in fake.of("users.info")].count(429) == 1

    # the round: only UMEM1, UMEM6 and UMEM7, in one group DM (a pair and a third)
    m.clock.set(ROUND)
    await fake.wait_for("chat.postMessage")
    await m.all_sent(tables.intros, 1)
    assert list(group_dms(fake).values()) == [("UMEM1", "UMEM6", "UMEM7")]
    opened = {u for c in fake.of("conversations.open") for u in str(c.body["users"]).split(",")}
    assert opened == {"UMEM1", "UMEM6", "UMEM7"}
    assert fake.posts(TEAM_ID, "C1") == []


async def test_pages_of_members_are_followed_and_a_failure_changes_nothing(
    mentoring_slack: MentoringSlack, caplog: pytest.LogCaptureFixture
) -> None:
    m, fake = mentoring_slack, mentoring_slack.fake
    await m.start_program()
    await m.join(MEMBERS[:3])
    fake.channel("C1", members=("UX1", "UMEM1", "UX2", "UX3", "UMEM3", "UX4", "UX5"))  # UMEM2 left
    source = SlackPoolSource(m.platform.poster.client, page=2)
    store = await m.store()
    m.clock.set(BEFORE)

    fake.fail("conversations.members", "channel_not_found")  # say, the bot was removed from the channel
    before = await m.rows()
    with caplog.at_level(logging.INFO, logger="careerbot"):
        assert await refresh_pools(store, "slack", source, BEFORE) == Checked(failed=1)
    assert await m.rows() == before
    (line,) = [r for r in caplog.records if r.name == "careerbot.mentoring"]
    assert "could not check the members of slack/" in line.getMessage() and line.exc_info is None

    assert await refresh_pools(store, "slack", source, BEFORE) == Checked(programs=1, absent=1)
    assert {u: a for u, (a, _) in (await members(m)).items()} == {"UMEM1": None, "UMEM2": LEFT, "UMEM3": None}
    pages = [c.body for c in fake.of("conversations.members") if c.ok]
    assert [(p.get("cursor"), int(p["limit"])) for p in pages] == [
        (None, 2),
        ("page:2", 2),
        ("page:4", 2),
        ("page:6", 2),
    ]
    assert BOT_USER_ID not in {c.body.get("user") for c in fake.of("users.info")}
