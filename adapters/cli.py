"""The ``careerbot`` command line. Platform SDKs are imported only by the subcommands that need them,
so ``careerbot ask`` starts fast."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from bot.errors import ConfigError, KnowledgeError

#: Subcommand groups defined by platform adapters, loaded only when used: name -> "module:attribute".
LAZY_GROUPS = {
    "slack": "adapters.slack_bot.app:cli",
    "discord": "adapters.discord_bot.app:cli",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_GROUPS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_GROUPS:
            import importlib

            module, _, attr = LAZY_GROUPS[cmd_name].partition(":")
            try:
                found: click.Command = getattr(importlib.import_module(module), attr)
            except ImportError as exc:
                raise click.ClickException(
                    f"'{cmd_name}' needs the {cmd_name} extra: pip install 'careerbot[{cmd_name}]' ({exc})"
                ) from exc
            return found
        return super().get_command(ctx, cmd_name)


def load_core(knowledge: Path | None, services: Any = None, rng: Any = None) -> Any:
    """The core on the given (or default) knowledge; a broken tree exits with the validator's report.
    ``services``: the store etc. (:class:`bot.context.Services`), opened only when a command needs it."""
    from bot.core import Core

    try:
        return Core(knowledge, services=services, rng=rng)
    except KnowledgeError as exc:
        click.echo(f"careerbot: the knowledge is invalid ({len(exc.problems)} problems):", err=True)
        click.echo(exc.report(), err=True)
        raise SystemExit(2) from None


knowledge_option = click.option(
    "--knowledge",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="CAREERBOT_KNOWLEDGE",
    help="Knowledge directory (default: the one shipped with careerbot; env CAREERBOT_KNOWLEDGE).",
)


@click.group(cls=LazyGroup)
@click.version_option(package_name="careerbot")
def main() -> None:
    """careerbot: a chat bot for careers in healthcare software development."""
    from adapters.logs import configure

    configure(default_level=logging.WARNING)


@main.command()
@click.argument("text", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the neutral reply as JSON.")
@click.option("--seed", type=int, help="Seed the random choices (/tip, rotation order) for repeatable answers.")
@click.option("--now", "now_text", help="Pretend it is this moment, ISO 8601 (no offset means UTC), for /tips.")
@knowledge_option
def ask(text: tuple[str, ...], as_json: bool, seed: int | None, now_text: str | None, knowledge: Path | None) -> None:
    """Answer TEXT (e.g. "/role ehr"). Without TEXT, answer each line of stdin on one output line."""
    import random

    from adapters.console import render_json, render_line, render_text, use_color

    rng = None if seed is None else random.Random(seed)
    core = load_core(knowledge, console_services(rng=rng, now=parse_now(now_text)), rng=rng)
    with asyncio.Runner() as runner:
        try:
            if text:
                reply = runner.run(core.ask(" ".join(text), admin=True))  # the operator's own terminal
                click.echo(render_json(reply) if as_json else render_text(reply, color=use_color(sys.stdout)))
                return
            for line in sys.stdin:
                reply = runner.run(core.ask(line.rstrip("\n"), admin=True))
                sys.stdout.write((render_json(reply) if as_json else render_line(reply)) + "\n")
                sys.stdout.flush()
        finally:
            runner.run(core.aclose())


def console_services(*, rng: Any = None, now: Any = None) -> Any:
    """The store, opened on the first /tips command, with the console's poster (it prints).
    ``now``: a fixed moment for the clock (``--now``); ``rng``: seeded randomness (``--seed``)."""
    from adapters.console import ConsolePoster
    from bot.context import Services

    clock = None
    if now is not None:
        from bot.schedule.clock import FakeClock  # imports the store: only when a moment is given

        clock = FakeClock(now)
    return Services(posters={"console": ConsolePoster()}, clock=clock, rng=rng)


def parse_now(text: str | None) -> Any:
    """``--now``: an ISO 8601 moment, UTC when it has no offset; None when not given."""
    from datetime import UTC, datetime

    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 time", param_hint="--now") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@main.command()
@knowledge_option
def chat(knowledge: Path | None) -> None:
    """Chat in the terminal (quit or Ctrl-D ends it). Piped input: each line is answered."""
    from adapters.console import chat as run_chat

    run_chat(load_core(knowledge, console_services()))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the declarations as JSON.")
@click.option("--markdown", is_flag=True, help="Print the Markdown command table used in README.md.")
def commands(as_json: bool, markdown: bool) -> None:
    """List the declared commands and their options."""
    from bot.registry import REGISTRY

    if as_json:
        click.echo(json.dumps([c.to_dict() for c in REGISTRY], indent=2))
    elif markdown:
        click.echo(commands_markdown())
    else:
        for c in REGISTRY:
            click.echo(f"{c.usage:<28} {c.description}")


def commands_markdown() -> str:
    """The README's command table, generated from the declarations so the docs cannot drift."""
    from bot.registry import REGISTRY

    rows = ["| Command | What it answers | Example |", "| --- | --- | --- |"]
    for c in REGISTRY:
        example = f"`{c.examples[-1]}`" if c.examples else ""
        rows.append(f"| `{c.usage}` | {c.description} | {example} |")
    return "\n".join(rows)


