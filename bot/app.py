"""The composition root: the one place that builds clients and wires adapters into the core.

It is the only module of `bot/` (with the CLI that calls it) that imports `adapters/`; everything
else depends on ports. Every client is created in `__aenter__` (or when first needed) and closed in
`__aexit__`.

Start-up stays cheap: an SDK-backed adapter (an LLM client, Reddit, Discord, Slack) is imported
inside the method that builds it, so `redigest --help` and an offline `redigest digest FILE`
never load anthropic, openai, discord.py, slack-bolt, asyncpraw or aiohttp
(tests/test_app_imports.py). Types from those modules are imported for the type checker only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, TextIO

from bot import progress
from bot.chat import ChatPort, Inbox
from bot.reddit_configs import public_config, reddit_config, reddit_line, share_reddit_budget
from bot.settings import Settings
from bot.status import status_loops
from bot.supervise import PartStopped, supervise
from bot.targets import InputError, looks_like_url, read_file
from bot.thread_ref import EXAMPLE, hn_ref
from digest import cpu
from digest.pipeline import Budgets, DigestEngine, warm_lane
from digest.report import Depth, Report
from digest.sentiment import make_scorer

if TYPE_CHECKING:
    from adapters.reddit_source.live import RedditSource
    from adapters.reddit_source.local_files import FilesFirst
    from bot.core import Core, CoreConfig, Engines
    from bot.ports import ThreadSource
    from bot.roles import Role
    from bot.storage import Clock
    from digest.llm import LLMAnalyzer, LLMClient
    from digest.model import Thread

__all__ = ["App", "InputError", "PartStopped", "RunnableChat", "open_core", "supervise"]

log = logging.getLogger(__name__)


class RunnableChat(ChatPort, Protocol):
    """A chat adapter the app runs: the core's port, plus its receive loop (until cancelled)."""

    async def run(self, inbox: Inbox) -> None: ...


ANTHROPIC_MODELS = {Depth.BRIEF: "claude-haiku-5-5", Depth.DEEP: "claude-sonnet-5-5"}


async def open_core(
    stack: AsyncExitStack,
    database: Path | str,  # a SQLite file or a postgresql:// URL (bot/storage/backend.py)
    *,
    source: ThreadSource,
    engines: Engines,
    chats: dict[str, ChatPort],
    clock: Clock | None = None,
    config: CoreConfig | None = None,
    default_spend_cap: float = 1.0,
    files: FilesFirst | None = None,
    kind: type[Core] | None = None,
) -> Core:
    """The core on the database at `database` (opened on `stack`, closed with it): the one way the
    bot, the tests and the benchmarks build it (`kind`: a subclass a test harness wraps it in)."""
    from bot.core import Core, CoreConfig
    from bot.storage import Storage, utcnow

    storage = await stack.enter_async_context(Storage(database, clock=clock or utcnow))
    return (kind or Core)(
        storage=storage,
        source=source,
        engines=engines,
        chats=chats,
        clock=storage.now,  # the one clock of both
        config=config or CoreConfig(),
        default_spend_cap=default_spend_cap,
        files=files,
    )


