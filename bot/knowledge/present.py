"""How an entry of the knowledge is named and linked in a reply, the same in every feature: which
command shows each kind, what a kind is called, which kinds a tip's tags name, a follow-up button to
an entry, and the card of one tip (the /tip answer and the daily post share it)."""

from __future__ import annotations

from typing import Any

from bot.knowledge.kb import KnowledgeBase
from bot.knowledge.schema import REF_KINDS, Kind
from bot.reply import Field, FollowUp, Ref, Reply

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
    "faq": "faq",
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
    "faq": "question",
}
TIP_TAG_KINDS: tuple[Kind, ...] = ("role", "skill", "compliance", "standard", "trend", "software", "topic")


def follow(kind: Kind, entry: Any, label: str | None = None) -> FollowUp:
    cmd = COMMAND_FOR[kind]
    arg = "" if kind == "why" else f" {entry.id}"
    name = getattr(entry, "title", None) or getattr(entry, "question", None) or entry.id
    return FollowUp(label=label or str(name), command=f"/{cmd}{arg}")


def ref(kind: Kind, entry: Any) -> Ref | None:
    return Ref(kind=kind, id=entry.id) if kind in REF_KINDS else None  # type: ignore[arg-type]


def tip_card(kb: KnowledgeBase, tip: Any, about: str | None = None) -> Reply:
    tags = [(k, e) for t in tip.tags for k in TIP_TAG_KINDS if (e := kb.get(k, t)) is not None]
    more = f"/tip {about}" if about else "/tip"
    return Reply(
        title="Tip" if not about else f"Tip: {kb.title(tag_kind(kb, about), about)}",
        summary=tip.text,
        fields=(Field(name="Tagged", value=", ".join(e.title for _, e in tags)),) if tags else (),
        follow_ups=(
            FollowUp(label="Another tip", command=more),
            *(follow(k, e) for k, e in tags[:4] if k != "topic"),
        ),
        ref=Ref(kind="tip", id=tip.id),
    )


def tag_kind(kb: KnowledgeBase, tag: str) -> Kind:
    """The kind of entry a tip tag names (roles first; ``topic`` when it names nothing else)."""
    return next((k for k in TIP_TAG_KINDS if kb.get(k, tag) is not None), "topic")
