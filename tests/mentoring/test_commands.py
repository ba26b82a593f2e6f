"""/mentoring as admins and members use it, on both databases: programs, joining with what you know
and want, roles, bios, snoozing, blocking, check-ins and forget-me; refusals that change nothing;
and hostile input in every option."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import String, func, select, update

from bot import messages
from bot.core import Core
from bot.knowledge.loader import default_knowledge_dir
from bot.markup import parse_inline
from bot.mentoring import tables
from bot.mentoring.options import OPTIONS
from bot.reply import Reply
from bot.store.engine import metadata
from tests.mentions import HOSTILE_MENTIONS, live_mentions
from tests.mentoring.conftest import MentoringBot, registry
from tests.tips.conftest import at

ROOT = Path(__file__).resolve().parents[2]


def safe(reply: Reply) -> None:
    """No traceback, nothing that pings, an error in one line."""
    assert reply.title != messages.INTERNAL_ERROR_TITLE, reply
    for text in reply.strings():
        assert live_mentions(text) == [], text
    if reply.tone == "error":
        assert "\n" not in reply.summary and reply.summary, reply


def refused(reply: Reply, says: str = "") -> None:
    safe(reply)
    assert reply.tone == "error", reply
    assert says in reply.summary, reply.summary


async def members(bot: MentoringBot) -> dict[str, dict[str, Any]]:
    async with bot.store.connect() as conn:
        rows = await conn.execute(select(tables.members))
        return {r.user_id: dict(r._mapping) for r in rows}


async def blocks(bot: MentoringBot) -> list[tuple[str, str]]:
    async with bot.store.connect() as conn:
        rows = await conn.execute(select(tables.blocks.c.user_id, tables.blocks.c.blocked))
        return sorted((r.user_id, r.blocked) for r in rows)


async def start(bot: MentoringBot, options: str = "") -> Reply:
    reply = await bot.ask(f"/mentoring program create {options}", admin=True)
    assert reply.tone == "answer", reply.summary
    return reply


async def seed_round(bot: MentoringBot, together: list[list[str]], left_out: list[str]) -> list[int]:
    """A round of the program in C1 as the scheduler makes it: the groups and each person left out
    (a group of one with a note), their intro jobs; returns the group ids in order."""
    ids = []
    async with bot.store.begin() as conn:
        program = (await conn.execute(select(tables.programs).where(tables.programs.c.channel == "C1"))).one()
        round_no = program.rounds + 1
        where = {"platform": "slack", "tenant": "T1"}
        for people in [*together, *([user] for user in left_out)]:
            alone = len(people) == 1
            result = await conn.execute(
                tables.groups.insert().values(
                    **where,
                    program_id=program.id,
                    round_no=round_no,
                    local_date="2025-03-03",
                    odd_one=people[-1] if len(people) == 3 else None,
                    note="nobody left to meet this round" if alone else None,
                    created_at=0,
                )
            )
            group = result.inserted_primary_key[0]
            ids.append(group)
            for user in people:
                await conn.execute(
                    tables.group_members.insert().values(
                        **where, group_id=group, program_id=program.id, user_id=user, role="peer"
                    )
                )
            job = {"local_date": "2025-03-03", "channel": "C1", "due_at": 0, "created_at": 0, "updated_at": 0}
            await conn.execute(tables.intros.insert().values(**where, group_id=group, state="pending", **job))
        await conn.execute(update(tables.programs).where(tables.programs.c.id == program.id).values(rounds=round_no))
    return ids


# ------------------------------------------------------------------ programs


async def test_without_a_program_it_says_how_an_admin_starts_one(mentoring_bot: MentoringBot) -> None:
    reply = await mentoring_bot.ask("/mentoring")
    assert reply.tone == "notice" and reply.title == "No mentoring program in this channel"
    assert "/mentoring program create" in reply.summary
    refused(await mentoring_bot.ask("/mentoring join"), "There is no mentoring program in this channel")


@pytest.mark.parametrize("step", ["create", "pause", "resume", "end", "status", "report", "report csv:true"])
async def test_only_admins_run_programs(mentoring_bot: MentoringBot, step: str) -> None:
    await start(mentoring_bot)
    before = await mentoring_bot.snapshot()
    refused(await mentoring_bot.ask(f"/mentoring program {step}"), "Only workspace admins can run mentoring programs")
    refused(await mentoring_bot.options({"action": "program", "step": step.split()[0]}))
    assert await mentoring_bot.snapshot() == before
    listed_admin = await mentoring_bot.ask(f"/mentoring program {step}", user="UADMIN")  # CAREERBOT_ADMINS
    assert listed_admin.tone != "error" or step == "create", listed_admin.summary


async def test_create_with_the_defaults_says_when_the_first_round_is(mentoring_bot: MentoringBot) -> None:
    reply = await start(mentoring_bot)
    assert reply.title == "Mentoring started in #C1"
    assert reply.summary.startswith("Peer groups of 2, every 2 weeks on Monday at 10:00 UTC.")
    assert "The first round is due Mon 03 Mar 2025, 10:00 UTC." in reply.summary  # today, still ahead
    status = await mentoring_bot.ask("/mentoring")
    assert status.title == "Mentoring in #C1" and "0 members" in status.summary
    assert "You are not in this program" in status.sections[0].text


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (
            "kind:mentor every:weekly day:tue time:17:30 timezone:europe/berlin repeat:3 checkin:5",
            "Mentors and mentees, one to one, every week on Tuesday at 17:30 Europe/Berlin. "
            "The first round is due Tue 04 Mar 2025, 17:30 Europe/Berlin.",
        ),
        ("size:3 every:2w day:friday", "Peer groups of 3, every 2 weeks on Friday at 10:00 UTC."),
        ("every:biweekly time:9am", "every 2 weeks on Monday at 09:00 UTC"),
        ("every:4 weeks day:wed", "every 4 weeks on Wednesday"),
    ],
)
async def test_create_with_options(mentoring_bot: MentoringBot, options: str, says: str) -> None:
    assert says in (await start(mentoring_bot, options)).summary


async def test_the_default_zone_is_the_workspaces(mentoring_bot: MentoringBot) -> None:
    mentoring_bot.poster.timezone = "America/Chicago"
    assert "10:00 America/Chicago" in (await start(mentoring_bot)).summary


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ("kind:trios", "`kind` must be one of `pairs`, `mentor`"),
        ("size:5", "`size` must be a whole number from 2 to 4"),
        ("kind:mentor size:3", "A mentor program matches one mentor with one mentee"),
        ("every:3", "“3” is not a cadence"),
        ("day:weekdays", "“weekdays” is not one day of the week"),
        ("time:25:00", "“25:00” is not a time"),
        ("timezone:Europe/Berln", "Did you mean `Europe/Berlin`?"),
        ("repeat:27", "`repeat` must be a whole number from 1 to 26"),
        ("checkin:0", "`checkin` must be a whole number from 1 to 28"),
        ("csv:true", "`/mentoring program create` does not take `csv`"),
        ("role:mentor", "`/mentoring program create` does not take `role`"),
        ("trios", "I could not tell what “trios” is"),
    ],
)
async def test_bad_program_options_change_nothing(mentoring_bot: MentoringBot, options: str, says: str) -> None:
    before = await mentoring_bot.snapshot()
    refused(await mentoring_bot.ask(f"/mentoring program create {options}", admin=True), says)
    assert await mentoring_bot.snapshot() == before


async def test_no_program_where_people_cannot_be_reached_privately(mentoring_bot: MentoringBot) -> None:
    mentoring_bot.poster.private_groups = False
    refused(await mentoring_bot.ask("/mentoring program create", admin=True), "private group messages")
    refused(await mentoring_bot.ask("/mentoring program create", admin=True, platform="discord"), "on Discord")
    assert (await members(mentoring_bot)) == {} and (await mentoring_bot.ask("/mentoring")).tone == "notice"


async def test_a_second_create_keeps_the_first_program(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot, "size:3")
    before = await mentoring_bot.snapshot()
    again = await mentoring_bot.ask("/mentoring program create size:4", admin=True)
    assert again.tone == "notice" and again.title == "#C1 already has a mentoring program"
    assert await mentoring_bot.snapshot() == before


async def test_pause_resume_end(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    assert (await mentoring_bot.ask("/mentoring program pause", admin=True)).title == "Mentoring paused in #C1"
    again = await mentoring_bot.ask("/mentoring program pause", admin=True)
    assert again.tone == "notice" and again.title == "The program in #C1 is already paused"
    status = await mentoring_bot.ask("/mentoring program status", admin=True)
    assert {f.name: f.value for f in status.fields}["Next round"] == "not scheduled (paused)"
    resumed = await mentoring_bot.ask("/mentoring program resume", admin=True)
    assert resumed.summary == "The next round is due Mon 03 Mar 2025, 10:00 UTC."
    assert (await mentoring_bot.ask("/mentoring program end", admin=True)).title == "Mentoring ended in #C1"
    refused(await mentoring_bot.ask("/mentoring program resume", admin=True), "cannot be resumed")
    refused(await mentoring_bot.ask("/mentoring join"), "has ended")
    assert (await start(mentoring_bot, "kind:mentor")).title == "Mentoring started in #C1"  # a new one replaces it


# ------------------------------------------------------------------ joining


async def test_join_resolves_what_you_know_and_want_to_ids(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    reply = await mentoring_bot.ask("/mentoring join knows:HL7 FHIR, sql wants:dicom hipaa timezone:Europe/Berlin")
    assert reply.title == "You joined mentoring in #C1", reply.summary
    assert "a group of 2" in reply.summary and "Mon 03 Mar 2025" in reply.summary
    me = (await members(mentoring_bot))["U1"]
    assert (me["role"], me["knows"], me["wants"]) == (
        "peer",
        "standard:fhir,skill:sql",
        "standard:dicom,compliance:hipaa",
    )
    assert me["timezone"] == "Europe/Berlin" and me["state"] == "active"
    await mentoring_bot.ask(
        "/mentoring join knows:electronic health records,role:security wants:Risk management", user="U2"
    )
    other = (await members(mentoring_bot))["U2"]
    assert (other["knows"], other["wants"]) == ("role:ehr,role:security", "skill:risk-management")
    status = await mentoring_bot.ask("/mentoring")
    assert "2 members" in status.summary and "HL7 FHIR" in status.sections[0].text


async def test_an_unknown_interest_gets_a_did_you_mean_and_changes_nothing(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    before = await mentoring_bot.snapshot()
    refused(
        await mentoring_bot.ask("/mentoring join knows:fhri"), "I don't know “fhri” (in `knows`). Did you mean `fhir`"
    )
    refused(
        await mentoring_bot.ask("/mentoring join wants:dicom,underwater-basket-weaving"), "“underwater-basket-weaving”"
    )
    eleven = ",".join(["fhir", "sql", "dicom", "hipaa", "gdpr", "loinc", "cda", "ihe", "cpt", "rxnorm", "cloud"])
    refused(await mentoring_bot.ask(f"/mentoring join knows:{eleven}"), "at most 10 entries; you gave 11")
    assert await mentoring_bot.snapshot() == before


async def test_roles_follow_the_kind_of_program(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    refused(await mentoring_bot.ask("/mentoring join role:mentor"), "join as `role:peer`")
    await mentoring_bot.ask("/mentoring program end", admin=True)
    await start(mentoring_bot, "kind:mentor")
    before = await mentoring_bot.snapshot()
    refused(await mentoring_bot.ask("/mentoring join role:peer"), "join as `role:mentor` or `role:mentee`")
    refused(await mentoring_bot.ask("/mentoring join capacity:2"), "Only mentors take a capacity")
    refused(await mentoring_bot.ask("/mentoring join role:mentor capacity:6"), "from 1 to 5")
    assert await mentoring_bot.snapshot() == before
    assert "a mentor" in (await mentoring_bot.ask("/mentoring join")).summary
    mentor = await mentoring_bot.ask("/mentoring join mentor capacity:3 knows:fhir", user="U2")
    assert "up to 3 mentees" in mentor.summary
    found = await members(mentoring_bot)
    assert (found["U1"]["role"], found["U2"]["role"], found["U2"]["capacity"]) == ("mentee", "mentor", 3)


async def test_bio_rules(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    before = await mentoring_bot.snapshot()
    refused(await mentoring_bot.ask("/mentoring join bio:" + "x" * 201), "Your bio is 201 characters; at most 200")
    refused(await mentoring_bot.ask("/mentoring join bio:hi\x07there"), "control characters")
    refused(await mentoring_bot.options({"action": "join", "bio": "hi\u202ethere"}), "control characters")
    assert await mentoring_bot.snapshot() == before
    bio = "I build *FHIR* APIs, ask me `anything` <@U9> @everyone <!channel> [click](https://evil.example) _now_"
    reply = await mentoring_bot.ask(f"/mentoring join role:peer bio:{bio}")
    safe(reply)
    stored = (await members(mentoring_bot))["U1"]["bio"]
    assert stored.startswith("I build") and stored.endswith("now" + "\u02cd") and "ask me" in stored
    assert live_mentions(stored) == [] and all(span.kind == "text" for span in parse_inline(stored))
    assert "role:peer" not in stored  # options before bio: are options; everything after it is the bio
    await mentoring_bot.ask("/mentoring profile bio: whatever role:mentor comes after is bio")
    assert (await members(mentoring_bot))["U1"]["bio"] == "whatever role:mentor comes after is bio"


async def test_profile_changes_only_what_is_given(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    refused(await mentoring_bot.ask("/mentoring profile knows:sql"), "You are not in the mentoring program of #C1")
    await mentoring_bot.ask("/mentoring join knows:fhir wants:dicom bio:Hello")
    reply = await mentoring_bot.ask("/mentoring profile wants:sql,cloud")
    assert reply.title == "Your mentoring profile in #C1 is updated"
    me = (await members(mentoring_bot))["U1"]
    assert (me["knows"], me["wants"], me["bio"]) == ("standard:fhir", "skill:sql,skill:cloud", "Hello")
    await mentoring_bot.ask("/mentoring join knows:none")  # joining again updates too
    assert (await members(mentoring_bot))["U1"]["knows"] == ""


async def test_discord_options_mean_the_same(mentoring_bot: MentoringBot) -> None:
    await mentoring_bot.options({"action": "program", "step": "create", "every": "weekly"}, admin=True)
    reply = await mentoring_bot.options({"action": "join", "knows": "fhir, sql", "bio": "Hi there, I'm new"})
    assert reply.title == "You joined mentoring in #C1"
    me = (await members(mentoring_bot))["U1"]
    assert (me["knows"], me["bio"]) == ("standard:fhir,skill:sql", "Hi there, I'm new")


# ------------------------------------------------------------------ snoozing, leaving


async def test_snooze_resume_leave(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    refused(await mentoring_bot.ask("/mentoring snooze"), "You are not in the mentoring program of #C1")
    await mentoring_bot.ask("/mentoring join timezone:Pacific/Auckland")  # already Monday evening there
    before = await mentoring_bot.snapshot()
    refused(await mentoring_bot.ask("/mentoring snooze until:2025-03-03"), "is not after today (2025-03-03)")
    refused(await mentoring_bot.ask("/mentoring snooze until:2025-09-02"), "more than 26 weeks away")
    refused(await mentoring_bot.ask("/mentoring snooze until:2025-02-30"), "“2025-02-30” is not a date")
    refused(await mentoring_bot.ask("/mentoring snooze until:someday"), "“someday” is not a date")
    assert await mentoring_bot.snapshot() == before
    snoozed = await mentoring_bot.ask("/mentoring snooze 2w")
    assert snoozed.title == "Mentoring snoozed until Mon 17 Mar 2025"
    me = (await members(mentoring_bot))["U1"]
    assert (me["state"], me["snooze_until"]) == ("snoozed", "2025-03-17")
    assert "snoozed until 2025-03-17" in (await mentoring_bot.ask("/mentoring status")).sections[0].text
    assert (await mentoring_bot.ask("/mentoring snooze")).title == "Mentoring paused for you"
    assert (await members(mentoring_bot))["U1"]["state"] == "paused"
    assert (await mentoring_bot.ask("/mentoring resume")).title == "You are back in mentoring"
    assert (await members(mentoring_bot))["U1"]["state"] == "active"
    assert (await mentoring_bot.ask("/mentoring leave")).title == "You left mentoring in #C1"
    assert await members(mentoring_bot) == {}
    assert (await mentoring_bot.ask("/mentoring leave")).tone == "notice"
    refused(await mentoring_bot.ask("/mentoring leave please"), "`/mentoring leave` takes no options")


async def test_from_a_private_message_the_only_program_is_meant(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    await mentoring_bot.ask("/mentoring join")
    assert (await mentoring_bot.ask("/mentoring snooze until:1w", channel="D1")).tone == "answer"
    assert (await members(mentoring_bot))["U1"]["snooze_until"] == "2025-03-10"
    refused(await mentoring_bot.ask("/mentoring resume", channel="D1", user="U7"), "not in a mentoring program")


# ------------------------------------------------------------------ blocking, consent


async def test_block_and_unblock(mentoring_bot: MentoringBot) -> None:
    blocked = await mentoring_bot.ask("/mentoring block user:<@U2>")
    assert blocked.title == "You will not be matched with U2" and "They are not told" in blocked.summary
    assert (await mentoring_bot.ask("/mentoring block U2")).tone == "notice"  # already
    await mentoring_bot.ask("/mentoring block <@U3|carol>")
    assert await blocks(mentoring_bot) == [("U1", "U2"), ("U1", "U3")]
    before = await mentoring_bot.snapshot()
    refused(await mentoring_bot.ask("/mentoring block user:U1"), "You cannot block yourself")
    refused(await mentoring_bot.ask("/mentoring block <@U1>"), "You cannot block yourself")
    refused(await mentoring_bot.ask("/mentoring block <!channel>"), "not a person")
    refused(await mentoring_bot.ask("/mentoring block @everyone"), "not a person")
    refused(await mentoring_bot.ask("/mentoring block <@&42>"), "not a person")
    refused(
        await mentoring_bot.ask("/mentoring block <@123456789012345678>"), "is not a person"
    )  # a Discord id on Slack
    refused(await mentoring_bot.ask("/mentoring block"), "Say who")
    assert await mentoring_bot.snapshot() == before
    assert (await mentoring_bot.ask("/mentoring unblock user:U2")).title == "You can be matched with U2 again"
    assert (await mentoring_bot.ask("/mentoring unblock user:U2")).tone == "notice"
    assert await blocks(mentoring_bot) == [("U1", "U3")]
    on_discord = await mentoring_bot.ask("/mentoring block <@!123456789012345678>", platform="discord", user="42")
    assert on_discord.title == "You will not be matched with 123456789012345678"


@pytest.mark.parametrize(
    "text",
    [
        "/mentoring join user:U9",
        "/mentoring profile user:U9 knows:fhir",
        "/mentoring leave user:U9",
        "/mentoring snooze user:U9",
        "/mentoring resume user:U9",
        "/mentoring forget-me user:U9",
        "/mentoring checkin met group:1 user:U9",
        "/mentoring status user:U9",
    ],
)
async def test_nobody_can_act_for_someone_else(mentoring_bot: MentoringBot, text: str) -> None:
    await start(mentoring_bot)
    await mentoring_bot.ask("/mentoring join", user="U9")
    before = await mentoring_bot.snapshot()
    refused(await mentoring_bot.ask(text, admin=True), "is always about you")
    action = text.split()[1]
    refused(await mentoring_bot.options({"action": action, "user": "U9"}, admin=True), "is always about you")
    assert await mentoring_bot.snapshot() == before


# ------------------------------------------------------------------ check-ins, reports, forgetting


async def test_check_in_answers_are_recorded_for_group_members_only(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    pair, alone = await seed_round(mentoring_bot, [["U1", "U2"]], ["U3"])
    reply = await mentoring_bot.ask(f"/mentoring checkin met {pair}")  # what the check-in's button runs
    assert reply.title == "Thanks for checking in"
    await mentoring_bot.ask(f"/mentoring checkin not-yet group:{pair}", user="U2")
    before = await mentoring_bot.snapshot()
    refused(await mentoring_bot.ask(f"/mentoring checkin met group:{pair}", user="U3"), f"not in group {pair}")
    refused(await mentoring_bot.ask("/mentoring checkin met group:99999"), "not in group 99999")
    refused(await mentoring_bot.ask("/mentoring checkin maybe group:1"), "“maybe” is not something")
    refused(await mentoring_bot.ask("/mentoring checkin met"), "Say which group")
    refused(await mentoring_bot.ask("/mentoring checkin"), "Say how it went")
    assert await mentoring_bot.snapshot() == before
    async with mentoring_bot.store.connect() as conn:
        rows = await conn.execute(select(tables.group_members.c.user_id, tables.group_members.c.answer))
        assert dict(rows.all()) == {"U1": "met", "U2": "not_yet", "U3": None}
    assert alone != pair


async def test_the_buttons_of_a_real_check_in_record_the_answer(mentoring_bot: MentoringBot) -> None:
    """A round made by the scheduler: the check-in's buttons run /mentoring checkin for whoever presses them."""
    from bot.registry import job_kinds
    from bot.schedule.scheduler import Scheduler

    await start(mentoring_bot, "every:weekly checkin:2")
    for user in ("U1", "U2"):
        await mentoring_bot.ask("/mentoring join knows:fhir wants:sql", user=user)
    kinds = job_kinds(lambda: mentoring_bot.core.kb)
    scheduler = Scheduler(mentoring_bot.store, {"slack": mentoring_bot.poster}, kinds, clock=mentoring_bot.clock)
    for moment in ("2025-03-03T10:00", "2025-03-05T10:00"):
        mentoring_bot.clock.set(at(moment))
        await scheduler.run_once()
    checkin = next(post for post in mentoring_bot.poster.sent if post.key.startswith("mc"))
    assert sorted(checkin.audience) == ["U1", "U2"]
    met = next(button.command for button in checkin.reply.follow_ups if " met " in button.command)
    assert (await mentoring_bot.ask(met, user="U2")).title == "Thanks for checking in"
    refused(await mentoring_bot.ask(met, user="U3"), "You were not in group")
    report = await mentoring_bot.ask("/mentoring program report", admin=True)
    assert report.summary == "Rounds: 1. Groups: 1. Match rate: 100%. Met rate: 100%."