class App:
    """Everything a running redigest needs, built once and closed on exit (`async with`)."""

    def __init__(
        self, settings: Settings, *, analyzer: str | None = None, role: Role | None = None
    ) -> None:
        self.settings = settings
        self.role = role  # what this process runs (bot/roles.py); None: all of it
        self.analyzer_name = settings.resolved_analyzer(analyzer)  # SettingsError if unusable
        self.reddit_mode = settings.resolved_reddit_mode()  # SettingsError if unusable
        self._budgets = Budgets(brief=settings.brief_budget, deep=settings.deep_budget)
        self._scorer = make_scorer()
        self.engine = DigestEngine(budgets=self._budgets, scorer=self._scorer)
        self._engines: dict[str, DigestEngine] = {"offline": self.engine}
        self._default_engine = "offline"
        self._pricing = settings.pricing()  # REDIGEST_LLM_PRICES and REDIGEST_LLM_DEFAULT_PRICE
        self._llm_models: dict[str, dict[Depth, str]] = {}  # an LLM analyser's, by name
        self._source: ThreadSource | None = None
        self._reddit: RedditSource | None = None
        self._reddit_opened = False
        self._stack = AsyncExitStack()

    async def _llm(self) -> LLMAnalyzer | None:
        s = self.settings
        client: LLMClient
        if self.analyzer_name == "anthropic" and s.anthropic_api_key is not None:
            from adapters.llm.anthropic_client import AnthropicClient

            client = await self._stack.enter_async_context(
                AnthropicClient(
                    api_key=s.anthropic_api_key.get_secret_value(), base_url=s.anthropic_base_url
                )
            )
            models = {
                Depth.BRIEF: s.brief_model or ANTHROPIC_MODELS[Depth.BRIEF],
                Depth.DEEP: s.deep_model or ANTHROPIC_MODELS[Depth.DEEP],
            }
        elif self.analyzer_name == "openai" and s.brief_model and s.deep_model:
            from adapters.llm.openai_client import OpenAICompatibleClient

            key = s.openai_api_key.get_secret_value() if s.openai_api_key else None
            client = await self._stack.enter_async_context(
                OpenAICompatibleClient(base_url=s.openai_base_url, api_key=key)
            )
            models = {Depth.BRIEF: s.brief_model, Depth.DEEP: s.deep_model}
        else:
            return None
        from digest.llm import LLMAnalyzer, RetryPolicy

        return LLMAnalyzer(
            client,
            models=models,
            prices=self._pricing.prices,
            default_price=self._pricing.default,
            policy=RetryPolicy(deadline=s.llm_deadline, max_retry_after=s.llm_max_retry_after),
        )

    async def __aenter__(self) -> App:
        analyzer = await self._llm()
        if analyzer is not None:
            llm = DigestEngine(analyzer, budgets=self._budgets, scorer=self._scorer)
            self._engines[analyzer.name] = llm
            self._llm_models[analyzer.name] = analyzer.models
            self._default_engine = analyzer.name
            self.engine = llm
        return self

    async def reddit(self) -> ThreadSource | None:
        """Reddit as configured (OAuth or public pages, behind one cache), opened the first time
        it is needed: a saved file digested at the terminal never loads an HTTP client."""
        if self._reddit_opened:
            return self._source
        self._reddit_opened = True
        live: ThreadSource | None = None
        config = reddit_config(self.settings)
        if self.reddit_mode == "oauth" and config is not None:
            from adapters.reddit_source.live import RedditSource

            self._reddit = await self._stack.enter_async_context(RedditSource(config))
            live = self._reddit
        elif self.reddit_mode == "public":
            from adapters.reddit_source.public import PublicRedditSource

            live = await self._stack.enter_async_context(
                PublicRedditSource(public_config(self.settings))
            )
        if live is not None:  # one cache for whichever way Reddit is read
            from bot.thread_cache import CachingThreadSource

            ttl = float(self.settings.thread_cache_seconds)
            self._source = CachingThreadSource(live, ttl_seconds=dict.fromkeys(Depth, ttl))
        return self._source

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    async def load_thread(self, target: str, depth: Depth = Depth.BRIEF) -> Thread:
        """A saved thread file, or (with credentials) a thread URL, share link or id."""
        data = await asyncio.to_thread(read_file, target)
        if data is not None:
            from adapters.reddit_source.thread_json import thread_from_json_text

            return thread_from_json_text(data, source=target)
        if hn_ref(target) is not None:  # a Hacker News thread: HN's own APIs
            from adapters.hn_source import HnConfig, HnSource

            hn = await self._stack.enter_async_context(
                HnSource(HnConfig.from_settings(self.settings))
            )
            return await hn.fetch_thread(await hn.resolve(target), depth)
        source = await self.reddit()
        if source is not None:
            ref = await source.resolve(target)
            return await source.fetch_thread(ref, depth)
        if looks_like_url(target):
            missing = self.settings.missing_reddit_settings()
            raise InputError(
                f"Fetching {target} needs Reddit, which is off (REDIGEST_REDDIT_MODE=saved): set "
                "REDIGEST_REDDIT_MODE=auto to read Reddit's public pages, or "
                f"{', '.join(missing)} of an approved app for OAuth; or pass a saved thread "
                "JSON file instead."
            )
        raise InputError(
            f"No such file: {target}. Pass a saved thread JSON file, or a Reddit thread URL "
            f"such as {EXAMPLE}"
        )

    async def digest(self, target: str, depth: Depth, budget: int | None = None) -> Report:
        thread = await self.load_thread(target, depth)
        shown = progress.analysing_line(self.engine.analyzer_name, len(thread.comments))
        progress.current().step(shown)
        return await self.engine.digest(thread, depth, budget, lang=self.settings.language)

    async def bot(
        self, chats: dict[str, ChatPort], *, clock: Clock | None = None, terminal: bool = False
    ) -> Core:
        """The core, on the database and (without Reddit credentials) the saved threads.
        `terminal`: the person at this machine drives it (the console), so the files they name
        may be read; chats never get that."""
        from adapters.reddit_source.local_files import FilesFirst
        from adapters.reddit_source.saved import SavedThreadSource
        from bot.core import CoreConfig, Engines

        s = self.settings
        self._stack.enter_context(cpu.loop_first())  # the GIL back to the loop sooner
        source = await self.reddit()
        if self._reddit is not None:
            # Bad credentials stop start-up with one line, not the first digest an hour later.
            await self._reddit.check_credentials()
        source = source or SavedThreadSource(s.saved_threads)
        from adapters.hn_source import HnConfig, HnSource
        from bot.routing import RoutedSource

        hn = await self._stack.enter_async_context(HnSource(HnConfig.from_settings(s)))
        source = RoutedSource(source, hn, cache_seconds=float(s.thread_cache_seconds))
        files: FilesFirst | None = None
        if terminal:
            source = files = FilesFirst(source)
        core = await open_core(
            self._stack,
            s.database(),
            source=source,
            engines=Engines(await self._bot_engines(), self._default_engine, self._pricing),
            chats=chats,
            clock=clock,
            config=CoreConfig(
                default_timezone=s.timezone,
                default_language=s.language,
                workers=s.workers,
                saved_only=self.reddit_mode == "saved",
                **s.leases(),
            ),
            default_spend_cap=s.daily_spend_cap,
            files=files,
        )
        return share_reddit_budget(core, self._source)

    async def _bot_engines(self) -> dict[str, DigestEngine]:
        """REDIGEST_CPU_LANE=process (the default): the bot's offline digests run whole in one
        worker process (digest/cpu.py), started now, stopped on exit. `digest FILE` runs here."""
        engines = dict(self._engines)
        if self.settings.cpu_lane == "process":
            lane = cpu.ProcessLane(warm=warm_lane, nice=cpu.WORKER_NICE)
            await self._stack.enter_async_context(lane)
            await lane.start()
            engines["offline"] = DigestEngine(budgets=self._budgets, lane=lane)
        return engines

    async def open_chats(
        self, stack: AsyncExitStack, say: Callable[[str], None]
    ) -> list[RunnableChat]:
        """Discord and/or Slack, as configured, logged in on `stack` (each refuses start-up with
        one line when its platform does); post-only when the role does not receive."""
        s = self.settings
        post_only = self.role is not None and not self.role.receives
        chats: list[RunnableChat] = []
        if s.discord_token is not None:
            from adapters.discord_chat import DiscordChat, DiscordConfig

            discord = await stack.enter_async_context(
                DiscordChat(
                    DiscordConfig(
                        token=s.discord_token.get_secret_value(),
                        api_base=s.discord_api_base,
                        gateway_url=s.discord_gateway_url,
                        guild_ids=tuple(s.discord_guild_ids),
                        message_content=s.discord_message_content,
                        shards=s.discord_shards,
                        post_only=post_only,
                        late_answers=self.role is None or self.role.runs_jobs,
                    )
                )
            )
            for line in discord.startup_lines():  # the invite link; the shards run here
                say(line)
            chats.append(discord)
        if s.slack_bot_token is not None:
            from adapters.slack_chat import SlackChat, SlackConfig

            slack_config = SlackConfig.from_settings(s, post_only=post_only)
            if slack_config is not None:
                chats.append(await stack.enter_async_context(SlackChat(slack_config)))
        return chats

    async def serve(
        self, chats: Sequence[RunnableChat], say: Callable[[str], None] = lambda _: None
    ) -> None:
        """One core for every chat, and the loops of the role under one TaskGroup until cancelled:
        when one part dies the rest stop too and `PartStopped` says which part and why."""
        from bot.roles import ALL

        role = self.role or ALL
        ports: dict[str, ChatPort] = {chat.platform: chat for chat in chats}
        core = await self.bot(ports)
        for line in (
            reddit_line(self.settings, self.reddit_mode),
            *self._pricing.startup_lines(self._llm_models),
        ):
            say(line)  # how Reddit is read; how each LLM model's cost is counted
        inbox = Inbox(core.handle_request, core.handle_reaction, core.subscription_choices)
        loops: Mapping[str, Callable[[], Awaitable[None]]] = {
            _PART_NAMES.get(chat.platform, chat.platform): partial(chat.run, inbox)
            for chat in chats
            if role.receives
        }
        status = status_loops(self.settings.status_file(), self.reddit_mode, ports, role.name)
        say(role.startup_line(self.settings.workers))
        hidden = self.settings.secret_values()
        await supervise(core, {**loops, **status}, secrets=hidden, core_loops=role.loops)

    async def run_chats(self, say: Callable[[str], None] = lambda _: None) -> None:
        """`redigest run` with chat tokens: Discord and/or Slack on one core until cancelled."""
        async with AsyncExitStack() as stack:
            await self.serve(await self.open_chats(stack, say), say)

    async def run_console(
        self,
        lines: AsyncIterator[str] | None = None,
        out: TextIO | None = None,
        say: Callable[[str], None] = lambda _: None,
    ) -> None:
        """The real core driven from the terminal, until its input ends and its jobs are done."""
        from adapters.console_chat import (
            ConsoleChat,
            ConsoleControl,
            console_files_dir,
            console_state_path,
            stdin_lines,
            stopped_line,
        )

        # The database is ours once `bot` returns (one owner per file): only then is the
        # console's state file beside it ours to read.
        chats: dict[str, ChatPort] = {}
        core = await self.bot(chats, terminal=True)
        for line in (
            reddit_line(self.settings, self.reddit_mode),
            *self._pricing.startup_lines(self._llm_models),
        ):
            say(line)  # once start-up worked: an error stays one line
        db = self.settings.database_path
        chat = ConsoleChat(out, state_path=console_state_path(db), files_dir=console_files_dir(db))
        chats[chat.platform] = chat
        control = ConsoleControl(
            next_runs=core.describe_next_runs,
            run_now=core.run_subscription_now,
            jobs=core.describe_jobs,
        )

        async def session() -> None:
            inbox = Inbox(core.handle_request, core.handle_reaction)
            await chat.run(lines or stdin_lines(), inbox, control)
            await core.drain()

        status = status_loops(self.settings.status_file(), self.reddit_mode, chats)
        secrets = self.settings.secret_values()
        try:  # Ctrl-C leaves at once: a running job is not waited for, it runs next time
            await supervise(core, status, main=session, secrets=secrets, grace=0)
        except asyncio.CancelledError:
            jobs = await core.storage.jobs()
            say(stopped_line(sum(j.status in ("pending", "running", "posting") for j in jobs)))
            raise


_PART_NAMES = {"discord": "Discord", "slack": "Slack"}
