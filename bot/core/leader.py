"""Who runs the scheduler and the watcher: one process across those sharing a database (several
on PostgreSQL), the one holding the lease of the role "scheduler" in the database
(bot/storage/leaders.py).

The lease is taken at start (free, or lapsed), renewed every quarter lease (`Workers`' leader
loop) and given back on a clean stop. A process that cannot renew it (it died, hung, or lost the
database) stops leading when it lapses; another takes over at its next renewal, with the next
term. While this process leads, `active` is set: the scheduler and the watcher loops run, and the
watched subreddits' streams are open; when it stops leading, the streams are closed and the loops
stand by, and this is logged. Their writes are idempotent (a run's key, a candidate's key), so
the short overlap of two leaders at a handover queues nothing twice.

On a SQLite file (one process owns it) the row is taken at start by the same code and is always
this process's.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core.facade import Core

log = logging.getLogger(__name__)

SCHEDULER = "scheduler"  # the role of the scheduler and the watcher


class Leadership:
    def __init__(self, core: Core, role: str = SCHEDULER) -> None:
        self.core = core
        self.role = role
        self.term: int | None = None  # of the lease last taken or renewed here
        self.until: datetime | None = None  # when that lease lapses (on the core's clock)
        # Set while this process leads and its duties run; the loops wait on it while it is not.
        self.active = asyncio.Event()

    @property
    def leading(self) -> bool:
        """The lease is this process's, and has not lapsed by the clock."""
        return self.until is not None and self.core.clock() < self.until

    async def check(self) -> bool:
        """Before each duty: True while this process leads. A lease that lapsed by the clock
        (the process was paused, or the clock moved on) while this process led is renewed now
        if it still can be; standing by, the leader loop asks (every `leader_renew_every`)."""
        if self.leading:
            return True
        if not self.active.is_set():
            return False
        return await self.renew()

    async def renew(self) -> bool:
        """Take the lease (free or lapsed) or renew ours; True while this process leads. Never
        raises: a renewal that fails is logged, and the lease held runs out on its own."""
        core = self.core
        asked = core.clock()
        lease = core.config.leader_lease
        try:
            term = await core.storage.acquire_leadership(self.role, lease)
        except Exception:
            log.warning(
                "could not renew the %s lease (database unreachable?); retrying", self.role,
                exc_info=True,
            )  # fmt: skip
        else:
            if term is None:
                self.until = None
            else:
                self.term, self.until = term, asked + lease
        leading = self.leading
        if leading and not self.active.is_set():
            log.info("this process leads the %s (term %s): it runs the schedule and the watches",
                     self.role, self.term)  # fmt: skip
            self.active.set()
            core.wake.schedule_changed.set()
            core.watching.ensure_streams()
        elif not leading and self.active.is_set():
            log.warning(
                "this process no longer leads the %s (term %s): its scheduler and watcher stop; "
                "another process takes them over", self.role, self.term,
            )  # fmt: skip
            self.active.clear()
            core.watching.stop_streams()
        return leading

    async def resign(self) -> None:
        """A clean stop: the lease is given back, so the next process asking takes over at once.
        Never raises."""
        was = self.active.is_set()
        self.active.clear()
        self.until = None
        try:
            if await self.core.storage.resign_leadership(self.role) and was:
                log.info("this process hands the %s over (term %s)", self.role, self.term)
        except Exception:
            log.warning("could not hand the %s lease over; it lapses by itself", self.role,
                        exc_info=True)  # fmt: skip
