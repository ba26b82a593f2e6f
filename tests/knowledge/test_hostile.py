"""Any file dropped into the knowledge directory: `validate` reports it, a running bot survives it.

Issue 8, "Knowledge files". The hostile files are generated here, in tmp_path (see
``bench/knowledge_hostile.py``, which times the same cases; tests never assert timings).
Numbers in test names refer to the tester's defects: 1 deep nesting, 2 alias bomb, 3 reload dies
silently, 4 quadratic time, 5 unbounded report, 6 follow-on errors before the broken file.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.console import chat
from bench.knowledge_hostile import BILLION_LAUGHS, CASES, Case, make_tree
from bot.core import Core
from bot.errors import REPORT_LINE_CHARS, REPORT_PROBLEMS, KnowledgeError
from bot.knowledge.loader import fingerprint, knowledge_files, load
from bot.knowledge.yamlread import DEFAULT_LIMITS, Limits
from bot.reply import Reply

ROOT = Path(__file__).resolve().parents[2]
MEMORY_CAP = 1 << 30  # a bomb must fail its test, not the machine
ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0


def cases() -> list[object]:
    """Every case of the bench, as pytest parameters (a file of mode 000 is no obstacle to root)."""
    skip_root = pytest.mark.skipif(ROOT_USER, reason="root reads a file of mode 000")
    return [pytest.param(c, id=c.name, marks=[skip_root] if c.name == "unreadable" else []) for c in CASES]


def problems(directory: Path, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    with pytest.raises(KnowledgeError, match=re.escape(str(directory))) as caught:  # a problem in this tree
        load(directory, limits)
    return [str(p) for p in caught.value.problems]


def hostile(tree: Path, name: str, content: str | bytes) -> Path:
    path = tree / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


@pytest.fixture
def tree(tmp_path: Path, knowledge_dir: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(knowledge_dir, target)
    return target


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def careerbot(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The command line in a subprocess whose address space is capped at 1 GB."""
    env = {k: v for k, v in os.environ.items() if k not in ("SLACK_BOT_TOKEN", "DISCORD_TOKEN", "CAREERBOT_KNOWLEDGE")}
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env | {"NO_COLOR": "1"},
        timeout=120,
        preexec_fn=_cap_memory,
    )


# --------------------------------------------------------------------------- careerbot validate


@pytest.mark.parametrize("case", cases())
def test_validate_reports_each_hostile_file_first_and_bounded(tmp_path: Path, case: Case) -> None:
    """Items 1-6 through the command line: exit 1, the hostile file's FILE:LINE first, no traceback,
    a bounded report, within 1 GB of address space (no timing asserts: see the bench)."""
    tree, path = make_tree(tmp_path, case)
    out = careerbot("validate", str(tree))
    assert out.returncode == 1, (out.returncode, out.stdout[-2000:], out.stderr[-2000:])
    assert "Traceback" not in out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert re.match(rf"{re.escape(str(path))}:\d+: ", lines[0]), lines[0]
    assert case.expect in lines[0]
    assert len(lines) <= REPORT_PROBLEMS + 1
    assert all(len(line) <= REPORT_LINE_CHARS for line in lines)
    if case.name == "many-problems":
        assert len(lines) == REPORT_PROBLEMS + 1 and lines[-1].startswith("... and ")
    else:
        assert len(lines) == 1, "a file that cannot be read is one problem, with no follow-ons"


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.name in ("deep-50000", "billion-laughs", "unknown-tag", "roles-symlink-loop")],
    ids=lambda c: str(c.name),
)
def test_chat_on_a_hostile_directory_prints_the_problem(tmp_path: Path, case: Case) -> None:
    tree, path = make_tree(tmp_path, case)
    out = careerbot("chat", "--knowledge", str(tree), stdin="/role ehr\n")
    assert out.returncode == 2
    assert "Traceback" not in out.stdout + out.stderr
    assert f"{path}:" in out.stderr and case.expect in out.stderr
    assert len(out.stderr) < 5000


# --------------------------------------------------------------------------- the loader, case by case


