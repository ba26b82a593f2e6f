"""The scheduler's remaining paths, each with what it changes: a real PostgreSQL error that means
"try again" and one that does not, a time zone the tz database lists but cannot load, days and
schedules that name no day, a channel id too long to keep, a queue with one job kind (or none), the
heartbeat with metrics off, a tenant limit, materializing in many small chunks, a retaken job whose
"sent" mark this process still holds, and marks written while someone else is writing too."""

from __future__ import annotations

import itertools
import struct
import zoneinfo
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from bot import messages, metrics
from bot.core import Core
from bot.errors import CommandError
from bot.schedule import rules
from bot.schedule.clock import FakeClock, epoch
from bot.schedule.jobs import Job, Sent
from bot.schedule.marks import SentMarks
from bot.schedule.posting import CHANNEL_ID_MAX, Channel, channel_problem
from bot.schedule.queue import JobQueue
from bot.schedule.rules import DAILY, Schedule, parse_days, parse_zone
from bot.schedule.scheduler import Scheduler, Settings
from bot.schedule.tables import tenant_leases, workers
from bot.schedule.trouble import Backoff, describe, transient
from bot.store.engine import Store, Tenant
from bot.tips.jobs import TipJobs
from bot.tips.store import TenantTips
from bot.tips.tables import posts
from tests.tips.conftest import Database, MemoryPoster, at, new_schema

BEFORE = at("2025-03-02T12:00")
DUE = at("2025-03-03T10:00")
T1, T2 = Tenant("slack", "T1"), Tenant("slack", "T2")
LEASE = timedelta(seconds=60)
sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@pytest.fixture
async def store(database: Database) -> Any:
    opened = await database.open()
    yield opened
    await opened.close()


async def subscribe(store: Store, tenant: Tenant = T1, channel: str = "C1") -> None:
    await TenantTips(store, tenant).subscribe(
        Channel(channel, "general"), Schedule(10, 0, "UTC", DAILY), None, user="U1", now=BEFORE, seed=1
    )


def tips_only(core: Core) -> list[Any]:
    return [TipJobs(lambda: core.kb)]


async def states(store: Store) -> dict[int, tuple[str, str | None, int]]:
    async with store.connect() as conn:
        rows = await conn.execute(select(posts.c.id, posts.c.state, posts.c.message_id, posts.c.attempts))
        return {r.id: (r.state, r.message_id, r.attempts) for r in rows}


# ------------------------------------------------------------------ which errors mean "try again"


async def test_a_row_lock_postgresql_cannot_take_now_is_retried_and_a_bad_query_is_not(postgres_url: str) -> None:
    store = await Store.open(postgres_url, schema=new_schema(), environ={})
    try:
        async with store.begin() as conn:
            await conn.execute(text("CREATE TABLE probe (id int PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO probe VALUES (1)"))
        async with store.begin() as holder:
            await holder.execute(text("SELECT id FROM probe WHERE id = 1 FOR UPDATE"))
            with pytest.raises(DBAPIError, match="could not obtain lock") as locked:
                async with store.begin() as other:
                    await other.execute(text("SELECT id FROM probe WHERE id = 1 FOR UPDATE NOWAIT"))
        assert getattr(locked.value.orig, "sqlstate", None) == "55P03"  # lock_not_available
        assert transient(locked.value)
        assert describe(locked.value).endswith('could not obtain lock on row in relation "probe"')  # one line
        with pytest.raises(DBAPIError, match="division by zero") as bug:
            async with store.connect() as conn:
                await conn.execute(text("SELECT 1 / (id - 1) FROM probe"))
        assert getattr(bug.value.orig, "sqlstate", None) == "22012"
        assert not transient(bug.value)
    finally:
        await store.close()


# ------------------------------------------------------------------ rules


