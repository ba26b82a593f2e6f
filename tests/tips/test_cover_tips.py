"""The tips wing's remaining paths, each with its outcome: a subscription row left without a next
date, a bug inside the wing, unsubscribing one lost channel among several, positional words that fit
no option, the rotation read from posts of several cycles in any order, and a rotation asked to
choose among no tips."""

from __future__ import annotations

import itertools
import logging
from typing import Any, cast

import pytest
from sqlalchemy import update

from bot.schedule.clock import epoch
from bot.tips import messages as tip_messages
from bot.tips.rotation import choose_tip
from bot.tips.store import TenantTips, rotations_from
from bot.tips.tables import posts, subscriptions
from tests.faults import assert_internal_error
from tests.tips.conftest import TipsBot, at
from tests.tips.test_commands import snapshot

sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@sqlite_only
async def test_a_subscription_left_without_a_next_date_is_listed_as_not_scheduled(tips_bot: TipsBot) -> None:
    """A row edited by hand (or by a failed manual fix) is shown, not a crash; the scheduler skips it."""
    await tips_bot.ask("/tips subscribe #C2 10:00", admin=True)
    async with tips_bot.store.begin() as conn:
        await conn.execute(update(subscriptions).values(next_date=None, next_due_at=None))
    listed = await tips_bot.ask("/tips list")
    (section,) = listed.sections
    assert section.text.endswith("Next: not scheduled"), section.text
    report = await tips_bot.run_at("2025-03-03T10:00+00:00")
    assert report.sent == 0 and tips_bot.poster.sent == []


@sqlite_only
async def test_a_bug_inside_tips_is_the_internal_error_reply_and_changes_nothing(
    tips_bot: TipsBot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await tips_bot.ask("/tips subscribe 10:00", admin=True)
    before = await snapshot(tips_bot)

    async def broken(self: TenantTips) -> list[Any]:
        raise RuntimeError("a bug in the wing")

    monkeypatch.setattr(TenantTips, "active", broken)
    with caplog.at_level(logging.ERROR):
        reply = await tips_bot.ask("/tips list")
    assert_internal_error(reply, caplog.records, "a bug in the wing")
    assert await snapshot(tips_bot) == before


@sqlite_only
async def test_a_lost_channel_is_found_among_several_subscriptions(tips_bot: TipsBot) -> None:
    for channel in ("#C1", "#C5", "#C9"):
        assert (await tips_bot.ask(f"/tips subscribe {channel} 10:00", admin=True)).tone == "answer"
    tips_bot.poster.denied["C5"] = "careerbot can no longer see that channel"
    stopped = await tips_bot.ask("/tips unsubscribe #C5", admin=True)
    assert stopped.tone != "error" and "stopped" in stopped.title, stopped.summary
    listed = " ".join((await tips_bot.ask("/tips list")).strings())
    assert "#C1" in listed and "#C9" in listed and "#C5" not in listed


@sqlite_only
@pytest.mark.parametrize(
    ("text", "says"),
    [
        # "fhir" sits where the time goes, fits no option, and the topic is taken: its own check says why
        ("/tips subscribe interviews fhir hipaa", "“fhir” is not a time. Use HH:MM"),
        ("/tips subscribe C2 interviews topic:fhir", "“interviews” is not a time. Use HH:MM"),
        # "09:00" moved to the time slot, so "interviews" has nowhere left to go
        ("/tips subscribe 09:00 interviews topic:fhir", tip_messages.UNCLEAR.format(value="interviews")),
    ],
)
async def test_words_that_fit_no_option_are_refused_and_change_nothing(tips_bot: TipsBot, text: str, says: str) -> None:
    before = await snapshot(tips_bot)
    reply = await tips_bot.ask(text, admin=True)
    assert reply.tone == "error" and reply.summary.startswith(says), reply.summary
    assert await snapshot(tips_bot) == before


@sqlite_only
async def test_the_rotation_reads_the_posts_of_the_stored_cycle_and_newer(tips_bot: TipsBot) -> None:
    """Posts as the table may hold them: the subscription's stored cycle (1) lags behind its newest
    post (cycle 2); cycle 0's posts no longer count, and the last shown is the latest day's."""
    await tips_bot.ask("/tips subscribe 10:00", admin=True)
    store = TenantTips(tips_bot.store, tips_bot.tenant_key())
    (sub,) = await store.active()
    written = [
        ("2025-03-03", "tip-001", 0),
        ("2025-03-04", "tip-002", 1),
        ("2025-03-05", "tip-003", 2),
        ("2025-03-06", "tip-004", 2),
    ]
    stamp = epoch(at("2025-03-07T00:00"))
    async with tips_bot.store.begin() as conn:
        await conn.execute(update(subscriptions).where(subscriptions.c.id == sub.id).values(cycle=1))
        for day, tip, cycle in written:
            await conn.execute(
                posts.insert().values(
                    platform="slack",
                    tenant="T1",
                    subscription_id=sub.id,
                    channel="C1",
                    local_date=day,
                    due_at=stamp,
                    state="sent",
                    message_id=f"m-{day}",
                    tip_id=tip,
                    cycle=cycle,
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
    rotation = await store.rotation(sub.id)
    assert rotation is not None
    assert (rotation.cycle, rotation.shown, rotation.last) == (2, {"tip-003", "tip-004"}, "tip-004")
    tip, cycle = choose_tip(rotation.seed, 2, rotation.shown, rotation.last, ["tip-001", "tip-003", "tip-004"])
    assert (tip, cycle) == ("tip-001", 2)  # cycle 2 goes on with a tip it has not shown


def test_the_rotation_does_not_depend_on_the_order_the_posts_come_in() -> None:
    """The rotation query has no ORDER BY (each database returns the join its own way)."""
    rows = [
        (7, 42, None, 0, None, None, None),  # the subscription itself (outer join)
        (7, 42, None, 0, "tip-a", 0, "2025-03-03"),
        (7, 42, None, 0, "tip-b", 1, "2025-03-05"),
        (7, 42, None, 0, "tip-c", 1, "2025-03-04"),
        (8, 9, "fhir", 3, None, None, None),  # a subscription with nothing posted in its cycle
    ]
    seen = set()
    for order in itertools.permutations(rows):
        found = rotations_from(cast(Any, order))
        seen.add(tuple((k, r.cycle, frozenset(r.shown), r.last, r.topic) for k, r in sorted(found.items())))
    assert seen == {((7, 1, frozenset({"tip-b", "tip-c"}), "tip-b", None), (8, 3, frozenset(), None, "fhir"))}


def test_choosing_among_no_tips_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^no tips to choose from$"):
        choose_tip(1, 0, (), None, [])
    assert choose_tip(1, 0, ("a",), "a", ["a"]) == ("a", 1)  # one tip: shown again in the next cycle
