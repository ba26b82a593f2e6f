"""The scheduler against a real store (SQLite and PostgreSQL) with a fake clock: nothing sleeps."""

from __future__ import annotations

import logging
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from bot.errors import PostError
from bot.knowledge.kb import KnowledgeBase
from bot.knowledge.loader import default_knowledge_dir, load
from bot.registry import job_kinds
from bot.schedule.scheduler import Settings
from bot.tips.tables import posts
from tests.tips.conftest import TipsBot, at, job_queue


async def subscribe(bot: TipsBot, options: str, channel: str = "C1") -> None:
    reply = await bot.ask(f"/tips subscribe {options}", admin=True, channel=channel)
    assert reply.tone == "answer", reply.summary


async def states(bot: TipsBot) -> list[tuple[str, str]]:
    async with bot.store.engine.connect() as conn:
        rows = await conn.execute(posts.select().order_by(posts.c.local_date))
        return [(r.local_date, r.state) for r in rows]


async def test_posts_once_at_the_local_time_and_never_twice_a_day(tips_bot: TipsBot) -> None:
    await subscribe(tips_bot, "time:09:00 timezone:Europe/Berlin days:daily")
    assert (await tips_bot.run_at("2025-03-03T08:59+01:00")).sent == 0  # a minute early
    assert (await tips_bot.run_at("2025-03-03T09:00+01:00")).sent == 1
    assert (await tips_bot.run_at("2025-03-03T09:00+01:00")).sent == 0
    assert (await tips_bot.run_at("2025-03-03T15:00+01:00")).sent == 0
    assert (await tips_bot.run_at("2025-03-04T09:00:30+01:00")).sent == 1
    assert [p.channel for p in tips_bot.poster.sent] == ["C1", "C1"]
    assert await states(tips_bot) == [("2025-03-03", "sent"), ("2025-03-04", "sent")]


async def test_weekdays_skip_the_weekend(tips_bot: TipsBot) -> None:
    await subscribe(tips_bot, "time:09:00 timezone:UTC")  # default days: weekdays
    start = at("2025-03-03T09:00")
    for day in range(7):
        await tips_bot.run_at(start + timedelta(days=day))
    assert [d.strftime("%a") for d in tips_bot.poster.at] == ["Mon", "Tue", "Wed", "Thu", "Fri"]


