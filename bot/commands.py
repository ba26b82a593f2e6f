"""Commands are declared once here; adapters, help, the Slack manifest and Discord registration
are all derived from these declarations.

A declaration is checked when it is made (at import): names must satisfy Discord's and Slack's
rules, descriptions must fit, and the handler's parameters must match the declared options, so a
bad declaration fails in CI rather than in a user's channel.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bot import messages
from bot.errors import CommandError, DeclarationError
from bot.safety import one_line

if TYPE_CHECKING:
    from bot.reply import Reply

OptionType = Literal["string", "integer", "boolean"]
OptionValue = str | int | bool

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
DESCRIPTION_MAX = 100
OPTIONS_MAX = 25
CHOICES_MAX = 25
OPTION_TEXT_MAX = 500


@dataclass(frozen=True, kw_only=True, slots=True)
class Invocation:
    """One request from any platform, in neutral terms."""

    platform: str = "console"
    tenant: str = "local"
    user: str = "local"
    channel: str = "local"
    command: str
    options: Mapping[str, OptionValue] = field(default_factory=dict)
    text: str = ""
    admin: bool = False
    """Set by the adapter: a Slack workspace admin/owner, or a Discord member with Manage Server."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Option:
    name: str
    description: str
    type: OptionType = "string"
    required: bool = False
    entity: str | tuple[str, ...] | None = None
    """When set, values are entries of this knowledge kind (or kinds): lookup resolves them, adapters
    autocomplete. The kinds are checked against the knowledge schema where the table is assembled
    (:mod:`bot.registry`), since the kernel knows no knowledge."""
    choices: tuple[str, ...] = ()
    max_length: int = OPTION_TEXT_MAX

    @property
    def kinds(self) -> tuple[str, ...]:
        if self.entity is None:
            return ()
        return self.entity if isinstance(self.entity, tuple) else (self.entity,)

    def __post_init__(self) -> None:
        _check_name(self.name, "option")
        _check_description(self.description, f"option {self.name!r}")
        if len(self.choices) > CHOICES_MAX:
            raise DeclarationError(f"option {self.name!r}: at most {CHOICES_MAX} choices")
        if self.entity and self.choices:
            raise DeclarationError(f"option {self.name!r}: an entity option autocompletes; no choices")


Handler = Callable[..., Awaitable["Reply"]]


