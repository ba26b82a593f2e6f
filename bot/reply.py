"""The neutral reply every handler returns and every adapter renders.

Every string is made inert (no mention can survive) and capped when the reply is built, so no
handler can forget to, and adapters only have to respect their own platform's tighter limits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from bot.safety import inert

RefKind = Literal["role", "software", "skill", "compliance", "standard", "trend", "tip"]
Tone = Literal["answer", "notice", "error"]

#: Caps on the neutral reply. Adapters split or cut further for their platform's own limits.
CAPS = {
    "title": 150,
    "summary": 1500,
    "heading": 150,
    "text": 2500,
    "field_name": 100,
    "field_value": 1000,
    "label": 75,
    "url": 2000,
    "command": 200,
    "footer": 300,
}
MAX_SECTIONS = 12
MAX_FIELDS = 10
MAX_LINKS = 10
MAX_FOLLOW_UPS = 10


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True, kw_only=True, slots=True)
class Ref:
    kind: RefKind
    id: str

    def __post_init__(self) -> None:
        _set(self, "id", inert(self.id, 100))


@dataclass(frozen=True, kw_only=True, slots=True)
class Section:
    """A heading and a body in the core's markdown subset (see :mod:`bot.markup`)."""

    heading: str
    text: str

    def __post_init__(self) -> None:
        _set(self, "heading", inert(self.heading, CAPS["heading"]))
        _set(self, "text", inert(self.text, CAPS["text"]))


@dataclass(frozen=True, kw_only=True, slots=True)
class Field:
    name: str
    value: str
    inline: bool = True

    def __post_init__(self) -> None:
        _set(self, "name", inert(self.name, CAPS["field_name"]))
        _set(self, "value", inert(self.value, CAPS["field_value"]))


@dataclass(frozen=True, kw_only=True, slots=True)
class Link:
    label: str
    url: str

    def __post_init__(self) -> None:
        _set(self, "label", inert(self.label, CAPS["label"]))
        _set(self, "url", inert(self.url, CAPS["url"]))


@dataclass(frozen=True, kw_only=True, slots=True)
class FollowUp:
    """A related question, offered as a button: ``command`` is what pressing it runs."""

    label: str
    command: str

    def __post_init__(self) -> None:
        _set(self, "label", inert(self.label, CAPS["label"]))
        _set(self, "command", inert(self.command, CAPS["command"]))


@dataclass(frozen=True, kw_only=True, slots=True)
class Reply:
    title: str
    summary: str = ""
    sections: tuple[Section, ...] = ()
    fields: tuple[Field, ...] = ()
    links: tuple[Link, ...] = ()
    follow_ups: tuple[FollowUp, ...] = ()
    footer: str = ""
    ref: Ref | None = None
    tone: Tone = "answer"
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _set(self, "title", inert(self.title, CAPS["title"]))
        _set(self, "summary", inert(self.summary, CAPS["summary"]))
        _set(self, "footer", inert(self.footer, CAPS["footer"]))
        _set(self, "sections", tuple(self.sections)[:MAX_SECTIONS])
        _set(self, "fields", tuple(self.fields)[:MAX_FIELDS])
        _set(self, "links", tuple(self.links)[:MAX_LINKS])
        _set(self, "follow_ups", tuple(self.follow_ups)[:MAX_FOLLOW_UPS])
        _set(self, "extra", {inert(k, 50): inert(v, 200) for k, v in list(self.extra.items())[:10]})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data: dicts, lists and strings (``ref`` is ``{"kind", "id"}`` or ``None``)."""
        return _plain(asdict(self))  # type: ignore[no-any-return]

    def strings(self) -> list[str]:
        """Every string in the reply, for checks that must hold of all of them."""
        out: list[str] = []

        def walk(value: object) -> None:
            if isinstance(value, str):
                out.append(value)
            elif isinstance(value, dict):
                for k, v in value.items():
                    walk(k)
                    walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)

        walk(self.to_dict())
        return out
