"""Mentoring queries for commands. :class:`TenantMentoring` is bound to one tenant, and every
statement it runs filters on that tenant's ``platform`` and ``tenant``, so no command can read or
change another workspace's programs or people, even given their ids. The scheduler's side (rounds,
intros, check-ins) is :mod:`bot.mentoring.jobs`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, and_, delete, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from bot.mentoring.tables import blocks, checkins, group_members, groups, intros, members, programs
from bot.schedule.clock import epoch
from bot.schedule.posting import Channel
from bot.schedule.rules import Schedule
from bot.store.engine import Store, Tenant

PAUSED_NOTE = "paused"
"""The note of a "group of one" telling a member they were paused for silence (not a sat-out)."""
FORGOTTEN = "forgotten"
"""What replaces an erased person's id where other people's history keeps the row."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    """A program's settings, as ``/mentoring program create`` takes them."""

    kind: str = "pairs"
    group_size: int = 2
    every_weeks: int = 2
    weekday: int = 0
    hour: int = 10
    minute: int = 0
    timezone: str = "UTC"
    repeat_window: int = 6
    checkin_days: int = 7

    def schedule(self) -> Schedule:
        return Schedule(self.hour, self.minute, self.timezone, 1 << self.weekday)


@dataclass(frozen=True, slots=True)
class Program:
    id: int
    tenant: Tenant
    channel: str
    channel_name: str
    settings: Settings
    state: str
    seed: int
    rounds: int
    next_date: str | None
    next_due_at: int | None
    created_by: str


@dataclass(frozen=True, slots=True)
class Profile:
    id: int
    program_id: int
    user_id: str
    role: str
    knows: tuple[str, ...]
    wants: tuple[str, ...]
    timezone: str
    bio: str | None
    capacity: int
    state: str
    snooze_until: str | None
    silent: int
    last_sat_out: int | None


@dataclass(frozen=True, slots=True)
class Report:
    members: dict[str, int]
    """By role."""
    states: dict[str, int]
    """Members by state (active, snoozed, paused)."""
    rounds: int
    groups: int
    matched: int
    """Places in groups of two or more, over all rounds."""
    sat_out: int
    """People left out of a round (a note instead of an intro), over all rounds."""
    answers: dict[str, int]
    """Check-in answers: met, not_yet, no, and None for unanswered."""
    last_round: list[tuple[str, ...]]
    """The groups of the last round (ids), then each person left out as a one-tuple."""


@dataclass(frozen=True, slots=True)
class PastGroup:
    """A group someone was introduced in (its intro was sent), for their home view."""

    group_id: int
    local_date: str
    channel: str
    channel_name: str
    members: tuple[tuple[str, str], ...]
    """Everyone in the group, ``(user id, role)``, the person asking included."""


@dataclass(frozen=True, slots=True)
class CheckinProgress:
    """Where a group's check-in stands: counts only, never who answered what."""

    answered: int
    total: int
    channel_name: str
    checkin_days: int


def split_ids(text: str) -> tuple[str, ...]:
    return tuple(x for x in text.split(",") if x)


def program_from(row: Row[Any]) -> Program:
    m = row._mapping
    settings = Settings(
        kind=m["kind"],
        group_size=m["group_size"],
        every_weeks=m["every_weeks"],
        weekday=m["weekday"],
        hour=m["hour"],
        minute=m["minute"],
        timezone=m["timezone"],
        repeat_window=m["repeat_window"],
        checkin_days=m["checkin_days"],
    )
    return Program(
        id=m["id"],
        tenant=Tenant(m["platform"], m["tenant"]),
        channel=m["channel"],
        channel_name=m["channel_name"],
        settings=settings,
        state=m["state"],
        seed=m["seed"],
        rounds=m["rounds"],
        next_date=m["next_date"],
        next_due_at=m["next_due_at"],
        created_by=m["created_by"],
    )


def profile_from(row: Row[Any]) -> Profile:
    m = row._mapping
    return Profile(
        id=m["id"],
        program_id=m["program_id"],
        user_id=m["user_id"],
        role=m["role"],
        knows=split_ids(m["knows"]),
        wants=split_ids(m["wants"]),
        timezone=m["timezone"],
        bio=m["bio"],
        capacity=m["capacity"],
        state=m["state"],
        snooze_until=m["snooze_until"],
        silent=m["silent"],
        last_sat_out=m["last_sat_out"],
    )


