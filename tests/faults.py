"""The fault harness: what the suite uses to make the outside world fail on command, and to check that
the long-running workers lived through it.

One interface for every fault: a fault object is started with ``await fault.start()`` (or ``async with``),
switched on by a named method, switched off again with :meth:`heal`, and closed with ``await
fault.close()``. Every switch returns once the fault is in place, so a test never sleeps to wait for it.

**Network** (:class:`Proxy`): a loopback TCP proxy in front of any ``127.0.0.1`` server (PostgreSQL, the
fake Slack, the fake Discord). Point the client at :attr:`Proxy.port` (:meth:`Proxy.url` rewrites a
database or HTTP URL), then:

- ``refuse()``: new connections are refused (the listening socket is closed: ``ECONNREFUSED``);
  open ones carry on.
- ``reset()``: every open connection is cut with a TCP reset (``ECONNRESET`` on both sides).
- ``restart()``: ``reset()`` then ``refuse()``: a database server restarting, until :meth:`heal`.
- ``stall()``: connections are accepted (new ones too) but no byte is forwarded either way until
  :meth:`heal`; what was held is then forwarded in order.
- ``delay(seconds)``: each chunk is forwarded ``seconds`` late, in order.
- ``heal()``: back to forwarding everything at once (listening again after ``refuse``).

It counts what it did (:attr:`Proxy.accepted`, :attr:`Proxy.resets`, :attr:`Proxy.held`) so a test can
check the fault really struck.

**SQLite** (:class:`SqliteFaults`): on a :class:`~bot.store.engine.Store`'s SQLite file,

- ``lock()``: another connection holds ``BEGIN EXCLUSIVE`` until :meth:`heal`; the store's busy
  timeout is shortened (:data:`SQLITE_BUSY_MS`) so its statements fail with ``database is locked``
  instead of waiting 15 s.
- ``read_only()``: the store's connections refuse every write (``PRAGMA query_only``: ``attempt to
  write a readonly database``) until :meth:`heal`. File modes would not do: the tests may run as root.

**Liveness**: :func:`assert_alive` says whether long-running tasks (a scheduler's ``run()``, its
``scheduler-heartbeat``) are still running after a fault, with the error of any that ended;
:func:`eventually` waits, by bounded polling, for a condition (no fixed sleeps; no upper bound on
timing is asserted: the bound is only there so a broken recovery fails instead of hanging).

    async with Proxy(5432) as pg:
        store = await Store.open(pg.url(PG_URL), schema=...)
        task = asyncio.create_task(scheduler.run())
        await pg.restart()
        await eventually(lambda: scheduler.report.db_errors > 0)
        await pg.heal()
        await eventually(lambda: poster.sent)
        assert_alive(task, named=["scheduler-heartbeat"])
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sqlite3
import struct
import threading
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url

from bot import messages
from bot.reply import Reply
from bot.store.engine import Store

SQLITE_BUSY_MS = 20
"""The store's SQLite busy timeout while :class:`SqliteFaults` runs: a held lock fails its statements
at once instead of after 15 s."""

POLL = 0.005


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0, what: str = "the condition"
) -> None:
    """Wait until ``condition()`` (sync or async) is true, polling; fail after ``timeout`` seconds
    (a bound against hanging, not a timing assert)."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                result = condition()
                if isinstance(result, Awaitable):
                    result = await result
                if result:
                    return
                await asyncio.sleep(POLL)
    except TimeoutError:
        raise AssertionError(f"{what} did not become true within {timeout} s") from None


def deny_listing(monkeypatch: Any, directory: Path) -> None:
    """``chmod 000`` on ``directory``, simulated (the tests may run as root, who can list anything):
    ``os.scandir`` of it raises ``PermissionError`` until ``monkeypatch`` is undone."""
    real_scandir = os.scandir

    def denied(path: Any = ".") -> Any:
        if Path(path) == directory:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", denied)


def assert_alive(*tasks: asyncio.Task[Any], named: Iterable[str] = ()) -> None:
    """Each of ``tasks``, and every task of this loop whose name is in ``named`` (at least one each),
    is still running. A task that ended is reported with its exception."""
    found = list(tasks)
    running = {t.get_name(): t for t in asyncio.all_tasks()}
    for name in named:
        assert name in running, f"no task named {name!r} is running (it ended or never started)"
        found.append(running[name])
    for task in found:
        if task.done():
            error = None if task.cancelled() else task.exception()
            raise AssertionError(f"{task.get_name()} ended: {error!r}" if error else f"{task.get_name()} ended")


def assert_internal_error(reply: Reply, records: Iterable[logging.LogRecord], bug: str) -> None:
    """A handler that crashed with ``bug``: the user got the internal-error reply without the bug's text,
    the log has it with its traceback, and the crash was not taken for the store failing."""
    records = list(records)
    assert reply.title == messages.INTERNAL_ERROR_TITLE
    assert bug not in " ".join(reply.strings())
    assert any(r.exc_info and bug in str(r.exc_info[1]) for r in records)
    assert not [r for r in records if r.getMessage().startswith("the store failed")]


# ---------------------------------------------------------------------------- the network


