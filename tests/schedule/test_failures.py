"""Every recovery path of the scheduler, each triggered by a real fault (:mod:`tests.faults`) or by the
race it is there for, for daily tips and for mentoring intros and check-ins (issue 14, paths 1-3):

1. The scheduler keeps itself alive: a failed round (the database restarting: PostgreSQL behind a
   proxy that resets and refuses connections, SQLite locked by another connection), a failed lease
   renewal, a crashed tenant worker, a failed release of a tenant's lease.
2. After a crash, asking the platform whether the first attempt landed (:meth:`Poster.find`, the real
   Slack poster on the fake Slack) fails: transiently (the network: retry later, never risk a second
   copy) or permanently (a missing scope: send again, at least once).
3. The world changed after a job was claimed: its subscription or group deleted, no tip left for the
   topic after a knowledge edit, the program paused; a retaken job already past the grace window; a
   poster raising something unexpected.

Each test fails if its recovery path is taken out. None asserts an upper bound on time.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from sqlalchemy import Table, delete, select
from sqlalchemy.engine import make_url

from adapters.slack_bot.posting import SlackTipPoster
from bot.knowledge.kb import KnowledgeBase
from bot.knowledge.loader import default_knowledge_dir, load
from bot.mentoring.jobs import job_key
from bot.mentoring.store import Program, TenantMentoring
from bot.mentoring.tables import checkins, groups, intros
from bot.registry import job_kinds, purge_tenant
from bot.schedule.clock import Clock, FakeClock, ShiftedClock, epoch
from bot.schedule.jobs import Job
from bot.schedule.posting import Channel, Post
from bot.schedule.rules import DAILY, Schedule
from bot.schedule.scheduler import Scheduler, Settings
from bot.schedule.tables import tenant_leases
from bot.store.engine import Store, Tenant
from bot.tips.rotation import post_key
from bot.tips.store import TenantTips
from bot.tips.tables import posts
from tests.fakes.slack import FakeSlack
from tests.faults import Proxy, SqliteFaults, assert_alive, eventually
from tests.mentoring.conftest import pairs_program
from tests.tips.conftest import Database, MemoryPoster, at, job_queue

BEFORE = at("2025-03-02T12:00")
DUE = at("2025-03-03T10:00")  # a Monday: the tips and the mentoring round are both due
T1, T2 = Tenant("slack", "T1"), Tenant("slack", "T2")
KB = KnowledgeBase(load(default_knowledge_dir()))
FAST = Settings(lease=timedelta(seconds=1), poll=0.01, scan=0.02, backoff=0.01, backoff_max=0.05)
"""For the tests of ``run()`` on a real-time clock: rounds, backoff and leases that end quickly."""
HEARTBEAT = "scheduler-heartbeat"
TABLES: dict[str, Table] = {"tips": posts, "mentoring-intros": intros, "mentoring-checkins": checkins}


class Poster(MemoryPoster):
    """The in-memory poster, able to reach people privately (mentoring), and able to hold sends
    (``gate``) or fail the next ones with any exception (``raising``)."""

    private_groups = True

    def __init__(self) -> None:
        super().__init__()
        self.gate: asyncio.Event | None = None
        self.waiting = 0
        self.raising: list[BaseException] = []

    async def post(self, post: Post) -> str:
        if self.raising:
            raise self.raising.pop(0)
        if self.gate is not None:
            self.waiting += 1
            await self.gate.wait()
        return await super().post(post)

    def keys(self) -> Counter[str]:
        return Counter(p.key for p in self.sent)


@dataclass
class Rig:
    """A store whose database can go down on command (PostgreSQL: through a :class:`Proxy` that resets
    and refuses; SQLite: locked by another connection), and an in-memory poster."""

    database: Database
    store: Store
    poster: Poster
    proxy: Proxy | None = None
    sqlite: SqliteFaults | None = None

    async def down(self, how: str = "outage") -> None:
        """``outage``: PostgreSQL restarting (connections reset, new ones refused), SQLite locked.
        ``other``: PostgreSQL stalled (connections accepted, nothing answered), SQLite read-only."""
        if self.proxy is not None:
            await (self.proxy.restart() if how == "outage" else self.proxy.stall())
        else:
            assert self.sqlite is not None
            await (self.sqlite.lock() if how == "outage" else self.sqlite.read_only())

    def struck(self) -> bool:
        """Whether the store has met the fault (a stall makes no error: a statement is held)."""
        return self.proxy is not None and self.proxy.held > 0

    async def up(self) -> None:
        if self.proxy is not None:
            await self.proxy.heal()
        else:
            assert self.sqlite is not None
            await self.sqlite.heal()

    def scheduler(
        self,
        clock: Clock,
        *,
        settings: Settings | None = None,
        kinds: Sequence[Any] | None = None,
        owner: str | None = None,
        poster: Any = None,
    ) -> Scheduler:
        return Scheduler(
            self.store,
            {"slack": poster or self.poster},
            list(kinds) if kinds is not None else job_kinds(lambda: KB),
            clock=clock,
            settings=settings,
            owner=owner,
        )

    async def rows(self, kind: str = "tips") -> list[tuple[str, str | None]]:
        """(state, error) of each job of ``kind``."""
        table = TABLES[kind]
        async with self.store.connect() as conn:
            found = await conn.execute(select(table.c.state, table.c.error).order_by(table.c.id))
            return [(r.state, r.error) for r in found]

    async def states(self, kind: str = "tips") -> Counter[str]:
        return Counter(state for state, _ in await self.rows(kind))


@pytest.fixture
async def rig(database: Database) -> AsyncIterator[Rig]:
    poster = Poster()
    if database.kind == "sqlite":
        store = await database.open()
        faults = SqliteFaults(store)
        await faults.start()
        try:
            yield Rig(database, store, poster, sqlite=faults)
        finally:
            await faults.close()
            await store.close()
        return
    async with Proxy(make_url(database.url).port or 5432) as proxy:
        store = await Store.open(proxy.url(database.url), schema=database.schema, environ={})
        try:
            yield Rig(database, store, poster, proxy=proxy)
        finally:
            await proxy.heal()
            await store.close()


async def subscribe(store: Store, tenant: Tenant = T1, channel: str = "C1", topic: str | None = None) -> None:
    await TenantTips(store, tenant).subscribe(
        Channel(channel, "general"), Schedule(10, 0, "UTC", DAILY), topic, user="U1", now=BEFORE, seed=1
    )


async def program(store: Store, tenant: Tenant = T1, people: int = 2) -> Program:
    """A pairs program in ``tenant`` whose first round is due at :data:`DUE` (one intro per pair)."""
    return await pairs_program(store, tenant, Channel("C9", "mentoring"), people, BEFORE)


async def claimed_by_a_dead_replica(store: Store, kind: str, tenant: Tenant = T1) -> Job:
    """Make ``kind``'s due job and claim it as a replica that then died (its first attempt)."""
    dead = job_queue(store, "dead")
    await dead.materialize(DUE, timedelta(hours=6), ["slack"])
    (job,) = await dead.claim(tenant, DUE, timedelta(seconds=60), 10, kind=kind)
    assert job.attempts == 1
    return job


