"""The scheduler's side of the store: due jobs of every kind, across tenants. Every change names
the row's tenant too, or the ids it has just locked; see :mod:`bot.schedule.scheduler` for the
protocol.

Every write here is safe to repeat after an error whose outcome is unknown (the connection died
around the commit): marks and settles only change rows still ``claimed``, inserts ignore
conflicts, renewals only touch this process's own leases.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, or_, select, union, union_all, update
from sqlalchemy.sql.elements import ColumnElement

from bot.schedule.clock import epoch
from bot.schedule.jobs import OPEN, Job, JobKind, Sent
from bot.schedule.tables import tenant_leases, workers
from bot.store.engine import Store, Tenant, insert_for

RENEW_CHUNK = 500
"""Job ids per renewal statement (well under every driver's bind parameter limit)."""


class JobQueue:
    """Due jobs of ``kinds`` across tenants, for the scheduler. ``owner`` identifies the calling
    process. Methods about one kind's jobs take ``kind`` (a name), which may be left out when the
    queue has a single kind."""

    def __init__(self, store: Store, owner: str, kinds: Sequence[JobKind]) -> None:
        if not kinds:
            raise ValueError("a job queue needs at least one job kind")
        self.store = store
        self.owner = owner
        self.kinds = {kind.name: kind for kind in kinds}

    def kind(self, name: str | None = None) -> JobKind:
        if name is None:
            if len(self.kinds) != 1:
                raise ValueError(f"say which job kind: one of {sorted(self.kinds)}")
            return next(iter(self.kinds.values()))
        return self.kinds[name]

    async def materialize(
        self, now: datetime, grace: timedelta, platforms: Sequence[str], limit: int = 1000, *, kind: str | None = None
    ) -> int:
        """Turn up to ``limit`` due sources of ``kind`` (default: of each kind) into jobs; see
        :meth:`JobKind.materialize`. Returns how many sources were handled."""
        kinds = [self.kind(kind)] if kind is not None else list(self.kinds.values())
        made = 0
        for each in kinds:
            made += await each.materialize(self.store, now, grace, platforms, limit)
        return made

    @staticmethod
    def _claimable(table: Table, stamp: int) -> ColumnElement[bool]:
        j = table
        return and_(
            j.c.due_at <= stamp,
            or_(
                and_(j.c.state == "pending", or_(j.c.not_before.is_(None), j.c.not_before <= stamp)),
                and_(j.c.state == "claimed", j.c.lease_until < stamp),
            ),
        )

    async def register(self, now: datetime) -> None:
        """Say this process is alive (again at every lease renewal); forget long-gone processes."""
        stamp = epoch(now)
        insert = insert_for(self.store, workers).values(owner=self.owner, seen_at=stamp)
        async with self.store.begin() as conn:
            await conn.execute(insert.on_conflict_do_update(index_elements=[workers.c.owner], set_={"seen_at": stamp}))
            await conn.execute(workers.delete().where(workers.c.seen_at < stamp - 86400))

    def _open_tenants(self, stamp: int, platforms: Sequence[str]) -> Any:
        """Tenants with open due jobs of any kind (one row each)."""
        parts = [
            select(j.c.platform, j.c.tenant).where(
                j.c.state.in_(OPEN), j.c.due_at <= stamp, j.c.platform.in_(list(platforms))
            )
            for j in (kind.table for kind in self.kinds.values())
        ]
        return (union(*parts) if len(parts) > 1 else parts[0].distinct()).subquery()

    async def fair_share(self, now: datetime, lease: timedelta, platforms: Sequence[str]) -> int:
        """How many tenants this process should hold: those with due jobs, divided among the live
        processes (seen within one lease), rounded up."""
        stamp = epoch(now)
        tenants = self._open_tenants(stamp, platforms)
        alive = select(func.count()).select_from(workers).where(workers.c.seen_at >= stamp - int(lease.total_seconds()))
        async with self.store.connect() as conn:
            row = (
                await conn.execute(
                    select(select(func.count()).select_from(tenants).scalar_subquery(), alive.scalar_subquery())
                )
            ).one()
        return math.ceil(int(row[0]) / max(int(row[1]), 1))

    async def lease_tenants(
        self, now: datetime, lease: timedelta, platforms: Sequence[str], held: set[Tenant], limit: int
    ) -> list[Tenant]:
        """Take the posting lease of up to ``limit`` tenants with claimable jobs (of any kind) that no
        live replica holds, keeping within this process's :meth:`fair_share`. One replica posts for a
        tenant at a time, so it alone paces that workspace."""
        t = tenant_leases
        stamp = epoch(now)
        limit = min(limit, await self.fair_share(now, lease, platforms) - len(held))
        if limit <= 0:
            return []
        free = or_(t.c.owner.is_(None), t.c.lease_until < stamp, t.c.owner == self.owner)
        due = [
            select(j.c.platform, j.c.tenant, func.min(j.c.due_at).label("first"))
            .select_from(j.outerjoin(t, and_(t.c.platform == j.c.platform, t.c.tenant == j.c.tenant)))
            .where(j.c.state.in_(OPEN), j.c.platform.in_(list(platforms)), self._claimable(j, stamp), free)
            .group_by(j.c.platform, j.c.tenant)
            for j in (kind.table for kind in self.kinds.values())
        ]
        if len(due) == 1:
            query = due[0].order_by(func.min(self.kind().table.c.due_at)).limit(limit * 4)
        else:
            every = union_all(*due).subquery()
            query = (
                select(every.c.platform, every.c.tenant)
                .group_by(every.c.platform, every.c.tenant)
                .order_by(func.min(every.c.first))
                .limit(limit * 4)
            )
        async with self.store.connect() as conn:
            found = [Tenant(r.platform, r.tenant) for r in await conn.execute(query)]
        wanted = [x for x in dict.fromkeys(found) if x not in held]
        random.shuffle(wanted)  # two replicas starting together then split the tenants between them
        wanted = sorted(wanted[:limit], key=lambda x: (x.platform, x.team))  # one lock order: no deadlocks
        if not wanted:
            return []
        until = epoch(now + lease)
        insert = insert_for(self.store, t).values(
            [{"platform": x.platform, "tenant": x.team, "owner": self.owner, "lease_until": until} for x in wanted]
        )
        upsert = insert.on_conflict_do_update(
            index_elements=[t.c.platform, t.c.tenant],
            set_={"owner": insert.excluded.owner, "lease_until": insert.excluded.lease_until},
            where=or_(t.c.lease_until < stamp, t.c.owner == self.owner),
        ).returning(t.c.platform, t.c.tenant)
        async with self.store.begin() as conn:
            return [Tenant(r.platform, r.tenant) for r in await conn.execute(upsert)]

    async def release_claims(self, kind: str, ids: Collection[int], now: datetime) -> None:
        """Give claims this process holds back at once (shutting down), instead of letting their
        lease run out. A job that may have been sent is safe: its next claim counts a second attempt,
        which asks the platform whether it already went out before sending."""
        j = self.kind(kind).table
        wanted = sorted(ids)
        async with self.store.begin() as conn:
            for at in range(0, len(wanted), 500):
                await conn.execute(
                    update(j)
                    .where(j.c.id.in_(wanted[at : at + 500]), j.c.owner == self.owner, j.c.state == "claimed")
                    .values(state="pending", owner=None, lease_until=None, updated_at=epoch(now))
                )

    async def release_tenant(self, tenant: Tenant) -> None:
        t = tenant_leases
        async with self.store.begin() as conn:
            await conn.execute(
                t.delete().where(t.c.platform == tenant.platform, t.c.tenant == tenant.team, t.c.owner == self.owner)
            )

    async def renew(
        self,
        now: datetime,
        lease: timedelta,
        *,
        tenants: Collection[Tenant] = (),
        jobs: Mapping[str, Collection[int]] | None = None,
    ) -> None:
        """Heartbeat: say this process is alive and extend the leases it really holds: the posting
        leases of ``tenants`` (those it has a worker for) and the claims on ``jobs`` (ids by kind:
        jobs being sent, or sent and waiting for their mark to be written). Any other claim this
        process left behind (a worker that failed, a claim whose reply was lost with the connection)
        is not renewed: it expires and the next round retakes it."""
        until = epoch(now + lease)
        await self.register(now)
        t = tenant_leases
        by_platform: dict[str, list[str]] = {}
        for tenant in tenants:
            by_platform.setdefault(tenant.platform, []).append(tenant.team)
        ids = {name: sorted(set(found)) for name, found in (jobs or {}).items() if found}
        if not by_platform and not ids:
            return
        async with self.store.begin() as conn:
            if by_platform:
                mine = or_(*(and_(t.c.platform == k, t.c.tenant.in_(sorted(v))) for k, v in by_platform.items()))
                await conn.execute(update(t).where(t.c.owner == self.owner, mine).values(lease_until=until))
            for name, held in ids.items():
                j = self.kinds[name].table
                for start in range(0, len(held), RENEW_CHUNK):
                    chunk = held[start : start + RENEW_CHUNK]
                    await conn.execute(
                        update(j)
                        .where(j.c.id.in_(chunk), j.c.owner == self.owner, j.c.state == "claimed")
                        .values(lease_until=until)
                    )

    async def claim(
        self, tenant: Tenant, now: datetime, lease: timedelta, limit: int, *, kind: str | None = None
    ) -> list[Job]:
        """Claim up to ``limit`` due jobs of ``kind`` for ``tenant``: pending ones, and claimed ones
        whose lease ran out (their process died). ``FOR UPDATE SKIP LOCKED`` keeps two claimers apart."""
        of = self.kind(kind)
        j = of.table
        stamp = epoch(now)
        ids = (
            select(j.c.id)
            .where(j.c.platform == tenant.platform, j.c.tenant == tenant.team, j.c.state.in_(OPEN))
            .where(self._claimable(j, stamp))
            .order_by(j.c.due_at, j.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            # Evaluated once, as a materialized CTE: PostgreSQL may rescan an ``IN (subquery)``, and a
            # rescan skips the rows this UPDATE just changed and locks the next ones, so a plain
            # subquery could claim every due job of the tenant, not ``limit``.
            .cte("claimable")
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
        source = j.c[of.source]
        claim = (
            update(j)
            .where(j.c.platform == tenant.platform, j.c.tenant == tenant.team, j.c.id.in_(select(ids.c.id)))
            .values(
                state="claimed",
                owner=self.owner,
                lease_until=epoch(now + lease),
                attempts=j.c.attempts + 1,
                not_before=None,
                updated_at=stamp,
            )
            .returning(j.c.id, source, j.c.channel, j.c.local_date, j.c.due_at, j.c.attempts)
        )
        async with self.store.begin() as conn:
            rows = (await conn.execute(claim)).all()
        claimed = [Job(r[0], tenant, r[1], r[2], r[3], r[4], r[5], of.name) for r in rows]
        return sorted(claimed, key=lambda c: (c.due_at, c.id))

    async def complete(self, sent: Sequence[Sent], now: datetime) -> None:
        """Mark jobs sent with their message ids and their kind's values (one statement per kind),
        and let each kind write what follows, in one transaction."""
        if not sent:
            return
        stamp = epoch(now)
        by_kind: dict[str, list[Sent]] = {}
        for done in sent:
            by_kind.setdefault(done.job.kind, []).append(done)
        async with self.store.begin() as conn:
            for name, batch in by_kind.items():
                kind = self.kinds[name]
                j = kind.table
                extra = sorted({key for done in batch for key in done.values})
                mark = (
                    update(j)
                    .where(
                        j.c.id == bindparam("b_id"),
                        j.c.platform == bindparam("b_platform"),
                        j.c.tenant == bindparam("b_tenant"),
                        j.c.state == "claimed",
                    )
                    .values(
                        state="sent",
                        message_id=bindparam("b_message"),
                        owner=None,
                        lease_until=None,
                        error=None,
                        updated_at=stamp,
                        **{key: bindparam(f"b_v_{key}") for key in extra},
                    )
                )
                rows = [
                    {
                        "b_id": done.job.id,
                        "b_platform": done.job.tenant.platform,
                        "b_tenant": done.job.tenant.team,
                        "b_message": done.message_id[:100],
                        **{f"b_v_{key}": done.values.get(key) for key in extra},
                    }
                    for done in batch
                ]
                await conn.execute(mark, rows)
                await kind.completed(conn, batch, now)

    async def settle(self, job: Job, state: str, now: datetime, error: str = "") -> None:
        """End a claimed job without a message: ``missed`` or ``failed``."""
        await self._update(job, now, state=state, owner=None, lease_until=None, error=error[:200] or None)

    async def retry(self, job: Job, now: datetime, not_before: datetime, error: str) -> None:
        """Give a claim back after a transient failure; it is claimable again at ``not_before``."""
        await self._update(
            job, now, state="pending", owner=None, lease_until=None, not_before=epoch(not_before), error=error[:200]
        )

    async def _update(self, job: Job, now: datetime, **values: Any) -> None:
        j = self.kinds[job.kind].table
        async with self.store.begin() as conn:
            await conn.execute(
                update(j)
                .where(
                    j.c.id == job.id,
                    j.c.platform == job.tenant.platform,
                    j.c.tenant == job.tenant.team,
                    j.c.state == "claimed",
                )
                .values(updated_at=epoch(now), **values)
            )

    async def lag(self, now: datetime, platforms: Sequence[str]) -> dict[str, float]:
        """Per job kind, how many seconds the oldest open due job is past its time (0 when none)."""
        stamp = epoch(now)
        found: dict[str, float] = {}
        async with self.store.connect() as conn:
            for name, kind in self.kinds.items():
                j = kind.table
                oldest = await conn.scalar(
                    select(func.min(j.c.due_at)).where(
                        j.c.state.in_(OPEN), j.c.due_at <= stamp, j.c.platform.in_(list(platforms))
                    )
                )
                found[name] = float(stamp - oldest) if oldest is not None else 0.0
        return found

    async def outstanding(self, now: datetime, platforms: Sequence[str]) -> int:
        """Due work anyone still has to do: due sources not yet turned into jobs, plus open due jobs."""
        stamp = epoch(now)
        total = 0
        for kind in self.kinds.values():
            total += await kind.backlog(self.store, now, platforms)
            j = kind.table
            async with self.store.connect() as conn:
                open_jobs = await conn.scalar(
                    select(func.count())
                    .select_from(j)
                    .where(j.c.state.in_(OPEN), j.c.due_at <= stamp, j.c.platform.in_(list(platforms)))
                )
            total += int(open_jobs or 0)
        return total
