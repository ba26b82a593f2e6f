"""``careerbot mentoring demo``: a whole mentoring program on the console, with made-up members, so
anyone can see rounds, intros and check-ins without a workspace or a token.

It uses a throwaway SQLite file (never the configured database), the real store, matcher and
scheduler, and a fake clock that jumps from one due moment to the next.
"""

from __future__ import annotations

import random
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from adapters.console import ConsolePoster

ZONES = ("America/New_York", "America/Chicago", "Europe/London", "Europe/Berlin", "Asia/Kolkata", "UTC")
INTEREST_KINDS = ("role", "skill", "standard", "compliance")


def interests(kb: Any) -> list[str]:
    return sorted(f"{kind}:{entry.id}" for kind in INTEREST_KINDS for entry in kb.all(kind))


async def run_demo(
    kb: Any,
    *,
    members: int,
    rounds: int,
    start: datetime,
    kind: str,
    seed: int,
    stream: TextIO,
    color: bool = False,
) -> None:
    from bot.context import Services
    from bot.mentoring.store import Settings, TenantMentoring
    from bot.registry import job_kinds
    from bot.schedule.clock import FakeClock
    from bot.schedule.posting import Channel
    from bot.schedule.scheduler import Scheduler
    from bot.store.engine import Tenant

    rng = random.Random(seed)
    clock = FakeClock(start)
    poster = ConsolePoster(stream, color=color)
    with tempfile.TemporaryDirectory(prefix="careerbot-demo-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'demo.db'}"
        services = Services(url=url, environ={}, posters={"console": poster}, clock=clock)
        try:
            store = await services.store()
            mentoring = TenantMentoring(store, Tenant("console", "local"))
            settings = Settings(
                kind=kind, every_weeks=1, weekday=start.weekday(), hour=10, timezone="UTC", checkin_days=3
            )
            program, _ = await mentoring.create_program(
                Channel("mentoring", "mentoring"), settings, user="admin", now=clock.now(), seed=seed
            )
            pool = interests(kb)
            for i in range(members):
                role = "peer" if kind == "pairs" else ("mentor" if i % 4 == 0 else "mentee")
                await mentoring.join(
                    program,
                    f"member{i + 1:02d}",
                    role=role,
                    knows=rng.sample(pool, 3),
                    wants=rng.sample(pool, 2),
                    timezone=rng.choice(ZONES),
                    bio=None,
                    capacity=2 if role == "mentor" else 1,
                    now=clock.now(),
                )
            print(
                f"A {kind} program in #mentoring with {members} made-up members; "
                f"{rounds} weekly rounds, check-ins 3 days after each intro.\n",
                file=stream,
            )
            scheduler = Scheduler(store, {"console": poster}, job_kinds(lambda: kb), clock=clock)
            for number in range(1, rounds + 1):
                current = await mentoring.program_by_id(program.id)
                assert current is not None and current.next_due_at is not None
                due = datetime.fromtimestamp(current.next_due_at, start.tzinfo)
                print(f"════ round {number}: {due.isoformat()} ════\n", file=stream)
                clock.set(due)
                await scheduler.run_once()
                clock.set(due + timedelta(days=3))
                print(f"════ check-ins: {clock.now().isoformat()} ════\n", file=stream)
                await scheduler.run_once()
                await answer_some(mentoring, store, rng, clock.now())
            final = await mentoring.program_by_id(program.id)  # as the rounds left it (its round count)
            report = await mentoring.report(final or program)
            print("════ the admin's report ════", file=stream)
            print(
                f"members {report.members}, states {report.states}, rounds {report.rounds}, groups {report.groups}, "
                f"matched places {report.matched}, sat out {report.sat_out}, check-in answers {report.answers}",
                file=stream,
            )
        finally:
            await services.aclose()


async def answer_some(mentoring: Any, store: Any, rng: random.Random, now: datetime) -> None:
    """Made-up members answer most check-ins, as people would."""
    from sqlalchemy import select

    from bot.mentoring.tables import group_members

    async with store.connect() as conn:
        rows = (
            await conn.execute(
                select(group_members.c.group_id, group_members.c.user_id).where(group_members.c.answer.is_(None))
            )
        ).all()
    for group_id, user in rows:
        if rng.random() < 0.7:
            await mentoring.answer(group_id, user, rng.choice(("met", "met", "not_yet", "no")), now)
