"""bench/memory_soak.py's run, in a child process of its own: the digests and flags through the
core, RSS sampled as jobs finish, and (the traced run) what grew between two quiet moments."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.reddit_source.thread_json import thread_from_json_text
from bench.common import REPO
from bench.memory_soak_setup import (
    CHANNELS,
    DIGESTS,
    FLAG_EVERY,
    IN_FLIGHT,
    JOB_TIMEOUT_S,
    PLATFORM,
    SAMPLE_EVERY,
    SERVERS,
    TRACE_FRAMES,
    TRACE_FROM,
    TRACE_TO,
    USERS,
    VARIANTS,
    BoundedChat,
    FreshSource,
    _texts,
    rss_mib,
)
from bot.app import open_core
from bot.chat import Reaction, Request
from bot.core import Core, CoreConfig, Engines
from bot.storage import JobRow, Storage
from bot.thread_cache import CachingThreadSource
from digest.pipeline import DigestEngine
from digest.report import Depth


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
