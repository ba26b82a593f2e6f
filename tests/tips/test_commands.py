"""/tips as admins and members use it, on both databases: defaults, parsing, refusals, and that a
refused or invalid command changes nothing."""

from __future__ import annotations

import random
import zlib
from typing import Any

import pytest
from sqlalchemy import select

from bot import messages
from bot.core import Core
from bot.knowledge.loader import default_knowledge_dir
from bot.schedule.posting import Channel, parse_channel
from bot.store.engine import metadata
from tests.tips.conftest import TipsBot, at


async def snapshot(bot: TipsBot) -> dict[str, list[Any]]:
    """Every row of every table: to prove a command changed nothing."""
    out = {}
    async with bot.store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            out[table.name] = [tuple(r) for r in await conn.execute(select(table))]
    return out


async def test_subscribe_with_the_defaults(tips_bot: TipsBot) -> None:
    reply = await tips_bot.ask("/tips subscribe", admin=True)
    assert reply.title == "Daily tips on for #C1"
    assert "weekdays at 09:00 UTC" in reply.summary
    assert "Mon 03 Mar 2025, 09:00 UTC" in reply.summary  # the first one: today, still ahead
    listed = await tips_bot.ask("/tips list")
    assert "#C1" in listed.sections[0].text and "weekdays at 09:00 UTC" in listed.sections[0].text


async def test_the_default_zone_is_the_workspaces(tips_bot: TipsBot) -> None:
    tips_bot.poster.timezone = "America/Chicago"
    reply = await tips_bot.ask("/tips subscribe", admin=True)
    assert "09:00 America/Chicago" in reply.summary


@pytest.mark.parametrize(
    "text",
    [
        "/tips subscribe channel:#C2 time:08:30 timezone:Europe/Berlin days:mon,wed,fri topic:fhir",
        "/tips subscribe #C2 08:30 Europe/Berlin mon,wed,fri fhir",
        "/tips subscribe 08:30 Europe/Berlin mon,wed,fri fhir #C2",
        "/tips subscribe fhir time:8:30am timezone:europe/berlin days:mon,wed,fri channel:<#C2|C2>",
    ],
)
async def test_named_positional_and_mixed_options_mean_the_same(tips_bot: TipsBot, text: str) -> None:
    reply = await tips_bot.ask(text, admin=True)
    assert reply.title == "Daily tips on for #C2", reply.summary
    fields = {f.name: f.value for f in reply.fields}
    assert fields == {
        "Time": "08:30",
        "Time zone": "Europe/Berlin",
        "Days": "Mon, Wed, Fri",
        "Topic": "HL7 FHIR (Fast Healthcare Interoperability Resources)",
    }


async def test_subscribing_again_changes_the_subscription(tips_bot: TipsBot) -> None:
    await tips_bot.ask("/tips subscribe time:09:00", admin=True)
    reply = await tips_bot.ask("/tips subscribe time:10:15 days:daily", admin=True)
    assert reply.title == "Daily tips changed for #C1"
    listed = await tips_bot.ask("/tips list")
    assert listed.summary == "1 channel gets a daily tip." and "daily at 10:15" in listed.sections[0].text


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ("time:25:00", "“25:00” is not a time"),
        ("time:soon", "“soon” is not a time"),
        ("timezone:Europe/Berln", "not a time zone I know. Did you mean `Europe/Berlin`?"),
        ("timezone:Mars/Base", "“Mars/Base” is not a time zone"),
        ("days:someday", "“someday” is not a set of days"),
        ("topic:underwater-basket-weaving", "no tips about “underwater-basket-weaving”"),
        ("channel:#secret", "I'm not in #secret"),
    ],
)
async def test_invalid_input_gets_a_specific_reply_and_changes_nothing(
    tips_bot: TipsBot, options: str, says: str
) -> None:
    tips_bot.poster.denied["secret"] = "I'm not in #secret, so I can't post there. Invite me with `/invite @careerbot`."
    await tips_bot.ask("/tips subscribe time:07:00", admin=True)
    before = await snapshot(tips_bot)
    reply = await tips_bot.ask(f"/tips subscribe {options}", admin=True)
    assert reply.tone == "error" and says in reply.summary
    assert await snapshot(tips_bot) == before


