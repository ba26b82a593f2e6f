"""``/tips``: daily tip subscriptions, declared in the core like every command so both platforms get it.

One command whose first option is the action (``subscribe``, ``unsubscribe``, ``list``, ``preview``,
``skip``), then named options. On Slack options are words: ``/tips subscribe time:09:00
timezone:Europe/Berlin`` or positionally ``/tips subscribe #general 09:00 Europe/Berlin weekdays``
(positional words are placed by their shape, so ``/tips subscribe 09:00`` means the time). On
Discord they are the command's options.

Changing subscriptions is for admins; ``list`` and ``preview`` are for everyone. Every input is
checked before anything is written, so a bad time, zone, days, topic or channel changes nothing. A
word typed as a channel (``#...``, ``<#...>``) is a channel or an error, never a topic; every value
kept is checked against its column's length here, so both databases refuse the same values alike.
When the store itself fails (read-only, full, damaged, unreachable) people are told so in plain
words and the log gets the file and the fix.
"""

from __future__ import annotations

import logging
import zlib
from collections import Counter
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

from bot import messages
from bot.commands import Invocation, Option, Registry
from bot.context import Context, Services
from bot.errors import CommandError
from bot.knowledge.present import TIP_TAG_KINDS, tag_kind, tip_card
from bot.reply import Field, FollowUp, Reply, Section
from bot.safety import one_line
from bot.schedule.posting import _MENTION as CHANNEL_MENTION
from bot.schedule.posting import Channel, channel_problem, is_channel_word, looks_like_channel
from bot.schedule.rules import (
    WEEKDAYS,
    Schedule,
    check_clock,
    looks_like_days,
    looks_like_time,
    looks_like_zone,
    parse_days,
    parse_time,
    parse_zone,
)
from bot.tips.rotation import choose_tip

if TYPE_CHECKING:
    from bot.knowledge.kb import KnowledgeBase
    from bot.store.engine import Store
    from bot.tips.store import Subscription, TenantTips


log = logging.getLogger("careerbot.tips")

ACTIONS = ("subscribe", "unsubscribe", "list", "preview", "skip")
CHANGES = frozenset({"subscribe", "unsubscribe", "skip"})
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
            raise CommandError(messages.TIPS_UNCLEAR.format(value=one_line(value, 40)))
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
    return messages.TIPS_SECOND_CHANNEL.format(value=one_line(word, 40), channel=one_line(first, 40))


def check_lengths(values: dict[str, str | None]) -> None:
    """Values longer than their option takes are refused (not cut, which could change their meaning)."""
    for name, value in values.items():
        limit = LIMITS.get(name)
        if value is not None and limit is not None and len(value) > limit:
            raise CommandError(
                messages.TIPS_OPTION_TOO_LONG.format(option=LABELS[name], length=len(value), limit=limit)
            )


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
            what = f"The channel {label} “{one_line(_where(target.name) if label == 'name' else target.id, 40)}”"
        raise CommandError(messages.TIPS_VALUE_TOO_LONG.format(what=what, length=length, limit=limit))


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
        raise CommandError(messages.TIPS_BAD_TOPIC.format(value=one_line(text, 40), examples=examples))
    return candidate


def _where(name: str) -> str:
    return f"#{name}"


def _when(sub: Subscription) -> str:
    if sub.next_date is None:
        return "not scheduled"
    day = date.fromisoformat(sub.next_date)
    return f"{day:%a %d %b %Y}, {sub.schedule.hour:02d}:{sub.schedule.minute:02d} {sub.schedule.timezone}"


def _topic_label(kb: KnowledgeBase, topic: str | None) -> str:
    return kb.title(tag_kind(kb, topic), topic) if topic else "any topic"


def matching_tips(kb: KnowledgeBase, topic: str | None) -> list[str]:
    """Ids of the tips a subscription rotates through (all, or those tagged ``topic``)."""
    return sorted(t.id for t in (kb.all("tip") if topic is None else kb.tips_tagged(topic)))


def tip_post(kb: KnowledgeBase, tip_id: str, topic: str | None) -> Reply:
    """The message a daily tip is: the tip card, titled and signed as a daily post."""
    card = tip_card(kb, kb.get("tip", tip_id), about=topic)
    title = messages.TIPS_POST_TITLE + (f": {_topic_label(kb, topic)}" if topic else "")
    return replace(card, title=title, footer=messages.TIPS_POST_FOOTER)


COMMANDS = Registry()


