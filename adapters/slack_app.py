"""The Slack adapter: slack-bolt wiring that turns Slack payloads into core invocations and sends
rendered replies back. It stays thin; Block Kit lives in :mod:`adapters.slack_render` and the manifest
in :mod:`adapters.slack_manifest`.

A slash command is answered in Slack's acknowledgement itself when the core is quick (it nearly always
is); after :data:`ACK_BUDGET` it is acked empty, well inside Slack's 3 s, and the answer follows through
the payload's ``response_url``. Answers are ephemeral with a "Share in channel" button; follow-ups are
buttons; mentions and DMs get the best answer in a thread. Posting (with retries, never raising) is in
:mod:`adapters.slack_send`, settings in :mod:`adapters.slack_settings`.

Commands declared ``admin`` (``/tips``) learn whether the caller is a workspace admin or owner from
``users.info``, asked only for those commands and remembered per (team, user) for
:data:`ADMIN_TTL` seconds. Daily tips are posted by the platform's :attr:`SlackPlatform.poster`
(:mod:`adapters.tips_slack`), which ``careerbot run`` hands to the scheduler.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Coroutine, Hashable
from dataclasses import replace
from typing import Any

import click
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters import buttons, slack_manifest
from adapters.slack_render import Message, Picker, parse_more, parse_pick, plain, render
from adapters.slack_send import Sender, retry_handlers
from adapters.slack_settings import SlackSettings, load_settings
from adapters.tips_slack import SlackTipPoster
from bot.commands import Invocation
from bot.core import Core
from bot.errors import ConfigError
from bot.handlers import KIND_LABEL, REGISTRY
from bot.reply import Reply

__all__ = ["SlackAdapter", "SlackPlatform", "SlackSettings", "build_platform", "cli", "load_settings"]

log = logging.getLogger("careerbot.slack")

EVENTS_PATH = slack_manifest.EVENTS_PATH
SEEN_EVENTS_MAX = 1000
#: How long a slash command may wait for the core before it is acked empty and answered later
#: (Slack's deadline is 3 s, including the network both ways).
ACK_BUDGET = 1.0
CACHE_SIZE = 2048
#: Slack's limits for the options of an external select.
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
#: Seconds a workspace admin/owner lookup (users.info) is trusted for one (team, user).
ADMIN_TTL = 300.0
ADMIN_CACHE_SIZE = 10_000
#: The umbrella command (``/career tips subscribe``) and its option naming the command it runs.
UMBRELLA = ("career", "command")

# ---------------------------------------------------------------------------- payloads in


_TOKEN = re.compile(r"<([^<>]*)>")


def from_slack(text: str) -> str:
    """Slack message text as the user meant it: mentions and broadcasts dropped, links as their
    label, ``&amp;`` ``&lt;`` ``&gt;`` decoded."""

    def token(m: re.Match[str]) -> str:
        target, _, label = m.group(1).partition("|")
        if target[:1] in ("@", "!"):
            return ""
        if target.startswith("#"):
            return f"#{label}" if label else ""
        return label or target

    text = _TOKEN.sub(token, text)
    return " ".join(html.unescape(text).split())


def _where(body: dict[str, Any]) -> tuple[str, str, str]:
    """Tenant (workspace), user and channel of any payload: slash command, interaction or event."""
    event = body.get("event") or {}
    team = body.get("team_id") or (body.get("team") or {}).get("id") or event.get("team") or "slack"
    user = body.get("user_id") or (body.get("user") or {}).get("id") or event.get("user") or "slack"
    channel = body.get("channel_id") or (body.get("channel") or {}).get("id") or event.get("channel") or "slack"
    return str(team), str(user), str(channel)


class AnswerCache:
    """Rendered answers by request, valid for one knowledge tree (a reload starts afresh). The same
    ``/role ehr`` asked a thousand times is answered and rendered once. Cached pages are shared:
    never mutate them."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self.kb: object = None
        self.items: OrderedDict[Hashable, list[Message]] = OrderedDict()

    def get(self, kb: object, key: Hashable) -> list[Message] | None:
        if kb is not self.kb:
            return None
        pages = self.items.get(key)
        if pages is not None:
            self.items.move_to_end(key)
        return pages

    def put(self, kb: object, key: Hashable, pages: list[Message]) -> None:
        if kb is not self.kb:
            self.kb, self.items = kb, OrderedDict()
        self.items[key] = pages
        if len(self.items) > self.size:
            self.items.popitem(last=False)


