"""bot.store.problems: the failures the drivers really raise, turned into a StoreError with one line
for the operator (the file or server, and the fix) and one plain sentence for chat.

Each error is provoked for real where the machine allows it: a read-only SQLite file is opened with
``?mode=ro`` (tests run as root, whom ``chmod`` does not stop), a full disk is ``/dev/full`` (every
write fails with ENOSPC, SQLite reports SQLITE_FULL), a disk I/O error is a rollback journal that is
a directory, a lock is held by a second connection, PostgreSQL is asked for a database or role that
does not exist. Only the server faults a test cannot cause (damaged pages, a full disk or too many
clients on the server) are asyncpg's own exception classes, built with the server's message.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import asyncpg.exceptions  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot import messages
from bot.store.problems import (
    SQLITE_HEADER,
    StoreError,
    check_sqlite_file,
    explain,
    prepare_sqlite_file,
    sqlite_file,
    where,
)

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
PG_URL = make_url(PG)
REASONS = {
    "readonly": messages.STORE_READONLY,
    "full": messages.STORE_FULL,
    "damaged": messages.STORE_DAMAGED,
    "unavailable": messages.STORE_UNAVAILABLE,
}


def sqlite_url(path: Path | str) -> URL:
    return make_url(f"sqlite+aiosqlite:///{path}")


def raised(action: Callable[[], object]) -> BaseException:
    """The exception ``action`` raises (it must raise one)."""
    try:
        action()
    except Exception as exc:
        return exc
    pytest.fail(f"{action} raised nothing")


def explained(exc: BaseException, url: URL, kind: str, *says: str) -> StoreError:
    """``exc`` is a StoreError of ``kind``: its operator line names the place and says ``says``, on
    one line; its chat sentence is the plain one for ``kind``, with no path and no technical words."""
    problem = explain(exc, url)
    assert problem is not None, exc
    assert problem.kind == kind, problem.detail
    detail = problem.detail
    assert str(problem) == detail and "\n" not in detail
    assert where(url) in detail, detail
    for words in says:
        assert words in detail, detail
    assert problem.reason == REASONS[kind]
    for private in ("/", "sqlite", "postgres", "Error", "CAREERBOT_", where(url)):
        assert private.casefold() not in problem.reason.casefold()
    return problem


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A small, valid SQLite database file with a table ``t``."""
    path = tmp_path / "careerbot.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x TEXT)")
        conn.executemany("INSERT INTO t VALUES (?)", [("x" * 500,) for _ in range(50)])
    conn.close()
    return path


# ---------------------------------------------------------------------------- where the store is


@pytest.mark.parametrize(
    ("url", "file"),
    [
        ("sqlite:///data/careerbot.db", "data/careerbot.db"),
        ("sqlite:////var/lib/careerbot.db", "/var/lib/careerbot.db"),
        ("sqlite:///file:/var/lib/careerbot.db?mode=ro&uri=true", "/var/lib/careerbot.db"),
        ("sqlite:///file:careerbot.db?uri=1", "careerbot.db"),
        ("sqlite:///file://localhost/var/lib/careerbot.db?uri=true", "/var/lib/careerbot.db"),
        ("sqlite:///file:///var/lib/careerbot.db?uri=true", "/var/lib/careerbot.db"),
        ("sqlite:///file:careerbot?mode=memory&uri=true", None),
        ("sqlite:///file::memory:?uri=true", None),
        ("sqlite:///:memory:", None),
        ("sqlite://", None),
    ],
)
def test_the_file_a_sqlite_url_names(url: str, file: str | None) -> None:
    assert sqlite_file(make_url(url)) == (None if file is None else Path(file))


@pytest.mark.parametrize(
    ("url", "place"),
    [
        ("sqlite:///:memory:", "the in-memory SQLite database"),
        ("sqlite:////var/lib/careerbot.db", "/var/lib/careerbot.db"),
        ("postgresql+asyncpg://bot:s3cret@db.example:6543/careerbot", "PostgreSQL at db.example:6543/careerbot"),
        ("postgresql+asyncpg://", "PostgreSQL at localhost:5432/"),
    ],
)
def test_where_names_the_file_or_the_server_never_the_password(url: str, place: str) -> None:
    assert where(make_url(url)) == place
    assert "s3cret" not in where(make_url(url))


