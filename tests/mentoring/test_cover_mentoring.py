"""The mentoring wing's remaining paths, each with its outcome in chat or in the store: a store that
will not take writes, a bug inside the wing, options given twice or where none are taken, values too
long to keep once made safe, the program a private message means, ended programs, the people a
forgotten member leaves in a group, rounds the bot was down for, pool checks with nothing to ask or
nothing new to say, and the matcher's and solver's refusals of impossible input."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from bot import messages
from bot.context import Services, ServiceSettings
from bot.core import Core
from bot.errors import CommandError
from bot.knowledge.kb import KnowledgeBase
from bot.knowledge.loader import Knowledge, default_knowledge_dir
from bot.mentoring import messages as say
from bot.mentoring import tables
from bot.mentoring.intros import intro_reply
from bot.mentoring.jobs import IntroJobs
from bot.mentoring.matching import History, Member, match_mentors, match_peers
from bot.mentoring.options import interests
from bot.mentoring.pool import DEACTIVATED, LEFT, Checked, Presence, refresh_pools
from bot.mentoring.rounds import offset_minutes
from bot.mentoring.solvers import EXACT, matching
from bot.mentoring.store import TenantMentoring
from bot.registry import job_kinds, purge_tenant
from bot.schedule.posting import Post
from bot.schedule.scheduler import Report, Scheduler
from bot.store.engine import Tenant
from tests.faults import assert_internal_error
from tests.mentoring.conftest import MentoringBot, registry
from tests.mentoring.test_commands import refused, seed_round, start
from tests.tips.conftest import Database, at
from tests.tips.test_hostile_store import other_store, plain

ROUND = at("2025-03-03T10:00")  # the first round of a program made with the defaults (every 2 weeks)
sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


async def run_at(bot: MentoringBot, moment: Any) -> tuple[Report, list[Post]]:
    bot.clock.set(moment)
    before = len(bot.poster.sent)
    report = await scheduler(bot).run_once()
    return report, bot.poster.sent[before:]


def scheduler(bot: MentoringBot) -> Scheduler:
    return Scheduler(bot.store, {"slack": bot.poster}, job_kinds(lambda: bot.core.kb), clock=bot.clock)


async def join(bot: MentoringBot, *users: str, **where: Any) -> None:
    for user in users:
        reply = await bot.ask("/mentoring join knows:fhir wants:sql", user=user, **where)
        assert reply.tone == "answer", reply.summary


async def program_row(bot: MentoringBot, channel: str = "C1") -> Any:
    async with bot.store.connect() as conn:
        return (await conn.execute(select(tables.programs).where(tables.programs.c.channel == channel))).one()


# ------------------------------------------------------------------ the store and bugs


@sqlite_only
async def test_a_store_that_takes_no_writes_is_one_plain_sentence_and_one_log_line(
    mentoring_bot: MentoringBot, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await start(mentoring_bot)
    await join(mentoring_bot, "U1")
    before = await mentoring_bot.snapshot()
    read_only = await other_store(database)
    services = Services(
        store=read_only,
        environ={},
        posters={"slack": mentoring_bot.poster},
        clock=mentoring_bot.clock,
        rng=random.Random(5),
        settings=ServiceSettings(),
    )
    core = Core(default_knowledge_dir(), registry=registry(), services=services, rng=random.Random(7))
    try:
        for text in ("/mentoring join knows:sql", "/mentoring snooze", "/mentoring block U9"):
            reply = await core.ask(text, platform="slack", tenant="T1", channel="C1", user="U1")
            assert reply.tone == "error" and reply.summary == messages.STORE_READONLY, (text, reply.summary)
            plain(reply)
        status = await core.ask("/mentoring status", platform="slack", tenant="T1", channel="C1", user="U1")
        assert status.title == "Mentoring in #C1"  # reading still works
    finally:
        await core.aclose()
    assert await mentoring_bot.snapshot() == before
    logged = [r.getMessage() for r in caplog.records if r.name == "careerbot.mentoring"]
    assert len(logged) == 3 and all(line.startswith("the store failed: ") and "read-only" in line for line in logged)


@sqlite_only
async def test_a_bug_inside_mentoring_is_the_internal_error_reply(
    mentoring_bot: MentoringBot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await start(mentoring_bot)

    async def broken(self: TenantMentoring, channel: str) -> None:
        raise RuntimeError("a bug in the wing")

    monkeypatch.setattr(TenantMentoring, "program", broken)
    with caplog.at_level(logging.ERROR):
        reply = await mentoring_bot.ask("/mentoring status")
    assert_internal_error(reply, caplog.records, "a bug in the wing")


# ------------------------------------------------------------------ what people type


@sqlite_only
async def test_options_given_twice_or_to_an_action_that_takes_none_are_refused(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    before = await mentoring_bot.snapshot()
    refused(await mentoring_bot.ask("/mentoring join knows:fhir knows:sql"), "You gave `knows` twice. Give it once.")
    refused(await mentoring_bot.ask("/mentoring leave knows:fhir"), "`/mentoring leave` takes no options.")
    refused(await mentoring_bot.ask("/mentoring join knows:fhir dicom zzzqqq"), "I don't know “zzzqqq” (in `knows`).")
    assert await mentoring_bot.snapshot() == before


@sqlite_only
async def test_a_csv_switch_from_discord_is_a_boolean(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    await join(mentoring_bot, "U1", "U2")
    as_csv = await mentoring_bot.options({"action": "program", "step": "report", "csv": True}, admin=True)
    assert [s.heading for s in as_csv.sections] == ["CSV"], as_csv
    table = await mentoring_bot.options({"action": "program", "step": "report", "csv": False}, admin=True)
    assert table.tone == "answer" and "CSV" not in [s.heading for s in table.sections]


@sqlite_only
async def test_a_bio_that_grows_past_its_column_once_made_safe_is_refused(mentoring_bot: MentoringBot) -> None:
    """NFKC turns one character into many (U+FDFA is 18 letters): 20 typed, 360 kept, the column holds 300."""
    await start(mentoring_bot)
    before = await mentoring_bot.snapshot()
    refused(
        await mentoring_bot.ask("/mentoring join bio:" + "\ufdfa" * 20),
        "Your bio is too long to keep once made safe to show: 360 characters, at most 300.",
    )
    assert await mentoring_bot.snapshot() == before


@sqlite_only
async def test_a_user_id_too_long_to_keep_is_refused_before_the_write(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    before = await mentoring_bot.snapshot()
    refused(
        await mentoring_bot.ask("/mentoring join", user="U" * 70),
        "Your user id is too long to keep: 70 characters, at most 64. Nothing was changed.",
    )
    assert await mentoring_bot.snapshot() == before


def test_a_word_of_only_punctuation_names_nothing_even_when_an_alias_is_only_punctuation(core: Core) -> None:
    """An alias like '!!!' is allowed in the knowledge but normalizes to nothing: it must not become a
    name every punctuation-only word would find."""
    shipped = core.kb.knowledge
    entries = {kind: dict(table) for kind, table in shipped.entries.items()}
    sql = entries["skill"]["sql"]
    entries["skill"]["sql"] = type(sql)(
        sql.entry.model_copy(update={"aliases": [*sql.entry.aliases, "!!!"]}), sql.path, sql.index, sql.section
    )
    kb = KnowledgeBase(Knowledge(shipped.directory, entries))
    assert interests(kb, "knows", "sql") == ("skill:sql",)
    with pytest.raises(CommandError, match="I don't know “\\?\\?\\?”"):
        interests(kb, "knows", "???")


# ------------------------------------------------------------------ status, programs, membership


@sqlite_only
async def test_program_alone_is_the_program_status(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    alone = await mentoring_bot.ask("/mentoring program", admin=True)
    assert alone.tone == "answer" and alone == await mentoring_bot.ask("/mentoring program status", admin=True)


async def test_status_lists_the_people_you_asked_not_to_meet(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    await join(mentoring_bot, "U1")
    await mentoring_bot.ask("/mentoring block U2")
    await mentoring_bot.ask("/mentoring block <@U3>")
    (you,) = (await mentoring_bot.ask("/mentoring status")).sections
    assert you.text.splitlines()[-1] == say.YOUR_BLOCKS.format(users="U2, U3")


@sqlite_only
async def test_a_private_message_from_someone_in_two_programs_asks_which(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    await mentoring_bot.ask("/mentoring program create", admin=True, channel="C2")
    await join(mentoring_bot, "U1")
    await join(mentoring_bot, "U1", channel="C2")
    before = await mentoring_bot.snapshot()
    refused(
        await mentoring_bot.ask("/mentoring snooze", channel="D1"),
        say.WHICH_PROGRAM.format(channels="#C1, #C2"),
    )
    assert await mentoring_bot.snapshot() == before
    await mentoring_bot.ask("/mentoring leave", channel="C2")
    paused = await mentoring_bot.ask("/mentoring snooze", channel="D1")  # only one left: that one
    assert paused.summary == say.PAUSED_ME.format(channel="#C1"), paused.summary


@sqlite_only
async def test_an_ended_program_cannot_be_paused_in(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    await join(mentoring_bot, "U1")
    ended = await mentoring_bot.ask("/mentoring program end", admin=True)
    assert ended.title == say.ENDED_TITLE.format(channel="#C1")
    for text in ("/mentoring snooze", "/mentoring resume", "/mentoring snooze until:2w"):
        refused(await mentoring_bot.ask(text), say.ENDED.format(channel="#C1"))
    left = await mentoring_bot.ask("/mentoring leave")  # leaving still works
    assert left.title == say.LEFT_TITLE.format(channel="#C1")


@sqlite_only
async def test_a_check_in_answered_as_the_workspace_is_removed_updates_no_message(
    mentoring_bot: MentoringBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer is written, then the workspace's data is purged (the bot removed) before the message
    is re-read: the answer is thanked, and no adapter is asked to edit a message about nothing."""
    await start(mentoring_bot)
    (pair,) = await seed_round(mentoring_bot, [["U1", "U2"]], [])
    real = TenantMentoring.answer

    async def answer_then_purge(self: TenantMentoring, group_id: int, user: str, answer: str, now: Any) -> bool:
        done = await real(self, group_id, user, answer, now)
        await purge_tenant(self.store, Tenant("slack", "T1"))
        return done

    monkeypatch.setattr(TenantMentoring, "answer", answer_then_purge)
    reply = await mentoring_bot.ask(f"/mentoring checkin met group:{pair}")
    assert reply.title == say.ANSWERED_TITLE and reply.update is None
    async with mentoring_bot.store.connect() as conn:
        assert (await conn.execute(select(tables.groups))).all() == []


