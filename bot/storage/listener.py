"""Hearing what other processes `notify` (backend.py) on PostgreSQL: LISTEN on a connection of
its own, opened again with back-off when lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.storage.backend import Notified, safe_url

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger(__name__)


class PgListener:
    """LISTEN on a connection of its own (the shared one runs transactions): each notification
    is handed to `callback` on the event loop. A lost connection (the server restarted, the
    session was ended, the network broke) is logged and opened again with back-off, after which
    every channel is called with the payload "": what was sent meanwhile is lost (NOTIFY is not
    a queue), so a listener treats it as a wake-up."""

    def __init__(
        self,
        url: str,
        channels: Sequence[str],
        callback: Notified,
        *,
        retry: tuple[float, float] = (0.2, 15.0),  # first and longest pause between attempts
    ) -> None:
        self.url = url
        self.channels = tuple(channels)
        self.callback = callback
        self.retry = retry
        self.conn: asyncpg.Connection | None = None
        self.reconnects = 0  # how many times the connection was opened again
        self._closing = False
        self._reconnect: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._connect()

    async def _connect(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.url)
        try:
            for channel in self.channels:
                await conn.add_listener(channel, self._heard)
        except BaseException:
            await conn.close()
            raise
        conn.add_termination_listener(self._lost)
        self.conn = conn

    def _heard(self, conn: object, pid: int, channel: str, payload: object) -> None:
        self._call(channel, str(payload))

    def _call(self, channel: str, payload: str) -> None:
        try:
            self.callback(channel, payload)
        except Exception:
            log.exception("a notification on %s could not be handled", channel)

    def _lost(self, conn: object) -> None:
        if self._closing or conn is not self.conn:
            return
        self.conn = None
        log.warning(
            "the connection listening for wake-ups (%s) was lost; opening it again (until then "
            "the workers poll)",
            safe_url(self.url),
        )
        self._reconnect = asyncio.get_running_loop().create_task(
            self._connect_again(), name="listen-reconnect"
        )

    async def _connect_again(self) -> None:
        pause, longest = self.retry
        while not self._closing:
            try:
                await self._connect()
            except Exception as exc:
                log.warning(
                    "listening for wake-ups again failed (%s: %s); next try in %.1f s",
                    type(exc).__name__, exc, pause,
                )  # fmt: skip
                await asyncio.sleep(pause)
                pause = min(pause * 2, longest)
                continue
            self.reconnects += 1
            log.info("listening for wake-ups again on %s", safe_url(self.url))
            for channel in self.channels:
                self._call(channel, "")
            return

    async def close(self) -> None:
        self._closing = True
        if self._reconnect is not None:
            self._reconnect.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnect
        if self.conn is not None:
            with contextlib.suppress(Exception):
                await self.conn.close()
            self.conn = None