class TenantMentoring:
    """One tenant's mentoring programs and people. Every query here filters on :attr:`tenant`."""

    def __init__(self, store: Store, tenant: Tenant) -> None:
        self.store = store
        self.tenant = tenant

    def _mine(self, table: Any) -> ColumnElement[bool]:
        return and_(table.c.platform == self.tenant.platform, table.c.tenant == self.tenant.team)

    # ------------------------------------------------------------------ programs

    async def program(self, channel: str) -> Program | None:
        async with self.store.connect() as conn:
            row = (
                await conn.execute(select(programs).where(self._mine(programs), programs.c.channel == channel))
            ).first()
        return program_from(row) if row is not None else None

    async def program_by_id(self, program_id: int) -> Program | None:
        async with self.store.connect() as conn:
            row = (
                await conn.execute(select(programs).where(self._mine(programs), programs.c.id == program_id))
            ).first()
        return program_from(row) if row is not None else None

    async def create_program(
        self, channel: Channel, settings: Settings, *, user: str, now: datetime, seed: int
    ) -> tuple[Program, bool]:
        """A new program in ``channel`` (an ended one there is replaced); ``(program, False)`` when an
        active or paused program already runs there (nothing is changed)."""
        existing = await self.program(channel.id)
        if existing is not None and existing.state != "ended":
            return existing, False
        day, due = settings.schedule().first_after(now)
        values = {
            "platform": self.tenant.platform,
            "tenant": self.tenant.team,
            "channel": channel.id,
            "channel_name": channel.name[:100],
            "kind": settings.kind,
            "group_size": settings.group_size,
            "every_weeks": settings.every_weeks,
            "weekday": settings.weekday,
            "hour": settings.hour,
            "minute": settings.minute,
            "timezone": settings.timezone,
            "repeat_window": settings.repeat_window,
            "checkin_days": settings.checkin_days,
            "state": "active",
            "seed": seed,
            "rounds": 0,
            "next_date": day.isoformat(),
            "next_due_at": epoch(due),
            "created_by": user,
            "created_at": epoch(now),
            "updated_at": epoch(now),
        }
        async with self.store.begin() as conn:
            if existing is not None:  # ended: its members, groups and jobs go with it
                await conn.execute(delete(programs).where(self._mine(programs), programs.c.id == existing.id))
            await conn.execute(programs.insert().values(**values))
        made = await self.program(channel.id)
        assert made is not None
        return made, True

    async def set_state(self, program: Program, state: str, now: datetime) -> Program:
        """Pause, resume or end a program. Resuming schedules the next round from ``now``."""
        values: dict[str, Any] = {"state": state, "updated_at": epoch(now)}
        if state == "active":
            day, due = program.settings.schedule().first_after(now)
            values |= {"next_date": day.isoformat(), "next_due_at": epoch(due)}
        elif state == "ended":
            values |= {"next_date": None, "next_due_at": None}
        async with self.store.begin() as conn:
            await conn.execute(
                update(programs).where(self._mine(programs), programs.c.id == program.id).values(**values)
            )
            if state != "active":  # nothing more is posted for a paused or ended program
                for table in (intros, checkins):
                    mine = select(groups.c.id).where(self._mine(groups), groups.c.program_id == program.id)
                    await conn.execute(
                        update(table)
                        .where(self._mine(table), table.c.group_id.in_(mine), table.c.state == "pending")
                        .values(state="cancelled", updated_at=epoch(now))
                    )
        found = await self.program_by_id(program.id)
        assert found is not None
        return found

    # ------------------------------------------------------------------ people

    async def profile(self, program: Program, user: str) -> Profile | None:
        query = select(members).where(
            self._mine(members), members.c.program_id == program.id, members.c.user_id == user
        )
        async with self.store.connect() as conn:
            row = (await conn.execute(query)).first()
        return profile_from(row) if row is not None else None

    async def profiles(self, user: str) -> list[tuple[Program, Profile]]:
        """Every program of the tenant this person joined."""
        query = (
            select(programs, members.c.id.label("member_id"))
            .join(members, members.c.program_id == programs.c.id)
            .where(self._mine(programs), self._mine(members), members.c.user_id == user)
            .order_by(programs.c.channel_name)
        )
        out = []
        async with self.store.connect() as conn:
            for row in (await conn.execute(query)).all():
                program = program_from(row)
                prof = await conn.execute(select(members).where(self._mine(members), members.c.id == row.member_id))
                out.append((program, profile_from(prof.one())))
        return out

    async def member_count(self, program: Program) -> int:
        """How many people are in ``program``, whatever their state."""
        query = select(func.count()).where(self._mine(members), members.c.program_id == program.id)
        async with self.store.connect() as conn:
            return int(await conn.scalar(query) or 0)

    async def programs(self, limit: int = 200) -> list[tuple[Program, int]]:
        """The tenant's programs (ended ones too), each with how many people are in it, by channel name."""
        count = (
            select(func.count())
            .select_from(members)
            .where(self._mine(members), members.c.program_id == programs.c.id)
            .correlate(programs)
            .scalar_subquery()
        )
        query = (
            select(programs, count.label("member_count"))
            .where(self._mine(programs))
            .order_by(programs.c.channel_name, programs.c.id)
            .limit(limit)
        )
        async with self.store.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [(program_from(row), int(row.member_count or 0)) for row in rows]

    async def past_groups(self, user: str, limit: int = 5) -> list[PastGroup]:
        """The last ``limit`` groups ``user`` was introduced in (intro sent; not a note to someone
        left out), newest first, with who was in each."""
        theirs = select(group_members.c.group_id).where(self._mine(group_members), group_members.c.user_id == user)
        sent = select(intros.c.group_id).where(self._mine(intros), intros.c.state == "sent")
        query = (
            select(groups.c.id, groups.c.local_date, programs.c.channel, programs.c.channel_name)
            .join(programs, programs.c.id == groups.c.program_id)
            .where(self._mine(groups), self._mine(programs), groups.c.note.is_(None))
            .where(groups.c.id.in_(theirs), groups.c.id.in_(sent))
            .order_by(groups.c.local_date.desc(), groups.c.id.desc())
            .limit(limit)
        )
        async with self.store.connect() as conn:
            found = (await conn.execute(query)).all()
            ids = [row.id for row in found]
            people: dict[int, list[tuple[str, str]]] = {i: [] for i in ids}
            if ids:
                rows = await conn.execute(
                    select(group_members.c.group_id, group_members.c.user_id, group_members.c.role)
                    .where(self._mine(group_members), group_members.c.group_id.in_(ids))
                    .order_by(group_members.c.group_id, group_members.c.id)
                )
                for row in rows:
                    people[row.group_id].append((row.user_id, row.role))
        return [
            PastGroup(row.id, row.local_date, row.channel, row.channel_name, tuple(people[row.id])) for row in found
        ]

    async def join(
        self,
        program: Program,
        user: str,
        *,
        role: str,
        knows: Sequence[str],
        wants: Sequence[str],
        timezone: str,
        bio: str | None,
        capacity: int,
        now: datetime,
        timezone_chosen: bool = False,
    ) -> tuple[Profile, bool]:
        """Opt ``user`` in (or update their profile): ``(profile, True)`` when they were not a member.
        ``timezone_chosen``: they gave ``timezone`` themselves, so the pool check
        (:mod:`bot.mentoring.pool`) never replaces it with the platform's; giving back the zone the
        profile already had (a prefilled form saved as it was) is not a new choice."""
        values: dict[str, Any] = {
            "role": role,
            "knows": ",".join(knows),
            "wants": ",".join(wants),
            "timezone": timezone,
            "bio": bio,
            "capacity": capacity,
            "updated_at": epoch(now),
        }
        existing = await self.profile(program, user)
        if timezone_chosen and (existing is None or existing.timezone != timezone):
            values["tz_source"] = "user"
        async with self.store.begin() as conn:
            if existing is None:
                await conn.execute(
                    members.insert().values(
                        platform=self.tenant.platform,
                        tenant=self.tenant.team,
                        program_id=program.id,
                        user_id=user,
                        state="active",
                        joined_at=epoch(now),
                        **values,
                    )
                )
            else:
                await conn.execute(
                    update(members).where(self._mine(members), members.c.id == existing.id).values(**values)
                )
        found = await self.profile(program, user)
        assert found is not None
        return found, existing is None

    async def set_member_state(
        self, program: Program, user: str, state: str, now: datetime, *, until: date | None = None
    ) -> bool:
        """Snooze (until a local date, or until resumed), pause or resume one member; False if not a member."""
        values: dict[str, Any] = {"state": state, "updated_at": epoch(now), "snooze_until": None}
        if until is not None:
            values["snooze_until"] = until.isoformat()
        if state == "active":
            values["silent"] = 0
        async with self.store.begin() as conn:
            result = await conn.execute(
                update(members)
                .where(self._mine(members), members.c.program_id == program.id, members.c.user_id == user)
                .values(**values)
            )
        return bool(result.rowcount)

    async def leave(self, program: Program, user: str) -> bool:
        """Take ``user`` out of the program (their past groups stay, so repeat rules hold if they rejoin)."""
        async with self.store.begin() as conn:
            result = await conn.execute(
                delete(members).where(
                    self._mine(members), members.c.program_id == program.id, members.c.user_id == user
                )
            )
        return bool(result.rowcount)

    async def block(self, user: str, other: str, now: datetime) -> bool:
        """``user`` is never matched with ``other`` in this tenant; False if it was already so."""
        async with self.store.begin() as conn:
            exists = await conn.scalar(
                select(func.count()).where(self._mine(blocks), blocks.c.user_id == user, blocks.c.blocked == other)
            )
            if exists:
                return False
            await conn.execute(
                blocks.insert().values(
                    platform=self.tenant.platform,
                    tenant=self.tenant.team,
                    user_id=user,
                    blocked=other,
                    created_at=epoch(now),
                )
            )
        return True

    async def unblock(self, user: str, other: str) -> bool:
        async with self.store.begin() as conn:
            result = await conn.execute(
                delete(blocks).where(self._mine(blocks), blocks.c.user_id == user, blocks.c.blocked == other)
            )
        return bool(result.rowcount)

    async def blocked_by(self, user: str) -> list[str]:
        async with self.store.connect() as conn:
            rows = await conn.execute(
                select(blocks.c.blocked).where(self._mine(blocks), blocks.c.user_id == user).order_by(blocks.c.blocked)
            )
            return [r.blocked for r in rows]

    async def forget(self, user: str) -> int:
        """Erase ``user`` from the tenant's mentoring, at once: their memberships and blocks (both
        ways) are deleted, their unsent intros and check-ins are cancelled, and in the groups they
        were in their id becomes an anonymous placeholder (the other members' history stays, so a
        group of two still reads as "met someone"). Returns how many rows were changed."""
        changed = 0
        async with self.store.begin() as conn:
            for statement in (
                delete(members).where(self._mine(members), members.c.user_id == user),
                delete(blocks).where(self._mine(blocks), or_(blocks.c.user_id == user, blocks.c.blocked == user)),
                update(programs)
                .where(self._mine(programs), programs.c.created_by == user)
                .values(created_by=FORGOTTEN),
                update(groups).where(self._mine(groups), groups.c.odd_one == user).values(odd_one=FORGOTTEN),
            ):
                changed += (await conn.execute(statement)).rowcount or 0
            rows = await conn.execute(
                select(group_members.c.id, group_members.c.group_id).where(
                    self._mine(group_members), group_members.c.user_id == user
                )
            )
            for row in rows.all():
                placeholder = f"{FORGOTTEN}-{secrets.token_hex(6)}"
                await conn.execute(
                    update(group_members)
                    .where(self._mine(group_members), group_members.c.id == row.id)
                    .values(user_id=placeholder, answer=None, answered_at=None)
                )
                changed += 1
                # A left-out note addressed to them alone has nobody left to read it.
                for table in (intros, checkins):
                    await conn.execute(
                        update(table)
                        .where(self._mine(table), table.c.group_id == row.group_id, table.c.state == "pending")
                        .where(
                            select(func.count())
                            .where(
                                group_members.c.group_id == row.group_id,
                                ~group_members.c.user_id.like(f"{FORGOTTEN}-%"),
                            )
                            .scalar_subquery()
                            == 0
                        )
                        .values(state="cancelled")
                    )
        return changed

    async def purge(self) -> int:
        """Delete every mentoring row of the tenant (the bot was removed from the workspace or server)."""
        removed = 0
        async with self.store.begin() as conn:
            for table in (intros, checkins, group_members, groups, members, blocks, programs):
                removed += (await conn.execute(delete(table).where(self._mine(table)))).rowcount or 0
        return removed

    # ------------------------------------------------------------------ check-ins and reports

    async def answer(self, group_id: int, user: str, answer: str, now: datetime) -> bool:
        """Record ``user``'s check-in answer for a group they were in; False if they were not in it."""
        async with self.store.begin() as conn:
            result = await conn.execute(
                update(group_members)
                .where(self._mine(group_members), group_members.c.group_id == group_id, group_members.c.user_id == user)
                .values(answer=answer, answered_at=epoch(now))
            )
            if result.rowcount:
                await conn.execute(
                    update(members)
                    .where(self._mine(members), members.c.user_id == user)
                    .where(
                        members.c.program_id
                        == select(groups.c.program_id).where(groups.c.id == group_id).scalar_subquery()
                    )
                    .values(silent=0)
                )
        return bool(result.rowcount)

    async def checkin_progress(self, group_id: int) -> CheckinProgress | None:
        """How many of a group's members answered its check-in (erased people not counted), and
        what its check-in message names; None for a group this tenant does not have."""
        gm = group_members
        query = (
            select(programs.c.channel_name, programs.c.checkin_days)
            .join(groups, groups.c.program_id == programs.c.id)
            .where(self._mine(groups), self._mine(programs), groups.c.id == group_id)
        )
        counted = select(func.count(gm.c.id), func.count(gm.c.answer)).where(
            self._mine(gm), gm.c.group_id == group_id, ~gm.c.user_id.like(f"{FORGOTTEN}-%")
        )
        async with self.store.connect() as conn:
            found = (await conn.execute(query)).first()
            if found is None:
                return None
            total, answered = (await conn.execute(counted)).one()
        return CheckinProgress(int(answered or 0), int(total or 0), found.channel_name, found.checkin_days)

    async def report(self, program: Program) -> Report:
        async with self.store.connect() as conn:
            people = (
                await conn.execute(
                    select(members.c.role, members.c.state).where(
                        self._mine(members), members.c.program_id == program.id
                    )
                )
            ).all()
            placed = (
                await conn.execute(
                    select(
                        groups.c.id, groups.c.round_no, groups.c.note, group_members.c.user_id, group_members.c.answer
                    )
                    .join(group_members, group_members.c.group_id == groups.c.id)
                    .where(self._mine(groups), groups.c.program_id == program.id)
                    .order_by(groups.c.round_no, groups.c.id, group_members.c.user_id)
                )
            ).all()
        by_group: dict[int, list[Any]] = {}
        for row in placed:
            by_group.setdefault(row.id, []).append(row)
        matched = sum(len(rows) for rows in by_group.values() if rows[0].note is None)
        sat_out = sum(1 for rows in by_group.values() if rows[0].note not in (None, PAUSED_NOTE))
        answers: dict[str, int] = {}
        for rows in by_group.values():
            if rows[0].note is None:
                for row in rows:
                    answers[str(row.answer)] = answers.get(str(row.answer), 0) + 1
        last = max((rows[0].round_no for rows in by_group.values()), default=None)
        last_round = [
            tuple(r.user_id for r in rows)
            for rows in by_group.values()
            if rows[0].round_no == last and rows[0].note != PAUSED_NOTE
        ]
        roles: dict[str, int] = {}
        states: dict[str, int] = {}
        for role, state in people:
            roles[role] = roles.get(role, 0) + 1
            states[state] = states.get(state, 0) + 1
        return Report(
            members=roles,
            states=states,
            rounds=program.rounds,
            groups=sum(1 for rows in by_group.values() if rows[0].note is None),
            matched=matched,
            sat_out=sat_out,
            answers=answers,
            last_round=last_round,
        )
