"""The public (credential-free) Reddit source, with the real aiohttp, against the fake Reddit
on 127.0.0.1: request budgets with exact counts, listings, share links, the shared new-post
poller and its Atom fallback, pacing by priority, and one sentence for every refusal."""

from __future__ import annotations

import asyncio
import heapq
import importlib.metadata
import itertools
import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from adapters.reddit_source.expand import Stub, next_batch, rank
from adapters.reddit_source.pacing import Priority, PriorityPacer
from adapters.reddit_source.public import (
    PublicConfig,
    PublicRedditSource,
    default_user_agent,
)
from adapters.reddit_source.public_feed import poll_interval, posts_from_atom
from adapters.reddit_source.thread_json import flatten
from bot.ports import (
    InvalidSubreddit,
    InvalidThreadUrl,
    ListingSort,
    RateLimited,
    RedditUnavailable,
    SourceError,
    SubredditUnavailable,
    ThreadNotFound,
    ThreadRef,
    TopPeriod,
)
from digest.model import Post
from digest.pipeline import DigestEngine
from digest.report import Depth
from tests.conftest import NO_DATA_REASON, REDDIT_DATA
from tests.fakes.reddit_server import (
    BLOCK_PAGE_HTML,
    FakeReddit,
    RecordedRequest,
    atom_feed,
    generate_comment_tree,
    load_cassette_continue_responses,
    load_morechildren_pairs,
    make_post,
)

T0 = 1_700_000_000.0


# --------------------------------------------------------------------------- time


class FastTime:
    """Sleeps return at once and move the clock (for retries' backoff)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


class ManualTime:
    """A clock that moves only when the test says; sleepers wake as it passes their time."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._seq), future))
        await future

    async def advance(self, seconds: float) -> None:
        target = self.now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, deadline)
            if not future.done():
                future.set_result(None)
            await settle()
        self.now = target
        await settle()


async def settle(rounds: int = 30) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Wait (real time, for loopback I/O) until `condition` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
async def fake() -> AsyncIterator[FakeReddit]:
    async with FakeReddit(ratelimit_budget=10_000_000, public_ratelimit_budget=10_000_000) as f:
        yield f


def _config(fake: FakeReddit, **kw: Any) -> PublicConfig:
    return PublicConfig(base_url=fake.base_url, **kw)


@pytest.fixture
async def source(fake: FakeReddit) -> AsyncIterator[PublicRedditSource]:
    time = FastTime()
    async with PublicRedditSource(
        _config(fake, requests_per_minute=10_000), clock=time.clock, sleep=time.sleep
    ) as src:
        yield src