# ---------------------------------------------------------------------------- preparing a SQLite file


def test_an_in_memory_database_needs_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url in ("sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:", "sqlite:///file:x?mode=memory&uri=true"):
        prepare_sqlite_file(make_url(url))
    assert list(tmp_path.iterdir()) == []


def test_a_missing_file_opened_read_only_is_left_to_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "data" / "careerbot.db"
    prepare_sqlite_file(make_url(f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true"))
    assert not path.exists()  # mode=ro never creates one; the directory is made for when it is
    check_sqlite_file(path)  # missing is fine


def test_a_new_file_is_a_complete_empty_database(tmp_path: Path) -> None:
    path = tmp_path / "new" / "careerbot.db"
    prepare_sqlite_file(sqlite_url(path))
    assert path.read_bytes()[:16] == SQLITE_HEADER
    assert sorted(p.name for p in path.parent.iterdir()) == ["careerbot.db"]  # no temporary file left
    prepare_sqlite_file(sqlite_url(path))  # an existing database is accepted as it is


def test_a_directory_where_the_file_should_be_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "careerbot.db"
    path.mkdir()
    with pytest.raises(StoreError, match=re.escape(f"{path} is a directory, not a database file")) as refused:
        prepare_sqlite_file(sqlite_url(path))
    assert refused.value.kind == "unavailable" and "set CAREERBOT_DATA_DIR" in refused.value.detail
    assert refused.value.reason == messages.STORE_UNAVAILABLE
    assert path.is_dir() and list(path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "kind", "says"),
    [
        (b"", "damaged", "is empty (0 bytes), not a careerbot database"),
        (b"SQLite format", "damaged", "is not a SQLite database (corrupt, or another kind of file)"),
        (b"%PDF-1.7 a document, not a database" * 50, "damaged", "is not a SQLite database"),
    ],
)
def test_a_file_that_is_not_a_database_is_refused_untouched(
    tmp_path: Path, content: bytes, kind: str, says: str
) -> None:
    path = tmp_path / "careerbot.db"
    path.write_bytes(content)
    with pytest.raises(StoreError, match=re.escape(f"{path} {says}")) as refused:
        prepare_sqlite_file(sqlite_url(path))
    assert refused.value.kind == kind and refused.value.reason == messages.STORE_DAMAGED
    assert (
        "restore it from a backup" in refused.value.detail and "careerbot will not overwrite it" in refused.value.detail
    )
    assert path.read_bytes() == content and sorted(p.name for p in tmp_path.iterdir()) == ["careerbot.db"]


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux /sys, where no directory can be made")
def test_a_directory_that_cannot_be_created_is_explained() -> None:
    with pytest.raises(StoreError, match=re.escape("cannot create the directory /sys/careerbot (")) as refused:
        prepare_sqlite_file(sqlite_url("/sys/careerbot/careerbot.db"))
    assert refused.value.kind == "unavailable" and refused.value.reason == messages.STORE_UNAVAILABLE
    assert "create it, or set CAREERBOT_DATA_DIR to a writable directory" in refused.value.detail


def test_a_file_that_cannot_be_read_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where a directory should be")
    path = tmp_path / "data" / "careerbot.db"  # opening it fails with ENOTDIR
    with pytest.raises(StoreError, match=re.escape(f"cannot read {path} (Not a directory)")) as refused:
        check_sqlite_file(path)
    assert refused.value.kind == "unavailable"
    assert "make it readable by the user running careerbot" in refused.value.detail


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc, where no file can be created")
def test_a_directory_where_no_file_can_be_created_is_explained() -> None:
    url = sqlite_url("/proc/careerbot.db")  # /proc exists; SQLite cannot create a file in it
    with pytest.raises(StoreError, match=re.escape("cannot open /proc/careerbot.db: make sure its directory")) as no:
        prepare_sqlite_file(url)
    assert no.value.kind == "unavailable" and no.value.reason == messages.STORE_UNAVAILABLE
    assert isinstance(no.value.__cause__, sqlite3.OperationalError)
    assert no.value.__cause__.sqlite_errorname == "SQLITE_CANTOPEN"


def test_a_failure_that_is_not_the_store_is_raised_as_it_is(tmp_path: Path) -> None:
    """A NUL byte in the file name is a bad setting, not a store problem: the error is not dressed up."""
    url = URL.create("sqlite+aiosqlite", database=str(tmp_path / "care\x00erbot.db"))
    with pytest.raises(ValueError, match="embedded null"):
        prepare_sqlite_file(url)
    assert list(tmp_path.iterdir()) == []


def test_another_process_that_creates_the_file_first_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes create a new store together: the second link fails, and the first's file stays."""
    path = tmp_path / "careerbot.db"
    link = os.link

    def other_process_first(src: str | Path, dst: str | Path) -> None:
        with sqlite3.connect(dst) as other:
            other.execute("CREATE TABLE theirs (x)")
        other.close()
        link(src, dst)  # the real FileExistsError

    monkeypatch.setattr(os, "link", other_process_first)
    prepare_sqlite_file(sqlite_url(path))
    monkeypatch.undo()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("theirs",)]
    conn.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["careerbot.db"]