# ------------------------------------------------------------------ intros and rounds


@sqlite_only
async def test_forgotten_members_are_left_out_of_their_groups_posts(mentoring_bot: MentoringBot) -> None:
    """The round is made, then people erase themselves before the intros go out: nobody writes to
    them, and a group with nobody left gets no post at all."""
    await start(mentoring_bot)
    await join(mentoring_bot, "U1", "U2", "U3", "U4")
    mentoring_bot.clock.set(ROUND)
    made = await IntroJobs(lambda: mentoring_bot.core.kb).materialize(
        mentoring_bot.store, ROUND, timedelta(hours=6), ["slack"], 10
    )
    assert made == 1
    gm = tables.group_members
    async with mentoring_bot.store.connect() as conn:
        rows = (await conn.execute(select(gm.c.group_id, gm.c.user_id).order_by(gm.c.group_id, gm.c.user_id))).all()
    groups: dict[int, list[str]] = {}
    for group_id, user in rows:
        groups.setdefault(group_id, []).append(user)
    (kept, (stays, goes)), (emptied, pair) = groups.items()
    running = scheduler(mentoring_bot)
    real = running.queue.claim

    async def claim_then_forget(*args: Any, **kw: Any) -> list[Any]:
        jobs = await real(*args, **kw)
        if jobs and kw.get("kind") == "mentoring-intros":
            for user in (goes, *pair):  # erased after the claim: their pending jobs are claimed, not cancelled
                await TenantMentoring(mentoring_bot.store, Tenant("slack", "T1")).forget(user)
        return jobs

    running.queue.claim = claim_then_forget  # type: ignore[method-assign]
    await running.run_once()
    posts = [p for p in mentoring_bot.poster.sent if p.key.startswith("mi")]
    assert [p.audience for p in posts] == [(stays,)]  # the forgotten are not written to
    async with mentoring_bot.store.connect() as conn:
        rows = (
            await conn.execute(select(tables.intros.c.group_id, tables.intros.c.state, tables.intros.c.error))
        ).all()
    assert {r.group_id: (r.state, r.error) for r in rows} == {
        kept: ("sent", None),
        emptied: ("failed", "nobody is left in the group"),
    }


