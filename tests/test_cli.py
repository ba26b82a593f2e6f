"""The command line, through real subprocesses, as a user or a script would run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bot.store import migrations

ROOT = Path(__file__).resolve().parent.parent
CAREERBOT = Path(sys.executable).with_name("careerbot")


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in ("SLACK_BOT_TOKEN", "DISCORD_TOKEN", "CAREERBOT_KNOWLEDGE")}
    return base | {"NO_COLOR": "1"} | extra


def run(*args: str, stdin: str = "", cwd: Path = ROOT, **kw: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CAREERBOT), *args], input=stdin, capture_output=True, text=True, cwd=cwd, env=env(**kw), timeout=60
    )


def test_ask_prints_a_readable_answer(tmp_path: Path) -> None:
    out = run("ask", "/role ehr", cwd=tmp_path)  # any directory: the knowledge ships with the package
    assert out.returncode == 0, out.stderr
    assert "Day to day" in out.stdout
    assert "Try: /path ehr" in out.stdout


def test_ask_json_is_the_neutral_reply() -> None:
    out = run("ask", "--json", "/compliance", "hipaa")
    reply = json.loads(out.stdout)
    assert reply["ref"] == {"kind": "compliance", "id": "hipaa"}
    assert {"title", "summary", "sections", "fields", "links", "follow_ups", "footer"} <= reply.keys()


def test_ask_batches_stdin_one_answer_per_line() -> None:
    lines = ["/role ehr", "/standard fhir", "what does a telemedicine developer do?", "", "/nope"]
    out = run("ask", "--json", stdin="\n".join(lines) + "\n")
    answers = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(answers) == len(lines)
    assert answers[0]["ref"] == {"kind": "role", "id": "ehr"}
    assert answers[2]["ref"] == {"kind": "role", "id": "telemedicine"}
    plain = run("ask", stdin="/role ehr\n/why\n")
    assert len(plain.stdout.splitlines()) == 2


def test_chat_answers_piped_lines_and_exits_at_eof() -> None:
    out = run("chat", stdin="/role imaging\n/tip\n")
    assert out.returncode == 0, out.stderr
    assert "Try: /path imaging" in out.stdout
    assert "Tip" in out.stdout


def test_make_run_without_tokens_is_the_console_chat() -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = subprocess.run(
        ["make", "-s", "run"],
        input="/role ehr\nquit\n/why\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env(),
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert "Day to day" in out.stdout
    assert "Why healthcare" not in out.stdout  # quit ended the session before /why


def test_commands_json_lists_the_declarations() -> None:
    declared = json.loads(run("commands", "--json").stdout)
    assert [c["name"] for c in declared][:3] == ["career", "role", "skills"]
    role = next(c for c in declared if c["name"] == "role")
    assert role["options"][0]["entity"] == ["role"]


def test_validate_ok_and_broken(tmp_path: Path) -> None:
    ok = run("validate")
    assert ok.returncode == 0 and ": ok (" in ok.stdout
    tree = tmp_path / "k"
    shutil.copytree(ROOT / "knowledge", tree)
    (tree / "zz.yaml").write_text("tips:\n  - id: tip-zz\n    text: A tip.\n    tags: [ehrr]\n")
    bad = run("validate", str(tree))
    assert bad.returncode == 1
    assert f"{tree / 'zz.yaml'}:4: tips.tip-zz.tags[0]: unknown " in bad.stdout
    assert "did you mean 'ehr'?" in bad.stdout


def test_broken_knowledge_fails_fast_at_start(tmp_path: Path) -> None:
    tree = tmp_path / "k"
    shutil.copytree(ROOT / "knowledge", tree)
    (tree / "zz.yaml").write_text("tips: [\n")
    out = run("ask", "/role ehr", CAREERBOT_KNOWLEDGE=str(tree))
    assert out.returncode == 2
    assert "knowledge is invalid" in out.stderr and "zz.yaml" in out.stderr
    assert "Traceback" not in out.stderr


def test_installed_wheel_ships_the_knowledge(tmp_path: Path) -> None:
    """`pip install .` (not editable): the wheel carries the knowledge and works from any directory."""
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    wheel = next((tmp_path / "dist").glob("careerbot-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "knowledge/roles.yaml" in names and "bot/core.py" in names and "adapters/cli.py" in names
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site), str(wheel)], check=True
    )
    code = "import bot, sys; from adapters.cli import main; print(bot.__file__, file=sys.stderr); main()"
    out = subprocess.run(
        [sys.executable, "-c", code, "ask", "/role ehr"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env(PYTHONPATH=str(site)),
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr.startswith(str(site))  # the installed copy answered, not the source tree
    assert "Day to day" in out.stdout
    # The store's migrations ship too: `careerbot db upgrade` works from the installed copy.
    assert {"bot/store/migrations/env.py", "bot/store/migrations/versions/0001_tips.py"} <= set(names)
    upgrade = subprocess.run(
        [sys.executable, "-c", code, "db", "upgrade"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env(PYTHONPATH=str(site), CAREERBOT_DATA_DIR=str(tmp_path / "data")),
        timeout=60,
    )
    assert upgrade.returncode == 0 and f"empty -> {migrations.HEAD}" in upgrade.stdout, upgrade.stderr


def test_readme_command_table_is_generated_from_the_declarations() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- commands:start -->\n")[1].split("<!-- commands:end -->")[0]
    assert table.strip() == run("commands", "--markdown").stdout.strip()
