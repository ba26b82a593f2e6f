"""The Slack platform: the Bolt app, its HTTP server (or Socket Mode), start-up and shutdown, and the
``careerbot slack`` commands. It stays thin; each concern has its module:

- :mod:`~adapters.slack_bot.listeners`: slash commands, buttons, pickers, mentions and DMs turned
  into core invocations; answers in the ack when the core is quick, else through ``response_url``;
- :mod:`~adapters.slack_bot.flow`: the answer cache, admin lookups, and the queue used under load;
- :mod:`~adapters.slack_bot.http`: the endpoint's own checks before Bolt sees a request (signature,
  size, time, payload shapes) and the guard that bounds open connections;
- :mod:`~adapters.slack_bot.logs`: one short line per log record, refusals throttled;
- :mod:`~adapters.slack_bot.render` (Block Kit), :mod:`~adapters.slack_bot.manifest`,
  :mod:`~adapters.slack_bot.send` (posting with retries), :mod:`~adapters.slack_bot.settings`,
  :mod:`~adapters.slack_bot.posting` (daily posts for the scheduler).

HTTP mode checks every request itself before Bolt sees it (Bolt's own verification is off): the
signature headers first (401, body unread), then the body (at most :attr:`HttpLimits.body_max`
bytes, read within :attr:`HttpLimits.body_timeout`), the signature over it (401), then the payload
is parsed (400 if it is not UTF-8 JSON or form data) and copied field by field into the shapes Slack
sends (anything else is ignored with a 200). A refused or ignored request costs one short log line
at most, never its body.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import click
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack_bot import manifest as slack_manifest
from adapters.slack_bot.pool import SlackPoolSource
from adapters.slack_bot.posting import SlackTipPoster
from adapters.slack_bot.send import Sender, retry_handlers
from adapters.slack_bot.settings import SlackSettings, load_settings
from bot.core import Core
from bot.errors import ConfigError
from bot.registry import REGISTRY

__all__ = ["SlackAdapter", "SlackPlatform", "SlackSettings", "build_platform", "cli", "load_settings"]

#: The base logger handed to Bolt (its middleware loggers copy its filters).
from adapters.slack_bot.http import (
    ConnectionGuard,
    HttpLimits,
    Refused,
    check_headers,
    clean_payload,
    parse_body,
    signed,
)
from adapters.slack_bot.listeners import SlackAdapter
from adapters.slack_bot.logs import Throttle, bolt_log, http_log, log, raised

# ---------------------------------------------------------------------------- the platform


class SlackPlatform:
    """``careerbot run``'s Slack connection: Socket Mode with an app token, else HTTP on ``port``."""

    name = "slack"

    def __init__(
        self,
        core: Core,
        settings: SlackSettings,
        *,
        port: int = 3000,
        host: str = "0.0.0.0",
        limits: HttpLimits | None = None,
    ) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.limits = limits or HttpLimits()
        secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
        self._secret = secret.encode()
        token = settings.slack_bot_token.get_secret_value()
        # HTTP requests are verified in web_app() before Bolt sees them, so Bolt's own verification
        # (which logs whole bodies and answers 500 to some malformed ones) is off.
        self.app = AsyncApp(
            token=token,
            signing_secret=secret,
            name="careerbot",
            process_before_response=True,
            request_verification_enabled=False,
            logger=bolt_log,
        )
        # Bolt's own client (passing one in makes Bolt warn when SLACK_BOT_TOKEN is also in the
        # environment), pointed at SLACK_API_URL and given the 429 and connection retry handlers.
        self.client: AsyncWebClient = self.app.client
        self.client.base_url = settings.slack_api_url
        self.client.retry_handlers = retry_handlers()
        # Bolt hands its base logger to its client too; the Web API calls we make keep slack_sdk's
        # own logger (DEBUG lines with the token redacted), as without a base logger.
        self.client._logger = logging.getLogger("slack_sdk.web.async_base_client")
        self.sender = Sender(self.client)
        form_key = hmac.new(self._secret, b"careerbot form metadata", hashlib.sha256).digest() if secret else b""
        self.adapter = SlackAdapter(core, self.sender, prefix=settings.careerbot_command_prefix, form_key=form_key)
        # Daily tips: ``careerbot run`` hands this to the scheduler (adapters.runner.run_tips). One
        # bot token serves every team this app is installed in (an org-wide install spans several).
        self.poster = SlackTipPoster(token_for=lambda team: token, base_url=settings.slack_api_url)
        # Mentoring pools checked before each round (adapters.runner.run_pools), with the poster's clients.
        self.pool = SlackPoolSource(self.poster.client)
        self.adapter.register(self.app)
        self.started = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self.guard: ConnectionGuard | None = None
        self.extra_routes: list[web.RouteDef] = []
        """More routes on the HTTP server (``/readyz``, ``/metrics``: see :mod:`adapters.ops`)."""

    def web_app(self) -> web.Application:
        """``POST /slack/events`` (verified here, then dispatched to Bolt) and ``GET /healthz``."""

        async def events(request: web.Request) -> web.Response:
            conn = self.guard.track(request) if self.guard is not None else None
            if conn is not None:
                conn.requests += 1  # its headers are in: the header deadline no longer applies
            try:
                payload = await self.verified(request)
            except Refused as exc:
                return self.refuse(exc)
            if payload is None:
                return web.Response(status=200)
            if payload.get("type") == "url_verification":
                return web.json_response({"challenge": payload["challenge"]})
            # Verified and read: from here on the connection is busy (never closed to make room).
            if conn is None:
                return await self.dispatch(payload)
            conn.busy += 1
            try:
                return await self.dispatch(payload)
            finally:
                conn.busy -= 1

        async def healthz(request: web.Request) -> web.Response:
            conn = self.guard.track(request) if self.guard is not None else None
            if conn is not None:
                conn.requests += 1
            return web.json_response({"ok": True, "platform": "slack", "mode": "http"})

        app = web.Application(client_max_size=self.limits.body_max)
        app.add_routes([web.post(EVENTS_PATH, events), web.get("/healthz", healthz), *self.extra_routes])
        return app

    @property
    def serves_http(self) -> bool:
        """True in HTTP mode: this platform listens on :attr:`port` and can host more routes."""
        return not self.settings.socket_mode

    async def verified(self, request: web.Request) -> dict[str, Any] | None:
        """The payload of a request to :data:`EVENTS_PATH`, verified, parsed and cleaned (see
        :func:`clean_payload`); :class:`Refused` otherwise."""
        timestamp, signature = check_headers(request.headers, time.time())
        limit = self.limits.body_max
        if request.content_length is not None and request.content_length > limit:
            raise Refused(413, f"a body over {limit} bytes")
        try:
            async with asyncio.timeout(self.limits.body_timeout):
                body = await request.read()
        except TimeoutError:
            raise Refused(408, f"the body took over {self.limits.body_timeout:g} s") from None
        except web.HTTPRequestEntityTooLarge:
            raise Refused(413, f"a body over {limit} bytes") from None
        except (ConnectionError, web.RequestPayloadError):
            raise Refused(400, "the body was cut off") from None
        if not signed(self._secret, timestamp, body, signature):
            raise Refused(401, "a bad signature")
        return clean_payload(parse_body(body, request.content_type))

    async def dispatch(self, payload: dict[str, Any]) -> web.Response:
        """A clean payload through Bolt (whose own verification is off: it was done here)."""
        bolt_request = AsyncBoltRequest(body=json.dumps(payload), headers={"content-type": "application/json"})
        try:
            response = await self.app.async_dispatch(bolt_request)
        except Exception as exc:  # Bolt handles listener errors itself; this is a last resort
            log.error("slack: dispatching a request failed (%s)", raised(exc))
            return web.json_response({"error": "internal error"}, status=500)
        return await to_aiohttp_response(response)

    @staticmethod
    def refuse(exc: Refused) -> web.Response:
        """The answer to a refused request, and one log line (throttled in HTTP mode) without any of
        its content. 200 means a verified payload careerbot ignores."""
        if exc.status == 200:
            http_log.info("slack: ignored a signed request: %s", exc.reason)
            return web.Response(status=200)
        http_log.warning("slack: refused a request (HTTP %d): %s", exc.status, exc.reason)
        errors = {401: "invalid request", 408: "request timeout", 413: "request too large"}
        response = web.json_response({"error": errors.get(exc.status, "malformed request")}, status=exc.status)
        if exc.status != 401:
            response.force_close()  # its body may be unread or cut off: do not reuse the connection
        return response

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
        limits = self.limits
        runner = self._runner = web.AppRunner(
            self.web_app(),
            access_log=None,
            logger=http_log,  # aiohttp's errors about malformed HTTP: one throttled line each
            keepalive_timeout=limits.keepalive_timeout,
            lingering_time=limits.body_timeout,
        )
        throttle = Throttle()  # this server's own: lines about refusals start afresh with it
        http_log.addFilter(throttle)
        try:
            await runner.setup()
            assert runner.server is not None
            self.guard = ConnectionGuard(
                runner.server, limit=limits.connection_limit(), header_timeout=limits.header_timeout
            )
            # Not web.TCPSite: the guard sits between the listening socket and aiohttp's protocol.
            self._server = server = await asyncio.get_running_loop().create_server(
                self.guard, self.host, self.port, backlog=limits.backlog
            )
            self.port = server.sockets[0].getsockname()[1]
            log.info(
                "slack: HTTP mode on %s:%s%s (at most %d connections)",
                self.host,
                self.port,
                EVENTS_PATH,
                self.guard.limit,
            )
            self.started.set()
            await asyncio.Event().wait()
        finally:
            self.started.clear()
            self._runner = None
            if self._server is not None:
                self._server.close()
                self._server = None
            await runner.cleanup()
            http_log.removeFilter(throttle)

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

    @property
    def connected(self) -> bool:
        """Signed in and serving (HTTP mode listening, or the Socket Mode connection open): ``/readyz``."""
        return self.started.is_set()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
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


EVENTS_PATH = slack_manifest.EVENTS_PATH


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
