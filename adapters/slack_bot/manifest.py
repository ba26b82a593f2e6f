"""The Slack app manifest, generated from the command declarations so the two can never drift.

``careerbot slack manifest`` prints it; pasting it into https://api.slack.com/apps ("Create New App",
"From a manifest") creates the app with every slash command, the minimal scopes and the events it needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import yaml

from adapters.slack_bot import home
from bot.commands import Command
from bot.errors import ConfigError

APP_NAME = "careerbot"
APP_DESCRIPTION = "Find and grow a career in healthcare software development"
EVENTS_PATH = "/slack/events"
#: Slack: a slash command is "/" plus at most 31 lower-case letters, digits, "-" or "_".
SLASH_COMMAND_MAX = 32
PREFIX_RE = re.compile(r"[a-z0-9_-]*")
PREFIX_VARIABLE = "CAREERBOT_COMMAND_PREFIX"

#: The least the app needs: slash commands, answering mentions and DMs, and an ephemeral fallback;
#: for daily tips, checking the channel an admin picks (``conversations.info``/``.list``: the
#: ``*:read`` scopes), finding a post that landed before a crash (``conversations.history``: the
#: ``*:history`` scopes), and who is a workspace admin plus their time zone (``users.info``); for
#: mentoring, opening the group DM of an intro or check-in (``conversations.open``: ``im:write``,
#: ``mpim:write``) and finding one that landed before a crash (``mpim:history``, ``im:history``).
#: Events: mentions, DMs, and the app leaving a workspace (``app_uninstalled``, ``tokens_revoked``:
#: everything stored about it is deleted); the Home tab and onboarding (``app_home_opened``, no scope;
#: ``member_joined_channel``, with ``channels:read`` / ``groups:read``). docs/slack.md explains each one.
BOT_SCOPES = [
    "app_mentions:read",
    "channels:history",
    "channels:read",
    "chat:write",
    "commands",
    "groups:history",
    "groups:read",
    "im:history",
    "im:write",
    "mpim:history",
    "mpim:write",
    "users:read",
]
BOT_EVENTS = ["app_mention", "message.im", "app_uninstalled", "tokens_revoked", *home.EVENTS]


def check_prefix(prefix: str, commands: Iterable[Command]) -> str:
    """The prefix if every prefixed command is a valid Slack slash command, else :class:`ConfigError`."""
    if not PREFIX_RE.fullmatch(prefix):
        raise ConfigError(f"{PREFIX_VARIABLE} may only contain lower-case letters, digits, '-' and '_'")
    longest = max((len(c.name) for c in commands), default=0)
    if 1 + len(prefix) + longest > SLASH_COMMAND_MAX:
        room = SLASH_COMMAND_MAX - 1 - longest
        raise ConfigError(f"{PREFIX_VARIABLE} is too long: at most {room} characters fit every command")
    return prefix


def slash_command(prefix: str, name: str) -> str:
    return f"/{prefix}{name}"


def events_url(http_url: str) -> str:
    """The request URL for events, commands and interactivity: ``http_url`` itself if it has a path,
    else ``http_url`` + ``/slack/events``. Slack only calls HTTPS URLs."""
    parts = urlsplit(http_url.strip())
    if parts.scheme != "https" or not parts.netloc:
        raise ConfigError("--http-url must be an https:// URL (Slack only sends requests over HTTPS)")
    if parts.path in ("", "/"):
        return http_url.strip().rstrip("/") + EVENTS_PATH
    return http_url.strip()


def build_manifest(commands: Iterable[Command], *, prefix: str = "", http_url: str | None = None) -> dict[str, Any]:
    """The manifest as a dict. Without ``http_url`` the app uses Socket Mode (no public URL needed)."""
    commands = list(commands)
    check_prefix(prefix, commands)
    url = events_url(http_url) if http_url else None
    slash_commands = []
    for c in commands:
        entry: dict[str, Any] = {"command": slash_command(prefix, c.name), "description": c.description}
        if c.usage_hint:
            entry["usage_hint"] = c.usage_hint
        entry["should_escape"] = False
        if url:
            entry["url"] = url
        slash_commands.append(entry)
    events: dict[str, Any] = {"bot_events": list(BOT_EVENTS)}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if url:
        events = {"request_url": url, **events}
        interactivity |= {"request_url": url, "message_menu_options_url": url}
    return {
        "display_information": {"name": APP_NAME, "description": APP_DESCRIPTION, "background_color": "#1d5c63"},
        "features": {
            "app_home": {
                "home_tab_enabled": True,  # mentoring at a glance (adapters.slack_bot.home)
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": APP_NAME, "always_online": True},
            "slash_commands": slash_commands,
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": url is None,
            "token_rotation_enabled": False,
        },
    }


def to_yaml(manifest: dict[str, Any]) -> str:
    return yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True, width=120)
