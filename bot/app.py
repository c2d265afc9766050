"""The composition root: the one place that builds clients and wires adapters into the core.

It is the only module of `bot/` that imports `adapters/`; everything else depends on ports.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import TracebackType

from adapters.reddit_source.thread_json import thread_from_json_text
from bot.settings import Settings
from digest.errors import DigestError
from digest.model import Thread
from digest.pipeline import Budgets, DigestEngine
from digest.report import Depth, Report

log = logging.getLogger(__name__)

EXAMPLE_URL = "https://www.reddit.com/r/LocalLLaMA/comments/1lpl656/glm41vthinking/"


class InputError(DigestError):
    """The thing to digest could not be found or read."""


def _looks_like_url(text: str) -> bool:
    lowered = text.lower()
    return lowered.startswith(
        ("http://", "https://", "www.", "reddit.com/", "old.reddit.com/")
    ) or ("reddit.com/" in lowered or "redd.it/" in lowered)


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


class App:
    """Everything a running redigest needs, built once and closed on exit (`async with`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = DigestEngine(
            budgets=Budgets(brief=settings.brief_budget, deep=settings.deep_budget)
        )

    async def __aenter__(self) -> App:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def load_thread(self, target: str) -> Thread:
        """A saved thread file, or (with credentials) a thread URL."""
        data = await asyncio.to_thread(_read_file, target)
        if data is not None:
            return thread_from_json_text(data, source=target)
        if _looks_like_url(target):
            missing = self.settings.missing_reddit_settings()
            if missing:
                raise InputError(
                    f"Fetching {target} needs Reddit API credentials: set {', '.join(missing)} "
                    "in .env (see .env.example), or pass a saved thread JSON file instead."
                )
            raise InputError(
                "Fetching live threads is not available in this version yet: save the thread "
                "JSON (open the thread URL with .json appended) and pass the file."
            )
        raise InputError(
            f"No such file: {target}. Pass a saved thread JSON file, or a Reddit thread URL "
            f"such as {EXAMPLE_URL}"
        )

    async def digest(self, target: str, depth: Depth, budget: int | None = None) -> Report:
        thread = await self.load_thread(target)
        return await self.engine.digest(thread, depth, budget)
