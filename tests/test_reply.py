from bot.reply import CAPS, MAX_FOLLOW_UPS, Field, FollowUp, Reply, Section
from tests.mentions import live_mentions


def test_strings_are_inert_and_capped_at_construction() -> None:
    reply = Reply(
        title="@everyone " + "t" * 500,
        summary="<!channel> hello",
        sections=(Section(heading="h", text="<@U123> " + "x" * 10_000),),
        fields=(Field(name="n", value="<@&1>"),),
        follow_ups=tuple(FollowUp(label=f"l{i}", command=f"/role {i}") for i in range(30)),
    )
    assert len(reply.title) == CAPS["title"]
    assert len(reply.sections[0].text) == CAPS["text"]
    assert len(reply.follow_ups) == MAX_FOLLOW_UPS
    assert all(live_mentions(s) == [] for s in reply.strings())


def test_to_dict_is_plain_json_data() -> None:
    reply = Reply(title="t", follow_ups=(FollowUp(label="a", command="/why"),))
    data = reply.to_dict()
    assert data["follow_ups"] == [{"label": "a", "command": "/why"}]
    assert data["ref"] is None and data["tone"] == "answer"
