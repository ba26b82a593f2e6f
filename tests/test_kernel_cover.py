"""The kernel's guard rails, each as a user or a wing author meets it: declarations that no platform
could express fail when they are made, with a message naming what is wrong; forms keep only what they
could submit back; the core answers without a free-text handler, keeps its memo bounded; the services
open one store however many requests race for it and ignore a time zone the platform got wrong; and
metrics that are off record nothing."""

from __future__ import annotations

import asyncio
import random
import re
from pathlib import Path

import pytest

from bot import messages, metrics
from bot.commands import CHOICES_MAX, OPTIONS_MAX, Invocation, Option, Registry
from bot.context import Context, Services, ServiceSettings
from bot.core import Core
from bot.errors import DeclarationError
from bot.forms import CHOICE_VALUE_MAX, ITEMS_MAX, PLACEHOLDER_MAX, Form, FormField
from bot.registry import REGISTRY, check_entities, check_forms
from bot.reply import Reply
from bot.safety import ELLIPSIS, clip, inert
from bot.schedule.posting import Channel, Post, parse_channel

# ---------------------------------------------------------------------------- command declarations


async def _one(ctx: Context, query: str | None = None) -> Reply:
    return Reply(title="one")


async def _two(ctx: Context, first: str, second: str) -> Reply:
    return Reply(title="two")


def test_an_option_with_more_choices_than_discord_shows_fails_at_declaration() -> None:
    choices = tuple(f"c{i}" for i in range(CHOICES_MAX + 1))
    with pytest.raises(DeclarationError, match=re.escape(f"option 'pick': at most {CHOICES_MAX} choices")):
        Option(name="pick", description="d", choices=choices)
    assert len(Option(name="pick", description="d", choices=choices[:-1]).choices) == CHOICES_MAX


def test_a_command_with_more_options_than_a_platform_takes_fails_at_declaration() -> None:
    options = [Option(name=f"o{i}", description="d") for i in range(OPTIONS_MAX + 1)]
    with pytest.raises(DeclarationError, match=re.escape(f"/many: at most {OPTIONS_MAX} options")):
        Registry().command("many", "Too many options", *options)(_one)


def test_two_options_of_one_name_fail_at_declaration() -> None:
    same = Option(name="query", description="d")
    with pytest.raises(DeclarationError, match="/dup: option names repeat"):
        Registry().command("dup", "Repeats an option", same, same)(_one)


def test_a_required_option_after_an_optional_one_fails_at_declaration() -> None:
    """Slack and Discord fill options in order: a required one behind an optional one could not be given."""
    with pytest.raises(DeclarationError, match="/order: required option 'second' after an optional one"):
        Registry().command(
            "order",
            "Options out of order",
            Option(name="first", description="d"),
            Option(name="second", description="d", required=True),
        )(_two)


def test_an_optional_option_without_a_default_fails_at_declaration() -> None:
    registry = Registry()
    with pytest.raises(DeclarationError, match="/nodefault: optional 'second' needs a default"):
        registry.command(
            "nodefault",
            "An optional option the handler cannot go without",
            Option(name="first", description="d", required=True),
            Option(name="second", description="d"),
        )(_two)
    assert registry.names() == []  # nothing half-registered


# ---------------------------------------------------------------------------- forms


CHOICE = "a choice is a value of 1-100 and a label of 1-75 characters"


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        (dict(placeholder="p" * (PLACEHOLDER_MAX + 1)), f"a placeholder is at most {PLACEHOLDER_MAX} characters"),
        (dict(choices=(("a", "A"),)), "only a select has choices"),
        (dict(max_items=0), f"max_items is 1-{ITEMS_MAX}"),
        (dict(max_items=ITEMS_MAX + 1), f"max_items is 1-{ITEMS_MAX}"),
        (dict(kind="select", choices=(("v" * (CHOICE_VALUE_MAX + 1), "Long"),)), CHOICE),
        (dict(kind="select", choices=(("ok", ""),)), CHOICE),
    ],
)
def test_a_form_field_no_platform_could_show_fails_at_declaration(field: dict[str, object], reason: str) -> None:
    with pytest.raises(DeclarationError, match=re.escape(f"form field 'goal': {reason}")):
        FormField(name="goal", label="Goal", **field)  # type: ignore[arg-type]


