"""The scheduler's "sent" marks (:class:`bot.schedule.marks.SentMarks`) on a real store, SQLite and
PostgreSQL: a failed write keeps the marks in memory and retries them after a backoff; the database
being away is waited out for as long as it takes, a bug (a non-transient error) is given up after
:data:`~bot.schedule.marks.GIVE_UP_AFTER` attempts so the claims expire and the retake asks the
platform; and on the way out :meth:`~SentMarks.last_flush` tries a few times, never raises, and says
what it could not write.

The write is the real :meth:`JobQueue.complete`; only its failures are injected (``FlakyQueue``), since
what is tested here is what the marks do with a failure, whatever the database said."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.schedule.clock import FakeClock
from bot.schedule.jobs import Job, Sent
from bot.schedule.marks import GIVE_UP_AFTER, Key, SentMarks
from bot.schedule.posting import Channel
from bot.schedule.queue import JobQueue
from bot.schedule.rules import DAILY, Schedule
from bot.schedule.trouble import Backoff
from bot.store.engine import Store, Tenant
from bot.tips.store import TenantTips
from bot.tips.tables import posts
from tests.tips.conftest import Database, at, job_queue

BEFORE = at("2025-03-02T12:00")
DUE = at("2025-03-03T10:00")
T1 = Tenant("slack", "T1")
LEASE = timedelta(minutes=5)
AWAY = OSError("connection refused")  # the database being away: transient
LOGGER = "careerbot.scheduler"


@pytest.fixture
async def store(database: Database) -> AsyncIterator[Store]:
    opened = await database.open()
    yield opened
    await opened.close()


class FlakyQueue:
    """The real queue, whose next writes of "sent" marks fail with ``failures`` (one each)."""

    def __init__(self, inner: JobQueue) -> None:
        self.inner = inner
        self.failures: list[BaseException] = []
        self.attempts = 0

    async def complete(self, sent: Sequence[Sent], now: datetime) -> None:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        await self.inner.complete(sent, now)


class Rig:
    def __init__(self, store: Store, *, every: int = 100) -> None:
        self.store = store
        self.clock = FakeClock(DUE)
        self.queue = FlakyQueue(job_queue(store, "me"))
        self.troubles: list[tuple[str, BaseException]] = []
        self.recoveries = 0
        self.marks = SentMarks(
            self.queue,  # type: ignore[arg-type]  # the real queue, behind FlakyQueue
            self.clock,
            lambda: Backoff(1.0, 60.0),
            lambda what, exc: self.troubles.append((what, exc)),
            self.recovered,
            every=every,
            after=3600.0,
        )

    def recovered(self) -> None:
        self.recoveries += 1

    async def claimed(self, *channels: str) -> list[Job]:
        """A daily tip due at :data:`DUE` in each channel, claimed by this process."""
        for channel in channels:
            await TenantTips(self.store, T1).subscribe(
                Channel(channel, "general"), Schedule(10, 0, "UTC", DAILY), None, user="U1", now=BEFORE, seed=1
            )
        await self.queue.inner.materialize(DUE, timedelta(hours=6), ["slack"])
        jobs = await self.queue.inner.claim(T1, DUE, LEASE, 10, kind="tips")
        assert len(jobs) == len(channels)
        return jobs

    async def add(self, jobs: Sequence[Job]) -> list[Key]:
        keys = []
        for job in jobs:
            key = (job.kind, job.id)
            await self.marks.add(key, Sent(job, f"msg-{job.channel}"))
            keys.append(key)
        return keys

    async def states(self) -> dict[str, tuple[str, str | None]]:
        """Each tip job's state and message id, by channel, as the store has them."""
        async with self.store.connect() as conn:
            rows = (await conn.execute(select(posts.c.channel, posts.c.state, posts.c.message_id))).all()
        return {channel: (state, message) for channel, state, message in rows}


async def test_marks_are_kept_through_the_database_being_away_and_written_when_it_answers(store: Store) -> None:
    rig = Rig(store)
    jobs = await rig.claimed("C1", "C2")
    rig.queue.failures = [AWAY] * (GIVE_UP_AFTER + 2)  # longer than a bug would be tried: never given up
    await rig.add(jobs)
    assert rig.queue.attempts == 0  # not a full batch yet, and not old

    await rig.marks.drain()

    assert rig.marks.pending == {}
    assert await rig.states() == {"C1": ("sent", "msg-C1"), "C2": ("sent", "msg-C2")}
    assert rig.queue.attempts == GIVE_UP_AFTER + 3
    assert [what for what, _ in rig.troubles] == ["marking 2 sent jobs as sent"] * (GIVE_UP_AFTER + 2)
    assert rig.recoveries == 1
    # Between attempts it waited out a growing backoff (1, 2, 4, ... s, each at least halved by jitter).
    waited = sum(2**i for i in range(GIVE_UP_AFTER + 2)) * 0.5
    assert rig.clock.now() - DUE >= timedelta(seconds=waited)


async def test_marks_are_written_in_batches(store: Store) -> None:
    rig = Rig(store, every=2)
    one, two, three = await rig.claimed("C1", "C2", "C3")
    await rig.add([one])
    assert rig.queue.attempts == 0 and len(rig.marks.pending) == 1  # waits for a fuller batch
    await rig.add([two])  # the batch is full: written at once
    assert rig.queue.attempts == 1 and rig.marks.pending == {}
    await rig.add([three])
    assert rig.queue.attempts == 1
    assert await rig.states() == {"C1": ("sent", "msg-C1"), "C2": ("sent", "msg-C2"), "C3": ("claimed", None)}


