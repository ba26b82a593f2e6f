"""The architecture is a checked contract: `lint-imports` passes on the tree, fails on a forbidden import,
and no module of bot/ or adapters/ is part of an import cycle (TYPE_CHECKING and deferred imports count).

The contracts live in pyproject.toml under [tool.importlinter]; docs/architecture.md explains them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# The contract names as configured in pyproject.toml.
LAYERS = "Layers, adapters on top and the kernel at the bottom"
WINGS = "Feature wings are independent of one another"
NO_PLATFORM = "bot imports no adapter and no platform SDK"
INFRASTRUCTURE = "Infrastructure imports no wing, context, registry or core"


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` analysing the packages under `cwd` (wide columns, so no line of the report wraps)."""
    env = os.environ | {"PYTHONPATH": str(cwd), "COLUMNS": "300", "NO_COLOR": "1"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_lint_imports_passes_on_the_tree() -> None:
    out = lint_imports(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr


# --- a forbidden import makes it fail ---------------------------------------------------------------


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """bot/, adapters/ and pyproject.toml copied to tmp_path, for lint-imports to analyse there."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("bot", "adapters"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(tree: Path, module: str, statement: str) -> int:
    """Appends `statement` to `module` (a dotted name) in the copy; returns the line it landed on."""
    path = tree.joinpath(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    text = path.read_text(encoding="utf-8")
    if not text.endswith("\n"):
        text += "\n"
    path.write_text(text + statement + "  # noqa\n", encoding="utf-8")
    return text.count("\n") + 1


@pytest.mark.parametrize(
    ("module", "imported", "contract"),
    [
        ("bot.careers.commands", "bot.tips", WINGS),  # a wing importing another wing
        ("bot.schedule", "bot.tips", INFRASTRUCTURE),  # infrastructure importing a wing
        ("bot.errors", "discord", NO_PLATFORM),  # the platform-neutral core importing an SDK
    ],
)
def test_a_forbidden_import_fails_lint_imports(copy: Path, module: str, imported: str, contract: str) -> None:
    line = add_import(copy, module, f"import {imported}")
    out = lint_imports(copy)
    report = out.stdout + out.stderr
    assert out.returncode != 0, report
    assert f"{contract} BROKEN" in report, report
    # The exact import, at a line that exists only in the copy: lint-imports analysed the copy, not the
    # editable install of the checkout.
    assert f"{module} -> {imported} (l.{line})" in report, report


# --- no module-level import cycle -------------------------------------------------------------------


def cycles(nodes: Iterable[str], successors: Callable[[str], Iterable[str]]) -> list[list[str]]:
    """The strongly connected components that are cycles (more than one node, or a node importing
    itself), each sorted; Tarjan's algorithm, iterative so that deep import chains cannot overflow."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(nodes):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(successors(root)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(successors(nxt))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in successors(node):
                    found.append(sorted(component))
    return sorted(found)


def module_cycles(graph: grimp.ImportGraph, packages: tuple[str, ...]) -> list[list[str]]:
    def ours(module: str) -> bool:
        return module.split(".")[0] in packages

    return cycles(
        (m for m in graph.modules if ours(m)),
        lambda m: (i for i in graph.find_modules_directly_imported_by(m) if ours(i)),
    )


def describe(graph: grimp.ImportGraph, component: list[str]) -> str:
    members = set(component)
    lines = []
    for importer in component:
        for imported in sorted(graph.find_modules_directly_imported_by(importer) & members):
            for detail in graph.get_import_details(importer=importer, imported=imported):
                lines.append(f"  {importer} -> {imported} (l.{detail['line_number']})")
    return "\n".join(lines)


def test_no_module_is_part_of_an_import_cycle() -> None:
    packages = ("bot", "adapters")
    graph = grimp.build_graph(*packages, exclude_type_checking_imports=False, cache_dir=None)
    found = module_cycles(graph, packages)
    assert not found, "import cycles:\n" + "\n\n".join(describe(graph, c) for c in found)


def test_the_cycle_finder_finds_cycles() -> None:
    edges: Mapping[str, list[str]] = {
        "bot.a": ["bot.b"],
        "bot.b": ["bot.c", "bot.x"],
        "bot.c": ["bot.a"],  # a -> b -> c -> a
        "bot.d": ["bot.e"],
        "bot.e": ["bot.d", "bot.x"],  # d <-> e
        "bot.x": ["bot.y"],
        "bot.y": [],
        "adapters.p": ["bot.a", "bot.x"],
    }
    graph = grimp.ImportGraph()
    for importer, imported in edges.items():
        graph.add_module(importer)
        for target in imported:
            graph.add_import(importer=importer, imported=target, line_number=1, line_contents=f"import {target}")
    assert module_cycles(graph, ("bot", "adapters")) == [["bot.a", "bot.b", "bot.c"], ["bot.d", "bot.e"]]
    assert cycles(["s"], lambda n: ["s"]) == [["s"]]  # a module importing itself
    assert cycles(["s", "t"], lambda n: ["t"] if n == "s" else []) == []
