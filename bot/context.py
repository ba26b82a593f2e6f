"""What a handler may use: the :class:`Context` of one request, and the process's long-lived
:class:`Services` (the store, the platforms' posters, the clock, settings), opened on first use.

Whoever runs the process builds one :class:`Services` (the CLI from the environment, tests with a
temporary database) and hands it to the :class:`~bot.core.Core`. Nothing here imports SQLAlchemy
until a command or the scheduler actually needs the store, so ``careerbot ask "/role ehr"`` stays a
fast cold start. Every feature wing uses the same services; none of them is named here.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.commands import Invocation, Registry
from bot.errors import CommandError, ConfigError
from bot.knowledge.kb import KnowledgeBase
from bot.schedule.clock import Clock, SystemClock
from bot.schedule.posting import Channel, Poster, parse_channel
from bot.schedule.rules import parse_zone

if TYPE_CHECKING:
    from bot.store.engine import Store

GRACE_MAX = timedelta(hours=23)


def parse_duration(text: str, variable: str) -> timedelta:
    """``6h``, ``90m``, ``3600s`` or a plain number of hours."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([hms]?)\s*", text)
    if found is None:
        raise ConfigError(f"{variable} must be a duration such as 6h or 90m")
    unit = {"h": "hours", "m": "minutes", "s": "seconds", "": "hours"}[found[2]]
    return timedelta(**{unit: float(found[1])})


@dataclass(frozen=True, kw_only=True, slots=True)
class ServiceSettings:
    """Deployment settings every feature shares (``CAREERBOT_ADMINS``, ``CAREERBOT_TIMEZONE``,
    ``CAREERBOT_TIPS_GRACE``)."""

    admins: frozenset[str] = frozenset()
    """``platform:user`` entries allowed to change workspace settings besides platform admins."""
    default_timezone: str = "UTC"
    grace: timedelta = timedelta(hours=6)
    """How late a scheduled post may still go out after downtime."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ServiceSettings:
        admins = frozenset(a for a in re.split(r"[\s,]+", environ.get("CAREERBOT_ADMINS", "")) if a)
        zone = environ.get("CAREERBOT_TIMEZONE", "").strip() or "UTC"
        try:
            zone = parse_zone(zone)
        except CommandError:
            raise ConfigError("CAREERBOT_TIMEZONE must be an IANA time zone such as Europe/Berlin") from None
        grace = parse_duration(environ.get("CAREERBOT_TIPS_GRACE", "6h"), "CAREERBOT_TIPS_GRACE")
        if not timedelta(0) <= grace <= GRACE_MAX:
            raise ConfigError("CAREERBOT_TIPS_GRACE must be between 0 and 23h")
        return cls(admins=admins, default_timezone=zone, grace=grace)


class Services:
    """The store (opened and migrated on first use), the platforms' posters, the clock, randomness
    and settings; :meth:`aclose` releases the store."""

    def __init__(
        self,
        *,
        url: str | None = None,
        schema: str | None = None,
        environ: Mapping[str, str] | None = None,
        posters: Mapping[str, Poster] | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        settings: ServiceSettings | None = None,
        store: Store | None = None,
    ) -> None:
        """``store``: one already open (closed by :meth:`aclose`); otherwise ``url`` (or the
        environment) names the one opened on first use."""
        self.url = url
        self.schema = schema
        self.environ = os.environ if environ is None else environ
        self.posters: dict[str, Poster] = dict(posters or {})
        self.clock: Clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self._settings = settings
        self._store: Store | None = store
        self._lock: asyncio.Lock | None = None

    def add_poster(self, platform: str, poster: Poster) -> None:
        self.posters[platform] = poster

    async def store(self) -> Store:
        if self._store is None:
            self._lock = self._lock or asyncio.Lock()
            async with self._lock:  # a request that waited here finds the store the first one opened
                self._store = self._store if self._store is not None else await self._open()
        return self._store

    async def _open(self) -> Store:
        from bot.store.engine import Store

        return await Store.open(self.url, schema=self.schema, environ=self.environ)

    @property
    def settings(self) -> ServiceSettings:
        if self._settings is None:
            self._settings = ServiceSettings.from_env(self.environ)
        return self._settings

    def is_admin(self, invocation: Invocation) -> bool:
        return invocation.admin or f"{invocation.platform}:{invocation.user}" in self.settings.admins

    async def check_channel(self, invocation: Invocation, text: str) -> Channel:
        poster = self.posters.get(invocation.platform)
        if poster is None:  # no way to ask the platform from this process: trust what was typed
            return parse_channel(text)
        return await poster.check_channel(invocation.tenant, text)

    async def default_timezone(self, invocation: Invocation) -> str:
        poster = self.posters.get(invocation.platform)
        found = await poster.default_timezone(invocation.tenant, invocation.user) if poster else None
        if found:
            try:
                return parse_zone(found)
            except CommandError:
                pass
        return self.settings.default_timezone

    async def aclose(self) -> None:
        if self._store is not None:
            await self._store.close()
        self._store = None


@dataclass(frozen=True, slots=True)
class Context:
    """What a handler may use: the current knowledge, the request, the command table, randomness,
    and the process's long-lived services (the store), when whoever runs the process provides them."""

    kb: KnowledgeBase
    invocation: Invocation
    registry: Registry
    rng: random.Random
    services: Services | None = None