@COMMANDS.command(
    "tips",
    "Daily tip posts for a channel: subscribe, unsubscribe, list, preview, skip (tomorrow)",
    Option(name="action", description="subscribe, unsubscribe, list (default), preview or skip", choices=ACTIONS),
    Option(name="channel", description="The channel, e.g. #general (default: this one)", max_length=LIMITS["channel"]),
    Option(
        name="time",
        description="Local time to post, HH:MM on a 24-hour clock (default 09:00)",
        max_length=LIMITS["time"],
    ),
    Option(
        name="timezone",
        description="IANA time zone, e.g. Europe/Berlin (default: the workspace's or UTC)",
        max_length=LIMITS["timezone"],
    ),
    Option(
        name="days", description="weekdays (default), daily, weekends, or e.g. mon,wed,fri", max_length=LIMITS["days"]
    ),
    Option(
        name="topic",
        description="Only tips about this, e.g. fhir, imaging, interviews",
        entity=TIP_TAG_KINDS,
        max_length=LIMITS["topic"],
    ),
    examples=(
        "/tips",
        "/tips preview",
        "/tips subscribe #general 08:30 America/New_York mon,wed,fri interviews",
        "/tips subscribe time:09:00 timezone:Europe/Berlin",
    ),
    admin=True,
)
async def tips(
    ctx: Context,
    action: str | None = None,
    channel: str | None = None,
    time: str | None = None,
    timezone: str | None = None,
    days: str | None = None,
    topic: str | None = None,
) -> Reply:
    verb = (action or "list").strip().casefold()
    if verb not in ACTIONS:
        usage = COMMANDS.get("tips").usage  # type: ignore[union-attr]
        raise CommandError(
            messages.TIPS_BAD_ACTION.format(value=one_line(verb, 30), actions=", ".join(ACTIONS), usage=usage)
        )
    if ctx.services is None:
        return Reply(title=messages.TIPS_UNAVAILABLE_TITLE, summary=messages.TIPS_UNAVAILABLE, tone="notice")
    invocation = ctx.invocation
    given = {"channel": channel, "time": time, "timezone": timezone, "days": days, "topic": topic}
    given = {name: raw_option(invocation, name, value) for name, value in given.items()}
    try:
        service = ctx.services
        store = await service.store()
        async with store.failures():
            return await _act(ctx, service, store, verb, given)
    except CommandError:
        raise
    except Exception as exc:
        from bot.store.problems import StoreError

        if not isinstance(exc, StoreError):
            raise
        log.error("the store failed: %s", exc.detail)  # for the operator: the file or server, and the fix
        raise CommandError(exc.reason) from None


async def _act(ctx: Context, service: Services, opened: Store, verb: str, given: dict[str, str | None]) -> Reply:
    invocation = ctx.invocation
    if verb in CHANGES and not service.is_admin(invocation):
        raise CommandError(messages.TIPS_ADMINS_ONLY)
    check_channel_words(given, invocation.platform)
    from bot.store.engine import Tenant
    from bot.tips.store import TenantTips

    store = TenantTips(opened, Tenant(invocation.platform, invocation.tenant))
    if verb == "subscribe":
        values = place_channel_words(given, named_in(invocation.text))
        check_lengths(values)
        check_channel(values["channel"], invocation.platform)
        return await _subscribe(ctx, service, store, values)
    channel = given["channel"]
    check_lengths({"channel": channel})
    check_channel(channel, invocation.platform)
    if verb == "list":
        return await _list(ctx, service, store)
    if verb == "unsubscribe":
        channel_id, name = await _subscribed_channel(service, store, invocation, channel or invocation.channel)
        return await _unsubscribe(service, store, channel_id, _where(name))
    target = await service.check_channel(invocation, channel or invocation.channel)
    if verb == "skip":
        return await _skip(service, store, target.id, _where(target.name))
    return await _preview(ctx, store, target.id, _where(target.name))


async def _subscribe(ctx: Context, service: Services, store: TenantTips, values: dict[str, str | None]) -> Reply:
    invocation = ctx.invocation
    now = service.clock.now()
    check_clock(now)
    hour, minute = parse_time(values["time"]) if values["time"] else DEFAULT_TIME
    zone = parse_zone(values["timezone"]) if values["timezone"] else await service.default_timezone(invocation)
    mask = parse_days(values["days"]) if values["days"] else WEEKDAYS
    tag = resolve_topic(ctx.kb, values["topic"]) if values["topic"] else None
    target = await service.check_channel(invocation, values["channel"] or invocation.channel)
    check_storable(invocation, target, zone, tag)
    schedule = Schedule(hour, minute, zone, mask)
    sub, created = await store.subscribe(
        target, schedule, tag, user=invocation.user, now=now, seed=service.rng.getrandbits(62)
    )
    where = _where(target.name)
    title = messages.TIPS_SUBSCRIBED_TITLE if created else messages.TIPS_UPDATED_TITLE
    about = f" about {_topic_label(ctx.kb, tag)}" if tag else ""
    return Reply(
        title=title.format(channel=where),
        summary=messages.TIPS_SUBSCRIBED.format(schedule=schedule.label(), topic=about, first=_when(sub)),
        fields=(
            Field(name="Time", value=f"{hour:02d}:{minute:02d}"),
            Field(name="Time zone", value=zone),
            Field(name="Days", value=schedule.label().split(" at ")[0]),
            Field(name="Topic", value=_topic_label(ctx.kb, tag)),
        ),
        follow_ups=(
            FollowUp(label="Preview the next tip", command="/tips preview"),
            FollowUp(label="All subscriptions", command="/tips list"),
        ),
    )


