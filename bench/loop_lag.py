"""A free event loop: commands acknowledged fast while big digests run.

Each repetition starts a fresh `Core` (a real SQLite file, the real worker pool, in-process fakes
around it, as in bench/core_load.py), queues `--big` digests of a 5,000-comment thread, waits
until the workers are analysing them, then sends `--commands` digest commands at once (20 small
threads, one user and one channel each) while those run. Measured per repetition:

- acknowledgement: how long `Core.handle_request` takes to return, for each of the commands;
- event-loop lag: a task that sleeps 10 ms in a loop records how late each wake-up is, from the
  moment the big digests start until every report (big and small) is posted.

The p99 of each is taken per repetition; the figures are the median of those p99s over the
repetitions, printed beside the targets (ack p99 < 50 ms, loop-lag p99 < 20 ms).

Offline digests run where the bot runs them: `--lane process` (the default, as
REDIGEST_CPU_LANE) does each one whole in one worker process (`--nice`, default the bot's 10),
started and warmed before the first repetition; `--lane thread` in the CPU lane thread, sharing
the loop's GIL. The GIL's switch interval is the running bot's, 1 ms (`--switch-interval 0.005`
is Python's default).

Run: `python -m bench.loop_lag [--reps 5] [--big 8] [--commands 200] [--analyser offline]
[--lane process|thread] [--nice N] [--switch-interval S]` from the repository root, or
`python -m bench looplag`. A busy machine shows in the figures: the load average is printed
before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

from adapters.reddit_source.thread_json import thread_from_json
from bench.core_load import (
    BIG_COMMENTS,
    DIST,
    LLM_MODEL,
    PLATFORM,
    RUN_TIMEOUT_S,
    CountingChat,
    Instruments,
    LagProbe,
    SlowLLM,
    _copies,
    _dist,
    _pct,
    _requests,
    _small_threads,
    _timed_request,
)
from bot.core import Core, CoreConfig, Engines
from bot.settings import Settings
from bot.storage import Storage
from digest.cpu import SWITCH_INTERVAL_S, WORKER_NICE, ProcessLane, loop_first
from digest.llm import LLMAnalyzer
from digest.model import Thread
from digest.pipeline import DigestEngine, warm_lane
from digest.report import Depth, Report
from digest.sentiment import PolarityScorer, make_scorer
from tests.support.fake_source import FakeSource
from tests.support.synthetic import thread_json

ACK_P99_TARGET_MS = 50.0
LAG_P99_TARGET_MS = 20.0
COMMANDS = 200
COMMAND_THREADS = 20
BIG_DIGESTS = 8
WORKERS = 4
REPS = 5
LANE = str(Settings.model_fields["cpu_lane"].default)


@dataclass(frozen=True, slots=True)
class Rep:
    acks_ms: list[float]
    lags_ms: list[float]
    burst_lags_ms: list[float]  # the lag samples taken while the commands were being answered
    posted_s: float | None  # None: not every report was posted within RUN_TIMEOUT_S
    big_running_at_burst: int  # big digests under analysis when the commands went out
    refused: int
    not_done: int
    load: tuple[float, float, float]
    settings_ms: list[float]  # the acknowledgement's steps: the settings read
    add_job_ms: list[float]  # and the (grouped) write of the job


def _engines(scorer: PolarityScorer, llm: SlowLLM | None, lane: ProcessLane | None) -> Engines:
    """As bench.core_load's, the offline engine with the process lane when there is one."""
    offline = DigestEngine(lane=lane) if lane is not None else DigestEngine(scorer=scorer)
    if llm is None:
        return Engines({"offline": offline}, default="offline")
    engine = DigestEngine(LLMAnalyzer(llm, models=dict.fromkeys(Depth, LLM_MODEL)), scorer=scorer)
    return Engines({"offline": offline, llm.name: engine}, default=llm.name)


