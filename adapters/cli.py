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
    "slack": "adapters.slack_app:cli",
    "discord": "adapters.discord_app:cli",
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


def load_core(knowledge: Path | None, services: Any = None) -> Any:
    """The core on the given (or default) knowledge; a broken tree exits with the validator's report.
    ``services``: the store etc. (:class:`bot.services.Services`), opened only when a command needs it."""
    from bot.core import Core

    try:
        return Core(knowledge, services=services)
    except KnowledgeError as exc:
        click.echo(f"careerbot: the knowledge is invalid ({len(exc.problems)} problems):", err=True)
        for problem in exc.problems:
            click.echo(str(problem), err=True)
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
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.argument("text", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the neutral reply as JSON.")
@knowledge_option
def ask(text: tuple[str, ...], as_json: bool, knowledge: Path | None) -> None:
    """Answer TEXT (e.g. "/role ehr"). Without TEXT, answer each line of stdin on one output line."""
    from adapters.console import render_json, render_line, render_text, use_color

    core = load_core(knowledge, console_services())
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


def console_services() -> Any:
    """The store, opened on the first /tips command, with the console's poster (it prints)."""
    from adapters.console import ConsolePoster
    from bot.services import Services

    return Services(posters={"console": ConsolePoster()})


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
    from bot.handlers import REGISTRY

    if as_json:
        click.echo(json.dumps([c.to_dict() for c in REGISTRY], indent=2))
    elif markdown:
        click.echo(commands_markdown())
    else:
        for c in REGISTRY:
            click.echo(f"{c.usage:<28} {c.description}")


def commands_markdown() -> str:
    """The README's command table, generated from the declarations so the docs cannot drift."""
    from bot.handlers import REGISTRY

    rows = ["| Command | What it answers | Example |", "| --- | --- | --- |"]
    for c in REGISTRY:
        example = f"`{c.examples[-1]}`" if c.examples else ""
        rows.append(f"| `{c.usage}` | {c.description} | {example} |")
    return "\n".join(rows)


@main.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
def validate(directory: Path | None) -> None:
    """Check a knowledge directory; print every problem as FILE:LINE: field: message."""
    from bot.loader import default_knowledge_dir, load

    try:
        knowledge = load(directory or default_knowledge_dir())
    except KnowledgeError as exc:
        for problem in exc.problems:
            click.echo(str(problem))
        click.echo(f"{len(exc.problems)} problem(s) found", err=True)
        raise SystemExit(1) from None
    click.echo(knowledge.summary())


@main.command()
@click.option("--port", type=int, default=3000, show_default=True, help="HTTP port (Slack HTTP mode).")
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
    from bot.services import Services

    core = load_core(knowledge, Services())
    logging.getLogger().setLevel(logging.INFO)
    gc.freeze()  # the loaded knowledge lives for the process: keep it out of every later GC scan
    try:
        platforms = runner.build(core, names, {"port": port})
        asyncio.run(runner.serve(core, platforms))
    except ConfigError as exc:
        click.echo(f"careerbot: {exc}", err=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        pass


@main.group()
def db() -> None:
    """The database: SQLite in CAREERBOT_DATA_DIR, or PostgreSQL at CAREERBOT_DATABASE_URL."""


@db.command()
def upgrade() -> None:
    """Apply the schema migrations (also done at every start-up); never loses rows."""
    from bot import migrations
    from bot.store import Store, database_url, shown

    async def go() -> tuple[str | None, str | None]:
        store = await Store.open(migrate=False)
        try:
            return await migrations.upgrade(store)
        finally:
            await store.close()

    try:
        url = database_url()
        before, after = asyncio.run(go())
    except ConfigError as exc:
        click.echo(f"careerbot: {exc}", err=True)
        raise SystemExit(2) from None
    except Exception as exc:
        click.echo(f"careerbot: cannot upgrade the database ({type(exc).__name__}: {exc})", err=True)
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
    from bot.scheduler import FakeClock, Scheduler, Settings, ShiftedClock, SystemClock
    from bot.services import Services

    start = None
    if now_text:
        try:
            start = datetime.fromisoformat(now_text)
        except ValueError:
            raise click.BadParameter(f"{now_text!r} is not an ISO 8601 time", param_hint="--now") from None
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
    clock = FakeClock(start or datetime.now(UTC)) if once else ShiftedClock(start) if start else SystemClock()
    poster = ConsolePoster(color=use_color(sys.stdout))
    core = load_core(knowledge)

    async def go() -> None:
        services = Services(posters={"console": poster}, clock=clock)
        try:
            store = await services.store()
            scheduler = Scheduler(
                store, services.posters, lambda: core.kb, clock=clock, settings=Settings(grace=services.settings.grace)
            )
            if once:
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
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
