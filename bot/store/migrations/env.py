"""Alembic environment: always run on the connection :func:`bot.store.migrations.upgrade` hands in."""

from __future__ import annotations

from alembic import context

from bot.store.migrations import VERSION_TABLE

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `careerbot db upgrade` (bot.store.migrations.upgrade), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=None,  # migrations are written by hand; tests compare them with the tables
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