def no_hard_links(src: str | Path, dst: str | Path) -> None:
    """``os.link`` on a file system without hard links (FAT, some network shares)."""
    raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), str(src), None, str(dst))


def test_without_hard_links_the_new_file_is_written_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "careerbot.db"
    monkeypatch.setattr(os, "link", no_hard_links)
    prepare_sqlite_file(sqlite_url(path))
    monkeypatch.undo()
    assert path.read_bytes()[:16] == SQLITE_HEADER
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(("-wal", "-shm"))) == ["careerbot.db"]


def test_without_hard_links_another_process_can_still_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "careerbot.db"

    def no_link_and_the_other_process_first(src: str | Path, dst: str | Path) -> None:
        Path(dst).write_bytes(Path(src).read_bytes() + b"theirs")
        no_hard_links(src, dst)

    monkeypatch.setattr(os, "link", no_link_and_the_other_process_first)
    prepare_sqlite_file(sqlite_url(path))
    assert path.read_bytes().endswith(b"theirs")  # not overwritten
    assert sorted(p.name for p in tmp_path.iterdir()) == ["careerbot.db"]


# ---------------------------------------------------------------------------- SQLite's own errors


def write_read_only(db: Path) -> None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        conn.execute("INSERT INTO t VALUES ('y')")
    finally:
        conn.close()


def write_full_disk(_: Path) -> None:
    conn = sqlite3.connect("/dev/full")  # every write fails with ENOSPC, as on a full disk
    try:
        conn.execute("CREATE TABLE t (x)")
    finally:
        conn.close()


def read_malformed(db: Path) -> None:
    data = bytearray(db.read_bytes())
    data[100:] = b"\xa5" * (len(data) - 100)  # a valid header, every page scrambled
    db.write_bytes(bytes(data))
    conn = sqlite3.connect(db)
    try:
        conn.execute("SELECT * FROM t").fetchall()
    finally:
        conn.close()


def read_not_a_database(db: Path) -> None:
    db.write_bytes(b"PK\x03\x04 a zip file" * 300)
    conn = sqlite3.connect(db)
    try:
        conn.execute("SELECT * FROM sqlite_master").fetchall()
    finally:
        conn.close()


def open_in_missing_directory(db: Path) -> None:
    sqlite3.connect(db.parent / "missing" / "careerbot.db").close()


def write_with_journal_a_directory(db: Path) -> None:
    Path(f"{db}-journal").mkdir()  # SQLite cannot read or write its rollback journal: SQLITE_IOERR
    conn = sqlite3.connect(db)
    try:
        conn.execute("INSERT INTO t VALUES ('y')")
        conn.commit()
    finally:
        conn.close()


def write_while_another_holds_the_lock(db: Path) -> None:
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    waiter = sqlite3.connect(db, timeout=0)
    try:
        waiter.execute("INSERT INTO t VALUES ('y')")
    finally:
        waiter.close()
        holder.close()