def test_a_form_with_a_bad_id_or_two_fields_of_one_name_fails_at_declaration() -> None:
    field = FormField(name="goal", label="Goal")
    with pytest.raises(DeclarationError, match=re.escape("form 'Profile Form': an id is lowercase letters")):
        Form(id="Profile Form", title="Profile", submit="Save", command="mentoring", fields=(field,))
    with pytest.raises(DeclarationError, match=re.escape("form 'profile': two fields share a name")):
        Form(id="profile", title="Profile", submit="Save", command="mentoring", fields=(field, field))


def test_a_form_filled_in_leaves_out_the_fields_it_has_no_value_for() -> None:
    form = Form(
        id="profile",
        title="Profile",
        submit="Save",
        command="mentoring",
        fields=(
            FormField(name="bio", label="About you", kind="paragraph", max_length=200),
            FormField(name="level", label="Level", kind="select", choices=(("junior", "Junior"), ("senior", "Senior"))),
            FormField(name="goal", label="Goal"),
        ),
    )
    filled = form.filled({"level": "senior", "goal": "Learn FHIR"})
    assert [(v.name, v.text, v.chosen) for v in filled] == [
        ("level", "senior", (("senior", "Senior"),)),
        ("goal", "Learn FHIR", ()),
    ]


# ---------------------------------------------------------------------------- the assembled table


def test_an_entity_option_naming_no_kind_of_knowledge_fails_where_the_table_is_assembled() -> None:
    registry = Registry()
    registry.command("find", "Finds", Option(name="query", description="d", entity="recipe"))(_one)
    with pytest.raises(DeclarationError, match=re.escape("/find query: not a kind of knowledge: recipe")):
        check_entities(registry)
    check_entities(REGISTRY)  # the shipped table passes


def test_a_form_for_a_command_nobody_declared_fails_where_the_table_is_assembled() -> None:
    form = Form(id="orphan", title="Orphan", submit="Send", command="nowhere", fields=(FormField(name="x", label="X"),))
    with pytest.raises(DeclarationError, match=re.escape("form orphan: no command /nowhere")):
        check_forms(REGISTRY, {form.id: form})


def test_a_form_offering_items_of_no_kind_of_knowledge_fails_where_the_table_is_assembled() -> None:
    registry = Registry()
    registry.command("pick", "Picks", Option(name="query", description="d"))(_one)
    field = FormField(name="query", label="Topics", kind="multi_select", entity=("recipe",))
    form = Form(id="picker", title="Pick", submit="Save", command="pick", fields=(field,))
    with pytest.raises(DeclarationError, match=re.escape("form picker: not a kind of knowledge: recipe")):
        check_forms(registry, {form.id: form})


# ---------------------------------------------------------------------------- safety


def test_a_limit_of_nothing_cuts_to_nothing_not_to_an_ellipsis() -> None:
    assert clip("hello", 0) == ""
    assert clip("hello", -3) == ""
    assert inert("@everyone hello", 0) == ""
    assert clip("hello", 1) == ELLIPSIS
    assert clip("", 0) == ""  # nothing to cut


# ---------------------------------------------------------------------------- the core


def counting_registry(calls: list[str], *, free_text: bool) -> Registry:
    """Two pure commands that count their calls, and (or not) a free-text handler."""

    async def question(ctx: Context, text: str) -> Reply:
        return Reply(title=f"You asked: {text}")

    registry = Registry(free_text=question if free_text else None)

    @registry.command("alpha", "Pure and counted", pure=True)
    async def alpha(ctx: Context) -> Reply:
        calls.append("alpha")
        return Reply(title="Alpha")

    @registry.command("beta", "Pure and counted", pure=True)
    async def beta(ctx: Context) -> Reply:
        calls.append("beta")
        return Reply(title="Beta")

    return registry


@pytest.fixture(scope="module")
def commands_only(knowledge_dir: Path) -> Core:
    """A core whose command table answers no plain words."""
    return Core(knowledge_dir, registry=counting_registry([], free_text=False), rng=random.Random(1))


async def test_plain_words_without_a_free_text_handler_say_what_can_be_answered(commands_only: Core) -> None:
    reply = await commands_only.ask("what does an ehr developer do?")
    assert reply.tone == "error"
    assert reply.title == messages.CANNOT_TITLE
    assert reply.summary == messages.UNKNOWN_COMMAND
    assert (await commands_only.ask("/alpha")).title == "Alpha"  # commands still answer


