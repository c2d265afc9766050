"""The `redigest` command line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.console import Console

from adapters.console_chat import (
    ConsoleChat,
    ConsoleControl,
    ConsoleStateError,
    console_state_path,
    stdin_lines,
)
from adapters.discord_chat import DiscordChat, DiscordConfig
from adapters.slack_chat import SlackChat, SlackConfig
from bot.app import App
from bot.chat import ChatPort, Inbox
from bot.settings import Settings, SettingsError, load_settings
from bot.storage import StorageError
from digest.errors import DigestError
from digest.render.json_report import render_json
from digest.render.markdown import render_markdown, render_text
from digest.report import Depth, Report

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


def _say(line: str) -> None:
    """One line for the operator at start-up, whatever the log level."""
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"redigest: {line}", markup=False)


def _fail(message: str) -> typer.Exit:
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]redigest:[/] {message}", markup=True
    )
    return typer.Exit(code=2)


_RENDERERS = {Format.markdown: render_markdown, Format.text: render_text, Format.json: render_json}


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
) -> None:
    """Digest one Reddit thread and print the report."""
    try:
        settings = load_settings()
        application = App(settings, analyzer=analyzer.value if analyzer else None)
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    # One run for the person at the terminal: a failure is printed as one sentence below, so
    # the operator's warnings (the same news, for a bot's log) show only when asked for.
    level = settings.log_level if settings.log_level in ("DEBUG", "INFO") else "ERROR"
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")

    async def run() -> Report:
        async with application:
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
    text = _RENDERERS[format](report)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror or exc}.") from None


async def _console(
    settings: Settings, lines: AsyncIterator[str] | None = None, out: TextIO | None = None
) -> None:
    async with App(settings) as application:
        # The database is ours once `bot` returns (one owner per file): only then is the
        # console's state file beside it ours to read.
        chats: dict[str, ChatPort] = {}
        core = await application.bot(chats, terminal=True)
        _say(application.reddit_line())  # once start-up worked: an error stays one line
        chat = ConsoleChat(out, state_path=console_state_path(settings.database_path))
        chats[chat.platform] = chat
        control = ConsoleControl(
            next_runs=core.describe_next_runs,
            run_now=core.run_subscription_now,
            jobs=core.describe_jobs,
        )
        await core.start()
        try:
            await chat.run(
                lines or stdin_lines(), Inbox(core.handle_request, core.handle_reaction), control
            )
            await core.drain()
        finally:
            await core.stop()


def _start() -> Settings:
    try:
        settings = load_settings()
        settings.resolved_analyzer()
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    return settings


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


async def _chat_bot(settings: Settings) -> None:
    """Discord and/or Slack, as configured, on one core."""
    async with App(settings) as application, contextlib.AsyncExitStack() as stack:
        chats: dict[str, ChatPort] = {}
        runners: list[Callable[[Inbox], Awaitable[None]]] = []
        if settings.discord_token is not None:
            discord = await stack.enter_async_context(
                DiscordChat(
                    DiscordConfig(
                        token=settings.discord_token.get_secret_value(),
                        api_base=settings.discord_api_base,
                        gateway_url=settings.discord_gateway_url,
                        guild_ids=tuple(settings.discord_guild_ids),
                        message_content=settings.discord_message_content,
                    )
                )
            )
            if discord.invite_url:  # shown whatever the log level: the one thing to act on
                _say(f"invite the bot to a Discord server with {discord.invite_url}")
            chats[discord.platform] = discord
            runners.append(discord.run)
        slack_config = SlackConfig.from_settings(settings)
        if slack_config is not None:
            slack = await stack.enter_async_context(SlackChat(slack_config))
            chats[slack.platform] = slack
            runners.append(slack.run)
        core = await application.bot(chats)
        _say(application.reddit_line())
        inbox = Inbox(core.handle_request, core.handle_reaction, core.subscription_choices)
        await core.start()
        try:
            await asyncio.gather(*(run_chat(inbox) for run_chat in runners))
        finally:
            await core.stop()


@app.command()
def run() -> None:
    """Run the bot on every configured platform (the console when no chat tokens are set)."""
    settings = _start()
    if settings.discord_token is None and settings.slack_bot_token is None:
        _run_until_signal(lambda: _console(settings))
    else:
        _run_until_signal(lambda: _chat_bot(settings))


def main() -> None:
    app()
