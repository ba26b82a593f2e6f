"""One error tree for the whole bot."""

from __future__ import annotations

from dataclasses import dataclass


class CareerbotError(Exception):
    """Root of every error careerbot raises on purpose."""


class DeclarationError(CareerbotError):
    """A command declaration that no platform could express; raised at import time."""


class ConfigError(CareerbotError):
    """A missing or malformed setting; the message names the variable and never contains its value."""


class CommandError(CareerbotError):
    """A user-facing failure: ``reason`` is safe to show in a channel."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in the knowledge tree, located as precisely as we can."""

    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        field = f" {self.field}:" if self.field else ""
        return f"{self.path}:{self.line}:{field} {self.message}"


class KnowledgeError(CareerbotError):
    """The knowledge tree is invalid; ``problems`` lists everything found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class PostError(CareerbotError):
    """A scheduled post the platform did not take. ``permanent``: retrying cannot help (the channel
    is gone, the bot was removed); otherwise the scheduler retries later, within the grace window."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