def _t1_ids_served(requests: list[RecordedRequest]) -> set[str]:
    """Independent count: every comment id in every body the fake sent back."""
    ids: set[str] = set()
    stack: list[Any] = [r.response_body for r in requests]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("kind") == "t1" and isinstance(node.get("data"), dict):
                ids.add(node["data"]["id"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return ids


def _assert_anonymous(requests: list[RecordedRequest]) -> None:
    for r in requests:
        assert r.anonymous, r.path
        assert not any(k.lower() in ("authorization", "cookie") for k in r.headers), r.headers
        ua = next(v for k, v in r.headers.items() if k.lower() == "user-agent")
        assert ua.startswith("redigest/")


def _real(fake: FakeReddit, relative: str, morechildren: str | None = None) -> str:
    path = REDDIT_DATA / relative
    if not path.exists():
        pytest.skip(NO_DATA_REASON)
    raw = json.loads(path.read_text(encoding="utf-8"))
    pairs = load_morechildren_pairs(REDDIT_DATA / morechildren) if morechildren else None
    cont = None
    if relative == "praw/announcements_n49rw_2016.json":
        cassette = (
            REDDIT_DATA / "cassettes" / "praw" / "TestCommentForest.test_replace__all_large.json"
        )
        cont = load_cassette_continue_responses(cassette, "n49rw")
    return fake.add_thread(raw, pairs, cont)


REAL_THREADS = [
    ("praw/announcements_n49rw_2016.json", "praw/announcements_n49rw_2016_morechildren.json"),
    ("praw/funny_3hahrw_2016.json", "praw/funny_3hahrw_2016_morechildren.json"),
    (
        "asyncpraw/announcements_n49rw_2020.json",
        "asyncpraw/announcements_n49rw_2020_morechildren.json",
    ),
    ("ocaml-reddit-api/nfl_g7vyxy_2020.json", "ocaml-reddit-api/nfl_g7vyxy_2020_morechildren.json"),
    ("graw/self_1cebxh.json", None),
    ("localllama/localllama_1ibk9us.json", None),
    ("localllama/localllama_1miezct.json", None),
    ("localllama/localllama_1lpl656.json", None),
]


# --------------------------------------------------------------------------- threads


@pytest.mark.parametrize(("relative", "morechildren"), REAL_THREADS)
@pytest.mark.parametrize(("depth", "budget"), [(Depth.BRIEF, 1), (Depth.DEEP, 4)])
async def test_real_thread_within_budget_and_counts_exact(
    fake: FakeReddit,
    source: PublicRedditSource,
    relative: str,
    morechildren: str | None,
    depth: Depth,
    budget: int,
) -> None:
    post_id = _real(fake, relative, morechildren)
    thread = await source.fetch_thread(ThreadRef(post_id), depth)
    calls = fake.requests
    _assert_anonymous(calls)
    first = calls[0]
    assert first.path == f"/comments/{post_id}.json"
    assert first.query["raw_json"] == "1"
    assert first.query["sort"] == "top"
    if depth is Depth.BRIEF:
        assert len(calls) == 1
    else:
        assert 1 <= len(calls) <= budget
        stubs_at_first = '"kind": "more"' in json.dumps(first.response_body)
        assert len(calls) > 1 or not stubs_at_first
        for more in calls[1:]:
            if more.path != "/api/morechildren.json":  # a continue-this-thread stub
                assert more.path.startswith(f"/comments/{post_id}/_/")
                assert more.path.endswith(".json")
            else:
                assert more.method == "GET"
                assert more.query["link_id"] == f"t3_{post_id}"
                assert 0 < len(more.query["children"].split(",")) <= 100
    # Exact: the comments in the model are exactly the ones the fake sent.
    assert {c.id for c in thread.comments} == _t1_ids_served(calls)
    report = await DigestEngine().digest(thread, depth)
    assert report.coverage.fetched == len(thread.comments)
    assert len(thread.more) == report.stats.unfetched_stubs
    total = max(thread.post.num_comments, len(thread.comments))
    assert f"of {total:,} comments" in report.coverage.describe()
    assert source.requests_made == len(calls)


async def test_deep_reads_more_than_brief_on_a_recorded_thread(
    fake: FakeReddit, source: PublicRedditSource
) -> None:
    post_id = _real(fake, *REAL_THREADS[0])
    brief = await source.fetch_thread(ThreadRef(post_id), Depth.BRIEF)
    deep = await source.fetch_thread(ThreadRef(post_id), Depth.DEEP)
    assert len(deep.comments) > len(brief.comments) + 200  # three morechildren of 100 ids


async def test_expansion_spends_the_budget_on_the_best_ranked_stubs(fake: FakeReddit) -> None:
    comments = generate_comment_tree("big", 3000, seed=12, reply_decay=0.6)
    fake.add_full_thread(make_post("big", num_comments=3000), comments)
    fake.max_comment_limit = 60  # a small first page: the rest hides behind `more` stubs
    async with PublicRedditSource(_config(fake, requests_per_minute=1000)) as src:
        thread = await src.fetch_thread(ThreadRef("big"), Depth.DEEP)
    assert len(fake.requests) == 4
    # The first expansion asked for exactly the ids expand.py ranks best on the first page.
    things = flatten(fake.requests[0].response_body[1]["data"]["children"])
    in_hand = {t["data"]["id"]: t["data"] for t in things if t["kind"] == "t1"}
    stubs = [Stub.of(t["data"]) for t in things if t["kind"] == "more"]
    ids, _, _ = next_batch(rank(stubs, in_hand))
    assert fake.requests[1].path == "/api/morechildren.json"
    assert fake.requests[1].query["children"].split(",") == ids
    top50 = {c["id"] for c in sorted(comments, key=lambda c: -c["score"])[:50]}
    first_page = len(top50 & set(in_hand))
    got = len(top50 & {c.id for c in thread.comments})
    assert got > first_page, (first_page, got)
    assert len(thread.comments) == len(_t1_ids_served(fake.requests)) >= len(in_hand) + 250
    assert thread.more  # what was left is recorded as unfetched


async def test_comment_permalink_focuses_the_sub_thread(
    fake: FakeReddit, source: PublicRedditSource
) -> None:
    comments = generate_comment_tree("foc", 300, seed=2)
    fake.add_full_thread(make_post("foc", num_comments=300), comments)
    target = next(c for c in comments if c["parent_id"].startswith("t3_"))
    ref = await source.resolve(f"https://www.reddit.com/r/test/comments/foc/x/{target['id']}/")
    thread = await source.fetch_thread(ref, Depth.BRIEF)
    assert thread.focus_comment_id == target["id"]
    assert target["id"] in thread.by_id
    assert fake.requests[0].path == f"/comments/foc/_/{target['id']}.json"
    assert len(fake.requests) == 1


async def test_a_failed_expansion_keeps_what_was_fetched(
    fake: FakeReddit, source: PublicRedditSource
) -> None:
    fake.add_full_thread(make_post("part", num_comments=900), generate_comment_tree("part", 900))
    fake.fail_next(r"^/api/morechildren", 429, headers={"Retry-After": "0"})
    thread = await source.fetch_thread(ThreadRef("part"), Depth.DEEP)
    assert len(thread.comments) == len(_t1_ids_served(fake.requests)) > 0
    assert thread.more
    assert len(fake.requests) == 2  # the page, then the refused expansion: no more asked


# --------------------------------------------------------------------------- listings


async def test_listings_top_hot_new_and_several_subreddits(
    fake: FakeReddit, source: PublicRedditSource
) -> None:
    for i in range(150):
        fake.add_submission("LocalLLaMA", make_post(f"p{i:03d}", subreddit="LocalLLaMA", score=i))
    fake.add_submission("selfhosted", make_post("s1", subreddit="selfhosted", score=1000))
    posts = await source.listing("r/localllama", ListingSort.TOP, period=TopPeriod.WEEK, limit=130)
    assert len(posts) == len({p.id for p in posts}) == 130
    top = fake.calls(r"^/r/localllama/top\.json$")
    assert len(top) == 2
    assert top[0].query["t"] == "week"
    assert "after" in top[1].query
    assert len(await source.listing("LocalLLaMA", ListingSort.NEW, limit=5)) == 5
    assert len(await source.listing("LocalLLaMA", ListingSort.HOT, limit=3)) == 3
    both = await source.listing("localllama+selfhosted", ListingSort.TOP, limit=2)
    assert [p.id for p in both] == ["s1", "p149"]
    assert fake.requests[-1].path == "/r/localllama+selfhosted/top.json"
    _assert_anonymous(fake.requests)


async def test_unknown_subreddit(fake: FakeReddit, source: PublicRedditSource) -> None:
    with pytest.raises(InvalidSubreddit, match="no subreddit r/doesnotexist"):
        await source.listing("doesnotexist", ListingSort.NEW)


async def test_posts_by_id_in_batches_of_100(fake: FakeReddit, source: PublicRedditSource) -> None:
    for i in range(150):
        fake.add_submission("watchme", make_post(f"w{i}", subreddit="watchme", score=i))
    posts = await source.posts([f"w{i}" for i in range(150)] + ["t3_w3", "missing1", "../x"])
    assert sorted(p.id for p in posts) == sorted(f"w{i}" for i in range(150))
    calls = fake.calls(r"^/by_id/")
    assert len(calls) == 2
    assert calls[0].path.startswith("/by_id/t3_w0,t3_w1,")
    assert calls[0].path.endswith(".json")
    assert {p.id: p.score for p in posts}["w42"] == 42


# --------------------------------------------------------------------------- share links


@pytest.mark.parametrize("status", [301, 302])
async def test_share_links_resolve_without_credentials(
    fake: FakeReddit, source: PublicRedditSource, status: int
) -> None:
    url = fake.add_share_link(
        "test",
        "AbC123",
        "https://www.reddit.com/r/test/comments/abc12/t/?share_id=x",
        status=status,
    )
    assert await source.resolve(url) == ThreadRef("abc12", None, "test")
    assert len(fake.requests) == 1
    _assert_anonymous(fake.requests)
    dead = fake.add_share_link("test", "Gone99", None)
    with pytest.raises(InvalidThreadUrl, match="did not lead to a thread"):
        await source.resolve(dead)
    fake.block_json = True  # share links are not .json: still answered
    assert (await source.resolve(url)).post_id == "abc12"


async def test_plain_links_cost_no_request(fake: FakeReddit, source: PublicRedditSource) -> None:
    assert await source.resolve("https://redd.it/abc12") == ThreadRef("abc12")
    assert fake.requests == []


# --------------------------------------------------------------------------- new posts


async def _collect(stream: AsyncIterator[Post], into: list[Any]) -> None:
    try:
        async for post in stream:
            into.append(post)
    except SourceError as exc:
        into.append(exc)


def _ids(items: list[Any]) -> list[str]:
    return [p.id for p in items if isinstance(p, Post)]


@pytest.fixture
def manual() -> ManualTime:
    return ManualTime()


@pytest.fixture
async def polled(fake: FakeReddit, manual: ManualTime) -> AsyncIterator[PublicRedditSource]:
    async with PublicRedditSource(
        _config(fake), clock=manual.clock, sleep=manual.sleep
    ) as src:  # the default 10 requests a minute
        yield src


async def test_one_poller_serves_every_stream_and_yields_a_new_post_once(
    fake: FakeReddit, polled: PublicRedditSource, manual: ManualTime
) -> None:
    fake.add_submission("alpha", make_post("a1", subreddit="alpha", created_utc=T0))
    fake.add_submission("alpha", make_post("a2", subreddit="alpha", created_utc=T0 + 5))
    fake.add_submission("beta", make_post("b1", subreddit="beta", created_utc=T0 + 1))
    fake.add_subreddit("gamma")
    got: dict[str, list[Any]] = {n: [] for n in ("alpha", "beta", "gamma")}
    tasks = [asyncio.create_task(_collect(polled.stream([n]), got[n])) for n in got]
    try:
        # The first poll hands out what is already there (the core dedupes), oldest first.
        await until(lambda: _ids(got["alpha"]) == ["a1", "a2"] and _ids(got["beta"]) == ["b1"])
        polls = fake.calls(r"/new\.json$")
        assert [c.path for c in polls] == ["/r/alpha+beta+gamma/new.json"]
        assert polls[0].query["limit"] == "100"
        _assert_anonymous(fake.requests)

        fake.add_submission("beta", make_post("b2", subreddit="beta", created_utc=T0 + 60))
        interval = polled.poller.interval()
        assert interval == 30.0
        await manual.advance(interval - 1)
        assert len(fake.calls(r"/new\.json$")) == 1  # not before its time
        await manual.advance(1)
        await until(lambda: _ids(got["beta"]) == ["b1", "b2"])
        await manual.advance(interval)
        await until(lambda: len(fake.calls(r"/new\.json$")) == 3)
        await settle()
        assert _ids(got["beta"]) == ["b1", "b2"]  # once
        assert _ids(got["alpha"]) == ["a1", "a2"]
        assert got["gamma"] == []
        assert len(fake.requests) == 3  # one request a poll for three subreddits
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert polled.poller.watched() == []


async def test_a_stream_opened_later_joins_the_shared_poll(
    fake: FakeReddit, polled: PublicRedditSource, manual: ManualTime
) -> None:
    fake.add_submission("alpha", make_post("a1", subreddit="alpha", created_utc=T0))
    fake.add_submission("beta", make_post("b1", subreddit="beta", created_utc=T0))
    alpha: list[Any] = []
    beta: list[Any] = []
    first = asyncio.create_task(_collect(polled.stream(["alpha"]), alpha))
    await until(lambda: _ids(alpha) == ["a1"])
    second = asyncio.create_task(_collect(polled.stream(["r/Beta"]), beta))
    await until(lambda: _ids(beta) == ["b1"])  # polled at once, not after the interval
    paths = [c.path for c in fake.calls(r"/new\.json$")]
    assert paths == ["/r/alpha/new.json", "/r/alpha+beta/new.json"]
    assert _ids(alpha) == ["a1"]
    for task in (first, second):
        task.cancel()
    await asyncio.gather(first, second, return_exceptions=True)


async def test_atom_feeds_when_the_json_listing_is_refused(
    fake: FakeReddit, polled: PublicRedditSource, manual: ManualTime, caplog: Any
) -> None:
    fake.add_submission("alpha", make_post("a1", subreddit="alpha", score=42, created_utc=T0))
    fake.add_submission("beta", make_post("b1", subreddit="beta", score=7, created_utc=T0 + 1))
    fake.fail_next(r"/new\.json$", 403, body=BLOCK_PAGE_HTML, times=1000)
    alpha: list[Any] = []
    beta: list[Any] = []
    tasks = [
        asyncio.create_task(_collect(polled.stream(["alpha"]), alpha)),
        asyncio.create_task(_collect(polled.stream(["beta"]), beta)),
    ]
    try:
        with caplog.at_level(logging.WARNING):
            await until(lambda: _ids(alpha) == ["a1"] and _ids(beta) == ["b1"])
        assert "Atom feeds" in caplog.text
        assert "REDIGEST_REDDIT_PUBLIC_URL" in caplog.text
        # One refused listing, each subreddit's feed, ONE /by_id/ for the scores.
        assert [r.path for r in fake.requests] == [
            "/r/alpha+beta/new.json",
            "/r/alpha/new/.rss",
            "/r/beta/new/.rss",
            "/by_id/t3_a1,t3_b1.json",
        ]
        assert (alpha[0].score, beta[0].score) == (42, 7)
        assert alpha[0].title == "Post a1"

        fake.add_submission("alpha", make_post("a3", subreddit="alpha", created_utc=T0 + 9))
        interval = polled.poller.interval()
        assert interval == poll_interval(2, 10, feeds=True) == 36.0
        await manual.advance(interval)
        # The first round took 4 of polling's 5 requests a minute: one now, the rest at t=60.
        await until(lambda: len(fake.requests) == 5)
        await manual.advance(60 - interval)
        await until(lambda: _ids(alpha) == ["a1", "a3"])
        await until(lambda: len(fake.requests) == 7)
        assert [r.path for r in fake.requests[4:]] == [
            "/r/alpha/new/.rss",
            "/r/beta/new/.rss",
            "/by_id/t3_a3.json",
        ]
        assert _ids(beta) == ["b1"]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_feeds_alone_when_everything_json_is_blocked(
    fake: FakeReddit, polled: PublicRedditSource
) -> None:
    fake.add_submission(
        "Alpha", make_post("a1", subreddit="Alpha", title="Q&A <today>", author="someone")
    )
    fake.block_json = True
    got: list[Any] = []
    task = asyncio.create_task(_collect(polled.stream(["alpha"]), got))
    await until(lambda: bool(got))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    post = got[0]
    assert (post.id, post.subreddit, post.title, post.author) == (
        "a1",
        "Alpha",
        "Q&A <today>",
        "someone",
    )
    assert post.permalink == "https://www.reddit.com/r/Alpha/comments/a1/post_a1/"
    assert post.score == 0  # the feed has no score and /by_id/ was refused too


async def test_repeated_429_on_the_listing_switches_to_feeds(
    fake: FakeReddit, polled: PublicRedditSource, manual: ManualTime
) -> None:
    fake.add_submission("alpha", make_post("a1", subreddit="alpha"))
    fake.fail_next(r"/new\.json$", 429, headers={"Retry-After": "5"}, times=2)
    got: list[Any] = []
    task = asyncio.create_task(_collect(polled.stream(["alpha"]), got))
    await until(lambda: len(fake.requests) == 1)
    await manual.advance(polled.poller.interval())
    await until(lambda: len(fake.requests) == 2)
    await manual.advance(5)  # Retry-After: 5
    await until(lambda: bool(got))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert [r.path for r in fake.requests] == [
        "/r/alpha/new.json",
        "/r/alpha/new.json",
        "/r/alpha/new/.rss",
        "/by_id/t3_a1.json",
    ]
    assert polled.poller.on_feeds


async def test_a_private_subreddit_fails_its_own_stream_only(
    fake: FakeReddit, polled: PublicRedditSource, manual: ManualTime
) -> None:
    fake.add_submission("alpha", make_post("a1", subreddit="alpha"))
    fake.add_subreddit("secret", state="private")
    alpha: list[Any] = []
    secret: list[Any] = []
    tasks = [
        asyncio.create_task(_collect(polled.stream(["alpha"]), alpha)),
        asyncio.create_task(_collect(polled.stream(["secret"]), secret)),
    ]
    await until(lambda: bool(secret) and bool(alpha))
    assert isinstance(secret[0], SubredditUnavailable)
    assert "r/secret is private" in secret[0].user_message
    assert _ids(alpha) == ["a1"]
    # Asked again later: refused at once, without a request.
    before = len(fake.requests)
    with pytest.raises(SubredditUnavailable):
        async for _ in polled.stream(["secret"]):
            pass
    assert len(fake.requests) == before
    await manual.advance(polled.poller.interval())
    await until(lambda: fake.requests[-1].path == "/r/alpha/new.json")
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_background_polling_takes_at_most_half_the_budget(
    fake: FakeReddit, polled: PublicRedditSource, manual: ManualTime
) -> None:
    names = [f"sub{i}" for i in range(10)]
    for name in names:
        fake.add_submission(name, make_post(f"{name}p", subreddit=name))
    fake.block_json = True  # feeds: eleven requests a poll
    tasks = [asyncio.create_task(_collect(polled.stream([n]), [])) for n in names]
    try:
        await until(lambda: len(fake.requests) == 5)
        await manual.advance(59)
        await asyncio.sleep(0.2)
        assert len(fake.requests) == 5  # 5 of the 10 a minute, no more
        # Meanwhile a person's digest is not kept waiting.
        fake.block_json = False
        fake.add_full_thread(make_post("ask1", num_comments=5), generate_comment_tree("ask1", 5))
        thread = await polled.fetch_thread(ThreadRef("ask1"), Depth.BRIEF)
        assert len(thread.comments) == 5
        fake.block_json = True
        await manual.advance(1)
        await until(lambda: len(fake.requests) == 11)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def test_poll_interval_adapts_to_budget_and_subreddits() -> None:
    assert poll_interval(1, 10, feeds=False) == 30.0  # the floor
    assert poll_interval(50, 10, feeds=False) == 30.0  # one multi-subreddit request
    assert poll_interval(51, 10, feeds=False) == 30.0  # two requests: 24 s, floor 30
    assert poll_interval(120, 10, feeds=False) == 36.0  # three requests
    assert poll_interval(3, 10, feeds=True) == 48.0  # 3 feeds + 1 by_id at 5 a minute
    assert poll_interval(10, 10, feeds=True) == 132.0
    assert poll_interval(10, 100, feeds=True) == 30.0
    for n in (1, 5, 40, 200):
        for rpm in (2, 10, 60):
            for feeds in (False, True):
                per_poll = n + 1 if feeds else -(-n // 50)
                polls_a_minute = 60 / poll_interval(n, rpm, feeds=feeds)
                assert per_poll * polls_a_minute <= rpm / 2 + 1e-9


def test_reddit_atom_feed_is_parsed_with_feedparser() -> None:
    posts = [
        make_post("z9", subreddit="LocalLLaMA", title="Tom & Jerry <3", author="u1", created_utc=T0)
    ]
    xml = atom_feed("LocalLLaMA", posts, base="https://www.reddit.com")
    (data,) = posts_from_atom(xml.encode(), "localllama")
    assert data["id"] == "z9"
    assert data["name"] == "t3_z9"
    assert data["title"] == "Tom & Jerry <3"
    assert data["author"] == "u1"
    assert data["subreddit"] == "LocalLLaMA"
    assert data["created_utc"] == T0
    assert data["permalink"] == "/r/LocalLLaMA/comments/z9/post_z9/"
    with pytest.raises(RedditUnavailable, match="not a feed"):
        posts_from_atom(b"{}", "x")
    with pytest.raises(RedditUnavailable):  # bytes are the document, never a path to open
        posts_from_atom(b"/etc/hostname", "x")


# --------------------------------------------------------------------------- pacing


async def test_priority_pacer_serves_on_demand_before_background() -> None:
    time = ManualTime()
    pacer = PriorityPacer(1, time.clock, time.sleep)
    await pacer.acquire(Priority.BACKGROUND)  # the minute's only slot
    order: list[str] = []

    async def take(priority: Priority, tag: str) -> None:
        await pacer.acquire(priority)
        order.append(tag)

    tasks = [asyncio.create_task(take(Priority.BACKGROUND, f"poll{i}")) for i in range(3)]
    await settle()
    tasks.append(asyncio.create_task(take(Priority.ON_DEMAND, "digest")))
    await settle()
    assert order == []
    await time.advance(60)
    assert order == ["digest"]
    await time.advance(60)
    assert order == ["digest", "poll0"]
    await time.advance(120)
    assert order == ["digest", "poll0", "poll1", "poll2"]
    await asyncio.gather(*tasks)


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    time = ManualTime()
    pacer = PriorityPacer(1, time.clock, time.sleep)
    await pacer.acquire(Priority.ON_DEMAND)
    waiter = asyncio.create_task(pacer.acquire(Priority.ON_DEMAND))
    other = asyncio.create_task(pacer.acquire(Priority.BACKGROUND))
    await settle()
    waiter.cancel()
    await settle()
    assert pacer.waiting() == 1
    await time.advance(60)
    await other


async def test_ten_requests_a_minute_and_on_demand_first(
    fake: FakeReddit, polled: PublicRedditSource, manual: ManualTime
) -> None:
    fake.add_full_thread(make_post("th1", num_comments=5), generate_comment_tree("th1", 5))
    fake.add_submission("alpha", make_post("a1", subreddit="alpha"))
    await polled.listing("alpha", ListingSort.NEW)  # t=0
    await manual.advance(1)
    await asyncio.gather(*(polled.listing("alpha", ListingSort.NEW) for _ in range(9)))
    assert len(fake.requests) == 10  # the whole minute's budget
    background = asyncio.create_task(polled.posts(["a1"]))
    await settle()
    on_demand = asyncio.create_task(polled.fetch_thread(ThreadRef("th1"), Depth.BRIEF))
    await settle()
    await manual.advance(58)
    await asyncio.sleep(0.1)
    assert len(fake.requests) == 10  # t=59: none more
    await manual.advance(1)  # t=60: one slot frees, and the digest, queued last, takes it
    await on_demand
    assert [r.path for r in fake.requests[10:]] == ["/comments/th1.json"]
    assert not background.done()
    await manual.advance(1)
    await background
    assert [r.path for r in fake.requests[10:]] == ["/comments/th1.json", "/by_id/t3_a1.json"]


async def test_reddit_says_wait_and_it_is_obeyed(
    manual: ManualTime,
) -> None:
    async with FakeReddit(public_ratelimit_budget=2, public_ratelimit_window=600) as fake:
        fake.add_submission("alpha", make_post("a1", subreddit="alpha"))
        async with PublicRedditSource(
            _config(fake, requests_per_minute=100), clock=manual.clock, sleep=manual.sleep
        ) as src:
            await src.listing("alpha", ListingSort.NEW)
            assert src.quota().remaining == 1
            await src.listing("alpha", ListingSort.NEW)
            quota = src.quota()
            assert (quota.remaining, quota.used) == (0, 2)
            assert quota.reset_at is not None
            # Nothing left until the reset (~600 s): a person is told, not kept waiting...
            with pytest.raises(RateLimited) as err:
                await src.listing("alpha", ListingSort.NEW)
            assert err.value.reset_at is not None
            assert err.value.reset_at > datetime.now(UTC) + timedelta(seconds=500)
            assert len(fake.requests) == 2
            # ...and background work waits for the reset.
            waiting = asyncio.create_task(src.posts(["a1"]))
            await manual.advance(500)
            await asyncio.sleep(0.1)
            assert len(fake.requests) == 2
            waiting.cancel()
            await asyncio.gather(waiting, return_exceptions=True)


# --------------------------------------------------------------------------- refusals


def _one_sentence(text: str) -> None:
    assert "\n" not in text
    assert "Traceback" not in text
    assert text.endswith(".")
    assert ". " not in text.rstrip(".").replace("e.g. ", ""), text


@pytest.mark.parametrize(
    ("fault", "error", "words"),
    [
        ({"status": 403, "body": BLOCK_PAGE_HTML}, RedditUnavailable, "refused anonymous access"),
        ({"status": 404}, ThreadNotFound, "no thread with id abc12"),
        ({"status": 403, "reason": "private"}, SubredditUnavailable, "r/secretsub is private"),
        ({"status": 403, "reason": "quarantined"}, SubredditUnavailable, "quarantined"),
        ({"status": 403, "reason": "gated"}, SubredditUnavailable, "gated"),
        ({"status": 404, "reason": "banned"}, SubredditUnavailable, "banned"),
        ({"status": 503, "times": 2}, RedditUnavailable, "having trouble"),
        ({"status": 500, "times": 2}, RedditUnavailable, "having trouble"),
        ({"status": 418}, RedditUnavailable, "unexpected error (418)"),
    ],
)
async def test_refusals_are_one_sentence(
    fake: FakeReddit,
    source: PublicRedditSource,
    fault: dict[str, Any],
    error: type[SourceError],
    words: str,
) -> None:
    fake.fail_next(r"^/comments/", **fault)
    with pytest.raises(error) as err:
        await source.fetch_thread(ThreadRef("abc12", subreddit="secretsub"), Depth.BRIEF)
    assert type(err.value).__module__ != "aiohttp"
    assert words in err.value.user_message
    _one_sentence(err.value.user_message)


async def test_the_block_page_says_what_to_do(
    fake: FakeReddit, source: PublicRedditSource, caplog: Any
) -> None:
    fake.block_json = True
    fake.add_submission("alpha", make_post("a1", subreddit="alpha"))
    with caplog.at_level(logging.WARNING), pytest.raises(RedditUnavailable) as err:
        await source.listing("alpha", ListingSort.TOP)
    message = err.value.user_message
    for words in ("try again later", "REDDIT_CLIENT_ID", "REDIGEST_REDDIT_PUBLIC_URL"):
        assert words in message
    assert "blocked by network security" in caplog.text
    assert "REDDIT_CLIENT_ID" in caplog.text
    assert len(fake.requests) == 1  # a refusal is not retried


async def test_429_is_rate_limited_until_retry_after(
    fake: FakeReddit, source: PublicRedditSource, caplog: Any
) -> None:
    fake.fail_next(r"^/comments/", 429, headers={"Retry-After": "42"})
    with caplog.at_level(logging.WARNING), pytest.raises(RateLimited) as err:
        await source.fetch_thread(ThreadRef("abc12"), Depth.BRIEF)
    assert err.value.reset_at is not None
    left = (err.value.reset_at - datetime.now(UTC)).total_seconds()
    assert 35 < left <= 42
    assert "UTC" in err.value.user_message
    _one_sentence(err.value.user_message)
    assert "REDIGEST_REDDIT_PUBLIC_RPM" in caplog.text
    assert source.pacer.held_for() > 40


async def test_a_server_error_is_retried_once(fake: FakeReddit, source: PublicRedditSource) -> None:
    fake.add_full_thread(make_post("ok1", num_comments=3), generate_comment_tree("ok1", 3))
    fake.fail_next(r"^/comments/", 502)
    thread = await source.fetch_thread(ThreadRef("ok1"), Depth.BRIEF)
    assert len(thread.comments) == 3
    assert [r.status for r in fake.requests] == [502, 200]


async def test_server_errors_twice_are_one_sentence(
    fake: FakeReddit, source: PublicRedditSource
) -> None:
    fake.fail_next(r"^/comments/", 503, times=5)
    with pytest.raises(RedditUnavailable, match="trouble"):
        await source.fetch_thread(ThreadRef("abc12"), Depth.BRIEF)
    assert len(fake.requests) == 2  # one retry inside the budget, no more


async def test_timeouts_and_unreachable(fake: FakeReddit) -> None:
    fake.fail_next(r"^/comments/", None, delay=2.0, times=2)
    time = FastTime()
    async with PublicRedditSource(
        _config(fake, timeout_seconds=0.2), clock=time.clock, sleep=time.sleep
    ) as src:
        with pytest.raises(RedditUnavailable) as err:
            await src.fetch_thread(ThreadRef("abc12"), Depth.BRIEF)
        _one_sentence(err.value.user_message)
        assert "did not answer in time" in err.value.user_message
    assert len(fake.calls(r"^/comments/")) == 2
    assert time.slept == [2.0]  # the short backoff before the one retry
    async with PublicRedditSource(
        PublicConfig(base_url="http://127.0.0.1:1"), clock=time.clock, sleep=time.sleep
    ) as src:
        with pytest.raises(RedditUnavailable, match="could not be reached"):
            await src.listing("alpha", ListingSort.NEW)


async def test_a_web_page_instead_of_json(fake: FakeReddit, source: PublicRedditSource) -> None:
    fake.fail_next(r"^/comments/", 200, body="<html><body>Sign in</body></html>")
    with pytest.raises(RedditUnavailable, match="web page instead"):
        await source.fetch_thread(ThreadRef("abc12"), Depth.BRIEF)


# --------------------------------------------------------------------------- the rest


async def test_quota_from_the_headers(fake: FakeReddit, source: PublicRedditSource) -> None:
    assert source.quota().remaining is None
    fake.add_submission("alpha", make_post("a1", subreddit="alpha"))
    await source.listing("alpha", ListingSort.NEW)
    quota = source.quota()
    assert quota.remaining == 10_000_000 - 1
    assert quota.used == 1
    assert quota.reset_at is not None


def test_default_user_agent_names_the_project_and_version() -> None:
    ua = default_user_agent()
    assert ua.startswith(f"redigest/{importlib.metadata.version('redigest')} (")
    assert "github.com" in ua
    assert PublicConfig().user_agent == ua
    assert PublicConfig().base_url == "https://www.reddit.com"
    assert PublicConfig().requests_per_minute == 10


async def test_the_fake_keeps_oauth_paths_behind_a_token(fake: FakeReddit) -> None:
    fake.add_full_thread(make_post("tok1"), [])
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{fake.base_url}/comments/tok1/") as r:
            assert r.status == 401
        async with session.get(f"{fake.base_url}/comments/tok1.json") as r:
            assert r.status == 200
            assert r.headers["x-ratelimit-used"] == "1"  # the anonymous budget's first
        fake.block_json = True
        async with session.get(f"{fake.base_url}/comments/tok1.json") as r:
            assert r.status == 403
            assert r.content_type == "text/html"
            assert "blocked by network security" in await r.text()
        async with session.get(f"{fake.base_url}/r/test/new/.rss") as r:
            assert r.status == 200
            assert r.content_type == "application/atom+xml"
