"""Mentoring on Discord, end to end: ``/mentoring`` through the real client against the fake Discord,
rounds run by the scheduler on a fake clock with the platform's poster, and the store in a temporary
data directory. Intros and check-ins go to one private thread per group (or by DM when threads are
not allowed), never to the channel; removing the bot from a server deletes that server's rows."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import discord
import pytest
from sqlalchemy import String, select, update

from adapters.discord_bot import render
from adapters.discord_bot.app import DiscordApp
from adapters.discord_bot.posting import DiscordTipPoster, dm_nonce, thread_name, thread_tag
from bot import messages
from bot.context import Services
from bot.core import Core
from bot.knowledge.loader import default_knowledge_dir
from bot.mentoring import messages as say
from bot.mentoring import tables
from bot.mentoring.jobs import job_key
from bot.mentoring.store import Settings, TenantMentoring
from bot.registry import job_kinds
from bot.reply import FollowUp, Reply
from bot.schedule.clock import FakeClock, epoch
from bot.schedule.posting import Channel, Post
from bot.schedule.rules import Schedule
from bot.schedule.scheduler import Report, Scheduler
from bot.store.engine import Tenant, metadata
from bot.tips import messages as tip_messages
from bot.tips import tables as tip_tables
from bot.tips.store import TenantTips
from tests.discord.conftest import DiscordUser, Sent
from tests.discord.fake_discord import FakeDiscord
from tests.discord.limits import buttons, check_message, check_thread, plain, text
from tests.discord.payloads import BOT_ID, CHANNEL_ID, EPHEMERAL, GUILD_ID, USER

ADMINISTRATOR, MANAGE_GUILD, VIEW, SEND, EMBED = 1 << 3, 1 << 5, 1 << 10, 1 << 11, 1 << 14
CREATE_PRIVATE_THREADS, SEND_IN_THREADS = 1 << 36, 1 << 38
#: @everyone as a real server has it: no Administrator; threads allowed unless a test says otherwise.
EVERYONE = (0x7FFFFFFF | CREATE_PRIVATE_THREADS | SEND_IN_THREADS) & ~ADMINISTRATOR
MEMBER = str(VIEW | SEND | EMBED)  # an ordinary member: no Manage Server
MONDAY_0600 = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)
ROUND = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)  # a program's first round by default: Monday 10:00 UTC
CHECKIN = ROUND + timedelta(days=7)
PEOPLE: list[dict[str, Any]] = [
    USER | {"id": str(1400000000000000010 + i), "username": f"member{i}", "global_name": f"Member {i}"}
    for i in range(7)
]
IDS = {p["id"] for p in PEOPLE}
OUTSIDER: dict[str, Any] = USER | {"id": "1400000000000000099", "username": "mallory", "global_name": "Mallory"}
OTHER_GUILD = "1200000000000000777"
THREADS = r"/channels/\d+/threads"
IN_CHANNEL = rf"/channels/{CHANNEL_ID}/messages"
EDITS = r"/channels/\d+/messages/\d+"


@dataclass
class Mentoring:
    fake: FakeDiscord
    user: DiscordUser
    core: Core
    services: Services
    clock: FakeClock

    @property
    def app(self) -> DiscordApp:
        assert self.user.app is not None
        return self.user.app

    async def run(self, line: str, who: dict[str, Any] = USER, *, admin: bool = False) -> Sent:
        """``line`` typed by ``who`` in #general (a member without Manage Server unless ``admin``)."""
        self.fake.member_permissions = "2147483647" if admin else MEMBER
        return await self.user.run(line, as_user=who)

    async def start_program(self, people: list[dict[str, Any]] = PEOPLE) -> None:
        created = await self.run("/mentoring program create", admin=True)
        assert created.title == say.CREATED_TITLE.format(channel="#general"), created.text
        for person in people:
            joined = await self.run("/mentoring join knows:fhir wants:sql", person)
            check_message(joined.body)
            assert joined.ephemeral and joined.title == say.JOINED_TITLE.format(channel="#general"), joined.text

    async def round(self, at: datetime, poster: DiscordTipPoster | None = None) -> Report:
        """One round of the scheduler at ``at``, posting with the platform's poster (or ``poster``)."""
        self.clock.set(at)
        store = await self.services.store()
        posters = {"discord": poster or self.app.poster}
        return await Scheduler(store, posters, job_kinds(lambda: self.core.kb), clock=self.clock).run_once()

    async def rows(self, table: Any) -> list[Any]:
        store = await self.services.store()
        async with store.connect() as conn:
            return list((await conn.execute(select(table).order_by(table.c.id))).all())

    async def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        store = await self.services.store()
        out = {}
        async with store.connect() as conn:
            for table in metadata.sorted_tables:
                out[table.name] = [tuple(r) for r in await conn.execute(select(table).order_by(*table.primary_key))]
        return out

    def posts(self, kind: int = 0) -> dict[str, list[dict[str, Any]]]:
        """Thread id -> the bot's messages of ``kind`` in it (0: its posts; 7: "added a member")."""
        return {
            tid: [m for m in self.fake.channel_messages(tid) if m["type"] == kind and m["author"]["id"] == str(BOT_ID)]
            for tid in self.fake.threads
        }

    def nothing_in_the_channel(self) -> None:
        """The bot posted nothing in #general: only the ephemeral answers to the members' commands."""
        assert not self.fake.find("POST", IN_CHANNEL, status=None)
        assert all(int(m["flags"]) & EPHEMERAL for m in self.fake.channel_messages(CHANNEL_ID))