async def test_after_a_failure_the_next_flush_waits_its_backoff_unless_it_is_now_or_never(store: Store) -> None:
    rig = Rig(store)
    jobs = await rig.claimed("C1", "C2")
    first, second = await rig.add(jobs)
    rig.queue.failures = [AWAY]

    assert await rig.marks.flush() is False
    assert rig.marks.pending.keys() == {first, second}  # kept, nothing sent is forgotten
    assert await rig.marks.flush({first}) is False  # too early: no attempt made
    assert rig.queue.attempts == 1
    assert await rig.states() == {"C1": ("claimed", None), "C2": ("claimed", None)}

    assert await rig.marks.flush({first}, now_or_never=True) is True
    assert rig.queue.attempts == 2
    assert await rig.marks.flush({second}) is True  # written with the first: no attempt needed
    assert rig.queue.attempts == 2
    assert await rig.states() == {"C1": ("sent", "msg-C1"), "C2": ("sent", "msg-C2")}


async def test_a_batch_failing_for_a_bug_is_given_up_so_its_claims_expire(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig(store)
    good, other = await rig.claimed("C1", "C2")
    # A job of a kind this queue does not know: the real write fails with a KeyError, every time.
    stray = replace(other, kind="retired-kind")
    await rig.add([good, stray])

    with caplog.at_level(logging.ERROR, logger=LOGGER):
        for attempt in range(1, GIVE_UP_AFTER):
            assert await rig.marks.flush(now_or_never=True) is False
            assert len(rig.marks.pending) == 2, attempt  # kept and retried
        assert not [r for r in caplog.records if "gave up" in r.getMessage()]
        assert await rig.marks.flush(now_or_never=True) is True  # the 5th failure: given up

    assert rig.marks.pending == {}
    assert rig.queue.attempts == GIVE_UP_AFTER
    assert all(isinstance(exc, KeyError) for _, exc in rig.troubles) and len(rig.troubles) == GIVE_UP_AFTER
    (gave_up,) = [r for r in caplog.records if "gave up" in r.getMessage()]
    assert gave_up.getMessage().startswith(
        f"scheduler: gave up marking 2 sent jobs as sent after {GIVE_UP_AFTER} failures"
    )
    # Nothing was written: the claims stay until their lease runs out, then the retake asks the platform.
    assert await rig.states() == {"C1": ("claimed", None), "C2": ("claimed", None)}
    assert rig.recoveries == 0

    # The count starts again: the next batch is not given up on its first failure.
    rig.queue.failures = [RuntimeError("a bug")]
    await rig.add([good])
    assert await rig.marks.flush(now_or_never=True) is False
    assert rig.marks.pending.keys() == {(good.kind, good.id)}
    assert await rig.marks.flush(now_or_never=True) is True
    assert (await rig.states())["C1"] == ("sent", "msg-C1")
    assert rig.recoveries == 1


async def test_the_last_flush_retries_and_writes_when_the_database_answers(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig(store)
    await rig.add(await rig.claimed("C1"))
    rig.queue.failures = [AWAY, AWAY]

    with caplog.at_level(logging.ERROR, logger=LOGGER):
        await rig.marks.last_flush()

    assert rig.queue.attempts == 3
    assert rig.marks.pending == {}
    assert await rig.states() == {"C1": ("sent", "msg-C1")}
    assert rig.clock.now() > DUE  # it paused between attempts
    assert [r for r in caplog.records if r.name == LOGGER] == []


async def test_the_last_flush_gives_up_after_three_attempts_and_says_what_is_left(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig(store)
    await rig.add(await rig.claimed("C1", "C2"))
    rig.queue.failures = [AWAY] * 10

    with caplog.at_level(logging.ERROR, logger=LOGGER):
        await rig.marks.last_flush()

    assert rig.queue.attempts == 3
    assert len(rig.marks.pending) == 2  # still in memory; the claims expire and the retake asks first
    assert await rig.states() == {"C1": ("claimed", None), "C2": ("claimed", None)}
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert messages == [
        "scheduler: stopping with 2 sent jobs not marked sent; their claims expire and the retake asks the "
        "platform before sending"
    ]


class BrokenClock(FakeClock):
    async def sleep(self, seconds: float) -> None:
        raise RuntimeError("the clock is broken")


async def test_the_last_flush_never_raises_when_waiting_fails(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    rig = Rig(store)
    rig.clock = rig.marks.clock = BrokenClock(DUE)
    await rig.add(await rig.claimed("C1"))
    rig.queue.failures = [AWAY]

    with caplog.at_level(logging.ERROR, logger=LOGGER):
        await rig.marks.last_flush()  # does not raise: shutting down carries on

    assert rig.queue.attempts == 1
    assert len(rig.marks.pending) == 1
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert messages == [
        "scheduler: the last flush failed (RuntimeError: the clock is broken)",
        "scheduler: stopping with 1 sent jobs not marked sent; their claims expire and the retake asks the "
        "platform before sending",
    ]


async def test_a_cancelled_write_keeps_the_marks_for_the_final_flush(store: Store) -> None:
    rig = Rig(store)
    await rig.add(await rig.claimed("C1"))
    rig.queue.failures = [asyncio.CancelledError("shutting down")]

    with pytest.raises(asyncio.CancelledError, match="shutting down"):
        await rig.marks.flush()

    assert len(rig.marks.pending) == 1
    assert rig.troubles == []  # a cancel is not database trouble
    await rig.marks.last_flush()
    assert rig.marks.pending == {}
    assert await rig.states() == {"C1": ("sent", "msg-C1")}
