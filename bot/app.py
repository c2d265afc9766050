"""The composition root: the one place that builds clients and wires adapters into the core.

It is the only module of `bot/` (with the CLI that calls it) that imports `adapters/`; everything
else depends on ports. Every client is created in `__aenter__` and closed in `__aexit__`.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path
from types import TracebackType

from adapters.llm.anthropic_client import AnthropicClient
from adapters.llm.openai_client import OpenAICompatibleClient
from adapters.reddit_source.live import DEFAULT_PLANS, RedditConfig, RedditSource
from adapters.reddit_source.local_files import FilesFirst
from adapters.reddit_source.public import PublicConfig, PublicRedditSource
from adapters.reddit_source.saved import SavedThreadSource
from adapters.reddit_source.thread_json import thread_from_json_text
from bot.chat import ChatPort
from bot.core import Core, CoreConfig, Engines
from bot.ports import ThreadSource
from bot.settings import Settings
from bot.storage import Clock, Storage, utcnow
from bot.thread_cache import CachingThreadSource
from bot.thread_ref import EXAMPLE
from digest.analysis import Analyzer
from digest.errors import DigestError
from digest.llm import DEFAULT_PRICES, LLMAnalyzer, LLMClient, RetryPolicy
from digest.model import Thread
from digest.pipeline import Budgets, DigestEngine
from digest.report import Depth, Report
from digest.sentiment import make_scorer

log = logging.getLogger(__name__)


class InputError(DigestError):
    """The thing to digest could not be found or read."""


def _looks_like_url(text: str) -> bool:
    lowered = text.lower()
    return lowered.startswith(("http://", "https://", "www.")) or (
        "reddit.com/" in lowered or "redd.it/" in lowered
    )


def _read_file(target: str) -> bytes | None:
    """The file's bytes; None when there is no such file (the target may be a URL)."""
    path = Path(target).expanduser()
    if not path.exists():
        return None
    if path.is_dir():
        raise InputError(f"{path} is a folder: pass a saved thread JSON file.")
    try:
        return path.read_bytes()
    except PermissionError:
        raise InputError(f"{path} cannot be read: permission denied.") from None
    except OSError as exc:
        raise InputError(f"{path} cannot be read: {exc.strerror or exc}.") from None


def reddit_config(settings: Settings) -> RedditConfig | None:
    client_id, secret = settings.reddit_client_id, settings.reddit_client_secret
    user_agent = settings.reddit_user_agent
    if not (client_id and secret and user_agent):
        return None
    plans = {
        Depth.BRIEF: replace(DEFAULT_PLANS[Depth.BRIEF], requests=settings.reddit_brief_requests),
        Depth.DEEP: replace(DEFAULT_PLANS[Depth.DEEP], requests=settings.reddit_deep_requests),
    }
    return RedditConfig(
        client_id=client_id,
        client_secret=secret.get_secret_value(),
        user_agent=user_agent,
        username=settings.reddit_username,
        password=(
            settings.reddit_password.get_secret_value() if settings.reddit_password else None
        ),
        oauth_url=settings.reddit_oauth_url,
        auth_url=settings.reddit_auth_url,
        timeout_seconds=settings.reddit_timeout,
        requests_per_minute=settings.reddit_requests_per_minute,
        plans=plans,
    )


def public_config(settings: Settings) -> PublicConfig:
    config = PublicConfig(
        base_url=settings.reddit_public_url,
        requests_per_minute=settings.reddit_public_rpm,
        brief_requests=settings.reddit_public_brief_requests,
        deep_requests=settings.reddit_public_deep_requests,
        timeout_seconds=settings.reddit_timeout,
    )
    if settings.reddit_user_agent:  # else the project's own descriptive one
        config = replace(config, user_agent=settings.reddit_user_agent)
    return config


ANTHROPIC_MODELS = {Depth.BRIEF: "claude-haiku-5-5", Depth.DEEP: "claude-sonnet-5-5"}


