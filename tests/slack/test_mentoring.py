"""Mentoring on Slack, end to end as ``careerbot run`` wires it: the platform from ``build_platform``
served by :func:`adapters.runner.serve`, so the real Bolt app answers signed ``/mentoring`` commands,
button presses and events on 127.0.0.1, and the scheduler (``bot.registry.job_kinds``) sends intros
and check-ins through the platform's :class:`~adapters.slack_bot.posting.SlackTipPoster` to the fake
Slack's group DMs, on a frozen clock, with the store on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from slack_sdk.models.blocks import Block
from sqlalchemy import String, select

from adapters.runner import serve
from adapters.slack_bot.app import SlackPlatform, build_platform
from adapters.slack_bot.http import Refused, clean_payload
from adapters.slack_bot.posting import SlackTipPoster
from adapters.slack_bot.render import Message, problems
from bot.context import Services
from bot.core import Core
from bot.knowledge.loader import default_knowledge_dir
from bot.mentoring import messages as say
from bot.mentoring import tables as mentoring_tables
from bot.registry import purge_tenant
from bot.store.engine import Store, metadata
from tests.fakes.slack import BOT_USER_ID, TEAM_ID, FakeSlack
from tests.slack.conftest import BOT_TOKEN, SECRET, SlackHarness, find_button, texts
from tests.slack.test_tips import FrozenClock, sqlite_threads_done
from tests.tips.conftest import Database, database, postgres_url

__all__ = ["database", "postgres_url"]  # the tips tests' stores: SQLite and PostgreSQL

MONDAY_6AM = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)
ROUND = datetime(2025, 3, 3, 10, 0, 5, tzinfo=UTC)  # the first round: Monday 10:00 UTC
CHECKIN = datetime(2025, 3, 4, 10, 0, 5, tzinfo=UTC)  # checkin:1, a day later
SCHEDULER_TABLES = {"tip_workers", "tip_tenant_leases"}
MEMBERS = [f"UMEM{i}" for i in range(1, 8)]
OTHER_TEAM = "T0OTHER"
Rows = dict[str, list[tuple[Any, ...]]]


@dataclass
class MentoringSlack:
    slack: SlackHarness
    fake: FakeSlack
    platform: SlackPlatform
    services: Services
    clock: FrozenClock

    async def store(self) -> Store:
        return await self.services.store()

    async def say(self, text: str, user: str, **where: str) -> str:
        """``/mentoring <text>`` typed by ``user`` (in #mentoring, C1, unless ``where`` says otherwise)."""
        return texts(await self.slack.command("/mentoring", text, user=user, **({"channel": "C1"} | where)))

    async def rows(self, *, tenant: str | None = None) -> Rows:
        """Every row of every table but the scheduler's own bookkeeping (of one tenant, if given)."""
        out: Rows = {}
        async with (await self.store()).connect() as conn:
            for table in metadata.sorted_tables:
                if table.name in SCHEDULER_TABLES:
                    continue
                if tenant is not None and "tenant" not in table.c:
                    continue  # e.g. seen_deliveries (event ids), registered once a mention has been answered
                query = select(table).order_by(*table.primary_key)
                if tenant is not None:
                    query = query.where(table.c.tenant == tenant)
                out[table.name] = [tuple(r) for r in await conn.execute(query)]
        return out

    async def states(self, table: Any) -> list[str]:
        async with (await self.store()).connect() as conn:
            return [r.state for r in await conn.execute(select(table.c.state))]

    async def eventually(self, check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
        for _ in range(int(timeout / 0.02)):
            if await check():
                return
            await asyncio.sleep(0.02)
        raise AssertionError("timed out waiting")

    async def all_sent(self, table: Any, count: int) -> None:
        async def done() -> bool:
            states = await self.states(table)
            return len(states) == count and set(states) == {"sent"}

        await self.eventually(done)

    async def start_program(self, options: str = "checkin:1", **where: str) -> None:
        self.fake.user("UBOSS", is_admin=True)
        self.fake.channel("C1", name="mentoring")
        said = await self.say(f"program create {options}", "UBOSS", **where)
        assert say.CREATED_TITLE.format(channel="#mentoring") in said, said
        assert "Mon 03 Mar 2025, 10:00 UTC" in said  # the first round: today, still ahead on the clock

    async def join(self, users: list[str], **where: str) -> None:
        for user in users:
            said = await self.say("join knows:fhir wants:sql", user, **where)
            assert say.JOINED_TITLE.format(channel="#mentoring") in said, said


@pytest.fixture
async def mentoring_slack(
    fake: FakeSlack, clean_env: pytest.MonkeyPatch, database: Database
) -> AsyncIterator[MentoringSlack]:
    clean_env.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    clean_env.setenv("SLACK_SIGNING_SECRET", SECRET)
    clean_env.setenv("SLACK_API_URL", fake.api_url)
    clock = FrozenClock(MONDAY_6AM)
    services = Services(url=database.url, schema=database.schema, environ={}, clock=clock, rng=random.Random(11))
    core = Core(default_knowledge_dir(), services=services, rng=random.Random(3))
    platform = build_platform(core, {"port": 0, "host": "127.0.0.1"})
    serving = asyncio.create_task(serve(core, [platform], reload_interval=60))
    try:
        await asyncio.wait_for(platform.started.wait(), 5)
        async with aiohttp.ClientSession() as http:
            yield MentoringSlack(SlackHarness(platform, fake, http), fake, platform, services, clock)
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        await sqlite_threads_done()
        if database.schema:  # dropped now, not all at once at the end of the run
            store = await Store.open(database.url, migrate=False)
            try:
                async with store.begin() as conn:
                    await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{database.schema}" CASCADE')
            finally:
                await store.close()


def group_dms(fake: FakeSlack) -> dict[str, tuple[str, ...]]:
    """The group DMs the bot opened and posted in: their people, by conversation id."""
    return {c: state.members for c, state in fake.dms().items() if state.messages}


# ---------------------------------------------------------------------------- a whole round


def assert_valid_blocks(message: dict[str, Any]) -> None:
    """The blocks slack_sdk parses back unchanged, within the limits it does not check."""
    blocks = message["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.validate_json()
        assert parsed.to_dict() == block
    assert problems(Message(text=message["text"], blocks=blocks)) == []


async def test_a_round_on_slack_intros_in_group_dms_checkins_and_forget_me(mentoring_slack: MentoringSlack) -> None:
    m, fake = mentoring_slack, mentoring_slack.fake
    assert isinstance(m.platform.poster, SlackTipPoster) and m.platform.poster.private_groups
    await m.start_program()  # allowed now: the Slack poster reaches people privately
    await m.join(MEMBERS)
    await m.clock.rounds(3)  # rounds at 06:00 that saw every member: nothing is due yet
    assert await m.states(mentoring_tables.intros) == []  # not even a job
    assert fake.of("conversations.open") == [] and fake.of("chat.postMessage") == []

    # the round: one group DM per group, a trio among them (7 peers in pairs), nothing in the channel
    m.clock.set(ROUND)
    await fake.wait_for("chat.postMessage", 3)
    await m.all_sent(mentoring_tables.intros, 3)
    groups = group_dms(fake)
    assert sorted(len(people) for people in groups.values()) == [2, 2, 3]
    assert Counter(u for people in groups.values() for u in people) == Counter(MEMBERS)
    assert all(c.startswith("G") for c in groups)
    assert fake.posts(TEAM_ID, "C1") == []
    assert {c.body["channel"] for c in fake.of("chat.postMessage")} == set(groups)
    for conversation, people in groups.items():
        (intro,) = fake.posts(TEAM_ID, conversation)
        title = "Meet your mentoring group" if len(people) == 3 else "Meet your mentoring partner"
        assert intro["blocks"][0]["text"]["text"] == title
        assert "mentoring program of #mentoring" in texts(intro)
        assert intro["metadata"]["event_type"] == "careerbot_tip" and intro["metadata"]["event_payload"]["key"]
    assert all(c.headers["Authorization"] == f"Bearer {BOT_TOKEN}" for c in fake.of("conversations.open"))

    # a day later: the check-ins, in the same group DMs
    m.clock.set(CHECKIN)
    await fake.wait_for("chat.postMessage", 6)
    await m.all_sent(mentoring_tables.checkins, 3)
    assert group_dms(fake) == groups and fake.posts(TEAM_ID, "C1") == []
    trio = next(c for c, people in groups.items() if len(people) == 3)
    checkin = fake.posts(TEAM_ID, trio)[-1]
    assert checkin["blocks"][0]["text"]["text"] == "Did you meet?"
    member = groups[trio][0]
    outsider = next(u for u in MEMBERS if u not in groups[trio])
    in_trio: dict[str, Any] = {  # a press on a message in the group DM, as Slack sends it
        "channel": {"id": trio, "name": "mpdm"},
        "container": {"type": "message", "message_ts": checkin["ts"], "channel_id": trio, "is_ephemeral": False},
    }

    # a member presses Met: the answer is recorded, and only they see the thanks
    await m.slack.click(checkin, "Met", user={"id": member, "username": "m", "team_id": TEAM_ID}, **in_trio)
    thanks = await m.slack.next_response()
    assert say.ANSWERS["met"] in texts(thanks) and thanks["response_type"] == "ephemeral"
    # ... and the check-in itself, in place, says how many answered (not who, not what)
    edited = (await fake.wait_for("chat.update")).body
    assert (edited["channel"], edited["ts"]) == (trio, checkin["ts"])
    assert fake.posts(TEAM_ID, trio)[-1]["ts"] == checkin["ts"]  # the same message, no new one
    assert "1 of 3 answered so far." in texts(fake.posts(TEAM_ID, trio)[-1])
    assert member not in texts(fake.posts(TEAM_ID, trio)[-1]) and say.ANSWERS["met"] not in texts(edited)
    gm = mentoring_tables.group_members
    async with (await m.store()).connect() as conn:
        answers = {r.user_id: r.answer for r in await conn.execute(select(gm.c.user_id, gm.c.answer))}
    assert answers[member] == "met"
    assert [u for u, a in answers.items() if a is not None] == [member]

    # someone from another group presses the same button: a private error, nothing written
    before = await m.rows()
    await m.slack.click(checkin, "Met", user={"id": outsider, "username": "o", "team_id": TEAM_ID}, **in_trio)
    refused = await m.slack.next_response()
    assert refused["response_type"] == "ephemeral"
    group_id = find_button(checkin, "Met")["value"].rpartition("group:")[2]
    assert say.NOT_IN_GROUP.format(group=group_id) in texts(refused)
    assert await m.rows() == before
    assert len(fake.of("chat.update")) == 1  # the message is not touched

    # forget-me: no row of any table holds the member's id any more
    assert member in str(before)
    said = await m.say("forget-me", member)
    assert say.FORGOT_TITLE in said
    assert await holding(m, member) == []
    assert await holding(m, groups[trio][1]) != []  # the others are still there


async def holding(m: MentoringSlack, value: str) -> list[str]:
    """``table.column`` of every string column of every table whose rows hold ``value``."""
    found = []
    async with (await m.store()).connect() as conn:
        for table in metadata.sorted_tables:
            for column in table.columns:
                if isinstance(column.type, String):
                    rows = await conn.execute(select(column).where(column.contains(value, autoescape=True)))
                    if rows.first() is not None:
                        found.append(f"{table.name}.{column.name}")
    return found


async def test_a_disabled_member_is_left_out_and_the_others_are_introduced(
    mentoring_slack: MentoringSlack, caplog: pytest.LogCaptureFixture
) -> None:
    m, fake = mentoring_slack, mentoring_slack.fake
    await m.start_program("size:3 checkin:1")
    await m.join(["UMEM1", "UMEM2", "UMEM3"])
    fake.user("UMEM2", deleted=True)  # deactivated in Slack after joining
    with caplog.at_level(logging.WARNING, logger="careerbot"):
        m.clock.set(ROUND)
        await fake.wait_for("chat.postMessage")
        await m.all_sent(mentoring_tables.intros, 1)
    assert group_dms(fake) == {fake.dm("UMEM1", "UMEM3"): ("UMEM1", "UMEM3")}
    assert fake.posts(TEAM_ID, "C1") == []
    assert any(
        r.getMessage().endswith("left out UMEM2 (user_disabled); sending it to the other 2") for r in caplog.records
    ), caplog.text


# ---------------------------------------------------------------------------- removing the app


async def setup_two_workspaces(m: MentoringSlack) -> tuple[Rows, Rows]:
    """A tips subscription and a mentoring program with members in this workspace and in another;
    each workspace's rows."""
    for team in (TEAM_ID, OTHER_TEAM):
        await m.start_program(team=team)
        await m.join(MEMBERS[:3], team=team)
        said = texts(
            await m.slack.command("/tips", "subscribe time:09:00 timezone:UTC", user="UBOSS", channel="C1", team=team)
        )
        assert "Daily tips on for #mentoring" in said, said
    mine, other = await m.rows(tenant=TEAM_ID), await m.rows(tenant=OTHER_TEAM)
    for rows in (mine, other):
        for table in ("tip_subscriptions", "mentoring_programs", "mentoring_members"):
            assert rows[table], table
    return mine, other


@pytest.mark.parametrize(
    "event",
    [
        {"type": "app_uninstalled"},
        {"type": "tokens_revoked", "tokens": {"oauth": ["UMEM1"], "bot": [BOT_USER_ID]}},
    ],
    ids=["app_uninstalled", "tokens_revoked"],
)
async def test_removing_the_app_deletes_that_workspace_and_only_it(
    mentoring_slack: MentoringSlack,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    event: dict[str, Any],
) -> None:
    m = mentoring_slack
    _, other = await setup_two_workspaces(m)
    asked = len(m.fake.of("auth.test"))
    release = asyncio.Event()

    async def held(store: Store, tenant: Any) -> int:
        await release.wait()  # the deletion cannot finish before the test has the ack
        return await purge_tenant(store, tenant)

    monkeypatch.setattr("adapters.slack_bot.listeners.purge_tenant", held)
    with caplog.at_level(logging.INFO, logger="careerbot.slack"):
        posted = m.slack.post(event_body(m.slack, event), content_type="application/json")
        status, body, _ = await asyncio.wait_for(posted, 10)  # an ack that waited for the work never comes
        assert status == 200, body  # acknowledged at once; the work follows
        release.set()

        async def gone() -> bool:
            return not any((await m.rows(tenant=TEAM_ID)).values())

        await m.eventually(gone)
    assert await m.rows(tenant=OTHER_TEAM) == other
    lines = [r.getMessage() for r in caplog.records if "for workspace" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith(f"slack: {event['type']} for workspace {TEAM_ID}: deleted its ")
    assert len(m.fake.of("auth.test")) == asked  # Bolt asks nothing of Slack for these events (the token is gone)


async def test_revoking_only_user_tokens_keeps_everything(
    mentoring_slack: MentoringSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = mentoring_slack
    mine, _ = await setup_two_workspaces(m)
    purged: list[str] = []

    async def spy(store: Store, tenant: Any) -> int:
        purged.append(tenant.team)
        return await purge_tenant(store, tenant)

    monkeypatch.setattr("adapters.slack_bot.listeners.purge_tenant", spy)
    event = {"type": "tokens_revoked", "tokens": {"oauth": ["UMEM1"], "bot": []}}
    assert await m.slack.event(event) == 200
    # then the other workspace revokes the bot token: once its rows are gone, the first event (handled
    # before it, the same way) has had every chance to delete something
    assert await m.slack.event({"type": "tokens_revoked", "tokens": {"bot": [BOT_USER_ID]}}, team=OTHER_TEAM) == 200

    async def other_gone() -> bool:
        return not any((await m.rows(tenant=OTHER_TEAM)).values())

    await m.eventually(other_gone)
    assert purged == [OTHER_TEAM]
    assert await m.rows(tenant=TEAM_ID) == mine


async def test_a_failed_purge_is_one_log_line(
    mentoring_slack: MentoringSlack, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = mentoring_slack
    mine, _ = await setup_two_workspaces(m)

    async def broken(store: Store, tenant: Any) -> int:
        raise RuntimeError("the database is on fire")

    monkeypatch.setattr("adapters.slack_bot.listeners.purge_tenant", broken)
    with caplog.at_level(logging.INFO):
        assert await m.slack.event({"type": "app_uninstalled"}) == 200
        for _ in range(200):
            if "deleting its data failed" in caplog.text:
                break
            await asyncio.sleep(0.02)
    (line,) = [r for r in caplog.records if "app_uninstalled" in r.getMessage()]
    assert line.getMessage().startswith(f"slack: app_uninstalled for workspace {TEAM_ID}: deleting its data failed (")
    assert "RuntimeError" in line.getMessage() and "on fire" not in line.getMessage()
    assert line.exc_info is None and "Traceback" not in caplog.text
    assert await m.rows(tenant=TEAM_ID) == mine


def event_body(slack: SlackHarness, event: dict[str, Any]) -> str:
    """An ``event_callback`` as Slack sends one when the app leaves workspace :data:`TEAM_ID`."""
    return json.dumps(
        {
            "token": "legacy",
            "team_id": TEAM_ID,
            "api_app_id": "A1",
            "event": {**event, "event_ts": f"{int(time.time())}.000100"},
            "type": "event_callback",
            "event_id": f"Ev{next(slack.ids)}",
            "event_time": int(time.time()),
        }
    )


def test_removal_events_keep_only_what_careerbot_reads() -> None:
    users = [f"U{i}" for i in range(500)]  # revoked user tokens: more than any list careerbot reads
    event = {"type": "tokens_revoked", "tokens": {"oauth": users, "bot": [BOT_USER_ID]}}
    payload = clean_payload({"type": "event_callback", "team_id": TEAM_ID, "event": event, "extra": 1})
    assert payload == {
        "type": "event_callback",
        "team_id": TEAM_ID,
        "event": {"type": "tokens_revoked", "tokens": {"bot": [BOT_USER_ID]}},
    }
    uninstalled = clean_payload({"type": "event_callback", "team_id": TEAM_ID, "event": {"type": "app_uninstalled"}})
    assert uninstalled is not None and uninstalled["event"] == {"type": "app_uninstalled"}
    for tokens, why in (
        ("all", "event.tokens is not an object"),
        ({"bot": "UBOT"}, "event.tokens.bot is not a list"),
        ({"bot": [1]}, "event.tokens.bot[0] is not of type str"),
    ):
        with pytest.raises(Refused, match=f"^{re.escape(why)}") as refused:
            clean_payload({"type": "event_callback", "event": {"type": "tokens_revoked", "tokens": tokens}})
        assert refused.value.status == 200  # a shape Slack never sends: acknowledged and ignored


async def test_without_a_store_removing_the_app_is_one_line(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="careerbot.slack"):
        assert await slack.event({"type": "app_uninstalled"}) == 200
        for _ in range(100):
            if "app_uninstalled" in caplog.text:
                break
            await asyncio.sleep(0.02)
    assert [r.getMessage() for r in caplog.records if "app_uninstalled" in r.getMessage()] == [
        f"slack: app_uninstalled for workspace {TEAM_ID}, but careerbot has no store here; nothing to delete"
    ]


# ---------------------------------------------------------------------------- the check-in updated in place


async def checkins_posted(m: MentoringSlack) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    """A round and its check-ins; the trio's group DM, its people and its check-in message."""
    await m.start_program()
    await m.join(MEMBERS)
    m.clock.set(ROUND)
    await m.all_sent(mentoring_tables.intros, 3)
    m.clock.set(CHECKIN)
    await m.all_sent(mentoring_tables.checkins, 3)
    groups = group_dms(m.fake)
    trio = next(c for c, people in groups.items() if len(people) == 3)
    return trio, groups[trio], m.fake.posts(TEAM_ID, trio)[-1]


def pressed_on(conversation: str, message: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A press on ``message`` in a group DM, as Slack sends it (with the message itself)."""
    return {
        "channel": {"id": conversation, "name": "mpdm"},
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": conversation,
            "is_ephemeral": False,
        },
        "message": {"type": "message", "ts": message["ts"], "text": message["text"], "blocks": message["blocks"]},
    } | extra


async def test_every_answer_updates_the_check_in_and_the_last_removes_its_buttons(
    mentoring_slack: MentoringSlack,
) -> None:
    m, fake = mentoring_slack, mentoring_slack.fake
    trio, people, checkin = await checkins_posted(m)
    assert_valid_blocks(checkin)
    for count, (person, label) in enumerate(zip(people, ["Met", "Not yet", "Couldn't meet"], strict=True), 1):
        now = fake.posts(TEAM_ID, trio)[-1]
        action = {**find_button(now, label), "block_id": "b1", "action_ts": "1.1"}
        payload = {"type": "block_actions", "actions": [action], "user": {"id": person, "team_id": TEAM_ID}}
        await m.slack.post(m.slack.interaction(payload | pressed_on(trio, now)))
        thanks = await m.slack.next_response()
        assert thanks["response_type"] == "ephemeral" and say.ANSWERED_TITLE in texts(thanks)
        edited = (await fake.wait_for("chat.update", count)).body
        assert_valid_blocks(edited)
        shown = fake.posts(TEAM_ID, trio)[-1]
        assert shown["ts"] == checkin["ts"] and len(fake.posts(TEAM_ID, trio)) == 2  # intro, check-in
        assert all(p not in texts(shown) for p in people)
        if count < 3:
            assert f"{count} of 3 answered so far." in texts(shown)
            assert find_button(shown, "Met")["value"] == find_button(checkin, "Met")["value"]
        else:
            assert "Everyone answered (3 of 3)" in texts(shown)
            assert not [b for b in shown["blocks"] if b["type"] == "actions"]  # no buttons left
    gm = mentoring_tables.group_members
    async with (await m.store()).connect() as conn:
        answers = {r.user_id: r.answer for r in await conn.execute(select(gm.c.user_id, gm.c.answer))}
    assert [answers[p] for p in people] == ["met", "not_yet", "no"]


async def test_a_refused_or_forged_press_is_a_private_error_and_leaves_the_check_in_alone(
    mentoring_slack: MentoringSlack,
) -> None:
    m, fake = mentoring_slack, mentoring_slack.fake
    trio, people, checkin = await checkins_posted(m)
    outsider = next(u for u in MEMBERS if u not in people)
    met = find_button(checkin, "Met")
    group_id = met["value"].rpartition("group:")[2]
    other_group = fake.posts(TEAM_ID, next(c for c in group_dms(fake) if c != trio))[-1]
    other_met = find_button(other_group, "Met")["value"]
    before = await m.rows()
    presses = [
        (outsider, met["value"], "not in group"),  # someone else's check-in
        (people[0], met["value"].replace(f"group:{group_id}", "group:999999"), "not in group 999999"),  # forged group
        (people[0], met["value"].replace("checkin met", "checkin maybe"), "is not something"),  # forged answer
    ]
    for user, value, says in presses:
        action = {**met, "value": value, "block_id": "b1", "action_ts": "1.1"}
        payload = {"type": "block_actions", "actions": [action], "user": {"id": user, "team_id": TEAM_ID}}
        status, _, _ = await m.slack.post(m.slack.interaction(payload | pressed_on(trio, checkin)))
        assert status == 200
        refused = await m.slack.next_response()
        assert refused["response_type"] == "ephemeral" and says in texts(refused), texts(refused)
    assert await m.rows() == before
    # a button of another group's check-in, claimed to be on this message: answered, but this message
    # does not hold that button, so it is not rewritten with the other group's check-in
    member_there = next(u for u in group_dms(fake)[next(c for c in group_dms(fake) if c != trio)])
    action = {**met, "value": other_met, "block_id": "b1", "action_ts": "1.1"}
    payload = {"type": "block_actions", "actions": [action], "user": {"id": member_there, "team_id": TEAM_ID}}
    await m.slack.post(m.slack.interaction(payload | pressed_on(trio, checkin)))
    assert say.ANSWERED_TITLE in texts(await m.slack.next_response())
    await fake.quiesce(m.platform.adapter)  # every press handled to the end
    assert fake.of("chat.update") == []
    assert fake.posts(TEAM_ID, trio)[-1]["blocks"] == checkin["blocks"]


def test_a_press_keeps_only_the_buttons_of_its_message_and_is_never_refused_for_its_shape() -> None:
    press = {
        "type": "block_actions",
        "user": {"id": "U1", "team_id": TEAM_ID},
        "actions": [{"type": "button", "action_id": "cb_run_0", "value": "cb:run:/mentoring checkin met group:1"}],
    }
    blocks: list[Any] = [{"type": "section", "text": {"type": "mrkdwn", "text": "<!channel>"}}] * 45
    blocks += [
        {"type": "actions", "elements": [{"type": "button", "value": "cb:run:/a"}, "junk", {"value": 7}]},
        {"type": "actions", "elements": "junk"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}]},
        {"type": "actions", "elements": [{"type": "button", "value": "v" * 3000}]},  # longer than Slack allows
        "junk",
    ]
    cleaned = clean_payload(press | {"message": {"ts": "1.2", "text": "secret words", "blocks": blocks}})
    assert cleaned is not None
    assert cleaned["message"] == {
        "blocks": [{"type": "actions", "elements": [{"type": "button", "value": "cb:run:/a"}]}]
    }
    for odd in ("junk", None, {"blocks": "junk"}, {"blocks": [None] * 500}):
        cleaned = clean_payload(press | {"message": odd})
        assert cleaned is not None and cleaned["message"] == {"blocks": [{"type": "actions", "elements": []}]}
    assert "message" not in (clean_payload(press) or {})
