"""The mentoring wing's tables, on the store's shared metadata; created and changed only by the
migrations in :mod:`bot.store.migrations`. Every row carries its tenant (``platform`` + ``tenant``).

What is stored about a person is the minimum a program needs: the platform user id, the role in the
program, what they know and want to learn (knowledge ids), a time zone, an optional short bio, the
opt-in state, who they do not want to be matched with, and whom they met and whether they said so.
No names, emails, employers or message content. ``/mentoring forget-me`` deletes all of it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, SmallInteger, String, Table, UniqueConstraint

from bot.schedule.jobs import job_table
from bot.store.engine import Id, metadata

#: One program per channel. kind: ``pairs`` (peer chats) or ``mentor`` (mentors x mentees).
#: state: active | paused | ended. A round is due every ``every_weeks`` weeks on ``weekday`` at
#: ``hour``:``minute`` in ``timezone``; ``rounds`` counts the rounds made. ``pool_checked``: the
#: ``next_date`` whose members were last checked against the platform (:mod:`bot.mentoring.pool`).
programs = Table(
    "mentoring_programs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("channel_name", String(100), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("group_size", SmallInteger, nullable=False),
    Column("every_weeks", SmallInteger, nullable=False),
    Column("weekday", SmallInteger, nullable=False),
    Column("hour", SmallInteger, nullable=False),
    Column("minute", SmallInteger, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("repeat_window", SmallInteger, nullable=False),
    Column("checkin_days", SmallInteger, nullable=False),
    Column("state", String(8), nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("rounds", Integer, nullable=False, server_default="0"),
    Column("next_date", String(10), nullable=True),
    Column("next_due_at", BigInteger, nullable=True),
    Column("pool_checked", String(10), nullable=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("platform", "tenant", "channel"),
    Index(None, "state", "next_due_at"),
)

#: A person who opted in to a program. role: mentor | mentee | peer. knows/wants: knowledge ids,
#: comma-separated. state: active | snoozed (until ``snooze_until``, a local date) | paused (after
#: unanswered check-ins, or by ``/mentoring snooze`` without a date). ``silent``: check-ins in a row
#: left unanswered. ``last_sat_out``: the last round this person was left out or added to a pair.
#: ``absent``: why the platform says they cannot be matched now (left the channel, deactivated, a bot,
#: a guest; None: present), set and cleared by :mod:`bot.mentoring.pool`, never by the member; rounds
#: skip them whatever their state. ``tz_source``: ``user`` when they gave ``timezone`` themselves,
#: ``platform`` when the pool check read it from the platform, None for the default at joining.
members = Table(
    "mentoring_members",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("program_id", Id, ForeignKey("mentoring_programs.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("role", String(8), nullable=False),
    Column("knows", String(1000), nullable=False, server_default=""),
    Column("wants", String(1000), nullable=False, server_default=""),
    Column("timezone", String(64), nullable=False),
    Column("tz_source", String(8), nullable=True),
    Column("bio", String(300), nullable=True),
    Column("capacity", SmallInteger, nullable=False, server_default="1"),
    Column("state", String(8), nullable=False),
    Column("snooze_until", String(10), nullable=True),
    Column("silent", SmallInteger, nullable=False, server_default="0"),
    Column("last_sat_out", Integer, nullable=True),
    Column("absent", String(16), nullable=True),
    Column("joined_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("program_id", "user_id"),
    Index(None, "platform", "tenant", "user_id"),
)

#: "Don't match me with": ``user_id`` never meets ``blocked`` in any program of the tenant. Private:
#: never shown to ``blocked``.
blocks = Table(
    "mentoring_blocks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("blocked", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("platform", "tenant", "user_id", "blocked"),
)

#: The groups of a round: one row per group, plus one per person left out (a group of one, with
#: ``note`` saying why). ``shared``: the knowledge ids behind the match, comma-separated.
groups = Table(
    "mentoring_groups",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("program_id", Id, ForeignKey("mentoring_programs.id", ondelete="CASCADE"), nullable=False),
    Column("round_no", Integer, nullable=False),
    Column("local_date", String(10), nullable=False),
    Column("shared", String(600), nullable=False, server_default=""),
    Column("overlap_hours", SmallInteger, nullable=False, server_default="0"),
    Column("odd_one", String(64), nullable=True),
    Column("note", String(200), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "program_id", "round_no"),
)

#: Who was in a group, and their check-in answer: met | not_yet | no (None: not answered).
#: ``forget-me`` replaces the person's id here by an anonymous placeholder.
group_members = Table(
    "mentoring_group_members",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("group_id", Id, ForeignKey("mentoring_groups.id", ondelete="CASCADE"), nullable=False),
    Column("program_id", Id, nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("role", String(8), nullable=False),
    Column("answer", String(8), nullable=True),
    Column("answered_at", BigInteger, nullable=True),
    UniqueConstraint("group_id", "user_id"),
    Index(None, "program_id", "user_id"),
    Index(None, "platform", "tenant", "user_id"),
)

#: The intro of each group (and the note to each person left out): a job of the scheduler.
intros = job_table(
    "mentoring_intros",
    Column("group_id", Id, ForeignKey("mentoring_groups.id", ondelete="CASCADE"), nullable=False),
)

#: The check-in of each group, due ``checkin_days`` after its intro: a job of the scheduler.
checkins = job_table(
    "mentoring_checkins",
    Column("group_id", Id, ForeignKey("mentoring_groups.id", ondelete="CASCADE"), nullable=False),
)
