"""The registration payload: Discord's documented limits, and parity with the core's declarations."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import replace
from typing import Any

import pytest
from click.testing import CliRunner

from adapters.discord_bot.app import DiscordApp
from adapters.discord_bot.commands import registration_payload, sync_commands
from adapters.slack_bot.manifest import build_manifest
from bot.commands import Command, Option
from bot.core import Core
from bot.errors import DeclarationError
from bot.registry import REGISTRY
from tests.discord.fake_discord import FakeDiscord
from tests.discord.payloads import GUILD_ID, TOKEN

SUBCOMMAND, STRING, INTEGER, BOOLEAN = 1, 3, 4, 5
TYPES = {"string": STRING, "integer": INTEGER, "boolean": BOOLEAN}


def discord_name(name: str) -> bool:
    """Discord's ``^[-_'\\p{L}\\p{N}]{1,32}$``, lower case where the letter has a lower case."""
    ok = all(ch in "-_'" or unicodedata.category(ch)[0] in "LN" for ch in name)
    return ok and 1 <= len(name) <= 32 and name == name.lower()


def text_count(node: dict[str, Any]) -> int:
    total = len(node["name"]) + len(node.get("description", ""))
    total += sum(len(c["name"]) + len(str(c["value"])) for c in node.get("choices") or [])
    return total + sum(text_count(o) for o in node.get("options") or [])


def check_options(options: list[dict[str, Any]]) -> None:
    assert len(options) <= 25
    required = [o.get("required", False) for o in options]
    assert required == sorted(required, reverse=True), "required options must come first"
    for option in options:
        assert discord_name(option["name"]) and 1 <= len(option["description"]) <= 100, option
        assert option["type"] in (STRING, INTEGER, BOOLEAN)
        assert len(option.get("choices") or []) <= 25
        assert not (option.get("autocomplete") and option.get("choices")), "Discord forbids both"
        if "max_length" in option:
            assert 1 <= option["max_length"] <= 6000


def test_the_payload_meets_discords_documented_limits() -> None:
    payload = registration_payload()
    assert len(payload) <= 100
    assert len({c["name"] for c in payload}) == len(payload)
    for command in payload:
        assert command["type"] == 1 and discord_name(command["name"]), command["name"]
        assert 1 <= len(command["description"]) <= 100
        assert text_count(command) <= 8000
        subcommands = [o for o in command["options"] if o["type"] == SUBCOMMAND]
        if subcommands:
            assert len(subcommands) == len(command["options"]) <= 25
            for sub in subcommands:
                assert discord_name(sub["name"]) and 1 <= len(sub["description"]) <= 100
                check_options(sub["options"])
        else:
            check_options(command["options"])


def describe(declared: Command) -> dict[str, Any]:
    return {
        "description": declared.description,
        "options": [
            {
                "type": TYPES[o.type],
                "name": o.name,
                "description": o.description,
                "required": o.required,
                **({"autocomplete": True} if o.kinds else {}),
                **({"choices": [{"name": c, "value": c} for c in o.choices]} if o.choices else {}),
                **({"max_length": o.max_length} if o.type == "string" else {}),
            }
            for o in declared.options
        ],
    }


def test_discord_commands_equal_the_core_declarations() -> None:
    payload = {c["name"]: c for c in registration_payload()}
    assert set(payload) == set(REGISTRY.names())  # /career is the group, the others top-level
    group = {s["name"]: s for s in payload["career"]["options"]}
    assert set(group) == (set(REGISTRY.names()) - {"career"}) | {"help"}
    for declared in REGISTRY:
        inside = group["help" if declared.name == "career" else declared.name]
        assert {k: inside[k] for k in ("description", "options")} == describe(declared)
        if declared.name != "career":
            assert {k: payload[declared.name][k] for k in ("description", "options")} == describe(declared)


def test_admin_commands_are_guild_only_and_visible_to_every_member() -> None:
    """``/tips`` changes server settings (Manage Server, checked by its handler on every change) but
    its list and preview are for everyone, and Discord restricts only whole commands: so no default
    member permissions, which would hide list and preview from members (see docs/discord.md)."""
    payload = {c["name"]: c for c in registration_payload()}
    admin = {c.name for c in REGISTRY if c.admin}
    assert "tips" in admin
    for name, command in payload.items():
        assert command["default_member_permissions"] is None, name
        if name in admin:
            assert command["dm_permission"] is False and command["contexts"] == [0], name  # guild only
        else:
            assert command["dm_permission"] is True and command["contexts"] is None, name
    assert "tips" in {s["name"] for s in payload["career"]["options"]}  # /career tips: the group decides


def test_the_slack_manifest_lists_the_same_commands() -> None:
    manifest = build_manifest(REGISTRY, prefix="")
    slack = {c["command"].removeprefix("/") for c in manifest["features"]["slash_commands"]}
    discord_names = {c["name"] for c in registration_payload()}
    assert slack == discord_names == set(REGISTRY.names())


def test_commands_json_prints_the_exact_payload_without_a_token() -> None:
    from adapters.cli import main

    result = CliRunner().invoke(main, ["discord", "commands", "--json"], env={"DISCORD_TOKEN": ""})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == registration_payload()
    listing = CliRunner().invoke(main, ["discord", "commands"])
    assert "/career help [command]" in listing.output and "/path role" in listing.output


async def test_sync_registers_exactly_the_payload_in_a_guild_or_globally(fake: FakeDiscord) -> None:
    names = await sync_commands(TOKEN, guild=GUILD_ID)
    assert sorted(names) == sorted(REGISTRY.names())
    keys = ("id", "application_id", "version", "guild_id")
    assert [
        {k: v for k, v in c.items() if k not in keys} for c in fake.commands[str(GUILD_ID)]
    ] == registration_payload()
    assert "global" not in fake.commands
    await sync_commands(TOKEN)
    assert [{k: v for k, v in c.items() if k not in keys} for c in fake.commands["global"]] == registration_payload()
    await sync_commands(TOKEN, guild=GUILD_ID, clear=True)
    assert fake.commands[str(GUILD_ID)] == []
    assert not fake.sessions, "registration needs no gateway connection"


def test_sync_without_a_token_is_one_clear_line() -> None:
    from adapters.cli import main

    result = CliRunner().invoke(main, ["discord", "sync"], env={"DISCORD_TOKEN": ""})
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: DISCORD_TOKEN is not set: copy the bot token from the Discord Developer Portal (Bot tab)"
    ]


def base() -> Command:
    return next(iter(REGISTRY))


def unchecked_option(**fields: Any) -> Option:
    """An :class:`Option` with ``fields`` set past its own checks (which are the core's, not
    Discord's), so what reaches :func:`registration_payload` is Discord's check to make."""
    option = Option(name="q", description="d")
    for name, value in fields.items():
        object.__setattr__(option, name, value)  # frozen and slotted: no __post_init__ runs again
    return option


BAD = {
    "long-description": (
        lambda: replace(base(), description="x" * 101),
        "command 'career': Discord descriptions are 1-100 characters",
    ),
    "empty-description": (
        lambda: replace(base(), description=""),
        "command 'career': Discord descriptions are 1-100 characters",
    ),
    "upper-case-name": (
        lambda: replace(base(), name="Role"),
        "command 'Role': Discord names are 1-32 lower-case letters",
    ),
    "name-too-long": (
        lambda: replace(base(), name="r" * 33),
        f"command '{'r' * 33}': Discord names are 1-32 lower-case letters",
    ),
    "integer-entity": (
        lambda: replace(base(), options=(Option(name="n", description="d", entity="role", type="integer"),)),
        "/career option 'n': an entity option must be a string to autocomplete",
    ),
    "max-length-over-6000": (
        lambda: replace(base(), options=(Option(name="q", description="d", max_length=7000),)),
        "/career option 'q': max_length must be 1-6000",
    ),
    "long-option-description": (
        lambda: replace(base(), options=(unchecked_option(description="y" * 101),)),
        "/career option 'q': Discord descriptions are 1-100 characters",
    ),
    "too-many-options": (
        lambda: replace(base(), options=tuple(Option(name=f"o{i}", description="d") for i in range(26))),
        "/career: Discord allows at most 25 options",
    ),
}


def test_the_long_option_description_gets_past_the_cores_own_check() -> None:
    with pytest.raises(DeclarationError, match="description must be 1-100 characters, got 101"):
        replace(Option(name="q", description="d"), description="y" * 101)  # what a plain replace() runs into
    assert unchecked_option(description="y" * 101).description == "y" * 101


@pytest.mark.parametrize(("make", "message"), BAD.values(), ids=BAD.keys())
def test_a_declaration_discord_cannot_express_fails_at_start_up(make: Any, message: str) -> None:
    command = make()  # the core accepts it ...
    with pytest.raises(DeclarationError, match=f"^{re.escape(message)}"):  # ... Discord's check refuses it
        registration_payload([*list(REGISTRY)[1:], command])


def test_a_help_command_would_clash_with_career_help(core: Core) -> None:
    help_command = replace(base(), name="help")
    with pytest.raises(DeclarationError, match="help"):
        registration_payload([*REGISTRY, help_command])
    too_many = [replace(base(), name=f"c{i}") for i in range(26)]
    with pytest.raises(DeclarationError, match="25"):
        registration_payload(too_many)


def test_the_platform_refuses_to_start_on_a_bad_declaration(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core, "registry", [*REGISTRY, replace(base(), name="Bad Name")])
    with pytest.raises(DeclarationError, match="^command 'Bad Name': Discord names are 1-32 lower-case letters"):
        DiscordApp(core, token=TOKEN)
