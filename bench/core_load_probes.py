"""bench/core_load.py's instruments: the figures of a distribution, the storage's write lock timed,
the request-side storage calls timed, and a ticker that records how late the event loop runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from bench.common import percentile
from bench.core_load_setup import TICK_S
from bot.chat import Request
from bot.core import Core
from bot.storage import Storage, _WriteTurns

P = ParamSpec("P")
T = TypeVar("T")


# ----------------------------------------------------------------------------- figures


def _pct(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile, `p` in 0..100."""
    return percentile(values, p / 100)


def _dist(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return f"{_pct(values, 50):.1f} / {_pct(values, 99):.1f} / {max(values):.1f}"


def _ms(seconds: float) -> float:
    return seconds * 1000.0


# ----------------------------------------------------------------------------- instruments


def _is_worker() -> bool:
    task = asyncio.current_task()
    return task is not None and task.get_name().startswith("worker")


class TimedLock(_WriteTurns):
    """The storage's write lock, timed: how long each unit of work waited for it and held it."""

    def __init__(self) -> None:
        super().__init__()
        self.waits_request: list[float] = []
        self.waits_worker: list[float] = []
        self.holds: list[float] = []
        self._since = 0.0

    async def acquire(self, urgent: bool) -> None:
        asked = time.perf_counter()
        await super().acquire(urgent)
        self._since = time.perf_counter()
        (self.waits_worker if _is_worker() else self.waits_request).append(_ms(self._since - asked))

    def release(self) -> None:
        self.holds.append(_ms(time.perf_counter() - self._since))
        super().release()


def _timed_outside_workers(
    into: list[float], fn: Callable[P, Coroutine[Any, Any, T]]
) -> Callable[P, Coroutine[Any, Any, T]]:
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        started = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            if not _is_worker():
                into.append(_ms(time.perf_counter() - started))

    return wrapper


@dataclass
class Instruments:
    settings_ms: list[float] = field(default_factory=list)  # request side: get_settings
    add_job_ms: list[float] = field(default_factory=list)  # request side: add_job
    lock: TimedLock | None = None

    def reset_lock(self) -> None:
        if self.lock is not None:
            for samples in (self.lock.waits_request, self.lock.waits_worker, self.lock.holds):
                samples.clear()

    def install(self, storage: Storage) -> None:
        storage.get_settings = _timed_outside_workers(  # type: ignore[method-assign]
            self.settings_ms, storage.get_settings
        )
        storage.add_job = _timed_outside_workers(  # type: ignore[method-assign]
            self.add_job_ms, storage.add_job
        )
        current = getattr(storage, "_write", None)
        if isinstance(current, _WriteTurns) and not isinstance(current, TimedLock):
            self.lock = TimedLock()
            storage._write = self.lock  # the benchmark times the storage's own lock


class LagProbe:
    """A task that sleeps `interval` in a loop and records how late each wake-up is (ms)."""

    def __init__(self, interval: float = TICK_S) -> None:
        self.interval = interval
        self.lags: list[float] = []
        self._stop = False
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while not self._stop:
            asked = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.lags.append(max(_ms(time.perf_counter() - asked - self.interval), 0.0))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="lag-probe")

    async def stop(self) -> list[float]:
        self._stop = True
        if self._task is not None:
            await self._task
        return self.lags


async def _timed_request(core: Core, request: Request) -> float:
    started = time.perf_counter()
    await core.handle_request(request)
    return _ms(time.perf_counter() - started)
