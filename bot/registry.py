"""The command table: every feature wing's declarations, joined in one place. Adapters, help, the
Slack manifest and Discord registration are all derived from :data:`REGISTRY`; the scheduler runs
the job kinds of :func:`job_kinds`.

Adding a wing is one line here; the wings never import one another (``lint-imports`` checks it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot import careers, mentoring, tips
from bot.commands import Registry
from bot.errors import DeclarationError
from bot.forms import Form
from bot.knowledge.schema import as_kinds

if TYPE_CHECKING:
    from bot.knowledge.kb import KnowledgeBase
    from bot.schedule.jobs import JobKind
    from bot.store.engine import Store, Tenant

REGISTRY = Registry.combine(careers.COMMANDS, tips.COMMANDS, mentoring.COMMANDS, free_text=careers.question)

FORMS: dict[str, Form] = {form.id: form for form in mentoring.FORMS}
"""Every wing's forms, by id; each runs a command of :data:`REGISTRY` when submitted."""


def job_kinds(knowledge: Callable[[], KnowledgeBase]) -> list[JobKind]:
    """Every wing's scheduled messages, for :class:`~bot.schedule.scheduler.Scheduler`.
    ``knowledge()`` is the knowledge base as it is now. Imported here, not at the top: answering a
    command must not load the store's libraries (``tests/tips/test_store.py`` checks a cold ask)."""
    from bot.mentoring.jobs import CheckinJobs, IntroJobs
    from bot.tips.jobs import TipJobs

    return [TipJobs(knowledge), IntroJobs(knowledge), CheckinJobs(knowledge)]


async def purge_tenant(store: Store, tenant: Tenant) -> int:
    """Delete what every wing keeps about ``tenant``: the bot was removed from that workspace or
    server (Slack ``app_uninstalled``/``tokens_revoked``, Discord ``on_guild_remove``). Returns the
    rows deleted."""
    from bot.mentoring.store import TenantMentoring
    from bot.tips.store import TenantTips

    return await TenantTips(store, tenant).purge() + await TenantMentoring(store, tenant).purge()


def check_entities(registry: Registry) -> None:
    """Every option that autocompletes names kinds the knowledge has (the kernel cannot check it)."""
    for command in registry:
        for option in command.options:
            try:
                as_kinds(option.kinds)
            except ValueError as exc:
                raise DeclarationError(f"/{command.name} {option.name}: {exc}") from None


def check_forms(registry: Registry, forms: dict[str, Form]) -> None:
    """Each form runs a declared command, and each field is one of that command's options."""
    for form in forms.values():
        command = registry.get(form.command)
        if command is None:
            raise DeclarationError(f"form {form.id}: no command /{form.command}")
        declared = {o.name for o in command.options}
        for name in [f.name for f in form.fields] + [name for name, _ in form.fixed]:
            if name not in declared:
                raise DeclarationError(f"form {form.id}: /{form.command} has no option {name!r}")
        try:
            for field in form.fields:
                as_kinds(field.entity)
        except ValueError as exc:
            raise DeclarationError(f"form {form.id}: {exc}") from None


check_entities(REGISTRY)
check_forms(REGISTRY, FORMS)
