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


#: A report (:meth:`KnowledgeError.report`) lists at most this many problems, then "... and N more problems".
REPORT_PROBLEMS = 50
#: Each line of a report is cut to this many characters, whatever a knowledge file holds.
REPORT_LINE_CHARS = 400


class KnowledgeError(CareerbotError):
    """The knowledge tree is invalid; ``problems`` lists everything found, not just the first.

    ``complete`` is False when the loader stopped looking after too many problems (see
    :attr:`bot.knowledge.loader.Limits.problems`): there are more than ``problems`` lists.
    """

    def __init__(self, problems: list[Problem], *, complete: bool = True) -> None:
        self.problems = problems
        self.complete = complete
        super().__init__("\n".join(str(p) for p in problems))

    def report(self, limit: int = REPORT_PROBLEMS) -> str:
        """The problems as ``FILE:LINE: field: message`` lines, readable whatever the files hold: at most
        ``limit`` lines of at most :data:`REPORT_LINE_CHARS` characters, then one line counting the rest."""
        lines = [_clip_line(str(p)) for p in self.problems[:limit]]
        rest = len(self.problems) - len(lines)
        if rest > 0 or not self.complete:
            more = f"{rest}+" if not self.complete else str(rest)
            lines.append(f"... and {more} more problems" + ("" if self.complete else " (checking stopped there)"))
        return "\n".join(lines)


def _clip_line(text: str) -> str:
    text = "".join(c if c.isprintable() else "?" for c in text[: REPORT_LINE_CHARS + 1])
    return text if len(text) <= REPORT_LINE_CHARS else text[: REPORT_LINE_CHARS - 1] + "…"


class PostError(CareerbotError):
    """A scheduled post the platform did not take. ``permanent``: retrying cannot help (the channel
    is gone, the bot was removed); otherwise the scheduler retries later, within the grace window."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
