"""The scheduling rules on their own: parsing, local times across DST, and rotation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import CommandError
from bot.schedule.rules import DAILY, WEEKDAYS, Schedule, due_at, parse_days, parse_time, parse_zone
from bot.tips.rotation import choose_tip, cycle_order, post_key

BERLIN = ZoneInfo("Europe/Berlin")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("09:00", (9, 0)), ("9:05", (9, 5)), ("0930", (9, 30)), ("17", (17, 0)), ("9am", (9, 0)), ("5:30pm", (17, 30))],
)
def test_times_people_type(text: str, expected: tuple[int, int]) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["25:00", "9:60", "noon", "", "13pm", "-1:00", "9:5"])
def test_bad_times_are_refused_with_the_format(text: str) -> None:
    with pytest.raises(CommandError, match="HH:MM"):
        parse_time(text)


def test_zones_are_canonical_and_typos_get_a_suggestion() -> None:
    assert parse_zone("europe/berlin") == "Europe/Berlin"
    assert parse_zone("utc") == "UTC"
    with pytest.raises(CommandError, match="Did you mean `Europe/Berlin`"):
        parse_zone("Europe/Berln")
    for hostile in ("../../etc/passwd", "/etc/localtime", "Mars/Olympus"):
        with pytest.raises(CommandError, match="not a time zone"):
            parse_zone(hostile)


def test_days() -> None:
    assert parse_days("weekdays") == WEEKDAYS
    assert parse_days("daily") == DAILY
    assert parse_days("mon,wed,fri") == 0b10101
    assert parse_days("fri-mon") == 0b1110001  # wraps over the weekend
    with pytest.raises(CommandError, match="not a set of days"):
        parse_days("someday")


def test_nine_in_berlin_is_nine_local_on_both_sides_of_the_spring_change() -> None:
    assert due_at(date(2025, 3, 28), 9, 0, BERLIN) == utc("2025-03-28T08:00")  # CET, UTC+1
    assert due_at(date(2025, 3, 31), 9, 0, BERLIN) == utc("2025-03-31T07:00")  # CEST, UTC+2
    assert due_at(date(2025, 10, 24), 9, 0, BERLIN) == utc("2025-10-24T07:00")
    assert due_at(date(2025, 10, 27), 9, 0, BERLIN) == utc("2025-10-27T08:00")


def test_a_time_that_does_not_exist_posts_at_the_next_valid_minute() -> None:
    # 2025-03-30 in Berlin: 02:00 CET jumps to 03:00 CEST; 02:30 never happens.
    moment = due_at(date(2025, 3, 30), 2, 30, BERLIN)
    assert moment == utc("2025-03-30T01:00")
    assert moment.astimezone(BERLIN).strftime("%H:%M %Z") == "03:00 CEST"
    # New York, 2025-03-09: 02:00 EST -> 03:00 EDT.
    assert due_at(date(2025, 3, 9), 2, 15, ZoneInfo("America/New_York")) == utc("2025-03-09T07:00")


def test_a_time_that_happens_twice_is_due_at_its_first_occurrence() -> None:
    # 2025-10-26 in Berlin: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice.
    moment = due_at(date(2025, 10, 26), 2, 30, BERLIN)
    assert moment == utc("2025-10-26T00:30")
    assert moment.astimezone(BERLIN).strftime("%H:%M %Z") == "02:30 CEST"


zones = st.sampled_from(
    ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "Asia/Kolkata", "UTC"]
)


@settings(max_examples=300, deadline=None)
@given(
    zone=zones, day=st.dates(date(2020, 1, 1), date(2030, 12, 31)), hour=st.integers(0, 23), minute=st.integers(0, 59)
)
def test_due_is_the_wall_time_or_the_first_instant_after_a_gap(zone: str, day: date, hour: int, minute: int) -> None:
    tz = ZoneInfo(zone)
    wall = datetime(day.year, day.month, day.day, hour, minute)
    moment = due_at(day, hour, minute, tz)
    local = moment.astimezone(tz).replace(tzinfo=None)
    if local != wall:  # only in a gap: then it is the first instant past the wanted time
        assert local > wall
        before = (moment - timedelta(seconds=1)).astimezone(tz).replace(tzinfo=None)
        assert before < wall
    else:  # and if it exists, no earlier instant shows the same wall time (first of two)
        assert (moment - timedelta(hours=1)).astimezone(tz).replace(tzinfo=None) != wall


def test_schedule_finds_the_next_run_day() -> None:
    weekdays = Schedule(9, 0, "Europe/Berlin", WEEKDAYS)
    friday_after_nine = utc("2025-03-07T09:00")
    assert weekdays.first_after(friday_after_nine) == (date(2025, 3, 10), utc("2025-03-10T08:00"))
    assert weekdays.first_after(utc("2025-03-07T07:59")) == (date(2025, 3, 7), utc("2025-03-07T08:00"))


TIPS = [f"tip-{i:02d}" for i in range(20)]


def rotate(seed: int, days: int, candidates: list[str]) -> list[str]:
    shown: set[str] = set()
    cycle, last, out = 0, None, []
    for _ in range(days):
        tip, new_cycle = choose_tip(seed, cycle, shown, last, candidates)
        if new_cycle != cycle:
            cycle, shown = new_cycle, set()
        shown.add(tip)
        last = tip
        out.append(tip)
    return out


def test_every_tip_once_before_any_repeat_over_full_cycles() -> None:
    posted = rotate(seed=11, days=60, candidates=TIPS)
    for start in range(0, 60, 20):
        assert sorted(posted[start : start + 20]) == TIPS  # each cycle is a permutation
    assert posted[:20] != posted[20:40]  # a new order each cycle
    assert all(a != b for a, b in zip(posted, posted[1:], strict=False))  # never the same tip twice in a row


def test_channels_get_different_orders() -> None:
    orders = {tuple(cycle_order(seed, 0, TIPS)) for seed in range(50)}
    assert len(orders) == 50


def test_added_tips_join_the_cycle_and_removed_ones_are_skipped() -> None:
    shown = {"tip-00", "tip-01", "tip-02"}
    candidates = [t for t in TIPS if t != "tip-05"] + ["tip-new"]
    rest = []
    for _ in range(len(candidates) - len(shown)):
        tip, cycle = choose_tip(3, 0, shown, None, candidates)
        assert cycle == 0
        shown.add(tip)
        rest.append(tip)
    assert "tip-new" in rest and "tip-05" not in rest
    assert shown == set(candidates)


def test_post_keys_are_stable_short_and_distinct() -> None:
    key = post_key("slack", "T1", 7, "2025-03-03")
    assert key == post_key("slack", "T1", 7, "2025-03-03") and len(key) <= 25 and key.isalnum()
    assert key != post_key("slack", "T1", 7, "2025-03-04") != post_key("slack", "T2", 7, "2025-03-03")
