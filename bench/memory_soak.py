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
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from adapters.reddit_source.thread_json import thread_from_json_text
from bot.app import open_core
from bot.chat import (
    ChannelTarget,
    Delivery,
    EphemeralTarget,
    MessageRef,
    Reaction,
    Request,
    Target,
    ThreadTarget,
)
from bot.core import Core, CoreConfig, Engines
from bot.ports import ListingSort, RateQuota, ThreadNotFound, ThreadRef, TopPeriod
from bot.storage import JobRow, Storage
from bot.thread_cache import CachingThreadSource
from bot.thread_ref import ShareLink, parse_thread_text
from digest.model import Post, Thread
from digest.pipeline import DigestEngine
from digest.report import Depth
from tests.support.synthetic import thread_json

PLATFORM = "fake"
DIGESTS = 1_000
USERS = 300  # per 1,000 digests (more digests, proportionally more users and channels, so
CHANNELS = 100  # the per-user and per-channel limits refuse none)
SERVERS = 10
VARIANTS = 250  # distinct thread ids; each is digested ~DIGESTS / VARIANTS times
FILES = 8  # the largest real thread files
FLAG_EVERY = 3  # a flag on every third digest posted
IN_FLIGHT = 8
SAMPLE_EVERY = 50  # finished jobs (digests + flags) between RSS samples
TRACE_FROM = 300
TRACE_TO = 1_000
TRACE_FRAMES = 1  # each frame more costs a lot: 1 frame is ~5x slower, 12 frames ~30x
JOB_TIMEOUT_S = 120.0
CHILD_TIMEOUT_S = 1_800.0
RUNS: dict[str, tuple[str, dict[str, str]]] = {
    "plain": ("default malloc", {}),
    "arena2": ("MALLOC_ARENA_MAX=2", {"MALLOC_ARENA_MAX": "2"}),
    "trace": ("tracemalloc, quiet job 300 → 1000", {}),
    "cache": ("+ CachingThreadSource as bot/app.py wires it", {}),
}
PARALLEL = 2  # runs at a time (each is about one core busy)

Row = tuple[str, int, str, str]
REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "reddit"


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ============================================================================ fakes


class FreshSource:
    """Threads served from their JSON text, parsed on every fetch (off the loop), under
    `VARIANTS` distinct ids."""

    def __init__(self, texts: Sequence[bytes]) -> None:
        self.texts = list(texts)
        self.fetches = 0

    @staticmethod
    def variant_id(n: int) -> str:
        return f"mem{n:04d}x"

    def _parse(self, post_id: str) -> Thread:
        try:
            n = int(post_id[3:7])
        except ValueError:
            raise ThreadNotFound(f"no thread {post_id}") from None
        thread = thread_from_json_text(self.texts[n % len(self.texts)], source="memsoak")
        return replace(thread, post=replace(thread.post, id=post_id))

    async def resolve(self, text: str) -> ThreadRef:
        parsed = parse_thread_text(text)
        assert not isinstance(parsed, ShareLink)
        return parsed

    async def fetch_thread(self, ref: ThreadRef, depth: Depth) -> Thread:
        self.fetches += 1
        return await asyncio.to_thread(self._parse, ref.post_id)

    async def listing(
        self, subreddit: str, sort: ListingSort, *, period: TopPeriod = TopPeriod.DAY,
        limit: int = 25,
    ) -> list[Post]:  # fmt: skip
        return []

    async def posts(self, post_ids: Sequence[str]) -> list[Post]:
        return []

    async def stream(self, subreddits: Sequence[str]) -> Any:
        await asyncio.Event().wait()
        yield  # pragma: no cover

    def quota(self) -> RateQuota:
        return RateQuota(None, None, None)


@dataclass
class BoundedChat:
    """A chat platform that remembers only its last few posts: it cannot be what grows."""

    platform: str = PLATFORM
    recent: deque[tuple[str | None, MessageRef]] = field(default_factory=lambda: deque(maxlen=8))
    public: int = 0
    threaded: int = 0
    ephemeral: int = 0
    last_ephemeral: str = ""
    _n: int = 0

    async def post(
        self, target: Target, delivery: Delivery, *, idempotency_key: str | None = None
    ) -> list[MessageRef]:
        self._n += 1
        mid = f"m{self._n}"
        if isinstance(target, ThreadTarget):
            ref = MessageRef(PLATFORM, target.parent.channel_id, mid, target.parent.message_id)
            self.threaded += 1
        elif isinstance(target, EphemeralTarget):
            ref = MessageRef(PLATFORM, target.channel_id, mid)
            self.ephemeral += 1
            self.last_ephemeral = (delivery.text or "")[:200]
        else:
            assert isinstance(target, ChannelTarget)
            ref = MessageRef(PLATFORM, target.channel_id, mid)
            self.public += 1
        self.recent.append((idempotency_key, ref))
        return [ref]

    async def find_posted(self, target: Target, idempotency_key: str) -> list[MessageRef] | None:
        found = [ref for key, ref in self.recent if key == idempotency_key]
        return found or None

    async def read_message(self, ref: MessageRef) -> None:
        return None  # people's messages are not simulated: flags land on the bot's digests


