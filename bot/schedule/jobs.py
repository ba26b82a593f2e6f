"""What a feature plugs into the scheduler: a job kind.

A job is one message due at one moment in one channel of one tenant (a daily tip, later a mentoring
intro or check-in). Each kind keeps its jobs in its own table, built by :func:`job_table`: the
standard job columns plus its own, and says:

- which jobs are due (:meth:`JobKind.materialize` turns its due sources, such as tip subscriptions,
  into job rows, one per source and local date, and :meth:`JobKind.backlog` counts those not yet
  turned);
- what to send for one (:meth:`JobKind.prepare` reads what a batch needs, once per batch;
  :meth:`JobKind.compose` gives the :class:`~bot.schedule.posting.Post`, or a :class:`Skip`);
- what else to write when jobs are marked sent (:meth:`JobKind.completed`, in the same transaction).

The scheduler owns the rest: claims and leases, exactly-once across replicas, retries with backoff,
the grace window, catch-up and platform pacing (:mod:`bot.schedule.scheduler`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, UniqueConstraint
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.schema import SchemaItem

from bot.schedule.posting import Post
from bot.store.engine import Id, Store, Tenant, metadata

OPEN = ("pending", "claimed")
"""Job states the scheduler still has work for. The others: ``sent``, ``missed`` (past the grace
window), ``failed`` (for good), and whatever a feature adds (tips: ``skipped``, ``cancelled``)."""


def job_table(name: str, source: Column[Any], *extra: SchemaItem, meta: MetaData = metadata) -> Table:
    """A job kind's table on the store's shared metadata: the standard job columns around the kind's
    ``source`` column (a foreign key to the row that makes the jobs) and its ``extra`` columns and
    indexes. One job per source and local date (the unique row that makes a post happen at most
    once). ``state``: pending -> claimed -> sent | missed | failed; ``owner`` and ``lease_until``: the
    claim; ``not_before``: a retry's earliest time; ``attempts``: claims so far. ``meta``: another
    metadata than the store's (a test's own kind)."""
    return Table(
        name,
        meta,
        Column("id", Id, primary_key=True, autoincrement=True),
        Column("platform", String(16), nullable=False),
        Column("tenant", String(64), nullable=False),
        source,
        Column("channel", String(64), nullable=False),
        Column("local_date", String(10), nullable=False),
        Column("due_at", BigInteger, nullable=False),
        Column("state", String(10), nullable=False),
        Column("owner", String(64), nullable=True),
        Column("lease_until", BigInteger, nullable=True),
        Column("not_before", BigInteger, nullable=True),
        Column("attempts", Integer, nullable=False, server_default="0"),
        *extra,
        Column("message_id", String(100), nullable=True),
        Column("error", String(200), nullable=True),
        Column("created_at", BigInteger, nullable=False),
        Column("updated_at", BigInteger, nullable=False),
        UniqueConstraint(source.name, "local_date"),
        Index(None, "state", "due_at"),
        Index(None, "platform", "tenant", "state", "due_at"),  # a tenant's claimable jobs, in order
    )


@dataclass(frozen=True, slots=True)
class Job:
    """A job this process holds the claim on. ``source`` is the row that made it (a tip subscription);
    one source's jobs are sent one by one, in date order. ``attempts`` counts this claim: above 1, an
    earlier attempt may have reached the platform, so the scheduler asks before sending again."""

    id: int
    tenant: Tenant
    source: int
    channel: str
    local_date: str
    due_at: int
    attempts: int
    kind: str = "tips"


@dataclass(frozen=True, slots=True)
class Compose:
    """What to send for a job: the post, and the kind's own columns to write when it is marked sent."""

    post: Post
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Skip:
    """Nothing to send for this job, for good (its source is gone, no content is left): it is marked
    ``failed`` with ``reason``; ``warning`` (if any) is logged."""

    reason: str
    warning: str = ""


@dataclass(frozen=True, slots=True)
class Sent:
    """A job delivered (or found delivered by an earlier attempt), waiting for its "sent" mark."""

    job: Job
    message_id: str
    values: Mapping[str, Any] = field(default_factory=dict)


class JobKind(Protocol):
    """A feature's scheduled messages; see the module docstring. ``table`` is made by
    :func:`job_table`, with a column for each name in the :class:`Compose` values."""

    @property
    def name(self) -> str: ...

    @property
    def table(self) -> Table: ...

    @property
    def source(self) -> str:
        """The name of the column of :attr:`table` holding the job's source id."""
        ...

    @property
    def poll(self) -> float:
        """The fewest seconds between two :meth:`materialize` calls of a running scheduler (0: every
        round). Sources due weekly need not be looked for every two seconds; ``run_once`` always looks."""
        ...

    async def materialize(
        self, store: Store, now: datetime, grace: timedelta, platforms: Sequence[str], limit: int
    ) -> int:
        """Turn up to ``limit`` due sources into job rows (``pending``; ``missed`` when past ``grace``)
        and move them on to their next date; return how many sources were handled. Safe to repeat and
        to run on replicas at once (lock the sources with ``SKIP LOCKED``, insert ignoring conflicts)."""
        ...

    async def backlog(self, store: Store, now: datetime, platforms: Sequence[str]) -> int:
        """Due sources not yet turned into jobs."""
        ...

    async def prepare(self, store: Store, tenant: Tenant, jobs: Sequence[Job]) -> Any:
        """Whatever :meth:`compose` needs for a batch of one tenant's jobs, read once."""
        ...

    def compose(self, job: Job, prepared: Any) -> Compose | Skip:
        """The post for ``job``, or why there is none."""
        ...

    def sent(self, job: Job, composed: Compose, prepared: Any) -> None:
        """Called once ``job`` is delivered, before the next job of its source is composed."""
        ...

    async def completed(self, conn: AsyncConnection, sent: Sequence[Sent], now: datetime) -> None:
        """Write what else follows from jobs marked sent, in the transaction that marks them."""
        ...
