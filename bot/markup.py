"""The core's small markdown subset and its conversion to each platform's dialect.

Supported: ``**bold**``, ``*italic*`` or ``_italic_``, `` `code` ``, ``[label](https://url)``, and lines
starting with ``- `` or ``* `` as bullets. Anything else is plain text, which each :class:`Style`
escapes for its platform, so text from the knowledge or a user can never be read as markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

SpanKind = Literal["text", "bold", "italic", "code", "link"]

_INLINE = re.compile(
    r"\*\*(?P<bold>[^*\n]+?)\*\*"
    r"|(?<![\w*])\*(?P<italic>[^*\s\n](?:[^*\n]*?[^*\s\n])?)\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic2>[^_\s\n](?:[^_\n]*?[^_\s\n])?)_(?![\w_])"
    r"|`(?P<code>[^`\n]+)`"
    r"|\[(?P<label>[^\]\n]+)\]\((?P<url>https?://[^\s()<>]+)\)"
)
_BULLET = re.compile(r"^\s*[-*]\s+")


@dataclass(frozen=True, slots=True)
class Span:
    kind: SpanKind
    text: str
    url: str = ""


@dataclass(frozen=True, slots=True)
class Line:
    bullet: bool
    spans: tuple[Span, ...]


def parse_inline(text: str) -> tuple[Span, ...]:
    spans: list[Span] = []
    pos = 0
    for m in _INLINE.finditer(text):
        if m.start() > pos:
            spans.append(Span("text", text[pos : m.start()]))
        if m.group("bold") is not None:
            spans.append(Span("bold", m.group("bold")))
        elif m.group("italic") is not None:
            spans.append(Span("italic", m.group("italic")))
        elif m.group("italic2") is not None:
            spans.append(Span("italic", m.group("italic2")))
        elif m.group("code") is not None:
            spans.append(Span("code", m.group("code")))
        else:
            spans.append(Span("link", m.group("label"), m.group("url")))
        pos = m.end()
    if pos < len(text):
        spans.append(Span("text", text[pos:]))
    return tuple(spans)


def parse(text: str) -> list[Line]:
    lines = []
    for raw in text.splitlines():
        bullet = _BULLET.match(raw)
        body = raw[bullet.end() :] if bullet else raw
        lines.append(Line(bullet=bool(bullet), spans=parse_inline(body)))
    return lines


@dataclass(frozen=True, kw_only=True)
class Style:
    """How one platform writes each kind of span. ``escape`` is applied to all literal text."""

    escape: Callable[[str], str]
    bold: Callable[[str], str]
    italic: Callable[[str], str]
    code: Callable[[str], str]
    link: Callable[[str, str], str]
    bullet: str

    def span(self, span: Span) -> str:
        if span.kind == "text":
            return self.escape(span.text)
        if span.kind == "bold":
            return self.bold(self.escape(span.text))
        if span.kind == "italic":
            return self.italic(self.escape(span.text))
        if span.kind == "code":
            return self.code(span.text)
        return self.link(self.escape(span.text), span.url)

    def convert(self, text: str) -> str:
        out = []
        for line in parse(text):
            body = "".join(self.span(s) for s in line.spans)
            out.append(self.bullet + body if line.bullet else body)
        return "\n".join(out)


def strip(text: str) -> str:
    """The text with markup removed (links keep only their label): for notifications and search."""
    return PLAIN_NO_URLS.convert(text)


PLAIN = Style(
    escape=lambda s: s,
    bold=lambda s: s,
    italic=lambda s: s,
    code=lambda s: s,
    link=lambda label, url: f"{label} ({url})",
    bullet="• ",
)

PLAIN_NO_URLS = Style(
    escape=lambda s: s,
    bold=lambda s: s,
    italic=lambda s: s,
    code=lambda s: s,
    link=lambda label, url: label,
    bullet="• ",
)