async def launch(fake: FakeDiscord, data_dir: Path, *, everyone: int = EVERYONE) -> Mentoring:
    clock = FakeClock(MONDAY_0600)
    services = Services(environ={"CAREERBOT_DATA_DIR": str(data_dir)}, clock=clock, rng=random.Random(5))
    core = Core(default_knowledge_dir(), services=services, rng=random.Random(7))
    fake.guild["roles"][0]["permissions"] = str(everyone)
    user = DiscordUser(fake, core)
    app = await user.start()
    services.add_poster("discord", app.poster)  # what adapters.runner.run_tips does first
    return Mentoring(fake, user, core, services, clock)


async def land(m: Mentoring) -> None:
    await m.user.stop()
    await m.core.aclose()


@pytest.fixture
async def mentoring(fake: FakeDiscord, tmp_path: Path) -> AsyncIterator[Mentoring]:
    started = await launch(fake, tmp_path)
    yield started
    await land(started)


@pytest.fixture
async def no_threads(fake: FakeDiscord, tmp_path: Path) -> AsyncIterator[Mentoring]:
    """A server where careerbot lacks Create Private Threads (and Send Messages in Threads)."""
    started = await launch(fake, tmp_path, everyone=EVERYONE & ~CREATE_PRIVATE_THREADS & ~SEND_IN_THREADS)
    yield started
    await land(started)


async def until(predicate: Callable[[], Any], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.02)


def the_button(message: dict[str, Any], label: str) -> str:
    found = buttons(message)
    assert label in found, list(found)
    return found[label]


async def press(m: Mentoring, message: dict[str, Any], label: str, who: dict[str, Any]) -> Sent:
    iid = await m.fake.click(message, the_button(message, label), user=who)
    return Sent(iid, await m.fake.reply(iid))


# ---------------------------------------------------------------------------- intros in private threads


async def test_a_round_opens_one_private_thread_per_group_with_exactly_its_members(mentoring: Mentoring) -> None:
    m, fake = mentoring, mentoring.fake
    await m.start_program()
    assert (await m.round(ROUND - timedelta(minutes=1))).sent == 0  # not due yet
    report = await m.round(ROUND)
    assert (report.sent, report.failed, report.retried) == (3, 0, 0)  # 7 people: two pairs and a trio
    assert sorted(len(members) for members in fake.thread_members.values()) == [2, 2, 3]
    assert sorted(u for members in fake.thread_members.values() for u in members) == sorted(IDS)
    groups: dict[int, set[str]] = {r.group_id: set() for r in await m.rows(tables.intros)}
    for row in await m.rows(tables.group_members):
        groups[row.group_id].add(row.user_id)
    posts = m.posts()
    for intro in await m.rows(tables.intros):
        assert intro.state == "sent"
        (tid,) = [tid for tid, sent in posts.items() if [p["id"] for p in sent] == [intro.message_id]]
        thread = fake.threads[tid]
        assert set(fake.thread_members[tid]) == groups[intro.group_id]  # exactly its members
        assert thread["parent_id"] == str(CHANNEL_ID) and thread["type"] == 12
        assert thread["thread_metadata"]["invitable"] is False
        key = job_key("intro", "discord", str(GUILD_ID), intro.group_id)
        assert thread["name"].endswith(thread_tag(key)) and thread["name"].startswith("Meet your mentoring")
        assert len(thread["name"]) <= 100 and not IDS & set(thread["name"].replace("·", " ").split())
        body = next(c.body for c in fake.find("POST", rf"/channels/{tid}/messages"))
        assert body["nonce"] == key and body["enforce_nonce"] is True  # deduplicated like a tip
        trio = len(groups[intro.group_id]) == 3
        assert ("Why three of you" in plain(text(body))) is trio
    m.nothing_in_the_channel()
    again = await m.round(ROUND + timedelta(hours=1))
    assert again.sent == 0 and len(fake.threads) == 3  # sent means sent once