def after_claim(scheduler: Scheduler, kind: str, then: Any) -> None:
    """Run ``await then(jobs)`` right after the scheduler's first claim of ``kind`` that took jobs."""
    real = scheduler.queue.claim
    done = False

    async def claim(*args: Any, **kw: Any) -> list[Job]:
        nonlocal done
        jobs = await real(*args, **kw)
        if jobs and kw.get("kind") == kind and not done:
            done = True
            await then(jobs)
        return jobs

    scheduler.queue.claim = claim  # type: ignore[method-assign]


async def stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


# ---------------------------------------------------------------------------- 1. staying alive


@pytest.mark.parametrize("how", ["outage", "other"])
async def test_a_database_restart_fails_rounds_but_does_not_end_the_scheduler(rig: Rig, how: str) -> None:
    """PostgreSQL restarting or stalled, SQLite locked or read-only: rounds fail (or wait), the
    scheduler and its heartbeat live on, and the tip goes out once the database is back."""
    await subscribe(rig.store)
    scheduler = rig.scheduler(ShiftedClock(DUE), settings=FAST)
    await rig.down(how)
    task = asyncio.create_task(scheduler.run(), name="scheduler-run")
    try:
        await eventually(
            lambda: scheduler.report.db_errors >= 3 or rig.struck(), what="rounds failing while the database is down"
        )
        # A stalled PostgreSQL holds the very first statement (registering), before the heartbeat
        # starts: nothing times out on a database that accepts and never answers.
        stalled = rig.proxy is not None and how == "other"
        assert_alive(task, named=[] if stalled else [HEARTBEAT])
        assert rig.poster.sent == []
        await rig.up()
        await eventually(lambda: len(rig.poster.sent) == 1, what="the tip sent once the database is back")
        await eventually(async_equals(rig.states, Counter(sent=1)), what="the tip marked sent")
        assert_alive(task, named=[HEARTBEAT])
    finally:
        await rig.up()
        await stop(task)
    assert set(rig.poster.keys().values()) == {1}