def drop_a_table_being_read(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        reading = conn.execute("SELECT * FROM t")
        reading.fetchone()
        conn.execute("DROP TABLE t")
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("provoke", "code", "kind", "says"),
    [
        (write_read_only, "SQLITE_READONLY", "readonly", "is read-only: make the file and its directory writable"),
        (write_full_disk, "SQLITE_FULL", "full", "the disk is full (or the database reached its size limit)"),
        (read_malformed, "SQLITE_CORRUPT", "damaged", "is damaged (database disk image is malformed): restore it"),
        (read_not_a_database, "SQLITE_NOTADB", "damaged", "is damaged (file is not a database): restore it"),
        (open_in_missing_directory, "SQLITE_CANTOPEN", "unavailable", "make sure its directory exists"),
        (write_with_journal_a_directory, "SQLITE_IOERR", "unavailable", "(disk I/O error): check the disk"),
        (write_while_another_holds_the_lock, "SQLITE_BUSY", "unavailable", "stayed locked by another process for 15 s"),
        (drop_a_table_being_read, "SQLITE_LOCKED", "unavailable", "stayed locked by another process"),
    ],
)
def test_sqlite_errors_are_explained(
    db: Path, provoke: Callable[[Path], None], code: str, kind: str, says: str
) -> None:
    err = raised(lambda: provoke(db))
    assert isinstance(err, sqlite3.Error) and err.sqlite_errorname.startswith(code), err
    problem = explained(err, sqlite_url(db), kind, says)
    if kind == "damaged":
        assert "move it aside (with any -wal and -shm files beside it)" in problem.detail
        assert "careerbot will not overwrite it" in problem.detail


def test_a_sqlite_error_that_is_not_the_store_is_a_bug(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE u (x UNIQUE)")
    conn.execute("INSERT INTO u VALUES (1)")
    err = raised(lambda: conn.execute("INSERT INTO u VALUES (1)"))
    conn.close()
    assert isinstance(err, sqlite3.IntegrityError)
    assert explain(err, sqlite_url(db)) is None
    memory = sqlite3.connect(":memory:")
    syntax = raised(lambda: memory.execute("SELEC 1"))
    memory.close()
    assert isinstance(syntax, sqlite3.OperationalError)
    assert explain(syntax, sqlite_url(db)) is None


def test_a_sqlite_error_is_not_read_against_a_postgresql_url(db: Path) -> None:
    assert explain(raised(lambda: write_read_only(db)), PG_URL) is None


async def test_aiosqlite_through_sqlalchemy_is_explained(db: Path) -> None:
    """What the store really sees: SQLAlchemy's OperationalError wrapping aiosqlite's sqlite3 error."""
    url = make_url(f"sqlite+aiosqlite:///file:{db}?mode=ro&uri=true")
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            with pytest.raises(Exception, match="attempt to write a readonly database") as caught:
                await conn.exec_driver_sql("INSERT INTO t VALUES ('y')")
    finally:
        await engine.dispose()
    assert not isinstance(caught.value, sqlite3.Error)  # the wrapper, not the driver's error
    problem = explained(caught.value, url, "readonly", f"{db} is read-only")
    assert problem.detail.startswith(str(db))


# ---------------------------------------------------------------------------- OS errors on a SQLite file


def write_dev_full() -> None:
    with open("/dev/full", "wb") as full:
        full.write(b"x")


@pytest.mark.parametrize(
    ("provoke", "number", "kind", "says"),
    [
        (write_dev_full, errno.ENOSPC, "full", "the disk is full; free space there"),
        (
            lambda: Path("/sys/careerbot").mkdir(),
            errno.EPERM,
            "readonly",
            "(Operation not permitted): make it writable",
        ),
        (lambda: Path("/dev/null/careerbot.db").open("rb"), errno.ENOTDIR, "unavailable", "(Not a directory): check"),
    ],
)
def test_os_errors_on_a_sqlite_file_are_explained(
    db: Path, provoke: Callable[[], object], number: int, kind: str, says: str
) -> None:
    err = raised(provoke)
    assert isinstance(err, OSError) and err.errno == number, err
    explained(err, sqlite_url(db), kind, says)


def test_an_os_error_found_among_the_causes_is_explained(db: Path) -> None:
    try:
        try:
            write_dev_full()
        except OSError as exc:
            raise RuntimeError("could not save") from exc
    except RuntimeError as outer:
        explained(outer, sqlite_url(db), "full", "the disk is full")


# ---------------------------------------------------------------------------- a StoreError passes through


def test_a_store_error_is_returned_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "careerbot.db"
    path.write_bytes(b"")
    refused = raised(lambda: check_sqlite_file(path))
    assert isinstance(refused, StoreError)
    assert explain(refused, sqlite_url(path)) is refused
    try:
        try:
            check_sqlite_file(path)
        except StoreError as exc:
            raise RuntimeError("opening the store") from exc
    except RuntimeError as outer:
        found = explain(outer, sqlite_url(path))
    assert isinstance(found, StoreError) and found.kind == "damaged" and "is empty (0 bytes)" in found.detail
    assert StoreError("something new", "x").reason == messages.STORE_UNAVAILABLE


def test_a_bug_raised_while_handling_a_store_error_is_still_a_bug(db: Path) -> None:
    try:
        try:
            write_read_only(db)
        except sqlite3.Error:
            raise KeyError("a bug in the handler")  # noqa: B904 - the implicit context is the point
    except KeyError as bug:
        assert bug.__context__ is not None
        assert explain(bug, sqlite_url(db)) is None


# ---------------------------------------------------------------------------- PostgreSQL


async def connect_error(url: str) -> BaseException:
    engine = create_async_engine(url)
    try:
        async with engine.connect():
            pass
    except Exception as exc:
        return exc
    finally:
        await engine.dispose()
    pytest.fail(f"{url} connected")


@pytest.fixture
async def postgres() -> None:
    try:
        conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CAREERBOT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"CAREERBOT_REQUIRE_POSTGRES=1 but no PostgreSQL at 127.0.0.1:5432/test: {exc}")
        pytest.skip(f"no PostgreSQL at 127.0.0.1:5432/test: {exc}")
    await conn.close()


