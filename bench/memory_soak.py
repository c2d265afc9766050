"""A memory soak: 1,000 digests and their flags across many users and channels through the real
core, sampling the process's RSS; it must plateau.

A real `Core` (its worker pool from `Core.start()`) on a real SQLite file in a temporary folder,
the offline engine, an in-memory chat that keeps only its last few posts (the fake must not
grow), and a source serving real-size threads: the largest thread files under
../shared/data/reddit (synthetic 1–5k-comment threads when that folder is missing), each fetch
parsing the JSON text again off the event loop, as the live source does. 250 distinct thread ids
(variants of those files), each digested in about 4 channels (the report cache serves the fan-out,
as designed), 300 users in 100 channels on 10 servers, 8 requests in flight; a 🔍 flag on every
third digest posted (a deep analysis, posted in a thread under it).

Every run is its own process (RSS is per process):
  plain     RSS (VmRSS from /proc/self/status) every 50 finished jobs;
  arena2    the same with MALLOC_ARENA_MAX=2 (glibc's per-thread malloc arenas, used by the
            asyncio.to_thread workers that parse and analyse, bounded to 2);
  trace     the same under tracemalloc, started at job 300: the allocations still alive at job
            1,000 that were made after job 300, by file:line (top 10); then the memory one
            parsed thread of each file keeps;
  cache     the source wrapped in bot/thread_cache.py's CachingThreadSource as bot/app.py wires
            it in production (TTL 600 s, 256 entries).
Two runs at a time.

Run: `python -m bench memsoak` (or `python -m bench.memory_soak [--runs plain,arena2,trace]`)
from the repository root; 7–13 minutes on 2 cores (the traced run alone is 6–10: tracemalloc makes
the analysis ~5x slower).

The scenario and the fakes are in memory_soak_setup.py, one run (in its own process) in
memory_soak_run.py; this module starts the runs and prints the table and the curves.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from bench.common import REPO, Row, print_table
from bench.memory_soak_run import RunResult, Sample, _child
from bench.memory_soak_setup import (
    CHANNELS,
    CHILD_TIMEOUT_S,
    DIGESTS,
    FLAG_EVERY,
    IN_FLIGHT,
    PARALLEL,
    RUNS,
    USERS,
    VARIANTS,
)

# ============================================================================ the parent


def slope_per_100(samples: Sequence[Sample]) -> float:
    """Least-squares slope of RSS over digests, in MiB per 100 digests, over the second half of
    the samples."""
    half = list(samples[len(samples) // 2 :])
    if len(half) < 2:
        return float("nan")
    xs, ys = [s.digests for s in half], [s.rss for s in half]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return float("nan")
    return 100 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var


def plateau(samples: Sequence[Sample]) -> float:
    """The highest RSS of the second half of the samples minus that of the first half (robust to
    the dips that make a slope noisy: malloc gives memory back now and then)."""
    half = len(samples) // 2
    if half == 0:
        return float("nan")
    return max(s.rss for s in samples[half:]) - max(s.rss for s in samples[:half])


def _spawn(name: str, digests: int) -> RunResult | str:
    env = {**os.environ, **RUNS[name][1]}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.memory_soak", "--child", name, "--digests", str(digests)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False,
    )  # fmt: skip
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        return f"{name}: exit {proc.returncode}; {proc.stderr[-2000:]}"
    data = json.loads(line[len("RESULT ") :])
    samples = [Sample(**s) for s in data.pop("samples")]
    return RunResult(samples=samples, **data)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory_soak")
    parser.add_argument("--child", choices=list(RUNS), help=argparse.SUPPRESS)
    parser.add_argument("--digests", type=int, default=DIGESTS, help=f"default {DIGESTS:,}")
    parser.add_argument(
        "--runs", default=",".join(RUNS), help="comma-separated: " + ", ".join(RUNS)
    )
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.child, args.digests)
    names = [n for n in args.runs.split(",") if n]
    unknown = [n for n in names if n not in RUNS]
    if unknown:
        parser.error(f"unknown run(s): {', '.join(unknown)}")
    started = time.perf_counter()
    results: list[RunResult] = []
    errors: list[str] = []
    with ThreadPoolExecutor(PARALLEL) as pool:
        for out in pool.map(partial(_spawn, digests=args.digests), names):
            if isinstance(out, str):
                errors.append(out)
            else:
                results.append(out)
    print(
        f"machine: nproc={os.cpu_count()}, Python {platform.python_version()}, {platform.platform()}"
    )
    if results:
        print(
            f"soak: {args.digests:,} digests ({VARIANTS} thread ids, {USERS * -(-args.digests // DIGESTS)} users, {CHANNELS * -(-args.digests // DIGESTS)} channels), "
            f"a flag on every {FLAG_EVERY}rd, {IN_FLIGHT} in flight, 4 workers, offline engine; "
            f"threads: {results[0].source}"
        )
    print()
    rows: list[Row] = []
    for r in results:
        label = f"{r.name} ({RUNS[r.name][0]})"
        last = r.samples[-1] if r.samples else Sample(0, 0, float("nan"))
        rows += [
            (f"{label}: RSS after start-up", 1, f"{r.rss_start:.1f}", "MiB"),
            (f"{label}: RSS at the end", last.jobs, f"{last.rss:.1f}", "MiB"),
            (f"{label}: RSS peak", len(r.samples), f"{max(s.rss for s in r.samples):.1f}", "MiB"),
            (f"{label}: slope, second half", r.digests, f"{slope_per_100(r.samples):+.2f}", "MiB per 100 digests"),
            (f"{label}: peak of the second half - of the first", len(r.samples), f"{plateau(r.samples):+.1f}", "MiB (a plateau: about 0)"),
            (f"{label}: jobs done (digests + flags)", last.jobs, f"{r.digests} + {r.flags}", f"jobs ({r.failed} failed, {r.refused} refused)"),
            (f"{label}: wall time", last.jobs, f"{r.wall_s:.0f}", "s"),
        ]  # fmt: skip
        if r.name == "trace":
            (a, rss_a), (b, rss_b) = (
                r.trace_marks if len(r.trace_marks) == 2 else ((0, 0.0), (0, 0.0))
            )
            rows += [
                (f"{label}: traced growth, job {a} → {b}, both quiet", b - a,
                 f"{r.traced_growth_mib:+.2f}", "MiB (Python allocations made and still alive)"),
                (f"{label}: RSS at those two quiet moments", b - a, f"{rss_a:.1f} → {rss_b:.1f}", "MiB"),
            ]  # fmt: skip
    if rows:
        print_table(rows)
    for r in results:
        print(f"\nRSS curve, {r.name} ({RUNS[r.name][0]}): jobs, digests, RSS MiB")
        print("  " + "  ".join(f"{s.jobs}/{s.digests}:{s.rss:.1f}" for s in r.samples))
        print("  structures at the end: " + ", ".join(f"{k} {v}" for k, v in r.structures.items()))
        if r.top:
            print(
                f"\ntop growth by file:line, {' → '.join(f'job {j}' for j, _ in r.trace_marks)}, no job in flight (tracemalloc):"
            )
            for line in r.top:
                print(f"  {line}")
        if r.thread_kib:
            print(
                "one parsed Thread kept alive (what a thread cache entry costs): JSON KiB, comments, KiB"
            )
            print("  " + "  ".join(f"{j}/{c}:{k:.0f}" for j, c, k in r.thread_kib))
    for e in errors:
        print(f"note: run failed: {e}")
    print(f"(whole benchmark: {time.perf_counter() - started:.0f} s)")
    return 1 if errors else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