async def test_program_create_is_allowed_on_discord_now(mentoring: Mentoring) -> None:
    assert mentoring.app.poster.private_groups is True
    refused = await mentoring.run("/mentoring program create")  # still admins only
    assert refused.title == messages.CANNOT_TITLE, refused.text
    assert await mentoring.rows(tables.programs) == []
    created = await mentoring.run("/mentoring program create", admin=True)
    assert created.title == say.CREATED_TITLE.format(channel="#general")
    (program,) = await mentoring.rows(tables.programs)
    assert (program.platform, program.tenant, program.channel) == ("discord", str(GUILD_ID), str(CHANNEL_ID))


# ---------------------------------------------------------------------------- check-ins


async def test_a_check_in_button_records_the_members_answer_also_after_a_restart(mentoring: Mentoring) -> None:
    m, fake = mentoring, mentoring.fake
    await m.start_program()
    await m.round(ROUND)
    report = await m.round(CHECKIN)
    assert report.sent == 3 and len(fake.threads) == 6  # each check-in in a private thread of its own
    m.nothing_in_the_channel()
    checkin = next(r for r in await m.rows(tables.checkins) if r.state == "sent")
    (tid,) = [tid for tid, sent in m.posts().items() if [p["id"] for p in sent] == [checkin.message_id]]
    assert fake.threads[tid]["name"].startswith("Did you meet?")
    message = fake.channel_messages(tid)[-1]
    assert the_button(message, "Met") == f"cb:run:/mentoring checkin met group:{checkin.group_id}"
    await m.user.restart()  # a new process: no view, no memory of the message; the custom_id is enough
    member = next(p for p in PEOPLE if p["id"] == fake.thread_members[tid][0])
    before = await m.snapshot()
    outsider = await press(m, message, "Met", OUTSIDER)  # e.g. a moderator who can see the thread
    assert outsider.ephemeral and say.NOT_IN_GROUP.format(group=checkin.group_id) in outsider.text
    assert await m.snapshot() == before  # nothing written
    assert not fake.find("PATCH", EDITS, status=None)  # and the check-in is not touched
    answered = await press(m, message, "Met", member)
    check_message(answered.body)
    assert answered.ephemeral and answered.title == say.ANSWERED_TITLE
    rows = [r for r in await m.rows(tables.group_members) if r.group_id == checkin.group_id]
    assert {r.user_id: r.answer for r in rows} == {
        r.user_id: ("met" if r.user_id == member["id"] else None) for r in rows
    }
    # the check-in itself now says how many answered: the same message, edited after the private answer
    (edit,) = await m.fake.wait_for(lambda: fake.find("PATCH", rf"/channels/{tid}/messages/{message['id']}"))
    check_message(edit.body)
    shown = fake.messages[message["id"]]
    assert f"1 of {len(rows)} answered so far." in text(shown) and member["username"] not in text(shown)
    assert the_button(shown, "Met") == f"cb:run:/mentoring checkin met group:{checkin.group_id}"  # still pressable


# ---------------------------------------------------------------------------- forget-me


