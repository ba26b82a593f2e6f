"""The careers wing's replies: a card for each kind of entry, lists, helpful misses, and the
runners-up of a close call."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from bot import messages
from bot.context import Context
from bot.knowledge.kb import KnowledgeBase, Lookup
from bot.knowledge.loader import normalize
from bot.knowledge.present import COMMAND_FOR, KIND_LABEL, follow
from bot.knowledge.schema import Kind
from bot.reply import CAPS, Field, FollowUp, Link, Ref, Reply, Section
from bot.safety import inert, one_line

LIST_MAX = 40
TOPIC_TIPS = 5
TOPIC_FAQS = 5
TOPIC_PROJECTS = 5
COMPARING_WORDS = ("difference", "differences", "vs", "versus", "compare", "compared", "better")
"""Words of a FAQ question that compares (preferred as a comparison's "in short")."""
COMPARING_FAQS_MAX = 50
PROJECT_TOPICS = frozenset({"portfolio", "open-source", "first-job", "career-change", "public-data", "learning"})
"""Topics where a role's starter projects (from ``/path``) are the next step."""
COMPLIANCE_FIRST: tuple[Kind, ...] = ("compliance", "standard")
STANDARD_FIRST: tuple[Kind, ...] = ("standard", "compliance")

# ---------------------------------------------------------------------------- helpers


def bullets(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def numbered(items: list[str]) -> str:
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))


def titles(ctx: Context, kind: Kind, ids: list[str]) -> str:
    return ", ".join(ctx.kb.title(kind, i) for i in ids)


def short_title(title: str) -> str:
    """A title without a closing parenthesis: "HL7 FHIR (Fast Healthcare ...)" is "HL7 FHIR"; one in
    the middle stays ("Electronic Health Record (EHR) Developer")."""
    if not title.endswith(")") or " (" not in title:
        return title
    head = title.rsplit(" (", 1)[0].strip()
    return head if len(head) >= 2 else title


def command_overview(ctx: Context) -> Section:
    """Every declared command with its usage, from the command table (never written by hand)."""
    return Section(heading="Commands", text=bullets([f"`{c.usage}`: {c.description}" for c in ctx.registry]))


def with_alternatives(reply: Reply, found: Lookup) -> Reply:
    """Offer the runners-up of a close call (or of a full-text guess) before the other follow-ups."""
    if found.best is None or not (found.close_call or found.how == "text") or not found.alternatives:
        return reply
    alts = [follow(m.kind, m.entry) for m in found.alternatives[:3]]
    names = ", ".join(f.label for f in alts)
    extra = tuple(f for f in reply.follow_ups if f.command not in {a.command for a in alts})
    footer = messages.CLOSE_CALL_FOOTER.format(others=names)
    return replace(reply, follow_ups=(*alts, *extra), footer=footer)


def listed(lines: list[str], total: int, more: Callable[[int], str]) -> str:
    """Bullets of the first ``lines`` (at most :data:`LIST_MAX`) of ``total``, as many as a section's
    text holds once the reply makes it inert (:data:`bot.reply.CAPS`); when some are left out, a last
    line ``more(how many)`` says so, rather than the reply's cap cutting a line in the middle."""

    def size(line: str) -> int:  # inert works line by line: a bullet's size is its own, plus a newline
        return len(inert(f"- {line}", CAPS["text"] + 1)) + 1

    room = CAPS["text"] + 1  # the last line has no newline
    shown: list[str] = []
    for line in lines[:LIST_MAX]:
        rest, cost = total - len(shown) - 1, size(line)
        if cost + (size(more(rest)) if rest else 0) > room:
            break
        room -= cost
        shown.append(line)
    rest = total - len(shown)
    return bullets([*shown, *([more(rest)] if rest else [])])


def entry_lines(kind: Kind, entries: list[Any]) -> str:
    """Bullets naming each entry and its command; past :data:`LIST_MAX` (or what a section holds), a
    pointer to /search instead of lines no platform would show."""
    cmd = COMMAND_FOR[kind]
    lines = [f"**{e.title}** (`/{cmd} {e.id}`)" for e in entries[:LIST_MAX]]
    return listed(lines, len(entries), lambda n: f"…and {n} more: try `/search` with a word or two")


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