@pytest.mark.usefixtures("postgres")
async def test_a_missing_postgresql_database_is_explained_without_the_password() -> None:
    url = "postgresql+asyncpg://postgres:s3cret@127.0.0.1:5432/does_not_exist"
    err = await connect_error(url)
    problem = explained(
        err, make_url(url), "unavailable", "PostgreSQL at 127.0.0.1:5432/does_not_exist: no such database"
    )
    assert "create it, or fix CAREERBOT_DATABASE_URL" in problem.detail
    assert "s3cret" not in problem.detail and "s3cret" not in problem.reason


@pytest.mark.usefixtures("postgres")
async def test_a_refused_postgresql_login_is_explained() -> None:
    url = "postgresql+asyncpg://no_such_role:s3cret@127.0.0.1:5432/test"
    err = await connect_error(url)
    problem = explained(err, make_url(url), "unavailable", "refused the login: check the user and password")
    assert "s3cret" not in problem.detail


async def test_an_unreachable_postgresql_is_explained() -> None:
    url = "postgresql+asyncpg://postgres:s3cret@127.0.0.1:1/test"  # nothing listens on port 1
    err = await connect_error(url)
    assert isinstance(err, ConnectionRefusedError)
    problem = explained(err, make_url(url), "unavailable", "cannot reach PostgreSQL at 127.0.0.1:1/test (")
    assert "check that it is running and CAREERBOT_DATABASE_URL" in problem.detail
    assert "s3cret" not in problem.detail


@pytest.mark.usefixtures("postgres")
async def test_a_read_only_postgresql_is_explained() -> None:
    engine = create_async_engine(PG, connect_args={"server_settings": {"default_transaction_read_only": "on"}})
    try:
        async with engine.connect() as conn:
            with pytest.raises(Exception, match="read-only transaction") as caught:
                await conn.exec_driver_sql("CREATE TEMPORARY TABLE careerbot_probe (x int)")
    finally:
        await engine.dispose()
    explained(caught.value, PG_URL, "readonly", "is read-only (a standby, or default_transaction_read_only is on)")


@pytest.mark.usefixtures("postgres")
async def test_a_session_the_server_ends_mid_query_is_explained() -> None:
    """An administrator (or a shutdown) ends the session while it waits on a lock: the server says 57P01,
    asyncpg raises ConnectionDoesNotExistError (08003) with the server's message."""
    victim = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    try:
        await admin.execute("SELECT pg_advisory_lock(815)")
        waiting = asyncio.ensure_future(victim.fetchval("SELECT pg_advisory_lock(815)"))
        pid = victim.get_server_pid()
        query = "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'"
        while not await admin.fetchval(query, pid):
            await asyncio.sleep(0)  # until the victim waits on the lock, however long that takes
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        with pytest.raises(asyncpg.ConnectionDoesNotExistError, match="terminating connection due to admin") as caught:
            await waiting
    finally:
        await admin.close()
        victim.terminate()
    assert caught.value.sqlstate == "08003"
    explained(caught.value, PG_URL, "unavailable", "cannot reach PostgreSQL at 127.0.0.1:5432/test (connection was")


