"""The profile form: declared once in the core within every platform's limits, checked field by field,
and a submission runs /mentoring join like the typed command."""

from __future__ import annotations

import pytest

from bot.errors import DeclarationError
from bot.forms import Form, FormField
from bot.knowledge.kb import KnowledgeBase
from bot.knowledge.loader import default_knowledge_dir, load
from bot.mentoring.forms import PROFILE, field_errors
from bot.registry import FORMS, REGISTRY, check_forms
from tests.mentoring.conftest import MentoringBot

KB = KnowledgeBase(load(default_knowledge_dir()))


def test_the_profile_form_is_registered_and_runs_a_declared_command() -> None:
    assert FORMS == {"mentoring-profile": PROFILE}
    command = REGISTRY.get(PROFILE.command)
    assert command is not None
    assert {f.name for f in PROFILE.fields} <= {o.name for o in command.options}
    assert len(PROFILE.fields) <= 5 and len(PROFILE.title) <= 24  # Discord: 5 components; Slack: 24-char title


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (
            lambda: Form(
                id="f", title="x" * 25, submit="Go", command="mentoring", fields=(FormField(name="a", label="A"),)
            ),
            "title",
        ),
        (
            lambda: Form(
                id="f",
                title="T",
                submit="Go",
                command="mentoring",
                fields=tuple(FormField(name=f"a{i}", label="A") for i in range(6)),
            ),
            "1-5 fields",
        ),
        (lambda: FormField(name="a", label="L" * 46), "label"),
        (lambda: FormField(name="a", label="A", kind="select"), "choices"),
        (lambda: FormField(name="a", label="A", kind="multi_select"), "knowledge kinds"),
        (lambda: FormField(name="Bad Name", label="A"), "name"),
        (lambda: FormField(name="a", label="A", max_length=5000), "max_length"),
    ],
)
def test_a_form_no_platform_could_show_fails_at_declaration(make: object, says: str) -> None:
    with pytest.raises(DeclarationError, match=says):
        make()  # type: ignore[operator]


def test_a_form_naming_an_option_the_command_lacks_fails() -> None:
    form = Form(id="f", title="T", submit="Go", command="mentoring", fields=(FormField(name="shoe-size", label="A"),))
    with pytest.raises(DeclarationError, match="shoe-size"):
        check_forms(REGISTRY, {"f": form})


def test_good_values_have_no_errors_and_bad_ones_one_per_field() -> None:
    good = {"role": "mentee", "knows": "fhir,sql", "wants": "dicom", "timezone": "Europe/Berlin", "bio": "Hi there"}
    assert field_errors(KB, good) == {}
    bad = {"role": "boss", "knows": "fhri", "wants": "dicom", "timezone": "Mars/Base", "bio": "x" * 300}
    errors = field_errors(KB, bad)
    assert set(errors) == {"role", "knows", "timezone", "bio"}
    assert "FHIR" in errors["knows"] or "fhir" in errors["knows"]  # a did-you-mean
    assert all("\n" not in message for message in errors.values())


@pytest.mark.parametrize(
    "value",
    ["x" * 10_000, "a\x00b", "\u202eevil", "<!channel>", "@everyone", "<@U123>", "role:mentor"],
)
def test_hostile_values_in_every_field_are_refused_or_made_harmless(value: str) -> None:
    for name in ("role", "knows", "wants", "timezone", "bio"):
        errors = field_errors(KB, {name: value})
        if name == "bio" and name not in errors:  # a bio may hold text like this: stored inert
            assert "<!channel>" not in (errors.get(name) or "")
            continue
        assert name in errors, (name, value)
        assert len(errors[name]) <= 300 and "\n" not in errors[name]
        assert "<!channel>" not in errors[name] and "@everyone" not in errors[name] and "<@U123>" not in errors[name]


def test_a_forged_field_is_refused() -> None:
    assert set(field_errors(KB, {"user": "U9"})) == {"user"}


async def test_a_submission_runs_join_like_the_typed_command(mentoring_bot: MentoringBot) -> None:
    created = await mentoring_bot.ask("/mentoring program create", admin=True, user="UADMIN")
    assert created.tone == "answer", created.summary
    values = {"role": "peer", "knows": "fhir", "wants": "sql", "timezone": "Europe/Berlin", "bio": "Hello"}
    assert field_errors(mentoring_bot.core.kb, values) == {}
    reply = await mentoring_bot.options(dict(PROFILE.fixed) | values, user="U7")
    assert reply.tone == "answer", reply.summary
    status = await mentoring_bot.ask("/mentoring", user="U7")
    assert "FHIR" in " ".join(s.text for s in status.sections) + status.summary


