"""The mentoring wing: ``/mentoring`` programs per channel, opt-in profiles, matching, rounds with
intros and check-ins as job kinds of the scheduler, and erasure.

Its public face is :data:`COMMANDS`; :mod:`bot.registry` wires it in, with its job kinds.
"""

from bot.mentoring.commands import COMMANDS
from bot.mentoring.forms import PROFILE

FORMS = (PROFILE,)

__all__ = ["COMMANDS", "FORMS"]
