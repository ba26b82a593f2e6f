"""Schedule rules, free of storage, platforms and features: parsing the time, time zone and days an
admin typed, and when something scheduled that way is due in its own time zone.

Times are local wall-clock times in an IANA zone. A day's post is due at that local time on that
local date: 09:00 Europe/Berlin is 09:00 on both sides of a DST change. A time that does not exist
(spring forward) is due at the first valid instant after the gap (02:30 -> 03:00); a time that
occurs twice (fall back) is due at its first occurrence, and the store's one-row-per-date rule
makes it post once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot import messages
from bot.errors import CommandError
from bot.safety import one_line

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAILY = 0b1111111
WEEKDAYS = 0b0011111
WEEKENDS = 0b1100000
DAY_WORDS = {
    "weekdays": WEEKDAYS,
    "workdays": WEEKDAYS,
    "daily": DAILY,
    "everyday": DAILY,
    "every-day": DAILY,
    "all": DAILY,
    "weekends": WEEKENDS,
    "weekend": WEEKENDS,
}
_DAY_ALIASES = (
    {name: i for i, name in enumerate(DAY_NAMES)}
    | {full: i for i, full in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}
    | {"tues": 1, "wednes": 2, "thur": 3, "thurs": 3}
)
_TIME = re.compile(r"^(?P<h>\d{1,2})(?:[:.h](?P<m>\d{2}))?\s*(?P<ampm>am|pm)?$")
_TIME_COMPACT = re.compile(r"^(?P<h>\d{2})(?P<m>\d{2})$")
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
"""Moments the schedule works with: from the Unix epoch (times are stored as seconds since it) to a
year before the last date Python has, which leaves room for the days ahead a schedule looks at."""


# ---------------------------------------------------------------------------- parsing


def parse_time(text: str) -> tuple[int, int]:
    """``09:00``, ``9:30``, ``0930``, ``9``, ``9am``, ``5:30pm`` -> (hour, minute) on a 24-hour clock."""
    raw = text.strip().casefold()
    found = _TIME.fullmatch(raw) or _TIME_COMPACT.fullmatch(raw)
    if found is None:
        raise CommandError(messages.BAD_TIME.format(value=one_line(text, 30)))
    hour, minute = int(found["h"]), int(found["m"] or 0)
    ampm = found.groupdict().get("ampm")
    if ampm:
        if not 1 <= hour <= 12:
            raise CommandError(messages.BAD_TIME.format(value=one_line(text, 30)))
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise CommandError(messages.BAD_TIME.format(value=one_line(text, 30)))
    return hour, minute


@lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    from zoneinfo import available_timezones

    return {name.casefold(): name for name in available_timezones()}


def parse_zone(text: str) -> str:
    """An IANA zone name (``Europe/Berlin``, ``utc``, ``america/new_york``) -> its canonical spelling."""
    name = text.strip()
    shown = one_line(text, 40)
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name or "\\" in name:
        raise CommandError(messages.BAD_ZONE.format(value=shown, hint=""))
    canonical = _zone_names().get(name.casefold())
    if canonical is None:
        from bot.fuzzy import suggest

        guess = suggest(name, list(_zone_names().values()))
        hint = f" Did you mean `{guess}`?" if guess else ""
        raise CommandError(messages.BAD_ZONE.format(value=shown, hint=hint))
    try:
        zone(canonical)
    except Exception:  # listed, but missing, unreadable or damaged in the tz database (struct.error, ValueError...)
        raise CommandError(messages.BAD_ZONE.format(value=shown, hint="")) from None
    return canonical


def parse_days(text: str) -> int:
    """``weekdays``, ``daily``, ``weekends``, ``mon,wed,fri``, ``mon-fri`` -> a bit mask (Monday = bit 0)."""
    raw = text.strip().casefold().replace(" ", ",")
    if raw in DAY_WORDS:
        return DAY_WORDS[raw]
    mask = 0
    for part in filter(None, raw.split(",")):
        first, dash, last = part.partition("-")
        if first not in _DAY_ALIASES or (dash and last not in _DAY_ALIASES):
            raise CommandError(messages.BAD_DAYS.format(value=one_line(text, 40)))
        start = _DAY_ALIASES[first]
        end = _DAY_ALIASES[last] if dash else start
        for offset in range((end - start) % 7 + 1):
            mask |= 1 << ((start + offset) % 7)
    if not mask:
        raise CommandError(messages.BAD_DAYS.format(value=one_line(text, 40)))
    return mask


def describe_days(mask: int) -> str:
    named = {v: k for k, v in (("weekdays", WEEKDAYS), ("daily", DAILY), ("weekends", WEEKENDS))}
    if mask in named:
        return named[mask]
    return ", ".join(DAY_NAMES[i].capitalize() for i in range(7) if mask >> i & 1)


def looks_like_time(text: str) -> bool:
    return bool(_TIME.fullmatch(text.strip().casefold()) or _TIME_COMPACT.fullmatch(text.strip()))


def looks_like_zone(text: str) -> bool:
    return "/" in text or text.strip().casefold() in ("utc", "gmt")


def looks_like_days(text: str) -> bool:
    try:
        parse_days(text)
    except CommandError:
        return False
    return True


# ---------------------------------------------------------------------------- when


def schedulable(moment: datetime) -> bool:
    """True when ``moment`` (timezone-aware) lies in [:data:`EARLIEST`, :data:`LATEST`)."""
    return EARLIEST <= moment < LATEST


def check_clock(moment: datetime) -> None:
    """A :class:`CommandError` when the clock reads a moment no schedule can be computed from."""
    if not schedulable(moment):
        raise CommandError(messages.BAD_CLOCK.format(now=moment.isoformat(), first=EARLIEST.year, last=LATEST.year - 1))


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def due_at(day: date, hour: int, minute: int, tz: ZoneInfo) -> datetime:
    """The UTC instant of ``hour:minute`` local time on ``day`` in ``tz`` (see the module docstring)."""
    wall = datetime.combine(day, dtime(hour, minute))
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _wall(first, tz) == wall:
        return first  # exists; fold=0 is the first of two occurrences on a fall-back day
    # In a gap: the two readings bracket the transition; find the first instant at or past ``wall``.
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    lo, hi = int(min(first, second).timestamp()), int(max(first, second).timestamp())
    while lo < hi:
        mid = (lo + hi) // 2
        if _wall(datetime.fromtimestamp(mid, UTC), tz) >= wall:
            hi = mid
        else:
            lo = mid + 1
    return datetime.fromtimestamp(lo, UTC)


@dataclass(frozen=True, slots=True)
class Schedule:
    hour: int
    minute: int
    timezone: str
    days: int

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    def runs_on(self, day: date) -> bool:
        return bool(self.days >> day.weekday() & 1)

    def due(self, day: date) -> datetime:
        return due_at(day, self.hour, self.minute, self.tz)

    def next_date(self, after: date) -> date:
        """The first day after ``after`` this schedule runs on."""
        day = after + timedelta(days=1)
        for _ in range(7):
            if self.runs_on(day):
                return day
            day += timedelta(days=1)
        raise ValueError("a schedule needs at least one day")

    def first_after(self, instant: datetime) -> tuple[date, datetime]:
        """The first (local date, due instant) strictly after ``instant``."""
        day = _wall(instant, self.tz).date() - timedelta(days=2)
        while True:
            day = self.next_date(day)
            when = self.due(day)
            if when > instant:
                return day, when

    def today(self, instant: datetime) -> date:
        return _wall(instant, self.tz).date()

    def label(self) -> str:
        return f"{describe_days(self.days)} at {self.hour:02d}:{self.minute:02d} {self.timezone}"
