"""Acknowledge slash commands straight from the gateway event, before discord.py builds them.

Discord wants every interaction acknowledged within 3 seconds. Left to discord.py, the
acknowledgement is the first thing the command's callback does, but only after discord.py has
built the interaction's objects (member, channel, resolved data), found the command,
transformed its options and run it in a task: under a burst those steps of *every* command
come before the acknowledgements of the later ones, and the bot's CPU, not the network, sets
the latency.

`EarlyAcks` therefore answers the raw INTERACTION_CREATE first: for the commands it is told
defer (redigest's all do, ephemerally, with "thinking…"), it posts the deferral on a pool of
keep-alive connections kept for acknowledgements only (so they never queue behind a large
embed or a rate-limited route), and hands the event to discord.py once the deferral is
answered and no other deferral is in flight (or after HOLD_MAX at the latest): during a burst,
every acknowledgement goes out before any command's work starts. The command's callback then
`claim`s the acknowledgement instead of deferring again; when the early one failed (a timeout, a
5xx), it defers through discord.py as before, which retries and waits out rate limits.
Autocomplete, components and modals are left untouched.

This wraps one entry of discord.py's gateway parser table (`ConnectionState.parsers`), which is
not public API: when a future discord.py moves it, `install` says so in the log and every
command is acknowledged through discord.py, as before (correct, only slower under load).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any

import aiohttp

from bot.ttl_map import TTLMap

log = logging.getLogger(__name__)

INTERACTION_CREATE = "INTERACTION_CREATE"
APPLICATION_COMMAND = 2  # interaction type; 4 is autocomplete (never deferred)
DEFERRED_CHANNEL_MESSAGE = 5  # callback type: "thinking…", answered later
EPHEMERAL = 1 << 6
ACK_CONNECTIONS = 32  # keep-alive connections kept for acknowledgements
ACK_TIMEOUT = 2.0  # seconds; Discord's own limit is 3 s, and discord.py retries after this
HOLD_MAX = 0.1  # seconds a command waits for the other acknowledgements in flight
ACK_MEMORY = 15 * 60  # seconds an unclaimed result is kept (interaction tokens live 15 minutes)
_BODY = b'{"type":%d,"data":{"flags":%d}}' % (DEFERRED_CHANNEL_MESSAGE, EPHEMERAL)

Parser = Callable[[Any], None]


class EarlyAcks:
    """Defers the named application commands from the gateway event (see the module doc).

    :param base_url: returns the REST base in use (`…/api/v10`), read at each request so the
        REDIGEST_DISCORD_API_BASE override applies.
    :param user_agent: the User-Agent Discord asks bots to send.
    """

    def __init__(
        self,
        *,
        base_url: Callable[[], str],
        user_agent: str,
        connections: int = ACK_CONNECTIONS,
        timeout: float = ACK_TIMEOUT,
        hold_max: float = HOLD_MAX,
    ) -> None:
        self._base_url = base_url
        self._user_agent = user_agent
        self._connections = connections
        self._timeout = timeout
        self._hold_max = hold_max
        self._names: frozenset[str] = frozenset()
        self._session: aiohttp.ClientSession | None = None
        # Unclaimed results (a command that never ran) are forgotten after ACK_MEMORY.
        self._results: TTLMap[int, bool] = TTLMap(ACK_MEMORY, size=None)
        self._tasks: set[asyncio.Task[bool]] = set()
        self._held: list[tuple[int, Parser, Any]] = []
        self._flush_at: asyncio.TimerHandle | None = None
        self.installed = False

    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                headers={"User-Agent": self._user_agent, "Content-Type": "application/json"},
                cookie_jar=aiohttp.DummyCookieJar(),
            )

    async def close(self) -> None:
        self._flush()  # acknowledged commands still reach discord.py (and the core, if it runs)
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def install(self, parsers: object, names: Collection[str]) -> bool:
        """Wrap the INTERACTION_CREATE parser of `parsers` (discord.py's gateway table) so the
        commands called `names` are acknowledged first. False (and one log line) when the table
        is not what this module knows."""
        self._names = frozenset(names)
        if self.installed:
            return True
        if not isinstance(parsers, dict) or not callable(parsers.get(INTERACTION_CREATE)):
            log.warning(
                "discord.py's gateway parsers are not where redigest expects them: slash "
                "commands are acknowledged through discord.py (slower under a burst)"
            )
            return False
        parsers[INTERACTION_CREATE] = self._wrap(parsers[INTERACTION_CREATE])
        self.installed = True
        return True

    def _wrap(self, original: Parser) -> Parser:
        def parse_interaction_create(data: Any) -> None:
            iid = self._deferrable(data)
            session = self._session
            if iid is None or session is None:
                original(data)
                return
            task = asyncio.get_running_loop().create_task(
                self._acknowledge(session, iid, str(data["token"])), name=f"ack-{iid}"
            )
            self._tasks.add(task)
            task.add_done_callback(lambda done: self._then(done, iid, original, data))

        return parse_interaction_create

    def _deferrable(self, data: Any) -> int | None:
        if not isinstance(data, Mapping) or data.get("type") != APPLICATION_COMMAND:
            return None
        inner = data.get("data")
        name = inner.get("name") if isinstance(inner, Mapping) else None
        if name not in self._names or not isinstance(data.get("token"), str):
            return None
        try:
            return int(data["id"])
        except (KeyError, TypeError, ValueError):
            return None

    async def _acknowledge(self, session: aiohttp.ClientSession, iid: int, token: str) -> bool:
        url = f"{self._base_url()}/interactions/{iid}/{token}/callback"
        try:
            async with session.post(url, data=_BODY) as response:
                if 200 <= response.status < 300:
                    return True
                reason = f"HTTP {response.status}"
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            reason = type(exc).__name__
        # The token is in the URL: never log the URL.
        log.info(
            "early acknowledgement of interaction %s failed (%s); deferring again", iid, reason
        )
        return False

    def _then(self, done: asyncio.Task[bool], iid: int, original: Parser, data: Any) -> None:
        self._tasks.discard(done)
        ok = not done.cancelled() and done.exception() is None and done.result()
        self._results.put(iid, ok)
        if done.cancelled():  # shutting down: discord.py gets it at once, as it would have
            self._hand_over(iid, original, data)
            return
        if not ok and done.exception() is not None:
            log.error(
                "early acknowledgement of interaction %s failed", iid, exc_info=done.exception()
            )
        self._held.append((iid, original, data))
        if not self._tasks:
            self._flush()
        elif self._flush_at is None:
            self._flush_at = asyncio.get_running_loop().call_later(self._hold_max, self._flush)

    def _flush(self) -> None:
        """Hand the acknowledged events to discord.py, in the order they were acknowledged."""
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        held, self._held = self._held, []
        for iid, original, data in held:
            self._hand_over(iid, original, data)

    @staticmethod
    def _hand_over(iid: int, original: Parser, data: Any) -> None:
        try:
            original(data)
        except Exception:
            log.exception("discord.py could not parse interaction %s", iid)

    @property
    def held(self) -> int:
        """Acknowledged commands waiting for the other acknowledgements in flight."""
        return len(self._held)

    def claim(self, interaction_id: int) -> bool:
        """True once: when this interaction was deferred here (the caller must not defer it
        again, and should treat its response as done)."""
        return self._results.pop(interaction_id) is True