@pytest.mark.usefixtures("postgres")
async def test_a_pooled_connection_the_server_closed_is_explained() -> None:
    engine = create_async_engine(PG, pool_size=10, max_overflow=10, pool_pre_ping=False)  # the pre-ping would hide it
    try:
        async with engine.connect() as conn:
            pid = (await conn.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one()
        admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
            while await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
                await asyncio.sleep(0)  # until the session is gone, however long that takes
        finally:
            await admin.close()
        with pytest.raises(Exception, match="connection is closed") as caught:
            async with engine.connect() as conn:  # the pooled connection, now closed by the server
                await conn.exec_driver_sql("SELECT 1")
    finally:
        await engine.dispose()
    explained(caught.value, PG_URL, "unavailable", "cannot reach PostgreSQL at 127.0.0.1:5432/test")


@pytest.mark.usefixtures("postgres")
async def test_a_postgresql_error_that_is_not_the_store_is_a_bug() -> None:
    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    try:
        await conn.execute("CREATE TEMPORARY TABLE careerbot_probe (x int PRIMARY KEY)")
        await conn.execute("INSERT INTO careerbot_probe VALUES (1)")
        with pytest.raises(asyncpg.UniqueViolationError, match="duplicate key") as caught:
            await conn.execute("INSERT INTO careerbot_probe VALUES (1)")
    finally:
        await conn.close()
    assert explain(caught.value, PG_URL) is None
    assert explain(caught.value, sqlite_url("/var/lib/careerbot.db")) is None  # no SQLSTATE for SQLite


def server_error(cls: type[asyncpg.PostgresError], message: str) -> asyncpg.PostgresError:
    """asyncpg's exception for a server error, as its protocol builds it from the server's fields."""
    return cls.new({"C": cls.sqlstate, "M": message, "S": "ERROR"})


@pytest.mark.parametrize(
    ("err", "kind", "says"),
    [
        (
            server_error(asyncpg.exceptions.DiskFullError, 'could not extend file "base/16384/16385"'),
            "full",
            "is out of disk space: free space on the database server",
        ),
        (
            server_error(asyncpg.exceptions.DataCorruptedError, 'invalid page in block 7 of relation "tips"'),
            "damaged",
            'reports damaged data (invalid page in block 7 of relation "tips"): restore the database from a backup',
        ),
        (
            server_error(asyncpg.exceptions.IndexCorruptedError, 'index "tips_pkey" contains unexpected zero page'),
            "damaged",
            "reports damaged data (index",
        ),
        (
            server_error(asyncpg.exceptions.TooManyConnectionsError, "sorry, too many clients already"),
            "unavailable",
            "(sorry, too many clients already): check that it is running",
        ),
        (
            server_error(asyncpg.exceptions.CannotConnectNowError, "the database system is starting up"),
            "unavailable",
            "(the database system is starting up)",
        ),
    ],
    ids=["53100", "XX001", "XX002", "53300", "57P03"],
)
def test_postgresql_server_faults_are_explained(err: asyncpg.PostgresError, kind: str, says: str) -> None:
    explained(err, PG_URL, kind, "PostgreSQL at 127.0.0.1:5432/test", says)


def test_only_the_first_line_of_a_server_message_is_kept() -> None:
    err = server_error(asyncpg.exceptions.DataCorruptedError, "invalid page\nDETAIL: block 7\n" + "x" * 500)
    problem = explained(err, PG_URL, "damaged", "reports damaged data (invalid page)")
    assert "block 7" not in problem.detail


def test_a_cause_chain_with_a_cycle_ends(db: Path) -> None:
    first = RuntimeError("first")
    second = RuntimeError("second")
    first.__cause__, second.__cause__ = second, first
    assert explain(first, sqlite_url(db)) is None
