"""The solvers behind the matching, on integer scores only: candidate pruning, maximum-weight matching
(networkx) and seating by optimal assignment (scipy), for bot/mentoring/matching.py. They know nothing
of people."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import networkx as nx
import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

Ints = NDArray[np.int64]
Seating = Callable[[list[int], list[int]], Ints]
BIG = 1 << 40  # cost of a forbidden assignment; rejected afterwards
CELLS = 1 << 20  # score cells computed at a time
EXACT = 400  # nodes up to which the matching is exact


def prune(count: int, block: Callable[[Ints], Ints], k: int) -> Ints:
    """Allowed edges (low, high, weight) to each node's top-k partners, the union of both sides."""
    found = [np.zeros((0, 3), np.int64)]
    step = max(1, CELLS // max(1, count))
    for start in range(0, count, step):
        rows = np.arange(start, min(count, start + step))
        scores = block(rows)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < count else np.tile(np.arange(count), (len(rows), 1))
        weight = np.take_along_axis(scores, top, 1)
        keep = weight > 0
        a, b = np.broadcast_to(rows[:, None], top.shape)[keep], top[keep]
        found.append(np.stack([np.minimum(a, b), np.maximum(a, b), weight[keep]], 1))
    return np.unique(np.concatenate(found), axis=0)


def matching(edges: Ints) -> list[tuple[int, int]]:
    """A maximum-cardinality, maximum-weight matching (networkx's blossom algorithm, exact up to
    ``EXACT`` nodes). On more, mutual best partners (each the other's heaviest edge, ties to the lower
    index) are paired first, pass after pass, until ``EXACT`` nodes are left for the blossom: at 1,000
    people about 4x faster, for 1-2% of the score (measured in bench/mentoring.py)."""
    fixed: list[tuple[int, int]] = []
    while len(np.unique(edges[:, :2])) > EXACT:
        both = np.concatenate([edges, edges[:, [1, 0, 2]]])
        both = both[np.lexsort((both[:, 1], -both[:, 2], both[:, 0]))]  # by node, heaviest first
        first = np.concatenate([[True], both[1:, 0] != both[:-1, 0]])
        best = dict(zip(both[first, 0].tolist(), both[first, 1].tolist(), strict=True))
        mutual = [(a, b) for a, b in best.items() if a < b and best.get(b) == a]
        if not mutual:
            break
        fixed += mutual
        taken = np.array([x for p in mutual for x in p], np.int64)
        edges = edges[~np.isin(edges[:, 0], taken) & ~np.isin(edges[:, 1], taken)]
    graph = nx.Graph()
    graph.add_weighted_edges_from((int(a), int(b), int(w)) for a, b, w in edges)
    found = nx.max_weight_matching(graph, maxcardinality=True)
    return sorted(fixed + [(min(a, b), max(a, b)) for a, b in found])


def match(count: int, block: Callable[[Ints], Ints], k: int, turns: Sequence[int] = ()) -> list[tuple[int, int]]:
    """Pairs of ``count`` nodes: a matching over each node's top-k allowed partners, then another among
    those it left unmatched over all their allowed edges. With ``turns`` (whose turn it is to be the odd
    one, first first) the first with two allowed partners is held out of the first matching."""
    edges = prune(count, block, k) if count > 1 else np.zeros((0, 3), np.int64)
    if turns:
        degree = np.bincount(edges[:, :2].ravel(), minlength=count)
        held = next((i for i in turns if degree[i] >= 2), turns[0])
        edges = edges[(edges[:, 0] != held) & (edges[:, 1] != held)]
    pairs = matching(edges)
    paired = {i for p in pairs for i in p}
    rest = np.array([i for i in range(count) if i not in paired], np.int64)
    if len(rest) > 1:
        small = block(rest)[:, rest]
        a, b = np.nonzero(np.triu(small > 0))
        more = matching(np.stack([a, b, small[a, b]], 1))
        pairs += [(int(min(rest[x], rest[y])), int(max(rest[x], rest[y]))) for x, y in more]
    return sorted(pairs)


def seat(groups: list[list[int]], waiting: list[int], room: Callable[[int], int], cost: Seating) -> None:
    """Seat the waiting in groups with room, one per group per pass (an optimal assignment each time,
    so every newcomer is checked against those seated before). ``cost(waiting, open groups)`` is BIG
    where a seat is forbidden. Who is never seated stays in ``waiting``."""
    while waiting:
        open_ = [g for g in range(len(groups)) if room(g) > 0]
        if not open_:
            return
        costs = cost(waiting, open_)
        placed = set()
        for r, c in zip(*linear_sum_assignment(costs), strict=True):
            if costs[r, c] < BIG:
                groups[open_[c]].append(waiting[r])
                placed.add(waiting[r])
        if not placed:
            return
        waiting[:] = [i for i in waiting if i not in placed]
