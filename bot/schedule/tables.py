"""The scheduler's own tables, on the store's shared metadata: which replica holds each tenant and
which scheduler processes are alive. Process bookkeeping, whatever the job kinds."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, Table

from bot.store.engine import metadata

#: Which replica is posting for a tenant right now, so that one process paces each workspace.
tenant_leases = Table(
    "tip_tenant_leases",
    metadata,
    Column("platform", String(16), primary_key=True),
    Column("tenant", String(64), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("lease_until", BigInteger, nullable=False),
)

#: The scheduler processes alive now (a heartbeat each), so each takes a fair share of the tenants.
#: Process bookkeeping, not tenant data.
workers = Table(
    "tip_workers",
    metadata,
    Column("owner", String(64), primary_key=True),
    Column("seen_at", BigInteger, nullable=False),
)
