"""The shape of the knowledge files, declared once with pydantic.

Each YAML file under ``knowledge/`` is a mapping whose top-level keys are section names
(``roles``, ``software``, ``skills``, ...) and whose values are lists of entries. Fields that
name other entries are annotated with :class:`RefTo`, so the validator finds every
cross-reference from these declarations instead of a hand-kept list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, cast, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Kind = Literal["role", "software", "skill", "compliance", "standard", "trend", "tip", "why", "topic", "faq"]

#: Kinds a reply's ``ref`` may name.
KINDS: tuple[Kind, ...] = get_args(Kind)


def as_kinds(names: tuple[str, ...]) -> tuple[Kind, ...]:
    """Names of kinds (an option's ``entity``, declared in the kernel as plain text) as :data:`Kind`;
    a name that is not a kind is a :class:`ValueError`."""
    unknown = [n for n in names if n not in KINDS]
    if unknown:
        raise ValueError(f"not a kind of knowledge: {', '.join(unknown)}")
    return cast(tuple[Kind, ...], names)


REF_KINDS: tuple[Kind, ...] = ("role", "software", "skill", "compliance", "standard", "trend", "tip", "faq")

TIP_MAX = 280
SUMMARY_MAX = 400
TEXT_MAX = 600
ANSWER_MAX = 700
QUESTION_MAX = 160
MIN_ASKED = 3


@dataclass(frozen=True)
class RefTo:
    """Marks a field whose values are ids of entries of ``kinds`` (the first kind that has the id wins)."""

    kinds: tuple[Kind, ...]


Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,47}$")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Summary = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=SUMMARY_MAX)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TEXT_MAX)]
Alias = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
Url = Annotated[str, StringConstraints(pattern=r"^https://[^\s<>]+$", max_length=300)]
#: An https address whose host has a dot (``https://hhs`` is refused), as a FAQ's ``source``.
_SOURCE_URL = r"^https://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:[0-9]+)?([/?#][^\s<>]*)?$"
SourceUrl = Annotated[str, StringConstraints(strip_whitespace=True, pattern=_SOURCE_URL, max_length=300)]


def refs(*kinds: Kind) -> RefTo:
    return RefTo(kinds)


class Entry(BaseModel):
    """Fields every entry has: a stable id, a title, what people type for it, and a summary."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    title: Title
    aliases: list[Alias] = Field(default_factory=list)
    summary: Summary


class Role(Entry):
    day_to_day: list[Text] = Field(min_length=2)
    software: Annotated[list[Slug], refs("software")] = Field(min_length=1)
    skills: Annotated[list[Slug], refs("skill")] = Field(min_length=5)
    compliance: Annotated[list[Slug], refs("compliance")] = Field(min_length=1)
    standards: Annotated[list[Slug], refs("standard")] = Field(min_length=1)
    learning_path: list[Text] = Field(min_length=4)
    projects: list[Text] = Field(min_length=2)
    related: Annotated[list[Slug], refs("role")] = Field(min_length=1)


class Software(Entry):
    used_by: list[Title] = Field(min_length=1)
    capabilities: list[Text] = Field(min_length=2)
    examples: list[Title] = Field(default_factory=list)
    roles: Annotated[list[Slug], refs("role")] = Field(min_length=1)
    standards: Annotated[list[Slug], refs("standard")] = Field(default_factory=list)
    compliance: Annotated[list[Slug], refs("compliance")] = Field(default_factory=list)


class Skill(Entry):
    category: Literal["general", "healthcare", "technical"]
    why: Text
    how_to_learn: list[Text] = Field(min_length=1)


class Compliance(Entry):
    jurisdiction: Title
    applies_to: Text
    demands: list[Text] = Field(min_length=2)
    url: Url
    related: Annotated[list[Slug], refs("compliance", "standard")] = Field(default_factory=list)


class Standard(Entry):
    maintainer: Title
    used_for: Text
    url: Url
    related: Annotated[list[Slug], refs("standard", "compliance")] = Field(default_factory=list)


class Trend(Entry):
    impact: list[Text] = Field(min_length=2)
    roles: Annotated[list[Slug], refs("role")] = Field(default_factory=list)
    skills: Annotated[list[Slug], refs("skill")] = Field(default_factory=list)


class Reason(Entry):
    """One reason to choose healthcare over general tech (the ``why`` section)."""


class Topic(Entry):
    """A tip topic that is not itself a role, skill, regulation, standard or trend (e.g. interviews)."""


class Tip(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TIP_MAX)]
    tags: Annotated[list[Slug], refs("role", "skill", "compliance", "standard", "trend", "software", "topic")] = Field(
        min_length=1
    )


