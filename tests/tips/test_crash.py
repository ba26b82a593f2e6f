"""Crash tests: real scheduler processes, killed with SIGKILL at the two dangerous moments.

What "exactly once" means here. A day's post is one row, unique per subscription and local date.

- Killed between the claim and the send: nothing reached Slack. The claim's lease runs out; the next
  run retakes it and sends. One message that day.
- Killed after the send, before the row was marked sent: the message is in the channel but the store
  does not know. The retake sees that this is not the first attempt and asks Slack first: the message
  carries the post's key in its metadata, so ``conversations.history`` finds it, the row is marked
  sent with that message's ts, and nothing is sent again. One message that day. Only if Slack
  cannot be asked (no history scope) is it sent again: at least once, never zero.

Each process below runs with a fixed clock (``--now``); none sleeps on the wall clock.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.schedule.posting import Channel
from bot.schedule.rules import DAILY, Schedule
from bot.store.engine import Tenant
from bot.tips.store import TenantTips
from bot.tips.tables import posts
from tests import workers
from tests.fakes.slack import FakeSlack, Limits
from tests.tips.conftest import Database, at

TENANT = Tenant("slack", "T1")


WORKER = "tests.tips.worker"


async def run(database: Database, slack: FakeSlack, now: datetime) -> dict[str, Any]:
    return await workers.run(WORKER, database, now, "--slack-api", slack.api_url)


async def kill_at(database: Database, slack: FakeSlack, now: datetime, hang: str, line: str) -> None:
    await workers.kill_at(WORKER, database, now, hang, line, "--slack-api", slack.api_url)


async def rows(database: Database) -> dict[str, tuple[str, str | None, str | None]]:
    store = await database.open()
    try:
        async with store.connect() as conn:
            found = await conn.execute(select(posts.c.local_date, posts.c.state, posts.c.message_id, posts.c.tip_id))
            return {r.local_date: (r.state, r.message_id, r.tip_id) for r in found}
    finally:
        await store.close()


async def test_killed_at_either_boundary_each_day_still_gets_exactly_one_post(database: Database) -> None:
    store = await database.open()
    schedule = Schedule(9, 0, "Europe/Berlin", DAILY)
    await TenantTips(store, TENANT).subscribe(
        Channel("C1", "general"), schedule, None, user="U1", now=at("2025-03-02T12:00"), seed=42
    )
    await store.close()
    day1, day2, day3 = (at(f"2025-03-0{d}T09:00+01:00") for d in (3, 4, 5))
    async with FakeSlack(limits=Limits()) as slack:
        # Day 1: killed after claiming, before sending.
        await kill_at(database, slack, day1, "before-send", "CLAIMED")
        assert slack.posts() == [] and (await rows(database))["2025-03-03"][0] == "claimed"
        assert (await run(database, slack, day1 + timedelta(seconds=30)))["sent"] == 0  # the lease still holds
        retaken = await run(database, slack, day1 + timedelta(seconds=61))
        assert retaken["sent"] == 1 and retaken["found"] == 0

        # Day 2: killed after sending, before marking it sent.
        await kill_at(database, slack, day2, "after-send", "SENT")
        assert len(slack.posts()) == 2 and (await rows(database))["2025-03-04"][0] == "claimed"
        recovered = await run(database, slack, day2 + timedelta(minutes=2))
        assert recovered["found"] == 1 and recovered["sent"] == 0  # found in the channel, not resent

        # Day 3: nothing goes wrong.
        assert (await run(database, slack, day3))["sent"] == 1

        messages = slack.posts("T1", "C1")
        keys = Counter(m["metadata"]["event_payload"]["key"] for m in messages)
    stored = await rows(database)
    assert sorted(stored) == ["2025-03-03", "2025-03-04", "2025-03-05"]
    assert len(messages) == 3 and set(keys.values()) == {1}  # one message per day, none twice
    assert all(state == "sent" for state, _, _ in stored.values())
    assert sorted(str(m) for _, m, _ in stored.values()) == sorted(m["ts"] for m in messages)
    assert len({tip for _, _, tip in stored.values()}) == 3  # and the rotation did not repeat
