"""The words of ``/tips``: which option each typed word is (placed by its shape on Slack), and the
checks every value passes before anything is written: a word typed as a channel is a channel or an
error, never a topic; every value kept must fit its column, so both databases refuse the same
values alike; the topic must name something tips are tagged with."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING

from bot.commands import Invocation
from bot.errors import CommandError
from bot.knowledge.present import TIP_TAG_KINDS
from bot.safety import one_line
from bot.schedule.posting import Channel, channel_problem, is_channel_word, looks_like_channel
from bot.schedule.rules import (
    looks_like_days,
    looks_like_time,
    looks_like_zone,
)
from bot.tips import messages as tip_messages

if TYPE_CHECKING:
    from bot.knowledge.kb import KnowledgeBase


log = logging.getLogger("careerbot.tips")
DEFAULT_TIME = (9, 0)
CHANNEL_TEXT_MAX = 170
"""Longer than any valid channel reference (``<#`` + a 64-character id + ``|`` + a 100-character
name + ``>``), so a value cut to this length can never turn into a different, valid channel."""
LIMITS = {"channel": CHANNEL_TEXT_MAX, "time": 20, "timezone": 64, "days": 60, "topic": 100}
"""The longest value each option takes; a longer one is refused, never cut."""
LABELS = {"channel": "channel", "time": "time", "timezone": "time zone", "days": "days", "topic": "topic"}
STORED = {
    "platform": "The platform's name",
    "tenant": "This workspace's id",
    "channel": "The channel id",
    "channel_name": "The channel name",
    "timezone": "The time zone",
    "topic": "The topic",
    "created_by": "Your user id",
}
"""What each ``tip_subscriptions`` text column holds, for a refusal naming it."""
SHAPES: dict[str, Callable[[str], bool]] = {
    "channel": looks_like_channel,
    "time": looks_like_time,
    "timezone": looks_like_zone,
    "days": looks_like_days,
}


def channel_label(name: str) -> str:
    return f"#{name}"


def named_in(text: str) -> set[str]:
    """Options given as ``name:value`` in a command's text (on Discord, where there is no text, all are)."""
    words = [w.partition(":") for w in text.split()]
    given = {key.casefold() for key, sep, value in words if sep and value}
    return given & {*SHAPES, "topic"} if text.strip() else {*SHAPES, "topic"}


def arrange(values: dict[str, str | None], named: AbstractSet[str] = frozenset()) -> dict[str, str | None]:
    """Put positional words where their shape says they belong: a value in a slot whose shape it
    does not have (a topic that looks like a time, channel, zone or days) moves to a free slot whose
    shape it has, or else to ``topic``. A named value that is malformed stays put, so its own check
    reports it precisely."""
    out: dict[str, str | None] = dict.fromkeys((*SHAPES, "topic"))
    misfits: list[tuple[str, str]] = []
    for name in (*SHAPES, "topic"):
        value = values.get(name)
        if value is None:
            continue
        fits = not any(shape(value) for shape in SHAPES.values()) if name == "topic" else SHAPES[name](value)
        if fits or name in named:
            out[name] = value
        else:
            misfits.append((name, value))
    for name, value in misfits:
        target = next(
            (slot for slot, fits in SHAPES.items() if out[slot] is None and slot not in named and fits(value)), None
        )
        if target is None and out["topic"] is None and "topic" not in named:
            target = "topic"
        if target is None and out[name] is None:
            target = name
        if target is None:
            raise CommandError(tip_messages.UNCLEAR.format(value=one_line(value, 40)))
        out[target] = value
    return out


def check_channel_words(values: dict[str, str | None], platform: str) -> None:
    """Every word typed as a channel (``#dev.team``, ``<#C1``) must be a valid channel reference,
    wherever it was given. Checked before the words are placed, so a malformed channel can never be
    taken for a topic (or anything else)."""
    for value in values.values():
        for word in (value or "").split():
            problem = channel_problem(word, platform) if is_channel_word(word) else None
            if problem:
                raise CommandError(problem)