def async_equals(read: Any, expected: Any) -> Any:
    async def check() -> bool:
        return bool(await read() == expected)

    return check


async def test_a_failed_lease_renewal_is_retried_and_keeps_the_leases(rig: Rig) -> None:
    """The heartbeat's renewal fails while the database is down; once it is back, the next renewal
    extends the tenant's lease the worker still holds (its send is in progress)."""
    await subscribe(rig.store)
    rig.poster.gate = asyncio.Event()
    settings = replace(FAST, lease=timedelta(seconds=3))  # a renewal every second
    scheduler = rig.scheduler(ShiftedClock(DUE), settings=settings)
    real = scheduler.queue.renew
    renewals: list[tuple[bool, datetime]] = []

    async def renew(now: datetime, *args: Any, **kw: Any) -> None:  # a spy: the failures are the database's own
        try:
            await real(now, *args, **kw)
        except Exception:
            renewals.append((False, now))
            raise
        renewals.append((True, now))

    def failed() -> bool:
        return any(not ok for ok, _ in renewals)

    scheduler.queue.renew = renew  # type: ignore[method-assign]

    async def lease_until() -> int:
        async with rig.store.connect() as conn:
            return int((await conn.execute(select(tenant_leases.c.lease_until))).scalar_one())

    task = asyncio.create_task(scheduler.run(), name="scheduler-run")
    try:
        await eventually(lambda: rig.poster.waiting == 1, what="the worker sending")
        await rig.down()
        await eventually(failed, what="a renewal failing")
        assert_alive(task, named=[HEARTBEAT])
        await rig.up()
        await eventually(lambda: failed() and renewals[-1][0], what="a renewal after the failure")
        recovered = renewals[-1][1]

        async def extended() -> bool:  # by the renewal after the failure (or a later one)
            return await lease_until() >= epoch(recovered + settings.lease)

        await eventually(extended, what="the tenant lease extended")
        assert_alive(task, named=[HEARTBEAT])
        rig.poster.gate.set()
        await eventually(async_equals(rig.states, Counter(sent=1)), what="the tip marked sent")
    finally:
        rig.poster.gate.set()
        await rig.up()
        await stop(task)
    assert len(rig.poster.sent) == 1


class Crashing:
    """A job kind whose ``prepare`` raises (a bug) the first time it runs for ``tenant``."""

    def __init__(self, inner: Any, tenant: Tenant) -> None:
        self.inner = inner
        self.tenant = tenant
        self.crashed = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def prepare(self, store: Store, tenant: Tenant, jobs: Sequence[Job]) -> Any:
        if tenant == self.tenant and not self.crashed:
            self.crashed += 1
            raise RuntimeError(f"{self.inner.name} bug")
        return await self.inner.prepare(store, tenant, jobs)


@pytest.mark.parametrize("crash", ["tips", "mentoring-intros"])
async def test_a_crashed_tenant_worker_does_not_stop_the_others_and_its_jobs_are_retaken(
    rig: Rig, crash: str, caplog: pytest.LogCaptureFixture
) -> None:
    await subscribe(rig.store, T1)
    await subscribe(rig.store, T2)
    await program(rig.store, T1)
    kinds = [Crashing(k, T1) if k.name == crash else k for k in job_kinds(lambda: KB)]
    scheduler = rig.scheduler(ShiftedClock(DUE), settings=FAST, kinds=kinds)
    with caplog.at_level(logging.ERROR, logger="careerbot.scheduler"):
        task = asyncio.create_task(scheduler.run(), name="scheduler-run")
        try:
            # T2 carries on; T1's job of the crashed kind is retaken once its claim runs out.
            await eventually(lambda: len(rig.poster.sent) == 3, what="two tips and one intro sent")
            await eventually(async_equals(rig.states, Counter(sent=2)), what="both tips marked sent")
            await eventually(async_equals(lambda: rig.states("mentoring-intros"), Counter(sent=1)), what="intro")
            assert_alive(task, named=[HEARTBEAT])
        finally:
            await stop(task)
    assert set(rig.poster.keys().values()) == {1}
    assert scheduler.report.errors == [f"slack:T1: RuntimeError: {crash} bug"]
    assert f"posting for slack:T1 failed (RuntimeError: {crash} bug)" in caplog.text