class App:
    """Everything a running redigest needs, built once and closed on exit (`async with`)."""

    def __init__(self, settings: Settings, *, analyzer: str | None = None) -> None:
        self.settings = settings
        self.analyzer_name = settings.resolved_analyzer(analyzer)  # SettingsError if unusable
        self.reddit_mode = settings.resolved_reddit_mode()  # SettingsError if unusable
        self._budgets = Budgets(brief=settings.brief_budget, deep=settings.deep_budget)
        self._scorer = make_scorer()
        self.engine = DigestEngine(budgets=self._budgets, scorer=self._scorer)
        self.engines = Engines({"offline": self.engine}, default="offline")
        self.source: ThreadSource | None = None
        self._reddit: RedditSource | None = None
        self._stack = AsyncExitStack()

    async def _llm(self) -> Analyzer | None:
        s = self.settings
        client: LLMClient
        if self.analyzer_name == "anthropic" and s.anthropic_api_key is not None:
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
            key = s.openai_api_key.get_secret_value() if s.openai_api_key else None
            client = await self._stack.enter_async_context(
                OpenAICompatibleClient(base_url=s.openai_base_url, api_key=key)
            )
            models = {Depth.BRIEF: s.brief_model, Depth.DEEP: s.deep_model}
        else:
            return None
        return LLMAnalyzer(
            client,
            models=models,
            prices={**DEFAULT_PRICES, **s.llm_prices},
            policy=RetryPolicy(deadline=s.llm_deadline, max_retry_after=s.llm_max_retry_after),
        )

    async def __aenter__(self) -> App:
        analyzer = await self._llm()
        if analyzer is not None:
            llm = DigestEngine(analyzer, budgets=self._budgets, scorer=self._scorer)
            self.engines = Engines(
                {"offline": self.engine, analyzer.name: llm}, default=analyzer.name
            )
            self.engine = llm
        live: ThreadSource | None = None
        config = reddit_config(self.settings)
        if self.reddit_mode == "oauth" and config is not None:
            self._reddit = await self._stack.enter_async_context(RedditSource(config))
            live = self._reddit
        elif self.reddit_mode == "public":
            live = await self._stack.enter_async_context(
                PublicRedditSource(public_config(self.settings))
            )
        if live is not None:  # one cache for whichever way Reddit is read
            ttl = float(self.settings.thread_cache_seconds)
            self.source = CachingThreadSource(live, ttl_seconds=dict.fromkeys(Depth, ttl))
        return self

    def reddit_line(self) -> str:
        """How this bot reads Reddit, in one line for start-up."""
        s = self.settings
        if self.reddit_mode == "oauth":
            return (
                f"Reddit: OAuth with app {s.reddit_client_id}, up to "
                f"{s.reddit_requests_per_minute} requests/min."
            )
        if self.reddit_mode == "public":
            return (
                f"Reddit: public access through {s.reddit_public_url}, "
                f"{s.reddit_public_rpm} requests/min (a brief digest costs "
                f"{s.reddit_public_brief_requests}, a deep one up to "
                f"{s.reddit_public_deep_requests}); set REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET and "
                "REDDIT_USER_AGENT of an approved app for OAuth."
            )
        folders = ", ".join(str(p) for p in s.saved_threads) or "none"
        return f"Reddit: off (REDIGEST_REDDIT_MODE=saved): only the saved threads in {folders}."

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    async def load_thread(self, target: str, depth: Depth = Depth.BRIEF) -> Thread:
        """A saved thread file, or (with credentials) a thread URL, share link or id."""
        data = await asyncio.to_thread(_read_file, target)
        if data is not None:
            return thread_from_json_text(data, source=target)
        if self.source is not None:
            ref = await self.source.resolve(target)
            return await self.source.fetch_thread(ref, depth)
        if _looks_like_url(target):
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

    async def bot(
        self, chats: dict[str, ChatPort], *, clock: Clock | None = None, terminal: bool = False
    ) -> Core:
        """The core, on the database and (without Reddit credentials) the saved threads.
        `terminal`: the person at this machine drives it (the console), so the files they name
        may be read; chats never get that."""
        s = self.settings
        if self._reddit is not None:
            # Bad credentials stop start-up with one line, not the first digest an hour later.
            await self._reddit.check_credentials()
        storage = await self._stack.enter_async_context(
            Storage(s.database_path, clock=clock or utcnow)
        )
        source: ThreadSource = self.source or SavedThreadSource(s.saved_threads)
        files: FilesFirst | None = None
        if terminal:
            source = files = FilesFirst(source)
        return Core(
            storage=storage,
            source=source,
            engines=self.engines,
            chats=chats,
            clock=clock or utcnow,
            config=CoreConfig(
                default_timezone=s.timezone,
                workers=s.workers,
                saved_only=self.reddit_mode == "saved",
            ),
            default_spend_cap=s.daily_spend_cap,
            files=files,
        )

    async def digest(self, target: str, depth: Depth, budget: int | None = None) -> Report:
        thread = await self.load_thread(target, depth)
        return await self.engine.digest(thread, depth, budget)