def _watch_analyses(engines: dict[str, DigestEngine], started: asyncio.Event) -> list[int]:
    """Wrap each engine's `digest` to count the analyses under way (the list's one item) and
    set `started` when the first one begins."""
    running = [0]

    def counted(inner: Callable[..., Awaitable[Report]]) -> Callable[..., Awaitable[Report]]:
        async def digest(thread: Thread, depth: Depth, budget: int | None = None) -> Report:
            running[0] += 1
            started.set()
            try:
                return await inner(thread, depth, budget)
            finally:
                running[0] -= 1

        return digest

    for engine in engines.values():
        engine.digest = counted(engine.digest)  # type: ignore[method-assign,assignment]
    return running


async def _rep(
    db: Path,
    *,
    big_threads: Sequence[Thread],
    small_threads: Sequence[Thread],
    commands: int,
    workers: int,
    scorer: PolarityScorer,
    analyser: str,
    lane: ProcessLane | None,
) -> Rep:
    load = os.getloadavg()
    source = FakeSource()
    for thread in (*big_threads, *small_threads):
        source.add(thread)
    chat = CountingChat(len(big_threads) + commands)
    engines = _engines(scorer, SlowLLM() if analyser == "llm" else None, lane)
    started = asyncio.Event()
    running = _watch_analyses(dict(engines.by_name), started)
    async with AsyncExitStack() as stack:
        storage = await stack.enter_async_context(Storage(db))
        inst = Instruments()
        inst.install(storage)
        core = Core(
            storage=storage,
            source=source,
            engines=engines,
            chats={PLATFORM: chat},
            config=CoreConfig(workers=workers),
            default_spend_cap=1_000_000.0,  # the spend cap is not what is measured
        )
        await core.start()
        await asyncio.sleep(0.05)  # the workers are idle and waiting
        probe = LagProbe()
        probe.start()
        t0 = time.perf_counter()
        for request in _requests(big_threads, len(big_threads), "big"):
            await core.handle_request(request)
        await asyncio.wait_for(started.wait(), RUN_TIMEOUT_S)
        await asyncio.sleep(0.1)  # every worker has picked up its big digest
        busy = running[0]
        before = len(probe.lags)
        inst.settings_ms.clear()
        inst.add_job_ms.clear()
        acks = list(
            await asyncio.gather(
                *(_timed_request(core, r) for r in _requests(small_threads, commands, "cmd"))
            )
        )
        burst = probe.lags[before:]
        posted: float | None
        try:
            await asyncio.wait_for(chat.all_posted.wait(), RUN_TIMEOUT_S)
            posted = time.perf_counter() - t0
        except TimeoutError:
            posted = None
        lags = await probe.stop()
        await core.drain(30.0)
        await core.stop()
        not_done = sum(j.status != "done" for j in await storage.jobs())
    return Rep(
        acks, lags, burst, posted, busy, len(chat.ephemeral), not_done, load,
        inst.settings_ms[:commands], inst.add_job_ms[:commands],
    )  # fmt: skip


async def _main(args: argparse.Namespace, tmp: Path) -> list[Rep]:
    scorer = make_scorer()
    big = thread_from_json(thread_json(BIG_COMMENTS))
    small = _small_threads(COMMAND_THREADS, "ll")
    reps: list[Rep] = []
    async with AsyncExitStack() as stack:
        lane = None
        if args.lane == "process":
            lane = await stack.enter_async_context(ProcessLane(warm=warm_lane, nice=args.nice))
            await lane.start()
        for i in range(args.reps):
            # Fresh post ids each repetition: nothing comes from an earlier one's report cache.
            rep = await _rep(
                tmp / f"rep{i}.sqlite3",
                big_threads=_copies(big, args.big, f"b{i}x"),
                small_threads=small,
                commands=args.commands,
                workers=args.workers,
                scorer=scorer,
                analyser=args.analyser,
                lane=lane,
            )
            reps.append(rep)
            print(_rep_line(i + 1, rep), flush=True)
    return reps


