"""The durable store everything that persists goes through: SQLAlchemy 2 async Core.

SQLite (aiosqlite, WAL) under the data directory is the default; ``CAREERBOT_DATABASE_URL`` selects
PostgreSQL (asyncpg), which several replicas can share. The schema is created and changed only by
the Alembic migrations in :mod:`bot.migrations`, applied by :meth:`Store.open` and ``careerbot db
upgrade``.

Every table carries the tenant it belongs to (``platform`` + ``tenant``: a Slack team or a Discord
guild), and every query that reads or changes a tenant's rows filters on both (see
:mod:`bot.tips_store`). Times are whole seconds since the Unix epoch (UTC), identical on both
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
import errno
import logging
import os
import secrets
import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping
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

from bot import messages
from bot.errors import CareerbotError, ConfigError

log = logging.getLogger("careerbot.store")

SQLITE_FILE = "careerbot.db"
SQLITE_HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""
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


def sqlite_file(url: URL) -> Path | None:
    """The file a SQLite URL names (``sqlite:///path`` or ``sqlite:///file:path?mode=ro&uri=true``);
    None for an in-memory database."""
    database = url.database or ""
    if str(url.query.get("uri", "")).casefold() in ("true", "1"):
        if str(url.query.get("mode", "")) == "memory":
            return None
        database = database.removeprefix("file:")
        if database.startswith("//"):  # file://host/path: only the local host means anything here
            database = "/" + database[2:].partition("/")[2]
    if not database or database == ":memory:":
        return None
    return Path(database)


def where(url: URL) -> str:
    """The database, for an operator: the SQLite file, or PostgreSQL's host, port and database."""
    if url.get_backend_name() == "sqlite":
        return str(sqlite_file(url) or "the in-memory SQLite database")
    return f"PostgreSQL at {url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


# ---------------------------------------------------------------------------- what can go wrong


class StoreError(CareerbotError):
    """The store cannot be used as it is: read-only, full, damaged, or out of reach.

    ``detail`` is one line for the operator (the log, the command line) naming the file or server
    and the fix; ``reason`` is what people in chat are told: plain words, no path.
    """

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        """``readonly``, ``full``, ``damaged`` or ``unavailable``."""
        self.detail = detail

    @property
    def reason(self) -> str:
        return _REASONS.get(self.kind, messages.STORE_UNAVAILABLE)


_REASONS = {
    "readonly": messages.STORE_READONLY,
    "full": messages.STORE_FULL,
    "damaged": messages.STORE_DAMAGED,
    "unavailable": messages.STORE_UNAVAILABLE,
}
_MOVE_ASIDE = (
    "restore it from a backup, or move it aside (with any -wal and -shm files beside it) to start with no "
    "subscriptions; careerbot will not overwrite it"
)


def prepare_sqlite_file(url: URL) -> None:
    """Make sure the SQLite file ``url`` names is a database: create a new, empty one where there is
    none, refuse one that is not (:func:`check_sqlite_file`).

    A new file is made complete under a temporary name and then linked into place, so no process ever
    sees a half-made one: careerbot itself never leaves an empty file behind, and an empty file
    found later is a store whose contents were lost, refused rather than started over.
    """
    path = sqlite_file(url)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            "unavailable",
            f"cannot create the directory {path.parent} ({exc.strerror}): create it, or set CAREERBOT_DATA_DIR "
            "to a writable directory",
        ) from None
    creates = str(url.query.get("mode", "rwc")) == "rwc"  # a uri with mode=ro or rw never creates one
    if creates and not path.exists():
        try:
            _create_sqlite_file(path)
        except Exception as exc:
            problem = explain(exc, url)
            if problem is None:
                raise
            raise problem from exc
    check_sqlite_file(path)


def _create_sqlite_file(path: Path) -> None:
    new = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.new")
    try:
        connection = sqlite3.connect(new)
        try:
            connection.execute("PRAGMA journal_mode=WAL")  # writes the header: a valid, empty database
        finally:
            connection.close()
        try:
            os.link(new, path)  # fails, harmlessly, when another process made it first
        except FileExistsError:
            pass
        except OSError:  # no hard links on this file system: create exclusively, then fill at once
            with contextlib.suppress(FileExistsError), path.open("xb") as out:
                out.write(new.read_bytes())
    finally:
        for leftover in (new, new.with_name(new.name + "-wal"), new.with_name(new.name + "-shm")):
            leftover.unlink(missing_ok=True)


def check_sqlite_file(path: Path) -> None:
    """Refuse a file that is not a SQLite database before SQLite sees it: SQLite would take an empty
    (0-byte) file as a new database and silently start over in place of a store that was lost, and
    report another kind of file only at the first query. A missing file is fine: it is created."""
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise StoreError(
            "unavailable", f"{path} is a directory, not a database file: move it, or set CAREERBOT_DATA_DIR"
        ) from None
    except OSError as exc:
        raise StoreError(
            "unavailable", f"cannot read {path} ({exc.strerror}): make it readable by the user running careerbot"
        ) from None
    if not head:
        raise StoreError(
            "damaged",
            f"{path} is empty (0 bytes), not a careerbot database: its contents were lost or it was created by hand; "
            "restore it from a backup, or delete it to start with no subscriptions; careerbot will not overwrite it",
        )
    if head != SQLITE_HEADER:
        raise StoreError(
            "damaged", f"{path} is not a SQLite database (corrupt, or another kind of file): {_MOVE_ASIDE}"
        )


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what SQLAlchemy wrapped (``orig``) and its explicit causes, each once (not the
    implicit ``__context__``: a bug raised while handling a database error is still a bug)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        err = todo.pop(0)
        if err is None or id(err) in seen or len(seen) > 10:
            continue
        seen.add(id(err))
        yield err
        orig = getattr(err, "orig", None)
        todo += [orig if isinstance(orig, BaseException) else None, err.__cause__]


