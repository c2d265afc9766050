"""A post in several parts that survives a crash between its parts.

An adapter marks each part with its idempotency key and part number (Slack in the message's
metadata, Discord in a footer and nonce). After a crash, `find_posted` scans the channel for
those marks and hands what it found to `settle`: the whole post comes back as it is; a partial
one is kept here, and the next `send` with that key posts only the parts still missing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from bot.chat import MessageRef
from bot.ttl_map import TTLMap

M = TypeVar("M")

KEYS_KEPT = 4096  # posts remembered by key (partial ones, and whole ones made by this run)


class MultipartPosts:
    """What each idempotency key has posted: parts found after a crash, and (when the adapter
    asks for it) the whole posts this run made."""

    def __init__(self, size: int = KEYS_KEPT) -> None:
        self._partial: TTLMap[str, dict[int, MessageRef]] = TTLMap(size=size)
        self._posted: TTLMap[str, list[MessageRef]] = TTLMap(size=size)

    def posted(self, key: str) -> list[MessageRef] | None:
        """The messages this run posted with `key` (after `remember`), or None."""
        refs = self._posted.get(key)
        return list(refs) if refs else None

    def remember(self, key: str, refs: Sequence[MessageRef]) -> None:
        self._posted.put(key, list(refs))

    def settle(
        self, key: str, found: Mapping[int, MessageRef], parts: int
    ) -> list[MessageRef] | None:
        """What a scan found of a post (part number → message; `parts`: how many it has):
        every part, in order, or None when some are missing (those found are kept for `send`)."""
        if not found:
            return None
        if len(found) >= parts:
            return [found[p] for p in sorted(found)]
        self._partial.put(key, dict(found))
        return None

    async def send(
        self,
        key: str | None,
        messages: Sequence[M],
        send_one: Callable[[int, M], Awaitable[MessageRef]],
        *,
        first: int = 0,
    ) -> list[MessageRef]:
        """Every part of a post, numbered from `first`: a part found after a crash is not sent
        again, the others go through `send_one(part, message)` in order."""
        done = (self._partial.pop(key) or {}) if key is not None else {}
        refs: list[MessageRef] = []
        for part, message in enumerate(messages, first):
            found = done.get(part)
            refs.append(found if found is not None else await send_one(part, message))
        return refs