def _texts() -> tuple[list[bytes], str]:
    files = sorted(
        (
            p
            for p in DATA.glob("*/*.json")
            if "morechildren" not in p.name and p.parent.name != "cassettes"
        ),
        key=lambda p: -p.stat().st_size,
    )[:FILES]
    if files:
        names = ", ".join(f"{p.parent.name}/{p.name}" for p in files)
        return [p.read_bytes() for p in files], f"{len(files)} real thread files ({names})"
    sizes = (1_000, 2_000, 3_000, 5_000)
    texts = [json.dumps(thread_json(n, seed=n)).encode() for n in sizes]
    return texts, f"synthetic threads of {', '.join(f'{n:,}' for n in sizes)} comments"


# ============================================================================ one run


@dataclass
class Sample:
    jobs: int
    digests: int
    rss: float


@dataclass
class RunResult:
    name: str
    source: str
    rss_start: float = 0.0  # after the threads were loaded and the core started
    samples: list[Sample] = field(default_factory=list)
    digests: int = 0
    flags: int = 0
    failed: int = 0
    refused: int = 0
    posts: int = 0
    wall_s: float = 0.0
    top: list[str] = field(default_factory=list)
    traced_growth_mib: float = 0.0
    structures: dict[str, int] = field(default_factory=dict)
    thread_kib: list[tuple[int, int, float]] = field(default_factory=list)
    trace_marks: list[tuple[int, float]] = field(default_factory=list)  # (jobs, RSS) when quiet


def _size(obj: Any, *names: str) -> int | None:
    for name in names:
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    try:
        return len(obj)
    except TypeError:
        return None


def _structures(core: Core, storage: Storage) -> dict[str, int]:
    """Sizes of the in-memory maps of the core and the storage that could grow."""
    out: dict[str, int] = {}
    for label, obj, names in (
        ("Core._user_limit._hits (keys)", core, ("_user_limit", "_hits")),
        ("Core._channel_limit._hits (keys)", core, ("_channel_limit", "_hits")),
        ("Core._flag_limit._hits (keys)", core, ("_flag_limit", "_hits")),
        ("Core._analysing", core, ("_analysing",)),
        ("Core._running_keys", core, ("_running_keys",)),
        ("Storage._queued_writes", storage, ("_queued_writes",)),
    ):
        n = _size(obj, *names)
        if n is not None:
            out[label] = n
    out["gc objects"] = len(gc.get_objects())
    return out


def _trace_report(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot
) -> tuple[list[str], float]:
    keep = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
        tracemalloc.Filter(False, "<unknown>"),
    ]
    before, after = before.filter_traces(keep), after.filter_traces(keep)
    by_line = after.compare_to(before, "lineno")
    growth = sum(s.size_diff for s in by_line) / 2**20
    top = [
        f"{s.traceback[0].filename.replace(str(REPO) + '/', '')}:{s.traceback[0].lineno}: "
        f"{s.size_diff / 1024:+.1f} KiB in {s.count_diff:+d} blocks (now {s.size / 1024:.1f} KiB)"
        for s in by_line[:10]
    ]
    return top, growth


