"""The second seating pass of a mentor round: a mentee bumped by a rule frees a seat for one without rules."""

from __future__ import annotations

import pytest

from bot.mentoring.matching import History, Member, match_mentors


@pytest.mark.parametrize("seed", range(4))
def test_a_seat_freed_by_a_blocked_pair_goes_to_the_mentee_without_rules(seed: int) -> None:
    mentor = Member("m", "mentor", frozenset({"skill:s1"}), frozenset(), capacity=2)
    keen = [Member(x, "mentee", frozenset(), frozenset({"skill:s1"})) for x in ("e1", "e2")]
    free = Member("e3", "mentee", frozenset(), frozenset())  # scores lower: the first pass leaves them out
    members = [mentor, *keen, free]
    # Without the block the two keen mentees take both seats and e3 waits.
    assert match_mentors(members, History(), round_no=1, seed=seed).groups[0].members == ("m", "e1", "e2")
    # With it, the first pass still gives e1 and e2 the seats, but the later of them clashes with the
    # first and waits; the second pass then costs e2/e1 (near rule: forbidden) next to e3 (no rule).
    blocked = History(blocked=frozenset({frozenset({"e1", "e2"})}))
    plan = match_mentors(members, blocked, round_no=1, seed=seed)
    (group,) = plan.groups
    assert group.members[0] == "m" and "e3" in group.members and len(group.members) == 3
    (bumped,) = {"e1", "e2"} - set(group.members)
    assert plan.left_out == ((bumped, "no mentor with capacity left"),)
    assert group.shared == ("skill:s1",)