#: Kinds a FAQ's ``refs`` may name, written ``KIND:ID`` (``role:ehr``, ``standard:fhir``).
FAQ_REF_KINDS: tuple[Kind, ...] = (
    "role",
    "software",
    "skill",
    "compliance",
    "standard",
    "trend",
    "topic",
    "why",
    "faq",
)

Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=QUESTION_MAX)]
Answer = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=ANSWER_MAX)]
FaqRef = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z]+:[a-z0-9][a-z0-9-]{0,47}$")]


class Faq(BaseModel):
    """One frequently asked question (the ``faq`` section), answered in our own words.

    ``question`` is the canonical wording; ``asked`` the ways people really type it (at least
    :data:`MIN_ASKED`, matched after :func:`~bot.knowledge.loader.normalize`; no two entries may share a
    wording). ``refs`` are follow-ups written ``KIND:ID`` (kinds: :data:`FAQ_REF_KINDS`). ``source`` is
    the official page the answer's facts come from; it is required unless ``advice`` is true, which
    declares that the answer gives advice or experience only and states no figure, date, law or rule.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    question: Question
    asked: list[Question] = Field(min_length=MIN_ASKED)
    answer: Answer
    refs: list[FaqRef] = Field(default_factory=list)
    source: SourceUrl | None = None
    advice: bool = False
    tags: list[Slug] = Field(min_length=1)

    def ref_targets(self) -> list[tuple[str, str]]:
        """``refs`` as ``(kind, id)`` pairs (the kind unchecked: the validator reports unknown ones)."""
        return [(kind, entry_id) for kind, _, entry_id in (r.partition(":") for r in self.refs)]


#: Top-level YAML key -> (kind, model). A file may hold any number of these sections.
SECTIONS: dict[str, tuple[Kind, type[BaseModel]]] = {
    "roles": ("role", Role),
    "software": ("software", Software),
    "skills": ("skill", Skill),
    "compliance": ("compliance", Compliance),
    "standards": ("standard", Standard),
    "trends": ("trend", Trend),
    "why": ("why", Reason),
    "topics": ("topic", Topic),
    "tips": ("tip", Tip),
    "faq": ("faq", Faq),
}

KIND_MODELS: dict[Kind, type[BaseModel]] = {kind: model for kind, model in SECTIONS.values()}

#: Ids the product promises exist (the validator reports any that are missing).
REQUIRED_IDS: dict[Kind, tuple[str, ...]] = {
    "role": (
        "ehr",
        "imaging",
        "mobile",
        "cds",
        "telemedicine",
        "device",
        "analytics",
        "interoperability",
        "security",
    ),
    "software": ("ehr", "pacs", "device", "analytics", "telehealth"),
    "skill": (
        "programming",
        "problem-solving",
        "communication",
        "adaptability",
        "attention-to-detail",
        "regulatory-compliance",
        "interoperability",
        "security",
        "usability",
    ),
    "compliance": ("hipaa", "hitech", "gdpr", "fda-samd", "iec-62304", "cures-act"),
    "standard": ("hl7v2", "fhir", "dicom", "icd-10", "snomed-ct", "loinc", "smart-on-fhir"),
    "trend": ("ai-ml", "iot", "blockchain", "vr-ar"),
}

MIN_TIPS = 120
