"""``/mentoring``: opt-in mentoring programs, one per channel, declared in the core like every command.

One command whose first option is the action: ``status`` (default), ``program`` (admins: ``create``,
``pause``, ``resume``, ``end``, ``status``, ``report``), and for everyone about themselves only:
``join``, ``profile``, ``leave``, ``snooze``, ``resume``, ``forget-me``, ``block``, ``unblock``,
``checkin``. The grammar is in :mod:`bot.mentoring.options`. Every input is checked before anything
is written, so a refused command changes nothing; nobody can act for someone else. The store is
imported only when a request needs it, so a cold ``careerbot ask "/role ehr"`` never loads SQLAlchemy.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING

from bot.commands import Registry
from bot.context import Context, Services
from bot.errors import CommandError
from bot.mentoring import messages as say
from bot.mentoring import options as opt
from bot.reply import Field, FollowUp, Reply, Section
from bot.safety import one_line
from bot.schedule.rules import check_clock, parse_time, parse_zone, zone

if TYPE_CHECKING:
    from bot.mentoring.store import Profile, Program, TenantMentoring
    from bot.store.engine import Store

log = logging.getLogger("careerbot.mentoring")

COMMANDS = Registry()


@COMMANDS.command(
    "mentoring",
    "Mentoring: join this channel's program, edit your profile, snooze, block; admins run programs",
    *opt.declared(),
    examples=say.EXAMPLES,
    admin=True,
)
async def mentoring(
    ctx: Context,
    action: str | None = None,
    step: str | None = None,
    kind: str | None = None,
    size: str | None = None,
    every: str | None = None,
    day: str | None = None,
    time: str | None = None,
    timezone: str | None = None,
    repeat: str | None = None,
    checkin: str | None = None,
    csv: bool | None = None,
    role: str | None = None,
    knows: str | None = None,
    wants: str | None = None,
    bio: str | None = None,
    capacity: str | None = None,
    until: str | None = None,
    user: str | None = None,
    group: str | None = None,
) -> Reply:
    words = opt.read(ctx.invocation)  # the options as typed, before any cut to their declared length
    if ctx.services is None:
        return Reply(title=say.UNAVAILABLE_TITLE, summary=say.UNAVAILABLE, tone="notice")
    if words.action == "program" and not ctx.services.is_admin(ctx.invocation):
        raise CommandError(say.ADMINS_ONLY)
    try:
        service = ctx.services
        opened = await service.store()
        async with opened.failures():
            return await _act(ctx, service, opened, words)
    except CommandError:
        raise
    except Exception as exc:
        from bot.store.problems import StoreError

        if not isinstance(exc, StoreError):
            raise
        log.error("the store failed: %s", exc.detail)  # for the operator: the file or server, and the fix
        raise CommandError(exc.reason) from None


async def _act(ctx: Context, service: Services, opened: Store, words: opt.Words) -> Reply:
    from bot.mentoring.store import TenantMentoring
    from bot.store.engine import Tenant

    invocation = ctx.invocation
    store = TenantMentoring(opened, Tenant(invocation.platform, invocation.tenant))
    action, values = words.action, words.values
    if action == "program":
        return await _program(ctx, service, store, words.step or "status", values)
    if action == "status":
        return await _status(ctx, store)
    if action == "profile" and not values:
        return await _profile_form(ctx, store)
    if action in ("join", "profile"):
        return await _join(ctx, service, store, values, joining=action == "join")
    if action in ("block", "unblock"):
        return await _block(ctx, service, store, action, values)
    if action == "forget-me":
        return await _forget(ctx, store)
    if action == "checkin":
        return await _checkin(ctx, service, store, words.step or "", values)
    return await _membership(ctx, service, store, action, values)


# ------------------------------------------------------------------ labels


def _where(program: Program) -> str:
    return f"#{program.channel_name}"


def _next(program: Program) -> str:
    if program.state != "active" or program.next_date is None:
        return say.NOT_SCHEDULED.format(state=program.state)
    day, s = date.fromisoformat(program.next_date), program.settings
    return f"{day:%a %d %b %Y}, {s.hour:02d}:{s.minute:02d} {s.timezone}"


def _refs(ctx: Context, refs: tuple[str, ...]) -> str:
    return ", ".join(opt.interest_label(ctx.kb, r) for r in refs) or say.NOTHING


# ------------------------------------------------------------------ programs (admins)


async def _here(ctx: Context, store: TenantMentoring) -> Program:
    program = await store.program(ctx.invocation.channel)
    if program is None:
        raise CommandError(say.NO_PROGRAM_HERE.format(channel="this channel"))
    return program


async def _program(ctx: Context, service: Services, store: TenantMentoring, step: str, values: dict[str, str]) -> Reply:
    if step == "create":
        return await _create(ctx, service, store, values)
    if step == "status":
        return await _status(ctx, store, admin=True)
    program = await _here(ctx, store)
    if step == "report":
        return await _report(store, program, opt.boolean(values, "csv"))
    where, now = _where(program), service.clock.now()
    wanted = {"pause": "paused", "resume": "active", "end": "ended"}[step]
    if program.state == wanted:
        shown = {"active": "running"}.get(wanted, wanted)
        return Reply(title=say.ALREADY_TITLE.format(channel=where, state=shown), summary=say.ALREADY, tone="notice")
    if program.state == "ended":
        raise CommandError(say.CANNOT_RESUME_ENDED if step == "resume" else say.ENDED.format(channel=where))
    check_clock(now)
    changed = await store.set_state(program, wanted, now)
    if wanted == "paused":
        return Reply(title=say.PAUSED_TITLE.format(channel=where), summary=say.PAUSED)
    if wanted == "active":
        return Reply(title=say.RESUMED_TITLE.format(channel=where), summary=say.RESUMED.format(next=_next(changed)))
    return Reply(title=say.ENDED_TITLE.format(channel=where), summary=say.ENDED_DONE)


async def _create(ctx: Context, service: Services, store: TenantMentoring, values: dict[str, str]) -> Reply:
    from bot.mentoring.store import Settings

    invocation = ctx.invocation
    if not getattr(service.posters.get(invocation.platform), "private_groups", False):
        platform = say.PLATFORMS.get(invocation.platform, one_line(invocation.platform, 20))
        raise CommandError(say.NO_PRIVATE.format(platform=platform))
    kind = opt.choice(values, "kind", opt.KINDS) or "pairs"
    size = opt.number(values, "size", 2, 4, 2)
    if kind == "mentor" and size != 2:
        raise CommandError(say.SIZE_FOR_PAIRS)
    hour, minute = parse_time(values["time"]) if "time" in values else (10, 0)
    settings = Settings(
        kind=kind,
        group_size=size,
        every_weeks=opt.every(values["every"]) if "every" in values else 2,
        weekday=opt.weekday(values["day"]) if "day" in values else 0,
        hour=hour,
        minute=minute,
        timezone=parse_zone(values["timezone"]) if "timezone" in values else await service.default_timezone(invocation),
        repeat_window=opt.number(values, "repeat", 1, 26, 6),
        checkin_days=opt.number(values, "checkin", 1, 28, 7),
    )
    now = service.clock.now()
    check_clock(now)
    target = await service.check_channel(invocation, invocation.channel)
    stored = {"platform": invocation.platform, "tenant": invocation.tenant, "channel": target.id}
    opt.check_storable("programs", stored | {"timezone": settings.timezone, "created_by": invocation.user})
    program, created = await store.create_program(
        target, settings, user=invocation.user, now=now, seed=service.rng.getrandbits(62)
    )
    where = _where(program)
    if not created:
        state = {"active": "running"}.get(program.state, program.state)
        return Reply(
            title=say.EXISTS_TITLE.format(channel=where), summary=say.EXISTS.format(state=state), tone="notice"
        )
    return Reply(
        title=say.CREATED_TITLE.format(channel=where),
        summary=say.CREATED.format(about=say.about(settings), first=_next(program)),
        fields=(
            Field(name="Rounds before meeting again", value=str(settings.repeat_window)),
            Field(name="Check-in after", value=f"{settings.checkin_days} days"),
        ),
        follow_ups=(FollowUp(label="Program status", command="/mentoring program status"),),
    )


async def _report(store: TenantMentoring, program: Program, as_csv: bool) -> Reply:
    report = await store.report(program)
    placed = report.matched + report.sat_out
    answered = sum(n for answer, n in report.answers.items() if answer != "None")
    met = report.answers.get("met", 0)
    match_rate = f"{report.matched / placed:.0%}" if placed else "n/a"
    met_rate = f"{met / answered:.0%}" if answered else "n/a"
    sat_out = [say.person(ids[0]) for ids in report.last_round if len(ids) == 1]
    rows: list[tuple[str, str, str]] = [("members", role, str(n)) for role, n in sorted(report.members.items())]
    rows += [("state", state, str(n)) for state, n in sorted(report.states.items())]
    rows += [("rounds", "", str(report.rounds)), ("groups", "", str(report.groups))]
    rows += [("matched_places", "", str(report.matched)), ("sat_out_places", "", str(report.sat_out))]
    rows += [("match_rate", "", match_rate)]
    for answer in ("met", "not_yet", "no", "None"):
        rows.append(("answers", "unanswered" if answer == "None" else answer, str(report.answers.get(answer, 0))))
    rows += [("met_rate", "", met_rate)] + [("sat_out_last_round", person, "") for person in sat_out]
    title = say.REPORT_TITLE.format(channel=_where(program))
    summary = say.REPORT_SUMMARY.format(rounds=report.rounds, groups=report.groups, match=match_rate, met=met_rate)
    if as_csv:
        return Reply(title=title, summary=summary, sections=(Section(heading="CSV", text=say.csv_lines(rows)),))
    by = {"members": "Members by role", "state": "Members by state", "answers": "Check-in answers"}
    sections = [
        Section(heading=heading, text="\n".join(f"- {k}: {v}" for what, k, v in rows if what == key) or say.NOTHING)
        for key, heading in by.items()
    ]
    last = ", ".join(sat_out) or (say.NO_ONE_SAT_OUT if report.last_round else say.NO_ROUND_YET)
    sections.append(Section(heading="Sat out the last round", text=last))
    return Reply(title=title, summary=summary, sections=tuple(sections))


# ------------------------------------------------------------------ status


async def _status(ctx: Context, store: TenantMentoring, *, admin: bool = False) -> Reply:
    invocation = ctx.invocation
    program = await store.program(invocation.channel)
    if program is None:
        return Reply(title=say.NO_PROGRAM_TITLE, summary=say.NO_PROGRAM, tone="notice")
    count = await store.member_count(program)
    members = f"{count} member{'s' if count != 1 else ''}"
    fields = [Field(name="Next round", value=_next(program)), Field(name="Members", value=str(count))]
    if admin:
        report = await store.report(program)
        fields += [Field(name="State", value=program.state), Field(name="Rounds so far", value=str(program.rounds))]
        fields += [Field(name=f"{state.capitalize()}", value=str(n)) for state, n in sorted(report.states.items())]
        fields += [Field(name="Rounds before meeting again", value=str(program.settings.repeat_window))]
        fields += [Field(name="Check-in after", value=f"{program.settings.checkin_days} days")]
    profile = await store.profile(program, invocation.user)
    text = _you(ctx, profile) if profile is not None else say.YOU_NOT_JOINED
    blocked = await store.blocked_by(invocation.user)
    if blocked:
        text += "\n" + say.YOUR_BLOCKS.format(users=", ".join(one_line(b, 64) for b in blocked))
    buttons = say.JOIN_BUTTONS if profile is None else say.MEMBER_BUTTONS
    follow = tuple(FollowUp(label=name, command=command) for name, command in buttons)
    return Reply(
        title=say.STATUS_TITLE.format(channel=_where(program)),
        summary=say.STATUS_SUMMARY.format(about=say.about(program.settings), members=members),
        fields=tuple(fields),
        sections=(Section(heading="You", text=text),),
        follow_ups=follow if program.state != "ended" else (),
    )


def _you(ctx: Context, profile: Profile) -> str:
    state = say.STATES.get(profile.state, profile.state).format(until=profile.snooze_until or "")
    text = say.YOU.format(
        role=profile.role,
        state=state,
        knows=_refs(ctx, profile.knows),
        wants=_refs(ctx, profile.wants),
        zone=profile.timezone,
    )
    return text + ("\n" + say.YOUR_BIO.format(bio=profile.bio) if profile.bio else "")


# ------------------------------------------------------------------ members (each about themselves)


async def _profile_form(ctx: Context, store: TenantMentoring) -> Reply:
    """``/mentoring profile`` alone: the caller's profile, and the profile form for adapters that can
    show one (``extra["form"]``: a Slack or Discord modal), filled in with the profile as it is
    (``form_values``); elsewhere the reply says how to type it."""
    from bot.mentoring.forms import PROFILE

    program = await _mine(ctx, store)
    profile = await store.profile(program, ctx.invocation.user)
    if profile is None:
        raise CommandError(say.NOT_MEMBER.format(channel=_where(program)))
    current: dict[str, str | list[tuple[str, str]]] = {
        "role": profile.role,
        "knows": [(ref, opt.interest_label(ctx.kb, ref)) for ref in profile.knows],
        "wants": [(ref, opt.interest_label(ctx.kb, ref)) for ref in profile.wants],
        "timezone": profile.timezone,
        "bio": profile.bio or "",
    }
    return Reply(
        title=PROFILE.title,
        summary=say.PROFILE_FORM.format(channel=_where(program)),
        sections=(Section(heading=_where(program), text=_you(ctx, profile)),),
        extra={"form": PROFILE.id},
        form_values=PROFILE.filled(current),
    )


async def _join(
    ctx: Context, service: Services, store: TenantMentoring, values: dict[str, str], *, joining: bool
) -> Reply:
    invocation, me = ctx.invocation, ctx.invocation.user
    program = await (_here(ctx, store) if joining else _mine(ctx, store))
    where = _where(program)
    if program.state == "ended":
        raise CommandError(say.ENDED.format(channel=where))
    old = await store.profile(program, me)
    if old is None and not joining:
        raise CommandError(say.NOT_MEMBER.format(channel=where))
    mentor_program = program.settings.kind == "mentor"
    role = opt.choice(values, "role", opt.ROLES) or (old.role if old else "mentee" if mentor_program else "peer")
    if mentor_program and role == "peer":
        raise CommandError(say.PEER_IN_MENTOR.format(channel=where))
    if not mentor_program and role != "peer":
        raise CommandError(say.MENTOR_IN_PAIRS.format(channel=where))
    if "capacity" in values and role != "mentor":
        raise CommandError(say.CAPACITY_FOR_MENTORS)
    kept = old.capacity if old is not None and old.role == "mentor" == role else 1
    capacity = opt.number(values, "capacity", 1, 5, kept)
    knows = opt.interests(ctx.kb, "knows", values["knows"]) if "knows" in values else old.knows if old else ()
    wants = opt.interests(ctx.kb, "wants", values["wants"]) if "wants" in values else old.wants if old else ()
    if "timezone" in values:
        timezone = parse_zone(values["timezone"])
    else:
        timezone = old.timezone if old else await service.default_timezone(invocation)
    about = opt.bio(values["bio"]) if "bio" in values else old.bio if old else None
    now = service.clock.now()
    check_clock(now)
    stored = {"platform": invocation.platform, "tenant": invocation.tenant, "user_id": me}
    kept_text = {"timezone": timezone, "knows": ",".join(knows), "wants": ",".join(wants), "bio": about}
    opt.check_storable("members", stored | kept_text)
    profile, created = await store.join(
        program,
        me,
        role=role,
        knows=knows,
        wants=wants,
        timezone=timezone,
        bio=about,
        capacity=capacity,
        now=now,
        timezone_chosen="timezone" in values,
    )
    if created:
        whom = {"peer": f"a group of {program.settings.group_size}", "mentee": "a mentor"}.get(role)
        whom = whom or f"up to {capacity} mentee{'s' if capacity != 1 else ''}"
        title, summary = say.JOINED_TITLE, say.JOINED.format(role=role, whom=whom, next=_next(program))
    else:
        title, summary = say.UPDATED_TITLE, say.UPDATED.format(role=role)
    return Reply(
        title=title.format(channel=where),
        summary=summary,
        sections=(Section(heading="Your profile", text=_you(ctx, profile)),),
        follow_ups=(FollowUp(label="Status", command="/mentoring status"),),
    )


async def _mine(ctx: Context, store: TenantMentoring) -> Program:
    """The program of this channel, or else the only one the caller is in (from a private message)."""
    invocation = ctx.invocation
    here = await store.program(invocation.channel)
    if here is not None:
        return here
    joined = await store.profiles(invocation.user)
    if len(joined) == 1:
        return joined[0][0]
    if not joined:
        raise CommandError(say.NOT_IN_ANY)
    channels = ", ".join(_where(program) for program, _ in joined[:10])
    raise CommandError(say.WHICH_PROGRAM.format(channels=channels))


async def _membership(
    ctx: Context, service: Services, store: TenantMentoring, action: str, values: dict[str, str]
) -> Reply:
    invocation, now = ctx.invocation, service.clock.now()
    program = await _mine(ctx, store)
    where = _where(program)
    if action == "leave":
        if not await store.leave(program, invocation.user):
            return Reply(title=say.NOT_MEMBER.format(channel=where), tone="notice")
        return Reply(title=say.LEFT_TITLE.format(channel=where), summary=say.LEFT)
    if program.state == "ended":
        raise CommandError(say.ENDED.format(channel=where))
    profile = await store.profile(program, invocation.user)
    if profile is None:
        raise CommandError(say.NOT_MEMBER.format(channel=where))
    check_clock(now)
    if action == "resume":
        await store.set_member_state(program, invocation.user, "active", now)
        return Reply(title=say.BACK_TITLE, summary=say.BACK.format(channel=where))
    if "until" not in values:
        await store.set_member_state(program, invocation.user, "paused", now)
        return Reply(title=say.PAUSED_ME_TITLE, summary=say.PAUSED_ME.format(channel=where))
    day = opt.until(values["until"], now.astimezone(zone(profile.timezone)).date())
    await store.set_member_state(program, invocation.user, "snoozed", now, until=day)
    shown = f"{day:%a %d %b %Y}"
    return Reply(title=say.SNOOZED_TITLE.format(until=shown), summary=say.SNOOZED.format(channel=where, until=shown))


async def _block(ctx: Context, service: Services, store: TenantMentoring, action: str, values: dict[str, str]) -> Reply:
    invocation = ctx.invocation
    other = opt.user_id(values.get("user"), invocation.platform, action)
    if other == invocation.user:
        raise CommandError(say.BLOCK_SELF)
    if action == "unblock":
        if not await store.unblock(invocation.user, other):
            return Reply(title=say.NOT_BLOCKED.format(user=other), tone="notice")
        return Reply(title=say.UNBLOCKED_TITLE.format(user=other), summary=say.UNBLOCKED)
    stored = {"platform": invocation.platform, "tenant": invocation.tenant, "user_id": invocation.user}
    opt.check_storable("blocks", stored | {"blocked": other})
    now = service.clock.now()
    check_clock(now)
    if not await store.block(invocation.user, other, now):
        return Reply(title=say.ALREADY_BLOCKED.format(user=other), tone="notice")
    return Reply(title=say.BLOCKED_TITLE.format(user=other), summary=say.BLOCKED.format(user=other))


async def _forget(ctx: Context, store: TenantMentoring) -> Reply:
    user = ctx.invocation.user
    joined = await store.profiles(user)
    blocked = await store.blocked_by(user)
    changed = await store.forget(user)
    if not changed:
        return Reply(title=say.NOTHING_TO_FORGET_TITLE, summary=say.NOTHING_TO_FORGET, tone="notice")
    places = ", ".join(_where(program) for program, _ in joined[:10])
    memberships = f"your membership in {places}" if joined else "no memberships"
    blocks = f"your {len(blocked)} “don't match me with” entr{'ies' if len(blocked) != 1 else 'y'}"
    summary = say.FORGOT.format(memberships=memberships, blocks=blocks, count=changed)
    return Reply(title=say.FORGOT_TITLE, summary=summary)


async def _checkin(
    ctx: Context, service: Services, store: TenantMentoring, answer: str, values: dict[str, str]
) -> Reply:
    group = opt.group_id(values.get("group"))
    now = service.clock.now()
    check_clock(now)
    if not await store.answer(group, ctx.invocation.user, answer, now):
        raise CommandError(say.NOT_IN_GROUP.format(group=group))
    return Reply(title=say.ANSWERED_TITLE, summary=say.ANSWERS[answer], update=await _checkin_now(store, group))


async def _checkin_now(store: TenantMentoring, group: int) -> Reply | None:
    """The group's check-in message as it should now read (how many answered; no buttons once
    everyone has), for the adapters to edit the message whose button was pressed."""
    from bot.mentoring.intros import checkin_reply

    progress = await store.checkin_progress(group)
    if progress is None or not progress.total:
        return None
    return checkin_reply(
        group, progress.channel_name, progress.checkin_days, answered=progress.answered, total=progress.total
    )
