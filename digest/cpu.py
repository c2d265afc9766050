"""One lane for CPU-bound work that must not run on the event loop: analysing a thread, encoding
and decoding reports, turning a large thread's JSON into a `Thread`.

Off the loop is not enough. Under the GIL only one Python thread runs at a time; each thread
doing CPU work is one more the loop's thread waits behind for its turn, and adds nothing, since
they do not run at once. With four digest workers each analysing in its own `to_thread`, the
loop's lag p99 was 60-110 ms (bench/loop_lag.py, 5,000-comment digests on 2 cores); through
this one lane it is ~14 ms, and the digests take as long. So CPU work goes through one worker
thread, first come first served (a small digest may wait behind a big one's stage). Blocking
I/O keeps `asyncio.to_thread`: it waits, it does not compute.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

__all__ = ["THREAD_NAME", "run"]

P = ParamSpec("P")
T = TypeVar("T")

THREAD_NAME = "redigest-cpu"

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
