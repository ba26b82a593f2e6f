"""Discord app commands generated from the core's declarations, and their registration.

Each declared command is a top-level slash command (``/role``) and a subcommand of the ``/career``
group (``/career role``); the core's ``career`` command, which a group cannot be, is ``/career help``.
A declaration Discord cannot express raises :class:`DeclarationError` when the tree is built (at
start-up), never a silent truncation. :func:`registration_payload` is exactly what ``sync`` sends.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Optional, Protocol

import discord
from discord import app_commands

from bot.commands import Command, Option, OptionValue
from bot.errors import ConfigError, DeclarationError
from bot.registry import REGISTRY

log = logging.getLogger("careerbot.discord")

GROUP = "career"
HELP = "help"
GROUP_DESCRIPTION = "Every careerbot command in one place; /career help explains them"
#: Discord's documented limits for chat-input commands.
NAME_RE = re.compile(r"^[-_'\w]{1,32}$")
DESCRIPTION_MAX = 100
OPTIONS_MAX = 25
SUBCOMMANDS_MAX = 25
CHOICES_MAX = 25
CHOICE_MAX = 100
STRING_LENGTH_MAX = 6000
COMMAND_TEXT_MAX = 8000
TOKEN_REJECTED = "DISCORD_TOKEN was rejected by Discord (401 Unauthorized): reset it in the Developer Portal"
#: ``default_member_permissions`` of a command declared ``admin`` (it changes server settings): none,
#: on purpose. Discord can restrict only a whole top-level command, never one subcommand or option
#: value, and ``/tips`` mixes changes (subscribe, unsubscribe, skip: Manage Server) with actions for
#: everyone (list, preview). Manage Server here would hide list and preview from members, and they
#: would get no refusal explaining why; so the handler checks Manage Server on every change instead
#: (``Invocation.admin``). A server can still restrict the command in Server Settings > Integrations.
#: Such commands are guild-only: server settings mean nothing in a DM. See docs/discord.md.
ADMIN_DEFAULT_PERMISSIONS: discord.Permissions | None = None

# careerbot has no voice: silence discord.py's start-up warnings about missing voice libraries.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False


def intents() -> discord.Intents:
    """No privileged intent: mentions of the bot and DMs carry their content anyway."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    return wanted


def client_options() -> dict[str, Any]:
    """How every careerbot client is configured: minimal intents and caches, and no pings ever."""
    return {
        "intents": intents(),
        "allowed_mentions": discord.AllowedMentions.none(),
        "max_messages": None,
        "chunk_guilds_at_startup": False,
        "member_cache_flags": discord.MemberCacheFlags.none(),
    }


class Handlers(Protocol):
    async def command(self, interaction: discord.Interaction, name: str, options: dict[str, OptionValue]) -> None: ...

    def complete(self, command: str, option: str, current: str) -> list[app_commands.Choice[str]]: ...


def _check_text(what: str, name: str, description: str) -> None:
    if not NAME_RE.fullmatch(name) or name != name.lower():
        raise DeclarationError(f"{what} {name!r}: Discord names are 1-32 lower-case letters, digits, - _ '")
    if not 1 <= len(description) <= DESCRIPTION_MAX:
        raise DeclarationError(f"{what} {name!r}: Discord descriptions are 1-{DESCRIPTION_MAX} characters")


def check_declarations(commands: Iterable[Command]) -> None:
    """Raise :class:`DeclarationError` for anything Discord cannot express (never truncate)."""
    commands = list(commands)
    names = {c.name for c in commands}
    if GROUP in names and HELP in names:
        raise DeclarationError(f"/{HELP} clashes with /{GROUP} {HELP}, the Discord form of /{GROUP}")
    if len(commands) > SUBCOMMANDS_MAX:
        raise DeclarationError(f"/{GROUP} can hold at most {SUBCOMMANDS_MAX} subcommands, got {len(commands)}")
    for command in commands:
        _check_text("command", command.name, command.description)
        if len(command.options) > OPTIONS_MAX:
            raise DeclarationError(f"/{command.name}: Discord allows at most {OPTIONS_MAX} options")
        for opt in command.options:
            what = f"/{command.name} option"
            _check_text(what, opt.name, opt.description)
            if opt.kinds and opt.type != "string":
                raise DeclarationError(f"{what} {opt.name!r}: an entity option must be a string to autocomplete")
            if opt.type == "string" and not 1 <= opt.max_length <= STRING_LENGTH_MAX:
                raise DeclarationError(f"{what} {opt.name!r}: max_length must be 1-{STRING_LENGTH_MAX}")
            if len(opt.choices) > CHOICES_MAX or any(not 1 <= len(c) <= CHOICE_MAX for c in opt.choices):
                raise DeclarationError(f"{what} {opt.name!r}: at most {CHOICES_MAX} choices of 1-{CHOICE_MAX} chars")
            if opt.choices and opt.type == "boolean":
                raise DeclarationError(f"{what} {opt.name!r}: a boolean option cannot have choices")
            if opt.choices and opt.type == "integer" and not all(c.lstrip("-").isdigit() for c in opt.choices):
                raise DeclarationError(f"{what} {opt.name!r}: integer choices must be whole numbers")


def command_text(payload: Mapping[str, Any]) -> int:
    """Characters Discord counts against its 8000 per command: names, descriptions, choice values."""
    total = len(payload.get("name", "")) + len(payload.get("description", ""))
    for choice in payload.get("choices") or ():
        total += len(str(choice["name"])) + len(str(choice["value"]))
    return total + sum(command_text(o) for o in payload.get("options") or ())


