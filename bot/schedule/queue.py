"""The scheduler's side of the tip store: due work across tenants. Every change names the row's
tenant too, or the ids it has just locked; see :mod:`bot.schedule.scheduler` for the protocol.

Every write here is safe to repeat after an error whose outcome is unknown (the connection died
around the commit): marks and settles only change rows still ``claimed``, inserts ignore
conflicts, renewals only touch this process's own leases. :func:`transient` tells which errors
are the database being briefly unavailable (retry) rather than a bug.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, func, literal, or_, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.sql.elements import ColumnElement

from bot.schedule.rules import Schedule
from bot.schedule.tables import tenant_leases, workers
from bot.store.engine import Store, Tenant
from bot.store.problems import StoreError
from bot.tips.store import (
    OPEN,
    Claimed,
    Done,
    Rotation,
    epoch,
    insert_for,
    rotation_query,
    rotations_from,
    subscription_from,
    utc,
)
from bot.tips.tables import posts, subscriptions

log = logging.getLogger("careerbot.tips")

RENEW_CHUNK = 500
"""Post ids per renewal statement (well under every driver's bind parameter limit)."""

# SQLSTATE classes and codes that mean "try again": connection exceptions (08), insufficient
# resources (53), operator intervention (57: admin shutdown, crash shutdown, cannot connect now),
# serialization failures and deadlocks.
_TRANSIENT_CLASSES = ("08", "53", "57")
_TRANSIENT_CODES = ("40001", "40P01", "55P03")


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` is the database being briefly unavailable (connection refused, reset or
    terminated; SQLite's ``database is locked``; a pool or statement timeout; a serialization
    failure): the operation can be retried as it is. False for anything else (a bug, bad data).
    An error raised ``from`` such an error (a wrapper naming the store) counts as one too."""
    seen: set[int] = set()
    err: BaseException | None = exc
    while err is not None and id(err) not in seen and len(seen) < 10:
        seen.add(id(err))
        if _transient(err):
            return True
        err = err.__cause__
    return False


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, StoreError):  # read-only or full: waits for the operator, then carries on
        return exc.kind != "damaged"
    if isinstance(exc, (OSError, TimeoutError, sa_exc.TimeoutError, sa_exc.DisconnectionError)):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        name = str(getattr(exc.orig, "sqlite_errorname", "") or "")
        if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):  # retrying a damaged file cannot help
            return False
        if exc.connection_invalidated or isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            return True
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if isinstance(code, str) and (code[:2] in _TRANSIENT_CLASSES or code in _TRANSIENT_CODES):
            return True
        return isinstance(exc.orig, (OSError, TimeoutError))
    return False


def describe(exc: BaseException) -> str:
    """One short line for a log: the driver's error and its first line, without the SQL statement
    and parameters SQLAlchemy appends (a batch's parameters can be thousands of lines)."""
    inner: BaseException = exc
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        inner = exc.orig
    text = str(inner).strip().splitlines()
    first = text[0] if text else ""
    name = type(inner).__name__
    line = f"{name}: {first}" if first else name
    return line if len(line) <= 200 else line[:197] + "..."


class PostQueue:
    """Due work across tenants, for the scheduler. ``owner`` identifies the calling process."""

    def __init__(self, store: Store, owner: str) -> None:
        self.store = store
        self.owner = owner

    async def materialize(self, now: datetime, grace: timedelta, platforms: Sequence[str], limit: int = 1000) -> int:
        """Turn due subscriptions into post rows (pending; missed when past the grace window) and
        move each subscription on to its next date. Returns how many subscriptions were handled.

        The rows are locked (``FOR UPDATE SKIP LOCKED``), so replicas materialize disjoint sets.
        A chunk costs a few statements, not one per row: the due day's post is inserted straight
        from the subscriptions, and subscriptions moving to the same next date move together.
        """
        s, p = subscriptions, posts
        stamp, late_after = epoch(now), int(grace.total_seconds())
        query = (
            select(s)
            .where(s.c.active == 1, s.c.next_due_at <= stamp, s.c.platform.in_(list(platforms)))
            .order_by(s.c.next_due_at, s.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self.store.begin() as conn:
            subs = [subscription_from(r) for r in await conn.execute(query)]
            if not subs:
                return 0
            ids = [sub.id for sub in subs]
            due_day = select(
                s.c.platform,
                s.c.tenant,
                s.c.id,
                s.c.channel,
                s.c.next_date,
                s.c.next_due_at,
                case((s.c.next_due_at < stamp - late_after, "missed"), else_="pending"),
                literal(stamp),
                literal(stamp),
            ).where(s.c.id.in_(ids))
            columns = ["platform", "tenant", "subscription_id", "channel", "local_date", "due_at", "state"]
            insert = insert_for(self.store, p).from_select([*columns, "created_at", "updated_at"], due_day)
            await conn.execute(insert.on_conflict_do_nothing())
            extra: list[dict[str, Any]] = []
            moves: dict[tuple[str, int], list[int]] = {}
            following: dict[tuple[Schedule, str], tuple[str, int]] = {}
            for sub in subs:
                assert sub.next_date is not None and sub.next_due_at is not None
                common = (sub.schedule, sub.next_date)
                if common in following and now - utc(sub.next_due_at) <= grace:  # the usual case, computed once
                    moves.setdefault(following[common], []).append(sub.id)
                    continue
                day, due = date.fromisoformat(sub.next_date), utc(sub.next_due_at)
                while due <= now:
                    if now - due > grace:
                        log.warning(
                            "tips: %s %s %s: skipped; the bot was not running at %s and the %s grace window has passed",
                            sub.tenant,
                            sub.channel,
                            day,
                            due.isoformat(),
                            grace,
                        )
                    if day.isoformat() != sub.next_date:  # catching up more than one day (rare)
                        state = "missed" if now - due > grace else "pending"
                        values = (sub.tenant.platform, sub.tenant.team, sub.id, sub.channel, day.isoformat())
                        extra.append(dict(zip(columns, (*values, epoch(due), state), strict=True)))
                    if now - due > timedelta(days=3):  # down for long: jump, do not log every day
                        day, due = sub.schedule.first_after(now - grace - timedelta(days=1))
                        continue
                    day = sub.schedule.next_date(day)
                    due = sub.schedule.due(day)
                target = (day.isoformat(), epoch(due))
                if sub.schedule.next_date(date.fromisoformat(sub.next_date)) == day:  # one day moved on
                    following[common] = target
                moves.setdefault(target, []).append(sub.id)
            if extra:
                rows = [{**row, "created_at": stamp, "updated_at": stamp} for row in extra]
                await conn.execute(insert_for(self.store, p).on_conflict_do_nothing(), rows)
            for (day_text, due_epoch), moved in moves.items():
                await conn.execute(update(s).where(s.c.id.in_(moved)).values(next_date=day_text, next_due_at=due_epoch))
        return len(subs)

    def _claimable(self, stamp: int) -> ColumnElement[bool]:
        p = posts
        return and_(
            p.c.due_at <= stamp,
            or_(
                and_(p.c.state == "pending", or_(p.c.not_before.is_(None), p.c.not_before <= stamp)),
                and_(p.c.state == "claimed", p.c.lease_until < stamp),
            ),
        )

    async def register(self, now: datetime) -> None:
        """Say this process is alive (again at every lease renewal); forget long-gone processes."""
        stamp = epoch(now)
        insert = insert_for(self.store, workers).values(owner=self.owner, seen_at=stamp)
        async with self.store.begin() as conn:
            await conn.execute(insert.on_conflict_do_update(index_elements=[workers.c.owner], set_={"seen_at": stamp}))
            await conn.execute(workers.delete().where(workers.c.seen_at < stamp - 86400))

    async def fair_share(self, now: datetime, lease: timedelta, platforms: Sequence[str]) -> int:
        """How many tenants this process should hold: those with due posts, divided among the live
        processes (seen within one lease), rounded up."""
        p, stamp = posts, epoch(now)
        tenants = (
            select(p.c.platform, p.c.tenant)
            .where(p.c.state.in_(OPEN), p.c.due_at <= stamp, p.c.platform.in_(list(platforms)))
            .distinct()
            .subquery()
        )
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
        """Take the posting lease of up to ``limit`` tenants with claimable posts that no live
        replica holds, keeping within this process's :meth:`fair_share`. One replica posts for a
        tenant at a time, so it alone paces that workspace."""
        p, t = posts, tenant_leases
        stamp = epoch(now)
        limit = min(limit, await self.fair_share(now, lease, platforms) - len(held))
        if limit <= 0:
            return []
        free = or_(t.c.owner.is_(None), t.c.lease_until < stamp, t.c.owner == self.owner)
        query = (
            select(p.c.platform, p.c.tenant)
            .select_from(p.outerjoin(t, and_(t.c.platform == p.c.platform, t.c.tenant == p.c.tenant)))
            .where(p.c.state.in_(OPEN), p.c.platform.in_(list(platforms)), self._claimable(stamp), free)
            .group_by(p.c.platform, p.c.tenant)
            .order_by(func.min(p.c.due_at))
            .limit(limit * 4)
        )
        async with self.store.connect() as conn:
            found = [Tenant(r.platform, r.tenant) for r in await conn.execute(query)]
        wanted = [x for x in found if x not in held]
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

    async def release_tenant(self, tenant: Tenant) -> None:
        t = tenant_leases
        async with self.store.begin() as conn:
            await conn.execute(
                t.delete().where(t.c.platform == tenant.platform, t.c.tenant == tenant.team, t.c.owner == self.owner)
            )

    async def renew(
        self, now: datetime, lease: timedelta, *, tenants: Collection[Tenant] = (), post_ids: Collection[int] = ()
    ) -> None:
        """Heartbeat: say this process is alive and extend the leases it really holds: the posting
        leases of ``tenants`` (those it has a worker for) and the claims on ``post_ids`` (posts
        being sent, or sent and waiting for their mark to be written). Any other claim this process
        left behind (a worker that failed, a claim whose reply was lost with the connection) is not
        renewed: it expires and the next round retakes it."""
        until = epoch(now + lease)
        await self.register(now)
        t, p = tenant_leases, posts
        by_platform: dict[str, list[str]] = {}
        for tenant in tenants:
            by_platform.setdefault(tenant.platform, []).append(tenant.team)
        ids = sorted(set(post_ids))
        if not by_platform and not ids:
            return
        async with self.store.begin() as conn:
            if by_platform:
                mine = or_(*(and_(t.c.platform == k, t.c.tenant.in_(sorted(v))) for k, v in by_platform.items()))
                await conn.execute(update(t).where(t.c.owner == self.owner, mine).values(lease_until=until))
            for start in range(0, len(ids), RENEW_CHUNK):
                await conn.execute(
                    update(p)
                    .where(
                        p.c.id.in_(ids[start : start + RENEW_CHUNK]), p.c.owner == self.owner, p.c.state == "claimed"
                    )
                    .values(lease_until=until)
                )

    async def claim(self, tenant: Tenant, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
        """Claim up to ``limit`` due posts of ``tenant``: pending ones, and claimed ones whose lease
        ran out (their process died). ``FOR UPDATE SKIP LOCKED`` keeps two claimers apart."""
        p = posts
        stamp = epoch(now)
        ids = (
            select(p.c.id)
            .where(p.c.platform == tenant.platform, p.c.tenant == tenant.team, p.c.state.in_(OPEN))
            .where(self._claimable(stamp))
            .order_by(p.c.due_at, p.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            # Evaluated once, as a materialized CTE: PostgreSQL may rescan an ``IN (subquery)``, and a
            # rescan skips the rows this UPDATE just changed and locks the next ones, so a plain
            # subquery could claim every due post of the tenant, not ``limit``.
            .cte("claimable")
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
        claim = (
            update(p)
            .where(p.c.platform == tenant.platform, p.c.tenant == tenant.team, p.c.id.in_(select(ids.c.id)))
            .values(
                state="claimed",
                owner=self.owner,
                lease_until=epoch(now + lease),
                attempts=p.c.attempts + 1,
                not_before=None,
                updated_at=stamp,
            )
            .returning(p.c.id, p.c.subscription_id, p.c.channel, p.c.local_date, p.c.due_at, p.c.attempts)
        )
        async with self.store.begin() as conn:
            rows = (await conn.execute(claim)).all()
        claimed = [
            Claimed(r.id, tenant, r.subscription_id, r.channel, r.local_date, r.due_at, r.attempts) for r in rows
        ]
        return sorted(claimed, key=lambda c: (c.due_at, c.id))

    async def rotations(self, tenant: Tenant, subscription_ids: Sequence[int]) -> dict[int, Rotation]:
        if not subscription_ids:
            return {}
        async with self.store.connect() as conn:
            return rotations_from(await conn.execute(rotation_query(tenant, sorted(set(subscription_ids)))))

    async def complete(self, done: Sequence[Done], now: datetime) -> None:
        """Mark posts sent with their message ids (one statement for the batch)."""
        if not done:
            return
        p, s = posts, subscriptions
        stamp = epoch(now)
        mark = (
            update(p)
            .where(
                p.c.id == bindparam("b_id"),
                p.c.platform == bindparam("b_platform"),
                p.c.tenant == bindparam("b_tenant"),
                p.c.state == "claimed",
            )
            .values(
                state="sent",
                message_id=bindparam("b_message"),
                tip_id=bindparam("b_tip"),
                cycle=bindparam("b_cycle"),
                owner=None,
                lease_until=None,
                error=None,
                updated_at=stamp,
            )
        )
        rows = [
            {
                "b_id": d.post.id,
                "b_platform": d.post.tenant.platform,
                "b_tenant": d.post.tenant.team,
                "b_message": d.message_id[:100],
                "b_tip": d.tip_id,
                "b_cycle": d.cycle,
            }
            for d in done
        ]
        cycles = [
            {
                "b_id": d.post.subscription_id,
                "b_platform": d.post.tenant.platform,
                "b_tenant": d.post.tenant.team,
                "b_cycle": d.cycle,
            }
            for d in done
            if d.cycle
        ]
        async with self.store.begin() as conn:
            await conn.execute(mark, rows)
            if cycles:
                await conn.execute(
                    update(s)
                    .where(
                        s.c.id == bindparam("b_id"),
                        s.c.platform == bindparam("b_platform"),
                        s.c.tenant == bindparam("b_tenant"),
                        s.c.cycle < bindparam("b_cycle"),
                    )
                    .values(cycle=bindparam("b_cycle")),
                    cycles,
                )

    async def settle(self, post: Claimed, state: str, now: datetime, error: str = "") -> None:
        """End a claimed post without a message: ``missed`` or ``failed``."""
        await self._update(post, now, state=state, owner=None, lease_until=None, error=error[:200] or None)

    async def retry(self, post: Claimed, now: datetime, not_before: datetime, error: str) -> None:
        """Give a claim back after a transient failure; it is claimable again at ``not_before``."""
        await self._update(
            post, now, state="pending", owner=None, lease_until=None, not_before=epoch(not_before), error=error[:200]
        )

    async def _update(self, post: Claimed, now: datetime, **values: Any) -> None:
        p = posts
        async with self.store.begin() as conn:
            await conn.execute(
                update(p)
                .where(
                    p.c.id == post.id,
                    p.c.platform == post.tenant.platform,
                    p.c.tenant == post.tenant.team,
                    p.c.state == "claimed",
                )
                .values(updated_at=epoch(now), **values)
            )

    async def outstanding(self, now: datetime, platforms: Sequence[str]) -> int:
        """Due work anyone still has to do: due subscriptions plus open due posts."""
        stamp = epoch(now)
        s, p = subscriptions, posts
        async with self.store.connect() as conn:
            subs = await conn.scalar(
                select(func.count())
                .select_from(s)
                .where(s.c.active == 1, s.c.next_due_at <= stamp, s.c.platform.in_(list(platforms)))
            )
            open_posts = await conn.scalar(
                select(func.count())
                .select_from(p)
                .where(p.c.state.in_(OPEN), p.c.due_at <= stamp, p.c.platform.in_(list(platforms)))
            )
        return int(subs or 0) + int(open_posts or 0)
