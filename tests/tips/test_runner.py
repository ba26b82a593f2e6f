"""`careerbot run` posts tips through every platform that offers a poster, beside serving it."""

from __future__ import annotations

import asyncio
import random

from adapters.runner import run_tips
from bot.context import Services
from bot.core import Core
from bot.knowledge.loader import default_knowledge_dir
from bot.schedule.clock import FakeClock
from bot.schedule.posting import Channel
from bot.schedule.rules import DAILY, Schedule
from bot.store.engine import Tenant
from bot.tips.store import TenantTips
from tests.tips.conftest import Database, MemoryPoster, at


class PlatformWithPoster:
    name = "slack"

    def __init__(self) -> None:
        self.poster = MemoryPoster()

    async def run(self) -> None: ...

    async def close(self) -> None: ...


class PlatformWithout:
    name = "discord"

    async def run(self) -> None: ...

    async def close(self) -> None: ...


async def test_the_runner_starts_the_scheduler_with_the_platforms_posters(database: Database) -> None:
    clock = FakeClock(at("2025-03-03T09:00"))
    services = Services(url=database.url, schema=database.schema, environ={}, clock=clock)
    core = Core(default_knowledge_dir(), services=services, rng=random.Random(1))
    store = await services.store()
    await TenantTips(store, Tenant("slack", "T1")).subscribe(
        Channel("C1", "general"), Schedule(9, 0, "UTC", DAILY), None, user="U1", now=at("2025-03-02T12:00"), seed=1
    )
    slack = PlatformWithPoster()
    task = asyncio.create_task(run_tips(core, [slack, PlatformWithout()]))
    try:
        for _ in range(200):
            if slack.poster.sent:
                break
            await asyncio.sleep(0.01)
        assert [p.channel for p in slack.poster.sent] == ["C1"]
        assert services.posters == {"slack": slack.poster}  # /tips checks channels through it too
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await core.aclose()


async def test_without_a_poster_nothing_starts() -> None:
    core = Core(default_knowledge_dir(), services=Services(environ={}), rng=random.Random(1))
    await asyncio.wait_for(run_tips(core, [PlatformWithout()]), 1)  # returns at once, opens no store
    assert core.services is not None and core.services._store is None
