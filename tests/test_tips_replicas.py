"""Two scheduler processes on one PostgreSQL, 500 subscriptions (10 workspaces) due in the same minute, posting to
the fake Slack API (which enforces 1 post/s per channel and 20/s per workspace): every subscription
is posted exactly once between them, with no leader.

Needs PostgreSQL on 127.0.0.1:5432 (``CAREERBOT_TEST_DATABASE_URL``); skipped with the reason when
it is not reachable, a failure when ``CAREERBOT_REQUIRE_POSTGRES=1``.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from bot.tips.tables import posts
from tests.fakes.slack import FakeSlack, Limits
from tests.tips.conftest import Database, at, new_schema, postgres_url
from tests.tips.seeding import bulk_subscribe
from tests.tips.worker import release, start_replicas

ROOT = Path(__file__).resolve().parent.parent
WORKSPACES, PER_WORKSPACE = 10, 50  # 2.5 s of posting per workspace at 20/s: time for both to take a share
DUE = at("2025-03-03T09:00")
__all__ = ["postgres_url"]  # the fixture, imported so pytest finds it here


async def test_two_replicas_post_every_subscription_exactly_once(postgres_url: str) -> None:
    database = Database("postgresql", postgres_url, new_schema())
    store = await database.open()
    places = [(f"T{w:03d}", f"C{w:03d}{c:03d}") for c in range(PER_WORKSPACE) for w in range(WORKSPACES)]
    await bulk_subscribe(store, places, DUE)
    env = {**os.environ, **database.env(), "PYTHONPATH": str(ROOT)}
    async with FakeSlack(limits=Limits()) as slack:
        replicas = await start_replicas(2, slack_api=slack.api_url, now=DUE, env=env, cwd=ROOT)
        await release(replicas)  # both start together
        outputs = [await asyncio.wait_for(proc.communicate(), 120) for proc in replicas]
        for proc, (_, err) in zip(replicas, outputs, strict=True):
            assert proc.returncode == 0, err.decode()[-2000:]
        reports = [json.loads(out.decode().splitlines()[-1]) for out, _ in outputs]
        messages = slack.posts()
    per_channel = Counter(m["metadata"]["event_payload"]["key"] for m in messages)
    async with store.connect() as conn:
        states = dict((await conn.execute(select(posts.c.state, func.count()).group_by(posts.c.state))).all())
    await store.close()
    assert len(messages) == len(places) == 500
    assert set(per_channel.values()) == {1}  # no subscription posted twice
    assert states == {"sent": 500}  # and none missing
    assert sum(r["sent"] for r in reports) == 500 and all(r["sent"] > 0 for r in reports), reports
    assert all(not r["errors"] for r in reports), reports
