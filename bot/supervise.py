"""The running bot's parts under one `asyncio.TaskGroup`: no half-running bot.

The parts are the core's loops (workers, scheduler, watcher, heartbeat) and each chat's receive
loop. They run until cancelled; when one ends or fails, every other part is cancelled, the core
stops (running jobs finish, unfinished ones stay pending for the next start) and `PartStopped`
says in one sentence which part stopped and why, with every secret of the settings masked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from digest.errors import DigestError

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)

_MAX_WHY = 300


class PartStopped(DigestError):
    """A part of the running bot stopped; the message names it and the error."""

    def __init__(self, part: str, why: str) -> None:
        super().__init__(
            f"{part} stopped ({why}), so redigest stopped too: unfinished jobs stay queued "
            "for the next start."
        )
        self.part = part


class _Finished(Exception):
    """The main part returned: the run is over, cleanly."""


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (a token, a key, a password) replaced by ***."""
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def why(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """An error in a few words on one line: its own sentence when it has one for people."""
    if isinstance(exc, DigestError):
        text = exc.user_message
    else:
        detail = str(exc).strip()
        text = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    text = " ".join(mask(text, secrets).split())
    return text if len(text) <= _MAX_WHY else text[: _MAX_WHY - 1] + "…"


async def _loop(name: str, run: Callable[[], Awaitable[None]], secrets: tuple[str, ...]) -> None:
    try:
        await run()
    except Exception as exc:
        log.debug("%s stopped", name, exc_info=True)
        raise PartStopped(name, why(exc, secrets)) from exc
    raise PartStopped(name, "its loop ended by itself")


async def _core_loops(core: Core, secrets: tuple[str, ...]) -> None:
    loops = core.loops
    if not loops:
        await asyncio.Event().wait()
    done, _ = await asyncio.wait(loops, return_when=asyncio.FIRST_COMPLETED)
    task = done.pop()
    error = None if task.cancelled() else task.exception()
    part = f"the core's {task.get_name()} loop"
    if error is None:
        raise PartStopped(part, "it ended by itself")
    log.debug("%s stopped", part, exc_info=error)
    raise PartStopped(part, why(error, secrets)) from error


async def _main(run: Callable[[], Awaitable[None]]) -> None:
    await run()
    raise _Finished


async def supervise(
    core: Core,
    loops: Mapping[str, Callable[[], Awaitable[None]]],
    *,
    main: Callable[[], Awaitable[None]] | None = None,
    secrets: Iterable[str] = (),
    grace: float = 20.0,
    core_loops: frozenset[str] | None = None,
) -> None:
    """Start the core and run `loops` (by the name a person knows them by) beside its own, until
    cancelled or until `main` (when given) returns. A loop that ends or fails stops everything
    with `PartStopped`; an error of `main` propagates as it is. The core is stopped in every case
    (running jobs get `grace` seconds to finish; the rest stay queued for the next start).
    `core_loops`: which of the core's own loops this process runs (all when None: bot/roles.py).
    """
    hidden = tuple(secrets)
    try:
        await (core.start() if core_loops is None else core.start(core_loops))
        async with asyncio.TaskGroup() as group:
            group.create_task(_core_loops(core, hidden), name="core")
            for name, run in loops.items():
                group.create_task(_loop(name, run, hidden), name=name)
            if main is not None:
                group.create_task(_main(main), name="main")
    except BaseExceptionGroup as failed:
        first = failed.exceptions[0]
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        for other in failed.exceptions[1:]:
            log.debug("also stopped: %r", other)
        if not isinstance(first, _Finished):
            raise first from first.__cause__
    finally:
        await core.stop(grace)