@dataclass(slots=True)
class _Links:
    """Who points at what, built once per knowledge base: roles by the entries they list, FAQs by
    their refs and tags (a card must not scan a tree of a hundred thousand entries)."""

    roles: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    faqs: dict[str, list[Any]] = field(default_factory=dict)


_LINKS: weakref.WeakKeyDictionary[KnowledgeBase, _Links] = weakref.WeakKeyDictionary()


def _links(kb: KnowledgeBase) -> _Links:
    links = _LINKS.get(kb)
    if links is None:
        links = _LINKS[kb] = _Links()
        for role in kb.all("role"):
            for attribute in ("skills", "software", "compliance", "standards"):
                for entry_id in getattr(role, attribute):
                    links.roles.setdefault((attribute, entry_id), []).append(role)
        for faq in kb.all("faq"):
            for key in dict.fromkeys([*faq.refs, *(f"tag:{t}" for t in faq.tags)]):
                links.faqs.setdefault(key, []).append(faq)
    return links


def _roles_using(ctx: Context, attribute: str, entry_id: str) -> list[Any]:
    return _links(ctx.kb).roles.get((attribute, entry_id), [])


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


def faqs_about(ctx: Context, kind: Kind, entry_id: str) -> list[Any]:
    """The FAQs tagged with an entry's id or referring to it (``KIND:ID``)."""
    links = _links(ctx.kb).faqs
    return list({id(f): f for f in [*links.get(f"{kind}:{entry_id}", []), *links.get(f"tag:{entry_id}", [])]}.values())


def topic_card(ctx: Context, topic: Any) -> Reply:
    """A topic with content: its most specific tips, the questions people ask about it, and, where
    they fit, starter projects from the roles' learning paths."""
    tagged = ctx.kb.tips_tagged(topic.id)
    tips = sorted(tagged, key=lambda t: (t.tags.index(topic.id), len(t.tags), len(t.text)))[:TOPIC_TIPS]
    sections = []
    if tips:
        sections.append(Section(heading="Tips", text=bullets([t.text for t in tips])))
    faqs = faqs_about(ctx, "topic", topic.id)[:TOPIC_FAQS]
    if faqs:
        sections.append(Section(heading="Questions people ask", text=bullets([f.question for f in faqs])))
    roles = [r for r in ctx.kb.all("role") if r.projects][:TOPIC_PROJECTS] if topic.id in PROJECT_TOPICS else []
    if roles:
        lines = [f"**{short_title(r.title)}**: {r.projects[0]} (`/path {r.id}`)" for r in roles]
        sections.append(Section(heading="Starter projects", text=bullets(lines)))
    return Reply(
        title=topic.title,
        summary=topic.summary,
        sections=tuple(sections),
        follow_ups=(
            FollowUp(label="A tip on this", command=f"/tip {topic.id}"),
            *(FollowUp(label=f"Path: {short_title(r.title)}", command=f"/path {r.id}") for r in roles[:3]),
        ),
    )


def faq_card(ctx: Context, faq: Any) -> Reply:
    """A frequently asked question: the answer, its source, and what it refers to as buttons."""
    targets = [(kind, entry_id) for kind, _, entry_id in (r.partition(":") for r in faq.refs)]
    entries = [(k, e) for k, i in targets if k in COMMAND_FOR and (e := ctx.kb.get(k, i)) is not None]
    related = [e.question for k, e in entries if k == "faq"]
    return Reply(
        title=faq.question,
        summary=faq.answer,
        sections=(Section(heading="Related questions", text=bullets(related)),) if related else (),
        links=(Link(label="Source", url=faq.source),) if faq.source else (),
        follow_ups=tuple(follow(k, e) for k, e in entries[:8]),
        ref=Ref(kind="faq", id=faq.id),
    )


def _who_uses(ctx: Context, kind: Kind, entry: Any) -> str:
    if kind == "software":
        return ", ".join(entry.used_by)
    if kind == "compliance":
        return str(entry.applies_to)
    if kind == "role":
        return "Builds " + titles(ctx, "software", entry.software[:4])
    attribute = {"standard": "standards", "skill": "skills"}.get(kind)
    if attribute:
        roles = _roles_using(ctx, attribute, entry.id)
        return ", ".join(short_title(r.title) for r in roles[:5]) or "Specialists"
    if kind == "trend" and entry.roles:
        return titles(ctx, "role", entry.roles[:5])
    return "Anyone in healthcare software"


