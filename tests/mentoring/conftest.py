"""Fixtures for the mentoring tests: the stores of the tips tests (SQLite and PostgreSQL), and a core
that answers ``/mentoring`` on them, so a test reads like people in a channel:

    await mentoring_bot.ask("/mentoring program create kind:pairs", admin=True)
    reply = await mentoring_bot.ask("/mentoring join knows:fhir,sql", user="U2")
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from bot.commands import Invocation, OptionValue, Registry
from bot.context import Services, ServiceSettings
from bot.core import Core
from bot.knowledge.loader import default_knowledge_dir
from bot.mentoring import tables  # noqa: F401  (every mentoring table on the store's metadata)
from bot.mentoring.commands import COMMANDS as MENTORING
from bot.mentoring.store import Program, Settings, TenantMentoring
from bot.registry import REGISTRY
from bot.reply import Reply
from bot.schedule.clock import FakeClock
from bot.schedule.posting import Channel
from bot.store.engine import Store, Tenant, metadata
from tests.tips.conftest import Database, MemoryPoster, at, database, postgres_url

__all__ = ["database", "postgres_url", "mentoring_bot", "MentoringBot", "PrivatePoster", "pairs_program"]


async def pairs_program(store: Store, tenant: Tenant, channel: Channel, people: int, now: datetime) -> Program:
    """A weekly pairs program (Mondays 10:00 UTC, check-ins three days after an intro) in ``channel``,
    with ``people`` peers U0, U1, ... who know FHIR and want SQL, all made at ``now``."""
    mentoring = TenantMentoring(store, tenant)
    settings = Settings(kind="pairs", every_weeks=1, weekday=0, hour=10, checkin_days=3)
    program, _ = await mentoring.create_program(channel, settings, user="UADMIN", now=now, seed=3)
    for i in range(people):
        await mentoring.join(
            program,
            f"U{i}",
            role="peer",
            knows=["standard:fhir"],
            wants=["skill:sql"],
            timezone="UTC",
            bio=None,
            capacity=1,
            now=now,
        )
    return program


class PrivatePoster(MemoryPoster):
    """The tips tests' in-memory poster, able to reach people privately (group DMs, private threads)."""

    private_groups = True


def registry() -> Registry:
    """The bot's command table with ``/mentoring`` in it (whether or not bot.registry has it yet)."""
    if REGISTRY.get("mentoring") is not None:
        return REGISTRY
    return Registry.combine(REGISTRY, MENTORING, free_text=REGISTRY.free_text)


@dataclass
class MentoringBot:
    """A core with the store, a fake clock and an in-memory Slack-like poster that can post privately."""

    core: Core
    services: Services
    clock: FakeClock
    poster: PrivatePoster
    store: Store
    tenant: str = "T1"
    channel: str = "C1"

    async def ask(self, text: str, *, admin: bool = False, **where: Any) -> Reply:
        """``text`` typed by ``user`` (default U1) in ``channel`` (default C1) of Slack team T1."""
        place = {"platform": "slack", "tenant": self.tenant, "channel": self.channel, "user": "U1"} | where
        return await self.core.ask(text, admin=admin, **place)

    async def options(self, options: Mapping[str, OptionValue], *, admin: bool = False, **where: Any) -> Reply:
        """The same as Discord sends it: options by name, no text."""
        place = {"platform": "slack", "tenant": self.tenant, "channel": self.channel, "user": "U1"} | where
        return await self.core.answer(Invocation(command="mentoring", options=options, admin=admin, **place))

    async def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table of the store: to prove a command changed nothing."""
        out = {}
        async with self.store.engine.connect() as conn:
            for table in metadata.sorted_tables:
                out[table.name] = [tuple(r) for r in await conn.execute(select(table).order_by(*table.primary_key))]
        return out


@pytest.fixture
async def mentoring_bot(database: Database) -> AsyncIterator[MentoringBot]:
    clock = FakeClock(at("2025-03-03T06:00:00+00:00"))  # a Monday, 07:00 in Berlin
    poster = PrivatePoster()
    poster.clock = clock
    services = Services(
        url=database.url,
        schema=database.schema,
        environ={},
        posters={"slack": poster},
        clock=clock,
        rng=random.Random(5),
        settings=ServiceSettings(admins=frozenset({"slack:UADMIN"})),
    )
    core = Core(default_knowledge_dir(), registry=registry(), services=services, rng=random.Random(7))
    bot = MentoringBot(core, services, clock, poster, await services.store())
    try:
        yield bot
    finally:
        if database.schema:  # dropped now, not all at once at the end of the run (too many locks for one go)
            async with bot.store.begin() as conn:
                await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{database.schema}" CASCADE')
        await core.aclose()
