"""Run the benchmarks: `python -m bench [NAME ...]` from the repository root (all when no name)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence


def _offline() -> int:
    from bench import offline_pipeline

    return offline_pipeline.main()


def _reddit() -> int:
    from bench import reddit_fetch

    reddit_fetch.main()
    return 0


def _llm() -> int:
    from bench import llm_tokens

    return llm_tokens.main()


def _core() -> int:
    from bench import core_load

    return core_load.main()


def _looplag() -> int:
    from bench import loop_lag

    return loop_lag.main([])


def _slack() -> int:
    from bench import slack_load

    return slack_load.main()


def _discord() -> int:
    from bench import discord_load

    return discord_load.main()


def _killsoak() -> int:
    from bench import kill_soak

    return kill_soak.main([])


def _memsoak() -> int:
    from bench import memory_soak

    return memory_soak.main([])


def _startup() -> int:
    from bench import startup

    return startup.main([])


BENCHMARKS: dict[str, tuple[Callable[[], int], str]] = {
    "discord": (_discord, "200 concurrent /digest through the fake Discord: time to the defer"),
    "core": (_core, "200 concurrent digests through the core: ack latency, throughput, loop lag"),
    "killsoak": (
        _killsoak,
        "50 kill -9 of the bot over a queue of digests and flags: posts per job, jobs lost",
    ),
    "llm": (_llm, "LLM prompt tokens and estimated $ per digest, budgeted vs every comment"),
    "looplag": (
        _looplag,
        "200 concurrent commands while 5k-comment digests run: ack p99 and loop-lag p99, "
        "median of 5 repetitions",
    ),
    "memsoak": (
        _memsoak,
        "1,000 digests and flags through the core: the RSS curve, and what grows (tracemalloc)",
    ),
    "offline": (_offline, "the offline digest pipeline, stage by stage, against the naive way"),
    "publicreddit": (
        lambda: int(__import__("bench.public_reddit", fromlist=["main"]).main()),
        "public (no credentials) vs OAuth requests a digest; capacity and wait at 10 requests/min",
    ),
    "reddit": (_reddit, "budgeted thread fetching vs replace_more(limit=None), fake Reddit"),
    "slack": (_slack, "200 concurrent slash commands to the Slack adapter: time to the ack"),
    "startup": (
        _startup,
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