class AdminCache:
    """Whether (team, user) is a workspace admin, as users.info said within the last ``ttl`` seconds."""

    def __init__(self, ttl: float = ADMIN_TTL, size: int = ADMIN_CACHE_SIZE) -> None:
        self.ttl = ttl
        self.size = size
        self.items: OrderedDict[tuple[str, str], tuple[float, bool]] = OrderedDict()

    def get(self, key: tuple[str, str]) -> bool | None:
        found = self.items.get(key)
        if found is None or found[0] <= time.monotonic():
            self.items.pop(key, None)
            return None
        return found[1]

    def put(self, key: tuple[str, str], admin: bool) -> None:
        self.items[key] = (time.monotonic() + self.ttl, admin)
        self.items.move_to_end(key)
        if len(self.items) > self.size:
            self.items.popitem(last=False)


class SlackAdapter:
    """Registers the listeners on a Bolt app and answers through the core."""

    def __init__(self, core: Core, sender: Sender, *, prefix: str = "") -> None:
        self.core = core
        self.sender = sender
        self.prefix = prefix
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.tasks: set[asyncio.Task[None]] = set()
        self.cache = AnswerCache()
        self.admins = AdminCache()

    def register(self, app: AsyncApp) -> None:
        app.command(re.compile(r"^/"))(self.on_command)
        app.action(re.compile(r"^cb_(run|share|more)"))(self.on_button)
        app.action(re.compile(r"^cb_pick:"))(self.on_pick)
        app.options(re.compile(r"^cb_pick:"))(self.on_options)
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)

    # -------------------------------------------------------------- translation

    def command_text(self, slash: str, text: str) -> str:
        """``/cb-role`` + ``ehr`` -> ``/role ehr`` (the prefix is optional, so unprefixed names work too)."""
        name = slash.lstrip("/")
        if self.prefix and name.startswith(self.prefix):
            name = name[len(self.prefix) :]
        return f"/{name} {from_slack(text)}".strip()

    def picker_for(self, invocation: Invocation, reply: Reply) -> Picker | None:
        """An option picker when a command with an entity option answered with a list or a miss."""
        command = self.core.registry.get(invocation.command)
        option = next((o for o in command.options if o.kinds), None) if command else None
        if command is None or option is None or reply.ref is not None:
            return None
        kind = KIND_LABEL[option.kinds[0]] if len(option.kinds) == 1 else "topic"
        return Picker(command=command.name, option=option.name, placeholder=f"Choose a {kind}")

    def pages(self, invocation: Invocation, reply: Reply, *, public: bool) -> list[Message]:
        """The reply as Slack messages. "Share in channel" re-runs the command publicly, so an admin
        command (``/tips subscribe``, ``/tips skip``) gets no Share button: sharing must not repeat a change."""
        again = self.core.share_command(invocation, reply)
        share = None if public or self.runs_admin_command(invocation) else again
        return render(reply, share=share, picker=self.picker_for(invocation, reply), more=again)

    def invocation(self, text: str, body: dict[str, Any], *, public: bool) -> tuple[Invocation, Hashable]:
        """The core's invocation for ``text``, and the cache key of its rendered answer."""
        tenant, user, channel = _where(body)
        invocation = self.core.parse(text, platform="slack", tenant=tenant, user=user, channel=channel)
        options = tuple(invocation.options.items())
        return invocation, (invocation.command, options, invocation.text, invocation.admin, public)

    async def compute(self, invocation: Invocation, key: Hashable, *, public: bool) -> list[Message]:
        """Ask the core and render; remember the pages when the core says the answer is pure (it
        depends only on the options and the knowledge: never a tip, never a tenant's /tips list) and
        is not an error, for as long as the knowledge is the same. An admin command's answer depends
        on who asks, so it is never remembered."""
        kb = self.core.kb
        checked = self.runs_admin_command(invocation)
        if checked:
            invocation = replace(invocation, admin=await self.is_admin(invocation.tenant, invocation.user))
        reply = await self.core.answer(invocation)
        pages = self.pages(invocation, reply, public=public)
        if reply.tone != "error" and self.core.cacheable(invocation) and not checked:
            self.cache.put(kb, key, pages)
        return pages

    def runs_admin_command(self, invocation: Invocation) -> bool:
        """True when the invocation runs a command declared ``admin``, directly (``/tips``) or through
        the umbrella (``/career tips subscribe``): only then is users.info worth asking."""
        command = self.core.registry.get(invocation.command) if invocation.command else None
        if command is not None and command.name == UMBRELLA[0]:
            named = str(invocation.options.get(UMBRELLA[1], "")).strip().lstrip("/").partition(" ")[0]
            command = self.core.registry.get(named) if named else None
        return command is not None and command.admin

    async def is_admin(self, team: str, user: str) -> bool:
        """A workspace admin or owner (users.info), remembered for :data:`ADMIN_TTL` seconds. If
        Slack cannot say, not an admin (the failure is logged with Slack's error code) and not
        remembered, so the next command asks again."""
        key = (team, user)
        known = self.admins.get(key)
        if known is not None:
            return known
        found = await self.sender.read("users.info", user=user)
        if found is None:
            log.warning("slack: could not tell whether %s is an admin; treating them as not one", user)
            return False
        profile = found.get("user") or {}
        admin = bool(profile.get("is_admin") or profile.get("is_owner") or profile.get("is_primary_owner"))
        self.admins.put(key, admin)
        return admin

    async def answer(self, text: str, body: dict[str, Any], *, public: bool) -> list[Message]:
        invocation, key = self.invocation(text, body, public=public)
        cached = self.cache.get(self.core.kb, key)
        return cached if cached is not None else await self.compute(invocation, key, public=public)

    # -------------------------------------------------------------- listeners
    # Bolt runs with process_before_response=True: its HTTP answer goes out when a listener returns
    # (no 10 ms ack polling), so every listener returns at once and slow work runs in the background.

    async def on_command(self, ack: Any, body: dict[str, Any]) -> None:
        """Answer in the ack itself when the core is quick (no extra round trip, and the response_url
        stays free for Share and More); otherwise ack empty at :data:`ACK_BUDGET` and follow up."""
        invocation, key = self.invocation(
            self.command_text(body.get("command", ""), body.get("text", "")), body, public=False
        )
        pages = self.cache.get(self.core.kb, key)
        if pages is None:
            answering = asyncio.ensure_future(self.compute(invocation, key, public=False))
            try:
                pages = await asyncio.wait_for(asyncio.shield(answering), ACK_BUDGET)
            except TimeoutError:
                await ack()
                self.background(self.follow_up(answering, body))
                return
        await ack(text=pages[0].text, blocks=pages[0].blocks, response_type="ephemeral")

    async def follow_up(self, answering: Awaitable[list[Message]], body: dict[str, Any]) -> None:
        await self.reply_privately(body, (await answering)[0])

    async def on_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        self.background(self.press(body, action))

    async def press(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        decoded = buttons.decode(str(action.get("value", "")))
        if decoded is None:
            return
        kind, command = decoded
        pages = await self.answer(command, body, public=kind == "share")
        if kind == "share":
            await self.share(body, pages[0])
            return
        page = parse_more(str(action.get("action_id", ""))) or 1
        await self.reply_privately(body, pages[min(page, len(pages)) - 1])

    async def on_pick(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        target = parse_pick(str(action.get("action_id", "")))
        value = str((action.get("selected_option") or {}).get("value", ""))
        if target is not None and value:
            self.background(self.press(body, {"value": buttons.encode("run", f"/{target[0]} {target[1]}:{value}")}))

    async def on_options(self, ack: Any, payload: dict[str, Any]) -> None:
        target = parse_pick(str(payload.get("action_id", "")))
        found = self.core.autocomplete(*target, str(payload.get("value", ""))) if target else []
        options = [
            {
                "text": {"type": "plain_text", "text": plain(label or value, OPTION_TEXT_MAX)},
                "value": value[:OPTION_VALUE_MAX],
            }
            for label, value in found
        ]
        await ack(options=options)

    async def on_mention(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        self.background(self.answer_in_thread(body, event))

    async def on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("channel_type") == "im" and not event.get("subtype") and not event.get("bot_id"):
            self.background(self.answer_in_thread(body, event))

    def background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after the listener returns; failures are logged, never raised into Bolt."""
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("slack: handling a request failed", exc_info=task.exception())

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    # -------------------------------------------------------------- replies out

    async def answer_in_thread(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if self.seen(str(body.get("event_id", ""))):
            return  # a redelivery (Slack retries an event it thinks we missed)
        message = (await self.answer(from_slack(str(event.get("text", ""))), body, public=True))[0]
        thread = event.get("thread_ts") or event.get("ts")
        await self.sender.call("chat.postMessage", channel=event.get("channel"), thread_ts=thread, **message.payload())

    async def reply_privately(self, body: dict[str, Any], message: Message) -> None:
        """Ephemeral via ``response_url``; if that fails, ``chat.postEphemeral``."""
        if await self.sender.respond(body.get("response_url"), message):
            return
        _, user, channel = _where(body)
        await self.sender.call("chat.postEphemeral", channel=channel, user=user, **message.payload())

    async def share(self, body: dict[str, Any], message: Message) -> None:
        """Post publicly, then remove the ephemeral original; ``chat.postMessage`` if the URL is spent."""
        url = body.get("response_url")
        if await self.sender.respond(url, message, response_type="in_channel"):
            if (body.get("container") or {}).get("is_ephemeral"):
                await self.sender.delete_original(url)
            return
        _, user, channel = _where(body)
        if not await self.sender.call("chat.postMessage", channel=channel, **message.payload()):
            notice = "I couldn't post in this channel. Invite me with `/invite @careerbot` and try again."
            await self.sender.call("chat.postEphemeral", channel=channel, user=user, text=notice)

    def seen(self, event_id: str) -> bool:
        if not event_id:
            return False
        if event_id in self._seen:
            return True
        self._seen[event_id] = None
        if len(self._seen) > SEEN_EVENTS_MAX:
            self._seen.popitem(last=False)
        return False


# ---------------------------------------------------------------------------- the platform


class SlackPlatform:
    """``careerbot run``'s Slack connection: Socket Mode with an app token, else HTTP on ``port``."""

    name = "slack"

    def __init__(self, core: Core, settings: SlackSettings, *, port: int = 3000, host: str = "0.0.0.0") -> None:
        self.settings = settings
        self.host = host
        self.port = port
        secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
        token = settings.slack_bot_token.get_secret_value()
        self.app = AsyncApp(token=token, signing_secret=secret, name="careerbot", process_before_response=True)
        # Bolt's own client (passing one in makes Bolt warn when SLACK_BOT_TOKEN is also in the
        # environment), pointed at SLACK_API_URL and given the 429 and connection retry handlers.
        self.client: AsyncWebClient = self.app.client
        self.client.base_url = settings.slack_api_url
        self.client.retry_handlers = retry_handlers()
        self.sender = Sender(self.client)
        self.adapter = SlackAdapter(core, self.sender, prefix=settings.careerbot_command_prefix)
        # Daily tips: ``careerbot run`` hands this to the scheduler (adapters.runner.run_tips). One
        # bot token serves every team this app is installed in (an org-wide install spans several).
        self.poster = SlackTipPoster(token_for=lambda team: token, base_url=settings.slack_api_url)
        self.adapter.register(self.app)
        self.started = asyncio.Event()
        self._runner: web.AppRunner | None = None

    def web_app(self) -> web.Application:
        """``POST /slack/events`` (signature-verified by Bolt) and ``GET /healthz``."""

        async def events(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await self.app.async_dispatch(await to_bolt_request(request)))

        async def healthz(request: web.Request) -> web.Response:
            return web.json_response({"ok": True, "platform": "slack", "mode": "http"})

        app = web.Application()
        app.add_routes([web.post(EVENTS_PATH, events), web.get("/healthz", healthz)])
        return app

    async def run(self) -> None:
        await self.sender.open()
        try:  # fail fast, with Slack's reason, on a revoked or mistyped token
            auth = await self.client.auth_test()
        except SlackApiError as exc:
            raise ConnectionError(f"Slack refused the bot token (auth.test: {exc.response.get('error')})") from None
        log.info("slack: signed in as %s to %s", auth.get("user"), auth.get("team"))
        if self.settings.socket_mode:
            await self._run_socket_mode()
        else:
            await self._run_http()

    async def _run_http(self) -> None:
        runner = self._runner = web.AppRunner(self.web_app(), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
            self.port = runner.addresses[0][1]
            log.info("slack: HTTP mode on %s:%s%s", self.host, self.port, EVENTS_PATH)
            self.started.set()
            await asyncio.Event().wait()
        finally:
            self.started.clear()
            self._runner = None
            await runner.cleanup()

    async def _run_socket_mode(self) -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        assert self.settings.slack_app_token is not None
        handler = AsyncSocketModeHandler(
            self.app, self.settings.slack_app_token.get_secret_value(), web_client=self.client
        )
        try:
            await handler.connect_async()  # type: ignore[no-untyped-call]
            log.info("slack: connected in Socket Mode")
            self.started.set()
            await asyncio.Event().wait()
        finally:
            self.started.clear()
            await handler.close_async()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self.adapter.close()
        await self.sender.close()
        await self.poster.close()


def build_platform(core: Core, options: dict[str, Any]) -> SlackPlatform:
    """Called by :mod:`adapters.runner` when ``SLACK_BOT_TOKEN`` is set."""
    return SlackPlatform(
        core, load_settings(), port=int(options.get("port", 3000)), host=options.get("host", "0.0.0.0")
    )


# ---------------------------------------------------------------------------- CLI

cli = click.Group("slack", help="The Slack app: print the manifest that creates it.")


@cli.command("manifest")
@click.option("--http-url", metavar="URL", help="Public HTTPS URL of this server (HTTP mode). Default: Socket Mode.")
@click.option(
    "--prefix",
    envvar=slack_manifest.PREFIX_VARIABLE,
    default="",
    help="Slash command prefix (env CAREERBOT_COMMAND_PREFIX).",
)
def manifest(http_url: str | None, prefix: str) -> None:
    """Print a Slack app manifest (YAML) with every command; paste it at api.slack.com/apps."""
    try:
        click.echo(
            slack_manifest.to_yaml(slack_manifest.build_manifest(REGISTRY, prefix=prefix.strip(), http_url=http_url)),
            nl=False,
        )
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
