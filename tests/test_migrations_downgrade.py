"""Downgrading the schema, on SQLite and PostgreSQL: careerbot's migrations are forward-only, so what
a downgrade may do is narrow and is checked here for real with Alembic on both databases.

- ``0005`` (the deliveries seen by any replica) holds only what a restart may forget: its downgrade
  drops the table and its index, the rest of the schema and its rows stay, and upgrading again
  rebuilds it.
- ``0001`` to ``0004`` hold the tips and mentoring rows: each downgrade refuses, and since a
  migration runs in one transaction, a downgrade that reaches one of them undoes nothing at all,
  not even the steps before it that could run.
- Alembic's own command line is refused: migrations run on the connection careerbot hands them.
- A schema name that is not an identifier is refused before anything connects.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, select, text

from bot.errors import ConfigError
from bot.schedule.posting import Channel
from bot.schedule.rules import DAILY, Schedule
from bot.store.engine import Store, Tenant
from bot.store.migrations import HEAD, VERSION_TABLE, config, current, run_sync_locked, upgrade
from bot.tips.store import TenantTips
from bot.tips.tables import subscriptions
from tests.tips.conftest import at, new_schema, postgres_url

__all__ = ["postgres_url"]  # the session fixture the PostgreSQL variants use

REFUSED = "careerbot migrations are forward-only: a downgrade would lose rows"
PREVIOUS = {"0001": "base", "0002": "0001", "0003": "0002", "0004": "0003", "0005": "0004"}
#: What each revision adds (tables), so a refused downgrade can be shown to have removed nothing.
ADDS = {
    "0001": {"tip_subscriptions", "tip_posts", "tip_tenant_leases"},
    "0002": {"tip_workers"},
    "0003": {
        "mentoring_programs",
        "mentoring_members",
        "mentoring_blocks",
        "mentoring_groups",
        "mentoring_group_members",
        "mentoring_intros",
        "mentoring_checkins",
    },
    "0004": set(),  # columns only: mentoring_members.absent and tz_source, mentoring_programs.pool_checked
    "0005": {"seen_deliveries"},
}


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """An empty database of each kind: its URL, and the PostgreSQL schema to make in it."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'careerbot.db'}", None
    return request.getfixturevalue("postgres_url"), new_schema()


@pytest.fixture
async def empty(where: tuple[str, str | None]) -> AsyncIterator[Store]:
    """A store on that database, nothing migrated."""
    url, schema = where
    store = await Store.open(url, schema=schema, migrate=False, environ={})
    try:
        yield store
    finally:
        await store.close()


async def downgrade(store: Store, revision: str) -> None:
    """What a ``careerbot db downgrade`` would do: Alembic on the store's connection, under the lock."""

    def run(sync_connection: Any) -> None:
        command.downgrade(config(sync_connection), revision)

    await run_sync_locked(store, run)


async def tables(store: Store) -> set[str]:
    async with store.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names(schema=store.schema)))


async def indexes(store: Store, table: str) -> set[str]:
    async with store.connect() as conn:
        found = await conn.run_sync(lambda c: inspect(c).get_indexes(table, schema=store.schema))
    return {str(index["name"]) for index in found}


def up_to(revision: str) -> set[str]:
    return {VERSION_TABLE}.union(*(added for rev, added in ADDS.items() if rev <= revision))


async def subscribed(store: Store) -> list[str]:
    async with store.connect() as conn:
        return list((await conn.execute(select(subscriptions.c.channel))).scalars())


async def test_downgrading_0005_drops_only_the_seen_deliveries_and_upgrading_rebuilds_them(empty: Store) -> None:
    assert await upgrade(empty) == (None, HEAD)
    assert await tables(empty) == up_to(HEAD)
    assert "ix_seen_deliveries_seen_at" in await indexes(empty, "seen_deliveries")
    await TenantTips(empty, Tenant("slack", "T1")).subscribe(
        Channel("C1", "general"), Schedule(9, 0, "UTC", DAILY), None, user="U1", now=at("2025-03-03"), seed=1
    )

    await downgrade(empty, "0004")

    assert await current(empty) == "0004"
    assert await tables(empty) == up_to("0004")  # the table and its index are gone, nothing else
    assert await subscribed(empty) == ["C1"]  # the rows of the tables that stay are kept

    assert await upgrade(empty) == ("0004", HEAD)
    assert await tables(empty) == up_to(HEAD)
    assert "ix_seen_deliveries_seen_at" in await indexes(empty, "seen_deliveries")
    async with empty.begin() as conn:
        await conn.execute(text("INSERT INTO seen_deliveries (platform, key, seen_at) VALUES ('slack', 'Ev1', 1)"))
    async with empty.connect() as conn:
        assert (await conn.execute(text("SELECT key FROM seen_deliveries"))).scalars().all() == ["Ev1"]
    assert await subscribed(empty) == ["C1"]


@pytest.mark.parametrize("revision", ["0001", "0002", "0003", "0004"])
async def test_each_forward_only_migration_refuses_to_downgrade_and_nothing_changes(
    empty: Store, revision: str
) -> None:
    await upgrade(empty, revision)
    assert await current(empty) == revision
    before = await tables(empty)
    assert before == up_to(revision)

    with pytest.raises(NotImplementedError, match=f"^{re.escape(REFUSED)}$"):
        await downgrade(empty, PREVIOUS[revision])

    assert await current(empty) == revision
    assert await tables(empty) == before


async def test_a_downgrade_past_a_forward_only_step_undoes_even_the_step_that_could_run(empty: Store) -> None:
    await upgrade(empty)
    await TenantTips(empty, Tenant("slack", "T1")).subscribe(
        Channel("C1", "general"), Schedule(9, 0, "UTC", DAILY), None, user="U1", now=at("2025-03-03"), seed=1
    )
    with pytest.raises(NotImplementedError, match=f"^{re.escape(REFUSED)}$"):
        await downgrade(empty, "base")  # 0005 down runs, then 0004 refuses: one transaction, rolled back
    assert await current(empty) == HEAD
    assert await tables(empty) == up_to(HEAD)  # seen_deliveries is still there
    assert await subscribed(empty) == ["C1"]


def test_the_alembic_command_line_is_refused() -> None:
    """Without the connection careerbot hands in (``alembic upgrade head`` run by hand)."""
    with pytest.raises(RuntimeError, match=r"run migrations with `careerbot db upgrade` .*not the alembic CLI"):
        command.upgrade(config(), "head")


@pytest.mark.parametrize("schema", ["bad-name", "x; DROP SCHEMA public", "a b", "tips.v2"])
async def test_a_schema_name_that_is_not_an_identifier_is_refused_before_connecting(schema: str) -> None:
    for how in ("argument", "environment"):
        with pytest.raises(ConfigError, match=r"^CAREERBOT_DATABASE_SCHEMA must be letters, digits and underscores$"):
            if how == "argument":
                await Store.open("postgresql+asyncpg://nobody@127.0.0.1:1/none", schema=schema, environ={})
            else:
                await Store.open(
                    "postgresql+asyncpg://nobody@127.0.0.1:1/none", environ={"CAREERBOT_DATABASE_SCHEMA": schema}
                )
