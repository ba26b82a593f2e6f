"""The whole mentoring story on Slack, as people live it: an admin creates a program; seven people join
the channel, each gets one private invitation, presses Join and fills in the profile modal; a round
introduces them in group DMs (a trio for the odd one); a check-in button is answered and the message
updates in place; one member forgets themselves; the app is uninstalled and the workspace's rows go."""

from __future__ import annotations

from typing import Any

from bot.mentoring import home
from bot.mentoring import messages as say
from tests.fakes.slack import TEAM_ID
from tests.slack.conftest import texts
from tests.slack.test_home import joined
from tests.slack.test_mentoring import (
    CHECKIN,
    MEMBERS,
    ROUND,
    MentoringSlack,
    event_body,
    group_dms,
    holding,
    mentoring_slack,
)
from tests.slack.test_profile_modal import state, submit
from tests.tips.conftest import database, postgres_url

__all__ = ["database", "mentoring_slack", "postgres_url"]

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Europe/London", "UTC", "Europe/Paris", "Asia/Tokyo"]


async def join_through_the_invitation(m: MentoringSlack, user: str, zone: str) -> None:
    opened = len(m.fake.of("views.open"))
    assert await m.slack.event(joined(user)) == 200

    def invitations() -> list[dict[str, Any]]:
        sent = [c.body for c in m.fake.of("chat.postEphemeral") if c.body.get("user") == user]
        return [b for b in sent if home.JOIN_LABEL in texts({"blocks": b.get("blocks", [])})]

    async def invited() -> bool:
        return bool(invitations())

    await m.eventually(invited)
    (invitation,) = invitations()  # one invitation, to that person only, in the program's channel
    assert invitation["channel"] == "C1"
    person = {"id": user, "username": user.lower(), "team_id": TEAM_ID}
    assert await m.slack.click({"blocks": invitation["blocks"]}, home.JOIN_LABEL, user=person) == 200
    joined_answer = await m.slack.next_response()  # the Join button's private answer
    assert say.JOINED_TITLE.format(channel="#mentoring") in texts(joined_answer)
    view: dict[str, Any] = (await m.fake.wait_for("views.open", opened + 1)).body["view"]
    values = state(role="peer", knows=["standard:fhir"], wants=["standard:dicom"], timezone=zone, bio=f"I am {user}")
    status, answer = await submit(m, view, values, user=user)
    assert status == 200 and answer == {}, answer  # the modal closes: the profile is saved


async def test_seven_people_join_through_the_modal_meet_check_in_forget_and_uninstall(
    mentoring_slack: MentoringSlack,
) -> None:
    m, fake = mentoring_slack, mentoring_slack.fake
    await m.start_program()
    for user, zone in zip(MEMBERS, ZONES, strict=True):
        await join_through_the_invitation(m, user, zone)
    for user, zone in zip(MEMBERS, ZONES, strict=True):
        assert zone in await m.say("status", user)  # each profile is the one its owner typed

    m.clock.set(ROUND)
    await fake.wait_for("chat.postMessage", 3)
    groups = group_dms(fake)
    assert sorted(len(people) for people in groups.values()) == [2, 2, 3]
    assert sorted(u for people in groups.values() for u in people) == sorted(MEMBERS)
    assert fake.posts(TEAM_ID, "C1") == []  # nothing public
    trio = next(c for c, people in groups.items() if len(people) == 3)
    intro = fake.posts(TEAM_ID, trio)[0]
    assert all(f"I am {u}" in texts(intro) for u in groups[trio])  # the bios they wrote in the modal

    m.clock.set(CHECKIN)
    await fake.wait_for("chat.postMessage", 6)
    checkin = fake.posts(TEAM_ID, trio)[-1]
    member = groups[trio][0]
    where = {
        "channel": {"id": trio, "name": "mpdm"},
        "container": {"type": "message", "message_ts": checkin["ts"], "channel_id": trio, "is_ephemeral": False},
    }
    await m.slack.click(checkin, "Met", user={"id": member, "username": "m", "team_id": TEAM_ID}, **where)
    assert say.ANSWERS["met"] in texts(await m.slack.next_response())
    await fake.wait_for("chat.update")
    assert "1 of 3 answered so far." in texts(fake.posts(TEAM_ID, trio)[-1])

    assert say.FORGOT_TITLE in await m.say("forget-me", member)
    assert await holding(m, member) == []

    status, _, _ = await m.slack.post(event_body(m.slack, {"type": "app_uninstalled"}), content_type="application/json")
    assert status == 200

    async def gone() -> bool:
        return not any((await m.rows(tenant=TEAM_ID)).values())

    await m.eventually(gone)
