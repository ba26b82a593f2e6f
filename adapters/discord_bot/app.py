"""The Discord adapter: app commands generated from the core's declarations, replies as embeds.

Each declared command is a top-level slash command (``/role``) and a subcommand of the ``/career``
group (``/career role``); the core's ``career`` command, which a group cannot be, is ``/career help``.
Entity options autocomplete from the core. Replies are ephemeral with a "Share in channel" button;
follow-ups are buttons whose ``custom_id`` carries the command, so they work on old messages after a
restart (a mentoring check-in's Met / Not yet buttons too: answered privately, and the check-in message
itself edited to say how many answered). Mentions of the bot (and DMs) get the best answer to their
words. Registration is explicit: ``careerbot discord sync``. Connection lifecycles belong to
:mod:`adapters.runner`; daily tips and mentoring messages are posted through ``poster``
(:mod:`adapters.discord_bot.posting`). Removing the bot from a server deletes what careerbot keeps
about it (``on_guild_remove``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping
from typing import Any, Literal, TypedDict

import aiohttp
import click
import discord
from discord import app_commands
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.discord_bot import forms, render
from adapters.discord_bot.commands import (
    TOKEN_REJECTED,
    build_tree,
    client_options,
    registration_payload,
    sync_commands,
)
from adapters.discord_bot.pool import DiscordPoolSource
from adapters.discord_bot.posting import DiscordTipPoster
from bot import metrics
from bot.commands import Invocation, OptionValue
from bot.core import Core
from bot.errors import ConfigError
from bot.reply import Reply

log = logging.getLogger("careerbot.discord")

DEFER_AFTER = 2.0  # seconds; Discord wants a first response within 3
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
TOKEN_MISSING = "DISCORD_TOKEN is not set: copy the bot token from the Discord Developer Portal (Bot tab)"
TOKEN_MALFORMED = "DISCORD_TOKEN is malformed: expected the bare bot token (three dot-separated parts, no 'Bot ')"
STALE_TITLE = "This command is out of date"
STALE = "careerbot changed since its commands were registered. A server admin can run `careerbot discord sync`."
FAILED_TITLE = "Something went wrong on our side"
FAILED = "That request failed inside careerbot. It has been logged; please try again in a moment."
FORM_ERRORS_TITLE = "Please fix these fields"
FORGED_TITLE = "This form cannot be used"
FORGED = "That submission did not come from a careerbot form. Nothing was saved; run the command again."
FORM_NO_GUILD = "This form works in a server channel only. Nothing was saved."
ShardSetting = Literal["auto"] | int | None
MAX_SHARDS = 10_000


def parse_shard_ids(text: str) -> list[int] | None:
    """``0,1``, ``2-3`` or a mix, as sorted unique shard numbers; None when malformed."""
    found: set[int] = set()
    for part in text.replace(" ", "").split(","):
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            return None
        first, last = int(low), int(high) if dash else int(low)
        if last < first or last >= MAX_SHARDS:
            return None
        found.update(range(first, last + 1))
    return sorted(found)


# ---------------------------------------------------------------------------- settings


class DiscordSettings(BaseSettings):
    """``DISCORD_TOKEN``, and sharding: ``CAREERBOT_DISCORD_SHARDS`` (``auto`` or a count, all shards in
    this process), or ``CAREERBOT_DISCORD_SHARD_COUNT`` with ``CAREERBOT_DISCORD_SHARD_IDS`` (this
    process runs only those shards of that many: split a big bot across processes)."""

    model_config = SettingsConfigDict(extra="ignore")

    token: SecretStr = Field(default=SecretStr(""), validation_alias="DISCORD_TOKEN")
    shards: str = Field(default="", validation_alias="CAREERBOT_DISCORD_SHARDS")
    total: str = Field(default="", validation_alias="CAREERBOT_DISCORD_SHARD_COUNT")
    ids: str = Field(default="", validation_alias="CAREERBOT_DISCORD_SHARD_IDS")

    @field_validator("shards")
    @classmethod
    def _shards(cls, value: str) -> str:
        value = value.strip().casefold()
        if value in ("", "auto") or (value.isdigit() and int(value) >= 1):
            return value
        raise ValueError("must be 'auto' or a number of shards")

    @field_validator("total")
    @classmethod
    def _total(cls, value: str) -> str:
        value = value.strip()
        if value == "" or (value.isdigit() and 1 <= int(value) <= MAX_SHARDS):
            return value
        raise ValueError(f"must be the total number of shards, 1 to {MAX_SHARDS}")

    @field_validator("ids")
    @classmethod
    def _ids(cls, value: str) -> str:
        value = value.strip()
        if value and parse_shard_ids(value) is None:
            raise ValueError("must be shard numbers such as 0,1 or a range such as 0-3")
        return value

    @model_validator(mode="after")
    def _together(self) -> DiscordSettings:
        if self.ids and not self.total:
            raise ValueError("CAREERBOT_DISCORD_SHARD_IDS needs CAREERBOT_DISCORD_SHARD_COUNT, the total")
        if self.total and self.shards:
            raise ValueError("set CAREERBOT_DISCORD_SHARDS or CAREERBOT_DISCORD_SHARD_COUNT, not both")
        found = parse_shard_ids(self.ids) or []
        if found and max(found) >= int(self.total):
            raise ValueError(f"CAREERBOT_DISCORD_SHARD_IDS must be below CAREERBOT_DISCORD_SHARD_COUNT ({self.total})")
        return self

    @property
    def shard_count(self) -> ShardSetting:
        if self.total:
            return int(self.total)
        return None if not self.shards else "auto" if self.shards == "auto" else int(self.shards)

    @property
    def shard_ids(self) -> list[int] | None:
        return parse_shard_ids(self.ids) if self.ids else None

    def require_token(self) -> str:
        token = self.token.get_secret_value().strip()
        if not token:
            raise ConfigError(TOKEN_MISSING)
        if not TOKEN_RE.fullmatch(token):
            raise ConfigError(TOKEN_MALFORMED)
        return token


def load_settings() -> DiscordSettings:
    """Settings from the environment; a bad value is a :class:`ConfigError` naming the variable only."""
    try:
        return DiscordSettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        if not first["loc"]:  # a rule across variables: its message names them
            raise ConfigError(first["msg"].removeprefix("Value error, ")) from None
        var = str(first["loc"][0])
        raise ConfigError(f"{var} is malformed: {first['msg'].removeprefix('Value error, ')}") from None


# ---------------------------------------------------------------------------- rate-limit metrics


class RateLimitMeter(logging.Filter):
    """Counts discord.py's 429 waits for ``/metrics`` (:mod:`bot.metrics`): discord.py waits them out
    inside its HTTP and webhook clients and only logs them ("... rate limited. Retrying in %.2f
    seconds."), with the seconds as the last argument."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        if record.levelno == logging.WARNING and "rate limit" in text and "Retrying in" in text:
            args = record.args if isinstance(record.args, tuple) else ()
            seconds = args[-1] if args and isinstance(args[-1], int | float) else 0.0
            metrics.rate_limited("discord", float(seconds))
        return True  # the line is still logged as before


def meter_rate_limits() -> None:
    """Install :class:`RateLimitMeter` once on discord.py's REST and webhook (interaction) loggers."""
    for name in ("discord.http", "discord.webhook.async_"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RateLimitMeter) for f in logger.filters):
            logger.addFilter(RateLimitMeter())