@sqlite_only
async def test_a_round_the_bot_was_down_for_is_skipped_and_the_next_is_on_the_cadence(
    mentoring_bot: MentoringBot, caplog: pytest.LogCaptureFixture
) -> None:
    await start(mentoring_bot)
    await join(mentoring_bot, "U1", "U2")
    back = ROUND + timedelta(weeks=3, hours=2)  # down over the first round and the one after it
    with caplog.at_level(logging.WARNING, logger="careerbot.mentoring"):
        _report, posts = await run_at(mentoring_bot, back)
    assert posts == []
    (line,) = [r.getMessage() for r in caplog.records if r.name == "careerbot.mentoring"]
    assert "the round of 2025-03-03 was skipped; the bot was not running at 2025-03-03T10:00:00+00:00" in line
    row = await program_row(mentoring_bot)
    assert (row.rounds, row.next_date) == (0, "2025-03-31")  # not 03-17, already past: the next from now
    _report, posts = await run_at(mentoring_bot, at("2025-03-31T10:00"))
    assert {u for p in posts for u in p.audience} == {"U1", "U2"}
    assert (await program_row(mentoring_bot)).rounds == 1


async def test_an_empty_batch_reads_nothing() -> None:
    class Unreachable:
        def connect(self) -> Any:
            raise AssertionError("an empty batch must not touch the store")

    jobs = IntroJobs(lambda: pytest.fail("no knowledge needed"))
    assert await jobs.prepare(Unreachable(), Tenant("slack", "T1"), []) == {}  # type: ignore[arg-type]