async def _list(ctx: Context, service: Services, store: TenantTips) -> Reply:
    subs = await store.active()
    if not subs:
        return Reply(
            title=messages.TIPS_NONE_TITLE,
            summary=messages.TIPS_NOT_SUBSCRIBED,
            follow_ups=(FollowUp(label="Preview a daily tip", command="/tips preview"),),
            tone="notice",
        )
    lines = [
        f"**{_where(s.channel_name)}**: {s.schedule.label()}, {_topic_label(ctx.kb, s.topic)}. Next: {_when(s)}"
        for s in subs
    ]
    return Reply(
        title=messages.TIPS_LIST_TITLE,
        summary=f"{len(subs)} channel{'s get' if len(subs) != 1 else ' gets'} a daily tip.",
        sections=(Section(heading="Subscriptions", text="\n".join(f"- {line}" for line in lines)),),
        follow_ups=(FollowUp(label="Preview the next tip", command="/tips preview"),),
    )


async def _subscribed_channel(
    service: Services, store: TenantTips, invocation: Invocation, text: str
) -> tuple[str, str]:
    """The channel to unsubscribe: checked with the platform like any other, or, when the platform no
    longer lets the bot see or post there (deleted, archived, permissions removed), the stored
    subscription it names by id or name, so an admin can always stop posts to a channel that is gone."""
    try:
        target = await service.check_channel(invocation, text)
        return target.id, target.name
    except CommandError:
        mention = CHANNEL_MENTION.fullmatch(text.strip())
        wanted = (mention.group("id") if mention else text.strip()).lstrip("#").casefold()
        for sub in await store.active():
            if wanted in (sub.channel.casefold(), sub.channel_name.lstrip("#").casefold()):
                return sub.channel, sub.channel_name
        raise


async def _unsubscribe(service: Services, store: TenantTips, channel: str, where: str) -> Reply:
    if not await store.unsubscribe(channel, now=service.clock.now()):
        return Reply(
            title=messages.TIPS_NOT_SUBSCRIBED_TITLE.format(channel=where),
            summary=messages.TIPS_NOT_SUBSCRIBED,
            tone="notice",
        )
    return Reply(title=messages.TIPS_UNSUBSCRIBED_TITLE.format(channel=where), summary=messages.TIPS_UNSUBSCRIBED)


async def _skip(service: Services, store: TenantTips, channel: str, where: str) -> Reply:
    result = await store.skip(channel, now=service.clock.now())
    if result is None:
        return Reply(
            title=messages.TIPS_NOT_SUBSCRIBED_TITLE.format(channel=where),
            summary=messages.TIPS_NOT_SUBSCRIBED,
            tone="notice",
        )
    day, changed = result
    shown = f"{day:%a %d %b}"
    if not changed:
        return Reply(
            title=messages.TIPS_SKIPPED_TITLE.format(day=shown, channel=where),
            summary=messages.TIPS_ALREADY_SKIPPED.format(day=shown, channel=where),
            tone="notice",
        )
    return Reply(
        title=messages.TIPS_SKIPPED_TITLE.format(day=shown, channel=where),
        summary=messages.TIPS_SKIPPED.format(day=shown),
    )


async def _preview(ctx: Context, store: TenantTips, channel: str, where: str) -> Reply:
    sub = await store.get(channel)
    if sub is not None and sub.active:
        rotation = await store.rotation(sub.id)
        assert rotation is not None
        candidates = matching_tips(ctx.kb, sub.topic) or matching_tips(ctx.kb, None)
        tip_id, _ = choose_tip(rotation.seed, rotation.cycle, rotation.shown, rotation.last, candidates)
        reply = tip_post(ctx.kb, tip_id, sub.topic)
        return replace(reply, footer=messages.TIPS_PREVIEW_FOOTER.format(channel=where, when=_when(sub)))
    seed = zlib.crc32(f"{ctx.invocation.tenant}:{channel}".encode())
    tip_id, _ = choose_tip(seed, 0, (), None, matching_tips(ctx.kb, None))
    reply = tip_post(ctx.kb, tip_id, None)
    return replace(reply, footer=messages.TIPS_PREVIEW_UNSUBSCRIBED.format(channel=where), tone="notice")