@main.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
def validate(directory: Path | None) -> None:
    """Check a knowledge directory; print its problems as FILE:LINE: field: message (the first 50)."""
    from bot.knowledge.loader import default_knowledge_dir, load

    directory = directory or default_knowledge_dir()
    try:
        knowledge = load(directory)
    except KnowledgeError as exc:
        click.echo(exc.report())
        count = f"{len(exc.problems)}" if exc.complete else f"at least {len(exc.problems)}"
        click.echo(f"{count} problem(s) found", err=True)
        raise SystemExit(1) from None
    except Exception as exc:  # load() reports everything as problems; this is the last resort, still one line
        click.echo(f"{directory}:0: cannot validate ({type(exc).__name__}: {str(exc)[:200]!r})")
        raise SystemExit(1) from None
    click.echo(knowledge.summary())


@main.command()
@click.option(
    "--port",
    type=int,
    default=3000,
    envvar="CAREERBOT_HTTP_PORT",
    show_default=True,
    help="HTTP port: Slack HTTP mode, and /healthz, /readyz, /metrics (env CAREERBOT_HTTP_PORT).",
)
@click.option("--console", "force_console", is_flag=True, help="Chat in the terminal even if tokens are set.")
@knowledge_option
def run(port: int, force_console: bool, knowledge: Path | None) -> None:
    """Start the bot on every platform whose token is set; with none, chat in the terminal."""
    from adapters import runner

    names = [] if force_console else runner.enabled()
    if not names:
        from adapters.console import chat as run_chat

        core = load_core(knowledge, console_services())
        run_chat(core)
        return
    from bot.context import Services

    core = load_core(knowledge, Services())
    from adapters.logs import configure

    configure(default_level=logging.INFO, force_level=True)
    gc.freeze()  # the loaded knowledge lives for the process: keep it out of every later GC scan
    try:
        assert core.services is not None
        core.services.settings  # noqa: B018 - a bad CAREERBOT_TIMEZONE or _TIPS_GRACE stops here, in one line
        platforms = runner.build(core, names, {"port": port})
        asyncio.run(runner.serve_until_stopped(core, platforms, http_port=port))
    except ConfigError as exc:
        click.echo(f"careerbot: {exc}", err=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        pass


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON (for scripts).")
@knowledge_option
def doctor(as_json: bool, knowledge: Path | None) -> None:
    """Check this deployment: knowledge, store, platform tokens, scopes, permissions, clock."""
    from adapters.doctor import as_json as to_json
    from adapters.doctor import render, run_checks

    checks = asyncio.run(run_checks(knowledge=knowledge))
    click.echo(json.dumps(to_json(checks), indent=2) if as_json else render(checks))
    if not all(c.ok for c in checks):
        raise SystemExit(1)


@main.group()
def db() -> None:
    """The database: SQLite in CAREERBOT_DATA_DIR, or PostgreSQL at CAREERBOT_DATABASE_URL."""


@db.command()
def upgrade() -> None:
    """Apply the schema migrations (also done at every start-up); never loses rows."""
    from bot.store import migrations
    from bot.store.engine import Store, database_url, shown
    from bot.store.problems import StoreError

    async def go() -> tuple[str | None, str | None]:
        store = await Store.open(migrate=False)
        try:
            async with store.failures():
                return await migrations.upgrade(store)
        finally:
            await store.close()

    try:
        url = database_url()
        before, after = asyncio.run(go())
    except ConfigError as exc:
        click.echo(f"careerbot: {exc}", err=True)
        raise SystemExit(2) from None
    except StoreError as exc:  # read-only, full, damaged, unreachable: the file or server, and the fix
        click.echo(f"careerbot: {exc.detail}", err=True)
        raise SystemExit(1) from None
    except Exception as exc:
        said = (str(exc).strip().splitlines() or [""])[0]
        click.echo(f"careerbot: cannot upgrade the database ({type(exc).__name__}: {said})", err=True)
        raise SystemExit(1) from None
    state = "already at" if before == after else f"{before or 'empty'} ->"
    click.echo(f"{shown(url)}: {state} {after}")


@main.group()
def tips() -> None:
    """Daily tip posts (subscribe channels with /tips subscribe)."""


@tips.command("run")
@click.option("--now", "now_text", help="Pretend it is this moment, ISO 8601 (no offset means UTC).")
@click.option("--once", is_flag=True, help="Post what is due at that moment, then exit.")
@knowledge_option
def tips_run(now_text: str | None, once: bool, knowledge: Path | None) -> None:
    """Run the scheduler for console subscriptions, printing each post.

    \b
    careerbot ask "/tips subscribe time:09:00 timezone:Europe/Berlin"
    careerbot tips run --now 2025-03-31T09:00+02:00 --once
    """
    from datetime import UTC, datetime

    from adapters.console import ConsolePoster, use_color
    from bot.context import Services
    from bot.registry import job_kinds
    from bot.schedule.clock import FakeClock, ShiftedClock, SystemClock
    from bot.schedule.rules import EARLIEST, LATEST, schedulable
    from bot.schedule.scheduler import Scheduler, Settings
    from bot.store.problems import StoreError

    start = None
    if now_text:
        try:
            start = datetime.fromisoformat(now_text)
        except ValueError:
            click.echo(f"careerbot: --now {now_text!r} is not an ISO 8601 time, e.g. 2025-03-31T09:00+02:00", err=True)
            raise SystemExit(2) from None
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
        if not schedulable(start):
            click.echo(
                f"careerbot: --now {now_text} is out of range: give a moment from {EARLIEST:%Y-%m-%d} "
                f"to before {LATEST:%Y-%m-%d} (UTC)",
                err=True,
            )
            raise SystemExit(2)
    clock = FakeClock(start or datetime.now(UTC)) if once else ShiftedClock(start) if start else SystemClock()
    poster = ConsolePoster(color=use_color(sys.stdout))
    core = load_core(knowledge)

    async def go() -> None:
        services = Services(posters={"console": poster}, clock=clock)
        try:
            store = await services.store()
            await store.check_writable()  # the scheduler writes: a store that cannot take it fails here, once
            scheduler = Scheduler(
                store,
                services.posters,
                job_kinds(lambda: core.kb),
                clock=clock,
                settings=Settings(grace=services.settings.grace),
            )
            if once:
                async with store.failures():
                    report = await scheduler.run_once()
                click.echo(
                    f"careerbot: {report.sent} posted, {report.missed} missed, {report.failed} failed "
                    f"at {clock.now().isoformat()}",
                    err=True,
                )
            else:
                await scheduler.run()
        finally:
            await services.aclose()

    try:
        asyncio.run(go())
    except ConfigError as exc:
        click.echo(f"careerbot: {exc}", err=True)
        raise SystemExit(2) from None
    except StoreError as exc:  # read-only, full, damaged, unreachable: the file or server, and the fix
        click.echo(f"careerbot: {exc.detail}", err=True)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        pass


@main.group()
def mentoring() -> None:
    """Mentoring programs (admins start one with /mentoring program create)."""


@mentoring.command("demo")
@click.option("--members", type=click.IntRange(2, 2000), default=30, show_default=True, help="Made-up members.")
@click.option("--rounds", type=click.IntRange(1, 20), default=2, show_default=True, help="Weekly rounds to run.")
@click.option("--kind", type=click.Choice(["pairs", "mentor"]), default="pairs", show_default=True)
@click.option("--now", "now_text", help="When the program starts, ISO 8601 (default: now).")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed for the made-up members and the matching.")
@knowledge_option
def mentoring_demo(
    members: int, rounds: int, kind: str, now_text: str | None, seed: int, knowledge: Path | None
) -> None:
    """Run a mentoring program with made-up members on the console: rounds, intros, check-ins, report.

    It uses a throwaway database, never the configured one.
    """
    from datetime import UTC, datetime

    from adapters.console import use_color
    from adapters.mentoring_demo import run_demo

    start = parse_now(now_text) or datetime.now(UTC)
    core = load_core(knowledge)
    asyncio.run(
        run_demo(
            core.kb,
            members=members,
            rounds=rounds,
            start=start,
            kind=kind,
            seed=seed,
            stream=sys.stdout,
            color=use_color(sys.stdout),
        )
    )


if __name__ == "__main__":
    main()
