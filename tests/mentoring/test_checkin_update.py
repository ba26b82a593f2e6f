"""A check-in answered by button updates the check-in message itself (``Reply.update``): how many of
the group answered, never who nor what, and once everyone has, no buttons. A refused answer carries
no update, so no adapter touches the message."""

from __future__ import annotations

from sqlalchemy import select, update

from bot.mentoring import tables
from bot.mentoring.intros import CHECKIN_TITLE, checkin_reply
from bot.reply import FollowUp, Reply
from tests.mentions import live_mentions
from tests.mentoring.conftest import MentoringBot
from tests.mentoring.test_commands import seed_round, start

TRIO = ["U1", "U2", "U3"]


def buttons(reply: Reply) -> list[str]:
    return [f.command for f in reply.follow_ups]


async def answers(bot: MentoringBot) -> dict[str, str | None]:
    async with bot.store.connect() as conn:
        rows = await conn.execute(select(tables.group_members.c.user_id, tables.group_members.c.answer))
        return dict(rows.all())


async def test_each_answer_updates_the_check_in_with_counts_and_the_last_removes_the_buttons(
    mentoring_bot: MentoringBot,
) -> None:
    await start(mentoring_bot, "checkin:3")
    (trio,) = await seed_round(mentoring_bot, [TRIO], [])
    first = checkin_reply(trio, "C1", 3)  # as the scheduler posts it
    assert "answered so far" not in first.summary and len(first.follow_ups) == 3

    reply = await mentoring_bot.ask(f"/mentoring checkin met group:{trio}", user="U1")
    assert reply.title == "Thanks for checking in" and reply.update is not None
    assert reply.update.title == CHECKIN_TITLE
    assert "1 of 3 answered so far." in reply.update.summary
    assert buttons(reply.update) == buttons(first)  # the others can still answer

    reply = await mentoring_bot.ask(f"/mentoring checkin no group:{trio}", user="U2")
    assert reply.update is not None and "2 of 3 answered so far." in reply.update.summary
    again = await mentoring_bot.ask(f"/mentoring checkin not-yet group:{trio}", user="U2")  # a change of mind
    assert again.update is not None and "2 of 3 answered so far." in again.update.summary

    reply = await mentoring_bot.ask(f"/mentoring checkin met group:{trio}", user="U3")
    assert reply.update is not None
    assert "Everyone answered (3 of 3)" in reply.update.summary
    assert reply.update.follow_ups == ()  # nothing left to press
    assert await answers(mentoring_bot) == {"U1": "met", "U2": "not_yet", "U3": "met"}


async def test_the_update_names_nobody_and_tells_no_answer(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    (pair,) = await seed_round(mentoring_bot, [["U1", "U2"]], [])
    for answered, (user, word) in enumerate((("U1", "no"), ("U2", "met")), 1):
        reply = await mentoring_bot.ask(f"/mentoring checkin {word} group:{pair}", user=user)
        assert reply.update is not None
        # the same message whoever answered what: it depends on the count alone
        assert reply.update == checkin_reply(pair, "C1", 7, answered=answered, total=2)
        shown = " ".join(reply.update.strings())
        assert "U1" not in shown and "U2" not in shown
        assert all(live_mentions(s) == [] for s in reply.strings())


async def test_a_refused_answer_carries_no_update_and_changes_nothing(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    pair, other = await seed_round(mentoring_bot, [["U1", "U2"], ["U3", "U4"]], [])
    before = await mentoring_bot.snapshot()
    for text, user in (
        (f"/mentoring checkin met group:{pair}", "U3"),  # someone else's check-in
        ("/mentoring checkin met group:99999", "U1"),  # no such group
        (f"/mentoring checkin maybe group:{pair}", "U1"),  # a forged answer
        (f"/mentoring checkin met group:{pair}x", "U1"),  # a forged group
        (f"/mentoring checkin met group:{pair} user:U2", "U1"),  # answering for someone else
    ):
        reply = await mentoring_bot.ask(text, user=user)
        assert reply.tone == "error" and reply.update is None, text
    assert await mentoring_bot.snapshot() == before
    assert other != pair


async def test_people_who_erased_themselves_are_not_waited_for(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    (trio,) = await seed_round(mentoring_bot, [TRIO], [])
    await mentoring_bot.ask("/mentoring checkin met group:" + str(trio), user="U1")
    forgot = await mentoring_bot.ask("/mentoring forget-me", user="U3")
    assert forgot.tone == "answer", forgot.summary
    reply = await mentoring_bot.ask(f"/mentoring checkin met group:{trio}", user="U2")
    assert reply.update is not None and "Everyone answered (2 of 2)" in reply.update.summary


async def test_a_group_of_another_workspace_is_not_counted(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    (pair,) = await seed_round(mentoring_bot, [["U1", "U2"]], [])
    async with mentoring_bot.store.begin() as conn:  # the same people and group id, in team T2
        await conn.execute(update(tables.group_members).values(answer=None))
    reply = await mentoring_bot.ask(f"/mentoring checkin met group:{pair}", user="U1", tenant="T2")
    assert reply.tone == "error" and reply.update is None
    assert await answers(mentoring_bot) == {"U1": None, "U2": None}


def test_the_update_is_plain_data_only_when_set_and_never_on_an_error() -> None:
    plain = Reply(title="t")
    assert "update" not in plain.to_dict() and "form_values" not in plain.to_dict()
    message = Reply(
        title="Did you meet?", follow_ups=(FollowUp(label="Met", command="/mentoring checkin met group:1"),)
    )
    reply = Reply(title="Thanks", update=message)
    assert reply.to_dict()["update"] == message.to_dict()
    assert "Did you meet?" in reply.strings()
    assert Reply(title="No", tone="error", update=message).update is None
    pinging = Reply(title="x", update=Reply(title="<!channel> @everyone"))
    assert all(live_mentions(s) == [] for s in pinging.strings())
