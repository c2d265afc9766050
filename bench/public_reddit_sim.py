"""Simulated time for `python -m bench publicreddit` (see bench/public_reddit.py): a day of
PublicRedditSource traffic against the fake Reddit in seconds of wall time.

`VirtualLoop` is an asyncio event loop whose clock only moves when every task waits on a timer:
its selector looks at the real sockets first (loopback I/O is never skipped), and when nothing is
ready and no request is in flight it jumps to the next timer. The source gets the loop's clock
and `asyncio.sleep` as its injected clock/sleep, so its pacer, poll share and poller run exactly
as they would, only without waiting.

`run_scenario` drives one process's Reddit traffic for a while: W watched subreddits (one stream
each, like the core, all served by the source's one poller), the core's re-checks of watch
candidates by id (emulated from bot/core/watch.py's tick: same schedule, same batching), N daily
subscription runs through a FIFO job queue with the core's number of workers, and on-demand
brief digests at given moments. It reports requests by kind, the poll gaps, lateness and waits.

Every request takes a simulated round trip of 0.1-0.5 s (uniform) inside the fake: with answers
in no time at all, polls would fall on an exact 30 s grid, and so would every re-check (their
delays are multiples of 30 s), merging re-checks of different polls that real timing keeps apart.

One liberty, for wall time only: the watched subreddits' posts leave the fake's listings
`listing_span` (an hour) after they were posted (Reddit lists the newest 100; /by_id/ still finds
them). A poll is one request whatever its page holds, so no count changes; a post would be missed
only if two polls were further apart (the bench notes it). Building and parsing full 100-post
pages every 30 simulated seconds would otherwise take most of the bench's time.

The virtual clock is in public_reddit_sim_clock.py, the counting fake, the pacers and the watch
candidates in public_reddit_sim_fakes.py; this module builds and runs a scenario.
"""

from __future__ import annotations

import asyncio
import bisect
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from adapters.reddit_source.public import PublicConfig, PublicRedditSource
from adapters.reddit_source.public_feed import poll_interval
from bench.common import loopback_only
from bench.public_reddit_sim_clock import VirtualLoop
from bench.public_reddit_sim_fakes import (
    CORE,
    DAY,
    EPOCH,
    LATENCY,
    LISTING_SPAN,
    TOP,
    WORKERS,
    CountingFake,
    FifoPacer,
    MeasuredPacer,
    Watcher,
)
from bot.ports import ListingSort, SourceError, ThreadRef, TopPeriod
from digest.report import Depth
from tests.fakes.reddit_server import generate_comment_tree, make_post

# --- a scenario ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scenario:
    watched: int  # W subreddits watched
    posts_per_day: float  # new posts a day in each
    subscriptions: int = 0  # N daily runs (top 5 of one subreddit each)
    burst_at: float | None = None  # every run due at this moment (None: spread over the day)
    on_demand_at: tuple[float, ...] = ()  # brief digests straight to the source
    queued_on_demand_at: tuple[float, ...] = ()  # brief digests through the job queue
    duration: float = DAY  # requests are counted over [0, duration)
    fifo: bool = False  # the naive pacer
    seed: int = 1
    listing_span: float = LISTING_SPAN


@dataclass(slots=True)
class Outcome:
    counts: Counter[str]
    poll_times: list[float]
    run_lateness: list[float]  # s from a run's due time to its last request's answer
    runs_failed: int
    waits: list[float]  # on-demand digests straight to the source: s until answered
    queued_waits: list[float]  # the same through the job queue
    recheck_lateness: list[float]
    seen_after: list[float]
    end: float  # virtual time when the scenario stopped
    wall_s: float
    forced: int
    failures: int
    unfinished: int = 0  # runs and digests still waiting a quarter of a day after the end
    slot_waits: list[float] = field(default_factory=list)  # every on-demand request's pacer wait


def _poisson(rng: random.Random, rate_per_s: float, start: float, end: float) -> list[float]:
    out: list[float] = []
    t = start
    while rate_per_s > 0:
        t += rng.expovariate(rate_per_s)
        if t >= end:
            break
        out.append(t)
    return out


def run_scenario(scenario: Scenario) -> Outcome:
    """One process's traffic, on a fresh fake and a fresh source, in virtual time."""
    with loopback_only(), asyncio.Runner(loop_factory=VirtualLoop) as runner:
        return runner.run(_run(scenario))


