from adapters.console import render_line, render_text
from bot.reply import Field, FollowUp, Link, Reply, Section

REPLY = Reply(
    title="FHIR",
    summary="A **standard**.",
    sections=(Section(heading="Used for", text="- APIs\n- apps"),),
    fields=(Field(name="Maintained by", value="HL7"),),
    links=(Link(label="Official source", url="https://hl7.org/fhir/"),),
    follow_ups=(FollowUp(label="SMART", command="/standard smart-on-fhir"),),
    footer="Close call.",
)


def test_render_text_is_readable_without_colour() -> None:
    text = render_text(REPLY)
    assert text.splitlines()[0] == "FHIR"
    assert "A standard." in text
    assert "  • APIs" in text
    assert "Maintained by: HL7" in text
    assert "Official source: https://hl7.org/fhir/" in text
    assert "Try: /standard smart-on-fhir" in text
    assert "\033[" not in text


def test_render_text_with_colour_uses_ansi() -> None:
    assert "\033[1mFHIR\033[0m" in render_text(REPLY, color=True)


def test_render_line_is_one_line() -> None:
    line = render_line(REPLY)
    assert "\n" not in line
    assert line.startswith("FHIR | A standard. | Used for: • APIs • apps")


def test_render_text_wraps_words_under_bullets() -> None:
    long = Reply(title="T", sections=(Section(heading="H", text="- " + "word " * 30),))
    lines = render_text(long, width=40).splitlines()
    assert all(len(line) <= 40 for line in lines)
    bullet = [line for line in lines if "word" in line]
    assert bullet[0].startswith("  • word") and bullet[1].startswith("    word")