# ---------------------------------------------------------------------------- the running bot


class Where(TypedDict):
    """Who asked, where: the neutral :class:`Invocation` fields a Discord event fills in."""

    platform: str
    tenant: str
    user: str
    channel: str
    admin: bool


def _where(interaction: discord.Interaction) -> Where:
    return Where(
        platform="discord",
        tenant=str(interaction.guild_id or "dm"),
        user=str(interaction.user.id),
        channel=str(interaction.channel_id or ""),
        admin=interaction.guild_id is not None and interaction.permissions.manage_guild,
    )


def _message_where(message: discord.Message) -> Where:
    permissions = getattr(message.author, "guild_permissions", None)  # a Member in a guild, a User in a DM
    return Where(
        platform="discord",
        tenant=str(message.guild.id) if message.guild else "dm",
        user=str(message.author.id),
        channel=str(message.channel.id),
        admin=bool(permissions and permissions.manage_guild),
    )


def _custom_ids(message: discord.Message) -> set[str]:
    """The ``custom_id`` of every button and menu on ``message``."""
    found: set[str] = set()
    for row in message.components:
        for item in getattr(row, "children", ()):
            custom_id = getattr(item, "custom_id", None)
            if isinstance(custom_id, str):
                found.add(custom_id)
    return found


class DiscordApp:
    """The Discord platform for :mod:`adapters.runner`: a fresh client per :meth:`run`, one core."""

    name = "discord"

    def __init__(
        self,
        core: Core,
        *,
        token: str,
        shards: ShardSetting = None,
        shard_ids: list[int] | None = None,
        defer_after: float = DEFER_AFTER,
    ) -> None:
        self.core = core
        self._token = token
        self.shards = shards
        self.shard_ids = shard_ids
        """Only these shards of :attr:`shards` run here (another process runs the rest)."""
        self.defer_after = defer_after
        self.client: discord.Client | None = None
        self.poster = DiscordTipPoster(lambda: self.client)  # daily tips: see adapters.runner.run_tips
        self.pool = DiscordPoolSource(lambda: self.client)  # mentoring pools: adapters.runner.run_pools
        registration_payload(core.registry)  # a declaration Discord cannot express fails here, at start-up
        meter_rate_limits()

    def new_client(self) -> discord.Client:
        options = client_options()
        if self.shards is None:
            client = discord.Client(**options)
        else:
            if self.shard_ids is not None:
                options["shard_ids"] = self.shard_ids
            client = discord.AutoShardedClient(shard_count=None if self.shards == "auto" else self.shards, **options)
        build_tree(client, self.core.registry, self).error(self.failed)

        async def on_interaction(interaction: discord.Interaction) -> None:
            await self.click(interaction)

        async def on_message(message: discord.Message) -> None:
            await self.mention(client, message)

        async def on_guild_remove(guild: discord.Guild) -> None:
            await self.removed(guild)

        client.event(on_interaction)
        client.event(on_message)
        client.event(on_guild_remove)
        return client

    async def run(self) -> None:
        client = self.client = self.new_client()
        try:
            await client.start(self._token)
        except discord.LoginFailure:
            raise ConfigError(TOKEN_REJECTED) from None
        finally:
            if not client.is_closed():
                await client.close()

    async def close(self) -> None:
        if self.client is not None and not self.client.is_closed():
            await self.client.close()

    @property
    def connected(self) -> bool:
        """Signed in to the gateway with every shard ready (``/readyz``)."""
        client = self.client
        return client is not None and not client.is_closed() and client.is_ready()

    # ------------------------------------------------------------------ handlers

    async def command(self, interaction: discord.Interaction, name: str, options: dict[str, OptionValue]) -> None:
        invocation = Invocation(command=name, options=options, **_where(interaction))
        await self.respond(interaction, invocation, private=True)

    def complete(self, command: str, option: str, current: str) -> list[app_commands.Choice[str]]:
        return render.choices(self.core.autocomplete(command, option, current))

    async def click(self, interaction: discord.Interaction) -> None:
        """A button: ``run`` a follow-up (private), ``share`` in the channel, or show ``more``; or a
        form's modal submitted."""
        if interaction.type is discord.InteractionType.modal_submit:
            await self.submit(interaction)
            return
        if interaction.type is not discord.InteractionType.component:
            return
        data: Mapping[str, object] = interaction.data or {}
        custom_id = data.get("custom_id")
        parsed = render.decode(custom_id) if isinstance(custom_id, str) else None
        if parsed is None:
            return
        action, text, page = parsed
        where = _where(interaction)
        home = render.home_guild(custom_id) if isinstance(custom_id, str) else None
        if home is not None and interaction.guild_id is None:  # a follow-up the bot sent by DM for a server
            where["tenant"] = home
        invocation = self.core.parse(text, **where)
        await self.respond(interaction, invocation, private=action != "share", page=page)

    async def submit(self, interaction: discord.Interaction) -> None:
        """A form's modal submitted: each refused field on its own line and nothing stored, or the
        form's command run as the member who submitted it (never as an admin), answered privately."""
        try:
            submission = forms.read(interaction.data or {})
        except forms.Forged as exc:
            log.info("refused a modal submission: %s", exc)
            await self.refuse(interaction, FORGED_TITLE, FORGED)
            return
        if interaction.guild_id is None:
            await self.refuse(interaction, FORGED_TITLE, FORM_NO_GUILD)
            return
        lines = forms.errors(self.core.kb, submission)
        if lines:
            await self.refuse(interaction, FORM_ERRORS_TITLE, "\n".join(lines))
            return
        where = _where(interaction)
        where["admin"] = False  # a form runs as the member, whatever their permissions
        invocation = Invocation(command=submission.form.command, options=forms.options(submission), **where)
        await self.respond(interaction, invocation, private=True)

    async def refuse(self, interaction: discord.Interaction, title: str, text: str) -> None:
        reply = Reply(title=title, summary=text, tone="error")
        await interaction.response.send_message(embeds=render.render(reply, shareable=False).embeds, ephemeral=True)

    async def respond(
        self, interaction: discord.Interaction, invocation: Invocation, *, private: bool, page: int = 0
    ) -> None:
        """Answer within Discord's 3 s: directly, or deferred with a follow-up if the core is slow."""
        loop = asyncio.get_running_loop()
        deferred: list[asyncio.Task[Any]] = []
        timer = loop.call_later(
            self.defer_after,
            lambda: deferred.append(loop.create_task(interaction.response.defer(ephemeral=private, thinking=True))),
        )
        try:
            reply = await self.core.answer(invocation)
        finally:
            timer.cancel()
        form = forms.by_id(reply.extra.get("form", ""))
        command = interaction.type is discord.InteractionType.application_command
        if form is not None and command and not deferred:  # a modal must be the first response
            await interaction.response.send_modal(forms.modal(form, reply.form_values))
            return
        out = render.render(reply, source=self.core.share_command(invocation, reply), shareable=private, page=page)
        extra: dict[str, Any] = {"view": out.view} if out.view is not None else {}
        if not deferred:
            await interaction.response.send_message(embeds=out.embeds, ephemeral=private, **extra)
        else:
            await deferred[0]
            await interaction.followup.send(embeds=out.embeds, ephemeral=private, **extra)
        await self.update_pressed(interaction, reply)

    async def update_pressed(self, interaction: discord.Interaction, reply: Reply) -> None:
        """When a button's answer carries the message as it should now read (a check-in: how many
        answered, no buttons once everyone has), edit the message holding the button, after the
        private answer. Only a button really on that message, and never for a refusal; its buttons
        keep the server they run in (a DM's). A failure is one log line: the answer is already sent."""
        data: Mapping[str, object] = interaction.data or {}
        message, custom_id = interaction.message, data.get("custom_id")
        if reply.update is None or reply.tone == "error" or message is None or not isinstance(custom_id, str):
            return
        if interaction.type is not discord.InteractionType.component or custom_id not in _custom_ids(message):
            return
        out = render.render(reply.update, source=None, shareable=False, guild=render.home_guild(custom_id))
        try:
            await message.edit(embeds=out.embeds, view=out.view, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as exc:
            log.warning("cannot update message %s in channel %s: %s", message.id, message.channel.id, exc)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:  # the network, not Discord, failed
            log.warning(
                "cannot update message %s in channel %s: cannot reach Discord: %s",
                message.id,
                message.channel.id,
                type(exc).__name__,
            )

    async def failed(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """The tree could not run a command: say so rather than leave "The application did not respond"."""
        stale = isinstance(error, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch)
        if stale:
            log.warning("stale command registration (%s); run `careerbot discord sync`", error)
        else:
            log.error("discord command failed", exc_info=error)
        if interaction.response.is_done():
            return
        if interaction.type is discord.InteractionType.autocomplete:
            await interaction.response.autocomplete([])
            return
        reply = Reply(title=STALE_TITLE, summary=STALE, tone="error") if stale else None
        reply = reply or Reply(title=FAILED_TITLE, summary=FAILED, tone="error")
        await interaction.response.send_message(embeds=render.render(reply).embeds, ephemeral=True)

    async def removed(self, guild: discord.Guild) -> None:
        """The bot left the server (kicked, banned, or the server was deleted): delete everything
        careerbot keeps about it (:func:`bot.registry.purge_tenant`). A failure is one log line."""
        services = self.core.services
        if services is None:
            return
        from bot.registry import purge_tenant
        from bot.store.engine import Tenant

        try:
            store = await services.store()
            async with store.failures():
                deleted = await purge_tenant(store, Tenant("discord", str(guild.id)))
        except Exception as exc:  # the gateway must keep serving; the operator gets one line
            detail = getattr(exc, "detail", None) or f"{type(exc).__name__}: {exc}"
            detail = " ".join(detail.split())[:300]
            log.error("removed from server %s, but its data could not be deleted: %s", guild.id, detail)
            return
        log.info("removed from server %s: deleted its %d stored rows", guild.id, deleted)

    async def mention(self, client: discord.Client, message: discord.Message) -> None:
        """A message that mentions the bot (or a DM): answer its words in public, without the share button."""
        me = client.user
        if me is None or message.author.bot:
            return
        direct = isinstance(message.channel, discord.DMChannel)
        if not direct and not any(u.id == me.id for u in message.mentions):
            return
        text = re.sub(rf"<@!?{me.id}>", " ", message.content)
        invocation = self.core.parse(text, **_message_where(message))
        reply = await self.core.answer(invocation)
        out = render.render(reply, source=self.core.share_command(invocation, reply), shareable=False)
        extra: dict[str, Any] = {"view": out.view} if out.view is not None else {}
        try:
            await message.reply(embeds=out.embeds, mention_author=False, **extra)
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            reason = str(exc) if isinstance(exc, discord.HTTPException) else f"cannot reach Discord: {exc!r}"
            log.warning("cannot answer a mention in channel %s: %s", message.channel.id, reason)


def build_platform(core: Core, options: Mapping[str, Any]) -> DiscordApp:
    """For :mod:`adapters.runner`: a bad setting is a :class:`ConfigError`; a declaration Discord
    cannot express is a :class:`DeclarationError`, both before anything connects."""
    settings = load_settings()
    return DiscordApp(core, token=settings.require_token(), shards=settings.shard_count, shard_ids=settings.shard_ids)


# ---------------------------------------------------------------------------- command line

cli = click.Group("discord", help="Discord: register the slash commands, or print what would be registered.")


@cli.command("sync")
@click.option("--guild", type=int, help="Register in this server only: instant, for trying it out.")
@click.option("--clear", is_flag=True, help="Remove careerbot's commands (from --guild, or global ones).")
def sync(guild: int | None, clear: bool) -> None:
    """Register the slash commands with Discord (globally unless --guild). Needs DISCORD_TOKEN."""
    try:
        token = load_settings().require_token()
        names = asyncio.run(sync_commands(token, guild=guild, clear=clear))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except discord.HTTPException as exc:
        raise click.ClickException(f"Discord refused the registration: {exc}") from None
    except (OSError, aiohttp.ClientError) as exc:
        raise click.ClickException(f"cannot reach Discord: {exc}") from None
    where = f"in guild {guild}" if guild else "globally"
    if clear:
        click.echo(f"careerbot's commands removed {where}")
        return
    click.echo(f"{len(names)} commands registered {where}: " + ", ".join(f"/{n}" for n in names))


@cli.command("commands")
@click.option("--json", "as_json", is_flag=True, help="Print the exact registration payload.")
def commands(as_json: bool) -> None:
    """Show the commands as Discord registers them (no token needed)."""
    payload = registration_payload()
    if as_json:
        click.echo(json.dumps(payload, indent=2))
        return
    for top in payload:
        subs = [o for o in top["options"] if o["type"] == discord.AppCommandOptionType.subcommand.value]
        for entry, prefix in [(s, f"/{top['name']} ") for s in subs] or [(top, "/")]:
            usage = " ".join(o["name"] if o.get("required") else f"[{o['name']}]" for o in entry["options"])
            click.echo(f"{(prefix + entry['name'] + ' ' + usage).strip():<32} {entry['description']}")