@pytest.fixture
def damaged_tz(tmp_path: Path) -> Iterator[Path]:
    """A tz database (``zoneinfo.reset_tzpath``) whose ``Broken/*`` zones are listed but cannot load:
    one shorter than a header, one whose second (v2) header is missing."""
    (tmp_path / "Broken").mkdir()
    (tmp_path / "Broken" / "Short").write_bytes(b"TZif2")
    (tmp_path / "Broken" / "Truncated").write_bytes(b"TZif2" + bytes(15) + struct.pack(">6l", 0, 0, 0, 0, 0, 0))
    (tmp_path / "Broken" / "Gone").write_bytes((tmp_path / "Broken" / "Short").read_bytes())
    zoneinfo.reset_tzpath(to=[str(tmp_path)])
    rules._zone_names.cache_clear()
    rules.zone.cache_clear()
    try:
        yield tmp_path
    finally:
        zoneinfo.reset_tzpath()
        rules._zone_names.cache_clear()
        rules.zone.cache_clear()
        zoneinfo.ZoneInfo.clear_cache(only_keys=["Broken/Short", "Broken/Truncated", "Broken/Gone"])
    assert "Broken/Short" not in zoneinfo.available_timezones()  # the real tz database is back
    assert parse_zone("europe/berlin") == "Europe/Berlin"


@pytest.mark.parametrize("name", ["broken/short", "Broken/Truncated", "BROKEN/GONE"])
def test_a_zone_the_tz_database_lists_but_cannot_load_is_refused_in_one_line(damaged_tz: Path, name: str) -> None:
    assert {"Broken/Short", "Broken/Truncated", "Broken/Gone"} <= zoneinfo.available_timezones()
    assert rules._zone_names()["broken/gone"] == "Broken/Gone"  # listed, then deleted
    (damaged_tz / "Broken" / "Gone").unlink()
    with pytest.raises(CommandError, match="is not a time zone I know") as refused:
        parse_zone(name)
    assert str(refused.value) == messages.BAD_ZONE.format(value=name, hint="")


@pytest.mark.parametrize("text", [",", " , ,", ""])
def test_days_that_name_no_day_are_refused(text: str) -> None:
    with pytest.raises(CommandError, match="is not a set of days") as refused:
        parse_days(text)
    assert str(refused.value) == messages.BAD_DAYS.format(value=text.strip())


def test_a_schedule_with_no_day_has_no_next_date() -> None:
    """Only a row edited by hand can hold one (every command refuses it); it fails loudly, never loops."""
    assert Schedule(9, 0, "UTC", 0b0000001).next_date(at("2025-03-03").date()).isoformat() == "2025-03-10"
    with pytest.raises(ValueError, match=r"^a schedule needs at least one day$"):
        Schedule(9, 0, "UTC", 0).next_date(at("2025-03-03").date())


def test_a_channel_mention_with_an_id_too_long_to_keep_is_refused() -> None:
    long_id = "C" + "1" * CHANNEL_ID_MAX
    for mention in (f"<#{long_id}|general>", f"<#{long_id}>"):
        problem = channel_problem(mention, "slack")
        assert problem is not None and problem.startswith("“<\u200b#C111")  # shown inert, and cut
        assert problem.endswith(f"is not a channel: a channel id has at most {CHANNEL_ID_MAX} characters.")
    assert channel_problem(f"<#{long_id[:CHANNEL_ID_MAX]}|general>", "slack") is None


# ------------------------------------------------------------------ the queue


@sqlite_only
async def test_a_queue_needs_a_job_kind_and_names_them_when_asked_which(store: Store, core: Core) -> None:
    with pytest.raises(ValueError, match=r"^a job queue needs at least one job kind$"):
        JobQueue(store, "me", [])
    one = JobQueue(store, "me", tips_only(core))
    assert one.kind().name == "tips" and one.kind("tips") is one.kind()
    from bot.registry import job_kinds

    every = JobQueue(store, "me", job_kinds(lambda: core.kb))
    with pytest.raises(
        ValueError, match=r"^say which job kind: one of \['mentoring-checkins', 'mentoring-intros', 'tips'\]$"
    ):
        every.kind()


