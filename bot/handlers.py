"""The career commands: each declared once, each returning a neutral :class:`Reply`."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from bot import messages
from bot.commands import Context, Option, Registry, coerce, parse_options
from bot.kb import Lookup, Match
from bot.loader import suggest
from bot.reply import MAX_SECTIONS, Field, FollowUp, Link, Ref, Reply, Section
from bot.safety import one_line
from bot.schema import REF_KINDS, Kind

REGISTRY = Registry()
command = REGISTRY.command

#: Which command shows an entry of each kind.
COMMAND_FOR: dict[Kind, str] = {
    "role": "role",
    "software": "software",
    "skill": "skills",
    "compliance": "compliance",
    "standard": "standard",
    "trend": "trends",
    "topic": "tip",
    "why": "why",
    "tip": "tip",
}
KIND_LABEL: dict[Kind, str] = {
    "role": "role",
    "software": "software",
    "skill": "skill",
    "compliance": "regulation",
    "standard": "standard",
    "trend": "trend",
    "topic": "topic",
    "why": "reason",
    "tip": "tip",
}
COMPLIANCE_FIRST: tuple[Kind, ...] = ("compliance", "standard")
STANDARD_FIRST: tuple[Kind, ...] = ("standard", "compliance")
CONFIDENT = ("id", "alias", "fuzzy")
LIST_MAX = 40
TIP_TAG_KINDS: tuple[Kind, ...] = ("role", "skill", "compliance", "standard", "trend", "software", "topic")


# ---------------------------------------------------------------------------- helpers


def bullets(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def numbered(items: list[str]) -> str:
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))


def follow(kind: Kind, entry: Any, label: str | None = None) -> FollowUp:
    cmd = COMMAND_FOR[kind]
    arg = "" if kind == "why" else f" {entry.id}"
    return FollowUp(label=label or str(getattr(entry, "title", entry.id)), command=f"/{cmd}{arg}")


def ref(kind: Kind, entry: Any) -> Ref | None:
    return Ref(kind=kind, id=entry.id) if kind in REF_KINDS else None  # type: ignore[arg-type]


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


def tip_card(ctx: Context, tip: Any, about: str | None = None) -> Reply:
    tags = [(k, e) for t in tip.tags for k in TIP_TAG_KINDS if (e := ctx.kb.get(k, t)) is not None]
    more = f"/tip {about}" if about else "/tip"
    return Reply(
        title="Tip" if not about else f"Tip: {ctx.kb.title(_tag_kind(ctx, about), about)}",
        summary=tip.text,
        fields=(Field(name="Tagged", value=", ".join(e.title for _, e in tags)),) if tags else (),
        follow_ups=(
            FollowUp(label="Another tip", command=more),
            *(follow(k, e) for k, e in tags[:4] if k != "topic"),
        ),
        ref=Ref(kind="tip", id=tip.id),
    )


def _tag_kind(ctx: Context, tag: str) -> Kind:
    return next((k for k in TIP_TAG_KINDS if ctx.kb.get(k, tag) is not None), "topic")


CARDS = {
    "role": role_card,
    "software": software_card,
    "skill": skill_card,
    "compliance": compliance_card,
    "standard": standard_card,
    "trend": trend_card,
    "topic": topic_card,
    "why": reason_card,
    "tip": tip_card,
}


# ---------------------------------------------------------------------------- commands


@command(
    "career",
    "What careerbot can do; /career NAME explains one command",
    Option(name="command", description="A command to explain, e.g. role (or a full command to run)"),
    examples=("/career", "/career role", "/career role ehr"),
)
async def career(ctx: Context, command: str | None = None) -> Reply:
    if not command:
        cmds = list(ctx.registry)
        return Reply(
            title="careerbot: find and grow a career in healthcare software",
            summary=(
                "Ask about roles, the software they build, the skills and regulations that matter, "
                "and get a daily tip. Ask in plain words too: *what does a telemedicine developer do?*"
            ),
            sections=(Section(heading="Commands", text=bullets([f"`{c.usage}`: {c.description}" for c in cmds])),),
            follow_ups=(
                FollowUp(label="Roles", command="/role"),
                FollowUp(label="Skills", command="/skills"),
                FollowUp(label="Why healthcare?", command="/why"),
                FollowUp(label="A tip", command="/tip"),
            ),
        )
    name, _, rest = command.strip().lstrip("/").partition(" ")
    target = ctx.registry.get(name)
    if target is None:
        hint = suggest(name, ctx.registry.names())
        raise_hint = f" Did you mean `/{hint}`?" if hint else ""
        return Reply(
            title=messages.UNKNOWN_COMMAND_TITLE.format(name=one_line(name, 40)),
            summary=messages.UNKNOWN_COMMAND + raise_hint,
            follow_ups=(FollowUp(label="All commands", command="/career"),),
            tone="notice",
        )
    if rest.strip():
        return await target.handler(ctx, **coerce(target, parse_options(target, rest)))
    options = [f"`{o.name}`{'' if o.required else ' (optional)'}: {o.description}" for o in target.options] or ["none"]
    return Reply(
        title=f"/{target.name}",
        summary=target.description,
        sections=(
            Section(heading="Usage", text=f"`{target.usage}`"),
            Section(heading="Options", text=bullets(options)),
            *(
                [Section(heading="Examples", text=bullets([f"`{e}`" for e in target.examples]))]
                if target.examples
                else []
            ),
        ),
        follow_ups=tuple(FollowUp(label=e, command=e) for e in target.examples[:5]),
    )


@command(
    "role",
    "What a healthcare software role does day to day; no query lists all roles",
    Option(name="query", description="A role, e.g. ehr, imaging, telemedicine", entity="role"),
    examples=("/role", "/role ehr", "/role medical imaging"),
    pure=True,
)
async def role(ctx: Context, query: str | None = None) -> Reply:
    title, summary = "Healthcare software roles", "Pick a role to see the work, the skills and how to get there."
    return await entity_command(ctx, "role", query, lambda: listing(ctx, "role", title, summary))


@command(
    "skills",
    "The skills healthcare software needs, or those of one role",
    Option(name="role", description="A role (or a skill) to focus on, e.g. imaging", entity="role"),
    examples=("/skills", "/skills ehr", "/skills interoperability"),
    pure=True,
)
async def skills(ctx: Context, role: str | None = None) -> Reply:
    if not role:
        groups = (
            ("general", "Every developer"),
            ("healthcare", "Healthcare-specific"),
            ("technical", "Technical"),
        )
        sections = []
        for category, heading in groups:
            items = [s for s in ctx.kb.all("skill") if s.category == category]
            if items:
                sections.append(Section(heading=heading, text=entry_lines("skill", items)))
        return Reply(
            title="Skills for healthcare software",
            summary="The general craft, what healthcare adds on top, and the technical skills roles ask for.",
            sections=tuple(sections),
            follow_ups=tuple(
                itertools.islice((follow("skill", s) for s in ctx.kb.all("skill") if s.category == "healthcare"), 10)
            ),
        )
    as_role = ctx.kb.lookup("role", role)
    as_skill = ctx.kb.lookup("skill", role)
    # A confident match (id, alias, typo) of either kind beats a full-text guess of either.
    for found in sorted((as_role, as_skill), key=lambda f: f.how not in CONFIDENT):
        if found.best is not None:
            if found.best.kind == "role":
                return with_alternatives(_skills_for_role(ctx, found.best.entry), found)
            return with_alternatives(skill_card(ctx, found.best.entry), found)
    return not_found(ctx, "role", role)


def _skills_for_role(ctx: Context, role: Any) -> Reply:
    lines = []
    for skill_id in role.skills:
        skill = ctx.kb.entries["skill"][skill_id]
        lines.append(f"**{skill.title}**: {skill.summary}")
    return Reply(
        title=f"Skills for: {role.title}",
        summary=f"What to build up to work as {role.title.lower()}.",
        sections=(Section(heading="Skills", text=bullets(lines)),),
        follow_ups=(
            FollowUp(label="Learning path", command=f"/path {role.id}"),
            FollowUp(label="About the role", command=f"/role {role.id}"),
            *(follow("skill", ctx.kb.get("skill", s)) for s in role.skills[:6]),
        ),
        ref=Ref(kind="role", id=role.id),
    )


@command(
    "software",
    "The software healthcare runs on (EHR, PACS, ...); no query lists it all",
    Option(name="query", description="A kind of software, e.g. ehr, pacs, telehealth", entity="software"),
    examples=("/software", "/software pacs"),
    pure=True,
)
async def software(ctx: Context, query: str | None = None) -> Reply:
    return await entity_command(
        ctx,
        "software",
        query,
        lambda: listing(
            ctx, "software", "Software in healthcare", "The systems healthcare developers build and connect."
        ),
    )


@command(
    "compliance",
    "Regulations healthcare software must meet (HIPAA, GDPR, ...); no query lists them",
    Option(name="query", description="A regulation, e.g. hipaa, gdpr, iec-62304", entity="compliance"),
    examples=("/compliance", "/compliance hipaa", "/compliance gdpr"),
    pure=True,
)
async def compliance(ctx: Context, query: str | None = None) -> Reply:
    title, summary = "Regulations for healthcare software", "What the law and regulators ask of the code."
    return await entity_command(ctx, "compliance", query, lambda: listing(ctx, "compliance", title, summary))


@command(
    "standard",
    "Interoperability and coding standards (FHIR, DICOM, ...); no query lists them",
    Option(name="query", description="A standard, e.g. fhir, hl7v2, dicom, loinc", entity="standard"),
    examples=("/standard", "/standard fhir", "/standard dicom"),
    pure=True,
)
async def standard(ctx: Context, query: str | None = None) -> Reply:
    return await entity_command(
        ctx,
        "standard",
        query,
        lambda: listing(ctx, "standard", "Healthcare data standards", "How health systems exchange and code data."),
    )


@command(
    "trends",
    "Where healthcare software is heading (AI, IoT, ...); no query lists the trends",
    Option(name="query", description="A trend, e.g. ai-ml, iot, vr-ar", entity="trend"),
    examples=("/trends", "/trends ai"),
    pure=True,
)
async def trends(ctx: Context, query: str | None = None) -> Reply:
    return await entity_command(
        ctx,
        "trend",
        query,
        lambda: listing(ctx, "trend", "Trends in healthcare software", "What is changing, and which roles it touches."),
    )


@command("why", "Why choose healthcare software over general tech", examples=("/why",), pure=True)
async def why(ctx: Context) -> Reply:
    reasons = ctx.kb.all("why")
    return Reply(
        title="Why healthcare rather than general tech?",
        summary="Reasons developers give for building software for patients and clinicians.",
        sections=tuple(Section(heading=r.title, text=r.summary) for r in reasons[:MAX_SECTIONS]),
        follow_ups=(
            FollowUp(label="Explore roles", command="/role"),
            FollowUp(label="A tip", command="/tip"),
        ),
    )


@command(
    "tip",
    "A practical career tip, optionally about a role, skill or topic",
    Option(
        name="topic",
        description="A role, skill, regulation, standard or topic, e.g. fhir",
        entity=TIP_TAG_KINDS,
    ),
    examples=("/tip", "/tip fhir", "/tip interviews"),
)
async def tip(ctx: Context, topic: str | None = None) -> Reply:
    tips = ctx.kb.all("tip")
    if not topic:
        return tip_card(ctx, ctx.rng.choice(tips))
    exact = ctx.kb.get("tip", topic.strip())
    if exact is not None:  # a tip by id: how "Share" reposts the very tip that was shown
        return tip_card(ctx, exact)
    found = ctx.kb.resolve_any(topic, TIP_TAG_KINDS)
    if found.best is not None:
        tag = found.best.entry.id
        tagged = ctx.kb.tips_tagged(tag)
        if tagged:
            return tip_card(ctx, ctx.rng.choice(tagged), about=tag)
    reply = tip_card(ctx, ctx.rng.choice(tips))
    return Reply(
        title=reply.title,
        summary=reply.summary,
        fields=reply.fields,
        follow_ups=reply.follow_ups,
        footer=f"No tips about “{one_line(topic, 60)}” yet, so here is another good one.",
        ref=reply.ref,
        tone="notice",
    )


@command(
    "path",
    "A step-by-step learning path into a role, with starter projects",
    Option(
        name="role",
        description="The role to aim for, e.g. ehr, imaging, device",
        required=True,
        entity="role",
    ),
    examples=("/path ehr", "/path medical devices"),
    pure=True,
)
async def path(ctx: Context, role: str) -> Reply:
    found = ctx.kb.lookup("role", role)
    if found.best is None:
        return not_found(ctx, "role", role)
    entry = found.best.entry
    reply = Reply(
        title=f"Path to {entry.title}",
        summary=entry.summary,
        sections=(
            Section(heading="Learning path", text=numbered(entry.learning_path)),
            Section(heading="Starter projects", text=bullets(entry.projects)),
            Section(heading="Skills to build", text=bullets([ctx.kb.title("skill", s) for s in entry.skills])),
        ),
        follow_ups=(
            FollowUp(label="About the role", command=f"/role {entry.id}"),
            FollowUp(label="Skills in detail", command=f"/skills {entry.id}"),
            FollowUp(label="A tip for this role", command=f"/tip {entry.id}"),
        ),
        ref=Ref(kind="role", id=entry.id),
    )
    return with_alternatives(reply, found)


@command(
    "search",
    "Search everything careerbot knows",
    Option(name="text", description="Words to look for, e.g. radiology images", required=True),
    examples=("/search radiology", "/search patient privacy"),
    pure=True,
)
async def search(ctx: Context, text: str) -> Reply:
    shown = one_line(text, 80)
    found = ctx.kb.resolve_any(text)
    if found.best is None:
        return Reply(
            title=messages.NOTHING_FOUND_TITLE.format(query=shown), summary=messages.NOTHING_FOUND, tone="notice"
        )
    best = found.best
    matches = [best, *found.alternatives]
    if found.how in ("alias", "fuzzy"):  # an exact hit: fill the list with full-text neighbours
        matches += [m for m in ctx.kb.search(text, limit=8) if (m.kind, m.entry.id) != (best.kind, best.entry.id)]
    lines = [f"**{m.entry.title}** ({KIND_LABEL[m.kind]}, `{follow(m.kind, m.entry).command}`)" for m in matches[:8]]
    return Reply(
        title=f"Results for “{shown}”",
        summary=f"Best match: **{best.entry.title}**. {best.entry.summary}",
        sections=(Section(heading="Matches", text=bullets(lines)),),
        follow_ups=tuple(follow(m.kind, m.entry) for m in matches[:8]),
        ref=ref(best.kind, best.entry),
    )


async def question(ctx: Context, text: str) -> Reply:
    """Plain words (a mention or a DM): answer with the best match, offering the runners-up."""
    if not text.strip():
        return Reply(title=messages.EMPTY_QUESTION_TITLE, summary=messages.EMPTY_QUESTION, tone="notice")
    found = ctx.kb.resolve_any(text)
    if found.best is None:
        shown = one_line(text, 80)
        return Reply(
            title=messages.NOTHING_FOUND_TITLE.format(query=shown),
            summary=messages.NOTHING_FOUND,
            follow_ups=(FollowUp(label="What can you do?", command="/career"),),
            tone="notice",
        )
    return with_alternatives(card(ctx, found.best), found)


# /tips (daily tip subscriptions) lives in its own module; importing it declares it in REGISTRY.
import bot.tips_commands  # noqa: E402,F401
