"""The durable store: SQLAlchemy 2 async Core on SQLite (the default) or PostgreSQL (replicas).

:mod:`~bot.store.engine` opens it and knows tenants; :mod:`~bot.store.problems` says what is wrong
with one that cannot be used; :mod:`~bot.store.migrations` holds the Alembic history. Each feature
keeps its own tables and queries in its wing; this package knows none of them.
"""
