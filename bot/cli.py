"""The `redigest` command line.

Cheap to start: `--help` and an offline `redigest digest FILE` import no LLM or chat SDK (and
not the bot's database or scheduler); each command imports what it runs (tests/test_app_imports.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from digest.errors import DigestError
from digest.report import Depth

if TYPE_CHECKING:
    from rich.console import Console

    from bot.roles import Role
    from bot.settings import Settings
    from digest.report import Report

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="redigest: grounded digests of Reddit threads, for Discord, Slack and your terminal.",
)
log = logging.getLogger("redigest")


class AnalyzerChoice(StrEnum):
    auto = "auto"
    offline = "offline"
    anthropic = "anthropic"
    openai = "openai"


class Format(StrEnum):
    markdown = "markdown"
    text = "text"
    json = "json"


def _stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def _progress_console() -> Console | None:
    """Where progress is shown: standard error when it is a terminal; else nowhere (a pipe, CI,
    the tests), and rich's live display is never loaded."""
    if not sys.stderr.isatty():
        return None
    return _stderr()


_json_say: list[str] | None = None  # the secrets to mask, once REDIGEST_LOG_FORMAT=json


def _say(line: str) -> None:
    """One line for the operator at start-up, whatever the log level (a JSON one in JSON logs)."""
    if _json_say is not None:
        from bot.logs import json_line

        sys.stderr.write(json_line(line, _json_say) + "\n")
        return
    _stderr().print(f"redigest: {line}", markup=False)


def _fail(message: str) -> typer.Exit:
    _stderr().print(f"[bold red]redigest:[/] {message}", markup=True)
    return typer.Exit(code=2)


def _render(format: Format, report: Report) -> str:
    if format is Format.json:
        from digest.render.json_report import render_json

        return render_json(report)
    from digest.render.markdown import render_markdown, render_text

    return (render_markdown if format is Format.markdown else render_text)(report)


@app.callback()
def _root() -> None:
    """Subcommands below."""


