"""Neutral replies as Slack Block Kit messages that Slack never rejects.

:func:`render` turns a :class:`~bot.reply.Reply` into one or more :class:`Message` pages. Every page
stays inside Slack's limits (:func:`problems` checks the ones ``slack_sdk`` does not); a reply too long
for one message is split into pages, each but the last ending with a visible "More" button that shows
the next page (the button carries the command and the page number, so no server state is needed).
All literal text is escaped for mrkdwn, so no ``<!channel>`` or ``<@U123>`` token can survive.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from adapters import buttons
from bot.markup import Style, strip
from bot.reply import Reply
from bot.safety import ELLIPSIS, inert

# Slack's limits (https://docs.slack.dev/reference/block-kit/blocks) and our margin under them.
MAX_BLOCKS = 50
SECTION_TEXT_MAX = 3000
HEADER_MAX = 150
FIELDS_MAX = 10
FIELD_MAX = 2000
CONTEXT_MAX = 10
ACTIONS_MAX = 25
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
PLACEHOLDER_MAX = 150
ID_MAX = 255
#: Slack answers ``msg_blocks_too_long`` near 13,000 characters of block text; stay well under it.
TEXT_BUDGET = 11_000
#: The top-level ``text``: what notifications and screen-reader summaries show.
FALLBACK_MAX = 1000

RUN_ID = "cb_run"
SHARE_ID = "cb_share"
MORE_ID = "cb_more"
PICK_ID = "cb_pick"

Block = dict[str, Any]


def escape(text: str) -> str:
    """Slack's three mrkdwn escapes; nothing else is decoded by Slack, so nothing else is touched."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_SAFE_URL = re.compile(r"https?://[^\s<>|]+")


def link(label: str, url: str) -> str:
    """``<url|label>`` for a plain http(s) URL; anything else is shown as escaped text."""
    if not _SAFE_URL.fullmatch(url):
        return f"{label} ({escape(url)})"
    return f"<{escape(url)}|{label or escape(url)}>"


MRKDWN = Style(
    escape=escape,
    bold=lambda s: f"*{s}*",
    italic=lambda s: f"_{s}_",
    code=lambda s: f"`{escape(s)}`",
    link=link,
    bullet="• ",
)


@functools.lru_cache(maxsize=8192)
def mrkdwn(text: str) -> str:
    """The core's markdown as Slack mrkdwn. Reply text is already inert; escaping ``<`` here is what
    makes a mention token impossible in any case. Cached: knowledge text repeats across requests."""
    return MRKDWN.convert(text)


@functools.lru_cache(maxsize=4096)
def _one_line_plain(text: str) -> str:
    return " ".join(strip(text).split())


def plain(text: str, limit: int) -> str:
    """A ``plain_text`` string: one line, inert, at most ``limit`` characters, never empty."""
    text = inert(" ".join(text.split()), limit)
    return text or "…"


# ---------------------------------------------------------------------------- cutting mrkdwn safely


def _safe_cut(text: str, limit: int) -> int:
    """An index <= ``limit`` to cut ``text`` at: a line break or space if one is near, and never
    inside an ``&amp;`` entity or a ``<url|label>`` link (a cut there would show broken markup)."""
    cut = text.rfind("\n", 0, limit + 1)
    if cut < limit // 2:
        cut = text.rfind(" ", 0, limit + 1)
    if cut < limit // 2:
        cut = limit
    amp = text.rfind("&", max(0, cut - 5), cut)
    if amp > 0 and ";" not in text[amp:cut]:
        cut = amp
    lt = text.rfind("<", 0, cut)
    if lt > 0 and ">" not in text[lt:cut]:
        cut = lt
    return cut if cut > 0 else limit


def split_text(text: str, limit: int) -> list[str]:
    """Cut mrkdwn into non-blank pieces of at most ``limit`` characters."""
    pieces = []
    while len(text) > limit:
        cut = _safe_cut(text, limit)
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    pieces.append(text)
    return [p for p in pieces if p.strip()]


def clip_text(text: str, limit: int) -> str:
    """mrkdwn cut to ``limit`` characters with an ellipsis, never mid-entity or mid-link."""
    if len(text) <= limit:
        return text
    return text[: _safe_cut(text, limit - 1)].rstrip() + ELLIPSIS


# ---------------------------------------------------------------------------- block builders


def _text(kind: str, text: str) -> dict[str, str]:
    return {"type": kind, "text": text}


def section(text: str) -> Block:
    return {"type": "section", "text": _text("mrkdwn", text)}