async def _run(sc: Scenario) -> Outcome:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualLoop)
    clock = loop.time
    wall0 = time.perf_counter()
    rng = random.Random(sc.seed)
    fake = CountingFake(clock, sc.seed, ratelimit_budget=10**9, public_ratelimit_budget=10**9)
    fake.count_until = sc.duration
    async with fake:
        base = fake.base_url
        if not base.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the fake server is not on 127.0.0.1: {base}")
        fake.add_full_thread(
            make_post("ask", subreddit="askbench", num_comments=5, created_utc=EPOCH),
            generate_comment_tree("ask", 5, seed=3, subreddit="askbench"),
        )
        names = [f"watch{i}" for i in range(sc.watched)]
        arrivals: list[tuple[float, str, str]] = []
        rate = sc.posts_per_day / DAY
        for i, name in enumerate(names):
            fake.add_subreddit(name)
            for j, t in enumerate(_poisson(rng, rate, -DAY, sc.duration)):
                arrivals.append((t, name, f"w{i}x{j}"))
        arrivals.sort()
        past = [a for a in arrivals if a[0] < 0]
        future = [a for a in arrivals if a[0] >= 0]
        for t, name, post_id in past:
            fake.add_submission(name, make_post(post_id, subreddit=name, created_utc=EPOCH + t))
        daily = [f"daily{i}" for i in range(sc.subscriptions)]
        for i, name in enumerate(daily):
            for k in range(TOP + 1):  # a future created_utc: in the top of any day
                post = make_post(f"d{i}x{k}", subreddit=name, score=100 - k, created_utc=2 * EPOCH)
                fake.add_submission(name, post)
        source = PublicRedditSource(PublicConfig(base_url=base), clock=clock, sleep=asyncio.sleep)
        http = source._http
        pacer = (FifoPacer if sc.fifo else MeasuredPacer)(http.pacer.per_minute, clock)
        http.pacer = pacer
        # In flight: sent, not yet at the server (its answer is back on the socket at once).
        loop.virtual.busy = lambda: source.requests_made > fake.received
        watcher = Watcher(source, clock)
        # The polls of the day before, each `interval` after the previous one's answer: a past
        # post was seen when the first poll after it was answered.
        interval = poll_interval(len(names), source.pacer.per_minute, feeds=False)
        polls = [0.0]
        while polls[-1] > -DAY - 2 * interval:
            polls.append(polls[-1] - interval - rng.uniform(*LATENCY))
        polls.reverse()
        for t, _, post_id in past:
            answered = polls[bisect.bisect_left(polls, t)] + rng.uniform(*LATENCY)
            watcher.seed(post_id, t, answered)
        out = Outcome(Counter(), [], [], 0, [], [], [], [], 0.0, 0.0, 0, 0)
        queue: asyncio.Queue[tuple[str, float]] = asyncio.Queue()
        tasks: list[asyncio.Task[None]] = []

        def prune() -> None:
            cutoff = EPOCH + clock() - sc.listing_span
            for name in names:
                listed = fake._subreddits[name].posts
                for post_id in [k for k, (_, p) in listed.items() if p["created_utc"] < cutoff]:
                    del listed[post_id]

        async def pruning() -> None:
            while True:
                await asyncio.sleep(sc.listing_span / 6)
                prune()

        async def consume(name: str) -> None:
            while True:
                try:
                    async for post in source.stream([name]):
                        watcher.seen(post.id, post.created.timestamp() - EPOCH)
                except SourceError:
                    await asyncio.sleep(CORE.stream_retry_seconds)

        async def produce() -> None:
            for t, name, post_id in future:
                await asyncio.sleep(max(t - clock(), 0.0))
                post = make_post(post_id, subreddit=name, created_utc=EPOCH + t)
                fake.add_submission(name, post)

        async def schedule(at: float, job: str) -> None:
            await asyncio.sleep(max(at - clock(), 0.0))
            queue.put_nowait((job, at))

        async def worker() -> None:
            while True:
                job, at = await queue.get()
                try:
                    if job == "ask":
                        await source.fetch_thread(ThreadRef("ask"), Depth.BRIEF)
                        out.queued_waits.append(clock() - at)
                        continue
                    posts = await source.listing(
                        job, ListingSort.TOP, period=TopPeriod.DAY, limit=100
                    )
                    for post in posts[:TOP]:
                        await source.fetch_thread(ThreadRef(post.id), Depth.BRIEF)
                    out.run_lateness.append(clock() - at)
                except SourceError:
                    out.runs_failed += 1
                finally:
                    queue.task_done()

        async def ask(at: float) -> None:
            await asyncio.sleep(max(at - clock(), 0.0))
            await source.fetch_thread(ThreadRef("ask"), Depth.BRIEF)
            out.waits.append(clock() - at)

        prune()
        async with source:
            tasks.append(asyncio.create_task(pruning()))
            tasks += [asyncio.create_task(consume(n)) for n in names]
            tasks.append(asyncio.create_task(produce()))
            tasks.append(asyncio.create_task(watcher.run()))
            tasks += [asyncio.create_task(worker()) for _ in range(WORKERS)]
            for name in daily:
                at = sc.burst_at if sc.burst_at is not None else rng.uniform(0, sc.duration)
                tasks.append(asyncio.create_task(schedule(at, name)))
            for at in sc.queued_on_demand_at:
                tasks.append(asyncio.create_task(schedule(at, "ask")))
            asks = [asyncio.create_task(ask(at)) for at in sc.on_demand_at]
            await asyncio.sleep(sc.duration)
            # Whatever was asked for in time is seen through (up to a quarter of a day more).
            finishing = asyncio.gather(queue.join(), *asks)
            try:
                await asyncio.wait_for(finishing, DAY / 4)
            except TimeoutError:
                out.unfinished = queue.qsize() + sum(not a.done() for a in asks)
            out.end = clock()
            out.slot_waits = pacer.on_demand_waits
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    out.counts = fake.counts
    out.poll_times = fake.poll_times
    out.recheck_lateness = watcher.lateness
    out.seen_after = watcher.seen_after
    out.forced = loop.virtual.forced
    out.failures = watcher.failures
    out.wall_s = time.perf_counter() - wall0
    return out
