"""Button payloads shared by the Slack and Discord adapters.

A button carries the command it runs, so it needs no server-side state and keeps working on old
messages after a restart: ``cb:run:/role ehr`` runs a follow-up (ephemeral), ``cb:share:/role ehr``
posts the same answer in the channel. Discord caps a ``custom_id`` at 100 characters.
"""

from __future__ import annotations

from typing import Literal

PREFIX = "cb"
CUSTOM_ID_MAX = 100
Action = Literal["run", "share"]


def encode(action: Action, command: str) -> str:
    return f"{PREFIX}:{action}:{command}"[:CUSTOM_ID_MAX]


def decode(payload: str) -> tuple[Action, str] | None:
    """``(action, command)`` for one of our payloads, else None (never trust a payload's shape)."""
    prefix, _, rest = payload.partition(":")
    action, _, command = rest.partition(":")
    if prefix != PREFIX or not command.startswith("/"):
        return None
    if action == "run":
        return "run", command
    if action == "share":
        return "share", command
    return None
