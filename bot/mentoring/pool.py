"""A program's pool checked against the platform before a round.

People join a program only by opting in, but the platform changes under them: they leave the
channel, are deactivated, turn out to be a bot or a guest, or move to another time zone. Rounds are
made inside a database transaction with no platform access (:mod:`bot.mentoring.rounds`), so the
check happens ahead of them: :func:`refresh_pools` runs every few minutes (``careerbot run`` starts it
for each platform offering a :class:`PoolSource`, see :func:`adapters.runner.run_pools`), and for each
active program whose next round is due within ``horizon`` and whose members were not checked for that
round yet, asks the platform about its members, once, then, in one transaction per program:

- marks those the platform says are absent (``mentoring_members.absent``, with the reason): rounds
  skip them, untold, whatever their own state; their own choices (snoozed, paused) are never touched;
- clears the mark of those seen present again, so they are back in the next round;
- records the platform's time zone of members who did not choose one themselves (``tz_source`` is
  not ``user``), so working-hour overlaps use where they really are.

People the platform says nothing about keep what they had. A failing platform (a network blip, a
rate limit that outlasted the retries, a channel the bot left) changes nothing: one log line, and the
program is checked again on the next pass. The platform adapters implement :class:`PoolSource`
(``adapters/slack_bot/pool.py``: ``conversations.members`` + ``users.info``;
``adapters/discord_bot/pool.py``: one member look-up each, no privileged intent).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update

from bot.mentoring.tables import members, programs
from bot.schedule.clock import epoch
from bot.store.engine import Store

log = logging.getLogger("careerbot.mentoring")

LEFT = "left"
"""Not in the program channel any more (or not in the workspace or server)."""
DEACTIVATED = "deactivated"
"""The account was deactivated or deleted."""
BOT = "bot"
"""A bot or app account, not a person."""
GUEST = "guest"
"""A guest of the workspace (Slack's multi- and single-channel guests)."""
REASONS = (LEFT, DEACTIVATED, BOT, GUEST)

HORIZON = timedelta(hours=2)
"""How long before a round its members are checked."""
USER_CHOSEN = "user"
FROM_PLATFORM = "platform"


@dataclass(frozen=True, slots=True)
class Presence:
    """What the platform says about one member: present or not (and why not), and their time zone."""

    present: bool
    reason: str | None = None
    """Why not present: one of :data:`REASONS`."""
    timezone: str | None = None
    """Their IANA time zone, if the platform knows it (Slack's ``tz``; Discord has none)."""

    @classmethod
    def here(cls, timezone: str | None = None) -> Presence:
        return cls(True, None, timezone)

    @classmethod
    def gone(cls, reason: str) -> Presence:
        return cls(False, reason)


class PoolSource(Protocol):
    """A platform's answer to "are these members still here?", for :func:`refresh_pools`."""

    async def presence(self, tenant: str, channel: str, users: Sequence[str]) -> Mapping[str, Presence]:
        """What the platform says about each of ``users`` (platform user ids who joined the program
        in ``channel`` of workspace or server ``tenant``). Users it cannot tell about may be left
        out of the answer (they keep what they had). Raise on any failure: nothing is then changed."""
        ...


@dataclass(frozen=True, slots=True)
class Checked:
    """What one :func:`refresh_pools` pass did, over every program it checked."""

    programs: int = 0
    absent: int = 0
    """Members newly marked absent."""
    back: int = 0
    """Members whose absent mark was cleared."""
    timezones: int = 0
    """Members whose time zone was updated from the platform."""
    failed: int = 0
    """Programs whose check failed (left for the next pass)."""


def _zone(name: str | None) -> str | None:
    if not name or len(name) > 64:
        return None
    try:
        ZoneInfo(name)
    except (KeyError, ValueError):
        return None
    return name


async def refresh_pools(
    store: Store, platform: str, source: PoolSource, now: datetime, horizon: timedelta = HORIZON
) -> Checked:
    """Check the members of every active ``platform`` program whose next round is due by
    ``now + horizon`` and was not checked yet (see the module's documentation)."""
    due = select(programs.c.id, programs.c.tenant, programs.c.channel, programs.c.next_date).where(
        programs.c.platform == platform,
        programs.c.state == "active",
        programs.c.next_date.is_not(None),
        programs.c.next_due_at <= epoch(now + horizon),
        or_(programs.c.pool_checked.is_(None), programs.c.pool_checked != programs.c.next_date),
    )
    async with store.connect() as conn:
        todo = (await conn.execute(due.order_by(programs.c.next_due_at, programs.c.id))).all()
    total = Checked()
    for program_id, tenant, channel, next_date in todo:
        done = await _check(store, platform, source, now, program_id, tenant, channel, next_date)
        total = Checked(
            total.programs + (done is not None),
            total.absent + (done.absent if done else 0),
            total.back + (done.back if done else 0),
            total.timezones + (done.timezones if done else 0),
            total.failed + (done is None),
        )
    return total


async def _check(
    store: Store,
    platform: str,
    source: PoolSource,
    now: datetime,
    program_id: int,
    tenant: str,
    channel: str,
    next_date: str,
) -> Checked | None:
    """One program: ask the source, then write what changed in one transaction. None if it failed."""
    mine = and_(members.c.platform == platform, members.c.tenant == tenant, members.c.program_id == program_id)
    async with store.connect() as conn:
        rows = (
            await conn.execute(
                select(members.c.id, members.c.user_id, members.c.timezone, members.c.tz_source, members.c.absent)
                .where(mine)
                .order_by(members.c.id)
            )
        ).all()
    found: Mapping[str, Presence] = {}
    if rows:
        try:
            found = await source.presence(tenant, channel, [r.user_id for r in rows])
        except Exception as exc:  # the platform's trouble: change nothing, try again next pass
            log.warning(
                "mentoring: could not check the members of %s/%s program %d (%s: %s); trying again later",
                platform,
                tenant,
                program_id,
                type(exc).__name__,
                str(exc)[:200],
            )
            return None
    stamp = epoch(now)
    absent = back = zones = 0
    async with store.begin() as conn:
        for row in rows:
            seen = found.get(row.user_id)
            if seen is None:
                continue
            values: dict[str, object] = {}
            if not seen.present:
                reason = seen.reason if seen.reason in REASONS else LEFT
                if row.absent != reason:
                    values["absent"] = reason
                    absent += row.absent is None
            else:
                if row.absent is not None:
                    values["absent"] = None
                    back += 1
                zone = _zone(seen.timezone)
                if zone is not None and row.tz_source != USER_CHOSEN and zone != row.timezone:
                    values |= {"timezone": zone, "tz_source": FROM_PLATFORM}
                    zones += 1
            if values:
                await conn.execute(
                    update(members).where(mine, members.c.id == row.id).values(updated_at=stamp, **values)
                )
        # Checked for this round; a program that moved on meanwhile is checked again for its next.
        await conn.execute(
            update(programs)
            .where(programs.c.platform == platform, programs.c.tenant == tenant, programs.c.id == program_id)
            .where(programs.c.next_date == next_date)
            .values(pool_checked=next_date)
        )
    if absent or back or zones:
        log.info(
            "mentoring: checked %s/%s program %d: %d members now absent, %d back, %d time zones updated",
            platform,
            tenant,
            program_id,
            absent,
            back,
            zones,
        )
    return Checked(1, absent, back, zones, 0)
