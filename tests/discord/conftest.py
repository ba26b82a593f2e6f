"""Discord fixtures: the fake Discord, and the real bot connected to it, driven like a user would:

reply = await discord_user.run("/role ehr")
assert reply.title == "Electronic Health Record (EHR) Developer"
shared = await discord_user.click(reply, "Share in channel")
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from adapters.discord_bot.app import DiscordApp
from adapters.discord_bot.commands import GROUP, HELP
from bot.core import Core
from tests.discord.fake_discord import FakeDiscord
from tests.discord.limits import buttons, check_message, check_modal, check_thread, plain, text
from tests.discord.payloads import EPHEMERAL, TOKEN, USER

DISCORD_VARIABLES = ("DISCORD_TOKEN", "CAREERBOT_DISCORD_SHARDS")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in DISCORD_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """A fake Discord that discord.py points at for the test. Afterwards, every message sent in the
    test is checked: within Discord's limits and unable to ping anyone; so is every thread made, and
    every modal opened."""
    fake = FakeDiscord()
    await fake.start()
    with fake.patched():
        yield fake
    await fake.close()
    for body in fake.message_bodies():
        check_message(body)
    for body in fake.thread_bodies():
        check_thread(body)
    for body in fake.modal_bodies():
        check_modal(body)


@dataclass
class Sent:
    """A message the bot sent in answer to interaction ``iid``."""

    iid: int
    body: dict[str, Any]

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.body.get("flags") or 0) & EPHEMERAL)

    @property
    def buttons(self) -> dict[str, str]:
        return buttons(self.body)

    @property
    def embeds(self) -> list[dict[str, Any]]:
        embeds: list[dict[str, Any]] = self.body.get("embeds") or []
        return embeds

    @property
    def title(self) -> str:
        return plain(self.embeds[0].get("title") or "")

    @property
    def text(self) -> str:
        return plain(text(self.body))


class DiscordUser:
    """Drives the real client through the fake, as a person in a Discord server would."""

    def __init__(self, fake: FakeDiscord, core: Core) -> None:
        self.fake = fake
        self.core = core
        self.app: DiscordApp | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, **options: Any) -> DiscordApp:
        self.app = DiscordApp(self.core, token=TOKEN, **options)
        self._task = asyncio.create_task(self.app.run())
        await self.fake.connected()
        return self.app

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.fake.wait_for(lambda: not self.fake.live())

    async def restart(self) -> None:
        """A new process, as far as the bot can tell: a fresh client with no memory of old messages."""
        await self.stop()
        await self.start()

    async def command(
        self, name: str, *, group: bool = False, dm: bool = False, as_user: dict[str, Any] = USER, **options: Any
    ) -> Sent:
        """``/name option:value`` (or ``/career name ...`` with ``group``) run by ``as_user``; the bot's
        answer. (Not ``user``: that is an option's name.)"""
        if group or name == GROUP:  # Discord has no top-level /career: it is the group
            sub = HELP if name == GROUP else name
            iid = await self.fake.slash(sub, options, group=GROUP, dm=dm, user=as_user)
        else:
            iid = await self.fake.slash(name, options, dm=dm, user=as_user)
        return Sent(iid, await self.fake.reply(iid))

    async def run(self, line: str, *, group: bool = False, as_user: dict[str, Any] = USER) -> Sent:
        """A command as typed, e.g. ``/role ehr``: options filled as Discord's client would."""
        invocation = self.core.parse(line)
        options: dict[str, Any] = dict(invocation.options)
        return await self.command(invocation.command, group=group, as_user=as_user, **options)

    async def click(self, sent: Sent, label: str) -> Sent:
        assert label in sent.buttons, f"no button {label!r} in {list(sent.buttons)}"
        iid = await self.fake.click(self.fake.message_for(sent.iid), sent.buttons[label])
        return Sent(iid, await self.fake.reply(iid))

    async def complete(self, name: str, option: str, partial: str, *, group: bool = False) -> list[dict[str, Any]]:
        """What Discord shows under the option box while the user types ``partial``."""
        iid = await self.fake.autocomplete(name, {option: partial}, option, group=GROUP if group else None)
        body = await self.fake.response(iid)
        assert body["type"] == 8
        choices: list[dict[str, Any]] = body["data"]["choices"]
        return choices


@pytest.fixture
async def discord_user(fake: FakeDiscord, core: Core) -> AsyncIterator[DiscordUser]:
    user = DiscordUser(fake, core)
    await user.start()
    yield user
    await user.stop()
