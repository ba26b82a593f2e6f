"""A person's mentoring at a glance (:mod:`bot.mentoring.home`), in the core, on SQLite and PostgreSQL:
what a member, an admin and someone in no program see, the buttons and the program each runs in,
their last intros after a real round, the onboarding invitation, and that nothing is written and no
other tenant shows."""

from __future__ import annotations

from bot.commands import Invocation
from bot.mentoring import home
from bot.registry import job_kinds
from bot.reply import Reply
from bot.schedule.scheduler import Scheduler
from tests.mentoring.conftest import MentoringBot
from tests.tips.conftest import at


def asking(user: str, *, tenant: str = "T1", admin: bool = False, channel: str = "home") -> Invocation:
    return Invocation(platform="slack", tenant=tenant, user=user, channel=channel, command="mentoring", admin=admin)


async def home_of(bot: MentoringBot, user: str, *, tenant: str = "T1", admin: bool = False) -> Reply:
    return await home.home(bot.core.kb, bot.services, asking(user, tenant=tenant, admin=admin))


def text(reply: Reply) -> str:
    return "\n".join(reply.strings())


def buttons(reply: Reply) -> list[tuple[str, str, str]]:
    return [(f.label, f.command, c) for f, c in zip(reply.follow_ups, home.channels(reply), strict=True)]


async def start(bot: MentoringBot, channel: str = "C1", *, tenant: str = "T1") -> None:
    reply = await bot.ask("/mentoring program create every:weekly", admin=True, channel=channel, tenant=tenant)
    assert reply.tone == "answer", reply


async def test_someone_in_no_program_is_invited_and_nothing_is_written(mentoring_bot: MentoringBot) -> None:
    await start(mentoring_bot)
    before = await mentoring_bot.snapshot()
    reply = await home_of(mentoring_bot, "U9")
    assert reply.tone == "notice" and reply.summary == home.NOT_IN_ANY
    assert "/mentoring join" in reply.summary
    assert reply.follow_ups == () and reply.sections == ()
    assert home.WORKSPACE_HEADING not in text(reply)  # not an admin
    assert await mentoring_bot.snapshot() == before


async def test_a_member_sees_each_program_their_profile_and_buttons(mentoring_bot: MentoringBot) -> None:
    bot = mentoring_bot
    await start(bot, "C1")
    await start(bot, "C2")
    await bot.ask("/mentoring join knows:fhir,sql wants:dicom bio:Imaging <@U7> fan", user="U1", channel="C1")
    await bot.ask("/mentoring join knows:hipaa", user="U1", channel="C2")
    await bot.ask("/mentoring snooze until:2025-03-20", user="U1", channel="C2")
    before = await bot.snapshot()
    reply = await home_of(bot, "U1")
    assert reply.tone == "answer" and reply.title == home.TITLE
    first, second = reply.sections[:2]
    assert first.heading == "#C1" and second.heading == "#C2"
    assert "Role: peer · You: active" in first.text
    assert "Next round: Mon 03 Mar 2025, 10:00 UTC" in first.text
    assert "FHIR" in first.text and "DICOM" in first.text and "Bio: Imaging" in first.text
    assert "You: snoozed until Thu 20 Mar 2025" in second.text
    assert reply.sections[2].heading == home.INTROS_HEADING and reply.sections[2].text == home.NO_INTROS
    assert buttons(reply) == [
        ("Edit profile · #C1", "/mentoring profile", "C1"),
        ("Snooze 2 weeks · #C1", "/mentoring snooze until:2w", "C1"),
        ("Edit profile · #C2", "/mentoring profile", "C2"),
        ("Resume · #C2", "/mentoring resume", "C2"),
    ]
    assert {f.command for f in reply.follow_ups} <= home.COMMANDS
    assert not any("<@" in s for s in reply.strings())  # the bio's mention is made inert
    assert home.WORKSPACE_HEADING not in text(reply)
    assert await bot.snapshot() == before


async def test_one_program_labels_the_buttons_plainly_and_the_commands_run_there(mentoring_bot: MentoringBot) -> None:
    bot = mentoring_bot
    await start(bot)
    await bot.ask("/mentoring join", user="U1")
    reply = await home_of(bot, "U1")
    assert [label for label, _, _ in buttons(reply)] == [home.EDIT, home.SNOOZE]
    # what a Home button does: the command, run in the program's channel, as the person
    assert [channel for _, _, channel in buttons(reply)] == ["C1", "C1"]
    snoozed = await bot.ask(home.SNOOZE_COMMAND, user="U1", channel="C1")
    assert snoozed.title == "Mentoring snoozed until Mon 17 Mar 2025"
    assert [label for label, _, _ in buttons(await home_of(bot, "U1"))] == [home.EDIT, home.RESUME]