async def test_the_memo_of_pure_replies_forgets_the_oldest_when_full(commands_only: Core) -> None:
    calls: list[str] = []
    core = Core(commands_only.knowledge_dir, registry=counting_registry(calls, free_text=True), memo_size=1)
    first = await core.ask("/alpha")
    assert await core.ask("/alpha") is first and calls == ["alpha"]  # reused
    await core.ask("/beta")  # the memo holds one reply: /alpha's goes
    again = await core.ask("/alpha")
    assert calls == ["alpha", "beta", "alpha"]
    assert again is not first and again == first
    assert await core.ask("/alpha") is again  # the newest stays


# ---------------------------------------------------------------------------- services


class ZonePoster:
    """A poster whose platform reports ``zone`` as the workspace's time zone."""

    def __init__(self, zone: str | None) -> None:
        self.zone = zone
        self.asked: list[tuple[str, str]] = []

    async def check_channel(self, tenant: str, channel: str) -> Channel:
        return parse_channel(channel)

    async def default_timezone(self, tenant: str, user: str) -> str | None:
        self.asked.append((tenant, user))
        return self.zone

    async def post(self, post: Post) -> str:
        raise AssertionError("nothing is posted here")

    async def find(self, post: Post) -> str | None:
        return None


@pytest.mark.parametrize("reported", ["Mars/Olympus_Mons", "", None])
async def test_a_time_zone_the_platform_gets_wrong_falls_back_to_the_operators(reported: str | None) -> None:
    poster = ZonePoster(reported)
    services = Services(posters={"slack": poster}, settings=ServiceSettings(default_timezone="Europe/Berlin"))
    invocation = Invocation(platform="slack", tenant="T1", user="U1", command="tips")
    assert await services.default_timezone(invocation) == "Europe/Berlin"
    assert poster.asked == [("T1", "U1")]
    poster.zone = "America/New_York"  # a zone the platform gets right wins
    assert await services.default_timezone(invocation) == "America/New_York"


async def test_requests_racing_for_the_store_open_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first request opens (and migrates) the store; the others wait for it rather than open
    their own. ``Store.open`` is slowed down so they really do race for it."""
    from bot.store import engine

    opened: list[object] = []

    async def slow_open(cls: type[engine.Store], /, url: object = None, **kwargs: object) -> engine.Store:
        for _ in range(5):
            await asyncio.sleep(0)  # let every racer reach the lock
        store = object.__new__(cls)
        opened.append(store)
        return store

    monkeypatch.setattr(engine.Store, "open", classmethod(slow_open))
    services = Services(url="sqlite+aiosqlite:///unused.db", environ={})
    stores = await asyncio.gather(*(services.store() for _ in range(4)))
    assert len(opened) == 1
    assert all(store is opened[0] for store in stores)
    assert await services.store() is opened[0]


# ---------------------------------------------------------------------------- metrics


def test_metrics_that_are_off_record_nothing_and_read_as_none(monkeypatch: pytest.MonkeyPatch) -> None:
    metrics.enable()
    job = "kernel-cover"  # a job kind of this test's own, so no other test's series moves
    metrics.scheduled_post(job, "sent")
    metrics.queue_lag(job, 3.0)
    series = [
        ("careerbot_knowledge_reloads_total", {"outcome": "accepted"}),
        ("careerbot_scheduled_posts_total", {"job": job, "outcome": "sent"}),
        ("careerbot_queue_lag_seconds", {"job": job}),
        ("careerbot_leases_held", {"what": "tenants"}),
        ("careerbot_leases_held", {"what": "jobs"}),
    ]
    before = [metrics.value(name, **labels) for name, labels in series]
    assert before[1:3] == [1.0, 3.0]
    with monkeypatch.context() as off:
        off.setattr(metrics, "_metrics", None)
        assert metrics.registry() is None
        metrics.reloaded(accepted=True)
        metrics.scheduled_post(job, "sent")
        metrics.queue_lag(job, 12_345.0)
        metrics.leases_held(tenants=99, jobs=99)
        assert [metrics.value(name, **labels) for name, labels in series] == [None] * len(series)
    assert [metrics.value(name, **labels) for name, labels in series] == before
    metrics.queue_lag(job, -5.0)  # back on: a clock that ran backwards is no lag, not a negative one
    assert metrics.value("careerbot_queue_lag_seconds", job=job) == 0.0
