"""Schema migrations (Alembic), shipped inside the package and applied programmatically.

:func:`upgrade` runs at start-up (``Store.open``) and from ``careerbot db upgrade``. It takes a
lock first (PostgreSQL: an advisory lock; SQLite: the write lock of ``BEGIN IMMEDIATE``), so
replicas starting together migrate once. When the database is already at :data:`HEAD` it returns
after one query without importing Alembic, which keeps a cold ``/tips`` command fast.

Rules for new migrations (``tests/tips/test_store.py`` checks them): an upgrade never loses rows
(add columns and tables; copy before you drop), and :data:`HEAD` names the newest revision.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATION_LOCK = 7406329155
"""The PostgreSQL advisory lock held while creating the schema and migrating."""
HEAD = "0005"
VERSION_TABLE = "careerbot_schema_version"
HERE = Path(__file__).resolve().parent


class Migratable(Protocol):
    """What migrating needs of a store (:class:`bot.store.engine.Store`, which imports this module)."""

    @property
    def is_sqlite(self) -> bool: ...

    def begin(self) -> Any: ...

    def connect(self) -> Any: ...


def config(connection: Any = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["connection"] = connection
    return cfg


async def current(store: Migratable) -> str | None:
    """The revision the database is at (None: empty)."""
    try:
        async with store.connect() as conn:
            found = await conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
            revision = found.scalar_one_or_none()
    except DBAPIError:
        return None
    return str(revision) if revision is not None else None


async def upgrade(store: Migratable, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate to ``revision``; returns (before, after)."""
    before = await current(store)
    if revision == "head" and before == HEAD:
        return before, before
    from alembic import command

    def run(sync_connection: Any) -> None:
        command.upgrade(config(sync_connection), revision)

    await run_sync_locked(store, run)
    return before, await current(store)


async def run_sync_locked(store: Migratable, fn: Any) -> Any:
    """Run ``fn(sync_connection)`` in one transaction, serialised across processes (for migrations)."""
    async with store.begin() as conn:
        if not store.is_sqlite:
            await conn.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        return await conn.run_sync(fn)
