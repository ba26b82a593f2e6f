"""A program's pool checked against the platform before a round (:mod:`bot.mentoring.pool`), with a
made-up platform: people it says are gone sit rounds out and come back when seen again, its time
zones fill in only where members chose none, a failing platform changes nothing, and one workspace's
check never touches another's."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from adapters.runner import run_pools
from bot.mentoring import messages as say
from bot.mentoring import tables
from bot.mentoring.pool import BOT, DEACTIVATED, GUEST, LEFT, Checked, Presence, refresh_pools
from bot.registry import job_kinds
from bot.schedule.posting import Post
from bot.schedule.scheduler import Scheduler
from tests.mentoring.conftest import MentoringBot
from tests.tips.conftest import at

ROUND = at("2025-03-03T10:00")  # the program's first round (defaults: Monday 10:00 UTC, every 2 weeks)
BEFORE = at("2025-03-03T08:30")  # 90 minutes before it: within the 2-hour horizon
NEXT_ROUND = ROUND + timedelta(weeks=2)
PEOPLE = ["U1", "U2", "U3", "U4", "U5"]


class Platform:
    """A made-up platform: ``gone[(tenant, user)]`` is why someone is absent; ``zones`` their tz."""

    def __init__(self) -> None:
        self.gone: dict[tuple[str, str], str] = {}
        self.zones: dict[str, str] = {}
        self.asked: list[tuple[str, str, tuple[str, ...]]] = []
        self.failing: Exception | None = None

    async def presence(self, tenant: str, channel: str, users: Sequence[str]) -> Mapping[str, Presence]:
        self.asked.append((tenant, channel, tuple(users)))
        if self.failing is not None:
            raise self.failing
        out = {
            u: Presence.gone(self.gone[(tenant, u)]) if (tenant, u) in self.gone else Presence.here(self.zones.get(u))
            for u in users
        }
        out["UNOBODY"] = Presence.gone(LEFT)  # someone not asked about: never written anywhere
        return out


async def start(bot: MentoringBot, people: Sequence[str] = PEOPLE, **where: Any) -> None:
    created = await bot.ask("/mentoring program create", admin=True, **where)
    assert created.title.startswith("Mentoring started"), created.title
    for user in people:
        joined = await bot.ask("/mentoring join knows:fhir wants:sql", user=user, **where)
        assert joined.title == say.JOINED_TITLE.format(channel="#C1"), joined.title


async def members(bot: MentoringBot, tenant: str = "T1") -> dict[str, dict[str, Any]]:
    m = tables.members
    async with bot.store.connect() as conn:
        rows = await conn.execute(select(m).where(m.c.tenant == tenant).order_by(m.c.user_id))
        return {r.user_id: dict(r._mapping) for r in rows}


async def refresh(bot: MentoringBot, platform: Platform, now: datetime, name: str = "slack") -> Checked:
    bot.clock.set(now)
    return await refresh_pools(bot.store, name, platform, now)


async def round_at(bot: MentoringBot, moment: datetime) -> list[Post]:
    """The intros and notes the round at ``moment`` sent (posts of that run only)."""
    bot.clock.set(moment)
    before = len(bot.poster.sent)
    await Scheduler(bot.store, {"slack": bot.poster}, job_kinds(lambda: bot.core.kb), clock=bot.clock).run_once()
    return [p for p in bot.poster.sent[before:] if p.key.startswith("mi")]


def reached(posts: Sequence[Post]) -> set[str]:
    return {u for p in posts for u in p.audience}


async def test_gone_members_sit_the_round_out_untold_and_come_back_when_seen(mentoring_bot: MentoringBot) -> None:
    bot, platform = mentoring_bot, Platform()
    await start(bot)
    await bot.ask("/mentoring snooze", user="U5")  # paused by their own choice
    platform.gone |= {("T1", "U2"): LEFT, ("T1", "U3"): DEACTIVATED, ("T1", "U5"): GUEST}

    # four hours ahead: too early, nobody is asked
    assert await refresh(bot, platform, at("2025-03-03T06:00")) == Checked()
    assert platform.asked == []
    # within two hours: every member of the program, once
    assert await refresh(bot, platform, BEFORE) == Checked(programs=1, absent=3)
    assert platform.asked == [("T1", "C1", tuple(PEOPLE))]
    people = await members(bot)
    assert {u: p["absent"] for u, p in people.items()} == {
        "U1": None,
        "U2": LEFT,
        "U3": DEACTIVATED,
        "U4": None,
        "U5": GUEST,
    }
    assert people["U5"]["state"] == "paused"  # their own choice is kept as it was
    assert "UNOBODY" not in people
    # checked for this round: not asked again
    assert await refresh(bot, platform, BEFORE + timedelta(minutes=5)) == Checked()
    assert len(platform.asked) == 1

    intros = await round_at(bot, ROUND)
    assert reached(intros) == {"U1", "U4"}  # nobody writes to the gone, not even a left-out note
    assert all(len(p.audience) == 2 for p in intros)

    # back in the channel before the next round: matched again; U5 stays paused as they chose
    platform.gone.clear()
    assert await refresh(bot, platform, NEXT_ROUND - timedelta(hours=1)) == Checked(programs=1, back=3)
    people = await members(bot)
    assert all(p["absent"] is None for p in people.values())
    assert people["U5"]["state"] == "paused"
    assert reached(await round_at(bot, NEXT_ROUND)) == {"U1", "U2", "U3", "U4"}


async def test_the_platforms_time_zone_fills_in_only_where_nobody_chose_one(mentoring_bot: MentoringBot) -> None:
    bot, platform = mentoring_bot, Platform()
    await start(bot, ["U1"])
    chose = await bot.ask("/mentoring join knows:fhir wants:sql timezone:Europe/Berlin", user="U2")
    assert chose.title == say.JOINED_TITLE.format(channel="#C1"), chose.title
    platform.zones = {"U1": "America/New_York", "U2": "America/New_York"}
    assert await refresh(bot, platform, BEFORE) == Checked(programs=1, timezones=1)
    people = await members(bot)
    assert (people["U1"]["timezone"], people["U1"]["tz_source"]) == ("America/New_York", "platform")
    assert (people["U2"]["timezone"], people["U2"]["tz_source"]) == ("Europe/Berlin", "user")

    # saving the zone the profile already shows (a prefilled form) is not a choice: the platform's moves on
    same = await bot.ask("/mentoring profile timezone:America/New_York", user="U1")
    assert same.tone == "answer", same.summary
    platform.zones = {"U1": "Europe/Lisbon", "U2": "Not/AZone"}
    await round_at(bot, ROUND)  # the program moves on to its next round
    assert await refresh(bot, platform, NEXT_ROUND - timedelta(hours=1)) == Checked(programs=1, timezones=1)
    people = await members(bot)
    assert people["U1"]["timezone"] == "Europe/Lisbon" and people["U2"]["timezone"] == "Europe/Berlin"

    # a zone typed in is kept from then on
    await bot.ask("/mentoring profile timezone:Asia/Tokyo", user="U1")
    platform.zones = {"U1": "Europe/Paris"}
    assert (await members(bot))["U1"]["tz_source"] == "user"
    await round_at(bot, NEXT_ROUND)
    assert await refresh(bot, platform, NEXT_ROUND + timedelta(weeks=2, hours=-1)) == Checked(programs=1)
    assert (await members(bot))["U1"]["timezone"] == "Asia/Tokyo"


async def test_a_failing_platform_changes_nothing_and_is_asked_again(
    mentoring_bot: MentoringBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot, platform = mentoring_bot, Platform()
    await start(bot)
    platform.gone[("T1", "U2")] = BOT
    platform.failing = ConnectionError("Slack did not answer")
    before = await bot.snapshot()
    with caplog.at_level(logging.INFO, logger="careerbot"):
        assert await refresh(bot, platform, BEFORE) == Checked(failed=1)
    assert await bot.snapshot() == before
    (line,) = [r for r in caplog.records if r.name == "careerbot.mentoring"]
    assert line.levelno == logging.WARNING and line.exc_info is None
    assert line.getMessage().endswith("(ConnectionError: Slack did not answer); trying again later")

    platform.failing = None
    assert await refresh(bot, platform, BEFORE + timedelta(minutes=5)) == Checked(programs=1, absent=1)
    assert len(platform.asked) == 2
    assert (await members(bot))["U2"]["absent"] == BOT


async def test_one_workspace_check_never_touches_another(mentoring_bot: MentoringBot) -> None:
    bot, platform = mentoring_bot, Platform()
    await start(bot, ["U1", "U2"])
    await start(bot, ["U1", "U2"], tenant="T2")
    platform.gone |= {("T1", "U1"): LEFT, ("T1", "U2"): LEFT}
    platform.zones = {"U1": "Asia/Tokyo", "U2": "Asia/Tokyo"}
    t2 = await members(bot, "T2")
    # Discord's pass checks Discord's programs only
    assert await refresh(bot, platform, BEFORE, name="discord") == Checked()
    assert await refresh(bot, platform, BEFORE) == Checked(programs=2, absent=2, timezones=2)
    assert sorted(a[0] for a in platform.asked) == ["T1", "T2"]
    assert {u: p["absent"] for u, p in (await members(bot, "T1")).items()} == {"U1": LEFT, "U2": LEFT}
    after = await members(bot, "T2")
    assert {u: (p["absent"], p["timezone"]) for u, p in after.items()} == {
        "U1": (None, "Asia/Tokyo"),
        "U2": (None, "Asia/Tokyo"),
    }
    assert {u: p["state"] for u, p in after.items()} == {u: p["state"] for u, p in t2.items()}


async def test_careerbot_run_checks_pools_every_few_minutes(mentoring_bot: MentoringBot) -> None:
    bot, source = mentoring_bot, Platform()
    await start(bot)
    source.gone[("T1", "U3")] = LEFT
    bot.clock.set(BEFORE)

    class SlackLike:
        name = "slack"
        pool = source

        async def run(self) -> None: ...

        async def close(self) -> None: ...

    naps: list[float] = []

    async def nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 3:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError, match="^$"):  # the one ``nap`` raised, without a message
        await run_pools(bot.core, [SlackLike()], interval=300, first=30, sleep=nap)
    assert naps == [30, 300, 300]
    assert len(source.asked) == 1  # the second pass found the round checked already
    assert (await members(bot))["U3"]["absent"] == LEFT
