"""The careers wing: the commands that answer from the knowledge (/career, /role, /skills,
/software, /compliance, /standard, /trends, /why, /tip, /path, /search) and the answer to free text.

Its public face is :data:`COMMANDS` and :func:`question`; :mod:`bot.registry` wires them in.
"""

from bot.careers.commands import COMMANDS, question

__all__ = ["COMMANDS", "question"]
