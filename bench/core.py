"""Core benchmark: knowledge load, per-command latency, a 100x tree, peak RSS, cold start.

Run: ``python -m bench.core [--scale 100] [--rounds 300]``. Prints numbers; asserts nothing.
Targets (issue 2): load <= 200 ms (1x), <= 3 s (100x); p99 per command <= 1 ms (1x), <= 10 ms (100x);
cold start of ``careerbot ask "/role ehr"`` <= 400 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bot.core import Core
from bot.knowledge.kb import KnowledgeBase
from bot.knowledge.loader import default_knowledge_dir, knowledge_files, load
from bot.knowledge.schema import SECTIONS, RefTo

#: Inputs per command: a list, an exact id, an alias, a typo, and a free-text query.
CASES = {
    "career": ["/career", "/career role", "/career role ehr"],
    "role": ["/role", "/role ehr", "/role electronic health records", "/role telemedcine", "/role x-ray images"],
    "skills": ["/skills", "/skills imaging", "/skills fhir"],
    "software": ["/software", "/software pacs", "/software picture archiving"],
    "compliance": ["/compliance", "/compliance hipaa", "/compliance hippa", "/compliance patient privacy europe"],
    "standard": ["/standard", "/standard fhir", "/standard dicom images"],
    "trends": ["/trends", "/trends ai-ml", "/trends wearables"],
    "why": ["/why"],
    "tip": ["/tip", "/tip fhir", "/tip interviews"],
    "path": ["/path ehr", "/path medical devices"],
    "faq": ["/faq", "/faq salary", "/faq is hipaa certification worth it"],
    "search": ["/search radiology", "/search how do hospitals exchange lab results"],
    "question": [
        "what does a telemedicine developer do?",
        "how do I get into medical imaging software",
        "difference between fhir and hl7v2",
        "what salary can i expect",
        "a good pizza place in berlin",
    ],
}


def ms(ns: float) -> str:
    return f"{ns / 1e6:8.3f} ms"


def percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def time_load(directory: Path, repeat: int) -> tuple[float, float]:
    """Median seconds for load+validate and for building the indexes."""
    loads, builds = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        knowledge = load(directory)
        t1 = time.perf_counter()
        KnowledgeBase(knowledge)
        t2 = time.perf_counter()
        loads.append(t1 - t0)
        builds.append(t2 - t1)
    return statistics.median(loads), statistics.median(builds)


def time_commands(core: Core, rounds: int) -> dict[str, tuple[float, float]]:
    async def run() -> dict[str, tuple[float, float]]:
        out = {}
        for name, texts in CASES.items():
            samples: list[int] = []
            for text in texts:  # warm up caches once per input
                await core.ask(text)
            for i in range(rounds):
                text = texts[i % len(texts)]
                t0 = time.perf_counter_ns()
                await core.ask(text)
                samples.append(time.perf_counter_ns() - t0)
            out[name] = (percentile(samples, 0.50), percentile(samples, 0.99))
        return out

    return asyncio.run(run())


def scaled_tree(source: Path, scale: int, target: Path) -> int:
    """Write ``scale`` copies of every entry (ids, titles, aliases and references suffixed per copy,
    so every reference stays valid and no alias clashes). Returns the number of entries written."""
    ref_fields = {
        section: {name for name, info in model.model_fields.items() if any(isinstance(m, RefTo) for m in info.metadata)}
        for section, (_, model) in SECTIONS.items()
    }
    merged: dict[str, list[Any]] = {}
    for path in knowledge_files(source):
        for section, items in (yaml.load(path.read_text(), Loader=yaml.CSafeLoader) or {}).items():
            merged.setdefault(section, []).extend(items)
    count = 0
    for section, items in merged.items():
        out = []
        for copy in range(scale):
            sfx = "" if copy == 0 else f"-x{copy}"
            for item in items:
                # each copy owns its lists: shared ones would be dumped as YAML aliases, which are limited
                clone = {k: list(v) if isinstance(v, list) else v for k, v in item.items()}
                clone["id"] = item["id"] + sfx
                if copy and "title" in item:
                    clone["title"] = f"{item['title']} (copy {copy})"
                if copy and "question" in item:  # a FAQ's wordings, like titles and aliases, must be unique
                    clone["question"] = f"{item['question']} (copy {copy})"
                for name in ("aliases", "asked"):
                    if copy and name in item:
                        clone[name] = [f"{a} copy{copy}" for a in item[name]]
                for name in ref_fields[section]:
                    if name in item:
                        clone[name] = [r + sfx for r in item[name]]
                out.append(clone)
        count += len(out)
        (target / f"{section}.yaml").write_text(yaml.dump({section: out}, Dumper=yaml.CSafeDumper, width=1000))
    return count


def cold_start(runs: int) -> float:
    exe = Path(sys.executable).with_name("careerbot")
    cmd = [str(exe), "ask", "/role ehr"] if exe.exists() else [sys.executable, "-m", "adapters.cli", "ask", "/role ehr"]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def report_commands(label: str, results: dict[str, tuple[float, float]]) -> None:
    print(f"\nper-command latency, {label} (p50 / p99):")
    for name, (p50, p99) in results.items():
        print(f"  {name:<11} {ms(p50)}  {ms(p99)}")
    print(f"  worst p99: {ms(max(p99 for _, p99 in results.values()))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    source = default_knowledge_dir()

    load_1x, build_1x = time_load(source, 5)
    print(f"knowledge 1x: load+validate {load_1x * 1e3:.1f} ms, index build {build_1x * 1e3:.1f} ms")
    core = Core(source, rng=random.Random(1), memo_size=0)  # time the work, not the reuse of pure replies
    report_commands("1x", time_commands(core, args.rounds))
    memo = Core(source, rng=random.Random(1))
    report_commands("1x, pure replies reused (the default)", time_commands(memo, args.rounds))
    print(f"peak RSS after the 1x tree: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

    tmp = Path(tempfile.mkdtemp(prefix="careerbot-bench-"))
    try:
        entries = scaled_tree(source, args.scale, tmp)
        load_nx, build_nx = time_load(tmp, 1)
        print(
            f"\nknowledge {args.scale}x ({entries} entries): load+validate {load_nx * 1e3:.0f} ms, "
            f"index build {build_nx * 1e3:.0f} ms, total {(load_nx + build_nx) * 1e3:.0f} ms"
        )
        big = Core(tmp, rng=random.Random(1), memo_size=0)
        report_commands(f"{args.scale}x", time_commands(big, max(50, args.rounds // 3)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS (this process, incl. the {args.scale}x tree): {rss_mb:.0f} MB")
    print(f'cold start `careerbot ask "/role ehr"` (median of 7): {cold_start(7) * 1e3:.0f} ms')


if __name__ == "__main__":
    main()
