"""Virtual time for bench/public_reddit_sim.py: an asyncio event loop whose clock only moves when
every task waits on a timer. Its selector looks at the real sockets first (loopback I/O is never
skipped), and when nothing is ready and no request is in flight it jumps to the next timer."""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Callable, Mapping
from typing import Any

STUCK_S = 5.0  # real seconds a request may seem in flight before time moves anyway
STALL_S = 10.0  # real seconds with nothing scheduled at all: the simulation is stuck
TICK = 1e-6  # virtual seconds each turn of the loop takes


class SimulationStalled(RuntimeError):
    pass


Events = list[tuple[selectors.SelectorKey, int]]


class VirtualSelector(selectors.BaseSelector):
    """The platform's selector; a wait with nothing to read moves virtual time instead."""

    def __init__(self) -> None:
        self._inner = selectors.DefaultSelector()
        self.now = 0.0
        self.busy: Callable[[], bool] = lambda: False  # a request sent, not yet at the server
        self.forced = 0  # times time moved while a request still seemed in flight
        self._busy_since: float | None = None

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()

    def select(self, timeout: float | None = None) -> Events:
        events = self._inner.select(0)
        if events or (timeout is not None and timeout <= 0):
            # Every turn of the loop takes a microsecond, as it would in real time: a sleep
            # computed to a float's last bit (60 - (now - sent)) then cannot spin for ever.
            self.now += TICK
            return events
        if self.busy():
            if self._busy_since is None:
                self._busy_since = time.perf_counter()
            if time.perf_counter() - self._busy_since < STUCK_S:
                return self._inner.select(0.001)  # loopback I/O on its way: real time
            self.forced += 1
        self._busy_since = None
        if timeout is None:
            events = self._inner.select(STALL_S)
            if not events:
                raise SimulationStalled("every task waits and nothing is scheduled")
            return events
        self.now += timeout
        return []


class VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.virtual = VirtualSelector()
        super().__init__(self.virtual)

    def time(self) -> float:
        return self.virtual.now
