"""Hostile knowledge benchmark: ``careerbot validate`` on a knowledge directory with one hostile file.

Run: ``python -m bench.knowledge_hostile [CASE ...]``. For each case it copies the shipped knowledge,
adds (or replaces) one hostile file, runs ``careerbot validate`` on it in a subprocess and prints the
wall time, the child's peak RSS, the exit code and the first line of the report. Prints; asserts nothing.
Targets (issue 8): every case exits 1 with ``FILE:LINE`` first, no traceback, <= 5 s and <= 200 MB.

The cases are also the hostile files of ``tests/knowledge/test_hostile.py``: each is generated on the
spot (nothing large is committed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.knowledge.loader import default_knowledge_dir

TARGET_SECONDS = 5.0
TARGET_MB = 200.0


@dataclass(frozen=True)
class Case:
    """One hostile file: ``make(tree)`` puts it into a copy of the knowledge and returns its path;
    ``expect`` is a piece of the one problem it must be reported with."""

    name: str
    make: Callable[[Path], Path]
    expect: str
    what: str


def _write(name: str, content: bytes | str) -> Callable[[Path], Path]:
    def make(tree: Path) -> Path:
        path = tree / name
        if path.is_symlink() or path.exists():
            path.unlink()
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    return make


def _nested(levels: int) -> bytes:
    return b"x: " + b"[" * levels + b"]" * levels + b"\n"


BILLION_LAUGHS = "\n".join(
    [f"a: &a [{', '.join(['lol'] * 9)}]"]
    + [f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
)


def _keys(count: int) -> str:
    return "tips:\n  - id: tip-many-keys\n" + "".join(f"    key{i}: value\n" for i in range(count))


def _roles_syntax_error(tree: Path) -> Path:
    path = tree / "roles.yaml"
    text = path.read_text()
    path.write_text(text.replace("\n  - id: imaging\n", "\n  - id: [imaging\n", 1))
    return path


def _roles_symlink_loop(tree: Path) -> Path:
    path = tree / "roles.yaml"
    path.unlink()
    path.symlink_to(path.name)
    return path


def _directory(tree: Path) -> Path:
    path = tree / "zz-hostile.yaml"
    path.mkdir()
    (path / "inside.yaml").write_text("roles: []\n")
    return path


def _fifo(tree: Path) -> Path:
    path = tree / "zz-hostile.yaml"
    os.mkfifo(path)
    return path


def _unreadable(tree: Path) -> Path:
    path = _write("zz-hostile.yaml", "tips: []\n")(tree)
    path.chmod(0)
    return path


def _huge(tree: Path) -> Path:
    """A 50 MB file of broken tips (one problem each, were it read)."""
    path = tree / "zz-hostile.yaml"
    line = b"  - {id: NOT-AN-ID, text: x, tags: [no-such-tag]}\n"
    with path.open("wb") as out:
        out.write(b"tips:\n")
        block = line * (2**20 // len(line))
        for _ in range(50):
            out.write(block)
    return path


def _many_problems(tree: Path) -> Path:
    """Within every limit (2.4 MB, 400,000 YAML nodes), but 50,000 broken tips: the report must stay short."""
    return _write("zz-hostile.yaml", "tips:\n" + "  - {id: NOT-AN-ID, text: x, tags: [no-such-tag]}\n" * 50_000)(tree)


CASES: tuple[Case, ...] = (
    Case("deep-50000", _write("zz-hostile.yaml", _nested(50_000)), "nested deeper than", "1: 100 KB nested 50,000"),
    Case("deep-30000", _write("zz-hostile.yaml", _nested(30_000)), "nested deeper than", "1: nested 30,000"),
    Case("billion-laughs", _write("zz-hostile.yaml", BILLION_LAUGHS), "YAML nodes", "2: nested aliases"),
    Case("unknown-tag", _write("zz-hostile.yaml", "x: !foo bar\n"), "unsupported tag", "3: x: !foo bar"),
    Case("bad-int", _write("zz-hostile.yaml", "x: !!int notanint\n"), "as !!int", "3: !!int notanint"),
    Case("bad-timestamp", _write("zz-hostile.yaml", "x: !!timestamp 2020-99-99\n"), "as !!timestamp", "3"),
    Case("recursive-alias", _write("zz-hostile.yaml", "a: &a [*a]\n"), "recursive alias", "3: a: &a [*a]"),
    Case("deep-500", _write("zz-hostile.yaml", _nested(500)), "nested deeper than", "3: nested 500"),
    Case("unreadable", _unreadable, "cannot open", "3: mode 000 (not for root)"),
    Case("not-utf8", _write("zz-hostile.yaml", b"tips:\n  - id: \xff\xfe\n"), "cannot read", "3: bad UTF-8"),
    Case("directory", _directory, "is a directory", "3: a directory named *.yaml"),
    Case("fifo", _fifo, "not a regular file", "3: a FIFO named *.yaml"),
    Case("merge-key", _write("zz-hostile.yaml", "a: &a {x: 1}\nb:\n  <<: *a\n"), "merge keys", "3: <<: *a"),
    Case("keys-40000", _write("zz-hostile.yaml", _keys(40_000)), "keys in one mapping", "4: 40,000 keys"),
    Case("keys-200000", _write("zz-hostile.yaml", _keys(200_000)), "keys in one mapping", "4: 200,000 keys"),
    Case("huge-50mb", _huge, "the limit is", "5: a 50 MB file"),
    Case("many-problems", _many_problems, "is not a valid id", "5: 50,000 broken tips"),
    Case("roles-syntax-error", _roles_syntax_error, "YAML syntax error", "6: roles.yaml broken"),
    Case("roles-symlink-loop", _roles_symlink_loop, "symbolic link loop", "6: roles.yaml a symlink loop"),
)


def make_tree(base: Path, case: Case, source: Path | None = None) -> tuple[Path, Path]:
    """A copy of the shipped knowledge under ``base`` with ``case``'s hostile file: (tree, that file)."""
    tree = base / case.name
    shutil.copytree(source or default_knowledge_dir(), tree)
    return tree, case.make(tree)


