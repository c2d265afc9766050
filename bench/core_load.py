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

Run: `python -m bench.core_load` from the repository root (about a minute).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import math
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from adapters.reddit_source.thread_json import thread_from_json
from bot.app import open_core
from bot.chat import Delivery, EphemeralTarget, MessageRef, Request, Target
from bot.core import Core, CoreConfig, Engines, _fingerprint
from bot.storage import Storage, _WriteTurns
from digest import codec
from digest.llm import (
    LLMAnalyzer,
    StructuredRequest,
    StructuredResponse,
    build_prompt,
    validate,
)
from digest.model import Thread
from digest.pipeline import DigestEngine
from digest.report import Depth, Report
from digest.sentiment import PolarityScorer, make_scorer
from tests.support.fake_chat import FakeChat
from tests.support.fake_source import FakeSource
from tests.support.scripted_llm import grounded_answer
from tests.support.synthetic import thread_json

P = ParamSpec("P")
T = TypeVar("T")

ACK_TARGET_MS = 100.0
LLM_DELAY_S = 2.0
LLM_MODEL = "claude-haiku-5-5"
PLATFORM = "fake"
BURST = 200
BURST_THREADS = 20
BIG_COMMENTS = 5_000
BIG_DIGESTS = 20
TICK_S = 0.010
RUN_TIMEOUT_S = 90.0
DIST = "ms p50/p99/max"

Row = tuple[str, int, str, str]


# ----------------------------------------------------------------------------- figures


