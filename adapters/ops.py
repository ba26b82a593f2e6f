"""Health and metrics over HTTP, whatever platforms run: ``/healthz``, ``/readyz`` and ``/metrics``.

``careerbot run`` serves them on ``CAREERBOT_HTTP_PORT`` (``--port``, default 3000). When Slack runs
in HTTP mode it already listens on that port, so the routes are added to its server instead of a
second one (see :func:`routes`); otherwise (Socket Mode, Discord alone) :class:`OpsServer` listens.

- ``/healthz``: the process is alive (200 as long as the event loop answers).
- ``/readyz``: knowledge loaded, the store reachable and at the newest migration, every enabled
  platform connected; 503 with the reasons otherwise. Checks are cached for a second so a
  load balancer polling hard cannot hammer the database.
- ``/metrics``: Prometheus text format (:mod:`bot.metrics`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot import metrics
from bot.core import Core

log = logging.getLogger("careerbot.ops")

PORT_VARIABLE = "CAREERBOT_HTTP_PORT"
DEFAULT_PORT = 3000
CHECK_TIMEOUT = 2.0
CACHE_SECONDS = 1.0


@dataclass
class Readiness:
    """What ``/readyz`` answers: ready or not, and why not (no secrets, no user data)."""

    ready: bool
    reasons: list[str] = field(default_factory=list)
    checks: dict[str, str] = field(default_factory=dict)


class Ops:
    """The checks behind ``/readyz`` and the handlers of the three routes."""

    def __init__(self, core: Core, platforms: Sequence[Any], *, clock: Any = time.monotonic) -> None:
        self.core = core
        self.platforms = list(platforms)
        self.clock = clock
        self._cached: tuple[float, Readiness] | None = None
        self._lock = asyncio.Lock()
        metrics.enable()

    async def readiness(self) -> Readiness:
        async with self._lock:
            now = self.clock()
            if self._cached is not None and now - self._cached[0] < CACHE_SECONDS:
                return self._cached[1]
            found = await self._check()
            self._cached = (self.clock(), found)
            return found

    async def _check(self) -> Readiness:
        checks: dict[str, str] = {}
        reasons: list[str] = []
        # A core always holds a valid tree (a broken one fails at start); a rejected edit leaves it serving.
        checks["knowledge"] = "rejected an edit; serving the last good version" if self.core.last_problems else "ok"
        store = await self._store()
        checks["store"] = store or "ok"
        if store is not None and store != "not used":
            reasons.append(f"store: {store}")
        for platform in self.platforms:
            connected = getattr(platform, "connected", None)
            state = "ok" if connected is None or connected else "not connected"
            checks[platform.name] = state
            if state != "ok":
                reasons.append(f"{platform.name}: not connected")
        return Readiness(ready=not reasons, reasons=reasons, checks=checks)

    async def _store(self) -> str | None:
        """None when the store answers at the newest migration; else why not, in a few words."""
        services = self.core.services
        if services is None:
            return "not used"
        from bot.store.migrations import HEAD, current

        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                store = await services.store()
                revision = await current(store)
        except TimeoutError:
            return f"no answer within {CHECK_TIMEOUT:g} s"
        except Exception as exc:  # unreachable, refused, misconfigured: the reason, never the URL's secret
            from bot.schedule.trouble import describe

            return f"unreachable ({describe(exc)})"
        if revision != HEAD:
            return f"at migration {revision or 'none'}, expected {HEAD} (run `careerbot db upgrade`)"
        return None

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def readyz(self, request: web.Request) -> web.Response:
        found = await self.readiness()
        body = {"ready": found.ready, "checks": found.checks, "reasons": found.reasons}
        return web.json_response(body, status=200 if found.ready else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        registry = metrics.registry()
        assert registry is not None  # enabled in __init__
        response = web.Response(body=generate_latest(registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response


def routes(ops: Ops, *, healthz: bool = True) -> list[web.RouteDef]:
    """The three routes (``healthz=False`` when the host server answers ``/healthz`` itself)."""
    found = [web.get("/readyz", ops.readyz), web.get("/metrics", ops.metrics)]
    return [web.get("/healthz", ops.healthz), *found] if healthz else found


class OpsServer:
    """A small aiohttp server for the three routes, for when no Slack HTTP server takes the port."""

    def __init__(self, ops: Ops, *, host: str = "0.0.0.0", port: int = DEFAULT_PORT) -> None:
        self.ops = ops
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=1024)
        app.add_routes(routes(self.ops))
        runner = self._runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self.port = runner.addresses[0][1]  # the port bound (the one asked for, or the system's for 0)
        log.info("health and metrics on %s:%s (/healthz, /readyz, /metrics)", self.host, self.port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
