"""Which `more` stubs to expand next, within a request budget (pure logic, no I/O).

A stub's value is the score mass it probably hides: Reddit sorts what it shows first, so a hidden
reply scores at most about as well as the weakest sibling that was shown. Ties go to breadth
(how many comments the stub stands for).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

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
