"""Issue 8.15: a store that cannot be used (read-only, full, damaged, out of reach) is one plain
sentence for people in chat (no path, nothing technical), one log line for the operator naming the
file or server and the fix, and changes nothing; a file that is not a SQLite database (empty,
corrupt, something else) is refused, never silently replaced.

What each test simulates, honestly:

- read-only SQLite: the file opened with ``?mode=ro`` (a URI). That is what SQLite does by itself
  when the file is not writable by the user; tests run as root, whom ``chmod`` does not stop.
- read-only PostgreSQL: real read-only transactions (``default_transaction_read_only=on``), as on a
  standby.
- full SQLite: ``PRAGMA max_page_count`` at the database's current size on the store's connection,
  so the next write that needs a page fails with SQLite's own SQLITE_FULL.
- full PostgreSQL: a trigger raising SQLSTATE 53100 (``disk_full``), the error a full disk gives.
- damaged SQLite: the bytes of the file replaced (empty, garbage, or garbage pages after a valid
  header).
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot import messages
from bot.context import Services, ServiceSettings
from bot.core import Core
from bot.knowledge.loader import default_knowledge_dir
from bot.reply import Reply
from bot.store.engine import Store
from bot.store.problems import StoreError, sqlite_file
from tests.tips.conftest import Database, TipsBot
from tests.tips.test_commands import snapshot

PRIVATE = ("/", "careerbot.db", "sqlite", "postgres", "Traceback", "Error")
"""What a chat reply about the store must not contain: paths, engines, exception names."""


def plain(reply: Reply) -> None:
    text = " ".join([reply.title, reply.summary, reply.footer, *(s.text for s in reply.sections)])
    assert reply.title != messages.INTERNAL_ERROR_TITLE, reply
    assert not [word for word in PRIVATE if word.casefold() in text.casefold()], text


async def other_store(database: Database, **server_settings: str) -> Store:
    """A second store on the same database, opened the way a hostile environment would leave it."""
    if database.kind == "sqlite":
        path = sqlite_file(make_url(database.url))
        return await Store.open(f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true", environ={})
    settings = {"search_path": database.schema or "public", **server_settings}
    engine = create_async_engine(database.url, connect_args={"server_settings": settings})
    return Store(engine, schema=database.schema)


def core_on(store: Store | None, bot: TipsBot | None = None, **services: object) -> Core:
    """A core like ``tips_bot``'s whose services use ``store`` (or open ``url``)."""
    made = Services(
        store=store,
        environ={},
        posters={"slack": bot.poster} if bot else {},
        clock=bot.clock if bot else None,
        rng=random.Random(5),
        settings=ServiceSettings(),
        **services,  # type: ignore[arg-type]
    )
    return Core(default_knowledge_dir(), services=made, rng=random.Random(7))


async def ask(core: Core, text: str) -> Reply:
    return await core.ask(text, admin=True, platform="slack", tenant="T1", channel="C1", user="U1")


@pytest.fixture
async def read_only(tips_bot: TipsBot, database: Database) -> AsyncIterator[Core]:
    store = await other_store(database, default_transaction_read_only="on")
    core = core_on(store, tips_bot)
    yield core
    await core.aclose()