async def test_report_shows_participation_and_rates(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    for user in ("U1", "U2", "U3", "U4"):
        await mentoring_bot.ask("/mentoring join", user=user)
    await mentoring_bot.ask("/mentoring snooze", user="U4")
    pair, _ = await seed_round(mentoring_bot, [["U1", "U2"]], ["U3"])
    await mentoring_bot.ask(f"/mentoring checkin met group:{pair}")
    report = await mentoring_bot.ask("/mentoring program report", admin=True)
    assert report.title == "Mentoring report for #C1"
    assert report.summary == "Rounds: 1. Groups: 1. Match rate: 67%. Met rate: 100%."
    sections = {s.heading: s.text for s in report.sections}
    assert sections["Members by role"] == "- peer: 4" and "- paused: 1" in sections["Members by state"]
    assert sections["Sat out the last round"] == "U3"  # plain text, never a mention
    as_csv = await mentoring_bot.ask("/mentoring program report csv:true", admin=True)
    lines = as_csv.sections[0].text.splitlines()
    assert lines[0] == "`metric,key,value`" and "`sat_out_last_round,U3,`" in lines and "`match_rate,,67%`" in lines


async def test_a_huge_csv_report_is_cut_and_says_so(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    await seed_round(mentoring_bot, [], [f"U{i:020d}" for i in range(300)])
    reply = await mentoring_bot.ask("/mentoring program report csv:yes", admin=True)
    text = reply.sections[0].text
    assert len(text) <= 2500 and text.endswith("longer than a message holds`")


async def test_forget_me_leaves_no_row_with_the_persons_id(mentoring_bot: MentoringBot) -> None:
    me = "UFORGET1"
    await start(mentoring_bot, "size:3")
    await mentoring_bot.ask("/mentoring program end", admin=True, user=me)
    await mentoring_bot.ask("/mentoring program create size:3", admin=True, user=me)  # created by me
    for user in (me, "U2", "U3"):
        await mentoring_bot.ask("/mentoring join bio:hello", user=user)
    await mentoring_bot.ask("/mentoring block U2", user=me)
    await mentoring_bot.ask(f"/mentoring block {me}", user="U3")
    trio, _ = await seed_round(mentoring_bot, [["U2", "U3", me]], ["U4"])
    await seed_round(mentoring_bot, [["U2", "U3"]], [me])
    await mentoring_bot.ask(f"/mentoring checkin met group:{trio}", user=me)
    reply = await mentoring_bot.ask("/mentoring forget-me", user=me)
    assert reply.title == "Careerbot forgot your mentoring data here"
    assert "your membership in #C1" in reply.summary and "your 1 “don't match me with” entry" in reply.summary
    import bot.schedule.tables
    import bot.tips.tables  # noqa: F401  (every table of the store, whatever else the run imported)

    found = []
    async with mentoring_bot.store.connect() as conn:
        for table in metadata.sorted_tables:
            for column in table.columns:
                if isinstance(column.type, String):
                    hits = await conn.scalar(select(func.count()).where(column.contains(me)))
                    if hits:
                        found.append(f"{table.name}.{column.name}")
    assert found == []
    assert set(await members(mentoring_bot)) == {"U2", "U3"} and await blocks(mentoring_bot) == []
    assert (await mentoring_bot.ask("/mentoring forget-me", user=me)).tone == "notice"  # nothing left


async def test_without_a_store_mentoring_says_so() -> None:
    core = Core(default_knowledge_dir(), registry=registry())
    reply = await core.ask("/mentoring status", platform="slack", tenant="T1")
    assert reply.title == "Mentoring is not set up here"
    refused(
        await core.ask("/mentoring dance", platform="slack", tenant="T1"), "“dance” is not something /mentoring does"
    )


# ------------------------------------------------------------------ hostile input

HOSTILE = [
    "x" * 10_000,
    " ".join(["word"] * 2_500),
    "\x00",
    "a\x07b",
    "\u202eevil",
    *HOSTILE_MENTIONS,
    "no-such-thing-42",
    "Mars/Base",
    "-1",
    "0",
    "99999999999999999999",
    "1e9",
]
COMMAND_FOR = {
    "action": "/mentoring {value}",
    "step": "/mentoring program {value}",
    "csv": "/mentoring program report csv:{value}",
    "role": "/mentoring join role:{value}",
    "knows": "/mentoring join knows:{value}",
    "wants": "/mentoring join wants:{value}",
    "capacity": "/mentoring join role:peer capacity:{value}",
    "until": "/mentoring snooze until:{value}",
    "user": "/mentoring block user:{value}",
    "group": "/mentoring checkin met group:{value}",
}
ACTION_FOR = {
    "csv": ("program", "report"),
    "until": ("snooze", None),
    "user": ("block", None),
    "group": ("checkin", "met"),
}
ACTION_FOR |= {o: ("join", None) for o in ("role", "knows", "wants", "capacity")}
VALID = {("time", "0"), ("csv", "0"), ("user", "<@U123ABC>")}
"""Hostile-looking values that are right for their option (midnight, false, a person's mention)."""


def hostile_requests(option: str, value: str) -> tuple[str, dict[str, str]]:
    """The request giving ``value`` to ``option``, typed and as Discord sends it."""
    text = COMMAND_FOR.get(option, "/mentoring program create {option}:{value}").format(option=option, value=value)
    action, step = ACTION_FOR.get(option, ("program", "create"))
    named = {"action": value} if option == "action" else {"action": action, option: value}
    if option == "step":
        named = {"action": "program", "step": value}
    elif step is not None:
        named["step"] = step
    return text, named


@pytest.mark.parametrize("option", [o for o in OPTIONS if o != "bio"])
async def test_hostile_values_in_every_option_are_refused_in_one_line(mentoring_bot: MentoringBot, option: str) -> None:
    await start(mentoring_bot)
    await mentoring_bot.ask("/mentoring join")
    await seed_round(mentoring_bot, [["U1", "U2"]], [])
    before = await mentoring_bot.snapshot()
    for value in HOSTILE:
        if (option, value) in VALID:
            continue
        text, named = hostile_requests(option, value)
        typed = await mentoring_bot.ask(text, admin=True)
        refused(typed)
        refused(await mentoring_bot.options(named, admin=True))
        assert await mentoring_bot.snapshot() == before, (option, value[:40])


async def test_a_hostile_bio_is_kept_but_cannot_ping(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    for value in HOSTILE_MENTIONS:
        reply = await mentoring_bot.ask(f"/mentoring join bio:{value}")
        safe(reply)
        if reply.tone == "error":
            assert "control characters" in reply.summary  # the hidden ones
            continue
        stored = (await members(mentoring_bot))["U1"]["bio"]
        assert (
            live_mentions(stored) == []
            and live_mentions((await mentoring_bot.ask("/mentoring")).sections[0].text) == []
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    option=st.sampled_from(OPTIONS),
    value=st.one_of(
        st.text(max_size=60),
        st.lists(st.sampled_from([*HOSTILE_MENTIONS, "\x00", "\u202e", "fhir", "2w", "09:00"]), max_size=8).map(
            " ".join
        ),
        st.text(min_size=2000, max_size=12000),
    ),
    typed=st.booleans(),
)
async def test_any_value_in_any_option_is_safe_and_a_refusal_changes_nothing(
    mentoring_bot: MentoringBot, option: str, value: str, typed: bool
) -> None:
    text, named = hostile_requests(option, value)
    before = await mentoring_bot.snapshot()
    reply = await (mentoring_bot.ask(text, admin=True) if typed else mentoring_bot.options(named, admin=True))
    safe(reply)
    if reply.tone == "error":
        assert await mentoring_bot.snapshot() == before


# ------------------------------------------------------------------ imports


def test_the_command_imports_no_platform_sdk_and_no_store_until_used() -> None:
    code = (
        "import sys, bot.mentoring.commands, bot.mentoring.options, bot.mentoring.messages\n"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'sqlalchemy', 'slack_sdk', 'slack_bolt', 'slack', 'discord', 'aiohttp', 'click'})\n"
        "print(','.join(bad))\n"
    )
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