def test_1_deep_nesting_is_refused_on_the_event_stream(tree: Path) -> None:
    path = hostile(tree, "zz.yaml", "x: " + "[" * 50_000 + "]" * 50_000)
    assert problems(tree) == [f"{path}:1: nested deeper than {DEFAULT_LIMITS.depth} levels"]
    path.write_text("x:\n" + "".join("  " * i + "- \n" for i in range(1, 600)))  # block style, one level a line
    assert problems(tree) == [f"{path}:{DEFAULT_LIMITS.depth + 1}: nested deeper than {DEFAULT_LIMITS.depth} levels"]


def test_1_depth_is_a_limit_the_caller_sets(knowledge_dir: Path) -> None:
    found = problems(knowledge_dir, Limits(depth=3))  # the shipped files nest 4 deep
    assert found[0].endswith(": nested deeper than 3 levels") and len(found) == len(knowledge_files(knowledge_dir))


def test_2_alias_bomb_stops_at_the_alias_that_crosses_the_limit(tree: Path) -> None:
    path = hostile(tree, "zz.yaml", BILLION_LAUGHS)
    found = problems(tree)
    assert len(found) == 1
    assert found[0].startswith(f"{path}:6: more than 500,000 YAML nodes in one file")  # f: 9**5 'lol's
    alone = tree.parent / "alone"
    alone.mkdir()
    path = hostile(alone, "bomb.yaml", BILLION_LAUGHS)
    found = problems(alone, Limits(nodes=50))
    assert found == [f"{path}:2: more than 50 YAML nodes in one file (an alias counts as every node it repeats)"]


