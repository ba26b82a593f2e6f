"""``careerbot doctor``: check a deployment and print a checklist with the fix for each failure.

Knowledge valid; the store reachable and at the newest migration; for Slack (when ``SLACK_BOT_TOKEN``
is set) the token valid (``auth.test``), the granted scopes against those the manifest asks for, the
signing secret (HTTP mode) and the app token's shape (Socket Mode); for Discord (``DISCORD_TOKEN``)
the token valid and the bot's permissions in each server against those careerbot needs; and the
clock against the platforms' (a skewed clock fails Slack's request signatures). Nothing it prints
holds a secret: tokens appear only as "set" or "not set".
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from bot.errors import ConfigError, KnowledgeError

CLOCK_SKEW_MAX = 60.0
"""Seconds of difference with a platform's clock before it is a failure (Slack refuses requests
signed more than five minutes away; a minute leaves room)."""
TIMEOUT = 10.0


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _skew(date_header: str | None, now: float | None) -> float | None:
    """The platform's clock minus ours; ``now`` defaults to the moment the answer arrived."""
    if not date_header:
        return None
    moment = time.time() if now is None else now
    try:
        return parsedate_to_datetime(date_header).timestamp() - moment
    except (TypeError, ValueError):
        return None


def check_knowledge(directory: Path | None) -> Check:
    from bot.knowledge.loader import default_knowledge_dir, load

    where = directory or default_knowledge_dir()
    try:
        found = load(where)
    except KnowledgeError as exc:
        first = exc.problems[0] if exc.problems else None
        detail = f"{len(exc.problems)} problem(s)" + (f", first: {first}" if first else "")
        return Check("knowledge", False, detail[:300], f"run `careerbot validate {where}` and fix what it lists")
    except Exception as exc:
        return Check("knowledge", False, f"cannot read {where} ({type(exc).__name__})", "check CAREERBOT_KNOWLEDGE")
    total = sum(len(v) for v in found.entries.values())
    return Check("knowledge", True, f"{where}: {total} entries valid")


async def check_store(environ: Mapping[str, str]) -> Check:
    from bot.schedule.trouble import describe
    from bot.store.engine import Store, database_url, shown
    from bot.store.migrations import HEAD, current

    try:
        url = database_url(environ)
    except ConfigError as exc:
        return Check("store", False, str(exc), "fix CAREERBOT_DATABASE_URL")
    try:
        async with asyncio.timeout(TIMEOUT):
            store = await Store.open(url, migrate=False, environ=dict(environ))
            try:
                revision = await current(store)
            finally:
                await store.close()
    except TimeoutError:
        return Check("store", False, f"{shown(url)}: no answer in {TIMEOUT:g} s", "is the database running?")
    except Exception as exc:
        return Check(
            "store", False, f"{shown(url)}: {describe(exc)}"[:300], "check CAREERBOT_DATABASE_URL and the server"
        )
    if revision != HEAD:
        return Check(
            "store",
            False,
            f"{shown(url)}: at migration {revision or 'none'}, the code expects {HEAD}",
            "run `careerbot db upgrade` (careerbot run also migrates at start)",
        )
    return Check("store", True, f"{shown(url)}: reachable, migration {HEAD}")


async def check_slack(environ: Mapping[str, str], now: float | None = None) -> list[Check]:
    from pydantic import ValidationError

    from adapters.slack_bot.manifest import build_manifest
    from adapters.slack_bot.settings import SlackSettings, problems
    from bot.registry import REGISTRY

    try:
        given = {k.lower(): v for k, v in environ.items() if k.startswith(("SLACK_", "CAREERBOT_")) and v.strip()}
        settings = SlackSettings.model_validate(given)
    except ValidationError as exc:
        var, reason = problems(exc)[0]
        return [Check("slack settings", False, f"{var}: {reason}", f"fix {var}")]
    checks = []
    if settings.socket_mode:
        checks.append(Check("slack mode", True, "Socket Mode (SLACK_APP_TOKEN has the xapp- shape)"))
    elif settings.slack_signing_secret is None:
        checks.append(
            Check(
                "slack mode",
                False,
                "HTTP mode without SLACK_SIGNING_SECRET: every request would be refused",
                "set SLACK_SIGNING_SECRET (Basic Information) or SLACK_APP_TOKEN for Socket Mode",
            )
        )
    else:
        checks.append(Check("slack mode", True, "HTTP mode, signing secret set"))
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url)
    try:
        async with asyncio.timeout(TIMEOUT):
            auth = await client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else "unknown"
        checks.append(
            Check("slack token", False, f"auth.test refused the token ({error})", "copy the Bot User OAuth Token again")
        )
        return checks
    except Exception as exc:
        checks.append(Check("slack token", False, f"cannot reach Slack ({type(exc).__name__})", "check the network"))
        return checks
    checks.append(Check("slack token", True, f"valid: {auth.get('user')} in {auth.get('team')}"))
    wanted = set(build_manifest(REGISTRY, prefix=settings.careerbot_command_prefix)["oauth_config"]["scopes"]["bot"])
    header = next((v for k, v in auth.headers.items() if k.lower() == "x-oauth-scopes"), None)
    if header is None:
        checks.append(Check("slack scopes", False, "Slack did not say which scopes the token has", "check again later"))
    else:
        granted = {s.strip() for s in str(header).split(",") if s.strip()}
        missing = sorted(wanted - granted)
        checks.append(
            Check("slack scopes", True, f"all {len(wanted)} scopes granted")
            if not missing
            else Check(
                "slack scopes",
                False,
                f"missing: {', '.join(missing)}",
                "update the app from `careerbot slack manifest`, then reinstall it to the workspace",
            )
        )
    skew = _skew(next((v for k, v in auth.headers.items() if k.lower() == "date"), None), now)
    if skew is not None:
        checks.append(clock_check("slack", skew))
    return checks