def _pct(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


def _dist(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return f"{_pct(values, 50):.1f} / {_pct(values, 99):.1f} / {max(values):.1f}"


def _ms(seconds: float) -> float:
    return seconds * 1000.0


# ----------------------------------------------------------------------------- fakes


@dataclass
class SlowLLM:
    """An LLM provider that answers after `delay` seconds with a grounded answer."""

    delay: float = LLM_DELAY_S
    name: str = "slowllm"
    calls: int = 0
    repairs: int = 0  # calls asking to repair an answer that did not match the thread

    async def structured(
        self, request: StructuredRequest, *, time_limit: float
    ) -> StructuredResponse:
        self.calls += 1
        self.repairs += request.repair is not None
        await asyncio.sleep(min(self.delay, time_limit))
        # The answer is the fake's own work (a provider does it elsewhere): off the loop.
        data = await asyncio.to_thread(grounded_answer, request)
        return StructuredResponse(data, 1000, 200, 0, 0, request.model)


class CountingChat:
    """A FakeChat that says when `expected` reports (public posts) are out."""

    platform: str = PLATFORM

    def __init__(self, expected: int) -> None:
        self.inner = FakeChat(platform=PLATFORM)
        self.expected = expected
        self.public = 0
        self.ephemeral: list[str] = []
        self.all_posted = asyncio.Event()

    async def post(
        self, target: Target, delivery: Delivery, *, idempotency_key: str | None = None
    ) -> list[MessageRef]:
        refs = await self.inner.post(target, delivery, idempotency_key=idempotency_key)
        if isinstance(target, EphemeralTarget):
            self.ephemeral.append(delivery.text or "")
        else:
            self.public += 1
            if self.public >= self.expected:
                self.all_posted.set()
        return refs

    async def find_posted(self, target: Target, idempotency_key: str) -> list[MessageRef] | None:
        return await self.inner.find_posted(target, idempotency_key)

    async def read_message(self, ref: MessageRef) -> None:
        return None  # people's messages are not simulated: flags land on the bot's digests


# ----------------------------------------------------------------------------- instruments


def _is_worker() -> bool:
    task = asyncio.current_task()
    return task is not None and task.get_name().startswith("worker")


class TimedLock(_WriteTurns):
    """The storage's write lock, timed: how long each unit of work waited for it and held it."""

    def __init__(self) -> None:
        super().__init__()
        self.waits_request: list[float] = []
        self.waits_worker: list[float] = []
        self.holds: list[float] = []
        self._since = 0.0

    async def acquire(self, urgent: bool) -> None:
        asked = time.perf_counter()
        await super().acquire(urgent)
        self._since = time.perf_counter()
        (self.waits_worker if _is_worker() else self.waits_request).append(_ms(self._since - asked))

    def release(self) -> None:
        self.holds.append(_ms(time.perf_counter() - self._since))
        super().release()


def _timed_outside_workers(
    into: list[float], fn: Callable[P, Coroutine[Any, Any, T]]
) -> Callable[P, Coroutine[Any, Any, T]]:
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        started = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            if not _is_worker():
                into.append(_ms(time.perf_counter() - started))

    return wrapper


@dataclass
class Instruments:
    settings_ms: list[float] = field(default_factory=list)  # request side: get_settings
    add_job_ms: list[float] = field(default_factory=list)  # request side: add_job
    lock: TimedLock | None = None

    def reset_lock(self) -> None:
        if self.lock is not None:
            for samples in (self.lock.waits_request, self.lock.waits_worker, self.lock.holds):
                samples.clear()

    def install(self, storage: Storage) -> None:
        storage.get_settings = _timed_outside_workers(  # type: ignore[method-assign]
            self.settings_ms, storage.get_settings
        )
        storage.add_job = _timed_outside_workers(  # type: ignore[method-assign]
            self.add_job_ms, storage.add_job
        )
        current = getattr(storage, "_write", None)
        if isinstance(current, _WriteTurns) and not isinstance(current, TimedLock):
            self.lock = TimedLock()
            storage._write = self.lock  # the benchmark times the storage's own lock


class LagProbe:
    """A task that sleeps `interval` in a loop and records how late each wake-up is (ms)."""

    def __init__(self, interval: float = TICK_S) -> None:
        self.interval = interval
        self.lags: list[float] = []
        self._stop = False
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while not self._stop:
            asked = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.lags.append(max(_ms(time.perf_counter() - asked - self.interval), 0.0))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="lag-probe")

    async def stop(self) -> list[float]:
        self._stop = True
        if self._task is not None:
            await self._task
        return self.lags


# ----------------------------------------------------------------------------- runs


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


def _engines(scorer: PolarityScorer, llm: SlowLLM | None) -> Engines:
    offline = DigestEngine(scorer=scorer)
    if llm is None:
        return Engines({"offline": offline}, default="offline")
    engine = DigestEngine(LLMAnalyzer(llm, models=dict.fromkeys(Depth, LLM_MODEL)), scorer=scorer)
    return Engines({"offline": offline, llm.name: engine}, default=llm.name)


def _requests(threads: Sequence[Thread], n: int, tag: str) -> list[Request]:
    return [
        Request(
            platform=PLATFORM,
            server_id=f"S{i % 10}",
            channel_id=f"C{i}",
            user_id=f"U{i}",
            command="digest",
            text=f"https://redd.it/{threads[i % len(threads)].post.id}",
            reply_token=f"{tag}-{i}",
        )
        for i in range(n)
    ]


async def _timed_request(core: Core, request: Request) -> float:
    started = time.perf_counter()
    await core.handle_request(request)
    return _ms(time.perf_counter() - started)


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
    source = FakeSource()
    for thread in threads:
        source.add(thread)
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
    source = FakeSource()
    for thread in threads:
        source.add(thread)
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


def _print_table(rows: Sequence[Row]) -> None:
    header: Row = ("what", 0, "figure", "unit")
    widths = [max(len(r[0]) for r in (*rows, header)), max(len(str(r[1])) for r in rows) + 1]
    widths.append(max(len(r[2]) for r in (*rows, header)))
    print(f"{'what':<{widths[0]}}  {'n':>{widths[1]}}  {'figure':>{widths[2]}}  unit")
    print("-" * (sum(widths) + 16))
    for what, n, figure, unit in rows:
        print(f"{what:<{widths[0]}}  {n:>{widths[1]}}  {figure:>{widths[2]}}  {unit}")


# ----------------------------------------------------------------------------- main


def _small_threads(count: int, prefix: str) -> list[Thread]:
    return [
        thread_from_json(thread_json(40, seed=i, post_id=f"{prefix}{i:04d}")) for i in range(count)
    ]


def _copies(thread: Thread, count: int, prefix: str) -> list[Thread]:
    """The same comments under distinct post ids: distinct cache keys, same CPU work."""
    return [replace(thread, post=replace(thread.post, id=f"{prefix}{i:03d}")) for i in range(count)]


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

    runs: list[RunResult] = []
    for workers in (4, 16):
        runs.append(
            await _run(
                f"A w={workers} {BURST}x, {BURST_THREADS} threads, LLM 2 s",
                tmp / f"a{workers}.sqlite3",
                workers=workers,
                threads=few,
                n=BURST,
                scorer=scorer,
                llm=SlowLLM(),
            )
        )
    runs.append(
        await _run(
            f"A w=16 {BURST}x, {BURST} threads, LLM 2 s",
            tmp / "a16-distinct.sqlite3",
            workers=16,
            threads=_small_threads(BURST, "dt"),
            n=BURST,
            scorer=scorer,
            llm=SlowLLM(),
        )
    )

    big = thread_from_json(thread_json(BIG_COMMENTS))
    big_threads = _copies(big, BIG_DIGESTS, "big")
    for analyser in ("offline", "LLM 2 s"):
        for workers in (4, 16):
            runs.append(
                await _run(
                    f"B w={workers} {BIG_DIGESTS}x {BIG_COMMENTS:,}-comment, {analyser}",
                    tmp / f"b-{analyser[:3]}-{workers}.sqlite3",
                    workers=workers,
                    threads=big_threads,
                    n=BIG_DIGESTS,
                    scorer=scorer,
                    llm=SlowLLM() if analyser != "offline" else None,
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
    _print_table(rows)
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