async def test_nine_in_berlin_stays_nine_across_both_dst_changes(tips_bot: TipsBot) -> None:
    await subscribe(tips_bot, "time:09:00 timezone:Europe/Berlin days:daily")
    for day in ("2025-03-29", "2025-03-30", "2025-03-31", "2025-10-25", "2025-10-26", "2025-10-27"):
        await tips_bot.run_at(at(f"{day}T04:00"))  # nothing yet
        for hour in range(6, 10):  # poll every hour of the morning, UTC
            await tips_bot.run_at(at(f"{day}T{hour:02d}:00"))
    local = [t.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin")) for t in tips_bot.poster.at]
    assert [t.strftime("%m-%d %H:%M") for t in local] == [
        "03-29 09:00",
        "03-30 09:00",
        "03-31 09:00",
        "10-25 09:00",
        "10-26 09:00",
        "10-27 09:00",
    ]


async def test_a_missing_local_time_posts_at_the_next_valid_minute(tips_bot: TipsBot) -> None:
    await subscribe(tips_bot, "time:02:30 timezone:Europe/Berlin days:daily")
    await tips_bot.run_at("2025-03-30T00:59:59+00:00")  # 01:59:59 CET: just before the jump
    assert tips_bot.poster.sent == []
    await tips_bot.run_at("2025-03-30T01:00+00:00")  # 03:00 CEST: the first valid minute after 02:30
    assert len(tips_bot.poster.sent) == 1


async def test_a_repeated_local_time_posts_once(tips_bot: TipsBot) -> None:
    await subscribe(tips_bot, "time:02:30 timezone:Europe/Berlin days:daily")
    await tips_bot.run_at("2025-10-26T00:30+00:00")  # 02:30 CEST, the first time
    await tips_bot.run_at("2025-10-26T01:30+00:00")  # 02:30 CET, the second time
    await tips_bot.run_at("2025-10-26T03:00+00:00")
    assert len(tips_bot.poster.sent) == 1
    assert tips_bot.poster.at == [at("2025-10-26T00:30+00:00")]


async def test_down_at_the_time_posts_on_start_within_the_grace_window(tips_bot: TipsBot) -> None:
    await subscribe(tips_bot, "time:09:00 timezone:UTC days:daily")
    report = await tips_bot.run_at("2025-03-03T14:59")  # 5 h 59 late: within the default 6 h
    assert report.sent == 1 and report.missed == 0


async def test_down_past_the_grace_window_skips_that_day_and_logs_it(
    tips_bot: TipsBot, caplog: pytest.LogCaptureFixture
) -> None:
    await subscribe(tips_bot, "time:09:00 timezone:UTC days:daily")
    with caplog.at_level(logging.WARNING, logger="careerbot.tips"):
        report = await tips_bot.run_at("2025-03-03T15:01")
    assert report.sent == 0 and tips_bot.poster.sent == []
    assert "2025-03-03: skipped" in caplog.text and "grace window" in caplog.text
    await tips_bot.run_at("2025-03-04T09:00")  # the next day is normal again
    assert await states(tips_bot) == [("2025-03-03", "missed"), ("2025-03-04", "sent")]


async def test_the_grace_window_is_configurable(tips_bot: TipsBot) -> None:
    await subscribe(tips_bot, "time:09:00 timezone:UTC days:daily")
    report = await tips_bot.run_at("2025-03-03T10:30", settings=Settings(grace=timedelta(hours=1)))
    assert report.sent == 0 and await states(tips_bot) == [("2025-03-03", "missed")]


async def test_a_long_outage_logs_and_skips_without_posting_old_days(tips_bot: TipsBot) -> None:
    await subscribe(tips_bot, "time:09:00 timezone:UTC days:daily")
    report = await tips_bot.run_at("2025-04-20T10:00")  # six weeks later, an hour after today's time
    assert report.sent == 1  # today only
    assert (await states(tips_bot))[-1] == ("2025-04-20", "sent")


async def test_rotation_shows_every_matching_tip_before_repeating(tips_bot: TipsBot) -> None:
    await subscribe(tips_bot, "time:09:00 timezone:UTC days:daily topic:dicom")
    matching = sorted(t.id for t in tips_bot.core.kb.all("tip") if "dicom" in t.tags)
    assert len(matching) >= 3
    for day in range(2 * len(matching)):
        await tips_bot.run_at(at("2025-03-03T09:00") + timedelta(days=day))
    shown = tips_bot.poster.tips()
    first, second = shown[: len(matching)], shown[len(matching) :]
    assert sorted(first) == matching and sorted(second) == matching
    assert first != second or len(matching) < 3


async def test_channels_rotate_in_different_orders(tips_bot: TipsBot) -> None:
    for channel in ("C1", "C2"):
        await subscribe(tips_bot, "time:09:00 timezone:UTC days:daily", channel=channel)
    for day in range(5):
        await tips_bot.run_at(at("2025-03-03T09:00") + timedelta(days=day))
    by_channel = {c: [p.reply.summary for p in tips_bot.poster.sent if p.channel == c] for c in ("C1", "C2")}
    assert by_channel["C1"] != by_channel["C2"]


async def test_new_tips_join_the_cycle_and_removed_ones_are_skipped(tips_bot: TipsBot, tmp_path: Path) -> None:
    await subscribe(tips_bot, "time:09:00 timezone:UTC days:daily topic:dicom")
    tree = tmp_path / "knowledge"
    shutil.copytree(default_knowledge_dir(), tree)
    base = KnowledgeBase(load(tree))
    matching = sorted(t.id for t in base.all("tip") if "dicom" in t.tags)
    await tips_bot.run_at("2025-03-03T09:00")
    first = tips_bot.poster.tips()[0]
    removed = next(t for t in matching if t != first)
    (tree / "zz_extra.yaml").write_text(
        "tips:\n  - id: tip-zz-dicom-new\n    text: Open a DICOM file in a viewer and read its tags.\n"
        "    tags: [dicom]\n"
    )
    for path in tree.glob("*.yaml"):  # drop one matching tip from the knowledge
        text = path.read_text()
        if f"id: {removed}\n" in text:
            start = text.index(f"  - id: {removed}\n")
            end = text.find("\n  - id: ", start + 1)
            path.write_text(text[:start] + (text[end + 1 :] if end != -1 else ""))
    changed = KnowledgeBase(load(tree))
    tips_bot.core.kb = changed
    now = set(sorted(t.id for t in changed.all("tip") if "dicom" in t.tags))
    for day in range(1, len(now)):
        await tips_bot.run_at(at("2025-03-03T09:00") + timedelta(days=day))
    cycle = tips_bot.poster.tips()
    assert "tip-zz-dicom-new" in cycle and removed not in cycle
    assert sorted(cycle) == sorted(now) and len(set(cycle)) == len(cycle)


async def test_a_claim_whose_process_died_is_retaken_after_the_lease(tips_bot: TipsBot) -> None:
    await subscribe(tips_bot, "time:09:00 timezone:UTC days:daily")
    tips_bot.clock.set(at("2025-03-03T09:00"))
    dead = job_queue(tips_bot.store, "dead-process")
    await dead.materialize(tips_bot.clock.now(), timedelta(hours=6), ["slack"])
    claimed = await dead.claim(tips_bot.tenant_key(), tips_bot.clock.now(), timedelta(seconds=60), 10, kind="tips")
    assert len(claimed) == 1  # ... and then the process is gone before sending
    assert (await tips_bot.run_at("2025-03-03T09:00:59")).sent == 0  # still leased
    report = await tips_bot.run_at("2025-03-03T09:01:01")
    assert report.sent == 1 and len(tips_bot.poster.sent) == 1


async def test_a_retake_after_a_send_that_was_not_marked_does_not_send_again(tips_bot: TipsBot) -> None:
    await subscribe(tips_bot, "time:09:00 timezone:UTC days:daily")
    tips_bot.clock.set(at("2025-03-03T09:00"))
    dead = job_queue(tips_bot.store, "dead-process")
    await dead.materialize(tips_bot.clock.now(), timedelta(hours=6), ["slack"])
    (claimed,) = await dead.claim(tips_bot.tenant_key(), tips_bot.clock.now(), timedelta(seconds=60), 10, kind="tips")
    from bot.reply import Reply
    from bot.schedule.posting import Post
    from bot.tips.rotation import post_key

    key = post_key("slack", "T1", claimed.source, claimed.local_date)
    await tips_bot.poster.post(Post(tenant="T1", channel="C1", reply=Reply(title="x"), key=key, due_at=0))
    report = await tips_bot.run_at("2025-03-03T09:05")  # the dead process sent but never marked it
    assert report.found == 1 and report.sent == 0
    assert len(tips_bot.poster.sent) == 1 and await states(tips_bot) == [("2025-03-03", "sent")]


async def test_a_failed_send_is_retried_and_a_permanent_failure_is_logged(
    tips_bot: TipsBot, caplog: pytest.LogCaptureFixture
) -> None:
    await subscribe(tips_bot, "time:09:00 timezone:UTC days:daily")
    tips_bot.poster.failures.append(PostError("chat.postMessage: ratelimited"))
    assert (await tips_bot.run_at("2025-03-03T09:00")).retried == 1
    assert (await tips_bot.run_at("2025-03-03T09:00:10")).sent == 0  # backing off
    assert (await tips_bot.run_at("2025-03-03T09:01")).sent == 1
    tips_bot.poster.failures.append(PostError("chat.postMessage: channel_not_found", permanent=True))
    with caplog.at_level(logging.ERROR, logger="careerbot.scheduler"):
        assert (await tips_bot.run_at("2025-03-04T09:00")).failed == 1
    assert "channel_not_found" in caplog.text
    assert (await states(tips_bot))[-1] == ("2025-03-04", "failed")


async def test_skip_tomorrow_and_unsubscribe(tips_bot: TipsBot) -> None:
    await subscribe(tips_bot, "time:09:00 timezone:UTC days:daily")
    tips_bot.clock.set(at("2025-03-03T12:00"))
    reply = await tips_bot.ask("/tips skip", admin=True)
    assert reply.title == "Skipping Tue 04 Mar in #C1"
    await tips_bot.run_at("2025-03-04T09:00")
    await tips_bot.run_at("2025-03-05T09:00")
    assert [d.day for d in tips_bot.poster.at] == [5]
    assert (await tips_bot.ask("/tips unsubscribe", admin=True)).title == "Daily tips stopped for #C1"
    await tips_bot.run_at("2025-03-06T09:00")
    assert len(tips_bot.poster.sent) == 1


async def test_only_platforms_with_a_poster_are_claimed(tips_bot: TipsBot) -> None:
    await subscribe(tips_bot, "time:09:00 timezone:UTC days:daily")
    tips_bot.clock.set(at("2025-03-03T09:00"))
    from bot.schedule.scheduler import Scheduler

    other = Scheduler(
        tips_bot.store, {"console": tips_bot.poster}, job_kinds(lambda: tips_bot.core.kb), clock=tips_bot.clock
    )
    assert (await other.run_once()).sent == 0  # a console scheduler leaves Slack's posts alone
    assert (await tips_bot.run_at("2025-03-03T09:00")).sent == 1