def test_the_conversation_starter_skips_an_interest_the_knowledge_no_longer_has(core: Core) -> None:
    kb = core.kb
    reply = intro_reply(
        kb,
        members=(("U1", "peer"), ("U2", "peer")),
        bios={},
        shared=("skill:removed-since", "standard:fhir"),
        overlap_hours=4,
        odd_one=None,
        channel="C1",
        mentor_program=False,
        checkin_days=7,
    )
    text = " ".join(reply.strings())
    assert str(kb.tips_tagged("fhir")[0].text)[:60] in text  # the first shared interest that has a tip


def test_a_time_zone_that_no_longer_exists_counts_as_utc() -> None:
    winter = int(at("2025-01-15T12:00").timestamp())
    assert offset_minutes("Europe/Berlin", winter) == 60
    assert offset_minutes("Asia/Kolkata", winter) == 330
    assert offset_minutes("Mars/Olympus_Mons", winter) == 0  # not in the tz database
    assert offset_minutes("../etc/passwd", winter) == 0  # not a zone name at all


# ------------------------------------------------------------------ pool checks


class Quiet:
    """A platform that says nothing about some members and who is gone for others."""

    def __init__(self, said: dict[str, Presence]) -> None:
        self.said = said
        self.asked: list[tuple[str, ...]] = []

    async def presence(self, tenant: str, channel: str, users: Sequence[str]) -> dict[str, Presence]:
        self.asked.append(tuple(users))
        return {u: p for u, p in self.said.items() if u in users}


