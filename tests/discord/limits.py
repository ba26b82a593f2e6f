"""Discord's documented message limits, checked independently of the renderer that must meet them."""

from __future__ import annotations

from typing import Any

from tests.mentions import live_mentions


def units(text: str) -> int:
    """UTF-16 code units: the strictest way Discord could count characters."""
    return len(text.encode("utf-16-le")) // 2


def strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return []


def check_message(body: dict[str, Any], *, embeds_required: bool = True) -> None:
    """Assert ``body`` (a message create/edit payload) is one Discord accepts and that cannot ping."""
    assert body.get("allowed_mentions", {}).get("parse") == [], body.get("allowed_mentions")
    assert not body["allowed_mentions"].get("users") and not body["allowed_mentions"].get("roles")
    assert not body["allowed_mentions"].get("replied_user")
    assert units(body.get("content") or "") <= 2000
    embeds = body.get("embeds") or []
    assert (1 if embeds_required else 0) <= len(embeds) <= 10
    total = 0
    for embed in embeds:
        title, description = embed.get("title") or "", embed.get("description") or ""
        footer = (embed.get("footer") or {}).get("text") or ""
        assert units(title) <= 256 and units(description) <= 4096 and units(footer) <= 2048
        assert title or description or embed.get("fields"), "Discord rejects an empty embed"
        fields = embed.get("fields") or []
        assert len(fields) <= 25
        for f in fields:
            assert 1 <= units(f["name"]) <= 256 and f["name"].strip(), f
            assert 1 <= units(f["value"]) <= 1024 and f["value"].strip(), f
        total += units(title) + units(description) + units(footer)
        total += sum(units(f["name"]) + units(f["value"]) for f in fields)
    assert total <= 6000, total
    rows = body.get("components") or []
    assert len(rows) <= 5
    ids = []
    for row in rows:
        assert row["type"] == 1 and 1 <= len(row["components"]) <= 5
        for button in row["components"]:
            assert button["type"] == 2 and 1 <= units(button["label"]) <= 80
            assert 1 <= len(button["custom_id"]) <= 100
            ids.append(button["custom_id"])
    assert len(ids) == len(set(ids)), "Discord rejects repeated custom_ids"
    assert not [m for s in strings({"e": embeds, "c": body.get("content")}) for m in live_mentions(s)]


MODAL_COMPONENTS = 5
TEXT_INPUT_STYLES = (1, 2)  # short, paragraph


def check_modal(data: dict[str, Any]) -> None:
    """Assert ``data`` (a MODAL response's data) is a modal Discord accepts: a title of 1-45
    characters, a custom_id of 1-100, 1-5 labelled components with labels of 1-45 characters, unique
    custom_ids of 1-100, text inputs of at most 4,000 characters (a default within their max_length),
    selects of 1-25 options (no more defaults than values allowed)."""
    assert 1 <= units(data.get("title") or "") <= 45, data.get("title")
    assert 1 <= len(data.get("custom_id") or "") <= 100, data.get("custom_id")
    components = data.get("components") or []
    assert 1 <= len(components) <= MODAL_COMPONENTS, len(components)
    ids = []
    for label in components:
        assert label["type"] == 18 and 1 <= units(label["label"]) <= 45, label
        inner = label["component"]
        assert 1 <= len(inner["custom_id"]) <= 100, inner
        ids.append(inner["custom_id"])
        if inner["type"] == 4:
            assert inner["style"] in TEXT_INPUT_STYLES and not inner.get("label"), inner  # the Label holds it
            assert 1 <= int(inner.get("max_length") or 4000) <= 4000, inner
            assert units(inner.get("placeholder") or "") <= 100, inner
            assert len(inner.get("value") or "") <= int(inner.get("max_length") or 4000), inner  # a default fits
        else:
            assert inner["type"] == 3 and 1 <= len(inner["options"]) <= 25, inner
            assert units(inner.get("placeholder") or "") <= 150, inner
            for option in inner["options"]:
                assert 1 <= units(option["label"]) <= 100 and 1 <= len(option["value"]) <= 100, option
            chosen = [o for o in inner["options"] if o.get("default")]
            assert len(chosen) <= int(inner.get("max_values") or 1), inner
    assert len(ids) == len(set(ids)), "Discord rejects repeated custom_ids"


THREAD_ARCHIVE_MINUTES = (60, 1440, 4320, 10080)


def check_thread(body: dict[str, Any]) -> None:
    """Assert ``body`` (a request that starts a thread) is one Discord accepts, and private: only
    the people added see it and members cannot invite others. A name is 1-100 characters."""
    assert body.get("type") == 12 and body.get("invitable") is False, body
    name = body.get("name") or ""
    assert 1 <= units(name) <= 100 and name.strip() == name and "\n" not in name, name
    assert body.get("auto_archive_duration") in THREAD_ARCHIVE_MINUTES, body
    assert not live_mentions(name), name


def buttons(body: dict[str, Any]) -> dict[str, str]:
    """Button label -> custom_id."""
    return {b["label"]: b["custom_id"] for row in body.get("components") or [] for b in row["components"]}


def text(body: dict[str, Any]) -> str:
    """Everything a user reads in the message's embeds."""
    parts = []
    for e in body.get("embeds") or []:
        parts += [e.get("title") or "", e.get("description") or "", (e.get("footer") or {}).get("text") or ""]
        parts += [f"{f['name']}\n{f['value']}" for f in e.get("fields") or []]
    return "\n".join(parts)


def plain(text: str) -> str:
    """Rendered text without Discord's escape backslashes (what a user sees)."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and not text[i + 1].isalnum() and not text[i + 1].isspace():
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out)
