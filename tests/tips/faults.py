"""Database faults for the blip tests: a store's PostgreSQL connections killed, or its SQLite file
locked by another connection, on demand (:meth:`Fault.strike`) or again and again in the background
(:meth:`Fault.running`).

PostgreSQL: the store's connections get an ``application_name`` of their own, and only backends
with that name are terminated, so tests (and other developers' runs) sharing the database are never
touched. SQLite: another ``sqlite3`` connection holds ``BEGIN EXCLUSIVE`` for a moment; the store's
busy timeout is shortened so that a moment is long enough to fail its statements with ``database is
locked`` (with the usual 15 s timeout only a lock that long would).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import random
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import event

from bot.store.engine import Store

SQLITE_BUSY_MS = 20


class Fault:
    """Something that makes the store's next statements fail for a moment."""

    strikes: int = 0

    async def strike(self) -> None:
        """Make the store's next statement fail (PostgreSQL: its connections are gone; SQLite: the
        file is locked for ``hold`` seconds from now). Returns once the fault is in place."""
        raise NotImplementedError

    async def close(self) -> None: ...

    @contextlib.asynccontextmanager
    async def running(self, every: tuple[float, float] = (0.1, 0.5)) -> AsyncIterator[None]:
        """Strike again and again, a random ``every`` seconds apart, inside the block."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(random.uniform(*every))
                await self.strike()

        task = asyncio.create_task(loop(), name="fault")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


class PostgresKiller(Fault):
    """``pg_terminate_backend`` for the store's own connections (found by their application name)."""

    def __init__(self, store: Store, url: str) -> None:
        self.store = store
        self.url = url
        self.name = f"cb_blip_{random.getrandbits(40):010x}"
        self.killed = 0
        self.conn: asyncpg.Connection | None = None
        self.lock = asyncio.Lock()  # one connection: the background loop and a test strike take turns

    async def start(self) -> None:
        name = self.name

        def named(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
            cparams["server_settings"] = {**cparams.get("server_settings", {}), "application_name": name}

        event.listen(self.store.engine.sync_engine, "do_connect", named)
        await self.store.engine.dispose()  # connections made before are closed; new ones carry the name
        dsn = self.url.replace("postgresql+asyncpg://", "postgresql://")
        self.conn = await asyncpg.connect(dsn, server_settings={"application_name": f"{name}_killer"})

    async def strike(self) -> None:
        assert self.conn is not None
        async with self.lock:
            killed = await self.conn.fetchval(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1",
                self.name,
            )
        self.strikes += 1
        self.killed += int(killed or 0)

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()


class SqliteLocker(Fault):
    """Another connection to the store's SQLite file holding ``BEGIN EXCLUSIVE`` for ``hold`` seconds."""

    def __init__(self, store: Store, path: str, hold: tuple[float, float] = (0.05, 0.3)) -> None:
        self.store = store
        self.path = path
        self.hold = hold
        self.requests: queue.Queue[tuple[float, threading.Event] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._serve, name="sqlite-locker", daemon=True)

    async def start(self) -> None:
        def short_busy_timeout(dbapi_connection: Any, record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            cursor.close()

        event.listen(self.store.engine.sync_engine, "connect", short_busy_timeout)
        await self.store.engine.dispose()  # reconnect with the short timeout
        self.thread.start()

    def _serve(self) -> None:
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            while (request := self.requests.get()) is not None:
                seconds, held = request
                conn.execute("BEGIN EXCLUSIVE")
                held.set()
                time.sleep(seconds)
                conn.execute("COMMIT")
        finally:
            conn.close()

    async def strike(self) -> None:
        held = threading.Event()
        self.requests.put((random.uniform(*self.hold), held))
        assert await asyncio.to_thread(held.wait, 60), "the locker never got the lock"
        self.strikes += 1

    async def close(self) -> None:
        self.requests.put(None)
        await asyncio.to_thread(self.thread.join, 60)


async def fault_for(store: Store, url: str) -> Fault:
    """The fault that fits the store's database, started."""
    fault: PostgresKiller | SqliteLocker
    if store.is_sqlite:
        path = url.split("///", 1)[1]
        fault = SqliteLocker(store, path)
    else:
        fault = PostgresKiller(store, url)
    await fault.start()
    return fault
