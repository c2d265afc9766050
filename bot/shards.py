"""Discord shards: which of a bot's gateway shards this process runs (REDIGEST_DISCORD_SHARDS), and
their states for `redigest health`.

    ShardSpec.parse("0-3/8")    # shards 0, 1, 2 and 3 of 8
    ShardSpec.parse("2/8")      # shard 2 of 8
    ShardSpec.parse("0,2,5/8")  # shards 0, 2 and 5 of 8

Discord sends a guild's events to shard (guild_id >> 22) % count; several processes with the same
count and disjoint shard ids together cover every guild.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_SHARDS = 65_536  # far beyond any bot: a typo, not a plan
FORMAT = "write ids/count, like 0-3/8 for shards 0 to 3 of 8, 2/8 or 0,2,5/8"
_PART = re.compile(r"([0-9]+)(?:\s*[-–]\s*([0-9]+))?")
_COUNT = re.compile(r"[0-9]+")


def span(ids: Iterable[int]) -> str:
    """`0–3`, `0, 2, 5` or `0–1, 4`: consecutive ids as ranges."""
    parts: list[str] = []
    ordered = sorted(ids)
    start = 0
    for i, shard in enumerate(ordered):
        if i + 1 == len(ordered) or ordered[i + 1] != shard + 1:
            first = ordered[start]
            parts.append(str(first) if first == shard else f"{first}–{shard}")
            start = i + 1
    return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class ShardSpec:
    """Shards `ids` of `count` (sorted, distinct, each below `count`)."""

    ids: tuple[int, ...]
    count: int

    @classmethod
    def parse(cls, text: str) -> ShardSpec:
        """The spec written as `ids/count`; ValueError saying how to write it otherwise."""
        ids_text, slash, count_text = text.strip().partition("/")
        if not slash or not _COUNT.fullmatch(count_text.strip()):
            raise ValueError(FORMAT)
        count = int(count_text)
        if not 1 <= count <= MAX_SHARDS:
            raise ValueError(f"the shard count must be between 1 and {MAX_SHARDS}; {FORMAT}")
        ids: list[int] = []
        for part in ids_text.split(","):
            match = _PART.fullmatch(part.strip())
            if match is None:
                raise ValueError(FORMAT)
            first = int(match.group(1))
            last = int(match.group(2)) if match.group(2) is not None else first
            if last < first:
                raise ValueError(f"the range {first}-{last} runs backwards; {FORMAT}")
            if last >= count:
                raise ValueError(f"shard ids run from 0 to {count - 1} when there are {count}")
            ids.extend(range(first, last + 1))
        if len(set(ids)) != len(ids):
            raise ValueError("a shard is listed twice")
        return cls(tuple(sorted(ids)), count)

    def __str__(self) -> str:
        return f"{span(self.ids)} of {self.count}"


@dataclass(frozen=True, slots=True)
class ShardStates:
    """The shards a chat adapter runs in this process, and which of them are not connected."""

    count: int
    ids: tuple[int, ...]
    down: tuple[int, ...] = ()

    def describe(self) -> str:
        """`shards 0–1 of 4`, or `shard 1 of 4 down` when some are down."""
        if self.down:
            noun = "shard" if len(self.down) == 1 else "shards"
            return f"{noun} {span(self.down)} of {self.count} down"
        noun = "shard" if len(self.ids) == 1 else "shards"
        return f"{noun} {span(self.ids)} of {self.count}"