async def test_a_failed_tenant_release_is_logged_and_the_lease_left_to_expire(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await subscribe(rig.store, T1, "C1")
    await subscribe(rig.store, T1, "C2")
    clock = FakeClock(DUE)
    scheduler = rig.scheduler(clock, owner="first")
    real = scheduler.queue.release_tenant
    failed: list[BaseException] = []

    async def release_while_the_database_is_down(tenant: Tenant) -> None:
        await rig.down()
        try:
            await real(tenant)
        except Exception as exc:
            failed.append(exc)
            raise
        finally:
            await rig.up()

    scheduler.queue.release_tenant = release_while_the_database_is_down  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="careerbot.scheduler"):
        report = await scheduler.run_once()
    assert failed, "the release did not fail"
    assert report.sent == 2 and not report.errors
    assert "releasing slack:T1 failed" in caplog.text and "its lease will expire" in caplog.text
    async with rig.store.connect() as conn:
        leases = [tuple(r) for r in await conn.execute(select(tenant_leases.c.owner, tenant_leases.c.lease_until))]
    assert leases == [("first", epoch(DUE + Settings().lease))]  # still there: it expires
    assert await rig.states() == Counter(sent=2)
    # The next day the lease has long expired: another replica posts for T1.
    clock.set(DUE + timedelta(days=1))
    other = rig.scheduler(clock, owner="second")
    assert (await other.run_once()).sent == 2
    assert set(rig.poster.keys().values()) == {1} and len(rig.poster.sent) == 4


# ---------------------------------------------------------------------------- 2. after a crash: find fails


