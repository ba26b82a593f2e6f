"""PostgreSQL for the operations tests (the tips tests' fixtures)."""

from tests.tips.conftest import postgres_url

__all__ = ["postgres_url"]
