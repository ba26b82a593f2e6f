"""A person's mentoring at a glance, for a platform's home screen (Slack's App Home tab).

:func:`home` answers with a neutral :class:`~bot.reply.Reply`: the programs the person is in (the
channel, their role and state, the next round), their profile in each (short), their last intros
(date, program, who, named as in the intro itself), and buttons (follow-ups) running the ordinary
``/mentoring`` commands about themselves: edit the profile (``/mentoring profile``, whose reply names
the form to open), snooze two weeks, resume. An admin also sees every program of the workspace.
Someone in no program gets a short invitation saying how to join.

A button acts on one program, so it must run in that program's channel: ``extra[CHANNELS]`` lists,
space-separated and in order, the channel each follow-up runs in (:func:`channels` reads it back).
The commands check everything as when typed: nobody acts for someone else, and a person no longer in
a program is told so. Nothing here writes.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING

from bot.commands import Invocation
from bot.context import Services
from bot.errors import CommandError
from bot.knowledge.kb import KnowledgeBase
from bot.mentoring import messages as say
from bot.mentoring.options import interest_label
from bot.reply import CAPS, MAX_FOLLOW_UPS, MAX_SECTIONS, FollowUp, Reply, Section
from bot.safety import one_line

if TYPE_CHECKING:
    from bot.mentoring.store import PastGroup, Profile, Program

log = logging.getLogger("careerbot.mentoring")

CHANNELS = "home_channels"
"""The key of ``Reply.extra`` naming the channel of each follow-up, space-separated, in order."""
INTROS_SHOWN = 5
PROGRAMS_SHOWN = 8
"""Programs of one person shown as sections (the rest are counted); buttons fit fewer (two each)."""
WORKSPACE_SHOWN = 40
"""Programs of the workspace an admin sees listed."""
EXTRA_VALUE_MAX = 200
"""What one value of ``Reply.extra`` holds."""

TITLE = "Your mentoring"
SUMMARY = "Programs you are in, your profile in each, and your last intros. Only you see this."
NOT_IN_ANY = (
    "You are not in a mentoring program yet. Programs run in channels: in a channel that has one, "
    "`/mentoring` shows it and `/mentoring join` opts you in (e.g. `/mentoring join knows:fhir wants:dicom`). "
    "Nobody is ever enrolled for you, and `/mentoring leave` takes you out at any time."
)
NO_INTROS = "No intros yet: they come with the next round of a program you are in."
INTROS_HEADING = "Your last intros"
WORKSPACE_HEADING = "Programs in this workspace (admins)"
NO_PROGRAMS = "No program yet. Start one in a channel with `/mentoring program create`."
MORE = "…and {count} more."
MORE_HEADING = "More programs"
LISTED = "Only the first {shown} are listed."
EDIT = "Edit profile"
SNOOZE = "Snooze 2 weeks"
RESUME = "Resume"
EDIT_COMMAND = "/mentoring profile"
SNOOZE_COMMAND = "/mentoring snooze until:2w"
RESUME_COMMAND = "/mentoring resume"
COMMANDS = frozenset({EDIT_COMMAND, SNOOZE_COMMAND, RESUME_COMMAND})
"""Every command a home button runs."""


def channels(reply: Reply) -> tuple[str, ...]:
    """The channel each of ``reply``'s follow-ups runs in ("" when the reply does not say)."""
    listed = reply.extra.get(CHANNELS, "").split()
    return tuple(listed[i] if i < len(listed) else "" for i in range(len(reply.follow_ups)))


async def home(kb: KnowledgeBase, services: Services | None, invocation: Invocation) -> Reply:
    """``invocation``'s person's mentoring in its tenant (``admin``: a platform admin, as the adapter
    found; ``CAREERBOT_ADMINS`` counts too). Never raises for a store problem: an error reply."""
    if services is None:
        return Reply(title=say.UNAVAILABLE_TITLE, summary=say.UNAVAILABLE, tone="notice")
    try:
        opened = await services.store()
        async with opened.failures():
            return await _home(kb, services, invocation)
    except CommandError as exc:
        return Reply(title=TITLE, summary=exc.reason, tone="error")
    except Exception as exc:
        from bot.store.problems import StoreError

        if not isinstance(exc, StoreError):
            raise
        log.error("the store failed: %s", exc.detail)
        return Reply(title=TITLE, summary=exc.reason, tone="error")


async def _home(kb: KnowledgeBase, services: Services, invocation: Invocation) -> Reply:
    from bot.mentoring.store import TenantMentoring
    from bot.store.engine import Tenant

    store = TenantMentoring(await services.store(), Tenant(invocation.platform, invocation.tenant))
    joined = await store.profiles(invocation.user)
    sections: list[Section] = []
    follow_ups: list[FollowUp] = []
    where: list[str] = []
    for program, profile in joined[:PROGRAMS_SHOWN]:
        sections.append(Section(heading=_channel(program), text=_membership(kb, program, profile)))
        for label, command in _buttons(program, profile):
            shown = label if len(joined) == 1 else f"{label} · {_channel(program)}"
            follow_ups.append(FollowUp(label=shown, command=command))
            where.append(program.channel)
    if len(joined) > PROGRAMS_SHOWN:
        sections.append(Section(heading=MORE_HEADING, text=MORE.format(count=len(joined) - PROGRAMS_SHOWN)))
    if joined:
        past = await store.past_groups(invocation.user, INTROS_SHOWN)
        sections.append(Section(heading=INTROS_HEADING, text=_intros(past, invocation.user)))
    if services.is_admin(invocation):
        workspace = await store.programs(WORKSPACE_SHOWN + 1)
        sections.append(Section(heading=WORKSPACE_HEADING, text=_workspace(workspace)))
    # Buttons fit in pairs per program; those past the cap are left out with their channels.
    follow_ups, where = follow_ups[:MAX_FOLLOW_UPS], where[:MAX_FOLLOW_UPS]
    while len(" ".join(where)) > EXTRA_VALUE_MAX:
        follow_ups, where = follow_ups[:-1], where[:-1]
    return Reply(
        title=TITLE,
        summary=SUMMARY if joined else NOT_IN_ANY,
        sections=tuple(sections[:MAX_SECTIONS]),
        follow_ups=tuple(follow_ups),
        extra={CHANNELS: " ".join(where)} if where else {},
        tone="answer" if joined else "notice",
    )


