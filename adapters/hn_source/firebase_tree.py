"""A story's comment tree through HN's official (Firebase) API, within a request budget.

One request per item: the story, then its comments breadth-first — every top-level comment
before any reply, each level in HN's own rank order (`kids`) — `in_flight` at a time, until the
budget is spent. What the budget leaves unfetched is kept as MoreStubs (which parent, which
ids), and the story's `descendants` stays the reported count, so coverage says what was read of
how much.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.hn_source.items import comment_from_item, stub
from digest.model import Comment, MoreStub

GetItem = Callable[[int], Awaitable[Mapping[str, Any] | None]]


@dataclass(frozen=True, slots=True)
class Tree:
    comments: list[Comment]  # pre-order, HN's rank order among siblings
    more: list[MoreStub]
    requests: int


async def fetch_tree(get_item: GetItem, story: Mapping[str, Any], budget: int) -> Tree:
    """The comments under `story` (already fetched) for at most `budget` more requests."""
    story_id = int(story["id"])
    op = story.get("by")
    fetched: dict[str, Comment] = {}
    kids_of: dict[str | None, list[str]] = {}
    more: list[MoreStub] = []
    # (parent comment id or None, its kids, their depth)
    level: list[tuple[str | None, list[int], int]] = [(None, list(story.get("kids") or ()), 1)]
    spent = 0
    while level:
        wanted = [(p, k, d) for p, kids, d in level for k in kids]
        room = max(budget - spent, 0)
        now, later = wanted[:room], wanted[room:]
        spent += len(now)
        items = await asyncio.gather(*(get_item(k) for _, k, _ in now))
        next_level: list[tuple[str | None, list[int], int]] = []
        for (parent, _, depth), item in zip(now, items, strict=True):
            if not item or item.get("type", "comment") != "comment":
                continue
            comment = comment_from_item(item, story_id, depth, op)
            fetched[comment.id] = comment
            kids_of.setdefault(parent, []).append(comment.id)
            if item.get("kids"):
                next_level.append((comment.id, list(item["kids"]), depth + 1))
        left: dict[str | None, tuple[list[int], int]] = {}
        for parent, kid, depth in later:
            left.setdefault(parent, ([], depth))[0].append(kid)
        more += [stub(parent, kids, depth) for parent, (kids, depth) in left.items()]
        level = next_level if spent < budget else []
        if spent >= budget:  # the replies of what was fetched last are not fetched either
            more += [stub(p, kids, d) for p, kids, d in next_level]
    return Tree(_preorder(fetched, kids_of), more, spent)


def _preorder(
    fetched: Mapping[str, Comment], kids_of: Mapping[str | None, list[str]]
) -> list[Comment]:
    out: list[Comment] = []
    stack = list(reversed(kids_of.get(None, [])))
    while stack:
        cid = stack.pop()
        out.append(fetched[cid])
        stack.extend(reversed(kids_of.get(cid, [])))
    return out
