"""More of a person's mentoring at a glance (:mod:`bot.mentoring.home`), on SQLite and PostgreSQL: a
store that cannot be used is one error reply (and no invitation), never a crash; many programs are
counted past the ones shown and their buttons fit the channel list; a mentor's capacity, a paused
member, an ended program (no buttons), intros with someone erased, an admin's empty or long workspace
list, and dates the store holds that are not dates."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest
from sqlalchemy import update

from bot import messages
from bot.context import Services, ServiceSettings
from bot.errors import CommandError
from bot.knowledge.kb import KnowledgeBase
from bot.knowledge.loader import default_knowledge_dir, load
from bot.mentoring import home, tables
from bot.mentoring.store import TenantMentoring
from bot.reply import CAPS, MAX_FOLLOW_UPS
from bot.schedule.scheduler import Scheduler
from tests.mentoring.conftest import MentoringBot
from tests.mentoring.test_home import asking, buttons, home_of, start, text
from tests.tips.conftest import at


def kb() -> KnowledgeBase:
    return KnowledgeBase(load(default_knowledge_dir()))


async def a_round(bot: MentoringBot) -> None:
    """The first round of every program (Monday 03 Mar 2025, 10:00 UTC), as the scheduler runs it."""
    from bot.registry import job_kinds

    bot.clock.set(at("2025-03-03T10:00"))
    await Scheduler(bot.store, {"slack": bot.poster}, job_kinds(lambda: bot.core.kb), clock=bot.clock).run_once()


# ------------------------------------------------------------------ a store that cannot be used


def unusable(kind: str, tmp_path: Path) -> tuple[Services, str]:
    """Services whose store cannot be opened, and what people are told: a file that is not a SQLite
    database (refused, never replaced), or a PostgreSQL server nobody listens for."""
    if kind == "damaged":
        path = tmp_path / "careerbot.db"
        path.write_bytes(b"this is not a database, just some text someone saved here\n" * 100)
        url, reason = f"sqlite+aiosqlite:///{path}", messages.STORE_DAMAGED
    else:
        url, reason = "postgresql+asyncpg://careerbot@127.0.0.1:1/careerbot", messages.STORE_UNAVAILABLE
    services = Services(url=url, environ={}, rng=random.Random(5), settings=ServiceSettings())
    return services, reason


@pytest.mark.parametrize("kind", ["damaged", "unavailable"])
async def test_a_store_that_cannot_be_used_is_one_error_reply_and_no_invitation(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    services, reason = unusable(kind, tmp_path)
    try:
        with caplog.at_level(logging.ERROR, logger="careerbot.mentoring"):
            reply = await home.home(kb(), services, asking("U1", admin=True))
            assert reply.tone == "error" and reply.title == home.TITLE and reply.summary == reason
            assert reply.follow_ups == () and reply.sections == ()
            assert await home.invitation(services, asking("U1", channel="C1")) is None
        logged = [r.getMessage() for r in caplog.records if r.name == "careerbot.mentoring"]
        assert len(logged) == 2 and all(line.startswith("the store failed: ") for line in logged), logged
        if kind == "damaged":
            assert (tmp_path / "careerbot.db").read_bytes().startswith(b"this is not a database")  # left as it was
    finally:
        await services.aclose()


async def test_a_command_error_is_its_reason_and_anything_else_is_not_hidden(
    mentoring_bot: MentoringBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    await start(mentoring_bot)

    async def refused(self: TenantMentoring, user: str) -> None:
        raise CommandError("You cannot look at that here.")

    monkeypatch.setattr(TenantMentoring, "profiles", refused)
    reply = await home_of(mentoring_bot, "U1")
    assert (reply.tone, reply.title, reply.summary) == ("error", home.TITLE, "You cannot look at that here.")

    async def broken(self: TenantMentoring, *args: object) -> None:
        raise RuntimeError("a bug, not the store")

    monkeypatch.setattr(TenantMentoring, "profiles", broken)
    with pytest.raises(RuntimeError, match="a bug, not the store"):
        await home_of(mentoring_bot, "U1")
    monkeypatch.setattr(TenantMentoring, "program", broken)
    with pytest.raises(RuntimeError, match="a bug, not the store"):
        await home.invitation(mentoring_bot.services, asking("U5", channel="C1"))


# ------------------------------------------------------------------ many programs


async def test_many_programs_are_counted_and_their_buttons_fit_the_channel_list(mentoring_bot: MentoringBot) -> None:
    bot = mentoring_bot
    names = [f"C{i:02d}-{'x' * 30}" for i in range(home.PROGRAMS_SHOWN + 2)]  # long channel ids
    for name in names:
        await start(bot, name)
        joined = await bot.ask("/mentoring join", user="U1", channel=name)
        assert joined.tone == "answer", joined
    before = await bot.snapshot()
    reply = await home_of(bot, "U1")
    headings = [s.heading for s in reply.sections]
    assert headings == [f"#{n}" for n in names[: home.PROGRAMS_SHOWN]] + [home.MORE_HEADING, home.INTROS_HEADING]
    assert reply.sections[home.PROGRAMS_SHOWN].text == "…and 2 more."
    # two buttons a program, cut to the cap, then to what one value of extra holds, with their channels
    where = home.channels(reply)
    assert len(reply.follow_ups) < MAX_FOLLOW_UPS and len(reply.follow_ups) == len(where)
    assert len(where) == 5  # ids of 34 characters: six of them, space-separated, are more than 200
    assert len(reply.extra[home.CHANNELS]) <= home.EXTRA_VALUE_MAX
    assert len(" ".join([*where, names[len(where) // 2]])) > home.EXTRA_VALUE_MAX  # one more would not fit
    assert [(label, channel) for label, _, channel in buttons(reply)][:4] == [
        (f"Edit profile · #{names[0]}", names[0]),
        (f"Snooze 2 weeks · #{names[0]}", names[0]),
        (f"Edit profile · #{names[1]}", names[1]),
        (f"Snooze 2 weeks · #{names[1]}", names[1]),
    ]
    assert all(f"#{channel}" in label for label, _, channel in buttons(reply))  # each runs where it says
    assert await bot.snapshot() == before


async def test_with_short_channel_ids_buttons_stop_at_the_cap(mentoring_bot: MentoringBot) -> None:
    bot = mentoring_bot
    names = [f"C{i}" for i in range(home.PROGRAMS_SHOWN + 1)]
    for name in names:
        await start(bot, name)
        await bot.ask("/mentoring join", user="U1", channel=name)
    reply = await home_of(bot, "U1")
    assert reply.sections[home.PROGRAMS_SHOWN].text == "…and 1 more."
    assert len(reply.follow_ups) == MAX_FOLLOW_UPS  # the first five programs' two buttons each
    assert home.channels(reply) == tuple(n for n in names[: MAX_FOLLOW_UPS // 2] for _ in range(2))
    assert reply.extra[home.CHANNELS] == " ".join(home.channels(reply))


# ------------------------------------------------------------------ states and roles


async def test_a_mentors_capacity_a_paused_member_and_an_ended_program(mentoring_bot: MentoringBot) -> None:
    bot = mentoring_bot
    for channel in ("CMENTOR", "CONE"):
        created = await bot.ask("/mentoring program create kind:mentor every:weekly", admin=True, channel=channel)
        assert created.tone == "answer", created
    await start(bot, "CPEER")
    await start(bot, "CZEND")
    await bot.ask("/mentoring join role:mentor capacity:3 knows:fhir", user="U1", channel="CMENTOR")
    await bot.ask("/mentoring join role:mentor capacity:1", user="U1", channel="CONE")
    await bot.ask("/mentoring join", user="U1", channel="CPEER")
    paused = await bot.ask("/mentoring snooze", user="U1", channel="CPEER")  # no end date: paused
    assert paused.tone == "answer", paused
    await bot.ask("/mentoring join", user="U1", channel="CZEND")
    ended = await bot.ask("/mentoring program end", admin=True, channel="CZEND")
    assert ended.title == "Mentoring ended in #CZEND"

    reply = await home_of(bot, "U1")
    by = {s.heading: s.text for s in reply.sections}
    assert "- Role: mentor · You: active · Up to 3 mentees a round" in by["#CMENTOR"].splitlines()
    assert "- Role: mentor · You: active · Up to 1 mentee a round" in by["#CONE"].splitlines()
    assert "- Role: peer · You: paused (Resume to be matched again)" in by["#CPEER"].splitlines()
    assert "- Next round: not scheduled (ended)" in by["#CZEND"].splitlines()
    assert "Bio:" not in by["#CONE"]  # no bio given, no line for it
    assert buttons(reply) == [
        ("Edit profile · #CMENTOR", home.EDIT_COMMAND, "CMENTOR"),
        ("Snooze 2 weeks · #CMENTOR", home.SNOOZE_COMMAND, "CMENTOR"),
        ("Edit profile · #CONE", home.EDIT_COMMAND, "CONE"),
        ("Snooze 2 weeks · #CONE", home.SNOOZE_COMMAND, "CONE"),
        ("Edit profile · #CPEER", home.EDIT_COMMAND, "CPEER"),
        ("Resume · #CPEER", home.RESUME_COMMAND, "CPEER"),
    ]  # none for the ended program: its commands would only say it ended

    resumed = await bot.ask(home.RESUME_COMMAND, user="U1", channel="CPEER")  # what Resume does
    assert resumed.tone == "answer", resumed
    again = {s.heading: s.text for s in (await home_of(bot, "U1")).sections}
    assert "- Role: peer · You: active" in again["#CPEER"].splitlines()


async def test_an_ended_program_alone_has_no_buttons_and_no_channel_list(mentoring_bot: MentoringBot) -> None:
    bot = mentoring_bot
    await start(bot)
    await bot.ask("/mentoring join", user="U1")
    await bot.ask("/mentoring program end", admin=True)
    reply = await home_of(bot, "U1")
    assert reply.tone == "answer" and reply.sections[0].heading == "#C1"
    assert reply.follow_ups == () and reply.extra == {} and home.channels(reply) == ()


# ------------------------------------------------------------------ intros


async def test_intros_with_someone_erased_or_no_one_else_left(mentoring_bot: MentoringBot) -> None:
    bot = mentoring_bot
    await start(bot)
    for user in ("U1", "U2"):
        await bot.ask("/mentoring join knows:fhir wants:sql", user=user)
    await a_round(bot)
    forgot = await bot.ask("/mentoring forget-me", user="U2")
    assert forgot.tone == "answer", forgot
    (intros,) = [s for s in (await home_of(bot, "U1")).sections if s.heading == home.INTROS_HEADING]
    assert intros.text == "- Mon 03 Mar 2025 · #C1 · with someone who left (peer)"  # never the placeholder id

    # a group in which nobody else is recorded any more still reads as an intro
    async with bot.store.begin() as conn:
        await conn.execute(tables.group_members.delete().where(tables.group_members.c.user_id != "U1"))
    (intros,) = [s for s in (await home_of(bot, "U1")).sections if s.heading == home.INTROS_HEADING]
    assert intros.text == "- Mon 03 Mar 2025 · #C1 · with someone who left"


async def test_dates_the_store_holds_that_are_not_dates_are_shown_as_they_are(mentoring_bot: MentoringBot) -> None:
    bot = mentoring_bot
    await start(bot)
    for user in ("U1", "U2"):
        await bot.ask("/mentoring join", user=user)
    await a_round(bot)
    async with bot.store.begin() as conn:  # say, rows edited by hand
        await conn.execute(update(tables.groups).values(local_date=""))
        await conn.execute(update(tables.programs).values(next_date="2025-13-45"))
    reply = await home_of(bot, "U1")
    by = {s.heading: s.text for s in reply.sections}
    assert "- Next round: 2025-13-45, 10:00 UTC" in by["#C1"].splitlines()
    assert by[home.INTROS_HEADING] == "- ? · #C1 · with U2 (peer)"

    async with bot.store.begin() as conn:
        await conn.execute(update(tables.groups).values(local_date="<@U9>soon!"))
    (intros,) = [s for s in (await home_of(bot, "U1")).sections if s.heading == home.INTROS_HEADING]
    assert intros.text == "- <\u200b@U9>soo… · #C1 · with U2 (peer)"  # cut, and never a mention


# ------------------------------------------------------------------ an admin's workspace list


async def test_an_admin_in_a_workspace_with_no_program_is_told_how_to_start_one(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot, tenant="T2")  # another workspace's program does not count
    reply = await home_of(mentoring_bot, "UBOSS", admin=True)
    (workspace,) = [s for s in reply.sections if s.heading == home.WORKSPACE_HEADING]
    assert workspace.text == home.NO_PROGRAMS
    assert reply.summary == home.NOT_IN_ANY and reply.follow_ups == ()


async def test_a_long_workspace_list_is_cut_by_whole_lines_and_says_so(mentoring_bot: MentoringBot) -> None:
    bot = mentoring_bot
    names = [f"C{i:02d}" for i in range(home.WORKSPACE_SHOWN + 1)]
    for name in names:
        await start(bot, name)
    await bot.ask("/mentoring join", user="U1", channel="C00")
    before = await bot.snapshot()
    reply = await home_of(bot, "UBOSS", admin=True)
    (workspace,) = [s for s in reply.sections if s.heading == home.WORKSPACE_HEADING]
    lines = workspace.text.splitlines()
    assert len(workspace.text) <= CAPS["text"]
    listed, last = lines[:-1], lines[-1]
    shown = len(listed)
    assert last == home.LISTED.format(shown=shown) and shown < home.WORKSPACE_SHOWN
    assert listed[0] == "- #C00: active · 1 member · next round Mon 03 Mar 2025, 10:00 UTC · 0 rounds so far"
    assert listed[1] == "- #C01: active · 0 members · next round Mon 03 Mar 2025, 10:00 UTC · 0 rounds so far"
    assert [line.split(":")[0] for line in listed] == [f"- #{n}" for n in names[:shown]]  # the first ones, in order
    # no more was cut than needed: with one more line, the note would not have fitted
    one_more = f"- #{names[shown]}: active · 0 members · next round Mon 03 Mar 2025, 10:00 UTC · 0 rounds so far"
    assert len("\n".join([*listed, one_more, home.LISTED.format(shown=shown + 1)])) > CAPS["text"]
    assert await bot.snapshot() == before


async def test_more_programs_than_listed_but_short_enough_say_only_the_first_are_listed(
    mentoring_bot: MentoringBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(home, "WORKSPACE_SHOWN", 2)
    bot = mentoring_bot
    for name in ("C1", "C2", "C3"):
        await start(bot, name)
    reply = await home_of(bot, "UBOSS", admin=True)
    (workspace,) = [s for s in reply.sections if s.heading == home.WORKSPACE_HEADING]
    assert [line.split(":")[0] for line in workspace.text.splitlines()] == [
        "- #C1",
        "- #C2",
        "Only the first 2 are listed.",
    ]
    assert "#C3" not in text(reply)