@sqlite_only
async def test_a_scheduler_with_one_job_kind_leases_claims_and_posts(store: Store, core: Core) -> None:
    await subscribe(store, T1, "C1")
    await subscribe(store, T2, "C2")
    poster = MemoryPoster()
    scheduler = Scheduler(store, {"slack": poster}, tips_only(core), clock=FakeClock(DUE))
    report = await scheduler.run_once()
    assert report.sent == 2 and sorted(p.tenant for p in poster.sent) == ["T1", "T2"]
    # the same queue claims without naming the kind (it has one)
    await TenantTips(store, T1).subscribe(
        Channel("C3", "other"), Schedule(11, 0, "UTC", DAILY), None, user="U1", now=BEFORE, seed=2
    )
    queue = JobQueue(store, "other", tips_only(core))
    later = DUE + timedelta(hours=1)
    assert await queue.materialize(later, timedelta(hours=6), ["slack"]) == 1
    (job,) = await queue.claim(T1, later, LEASE, 10)
    assert (job.kind, job.channel, job.attempts) == ("tips", "C3", 1)


@sqlite_only
async def test_renewing_only_job_claims_leaves_the_tenant_leases_alone(store: Store, core: Core) -> None:
    await subscribe(store)
    queue = JobQueue(store, "me", tips_only(core))
    await queue.materialize(DUE, timedelta(hours=6), ["slack"])
    (job,) = await queue.claim(T1, DUE, LEASE, 10)
    later = DUE + timedelta(seconds=40)
    await queue.renew(later, LEASE, tenants=[], jobs={"tips": [job.id]})
    async with store.connect() as conn:
        until = (await conn.execute(select(posts.c.lease_until).where(posts.c.id == job.id))).scalar_one()
        leases = (await conn.execute(select(tenant_leases))).all()
        seen = (await conn.execute(select(workers.c.seen_at).where(workers.c.owner == "me"))).scalar_one()
    assert until == epoch(later + LEASE) and leases == [] and seen == epoch(later)


@sqlite_only
async def test_completing_nothing_asks_the_database_nothing(store: Store, core: Core) -> None:
    queue = JobQueue(store, "me", tips_only(core))
    before = store.queries
    await queue.complete([], DUE)
    assert await TipJobs(lambda: core.kb).prepare(store, T1, []) == {}
    assert store.queries == before


# ------------------------------------------------------------------ the scheduler


@sqlite_only
async def test_due_sources_are_made_into_jobs_however_small_the_chunks(store: Store, core: Core) -> None:
    for channel in ("C1", "C2", "C3"):
        await subscribe(store, T1, channel)
    poster = MemoryPoster()
    settings = Settings(chunk=1, materialize_chunks=2)  # two chunks of one source per look
    scheduler = Scheduler(store, {"slack": poster}, tips_only(core), clock=FakeClock(DUE), settings=settings)
    assert await scheduler._materialize(DUE) == 2  # both chunks were full: it stops there for this look
    assert await scheduler._materialize(DUE) == 1
    report = await scheduler.run_once()
    assert report.sent == 3 and sorted(p.channel for p in poster.sent) == ["C1", "C2", "C3"]


@sqlite_only
async def test_a_replica_at_its_tenant_limit_posts_for_one_tenant_at_a_time(store: Store, core: Core) -> None:
    for tenant, channel in itertools.product((T1, T2), ("C1", "C2")):
        await subscribe(store, tenant, channel)
    poster = MemoryPoster()
    settings = Settings(max_tenants=1)
    scheduler = Scheduler(store, {"slack": poster}, tips_only(core), clock=FakeClock(DUE), settings=settings)
    report = await scheduler.run_once()
    assert report.sent == 4
    runs = [tenant for tenant, _ in itertools.groupby(p.tenant for p in poster.sent)]
    assert sorted(runs) == ["T1", "T2"]  # each tenant's posts together: never two workers at once


@sqlite_only
async def test_the_heartbeat_with_metrics_off_renews_without_measuring_lag(
    store: Store, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "_metrics", None)
    clock = FakeClock(DUE)
    scheduler = Scheduler(store, {"slack": MemoryPoster()}, tips_only(core), clock=clock, owner="me")
    asked: list[datetime] = []
    real_lag = scheduler.queue.lag

    async def lag(now: datetime, platforms: Sequence[str]) -> dict[str, float]:
        asked.append(now)
        return await real_lag(now, platforms)

    monkeypatch.setattr(scheduler.queue, "lag", lag)
    clock.advance(timedelta(seconds=20))
    await scheduler.renew()
    assert asked == []
    async with store.connect() as conn:
        seen = (await conn.execute(select(workers.c.seen_at).where(workers.c.owner == "me"))).scalar_one()
    assert seen == epoch(DUE + timedelta(seconds=20))  # still announced alive


