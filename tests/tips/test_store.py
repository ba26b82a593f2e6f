"""The store on SQLite and PostgreSQL: tenant isolation, migrations, and what stays off the fast path."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select, text

from bot.schedule.jobs import Job
from bot.schedule.posting import Channel
from bot.schedule.rules import WEEKDAYS, Schedule
from bot.store import migrations
from bot.store.engine import Store, Tenant, metadata
from bot.tips.store import TenantTips
from bot.tips.tables import posts, subscriptions
from tests.tips.conftest import Database, TipsBot, at, job_queue

ROOT = Path(__file__).resolve().parents[2]
A, B, A_ON_DISCORD = Tenant("slack", "T1"), Tenant("slack", "T2"), Tenant("discord", "T1")
SCHEDULE = Schedule(9, 0, "UTC", WEEKDAYS)
NOW = at("2025-03-03T06:00")


async def seed(store: Store) -> dict[Tenant, int]:
    """The same channel id subscribed in three tenants (two share a team id on different platforms)."""
    ids = {}
    for tenant in (A, B, A_ON_DISCORD):
        sub, _ = await TenantTips(store, tenant).subscribe(
            Channel("C1", "general"), SCHEDULE, None, user="U1", now=NOW, seed=1
        )
        ids[tenant] = sub.id
    return ids


async def test_a_tenant_cannot_read_or_change_another_tenants_rows(store: Store) -> None:
    ids = await seed(store)
    b = TenantTips(store, B)
    assert await b.by_id(ids[A]) is None and await b.by_id(ids[A_ON_DISCORD]) is None
    assert await b.rotation(ids[A]) is None and await b.history(ids[A]) == []
    assert [s.id for s in await b.active()] == [ids[B]]
    assert (await b.get("C1")).id == ids[B]  # type: ignore[union-attr]
    assert await b.unsubscribe("C1", now=NOW)
    assert await b.skip("C1", now=NOW) is None  # B's is gone; A's same-named channel is untouched
    for other in (A, A_ON_DISCORD):
        mine = await TenantTips(store, other).get("C1")
        assert mine is not None and mine.active and mine.id == ids[other]


async def test_every_tenant_statement_filters_on_the_tenant(store: Store) -> None:
    """Run every public TenantTips method for B and capture the SQL: each statement carries B's
    platform and team as parameters, so none can reach another tenant's rows."""
    ids = await seed(store)
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA", "SELECT VERSION", "SHOW")):
            seen.append((statement, parameters))

    b = TenantTips(store, B)
    calls = {
        "get": b.get("C1"),
        "by_id": b.by_id(ids[A]),
        "active": b.active(),
        "subscribe": b.subscribe(Channel("C9", "x"), SCHEDULE, None, user="U2", now=NOW, seed=2),
        "skip": b.skip("C1", now=NOW),
        "rotation": b.rotation(ids[A]),
        "history": b.history(ids[A]),
        "unsubscribe": b.unsubscribe("C1", now=NOW),
        "purge": b.purge(),
    }
    public = {n for n, f in inspect.getmembers(TenantTips, inspect.iscoroutinefunction) if not n.startswith("_")}
    assert set(calls) == public, "a new TenantTips method needs a line here"
    event.listen(store.engine.sync_engine, "before_cursor_execute", capture)
    try:
        for coroutine in calls.values():
            await coroutine
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", capture)
    assert len(seen) >= len(calls)
    for statement, parameters in seen:
        flat = repr(parameters)
        assert "'slack'" in flat and "'T2'" in flat, statement
        assert "tenant" in statement and "platform" in statement, statement


async def test_scheduler_writes_name_the_tenant_of_the_row(store: Store) -> None:
    ids = await seed(store)
    queue = job_queue(store, "me")
    now = at("2025-03-03T09:00")
    await queue.materialize(now, timedelta(hours=6), ["slack", "discord"])
    (claimed,) = await queue.claim(A, now, timedelta(seconds=60), 10, kind="tips")
    forged = Job(claimed.id, B, claimed.source, "C1", claimed.local_date, claimed.due_at, 1)
    await queue.settle(forged, "failed", now, "forged")  # the right id under the wrong tenant: no effect
    async with store.connect() as conn:
        state = await conn.scalar(select(posts.c.state).where(posts.c.id == claimed.id))
    assert state == "claimed" and ids


async def test_commands_only_see_their_own_workspace(tips_bot: TipsBot) -> None:
    await tips_bot.ask("/tips subscribe time:07:30", admin=True, tenant="T1")
    other = await tips_bot.ask("/tips list", tenant="T2")
    assert other.title == "No channel gets daily tips yet"
    gone = await tips_bot.ask("/tips unsubscribe", admin=True, tenant="T2")
    assert gone.title == "#C1 gets no daily tips"
    assert "07:30" in (await tips_bot.ask("/tips list", tenant="T1")).sections[0].text


async def test_the_migrations_build_exactly_the_declared_schema(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    # Every wing's tables and the scheduler's, whatever other tests happened to import.
    import bot.mentoring.tables
    import bot.schedule.tables
    import bot.store.deliveries
    import bot.tips.tables  # noqa: F401

    def diff(conn: Any) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"version_table": migrations.VERSION_TABLE})
        return list(compare_metadata(context, metadata))

    async with store.connect() as conn:
        assert await conn.run_sync(diff) == []
    assert await migrations.current(store) == migrations.HEAD


def test_head_names_the_newest_revision() -> None:
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(migrations.config()).get_current_head() == migrations.HEAD


async def test_no_upgrade_step_loses_rows(database: Database) -> None:
    """Walk the chain one revision at a time with data in it: no table ever has fewer rows."""
    from alembic.script import ScriptDirectory

    store = await Store.open(database.url, schema=database.schema, migrate=False, environ={})
    try:
        chain = [r.revision for r in reversed(list(ScriptDirectory.from_config(migrations.config()).walk_revisions()))]
        counts: dict[str, int] = {}
        for i, revision in enumerate(chain):
            await migrations.upgrade(store, revision)
            if i == 0:
                await seed(store)
                await job_queue(store, "me").materialize(
                    at("2025-03-03T09:00"), timedelta(hours=6), ["slack"], kind="tips"
                )
            async with store.connect() as conn:
                names = await conn.run_sync(lambda c: __import__("sqlalchemy").inspect(c).get_table_names())
                now = {n: await conn.scalar(text(f"SELECT count(*) FROM {n}")) for n in names}
            for name, count in counts.items():
                assert now.get(name, 0) >= count, f"{revision} lost rows of {name}"
            counts = now
        assert counts["tip_subscriptions"] == 3 and counts["tip_posts"] == 2
        assert await migrations.upgrade(store) == (migrations.HEAD, migrations.HEAD)  # again: a no-op
    finally:
        await store.close()


async def test_replicas_starting_together_migrate_once(database: Database) -> None:
    opened = await asyncio.gather(*(database.open() for _ in range(4)))
    try:
        assert {await migrations.current(s) for s in opened} == {migrations.HEAD}
        async with opened[0].connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(subscriptions)) == 0
    finally:
        await asyncio.gather(*(s.close() for s in opened))


def test_a_cold_ask_does_not_import_the_store(tmp_path: Path) -> None:
    code = "import sys; from adapters.cli import main; sys.argv = ['careerbot', 'ask', '/role ehr']; main()"
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"CAREERBOT_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert "Day to day" in out.stdout, out.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert not {m for m in imported if m.split(".")[0] in ("sqlalchemy", "alembic", "aiosqlite", "asyncpg")}
    assert not list(tmp_path.iterdir())  # no database was created either
