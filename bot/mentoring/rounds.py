"""A mentoring round: who is in, who met whom before, the matcher's plan, and the rows it makes.

A round is made once per program and date, inside the transaction that moves the program on to its
next date (see :meth:`bot.mentoring.jobs.IntroJobs.materialize`), so replicas and restarts never make
two. It writes one group per match and one "group of one" per person left out (with the reason they
are told), one intro job per group, and one check-in job per match ``checkin_days`` later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.mentoring.store import PAUSED_NOTE, Program, profile_from
from bot.mentoring.tables import blocks, checkins, group_members, groups, intros, members
from bot.schedule.clock import epoch

log = logging.getLogger("careerbot.mentoring")

SILENT_LIMIT = 3
"""Check-ins in a row left unanswered after which a member is paused (and told)."""


@dataclass(frozen=True, slots=True)
class Made:
    groups: int
    left_out: int
    paused: int


def offset_minutes(zone: str, at: int) -> int:
    try:
        offset = datetime.fromtimestamp(at, UTC).astimezone(ZoneInfo(zone)).utcoffset()
    except (KeyError, ValueError):
        return 0
    return int(offset.total_seconds() // 60) if offset is not None else 0


async def _silence(conn: AsyncConnection, program: Program) -> dict[str, int]:
    """For each member: how many of their latest check-ins in a row (sent ones) went unanswered."""
    g, gm, c = groups, group_members, checkins
    rows = await conn.execute(
        select(gm.c.user_id, gm.c.answer, g.c.round_no)
        .join(g, g.c.id == gm.c.group_id)
        .join(c, and_(c.c.group_id == g.c.id, c.c.state == "sent"))
        .where(g.c.platform == program.tenant.platform, g.c.tenant == program.tenant.team)
        .where(g.c.program_id == program.id, g.c.note.is_(None))
        .order_by(gm.c.user_id, g.c.round_no.desc())
    )
    silent: dict[str, int] = {}
    done: set[str] = set()
    for user, answer, _ in rows:
        if user in done:
            continue
        if answer is None:
            silent[user] = silent.get(user, 0) + 1
        else:
            done.add(user)
    return silent


async def _history(conn: AsyncConnection, program: Program, round_no: int) -> dict[frozenset[str], int]:
    """The last round each pair of members was grouped, over the repeat window."""
    g, gm = groups, group_members
    since = round_no - program.settings.repeat_window - 1
    rows = await conn.execute(
        select(g.c.id, g.c.round_no, gm.c.user_id)
        .join(gm, gm.c.group_id == g.c.id)
        .where(g.c.platform == program.tenant.platform, g.c.tenant == program.tenant.team)
        .where(g.c.program_id == program.id, g.c.note.is_(None), g.c.round_no >= since)
    )
    by_group: dict[int, tuple[int, list[str]]] = {}
    for group_id, number, user in rows:
        by_group.setdefault(group_id, (number, []))[1].append(user)
    last: dict[frozenset[str], int] = {}
    for number, users in by_group.values():
        for i, a in enumerate(users):
            for b in users[i + 1 :]:
                pair = frozenset((a, b))
                last[pair] = max(last.get(pair, number), number)
    return last


async def make_round(
    conn: AsyncConnection, program: Program, round_no: int, local_date: str, due_at: int, now: datetime
) -> Made:
    """Match the program's active members for round ``round_no`` and write the groups and jobs."""
    # networkx, numpy and scipy load here, at the first round, not in every process that posts tips.
    from bot.mentoring import matching

    tenant = {"platform": program.tenant.platform, "tenant": program.tenant.team}
    mine = and_(members.c.platform == program.tenant.platform, members.c.tenant == program.tenant.team)
    stamp = epoch(now)
    # Snoozes that end by this round's date wake up.
    await conn.execute(
        update(members)
        .where(mine, members.c.program_id == program.id, members.c.state == "snoozed")
        .where(members.c.snooze_until.is_not(None), members.c.snooze_until <= local_date)
        .values(state="active", snooze_until=None, updated_at=stamp)
    )
    silent = await _silence(conn, program)
    # Members the platform says are gone (left the channel, deactivated, ...: bot.mentoring.pool) sit
    # this round out untold, whatever their own state, and come back when seen again.
    present = and_(mine, members.c.program_id == program.id, members.c.absent.is_(None))
    people = [profile_from(r) for r in await conn.execute(select(members).where(present))]
    paused = [p for p in people if p.state == "active" and silent.get(p.user_id, 0) >= SILENT_LIMIT]
    if paused:
        await conn.execute(
            update(members)
            .where(mine, members.c.id.in_([p.id for p in paused]))
            .values(state="paused", silent=SILENT_LIMIT, updated_at=stamp)
        )
    paused_ids = {p.user_id for p in paused}
    active = [p for p in people if p.state == "active" and p.user_id not in paused_ids]
    ids = {p.user_id for p in active}
    blocked_rows = await conn.execute(
        select(blocks.c.user_id, blocks.c.blocked).where(
            blocks.c.platform == program.tenant.platform, blocks.c.tenant == program.tenant.team
        )
    )
    blocked = frozenset(frozenset(r) for r in blocked_rows if r[0] in ids and r[1] in ids)
    last_grouped = await _history(conn, program, round_no)
    history = matching.History(
        last_grouped=last_grouped,
        last_sat_out={p.user_id: p.last_sat_out for p in active if p.last_sat_out is not None},
        blocked=blocked,
    )
    pool = [
        matching.Member(
            id=p.user_id,
            role=p.role,
            knows=frozenset(p.knows),
            wants=frozenset(p.wants),
            utc_offset=offset_minutes(p.timezone, due_at),
            capacity=max(1, p.capacity),
        )
        for p in active
    ]
    seed = (program.seed ^ (round_no * 0x9E3779B1)) & 0x7FFFFFFF
    settings = program.settings
    if settings.kind == "mentor":
        plan = matching.match_mentors(pool, history, round_no=round_no, repeat_window=settings.repeat_window, seed=seed)
    else:
        plan = matching.match_peers(
            pool,
            history,
            round_no=round_no,
            repeat_window=settings.repeat_window,
            group_size=settings.group_size,
            seed=seed,
        )
    roles = {p.user_id: p.role for p in people}
    checkin_day = (date.fromisoformat(local_date) + timedelta(days=settings.checkin_days)).isoformat()
    checkin_due = due_at + settings.checkin_days * 86400
    sat_out: list[str] = []
    entries: list[tuple[tuple[str, ...], dict[str, Any], bool]] = []
    for group in plan.groups:
        values = {
            "shared": ",".join(group.shared)[:600],
            "overlap_hours": group.overlap_hours,
            "odd_one": group.odd_one,
        }
        entries.append((group.members, values, True))
        if group.odd_one is not None:
            sat_out.append(group.odd_one)
    for user, reason in plan.left_out:
        entries.append(((user,), {"note": reason[:200]}, False))
        sat_out.append(user)
    for person in paused:
        entries.append(((person.user_id,), {"note": PAUSED_NOTE}, False))
    for users, values, matched in entries:
        made = await conn.execute(
            groups.insert()
            .values(
                program_id=program.id, round_no=round_no, local_date=local_date, created_at=stamp, **tenant, **values
            )
            .returning(groups.c.id)
        )
        group_id = made.scalar_one()
        await conn.execute(
            group_members.insert(),
            [
                {**tenant, "group_id": group_id, "program_id": program.id, "user_id": u, "role": roles.get(u, "peer")}
                for u in users
            ],
        )
        job = {**tenant, "group_id": group_id, "channel": program.channel, "state": "pending", "created_at": stamp}
        await conn.execute(intros.insert().values(local_date=local_date, due_at=due_at, updated_at=stamp, **job))
        if matched:
            await conn.execute(
                checkins.insert().values(local_date=checkin_day, due_at=checkin_due, updated_at=stamp, **job)
            )
    if sat_out:
        await conn.execute(
            update(members)
            .where(mine, members.c.program_id == program.id, members.c.user_id.in_(sat_out))
            .values(last_sat_out=round_no)
        )
    log.info(
        "mentoring: %s program %d round %d: %d groups, %d left out, %d paused",
        program.tenant,
        program.id,
        round_no,
        len(plan.groups),
        len(plan.left_out),
        len(paused),
    )
    return Made(len(plan.groups), len(plan.left_out), len(paused))