async def test_profile_alone_shows_the_profile_and_names_the_form(mentoring_bot: MentoringBot) -> None:
    await mentoring_bot.ask("/mentoring program create", admin=True, user="UADMIN")
    refused = await mentoring_bot.ask("/mentoring profile", user="U8")
    assert refused.tone == "error" and "form" not in refused.extra  # not a member: no form to fill in
    await mentoring_bot.ask("/mentoring join knows:fhir", user="U8")
    reply = await mentoring_bot.ask("/mentoring profile", user="U8")
    assert reply.extra == {"form": PROFILE.id} and reply.title == PROFILE.title
    assert "FHIR" in reply.sections[0].text


# ------------------------------------------------------------------ the form filled in with the profile


async def test_profile_alone_fills_the_form_with_the_members_profile(mentoring_bot: MentoringBot) -> None:
    await mentoring_bot.ask("/mentoring program create", admin=True, user="UADMIN")
    await mentoring_bot.ask("/mentoring join knows:fhir,sql wants:dicom timezone:Europe/Berlin bio:Hi there", user="U8")
    reply = await mentoring_bot.ask("/mentoring profile", user="U8")
    values = {v.name: v for v in reply.form_values}
    assert list(values) == ["role", "knows", "wants", "timezone", "bio"]  # the form's order
    assert values["role"].chosen == (("peer", "Peer (coffee chats)"),) and values["role"].text == "peer"
    assert values["knows"].text == "standard:fhir,skill:sql"
    assert [label for _, label in values["knows"].chosen] == [KB.title("standard", "fhir"), KB.title("skill", "sql")]
    assert values["wants"].text == "standard:dicom"
    assert (values["timezone"].text, values["bio"].text) == ("Europe/Berlin", "Hi there")
    assert reply.to_dict()["form_values"][0]["name"] == "role"
    # submitted unchanged, the form keeps the profile exactly as it was
    submitted = {name: v.text for name, v in values.items()}
    assert field_errors(mentoring_bot.core.kb, submitted) == {}
    saved = await mentoring_bot.options(dict(PROFILE.fixed) | submitted, user="U8")
    assert saved.tone == "answer", saved.summary
    again = await mentoring_bot.ask("/mentoring profile", user="U8")
    assert again.form_values == reply.form_values


async def test_an_emptied_optional_field_clears_it_and_a_required_one_is_refused(mentoring_bot: MentoringBot) -> None:
    await mentoring_bot.ask("/mentoring program create", admin=True, user="UADMIN")
    await mentoring_bot.ask("/mentoring join knows:fhir wants:sql bio:Something to clear", user="U8")
    values = {"role": "peer", "knows": "standard:fhir", "wants": "", "timezone": "UTC", "bio": ""}
    assert field_errors(mentoring_bot.core.kb, values) == {}
    saved = await mentoring_bot.options(dict(PROFILE.fixed) | values, user="U8")
    assert saved.tone == "answer", saved.summary
    filled = {v.name: v.text for v in (await mentoring_bot.ask("/mentoring profile", user="U8")).form_values}
    assert filled == {"role": "peer", "knows": "standard:fhir", "timezone": "UTC"}  # no bio, nothing wanted
    for name in ("role", "timezone"):
        assert PROFILE.field(name).required  # type: ignore[union-attr]
        assert field_errors(mentoring_bot.core.kb, values | {name: "  "}) == {name: "This field is required."}


def test_filled_keeps_only_what_a_field_can_hold_and_submit_back() -> None:
    long_ref = "skill:" + "x" * 120
    filled = PROFILE.filled(
        {
            "role": "boss",  # not a choice: left out, never shown as another role
            "knows": [(f"skill:s{i}", f"S{i}") for i in range(30)],
            "wants": [(long_ref, "Long"), ("standard:fhir", "F" * 200), ("a,b", "comma")],
            "timezone": "x" * 65,  # over its max_length: left out rather than cut
            "bio": "",
        }
    )
    values = {v.name: v for v in filled}
    assert set(values) == {"knows", "wants"}
    assert len(values["knows"].chosen) == PROFILE.field("knows").max_items  # type: ignore[union-attr]
    assert values["wants"].chosen == (("standard:fhir", "F" * 75),)
    with pytest.raises(DeclarationError, match="shoe-size"):
        PROFILE.filled({"shoe-size": "42"})
