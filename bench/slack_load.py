"""Benchmark: 200 concurrent signed slash commands to the Slack adapter in HTTP mode.

What is measured is the time from sending `POST /slack/events` (a signed `/digest <url>`) to
receiving the ack — Slack gives up after 3 s. Behind the adapter runs the real core (SQLite in a
temporary folder, an in-memory Reddit thread) with an analyser that answers after 2 s, and the
fake Slack of tests/fakes/slack_server.py serves the Web API, all on 127.0.0.1 in this process.
The requests come from another process (as Slack's do), over connections opened beforehand.

For comparison: the naive way, a plain slack-bolt listener that digests the thread (same engine,
same 2 s analyser) and acks afterwards; and the floor, an empty aiohttp handler, which is what
the load generator and the HTTP server cost by themselves.

Run it with `python -m bench.slack_load` from the repository root.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.reddit_source.thread_json import thread_from_json
from adapters.slack_chat import EVENTS_PATH, SlackChat, SlackConfig
from bench.common import loopback_only
from bot.app import open_core
from bot.chat import Inbox
from bot.core import CoreConfig, Engines
from bot.ports import ThreadRef
from digest.analysis import AnalysisInput, NarrativeResult
from digest.offline import OfflineAnalyzer
from digest.pipeline import DigestEngine
from digest.report import Depth
from digest.sentiment import make_scorer
from tests.fakes.slack_server import FakeSlack, form_body, sign
from tests.support.fake_source import FakeSource
from tests.support.synthetic import post_data, thread_json

REQUESTS = 200
ANALYSER_SECONDS = 2.0
TARGET_P99_MS = 100.0
SLACK_DEADLINE_S = 3.0
WARM_UP = 5
POST_ID = "bench1"
URL = f"https://www.reddit.com/r/LocalLLaMA/comments/{POST_ID}/load/"

Row = tuple[str, str, str, str]


class SlowAnalyzer:
    """The offline analyser, answering after a fixed delay (an LLM's latency)."""

    name = "slow"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._offline = OfflineAnalyzer()

    async def narrate(self, inp: AnalysisInput) -> NarrativeResult:
        await asyncio.sleep(self.seconds)
        return await self._offline.narrate(inp)

    def overhead_tokens(self, depth: Depth) -> int:
        return 0


@dataclass(frozen=True, slots=True)
class Timing:
    seconds: float
    status: int


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by the nearest-rank method."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def fire(url: str, bodies: Sequence[bytes], secret: str) -> list[Timing]:
    """POST every body (signed now), all at once; the time each one took to be answered.

    One connection per request is opened (and kept alive) first, so the figure is the time to
    handle a request, not a storm of TCP handshakes: Slack reuses its connections too.
    """
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def connect() -> None:
            async with session.get(url) as response:  # 405 from aiohttp: nothing runs
                await response.read()

        await asyncio.gather(*(connect() for _ in bodies))

        async def one(body: bytes) -> Timing:
            headers = {**sign(body, secret), "Content-Type": "application/x-www-form-urlencoded"}
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                return Timing(time.perf_counter() - started, response.status)

        return list(await asyncio.gather(*(one(b) for b in bodies)))


def _client_process(conn: Connection, url: str, secret: str) -> None:
    """The load generator, in its own process (as Slack is): fires each batch it is sent."""
    while (bodies := conn.recv()) is not None:
        timings = asyncio.run(fire(url, bodies, secret))
        conn.send([(t.seconds, t.status) for t in timings])


@contextlib.asynccontextmanager
async def load_generator(
    url: str, secret: str
) -> AsyncIterator[Callable[[list[bytes]], Awaitable[list[Timing]]]]:
    """A function that sends a batch of bodies from another process and returns the timings."""
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_client_process, args=(child, url, secret), daemon=True
    )
    process.start()

    async def send(bodies: list[bytes]) -> list[Timing]:
        parent.send(bodies)
        answer = await asyncio.to_thread(parent.recv)
        return [Timing(seconds, status) for seconds, status in answer]

    try:
        yield send
    finally:
        parent.send(None)
        await asyncio.to_thread(process.join, 10)


def commands(fake: FakeSlack, n: int, offset: int = 0) -> list[bytes]:
    """`n` slash commands from different people in 20 channels."""
    return [
        form_body(
            fake.slash_command_payload(
                "/digest", URL, user_id=f"U{offset + i:08d}", channel_id=f"C{(offset + i) % 20:08d}"
            )
        )
        for i in range(n)
    ]


async def wait_for(predicate: Callable[[], Awaitable[bool]], timeout: float) -> float:  # noqa: ASYNC109
    started = time.perf_counter()
    while not await predicate():
        if time.perf_counter() - started > timeout:
            raise TimeoutError("the core did not queue every request in time")
        await asyncio.sleep(0.005)
    return time.perf_counter() - started


