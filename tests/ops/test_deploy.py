"""The deployment files: docker-compose.yml, the Dockerfile and .env.example agree with the code.

``docker compose config -q`` checks the file where the docker CLI has the compose plugin; this machine's
docker CLI has none, so the file is also parsed and checked here, always.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("bot", "adapters")
VARIABLE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]+)=", re.MULTILINE)
USED = re.compile(r"\$\{([A-Z][A-Z0-9_]+)(?::?-[^}]*)?\}")


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def env_example() -> set[str]:
    return set(VARIABLE.findall((ROOT / ".env.example").read_text()))


def variables_in_code() -> set[str]:
    """Every CAREERBOT_/SLACK_/DISCORD_ setting the code reads (quoted names in bot/ and adapters/)."""
    found: set[str] = set()
    pattern = re.compile(r"[\"']((?:CAREERBOT|SLACK|DISCORD)_[A-Z0-9_]+)[\"']")
    for folder in CODE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            found.update(pattern.findall(path.read_text()))
    return found


def test_compose_runs_postgres_and_the_bot_wired_together() -> None:
    services = compose()["services"]
    assert {"postgres", "bot"} <= set(services)
    pg, bot = services["postgres"], services["bot"]
    assert pg["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in pg["volumes"])  # a named volume, not the container
    assert set(compose()["volumes"]) >= {v.split(":")[0] for v in pg["volumes"]}
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    url = bot["environment"]["CAREERBOT_DATABASE_URL"]
    assert url.startswith("postgresql+asyncpg://") and "@postgres:5432/" in url
    assert pg["environment"]["POSTGRES_DB"] in url and pg["environment"]["POSTGRES_USER"] in url
    assert "/readyz" in " ".join(bot["healthcheck"]["test"])
    port = bot["environment"]["CAREERBOT_HTTP_PORT"]
    assert f"127.0.0.1:{port}/readyz" in " ".join(bot["healthcheck"]["test"])
    assert any(p.endswith(f":{port}") for p in bot["ports"])
    assert bot["restart"] in ("unless-stopped", "always", "on-failure")
    assert bot["env_file"] == [{"path": ".env", "required": False}]  # optional: compose up works without it
    assert bot["command"][:2] == ["careerbot", "run"]


def test_every_variable_is_explained_in_env_example() -> None:
    listed = env_example()
    text = (ROOT / "docker-compose.yml").read_text()
    assert set(USED.findall(text)) <= listed
    assert set(compose()["services"]["bot"]["environment"]) <= listed
    missing = variables_in_code() - listed
    assert not missing, f"add to .env.example: {sorted(missing)}"
    lines = (ROOT / ".env.example").read_text().splitlines()
    for name in listed:  # one line each, with a comment line above it
        at = next(i for i, line in enumerate(lines) if VARIABLE.match(line) and name in line)
        assert lines[at - 1].startswith("# ") and not VARIABLE.match(lines[at - 1]), name


def test_the_dockerfile_runs_as_a_user_without_build_tools_and_checks_readiness() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert len(stages) == 2, "build wheels in one stage, install them in a clean one"
    final = text.split(stages[-1], 1)[1]
    assert re.search(r"^USER careerbot$", final, re.MULTILINE)
    assert "HEALTHCHECK" in final and "/readyz" in final
    assert "gcc" not in final and "build-essential" not in final
    assert "CAREERBOT_KNOWLEDGE=/app/knowledge" in final  # mount a volume there for live edits


def test_the_compose_command_is_a_real_cli_command() -> None:
    from click.testing import CliRunner

    from adapters.cli import main

    result = CliRunner().invoke(main, ["run", "--help"])
    assert result.exit_code == 0 and "CAREERBOT_HTTP_PORT" in result.output


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="the docker CLI has no compose plugin here; the file is parsed above instead",
)
def test_docker_compose_config_accepts_the_file() -> None:
    done = subprocess.run(["docker", "compose", "config", "-q"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