def header(text: str) -> Block:
    return {"type": "header", "text": _text("plain_text", plain(text, HEADER_MAX))}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [_text("mrkdwn", t) for t in texts[:CONTEXT_MAX]]}


def button(label: str, action_id: str, value: str, *, primary: bool = False) -> Block:
    out: Block = {
        "type": "button",
        "text": _text("plain_text", plain(label, BUTTON_TEXT_MAX)),
        "action_id": action_id[:ID_MAX],
        "value": inert(value, BUTTON_VALUE_MAX),  # never shown, but a value is echoed back: keep it inert too
    }
    if primary:
        out["style"] = "primary"
    return out


@dataclass(frozen=True, kw_only=True, slots=True)
class Picker:
    """An ``external_select`` whose options Slack loads from us as the user types (``block_suggestion``)."""

    command: str
    option: str
    placeholder: str

    @property
    def action_id(self) -> str:
        return f"{PICK_ID}:{self.command}:{self.option}"[:ID_MAX]

    def element(self) -> Block:
        return {
            "type": "external_select",
            "action_id": self.action_id,
            "placeholder": _text("plain_text", plain(self.placeholder, PLACEHOLDER_MAX)),
            "min_query_length": 0,
        }


def parse_pick(action_id: str) -> tuple[str, str] | None:
    """``(command, option)`` from a picker's action id, else None."""
    parts = action_id.split(":")
    if len(parts) != 3 or parts[0] != PICK_ID or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


_MORE = re.compile(rf"{MORE_ID}_([1-9][0-9]{{0,3}})")


def parse_more(action_id: str) -> int | None:
    """The page a "More" button asks for (ASCII digits, at most 9999), else None."""
    found = _MORE.fullmatch(action_id)
    return int(found.group(1)) if found else None


# ---------------------------------------------------------------------------- rendering


