from hypothesis import given
from hypothesis import strategies as st

from bot.safety import ZWSP, clip, inert, one_line
from tests.mentions import HOSTILE_MENTIONS, live_mentions


def test_every_known_mention_token_is_defused() -> None:
    for text in HOSTILE_MENTIONS:
        out = inert(text)
        assert live_mentions(out) == [], (text, out)


def test_defused_text_stays_readable() -> None:
    assert inert("ping @everyone now") == f"ping @{ZWSP}everyone now"
    assert inert("email me at dev@example.org") == "email me at dev@example.org"


def test_clip_marks_the_cut() -> None:
    assert clip("abcdef", 4) == "abc…"
    assert clip("abc", 4) == "abc"
    assert len(clip("x" * 10_000, 280)) == 280


def test_a_cut_text_passes_through_again_unchanged() -> None:
    once = inert("¨0", 2)  # NFKC turns "¨" into a space and a combining mark, so the text is cut
    assert once.endswith("…") and inert(once, 2) == once


def test_one_line_collapses_whitespace() -> None:
    assert one_line("a\n\n b\t c") == "a b c"


@given(st.text(), st.integers(min_value=1, max_value=3000))
def test_inert_is_idempotent_bounded_and_mention_free(text: str, limit: int) -> None:
    out = inert(text, limit)
    assert len(out) <= limit
    assert inert(out, limit) == out
    assert live_mentions(out) == []