async def test_forget_me_leaves_no_row_with_the_members_id(mentoring: Mentoring) -> None:
    m = mentoring
    await m.start_program()
    await m.round(ROUND)
    await m.round(CHECKIN)
    leaving = PEOPLE[3]["id"]
    blocked = await m.run("/mentoring block user:<@" + PEOPLE[4]["id"] + ">", PEOPLE[3])
    assert blocked.title == say.BLOCKED_TITLE.format(user=PEOPLE[4]["id"]), blocked.text
    forgot = await m.run("/mentoring forget-me", PEOPLE[3])
    assert forgot.ephemeral and forgot.title == say.FORGOT_TITLE, forgot.text
    store = await m.services.store()
    checked = 0
    async with store.connect() as conn:
        for table in metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String)]
            for row in (await conn.execute(select(*columns))).all() if columns else []:
                checked += 1
                assert not any(isinstance(v, str) and leaving in v for v in row), (table.name, row)
    assert checked > 20
    others = {r.user_id for r in await m.rows(tables.members)}
    assert others == IDS - {leaving}  # everyone else is still in


# ---------------------------------------------------------------------------- without private threads


async def check_dms(m: Mentoring) -> dict[str, list[dict[str, Any]]]:
    """Each of the seven got exactly one DM (theirs alone), nothing went to a thread or the channel."""
    fake = m.fake
    assert not fake.threads
    m.nothing_in_the_channel()
    dms = {user: fake.channel_messages(fake.dm_channels[user]["id"]) for user in IDS}
    assert set(fake.dm_channels) == IDS
    return dms


async def test_without_create_private_threads_intros_and_check_ins_go_by_dm(
    no_threads: Mentoring, caplog: pytest.LogCaptureFixture
) -> None:
    m, fake = no_threads, no_threads.fake
    await m.start_program()
    with caplog.at_level(logging.WARNING, logger="careerbot.discord"):
        report = await m.round(ROUND)
    assert (report.sent, report.failed) == (3, 0)
    assert not fake.find("POST", THREADS, status=None)  # the permissions said so: no doomed request
    dms = await check_dms(m)
    assert all(len(sent) == 1 for sent in dms.values())
    (warned,) = [r for r in caplog.records if "no private threads" in r.getMessage()]  # once per channel
    assert "Create Private Threads" in warned.getMessage() and warned.exc_info is None
    nonces = [c.body["nonce"] for c in fake.find("POST", r"/channels/\d+/messages")]
    assert len(set(nonces)) == 7  # one nonce per member: a retake is deduplicated in each DM
    follow_ups = [v for sent in dms.values() for v in buttons(sent[0]).values()]
    assert follow_ups and all(v.startswith(f"cb:dm:{GUILD_ID}:/") for v in follow_ups)
    report = await m.round(CHECKIN)
    assert report.sent == 3
    member = PEOPLE[0]
    checkin = fake.channel_messages(fake.dm_channels[member["id"]]["id"])[-1]
    assert the_button(checkin, "Not yet").startswith(f"cb:dm:{GUILD_ID}:/mentoring checkin not-yet group:")
    answered = await press(m, checkin, "Not yet", member)  # pressed in the DM: no server in the interaction
    assert answered.ephemeral and answered.title == say.ANSWERED_TITLE, answered.text
    (row,) = [r for r in await m.rows(tables.group_members) if r.user_id == member["id"]]
    assert (row.tenant, row.answer) == (str(GUILD_ID), "not_yet")
    # the member's own DM copy of the check-in is edited; its buttons still name the server
    (edit,) = await m.fake.wait_for(lambda: fake.find("PATCH", rf"/channels/{checkin['channel_id']}/messages/\d+"))
    check_message(edit.body)
    shown = fake.messages[checkin["id"]]
    assert "1 of " in text(shown) and "answered so far." in text(shown)
    assert the_button(shown, "Met").startswith(f"cb:dm:{GUILD_ID}:/mentoring checkin met group:")


async def test_a_403_on_the_thread_falls_back_to_dms(mentoring: Mentoring) -> None:
    m, fake = mentoring, mentoring.fake
    await m.start_program()
    fake.fail("POST", THREADS, 403, 50013, "Missing Permissions", times=3)
    report = await m.round(ROUND)
    assert (report.sent, report.failed) == (3, 0)
    assert [c.status for c in fake.find("POST", THREADS, status=None)] == [403, 403, 403]
    dms = await check_dms(m)
    assert all(len(sent) == 1 for sent in dms.values())


