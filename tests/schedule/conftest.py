"""The stores and the tips bot of the tips tests, for the scheduler's own tests."""

from tests.tips.conftest import database, postgres_url, tips_bot

__all__ = ["database", "postgres_url", "tips_bot"]
