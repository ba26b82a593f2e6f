"""The command table: every feature wing's declarations, joined in one place. Adapters, help, the
Slack manifest and Discord registration are all derived from :data:`REGISTRY`.

Adding a wing is one line here; the wings never import one another (``lint-imports`` checks it).
"""

from __future__ import annotations

from bot import careers, tips
from bot.commands import Registry
from bot.errors import DeclarationError
from bot.knowledge.schema import as_kinds

REGISTRY = Registry.combine(careers.COMMANDS, tips.COMMANDS, free_text=careers.question)


def check_entities(registry: Registry) -> None:
    """Every option that autocompletes names kinds the knowledge has (the kernel cannot check it)."""
    for command in registry:
        for option in command.options:
            try:
                as_kinds(option.kinds)
            except ValueError as exc:
                raise DeclarationError(f"/{command.name} {option.name}: {exc}") from None


check_entities(REGISTRY)