async def test_closed_dms_are_a_recorded_failure_not_a_crash(
    no_threads: Mentoring, caplog: pytest.LogCaptureFixture
) -> None:
    m, fake = no_threads, no_threads.fake
    await m.start_program()
    closed = PEOPLE[2]["id"]
    fake.dms_closed.add(closed)
    with caplog.at_level(logging.INFO):
        report = await m.round(ROUND)
    assert (report.sent, report.failed, report.retried) == (2, 1, 0)
    (failed,) = [r for r in await m.rows(tables.intros) if r.state == "failed"]
    assert "DMs closed" in failed.error and not IDS & set(failed.error.split())
    group = {r.user_id for r in await m.rows(tables.group_members) if r.group_id == failed.group_id}
    assert closed in group
    for user in group - {closed}:  # the others in the group still got theirs
        assert len(fake.channel_messages(fake.dm_channels[user]["id"])) == 1
    assert not fake.channel_messages(fake.dm_channels[closed]["id"])
    (line,) = [r for r in caplog.records if r.name == "careerbot.discord" and "reached" in r.getMessage()]
    assert "DMs closed" in line.getMessage() and line.exc_info is None and closed not in line.getMessage()
    assert not [r for r in caplog.records if r.exc_info]
    later = await m.round(ROUND + timedelta(hours=1))
    assert later.sent == later.failed == 0  # failed for good: not retried into the others' DMs
    status = await m.run("/mentoring", PEOPLE[0])  # and the bot still serves
    assert status.title == say.STATUS_TITLE.format(channel="#general")


# ---------------------------------------------------------------------------- crashes


async def test_a_retake_after_a_crash_reuses_the_thread(mentoring: Mentoring) -> None:
    """The thread was made and its members added, then the send failed and the process died: the
    next process (a poster with no memory) finds the thread by its name and posts in it."""
    m, fake = mentoring, mentoring.fake
    await m.start_program()
    fake.fail("POST", r"/channels/\d+/messages", 503, 0, "upstream connect error", times=1)
    first = await m.round(ROUND)
    assert (first.sent, first.retried) == (2, 1) and len(fake.threads) == 3
    empty = [tid for tid, sent in m.posts().items() if not sent]
    assert len(empty) == 1 and len(m.posts(kind=7)[empty[0]]) >= 2  # only "added a member" notices
    fresh = DiscordTipPoster(lambda: m.app.client)  # a new process
    retake = await m.round(ROUND + timedelta(minutes=2), poster=fresh)
    assert (retake.sent, retake.found, retake.failed) == (1, 0, 0)
    assert len(fake.threads) == 3 and all(len(sent) == 1 for sent in m.posts().values())
    assert len(fake.thread_members[empty[0]]) == len(set(fake.thread_members[empty[0]]))
    m.nothing_in_the_channel()


async def test_a_post_sent_before_a_crash_is_found_not_resent(mentoring: Mentoring) -> None:
    """Killed after the send, before the "sent" mark: the retake finds the bot's message in the thread."""
    m, fake = mentoring, mentoring.fake
    await m.start_program()
    await m.round(ROUND)
    intro = (await m.rows(tables.intros))[0]
    store = await m.services.store()
    async with store.begin() as conn:  # as the dead process left it: claimed, lease run out
        await conn.execute(
            update(tables.intros)
            .where(tables.intros.c.id == intro.id)
            .values(state="claimed", owner="dead", lease_until=epoch(ROUND), message_id=None, attempts=1)
        )
    fresh = DiscordTipPoster(lambda: m.app.client)
    retake = await m.round(ROUND + timedelta(minutes=5), poster=fresh)
    assert (retake.found, retake.sent) == (1, 0)
    assert len(fake.threads) == 3 and all(len(sent) == 1 for sent in m.posts().values())
    (again,) = [r for r in await m.rows(tables.intros) if r.id == intro.id]
    assert (again.state, again.message_id) == ("sent", intro.message_id)


async def test_a_channel_post_is_unchanged_and_find_knows_only_threads(mentoring: Mentoring) -> None:
    m, fake = mentoring, mentoring.fake
    poster = m.app.poster
    tip = Post(tenant=str(GUILD_ID), channel=str(CHANNEL_ID), reply=say_hello(), key="k" * 25, due_at=0)
    assert await poster.post(tip) in fake.messages
    assert not fake.find("POST", THREADS, status=None) and await poster.find(tip) is None
    private = Post(
        tenant=str(GUILD_ID), channel=str(CHANNEL_ID), reply=say_hello(), key="p" * 25, due_at=0, audience=("1",) * 2
    )
    assert await poster.find(private) is None  # no thread of that key
    made = await poster.post(private)
    assert await DiscordTipPoster(lambda: m.app.client).find(private) == made