@sqlite_only
async def test_a_retaken_job_whose_sent_mark_this_process_holds_is_not_sent_again(store: Store, core: Core) -> None:
    """It was sent, and its mark is waiting to be written while its claim ran out (the database was
    away): the next claim takes the job again, and it is marked sent, not posted twice."""
    await subscribe(store)
    poster = MemoryPoster()
    clock = FakeClock(DUE)
    scheduler = Scheduler(store, {"slack": poster}, tips_only(core), clock=clock, owner="me")
    await scheduler.queue.materialize(DUE, timedelta(hours=6), ["slack"])
    (job,) = await scheduler.queue.claim(T1, DUE, LEASE, 10)
    await scheduler.marks.add(("tips", job.id), Sent(job, "m-earlier", {"tip_id": "tip-001", "cycle": 0}))
    clock.advance(LEASE * 2)  # the claim ran out
    report = await scheduler.run_once()
    assert poster.sent == [] and report.sent == 0 and not report.errors
    assert await states(store) == {job.id: ("sent", "m-earlier", 2)}  # claimed again, then marked


# ------------------------------------------------------------------ marks written by two writers


class SlowQueue:
    """A queue whose writes of "sent" marks wait for ``during`` to run, or fail with ``failures``."""

    def __init__(self) -> None:
        self.written: list[list[int]] = []
        self.failures: list[Exception] = []
        self.during: Any = None

    async def complete(self, sent: Sequence[Sent], now: datetime) -> None:
        if self.failures:
            raise self.failures.pop(0)
        if self.during is not None:
            during, self.during = self.during, None
            await during()
        self.written.append([s.job.id for s in sent])


class HookedClock(FakeClock):
    """A fake clock that runs ``on_sleep[n]`` during its ``n``-th sleep."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.sleeps = 0
        self.on_sleep: dict[int, Any] = {}

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        hook = self.on_sleep.pop(self.sleeps, None)
        await super().sleep(seconds)
        if hook is not None:
            await hook()


def a_job(job_id: int) -> Job:
    return Job(job_id, T1, job_id, f"C{job_id}", "2025-03-03", epoch(DUE), 1, "tips")


def new_marks(queue: SlowQueue, clock: FakeClock, troubles: list[str]) -> SentMarks:
    return SentMarks(
        queue,  # type: ignore[arg-type]
        clock,
        lambda: Backoff(1.0, 60.0),
        lambda what, exc: troubles.append(what),
        lambda: None,
        every=100,
        after=3600.0,
    )


async def test_a_mark_added_while_a_drain_writes_is_written_before_the_drain_returns() -> None:
    queue, clock, troubles = SlowQueue(), HookedClock(DUE), list[str]()
    marks = new_marks(queue, clock, troubles)
    await marks.add(("tips", 1), Sent(a_job(1), "m1"))

    async def another_worker_adds() -> None:
        await marks.add(("tips", 2), Sent(a_job(2), "m2"))

    queue.during = another_worker_adds
    await marks.drain()
    assert queue.written == [[1], [2]] and marks.pending == {}
    assert clock.sleeps == 1 and clock.now() == DUE  # tried again at once: no failure to wait out
    assert troubles == []


async def test_the_last_flush_says_nothing_when_another_writer_wrote_the_marks_meanwhile(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue, clock, troubles = SlowQueue(), HookedClock(DUE), list[str]()
    marks = new_marks(queue, clock, troubles)
    await marks.add(("tips", 1), Sent(a_job(1), "m1"))
    queue.failures = [OSError("connection refused")] * 3

    async def the_other_writer() -> None:
        assert await marks.flush(now_or_never=True)

    clock.on_sleep[3] = the_other_writer  # during the wait after the last of its three attempts
    with caplog.at_level("ERROR", logger="careerbot.scheduler"):
        await marks.last_flush()
    assert queue.written == [[1]] and marks.pending == {}
    assert troubles == ["marking 1 sent jobs as sent"] * 3
    assert not [r for r in caplog.records if "not marked sent" in r.getMessage()]
