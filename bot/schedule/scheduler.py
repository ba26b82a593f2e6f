"""The scheduler of every job kind (daily tips first): the store is the source of truth, the clock
is injected. A feature plugs in a :class:`~bot.schedule.jobs.JobKind`; this module owns claims,
leases, exactly-once, retries, the grace window and catch-up, and the poster paces each platform.

Each round: each kind turns its due sources into job rows (one per source and local date, so never
two for a day); the process takes the posting lease of tenants with due jobs of any kind; for each
tenant it claims jobs (a lease per job), sends them one by one through that platform's
:class:`~bot.schedule.posting.Poster`, and marks them sent with the message id (batched). Below,
"post" means one job.

Crash boundaries, and what "exactly once" means at them:

- Killed after the claim, before the send: the claim's lease runs out and a later round (this
  process restarted, or another replica) retakes it. Nothing was sent, so nothing is missing or
  doubled.
- Killed after the send, before it was marked sent: the retake sees ``attempts > 1`` and first asks
  the platform whether the earlier attempt landed (:meth:`Poster.find`: Slack message metadata
  carrying the post's key, which the job kind makes; Discord deduplicates by ``nonce``); if it
  did, the row is marked sent with that message id and nothing is resent. Only if the platform
  cannot tell is the post sent again: at-least-once, never zero.
- Marked sent: never sent again (the unique row is ``sent``; claims take ``pending`` or expired
  ``claimed`` rows only).

Replicas share one PostgreSQL with no leader: claims use ``FOR UPDATE SKIP LOCKED`` and tenant
leases are conditional upserts, so two processes never hold the same post; each process takes at
most its fair share of the tenants with due posts (divided by the processes whose heartbeat is
fresh), so they split the work. A post whose time
passed while nobody ran is still sent within the grace window, otherwise marked ``missed`` and
logged.

The database going away for a while (connections killed or refused, SQLite's file locked) loses
nothing and ends nothing:

- A post whose send succeeded stays in memory until its "sent" mark is written: a failed write
  keeps the batch and retries it with backoff, and the post is marked sent exactly once when the
  database answers again, never sent again (a post this process holds is never re-sent by it, even
  if its claim ran out meanwhile and a round of this process claimed it again).
- The heartbeat renews only the leases this process really holds: the tenants it has a worker for,
  and the posts those workers are sending or waiting to mark. A claim nobody here works on (its
  worker failed, or the reply to the claim was lost with the connection) expires and is retaken.
- Every database step is retried with backoff (``backoff`` doubling up to ``backoff_max``) while
  the error is the database being unavailable (:func:`~bot.schedule.trouble.transient`); the round loop
  survives any error. Each failure is one log line, and a long outage logs only the 1st, 2nd,
  4th, 8th, ... failure in a row, then one line when the database answers again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bot import metrics
from bot.errors import PostError
from bot.schedule.clock import Clock, SystemClock, utc
from bot.schedule.jobs import Compose, Job, JobKind, Sent
from bot.schedule.marks import Key, SentMarks
from bot.schedule.posting import Poster
from bot.schedule.queue import JobQueue
from bot.schedule.trouble import Backoff, Streak, describe, transient
from bot.store.engine import Store, Tenant

log = logging.getLogger("careerbot.scheduler")

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    grace: timedelta = timedelta(hours=6)
    lease: timedelta = timedelta(seconds=60)
    poll: float = 2.0
    """Seconds between rounds when there is nothing to do (due sources are found this fast)."""
    scan: float = 10.0
    """Seconds between looks for claimable jobs when nothing changed (retries, dead replicas)."""
    claim_batch: int = 200
    chunk: int = 1000
    """Sources (tip subscriptions) turned into jobs per transaction."""
    materialize_chunks: int = 20
    tenant_concurrency: int = 20
    """Jobs of one tenant in flight at once (the poster still paces them)."""
    tenant_batch: int = 10
    """Tenants leased per round, so replicas starting together share the work."""
    max_tenants: int = 500
    flush_every: int = 200
    flush_after: float = 0.05
    retry_after: timedelta = timedelta(seconds=30)
    backoff: float = 0.5
    """Seconds to wait after a database error before trying again; doubles with each error in a row."""
    backoff_max: float = 10.0
    """The longest wait between attempts while the database is unavailable."""


@dataclass(slots=True)
class Report:
    sent: int = 0
    found: int = 0
    """Jobs a retake found already delivered (after a crash) and marked sent without resending."""
    missed: int = 0
    failed: int = 0
    retried: int = 0
    db_errors: int = 0
    """Database operations that failed because the database was unavailable, and were retried."""
    errors: list[str] = field(default_factory=list)


def owner_id() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{random.getrandbits(32):08x}"


def key(job: Job) -> Key:
    return (job.kind, job.id)


class Scheduler:
    def __init__(
        self,
        store: Store,
        posters: Mapping[str, Poster],
        kinds: Sequence[JobKind],
        *,
        clock: Clock | None = None,
        settings: Settings | None = None,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.posters = dict(posters)
        self.kinds = list(kinds)
        self.clock = clock or SystemClock()
        self.settings = settings or Settings()
        self.queue = JobQueue(store, owner or owner_id(), self.kinds)
        self.report = Report()
        self._workers: dict[Tenant, asyncio.Task[None]] = {}
        self._inflight: set[Key] = set()
        """Jobs a live worker has claimed and not yet finished (sent, settled or given back)."""
        self._streak = Streak()
        self._looked: dict[str, datetime] = {}
        """When each kind last looked for due sources (``run``)."""
        self.marks = SentMarks(
            self.queue,
            self.clock,
            self._backoff,
            self._trouble,
            self._streak.recovered,
            every=self.settings.flush_every,
            after=self.settings.flush_after,
        )
        self._dirty = False

    @property
    def platforms(self) -> list[str]:
        return sorted(self.posters)

    # ------------------------------------------------------------------ driving

    async def register(self) -> None:
        """Announce this process to the others sharing the store (done by :meth:`run` too)."""
        await self.queue.register(self.clock.now())

    async def run_once(self) -> Report:
        """Do everything due now, then return (tests and ``careerbot tips run --once``)."""
        now = self.clock.now()
        await self.register()
        while await self._materialize(now):
            pass
        while True:
            while await self._lease(now):
                pass
            if not self._workers:
                break
            await asyncio.gather(*list(self._workers.values()))
        await self.marks.drain()
        return self.report

    async def _materialize(self, now: datetime, *, polled: bool = False) -> int:
        """Turn each kind's due sources into jobs, a chunk at a time, for at most ``materialize_chunks``.
        ``polled``: skip a kind looked at less than its :attr:`~bot.schedule.jobs.JobKind.poll` ago."""
        made = 0
        for kind in self.kinds:
            if polled:
                last = self._looked.get(kind.name)
                if last is not None and (now - last).total_seconds() < kind.poll:
                    continue
                self._looked[kind.name] = now
            for _ in range(self.settings.materialize_chunks):
                count = await self.queue.materialize(
                    now, self.settings.grace, self.platforms, self.settings.chunk, kind=kind.name
                )
                made += count
                if count < self.settings.chunk:
                    break
        return made

    async def run(self, *, until_idle: bool = False) -> None:
        """Post forever (or, with ``until_idle``, until no due work is left for anyone).

        Every round turns due sources into jobs. It looks for tenants to lease when there may be new
        work (jobs were just made, a worker finished, the last look found some) and at least every
        ``scan`` seconds (retries, and claims left by a replica that died). When a round found
        nothing to do, the next one is ``poll`` seconds later; when it failed, after a backoff.
        """
        try:
            await self.register()
        except Exception as exc:  # the heartbeat registers again
            self._trouble("registering with the store", exc)
        heartbeat = asyncio.create_task(self._heartbeat(), name="scheduler-heartbeat")
        next_scan = self.clock.now()
        backoff = self._backoff()
        try:
            while True:
                busy = False
                wait = self.settings.poll
                try:
                    now = self.clock.now()
                    if self.marks.pending:  # left by a failed worker; normally workers write their own
                        await self.marks.flush()
                    made = await self._materialize(now, polled=True)
                    if made or self._dirty or now >= next_scan:
                        self._dirty = False
                        next_scan = now + timedelta(seconds=self.settings.scan)
                        busy = await self._lease(now)
                        self._dirty = self._dirty or busy
                    busy = busy or made > 0
                    if until_idle and not self._workers and not self.marks.pending and not busy:
                        if await self.queue.outstanding(now, self.platforms) == 0:
                            return
                    backoff.reset()
                    self._streak.recovered()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the database restarting must not end the scheduler
                    self._trouble("a scheduler round", exc)
                    busy, wait = False, backoff.next()
                if not busy:
                    await self.clock.sleep(wait)
        finally:
            heartbeat.cancel()
            for task in list(self._workers.values()):
                task.cancel()
            await asyncio.gather(heartbeat, *self._workers.values(), return_exceptions=True)
            await self.marks.last_flush()

    async def _heartbeat(self) -> None:
        every = self.settings.lease.total_seconds() / 3
        backoff = self._backoff()
        wait = every
        while True:
            await self.clock.sleep(wait)
            try:
                await self.renew()
            except Exception as exc:  # try again soon: the leases run out at ``lease``
                self._trouble("renewing leases", exc)
                wait = min(backoff.next(), every)
            else:
                backoff.reset()
                wait = every

    async def renew(self) -> None:
        """Extend the leases this process really holds (the heartbeat does this every third of a
        lease): the tenants it has a worker for, and the jobs being sent or waiting for their
        "sent" mark. A claim nobody here works on is left to expire, so another round retakes it."""
        jobs: dict[str, list[int]] = {}
        for kind, job_id in self._inflight | self.marks.pending.keys():
            jobs.setdefault(kind, []).append(job_id)
        await self.queue.renew(self.clock.now(), self.settings.lease, tenants=list(self._workers), jobs=jobs)
        metrics.leases_held(len(self._workers), sum(len(ids) for ids in jobs.values()))
        if metrics.registry() is not None:  # one cheap query per kind, only when someone can read it
            for name, seconds in (await self.queue.lag(self.clock.now(), self.platforms)).items():
                metrics.queue_lag(name, seconds)

    async def _lease(self, now: datetime) -> bool:
        room = min(self.settings.tenant_batch, self.settings.max_tenants - len(self._workers))
        if room <= 0:
            return False
        held = set(self._workers)
        tenants = await self.queue.lease_tenants(now, self.settings.lease, self.platforms, held, room)
        for tenant in tenants:  # never one in ``held``: lease_tenants leaves those out
            self._workers[tenant] = asyncio.create_task(self._work(tenant), name=f"jobs-{tenant}")
        return bool(tenants)

    # ------------------------------------------------------------------ database trouble

    def _backoff(self) -> Backoff:
        return Backoff(self.settings.backoff, self.settings.backoff_max)

    def _trouble(self, what: str, exc: BaseException) -> None:
        if transient(exc):
            self.report.db_errors += 1
        self._streak.failed(what, exc)

    async def _retrying(self, what: str, step: Callable[[], Awaitable[T]]) -> T:
        """``step()``, tried again with backoff for as long as the database is unavailable; any other
        error is raised at once."""
        backoff: Backoff | None = None
        while True:
            try:
                result = await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not transient(exc):
                    raise
                self._trouble(what, exc)
                backoff = backoff or self._backoff()
                await self.clock.sleep(backoff.next())
                continue
            if backoff is not None:
                self._streak.recovered()
            return result

    # ------------------------------------------------------------------ one tenant

    async def _work(self, tenant: Tenant) -> None:
        mine: set[Key] = set()
        stopping = False
        try:
            open_kinds = list(self.kinds)
            while open_kinds:
                for kind in list(open_kinds):
                    batch = await self._retrying(
                        f"claiming {kind.name} jobs of {tenant}",
                        lambda kind=kind: self.queue.claim(  # type: ignore[misc]
                            tenant, self.clock.now(), self.settings.lease, self.settings.claim_batch, kind=kind.name
                        ),
                    )
                    if len(batch) < self.settings.claim_batch:  # nothing more of this kind is due now
                        open_kinds.remove(kind)
                    if not batch:
                        continue
                    # A job this process already holds (its claim ran out while the database was away and
                    # this claim took it again) is not sent again: its worker, or the pending mark, has it.
                    fresh = [c for c in batch if key(c) not in self._inflight and key(c) not in self.marks.pending]
                    keys = {key(c) for c in fresh}
                    mine |= keys
                    self._inflight |= keys
                    if fresh:
                        prepared = await self._retrying(
                            f"reading what {kind.name} jobs of {tenant} need",
                            lambda kind=kind, fresh=fresh: kind.prepare(self.store, tenant, fresh),  # type: ignore[misc]
                        )
                        await self._send_all(kind, fresh, prepared)
                    await self.marks.drain({key(c) for c in batch})  # marked sent before more is claimed
        except asyncio.CancelledError:
            stopping = True
            raise
        except Exception as exc:  # its claims expire and are retaken; other tenants carry on
            log.error("scheduler: posting for %s failed (%s)", tenant, describe(exc))
            self.report.errors.append(f"{tenant}: {type(exc).__name__}: {exc}")
        finally:
            left = mine & self._inflight
            self._inflight -= mine  # what is left nobody works on now: not renewed, so it expires
            try:
                if left and stopping:  # shutting down: give the claims back so a replica sends them now
                    for kind_name in {k for k, _ in left}:
                        ids = [job_id for k, job_id in left if k == kind_name]
                        await self.queue.release_claims(kind_name, ids, self.clock.now())
                await self.queue.release_tenant(tenant)
            except Exception as exc:
                log.warning("scheduler: releasing %s failed (%s); its lease will expire", tenant, describe(exc))
            self._workers.pop(tenant, None)
            self._dirty = True

    async def _send_all(self, kind: JobKind, batch: list[Job], prepared: Any) -> None:
        """Send a tenant's claimed jobs, up to ``tenant_concurrency`` at a time (the poster paces
        them to the platform's limits); one source's jobs go in date order, one by one."""
        by_source: dict[int, list[Job]] = {}
        for job in batch:
            by_source.setdefault(job.source, []).append(job)
        queue = iter(by_source.values())

        async def lane() -> None:
            for jobs in queue:  # the lanes share one iterator: each source is taken once
                for job in jobs:
                    await self._one(kind, job, prepared)

        lanes = min(self.settings.tenant_concurrency, len(by_source))
        results = await asyncio.gather(*(lane() for _ in range(lanes)), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _one(self, kind: JobKind, job: Job, prepared: Any) -> None:
        now = self.clock.now()
        poster = self.posters[job.tenant.platform]
        composed = kind.compose(job, prepared)
        if not isinstance(composed, Compose):
            if composed.warning:
                log.warning("%s: %s %s: %s", kind.name, job.tenant, job.channel, composed.warning)
            await self._settle(job, "failed", composed.reason)
            return
        if job.attempts > 1:  # an earlier attempt may have reached the channel before a crash
            try:
                found = await poster.find(composed.post)
            except PostError as exc:
                if not exc.permanent:  # ask again later rather than risk a second copy
                    await self._failed(kind, job, f"checking for an earlier send: {exc.reason}", permanent=False)
                    return
                log.warning("%s: %s %s: cannot check for an earlier send (%s)", kind.name, job.tenant, job.channel, exc)
                found = None
            if found is not None:
                self.report.found += 1
                await self._done(kind, job, composed, found, prepared)
                return
        late = now - utc(job.due_at)
        if late > self.settings.grace:
            self.report.missed += 1
            log.warning(
                "%s: %s %s %s: skipped; %s late is past the %s grace window",
                kind.name,
                job.tenant,
                job.channel,
                job.local_date,
                late,
                self.settings.grace,
            )
            await self._settle(job, "missed", "past the grace window")
            return
        try:
            message_id = await poster.post(composed.post)
        except PostError as exc:
            await self._failed(kind, job, exc.reason, permanent=exc.permanent)
            return
        except Exception as exc:
            await self._failed(kind, job, f"{type(exc).__name__}: {exc}", permanent=False)
            return
        self.report.sent += 1
        metrics.scheduled_post(kind.name, "sent")
        await self._done(kind, job, composed, message_id, prepared)

    async def _settle(self, job: Job, state: str, reason: str) -> None:
        await self._retrying(f"marking a job {state}", lambda: self.queue.settle(job, state, self.clock.now(), reason))
        self._inflight.discard(key(job))

    async def _failed(self, kind: JobKind, job: Job, reason: str, *, permanent: bool) -> None:
        if permanent:
            self.report.failed += 1
            metrics.scheduled_post(kind.name, "failed")
            log.error("%s: %s %s %s: not posted: %s", kind.name, job.tenant, job.channel, job.local_date, reason)
            await self._settle(job, "failed", reason)
            return
        self.report.retried += 1
        metrics.scheduled_post(kind.name, "retried")
        wait = self.settings.retry_after * min(2 ** (job.attempts - 1), 16)
        log.warning("%s: %s %s: will retry in %s: %s", kind.name, job.tenant, job.channel, wait, reason)

        async def give_back() -> None:
            now = self.clock.now()
            await self.queue.retry(job, now, now + wait, reason)

        await self._retrying("giving a job back for a retry", give_back)
        self._inflight.discard(key(job))

    async def _done(self, kind: JobKind, job: Job, composed: Compose, message_id: str, prepared: Any) -> None:
        kind.sent(job, composed, prepared)
        self._inflight.discard(key(job))
        await self.marks.add(key(job), Sent(job, message_id, composed.values))