def _when_to_learn(ctx: Context, kind: Kind, entry: Any) -> str:
    if kind == "role":
        return f"First step: {entry.learning_path[0]}"
    if kind == "skill":
        return str(entry.how_to_learn[0])
    if kind == "trend" and entry.skills:
        return "Learn " + titles(ctx, "skill", entry.skills[:4])
    attribute = {"standard": "standards", "compliance": "compliance", "software": "software"}.get(kind)
    roles = _roles_using(ctx, attribute, entry.id) if attribute else []
    if roles:
        paths = ", ".join(f"`/path {r.id}`" for r in roles[:3])
        return f"Before applying for one of the {len(roles)} roles that use it; it is on the way in {paths}"
    return "When your work touches it"


def _faq_comparing(ctx: Context, a: tuple[Kind, Any], b: tuple[Kind, Any]) -> Any | None:
    """The FAQ that refers to both entries and names both in its question, if there is one."""
    both = {f"{a[0]}:{a[1].id}", f"{b[0]}:{b[1].id}"}

    def names(entry: Any) -> set[str]:
        return {normalize(n) for n in (entry.id, short_title(entry.title), *entry.aliases)}

    found = []
    candidates = [f for f in _links(ctx.kb).faqs.get(f"{a[0]}:{a[1].id}", []) if both <= set(f.refs)]
    for faq in candidates[:COMPARING_FAQS_MAX]:
        question = f" {normalize(faq.question)} "
        if all(any(f" {n} " in question for n in names(e)) for _, e in (a, b)):
            compares = any(f" {w} " in question for w in COMPARING_WORDS)
            found.append((not compares, len(faq.refs), faq))
    return min(found, key=lambda f: (f[0], f[1]))[2] if found else None


def comparison_card(ctx: Context, a: tuple[Kind, str], b: tuple[Kind, str]) -> Reply:
    """Two entries side by side on what matters: what each is, who uses it, when to learn it."""
    (ka, ia), (kb_, ib) = a, b
    ea, eb = ctx.kb.entries[ka][ia], ctx.kb.entries[kb_][ib]
    na, nb = short_title(ea.title), short_title(eb.title)

    def pair(x: str, y: str) -> str:
        return bullets([f"**{na}**: {x}", f"**{nb}**: {y}"])

    related = [
        f"{short_title(x.title)} lists {short_title(y.title)} as related."
        for x, y in ((ea, eb), (eb, ea))
        if y.id in getattr(x, "related", ())
    ]
    kinds = f"a {KIND_LABEL[ka]} and a {KIND_LABEL[kb_]}" if ka != kb_ else f"two {KIND_LABEL[ka]}s"
    faq = _faq_comparing(ctx, (ka, ea), (kb_, eb))
    return Reply(
        title=f"{na} vs {nb}",
        summary=f"{na} and {nb} are {kinds}. " + (related[0] if related else "Here they are side by side."),
        sections=(
            Section(heading="What it is", text=pair(ea.summary, eb.summary)),
            Section(heading="Who uses it", text=pair(_who_uses(ctx, ka, ea), _who_uses(ctx, kb_, eb))),
            Section(heading="When to learn it", text=pair(_when_to_learn(ctx, ka, ea), _when_to_learn(ctx, kb_, eb))),
            *([Section(heading=faq.question, text=faq.answer)] if faq is not None else []),
        ),
        links=(Link(label="Source", url=faq.source),) if faq is not None and faq.source else (),
        follow_ups=(
            follow(ka, ea),
            follow(kb_, eb),
            *(
                FollowUp(label=f"A tip on {n}", command=f"/tip {e.id}")
                for k, e, n in ((ka, ea, na), (kb_, eb, nb))
                if k != "why"
            ),
        ),
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


CARDS: dict[Kind, Callable[[Context, Any], Reply]] = {
    "role": role_card,
    "software": software_card,
    "skill": skill_card,
    "compliance": compliance_card,
    "standard": standard_card,
    "trend": trend_card,
    "topic": topic_card,
    "why": reason_card,
}