@pytest.mark.parametrize("action", ["subscribe", "unsubscribe", "skip"])
async def test_members_cannot_change_subscriptions(tips_bot: TipsBot, action: str) -> None:
    await tips_bot.ask("/tips subscribe", admin=True)
    before = await snapshot(tips_bot)
    reply = await tips_bot.ask(f"/tips {action} time:10:00", admin=False)
    assert reply.tone == "error" and "Only workspace admins can change daily tips" in reply.summary
    assert await snapshot(tips_bot) == before


async def test_list_and_preview_are_open_to_everyone(tips_bot: TipsBot) -> None:
    await tips_bot.ask("/tips subscribe days:daily", admin=True)
    assert (await tips_bot.ask("/tips list")).title == "Daily tips in this workspace"
    assert (await tips_bot.ask("/tips")).title == "Daily tips in this workspace"
    preview = await tips_bot.ask("/tips preview")
    assert preview.title == "Daily tip" and preview.footer.startswith("Preview: the next tip for #C1")


async def test_admins_listed_in_the_settings_may_change_them(tips_bot: TipsBot) -> None:
    reply = await tips_bot.ask("/tips subscribe", admin=False, user="UADMIN")  # CAREERBOT_ADMINS=slack:UADMIN
    assert reply.title == "Daily tips on for #C1"
    refused = await tips_bot.ask("/tips subscribe", admin=False, user="UADMIN", platform="discord")
    assert refused.tone == "error"  # the entry names a Slack user, not a Discord one


async def test_preview_shows_the_tip_that_is_then_posted(tips_bot: TipsBot) -> None:
    await tips_bot.ask("/tips subscribe time:09:00 days:daily", admin=True)
    for day in range(3):
        preview = await tips_bot.ask("/tips preview")
        await tips_bot.run_at(f"2025-03-0{3 + day}T09:00")
        assert tips_bot.poster.sent[-1].reply.summary == preview.summary


async def test_unknown_action_and_not_subscribed(tips_bot: TipsBot) -> None:
    reply = await tips_bot.ask("/tips dance", admin=True)
    assert reply.tone == "error" and "“dance” is not something /tips does" in reply.summary
    assert (await tips_bot.ask("/tips unsubscribe", admin=True)).title == "#C1 gets no daily tips"
    assert (await tips_bot.ask("/tips skip", admin=True)).title == "#C1 gets no daily tips"
    assert (await tips_bot.ask("/tips list")).title == "No channel gets daily tips yet"
    preview = await tips_bot.ask("/tips preview")
    assert preview.tone == "notice" and "not subscribed" in preview.footer


async def test_skip_twice_says_it_is_already_skipped(tips_bot: TipsBot) -> None:
    await tips_bot.ask("/tips subscribe days:daily", admin=True)
    tips_bot.clock.set(at("2025-03-03T12:00"))
    assert (await tips_bot.ask("/tips skip", admin=True)).tone == "answer"
    again = await tips_bot.ask("/tips skip", admin=True)
    assert again.tone == "notice" and "already posted or skipped" in again.summary


async def test_without_a_store_tips_says_so() -> None:
    core = Core(default_knowledge_dir(), rng=random.Random(1))
    reply = await core.ask("/tips list", platform="slack", tenant="T1")
    assert reply.title == "Daily tips are not set up here"


def test_tips_is_declared_for_admins_with_its_actions_as_choices() -> None:
    from bot.registry import REGISTRY

    tips = REGISTRY.get("tips")
    assert tips is not None and tips.admin
    assert tips.options[0].choices == ("subscribe", "unsubscribe", "list", "preview", "skip")
    assert [o.name for o in tips.options] == ["action", "channel", "time", "timezone", "days", "topic"]


async def test_unsubscribing_and_coming_back_keeps_the_rotation(tips_bot: TipsBot) -> None:
    await tips_bot.ask("/tips subscribe time:09:00 days:daily", admin=True)
    await tips_bot.run_at("2025-03-03T09:00")
    await tips_bot.run_at("2025-03-04T09:00")
    assert (await tips_bot.ask("/tips unsubscribe", admin=True)).title == "Daily tips stopped for #C1"
    back = await tips_bot.ask("/tips subscribe time:09:00 days:daily", admin=True)
    assert back.title == "Daily tips on for #C1"
    await tips_bot.run_at("2025-03-05T09:00")
    assert len(set(tips_bot.poster.tips())) == 3  # carried on where it left off: no repeat