class _Link:
    """One proxied connection: two sockets, two pumps."""

    def __init__(self, client: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        self.client = client
        self.server: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.tasks: list[asyncio.Task[None]] = []

    def writers(self) -> list[asyncio.StreamWriter]:
        return [self.client[1]] + ([self.server[1]] if self.server else [])


class Proxy:
    """A TCP proxy on 127.0.0.1 in front of ``127.0.0.1:target`` that fails on command (see the module)."""

    def __init__(self, target: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.target = target
        self.port = 0
        self.accepted = 0
        self.resets = 0
        self.held = 0
        """Chunks that arrived while stalled (forwarded on :meth:`heal`)."""
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._delay = 0.0

    async def __aenter__(self) -> Proxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        await self._listen()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, url: str) -> str:
        """``url`` (a database URL, or ``http://127.0.0.1:PORT/...``) pointed at this proxy."""
        if url.startswith(("http://", "https://")):
            scheme, _, rest = url.partition("://")
            _, slash, path = rest.partition("/")
            return f"{scheme}://127.0.0.1:{self.port}{slash}{path}"
        return make_url(url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    # ------------------------------------------------------------------ faults

    async def refuse(self) -> None:
        """New connections are refused until :meth:`heal`; open ones carry on."""
        if self._server is not None:
            self._server.close()  # the listening socket only (wait_closed would wait for open ones)
            self._server = None
            await asyncio.sleep(0)

    async def reset(self) -> None:
        """Cut every open connection with a TCP reset."""
        for link in list(self._links):
            self._abort(link)
        await asyncio.sleep(0)

    async def restart(self) -> None:
        """The server restarting: open connections reset, new ones refused until :meth:`heal`."""
        await self.refuse()
        await self.reset()

    async def stall(self) -> None:
        """Accept, but forward nothing either way until :meth:`heal`."""
        self._flowing.clear()

    async def delay(self, seconds: float) -> None:
        """Forward each chunk ``seconds`` late."""
        self._delay = seconds

    async def heal(self) -> None:
        self._delay = 0.0
        self._flowing.set()
        if self._server is None:
            await self._listen()

    async def close(self) -> None:
        await self.refuse()
        for link in list(self._links):
            self._abort(link)
            for task in link.tasks:
                task.cancel()
            await asyncio.gather(*link.tasks, return_exceptions=True)

    # ------------------------------------------------------------------ plumbing

    def _abort(self, link: _Link) -> None:
        self.resets += 1
        self._links.discard(link)
        for writer in link.writers():
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):  # linger 0: close sends RST, not FIN
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        for task in link.tasks:
            task.cancel()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        link = _Link((reader, writer))
        self._links.add(link)
        try:
            link.server = await asyncio.open_connection(self.host, self.target)
        except OSError:
            self._abort(link)
            return
        link.tasks = [
            asyncio.create_task(self._pump(reader, link.server[1], link)),
            asyncio.create_task(self._pump(link.server[0], writer, link)),
        ]
        await asyncio.gather(*link.tasks, return_exceptions=True)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, link: _Link) -> None:
        try:
            while data := await source.read(65536):
                if not self._flowing.is_set():
                    self.held += 1
                    await self._flowing.wait()
                if self._delay:
                    await asyncio.sleep(self._delay)
                if link not in self._links:
                    return
                sink.write(data)
                await sink.drain()
            if sink.can_write_eof():
                sink.write_eof()
        except (OSError, asyncio.IncompleteReadError):
            if link in self._links:
                self._abort(link)


# ---------------------------------------------------------------------------- SQLite


class SqliteFaults:
    """``lock()`` and ``read_only()`` on the SQLite file of ``store`` (see the module)."""

    def __init__(self, store: Store) -> None:
        assert store.is_sqlite, "SqliteFaults needs a SQLite store"
        database = store.url.database
        assert database, "an in-memory database has no file to lock"
        self.store = store
        self.path = database
        self.readonly = False
        self._release: threading.Event | None = None
        self._thread: threading.Thread | None = None

    async def __aenter__(self) -> SqliteFaults:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        def on_connect(dbapi_connection: Any, record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            cursor.execute(f"PRAGMA query_only={int(self.readonly)}")
            cursor.close()

        event.listen(self.store.engine.sync_engine, "connect", on_connect)
        await self.store.engine.dispose()  # reconnect with the hook

    async def lock(self) -> None:
        """Another connection holds ``BEGIN EXCLUSIVE`` until :meth:`heal`."""
        if self._thread is not None:
            return
        held, release = threading.Event(), threading.Event()
        failed: list[BaseException] = []

        def hold() -> None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            try:
                conn.execute("BEGIN EXCLUSIVE")
            except BaseException as exc:
                failed.append(exc)
                held.set()
                conn.close()
                return
            held.set()
            release.wait()
            conn.execute("COMMIT")
            conn.close()

        self._release = release
        self._thread = threading.Thread(target=hold, name="sqlite-lock", daemon=True)
        self._thread.start()
        await asyncio.to_thread(held.wait, 30)
        if failed:
            self._thread, self._release = None, None
            raise AssertionError(f"could not lock {self.path}: {failed[0]}")

    async def read_only(self) -> None:
        """The store's connections refuse writes until :meth:`heal`."""
        self.readonly = True
        await self.store.engine.dispose()

    async def heal(self) -> None:
        if self._thread is not None and self._release is not None:
            self._release.set()
            await asyncio.to_thread(self._thread.join, 30)
            self._thread, self._release = None, None
        if self.readonly:
            self.readonly = False
            await self.store.engine.dispose()

    async def close(self) -> None:
        await self.heal()
