"""Validation: the shipped tree is valid, and broken trees are reported precisely, all at once."""

from __future__ import annotations

from pathlib import Path

from bot.knowledge.loader import load
from bot.knowledge.schema import MIN_TIPS, REQUIRED_IDS, TIP_MAX
from tests.knowledge.conftest import problems

ROLE = """\
roles:
  - id: {id}
    title: {title}
    aliases: [{aliases}]
    summary: A role that exists only in this test.
    day_to_day: [Writes code., Reviews code.]
    software: [ehr]
    skills: [{skills}]
    compliance: [hipaa]
    standards: [fhir]
    learning_path: [one, two, three, four]
    projects: [a project, another project]
    related: [ehr]
"""
GOOD_SKILLS = "programming, problem-solving, communication, adaptability, attention-to-detail"


def test_shipped_knowledge_is_complete(knowledge_dir: Path) -> None:
    knowledge = load(knowledge_dir)
    for kind, ids in REQUIRED_IDS.items():
        assert set(ids) <= set(knowledge.entries[kind]), kind
    tips = knowledge.of("tip")
    assert len(tips) >= MIN_TIPS
    assert all(len(t.text) <= TIP_MAX for t in tips)
    for role in knowledge.of("role"):
        assert len(role.skills) >= 5 and len(role.learning_path) >= 4, role.id
    for kind in ("compliance", "standard"):
        assert all(e.url.startswith("https://") for e in knowledge.of(kind))


def test_a_valid_extra_file_is_accepted(tree: Path) -> None:
    (tree / "zz-extra.yaml").write_text(
        ROLE.format(id="test-role", title="Test role", aliases="tester", skills=GOOD_SKILLS)
    )
    assert "test-role" in load(tree).entries["role"]


def test_yaml_syntax_error_names_file_and_line(tree: Path) -> None:
    bad = tree / "broken.yaml"
    bad.write_text("tips:\n  - id: tip-x\n    text: [unclosed\n    tags: [ehr]\n")
    found = problems(tree)
    assert len(found) == 1
    assert found[0].startswith(f"{bad}:4: YAML syntax error")


def test_unknown_reference_gets_a_suggestion(tree: Path) -> None:
    extra = tree / "zz-extra.yaml"
    extra.write_text(
        ROLE.format(id="test-role", title="Test role", aliases="tester", skills=GOOD_SKILLS + ", programing")
    )
    assert problems(tree) == [
        f"{extra}:8: roles.test-role.skills[5]: unknown skill 'programing'; did you mean 'programming'?"
    ]


def test_duplicate_id_points_at_the_first(tree: Path) -> None:
    extra = tree / "zz-extra.yaml"
    extra.write_text(ROLE.format(id="ehr", title="Another EHR", aliases="x-ehr", skills=GOOD_SKILLS))
    found = problems(tree)
    assert len(found) == 1
    assert found[0].startswith(f"{extra}:2: roles.ehr.id: duplicate role id 'ehr' (first defined at roles.yaml:")


def test_alias_clash_across_entries(tree: Path, knowledge_dir: Path) -> None:
    ehr_title = load(knowledge_dir).entries["role"]["ehr"].entry.title
    extra = tree / "zz-extra.yaml"
    extra.write_text(ROLE.format(id="test-role", title="Test role", aliases=ehr_title, skills=GOOD_SKILLS))
    assert problems(tree) == [f"{extra}:4: roles.test-role.aliases[0]: '{ehr_title}' already names role 'ehr'"]


def test_schema_problems_are_all_reported_at_once(tree: Path) -> None:
    extra = tree / "zz-extra.yaml"
    long_tip = "x" * (TIP_MAX + 1)
    extra.write_text(
        "rols: []\n"
        "tips:\n"
        "  - id: tip-extra-1\n"
        f"    text: {long_tip}\n"
        "    tags: [ehr]\n"
        "  - id: tip-extra-2\n"
        "    text: '   '\n"
        "    tags: [ehr]\n"
        "  - id: tip-extra-3\n"
        "    text: Fine text.\n"
        "    tagz: [ehr]\n"
    )
    assert problems(tree) == [
        f"{extra}:1: rols: unknown section 'rols'; did you mean 'roles'? "
        "(sections: roles, software, skills, compliance, standards, trends, why, topics, tips, faq)",
        f"{extra}:4: tips.tip-extra-1.text: text is {TIP_MAX + 1} characters; the limit is {TIP_MAX}",
        f"{extra}:7: tips.tip-extra-2.text: must not be empty",
        f"{extra}:9: tips.tip-extra-3.tags: required field is missing",
        f"{extra}:11: tips.tip-extra-3.tagz: unknown field 'tagz'; did you mean 'tags'?",
    ]


def test_missing_required_entry_is_reported(tree: Path) -> None:
    roles = tree / "roles.yaml"
    text = roles.read_text()
    assert "id: cds\n" in text
    roles.write_text(text.replace("id: cds\n", "id: cds-renamed\n"))
    found = problems(tree)
    assert any("required role entries missing: cds" in p for p in found), found


def test_duplicate_yaml_key_is_reported(tree: Path) -> None:
    extra = tree / "zz-extra.yaml"
    extra.write_text("topics:\n  - id: t-one\n    title: One\n    title: Two\n    summary: S.\n")
    assert problems(tree) == [f"{extra}:4: topics[0].title: duplicate key"]
