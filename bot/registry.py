"""The command table: every feature wing's declarations, joined in one place. Adapters, help, the
Slack manifest and Discord registration are all derived from :data:`REGISTRY`; the scheduler runs
the job kinds of :func:`job_kinds`.

Adding a wing is one line here; the wings never import one another (``lint-imports`` checks it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot import careers, tips
from bot.commands import Registry
from bot.errors import DeclarationError
from bot.knowledge.schema import as_kinds

if TYPE_CHECKING:
    from bot.knowledge.kb import KnowledgeBase
    from bot.schedule.jobs import JobKind

REGISTRY = Registry.combine(careers.COMMANDS, tips.COMMANDS, free_text=careers.question)


def job_kinds(knowledge: Callable[[], KnowledgeBase]) -> list[JobKind]:
    """Every wing's scheduled messages, for :class:`~bot.schedule.scheduler.Scheduler`.
    ``knowledge()`` is the knowledge base as it is now. Imported here, not at the top: answering a
    command must not load the store's libraries (``tests/tips/test_store.py`` checks a cold ask)."""
    from bot.tips.jobs import TipJobs

    return [TipJobs(knowledge)]


def check_entities(registry: Registry) -> None:
    """Every option that autocompletes names kinds the knowledge has (the kernel cannot check it)."""
    for command in registry:
        for option in command.options:
            try:
                as_kinds(option.kinds)
            except ValueError as exc:
                raise DeclarationError(f"/{command.name} {option.name}: {exc}") from None


check_entities(REGISTRY)
