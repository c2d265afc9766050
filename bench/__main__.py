"""Run the benchmarks: `python -m bench [NAME ...]` from the repository root (all when no name)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence


def _bench(module: str, *args: list[str]) -> Callable[[], int]:
    """bench.<module>'s main, imported when it runs (a main that returns nothing counts as 0)."""

    def run() -> int:
        return int(importlib.import_module(f"bench.{module}").main(*args) or 0)

    return run


BENCHMARKS: dict[str, tuple[Callable[[], int], str]] = {
    "chart": (
        _bench("chart"),
        "a deep report's chart at 1k and 10k comments: data and PNG time, extra memory",
    ),
    "cluster": (
        _bench("cluster", []),
        "digests/min with 1, 2 and 4 worker processes on PostgreSQL, claim p50/p99, "
        "one process on SQLite vs PostgreSQL",
    ),
    "discord": (
        _bench("discord_load"),
        "200 concurrent /digest through the fake Discord: time to the defer",
    ),
    "core": (
        _bench("core_load"),
        "200 concurrent digests through the core: ack latency, throughput, loop lag",
    ),
    "hnfetch": (
        _bench("hn_fetch", []),
        "requests and time per Hacker News digest fetch, Algolia vs the official API",
    ),
    "killsoak": (
        _bench("kill_soak", []),
        "50 kill -9 of the bot over a queue of digests and flags: posts per job, jobs lost",
    ),
    "llm": (
        _bench("llm_tokens"),
        "LLM prompt tokens and estimated $ per digest, budgeted vs every comment",
    ),
    "looplag": (
        _bench("loop_lag", []),
        "200 concurrent commands while 5k-comment digests run: ack p99 and loop-lag p99, "
        "median of 5 repetitions",
    ),
    "migratedb": (
        _bench("migrate_db", []),
        "redigest migrate-db: rows per second copying SQLite into PostgreSQL",
    ),
    "memsoak": (
        _bench("memory_soak", []),
        "1,000 digests and flags through the core: the RSS curve, and what grows (tracemalloc)",
    ),
    "offline": (
        _bench("offline_pipeline"),
        "the offline digest pipeline, stage by stage, against the naive way",
    ),
    "publicreddit": (
        _bench("public_reddit"),
        "public (no credentials) vs OAuth requests a digest; capacity and wait at 10 requests/min",
    ),
    "ratelimits": (
        _bench("ratelimit_db"),
        "rate limits in the database: a reservation's cost on SQLite and PostgreSQL, 200 /digest",
    ),
    "reddit": (
        _bench("reddit_fetch"),
        "budgeted thread fetching vs replace_more(limit=None), fake Reddit",
    ),
    "slack": (
        _bench("slack_load"),
        "200 concurrent slash commands to the Slack adapter: time to the ack",
    ),
    "startup": (
        _bench("startup", []),
        "redigest --help and an offline digest: whole-process wall time and peak RSS",
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run redigest's benchmarks.",
        epilog="benchmarks: "
        + "; ".join(f"{name}: {about}" for name, (_, about) in BENCHMARKS.items()),
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}",
    )
    args = parser.parse_args(argv)
    names: list[str] = args.names or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})")
    status = 0
    for name in names:
        run, _ = BENCHMARKS[name]
        status = run() or status
    return status


if __name__ == "__main__":
    sys.exit(main())
