"""bench/core_load.py's runs: a burst of requests on a started core until every report is posted,
requests one at a time, the idle loop, the storage's pragmas, and (C) the CPU a digest spends on
the event loop."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bench.common import Row
from bench.core_load_probes import Instruments, LagProbe, _ms, _timed_request
from bench.core_load_setup import (
    LLM_MODEL,
    PLATFORM,
    RUN_TIMEOUT_S,
    CountingChat,
    SlowLLM,
    _engines,
    _requests,
    _source,
)
from bot.app import open_core
from bot.core import CoreConfig, _fingerprint
from bot.storage import Storage
from digest import codec
from digest.llm import LLMAnalyzer, build_prompt, validate
from digest.model import Thread
from digest.pipeline import DigestEngine
from digest.report import Depth, Report
from digest.sentiment import PolarityScorer
from tests.support.scripted_llm import grounded_answer


@dataclass
class RunResult:
    label: str
    n: int
    acks_ms: list[float]
    inst: Instruments
    lags_ms: list[float]
    posted_s: float | None  # None: not all were posted within RUN_TIMEOUT_S
    drain_s: float
    llm_calls: int
    llm_repairs: int
    refused: int
    not_done: int


async def _run(
    label: str,
    db: Path,
    *,
    workers: int,
    threads: Sequence[Thread],
    n: int,
    scorer: PolarityScorer,
    llm: SlowLLM | None,
) -> RunResult:
    """`n` digest requests at once on a started core; wait until every report is posted."""
    source = _source(threads)
    chat = CountingChat(n)
    inst = Instruments()
    async with AsyncExitStack() as stack:
        core = await open_core(
            stack,
            db,
            source=source,
            engines=_engines(scorer, llm),
            chats={PLATFORM: chat},
            config=CoreConfig(workers=workers),
            default_spend_cap=1_000_000.0,  # the spend cap is not what is measured
        )
        inst.install(core.storage)
        await core.start()
        inst.reset_lock()  # start()'s own recovery transaction is not part of the load
        probe = LagProbe()
        probe.start()
        await asyncio.sleep(0.05)  # the workers are idle and waiting
        started = time.perf_counter()
        acks = list(
            await asyncio.gather(*(_timed_request(core, r) for r in _requests(threads, n, label)))
        )
        posted: float | None
        try:
            await asyncio.wait_for(chat.all_posted.wait(), RUN_TIMEOUT_S)
            posted = time.perf_counter() - started
        except TimeoutError:
            posted = None
        lags = await probe.stop()
        drain_started = time.perf_counter()
        await core.drain(30.0)
        drain_s = time.perf_counter() - drain_started
        await core.stop()
        not_done = sum(j.status != "done" for j in await core.storage.jobs())
    return RunResult(
        label=label,
        n=n,
        acks_ms=acks,
        inst=inst,
        lags_ms=lags,
        posted_s=posted,
        drain_s=drain_s,
        llm_calls=llm.calls if llm is not None else 0,
        llm_repairs=llm.repairs if llm is not None else 0,
        refused=len(chat.ephemeral),
        not_done=not_done,
    )


async def _sequential_acks(
    db: Path, threads: Sequence[Thread], scorer: PolarityScorer
) -> tuple[list[float], Instruments]:
    """Requests one at a time on a core whose workers are not running: the floor."""
    source = _source(threads)
    inst = Instruments()
    acks: list[float] = []
    async with AsyncExitStack() as stack:
        core = await open_core(
            stack,
            db,
            source=source,
            engines=_engines(scorer, None),
            chats={PLATFORM: CountingChat(0)},
        )
        inst.install(core.storage)
        for request in _requests(threads, 50, "seq"):
            acks.append(await _timed_request(core, request))
    return acks, inst


async def _idle_lag(seconds: float = 1.0) -> list[float]:
    probe = LagProbe()
    probe.start()
    await asyncio.sleep(seconds)
    return await probe.stop()


async def _storage_pragmas(db: Path) -> str:
    async with Storage(db) as storage:
        out = []
        for pragma in ("journal_mode", "synchronous"):
            async with storage.db.execute(f"PRAGMA {pragma}") as cur:
                row = await cur.fetchone()
            out.append(f"{pragma}={row[0] if row else '?'}")
    return ", ".join(out)


# ----------------------------------------------------------------------------- C: CPU on the loop


def _best_ms(fn: Callable[[], object], runs: int = 5) -> float:
    best = math.inf
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return _ms(best)


def _on_loop_costs(thread: Thread, scorer: PolarityScorer) -> list[Row]:
    """The CPU a digest spends on the event loop, and (for comparison) off it."""
    n = len(thread.comments)
    rows: list[Row] = []
    offline = DigestEngine(scorer=scorer)
    llm_engine = DigestEngine(
        LLMAnalyzer(SlowLLM(), models=dict.fromkeys(Depth, LLM_MODEL)), scorer=scorer
    )
    narrate = offline._offline.narrate_sync  # what OfflineAnalyzer.narrate runs, on the loop
    for depth in (Depth.BRIEF, Depth.DEEP):
        inp = offline.prepare(thread, depth)
        report = offline.digest_sync(thread, depth)
        text = codec.dumps(report)
        llm_inp = llm_engine.prepare(thread, depth)
        shared = llm_inp.shared_selection or llm_inp.selection
        extra = llm_inp.selection if depth is Depth.DEEP else None
        prompt = partial(
            build_prompt,
            thread,
            depth,
            shared,
            extra,
            llm_inp.selection.coverage.describe(),
            LLM_MODEL,
        )
        request, ids = prompt()
        answer = grounded_answer(request)
        cases: list[tuple[str, Callable[[], object], int]] = [
            ("offline narrate (on loop)", partial(narrate, inp), 5),
            ("codec.dumps(report) (on loop, 2x per digest)", partial(codec.dumps, report), 5),
            (
                "codec.loads(report) (on loop, on a cache hit)",
                partial(codec.loads, Report, text),
                5,
            ),
            ("LLM build_prompt (on loop)", prompt, 5),
            (
                "LLM validate the answer (on loop)",
                partial(validate, llm_inp, answer, ids, request),
                5,
            ),
            ("prepare (off loop, to_thread)", partial(offline.prepare, thread, depth), 3),
        ]
        for what, fn, runs in cases:
            rows.append((f"C {depth.value}: {what}", n, f"{_best_ms(fn, runs):.1f}", "ms best"))
    rows.append(
        (
            "C: thread fingerprint (on loop)",
            n,
            f"{_best_ms(partial(_fingerprint, thread)):.1f}",
            "ms best",
        )
    )
    return rows
