"""Lanes for CPU-bound work that must not run on the event loop: analysing a thread, encoding
and decoding reports, turning a large thread's JSON into a `Thread`.

Off the loop is not enough. Under the GIL only one Python thread runs at a time; each thread
doing CPU work is one more the loop's thread waits behind for its turn, and adds nothing, since
they do not run at once. With four digest workers each analysing in its own `to_thread`, the
loop's lag p99 was 60-110 ms (bench/loop_lag.py, 5,000-comment digests on 2 cores); through
this one lane it is ~14 ms, and the digests take as long. So CPU work goes through one worker
thread, first come first served (a small digest may wait behind a big one's stage). Blocking
I/O keeps `asyncio.to_thread`: it waits, it does not compute.

The thread lane still shares the GIL: while it computes, the loop gets it about half the time,
and a burst of commands is acknowledged half as fast. `ProcessLane` is one worker process for
whole jobs (an offline digest: a thread in, a report out, one crossing): its GIL is its own. Its
arguments and results are pickled off the loop (by multiprocessing's feeder and manager
threads); the model's frozen dataclasses are pickled by their fields (`register_reducers`),
which halves the cost for a 5,000-comment thread (~25 ms instead of ~55-80 ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import functools
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from operator import attrgetter
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:  # multiprocessing is imported when a process lane starts, not before
    from concurrent.futures import ProcessPoolExecutor
    from logging.handlers import QueueListener
    from multiprocessing.queues import Queue

__all__ = [
    "SWITCH_INTERVAL_S",
    "THREAD_NAME",
    "WORKER_NICE",
    "ProcessLane",
    "loop_first",
    "register_reducers",
    "run",
]

P = ParamSpec("P")
T = TypeVar("T")

THREAD_NAME = "redigest-cpu"
# A running bot's threads hand the GIL over after at most this long (Python's default: 5 ms).
# Acknowledging a burst of commands passes it back and forth between the loop and the database
# thread a dozen times; each pass can wait a whole interval behind a thread that computes
# (encoding a report, pickling a thread for the process lane). bench/loop_lag.py, process lane:
# ack p99 ~60 ms at 5 ms, ~40-45 ms at 1 ms; loop lag p99 ~30 -> ~15 ms.
SWITCH_INTERVAL_S = 0.001
# The worker process yields a shared core to the loop's process: digests wait, answers do not.
WORKER_NICE = 10

_lane: ThreadPoolExecutor | None = None
_made = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _lane
    with _made:
        if _lane is None:
            _lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)
        return _lane


async def run(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` in the CPU lane, awaited (like `asyncio.to_thread`, context
    variables included)."""
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_executor(), call)