def say_hello() -> Reply:
    return Reply(title="Hello " + "x" * 200, summary="@everyone <@1> hi")


@pytest.mark.parametrize(
    "title", ["Meet your mentoring partner", "Did you meet?", "x" * 300, "🎉" * 120, "two\nlines\tand  gaps", ""]
)
def test_thread_names_fit_discords_limit_and_end_with_the_keys_tag(title: str) -> None:
    key = "mi0123456789abcdef0123456"
    name = thread_name(Post(tenant="1", channel="2", reply=Reply(title=title), key=key, due_at=0, audience=("3",)))
    check_thread({"type": 12, "invitable": False, "auto_archive_duration": 10080, "name": name})
    assert name.endswith(" · f0123456") and name.endswith(thread_tag(key))
    assert name.startswith(" ".join(title.split())[:20] or "careerbot")
    assert len(dm_nonce(key, 3)) <= 25 and dm_nonce(key, 3) != dm_nonce(key, 4) == dm_nonce(key, 4)


def test_a_dm_follow_up_names_its_server_and_decodes_as_run() -> None:
    command = "/mentoring checkin met group:42"
    custom_id = f"cb:dm:{GUILD_ID}:{command}"
    assert render.decode(custom_id) == ("run", command, 0) and render.home_guild(custom_id) == str(GUILD_ID)
    assert render.home_guild(f"cb:run:{command}") is None and render.decode(f"cb:run:{command}") == ("run", command, 0)
    for foreign in ("cb:dm:123:/role ehr", f"cb:dm:{GUILD_ID}:no-slash", f"cb:dm::{command}"):
        assert render.home_guild(foreign) is None and render.decode(foreign) is None
    reply = Reply(title="t", follow_ups=(FollowUp(label="Met", command=command),))
    out = render.render(reply, shareable=False, guild=str(GUILD_ID))
    assert out.view is not None and [item.custom_id for item in out.view.children] == [custom_id]  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------- removed from the server


async def other_tenant_rows(m: Mentoring) -> int:
    store = await m.services.store()
    now = m.clock.now()
    other = TenantMentoring(store, Tenant("discord", OTHER_GUILD))
    program, _ = await other.create_program(Channel("1300000000000000777", "x"), Settings(), user="9", now=now, seed=1)
    await other.join(
        program, "1400000000000000777", role="peer", knows=(), wants=(), timezone="UTC", bio=None, capacity=1, now=now
    )
    await TenantTips(store, Tenant("discord", OTHER_GUILD)).subscribe(
        Channel("1300000000000000777", "x"), Schedule(9, 0, "UTC", 0b1111111), None, user="9", now=now, seed=1
    )
    return len(await tenant_rows(m, OTHER_GUILD))


async def tenant_rows(m: Mentoring, tenant: str) -> list[tuple[str, Any]]:
    store = await m.services.store()
    found = []
    async with store.connect() as conn:
        for table in metadata.sorted_tables:
            if "tenant" in table.c:
                rows = (await conn.execute(select(table).where(table.c.tenant == tenant))).all()
                found += [(table.name, row) for row in rows]
    return found


async def test_removing_the_bot_deletes_that_servers_rows_and_only_them(mentoring: Mentoring) -> None:
    m = mentoring
    await m.start_program()
    m.fake.member_permissions = "2147483647"
    subscribed = await m.user.command("tips", action="subscribe", time="09:00")
    assert subscribed.title == tip_messages.SUBSCRIBED_TITLE.format(channel="#general"), subscribed.text
    await m.round(ROUND)
    ours = await tenant_rows(m, str(GUILD_ID))
    assert {name for name, _ in ours} >= {
        tables.programs.name,
        tables.members.name,
        tables.groups.name,
        tables.group_members.name,
        tables.intros.name,
        tip_tables.subscriptions.name,
    }
    others = await other_tenant_rows(m)
    await m.fake.remove_guild()

    async def gone() -> bool:
        return not await tenant_rows(m, str(GUILD_ID))

    await until(gone)
    assert len(await tenant_rows(m, OTHER_GUILD)) == others  # other servers untouched