@pytest.mark.parametrize("kind", ["tips", "mentoring-intros"])
@pytest.mark.parametrize("failure", ["transient", "permanent"])
async def test_a_retake_that_cannot_ask_the_platform(
    rig: Rig, kind: str, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A job whose first attempt died with its replica is retaken; asking Slack whether that attempt
    landed fails. Transient (the network is down): the job is given back for later, nothing is sent.
    Permanent (no history scope): it is sent again, once."""
    if kind == "tips":
        await subscribe(rig.store)
    else:
        await program(rig.store)
    await claimed_by_a_dead_replica(rig.store, kind)
    clock = FakeClock(DUE + timedelta(seconds=61))  # the dead replica's claim ran out
    async with FakeSlack() as slack, Proxy(slack.port) as network:
        poster = SlackTipPoster(lambda team: f"xoxb-{team}", base_url=network.url(slack.api_url))
        poster.retry_handlers = [  # the SDK's own retry, without its waits
            AsyncConnectionErrorRetryHandler(
                max_retry_count=1, interval_calculator=FixedValueRetryIntervalCalculator(0)
            )
        ]
        try:
            scheduler = rig.scheduler(clock, poster=poster, owner="new")
            if failure == "transient":
                await network.refuse()
                report = await scheduler.run_once()
                assert report.retried == 1 and report.sent == 0 and not report.errors
                assert slack.posts() == []
                ((state, error),) = await rig.rows(kind)
                assert state == "pending" and error is not None
                assert error.startswith("checking for an earlier send: conversations.")
                await network.heal()
                clock.advance(timedelta(minutes=2))  # the retry's wait (30 s, doubled for a 2nd attempt)
                report = await scheduler.run_once()
            else:
                slack.fail("conversations.history", "missing_scope")
                with caplog.at_level(logging.WARNING):
                    report = await scheduler.run_once()
                assert "cannot check for an earlier send" in caplog.text and "missing_scope" in caplog.text
            assert report.sent == 1 and report.found == 0 and not report.errors
            assert len(slack.posts("T1")) == 1
            assert await rig.states(kind) == Counter(sent=1)
        finally:
            await poster.close()


# ---------------------------------------------------------------------------- 3. the world changed


async def test_a_subscription_deleted_after_its_post_was_claimed_is_not_posted(rig: Rig) -> None:
    await subscribe(rig.store)
    scheduler = rig.scheduler(FakeClock(DUE))

    async def removed_from_the_workspace(jobs: list[Job]) -> None:
        assert await purge_tenant(rig.store, T1) > 0

    after_claim(scheduler, "tips", removed_from_the_workspace)
    report = await scheduler.run_once()
    assert rig.poster.sent == [] and report.sent == 0 and not report.errors
    assert await rig.rows() == []


async def test_a_subscription_stopped_after_its_post_was_claimed_is_not_posted(rig: Rig) -> None:
    """``/tips unsubscribe`` cancels pending posts; one already claimed (or given back for a retry)
    must not go out either."""
    await subscribe(rig.store)
    scheduler = rig.scheduler(FakeClock(DUE))

    async def unsubscribed(jobs: list[Job]) -> None:
        assert await TenantTips(rig.store, T1).unsubscribe("C1", now=DUE)

    after_claim(scheduler, "tips", unsubscribed)
    report = await scheduler.run_once()
    assert rig.poster.sent == [] and report.sent == 0 and not report.errors
    assert await rig.rows() == [("failed", "subscription not found or stopped")]


async def test_a_group_deleted_after_its_intro_was_claimed_is_not_posted(rig: Rig) -> None:
    await program(rig.store)
    scheduler = rig.scheduler(FakeClock(DUE))

    async def group_gone(jobs: list[Job]) -> None:
        async with rig.store.begin() as conn:
            await conn.execute(delete(groups).where(groups.c.id.in_([j.source for j in jobs])))

    after_claim(scheduler, "mentoring-intros", group_gone)
    report = await scheduler.run_once()
    assert rig.poster.sent == [] and report.sent == 0 and not report.errors
    assert await rig.rows("mentoring-intros") == []


@pytest.mark.parametrize("kind", ["mentoring-intros", "mentoring-checkins"])
async def test_a_program_paused_after_its_job_was_claimed_is_not_posted(rig: Rig, kind: str) -> None:
    made = await program(rig.store)
    clock = FakeClock(DUE)
    if kind == "mentoring-checkins":
        assert (await rig.scheduler(clock).run_once()).sent == 1  # the intro; its check-in 3 days later
        clock.set(DUE + timedelta(days=3))
    scheduler = rig.scheduler(clock)
    before = len(rig.poster.sent)

    async def paused(jobs: list[Job]) -> None:
        await TenantMentoring(rig.store, T1).set_state(made, "paused", clock.now())

    after_claim(scheduler, kind, paused)
    report = await scheduler.run_once()
    assert len(rig.poster.sent) == before and not report.errors
    assert await rig.rows(kind) == [("failed", "the program is paused")]


async def test_no_tip_left_for_the_topic_after_a_knowledge_edit(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    topic = sorted(KB._tagged)[0]
    await subscribe(rig.store, topic=topic)
    knowledge = load(default_knowledge_dir())
    knowledge.entries["tip"] = {i: loc for i, loc in knowledge.entries["tip"].items() if topic not in loc.entry.tags}
    edited = KnowledgeBase(knowledge)
    assert edited.tips_tagged(topic) == [] and KB.tips_tagged(topic)
    scheduler = rig.scheduler(FakeClock(DUE), kinds=job_kinds(lambda: edited))
    with caplog.at_level(logging.WARNING, logger="careerbot"):
        report = await scheduler.run_once()
    assert rig.poster.sent == [] and not report.errors
    assert await rig.rows() == [("failed", "no tips match the topic")]
    assert f"no tips match topic {topic!r}" in caplog.text


@pytest.mark.parametrize("kind", ["tips", "mentoring-intros"])
@pytest.mark.parametrize("landed", [False, True])
async def test_a_retaken_job_past_the_grace_window(rig: Rig, kind: str, landed: bool) -> None:
    """A replica died with the job claimed and came back after the grace window: if the first attempt
    reached the platform it is marked sent (found, not resent); otherwise it is missed, not sent late."""
    if kind == "tips":
        await subscribe(rig.store)
    else:
        await program(rig.store)
    job = await claimed_by_a_dead_replica(rig.store, kind)
    late = DUE + Settings().grace + timedelta(minutes=1)
    scheduler = rig.scheduler(FakeClock(late))
    if landed:
        key = (
            post_key("slack", "T1", job.source, job.local_date)
            if kind == "tips"
            else job_key("intro", "slack", "T1", job.source)
        )
        rig.poster.delivered[key] = "m-before-the-crash"
    report = await scheduler.run_once()
    assert rig.poster.sent == [] and not report.errors
    if landed:
        assert report.found == 1 and report.missed == 0
        assert await rig.rows(kind) == [("sent", None)]
    else:
        assert report.missed == 1 and report.found == 0
        assert await rig.rows(kind) == [("missed", "past the grace window")]


@pytest.mark.parametrize("kind", ["tips", "mentoring-intros"])
async def test_an_unexpected_exception_from_a_poster_is_retried_later(rig: Rig, kind: str) -> None:
    if kind == "tips":
        await subscribe(rig.store)
    else:
        await program(rig.store)
    rig.poster.raising.append(RuntimeError("the SDK broke"))
    clock = FakeClock(DUE)
    scheduler = rig.scheduler(clock)
    report = await scheduler.run_once()
    assert report.retried == 1 and report.sent == 0 and not report.errors
    assert await rig.rows(kind) == [("pending", "RuntimeError: the SDK broke")]
    clock.advance(Settings().retry_after + timedelta(seconds=1))
    report = await scheduler.run_once()
    assert report.sent == 1 and len(rig.poster.sent) == 1
    assert await rig.states(kind) == Counter(sent=1)
