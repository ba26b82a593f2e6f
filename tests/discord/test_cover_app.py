"""The Discord platform's lifecycle and its quieter handlers, through discord.py against the fake
Discord: ``connected`` (``/readyz``) follows the gateway and ``close()`` ends ``run()``; a check-in
that Discord will not update, or cannot be reached to update, is one log line and the member's answer stands;
a check-in message that also holds a link button is still updated; removal from a server when no
store is configured deletes nothing and logs nothing; and ``careerbot discord sync --clear``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.discord_bot import app as app_module
from adapters.discord_bot.app import DiscordApp
from adapters.discord_bot.commands import client_options, registration_payload
from bot.core import Core
from bot.mentoring import messages as say
from bot.mentoring import tables
from tests.discord.conftest import DiscordUser, Sent
from tests.discord.fake_discord import FakeDiscord
from tests.discord.limits import buttons, check_message, text
from tests.discord.payloads import GUILD_ID, TOKEN
from tests.discord.test_failures import sync
from tests.discord.test_mentoring import PEOPLE, ROUND, Mentoring, land, launch, press

CHECKIN = ROUND + timedelta(days=7)
LINK_ROW = {"type": 1, "components": [{"type": 2, "style": 5, "label": "Guide", "url": "https://example.org/guide"}]}


async def until(predicate: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


# ---------------------------------------------------------------------------- lifecycle


async def test_connected_follows_the_gateway_and_close_ends_run(
    fake: FakeDiscord, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ready once the guilds in READY have arrived and no more came for guild_ready_timeout (2 s by
    # default; shortened here, the order of events is the same)
    monkeypatch.setattr(app_module, "client_options", lambda: client_options() | {"guild_ready_timeout": 0.05})
    app = DiscordApp(core, token=TOKEN)
    assert not app.connected  # no client yet
    await app.close()  # nothing to close: a no-op
    running = asyncio.create_task(app.run())
    try:
        await fake.connected()
        assert app.client is not None
        await asyncio.wait_for(app.client.wait_until_ready(), 10)
        assert app.connected
        await app.close()  # the runner's shutdown
        await asyncio.wait_for(running, 10)  # run() returns: the client's start() ended
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert running.exception() is None
    assert app.client.is_closed() and not app.connected
    await fake.wait_for(lambda: not fake.live())  # the gateway session ended too
    await app.close()  # closing twice is harmless


# ---------------------------------------------------------------------------- check-ins updated in place


@pytest.fixture
async def checked_in(fake: FakeDiscord, tmp_path: Path) -> AsyncIterator[tuple[Mentoring, str, dict[str, Any]]]:
    """A pair's check-in posted in its private thread: (mentoring, the thread, the message)."""
    m = await launch(fake, tmp_path)
    await m.start_program(PEOPLE[:2])
    await m.round(ROUND)
    await m.round(CHECKIN)
    (checkin,) = [r for r in await m.rows(tables.checkins) if r.state == "sent"]
    (tid,) = [tid for tid, posts in m.posts().items() if [p["id"] for p in posts] == [checkin.message_id]]
    yield m, tid, fake.channel_messages(tid)[-1]
    await land(m)


@pytest.mark.parametrize(
    ("status", "code", "message", "reason"),
    [
        (403, 50001, "Missing Access", "403 Forbidden (error code: 50001): Missing Access"),
        (0, 0, "", "cannot reach Discord: ServerDisconnectedError"),
    ],
    ids=["discord-refuses", "network-drops"],
)
async def test_a_check_in_update_that_fails_is_one_log_line_and_the_answer_stands(
    checked_in: tuple[Mentoring, str, dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
    status: int,
    code: int,
    message: str,
    reason: str,
) -> None:
    m, tid, checkin = checked_in
    first, second = (p for p in PEOPLE if p["id"] in m.fake.thread_members[tid])
    edits = rf"/channels/{tid}/messages/{checkin['id']}"
    m.fake.fail("PATCH", edits, status, code, message)
    with caplog.at_level(logging.INFO, logger="careerbot.discord"):
        answered = await press(m, checkin, "Met", first)
        assert answered.ephemeral and answered.title == say.ANSWERED_TITLE  # sent before the edit was tried

        def logged() -> list[str]:
            return [r.getMessage() for r in caplog.records if "cannot update message" in r.getMessage()]

        await until(logged)
    assert logged() == [f"cannot update message {checkin['id']} in channel {tid}: {reason}"]
    assert not [r for r in caplog.records if r.exc_info]
    assert m.fake.messages[checkin["id"]]["edited_timestamp"] is None  # unchanged ...
    rows = {r.user_id: r.answer for r in await m.rows(tables.group_members)}
    assert rows == {first["id"]: "met", second["id"]: None}  # ... but the answer is recorded

    # the same check-in as Discord delivers it with a link button beside careerbot's (which has no
    # custom_id): the buttons careerbot made are still found on it, so the press updates it
    shown = m.fake.messages[checkin["id"]] | {"components": [*checkin["components"], LINK_ROW]}
    iid = await m.fake.click(shown, buttons(checkin)["Met"], user=second)
    done = Sent(iid, await m.fake.reply(iid))
    assert done.ephemeral and done.title == say.ANSWERED_TITLE
    (edit,) = await m.fake.wait_for(lambda: m.fake.find("PATCH", edits))
    check_message(edit.body)
    assert "Everyone answered (2 of 2)" in text(m.fake.messages[checkin["id"]])
    assert buttons(m.fake.messages[checkin["id"]]) == {}  # nothing left to press


# ---------------------------------------------------------------------------- removal without a store


async def test_removal_from_a_server_without_a_store_deletes_nothing_and_keeps_serving(
    discord_user: DiscordUser, core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    assert core.services is None  # the console's core: no store configured
    app = discord_user.app
    assert app is not None and app.client is not None
    with caplog.at_level(logging.INFO, logger="careerbot.discord"):
        await discord_user.fake.remove_guild()
        await until(lambda: app.client is not None and app.client.get_guild(GUILD_ID) is None)
        after = await discord_user.command("role", dm=True, query="ehr")  # handled after the removal
    assert after.title == "Electronic Health Record (EHR) Developer"
    assert not [r for r in caplog.records if r.name == "careerbot.discord" and "removed" in r.getMessage()]


# ---------------------------------------------------------------------------- sync --clear


async def test_sync_clear_removes_the_commands_from_a_guild_or_globally(fake: FakeDiscord) -> None:
    registered = await sync("--guild", str(GUILD_ID))
    assert registered.exit_code == 0, registered.output
    assert len(fake.commands[str(GUILD_ID)]) == len(registration_payload())
    cleared = await sync("--guild", str(GUILD_ID), "--clear")
    assert cleared.exit_code == 0, cleared.output
    assert cleared.output.strip().splitlines() == [f"careerbot's commands removed in guild {GUILD_ID}"]
    assert fake.commands[str(GUILD_ID)] == []
    cleared = await sync("--clear")
    assert cleared.exit_code == 0, cleared.output
    assert cleared.output.strip().splitlines() == ["careerbot's commands removed globally"]
    assert fake.commands["global"] == []
