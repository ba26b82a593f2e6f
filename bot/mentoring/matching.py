"""Who meets whom in a mentoring round: peer groups and mentor-mentee pairs. Pure and deterministic.

Hard rules take a pairing out before anything is scored:

- **No repeat within the window.** Two people grouped in round ``r`` are not grouped again before round
  ``r + repeat_window + 1``: a pair is a repeat when ``round_no - last_grouped <= repeat_window``. So
  with the default 6 there are at least 6 rounds between two meetings; 0 only forbids the same round.
- **Blocked pairs** (either side asked) are never in one group. In a group of 3 to 5, every pair inside
  obeys both rules.
- **Capacity:** a mentor's group holds the mentor and at most ``capacity`` mentees.

Soft scores are small integers (networkx's matching is many times slower on fine-grained weights):

- peers: ``1 + min(30, 2 * teach + common) + hours + boost(a) + boost(b)`` where ``teach`` counts what A
  wants that B knows plus what B wants that A knows, ``common`` the ids both have in knows or wants,
  ``hours`` the overlap of their 09:00-17:00 working days (0-8), and ``boost`` is 2 for someone left
  out or made the odd one last round, 1 for the round before;
- mentors: ``3 * min(6, wants of the mentee the mentor knows) + hours``; a mentee who sat out ``a``
  rounds ago gets ``1000 // a`` more, which decides who gets a slot but not which mentor.

Ties are broken by the order of the people, a shuffle seeded by ``seed``; same inputs, same Plan
(whatever their order, and in any process). The solvers (pruning, matching, seating) are in
``bot/mentoring/solvers.py``; speed and quality are measured by ``python -m bench.mentoring``.
Every input member ends up exactly once in a group or in ``left_out``, with a reason in plain words.
``history`` should hold the program's own pairs: it is read in full on every call.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from bot.mentoring.solvers import BIG, CELLS, Ints, match, seat

Bits = NDArray[np.uint64]
DAY, WORK, NINE = 1440, 480, 540  # minutes: a day, 09:00-17:00, 09:00
INTEREST_CAP = 30
EXTRA = 1 << 20  # cost of a seat beyond the group size (the odd one)


@dataclass(frozen=True, slots=True)
class Member:
    id: str  # platform user id, opaque
    role: str  # "mentor" | "mentee" | "peer"
    knows: frozenset[str]  # knowledge ids such as "standard:fhir", "role:ehr", "skill:sql"
    wants: frozenset[str]  # what they want to learn, same id space
    utc_offset: int = 0  # minutes east of UTC at the round's time
    capacity: int = 1  # mentors: mentees per round (>= 1)


@dataclass(frozen=True, slots=True)
class History:
    last_grouped: Mapping[frozenset[str], int] = field(default_factory=dict)  # pair -> last round together
    last_sat_out: Mapping[str, int] = field(default_factory=dict)  # id -> last round left out or odd one
    blocked: frozenset[frozenset[str]] = frozenset()  # pairs never to be grouped


@dataclass(frozen=True, slots=True)
class Group:
    members: tuple[str, ...]  # sorted ids; for mentor programs the mentor first
    shared: tuple[str, ...]  # knowledge ids behind the match, sorted, at most 5
    overlap_hours: int  # hours of overlap of 09:00-17:00 local working days between all members
    odd_one: str | None = None  # the member added to make a trio out of an odd count, if any


@dataclass(frozen=True, slots=True)
class Plan:
    groups: tuple[Group, ...]
    left_out: tuple[tuple[str, str], ...]  # (member id, reason in plain words) for everyone not in a group


def _ordered(members: Sequence[Member], seed: int) -> list[Member]:
    order = sorted(members, key=lambda m: m.id)
    if len({m.id for m in order}) != len(order):
        raise ValueError("member ids must be unique")
    random.Random(seed).shuffle(order)
    return order


def _ages(order: Sequence[Member], history: History, round_no: int) -> Ints:
    """Rounds since each person last sat out (0: never)."""
    last = [history.last_sat_out.get(m.id) for m in order]
    return np.array([0 if x is None else max(1, round_no - x) for x in last], np.int64)


def _fairness(order: Sequence[Member], history: History, round_no: int) -> Ints:
    """How strongly each person should get a seat this time: 1000 // rounds since they last sat out."""
    ages = _ages(order, history, round_no)
    return np.where(ages > 0, 1000 // np.maximum(ages, 1), 0)


class _Rules:
    """The hard rules among the people of one round, as index pairs (low, high)."""

    def __init__(self, order: Sequence[Member], history: History, round_no: int, window: int) -> None:
        index = {m.id: i for i, m in enumerate(order)}

        def pairs(found: Iterable[frozenset[str]]) -> set[tuple[int, int]]:
            out = set()
            for pair in found:
                ids = [index.get(x) for x in pair]
                if len(ids) == 2 and ids[0] is not None and ids[1] is not None:
                    out.add((min(ids[0], ids[1]), max(ids[0], ids[1])))
            return out

        self.recent = pairs(p for p, last in history.last_grouped.items() if round_no - last <= window)
        self.blocked = pairs(history.blocked)
        ends = sorted(self.recent | self.blocked)
        self.a = np.array([p[0] for p in ends] + [p[1] for p in ends], np.int64)
        self.b = np.array([p[1] for p in ends] + [p[0] for p in ends], np.int64)
        self.near: dict[int, set[int]] = {}  # who may not be grouped with whom
        for a, b in ends:
            self.near.setdefault(a, set()).add(b)
            self.near.setdefault(b, set()).add(a)

    def mask(self, scores: Ints, rows: Ints, cols: Ints) -> None:
        """Set the forbidden cells of a rows x cols block to -1."""
        n = int(max(rows.max(initial=0), cols.max(initial=0), self.a.max(initial=0))) + 1
        rpos, cpos = np.full(n, -1), np.full(n, -1)
        rpos[rows], cpos[cols] = np.arange(len(rows)), np.arange(len(cols))
        hit = (rpos[self.a] >= 0) & (cpos[self.b] >= 0)
        scores[rpos[self.a[hit]], cpos[self.b[hit]]] = -1

    def why(self, i: int, others: set[int], window: int, who: str, nobody: str) -> str | None:
        """Why ``i`` can be grouped with none of ``others`` (None if with some); blocks are not named."""
        if others - self.near.get(i, set()):
            return None
        if any((min(i, j), max(i, j)) in self.blocked for j in others):
            return nobody
        return f"{who} was matched with you in the last {window} rounds"


def _hours(a: Ints, b: Ints) -> Ints:
    d = np.abs(a - b) % DAY
    hours: Ints = np.maximum(0, WORK - np.minimum(d, DAY - d)) // 60
    return hours


def _overlap(offsets: Iterable[int]) -> int:
    """Whole hours in which everyone's 09:00-17:00 (on the day circle) coincide."""
    common = (1 << DAY) - 1
    for offset in offsets:
        start = (NINE - offset) % DAY
        arc = ((1 << WORK) - 1) << start
        common &= (arc | arc >> DAY) & ((1 << DAY) - 1)
    return common.bit_count() // 60


def _bits(items: Sequence[frozenset[str]], vocab: dict[str, int]) -> Bits:
    """Each set of ids as a row of 64-bit words (popcounts instead of BLAS, whose threads cost more
    than they save at these sizes)."""
    out = np.zeros((len(items), len(vocab) // 64 + 1), np.uint64)
    for i, ids in enumerate(items):
        for x in ids:
            if x in vocab:
                out[i, vocab[x] // 64] |= np.uint64(1 << vocab[x] % 64)
    return out


def _count(a: Bits, b: Bits) -> Ints:
    """How many ids two (broadcast) rows of words share."""
    counts: Ints = np.bitwise_count(a & b).sum(-1, dtype=np.int64)
    return counts


class _Peers:
    """Pair scores of one peer round, computed a block of rows at a time (-1: forbidden or self)."""

    def __init__(self, order: Sequence[Member], rules: _Rules, history: History, round_no: int) -> None:
        self.n = len(order)
        vocab = {x: i for i, x in enumerate(sorted({x for m in order for x in m.knows | m.wants}))}
        self.knows, self.wants = _bits([m.knows for m in order], vocab), _bits([m.wants for m in order], vocab)
        self.both = self.knows | self.wants
        self.offset = np.array([m.utc_offset for m in order], np.int64)
        ages = _ages(order, history, round_no)
        self.boost = np.where(ages > 0, np.maximum(0, 3 - ages), 0)  # 2 if they sat out last round, 1 before
        self.rules = rules

    def score(self, a: Ints, b: Ints) -> Ints:
        """The scores of a[...] with b[...] (broadcast), hard rules aside."""
        k, w, both = self.knows, self.wants, self.both
        interest = np.minimum(2 * (_count(w[a], k[b]) + _count(k[a], w[b])) + _count(both[a], both[b]), INTEREST_CAP)
        scores: Ints = 1 + interest + _hours(self.offset[a], self.offset[b]) + self.boost[a] + self.boost[b]
        return scores

    def block(self, rows: Ints) -> Ints:
        """Everyone's scores with each of ``rows``; -1 where a hard rule forbids it or for themselves."""
        cols, step = np.arange(self.n), max(1, CELLS // max(1, self.n))
        parts = [self.score(rows[i : i + step, None], cols[None, :]) for i in range(0, len(rows), step)]
        scores = np.concatenate(parts) if parts else np.zeros((0, self.n), np.int64)
        scores[np.arange(len(rows)), rows] = -1
        self.rules.mask(scores, rows, cols)
        return scores


def _shared(pairs: Iterable[tuple[Member, Member]], members: Sequence[Member]) -> tuple[str, ...]:
    """What learners want that their teacher knows (most wanted first), then what most members have in
    common; at most five, sorted."""
    teach = Counter(x for learner, teacher in pairs for x in learner.wants & teacher.knows)
    common = Counter(x for m in members for x in m.knows | m.wants)
    found = set(teach) | {x for x, c in common.items() if c > 1}
    return tuple(sorted(sorted(found, key=lambda x: (-teach[x], -common[x], x))[:5]))


def match_peers(
    members: Sequence[Member],
    history: History,
    *,
    round_no: int,
    repeat_window: int = 6,
    group_size: int = 2,
    seed: int = 0,
    candidates: int = 10,
) -> Plan:
    """Peer groups of ``group_size`` (2-4); roles are ignored. Pairs come from a maximum-cardinality,
    maximum-weight matching over each person's top ``candidates`` allowed partners (10 scores as well as
    25 in the bench, at half the time). Sizes:

    - 2: pairs. With an odd count the odd one is picked first, fairly (never sat out, else longest
      ago), and joins the pair it scores best with as a trio.
    - 3: pairs, of which the best-scoring ``n // 3`` (one more if ``n % 3 == 2``, which stays a pair)
      are kept; the others' members join them one each (assignment on summed scores), and with
      ``n % 3 == 1`` one more joins a trio as the odd one.
    - 4: pairs, then a matching of pairs into quads on the sum of their four cross scores; a pair
      left over stays a pair (and may take singles); a single joins as the odd one (a group of 5).

    So groups have 2 to ``group_size + 1`` members. Whoever no group can take without breaking a hard
    rule is in ``left_out``."""
    if group_size not in (2, 3, 4) or candidates < 1:
        raise ValueError("group_size must be 2, 3 or 4 and candidates at least 1")
    order = _ordered(members, seed)
    n = len(order)
    rules = _Rules(order, history, round_no, repeat_window)
    peers = _Peers(order, rules, history, round_no)
    fair = _fairness(order, history, round_no)
    turns = sorted(range(n), key=lambda i: (fair[i], i)) if group_size == 2 and n % 2 else []
    pairs = match(n, peers.block, candidates, turns)
    paired = {i for p in pairs for i in p}
    singles = [i for i in range(n) if i not in paired]
    groups = [list(p) for p in pairs]
    if group_size == 3:
        keep = n // 3 + (n % 3 == 2) if n >= 3 else len(groups)
        ends = np.array(pairs, np.int64).reshape(-1, 2)
        weight = peers.score(ends[:, 0], ends[:, 1]).tolist()
        rank = sorted(range(len(pairs)), key=lambda x: (-weight[x], pairs[x]))
        groups = [groups[x] for x in sorted(rank[:keep])]
        singles = sorted(singles + [i for x in rank[keep:] for i in pairs[x]])
    elif group_size == 4 and len(pairs) > 1:
        ends = np.array(pairs, np.int64)
        cols = [ends[:, 0], ends[:, 1]]

        def quad(rows: Ints) -> Ints:
            parts = [s[:, c] for s in (peers.block(ends[rows, 0]), peers.block(ends[rows, 1])) for c in cols]
            total: Ints = np.sum(parts, axis=0)
            total[np.min(parts, axis=0) < 0] = -1
            return total

        quads = match(len(pairs), quad, candidates)
        used = {x for q in quads for x in q}
        groups = [[*pairs[p], *pairs[q]] for p, q in quads] + [list(p) for x, p in enumerate(pairs) if x not in used]

    def cost(waiting: list[int], open_: list[int]) -> Ints:
        rows = np.array(waiting, np.int64)
        scores = np.hstack([peers.block(rows), np.zeros((len(rows), 1), np.int64)])
        seats = np.full((len(open_), max(len(groups[g]) for g in open_)), n)
        for r, g in enumerate(open_):
            seats[r, : len(groups[g])] = groups[g]
        part = scores[:, seats]  # waiting x open groups x seats; the padding scores 0
        extra = np.array([len(groups[g]) >= group_size for g in open_])
        costs: Ints = np.where(extra[None, :], EXTRA + fair[rows, None], -fair[rows, None]) - part.sum(2)
        costs[(part < 0).any(2)] = BIG
        return costs

    seat(groups, singles, lambda g: group_size + 1 - len(groups[g]), cost)
    built = [
        Group(
            members=tuple(sorted(order[i].id for i in g)),
            shared=_shared([(order[x], order[y]) for x in g for y in g if x != y], [order[i] for i in g]),
            overlap_hours=_overlap(order[i].utc_offset for i in g),
            odd_one=order[g[group_size]].id if len(g) > group_size else None,
        )
        for g in groups
    ]
    nobody, fallback = "no one here can be matched with you this round", "no group could take you this round"
    reasons = {i: rules.why(i, set(range(n)) - {i}, repeat_window, "everyone else here", nobody) for i in singles}
    lonely = "no one else is in this round"
    left = [(order[i].id, (reasons[i] or fallback) if n > 1 else lonely) for i in singles]
    return Plan(tuple(sorted(built, key=lambda g: g.members)), tuple(sorted(left)))


def match_mentors(
    members: Sequence[Member], history: History, *, round_no: int, repeat_window: int = 6, seed: int = 0
) -> Plan:
    """One group per mentor: the mentor and up to ``capacity`` mentees. An optimal assignment of mentees
    to mentor seats (each mentor copied ``capacity`` times) comes first; mentees who may not meet
    another mentee of the same mentor (a recent group or a block) are then re-seated wherever that is
    allowed, one seat per mentor per pass. Members who are neither mentor nor mentee are left out."""
    order = _ordered(members, seed)
    rules = _Rules(order, history, round_no, repeat_window)
    mentors = [i for i, m in enumerate(order) if m.role == "mentor"]
    mentees = [i for i, m in enumerate(order) if m.role == "mentee"]
    if any(order[i].capacity < 1 for i in mentors):
        raise ValueError("a mentor's capacity must be at least 1")
    left = [(m.id, "not a mentor or mentee in this program") for m in order if m.role not in ("mentor", "mentee")]
    groups = [[i] for i in mentors]
    waiting = list(mentees)
    if mentors and mentees:
        vocab = {x: i for i, x in enumerate(sorted({x for i in mentees for x in order[i].wants}))}
        wants, knows = _bits([order[i].wants for i in mentees], vocab), _bits([order[i].knows for i in mentors], vocab)
        teach = _count(wants[:, None, :], knows[None, :, :])
        offset = np.array([m.utc_offset for m in order], np.int64)
        scores = 3 * np.minimum(teach, 6) + _hours(offset[mentees, None], offset[None, mentors])
        scores += _fairness(order, history, round_no)[mentees, None]
        rules.mask(scores, np.array(mentees, np.int64), np.array(mentors, np.int64))  # forbidden: -1
        table: Ints = np.where(scores < 0, BIG, -scores)
        seats = np.array([c for c, i in enumerate(mentors) for _ in range(order[i].capacity)], np.int64)
        chosen = sorted(
            (table[r, seats[s]], seats[s], r) for r, s in zip(*linear_sum_assignment(table[:, seats]), strict=True)
        )
        row = {i: r for r, i in enumerate(mentees)}

        def cost(waiting: list[int], open_: list[int]) -> Ints:
            costs = table[np.ix_([row[i] for i in waiting], open_)]
            for r, i in enumerate(waiting):
                if near := rules.near.get(i):
                    costs[r, [c for c, g in enumerate(open_) if near.intersection(groups[g])]] = BIG
            return costs

        for value, c, r in chosen:  # best first; a clash with a mentee seated before waits
            if value < BIG and not rules.near.get(mentees[r], set()).intersection(groups[c]):
                groups[c].append(mentees[r])
        seated = {i for g in groups for i in g[1:]}
        waiting = [i for i in mentees if i not in seated]
        seat(groups, waiting, lambda c: order[mentors[c]].capacity + 1 - len(groups[c]), cost)
    built = []
    for g in groups:
        mentor, taken = order[g[0]], [order[i] for i in g[1:]]
        if not taken:
            left.append((mentor.id, "no mentee this round"))
            continue
        shared = _shared([(m, mentor) for m in taken], [mentor, *taken])
        built.append(
            Group((mentor.id, *sorted(m.id for m in taken)), shared, _overlap(m.utc_offset for m in [mentor, *taken]))
        )
    full = all(len(g) > order[g[0]].capacity for g in groups)
    fallback = "no mentor with capacity left" if full else "no mentor with room left can take you this round"
    for i in waiting:
        nobody = "no mentor can be matched with you this round"
        why = (
            rules.why(i, set(mentors), repeat_window, "every mentor", nobody) if mentors else "no mentors in this round"
        )
        left.append((order[i].id, why or fallback))
    return Plan(tuple(sorted(built, key=lambda g: g.members)), tuple(sorted(left)))


def explain(group: Group) -> str:
    """Why these people were put together, in ids (the caller renders titles)."""
    if not group.shared:
        why = "no interests in common"
    elif len(group.members) == 2:
        why = "both work with " + ", ".join(group.shared)
    else:
        why = "shared interests: " + ", ".join(group.shared)
    hours = f"{group.overlap_hours} h of working hours overlap" if group.overlap_hours else "no working hours overlap"
    return f"{why}; {hours}"