USAGE_OPTIONS = 8
"""Options a usage line lists one by one; beyond that it would be longer than anyone reads."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Command:
    name: str
    description: str
    options: tuple[Option, ...]
    handler: Handler
    examples: tuple[str, ...] = ()
    admin: bool = False
    """Changes workspace settings (it may also read them, like ``/tips list``): the handler checks
    ``Invocation.admin`` for changes, replies are never shared or cached, and Discord registers it as
    guild-only. It gets no Discord default permissions: those apply to a whole top-level command
    and would hide its read-only actions from the members they are for (docs/discord.md)."""
    pure: bool = False
    """The reply depends only on the options and the knowledge (not on who asks, where, randomness
    or stored state), so the core may reuse it and adapters may cache its rendering."""

    @property
    def usage(self) -> str:
        """``/role [query]``: required options in capitals, optional ones in brackets. A command with
        more than :data:`USAGE_OPTIONS` options shows the first two, then ``[name:value ...]``."""
        parts = [f"/{self.name}"]
        shown = self.options if len(self.options) <= USAGE_OPTIONS else self.options[:2]
        for opt in shown:
            parts.append(opt.name.upper() if opt.required else f"[{opt.name}]")
        if len(shown) < len(self.options):
            parts.append("[name:value ...]")
        return " ".join(parts)

    @property
    def usage_hint(self) -> str:
        return self.usage.partition(" ")[2]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "usage": self.usage,
            "examples": list(self.examples),
            "admin": self.admin,
            "pure": self.pure,
            "options": [
                {
                    "name": o.name,
                    "description": o.description,
                    "type": o.type,
                    "required": o.required,
                    "entity": list(o.kinds),
                    "choices": list(o.choices),
                    "max_length": o.max_length,
                }
                for o in self.options
            ],
        }


def _check_name(name: str, what: str) -> None:
    if not NAME_RE.fullmatch(name):
        raise DeclarationError(f"{what} name {name!r} must match {NAME_RE.pattern}")


def _check_description(text: str, what: str) -> None:
    if not 1 <= len(text) <= DESCRIPTION_MAX:
        raise DeclarationError(f"{what}: description must be 1-{DESCRIPTION_MAX} characters, got {len(text)}")


class Registry:
    """The ordered table of declared commands. Each feature wing declares its own; :mod:`bot.registry`
    joins them into the one table the core answers from. ``free_text`` answers text that names no
    command (a mention, a DM, a question typed in the console)."""

    def __init__(self, free_text: Handler | None = None) -> None:
        self._commands: dict[str, Command] = {}
        self.free_text = free_text

    @classmethod
    def combine(cls, *parts: Registry, free_text: Handler | None = None) -> Registry:
        """One table from several, in order; a name declared twice is a :class:`DeclarationError`."""
        joined = cls(free_text=free_text)
        for part in parts:
            for command in part:
                joined.add(command)
        return joined

    def command(
        self,
        name: str,
        description: str,
        *options: Option,
        examples: tuple[str, ...] = (),
        admin: bool = False,
        pure: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Declare a command; the decorated ``async def handler(ctx, **options)`` answers it."""

        def decorate(handler: Handler) -> Handler:
            command = Command(
                name=name,
                description=description,
                options=options,
                handler=handler,
                examples=examples,
                admin=admin,
                pure=pure,
            )
            self.add(command)
            return handler

        return decorate

    def add(self, command: Command) -> None:
        _check_name(command.name, "command")
        _check_description(command.description, f"/{command.name}")
        if command.name in self._commands:
            raise DeclarationError(f"/{command.name} is declared twice")
        if len(command.options) > OPTIONS_MAX:
            raise DeclarationError(f"/{command.name}: at most {OPTIONS_MAX} options")
        names = [o.name for o in command.options]
        if len(set(names)) != len(names):
            raise DeclarationError(f"/{command.name}: option names repeat")
        seen_optional = False
        for opt in command.options:
            if opt.required and seen_optional:
                raise DeclarationError(f"/{command.name}: required option {opt.name!r} after an optional one")
            seen_optional = seen_optional or not opt.required
        if not inspect.iscoroutinefunction(command.handler):
            raise DeclarationError(f"/{command.name}: handler must be 'async def'")
        params = list(inspect.signature(command.handler).parameters.values())
        if [p.name for p in params[1:]] != names:
            raise DeclarationError(
                f"/{command.name}: handler parameters {[p.name for p in params[1:]]} must be ctx then {names}"
            )
        for opt, param in zip(command.options, params[1:], strict=True):
            if not opt.required and param.default is inspect.Parameter.empty:
                raise DeclarationError(f"/{command.name}: optional {opt.name!r} needs a default")
        self._commands[command.name] = command

    def get(self, name: str) -> Command | None:
        return self._commands.get(name.casefold())

    def __iter__(self) -> Iterator[Command]:
        return iter(self._commands.values())

    def __len__(self) -> int:
        return len(self._commands)

    def names(self) -> list[str]:
        return list(self._commands)


def parse_options(command: Command, text: str) -> dict[str, str]:
    """Split the text after a command name into option values.

    ``name:value`` words set that option; the remaining words fill the options in declared order,
    the last one taking the rest of the text (so ``/search what is fhir`` keeps the whole question).
    """
    text = text.strip()
    if not command.options or not text:
        return {}
    if len(command.options) == 1:
        only = command.options[0]
        prefix = f"{only.name}:"
        value = text[len(prefix) :].strip() if text.casefold().startswith(prefix) else text
        return {only.name: value} if value else {}
    declared = {o.name for o in command.options}
    named: dict[str, str] = {}
    rest: list[str] = []
    for word in text.split():
        key, sep, value = word.partition(":")
        if sep and key.casefold() in declared and value and key.casefold() not in named:
            named[key.casefold()] = value
        else:
            rest.append(word)
    free = [o for o in command.options if o.name not in named]
    for i, opt in enumerate(free):
        if not rest:
            break
        if i == len(free) - 1:
            named[opt.name] = " ".join(rest)
            rest = []
        else:
            named[opt.name] = rest.pop(0)
    return named


def coerce(command: Command, given: Mapping[str, OptionValue] | None) -> dict[str, OptionValue | None]:
    """Typed, length-capped handler arguments from raw option values; a missing required option or
    a bad number is a :class:`CommandError` that tells the user the usage."""
    values: dict[str, OptionValue | None] = {}
    for opt in command.options:
        raw = given.get(opt.name) if given else None
        if isinstance(raw, str):
            raw = raw.strip()[: opt.max_length] or None
        if raw is None:
            if opt.required:
                reason = messages.MISSING_OPTION.format(
                    command=command.name, option=opt.name.upper(), description=opt.description
                )
                raise CommandError(f"{reason}. Usage: `{command.usage}`")
            values[opt.name] = None
        elif opt.type == "integer":
            try:
                values[opt.name] = int(raw)
            except ValueError:
                value = one_line(str(raw), 40)
                raise CommandError(messages.BAD_INTEGER.format(option=opt.name, value=value)) from None
        elif opt.type == "boolean":
            values[opt.name] = raw if isinstance(raw, bool) else str(raw).casefold() in ("1", "true", "yes", "on")
        else:
            values[opt.name] = str(raw)
    return values
