"""Mentoring as job kinds of the scheduler (:mod:`bot.schedule.jobs`).

- :class:`IntroJobs` (``mentoring_intros``): a due program makes its round (:mod:`bot.mentoring.rounds`)
  in the transaction that moves it to its next date; each group's intro, and each left-out person's
  note, is then a job like any other: claimed, sent once, retried, found again after a crash.
- :class:`CheckinJobs` (``mentoring_checkins``): "did you meet?" with Met / Not yet / Couldn't meet
  buttons, ``checkin_days`` after the intro. Their rows are made with the round.

Every post is private to its group (:attr:`bot.schedule.posting.Post.audience`), never the channel.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.knowledge.kb import KnowledgeBase
from bot.mentoring.intros import checkin_reply, intro_reply, note_reply
from bot.mentoring.rounds import make_round
from bot.mentoring.store import FORGOTTEN, Program, program_from, split_ids
from bot.mentoring.tables import checkins, group_members, groups, intros, members, programs
from bot.schedule.clock import epoch, utc
from bot.schedule.jobs import Compose, Job, Sent, Skip
from bot.schedule.posting import Post
from bot.store.engine import Store, Tenant

log = logging.getLogger("careerbot.mentoring")


def job_key(what: str, platform: str, tenant: str, group_id: int) -> str:
    """25 characters, stable across retries (Discord's nonce limit)."""
    digest = hashlib.blake2b(f"{what}|{platform}|{tenant}|{group_id}".encode(), digest_size=12).hexdigest()
    return ("mi" if what == "intro" else "mc") + digest[:23]


@dataclass(frozen=True, slots=True)
class GroupInfo:
    id: int
    program: Program
    round_no: int
    members: tuple[tuple[str, str], ...]
    """(user id, role), forgotten people left out."""
    bios: dict[str, str]
    """Short bios of the members who wrote one."""
    shared: tuple[str, ...]
    overlap_hours: int
    odd_one: str | None
    note: str | None


async def read_groups(store: Store, tenant: Tenant, ids: Sequence[int]) -> dict[int, GroupInfo]:
    g, gm, p = groups, group_members, programs
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    async with store.connect() as conn:
        rows = (
            await conn.execute(
                select(g, p.c.id.label("program_key"))
                .join(p, p.c.id == g.c.program_id)
                .where(g.c.platform == tenant.platform, g.c.tenant == tenant.team, g.c.id.in_(wanted))
            )
        ).all()
        owned = {r.program_key for r in rows}
        found = (await conn.execute(select(p).where(p.c.id.in_(sorted(owned))))).all() if owned else []
        people = (
            await conn.execute(
                select(gm.c.group_id, gm.c.user_id, gm.c.role)
                .where(gm.c.platform == tenant.platform, gm.c.tenant == tenant.team, gm.c.group_id.in_(wanted))
                .order_by(gm.c.group_id, gm.c.role, gm.c.user_id)
            )
        ).all()
        users = sorted({u for _, u, _ in people})
        bio_rows = (
            (
                await conn.execute(
                    select(members.c.program_id, members.c.user_id, members.c.bio).where(
                        members.c.platform == tenant.platform,
                        members.c.tenant == tenant.team,
                        members.c.program_id.in_(sorted(owned)),
                        members.c.user_id.in_(users),
                        members.c.bio.is_not(None),
                    )
                )
            ).all()
            if users and owned
            else []
        )
    bios = {(r.program_id, r.user_id): r.bio for r in bio_rows}
    by_program = {r.id: program_from(r) for r in found}
    who: dict[int, list[tuple[str, str]]] = {}
    for group_id, user, role in people:
        if not user.startswith(f"{FORGOTTEN}-"):
            who.setdefault(group_id, []).append((user, role))
    return {
        r.id: GroupInfo(
            id=r.id,
            program=by_program[r.program_key],
            round_no=r.round_no,
            members=tuple(sorted(who.get(r.id, []), key=lambda m: (m[1] != "mentor", m[0]))),
            bios={u: bios[(r.program_key, u)] for u, _ in who.get(r.id, []) if (r.program_key, u) in bios},
            shared=split_ids(r.shared),
            overlap_hours=r.overlap_hours,
            odd_one=r.odd_one,
            note=r.note,
        )
        for r in rows
    }


class _GroupJobs:
    """What intros and check-ins share: the group behind each job, read once per batch."""

    table: Any
    name: str
    what: str
    poll: float
    reply: Callable[[GroupInfo], Any]
    """The message of a group: its intro (or a left-out note), or its check-in (each kind's own)."""
    source = "group_id"

    def __init__(self, knowledge: Callable[[], KnowledgeBase]) -> None:
        self.knowledge = knowledge

    async def backlog(self, store: Store, now: datetime, platforms: Sequence[str]) -> int:
        return 0

    async def materialize(
        self, store: Store, now: datetime, grace: timedelta, platforms: Sequence[str], limit: int
    ) -> int:
        return 0

    async def prepare(self, store: Store, tenant: Tenant, jobs: Sequence[Job]) -> dict[int, GroupInfo]:
        return await read_groups(store, tenant, [job.source for job in jobs])

    def compose(self, job: Job, prepared: dict[int, GroupInfo]) -> Compose | Skip:
        info = prepared.get(job.source)
        if info is None:
            return Skip("the group is gone")
        if info.program.state != "active":
            return Skip(f"the program is {info.program.state}")
        if not info.members:
            return Skip("nobody is left in the group")
        reply = self.reply(info)
        post = Post(
            tenant=job.tenant.team,
            channel=job.channel,
            reply=reply,
            key=job_key(self.what, job.tenant.platform, job.tenant.team, job.source),
            due_at=job.due_at,
            audience=tuple(user for user, _ in info.members),
        )
        return Compose(post)

    def sent(self, job: Job, composed: Compose, prepared: dict[int, GroupInfo]) -> None:
        pass

    async def completed(self, conn: AsyncConnection, sent: Sequence[Sent], now: datetime) -> None:
        pass


class CheckinJobs(_GroupJobs):
    name = "mentoring-checkins"
    table = checkins
    what = "checkin"
    poll = 3600.0  # its rows are made with the rounds: nothing to look for

    def reply(self, info: GroupInfo) -> Any:
        return checkin_reply(info.id, info.program.channel_name, info.program.settings.checkin_days)


class IntroJobs(_GroupJobs):
    name = "mentoring-intros"
    table = intros
    what = "intro"
    poll = 10.0  # rounds are weekly at most: a round starts within 10 s of its time

    def reply(self, info: GroupInfo) -> Any:
        if info.note is not None:
            return note_reply(info.note, info.program.channel_name)
        return intro_reply(
            self.knowledge(),
            members=info.members,
            bios=info.bios,
            shared=info.shared,
            overlap_hours=info.overlap_hours,
            odd_one=info.odd_one,
            channel=info.program.channel_name,
            mentor_program=info.program.settings.kind == "mentor",
            checkin_days=info.program.settings.checkin_days,
        )

    async def backlog(self, store: Store, now: datetime, platforms: Sequence[str]) -> int:
        p = programs
        async with store.connect() as conn:
            due = await conn.scalar(
                select(func.count())
                .select_from(p)
                .where(p.c.state == "active", p.c.next_due_at <= epoch(now), p.c.platform.in_(list(platforms)))
            )
        return int(due or 0)

    async def materialize(
        self, store: Store, now: datetime, grace: timedelta, platforms: Sequence[str], limit: int
    ) -> int:
        """Make the round of each due program (locked ``SKIP LOCKED``, so replicas take disjoint
        programs) and move it to its next date, in one transaction per program. A round whose time
        passed more than ``grace`` ago (the bot was down) is skipped, not made late."""
        p = programs
        query = (
            select(p)
            .where(p.c.state == "active", p.c.next_due_at <= epoch(now), p.c.platform.in_(list(platforms)))
            .order_by(p.c.next_due_at, p.c.id)
            .limit(max(1, min(limit, 50)))
            .with_for_update(skip_locked=True)
        )
        done = 0
        async with store.begin() as conn:
            for row in (await conn.execute(query)).all():
                program = program_from(row)
                await self._advance(conn, program, now, grace)
                done += 1
        return done

    async def _advance(self, conn: AsyncConnection, program: Program, now: datetime, grace: timedelta) -> None:
        assert program.next_date is not None and program.next_due_at is not None
        day, due = date.fromisoformat(program.next_date), program.next_due_at
        rounds = program.rounds
        if now - utc(due) <= grace:
            rounds += 1
            await make_round(conn, program, rounds, day.isoformat(), due, now)
        else:
            log.warning(
                "mentoring: %s program %d: the round of %s was skipped; the bot was not running at %s and the "
                "%s grace window has passed",
                program.tenant,
                program.id,
                day,
                utc(due).isoformat(),
                grace,
            )
        schedule = program.settings.schedule()
        step = timedelta(weeks=program.settings.every_weeks)
        day = day + step
        while schedule.due(day) <= now:  # down for long: the next round from now, on the cadence
            day += step
        await conn.execute(
            update(programs)
            .where(programs.c.id == program.id, programs.c.platform == program.tenant.platform)
            .where(programs.c.tenant == program.tenant.team)
            .values(
                rounds=rounds, next_date=day.isoformat(), next_due_at=epoch(schedule.due(day)), updated_at=epoch(now)
            )
        )
