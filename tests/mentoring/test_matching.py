"""The matching of a mentoring round on its own: hard rules, fairness, determinism and quality."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.mentoring.matching import Group, History, Member, Plan, explain, match_mentors, match_peers

VOCAB = [f"skill:s{i}" for i in range(6)] + ["standard:fhir", "standard:dicom", "role:ehr", "role:imaging"]
ZONES = [-480, -300, 0, 60, 330, 540]


def people(count: int, seed: int = 1, role: str = "peer", prefix: str = "u") -> list[Member]:
    rng = random.Random(seed)
    return [
        Member(
            id=f"{prefix}{i:03d}",
            role=role,
            knows=frozenset(rng.sample(VOCAB, 3)),
            wants=frozenset(rng.sample(VOCAB, 2)),
            utc_offset=rng.choice(ZONES),
        )
        for i in range(count)
    ]


def pair(a: str, b: str) -> frozenset[str]:
    return frozenset((a, b))


def feed(history: History, plan: Plan, round_no: int) -> History:
    """The history after a round, as the rest of the wing records it."""
    grouped = dict(history.last_grouped)
    sat_out = dict(history.last_sat_out)
    for group in plan.groups:
        grouped.update({pair(a, b): round_no for a, b in combinations(group.members, 2)})
        if group.odd_one:
            sat_out[group.odd_one] = round_no
    sat_out.update({member: round_no for member, _ in plan.left_out})
    return History(grouped, sat_out, history.blocked)


def assert_valid(plan: Plan, members: Sequence[Member], history: History, round_no: int, window: int) -> None:
    """Everyone exactly once, groups well formed, and no pair inside a group breaks a hard rule."""
    placed = [m for g in plan.groups for m in g.members] + [m for m, _ in plan.left_out]
    assert Counter(placed) == Counter(m.id for m in members)
    assert all(reason for _, reason in plan.left_out)
    for group in plan.groups:
        assert len(group.members) >= 2
        assert len(group.shared) <= 5 and list(group.shared) == sorted(group.shared)
        assert 0 <= group.overlap_hours <= 8
        assert group.odd_one is None or group.odd_one in group.members
        for a, b in combinations(group.members, 2):
            assert pair(a, b) not in history.blocked
            assert round_no - history.last_grouped.get(pair(a, b), -(10**9)) > window


def test_the_window_is_exact_they_meet_again_from_round_r_plus_window_plus_one() -> None:
    a, b = people(2)
    history = History({pair(a.id, b.id): 1})
    assert not match_peers([a, b], history, round_no=7, repeat_window=6).groups
    assert match_peers([a, b], history, round_no=7, repeat_window=6).left_out == (
        (a.id, "everyone else here was matched with you in the last 6 rounds"),
        (b.id, "everyone else here was matched with you in the last 6 rounds"),
    )
    assert match_peers([a, b], history, round_no=8, repeat_window=6).groups[0].members == (a.id, b.id)


@pytest.mark.parametrize("group_size", [2, 3, 4])
def test_no_repeat_inside_the_window_across_20_rounds(group_size: int) -> None:
    members, window = people(31 if group_size == 2 else 40), 6
    history, met = History(), Counter[frozenset[str]]()
    last: dict[frozenset[str], int] = {}
    for round_no in range(1, 21):
        plan = match_peers(members, history, round_no=round_no, repeat_window=window, group_size=group_size)
        assert_valid(plan, members, history, round_no, window)
        assert len(plan.left_out) <= len(members) // 4  # the rules bind, but most people still meet someone
        for group in plan.groups:
            assert 2 <= len(group.members) <= group_size + 1
            for a, b in combinations(group.members, 2):
                assert round_no - last.get(pair(a, b), -100) > window
                last[pair(a, b)] = round_no
                met[pair(a, b)] += 1
        history = feed(history, plan, round_no)
    assert max(met.values()) >= 2  # pairs did meet again once the window had passed


def test_the_odd_one_is_never_dropped_nor_the_same_twice_in_a_row() -> None:
    members = people(13, seed=3)
    history, odd_ones = History(), []
    for round_no in range(1, 40):
        plan = match_peers(members, history, round_no=round_no, repeat_window=2, seed=round_no)
        assert_valid(plan, members, history, round_no, 2)
        assert not plan.left_out
        (trio,) = [g for g in plan.groups if len(g.members) == 3]
        assert trio.odd_one is not None
        odd_ones.append(trio.odd_one)
        history = feed(history, plan, round_no)
    assert all(a != b for a, b in zip(odd_ones, odd_ones[1:], strict=False))
    turns = Counter(odd_ones)
    assert len(turns) == 13 and max(turns.values()) - min(turns.values()) <= 1  # everyone's turn comes, in turn


def test_a_large_channel_takes_the_fast_path_and_keeps_every_rule() -> None:
    members, rng = people(501, seed=5), random.Random(5)
    ids = [m.id for m in members]
    history = History(
        {pair(*rng.sample(ids, 2)): rng.randint(1, 9) for _ in range(3000)},
        {ids[0]: 9},
        frozenset(pair(*rng.sample(ids, 2)) for _ in range(500)),
    )
    plan = match_peers(members, history, round_no=10)
    assert_valid(plan, members, history, 10, 6)
    assert not plan.left_out and [len(g.members) for g in plan.groups].count(3) == 1
    assert all(g.odd_one != ids[0] for g in plan.groups)
    assert match_peers(list(reversed(members)), history, round_no=10) == plan


def test_a_lone_member_is_left_out_with_a_reason_not_dropped() -> None:
    (alone,) = people(1)
    assert match_peers([alone], History(), round_no=1) == Plan((), ((alone.id, "no one else is in this round"),))
    assert match_peers([], History(), round_no=1) == Plan((), ())


def test_blocked_pairs_are_never_grouped_even_when_they_fit_best() -> None:
    fhir = frozenset({"standard:fhir", "role:ehr", "skill:s1"})
    a, b = Member("a", "peer", fhir, fhir), Member("b", "peer", fhir, fhir)
    c, d = Member("c", "peer", frozenset({"skill:s2"}), frozenset()), Member("d", "peer", frozenset(), frozenset())
    assert [g.members for g in match_peers([a, b, c, d], History(), round_no=1).groups] == [("a", "b"), ("c", "d")]
    blocked = History(blocked=frozenset({pair("a", "b")}))
    plan = match_peers([a, b, c, d], blocked, round_no=1)
    assert_valid(plan, [a, b, c, d], blocked, 1, 6)
    assert all({"a", "b"} - set(g.members) for g in plan.groups) and len(plan.groups) == 2


def test_the_odd_one_joins_no_trio_that_holds_a_blocked_pair() -> None:
    members = people(5)
    ids = [m.id for m in members]
    history = History(blocked=frozenset(pair(ids[0], x) for x in ids[1:4]))
    plan = match_peers(members, history, round_no=1)
    assert_valid(plan, members, history, 1, 6)
    assert [g.members for g in plan.groups if ids[0] in g.members] == [(ids[0], ids[4])]


def test_group_sizes_three_and_four_cover_everyone() -> None:
    for count in range(2, 15):
        members = people(count, seed=count)
        for size in (3, 4):
            plan = match_peers(members, History(), round_no=1, group_size=size)
            assert_valid(plan, members, History(), 1, 6)
            assert not plan.left_out
            sizes = Counter(len(g.members) for g in plan.groups)
            assert set(sizes) <= {2, 3, 4, 5}
            assert sizes[size] >= count // size - 1 and sizes[size + 1] <= 1 + (size == 4)
            assert all(g.odd_one is None for g in plan.groups if len(g.members) <= size)


def test_a_mentee_who_wants_dicom_gets_the_mentor_who_knows_it() -> None:
    mentee = Member("mentee", "mentee", frozenset({"skill:sql"}), frozenset({"standard:dicom"}))
    knows = Member("m-imaging", "mentor", frozenset({"standard:dicom", "role:imaging"}), frozenset())
    other = Member("m-ehr", "mentor", frozenset({"standard:fhir", "role:ehr"}), frozenset())
    for seed in range(5):
        plan = match_mentors([other, mentee, knows], History(), round_no=1, seed=seed)
        assert plan.groups == (Group(("m-imaging", "mentee"), ("standard:dicom",), 8),)
        assert plan.left_out == (("m-ehr", "no mentee this round"),)
    assert explain(plan.groups[0]) == "both work with standard:dicom; 8 h of working hours overlap"


def test_explain_names_the_shared_ids_and_the_hours() -> None:
    trio = Group(("a", "b", "c"), ("role:ehr", "standard:fhir"), 0, odd_one="c")
    assert explain(trio) == "shared interests: role:ehr, standard:fhir; no working hours overlap"
    assert explain(Group(("a", "b"), (), 3)) == "no interests in common; 3 h of working hours overlap"


def test_mentor_capacity_is_never_exceeded_and_who_waits_is_told_why() -> None:
    mentors = [Member(f"m{i}", "mentor", frozenset(VOCAB), frozenset(), capacity=i + 1) for i in range(3)]
    mentees = people(8, role="mentee", prefix="e")
    plan = match_mentors(mentors + mentees, History(), round_no=1)
    assert {g.members[0]: len(g.members) - 1 for g in plan.groups} == {"m0": 1, "m1": 2, "m2": 3}
    assert all(list(g.members[1:]) == sorted(g.members[1:]) for g in plan.groups)
    assert Counter(reason for _, reason in plan.left_out) == {"no mentor with capacity left": 2}
    waited = {m for m, _ in plan.left_out}
    # next round the two who waited are favoured
    later = match_mentors(mentors + mentees, History(last_sat_out=dict.fromkeys(waited, 1)), round_no=2)
    assert waited <= {m for g in later.groups for m in g.members[1:]}


def test_mentees_sharing_a_mentor_obey_the_rules_between_them_too() -> None:
    mentor = Member("m", "mentor", frozenset({"skill:s1"}), frozenset(), capacity=2)
    other = Member("n", "mentor", frozenset(), frozenset(), capacity=1)
    e1, e2 = (Member(f"e{i}", "mentee", frozenset(), frozenset({"skill:s1"})) for i in (1, 2))
    history = History(blocked=frozenset({pair("e1", "e2")}))
    plan = match_mentors([mentor, other, e1, e2], history, round_no=1)
    assert sorted(len(g.members) for g in plan.groups) == [2, 2] and not plan.left_out
    alone = match_mentors([mentor, e1, e2], history, round_no=1)
    assert len(alone.groups) == 1 and len(alone.left_out) == 1
    assert alone.left_out[0][1] == "no mentor with room left can take you this round"


def test_mentees_matched_with_every_mentor_recently_are_told_so() -> None:
    mentor = Member("m", "mentor", frozenset({"skill:s1"}), frozenset(), capacity=3)
    mentee, peer = (
        Member("e", "mentee", frozenset(), frozenset({"skill:s1"})),
        Member("p", "peer", frozenset(), frozenset()),
    )
    plan = match_mentors([mentor, mentee, peer], History({pair("m", "e"): 4}), round_no=5)
    assert plan.groups == ()
    assert plan.left_out == (
        ("e", "every mentor was matched with you in the last 6 rounds"),
        ("m", "no mentee this round"),
        ("p", "not a mentor or mentee in this program"),
    )
    assert match_mentors([mentor, mentee], History({pair("m", "e"): 4}), round_no=11).groups[0].members == ("m", "e")


# --- properties ---------------------------------------------------------------------------------------

IDS = [f"u{i}" for i in range(14)]


@st.composite
def rounds(draw: st.DrawFn, roles: Sequence[str]) -> tuple[list[Member], History, int]:
    ids = draw(st.lists(st.sampled_from(IDS), unique=True, max_size=len(IDS)))
    subsets = st.frozensets(st.sampled_from(VOCAB), max_size=4)
    members = [
        Member(
            i,
            draw(st.sampled_from(roles)),
            draw(subsets),
            draw(subsets),
            draw(st.sampled_from(ZONES)),
            draw(st.integers(1, 3)),
        )
        for i in ids
    ]
    pairs = st.sets(st.sampled_from(IDS), min_size=2, max_size=2).map(frozenset)
    history = History(
        draw(st.dictionaries(pairs, st.integers(0, 12), max_size=30)),
        draw(st.dictionaries(st.sampled_from(IDS), st.integers(0, 12), max_size=8)),
        draw(st.frozensets(pairs, max_size=12)),
    )
    return members, history, draw(st.integers(8, 14))


@settings(max_examples=200, deadline=None)
@given(rounds(["peer"]), st.integers(0, 6), st.integers(2, 4), st.integers(0, 3), st.integers(1, 8))
def test_peer_plans_are_valid_and_deterministic(
    case: tuple[list[Member], History, int], window: int, size: int, seed: int, candidates: int
) -> None:
    members, history, round_no = case
    kwargs = {"round_no": round_no, "repeat_window": window, "group_size": size, "seed": seed}
    plan = match_peers(members, history, candidates=candidates, **kwargs)
    assert_valid(plan, members, history, round_no, window)
    assert all(len(g.members) <= size + 1 for g in plan.groups)
    assert sum(g.odd_one is not None for g in plan.groups) <= 1 + len(plan.groups) // 2
    assert match_peers(list(reversed(members)), history, candidates=candidates, **kwargs) == plan


@settings(max_examples=200, deadline=None)
@given(rounds(["mentor", "mentee", "mentee", "peer"]), st.integers(0, 6), st.integers(0, 3))
def test_mentor_plans_are_valid_within_capacity_and_deterministic(
    case: tuple[list[Member], History, int], window: int, seed: int
) -> None:
    members, history, round_no = case
    plan = match_mentors(members, history, round_no=round_no, repeat_window=window, seed=seed)
    assert_valid(plan, members, history, round_no, window)
    role = {m.id: m for m in members}
    for group in plan.groups:
        mentor, *taken = group.members
        assert role[mentor].role == "mentor" and all(role[m].role == "mentee" for m in taken)
        assert 1 <= len(taken) <= role[mentor].capacity and taken == sorted(taken)
    load = {g.members[0]: len(g.members) - 1 for g in plan.groups}
    if any(r == "no mentor with capacity left" for _, r in plan.left_out):
        assert all(load.get(m.id) == m.capacity for m in members if m.role == "mentor")
    reasons = dict(plan.left_out)
    assert all(reasons[m.id] == "no mentee this round" for m in members if m.role == "mentor" and m.id not in load)
    assert match_mentors(list(reversed(members)), history, round_no=round_no, repeat_window=window, seed=seed) == plan
