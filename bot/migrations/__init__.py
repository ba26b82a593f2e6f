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
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

    from bot.store import Store

HEAD = "0002"
VERSION_TABLE = "careerbot_schema_version"
HERE = Path(__file__).resolve().parent


def config(connection: Any = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["connection"] = connection
    return cfg


async def current(store: Store) -> str | None:
    """The revision the database is at (None: empty)."""
    try:
        async with store.connect() as conn:
            found = await conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
            revision = found.scalar_one_or_none()
    except DBAPIError:
        return None
    return str(revision) if revision is not None else None


async def upgrade(store: Store, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate to ``revision``; returns (before, after)."""
    before = await current(store)
    if revision == "head" and before == HEAD:
        return before, before
    from alembic import command

    from bot.store import run_sync_locked

    def run(sync_connection: Any) -> None:
        command.upgrade(config(sync_connection), revision)

    await run_sync_locked(store, run)
    return before, await current(store)