@dataclass(frozen=True, slots=True)
class Message:
    """One Slack message: top-level ``text`` (always set) and its blocks."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def payload(self, **extra: Any) -> dict[str, Any]:
        return {"text": self.text, **({"blocks": self.blocks} if self.blocks else {}), **extra}


def fallback_text(reply: Reply) -> str:
    """The top-level text: title and summary as mrkdwn without markup, for notifications."""
    title = " ".join(inert(reply.title, HEADER_MAX).split())
    summary = _one_line_plain(reply.summary)
    text = f"{title}: {summary}" if title and summary else title or summary or "careerbot"
    return clip_text(escape(text), FALLBACK_MAX)


def body_blocks(reply: Reply) -> Iterator[tuple[Block, int]]:
    """The reply's content as blocks, each within Slack's per-block limits, with its text size."""
    for piece in split_text(mrkdwn(reply.summary), SECTION_TEXT_MAX):
        yield section(piece), len(piece)
    for sec in reply.sections:
        heading = f"*{escape(' '.join(sec.heading.split()))}*" if sec.heading.strip() else ""
        text = "\n".join(t for t in (heading, mrkdwn(sec.text)) if t)
        for piece in split_text(text, SECTION_TEXT_MAX):
            yield section(piece), len(piece)
    inline: list[str] = []
    for f in reply.fields:
        name = escape(" ".join(f.name.split()))
        text = clip_text(f"*{name}*\n{mrkdwn(f.value)}" if name else mrkdwn(f.value), FIELD_MAX)
        if not text.strip():
            continue
        full = len(inline) == FIELDS_MAX or sum(map(len, inline)) + len(text) > SECTION_TEXT_MAX
        if inline and (full or not f.inline):
            yield _fields(inline)
            inline = []
        if f.inline:
            inline.append(text)
        else:
            yield from ((section(p), len(p)) for p in split_text(text, SECTION_TEXT_MAX))
    if inline:
        yield _fields(inline)
    lines = [MRKDWN.bullet + link(escape(" ".join(k.label.split())), k.url) for k in reply.links]
    for piece in split_text("\n".join(lines), SECTION_TEXT_MAX):
        yield section(piece), len(piece)


def _fields(texts: list[str]) -> tuple[Block, int]:
    return {"type": "section", "fields": [_text("mrkdwn", t) for t in texts]}, sum(map(len, texts))


def block_text(block: Block) -> int:
    """Characters of text in a block (what Slack's message size limit counts)."""
    total = 0
    for value in _walk_text(block):
        total += len(value)
    return total


def _walk_text(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("text"), str):
            yield node["text"]
        for key, value in node.items():
            if key != "text" or not isinstance(value, str):
                yield from _walk_text(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_text(item)


def render(
    reply: Reply,
    *,
    share: str | None = None,
    picker: Picker | None = None,
    more: str | None = None,
) -> list[Message]:
    """Render ``reply`` as one page, or several when it is too long for one Slack message.

    ``share``: the command a "Share in channel" button reposts publicly (None: no button, e.g. when
    already public). ``picker``: an option picker to offer. ``more``: the command that reproduces
    this reply, carried by "More" buttons (default: ``share``; without either, the reply is cut
    to one page and says so).
    """
    more = more or share
    title = reply.title if reply.title.strip() else "careerbot"
    text = fallback_text(reply)
    footer = clip_text(mrkdwn(reply.footer), FIELD_MAX) if reply.footer.strip() else ""
    elements = [
        button(f.label or f.command, f"{RUN_ID}_{i}", buttons.encode("run", f.command))
        for i, f in enumerate(reply.follow_ups)
        if f.command.startswith("/")
    ]
    if picker is not None:
        elements.append(picker.element())
    if share is not None:
        elements.append(button("Share in channel", SHARE_ID, buttons.encode("share", share), primary=True))
    elements = elements[: ACTIONS_MAX - 1]  # room for "More"

    # Pack the body into pages under the block and text budgets left after header and trailer.
    reserved_blocks = 3  # header, context, actions
    labels = sum(len(e["text" if e["type"] == "button" else "placeholder"]["text"]) for e in elements)
    reserved_text = HEADER_MAX + len(footer) + 80 + labels + BUTTON_TEXT_MAX
    budget = TEXT_BUDGET - reserved_text
    pages: list[list[Block]] = [[]]
    used = 0
    for block, size in body_blocks(reply):
        if pages[-1] and (used + size > budget or len(pages[-1]) >= MAX_BLOCKS - reserved_blocks):
            pages.append([])
            used = 0
        pages[-1].append(block)
        used += size
    if more is None and len(pages) > 1:
        pages = [pages[0]]
        footer = "\n".join(t for t in (footer, "_(cut: the full answer is too long for Slack)_") if t)

    out = []
    for number, body in enumerate(pages, 1):
        count = len(pages)
        blocks = [header(title if count == 1 else f"{plain(title, HEADER_MAX - 12)} ({number}/{count})")]
        blocks += body
        notes = [footer] if footer else []
        if count > 1:
            notes.append(f"Part {number} of {count}" + (": press *More* for the rest" if number < count else ""))
        if notes:
            blocks.append(context(*notes))
        page_elements = list(elements)
        if number < count and more is not None:
            page_elements.append(
                button(f"More ({number + 1}/{count})", f"{MORE_ID}_{number + 1}", buttons.encode("run", more))
            )
        if page_elements:
            blocks.append({"type": "actions", "elements": page_elements})
        out.append(Message(text=text if count == 1 else f"{text} ({number}/{count})", blocks=blocks))
    return out


# ---------------------------------------------------------------------------- checks slack_sdk lacks

_MENTION = re.compile(r"<[!@#]|@(everyone|here|channel)\b", re.IGNORECASE)


def problems(message: Message) -> list[str]:
    """Limits Slack enforces that ``slack_sdk`` does not check, plus our no-mention rule."""
    out = []
    blocks = message.blocks
    if not message.text.strip():
        out.append("top-level text is empty")
    if len(blocks) > MAX_BLOCKS:
        out.append(f"{len(blocks)} blocks > {MAX_BLOCKS}")
    total = sum(block_text(b) for b in blocks)
    if total > TEXT_BUDGET:
        out.append(f"{total} characters of block text > {TEXT_BUDGET}")
    for i, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "header" and block["text"].get("type") != "plain_text":
            out.append(f"block {i}: header text must be plain_text")
        if kind == "section":
            fields = block.get("fields", [])
            if "text" not in block and not fields:
                out.append(f"block {i}: section without text or fields")
            if len(fields) > FIELDS_MAX:
                out.append(f"block {i}: {len(fields)} fields > {FIELDS_MAX}")
            out += [f"block {i}: field over {FIELD_MAX}" for f in fields if len(f["text"]) > FIELD_MAX]
        if kind == "context" and len(block["elements"]) > CONTEXT_MAX:
            out.append(f"block {i}: {len(block['elements'])} context elements > {CONTEXT_MAX}")
        if kind == "actions":
            ids = [e.get("action_id", "") for e in block["elements"]]
            if len(set(ids)) != len(ids):
                out.append(f"block {i}: repeated action_id")
    for value in _walk_text(blocks):
        if not value.strip():
            out.append("an empty text object")
    for value in [message.text, *_walk_text(blocks)]:
        if _MENTION.search(value):
            out.append(f"a mention token survived: {value[:80]!r}")
    return out
