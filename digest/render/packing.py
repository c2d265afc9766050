"""Packing rendered pieces into size-limited parts: lines into a chat block, blocks or embeds
into messages. Greedy and in order: a part is closed when the next piece would not fit."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


def pack(
    items: Iterable[T],
    *,
    size: Callable[[T], int],
    budget: int,
    most: int | None = None,
    start: Iterable[T] = (),
) -> list[list[T]]:
    """`items` in groups of at most `most` items and `budget` in size (a piece larger than the
    budget gets a group of its own); the first group begins with `start`. No empty groups."""
    groups: list[list[T]] = [list(start)]
    used = sum(size(x) for x in groups[0])
    for item in items:
        cost = size(item)
        last = groups[-1]
        if last and ((most is not None and len(last) >= most) or used + cost > budget):
            groups.append([])
            used = 0
        groups[-1].append(item)
        used += cost
    return [g for g in groups if g]


def pack_lines(
    lines: Iterable[str], limit: int, *, measure: Callable[[str], int] = len
) -> list[str]:
    """Lines joined with newlines into chunks of at most `limit` (as `measure` counts, which must
    add up over concatenation); each line must fit on its own. An empty line that would start a
    chunk is left out."""
    chunks: list[str] = []
    current = ""
    used = 0
    for line in lines:
        cost = measure(line)
        if not current:
            current, used = line, cost
        elif used + 1 + cost <= limit:
            current, used = f"{current}\n{line}", used + 1 + cost
        else:
            chunks.append(current)
            current, used = line, cost
    if current:
        chunks.append(current)
    return chunks