async def run_adapter(fake: FakeSlack, source: FakeSource, engines: Engines) -> list[Row]:
    config = SlackConfig(
        bot_token=fake.bot_token,
        signing_secret=fake.signing_secret,
        host="127.0.0.1",
        port=0,
        api_url=fake.api_url,
    )
    with tempfile.TemporaryDirectory() as tmp:
        async with contextlib.AsyncExitStack() as stack:
            chat = await stack.enter_async_context(SlackChat(config))
            core = await open_core(
                stack,
                Path(tmp) / "bench.sqlite3",
                source=source,
                engines=engines,
                chats={"slack": chat},
                config=CoreConfig(
                    workers=4, user_limit=(10_000, 60.0), channel_limit=(10_000, 60.0)
                ),
            )
            storage = core.storage
            await core.start()
            task = asyncio.create_task(chat.run(Inbox(core.handle_request, core.handle_reaction)))
            try:
                await chat.wait_ready()
                url = f"http://127.0.0.1:{chat.http_port}{EVENTS_PATH}"
                async with load_generator(url, fake.signing_secret) as send:
                    for body in commands(fake, WARM_UP, offset=10_000):
                        await send([body])
                    batch = commands(fake, REQUESTS)
                    started = time.perf_counter()
                    timings = await send(batch)

                async def all_queued() -> bool:
                    return len(await storage.jobs()) >= REQUESTS + WARM_UP

                await wait_for(all_queued, 60.0)
                queued = time.perf_counter() - started
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await core.stop(grace=0.5)
    return [
        *rows("adapter", timings),
        (
            "adapter: all 200 handed to the core as jobs",
            str(REQUESTS),
            f"{queued * 1000:,.0f}",
            "ms",
        ),
    ]


async def run_naive(fake: FakeSlack, source: FakeSource, engine: DigestEngine) -> list[Row]:
    """A bolt listener that digests first and acks after (what the adapter avoids)."""
    quiet = logging.getLogger("bench.slack_load.naive")  # bolt warns once per missed ack
    quiet.setLevel(logging.CRITICAL)
    app = AsyncApp(
        logger=quiet,
        name="naive",
        client=AsyncWebClient(token=fake.bot_token, base_url=fake.api_url),
        signing_secret=fake.signing_secret,
    )

    async def digest_then_ack(ack: Any, command: dict[str, Any]) -> None:
        thread = await source.fetch_thread(ThreadRef(POST_ID), Depth.BRIEF)
        await engine.digest(thread, Depth.BRIEF)
        await ack(text="Here is your digest.")

    app.command("/digest")(digest_then_ack)
    runner = web.AppRunner(app.web_app(path=EVENTS_PATH), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)  # as the adapter's
    await site.start()
    try:
        port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{port}{EVENTS_PATH}"
        async with load_generator(url, fake.signing_secret) as send:
            await send(commands(fake, 1, offset=20_000))  # bolt's lazy auth.test
            timings = await send(commands(fake, REQUESTS))
    finally:
        await runner.cleanup()
    return rows("naive (digest, then ack)", timings)


def rows(what: str, timings: Sequence[Timing]) -> list[Row]:
    ms = [t.seconds * 1000 for t in timings]
    ok = sum(1 for t in timings if t.status == 200)
    late = sum(1 for t in timings if t.status != 200 or t.seconds > SLACK_DEADLINE_S)
    n = str(len(timings))
    return [
        (f"{what}: time to ack, p50", n, f"{percentile(ms, 0.50):,.1f}", "ms"),
        (f"{what}: time to ack, p99", n, f"{percentile(ms, 0.99):,.1f}", "ms"),
        (f"{what}: time to ack, max", n, f"{max(ms):,.1f}", "ms"),
        (f"{what}: time to ack, mean", n, f"{statistics.fmean(ms):,.1f}", "ms"),
        (f"{what}: answered 200", n, str(ok), "requests"),
        (f"{what}: missed Slack's 3 s", n, str(late), "requests"),
    ]


def format_table(table: Sequence[Row]) -> str:
    header: Row = ("what", "n", "figure", "unit")
    widths = [max(len(r[i]) for r in (header, *table)) for i in range(4)]

    def line(row: Row) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in (1, 2) else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, table)])


async def run_floor(fake: FakeSlack) -> list[Row]:
    """The harness alone: an aiohttp handler that answers at once (no bolt, no adapter)."""

    async def empty(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="")

    app = web.Application()
    app.router.add_post(EVENTS_PATH, empty)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}{EVENTS_PATH}"
        async with load_generator(url, fake.signing_secret) as send:
            await send(commands(fake, WARM_UP, offset=30_000))
            timings = await send(commands(fake, REQUESTS))
    finally:
        await runner.cleanup()
    return rows("floor (empty aiohttp handler)", timings)[:2]


async def run_all() -> list[Row]:
    raw = thread_json(60, seed=3, post_id=POST_ID)
    raw[0]["data"]["children"][0]["data"] = post_data(POST_ID, 60, subreddit="LocalLLaMA")
    source = FakeSource()
    source.add(thread_from_json(raw))
    scorer = make_scorer()
    slow = DigestEngine(SlowAnalyzer(ANALYSER_SECONDS), scorer=scorer)
    engines = Engines({"offline": DigestEngine(scorer=scorer), "slow": slow}, default="slow")
    async with FakeSlack() as fake:
        table = await run_adapter(fake, source, engines)
        table += await run_naive(fake, source, slow)
        table += await run_floor(fake)
    return table


def main() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: nproc={cpus}, Python {platform.python_version()}, {platform.system()}")
    print(
        f"load: {REQUESTS} concurrent signed `/digest <url>` POSTs to /slack/events (HTTP mode) "
        f"from another process over kept-alive connections, after {WARM_UP} warm-up requests; "
        f"the analyser answers after {ANALYSER_SECONDS:.0f} s; adapter, core and fake Slack "
        "share one event loop on 127.0.0.1"
    )
    with loopback_only():
        table = asyncio.run(run_all())
    print()
    print(format_table(table))
    p99 = float(table[1][2].replace(",", ""))
    verdict = "met" if p99 < TARGET_P99_MS else "NOT met"
    print(f"\ntarget: adapter p99 < {TARGET_P99_MS:.0f} ms: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