def _annotation(opt: Option) -> Any:
    """The parameter type discord.py turns into the option's type (a string's max_length included)."""
    if opt.type == "integer":
        base: Any = int
    elif opt.type == "boolean":
        base = bool
    else:
        base = app_commands.Range[str, None, opt.max_length]
    return base if opt.required else Optional[base]  # noqa: UP045 - a Range is not a type: `X | None` fails


def _app_command(
    command: Command, name: str, handlers: Handlers, *, top_level: bool = True
) -> app_commands.Command[Any, ..., None]:
    """A discord.py command whose parameters are generated from the declaration. A top-level
    command declared ``admin`` is guild-only, with :data:`ADMIN_DEFAULT_PERMISSIONS`; Discord
    takes neither on a subcommand (its group decides)."""
    py_names = {f"o{i}": opt.name for i, opt in enumerate(command.options)}  # option names may not be identifiers

    async def callback(interaction: discord.Interaction, **values: OptionValue | None) -> None:
        options = {py_names[k]: v for k, v in values.items() if v is not None}
        await handlers.command(interaction, command.name, options)

    P = inspect.Parameter
    params = [P("interaction", P.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction)]
    completers: dict[str, Callable[..., Awaitable[list[app_commands.Choice[str]]]]] = {}
    choices: dict[str, list[app_commands.Choice[Any]]] = {}
    for py, opt in zip(py_names, command.options, strict=True):
        default = P.empty if opt.required else None
        params.append(P(py, P.KEYWORD_ONLY, annotation=_annotation(opt), default=default))
        if opt.kinds:
            completers[py] = _completer(handlers, command.name, opt.name)
        if opt.choices:
            convert: Callable[[str], Any] = int if opt.type == "integer" else str
            choices[py] = [app_commands.Choice(name=c, value=convert(c)) for c in opt.choices]
    callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_description__ = {  # type: ignore[attr-defined]
        py: opt.description for py, opt in zip(py_names, command.options, strict=True)
    }
    callback.__discord_app_commands_param_rename__ = dict(py_names)  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_autocomplete__ = completers  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_choices__ = choices  # type: ignore[attr-defined]
    made: app_commands.Command[Any, ..., None] = app_commands.Command(
        name=name, description=command.description, callback=callback
    )
    if command.admin and top_level:
        made.guild_only = True
        made.allowed_contexts = app_commands.AppCommandContext(guild=True)
        made.default_permissions = ADMIN_DEFAULT_PERMISSIONS
    return made


def _completer(handlers: Handlers, command: str, option: str) -> Callable[..., Awaitable[list[Any]]]:
    async def complete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        try:
            return handlers.complete(command, option, str(current or ""))
        except Exception:  # an autocomplete failure must not leave the user's box spinning
            log.exception("autocomplete for /%s %s failed", command, option)
            return []

    return complete


def build_tree(client: discord.Client, commands: Iterable[Command], handlers: Handlers) -> app_commands.CommandTree:
    """The client's command tree: every declaration top-level and inside the ``/career`` group."""
    commands = list(commands)
    check_declarations(commands)
    tree = app_commands.CommandTree(client)
    group = app_commands.Group(name=GROUP, description=GROUP_DESCRIPTION)
    for command in commands:
        if command.name != GROUP:
            tree.add_command(_app_command(command, command.name, handlers))
        sub = HELP if command.name == GROUP else command.name
        group.add_command(_app_command(command, sub, handlers, top_level=False))
    tree.add_command(group)
    for payload in (c.to_dict(tree) for c in tree.get_commands()):
        if command_text(payload) > COMMAND_TEXT_MAX:
            raise DeclarationError(f"/{payload['name']}: over Discord's {COMMAND_TEXT_MAX} characters per command")
    return tree


class _Unbound:
    """Handlers for a tree that is only serialised (``commands --json``, ``sync``)."""

    async def command(self, interaction: discord.Interaction, name: str, options: dict[str, OptionValue]) -> None:
        raise RuntimeError("this command tree only registers commands")

    def complete(self, command: str, option: str, current: str) -> list[app_commands.Choice[str]]:
        return []


def registration_payload(commands: Iterable[Command] | None = None) -> list[dict[str, Any]]:
    """Exactly what ``careerbot discord sync`` sends to Discord (no token, no knowledge needed)."""
    client = discord.Client(intents=intents())
    tree = build_tree(client, REGISTRY if commands is None else commands, _Unbound())
    return [c.to_dict(tree) for c in tree.get_commands()]


async def sync_commands(
    token: str, *, guild: int | None = None, clear: bool = False, commands: Iterable[Command] | None = None
) -> list[str]:
    """Register the commands globally or in one guild (or remove them with ``clear``); returns names."""
    client = discord.Client(intents=intents(), allowed_mentions=discord.AllowedMentions.none())
    tree = build_tree(client, REGISTRY if commands is None else commands, _Unbound())
    target = discord.Object(id=guild) if guild else None
    if clear:
        tree.clear_commands(guild=None)
    elif target is not None:
        tree.copy_global_to(guild=target)
    async with client:
        try:
            await client.login(token)
        except discord.LoginFailure:
            raise ConfigError(TOKEN_REJECTED) from None
        synced = await tree.sync(guild=target)
    return [c.name for c in synced]
