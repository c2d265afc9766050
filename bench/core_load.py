"""Load on the bot core: how fast a request is acknowledged, how fast digests come out, and how
late the event loop runs while digests are being made.

A real `Core` — a real SQLite file in a temporary directory, the real worker pool from
`Core.start()` — with in-process fakes around it: `FakeSource` (threads in memory), a `FakeChat`
that counts the reports posted, and an LLM provider that answers after 2 s (built like the tests'
`ScriptedLLM`, with a grounded answer, but sleeping first).

A  200 digest requests at once through `Core.handle_request`, one user and one channel each (no
   rate limit refuses them), 20 distinct threads (the report cache serves repeats), the 2 s LLM.
   Acknowledgement = the time `handle_request` takes to return. Then the time until all 200
   reports are posted, and throughput. With 4 and 16 workers; and 200 distinct threads (no
   sharing: bound by the LLM) with 16 workers.
B  Event-loop lag while 20 digests of a 5,000-comment thread run: a ticker sleeps 10 ms in a loop
   and records how late each wake-up is. Offline analyser (CPU) and the 2 s LLM.
C  CPU per digest that runs on the event loop, timed directly (what makes B's lag).

Write-lock figures come from a timing `asyncio.Lock` put in place of the storage's own, which
serialises every unit of work of the process.

The scenario and its fakes are in core_load_setup.py, the instruments in core_load_probes.py, the
runs and part C in core_load_runs.py; this module prints the table and its notes.

Run: `python -m bench.core_load` from the repository root (about a minute).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from adapters.reddit_source.thread_json import thread_from_json
from bench.common import Row, print_table
from bench.core_load_probes import (
    Instruments,
    LagProbe,
    TimedLock,
    _dist,
    _ms,
    _pct,
    _timed_request,
)
from bench.core_load_runs import (
    RunResult,
    _idle_lag,
    _on_loop_costs,
    _run,
    _sequential_acks,
    _storage_pragmas,
)
from bench.core_load_setup import (
    ACK_TARGET_MS,
    BIG_COMMENTS,
    BIG_DIGESTS,
    BURST,
    BURST_THREADS,
    DIST,
    LLM_DELAY_S,
    LLM_MODEL,
    PLATFORM,
    RUN_TIMEOUT_S,
    TICK_S,
    CountingChat,
    SlowLLM,
    _copies,
    _engines,
    _requests,
    _small_threads,
)
from digest.model import Thread
from digest.sentiment import make_scorer
from tests.support.synthetic import thread_json

# The names other benchmarks (bench/loop_lag.py) import from here.
__all__ = [
    "ACK_TARGET_MS",
    "BIG_COMMENTS",
    "BIG_DIGESTS",
    "BURST",
    "BURST_THREADS",
    "DIST",
    "LLM_DELAY_S",
    "LLM_MODEL",
    "PLATFORM",
    "RUN_TIMEOUT_S",
    "TICK_S",
    "CountingChat",
    "Instruments",
    "LagProbe",
    "RunResult",
    "SlowLLM",
    "TimedLock",
    "_copies",
    "_dist",
    "_engines",
    "_pct",
    "_requests",
    "_small_threads",
    "_timed_request",
    "main",
]


# ----------------------------------------------------------------------------- report


def _rows(r: RunResult) -> list[Row]:
    inst = r.inst
    rows: list[Row] = [
        (f"{r.label}: ack (handle_request returns)", r.n, _dist(r.acks_ms), DIST),
        (
            f"{r.label}: ack step: settings read",
            len(inst.settings_ms),
            _dist(inst.settings_ms),
            DIST,
        ),
        (
            f"{r.label}: ack step: add_job (write)",
            len(inst.add_job_ms),
            _dist(inst.add_job_ms),
            DIST,
        ),
    ]
    if inst.lock is not None:
        lock = inst.lock
        rows += [
            (f"{r.label}: write-lock wait, requests", len(lock.waits_request), _dist(lock.waits_request), DIST),
            (f"{r.label}: write-lock wait, workers", len(lock.waits_worker), _dist(lock.waits_worker), DIST),
            (f"{r.label}: write tx hold (all)", len(lock.holds), _dist(lock.holds), DIST),
        ]  # fmt: skip
    if r.posted_s is None:
        rows.append(
            (f"{r.label}: all reports posted", r.n, f">{RUN_TIMEOUT_S:.0f}", "s (timed out)")
        )
    else:
        rows += [
            (f"{r.label}: all reports posted", r.n, f"{r.posted_s:.2f}", "s"),
            (f"{r.label}: throughput", r.n, f"{r.n / r.posted_s:.1f}", "digests/s"),
        ]
    rows.append((f"{r.label}: drain() after the last post", r.n, f"{_ms(r.drain_s):.0f}", "ms"))
    if r.llm_calls:
        rows.append(
            (
                f"{r.label}: LLM calls (rest: report cache)",
                r.n,
                str(r.llm_calls),
                f"calls ({r.llm_repairs} repair rounds)",
            )
        )
    rows.append(
        (f"{r.label}: event-loop lag (10 ms ticker)", len(r.lags_ms), _dist(r.lags_ms), DIST)
    )
    return rows


def _verdict(r: RunResult) -> str | None:
    """A note line when the acknowledgement target is missed: which step dominates."""
    p99 = _pct(r.acks_ms, 99)
    if p99 < ACK_TARGET_MS:
        return None
    inst = r.inst
    settings, add_job = _pct(inst.settings_ms, 99), _pct(inst.add_job_ms, 99)
    lag = _pct(r.lags_ms, 99)
    parts = [f"{r.label}: ack p99 {p99:.0f} ms misses the {ACK_TARGET_MS:.0f} ms target"]
    if add_job >= settings:
        step = f"add_job dominates (p99 {add_job:.0f} ms"
        if inst.lock is not None:
            lock = inst.lock
            step += (
                f", of which waiting for the storage's one write lock p99"
                f" {_pct(lock.waits_request, 99):.0f} ms; that FIFO lock served"
                f" {len(lock.holds)} write tx in the run, p50 hold {_pct(lock.holds, 50):.1f} ms,"
                f" {len(lock.waits_worker)} of them the workers'"
            )
        parts.append(step + ")")
    else:
        parts.append(
            f"the settings read dominates (p99 {settings:.0f} ms: reads queue on the one "
            "aiosqlite connection thread behind the writes)"
        )
    if lag >= 0.3 * p99:
        parts.append(f"event-loop lag p99 {lag:.0f} ms adds to every step")
    return "; ".join(parts)


def _fs_type(path: Path) -> str:
    best, kind = "", "?"
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                fields = line.split()
                if (
                    len(fields) > 2
                    and str(path).startswith(fields[1])
                    and len(fields[1]) > len(best)
                ):
                    best, kind = fields[1], fields[2]
    except OSError:
        pass
    return kind


async def _main(tmp: Path) -> tuple[list[Row], list[str], str]:
    scorer = make_scorer()
    rows: list[Row] = []
    notes: list[str] = []
    pragmas = await _storage_pragmas(tmp / "pragmas.sqlite3")

    idle = await _idle_lag()
    rows.append(("idle loop: event-loop lag (10 ms ticker)", len(idle), _dist(idle), DIST))

    few = _small_threads(BURST_THREADS, "lt")
    seq_acks, seq_inst = await _sequential_acks(tmp / "seq.sqlite3", few, scorer)
    rows += [
        ("one at a time, no workers: ack", len(seq_acks), _dist(seq_acks), DIST),
        ("one at a time: ack step: settings read", len(seq_inst.settings_ms), _dist(seq_inst.settings_ms), DIST),
        ("one at a time: ack step: add_job (write)", len(seq_inst.add_job_ms), _dist(seq_inst.add_job_ms), DIST),
    ]  # fmt: skip

    big = thread_from_json(thread_json(BIG_COMMENTS))
    big_threads = _copies(big, BIG_DIGESTS, "big")
    # (label, database, workers, threads, requests, with the 2 s LLM)
    scenarios: list[tuple[str, str, int, list[Thread], int, bool]] = [
        *((f"A w={w} {BURST}x, {BURST_THREADS} threads, LLM 2 s", f"a{w}", w, few, BURST, True)
          for w in (4, 16)),
        (f"A w=16 {BURST}x, {BURST} threads, LLM 2 s", "a16-distinct", 16,
         _small_threads(BURST, "dt"), BURST, True),
        *((f"B w={w} {BIG_DIGESTS}x {BIG_COMMENTS:,}-comment, {analyser}",
           f"b-{analyser[:3]}-{w}", w, big_threads, BIG_DIGESTS, analyser != "offline")
          for analyser in ("offline", "LLM 2 s") for w in (4, 16)),
    ]  # fmt: skip
    runs: list[RunResult] = []
    for label, db, workers, threads, n, with_llm in scenarios:
        runs.append(
            await _run(
                label,
                tmp / f"{db}.sqlite3",
                workers=workers,
                threads=threads,
                n=n,
                scorer=scorer,
                llm=SlowLLM() if with_llm else None,
            )
        )
    for r in runs:
        rows += _rows(r)
        if r.refused or r.not_done:
            notes.append(
                f"{r.label}: {r.refused} refused/error answer(s), {r.not_done} job(s) not done"
            )
        verdict = _verdict(r)
        if verdict:
            notes.append(verdict)
    rows += _on_loop_costs(big, scorer)
    return rows, notes, pragmas


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="redigest-core-load-") as name:
        tmp = Path(name)
        rows, notes, pragmas = asyncio.run(_main(tmp))
    print(
        f"machine: nproc={os.cpu_count()}, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.platform()}"
    )
    print(
        f"sqlite {sqlite3.sqlite_version}, aiosqlite {importlib.metadata.version('aiosqlite')}, "
        f"{pragmas}; database files in {tempfile.gettempdir()} ({_fs_type(Path(tempfile.gettempdir()))})"
    )
    print(
        f"fakes: LLM answers after {LLM_DELAY_S:.0f} s; chat and Reddit in memory. "
        f"Target: ack p99 < {ACK_TARGET_MS:.0f} ms. Distributions: {DIST}."
    )
    print()
    print_table(rows)
    print()
    missed = [n for n in notes if "misses" in n]
    if not missed:
        print(f"note: ack p99 is under {ACK_TARGET_MS:.0f} ms in every run")
    for note in notes:
        print(f"note: {note}")
    print(f"(whole benchmark: {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