def _rep_line(i: int, r: Rep) -> str:
    posted = f"{r.posted_s:.1f} s" if r.posted_s is not None else f">{RUN_TIMEOUT_S:.0f} s"
    return (
        f"rep {i}: ack p99 {_pct(r.acks_ms, 99):6.1f} ms, loop-lag p99 {_pct(r.lags_ms, 99):6.1f} "
        f"ms (during the commands {_pct(r.burst_lags_ms, 99):6.1f} ms); {r.big_running_at_burst} "
        f"big digests running at the burst; all posted in {posted}; load {r.load[0]:.2f}; "
        f"ack steps p99: settings read {_pct(r.settings_ms, 99):.1f} ms, add_job "
        f"{_pct(r.add_job_ms, 99):.1f} ms"
    )


def _verdict(figure: float, target: float) -> str:
    return "meets" if figure < target else "MISSES"


def _summary(args: argparse.Namespace, reps: Sequence[Rep]) -> list[str]:
    ack = statistics.median(_pct(r.acks_ms, 99) for r in reps)
    lag = statistics.median(_pct(r.lags_ms, 99) for r in reps)
    burst = statistics.median(_pct(r.burst_lags_ms, 99) for r in reps)
    all_acks = [a for r in reps for a in r.acks_ms]
    all_lags = [lag for r in reps for lag in r.lags_ms]
    lines = [
        f"{args.commands} concurrent commands while {args.big} digests of a {BIG_COMMENTS:,}-comment "
        f"thread run ({args.analyser} analyser, {args.workers} workers, {args.lane} lane"
        f"{f' (nice {args.nice})' if args.lane == 'process' else ''}, switch interval "
        f"{args.switch_interval * 1000:g} ms), {len(reps)} repetitions:",
        f"  command acknowledgement p99, median of {len(reps)}: {ack:7.1f} ms"
        f"   target < {ACK_P99_TARGET_MS:.0f} ms: {_verdict(ack, ACK_P99_TARGET_MS)}",
        f"  event-loop lag p99, median of {len(reps)}:          {lag:7.1f} ms"
        f"   target < {LAG_P99_TARGET_MS:.0f} ms: {_verdict(lag, LAG_P99_TARGET_MS)}",
        f"  (loop-lag p99 while the commands were answered, median: {burst:.1f} ms)",
        f"  all repetitions pooled, {DIST}: ack {_dist(all_acks)}; lag {_dist(all_lags)}",
    ]
    trouble = [r for r in reps if r.refused or r.not_done or r.posted_s is None]
    if trouble:
        lines.append(
            f"  note: {len(trouble)} repetition(s) had refusals, unfinished jobs or a timeout"
        )
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.loop_lag", description=__doc__)
    parser.add_argument("--reps", type=int, default=REPS, help="repetitions (default %(default)s)")
    parser.add_argument(
        "--big", type=int, default=BIG_DIGESTS, help="5k-comment digests (default %(default)s)"
    )
    parser.add_argument("--commands", type=int, default=COMMANDS, help="(default %(default)s)")
    parser.add_argument("--workers", type=int, default=WORKERS, help="(default %(default)s)")
    parser.add_argument(
        "--analyser",
        choices=("offline", "llm"),
        default="offline",
        help="offline (CPU) or a fake LLM answering after 2 s (default %(default)s)",
    )
    parser.add_argument(
        "--lane",
        choices=("process", "thread"),
        default=LANE,
        help="where offline digests compute (default %(default)s, as REDIGEST_CPU_LANE)",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=WORKER_NICE,
        help="the worker process's niceness (default %(default)s, as the bot)",
    )
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=SWITCH_INTERVAL_S,
        help="sys.setswitchinterval, seconds (default %(default)s, as the bot; Python's: 0.005)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    print(
        f"machine: nproc={os.cpu_count()}, Python {platform.python_version()}, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    started = time.perf_counter()
    with (
        loop_first(args.switch_interval),
        tempfile.TemporaryDirectory(prefix="redigest-loop-lag-") as name,
    ):
        reps = asyncio.run(_main(args, Path(name)))
    print()
    for line in _summary(args, reps):
        print(line)
    print(
        f"(load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"whole benchmark {time.perf_counter() - started:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
