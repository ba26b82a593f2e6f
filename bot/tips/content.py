"""What a daily tip post says: which tips a subscription rotates through, and the post itself."""

from __future__ import annotations

from dataclasses import replace

from bot.knowledge.kb import KnowledgeBase
from bot.knowledge.present import tag_kind, tip_card
from bot.reply import Reply
from bot.tips import messages as tip_messages


def topic_label(kb: KnowledgeBase, topic: str | None) -> str:
    return kb.title(tag_kind(kb, topic), topic) if topic else "any topic"


def matching_tips(kb: KnowledgeBase, topic: str | None) -> list[str]:
    """Ids of the tips a subscription rotates through (all, or those tagged ``topic``)."""
    return sorted(t.id for t in (kb.all("tip") if topic is None else kb.tips_tagged(topic)))


def tip_post(kb: KnowledgeBase, tip_id: str, topic: str | None) -> Reply:
    """The message a daily tip is: the tip card, titled and signed as a daily post."""
    card = tip_card(kb, kb.get("tip", tip_id), about=topic)
    title = tip_messages.POST_TITLE + (f": {topic_label(kb, topic)}" if topic else "")
    return replace(card, title=title, footer=tip_messages.POST_FOOTER)
