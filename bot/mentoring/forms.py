"""The mentoring profile form: declared once here, shown as a Slack modal or a Discord modal by the
adapters, and checked field by field in the core so a bad submission gets a message on each bad
field and nothing is stored.

``/mentoring profile`` opens it filled in with the member's profile (:meth:`bot.forms.Form.filled`),
so what a submission carries is the whole profile: an optional field sent empty (the bio, what you
know or want to learn) clears it; the role and the time zone are required and cannot be emptied."""

from __future__ import annotations

from collections.abc import Mapping

from bot.errors import CommandError
from bot.forms import Form, FormField
from bot.knowledge.kb import KnowledgeBase
from bot.mentoring import options as opt
from bot.schedule.rules import parse_zone

REQUIRED = "This field is required."
ROLE_CHOICES = (("peer", "Peer (coffee chats)"), ("mentee", "Mentee (I want a mentor)"), ("mentor", "Mentor"))

PROFILE = Form(
    id="mentoring-profile",
    title="Your mentoring profile",
    submit="Save",
    command="mentoring",
    fixed=(("action", "join"),),
    fields=(
        FormField(name="role", label="Your role in the program", kind="select", choices=ROLE_CHOICES, required=True),
        FormField(
            name="knows",
            label="What you know",
            kind="multi_select",
            entity=opt.INTEREST_KINDS,
            max_items=opt.INTERESTS_MAX,
            placeholder="Roles, skills, standards, regulations: FHIR, SQL, HIPAA...",
        ),
        FormField(
            name="wants",
            label="What you want to learn",
            kind="multi_select",
            entity=opt.INTEREST_KINDS,
            max_items=opt.INTERESTS_MAX,
            placeholder="DICOM, interoperability, medical devices...",
        ),
        FormField(name="timezone", label="Time zone", max_length=64, placeholder="Europe/Berlin", required=True),
        FormField(
            name="bio",
            label="A short bio (optional)",
            kind="paragraph",
            max_length=opt.BIO_MAX,
            placeholder="Plain text, at most 200 characters",
        ),
    ),
)


def field_errors(kb: KnowledgeBase, values: Mapping[str, str]) -> dict[str, str]:
    """A message for each field of :data:`PROFILE` whose value is refused (empty when all are fine).
    The same checks as ``/mentoring join``; a form's select only offers valid values, but a forged
    submission can carry anything."""
    errors: dict[str, str] = {}
    checks = {
        "role": lambda raw: opt.choice({"role": raw}, "role", {v: v for v, _ in ROLE_CHOICES}),
        "knows": lambda raw: opt.interests(kb, "knows", raw),
        "wants": lambda raw: opt.interests(kb, "wants", raw),
        "timezone": parse_zone,
        "bio": opt.bio,
    }
    for name, raw in values.items():
        check = checks.get(name)
        if check is None:
            errors[name] = "This form has no such field."
            continue
        limit = opt.LIMITS[name]
        if len(raw) > limit:
            errors[name] = f"At most {limit} characters, please (this is {len(raw)})."
            continue
        if opt.CONTROL.search(raw):
            errors[name] = "Control characters are not allowed."
            continue
        if not raw.strip():
            field = PROFILE.field(name)
            if field is not None and field.required:
                errors[name] = REQUIRED
            continue
        try:
            check(raw)
        except CommandError as exc:
            errors[name] = exc.reason
    return errors
