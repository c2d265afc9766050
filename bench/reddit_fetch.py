"""Benchmark of budgeted thread fetching against a fake Reddit API, with the real asyncpraw client.

redigest's `RedditSource.fetch_thread` spends a small request budget (brief: 2, deep: 12) on the
first page and the most valuable `more` stubs. The naive way is plain asyncpraw:
`submission.comments.replace_more(limit=None)`, which fetches every comment. Both talk to the fake
Reddit server of tests/fakes/reddit_server.py on 127.0.0.1 (nothing else may be reached: sockets
are guarded while the benchmark runs).

Cases: the largest recorded threads in ../shared/data/reddit (served verbatim, with their recorded
morechildren and continue-this-thread answers) and synthetic full trees of 1k, 5k and 20k comments
(the server decides what to inline and what to stub, like Reddit).

Figures per case and depth: API requests (token request excluded), comments covered, wall ms (and
the same minus the time spent inside the fake server, which shares the event loop), and the share
of the thread's top-50 comments by score that the fetch includes.

The cases are in reddit_fetch_cases.py, the fetches in reddit_fetch_measure.py, the table's rows
and notes in reddit_fetch_table.py (the table itself, shared with bench/public_reddit.py, in
reddit_common.py).

Run it with `python -m bench.reddit_fetch` from the repository root.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpraw

from adapters.reddit_source.live import DEFAULT_PLANS
from bench.common import describe, machine, shared_data_dir
from bench.reddit_common import TOP_N, fake_reddit_only, format_table
from bench.reddit_fetch_cases import (
    BUDGETED_RUNS,
    NAIVE_REPEAT_MAX_S,
    NAIVE_RUNS,
    NAIVE_TIMEOUT_S,
    RECORDED,
    SYNTHETIC_SIZES,
    add_recorded,
    add_synthetic,
)
from bench.reddit_fetch_measure import CaseResult, TimedFakeReddit, measure
from bench.reddit_fetch_table import notes_of, rows_of


async def run_all(notes: list[str]) -> list[CaseResult]:
    results: list[CaseResult] = []
    fake = TimedFakeReddit(ratelimit_budget=10_000_000)  # asyncprawcore never paces itself
    async with fake:
        base = fake.base_url
        if not base.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the fake server is not on 127.0.0.1: {base}")
        data_dir = shared_data_dir()
        reddit_dir = data_dir / "reddit"
        if not reddit_dir.is_dir():
            notes.append(
                f"recorded threads: skipped — {reddit_dir} does not exist (the shared data "
                "lives beside the repository)"
            )
        else:
            for spec in RECORDED:
                missing = spec.missing(reddit_dir)
                if missing:
                    notes.append(
                        f"{Path(spec.thread).stem}: skipped — missing {', '.join(missing)} "
                        f"under {reddit_dir}"
                    )
                    continue
                try:
                    case = add_recorded(fake, reddit_dir, spec)
                except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
                    notes.append(
                        f"{Path(spec.thread).stem}: skipped — the fake cannot serve it "
                        f"({describe(exc)})"
                    )
                    continue
                results.append(await measure(fake, case))
        for size in SYNTHETIC_SIZES:
            results.append(await measure(fake, add_synthetic(fake, size)))
            results.append(await measure(fake, add_synthetic(fake, size, reply_decay=0.8)))
    return results


def main() -> None:
    started = time.perf_counter()
    print(machine(f"asyncpraw {asyncpraw.__version__}"))
    plans = ", ".join(
        f"{d.value}: {p.requests} requests, first page limit {p.limit} depth {p.max_depth} "
        f"sort {p.sort}"
        for d, p in DEFAULT_PLANS.items()
    )
    print(f"budgeted: redigest RedditSource.fetch_thread ({plans})")
    print(
        "naive: asyncpraw submission + comments.replace_more(limit=None) + comments.list(), "
        f"cut off after {NAIVE_TIMEOUT_S:.0f} s"
    )
    print(
        "server: tests/fakes/reddit_server.py on 127.0.0.1, in the same process and event loop "
        "(wall ms includes its work; no network latency, so on Reddit add ~latency × requests)"
    )
    print(
        f"requests: API requests seen by the server, token request excluded; wall ms: best of "
        f"{BUDGETED_RUNS} runs (naive: up to {NAIVE_RUNS} while a run takes < "
        f"{NAIVE_REPEAT_MAX_S:.0f} s), token fetch included; top-{TOP_N} share: of the "
        f"{TOP_N} highest-scoring comments (synthetic: of the generated tree; recorded: of the "
        "naive fetch), ties at the cut-off counted fairly"
    )
    notes: list[str] = []
    with fake_reddit_only():
        results = asyncio.run(run_all(notes))
    for result in results:
        notes += notes_of(result)
    print()
    print(format_table([row for result in results for row in rows_of(result)]))
    print()
    for note in notes:
        print(f"note: {note}")
    print(f"benchmark wall time: {time.perf_counter() - started:,.0f} s")


if __name__ == "__main__":
    main()
