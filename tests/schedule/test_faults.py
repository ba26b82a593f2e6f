"""The fault harness itself (:mod:`tests.faults`): each fault does what it says, on a real echo server,
a real PostgreSQL and a real SQLite file, and heals."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from bot.schedule.trouble import transient
from bot.store.engine import Store
from tests.faults import Proxy, SqliteFaults, assert_alive, eventually
from tests.tips.conftest import new_schema


async def echo_server() -> asyncio.Server:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
        writer.close()

    return await asyncio.start_server(echo, "127.0.0.1", 0)


async def roundtrip(port: int, payload: bytes = b"ping") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        return await reader.readexactly(len(payload))
    finally:
        writer.close()


async def test_the_proxy_refuses_resets_stalls_delays_and_heals() -> None:
    server = await echo_server()
    async with Proxy(server.sockets[0].getsockname()[1]) as proxy:
        assert await roundtrip(proxy.port) == b"ping"

        await proxy.refuse()
        with pytest.raises(ConnectionRefusedError, match="Connect call failed"):
            await asyncio.open_connection("127.0.0.1", proxy.port)
        await proxy.heal()
        assert await roundtrip(proxy.port) == b"ping"

        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"a")
        assert await reader.readexactly(1) == b"a"
        await proxy.reset()
        with pytest.raises(
            (ConnectionResetError, asyncio.IncompleteReadError), match="Connection lost|reset by peer|bytes read"
        ):
            writer.write(b"b")
            await writer.drain()
            await reader.readexactly(1)
        writer.close()
        assert proxy.resets >= 1

        await proxy.stall()
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)  # accepted ...
        writer.write(b"held")
        await writer.drain()
        answer = asyncio.create_task(reader.readexactly(4))
        await eventually(lambda: proxy.held >= 1, what="the proxy holding the request")
        assert not answer.done()  # ... but the request is held at the proxy: no answer can come back
        await proxy.heal()
        assert await answer == b"held"  # and what was held arrives, in order
        writer.close()

        await proxy.delay(0.05)
        started = time.monotonic()
        assert await roundtrip(proxy.port) == b"ping"
        assert time.monotonic() - started >= 0.1  # a lower bound: both ways were late
        await proxy.heal()
    server.close()


async def test_a_postgres_restart_through_the_proxy_is_a_transient_error_then_heals(postgres_url: str) -> None:
    async with Proxy(make_url(postgres_url).port or 5432) as proxy:
        store = await Store.open(proxy.url(postgres_url), schema=new_schema(), environ={})
        try:
            async with store.connect() as conn:
                assert await conn.scalar(text("SELECT 1")) == 1
            await proxy.restart()
            # the pooled connection was reset; a new one is refused
            for says in ("connection was closed in the middle of operation", "Connect call failed"):
                with pytest.raises((DBAPIError, OSError), match=says) as failed:
                    async with store.connect() as conn:
                        await conn.scalar(text("SELECT 1"))
                assert transient(failed.value)
            await proxy.heal()
            async with store.connect() as conn:
                assert await conn.scalar(text("SELECT 1")) == 1
        finally:
            await store.close()


async def test_sqlite_locked_and_read_only_on_command(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'careerbot.db'}", environ={})
    try:
        async with SqliteFaults(store) as sqlite:
            async with store.begin() as conn:
                await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await sqlite.lock()
            with pytest.raises(OperationalError, match="database is locked") as locked:
                async with store.begin() as conn:
                    await conn.execute(text("INSERT INTO t VALUES (1)"))
            assert transient(locked.value)
            await sqlite.heal()
            await sqlite.read_only()
            with pytest.raises(OperationalError, match="readonly database") as readonly:
                async with store.begin() as conn:
                    await conn.execute(text("INSERT INTO t VALUES (2)"))
            assert transient(readonly.value)
            await sqlite.heal()
            async with store.begin() as conn:
                await conn.execute(text("INSERT INTO t VALUES (3)"))
                assert await conn.scalar(text("SELECT count(*) FROM t")) == 1  # only the healed write
    finally:
        await store.close()


async def test_assert_alive_names_a_task_that_ended() -> None:
    async def boom() -> None:
        raise RuntimeError("worker died")

    forever = asyncio.create_task(asyncio.Event().wait(), name="forever")
    died = asyncio.create_task(boom(), name="dead-worker")
    await asyncio.gather(died, return_exceptions=True)
    assert_alive(forever, named=["forever"])
    with pytest.raises(AssertionError, match="dead-worker ended: RuntimeError"):
        assert_alive(forever, died)
    with pytest.raises(AssertionError, match="no task named 'nobody'"):
        assert_alive(named=["nobody"])
    forever.cancel()
