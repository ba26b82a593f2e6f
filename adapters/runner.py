"""Starting and supervising platform connections: the one place that owns connection lifecycles.

Each platform adapter exposes ``build_platform(core, options) -> Platform``. ``careerbot run`` picks the
platforms whose tokens are set; with none, it falls back to the console chat. Platforms share one
event loop and one core; a platform whose connection fails is restarted with backoff without taking
the others down.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import Mapping
from typing import Any, Protocol

from bot.core import Core
from bot.errors import ConfigError

log = logging.getLogger("careerbot.runner")

#: Platform name -> (environment variable that enables it, module with ``build_platform``).
PLATFORMS: dict[str, tuple[str, str]] = {
    "slack": ("SLACK_BOT_TOKEN", "adapters.slack_bot.app"),
    "discord": ("DISCORD_TOKEN", "adapters.discord_bot.app"),
}

BACKOFF_START = 1.0
BACKOFF_MAX = 60.0


class Platform(Protocol):
    name: str

    async def run(self) -> None:
        """Connect and serve until cancelled; raise if the connection fails."""

    async def close(self) -> None:
        """Release connections; called once on shutdown."""


def enabled(environ: Mapping[str, str] = os.environ) -> list[str]:
    return [name for name, (var, _) in PLATFORMS.items() if environ.get(var, "").strip()]


def build(core: Core, names: list[str], options: Mapping[str, Any]) -> list[Platform]:
    """Build each named platform; a :class:`~bot.errors.ConfigError` names the bad setting."""
    platforms = []
    for name in names:
        module = importlib.import_module(PLATFORMS[name][1])
        platforms.append(module.build_platform(core, options))
    return platforms


async def supervise(platform: Platform, *, sleep: Any = asyncio.sleep) -> None:
    """Run ``platform`` forever, restarting it with exponential backoff after a failure.

    A :class:`ConfigError` (say, a token the platform rejects) will not fix itself by retrying: it
    ends this platform's supervision and propagates, so :func:`serve` can decide what else runs.
    """
    delay = BACKOFF_START
    while True:
        try:
            await platform.run()
            delay = BACKOFF_START
            log.warning("%s connection ended; reconnecting", platform.name)
        except (asyncio.CancelledError, ConfigError):
            raise
        except Exception as exc:  # one platform failing must not take the others down
            log.error(
                "%s connection failed (%s: %s); retrying in %.0fs",
                platform.name,
                type(exc).__name__,
                exc,
                delay,
            )
            await sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)


async def start_ops(core: Core, platforms: list[Platform], port: int | None) -> Any:
    """``/healthz``, ``/readyz`` and ``/metrics`` (:mod:`adapters.ops`) on ``port``: on the Slack HTTP
    server when it listens there, else on a small server of their own. Returns what to close, or None."""
    if port is None:
        return None
    from adapters.ops import Ops, OpsServer, routes

    ops = Ops(core, platforms)
    for platform in platforms:
        if getattr(platform, "serves_http", False) and getattr(platform, "port", None) == port:
            platform.extra_routes.extend(routes(ops, healthz=False))  # type: ignore[attr-defined]
            return None
    server = OpsServer(ops, port=port)
    await server.start()
    return server


async def serve(
    core: Core, platforms: list[Platform], reload_interval: float = 2.0, *, http_port: int | None = None
) -> None:
    """Serve every platform in this event loop, with knowledge hot reload, until cancelled.
    With ``http_port``, health and metrics are served there too (:func:`start_ops`).

    A platform that stops on a :class:`ConfigError` is logged and dropped while the others keep
    serving; when none is left, the error is raised so the process exits with that one line.
    """
    ops = await start_ops(core, platforms, http_port)
    running = {asyncio.create_task(supervise(p), name=f"platform-{p.name}"): p for p in platforms}
    watcher = asyncio.create_task(core.watch(reload_interval), name="knowledge-watch")
    tips = asyncio.create_task(run_tips(core, platforms), name="tips-scheduler")
    pools = asyncio.create_task(run_pools(core, platforms), name="mentoring-pools")
    last_error: ConfigError | None = None
    try:
        while running:
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                platform = running.pop(task)
                error = task.exception()
                if isinstance(error, ConfigError):
                    last_error = error
                    log.error("%s stopped: %s", platform.name, error)
                else:  # supervise() never returns, it ends by raising: anything but a ConfigError is fatal
                    assert error is not None
                    raise error
        if last_error is not None:
            raise last_error
    finally:
        for task in [*running, watcher, tips, pools]:
            task.cancel()
        await asyncio.gather(*running, watcher, tips, pools, return_exceptions=True)
        for p in platforms:
            try:
                await p.close()
            except Exception:
                log.exception("closing %s failed", p.name)
        if ops is not None:
            await ops.close()
        await core.aclose()


SHUTDOWN_WAIT = 8.0
"""Seconds a SIGTERM waits for in-flight answers and lease releases (compose allows 20 before SIGKILL)."""


async def serve_until_stopped(
    core: Core, platforms: list[Platform], *, http_port: int | None = None, wait: float = SHUTDOWN_WAIT
) -> None:
    """:func:`serve` until SIGTERM or SIGINT, then shut down in order: stop accepting, let in-flight
    answers finish and the scheduler release its leases (at most ``wait`` seconds), close the store.
    A rolling restart's replacement can take this process's tenants at once instead of after a lease."""
    import signal

    loop = asyncio.get_running_loop()
    serving = asyncio.create_task(serve(core, platforms, http_port=http_port), name="serve")
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stopping.set)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
            pass
    stop = asyncio.create_task(stopping.wait(), name="signals")
    try:
        await asyncio.wait({serving, stop}, return_when=asyncio.FIRST_COMPLETED)
        if serving.done():
            serving.result()  # a ConfigError or a crash: raised as before
            return
        log.info("stopping: finishing in-flight work and releasing leases (at most %.0f s)", wait)
        serving.cancel()
        try:
            async with asyncio.timeout(wait):
                await asyncio.gather(serving, return_exceptions=True)
        except TimeoutError:
            log.warning("stopping: shutdown took over %.0f s; leases left will expire", wait)
        log.info("stopped")
    finally:
        stop.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass


async def run_tips(core: Core, platforms: list[Platform], *, sleep: Any = asyncio.sleep) -> None:
    """Post daily tips through every platform that offers a ``poster`` (see :mod:`bot.schedule.posting`);
    nothing to do without one. Opening the store is retried with backoff (the database may start
    after us)."""
    posters = {p.name: poster for p in platforms if (poster := getattr(p, "poster", None)) is not None}
    if not posters or core.services is None:
        return
    for name, poster in posters.items():
        core.services.add_poster(name, poster)
    from bot.registry import job_kinds
    from bot.schedule.scheduler import Scheduler, Settings

    delay = BACKOFF_START
    while True:
        try:
            store = await core.services.store()
            settings = Settings(grace=core.services.settings.grace)
            break
        except ConfigError as exc:  # will not fix itself: say so once; the platforms keep serving
            log.error("tips: daily tips are off: %s", exc)
            return
        except Exception as exc:
            log.error("tips: cannot open the store (%s: %s); retrying in %.0fs", type(exc).__name__, exc, delay)
            await sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)
    kinds = job_kinds(lambda: core.kb)
    await Scheduler(store, posters, kinds, clock=core.services.clock, settings=settings).run()


POOL_INTERVAL = 300.0
"""Seconds between two passes of :func:`run_pools`."""
POOL_FIRST = 30.0
"""Seconds after start-up before the first pass (the platforms connect meanwhile)."""


async def run_pools(
    core: Core,
    platforms: list[Platform],
    *,
    interval: float = POOL_INTERVAL,
    first: float = POOL_FIRST,
    sleep: Any = asyncio.sleep,
) -> None:
    """Check mentoring pools against each platform that offers a ``pool`` (a
    :class:`~bot.mentoring.pool.PoolSource`) every ``interval`` seconds, ahead of each round
    (:func:`bot.mentoring.pool.refresh_pools`). A pass that fails (the store is down) is logged in one
    line and the next one tries again; nothing to do without a pool."""
    sources = {p.name: pool for p in platforms if (pool := getattr(p, "pool", None)) is not None}
    if not sources or core.services is None:
        return
    from bot.mentoring.pool import refresh_pools

    services = core.services
    await sleep(first)
    while True:
        for name, source in sources.items():
            try:
                store = await services.store()
                await refresh_pools(store, name, source, services.clock.now())
            except ConfigError as exc:  # no store will come: say so once
                log.error("mentoring: pools are not checked: %s", exc)
                return
            except Exception as exc:
                log.error("mentoring: checking %s pools failed (%s: %s)", name, type(exc).__name__, str(exc)[:200])
        await sleep(interval)