def validate(tree: Path) -> tuple[int, str, str, float, float]:
    """``careerbot validate tree`` in a subprocess: (exit code, stdout, stderr, seconds, peak RSS in MB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "adapters.cli", "validate", str(tree)], stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (
            proc.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            seconds,
            (usage.ru_maxrss / 1024),
        )


def _size(n: int) -> str:
    return f"{n} B" if n < 10_000 else f"{n / 1024:.0f} KB" if n < 10_000_000 else f"{n / 2**20:.0f} MB"


def scaled_check(base: Path, scale: int = 100) -> None:
    """The default limits must not refuse real knowledge: load the benchmark's ``scale``x tree."""
    from bench.core import scaled_tree
    from bot.errors import KnowledgeError
    from bot.knowledge.loader import knowledge_files, load
    from bot.knowledge.yamlread import DEFAULT_LIMITS

    tree = base / f"scaled-{scale}x"
    tree.mkdir()
    entries = scaled_tree(default_knowledge_dir(), scale, tree)
    largest = max(knowledge_files(tree), key=lambda p: p.stat().st_size)
    start = time.perf_counter()
    try:
        load(tree)
        outcome = "loads"
    except KnowledgeError as exc:
        outcome = f"REFUSED: {exc.report(1)}"
    seconds = time.perf_counter() - start
    print(
        f"{scale}x tree ({entries} entries, largest file {largest.name} {_size(largest.stat().st_size)}; "
        f"limit {_size(DEFAULT_LIMITS.file_bytes)}): {outcome} in {seconds:.2f} s (in process)"
    )
    shutil.rmtree(tree, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    args = parser.parse_args()
    chosen = [c for c in CASES if not args.cases or c.name in args.cases]
    base = Path(tempfile.mkdtemp(prefix="careerbot-hostile-"))
    try:
        code, _, _, seconds, rss = validate(default_knowledge_dir())
        print(f"baseline: validate the shipped knowledge: exit {code}, {seconds:.2f} s, peak RSS {rss:.0f} MB")
        print(f"targets per hostile case: exit 1, FILE:LINE first, no traceback, <= {TARGET_SECONDS:.0f} s, ", end="")
        print(f"<= {TARGET_MB:.0f} MB\n")
        print(
            f"{'case':<20} {'issue item':<30} {'size':>9} {'exit':>4} {'wall':>7} {'peak RSS':>9} {'lines':>5}  "
            "first line"
        )
        for case in chosen:
            if case.name == "unreadable" and os.geteuid() == 0:
                print(f"{case.name:<20} (skipped: root reads a file of mode 000)")
                continue
            tree, hostile = make_tree(base, case)
            try:
                size = _size(hostile.lstat().st_size)
                code, out, err, seconds, rss = validate(tree)
                first = out.splitlines()[0] if out else "(no output)"
                first = first.replace(str(tree) + os.sep, "")
                traceback = " TRACEBACK!" if "Traceback" in out + err else ""
                print(
                    f"{case.name:<20} {case.what[:30]:<30} {size:>9} {code:>4} {seconds:>6.2f}s {rss:>6.0f} MB "
                    f"{len(out.splitlines()):>5}  {first[:100]}{traceback}"
                )
            finally:
                if hostile.exists() and not hostile.is_symlink():
                    hostile.chmod(0o755)
                shutil.rmtree(tree, ignore_errors=True)
        print()
        scaled_check(base)  # last: a child forked from a big process would count its pages as its own peak
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