def check_channel(value: str | None, platform: str) -> None:
    """The channel option, once placed, must be a channel reference whatever its form (``general``,
    ``C0123ABCD``, ``#general``, a mention)."""
    problem = channel_problem(value, platform) if value is not None else None
    if problem:
        raise CommandError(problem)


def place_channel_words(values: dict[str, str | None], named: AbstractSet[str]) -> dict[str, str | None]:
    """Positional words are placed by their shape (:func:`arrange`), and a channel word is a channel
    wherever it was typed, also among the words of a topic left over at the end. It goes to the
    channel slot when that is free; a second channel is an error (it would otherwise be taken as,
    or fuzzy-matched to, a topic while the wrong channel's subscription changed)."""
    topic = values.get("topic")
    words = topic.split() if topic is not None and "topic" not in named else []
    channels = [word for word in words if is_channel_word(word)]
    if channels:
        values = values | {"topic": " ".join(w for w in words if not is_channel_word(w)) or None}
    out = arrange(values, named)
    for word in channels:
        if out["channel"] is None:
            out["channel"] = word
        else:
            raise CommandError(_second_channel(word, out["channel"]))
    stray = (
        out["topic"] if out["topic"] is not None and "topic" not in named and is_channel_word(out["topic"]) else None
    )
    if stray is not None:  # a second channel that arrange found no other place for
        raise CommandError(_second_channel(stray, out["channel"] or ""))
    return out


def _second_channel(word: str, first: str) -> str:
    return tip_messages.SECOND_CHANNEL.format(value=one_line(word, 40), channel=one_line(first, 40))


def check_lengths(values: dict[str, str | None]) -> None:
    """Values longer than their option takes are refused (not cut, which could change their meaning)."""
    for name, value in values.items():
        limit = LIMITS.get(name)
        if value is not None and limit is not None and len(value) > limit:
            raise CommandError(tip_messages.OPTION_TOO_LONG.format(option=LABELS[name], length=len(value), limit=limit))


def check_storable(invocation: Invocation, target: Channel, timezone: str, topic: str | None) -> None:
    """Every text a subscription keeps must fit its column (``bot.store.engine.subscriptions``), checked here
    before the write rather than left to the database: PostgreSQL would fail on ``varchar(64)`` and
    SQLite would keep anything, so the two must agree by checking first."""
    from bot.store.engine import too_long
    from bot.tips.tables import subscriptions

    found = too_long(
        subscriptions,
        {
            "platform": invocation.platform,
            "tenant": invocation.tenant,
            "channel": target.id,
            "channel_name": target.name,
            "timezone": timezone,
            "topic": topic,
            "created_by": invocation.user,
        },
    )
    if found is not None:
        column, length, limit = found
        what = STORED[column]
        if column in ("channel", "channel_name"):
            label = "name" if target.id == target.name or column == "channel_name" else "id"
            what = f"The channel {label} “{one_line(channel_label(target.name) if label == 'name' else target.id, 40)}”"
        raise CommandError(tip_messages.VALUE_TOO_LONG.format(what=what, length=length, limit=limit))


def raw_option(invocation: Invocation, name: str, given: str | None) -> str | None:
    """An option as given, before the generic cut to its declared length (see :data:`LIMITS`)."""
    value = invocation.options.get(name)
    if isinstance(value, str):
        return value.strip() or None
    return given


def resolve_topic(kb: KnowledgeBase, text: str) -> str:
    """A tag that tips carry (an id, alias or close spelling of a role, skill, topic...)."""
    tagged = Counter(tag for tip in kb.all("tip") for tag in tip.tags)
    candidate = text.strip().casefold()
    if candidate not in tagged:
        found = kb.resolve_any(text, TIP_TAG_KINDS)
        candidate = found.best.entry.id if found.best is not None else ""
    if not tagged.get(candidate):
        examples = ", ".join(f"`{tag}`" for tag, _ in tagged.most_common(6))
        raise CommandError(tip_messages.BAD_TOPIC.format(value=one_line(text, 40), examples=examples))
    return candidate
