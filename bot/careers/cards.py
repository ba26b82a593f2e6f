"""The careers wing's replies: a card for each kind of entry, lists, helpful misses, and the
runners-up of a close call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot import messages
from bot.context import Context
from bot.knowledge.kb import Lookup, Match
from bot.knowledge.present import COMMAND_FOR, KIND_LABEL, follow, tip_card
from bot.knowledge.schema import Kind
from bot.reply import Field, FollowUp, Link, Ref, Reply, Section
from bot.safety import one_line

LIST_MAX = 40
COMPLIANCE_FIRST: tuple[Kind, ...] = ("compliance", "standard")
STANDARD_FIRST: tuple[Kind, ...] = ("standard", "compliance")

# ---------------------------------------------------------------------------- helpers


def bullets(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def numbered(items: list[str]) -> str:
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))


def titles(ctx: Context, kind: Kind, ids: list[str]) -> str:
    return ", ".join(ctx.kb.title(kind, i) for i in ids)


def with_alternatives(reply: Reply, found: Lookup) -> Reply:
    """Offer the runners-up of a close call (or of a full-text guess) before the other follow-ups."""
    if found.best is None or not (found.close_call or found.how == "text") or not found.alternatives:
        return reply
    alts = [follow(m.kind, m.entry) for m in found.alternatives[:3]]
    names = ", ".join(f.label for f in alts)
    extra = tuple(f for f in reply.follow_ups if f.command not in {a.command for a in alts})
    footer = messages.CLOSE_CALL_FOOTER.format(others=names)
    return Reply(
        title=reply.title,
        summary=reply.summary,
        sections=reply.sections,
        fields=reply.fields,
        links=reply.links,
        follow_ups=(*alts, *extra),
        footer=footer,
        ref=reply.ref,
        tone=reply.tone,
    )


def entry_lines(kind: Kind, entries: list[Any]) -> str:
    """Bullets naming each entry and its command; past :data:`LIST_MAX`, a pointer to /search instead
    of lines no platform would show (a reply is capped far below a thousand lines anyway)."""
    cmd = COMMAND_FOR[kind]
    lines = [f"**{e.title}** (`/{cmd} {e.id}`)" for e in entries[:LIST_MAX]]
    if len(entries) > LIST_MAX:
        lines.append(f"…and {len(entries) - LIST_MAX} more: try `/search` with a word or two")
    return bullets(lines)


def listing(ctx: Context, kind: Kind, title: str, summary: str, tone: str = "answer") -> Reply:
    entries = ctx.kb.all(kind)
    lines = entry_lines(kind, entries)
    return Reply(
        title=title,
        summary=summary,
        sections=(Section(heading=f"{len(entries)} to explore", text=lines),),
        follow_ups=tuple(follow(kind, e) for e in entries[:10]),
        tone="notice" if tone == "notice" else "answer",
    )


def not_found(ctx: Context, kind: Kind, query: str) -> Reply:
    """A helpful miss: what exists, plus the best match of any other kind if there is one."""
    shown = one_line(query, 60)
    reply = listing(
        ctx,
        kind,
        messages.NO_MATCH_TITLE.format(kind=KIND_LABEL[kind], query=shown),
        messages.NO_MATCH.format(query=shown),
        tone="notice",
    )
    elsewhere = ctx.kb.resolve_any(query)
    if elsewhere.best is not None and elsewhere.best.kind != kind:
        best = elsewhere.best
        hint = follow(best.kind, best.entry, f"{KIND_LABEL[best.kind]}: {best.entry.title}")
        return Reply(
            title=reply.title,
            summary=reply.summary,
            sections=reply.sections,
            follow_ups=(hint, *reply.follow_ups[:9]),
            tone="notice",
        )
    return reply


def card(ctx: Context, match: Match) -> Reply:
    return CARDS[match.kind](ctx, match.entry)


async def entity_command(ctx: Context, kind: Kind, query: str | None, empty: Callable[[], Reply]) -> Reply:
    if not query:
        return empty()
    found = ctx.kb.lookup(kind, query)
    if found.best is None:
        return not_found(ctx, kind, query)
    return with_alternatives(card(ctx, found.best), found)


# ---------------------------------------------------------------------------- cards


def role_card(ctx: Context, role: Any) -> Reply:
    related = [ctx.kb.get("role", r) for r in role.related]
    follow_ups = [
        FollowUp(label="Learning path", command=f"/path {role.id}"),
        FollowUp(label="Skills for this role", command=f"/skills {role.id}"),
        FollowUp(label="A tip for this role", command=f"/tip {role.id}"),
        *(follow("role", r) for r in related[:3] if r is not None),
        *(follow("compliance", ctx.kb.get("compliance", c)) for c in role.compliance[:2]),
        *(follow("standard", ctx.kb.get("standard", s)) for s in role.standards[:2]),
    ]
    return Reply(
        title=role.title,
        summary=role.summary,
        sections=(
            Section(heading="Day to day", text=bullets(role.day_to_day)),
            Section(heading="Skills", text=bullets([ctx.kb.title("skill", s) for s in role.skills])),
            Section(heading="First steps", text=numbered(role.learning_path[:3]) + f"\n(`/path {role.id}`)"),
        ),
        fields=(
            Field(name="Builds", value=titles(ctx, "software", role.software)),
            Field(name="Regulations", value=titles(ctx, "compliance", role.compliance)),
            Field(name="Standards", value=titles(ctx, "standard", role.standards)),
            Field(name="Related roles", value=titles(ctx, "role", role.related)),
        ),
        follow_ups=tuple(follow_ups),
        ref=Ref(kind="role", id=role.id),
    )


def software_card(ctx: Context, sw: Any) -> Reply:
    fields = [Field(name="Used by", value=", ".join(sw.used_by))]
    if sw.examples:
        fields.append(Field(name="Examples", value=", ".join(sw.examples)))
    if sw.standards:
        fields.append(Field(name="Standards", value=titles(ctx, "standard", sw.standards)))
    if sw.compliance:
        fields.append(Field(name="Regulations", value=titles(ctx, "compliance", sw.compliance)))
    return Reply(
        title=sw.title,
        summary=sw.summary,
        sections=(Section(heading="What it does", text=bullets(sw.capabilities)),),
        fields=tuple(fields),
        follow_ups=(
            *(follow("role", ctx.kb.get("role", r), f"Role: {ctx.kb.title('role', r)}") for r in sw.roles[:4]),
            *(follow("standard", ctx.kb.get("standard", s)) for s in sw.standards[:3]),
        ),
        ref=Ref(kind="software", id=sw.id),
    )


def _roles_using(ctx: Context, attribute: str, entry_id: str) -> list[Any]:
    return [r for r in ctx.kb.all("role") if entry_id in getattr(r, attribute)]


def skill_card(ctx: Context, skill: Any) -> Reply:
    roles = _roles_using(ctx, "skills", skill.id)
    return Reply(
        title=skill.title,
        summary=skill.summary,
        sections=(
            Section(heading="Why it matters in healthcare", text=skill.why),
            Section(heading="How to build it", text=bullets(skill.how_to_learn)),
        ),
        fields=(
            Field(name="Kind of skill", value=skill.category.capitalize()),
            *([Field(name="Roles that need it", value=", ".join(r.title for r in roles))] if roles else []),
        ),
        follow_ups=(
            FollowUp(label="A tip on this", command=f"/tip {skill.id}"),
            *(follow("role", r) for r in roles[:5]),
        ),
        ref=Ref(kind="skill", id=skill.id),
    )


def compliance_card(ctx: Context, reg: Any) -> Reply:
    roles = _roles_using(ctx, "compliance", reg.id)
    related = [(k, e) for i in reg.related for k in COMPLIANCE_FIRST if (e := ctx.kb.get(k, i))]
    return Reply(
        title=reg.title,
        summary=reg.summary,
        sections=(Section(heading="What it asks of software", text=bullets(reg.demands)),),
        fields=(
            Field(name="Jurisdiction", value=reg.jurisdiction),
            Field(name="Applies to", value=reg.applies_to, inline=False),
        ),
        links=(Link(label="Official source", url=reg.url),),
        follow_ups=(
            *(follow(k, e) for k, e in related[:3]),
            *(follow("role", r) for r in roles[:4]),
            FollowUp(label="A tip on this", command=f"/tip {reg.id}"),
        ),
        ref=Ref(kind="compliance", id=reg.id),
    )


def standard_card(ctx: Context, std: Any) -> Reply:
    roles = _roles_using(ctx, "standards", std.id)
    related = [(k, e) for i in std.related for k in STANDARD_FIRST if (e := ctx.kb.get(k, i))]
    return Reply(
        title=std.title,
        summary=std.summary,
        sections=(Section(heading="Used for", text=std.used_for),),
        fields=(
            Field(name="Maintained by", value=std.maintainer),
            *([Field(name="Roles that use it", value=", ".join(r.title for r in roles))] if roles else []),
        ),
        links=(Link(label="Official source", url=std.url),),
        follow_ups=(
            *(follow(k, e) for k, e in related[:3]),
            *(follow("role", r) for r in roles[:4]),
            FollowUp(label="A tip on this", command=f"/tip {std.id}"),
        ),
        ref=Ref(kind="standard", id=std.id),
    )


def trend_card(ctx: Context, trend: Any) -> Reply:
    fields = []
    if trend.roles:
        fields.append(Field(name="Roles it touches", value=titles(ctx, "role", trend.roles)))
    if trend.skills:
        fields.append(Field(name="Skills to learn", value=titles(ctx, "skill", trend.skills)))
    return Reply(
        title=trend.title,
        summary=trend.summary,
        sections=(Section(heading="What it changes", text=bullets(trend.impact)),),
        fields=tuple(fields),
        follow_ups=(
            *(follow("role", ctx.kb.get("role", r)) for r in trend.roles[:4]),
            FollowUp(label="A tip on this", command=f"/tip {trend.id}"),
            FollowUp(label="All trends", command="/trends"),
        ),
        ref=Ref(kind="trend", id=trend.id),
    )


def topic_card(ctx: Context, topic: Any) -> Reply:
    return Reply(
        title=topic.title,
        summary=topic.summary,
        follow_ups=(FollowUp(label="A tip on this", command=f"/tip {topic.id}"),),
    )


def reason_card(ctx: Context, reason: Any) -> Reply:
    return Reply(
        title=reason.title,
        summary=reason.summary,
        follow_ups=(
            FollowUp(label="All the reasons", command="/why"),
            FollowUp(label="Roles", command="/role"),
        ),
    )


def _tip_card(ctx: Context, tip: Any) -> Reply:
    return tip_card(ctx.kb, tip)


CARDS: dict[Kind, Callable[[Context, Any], Reply]] = {
    "role": role_card,
    "software": software_card,
    "skill": skill_card,
    "compliance": compliance_card,
    "standard": standard_card,
    "trend": trend_card,
    "topic": topic_card,
    "why": reason_card,
    "tip": _tip_card,
}