async def absences(bot: MentoringBot) -> dict[str, tuple[str | None, int]]:
    m = tables.members
    async with bot.store.connect() as conn:
        rows = await conn.execute(select(m.c.user_id, m.c.absent, m.c.updated_at))
        return {r.user_id: (r.absent, r.updated_at) for r in rows}


@sqlite_only
async def test_a_program_without_members_is_checked_without_asking_the_platform(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    source = Quiet({})
    before = ROUND - timedelta(hours=1)
    assert await refresh_pools(mentoring_bot.store, "slack", source, before) == Checked(programs=1)
    assert source.asked == []
    assert (await program_row(mentoring_bot)).pool_checked == "2025-03-03"
    assert await refresh_pools(mentoring_bot.store, "slack", source, before) == Checked()  # done for this round


@sqlite_only
async def test_members_the_platform_says_nothing_new_about_keep_what_they_had(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    await join(mentoring_bot, "U1", "U2", "U3")
    first = Quiet({"U1": Presence.gone(LEFT), "U2": Presence.gone(LEFT)})
    assert await refresh_pools(mentoring_bot.store, "slack", first, ROUND - timedelta(hours=1)) == Checked(1, absent=2)
    marked = await absences(mentoring_bot)
    await run_at(mentoring_bot, ROUND)  # the program moves on to its next round

    # next round: U1 still gone for the same reason, U2 gone for another, U3 not mentioned at all
    second = Quiet({"U1": Presence.gone(LEFT), "U2": Presence.gone(DEACTIVATED)})
    mentoring_bot.clock.set(ROUND + timedelta(weeks=2, hours=-1))
    checked = await refresh_pools(mentoring_bot.store, "slack", second, mentoring_bot.clock.now())
    assert checked == Checked(programs=1)  # nobody *newly* absent
    assert second.asked == [("U1", "U2", "U3")]
    now = await absences(mentoring_bot)
    assert now["U1"] == marked["U1"]  # not even rewritten
    assert now["U2"][0] == DEACTIVATED and now["U2"][1] > marked["U2"][1]
    assert now["U3"] == marked["U3"] == (None, marked["U3"][1])


# ------------------------------------------------------------------ the matcher and the solver


def peer(i: int, role: str = "peer", capacity: int = 1) -> Member:
    return Member(
        id=f"u{i}", role=role, knows=frozenset({"standard:fhir"}), wants=frozenset(), utc_offset=0, capacity=capacity
    )


@pytest.mark.parametrize(
    ("size", "candidates"),
    [(1, 5), (5, 5), (2, 0)],
    ids=["groups-of-one", "groups-of-five", "no-candidates"],
)
def test_the_matcher_refuses_group_sizes_it_cannot_make(size: int, candidates: int) -> None:
    with pytest.raises(ValueError, match=r"^group_size must be 2, 3 or 4 and candidates at least 1$"):
        match_peers([peer(1), peer(2)], History(), round_no=1, group_size=size, candidates=candidates)


def test_the_matcher_refuses_one_person_twice() -> None:
    with pytest.raises(ValueError, match=r"^member ids must be unique$"):
        match_peers([peer(1), peer(2), peer(1)], History(), round_no=1)
    with pytest.raises(ValueError, match=r"^member ids must be unique$"):
        match_mentors([peer(1, "mentor"), peer(1, "mentee")], History(), round_no=1)


def test_a_mentor_who_takes_nobody_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^a mentor's capacity must be at least 1$"):
        match_mentors([peer(1, "mentor", capacity=0), peer(2, "mentee")], History(), round_no=1)


def test_the_solver_ends_when_no_two_nodes_are_each_others_best() -> None:
    """Past ``EXACT`` nodes mutual best partners are paired first, pass after pass; a graph where every
    node's best edge is to itself has none, and the passes stop instead of looping for ever."""
    count = EXACT + 2
    loops = np.array([[i, i, 5] for i in range(count)], np.int64)
    chain = np.array([[i, i + 1, 1] for i in range(0, count - 1, 2)], np.int64)
    assert matching(np.concatenate([loops, chain])) == [(i, i + 1) for i in range(0, count - 1, 2)]
