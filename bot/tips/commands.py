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
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

from bot.commands import Invocation, Option, Registry
from bot.context import Context, Services
from bot.errors import CommandError
from bot.knowledge.present import TIP_TAG_KINDS
from bot.reply import Field, FollowUp, Reply, Section
from bot.safety import one_line
from bot.schedule.posting import _MENTION as CHANNEL_MENTION
from bot.schedule.rules import (
    WEEKDAYS,
    Schedule,
    check_clock,
    parse_days,
    parse_time,
    parse_zone,
)
from bot.tips import messages as tip_messages
from bot.tips.content import matching_tips, tip_post, topic_label
from bot.tips.options import (
    DEFAULT_TIME,
    LIMITS,
    channel_label,
    check_channel,
    check_channel_words,
    check_lengths,
    check_storable,
    named_in,
    place_channel_words,
    raw_option,
    resolve_topic,
)
from bot.tips.rotation import choose_tip

if TYPE_CHECKING:
    from bot.store.engine import Store
    from bot.tips.store import Subscription, TenantTips


log = logging.getLogger("careerbot.tips")

ACTIONS = ("subscribe", "unsubscribe", "list", "preview", "skip")
CHANGES = frozenset({"subscribe", "unsubscribe", "skip"})


def _when(sub: Subscription) -> str:
    if sub.next_date is None:
        return "not scheduled"
    day = date.fromisoformat(sub.next_date)
    return f"{day:%a %d %b %Y}, {sub.schedule.hour:02d}:{sub.schedule.minute:02d} {sub.schedule.timezone}"


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
            tip_messages.BAD_ACTION.format(value=one_line(verb, 30), actions=", ".join(ACTIONS), usage=usage)
        )
    if ctx.services is None:
        return Reply(title=tip_messages.UNAVAILABLE_TITLE, summary=tip_messages.UNAVAILABLE, tone="notice")
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
        raise CommandError(tip_messages.ADMINS_ONLY)
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
        return await _unsubscribe(service, store, channel_id, channel_label(name))
    target = await service.check_channel(invocation, channel or invocation.channel)
    if verb == "skip":
        return await _skip(service, store, target.id, channel_label(target.name))
    return await _preview(ctx, store, target.id, channel_label(target.name))


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
    where = channel_label(target.name)
    title = tip_messages.SUBSCRIBED_TITLE if created else tip_messages.UPDATED_TITLE
    about = f" about {topic_label(ctx.kb, tag)}" if tag else ""
    return Reply(
        title=title.format(channel=where),
        summary=tip_messages.SUBSCRIBED.format(schedule=schedule.label(), topic=about, first=_when(sub)),
        fields=(
            Field(name="Time", value=f"{hour:02d}:{minute:02d}"),
            Field(name="Time zone", value=zone),
            Field(name="Days", value=schedule.label().split(" at ")[0]),
            Field(name="Topic", value=topic_label(ctx.kb, tag)),
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
            title=tip_messages.NONE_TITLE,
            summary=tip_messages.NOT_SUBSCRIBED,
            follow_ups=(FollowUp(label="Preview a daily tip", command="/tips preview"),),
            tone="notice",
        )
    lines = [
        f"**{channel_label(s.channel_name)}**: {s.schedule.label()}, {topic_label(ctx.kb, s.topic)}. Next: {_when(s)}"
        for s in subs
    ]
    return Reply(
        title=tip_messages.LIST_TITLE,
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
            title=tip_messages.NOT_SUBSCRIBED_TITLE.format(channel=where),
            summary=tip_messages.NOT_SUBSCRIBED,
            tone="notice",
        )
    return Reply(title=tip_messages.UNSUBSCRIBED_TITLE.format(channel=where), summary=tip_messages.UNSUBSCRIBED)


async def _skip(service: Services, store: TenantTips, channel: str, where: str) -> Reply:
    result = await store.skip(channel, now=service.clock.now())
    if result is None:
        return Reply(
            title=tip_messages.NOT_SUBSCRIBED_TITLE.format(channel=where),
            summary=tip_messages.NOT_SUBSCRIBED,
            tone="notice",
        )
    day, changed = result
    shown = f"{day:%a %d %b}"
    if not changed:
        return Reply(
            title=tip_messages.SKIPPED_TITLE.format(day=shown, channel=where),
            summary=tip_messages.ALREADY_SKIPPED.format(day=shown, channel=where),
            tone="notice",
        )
    return Reply(
        title=tip_messages.SKIPPED_TITLE.format(day=shown, channel=where),
        summary=tip_messages.SKIPPED.format(day=shown),
    )


async def _preview(ctx: Context, store: TenantTips, channel: str, where: str) -> Reply:
    sub = await store.get(channel)
    if sub is not None and sub.active:
        rotation = await store.rotation(sub.id)
        assert rotation is not None
        candidates = matching_tips(ctx.kb, sub.topic) or matching_tips(ctx.kb, None)
        tip_id, _ = choose_tip(rotation.seed, rotation.cycle, rotation.shown, rotation.last, candidates)
        reply = tip_post(ctx.kb, tip_id, sub.topic)
        return replace(reply, footer=tip_messages.PREVIEW_FOOTER.format(channel=where, when=_when(sub)))
    seed = zlib.crc32(f"{ctx.invocation.tenant}:{channel}".encode())
    tip_id, _ = choose_tip(seed, 0, (), None, matching_tips(ctx.kb, None))
    reply = tip_post(ctx.kb, tip_id, None)
    return replace(reply, footer=tip_messages.PREVIEW_UNSUBSCRIBED.format(channel=where), tone="notice")