@app.command()
def digest(
    target: Annotated[
        str, typer.Argument(help="A saved thread JSON file, or a Reddit thread URL.")
    ],
    depth: Annotated[Depth, typer.Option(help="brief: a quick digest; deep: ten sections.")] = (
        Depth.BRIEF
    ),
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = (
        Format.markdown
    ),
    budget: Annotated[
        int | None,
        typer.Option(min=500, max=400_000, help="Token budget for the analysed comments."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
    analyzer: Annotated[
        AnalyzerChoice | None,
        typer.Option(help="Who writes the narrative (default: REDIGEST_ANALYZER, else auto)."),
    ] = None,
    show_usage: Annotated[
        bool, typer.Option("--show-usage", help="Print tokens, latency and cost to stderr.")
    ] = False,
    chart: Annotated[
        Path | None,
        typer.Option(
            "--chart", help="With --depth deep: write the activity-and-mood chart (PNG) here."
        ),
    ] = None,
) -> None:
    """Digest one Reddit thread and print the report."""
    from bot.app import App
    from bot.settings import SettingsError, load_settings

    if chart is not None and depth is not Depth.DEEP:
        raise _fail("--chart needs --depth deep: only a deep report has a chart.")

    try:
        settings = load_settings()
        application = App(settings, analyzer=analyzer.value if analyzer else None)
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    # One run for the person at the terminal: a failure is printed as one sentence below, so
    # the operator's warnings (the same news, for a bot's log) show only when asked for.
    level = settings.log_level if settings.log_level in ("DEBUG", "INFO") else "ERROR"
    _logging(settings, level)

    console = _progress_console()

    async def run() -> Report:
        async with application:
            if console is None:
                return await application.digest(target, depth, budget)
            from bot.progress import reporting
            from bot.terminal_progress import TerminalProgress

            with TerminalProgress(console) as shown, reporting(shown):
                return await application.digest(target, depth, budget)

    try:
        report = asyncio.run(run())
    except DigestError as exc:
        raise _fail(exc.user_message) from None
    if show_usage:
        u = report.usage
        cost = f"≈ ${u.cost_usd:.4f}" if u.cost_usd else "no cost recorded"
        sys.stderr.write(
            f"usage: analyser={report.analyzer} model={u.model or '-'} input={u.input_tokens} "
            f"output={u.output_tokens} cache_write={u.cache_write_tokens} "
            f"cache_read={u.cache_read_tokens} latency={u.latency_ms}ms {cost}\n"
        )
    if chart is not None:
        report = _write_chart(report, chart)
    text = _render(format, report)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror or exc}.") from None


def _write_chart(report: Report, path: Path) -> Report:
    """The report's chart written to `path` (said on stderr); when the thread is too small to
    chart, the report says so instead."""
    from dataclasses import replace

    from digest.chart_text import chart_text
    from digest.render.chart_png import render_chart

    data = report.chart
    if data is None or data.too_small:
        sys.stderr.write(chart_text("no_chart") + "\n")
        return replace(report, notes=(*report.notes, chart_text("no_chart")))
    try:
        path.write_bytes(render_chart(data))
    except OSError as exc:
        raise _fail(f"cannot write {path}: {exc.strerror or exc}.") from None
    sys.stderr.write(f"Chart written to {path}\n")
    return report


async def _console(
    settings: Settings, lines: AsyncIterator[str] | None = None, out: TextIO | None = None
) -> None:
    from bot.app import App

    async with App(settings) as application:
        await application.run_console(lines, out, say=_say)


def _start() -> Settings:
    from bot.settings import SettingsError, load_settings

    try:
        settings = load_settings()
        settings.resolved_analyzer()
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    _logging(settings, settings.log_level)
    return settings


def _logging(settings: Settings, level: str) -> None:
    global _json_say
    from bot.logs import configure

    configure(level, settings.log_format, settings.secret_values())
    _json_say = settings.secret_values() if settings.log_format == "json" else None


def _run_until_signal(main: Callable[[], Awaitable[None]]) -> None:
    """Run the bot; SIGINT/SIGTERM stop it gracefully (jobs finish or stay pending)."""

    async def runner() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(main())
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    from adapters.console_chat import ConsoleStateError
    from bot.storage import StorageError

    try:
        asyncio.run(runner())
    except (DigestError, StorageError, ConsoleStateError) as exc:
        message = exc.user_message if isinstance(exc, DigestError) else str(exc)
        raise _fail(message) from None


@app.command()
def console() -> None:
    """Drive the real bot core from the terminal: commands, reactions, schedules, no account needed."""
    settings = _start()
    _run_until_signal(lambda: _console(settings))


async def _chat_bot(settings: Settings, role: Role | None = None) -> None:
    """Discord and/or Slack, as configured, on one core (bot/app.py builds and runs them)."""
    from bot.app import App

    async with App(settings, role=role) as application:
        await application.run_chats(say=_say)


@app.command()
def run(
    role: Annotated[
        str,
        typer.Option(
            help="What this process does: all (everything, the default), gateway (receive and "
            "answer), worker (run jobs) or scheduler (schedules and watches). Roles other than "
            "all need REDIGEST_DATABASE_URL (PostgreSQL)."
        ),
    ] = "all",
) -> None:
    """Run the bot on every configured platform (the console when no chat tokens are set)."""
    from bot.roles import RoleError, role_named

    settings = _start()
    chats = settings.discord_token is not None or settings.slack_bot_token is not None
    try:
        chosen = role_named(role, shared_database=settings.database_url is not None, chats=chats)
    except RoleError as exc:
        raise _fail(exc.user_message) from None
    if not chats:
        _run_until_signal(lambda: _console(settings))
    else:
        _run_until_signal(lambda: _chat_bot(settings, chosen))


@app.command()
def health() -> None:
    """Exit 0 when the bot on this database runs well (database, chat connections, Reddit), else 1.

    Read-only, for Docker's HEALTHCHECK and monitoring: it never disturbs the running bot.
    """
    from bot.health import health as check
    from bot.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:  # 1, not 2: Docker reserves a health check's exit 2
        _stderr().print(f"[bold red]redigest:[/] {exc}", markup=True)
        raise typer.Exit(code=1) from None
    ok, lines = check(settings.database(), status=settings.status_file())
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    raise typer.Exit(code=0 if ok else 1)


@app.command("migrate-db")
def migrate_db(
    source: Annotated[
        str, typer.Argument(help="The SQLite database: sqlite:///absolute/path or sqlite:path.")
    ],
    target: Annotated[str, typer.Argument(help="An empty PostgreSQL database: postgresql://…")],
) -> None:
    """Copy a SQLite database into an empty PostgreSQL database (stop the bot first)."""
    from bot.migrate_db import MigrationError
    from bot.migrate_db import migrate_db as copy

    try:
        result = asyncio.run(copy(source, target))
    except MigrationError as exc:
        raise _fail(str(exc)) from None
    sys.stdout.write("".join(f"{line}\n" for line in result.lines()))


def main() -> None:
    app()