async def test_an_admin_also_sees_every_program_of_the_workspace_and_no_other(mentoring_bot: MentoringBot) -> None:
    bot = mentoring_bot
    await start(bot, "C1")
    await start(bot, "C2")
    await start(bot, "CSECRET", tenant="T2")  # another workspace
    await bot.ask("/mentoring join", user="U1", channel="C1")
    await bot.ask("/mentoring join", user="U2", channel="C1")
    await bot.ask("/mentoring program pause", admin=True, channel="C2")
    for reply in (await home_of(bot, "UBOSS", admin=True), await home_of(bot, "UADMIN")):  # platform / CAREERBOT_ADMINS
        (workspace,) = [s for s in reply.sections if s.heading == home.WORKSPACE_HEADING]
        lines = workspace.text.splitlines()
        assert lines == [
            "- #C1: active · 2 members · next round Mon 03 Mar 2025, 10:00 UTC · 0 rounds so far",
            "- #C2: paused · 0 members · next round not scheduled (paused) · 0 rounds so far",
        ]
        assert "CSECRET" not in text(reply)
        assert reply.summary == home.NOT_IN_ANY  # admins are not members for it
    t2 = await home_of(bot, "UBOSS", tenant="T2", admin=True)
    assert "CSECRET" in text(t2) and "#C1" not in text(t2)
    assert home.WORKSPACE_HEADING not in text(await home_of(bot, "U1"))


async def test_last_intros_after_a_real_round(mentoring_bot: MentoringBot) -> None:
    bot = mentoring_bot
    await start(bot)
    for user in ("U1", "U2"):
        await bot.ask("/mentoring join knows:fhir wants:sql", user=user)
    kinds = job_kinds(lambda: bot.core.kb)
    bot.clock.set(at("2025-03-03T10:00"))
    await Scheduler(bot.store, {"slack": bot.poster}, kinds, clock=bot.clock).run_once()
    assert [sorted(post.audience) for post in bot.poster.sent] == [["U1", "U2"]]  # the intro went out
    reply = await home_of(bot, "U1")
    (intros,) = [s for s in reply.sections if s.heading == home.INTROS_HEADING]
    assert intros.text == "- Mon 03 Mar 2025 · #C1 · with U2 (peer)"
    assert "Next round: Mon 10 Mar 2025" in reply.sections[0].text
    other = await home_of(bot, "U1", tenant="T2")
    assert other.summary == home.NOT_IN_ANY  # the same person id in another workspace: nothing


async def test_the_invitation_only_for_an_active_program_someone_is_not_in(mentoring_bot: MentoringBot) -> None:
    bot = mentoring_bot
    await start(bot, "C1")
    await start(bot, "C2")
    await bot.ask("/mentoring program pause", admin=True, channel="C2")
    await bot.ask("/mentoring join", user="U1", channel="C1")
    before = await bot.snapshot()
    invited = await home.invitation(bot.services, asking("U5", channel="C1"))
    assert invited is not None and invited.title == "Mentoring in #C1"
    assert "opt-in" in invited.summary and "every week on Monday at 10:00 UTC" in invited.summary
    assert [(f.label, f.command) for f in invited.follow_ups] == [
        (home.JOIN_LABEL, "/mentoring join"),
        (home.ABOUT_LABEL, "/mentoring"),
    ]
    assert await home.invitation(bot.services, asking("U1", channel="C1")) is None  # already in
    assert await home.invitation(bot.services, asking("U5", channel="C2")) is None  # paused
    assert await home.invitation(bot.services, asking("U5", channel="C9")) is None  # no program
    assert await home.invitation(bot.services, asking("U5", channel="C1", tenant="T2")) is None  # another workspace
    assert await home.invitation(None, asking("U5", channel="C1")) is None  # no store here
    assert await bot.snapshot() == before


async def test_without_a_store_home_says_so() -> None:
    from bot.knowledge.kb import KnowledgeBase
    from bot.knowledge.loader import default_knowledge_dir, load

    reply = await home.home(KnowledgeBase(load(default_knowledge_dir())), None, asking("U1"))
    assert reply.tone == "notice" and "database" in reply.summary
