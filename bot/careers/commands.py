"""The career commands: each declared once, each returning a neutral :class:`Reply`."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from bot import messages
from bot.careers import understand
from bot.careers.cards import (
    CARDS,
    bullets,
    command_overview,
    entry_lines,
    listing,
    numbered,
    skill_card,
)
from bot.careers.understand import command_lookup
from bot.commands import Option, Registry, coerce, parse_options
from bot.context import Context
from bot.fuzzy import suggest
from bot.knowledge.present import KIND_LABEL, TIP_TAG_KINDS, follow, ref, tip_card
from bot.knowledge.schema import Kind
from bot.reply import MAX_SECTIONS, FollowUp, Ref, Reply, Section
from bot.safety import one_line

COMMANDS = Registry()
command = COMMANDS.command


# ---------------------------------------------------------------------------- commands


async def entity_command(ctx: Context, kind: Kind, query: str | None, empty: Callable[[], Reply]) -> Reply:
    """``/role``, ``/standard``...: the list without a query, else the entry it names (see
    :func:`bot.careers.understand.command_lookup` for what happens when it names none)."""
    if not query:
        return empty()
    return command_lookup(ctx, (kind,), query, lambda k, entry: CARDS[k](ctx, entry))


@command(
    "career",
    "What careerbot can do; /career NAME explains one command",
    Option(name="command", description="A command to explain, e.g. role (or a full command to run)"),
    examples=("/career", "/career role", "/career role ehr"),
)
async def career(ctx: Context, command: str | None = None) -> Reply:
    if not command:
        return Reply(
            title="careerbot: find and grow a career in healthcare software",
            summary=(
                "Ask about roles, the software they build, the skills and regulations that matter, "
                "and get a daily tip. Ask in plain words too: *what does a telemedicine developer do?*"
            ),
            sections=(command_overview(ctx),),
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
    # A confident match (id, alias, typo) of either kind beats a full-text guess of either.
    return command_lookup(
        ctx,
        ("role", "skill"),
        role,
        lambda kind, entry: _skills_for_role(ctx, entry) if kind == "role" else skill_card(ctx, entry),
    )


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
        return tip_card(ctx.kb, ctx.rng.choice(tips))
    exact = ctx.kb.get("tip", topic.strip())
    if exact is not None:  # a tip by id: how "Share" reposts the very tip that was shown
        return tip_card(ctx.kb, exact)
    found = ctx.kb.resolve_any(topic, TIP_TAG_KINDS)
    if found.best is not None:
        tag = found.best.entry.id
        tagged = ctx.kb.tips_tagged(tag)
        if tagged:
            return tip_card(ctx.kb, ctx.rng.choice(tagged), about=tag)
    reply = tip_card(ctx.kb, ctx.rng.choice(tips))
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
    return command_lookup(ctx, ("role",), role, lambda kind, entry: _path(ctx, entry))


def _path(ctx: Context, entry: Any) -> Reply:
    return Reply(
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


@command(
    "faq",
    "Answers to what people ask about careers in healthcare software; no question lists them",
    Option(name="question", description="A question or its id, e.g. do I need a clinical background"),
    examples=("/faq", "/faq is there a hipaa certification", "/faq salary"),
    pure=True,
)
async def faq(ctx: Context, question: str | None = None) -> Reply:
    if not question or not question.strip():
        return understand.faq_listing(
            ctx, "Questions people ask", "Short answers, with the official source where a fact needs one."
        )
    return understand.faq_lookup(ctx, question)


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
    """Plain words (a mention or a DM): small talk, a comparison, a FAQ, a named entry, or an honest
    "I only cover careers in healthcare software" (:mod:`bot.careers.understand`)."""
    if not text.strip():
        return Reply(title=messages.EMPTY_QUESTION_TITLE, summary=messages.EMPTY_QUESTION, tone="notice")
    return understand.answer(ctx, text)
