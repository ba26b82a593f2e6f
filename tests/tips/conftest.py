"""Fixtures for daily tips: the same storage tests on SQLite and PostgreSQL, a fake clock, an
in-memory poster, and a core wired to them so a test reads like an admin in a channel:

    reply = await tips_bot.ask("/tips subscribe time:09:00 timezone:Europe/Berlin", admin=True)
    await tips_bot.run_at("2025-03-31T09:00+02:00")
    assert len(tips_bot.poster.sent) == 1

PostgreSQL: ``CAREERBOT_TEST_DATABASE_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``);
each test gets a fresh schema, dropped at the end of the run. When it is not reachable the
PostgreSQL variants skip with the reason, or fail when ``CAREERBOT_REQUIRE_POSTGRES=1`` (CI).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.context import Services, ServiceSettings
from bot.core import Core
from bot.errors import CommandError, PostError
from bot.knowledge.kb import KnowledgeBase
from bot.knowledge.loader import default_knowledge_dir
from bot.registry import job_kinds
from bot.reply import Reply
from bot.schedule.clock import FakeClock
from bot.schedule.posting import Channel, Post, parse_channel
from bot.schedule.queue import JobQueue
from bot.schedule.scheduler import Report, Scheduler, Settings
from bot.store.engine import Store, Tenant

PG_URL = os.environ.get("CAREERBOT_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
_schemas: list[str] = []
_counter = itertools.count(1)


def _probe_postgres() -> str | None:
    async def probe() -> None:
        store = await Store.open(PG_URL, migrate=False)
        try:
            async with store.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
        finally:
            await store.close()

    try:
        asyncio.run(asyncio.wait_for(probe(), 5))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The PostgreSQL URL for this run, or a skip (a failure under CAREERBOT_REQUIRE_POSTGRES=1)."""
    reason = _probe_postgres()
    if reason is not None:
        where = PG_URL.split("@")[-1]
        if os.environ.get("CAREERBOT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"CAREERBOT_REQUIRE_POSTGRES=1 but PostgreSQL at {where} is not reachable ({reason})")
        pytest.skip(f"PostgreSQL at {where} is not reachable ({reason}); set CAREERBOT_TEST_DATABASE_URL")
    yield PG_URL
    if _schemas:

        async def drop() -> None:
            store = await Store.open(PG_URL, migrate=False)
            try:
                for schema in _schemas:  # one transaction each: a schema's tables take many locks
                    async with store.begin() as conn:
                        await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await store.close()

        asyncio.run(drop())


def new_schema() -> str:
    name = f"cb_test_{os.getpid()}_{next(_counter)}_{random.getrandbits(24):06x}"
    _schemas.append(name)
    return name


@dataclass(frozen=True)
class Database:
    kind: str
    url: str
    schema: str | None = None

    def env(self) -> dict[str, str]:
        """Environment for a subprocess using this database."""
        out = {"CAREERBOT_DATABASE_URL": self.url}
        if self.schema:
            out["CAREERBOT_DATABASE_SCHEMA"] = self.schema
        return out

    async def open(self) -> Store:
        return await Store.open(self.url, schema=self.schema, environ={})


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    """A fresh, empty database of each kind: the storage tests run on both."""
    if request.param == "sqlite":
        return Database("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'careerbot.db'}")
    url = request.getfixturevalue("postgres_url")
    return Database("postgresql", url, new_schema())


@pytest.fixture
async def store(database: Database) -> AsyncIterator[Store]:
    opened = await database.open()
    yield opened
    await opened.close()


class MemoryPoster:
    """A platform that keeps what was posted; channels can be made unpostable, sends can fail."""

    def __init__(self) -> None:
        self.sent: list[Post] = []
        self.delivered: dict[str, str] = {}
        self.denied: dict[str, str] = {}
        self.failures: list[PostError] = []
        self.timezone: str | None = None
        self.at: list[datetime] = []
        self.clock: FakeClock | None = None

    async def check_channel(self, tenant: str, channel: str) -> Channel:
        found = parse_channel(channel)
        if found.id in self.denied:
            raise CommandError(self.denied[found.id])
        return found

    async def default_timezone(self, tenant: str, user: str) -> str | None:
        return self.timezone

    async def post(self, post: Post) -> str:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(post)
        if self.clock is not None:
            self.at.append(self.clock.now())
        message_id = f"m{len(self.sent)}"
        self.delivered[post.key] = message_id
        return message_id

    async def find(self, post: Post) -> str | None:
        return self.delivered.get(post.key)

    def tips(self) -> list[str]:
        return [p.reply.ref.id for p in self.sent if p.reply.ref is not None]


def job_queue(store: Store, owner: str) -> JobQueue:
    """The scheduler's queue with careerbot's job kinds, as another process (``owner``) would use it."""

    def knowledge() -> KnowledgeBase:
        raise AssertionError("the queue never reads the knowledge")

    return JobQueue(store, owner, job_kinds(knowledge))


def at(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class TipsBot:
    """A core with the store, a fake clock and an in-memory Slack-like poster, plus a scheduler."""

    core: Core
    services: Services
    clock: FakeClock
    poster: MemoryPoster
    store: Store
    settings: Settings = field(default_factory=Settings)
    tenant: str = "T1"
    channel: str = "C1"

    async def ask(self, text: str, *, admin: bool = False, **where: Any) -> Reply:
        place = {"platform": "slack", "tenant": self.tenant, "channel": self.channel, "user": "U1"} | where
        return await self.core.ask(text, admin=admin, **place)

    def scheduler(self, **kw: Any) -> Scheduler:
        return Scheduler(
            self.store,
            {"slack": self.poster},
            job_kinds(lambda: self.core.kb),
            clock=self.clock,
            settings=kw.pop("settings", self.settings),
            **kw,
        )

    async def run_at(self, moment: str | datetime, **kw: Any) -> Report:
        self.clock.set(at(moment) if isinstance(moment, str) else moment)
        return await self.scheduler(**kw).run_once()

    def tenant_key(self) -> Tenant:
        return Tenant("slack", self.tenant)


@pytest.fixture
async def tips_bot(database: Database) -> AsyncIterator[TipsBot]:
    clock = FakeClock(at("2025-03-03T06:00:00+00:00"))  # a Monday, 07:00 in Berlin
    poster = MemoryPoster()
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
    core = Core(default_knowledge_dir(), services=services, rng=random.Random(7))
    bot = TipsBot(core, services, clock, poster, await services.store())
    yield bot
    await core.aclose()
