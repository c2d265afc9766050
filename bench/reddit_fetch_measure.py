"""bench/reddit_fetch.py's measuring: the fake Reddit timed, one budgeted fetch (RedditSource),
one naive fetch (asyncpraw's replace_more(limit=None)), the best of a few runs, and the reference
the top-50 share is read against."""

from __future__ import annotations

import asyncio
import functools
import heapq
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpraw
from aiohttp import web
from asyncpraw.models import Comment as PrawComment

from adapters.reddit_source.live import RedditSource
from bench.common import describe, progress
from bench.reddit_common import TOP_N, USER_AGENT, api_requests, oauth_config
from bench.reddit_fetch_cases import (
    BUDGETED_RUNS,
    DEPTHS,
    NAIVE_REPEAT_MAX_S,
    NAIVE_RUNS,
    NAIVE_TIMEOUT_S,
    Case,
)
from bot.ports import ThreadRef
from digest.report import Depth
from tests.fakes.reddit_server import FakeReddit


class TimedFakeReddit(FakeReddit):
    """The fake server, adding up the time spent inside its request handler.

    It runs in the benchmark's own event loop, so this time is part of every wall time; it is
    reported apart because the fake's work (it rebuilds the comment tree's subtree sizes on
    every request) is not what a client spends.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.handler_s = 0.0

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        t0 = time.perf_counter()
        try:
            return await super()._handle(request)
        finally:
            self.handler_s += time.perf_counter() - t0


@dataclass(slots=True)
class Fetch:
    """One way of fetching one thread (best wall time of `runs`; the rest from the first run)."""

    requests: int = 0  # API requests, the token request excluded
    scores: dict[str, int] = field(default_factory=dict)  # comment id → score
    wall_s: float = math.inf
    server_s: float = 0.0  # of wall_s, time inside the fake server's handler
    runs: int = 0
    cut_off: bool = False  # the naive run hit NAIVE_TIMEOUT_S
    error: str | None = None  # what went wrong, when the fetch failed
    self_count: int | None = None  # requests the fetcher says it made (RedditSource only)
    unstable: bool = False  # another run fetched a different set of comments
    largest_more: int = 0  # most comments one /api/morechildren answer carried


def largest_more_answer(fake: FakeReddit, start: int) -> int:
    """The most comments any /api/morechildren answer since index `start` carried."""
    largest = 0
    for record in fake.requests[start:]:
        body = record.response_body
        if "morechildren" not in record.path or not isinstance(body, dict):
            continue
        things = body.get("json", {}).get("data", {}).get("things", [])
        largest = max(largest, sum(1 for t in things if t.get("kind") == "t1"))
    return largest


async def budgeted_once(fake: TimedFakeReddit, post_id: str, depth: Depth) -> Fetch:
    config = oauth_config(fake)
    start = len(fake.requests)
    result = Fetch(runs=1)
    server0 = fake.handler_s
    t0 = time.perf_counter()
    async with RedditSource(config) as source:
        try:
            thread = await source.fetch_thread(ThreadRef(post_id), depth)
        except Exception as exc:  # reported in the table, not raised
            result.error = describe(exc)
        else:
            result.scores = {c.id: c.score for c in thread.comments}
        result.wall_s = time.perf_counter() - t0
        result.server_s = fake.handler_s - server0
        result.self_count = source.requests_made
    result.requests = api_requests(fake, start)
    result.largest_more = largest_more_answer(fake, start)
    return result


async def naive_once(fake: TimedFakeReddit, post_id: str, cut_off_s: float) -> Fetch:
    """Plain asyncpraw: every `more` stub replaced, every comment listed."""
    start = len(fake.requests)
    result = Fetch(runs=1)
    holder: list[Any] = []  # the submission, so a cut-off run still shows what it reached

    async def fetch(reddit: asyncpraw.Reddit) -> None:
        submission = await reddit.submission(id=post_id)
        holder.append(submission)
        await submission.comments.replace_more(limit=None)

    server0 = fake.handler_s
    t0 = time.perf_counter()
    async with asyncpraw.Reddit(**fake.reddit_kwargs(user_agent=USER_AGENT)) as reddit:
        try:
            await asyncio.wait_for(fetch(reddit), cut_off_s)
        except TimeoutError:
            result.cut_off = True
        except Exception as exc:  # reported in the table, not raised
            result.error = describe(exc)
        if holder:
            everything = holder[0].comments.list()
            result.scores = {
                str(c.id): int(c.score) for c in everything if isinstance(c, PrawComment)
            }
        result.wall_s = time.perf_counter() - t0
        result.server_s = fake.handler_s - server0
    result.requests = api_requests(fake, start)
    return result


async def best_of(
    runs: int, once: Callable[[], Awaitable[Fetch]], keep_going: Callable[[Fetch], bool]
) -> Fetch:
    """Run `once` up to `runs` times (while `keep_going(first)`); the wall and server times
    are those of the fastest run, the rest comes from the first."""
    first = await once()
    best = (first.wall_s, first.server_s)
    done = 1
    while done < runs and keep_going(first):
        again = await once()
        done += 1
        best = min(best, (again.wall_s, again.server_s))
        if set(again.scores) != set(first.scores) or again.requests != first.requests:
            first.unstable = True
    first.wall_s, first.server_s = best
    first.runs = done
    return first


@dataclass(slots=True)
class CaseResult:
    case: Case
    naive: Fetch
    budgeted: dict[Depth, Fetch]

    def reference(self) -> dict[str, int]:
        """The scores the top-50 is taken from: the generated tree, else the naive fetch."""
        return self.case.truth if self.case.truth is not None else self.naive.scores


async def measure(fake: TimedFakeReddit, case: Case) -> CaseResult:
    budgeted: dict[Depth, Fetch] = {}
    for depth in DEPTHS:
        progress(f"[bench reddit_fetch] {case.name}: budgeted {depth.value}")
        budgeted[depth] = await best_of(
            BUDGETED_RUNS,
            functools.partial(budgeted_once, fake, case.post_id, depth),
            lambda f: f.error is None,
        )
    progress(f"[bench reddit_fetch] {case.name}: naive replace_more(limit=None)")
    naive = await best_of(
        NAIVE_RUNS,
        functools.partial(naive_once, fake, case.post_id, NAIVE_TIMEOUT_S),
        lambda f: f.error is None and not f.cut_off and f.wall_s < NAIVE_REPEAT_MAX_S,
    )
    return CaseResult(case, naive, budgeted)


def best_first(scores: Mapping[str, int], parents: Mapping[str, str], limit: int) -> set[str]:
    """The `limit` comments Reddit's comment builder would pick: best score first, a reply
    becoming eligible once its parent is picked."""
    children: dict[str, list[str]] = {}
    for comment_id, parent in parents.items():
        children.setdefault(parent, []).append(comment_id)
    heap = [(-scores[c], c) for c in parents if not parents[c].startswith("t1_")]
    heapq.heapify(heap)
    picked: set[str] = set()
    while heap and len(picked) < limit:
        _, comment_id = heapq.heappop(heap)
        picked.add(comment_id)
        for child in children.get(f"t1_{comment_id}", []):
            heapq.heappush(heap, (-scores[child], child))
    return picked


def top_ids(scores: Mapping[str, int], n: int = TOP_N) -> list[str]:
    return sorted(scores, key=lambda c: (-scores[c], c))[:n]