async def test_a_channel_the_bot_lost_can_still_be_unsubscribed(tips_bot: TipsBot) -> None:
    """Deleted, archived or no longer postable: the platform check fails, but the admin can stop the posts."""
    await tips_bot.ask("/tips subscribe #C9", admin=True)
    tips_bot.poster.denied["C9"] = "careerbot can no longer see that channel"
    skip = await tips_bot.ask("/tips skip #C9", admin=True)
    assert skip.tone == "error" and "can no longer see" in skip.summary  # other changes still need access
    stopped = await tips_bot.ask("/tips unsubscribe #C9", admin=True)
    assert stopped.tone != "error" and "stopped" in stopped.title
    assert not any("C9" in text for text in (await tips_bot.ask("/tips list")).strings())
    assert (await tips_bot.ask("/tips unsubscribe #C9", admin=True)).tone == "error"  # now gone: the check stands
    assert (await tips_bot.ask("/tips unsubscribe #C404", admin=True)).title == "#C404 gets no daily tips"


# ------------------------------------------------------------------ issue 8: channels and lengths


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("/tips subscribe #dev.team 10:00 UTC", "“#dev.team” is not a channel: channel names have only letters"),
        ("/tips subscribe #ops/alerts 10:00 UTC", "not “/”"),
        ("/tips subscribe #team+imaging 10:00 UTC", "not “+”"),
        ("/tips subscribe 10:00 UTC #dev.team", "“#dev.team” is not a channel"),
        ("/tips subscribe 10:00 UTC weekdays mobile #dev.team", "“#dev.team” is not a channel"),
        ("/tips subscribe channel:#dev.team time:10:00", "“#dev.team” is not a channel"),
        ("/tips subscribe channel:dev.team", "“dev.team” is not a channel"),
        ("/tips subscribe topic:#dev.team", "“#dev.team” is not a channel"),
        ("/tips subscribe # 10:00", "“#” has no channel name"),
        ("/tips subscribe <#C2 10:00", "#C2” is not a channel mention"),  # echoed inert: <\u200b#C2
        ("/tips subscribe <#C2|dev-team 10:00", "is not a channel mention"),
        ("/tips subscribe #" + "a" * 81, "a channel name has at most 80 characters on Slack"),
        ("/tips subscribe #C2 #C3", "“#C3” looks like a second channel, after #C2"),
        ("/tips subscribe #C2 10:00 UTC daily mobile #C3", "“#C3” looks like a second channel"),
        ("/tips unsubscribe #dev.team", "“#dev.team” is not a channel"),
        ("/tips skip #ops/alerts", "“#ops/alerts” is not a channel"),
        ("/tips preview #team+imaging", "“#team+imaging” is not a channel"),
    ],
)
async def test_a_word_typed_as_a_channel_is_a_channel_or_an_error(tips_bot: TipsBot, text: str, says: str) -> None:
    """Issue 8.13: `#dev.team` used to be taken as a topic, fuzzy-matched to "Mobile development", and
    the current channel's subscription changed. A channel word is a channel or an error, nothing else."""
    await tips_bot.ask("/tips subscribe time:07:00", admin=True)
    before = await snapshot(tips_bot)
    reply = await tips_bot.ask(text, admin=True)
    assert reply.tone == "error" and says in reply.summary, reply.summary
    assert "Mobile development" not in " ".join(reply.strings())
    assert await snapshot(tips_bot) == before


@pytest.mark.parametrize(
    ("platform", "name", "says"),
    [
        ("slack", "a" * 81, "at most 80 characters on Slack"),
        ("discord", "a" * 101, "at most 100 characters on Discord"),
        ("discord", "dev.team", "not “.”"),
        ("slack", "☕-coffee", "not “☕”"),  # Slack names have no emoji
    ],
)
async def test_channel_names_follow_each_platforms_rules(
    tips_bot: TipsBot, platform: str, name: str, says: str
) -> None:
    before = await snapshot(tips_bot)
    reply = await tips_bot.ask(f"/tips subscribe #{name}", admin=True, platform=platform)
    assert reply.tone == "error" and says in reply.summary, reply.summary
    assert await snapshot(tips_bot) == before


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("/tips subscribe <#C2|dev-team> 10:00", "Daily tips on for #dev-team"),
        ("/tips subscribe <#123456789012345678> 10:00", "Daily tips on for #123456789012345678"),
        ("/tips subscribe #dev_team-2 10:00", "Daily tips on for #dev_team-2"),
        ("/tips subscribe #général 10:00", "Daily tips on for #général"),
        ("/tips subscribe C0123ABCD 10:00", "Daily tips on for #C0123ABCD"),
        ("/tips subscribe channel:general 10:00", "Daily tips on for #general"),
        ("/tips subscribe #" + "a" * 64, "Daily tips on for #" + "a" * 64),
        ("/tips subscribe 10:00 UTC weekdays mobile #C2", "Daily tips on for #C2"),  # placed by its shape
        ("/tips subscribe #C2 10:00 UTC daily mobile development", "Daily tips on for #C2"),
    ],
)
async def test_valid_channel_forms_are_accepted(tips_bot: TipsBot, text: str, title: str) -> None:
    reply = await tips_bot.ask(text, admin=True)
    assert reply.title == title, reply.summary


