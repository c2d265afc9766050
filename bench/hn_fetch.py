"""Benchmark: requests and time per Hacker News digest fetch, against fetching the whole tree
naively (one official-API request per item).

Everything talks to the fake HN API of tests/fakes/hn_server.py on 127.0.0.1, every answer
delayed by a realistic round trip (`--latency`, default 50 ms: what a client in Europe sees from
Firebase's and Algolia's US endpoints). The stories are SYNTHETIC (tests/fakes/hn_server.py
`synthetic_story`; no recorded HN comment tree was available offline) of 100, 600 and 1,500
comments. Ways measured:

    algolia          redigest's default: Algolia's items endpoint, the whole tree in 1 request,
                     with the official story item beside it (2 requests, in parallel)
    official brief   Algolia down: the official API within the brief budget (100 requests),
                     8 in flight, breadth-first in HN's rank order
    official deep    the same within the deep budget (400 requests)
    naive parallel   every item of the tree through the official API, 8 in flight
    naive sequential every item, one request after another (what a simple client does)

Figures: requests, comments fetched of the story's total, wall time (median of `--runs`).
Run: `python -m bench.hn_fetch [--latency 0.05] [--runs 3]` from the repository root.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Mapping, Sequence
from typing import Any

from adapters.hn_source import HnConfig, HnSource
from adapters.hn_source.firebase_tree import fetch_tree
from bot.ports import ThreadRef
from digest.report import Depth
from tests.fakes.hn_server import FakeHN, synthetic_story

SIZES = (100, 600, 1500)
SEQUENTIAL_MAX = 600  # naive sequential beyond this takes minutes: not run


async def _naive_sequential(source: HnSource, number: int) -> tuple[int, int]:
    story = await source.item(number)
    assert story is not None
    fetched, stack = 0, list(reversed(story.get("kids") or ()))
    while stack:
        item = await source.item(int(stack.pop()))
        if item:
            fetched += 1
            stack.extend(reversed(item.get("kids") or ()))
    return fetched, source.requests_made


async def _measure(fake: FakeHN, number: int, way: str, config: HnConfig) -> tuple[int, int, float]:
    fake.algolia_down = way != "algolia"
    async with HnSource(config) as source:
        start = time.perf_counter()
        if way == "naive sequential":
            fetched, requests = await _naive_sequential(source, number)
        elif way == "naive parallel":
            story = await source.item(number)
            assert story is not None
            tree = await fetch_tree(source.item, story, 10**9)
            fetched, requests = len(tree.comments), source.requests_made
        else:
            depth = Depth.DEEP if way == "official deep" else Depth.BRIEF
            thread = await source.fetch_thread(ThreadRef(f"hn:{number}"), depth)
            fetched, requests = len(thread.comments), source.requests_made
            if way != "algolia":
                requests -= 1  # the refused Algolia request is not the official API's
        return requests, fetched, time.perf_counter() - start


async def run(latency: float, runs: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    async with FakeHN(latency=latency) as fake:
        config = HnConfig(api_url=fake.api_url, search_url=fake.search_url)
        for n, size in enumerate(SIZES):
            number = 1_000_000 * (n + 1)
            items = synthetic_story(number, size, seed=n)
            fake.add_items(items)
            total = len(items) - 1
            ways = ["algolia", "official brief", "official deep", "naive parallel"]
            if size <= SEQUENTIAL_MAX:
                ways.append("naive sequential")
            for way in ways:
                times, last = [], (0, 0, 0.0)
                for _ in range(runs if way != "naive sequential" else 1):
                    last = await _measure(fake, number, way, config)
                    times.append(last[2])
                rows.append({"comments": total, "way": way, "requests": last[0],
                             "fetched": last[1], "ms": statistics.median(times) * 1000})  # fmt: skip
    return rows


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    lines = [
        f"{'comments':>8}  {'way':<17} {'requests':>8}  {'fetched':>13}  {'wall ms':>9}",
    ]
    for r in rows:
        lines.append(
            f"{r['comments']:>8,}  {r['way']:<17} {r['requests']:>8,}  "
            f"{r['fetched']:>6,} of {r['comments']:>4,}  {r['ms']:>9,.0f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per answer")
    parser.add_argument("--runs", type=int, default=3, help="repetitions (median shown)")
    args = parser.parse_args(argv)
    rows = asyncio.run(run(args.latency, args.runs))
    print(f"HN fetch, fake HN API with {args.latency * 1000:.0f} ms a request (synthetic stories)")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
