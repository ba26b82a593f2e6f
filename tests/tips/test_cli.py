"""The command line for daily tips, through real subprocesses: `careerbot db upgrade`, subscribing
from the console and `careerbot tips run --now ... --once` printing the post."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import make_url

from bot import messages
from bot.store import migrations
from tests.tips.conftest import Database

ROOT = Path(__file__).resolve().parents[2]
CAREERBOT = Path(sys.executable).with_name("careerbot")


def run(*args: str, data: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CAREERBOT_", "SLACK_", "DISCORD_"))}
    return subprocess.run(
        [str(CAREERBOT), *args],
        capture_output=True,
        text=True,
        cwd=data,
        env=clean | {"NO_COLOR": "1", "CAREERBOT_DATA_DIR": str(data)} | env,
        timeout=60,
    )


def test_db_upgrade_creates_then_keeps_the_schema(tmp_path: Path) -> None:
    first = run("db", "upgrade", data=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"sqlite+aiosqlite:///{tmp_path}/careerbot.db: empty -> {migrations.HEAD}"
    again = run("db", "upgrade", data=tmp_path)
    assert again.stdout.strip().endswith(f"already at {migrations.HEAD}")


def test_a_bad_database_url_names_the_variable(tmp_path: Path) -> None:
    out = run("db", "upgrade", data=tmp_path, CAREERBOT_DATABASE_URL="mysql://nope")
    assert out.returncode == 2 and "CAREERBOT_DATABASE_URL must be" in out.stderr and "Traceback" not in out.stderr


def test_subscribe_on_the_console_then_the_scheduler_prints_the_post(tmp_path: Path) -> None:
    sub = run("ask", "/tips subscribe time:09:00 timezone:Europe/Berlin days:daily", data=tmp_path)
    assert sub.returncode == 0 and "Daily tips on for #local" in sub.stdout, sub.stderr
    early = run("tips", "run", "--now", "2031-03-31T08:59+02:00", "--once", data=tmp_path)
    assert early.stdout == "" and "0 posted" in early.stderr
    due = run("tips", "run", "--now", "2031-03-31T09:00+02:00", "--once", data=tmp_path)
    assert due.returncode == 0, due.stderr
    assert "── #local (due 2031-03-31T07:00:00+00:00) ──" in due.stdout and "Daily tip" in due.stdout
    assert "1 posted" in due.stderr
    again = run("tips", "run", "--now", "2031-03-31T10:00+02:00", "--once", data=tmp_path)
    assert again.stdout == "" and "0 posted" in again.stderr  # never twice a day
    listed = run("ask", "/tips list", data=tmp_path)
    assert "#local: daily at 09:00 Europe/Berlin" in listed.stdout


# ------------------------------------------------------------------ issue 8.15: one clear line, never a traceback


def one_line_error(out: subprocess.CompletedProcess[str] | Result, code: int) -> str:
    """The command failed with ``code`` and said so on exactly one line of stderr, with no traceback."""
    stderr = out.stderr
    assert "Traceback" not in stderr and "Traceback" not in out.stdout, stderr
    assert out.returncode == code if isinstance(out, subprocess.CompletedProcess) else out.exit_code == code, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("careerbot: "), stderr
    return lines[0]


@pytest.mark.parametrize(
    ("now", "says"),
    [
        (
            "9999-12-31T23:59",
            "--now 9999-12-31T23:59 is out of range: give a moment from 1970-01-01 to before 9999-01-01",
        ),
        ("0001-01-01T00:00+14:00", "is out of range"),
        ("1969-12-31T23:59", "is out of range"),
        ("next tuesday", "--now 'next tuesday' is not an ISO 8601 time, e.g. 2025-03-31T09:00+02:00"),
    ],
)
def test_tips_run_refuses_a_moment_it_cannot_schedule(tmp_path: Path, now: str, says: str) -> None:
    sub = run("ask", "/tips subscribe days:daily", data=tmp_path)
    assert sub.returncode == 0, sub.stderr
    line = one_line_error(run("tips", "run", "--now", now, "--once", data=tmp_path), 2)
    assert says in line


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"", "is empty (0 bytes), not a careerbot database"), (b"\x89PNG\r\n\x1a\n" * 512, "is not a SQLite database")],
)
def test_a_file_that_is_not_a_database_is_one_line_and_left_untouched(
    tmp_path: Path, content: bytes, says: str
) -> None:
    path = tmp_path / "careerbot.db"
    path.write_bytes(content)
    for args in (("tips", "run", "--once"), ("tips", "run", "--now", "2031-03-31T09:00", "--once"), ("db", "upgrade")):
        line = one_line_error(run(*args, data=tmp_path), 1)
        assert f"careerbot: {path} {says}" in line and "restore it from a backup" in line, line
    chat = run("ask", "/tips list", data=tmp_path)
    assert messages.STORE_DAMAGED in " ".join(chat.stdout.split()) and str(path) not in chat.stdout
    assert str(path) in chat.stderr and "Traceback" not in chat.stderr  # the log line, for the operator
    assert path.read_bytes() == content and sorted(p.name for p in tmp_path.iterdir()) == ["careerbot.db"]


def test_an_unreachable_postgresql_is_one_line(tmp_path: Path) -> None:
    down = {"CAREERBOT_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/test"}  # nothing listens on port 1
    for args in (("tips", "run", "--once"), ("db", "upgrade")):
        line = one_line_error(run(*args, data=tmp_path, **down), 1)
        assert "cannot reach PostgreSQL at 127.0.0.1:1/test" in line and "CAREERBOT_DATABASE_URL" in line


async def migrate(database: Database) -> None:
    store = await database.open()
    await store.close()


def refuse(database: Database, table: str, events: str, errcode: str) -> None:
    """PostgreSQL: make writes to ``table`` fail with SQLSTATE ``errcode``, as the server would."""

    async def go() -> None:
        store = await database.open()
        try:
            async with store.begin() as conn:
                await conn.exec_driver_sql(
                    f"CREATE OR REPLACE FUNCTION cb_refuse_{errcode}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    f"BEGIN RAISE EXCEPTION 'refused for the test' USING ERRCODE = '{errcode}'; END $$"
                )
                await conn.exec_driver_sql(
                    f"CREATE TRIGGER cb_refuse BEFORE {events} ON {table} "
                    f"FOR EACH ROW EXECUTE FUNCTION cb_refuse_{errcode}()"
                )
        finally:
            await store.close()

    asyncio.run(go())


@pytest.mark.parametrize("trouble", ["read-only", "full"])
def test_a_store_that_cannot_take_writes_is_one_line(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trouble: str
) -> None:
    """`careerbot tips run --once` used to end in a raw traceback. Simulated (tests run as root, whom
    chmod does not stop): SQLite read-only is the file opened with ?mode=ro, as SQLite does by itself
    for a file the user cannot write; SQLite full is PRAGMA max_page_count at the file's size on a
    new store (SQLite's own SQLITE_FULL while creating the tables); PostgreSQL is a trigger raising
    the server's own error (25006 read-only transaction, 53100 disk full)."""
    from adapters.cli import main
    from bot.store import engine as store_module
    from bot.store import problems

    env = {"CAREERBOT_DATA_DIR": str(tmp_path), **database.env()}
    if database.kind == "sqlite":
        path = tmp_path / "careerbot.db"
        if trouble == "read-only":
            assert run("db", "upgrade", data=tmp_path).returncode == 0
            env["CAREERBOT_DATABASE_URL"] = f"sqlite:///file:{path}?mode=ro&uri=true"
        else:
            env.pop("CAREERBOT_DATABASE_URL")
            connect = store_module._sqlite_connect

            def no_room(dbapi_connection: Any, record: Any) -> None:
                connect(dbapi_connection, record)
                dbapi_connection.execute("PRAGMA max_page_count = 1")  # clamped to the size it has

            monkeypatch.setattr(store_module, "_sqlite_connect", no_room)
        where = str(path)
    else:
        asyncio.run(migrate(database))
        if trouble == "read-only":
            refuse(database, "careerbot_schema_version", "UPDATE", "25006")
        else:
            refuse(database, "tip_workers", "INSERT OR UPDATE", "53100")
        where = problems.where(make_url(database.url))
    result = CliRunner().invoke(main, ["tips", "run", "--now", "2031-03-31T09:00", "--once"], env=env)
    line = one_line_error(result, 1)
    assert where in line, line
    if trouble == "read-only":
        assert "read-only" in line and ("writable" in line or "primary" in line), line
    else:
        assert "disk is full" in line or "out of disk space" in line, line