async def _run(name: str, tmp: Path, digests: int) -> RunResult:
    texts, about = _texts()
    result = RunResult(name, about)
    fresh, chat = FreshSource(texts), BoundedChat()
    source: FreshSource | CachingThreadSource = fresh
    if name == "cache":
        source = CachingThreadSource(fresh, ttl_seconds=dict.fromkeys(Depth, 600.0))
    trace = name == "trace"
    started = time.perf_counter()
    async with contextlib.AsyncExitStack() as stack:
        core = await open_core(
            stack,
            tmp / "bot.sqlite3",
            source=source,
            engines=Engines({"offline": DigestEngine()}, default="offline"),
            chats={PLATFORM: chat},
            config=CoreConfig(workers=4),
        )
        storage = core.storage
        done: asyncio.Queue[JobRow] = asyncio.Queue()
        core.on_job_done = done.put_nowait
        await core.start()
        result.rss_start = rss_mib()
        in_flight = finished = digests_done = 0
        next_digest = 0
        before: tracemalloc.Snapshot | None = None
        # The traced run compares two quiet moments (no job in flight) around jobs 300 and 1000,
        # so work in progress is not mistaken for growth.
        scale = -(-digests // DIGESTS)
        users, channels = USERS * scale, CHANNELS * scale
        marks = [min(TRACE_FROM, digests * 3 // 10), min(TRACE_TO, digests)] if trace else []
        while next_digest < digests or in_flight or (marks and finished >= marks[0]):
            if marks and finished >= marks[0] and in_flight == 0:
                marks.pop(0)
                gc.collect()
                if before is None:
                    tracemalloc.start(TRACE_FRAMES)
                    before = tracemalloc.take_snapshot()
                    result.trace_marks.append((finished, rss_mib()))
                else:
                    after = tracemalloc.take_snapshot()
                    result.trace_marks.append((finished, rss_mib()))
                    result.top, result.traced_growth_mib = _trace_report(before, after)
                    tracemalloc.stop()
                continue
            while (
                in_flight < IN_FLIGHT
                and next_digest < digests
                and not (marks and finished >= marks[0])
            ):
                i = next_digest
                next_digest += 1
                channel = f"C{(i * 37) % channels}"
                request = Request(
                    platform=PLATFORM,
                    server_id=f"S{(i * 37) % channels % SERVERS}",
                    channel_id=channel,
                    user_id=f"U{(i * 7) % users}",
                    command="digest",
                    text=f"https://redd.it/{FreshSource.variant_id((i * 61) % VARIANTS)}",
                    reply_token=f"t{i}",
                )
                await core.handle_request(request)
                if await storage.job(f"digest:{PLATFORM}:{channel}:t{i}") is None:
                    result.refused += 1  # answered at once (a rate limit): no job
                else:
                    in_flight += 1
            job = await asyncio.wait_for(done.get(), JOB_TIMEOUT_S)
            in_flight -= 1
            finished += 1
            if job.status != "done":
                result.failed += 1
            elif job.kind == "digest":
                digests_done += 1
                i = int(job.key.rsplit(":t", 1)[1])
                if i % FLAG_EVERY == 0 and job.result:
                    ref = job.result[0]
                    await core.handle_reaction(
                        Reaction(message=ref, emoji="🔍", user_id=f"U{(i * 11 + 5) % users}",
                                 server_id=job.payload["server_id"])
                    )  # fmt: skip
                    if await storage.job(f"flag:{ref.key}:deep") is not None:
                        in_flight += 1
            elif job.kind == "flag":
                result.flags += 1
            if finished % SAMPLE_EVERY == 0:
                result.samples.append(Sample(finished, digests_done, rss_mib()))
        result.samples.append(Sample(finished, digests_done, rss_mib()))
        result.digests = digests_done
        result.posts = chat.public + chat.threaded
        result.structures = _structures(core, storage)
        await core.drain(30.0)
        await core.stop()
    result.wall_s = time.perf_counter() - started
    if trace:
        result.thread_kib = _thread_sizes(texts)
    return result


def _thread_sizes(texts: Sequence[bytes]) -> list[tuple[int, int, float]]:
    """(JSON KiB, comments, KiB a parsed Thread keeps alive) per thread file."""
    out = []
    tracemalloc.start(1)
    kept = []
    for text in texts:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        thread = thread_from_json_text(text, source="size")
        gc.collect()
        out.append(
            (
                len(text) // 1024,
                len(thread.comments),
                (tracemalloc.get_traced_memory()[0] - before) / 1024,
            )
        )
        kept.append(thread)
    tracemalloc.stop()
    return out


def _child(name: str, digests: int) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory(prefix="redigest-memsoak-") as tmp:
        result = asyncio.run(_run(name, Path(tmp), digests))
    payload = {
        **{k: v for k, v in result.__dict__.items() if k != "samples"},
        "samples": [s.__dict__ for s in result.samples],
    }
    print("RESULT " + json.dumps(payload), flush=True)
    return 0


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


def _print_table(rows: Sequence[Row]) -> None:
    widths = [max(len(r[0]) for r in rows), max(len(str(r[1])) for r in rows) + 1,
              max(len("figure"), *(len(r[2]) for r in rows))]  # fmt: skip
    print(f"{'what':<{widths[0]}}  {'n':>{widths[1]}}  {'figure':>{widths[2]}}  unit")
    print("-" * (sum(widths) + 16))
    for what, n, figure, unit in rows:
        print(f"{what:<{widths[0]}}  {n:>{widths[1]}}  {figure:>{widths[2]}}  {unit}")


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
        _print_table(rows)
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
