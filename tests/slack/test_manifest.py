"""The manifest is generated from the declarations: parity with and without a prefix, both modes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from adapters.cli import main
from adapters.slack_bot.manifest import BOT_EVENTS, BOT_SCOPES, build_manifest, check_prefix, events_url, to_yaml
from bot.errors import ConfigError
from bot.registry import REGISTRY


def manifest_from_cli(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["slack", "manifest", *args], env=env or {"CAREERBOT_COMMAND_PREFIX": ""})
    assert result.exit_code == 0, result.output
    loaded: dict[str, Any] = yaml.safe_load(result.output)
    return loaded


@pytest.mark.parametrize("prefix", ["", "cb-"])
def test_slash_commands_equal_the_declarations(prefix: str) -> None:
    manifest = manifest_from_cli(env={"CAREERBOT_COMMAND_PREFIX": prefix})
    listed = manifest["features"]["slash_commands"]
    assert [c["command"] for c in listed] == [f"/{prefix}{c.name}" for c in REGISTRY]
    for entry, declared in zip(listed, REGISTRY, strict=True):
        assert entry["description"] == declared.description
        assert entry.get("usage_hint", "") == declared.usage_hint
        assert entry["should_escape"] is False
    assert "/" + prefix + "career" in [c["command"] for c in listed]  # the umbrella command


def test_prefix_option_overrides_the_environment() -> None:
    manifest = manifest_from_cli("--prefix", "hc_", env={"CAREERBOT_COMMAND_PREFIX": "cb-"})
    assert manifest["features"]["slash_commands"][0]["command"] == f"/hc_{next(iter(REGISTRY)).name}"


def test_socket_mode_by_default_with_minimal_scopes_events_and_interactivity() -> None:
    manifest = manifest_from_cli()
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"] == {"is_enabled": True}
    assert manifest["settings"]["event_subscriptions"] == {"bot_events": BOT_EVENTS}
    assert manifest["oauth_config"]["scopes"]["bot"] == BOT_SCOPES
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True  # people can DM the bot
    assert all("url" not in c for c in manifest["features"]["slash_commands"])


def test_docs_explain_exactly_the_scopes_the_manifest_asks_for() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "slack.md").read_text(encoding="utf-8")
    explained = re.findall(r"^\| `([a-z_]+(?::[a-z_]+)?)` +\|", docs, flags=re.MULTILINE)
    assert sorted(explained) == sorted(BOT_SCOPES)
    # daily tips: admins (users.info), channel checks (conversations.info/list), crash recovery (history)
    assert {"users:read", "channels:read", "groups:read", "channels:history", "groups:history"} <= set(BOT_SCOPES)
    # mentoring: group DMs and DMs (conversations.open), crash recovery in them (history)
    assert {"im:write", "mpim:write", "mpim:history", "im:history"} <= set(BOT_SCOPES)


def test_exactly_these_scopes_and_events() -> None:
    """A new scope makes every workspace reinstall the app: adding one is a decision, not a side effect."""
    manifest = manifest_from_cli()
    assert manifest["oauth_config"]["scopes"]["bot"] == [
        "app_mentions:read",
        "channels:history",
        "channels:read",
        "chat:write",
        "commands",
        "groups:history",
        "groups:read",
        "im:history",
        "im:write",  # conversations.open with one person: a mentoring note
        "mpim:history",  # conversations.history in a group DM: finding an intro after a crash
        "mpim:write",  # conversations.open with 2-8 people: an intro's group DM
        "users:read",
    ]
    # removing the app deletes the workspace's data (bot.registry.purge_tenant)
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == [
        "app_mention",
        "message.im",
        "app_uninstalled",
        "tokens_revoked",
        "app_home_opened",  # the Home tab (views.publish)
        "member_joined_channel",  # the onboarding invitation (channels:read, groups:read)
    ]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True


def test_http_mode_points_every_request_url_at_the_events_path() -> None:
    manifest = manifest_from_cli("--http-url", "https://bot.example.org")
    url = "https://bot.example.org/slack/events"
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert manifest["settings"]["event_subscriptions"]["request_url"] == url
    assert manifest["settings"]["interactivity"]["request_url"] == url
    assert manifest["settings"]["interactivity"]["message_menu_options_url"] == url  # the option pickers
    assert {c["url"] for c in manifest["features"]["slash_commands"]} == {url}


def test_an_http_url_with_a_path_is_used_as_given() -> None:
    assert events_url("https://h.example/custom/path") == "https://h.example/custom/path"


@pytest.mark.parametrize("url", ["http://bot.example.org", "bot.example.org", "ftp://x"])
def test_a_non_https_url_is_a_usage_error(url: str) -> None:
    result = CliRunner().invoke(main, ["slack", "manifest", "--http-url", url], env={"CAREERBOT_COMMAND_PREFIX": ""})
    assert result.exit_code == 2
    assert "--http-url must be an https:// URL" in result.output


@pytest.mark.parametrize(
    ("prefix", "message"),
    [("CB-", "may only contain"), ("c b", "may only contain"), ("/cb", "may only contain"), ("x" * 30, "too long")],
)
def test_a_bad_prefix_is_refused_naming_the_variable(prefix: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"CAREERBOT_COMMAND_PREFIX .*{message}"):
        check_prefix(prefix, REGISTRY)


def test_yaml_is_what_slack_expects() -> None:
    text = to_yaml(build_manifest(REGISTRY))
    assert text.startswith("display_information:\n  name: careerbot\n")
    assert yaml.safe_load(text) == build_manifest(REGISTRY)
