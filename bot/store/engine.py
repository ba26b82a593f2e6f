"""The durable store everything that persists goes through: SQLAlchemy 2 async Core.

SQLite (aiosqlite, WAL) under the data directory is the default; ``CAREERBOT_DATABASE_URL`` selects
PostgreSQL (asyncpg), which several replicas can share. The schema is created and changed only by
the Alembic migrations in :mod:`bot.store.migrations`, applied by :meth:`Store.open` and ``careerbot db
upgrade``.

Every table carries the tenant it belongs to (``platform`` + ``tenant``: a Slack team or a Discord
guild), and every query that reads or changes a tenant's rows filters on both (see
:mod:`bot.tips.store`). Times are whole seconds since the Unix epoch (UTC), identical on both
databases.

A store that cannot be used is a :class:`StoreError` (read-only, full, damaged, unreachable) with
one line for the operator naming the file or server and the fix, and a plain sentence for chat
(:func:`explain`, :meth:`Store.failures`). A SQLite file that is not a database (empty, corrupt,
another kind of file) is refused at open, never initialised in its place; a new one is created
whole (:func:`prepare_sqlite_file`). Text columns have lengths (``String(n)``) that PostgreSQL
enforces and SQLite does not: commands check values against them first (:func:`too_long`).

SQLite: one connection per process and ``BEGIN IMMEDIATE`` transactions (one writer at a time; a
second process waits on the busy timeout). PostgreSQL: a small pool; concurrent replicas are kept
apart by row locks (``FOR UPDATE SKIP LOCKED``) and conditional upserts.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    MetaData,
    Table,
    event,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.errors import ConfigError
from bot.store.migrations import MIGRATION_LOCK, VERSION_TABLE, upgrade
from bot.store.problems import BUSY_TIMEOUT_MS, StoreError, explain, prepare_sqlite_file

log = logging.getLogger("careerbot.store")

SQLITE_FILE = "careerbot.db"
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)


@dataclass(frozen=True, slots=True)
class Tenant:
    """Whose data a row is: a platform and its workspace (Slack team id, Discord guild id, ``local``)."""

    platform: str
    team: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.team}"


def insert_for(store: Store, table: Any) -> Any:
    """An INSERT in the store's dialect, for ``on_conflict_do_nothing``/``on_conflict_do_update``."""
    return (sqlite.insert if store.is_sqlite else postgresql.insert)(table)


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


def too_long(table: Table, values: Mapping[str, str | None]) -> tuple[str, int, int] | None:
    """The first value longer than its column allows, as (column, length, limit); None when all fit.
    Checked before every write of user-supplied text, so both databases refuse the same values the
    same way (PostgreSQL enforces ``varchar(n)``; SQLite would keep anything)."""
    for name, value in values.items():
        limit = getattr(table.c[name].type, "length", None)
        if value is not None and limit is not None and len(value) > limit:
            return name, len(value), limit
    return None


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
        """Connect (creating the SQLite file or the PostgreSQL schema if needed) and migrate to head.

        A file that is not a SQLite database (empty, corrupt, something else) is refused, never
        replaced; a store that cannot be used raises :class:`StoreError` saying what to do.
        """
        url = make_url(url) if url is not None else database_url(environ)
        schema = schema or environ.get("CAREERBOT_DATABASE_SCHEMA") or None
        if url.get_backend_name() == "sqlite":
            prepare_sqlite_file(url)
        store = cls(_engine(url, schema), schema=schema)
        try:
            async with store.failures():
                if schema and not store.is_sqlite:
                    async with store.engine.begin() as conn:  # replicas starting together: one creates it
                        await conn.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
                        await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{_identifier(schema)}"'))
                if migrate:
                    await upgrade(store)
        except BaseException:
            await store.close()
            raise
        return store

    @property
    def url(self) -> URL:
        return self.engine.url

    def explain(self, exc: BaseException) -> StoreError | None:
        """:func:`explain` for this store."""
        return explain(exc, self.url)

    @contextlib.asynccontextmanager
    async def failures(self) -> AsyncIterator[None]:
        """``async with store.failures():`` turns the store being read-only, full, damaged or out of
        reach into a :class:`StoreError`; anything else passes through unchanged."""
        try:
            yield
        except Exception as exc:
            problem = self.explain(exc)
            if problem is None or problem is exc:
                raise
            raise problem from exc

    async def check_writable(self) -> None:
        """Raise :class:`StoreError` unless the store takes writes now: a write that is rolled back,
        for whoever is about to write unattended (the scheduler), so it fails at once and clearly."""
        async with self.failures(), self.engine.connect() as conn:
            transaction = await conn.begin()
            try:
                await conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = version_num"))
            finally:
                await transaction.rollback()

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
