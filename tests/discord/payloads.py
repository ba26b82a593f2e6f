"""The Discord objects of the fake's world, as Discord's API v10 serialises them: one application
and its bot, one guild with one text channel, one user (a member with every permission). Tests may add channels
and overwrites to :attr:`FakeDiscord.guild` before the client connects."""

from __future__ import annotations

from typing import Any

APP_ID = 1100000000000000001
BOT_ID = APP_ID
GUILD_ID = 1200000000000000002
CHANNEL_ID = 1300000000000000003
USER_ID = 1400000000000000004
TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.GfAkEd.fake-token-for-tests-only_0123456789abc"
EPHEMERAL = 64
TIMESTAMP = "2026-01-01T00:00:00.000000+00:00"
OPTION_TYPES = {str: 3, int: 4, bool: 5}

BOT_USER = {"id": str(BOT_ID), "username": "careerbot", "discriminator": "0", "avatar": None, "bot": True}
USER = {"id": str(USER_ID), "username": "alice", "discriminator": "0", "global_name": "Alice", "avatar": None}
MEMBER = {"roles": [], "joined_at": TIMESTAMP, "deaf": False, "mute": False, "flags": 0, "permissions": "2147483647"}
CHANNEL = {"id": str(CHANNEL_ID), "type": 0, "guild_id": str(GUILD_ID), "name": "general", "position": 0}
CHANNEL |= {"permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None}


def application() -> dict[str, Any]:
    return {
        "id": str(APP_ID),
        "name": "careerbot",
        "description": "",
        "icon": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": USER,
        "verify_key": "0" * 64,
        "flags": 0,
        "team": None,
        "summary": "",
        "bot": BOT_USER,
    }


def message(mid: str, body: dict[str, Any], *, kind: int = 0, flags: int = 0) -> dict[str, Any]:
    """A message the bot created from a request ``body`` (content, embeds, components)."""
    return {
        "id": mid,
        "channel_id": str(CHANNEL_ID),
        "author": BOT_USER,
        "content": body.get("content") or "",
        "timestamp": TIMESTAMP,
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": body.get("embeds") or [],
        "pinned": False,
        "type": kind,
        "flags": flags,
        "components": body.get("components") or [],
    }


def bot_member() -> dict[str, Any]:
    return {"user": BOT_USER, "roles": [], "joined_at": TIMESTAMP, "deaf": False, "mute": False, "flags": 0}


def guild_channel(channel_id: int, name: str, *overwrites: dict[str, Any], kind: int = 0) -> dict[str, Any]:
    """A guild channel (``kind`` 0 text, 2 voice, 4 category, 5 announcement, 15 forum)."""
    channel = CHANNEL | {"id": str(channel_id), "name": name, "type": kind, "position": channel_id % 100}
    if kind == 2:
        channel |= {"bitrate": 64000, "user_limit": 0, "rtc_region": None}
    return channel | {"permission_overwrites": list(overwrites)}


def deny(target: int, permissions: int, *, member: bool = True) -> dict[str, Any]:
    """A permission overwrite denying ``permissions`` to a member (or a role) in one channel."""
    return {"id": str(target), "type": 1 if member else 0, "allow": "0", "deny": str(permissions)}


def guild() -> dict[str, Any]:
    """GUILD_CREATE for the one guild the bot is in."""
    everyone = {"id": str(GUILD_ID), "name": "@everyone", "permissions": "2147483647", "position": 0}
    everyone |= {"color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0}
    return {
        "id": str(GUILD_ID),
        "name": "Healthcare devs",
        "icon": None,
        "owner_id": str(USER_ID),
        "roles": [everyone],
        "emojis": [],
        "stickers": [],
        "features": [],
        "member_count": 2,
        "channels": [CHANNEL],
        "members": [bot_member()],  # Discord always sends the bot's own member, intents or not
        "threads": [],
        "presences": [],
        "voice_states": [],
        "unavailable": False,
        "large": False,
        "joined_at": TIMESTAMP,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "premium_tier": 0,
        "nsfw_level": 0,
        "preferred_locale": "en-US",
        "system_channel_flags": 0,
    }
