"""Spending a thread's request budget on its `more` stubs: which to expand next (pure logic), and
the loop both live sources run (`expand`, its requests given by the source).

A stub's value is the score mass it probably hides: Reddit sorts what it shows first, so a hidden
reply scores at most about as well as the weakest sibling that was shown. Ties go to breadth
(how many comments the stub stands for).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bot import progress
from digest.text import plural

log = logging.getLogger(__name__)

MORECHILDREN_MAX_IDS = 100  # Reddit's limit per /api/morechildren call


@dataclass(frozen=True, slots=True)
class Stub:
    id: str
    parent: str  # fullname: t1_… or t3_…
    count: int
    children: tuple[str, ...]
    depth: int

    @property
    def is_continue_thread(self) -> bool:
        return not self.children

    @classmethod
    def of(cls, data: dict[str, Any]) -> Stub:
        children = data.get("children")
        return cls(
            id=str(data.get("id") or "_"),
            parent=str(data.get("parent_id") or ""),
            count=int(data.get("count") or 0),
            children=tuple(c for c in children if isinstance(c, str))
            if isinstance(children, list)
            else (),
            depth=int(data.get("depth") or 0),
        )

    def as_thing(self) -> dict[str, Any]:
        return {
            "kind": "more",
            "data": {
                "id": self.id,
                "name": f"t1_{self.id}",
                "parent_id": self.parent,
                "count": self.count,
                "children": list(self.children),
                "depth": self.depth,
            },
        }


def stub_value(stub: Stub, comments: dict[str, dict[str, Any]]) -> tuple[float, int]:
    """(estimated hidden score mass, breadth) of a stub, given the comments in hand."""
    siblings = [
        c.get("score", 0)
        for c in comments.values()
        if c.get("parent_id") == stub.parent and isinstance(c.get("score"), int)
    ]
    if siblings:
        per_comment = max(min(siblings), 0) + 1
    elif stub.parent.startswith("t1_") and stub.parent[3:] in comments:
        parent_score = comments[stub.parent[3:]].get("score", 0)
        per_comment = max(int(parent_score) if isinstance(parent_score, int) else 0, 0) / 4 + 1
    else:
        per_comment = 1
    hidden = max(stub.count, len(stub.children), 1)
    # Deep stubs hide less that matters: their replies answer replies.
    return per_comment * hidden / (1 + stub.depth * 0.25), hidden


def rank(stubs: Iterable[Stub], comments: dict[str, dict[str, Any]]) -> list[Stub]:
    return sorted(stubs, key=lambda s: stub_value(s, comments), reverse=True)


def next_batch(stubs: list[Stub]) -> tuple[list[str], list[Stub], list[Stub]]:
    """From ranked stubs, the ids of one morechildren call.

    Returns (ids to request, stubs fully taken, what is left of a stub taken in part) — the caller
    replaces the taken stubs by the remainders.
    """
    ids: list[str] = []
    taken: list[Stub] = []
    remainders: list[Stub] = []
    for stub in stubs:
        if stub.is_continue_thread:
            continue
        room = MORECHILDREN_MAX_IDS - len(ids)
        if room <= 0:
            break
        ids.extend(stub.children[:room])
        taken.append(stub)
        if len(stub.children) > room:
            rest = stub.children[room:]
            remainders.append(
                Stub(stub.id, stub.parent, max(stub.count - room, len(rest)), rest, stub.depth)
            )
            break
    return ids, taken, remainders


Things = list[dict[str, Any]]  # flat t1/more things, as thread_json.flatten gives them
Errors = type[Exception] | tuple[type[Exception], ...]


def merge(
    things: Things, comments: dict[str, dict[str, Any]], order: list[str], stubs: list[Stub]
) -> None:
    """Add fetched things to those in hand: new comments in order (a comment fetched again
    replaces its data), and the stubs that still hide comments not in hand."""
    for thing in things:
        data = thing["data"]
        if thing["kind"] == "t1" and isinstance(data.get("id"), str):
            if data["id"] not in comments:
                order.append(data["id"])
            comments[data["id"]] = data
        elif thing["kind"] == "more":
            stub = Stub.of(data)
            fresh = tuple(c for c in stub.children if c not in comments)
            if fresh or stub.is_continue_thread:
                stubs.append(Stub(stub.id, stub.parent, stub.count, fresh, stub.depth))


async def expand(
    post_id: str,
    things: Things,
    budget: int,
    *,
    more: Callable[[list[str]], Awaitable[Things]],
    continue_thread: Callable[[str], Awaitable[Things]],
    gone: Errors,
    failed: Errors,
) -> Things:
    """Spend `budget` requests on the most valuable `more` stubs of a thread's first page (its
    comment listing, flat) and return the things in hand: the comments in order, then the stubs
    left.

    `more(ids)` is one morechildren request, `continue_thread(comment_id)` one comment page; each
    returns flat things. A continue-thread that raises `gone` is skipped; any request that raises
    `failed` ends the expansion, and what is in hand is still a thread (its coverage line says
    how much was read).
    """
    comments: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for thing in things:
        cid = thing["data"].get("id")
        if thing["kind"] == "t1" and isinstance(cid, str):
            if cid not in comments:
                order.append(cid)
            comments[cid] = thing["data"]
    stubs = [Stub.of(t["data"]) for t in things if t["kind"] == "more"]
    shown, made = progress.current(), 0
    if budget > 0 and stubs:
        shown.step(f"Expanding “more comments”: {plural(len(comments), 'comment')} so far…")
    while budget > 0 and stubs:
        ranked = rank(stubs, comments)
        best = ranked[0]
        if best.is_continue_thread:
            stubs.remove(best)
            budget -= 1
            if best.parent.startswith("t1_"):
                try:
                    new = await continue_thread(best.parent[3:])
                except gone:
                    log.info("continue-thread under %s is gone; skipped", best.parent)
                    continue
                except failed as exc:
                    log.warning("expanding %s stopped early: %r", post_id, exc)
                    break
                merge(new, comments, order, stubs)
                made += 1
                shown.update(_expanded(made, len(comments)))
            continue
        ids, taken, remainders = next_batch(ranked)
        if not ids:
            break
        for stub in taken:
            stubs.remove(stub)
        budget -= 1
        try:
            new = await more(ids)
        except failed as exc:
            log.warning("expanding %s stopped early: %r", post_id, exc)
            stubs.extend(taken)  # whole again: their remainders were never added
            break
        stubs.extend(remainders)
        merge(new, comments, order, stubs)
        made += 1
        shown.update(_expanded(made, len(comments)))
    return [{"kind": "t1", "data": comments[i]} for i in order] + [s.as_thing() for s in stubs]


def _expanded(requests: int, comments: int) -> str:
    return (
        f"Expanding “more comments”: {plural(requests, 'request')}, "
        f"{plural(comments, 'comment')} so far…"
    )
