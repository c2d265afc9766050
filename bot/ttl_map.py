"""A small bounded mapping whose entries may expire: the adapters' short memories (who may
manage, where a late answer goes, which signatures were seen, which texts were read).

Oldest first out: at most `size` entries (None: no bound), each alive for `seconds` after it
was put (None: until it is pushed out), or until the moment `put(..., until=…)` names. With
`lru=True` a hit counts as a fresh use, so what is read often stays. An expired entry is never
returned; it is dropped when it is next looked at, or when it reaches the front.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLMap(Generic[K, V]):
    """A bounded, expiring mapping (see the module's docstring)."""

    def __init__(
        self,
        seconds: float | None = None,
        size: int | None = 4096,
        *,
        lru: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.size = size
        self.lru = lru
        self.clock = clock
        self._items: OrderedDict[K, tuple[float | None, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: K) -> bool:
        return self._live(key) is not None

    def _live(self, key: K) -> tuple[float | None, V] | None:
        hit = self._items.get(key)
        if hit is None:
            return None
        if hit[0] is not None and hit[0] < self.clock():
            del self._items[key]
            return None
        return hit

    def get(self, key: K) -> V | None:
        hit = self._live(key)
        if hit is None:
            return None
        if self.lru:
            self._items.move_to_end(key)
        return hit[1]

    def pop(self, key: K) -> V | None:
        hit = self._live(key)
        if hit is None:
            return None
        del self._items[key]
        return hit[1]

    def put(self, key: K, value: V, *, until: float | None = None) -> None:
        """Keep `value` (the newest entry) until `until`, or for `seconds` from now."""
        now = self.clock()
        if until is None and self.seconds is not None:
            until = now + self.seconds
        items = self._items
        while items:  # the expired ones at the front go first
            expires = next(iter(items.values()))[0]
            if expires is None or expires >= now:
                break
            items.popitem(last=False)
        items[key] = (until, value)
        items.move_to_end(key)
        while self.size is not None and len(items) > self.size:
            items.popitem(last=False)

    def items(self) -> list[tuple[K, V]]:
        """The live entries, oldest first."""
        now = self.clock()
        return [(k, v) for k, (until, v) in self._items.items() if until is None or until >= now]
