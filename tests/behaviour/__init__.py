"""A behaviour snapshot: ``careerbot ask --json`` for a fixed list of inputs, kept as a golden file.

The golden file holds each input with its answer, so a refactor that must not change behaviour (the
feature-wings move, say) is checked byte for byte by ``tests/test_behaviour_golden.py``. An
intended change of behaviour regenerates it, and the diff of ``golden.jsonl`` shows what changed::

    .venv/bin/python -m tests.behaviour --update

The inputs are every example of every declared command, 200 hostile strings (made once from a fixed
seed and stored in the golden file, so later changes to the generator do not move them) sent as free
text and to every command in turn, and a console ``/tips`` session on a fresh store.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden.jsonl"
CAREERBOT = Path(sys.executable).with_name("careerbot")
SEED = "7"
NOW = "2026-03-02T08:00:00+00:00"
"""A Monday morning before the default 09:00 post, so ``/tips`` answers name the same next post."""

TIPS_FLOW = [
    "/tips list",
    "/tips preview",
    "/tips subscribe time:09:00 timezone:Europe/Berlin",
    "/tips list",
    "/tips subscribe time:7:30 days:weekdays topic:interviews",
    "/tips preview",
    "/tips skip",
    "/tips subscribe channel:#imaging-team time:18:00 timezone:America/New_York days:mon,wed,fri",
    "/tips list",
    "/tips unsubscribe channel:#imaging-team",
    "/tips unsubscribe",
    "/tips unsubscribe",
    "/tips subscribe time:25:00",
    "/tips subscribe timezone:Mars/Olympus",
    "/tips nonsense",
]


def hostile_strings(count: int = 200, seed: int = 20261201) -> list[str]:
    """Text built from the hostile pieces the property tests use: mention tokens, control and
    bidi characters, markup, very long words, and random printable and non-printable characters."""
    from tests.mentions import HOSTILE_MENTIONS

    rng = random.Random(seed)
    pieces = [*HOSTILE_MENTIONS, "<@U123>", "<@&42>", "<#C1>", "\x00", "\u202e", "*bold*", "`x`", "> quote", "\n"]
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 -_:#@<>&|*`~\\/\"'\u00e9\u4e2d\u0301\ufeff\u200b\t"
    out: list[str] = []
    while len(out) < count:
        shape = rng.randrange(4)
        if shape == 0:
            text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 300)))
        elif shape == 1:
            text = " ".join(rng.choice(pieces) for _ in range(rng.randrange(1, 20)))
        elif shape == 2:
            text = "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(1, 120)))
        else:
            text = rng.choice(["ehr ", "fhir ", "hipaa ", ""]) + rng.choice(pieces) * rng.randrange(1, 400)
        out.append(text.replace("\n", " ").replace("\r", " "))  # one input per line
    return out


def command_inputs(hostile: list[str]) -> list[str]:
    """Every declared example, then each hostile string as free text and to one command in turn."""
    declared = json.loads(_careerbot("commands", "--json"))
    names = [c["name"] for c in declared]
    examples = [e for c in declared for e in c.get("examples", [])]
    sent = [text if i % 2 == 0 else f"/{names[i // 2 % len(names)]} {text}" for i, text in enumerate(hostile)]
    return examples + sent


def _careerbot(*args: str, stdin: str = "", data_dir: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "CAREERBOT_"))}
    env |= {"NO_COLOR": "1", "CAREERBOT_DATA_DIR": data_dir or tempfile.gettempdir()}
    done = subprocess.run(
        [str(CAREERBOT), *args], input=stdin, capture_output=True, text=True, env=env, timeout=300, check=True
    )
    return done.stdout


def answers(inputs: list[str]) -> list[str]:
    """One ``careerbot ask --json`` line per input, on a fresh store, at a fixed moment and seed."""
    with tempfile.TemporaryDirectory() as data_dir:
        out = _careerbot(
            "ask", "--json", "--seed", SEED, "--now", NOW, stdin="\n".join(inputs) + "\n", data_dir=data_dir
        )
    lines = out.split("\n")[:-1]  # not splitlines(): answers may hold U+2028
    assert len(lines) == len(inputs), f"{len(inputs)} inputs gave {len(lines)} answers"
    return lines


def snapshot(hostile: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for group, inputs in (("commands", command_inputs(hostile)), ("tips", TIPS_FLOW)):
        for text, answer in zip(inputs, answers(inputs), strict=True):
            rows.append({"group": group, "input": text, "answer": answer})
    return rows


def read_golden() -> list[dict[str, Any]]:
    return [json.loads(line) for line in GOLDEN.read_text(encoding="utf-8").split("\n") if line]


def stored_hostile(rows: list[dict[str, Any]]) -> list[str]:
    return [r["input"] for r in rows if r["group"] == "hostile-input"]


def write_golden(hostile: list[str]) -> None:
    rows = [{"group": "hostile-input", "input": text, "answer": ""} for text in hostile] + snapshot(hostile)
    GOLDEN.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
