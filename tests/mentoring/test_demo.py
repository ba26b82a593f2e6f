"""``careerbot mentoring demo``, run in-process as someone trying careerbot would run it: made-up members,
weekly rounds with private intros (a trio when the count is odd), check-ins three days later, and the
admin's report, all on a throwaway database, never the configured one."""

from __future__ import annotations

import ast
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from adapters.cli import main

START = "2026-03-02T09:00:00+00:00"  # a Monday: the first round is due at 10:00 that day
HEADER = re.compile(r"^════ (.+?) ════$", re.MULTILINE)
PRIVATE = re.compile(r"^── private to (.+?) \(from #mentoring\) \(due (\S+)\) ──$", re.MULTILINE)
WHO = re.compile(r"^Who: (.+)$", re.MULTILINE)
REPORT = re.compile(
    r"^members (\{.*?\}), states (\{.*?\}), rounds (\d+), groups (\d+), matched places (\d+), "
    r"sat out (\d+), check-in answers (\{.*?\})$",
    re.MULTILINE,
)


def demo(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(
        main, ["mentoring", "demo", *args], env={"NO_COLOR": "1", **(env or {})}, prog_name="careerbot"
    )


@dataclass
class Section:
    title: str
    text: str
    posts: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    """(recipients, due) of each private message."""
    groups: list[list[tuple[str, str]]] = field(default_factory=list)
    """The (member, role) of each intro's "Who:" line."""


def sections(output: str) -> list[Section]:
    """The demo's output cut at its ``════ title ════`` headers."""
    heads = list(HEADER.finditer(output))
    out = []
    for head, nxt in zip(heads, [*heads[1:], None], strict=True):
        text = output[head.end() : nxt.start() if nxt else len(output)]
        section = Section(head.group(1), text)
        section.posts = [(tuple(m.group(1).split(", ")), m.group(2)) for m in PRIVATE.finditer(text)]
        for who in WHO.finditer(text):
            people = re.findall(r"(member\d+) \((\w+)\)", who.group(1))
            section.groups.append(people)
        out.append(section)
    return out


def report(output: str) -> dict[str, object]:
    found = REPORT.search(output)
    assert found, output
    members, states, rounds, groups, matched, sat_out, answers = found.groups()
    return {
        "members": ast.literal_eval(members),  # a dict the demo printed
        "states": ast.literal_eval(states),
        "rounds": int(rounds),
        "groups": int(groups),
        "matched": int(matched),
        "sat_out": int(sat_out),
        "answers": ast.literal_eval(answers),
    }


def test_a_pairs_demo_introduces_everyone_with_a_trio_then_checks_in_and_reports() -> None:
    result = demo("--members", "5", "--rounds", "2", "--now", START)
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith(
        "A pairs program in #mentoring with 5 made-up members; 2 weekly rounds, check-ins 3 days after each intro."
    )
    parts = sections(out)
    assert [p.title for p in parts] == [
        "round 1: 2026-03-02T10:00:00+00:00",
        "check-ins: 2026-03-05T10:00:00+00:00",
        "round 2: 2026-03-09T10:00:00+00:00",
        "check-ins: 2026-03-12T10:00:00+00:00",
        "the admin's report",
    ]
    everyone = {f"member{i:02d}" for i in range(1, 6)}
    first, first_checkins, second, second_checkins, _ = parts

    # Round 1: everyone is introduced exactly once, privately; five people make a pair and a trio.
    assert sorted(len(g) for g in first.groups) == [2, 3]
    introduced = [name for g in first.groups for name, _ in g]
    assert sorted(introduced) == sorted(everyone)
    assert all(role == "peer" for g in first.groups for _, role in g)
    assert out.count("Why three of you") >= 1 and "Why three of you" in first.text
    assert all(due == "2026-03-02T10:00:00+00:00" for _, due in first.posts)
    assert {tuple(sorted(r)) for r, _ in first.posts} == {tuple(sorted(n for n, _ in g)) for g in first.groups}

    # Check-ins: one "Did you meet?" to each group of the round, three days after its intro.
    for intros, checkins in ((first, first_checkins), (second, second_checkins)):
        met = [r for r, _ in intros.posts if len(r) > 1]  # a note to one person left out has no check-in
        assert sorted(r for r, _ in checkins.posts) == sorted(met)
        assert checkins.text.count("Did you meet?") == len(met)
        assert "Try: /mentoring checkin met group:" in checkins.text

    # Round 2: no one gets two intros in a round; whoever is not in a group is told so.
    placed = [name for g in second.groups for name, _ in g]
    assert len(placed) == len(set(placed))
    left_out = [r for r, _ in second.posts if len(r) == 1]
    assert sorted(placed + [r[0] for r in left_out]) == sorted(everyone)
    assert second.text.count("no match this round") == len(left_out)

    # The admin's report adds up to what was sent.
    numbers = report(out)
    every_group = first.groups + second.groups
    assert numbers["members"] == {"peer": 5}
    assert numbers["states"] == {"active": 5}
    assert numbers["groups"] == len(every_group)
    assert numbers["matched"] == sum(len(g) for g in every_group)
    assert numbers["sat_out"] == len(left_out)
    answers = numbers["answers"]
    assert isinstance(answers, dict) and sum(answers.values()) == numbers["matched"]
    assert set(answers) <= {"met", "not_yet", "no", "None"}


def test_an_even_count_is_all_pairs() -> None:
    result = demo("--members", "4", "--rounds", "1", "--now", START)
    assert result.exit_code == 0, result.output
    (first, *_) = sections(result.output)
    assert [len(g) for g in first.groups] == [2, 2]
    assert "Why three of you" not in result.output


def test_the_report_counts_the_rounds_that_ran() -> None:
    result = demo("--members", "4", "--rounds", "2", "--now", START)
    assert result.exit_code == 0, result.output
    assert report(result.output)["rounds"] == 2


def test_a_mentor_demo_gives_each_group_one_mentor() -> None:
    result = demo("--members", "5", "--rounds", "1", "--kind", "mentor", "--now", START)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("A mentor program in #mentoring with 5 made-up members; 1 weekly rounds")
    first = sections(result.output)[0]
    assert first.groups
    for group in first.groups:
        roles = Counter(role for _, role in group)
        assert roles["mentor"] == 1 and roles["mentee"] >= 1, group
    assert "Your mentoring match" in first.text
    numbers = report(result.output)
    assert numbers["members"] == {"mentor": 2, "mentee": 3}  # every fourth made-up member mentors
    assert numbers["sat_out"] == 0
    assert numbers["matched"] == 5


def test_the_same_seed_gives_the_same_demo() -> None:
    runs = [demo("--members", "4", "--rounds", "1", "--now", START, "--seed", "3") for _ in range(2)]
    assert [r.exit_code for r in runs] == [0, 0]
    assert runs[0].output == runs[1].output


def test_a_naive_now_is_utc() -> None:
    result = demo("--members", "2", "--rounds", "1", "--now", "2026-03-02T09:00:00")
    assert result.exit_code == 0, result.output
    assert "════ round 1: 2026-03-02T10:00:00+00:00 ════" in result.output


def test_the_demo_never_touches_the_configured_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    data.mkdir()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    seen: list[list[str]] = []
    real = tempfile.TemporaryDirectory

    class Watched(real):  # type: ignore[valid-type,misc]
        def cleanup(self) -> None:
            seen.append(sorted(p.name for p in Path(self.name).iterdir()))
            super().cleanup()

    monkeypatch.setattr(tempfile, "TemporaryDirectory", Watched)
    configured = data / "configured.db"
    result = demo(
        "--members",
        "3",
        "--rounds",
        "1",
        "--now",
        START,
        env={"CAREERBOT_DATA_DIR": str(data), "CAREERBOT_DATABASE_URL": f"sqlite+aiosqlite:///{configured}"},
    )
    assert result.exit_code == 0, result.output
    assert "the admin's report" in result.output
    assert list(data.iterdir()) == []  # neither the data dir nor the configured database was written
    assert seen and "demo.db" in seen[0]  # the demo's own database, in a temporary directory ...
    assert list(scratch.iterdir()) == []  # ... removed when the demo ends


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--members", "1"], "Invalid value for '--members': 1 is not in the range 2<=x<=2000."),
        (["--rounds", "0"], "Invalid value for '--rounds': 0 is not in the range 1<=x<=20."),
        (["--rounds", "21"], "Invalid value for '--rounds': 21 is not in the range 1<=x<=20."),
        (["--kind", "trio"], "Invalid value for '--kind': 'trio' is not one of 'pairs', 'mentor'."),
        (["--now", "yesterday"], "Invalid value for --now: 'yesterday' is not an ISO 8601 time"),
        (["--members", "many"], "Invalid value for '--members': 'many' is not a valid integer"),
    ],
)
def test_bad_options_are_refused_with_a_clear_message(args: list[str], message: str) -> None:
    result = demo(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Usage: careerbot mentoring demo [OPTIONS]" in result.stderr
    assert "A pairs program" not in result.stdout and "════" not in result.stdout
