"""What the bot posts to a mentoring group: the intro (who, why they were matched, a conversation
starter from the knowledge), the note to someone left out of a round, and the check-in.

Everything here is a neutral :class:`~bot.reply.Reply`; the adapters render it in the group's private
conversation. People are named by their platform ids in a field the adapters turn into mentions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.knowledge.kb import KnowledgeBase
from bot.mentoring.options import interest_label
from bot.mentoring.store import PAUSED_NOTE
from bot.reply import Field, FollowUp, Reply, Section
from bot.safety import one_line

ANSWERS = (("Met", "met"), ("Not yet", "not-yet"), ("Couldn't meet", "no"))
"""Check-in buttons: label and the word ``/mentoring checkin`` takes."""

PAUSED_TEXT = (
    "You have been paused in the mentoring program of #{channel}: the last three check-ins went "
    "unanswered, so the bot stops introducing you rather than leave your matches waiting. "
    "Run `/mentoring resume` there whenever you want to be matched again."
)
LEFT_OUT_TEXT = (
    "No match for you in this round of #{channel}: {reason}. You are first in line next round; "
    "nothing to do on your side."
)


def _starter(kb: KnowledgeBase, shared: Sequence[str]) -> str | None:
    for ref in shared:
        entry = ref.partition(":")[2]
        tips = kb.tips_tagged(entry)
        if tips:
            return str(tips[0].text)
    return None


def intro_reply(
    kb: KnowledgeBase,
    *,
    members: Sequence[tuple[str, str]],
    bios: Mapping[str, str],
    shared: Sequence[str],
    overlap_hours: int,
    odd_one: str | None,
    channel: str,
    mentor_program: bool,
    checkin_days: int,
) -> Reply:
    titles = [interest_label(kb, ref) for ref in shared]
    if mentor_program:
        title = "Your mentoring match"
        why = f"The mentor knows what the mentee wants to learn: {', '.join(titles)}." if titles else ""
    else:
        title = "Meet your mentoring group" if len(members) > 2 else "Meet your mentoring partner"
        why = f"You share an interest in {', '.join(titles)}." if titles else ""
    hours = (
        f"Your working days overlap by about {overlap_hours} h."
        if overlap_hours
        else "Your working hours barely overlap: agree on a time that suits both of you."
    )
    parts = [
        f"You were matched in the mentoring program of #{channel}.",
        why or "Someone new to talk to: compare where you are and where you want to go.",
        hours,
        f"Say hello here and pick a time for a 30-minute call; the bot checks in after {checkin_days} days.",
    ]
    summary = " ".join(parts)
    sections = []
    if odd_one is not None:
        sections.append(
            Section(
                heading="Why three of you",
                text="The program had an odd number of people this round, so one joins a pair.",
            )
        )
    for user, _ in members:
        if user in bios:
            sections.append(Section(heading=f"About {user}", text=one_line(bios[user], 200)))
    starter = _starter(kb, shared)
    if starter is not None:
        sections.append(Section(heading="A conversation starter", text=starter))
    follow_ups = []
    for ref in shared:
        kind, _, entry = ref.partition(":")
        if kind == "role":
            follow_ups.append(FollowUp(label=f"Path: {interest_label(kb, ref)}", command=f"/path {entry}"))
        elif kind in ("standard", "compliance", "skill") and len(follow_ups) < 3:
            command = {"standard": "/standard", "compliance": "/compliance", "skill": "/skills"}[kind]
            follow_ups.append(FollowUp(label=interest_label(kb, ref), command=f"{command} {entry}"))
    roles = ", ".join(f"{user} ({role})" for user, role in members)
    return Reply(
        title=title,
        summary=summary,
        fields=(Field(name="Who", value=roles, inline=False),),
        sections=tuple(sections),
        follow_ups=tuple(follow_ups[:3]),
        footer="careerbot mentoring · /mentoring snooze or /mentoring leave at any time",
        tone="answer",
    )


def note_reply(note: str, channel: str) -> Reply:
    if note == PAUSED_NOTE:
        return Reply(title="Mentoring: paused", summary=PAUSED_TEXT.format(channel=channel), tone="notice")
    return Reply(
        title="Mentoring: no match this round",
        summary=LEFT_OUT_TEXT.format(channel=channel, reason=note.rstrip(".")),
        tone="notice",
    )


CHECKIN_TITLE = "Did you meet?"
CHECKIN_TEXT = (
    "It has been {days} days since your intro in the mentoring program of #{channel}. "
    "Tap one (only you see your answer; it helps the program, and three unanswered check-ins "
    "pause you)."
)
CHECKIN_PROGRESS = "{answered} of {total} answered so far."
CHECKIN_DONE = (
    "It has been {days} days since your intro in the mentoring program of #{channel}. "
    "Everyone answered ({total} of {total}): thank you. Each answer stays private."
)


def checkin_reply(group_id: int, channel: str, days: int, *, answered: int = 0, total: int = 0) -> Reply:
    """The check-in as first posted (``answered`` 0), or as it reads after ``answered`` of the group's
    ``total`` members answered: how many, never who nor what; once everyone has, without buttons."""
    if total and answered >= total:
        return Reply(title=CHECKIN_TITLE, summary=CHECKIN_DONE.format(days=days, channel=channel, total=total))
    summary = CHECKIN_TEXT.format(days=days, channel=channel)
    if answered and total:
        summary += " " + CHECKIN_PROGRESS.format(answered=answered, total=total)
    return Reply(
        title=CHECKIN_TITLE,
        summary=summary,
        follow_ups=tuple(
            FollowUp(label=label, command=f"/mentoring checkin {word} group:{group_id}") for label, word in ANSWERS
        ),
        tone="answer",
    )