def required_discord_permissions() -> Any:
    """What the invite link in docs/discord.md grants: posting, embeds, replies, intro threads."""
    import discord

    from adapters.discord_bot.posting import NEEDED, THREAD_NEEDED

    wanted = discord.Permissions.none()
    for flag, _ in (*NEEDED, *THREAD_NEEDED, ("read_message_history", "Read Message History")):
        setattr(wanted, flag, True)
    return wanted


async def check_discord(environ: Mapping[str, str], now: float | None = None) -> list[Check]:
    import aiohttp
    import discord

    token = environ.get("DISCORD_TOKEN", "").strip()
    base = discord.http.Route.BASE
    headers = {"Authorization": f"Bot {token}", "User-Agent": "careerbot doctor"}
    checks = []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session:
            async with session.get(f"{base}/users/@me", headers=headers) as r:
                if r.status == 401:
                    return [Check("discord token", False, "Discord rejected the token", "reset it on the Bot page")]
                me = await r.json()
                skew = _skew(r.headers.get("Date"), now)
            async with session.get(f"{base}/users/@me/guilds", headers=headers) as r:
                guilds = await r.json() if r.status == 200 else []
    except (aiohttp.ClientError, TimeoutError) as exc:
        return [Check("discord token", False, f"cannot reach Discord ({type(exc).__name__})", "check the network")]
    checks.append(Check("discord token", True, f"valid: {str(me.get('username', '?'))[:40]}"))
    wanted = required_discord_permissions()
    if not guilds:
        checks.append(Check("discord servers", False, "the bot is in no server", "invite it (docs/discord.md)"))
    for guild in guilds[:50]:
        have = discord.Permissions(int(guild.get("permissions") or 0))
        name = str(guild.get("name", guild.get("id", "?")))[:60]
        missing = [flag for flag, value in wanted if value and not getattr(have, flag)]
        if have.administrator or not missing:
            checks.append(Check(f"discord server {name}", True, "has every permission careerbot needs"))
        else:
            labels = ", ".join(flag.replace("_", " ") for flag in missing)
            checks.append(
                Check(
                    f"discord server {name}",
                    False,
                    f"missing: {labels}",
                    "grant them to careerbot's role (Server Settings → Roles) or re-invite it with the link in "
                    "docs/discord.md",
                )
            )
    if skew is not None:
        checks.append(clock_check("discord", skew))
    return checks


def clock_check(platform: str, skew: float) -> Check:
    if abs(skew) <= CLOCK_SKEW_MAX:
        return Check(f"clock vs {platform}", True, f"{skew:+.0f} s")
    return Check(
        f"clock vs {platform}",
        False,
        f"this machine is {abs(skew):.0f} s {'behind' if skew > 0 else 'ahead of'} {platform}",
        "sync the clock (NTP); Slack refuses requests signed more than 5 minutes away",
    )


async def run_checks(
    environ: Mapping[str, str] = os.environ, *, knowledge: Path | None = None, now: float | None = None
) -> list[Check]:
    checks = [check_knowledge(knowledge), await check_store(environ)]
    if environ.get("SLACK_BOT_TOKEN", "").strip():
        checks += await check_slack(environ, now)
    if environ.get("DISCORD_TOKEN", "").strip():
        checks += await check_discord(environ, now)
    if not environ.get("SLACK_BOT_TOKEN", "").strip() and not environ.get("DISCORD_TOKEN", "").strip():
        checks.append(Check("platforms", True, "no SLACK_BOT_TOKEN or DISCORD_TOKEN: `careerbot run` is the console"))
    return checks


def render(checks: Sequence[Check]) -> str:
    lines = []
    for check in checks:
        mark = "ok  " if check.ok else "FAIL"
        lines.append(f"{mark}  {check.name}: {check.detail}")
        if not check.ok and check.fix:
            lines.append(f"      fix: {check.fix}")
    failed = sum(not c.ok for c in checks)
    lines.append(f"{len(checks) - failed} ok, {failed} failed")
    return "\n".join(lines)


def as_json(checks: Sequence[Check]) -> dict[str, Any]:
    return {"ok": all(c.ok for c in checks), "checks": [asdict(c) for c in checks]}
