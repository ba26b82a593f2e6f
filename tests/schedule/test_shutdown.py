"""Stopping a replica (SIGTERM in a rolling restart cancels its scheduler) gives back its tenant lease
and the claims it had not sent, so another replica posts them at once instead of a lease later."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from bot.registry import job_kinds
from bot.schedule.posting import Post
from bot.schedule.scheduler import Scheduler
from bot.schedule.tables import tenant_leases
from bot.tips.tables import posts
from tests.tips.conftest import TipsBot, at

NOW = at("2025-03-03T09:00")


class StuckPoster:
    """Delegates to the test poster, but a post hangs until cancelled (a slow platform)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.started = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def post(self, post: Post) -> str:
        self.started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_stopped_replica_releases_its_lease_and_unsent_claims(tips_bot: TipsBot) -> None:
    reply = await tips_bot.ask("/tips subscribe time:09:00 timezone:UTC days:daily", admin=True, channel="C1")
    assert reply.tone == "answer", reply.summary
    tips_bot.clock.set(NOW)
    stuck = StuckPoster(tips_bot.poster)
    kinds = job_kinds(lambda: tips_bot.core.kb)
    first = Scheduler(tips_bot.store, {"slack": stuck}, kinds, clock=tips_bot.clock, owner="old")
    running = asyncio.create_task(first.run_once())
    await asyncio.wait_for(stuck.started.wait(), 10)
    async with tips_bot.store.connect() as conn:
        held = (await conn.execute(select(tenant_leases.c.owner))).scalars().all()
        claimed = (await conn.execute(select(posts.c.state, posts.c.owner))).all()
    assert held == ["old"] and [tuple(r) for r in claimed] == [("claimed", "old")]
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    async with tips_bot.store.connect() as conn:
        assert (await conn.execute(select(tenant_leases))).all() == []
        assert [tuple(r) for r in (await conn.execute(select(posts.c.state, posts.c.owner))).all()] == [
            ("pending", None)
        ]
    second = Scheduler(tips_bot.store, {"slack": tips_bot.poster}, kinds, clock=tips_bot.clock, owner="new")
    report = await second.run_once()  # at once: no lease left to run out
    assert report.sent == 1 and len(tips_bot.poster.tips()) == 1
