"""The live Reddit source, with the real asyncpraw, against the fake Reddit on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from asyncprawcore.sessions import FiniteRetryStrategy

from adapters.reddit_source.live import (
    FetchPlan,
    RedditConfig,
    RedditSource,
    _Pacer,
)
from adapters.reddit_source.thread_json import thread_from_json
from bot.ports import (
    BadCredentials,
    InvalidSubreddit,
    InvalidThreadUrl,
    ListingSort,
    RateLimited,
    RedditUnavailable,
    SubredditUnavailable,
    ThreadNotFound,
    ThreadRef,
    TopPeriod,
)
from bot.subreddits import validate_subreddits
from bot.thread_cache import CachingThreadSource
from digest.model import ContentState
from digest.pipeline import DigestEngine
from digest.report import Depth
from tests.conftest import NO_DATA_REASON, REDDIT_DATA
from tests.fakes.reddit_server import (
    FakeReddit,
    generate_comment_tree,
    load_cassette_continue_responses,
    load_morechildren_pairs,
    make_post,
)
from tests.support.synthetic import thread_json

UA = "linux:redigest-tests:0.1 (by u/redigest)"


def _config(fake: FakeReddit, **kw: Any) -> RedditConfig:
    return RedditConfig(
        client_id="id",
        client_secret="secret",
        user_agent=UA,
        oauth_url=fake.base_url,
        auth_url=fake.base_url,
        **kw,
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeReddit]:
    async with FakeReddit(ratelimit_budget=10_000_000) as server:
        yield server


@pytest.fixture
async def source(fake: FakeReddit) -> AsyncIterator[RedditSource]:
    async with RedditSource(_config(fake)) as src:
        yield src


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """asyncprawcore sleeps 0-2 s, then 2-4 s before retrying a 5xx; tests need not wait."""
    monkeypatch.setattr(FiniteRetryStrategy, "_sleep_seconds", lambda self: None)


def _api_calls(fake: FakeReddit, since: int = 0) -> list[Any]:
    return [r for r in fake.requests[since:] if r.path != "/api/v1/access_token"]


def _t1_ids_served(requests: list[Any]) -> set[str]:
    """Independent count: every comment id in every body the fake sent back."""
    ids: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("kind") == "t1" and isinstance(node.get("data"), dict):
                ids.add(node["data"]["id"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for r in requests:
        body = r.response_body
        if isinstance(body, str | bytes):
            try:
                body = json.loads(body)
            except ValueError:
                continue
        walk(body)
    return ids


def _n49rw(fake: FakeReddit) -> str:
    base = REDDIT_DATA / "praw"
    if not (base / "announcements_n49rw_2016.json").exists():
        pytest.skip(NO_DATA_REASON)
    raw = json.loads((base / "announcements_n49rw_2016.json").read_text(encoding="utf-8"))
    pairs = load_morechildren_pairs(base / "announcements_n49rw_2016_morechildren.json")
    cassette = REDDIT_DATA / "cassettes" / "praw" / "TestCommentForest.test_replace__all_large.json"
    cont = load_cassette_continue_responses(cassette, "n49rw")
    return fake.add_thread(raw, pairs, cont)


@pytest.mark.parametrize(("depth", "budget"), [(Depth.BRIEF, 2), (Depth.DEEP, 12)])
async def test_recorded_thread_within_budget_and_counts_exact(
    fake: FakeReddit, source: RedditSource, depth: Depth, budget: int
) -> None:
    post_id = _n49rw(fake)
    thread = await source.fetch_thread(ThreadRef(post_id), depth)
    calls = _api_calls(fake)
    assert 1 < len(calls) <= budget
    assert calls[0].path.startswith("/comments/n49rw")
    assert len(fake.calls("/api/v1/access_token")) == 1
    # Exact: the comments in the model are exactly the ones Reddit (the fake) sent.
    assert {c.id for c in thread.comments} == _t1_ids_served(calls)
    report = await DigestEngine().digest(thread, depth)
    assert report.coverage.fetched == len(thread.comments)
    assert report.stats.comments_present == len(thread.comments)
    total = max(thread.post.num_comments, len(thread.comments))
    assert (
        f"analysed {report.coverage.analyzed:,} of {total:,} comments" in report.coverage.describe()
    )
    assert len(thread.more) == report.stats.unfetched_stubs


async def test_a_failed_expansion_keeps_what_was_fetched(
    fake: FakeReddit, source: RedditSource
) -> None:
    comments = generate_comment_tree("part", 900, seed=5)
    fake.add_full_thread(make_post("part", num_comments=900), comments)
    fake.fail_next(r"^/api/morechildren", 404, times=1)
    fake.fail_next(r"^/comments/part/_/", 404, times=5)
    fake.fail_next(r"^/api/morechildren", 429, times=1)
    thread = await source.fetch_thread(ThreadRef("part"), Depth.DEEP)
    assert len(thread.comments) >= 200  # the first page at least
    assert len(thread.more) > 0


async def test_first_request_asks_for_the_top_comments(
    fake: FakeReddit, source: RedditSource
) -> None:
    fake.add_full_thread(make_post("syn1", num_comments=800), generate_comment_tree("syn1", 800))
    await source.fetch_thread(ThreadRef("syn1"), Depth.DEEP)
    first = _api_calls(fake)[0]
    assert first.query["sort"] == "top"
    assert first.query["limit"] == "500"
    assert first.query["depth"] == "10"


@pytest.mark.parametrize("seed", [11, 12, 13])
async def test_expansion_finds_the_top_comments_the_first_page_missed(
    fake: FakeReddit, seed: int
) -> None:
    # A small first page, so that most of the top 50 must come from expanding `more` stubs.
    plan = FetchPlan(requests=12, limit=60, max_depth=10)
    # Scores independent of the tree: the hard case, where good replies hide anywhere.
    comments = generate_comment_tree("big", 3000, seed=seed)
    fake.add_full_thread(make_post("big", num_comments=3000), comments)
    async with RedditSource(_config(fake, plans={Depth.DEEP: plan, Depth.BRIEF: plan})) as src:
        thread = await src.fetch_thread(ThreadRef("big"), Depth.DEEP)
    calls = _api_calls(fake)
    assert len(calls) <= 12
    top50 = {c["id"] for c in sorted(comments, key=lambda c: -c["score"])[:50]}
    first_page = len(top50 & _t1_ids_served(calls[:1]))
    got = len(top50 & {c.id for c in thread.comments})
    assert got >= first_page + 10, (first_page, got)
    assert len(thread.more) > 0  # what was left unexpanded is recorded


async def test_never_replace_more_everything(fake: FakeReddit, source: RedditSource) -> None:
    fake.add_full_thread(make_post("wide", num_comments=5000), generate_comment_tree("wide", 5000))
    thread = await source.fetch_thread(ThreadRef("wide"), Depth.BRIEF)
    assert len(_api_calls(fake)) <= 2
    assert len(thread.comments) < 5000


async def test_comment_permalink_focuses_the_sub_thread(
    fake: FakeReddit, source: RedditSource
) -> None:
    comments = generate_comment_tree("foc", 300, seed=2)
    fake.add_full_thread(make_post("foc", num_comments=300), comments)
    target = next(c for c in comments if c["parent_id"].startswith("t3_"))
    ref = await source.resolve(f"https://www.reddit.com/r/test/comments/foc/x/{target['id']}/")
    thread = await source.fetch_thread(ref, Depth.BRIEF)
    assert thread.focus_comment_id == target["id"]
    assert target["id"] in thread.by_id
    report = await DigestEngine().digest(thread, Depth.BRIEF)
    assert report.focus_comment_id == target["id"]
    assert "/_/" + target["id"] in _api_calls(fake)[0].path


async def test_share_links_resolve_once(fake: FakeReddit, source: RedditSource) -> None:
    url = fake.add_share_link("test", "AbC123", "https://www.reddit.com/r/test/comments/abc12/t/")
    assert await source.resolve(url) == ThreadRef("abc12", None, "test")
    dead = fake.add_share_link("test", "Gone99", None)
    with pytest.raises(InvalidThreadUrl, match="did not lead to a thread"):
        await source.resolve(dead)


async def test_removed_post_still_digests_its_comments(
    fake: FakeReddit, source: RedditSource
) -> None:
    post = make_post("rem", num_comments=40, removed_by_category="moderator", selftext="[removed]")
    fake.add_full_thread(post, generate_comment_tree("rem", 40))
    thread = await source.fetch_thread(ThreadRef("rem"), Depth.DEEP)
    assert thread.post.state is ContentState.REMOVED
    report = await DigestEngine().digest(thread, Depth.DEEP)
    assert report.stats.comments_present == len(thread.comments) == 40
    assert any("removed" in o for o in report.observations)


@pytest.mark.parametrize(
    ("status", "reason", "error", "words"),
    [
        (404, None, ThreadNotFound, "no thread"),
        (403, "private", SubredditUnavailable, "private"),
        (403, "quarantined", SubredditUnavailable, "quarantined"),
        (403, "gated", SubredditUnavailable, "gated"),
        (404, "banned", SubredditUnavailable, "banned"),
    ],
)
async def test_errors_become_sentences(
    fake: FakeReddit,
    source: RedditSource,
    status: int,
    reason: str | None,
    error: type[Exception],
    words: str,
) -> None:
    fake.fail_next(r"^/comments/", status, reason=reason)
    with pytest.raises(error) as err:
        await source.fetch_thread(ThreadRef("abc12", subreddit="secretsub"), Depth.BRIEF)
    assert words in str(err.value)


async def test_rate_limited_says_when(fake: FakeReddit, source: RedditSource) -> None:
    fake.fail_next(r"^/comments/", 429, headers={"X-Ratelimit-Reset": "42", "Retry-After": "42"})
    with pytest.raises(RateLimited) as err:
        await source.fetch_thread(ThreadRef("abc12"), Depth.BRIEF)
    assert err.value.reset_at is not None
    assert "UTC" in err.value.user_message


@pytest.mark.usefixtures("fast_retries")
async def test_server_errors_after_bounded_retries(fake: FakeReddit, source: RedditSource) -> None:
    fake.fail_next(r"^/comments/", 503, times=5)
    with pytest.raises(RedditUnavailable, match="trouble"):
        await source.fetch_thread(ThreadRef("abc12"), Depth.BRIEF)
    assert len(fake.calls(r"^/comments/")) == 3  # asyncprawcore's three attempts, no more


async def test_timeouts(fake: FakeReddit) -> None:
    fake.fail_next(r"^/comments/", None, delay=2.0)
    async with RedditSource(_config(fake, timeout_seconds=0.2)) as src:
        with pytest.raises(RedditUnavailable, match="did not answer in time"):
            await src.fetch_thread(ThreadRef("abc12"), Depth.BRIEF)


async def test_bad_credentials_name_the_settings(fake: FakeReddit) -> None:
    fake.token_failure = "unauthorized"
    async with RedditSource(_config(fake)) as src:
        with pytest.raises(BadCredentials, match="REDDIT_CLIENT_ID"):
            await src.check_credentials()
    fake.token_failure = "invalid_grant"
    async with RedditSource(_config(fake, username="u", password="wrong")) as src:
        with pytest.raises(BadCredentials, match="REDDIT_PASSWORD"):
            await src.check_credentials()


async def test_listings_page_with_after(fake: FakeReddit, source: RedditSource) -> None:
    for i in range(150):
        fake.add_submission("LocalLLaMA", make_post(f"p{i:03d}", subreddit="LocalLLaMA", score=i))
    posts = await source.listing("r/localllama", ListingSort.TOP, period=TopPeriod.WEEK, limit=130)
    assert len(posts) == 130
    assert len({p.id for p in posts}) == 130
    calls = fake.calls(r"^/r/[^/]+/top")
    assert len(calls) == 2
    assert calls[0].query["t"] == "week"
    assert "after" in calls[1].query
    new = await source.listing("LocalLLaMA", ListingSort.NEW, limit=5)
    assert len(new) == 5
    hot = await source.listing("LocalLLaMA", ListingSort.HOT, limit=3)
    assert len(hot) == 3


async def test_unknown_subreddit(fake: FakeReddit, source: RedditSource) -> None:
    with pytest.raises(InvalidSubreddit, match="no subreddit"):
        await source.listing("doesnotexist", ListingSort.NEW, limit=5)


@pytest.mark.parametrize("bad", ["", "r/", "a", "has space", "semi;colon", "x" * 30, "r/ok+b@d"])
def test_subreddit_names_are_validated(bad: str) -> None:
    with pytest.raises(InvalidSubreddit):
        validate_subreddits(bad)


def test_subreddit_names_normalised() -> None:
    assert validate_subreddits("r/LocalLLaMA") == ["LocalLLaMA"]
    assert validate_subreddits(["/r/selfhosted/", "localllama+SelfHosted"]) == [
        "selfhosted",
        "localllama",
    ]


async def test_stream_yields_new_posts(fake: FakeReddit, source: RedditSource) -> None:
    fake.add_submission("watchme", make_post("old01", subreddit="watchme"))
    stream = source.stream(["watchme"])

    async def first() -> Any:
        async for post in stream:
            return post
        return None

    task = asyncio.create_task(first())
    # Let the stream skip what already exists: its second poll ("before" the newest it
    # skipped) comes only after the first was read, however slow the machine.
    for _ in range(3000):
        if len(fake.calls(r"^/r/watchme/new")) >= 2:
            break
        await asyncio.sleep(0.01)
    else:
        pytest.fail("the stream did not poll twice")
    fake.add_submission("watchme", make_post("new01", subreddit="watchme", title="Fresh post"))
    post = await asyncio.wait_for(task, timeout=30)
    await stream.aclose()  # type: ignore[attr-defined]
    assert post.id == "new01"
    assert post.title == "Fresh post"
    assert post.subreddit == "watchme"


async def test_quota_is_exposed(fake: FakeReddit, source: RedditSource) -> None:
    assert source.quota().remaining is None
    fake.add_full_thread(make_post("q1", num_comments=5), generate_comment_tree("q1", 5))
    await source.fetch_thread(ThreadRef("q1"), Depth.BRIEF)
    quota = source.quota()
    assert quota.remaining is not None
    assert quota.remaining > 0
    assert quota.used is not None
    assert quota.used >= 1


async def test_morechildren_never_overlap(fake: FakeReddit, source: RedditSource) -> None:
    for pid in ("m1", "m2", "m3"):
        fake.add_full_thread(make_post(pid, num_comments=1500), generate_comment_tree(pid, 1500))
    fake.fail_next(r"^/api/morechildren", None, delay=0.05, times=100)
    in_flight = 0
    peak = 0
    original = source._request

    async def counting(method: str, path: str, **kwargs: Any) -> Any:
        nonlocal in_flight, peak
        if "morechildren" not in path:
            return await original(method, path, **kwargs)
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return await original(method, path, **kwargs)
        finally:
            in_flight -= 1

    source._request = counting  # type: ignore[method-assign]
    await asyncio.gather(
        *(source.fetch_thread(ThreadRef(p), Depth.DEEP) for p in ("m1", "m2", "m3"))
    )
    assert len(fake.morechildren_calls) >= 3
    assert peak == 1


async def test_pacer_keeps_under_the_per_minute_ceiling() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = _Pacer(3, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        await pacer.wait()
    assert slept == []
    now[0] = 10.0
    await pacer.wait()
    assert slept == [50.0]


class _CountingSource:
    def __init__(self, fetch_delay: float = 0.0) -> None:
        self.fetches: list[tuple[str, Depth]] = []
        self.delay = fetch_delay

    async def fetch_thread(self, ref: ThreadRef, depth: Depth) -> Any:
        self.fetches.append((ref.key, depth))
        await asyncio.sleep(self.delay)
        return thread_from_json(thread_json(5, post_id=ref.post_id))

    async def resolve(self, text: str) -> ThreadRef:
        return ThreadRef(text)

    async def posts(self, ids: Any) -> list[Any]:
        return []

    async def listing(self, *a: Any, **k: Any) -> list[Any]:
        return []

    def stream(self, subreddits: Any) -> Any:
        raise NotImplementedError

    def quota(self) -> Any:
        return None


async def test_cache_fetches_a_thread_once_within_its_ttl() -> None:
    inner = _CountingSource(fetch_delay=0.01)
    now = [0.0]
    cache = CachingThreadSource(
        inner, ttl_seconds={Depth.BRIEF: 60, Depth.DEEP: 60}, clock=lambda: now[0]
    )
    results = await asyncio.gather(
        *(cache.fetch_thread(ThreadRef("a1"), Depth.BRIEF) for _ in range(5))
    )
    assert len(inner.fetches) == 1  # concurrent requests share one fetch
    assert all(r is results[0] for r in results)
    await cache.fetch_thread(ThreadRef("a1"), Depth.DEEP)  # deeper than cached: fetch again
    await cache.fetch_thread(ThreadRef("a1"), Depth.BRIEF)  # deep serves brief
    assert inner.fetches == [("a1/", Depth.BRIEF), ("a1/", Depth.DEEP)]
    now[0] = 61
    await cache.fetch_thread(ThreadRef("a1"), Depth.BRIEF)
    assert len(inner.fetches) == 3


async def test_cache_does_not_keep_failures() -> None:
    class Failing(_CountingSource):
        async def fetch_thread(self, ref: ThreadRef, depth: Depth) -> Any:
            self.fetches.append((ref.key, depth))
            raise ThreadNotFound("gone")

    inner = Failing()
    cache = CachingThreadSource(inner, ttl_seconds=dict.fromkeys(Depth, 60.0))
    for _ in range(2):
        with pytest.raises(ThreadNotFound):
            await cache.fetch_thread(ThreadRef("b1"), Depth.BRIEF)
    assert len(inner.fetches) == 2


def test_budget_plans_are_configurable() -> None:
    plan = FetchPlan(requests=3, limit=100, max_depth=4)
    assert plan.sort == "top"
    assert Path(__file__).exists()


async def test_posts_by_id(fake: FakeReddit, source: RedditSource) -> None:
    for i in range(3):
        fake.add_submission("watchme", make_post(f"w{i}", subreddit="watchme", score=10 * i))
    posts = await source.posts(["w0", "w2", "missing1"])
    assert sorted((p.id, p.score) for p in posts) == [("w0", 0), ("w2", 20)]


async def test_the_thread_cache_is_bounded_by_what_it_holds() -> None:
    """Ever-new threads: the cache keeps at most `max_comments` comments (and drops expired
    entries as soon as anything is added), so memory follows the bound, not the traffic."""
    now = [0.0]
    inner = _CountingSource()
    cache = CachingThreadSource(
        inner, ttl_seconds=dict.fromkeys(Depth, 60.0), max_comments=12, clock=lambda: now[0]
    )
    for i in range(10):
        thread = await cache.fetch_thread(ThreadRef(f"t{i}"), Depth.BRIEF)
        assert len(thread.comments) == 5
    assert sum(len(e.thread.comments) for e in cache._entries.values()) <= 12
    assert list(cache._entries) == ["t8/", "t9/"]  # keyed by ThreadRef.key
    now[0] = 61.0
    await cache.fetch_thread(ThreadRef("fresh"), Depth.BRIEF)
    assert list(cache._entries) == ["fresh/"]  # the expired ones went at once
