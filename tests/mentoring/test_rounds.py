"""Mentoring rounds through the real scheduler and store: made once per program and date, intros and
check-ins posted privately and once each (two replicas too), the people who must not be matched are
not, silence pauses, and erasure leaves no trace of the person."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import String, select

from bot.knowledge.kb import KnowledgeBase
from bot.knowledge.loader import default_knowledge_dir, load
from bot.mentoring import tables
from bot.mentoring.store import Program, Settings, TenantMentoring
from bot.registry import job_kinds, purge_tenant
from bot.schedule.clock import FakeClock
from bot.schedule.posting import Channel, Post
from bot.schedule.rules import WEEKDAYS, Schedule
from bot.schedule.scheduler import Report, Scheduler
from bot.store.engine import Store, Tenant, metadata
from bot.tips.store import TenantTips
from bot.tips.tables import posts, subscriptions
from tests.tips.conftest import Database, MemoryPoster, at

TENANT = Tenant("slack", "T1")
MONDAY = at("2025-03-03T10:00")  # a Monday
KB = KnowledgeBase(load(default_knowledge_dir()))
INTERESTS = ["standard:fhir", "standard:dicom", "standard:hl7v2", "compliance:hipaa", "skill:sql", "role:ehr"]


@dataclass
class Program_:
    store: Store
    mentoring: TenantMentoring
    clock: FakeClock
    poster: MemoryPoster
    program: Program

    def scheduler(self, owner: str | None = None) -> Scheduler:
        return Scheduler(self.store, {"slack": self.poster}, job_kinds(lambda: KB), clock=self.clock, owner=owner)

    async def run_at(self, moment: datetime) -> Report:
        self.clock.set(moment)
        return await self.scheduler().run_once()

    async def join(self, user: str, role: str = "peer", **kw: object) -> None:
        rng = random.Random(user)
        await self.mentoring.join(
            self.program,
            user,
            role=role,
            knows=kw.get("knows", rng.sample(INTERESTS, 2)),  # type: ignore[arg-type]
            wants=kw.get("wants", rng.sample(INTERESTS, 2)),  # type: ignore[arg-type]
            timezone=str(kw.get("timezone", "Europe/Berlin")),
            bio=None,
            capacity=int(kw.get("capacity", 1)),  # type: ignore[call-overload]
            now=self.clock.now(),
        )

    def intros(self) -> list[Post]:
        return [p for p in self.poster.sent if p.key.startswith("mi")]

    def checkins(self) -> list[Post]:
        return [p for p in self.poster.sent if p.key.startswith("mc")]


async def open_program(database: Database, settings: Settings) -> AsyncIterator[Program_]:
    store = await Store.open(database.url, schema=database.schema, environ={})
    clock = FakeClock(at("2025-03-01T08:00"))
    poster = MemoryPoster()
    mentoring = TenantMentoring(store, TENANT)
    program, made = await mentoring.create_program(
        Channel("C1", "mentoring"), settings, user="UADMIN", now=clock.now(), seed=11
    )
    assert made and program.next_due_at is not None
    try:
        yield Program_(store, mentoring, clock, poster, program)
    finally:
        await store.close()


@pytest.fixture
async def pairs(database: Database) -> AsyncIterator[Program_]:
    async for found in open_program(database, Settings(kind="pairs", every_weeks=1, repeat_window=2, checkin_days=3)):
        yield found


def week(n: int) -> datetime:
    return MONDAY + timedelta(weeks=n)


async def test_a_round_introduces_everyone_privately_once_and_checks_in_later(pairs: Program_) -> None:
    for i in range(5):
        await pairs.join(f"U{i}")
    assert (await pairs.run_at(week(0) - timedelta(minutes=1))).sent == 0  # not yet due
    report = await pairs.run_at(week(0))
    intros = pairs.intros()
    assert report.sent == 2 == len(intros)  # 5 people: a pair and a trio
    assert sorted(len(p.audience) for p in intros) == [2, 3]
    assert Counter(u for p in intros for u in p.audience) == Counter({f"U{i}": 1 for i in range(5)})
    assert all(p.channel == "C1" and p.audience for p in pairs.poster.sent)  # private, never the channel itself
    trio = next(p for p in intros if len(p.audience) == 3)
    assert any(s.heading == "Why three of you" for s in trio.reply.sections)  # the odd one is told
    assert (await pairs.run_at(week(0) + timedelta(hours=1))).sent == 0  # nothing new
    await pairs.run_at(week(0) + timedelta(days=3))
    checkins = pairs.checkins()
    assert len(checkins) == 2
    commands = [f.command for f in checkins[0].reply.follow_ups]
    assert [c.split()[2] for c in commands] == ["met", "not-yet", "no"] and all("group:" in c for c in commands)


async def test_two_replicas_make_each_round_once(pairs: Program_) -> None:
    for i in range(9):
        await pairs.join(f"U{i}")
    pairs.clock.set(week(0))
    await asyncio.gather(*(pairs.scheduler(owner=f"r{i}").run_once() for i in range(3)))
    keys = Counter(p.key for p in pairs.poster.sent)
    assert len(keys) == 4 and set(keys.values()) == {1}  # 9 people: 3 pairs and a trio, each intro once
    async with pairs.store.connect() as conn:
        rounds = (await conn.execute(select(tables.groups.c.round_no).distinct())).scalars().all()
    assert rounds == [1]


async def test_no_repeat_inside_the_window_across_twenty_rounds(pairs: Program_) -> None:
    for i in range(8):
        await pairs.join(f"U{i}")
    seen: dict[frozenset[str], int] = {}
    for n in range(20):
        before = len(pairs.intros())
        await pairs.run_at(week(n))
        for post in pairs.intros()[before:]:
            assert len(post.audience) >= 2
            for a in post.audience:
                for b in post.audience:
                    if a < b:
                        pair = frozenset((a, b))
                        if pair in seen:
                            assert n - seen[pair] > 2, (pair, seen[pair], n)  # repeat_window=2
                        seen[pair] = n
    async with pairs.store.connect() as conn:
        rounds = (await conn.execute(select(tables.programs.c.rounds))).scalar_one()
    assert rounds == 20


async def test_snoozed_paused_left_and_blocked_people_are_not_matched(pairs: Program_) -> None:
    for i in range(8):
        await pairs.join(f"U{i}")
    now = pairs.clock.now()
    await pairs.mentoring.set_member_state(
        pairs.program, "U0", "snoozed", now, until=(week(1) + timedelta(days=1)).date()
    )
    await pairs.mentoring.set_member_state(pairs.program, "U1", "paused", now)
    await pairs.mentoring.leave(pairs.program, "U2")
    await pairs.mentoring.block("U3", "U4", now)
    await pairs.mentoring.block("U4", "U5", now)
    for n in range(3):
        before = len(pairs.intros())
        await pairs.run_at(week(n))
        matched = [set(p.audience) for p in pairs.intros()[before:] if len(p.audience) > 1]
        everyone = set().union(*matched)
        assert not everyone & {"U1", "U2"}
        assert ("U0" in everyone) == (n >= 2)  # snoozed until the day after round 2's date
        assert not any({"U3", "U4"} <= group or {"U4", "U5"} <= group for group in matched)


async def test_three_unanswered_check_ins_pause_a_member_who_is_told(pairs: Program_) -> None:
    for i in range(4):
        await pairs.join(f"U{i}")
    for n in range(4):
        await pairs.run_at(week(n))
        await pairs.run_at(week(n) + timedelta(days=3))  # the check-ins
        for post in pairs.checkins()[-2:]:
            group = int(post.reply.follow_ups[0].command.rsplit(":", 1)[1])
            for user in post.audience:
                if user != "U0":  # U0 never answers
                    assert await pairs.mentoring.answer(group, user, "met", pairs.clock.now())
    await pairs.run_at(week(4))
    profile = await pairs.mentoring.profile(pairs.program, "U0")
    assert profile is not None and profile.state == "paused"
    told = [p for p in pairs.intros() if p.audience == ("U0",)]
    assert told and told[-1].reply.title == "Mentoring: paused" and "/mentoring resume" in told[-1].reply.summary
    assert all("U0" not in p.audience or p.audience == ("U0",) for p in pairs.intros()[-3:])
    assert (await pairs.mentoring.profile(pairs.program, "U1")).state == "active"  # type: ignore[union-attr]


async def test_forget_me_leaves_no_row_with_the_persons_id(pairs: Program_) -> None:
    for i in range(6):
        await pairs.join(f"U{i}")
    await pairs.mentoring.block("U5", "U1", pairs.clock.now())
    await pairs.mentoring.block("U1", "U2", pairs.clock.now())
    for n in range(2):
        await pairs.run_at(week(n))
        await pairs.run_at(week(n) + timedelta(days=3))
    assert await pairs.mentoring.forget("U1") > 0
    async with pairs.store.connect() as conn:
        for table in metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String)]
            for row in (await conn.execute(select(*columns))).all() if columns else []:
                assert not any(value is not None and "U1" == value for value in row), (table.name, row)
                assert not any(isinstance(value, str) and "U1" in value.split(",") for value in row), (table.name, row)
    # the others keep their history, and are still matched
    before = len(pairs.intros())
    await pairs.run_at(week(2))
    assert all("U1" not in p.audience for p in pairs.intros()[before:]) and len(pairs.intros()) > before


async def test_purge_removes_the_tenant_and_only_it(pairs: Program_) -> None:
    for i in range(4):
        await pairs.join(f"U{i}")
    other = TenantMentoring(pairs.store, Tenant("slack", "T2"))
    kept, _ = await other.create_program(Channel("C1", "x"), Settings(), user="U9", now=pairs.clock.now(), seed=1)
    await TenantTips(pairs.store, TENANT).subscribe(
        Channel("C7", "general"), Schedule(9, 0, "UTC", WEEKDAYS), None, user="U0", now=pairs.clock.now(), seed=1
    )
    await pairs.run_at(week(0))
    assert await purge_tenant(pairs.store, TENANT) > 0  # what removing the bot from the workspace calls
    async with pairs.store.connect() as conn:
        every = (
            tables.programs,
            tables.members,
            tables.groups,
            tables.group_members,
            tables.intros,
            subscriptions,
            posts,
        )
        for table in every:
            tenants = set((await conn.execute(select(table.c.tenant))).scalars().all())
            assert "T1" not in tenants, table.name
    still = await other.program("C1")
    assert still is not None and still.id == kept.id and still.rounds == 1  # untouched by the purge


async def test_a_mentor_program_matches_a_mentee_with_the_mentor_who_knows_what_they_want(database: Database) -> None:
    settings = Settings(kind="mentor", every_weeks=2, checkin_days=7)
    async for run in open_program(database, settings):
        await run.join("M1", "mentor", knows=["standard:dicom", "role:imaging"], wants=[], capacity=1)
        await run.join("M2", "mentor", knows=["skill:sql"], wants=[], capacity=1)
        await run.join("E1", "mentee", knows=[], wants=["standard:dicom"])
        await run.run_at(week(0))
        (intro,) = [p for p in run.intros() if "E1" in p.audience]
        assert set(intro.audience) == {"M1", "E1"}
        assert "DICOM" in intro.reply.summary
        left = [p for p in run.intros() if p.audience == ("M2",)]
        assert left and left[0].reply.title == "Mentoring: no match this round"