def explain(exc: BaseException, url: URL) -> StoreError | None:
    """A :class:`StoreError` saying what is wrong with the store and how to fix it, when ``exc`` is
    the store being read-only, full, damaged or out of reach; None for anything else (a bug)."""
    if isinstance(exc, StoreError):
        return exc
    place = where(url)
    is_sqlite = url.get_backend_name() == "sqlite"
    for err in _causes(exc):
        if isinstance(err, StoreError):
            return err
        if is_sqlite and isinstance(err, sqlite3.Error):
            found = _sqlite_problem(err, place)
            if found is not None:
                return found
        sqlstate = getattr(err, "sqlstate", None)
        if not is_sqlite and isinstance(sqlstate, str):
            found = _postgres_problem(sqlstate, _first_line(err), place)
            if found is not None:
                return found
        if isinstance(err, OSError):
            return _os_problem(err, place, is_sqlite)
    return None


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:200]


def _sqlite_problem(err: sqlite3.Error, path: str) -> StoreError | None:
    name = str(getattr(err, "sqlite_errorname", "") or "")
    text = str(err).casefold()

    def said(code: str, *words: str) -> bool:
        return name.startswith(code) or any(w in text for w in words)

    if said("SQLITE_READONLY", "readonly database") or said("SQLITE_PERM", "access permission denied"):
        return StoreError(
            "readonly",
            f"{path} is read-only: make the file and its directory writable by the user running careerbot, "
            "or set CAREERBOT_DATA_DIR to a writable directory",
        )
    if said("SQLITE_FULL", "database or disk is full"):
        return StoreError(
            "full",
            f"cannot write {path}: the disk is full (or the database reached its size limit); free space there, "
            "or set CAREERBOT_DATA_DIR to a directory on another disk; nothing was written",
        )
    if said("SQLITE_CORRUPT", "malformed") or said("SQLITE_NOTADB", "not a database"):
        return StoreError("damaged", f"{path} is damaged ({_first_line(err)}): {_MOVE_ASIDE}")
    if said("SQLITE_CANTOPEN", "unable to open database"):
        return StoreError(
            "unavailable",
            f"cannot open {path}: make sure its directory exists and is writable by the user running careerbot, "
            "or set CAREERBOT_DATA_DIR",
        )
    if said("SQLITE_IOERR", "disk i/o error"):
        return StoreError(
            "unavailable", f"cannot read or write {path} (disk I/O error): check the disk, then try again"
        )
    if said("SQLITE_BUSY", "database is locked") or said("SQLITE_LOCKED", "table is locked"):
        return StoreError(
            "unavailable",
            f"{path} stayed locked by another process for {BUSY_TIMEOUT_MS // 1000} s: stop whatever else holds it, "
            "or give each careerbot its own CAREERBOT_DATA_DIR",
        )
    return None


def _postgres_problem(sqlstate: str, said: str, place: str) -> StoreError | None:
    if sqlstate == "25006":
        return StoreError(
            "readonly",
            f"{place} is read-only (a standby, or default_transaction_read_only is on): point CAREERBOT_DATABASE_URL "
            "at the primary",
        )
    if sqlstate == "53100":
        return StoreError("full", f"{place} is out of disk space: free space on the database server, then try again")
    if sqlstate in ("XX001", "XX002"):
        return StoreError("damaged", f"{place} reports damaged data ({said}): restore the database from a backup")
    if sqlstate.startswith("28"):
        return StoreError(
            "unavailable", f"{place} refused the login: check the user and password in CAREERBOT_DATABASE_URL"
        )
    if sqlstate == "3D000":
        return StoreError("unavailable", f"{place}: no such database: create it, or fix CAREERBOT_DATABASE_URL")
    if sqlstate.startswith(("08", "57P")) or sqlstate == "53300":
        return StoreError(
            "unavailable", f"cannot reach {place} ({said}): check that it is running and CAREERBOT_DATABASE_URL"
        )
    return None


def _os_problem(err: OSError, place: str, is_sqlite: bool) -> StoreError:
    reason = err.strerror or _first_line(err)
    if is_sqlite and err.errno == errno.ENOSPC:
        return StoreError(
            "full", f"cannot write {place}: the disk is full; free space there, or set CAREERBOT_DATA_DIR"
        )
    if is_sqlite and err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StoreError(
            "readonly",
            f"cannot write {place} ({reason}): make it writable by the user running careerbot, "
            "or set CAREERBOT_DATA_DIR",
        )
    if is_sqlite:
        return StoreError("unavailable", f"cannot use {place} ({reason}): check the file and its directory")
    return StoreError(
        "unavailable", f"cannot reach {place} ({reason}): check that it is running and CAREERBOT_DATABASE_URL"
    )


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
                    from bot.migrations import upgrade

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
        from bot.migrations import VERSION_TABLE

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


async def run_sync_locked(store: Store, fn: Any) -> Any:
    """Run ``fn(sync_connection)`` in one transaction, serialised across processes (for migrations)."""
    async with store.begin() as conn:
        if not store.is_sqlite:
            await conn.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        return await conn.run_sync(fn)
