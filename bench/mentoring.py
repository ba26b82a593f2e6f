"""Benchmark: matching mentoring rounds (bot/mentoring/matching.py), speed and quality.

    python -m bench.mentoring [--rounds 20] [--window 6] [--big 0]

Synthetic people over a vocabulary of 150 knowledge ids (popularity skewed, as real interests are),
9 time zones. Cases: 1,000 peers in one channel; 10,000 peers in 100 channels of 60-140 (odd sizes
included); a mentor program of 200 mentors (capacity 1-5) x 1,000 mentees; each first without history,
then over ``--rounds`` rounds that feed their groups back into the history (as the wing does). Targets:
1,000 in one channel <= 2 s; 10,000 in 100 channels <= 20 s per round. Quality: what one wants that the
other knows and interests in common per pair (against a random pairing), working-hours overlap,
repeats within the window and blocked pairs grouped (both must be 0), and sat-out fairness: the most
rounds anyone was left out or made the odd one, and how often someone was that twice in a row.
``--big N`` also times one channel of N. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from bot.mentoring.matching import History, Member, Plan, match_mentors, match_peers

KINDS = ["skill", "standard", "role", "software", "compliance", "trend"]
VOCAB = [f"{KINDS[i % len(KINDS)]}:k{i}" for i in range(150)]
WEIGHTS = [1 / (i + 1) ** 0.8 for i in range(len(VOCAB))]  # a few popular ids, a long tail
ZONES = [-480, -420, -300, -240, 0, 60, 120, 330, 600]  # minutes east of UTC
ZONE_WEIGHTS = [2, 1, 4, 2, 3, 4, 1, 2, 1]


def person(rng: random.Random, uid: str, role: str = "peer") -> Member:
    def ids(count: int) -> frozenset[str]:
        return frozenset(rng.choices(VOCAB, WEIGHTS, k=count))

    return Member(
        id=uid,
        role=role,
        knows=ids(rng.randint(3, 8)),
        wants=ids(rng.randint(1, 4)) if role != "mentor" else frozenset(),
        utc_offset=rng.choices(ZONES, ZONE_WEIGHTS)[0],
        capacity=rng.randint(1, 5) if role == "mentor" else 1,
    )


def blocks(rng: random.Random, members: Sequence[Member], share: float = 0.002) -> frozenset[frozenset[str]]:
    return frozenset(
        frozenset(p)
        for p in (rng.sample([m.id for m in members], 2) for _ in range(int(share * len(members) ** 2 / 2)))
    )


@dataclass
class Tally:
    """Quality over simulated rounds of one program."""

    window: int
    last: dict[frozenset[str], int] = field(default_factory=dict)
    sat_out: Counter[str] = field(default_factory=Counter)
    prev_sat_out: set[str] = field(default_factory=set)
    twice_in_a_row: int = 0
    repeats: int = 0
    blocked: int = 0
    pairs: int = 0
    wanted: int = 0
    common: int = 0
    hours: int = 0
    left_out: int = 0
    odd_ones: int = 0

    def add(self, plan: Plan, members: dict[str, Member], history: History, round_no: int) -> History:
        grouped, sat = dict(history.last_grouped), dict(history.last_sat_out)
        now: set[str] = set()
        for group in plan.groups:
            for a, b in combinations(group.members, 2):
                key = frozenset((a, b))
                self.repeats += round_no - self.last.get(key, -(10**9)) <= self.window
                self.blocked += key in history.blocked
                self.last[key] = grouped[key] = round_no
                ma, mb = members[a], members[b]
                if ma.role == mb.role == "mentee":  # quality is what the mentor brings
                    continue
                self.pairs += 1
                self.wanted += len(ma.wants & mb.knows) + len(mb.wants & ma.knows)
                self.common += len((ma.knows | ma.wants) & (mb.knows | mb.wants))
            self.hours += group.overlap_hours
            if group.odd_one:
                now.add(group.odd_one)
                self.odd_ones += 1
        now |= {m for m, _ in plan.left_out if members[m].role != "mentor"}
        self.left_out += len(plan.left_out)
        self.twice_in_a_row += len(now & self.prev_sat_out)
        self.sat_out.update(now)
        self.prev_sat_out = now
        sat.update(dict.fromkeys(now, round_no))
        return History(grouped, sat, history.blocked)

    def report(self, rounds: int, groups: int) -> str:
        per = max(1, self.pairs)
        most = max(self.sat_out.values(), default=0)
        return (
            f"    quality over {rounds} rounds: per pair {self.wanted / per:.2f} wanted-and-known, "
            f"{self.common / per:.2f} in common; {self.hours / max(1, groups):.1f} h overlap per group\n"
            f"    repeats within {self.window} rounds: {self.repeats}; blocked pairs grouped: {self.blocked}\n"
            f"    sat out (left out or odd one): {sum(self.sat_out.values())} times by {len(self.sat_out)} people, "
            f"at most {most} each; twice in a row: {self.twice_in_a_row}; left out in all: {self.left_out}"
        )


def random_pairing(rng: random.Random, members: Sequence[Member]) -> tuple[float, float]:
    order = list(members)
    rng.shuffle(order)
    pairs = list(zip(order[::2], order[1::2], strict=False))
    wanted = sum(len(a.wants & b.knows) + len(b.wants & a.knows) for a, b in pairs)
    common = sum(len((a.knows | a.wants) & (b.knows | b.wants)) for a, b in pairs)
    return wanted / len(pairs), common / len(pairs)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def simulate(
    label: str,
    programs: list[list[Member]],
    match: Callable[[list[Member], History, int], Plan],
    rounds: int,
    window: int,
    rng: random.Random,
) -> None:
    histories = [History(blocked=blocks(rng, p)) for p in programs]
    tallies = [Tally(window) for _ in programs]
    index = [{m.id: m for m in p} for p in programs]
    times, groups = [], 0
    for round_no in range(1, rounds + 1):
        t0 = time.perf_counter()
        plans = [match(p, h, round_no) for p, h in zip(programs, histories, strict=True)]
        times.append(time.perf_counter() - t0)
        groups += sum(len(p.groups) for p in plans)
        for k, plan in enumerate(plans):
            histories[k] = tallies[k].add(plan, index[k], histories[k], round_no)
        if round_no == 1:
            print(f"  {label}: round 1 (no history) {times[0]:.2f} s, peak RSS {rss_mb():.0f} MB")
    total = Tally(window)
    for t in tallies:
        for name in ("repeats", "blocked", "pairs", "wanted", "common", "hours", "left_out", "twice_in_a_row"):
            setattr(total, name, getattr(total, name) + getattr(t, name))
        total.sat_out.update(t.sat_out)
    later = times[1:] or times
    print(
        f"    with history: median {statistics.median(later):.2f} s, max {max(later):.2f} s per round; "
        f"peak RSS {rss_mb():.0f} MB"
    )
    print(total.report(rounds, groups))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--window", type=int, default=6)
    parser.add_argument("--big", type=int, default=0, help="also time one channel of this many peers")
    parser.add_argument("--candidates", type=int, default=None, help="match_peers' candidates (its default if unset)")
    args = parser.parse_args()
    rng = random.Random(20260101)
    w, r = args.window, args.rounds
    extra = {} if args.candidates is None else {"candidates": args.candidates}
    match_peers([person(rng, f"w{i}") for i in range(20)], History(), round_no=1)  # imports, warm caches
    print(f"vocabulary {len(VOCAB)} ids, {len(ZONES)} time zones, window {w} rounds, {r} rounds simulated")

    channel = [person(rng, f"u{i:05d}") for i in range(1000)]
    wanted, common = random_pairing(rng, channel)
    print(f"\nrandom pairing for reference: per pair {wanted:.2f} wanted-and-known, {common:.2f} in common")

    print("\n1,000 peers in one channel (target <= 2 s):")
    simulate("pairs", [channel], lambda p, h, n: match_peers(p, h, round_no=n, repeat_window=w, **extra), r, w, rng)
    for size in (3, 4):
        t0 = time.perf_counter()
        plan = match_peers(channel, History(), round_no=1, group_size=size, **extra)
        made = sorted(Counter(len(g.members) for g in plan.groups).items())
        print(f"  groups of {size}: {time.perf_counter() - t0:.2f} s, sizes {made}, left out {len(plan.left_out)}")

    sizes = [rng.randint(60, 140) for _ in range(99)]
    sizes.append(10_000 - sum(sizes))
    channels = [[person(rng, f"c{c}u{i:03d}") for i in range(size)] for c, size in enumerate(sizes)]
    odd = sum(s % 2 for s in sizes)
    print(f"\n10,000 peers in 100 channels of {min(sizes)}-{max(sizes)} ({odd} odd-sized; target <= 20 s per round):")
    simulate("pairs", channels, lambda p, h, n: match_peers(p, h, round_no=n, repeat_window=w, **extra), r, w, rng)

    program = [person(rng, f"m{i:03d}", "mentor") for i in range(200)]
    program += [person(rng, f"e{i:04d}", "mentee") for i in range(1000)]
    seats = sum(m.capacity for m in program if m.role == "mentor")
    mentors = [m for m in program if m.role == "mentor"]
    known = statistics.mean(len(m.wants & rng.choice(mentors).knows) for m in program if m.role == "mentee")
    print(
        f"\nmentor program: 200 mentors ({seats} seats) x 1,000 mentees "
        f"(a random mentor would know {known:.2f} of what a mentee wants):"
    )
    simulate("mentors", [program], lambda p, h, n: match_mentors(p, h, round_no=n, repeat_window=w), r, w, rng)

    if args.big:
        big = [person(rng, f"b{i:06d}") for i in range(args.big)]
        t0 = time.perf_counter()
        plan = match_peers(big, History(), round_no=1, **extra)
        print(f"\none channel of {args.big:,}: {time.perf_counter() - t0:.2f} s, {len(plan.groups)} groups")
    print(f"\npeak RSS (this process): {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
