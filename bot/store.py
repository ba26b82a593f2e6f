"""The durable store everything that persists goes through: SQLAlchemy 2 async Core.

SQLite (aiosqlite, WAL) under the data directory is the default; ``CAREERBOT_DATABASE_URL`` selects
PostgreSQL (asyncpg), which several replicas can share. The schema is created and changed only by
the Alembic migrations in :mod:`bot.migrations`, applied by :meth:`Store.open` and ``careerbot db
upgrade``.

Every table carries the tenant it belongs to (``platform`` + ``tenant``: a Slack team or a Discord
guild), and every query that reads or changes a tenant's rows filters on both (see
:mod:`bot.tips_store`). Times are whole seconds since the Unix epoch (UTC), identical on both
databases.

SQLite: one connection per process and ``BEGIN IMMEDIATE`` transactions (one writer at a time; a
second process waits on the busy timeout). PostgreSQL: a small pool; concurrent replicas are kept
apart by row locks (``FOR UPDATE SKIP LOCKED``) and conditional upserts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.errors import ConfigError

log = logging.getLogger("careerbot.store")

SQLITE_FILE = "careerbot.db"
BUSY_TIMEOUT_MS = 15_000
MIGRATION_LOCK = 7406329155
"""The PostgreSQL advisory lock held while creating the schema and migrating."""
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

subscriptions = Table(
    "tip_subscriptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("channel_name", String(100), nullable=False),
    Column("hour", SmallInteger, nullable=False),
    Column("minute", SmallInteger, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("days", SmallInteger, nullable=False),
    Column("topic", String(100), nullable=True),
    Column("seed", BigInteger, nullable=False),
    Column("cycle", Integer, nullable=False, server_default="0"),
    Column("active", SmallInteger, nullable=False, server_default="1"),
    Column("next_date", String(10), nullable=True),
    Column("next_due_at", BigInteger, nullable=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("platform", "tenant", "channel"),
    Index(None, "active", "next_due_at"),
)

#: One row per subscription and local date: the claim that makes a post happen at most once.
#: state: pending -> claimed -> sent | missed | failed; skipped (by an admin); cancelled (unsubscribed).
posts = Table(
    "tip_posts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("subscription_id", Id, ForeignKey("tip_subscriptions.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("local_date", String(10), nullable=False),
    Column("due_at", BigInteger, nullable=False),
    Column("state", String(10), nullable=False),
    Column("owner", String(64), nullable=True),
    Column("lease_until", BigInteger, nullable=True),
    Column("not_before", BigInteger, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("tip_id", String(100), nullable=True),
    Column("cycle", Integer, nullable=True),
    Column("message_id", String(100), nullable=True),
    Column("error", String(200), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("subscription_id", "local_date"),
    Index(None, "state", "due_at"),
    Index(None, "platform", "tenant", "state", "due_at"),  # a tenant's claimable posts, in order
    Index(None, "subscription_id", "cycle"),  # rotation history; no state, so claims do not rewrite it
)

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


@dataclass(frozen=True, slots=True)
class Tenant:
    """Whose data a row is: a platform and its workspace (Slack team id, Discord guild id, ``local``)."""

    platform: str
    team: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.team}"


# ---------------------------------------------------------------------------- settings


def data_dir(environ: Mapping[str, str] = os.environ) -> Path:
    base = environ.get("CAREERBOT_DATA_DIR") or os.path.join(Path.home(), ".local", "state", "careerbot")
    return Path(base)


def database_url(environ: Mapping[str, str] = os.environ) -> URL:
    """``CAREERBOT_DATABASE_URL`` (PostgreSQL) or the SQLite file in the data directory."""
    raw = environ.get("CAREERBOT_DATABASE_URL", "").strip()
    if not raw:
        return make_url(f"sqlite+aiosqlite:///{data_dir(environ) / SQLITE_FILE}")
    try:
        url = make_url(raw)
    except Exception:
        raise ConfigError("CAREERBOT_DATABASE_URL is not a database URL") from None
    if url.drivername in ("postgres", "postgresql", "postgresql+asyncpg"):
        from importlib.util import find_spec

        if find_spec("asyncpg") is None:
            raise ConfigError("CAREERBOT_DATABASE_URL is PostgreSQL, which needs: pip install 'careerbot[postgres]'")
        return url.set(drivername="postgresql+asyncpg")
    if url.drivername in ("sqlite", "sqlite+aiosqlite"):
        return url.set(drivername="sqlite+aiosqlite")
    raise ConfigError("CAREERBOT_DATABASE_URL must be a postgresql:// or sqlite:// URL")


def shown(url: URL) -> str:
    """A URL safe to print (no password)."""
    return url.render_as_string(hide_password=True)


# ---------------------------------------------------------------------------- the store


class Store:
    """An engine plus the settings every query needs. Open with :meth:`open`; close with :meth:`close`."""

    def __init__(self, engine: AsyncEngine, *, schema: str | None = None) -> None:
        self.engine = engine
        self.schema = schema
        self.queries = 0
        """Statements executed (an ``executemany`` counts once): the benchmark's DB cost."""
        event.listen(engine.sync_engine, "before_cursor_execute", self._count)

    def _count(self, *args: Any) -> None:
        self.queries += 1

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @classmethod
    async def open(
        cls,
        url: URL | str | None = None,
        *,
        schema: str | None = None,
        migrate: bool = True,
        environ: Mapping[str, str] = os.environ,
    ) -> Store:
        """Connect (creating the SQLite file or the PostgreSQL schema if needed) and migrate to head."""
        url = make_url(url) if url is not None else database_url(environ)
        schema = schema or environ.get("CAREERBOT_DATABASE_SCHEMA") or None
        store = cls(_engine(url, schema), schema=schema)
        try:
            if schema and not store.is_sqlite:
                async with store.engine.begin() as conn:  # replicas starting together: one creates it
                    await conn.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
                    await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{_identifier(schema)}"'))
            if migrate:
                from bot.migrations import upgrade

                await upgrade(store)
        except BaseException:
            await store.close()
            raise
        return store

    def begin(self) -> Any:
        """``async with store.begin() as conn``: one transaction (``BEGIN IMMEDIATE`` on SQLite)."""
        return self.engine.begin()

    def connect(self) -> Any:
        return self.engine.connect()

    async def close(self) -> None:
        await self.engine.dispose()


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ConfigError("CAREERBOT_DATABASE_SCHEMA must be letters, digits and underscores")
    return name


def _engine(url: URL, schema: str | None) -> AsyncEngine:
    if url.get_backend_name() == "sqlite":
        path = url.database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, pool_size=1, max_overflow=0, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    settings = {"search_path": _identifier(schema)} if schema else {}
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=False,
        connect_args={"server_settings": settings} if settings else {},
    )


def _sqlite_connect(dbapi_connection: Any, record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # Take the write lock up front: a read-then-write transaction can then never fail half-way
    # because another process wrote in between (SQLITE_BUSY_SNAPSHOT), it waits instead.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


async def run_sync_locked(store: Store, fn: Any) -> Any:
    """Run ``fn(sync_connection)`` in one transaction, serialised across processes (for migrations)."""
    async with store.begin() as conn:
        if not store.is_sqlite:
            await conn.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        return await conn.run_sync(fn)