async def test_a_purge_that_fails_is_one_log_line(mentoring: Mentoring, caplog: pytest.LogCaptureFixture) -> None:
    m = mentoring

    async def broken() -> Any:
        raise OSError("disk on fire\nsecond line")

    m.services.store = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO, logger="careerbot.discord"):
        await m.fake.remove_guild()

        async def logged() -> bool:
            return any("could not be deleted" in r.getMessage() for r in caplog.records)

        await until(logged)
    (line,) = [r for r in caplog.records if "could not be deleted" in r.getMessage()]
    assert line.levelno == logging.ERROR and line.exc_info is None and "\n" not in line.getMessage()
    assert str(GUILD_ID) in line.getMessage() and "disk on fire" in line.getMessage()


# ---------------------------------------------------------------------------- the check-in updated in place


async def test_the_last_answer_removes_the_buttons_and_a_forged_button_edits_nothing(mentoring: Mentoring) -> None:
    m, fake = mentoring, mentoring.fake
    await m.start_program()
    await m.round(ROUND)
    await m.round(CHECKIN)
    sent = [r for r in await m.rows(tables.checkins) if r.state == "sent"]
    where = {
        r.group_id: next(tid for tid, posts in m.posts().items() if [p["id"] for p in posts] == [r.message_id])
        for r in sent
    }
    group, other = sent[0].group_id, sent[1].group_id
    message = fake.channel_messages(where[group])[-1]
    people = [p for p in PEOPLE if p["id"] in fake.thread_members[where[group]]]
    stranger = next(p for p in PEOPLE if p["id"] in fake.thread_members[where[other]])
    assert len(people) in (2, 3)

    # a button of another group's check-in, claimed on this message by someone of that group: the
    # answer is theirs to give, but this message does not hold that button, so it is not edited
    forged = f"cb:run:/mentoring checkin met group:{other}"
    iid = await fake.click(message, forged, user=stranger)
    assert (await fake.reply(iid))["flags"] & EPHEMERAL
    assert not fake.find("PATCH", EDITS, status=None)  # not now; nor later: the presses below, handled
    # after it, must each make exactly one edit (``edited``), and there are as many edits as presses

    for count, person in enumerate(people, 1):
        current = fake.messages[message["id"]]
        answered = await press(m, current, "Couldn't meet", person)
        assert answered.ephemeral and answered.title == say.ANSWERED_TITLE

        async def edited(times: int = count) -> bool:
            return len(fake.edits.get(message["id"], [])) == times

        await until(edited)
    edits = fake.find("PATCH", EDITS)
    assert len(edits) == len(people)
    for edit in edits:
        check_message(edit.body)
    shown = fake.messages[message["id"]]
    assert f"Everyone answered ({len(people)} of {len(people)})" in text(shown)
    assert shown["components"] == [] and buttons(shown) == {}  # nothing left to press
    assert all(p["username"] not in text(shown) and p["id"] not in text(shown) for p in people)
    rows = [r for r in await m.rows(tables.group_members) if r.group_id == group]
    assert {r.answer for r in rows} == {"no"}


async def test_check_in_buttons_are_persistent() -> None:
    """Stateless and persistent: no timeout, a fixed custom_id that carries the command, and not kept
    in discord.py's view store (the client's on_interaction answers any of them, after a restart too)."""
    from bot.mentoring.intros import checkin_reply

    out = render.render(checkin_reply(42, "general", 7), source=None, shareable=False)
    assert out.view is not None and out.view.timeout is None and out.view.is_finished()
    ids = [item.custom_id for item in out.view.children if isinstance(item, discord.ui.Button)]
    assert ids == [
        "cb:run:/mentoring checkin met group:42",
        "cb:run:/mentoring checkin not-yet group:42",
        "cb:run:/mentoring checkin no group:42",
    ]
    again = render.render(checkin_reply(42, "general", 7, answered=1, total=2), source=None, shareable=False)
    assert again.view is not None
    assert [item.custom_id for item in again.view.children if isinstance(item, discord.ui.Button)] == ids
    done = render.render(checkin_reply(42, "general", 7, answered=2, total=2), source=None, shareable=False)
    assert done.view is None