async def test_a_read_only_store_is_one_plain_sentence_and_changes_nothing(
    tips_bot: TipsBot, read_only: Core, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await tips_bot.ask("/tips subscribe time:07:00", admin=True)
    before = await snapshot(tips_bot)
    for text in ("/tips subscribe #C2 10:00", "/tips subscribe time:08:00", "/tips unsubscribe", "/tips skip"):
        reply = await ask(read_only, text)
        assert reply.tone == "error" and reply.summary == messages.STORE_READONLY, (text, reply.summary)
        plain(reply)
    assert await snapshot(tips_bot) == before
    listed = await ask(read_only, "/tips list")  # reading still works
    assert listed.title == "Daily tips in this workspace"
    logged = [r.getMessage() for r in caplog.records if r.name == "careerbot.tips"]
    place = str(sqlite_file(make_url(database.url))) if database.kind == "sqlite" else "PostgreSQL at"
    assert logged and all(place in line and "read-only" in line for line in logged), logged


async def fill_up(bot: TipsBot, database: Database) -> None:
    """From now on, a write that needs more room fails as on a full disk (see the module docstring)."""
    async with bot.store.engine.connect() as conn:
        if database.kind == "sqlite":
            pages = (await conn.exec_driver_sql("PRAGMA page_count")).scalar_one()
            await conn.exec_driver_sql(f"PRAGMA max_page_count = {pages}")
            return
        await conn.exec_driver_sql(
            "CREATE FUNCTION cb_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$"
        )
        await conn.exec_driver_sql(
            "CREATE TRIGGER cb_disk_full BEFORE INSERT ON tip_subscriptions "
            "FOR EACH ROW EXECUTE FUNCTION cb_disk_full()"
        )
        await conn.commit()


async def test_a_full_store_is_one_plain_sentence_and_changes_nothing(
    tips_bot: TipsBot, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await tips_bot.ask("/tips subscribe time:07:00", admin=True)
    await fill_up(tips_bot, database)
    for i in range(500):  # SQLite: the subscriptions that still fit the pages it has, then the one that does not
        before = await snapshot(tips_bot)
        reply = await tips_bot.ask(f"/tips subscribe #c{i} 10:00", admin=True)
        if reply.tone == "error":
            break
        assert reply.title == f"Daily tips on for #c{i}", reply.summary
    else:
        pytest.fail("the store never filled up")
    assert reply.summary == messages.STORE_FULL
    plain(reply)
    assert await snapshot(tips_bot) == before
    logged = [r.getMessage() for r in caplog.records if r.name == "careerbot.tips"]
    assert logged and ("disk is full" in logged[-1] or "out of disk space" in logged[-1]), logged


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "is empty (0 bytes)"),
        (b"PK\x03\x04 a zip file, not a database" * 100, "is not a SQLite database"),
        (b"SQLite format", "is not a SQLite database"),  # cut inside the header
    ],
)
async def test_a_file_that_is_not_a_database_is_refused_never_replaced(
    tmp_path: Path, content: bytes, says: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "careerbot.db"
    path.write_bytes(content)
    with pytest.raises(StoreError, match=re.escape(says)) as refused:
        await Store.open(f"sqlite+aiosqlite:///{path}", environ={})
    assert refused.value.kind == "damaged" and str(path) in refused.value.detail and says in refused.value.detail
    assert "restore it from a backup" in refused.value.detail and "\n" not in refused.value.detail
    core = core_on(None, url=f"sqlite+aiosqlite:///{path}")
    try:
        for text in ("/tips list", "/tips subscribe"):
            reply = await ask(core, text)
            assert reply.tone == "error" and reply.summary == messages.STORE_DAMAGED
            plain(reply)
    finally:
        await core.aclose()
    assert path.read_bytes() == content  # untouched: not initialised, not "repaired"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["careerbot.db"]
    assert any(str(path) in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


async def test_damaged_pages_behind_a_valid_header_are_reported_as_damaged(tmp_path: Path) -> None:
    path = tmp_path / "careerbot.db"
    url = f"sqlite+aiosqlite:///{path}"
    core = core_on(None, url=url)
    assert (await ask(core, "/tips subscribe #C2 10:00")).tone == "answer"
    await core.aclose()  # the last connection checkpoints the WAL into the file
    data = bytearray(path.read_bytes())
    data[100:] = b"\xa5" * (len(data) - 100)  # keep the 100-byte header, scramble every page
    path.write_bytes(bytes(data))
    core = core_on(None, url=url)
    try:
        reply = await ask(core, "/tips list")
        assert reply.tone == "error" and reply.summary == messages.STORE_DAMAGED, reply.summary
        plain(reply)
    finally:
        await core.aclose()
    assert path.read_bytes() == bytes(data)


async def test_an_unreachable_postgresql_is_one_plain_sentence(caplog: pytest.LogCaptureFixture) -> None:
    core = core_on(None, url="postgresql+asyncpg://postgres@127.0.0.1:1/test")  # nothing listens on port 1
    try:
        reply = await ask(core, "/tips list")
    finally:
        await core.aclose()
    assert reply.tone == "error" and reply.summary == messages.STORE_UNAVAILABLE
    plain(reply)
    logged = [r.getMessage() for r in caplog.records if r.name == "careerbot.tips"]
    assert logged and "cannot reach PostgreSQL at 127.0.0.1:1/test" in logged[0], logged


async def test_processes_creating_a_new_store_together_never_see_it_empty(tmp_path: Path) -> None:
    """A new SQLite file appears complete (never as the empty file that is now refused)."""
    import asyncio

    url = f"sqlite+aiosqlite:///{tmp_path / 'new' / 'careerbot.db'}"
    opened = await asyncio.gather(*(Store.open(url, environ={}) for _ in range(8)))
    await asyncio.gather(*(s.close() for s in opened))
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["careerbot.db"]
