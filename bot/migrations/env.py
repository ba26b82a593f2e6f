"""Alembic environment: always run on the connection :func:`bot.migrations.upgrade` hands in."""

from __future__ import annotations

from alembic import context

from bot.migrations import VERSION_TABLE
from bot.store import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `careerbot db upgrade` (bot.migrations.upgrade), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