async def test_a_long_name_is_kept_when_the_platform_gives_an_id(tips_bot: TipsBot) -> None:
    """80 characters is a valid Slack name; the store keeps Slack's id (short) and the whole name."""

    async def resolve(tenant: str, channel: str) -> Channel:
        name = parse_channel(channel).name
        return Channel(f"C{zlib.crc32(name.encode()):08X}", name)

    tips_bot.poster.check_channel = resolve  # type: ignore[method-assign]
    name = "a" * 80
    reply = await tips_bot.ask(f"/tips subscribe #{name} 10:00", admin=True)
    assert reply.title == f"Daily tips on for #{name}", reply.summary
    assert f"#{name}" in (await tips_bot.ask("/tips list")).sections[0].text


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        # the console and any platform without a lookup keep the name as the id: varchar(64)
        ("/tips subscribe #" + "a" * 65, {}, "The channel name “#aaaa"),
        ("/tips subscribe #" + "b" * 100, {"platform": "discord"}, "100 characters, at most 64"),
        ("/tips subscribe", {"tenant": "T" * 65}, "This workspace's id is too long to keep: 65 characters, at most 64"),
        ("/tips subscribe", {"user": "U" * 65}, "Your user id is too long to keep: 65 characters, at most 64"),
        (
            "/tips subscribe",
            {"platform": "p" * 17},
            "The platform's name is too long to keep: 17 characters, at most 16",
        ),
        ("/tips subscribe", {"channel": "C" * 65}, "The channel name “#CCCC"),
        ("/tips subscribe time:" + "9" * 21, {}, "The time you gave is too long: 21 characters, at most 20"),
        ("/tips subscribe days:" + "mon," * 16, {}, "The days you gave is too long: 64 characters, at most 60"),
        ("/tips subscribe topic:" + "x" * 101, {}, "The topic you gave is too long: 101 characters, at most 100"),
        ("/tips subscribe timezone:Europe/" + "B" * 60, {}, "The time zone you gave is too long"),
    ],
)
async def test_values_longer_than_their_columns_are_refused_the_same_on_both_stores(
    tips_bot: TipsBot, text: str, where: dict[str, str], says: str
) -> None:
    """Issue 8.14: a 65-100 character channel name failed on PostgreSQL's varchar(64) with "Something
    went wrong" and was kept by SQLite. Lengths are checked in the core, before anything is written."""
    before = await snapshot(tips_bot)
    reply = await tips_bot.ask(text, admin=True, **where)
    assert reply.tone == "error" and says in reply.summary, reply.summary
    assert reply.title != messages.INTERNAL_ERROR_TITLE
    assert await snapshot(tips_bot) == before


async def test_a_channel_name_longer_than_its_column_from_the_platform_is_refused(tips_bot: TipsBot) -> None:
    async def resolve(tenant: str, channel: str) -> Channel:
        return Channel("C2", "n" * 101)

    tips_bot.poster.check_channel = resolve  # type: ignore[method-assign]
    before = await snapshot(tips_bot)
    reply = await tips_bot.ask("/tips subscribe #C2", admin=True)
    assert reply.tone == "error" and "101 characters, at most 100" in reply.summary
    assert await snapshot(tips_bot) == before


async def test_a_clock_outside_the_schedulable_years_is_an_error(tips_bot: TipsBot) -> None:
    await tips_bot.ask("/tips subscribe time:07:00", admin=True)
    before = await snapshot(tips_bot)
    tips_bot.clock.set(at("9999-12-31T23:59"))
    reply = await tips_bot.ask("/tips subscribe time:08:00", admin=True)
    assert reply.tone == "error" and "outside the years 1970 to 9998" in reply.summary
    assert await snapshot(tips_bot) == before