def test_2_aliases_within_limits_still_work(tree: Path) -> None:
    extra = hostile(
        tree,
        "zz.yaml",
        "tips:\n  - id: tip-alias-1\n    text: &t Shared text.\n    tags: &tags [ehr, fhir]\n"
        "  - id: tip-alias-2\n    text: *t\n    tags: *tags\n",
    )
    knowledge = load(tree)
    assert knowledge.entries["tip"]["tip-alias-2"].entry.text == "Shared text."
    assert knowledge.entries["tip"]["tip-alias-2"].path == extra
    too_many = problems(tree, Limits(aliases=1))
    assert too_many == [f"{extra}:7: more than 1 aliases in one file"]


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("x: !foo bar\n", 1, "unsupported tag '!foo'"),
        ("x: !!int notanint\n", 1, "cannot read 'notanint' as !!int"),
        ("x: !!timestamp 2020-99-99\n", 1, "cannot read '2020-99-99' as !!timestamp"),
        ("tips:\n  - id: tip-x\n    text: 2020-13-45\n", 3, "cannot read '2020-13-45' as !!timestamp"),
        ("x: !!bool maybe\n", 1, "cannot read 'maybe' as !!bool"),
        ("x: !!binary YQ\n", 1, "cannot read 'YQ' as !!binary (failed to decode base64 data"),
        ("x: !!set {a, b}\n", 1, "unsupported tag '!!set'"),
        ("x: !!python/object:os.system {}\n", 1, "unsupported tag '!!python/object:os.system'"),
        ("a: &a [*a]\n", 1, "alias *a is inside the node it names (a recursive alias)"),
        ("a: &a {b: *a}\n", 1, "alias *a is inside the node it names (a recursive alias)"),
        ("a: *nowhere\n", 1, "alias *nowhere names no anchor defined before it"),
        ("a: &a 1\nb: &a 2\n", 2, "anchor &a is defined twice"),
        ("a: &a {x: 1}\nb:\n  <<: *a\n", 3, "merge keys ('<<') are not supported"),
        ("a: 1\n---\nb: 2\n", 2, "more than one YAML document"),
        ("x: " + "[" * 500 + "]" * 500, 1, "nested deeper than 32 levels"),
        (b"tips:\n  - id: \xff\n", 2, "cannot read: invalid leading UTF-8 octet"),
        ("tips: [\n", 2, "YAML syntax error"),
        ("a: b: c\n", 1, "YAML syntax error: mapping values are not allowed"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_3_every_yaml_failure_is_one_problem(tree: Path, content: str | bytes, line: int, message: str) -> None:
    path = hostile(tree, "zz.yaml", content)
    found = problems(tree)
    assert len(found) == 1, found
    assert found[0].startswith(f"{path}:{line}: {message}"), found[0]


@pytest.mark.parametrize("what", ["directory", "symlink-loop", "dangling-symlink", "fifo", "permission"])
def test_3_files_that_cannot_be_opened_are_one_problem(tree: Path, what: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tree / "zz.yaml"
    expect = {
        "directory": "is a directory, not a file",
        "symlink-loop": "cannot open: a symbolic link loop",
        "dangling-symlink": "cannot open: No such file or directory",
        "fifo": "not a regular file",
        "permission": "cannot open: Permission denied",
    }[what]
    if what == "directory":
        path.mkdir()
    elif what == "symlink-loop":
        path.symlink_to("zz.yaml")
    elif what == "dangling-symlink":
        path.symlink_to("nowhere.yaml")
    elif what == "fifo":
        os.mkfifo(path)  # opened blocking, this would wait forever for a writer
    else:
        path.write_text("tips: []\n")
        real_open = os.open

        def denied(file: str | os.PathLike[str], flags: int, *args: int) -> int:
            if Path(file) == path:
                raise PermissionError(13, "Permission denied")
            return real_open(file, flags, *args)

        monkeypatch.setattr(os, "open", denied)
    assert problems(tree) == [f"{path}:1: {expect}"]


def test_3_editor_lock_files_are_ignored(tree: Path) -> None:
    (tree / ".#roles.yaml").symlink_to("root@host.1234:1700000000")  # Emacs, while roles.yaml is edited
    load(tree)


def test_4_a_mapping_with_too_many_keys_is_refused_at_the_key_that_crosses(tree: Path) -> None:
    path = hostile(tree, "zz.yaml", "tips:\n  - id: tip-x\n" + "".join(f"    k{i}: v\n" for i in range(40_000)))
    assert problems(tree) == [f"{path}:{2 + DEFAULT_LIMITS.keys}: more than 1,000 keys in one mapping"]


def test_4_many_unknown_keys_within_the_limit_are_each_reported(tree: Path) -> None:
    path = hostile(
        tree,
        "zz.yaml",
        "tips:\n  - id: tip-x\n    text: T.\n    tags: [ehr]\n" + "".join(f"    k{i}: v\n" for i in range(900)),
    )
    found = problems(tree)
    assert len(found) == 900
    assert found[0] == f"{path}:5: tips.tip-x.k0: unknown field 'k0'"
    assert found[-1] == f"{path}:904: tips.tip-x.k899: unknown field 'k899'"


def test_5_a_file_over_the_size_limit_is_one_short_problem(tree: Path) -> None:
    path = hostile(tree, "zz.yaml", "tips:\n" + "  - {id: NOT-AN-ID, text: x, tags: [nope]}\n" * 2000)
    size = path.stat().st_size
    shipped = [p.stat().st_size for p in knowledge_files(tree) if p != path]  # limits that fit the shipped files
    limit, total = max(shipped) + 1, sum(shipped) + 1
    assert size > limit, "the hostile file must be bigger than every shipped file"
    assert problems(tree, Limits(file_bytes=limit)) == [f"{path}:1: file is {size:,} bytes; the limit is {limit:,}"]
    assert problems(tree, Limits(tree_bytes=total))[0] == (
        f"{path}:1: the knowledge files hold more than {total:,} bytes together"
    )


def test_5_reports_are_capped_in_lines_and_characters(tree: Path) -> None:
    hostile(tree, "zz.yaml", "tips:\n" + "  - {id: NOT-AN-ID, text: x, tags: [nope]}\n" * 5000)
    with pytest.raises(KnowledgeError, match=f"^{re.escape(str(tree / 'zz.yaml'))}:2: ") as caught:
        load(tree)
    error = caught.value
    assert len(error.problems) == DEFAULT_LIMITS.problems and not error.complete
    report = error.report().splitlines()
    assert len(report) == REPORT_PROBLEMS + 1
    assert report[-1] == f"... and {DEFAULT_LIMITS.problems - REPORT_PROBLEMS}+ more problems (checking stopped there)"


def test_5_no_problem_echoes_a_file_unbounded(tree: Path) -> None:
    huge = "X" * 2_000_000
    hostile(
        tree,
        "zz.yaml",
        f"tips:\n  - id: {huge}\n    text: hi\n    tags: [ehr]\n    ? {huge}\n    : 1\n? {huge}\n: 1\n"
        f'? "{huge}\\n\\u202e\\x1b[31m"\n: 1\n',
    )
    found = problems(tree)
    assert len(found) == 4
    assert all(len(p) < 800 and p.isprintable() for p in found), [len(p) for p in found]


def test_6_a_broken_file_is_the_first_line_without_follow_ons(tree: Path) -> None:
    roles = tree / "roles.yaml"
    roles.write_text(roles.read_text().replace("\n  - id: imaging\n", "\n  - id: [imaging\n", 1))
    extra = hostile(tree, "aa-extra.yaml", "topics:\n  - id: t-one\n    title: One\n    summary: S.\n    sumary: S.\n")
    found = problems(tree)
    assert found[0].startswith(f"{roles}:") and "YAML syntax error" in found[0]
    assert found[1:] == [f"{extra}:5: topics.t-one.sumary: unknown field 'sumary'; did you mean 'summary'?"]
    roles.unlink()
    roles.symlink_to("roles.yaml")
    assert problems(tree)[0] == f"{roles}:1: cannot open: a symbolic link loop"


def test_fingerprint_never_raises(tmp_path: Path) -> None:
    assert fingerprint(tmp_path / "missing")
    (tmp_path / "loop.yaml").symlink_to("loop.yaml")
    assert fingerprint(tmp_path)[0][:2] == ("loop.yaml", -1)


# --------------------------------------------------------------------------- the running bot


async def until(condition: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def undo(path: Path, knowledge_dir: Path) -> None:
    """Remove the hostile file (whatever it is) and put back the shipped one of that name, if any."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    if (knowledge_dir / path.name).exists():
        shutil.copy(knowledge_dir / path.name, path)


@pytest.mark.parametrize("case", cases())
async def test_the_running_bot_survives_each_hostile_file(
    tmp_path: Path, knowledge_dir: Path, case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    """The watch loop logs one bounded report, keeps answering from the last good tree, and picks up
    the fix."""
    tree = tmp_path / "knowledge"
    shutil.copytree(knowledge_dir, tree)
    _, staged = make_tree(tmp_path / "staging", case)  # made aside, then moved in at once
    core = Core(tree)
    before = await core.ask("/role ehr")
    watcher = asyncio.create_task(core.watch(0.01))
    try:
        with caplog.at_level(logging.ERROR, logger="careerbot.core"):
            path = tree / staged.name
            os.replace(staged, path)
            await until(lambda: core.last_problems)
            assert core.last_problems[0].path == str(path)
            assert case.expect in core.last_problems[0].message
            assert await core.ask("/role ehr") == before
            (record,) = [r for r in caplog.records if "still serving the last good version" in r.getMessage()]
            message = record.getMessage()
            assert f"{path}:" in message and len(message.splitlines()) <= REPORT_PROBLEMS + 2
            assert len(message) <= (REPORT_PROBLEMS + 2) * REPORT_LINE_CHARS

            undo(path, knowledge_dir)
            roles = tree / "roles.yaml"
            title = core.kb.entries["role"]["ehr"].title
            roles.write_text(roles.read_text().replace(f"title: {title}", "title: EHR engineer (fixed)", 1))
            await until(lambda: core.kb.entries["role"]["ehr"].title == "EHR engineer (fixed)")
        assert core.last_problems == []
        assert not watcher.done() and core.watch_restarts == 0
    finally:
        watcher.cancel()
        with pytest.raises(asyncio.CancelledError, match="^$"):  # our cancel, which carries no message
            await watcher


def test_chat_keeps_answering_when_a_hostile_file_appears(
    tree: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = Core(tree)
    real_ask = core.ask

    async def ask_then_drop_a_bomb(text: str, **where: Any) -> Reply:
        """The bomb lands in the knowledge directory between the two questions."""
        reply = await real_ask(text, **where)
        hostile(tree, "zz.yaml", BILLION_LAUGHS)
        return reply

    monkeypatch.setattr(core, "ask", ask_then_drop_a_bomb)
    out = io.StringIO()
    with caplog.at_level(logging.ERROR, logger="careerbot.core"):
        chat(core, stdin=io.StringIO("/role ehr\n/role imaging\n"), stdout=out)
    assert "Try: /path ehr" in out.getvalue() and "Try: /path imaging" in out.getvalue()
    assert core.last_problems and "zz.yaml:6: more than 500,000 YAML nodes" in caplog.text
