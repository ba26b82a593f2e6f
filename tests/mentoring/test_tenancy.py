"""Every statement the mentoring commands run names its tenant: run each public TenantMentoring method
for tenant B (with A's rows in the same tables) and capture the SQL, as the tips store is checked."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import event

from bot.mentoring.store import Settings, TenantMentoring
from bot.schedule.posting import Channel
from bot.store.engine import Store, Tenant
from tests.tips.conftest import Database, at

A, B = Tenant("slack", "T1"), Tenant("slack", "T2")
NOW = at("2025-03-01T08:00")


@pytest.fixture
async def store(database: Database) -> AsyncIterator[Store]:
    opened = await database.open()
    try:
        yield opened
    finally:
        await opened.close()


async def test_every_mentoring_statement_filters_on_the_tenant(store: Store) -> None:
    a = TenantMentoring(store, A)
    program_a, _ = await a.create_program(Channel("C1", "a"), Settings(), user="U1", now=NOW, seed=1)
    await a.join(program_a, "U1", role="peer", knows=[], wants=[], timezone="UTC", bio=None, capacity=1, now=NOW)
    b = TenantMentoring(store, B)
    program_b, _ = await b.create_program(Channel("C1", "b"), Settings(), user="U1", now=NOW, seed=2)
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA", "SELECT VERSION", "SHOW")):
            seen.append((statement, parameters))

    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "program": lambda: b.program("C1"),
        "program_by_id": lambda: b.program_by_id(program_a.id),  # A's id, asked as B: must find nothing
        "create_program": lambda: b.create_program(Channel("C2", "x"), Settings(), user="U1", now=NOW, seed=3),
        "set_state": lambda: b.set_state(program_b, "paused", NOW),
        "profile": lambda: b.profile(program_b, "U1"),
        "profiles": lambda: b.profiles("U1"),
        "member_count": lambda: b.member_count(program_b),
        "programs": lambda: b.programs(),  # the Home tab's: an admin's list of the workspace's programs
        "past_groups": lambda: b.past_groups("U1"),  # the Home tab's: someone's last intros
        "join": lambda: b.join(
            program_b, "U1", role="peer", knows=["skill:sql"], wants=[], timezone="UTC", bio=None, capacity=1, now=NOW
        ),
        "set_member_state": lambda: b.set_member_state(program_b, "U1", "snoozed", NOW),
        "block": lambda: b.block("U1", "U2", NOW),
        "blocked_by": lambda: b.blocked_by("U1"),
        "unblock": lambda: b.unblock("U1", "U2"),
        "answer": lambda: b.answer(1, "U1", "met", NOW),
        "checkin_progress": lambda: b.checkin_progress(1),
        "report": lambda: b.report(program_b),
        "leave": lambda: b.leave(program_b, "U1"),
        "forget": lambda: b.forget("U1"),
        "purge": lambda: b.purge(),
    }
    public = {n for n, f in inspect.getmembers(TenantMentoring, inspect.iscoroutinefunction) if not n.startswith("_")}
    assert set(calls) == public, "a new TenantMentoring method needs a line here"
    event.listen(store.engine.sync_engine, "before_cursor_execute", capture)
    try:
        results = {name: await call() for name, call in calls.items()}
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", capture)
    assert results["program_by_id"] is None
    assert len(seen) >= len(calls)
    for statement, parameters in seen:
        flat = repr(parameters)
        assert "'slack'" in flat and "'T2'" in flat, statement
        assert "tenant" in statement and "platform" in statement, statement
    # A's program, member and everything else are untouched.
    kept = await a.program("C1")
    assert kept is not None and kept.state == "active" and await a.member_count(kept) == 1
