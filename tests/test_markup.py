from bot.markup import PLAIN, Span, Style, parse, parse_inline, strip

SLACKISH = Style(
    escape=lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
    bold=lambda s: f"*{s}*",
    italic=lambda s: f"_{s}_",
    code=lambda s: f"`{s}`",
    link=lambda label, url: f"<{url}|{label}>",
    bullet="• ",
)


def test_inline_spans() -> None:
    spans = parse_inline("Use **FHIR** with *care*, `GET /Patient` and [docs](https://hl7.org/fhir/).")
    kinds = [s.kind for s in spans]
    assert kinds == ["text", "bold", "text", "italic", "text", "code", "text", "link", "text"]
    assert spans[7] == Span("link", "docs", "https://hl7.org/fhir/")


def test_bullets_and_plain_lines() -> None:
    lines = parse("Intro\n- one\n* two")
    assert [line.bullet for line in lines] == [False, True, True]


def test_literal_text_is_escaped_for_the_platform() -> None:
    out = SLACKISH.convert("a < b & **c > d** [x](https://e.org/?a=1&b=2)")
    assert out == "a &lt; b &amp; *c &gt; d* <https://e.org/?a=1&b=2|x>"


def test_asterisks_inside_words_are_not_italic() -> None:
    assert [s.kind for s in parse_inline("2*3*4")] == ["text"]


def test_plain_and_strip() -> None:
    assert PLAIN.convert("- **a** [b](https://c.org)") == "• a b (https://c.org)"
    assert strip("see [docs](https://c.org)") == "see docs"