# ------------------------------------------------------------------ pieces


def _channel(program: Program) -> str:
    return f"#{program.channel_name}"


def _day(iso: str | None) -> str:
    if not iso:
        return "?"
    try:
        return f"{date.fromisoformat(iso):%a %d %b %Y}"
    except ValueError:
        return one_line(iso, 10)


def _next(program: Program) -> str:
    if program.state != "active" or program.next_date is None:
        return say.NOT_SCHEDULED.format(state=program.state)
    s = program.settings
    return f"{_day(program.next_date)}, {s.hour:02d}:{s.minute:02d} {s.timezone}"


def _state(profile: Profile) -> str:
    if profile.state == "snoozed" and profile.snooze_until:
        return f"snoozed until {_day(profile.snooze_until)}"
    if profile.state == "paused":
        return "paused (Resume to be matched again)"
    return one_line(profile.state, 20)


def _refs(kb: KnowledgeBase, refs: tuple[str, ...]) -> str:
    return ", ".join(interest_label(kb, r) for r in refs) or say.NOTHING


def _membership(kb: KnowledgeBase, program: Program, profile: Profile) -> str:
    lines = [
        f"- Role: {profile.role} · You: {_state(profile)}",
        f"- Next round: {_next(program)}",
        f"- Knows: {_refs(kb, profile.knows)} · Wants to learn: {_refs(kb, profile.wants)}",
        f"- Time zone: {one_line(profile.timezone, 64)}",
    ]
    if profile.role == "mentor":
        lines[0] += f" · Up to {profile.capacity} mentee{'s' if profile.capacity != 1 else ''} a round"
    if profile.bio:
        lines.append(f"- Bio: {one_line(profile.bio, 200)}")
    return "\n".join(lines)


def _buttons(program: Program, profile: Profile) -> list[tuple[str, str]]:
    if program.state == "ended":
        return []
    out = [(EDIT, EDIT_COMMAND)]
    out.append((SNOOZE, SNOOZE_COMMAND) if profile.state == "active" else (RESUME, RESUME_COMMAND))
    return out


def _intros(past: list[PastGroup], user: str) -> str:
    if not past:
        return NO_INTROS
    lines = []
    for group in past:
        others = [(u, role) for u, role in group.members if u != user]
        who = ", ".join(f"{say.person(u)} ({role})" for u, role in others) or "someone who left"
        lines.append(f"- {_day(group.local_date)} · #{group.channel_name} · with {who}")
    return "\n".join(lines)


def _workspace(found: list[tuple[Program, int]]) -> str:
    if not found:
        return NO_PROGRAMS
    lines = []
    for program, members in found[:WORKSPACE_SHOWN]:
        people = f"{members} member{'s' if members != 1 else ''}"
        rounds = f"{program.rounds} round{'s' if program.rounds != 1 else ''} so far"
        lines.append(f"- {_channel(program)}: {program.state} · {people} · next round {_next(program)} · {rounds}")
    if len(found) > WORKSPACE_SHOWN:
        lines.append(LISTED.format(shown=WORKSPACE_SHOWN))
    text = "\n".join(lines)
    while len(text) > CAPS["text"] and len(lines) > 1:  # cut whole lines, and say so
        lines = lines[:-2] + [LISTED.format(shown=len(lines) - 2)]
        text = "\n".join(lines)
    return text


# ------------------------------------------------------------------ onboarding

INVITE_TITLE = "Mentoring in #{channel}"
INVITE = (
    "This channel runs a mentoring program: {about}. It is opt-in: nothing happens unless you join. "
    "Members are introduced privately each round, and can snooze or leave at any time."
)
JOIN_LABEL = "Join and fill in your profile"
JOIN_COMMAND = "/mentoring join"
ABOUT_LABEL = "About this program"
ABOUT_COMMAND = "/mentoring"


async def invitation(services: Services | None, invocation: Invocation) -> Reply | None:
    """The invitation for someone who just joined ``invocation.channel``: only when an active program
    runs there and they are not in it yet; None otherwise (and for any store problem). Writes nothing."""
    if services is None:
        return None
    from bot.mentoring.store import TenantMentoring
    from bot.store.engine import Tenant

    try:
        opened = await services.store()
        async with opened.failures():
            store = TenantMentoring(opened, Tenant(invocation.platform, invocation.tenant))
            program = await store.program(invocation.channel)
            if program is None or program.state != "active":
                return None
            if await store.profile(program, invocation.user) is not None:
                return None
    except Exception as exc:
        from bot.store.problems import StoreError

        if not isinstance(exc, StoreError):
            raise
        log.error("the store failed: %s", exc.detail)
        return None
    return Reply(
        title=INVITE_TITLE.format(channel=program.channel_name),
        summary=INVITE.format(about=say.about(program.settings)),
        follow_ups=(
            FollowUp(label=JOIN_LABEL, command=JOIN_COMMAND),
            FollowUp(label=ABOUT_LABEL, command=ABOUT_COMMAND),
        ),
        tone="notice",
    )