@contextlib.contextmanager
def loop_first(interval: float = SWITCH_INTERVAL_S) -> Iterator[None]:
    """`sys.setswitchinterval(interval)` while inside, the previous one restored after."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(interval)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


# --------------------------------------------------------------------------- the process lane


def _by_fields(cls: type[Any]) -> Callable[[Any], tuple[type[Any], tuple[Any, ...]]]:
    get = attrgetter(*(f.name for f in dataclasses.fields(cls)))

    def reduce(obj: Any) -> tuple[type[Any], tuple[Any, ...]]:
        return cls, get(obj)

    return reduce


def register_reducers() -> None:
    """Pickle the thread model's dataclasses (for multiprocessing only) as their constructor
    and field values: the slotted frozen dataclasses' own `__getstate__` looks up their fields
    for every object, and a `Thread`'s cached indexes are not worth sending (they are rebuilt on
    use). The objects that come out are equal to those that went in."""
    from multiprocessing.reduction import ForkingPickler

    from digest.model import Comment, CrosspostParent, MoreStub, Post, Thread

    for cls in (Thread, Post, Comment, MoreStub, CrosspostParent):
        ForkingPickler.register(cls, _by_fields(cls))


def _ready(
    nice: int = 0, logs: Queue[logging.LogRecord] | None = None, level: int = logging.WARNING
) -> None:
    """Run first in the worker process: pickling set up as in the parent, its log records sent
    to the parent (which logs them as its own: same handlers, format and masking), the worker
    made `nice`r than the process that waits for its work, and gone when that process is
    (killed, it cannot stop its worker, which would wait for work forever)."""
    import multiprocessing
    from multiprocessing.connection import wait

    register_reducers()
    if logs is not None:
        from logging.handlers import QueueHandler

        root = logging.getLogger()
        root.handlers[:] = [QueueHandler(logs)]
        root.setLevel(level)
    # Ctrl-C at a terminal reaches the whole process group: the parent decides when its worker
    # stops (it shuts the lane down), so the worker does not die mid-job with a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if nice:
        os.nice(nice)
    parent = multiprocessing.parent_process()
    if parent is not None:
        sentinel = parent.sentinel
        threading.Thread(
            target=lambda: (wait([sentinel]), os._exit(1)), name="parent-watch", daemon=True
        ).start()


class ProcessLane:
    """One worker process for whole CPU jobs, started on first use (or `start`) and stopped by
    `aclose` (an async context manager). `fn` and its arguments must pickle: `fn` a module-level
    function. Jobs run one at a time, first come first served.

    The worker is started with `spawn` (a fresh interpreter: never a fork of a process with
    running threads and a loop), which imports the main module again: a script that starts a
    lane keeps its start under `if __name__ == "__main__":`. `warm`, if given, runs in it once
    at start (imports, a lexicon), so the first job does not pay for it. `nice`: how much less
    CPU the worker is given than the process that waits for it, when both want a core. A worker
    that dies (killed, out of memory) fails the jobs it held with `BrokenProcessPool`; the next
    job starts a new one."""

    def __init__(self, *, warm: Callable[[], object] | None = None, nice: int = 0) -> None:
        self._warm = warm or _ready
        self._nice = nice
        self._pool: ProcessPoolExecutor | None = None
        self._logs: QueueListener | None = None  # the worker's log records, logged here
        self._log_queue: Queue[logging.LogRecord] | None = None
        self._lock = asyncio.Lock()  # one start at a time; closing waits for it
        self._closed = False

    async def start(self) -> None:
        """Start the worker and warm it, off the loop (a process start blocks)."""
        async with self._lock:
            if self._closed:
                raise RuntimeError("the process lane is closed")
            if self._pool is not None:
                return
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor
            from logging.handlers import QueueListener

            register_reducers()
            context = multiprocessing.get_context("spawn")
            if self._logs is None:
                self._log_queue = context.Queue()
                self._logs = QueueListener(self._log_queue, _Relay())
                self._logs.start()
            pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=context,
                initializer=_ready,
                initargs=(self._nice, self._log_queue, logging.getLogger().getEffectiveLevel()),
            )
            try:
                await asyncio.to_thread(lambda: pool.submit(self._warm).result())
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            self._pool = pool

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(*args, **kwargs)` in the worker process, awaited."""
        pool = self._pool
        if pool is None:
            await self.start()
            pool = self._pool
            assert pool is not None
        call = functools.partial(fn, *args, **kwargs)
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, call)
        except Exception as exc:
            from concurrent.futures.process import BrokenProcessPool

            if (
                isinstance(exc, BrokenProcessPool) and self._pool is pool
            ):  # the next job gets a new worker
                self._pool = None
                await asyncio.to_thread(_shutdown, pool)
            raise

    async def aclose(self) -> None:
        """Stop the worker: jobs not begun are cancelled, the one under way is waited for."""
        async with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
            logs, self._logs = self._logs, None
        if pool is not None:
            await asyncio.to_thread(_shutdown, pool)
        if logs is not None:
            await asyncio.to_thread(logs.stop)  # after the worker: its last records are logged

    async def __aenter__(self) -> ProcessLane:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _shutdown(pool: Executor) -> None:
    pool.shutdown(wait=True, cancel_futures=True)


class _Relay(logging.Handler):
    """A worker's record, handed to the logger of the same name here: this process's handlers,
    levels and filters (the secret masking among them) apply as to its own records."""

    def handle(self, record: logging.LogRecord) -> bool:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:  # pragma: no cover - handle() does it
        self.handle(record)
