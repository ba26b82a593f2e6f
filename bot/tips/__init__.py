"""The daily tips wing: ``/tips`` subscriptions, which tip comes next, and the tips job kind the
scheduler runs.

Its public face is :data:`COMMANDS`; :mod:`bot.registry` wires it in.
"""

from bot.tips.commands import COMMANDS

__all__ = ["COMMANDS"]
