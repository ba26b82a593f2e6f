"""The neutral reply every handler returns and every adapter renders.

Every string is made inert (no mention can survive) and capped when the reply is built, so no
handler can forget to, and adapters only have to respect their own platform's tighter limits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from bot.forms import FieldValue
from bot.safety import inert

RefKind = Literal["role", "software", "skill", "compliance", "standard", "trend", "tip", "faq"]
Tone = Literal["answer", "notice", "error"]
How = Literal["exact", "alias", "fuzzy", "fulltext", "faq", "smalltalk", "comparison", "none"]
"""How an answer was found: an id typed exactly, a name or alias, a name typed with a typo, words
found in the text of an entry, a frequently asked question, small talk, a comparison, or nothing."""

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
class Confidence:
    """How sure an answer to a question (or to a command's query) is: ``how`` it was found, a
    ``score`` from 0 (a guess) to 1 (certain), and ``answer``, what was answered: ``KIND:ID`` of an
    entry (``role:ehr``, ``faq:salary``), ``comparison:A:B`` (each ``KIND:ID``), ``smalltalk``,
    ``help``, ``out-of-scope``, or ``none:KIND`` when no entry of that kind matched."""

    how: How
    score: float
    answer: str = ""

    def __post_init__(self) -> None:
        _set(self, "score", round(min(1.0, max(0.0, float(self.score))), 3))
        _set(self, "answer", inert(self.answer, 200))


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
    form_values: tuple[FieldValue, ...] = ()
    """With ``extra["form"]``: the fields' current values, for adapters to open the form filled in
    (built by :meth:`bot.forms.Form.filled`, so each fits its field). Empty: the form opens empty."""
    update: Reply | None = None
    """When the request came from a button on a message the bot posted (a check-in's Met / Not yet),
    that message as it should now read: adapters edit the message holding the button in place, and
    this reply still goes to the presser alone. None: the message stays as it is. Never set on an error."""
    confidence: Confidence | None = None
    """How the answer was found and how sure it is (free text and entity lookups); None: not a lookup."""

    def __post_init__(self) -> None:
        _set(self, "title", inert(self.title, CAPS["title"]))
        _set(self, "summary", inert(self.summary, CAPS["summary"]))
        _set(self, "footer", inert(self.footer, CAPS["footer"]))
        _set(self, "sections", tuple(self.sections)[:MAX_SECTIONS])
        _set(self, "fields", tuple(self.fields)[:MAX_FIELDS])
        _set(self, "links", tuple(self.links)[:MAX_LINKS])
        _set(self, "follow_ups", tuple(self.follow_ups)[:MAX_FOLLOW_UPS])
        _set(self, "extra", {inert(k, 50): inert(v, 200) for k, v in list(self.extra.items())[:10]})
        _set(self, "form_values", tuple(v.made(inert) for v in self.form_values))
        if self.tone == "error":
            _set(self, "update", None)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data: dicts, lists and strings (``ref`` is ``{"kind", "id"}`` or ``None``).
        ``form_values``, ``update`` and ``confidence`` appear only when set, so other replies read as before."""
        data: dict[str, Any] = _plain(asdict(self))
        if not self.form_values:
            del data["form_values"]
        if self.update is None:
            del data["update"]
        else:
            data["update"] = self.update.to_dict()
        if self.confidence is None:
            del data["confidence"]
        return data

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
