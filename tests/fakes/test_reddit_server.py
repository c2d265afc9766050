"""The fake Reddit server, exercised with the real asyncpraw client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import asyncpraw
import asyncprawcore
import pytest
from asyncpraw.models import Comment, MoreComments, Submission
from asyncpraw.models.comment_forest import CommentForest
from asyncprawcore.sessions import FiniteRetryStrategy

from tests.fakes.reddit_server import (
    MORECHILDREN_BATCH,
    FakeReddit,
    SubredditState,
    error_body,
    generate_comment_tree,
    load_cassette_continue_responses,
    load_morechildren_pairs,
    make_post,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
REDDIT = DATA / "reddit"
CASSETTES = REDDIT / "cassettes" / "praw"

JSONDict = dict[str, Any]

# asyncprawcore 4.0.0 sends the token request's client credentials with
# ``auth=aiohttp.BasicAuth(...)``; aiohttp 3.14 deprecates both the class and the
# ``auth=`` argument, so every real token fetch warns (an error under our settings).


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(
            f"shared test data not available: {path} (expected /work/shared/data next to the repo)"
        )
    return path


def _load(path: Path) -> Any:
    return json.loads(_require(path).read_text(encoding="utf-8"))


@pytest.fixture
async def server() -> AsyncIterator[FakeReddit]:
    # A huge budget: with Reddit's real 600 per 600 s asyncprawcore paces itself to
    # one request per second.
    async with FakeReddit(ratelimit_budget=10_000_000) as fake:
        yield fake


@pytest.fixture
async def reddit(server: FakeReddit) -> AsyncIterator[asyncpraw.Reddit]:
    async with asyncpraw.Reddit(**server.reddit_kwargs()) as client:
        yield client


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """asyncprawcore sleeps 0-2 s, then 2-4 s before its two retries; skip that."""

    def no_sleep(self: FiniteRetryStrategy) -> float | None:
        return None

    monkeypatch.setattr(FiniteRetryStrategy, "_sleep_seconds", no_sleep)


def _t1(items: list[Comment | MoreComments]) -> list[Comment]:
    return [c for c in items if isinstance(c, Comment)]


def _stubs(items: list[Comment | MoreComments]) -> list[MoreComments]:
    return [c for c in items if isinstance(c, MoreComments)]


def _top_level(forest: CommentForest) -> list[Comment | MoreComments]:
    return [forest[i] for i in range(len(forest))]


def _add_synthetic(server: FakeReddit, post_id: str = "syn1", count: int = 1000) -> list[JSONDict]:
    comments = generate_comment_tree(post_id, count, seed=7)
    server.add_full_thread(make_post(post_id, subreddit="redigest", title="Synthetic"), comments)
    return comments


# ------------------------------------------------------------------ recorded threads


async def test_recorded_thread_replace_more_three(
    server: FakeReddit, reddit: asyncpraw.Reddit
) -> None:
    thread = _load(REDDIT / "praw" / "announcements_n49rw_2016.json")
    pairs = load_morechildren_pairs(REDDIT / "praw" / "announcements_n49rw_2016_morechildren.json")
    cassette = _require(CASSETTES / "TestCommentForest.test_replace__all_large.json")
    server.add_thread(thread, pairs, load_cassette_continue_responses(cassette, "n49rw"))

    submission = await reddit.submission("n49rw")
    before = _t1(submission.comments.list())
    assert len(before) == 485
    assert submission.title == "We're back"

    left = await submission.comments.replace_more(limit=3)

    after = _t1(submission.comments.list())
    assert len(after) > len(before)
    assert len({c.id for c in after}) == len(after)
    calls = server.morechildren_calls
    assert len(calls) == 3
    # asyncpraw sent the recorded stubs' children, so every answer is the recording.
    assert [c.served_from for c in calls] == ["recorded"] * 3
    assert len(calls[0].form["children"].split(",")) == 478
    assert calls[0].form["link_id"] == "t3_n49rw"
    assert calls[0].form["api_type"] == "json"
    assert calls[0].query == {"raw_json": "1"}
    # The 174 stubs not replaced (plus those the answers brought) are handed back and
    # removed from the forest.
    assert len(left) >= 177 - 3
    assert _stubs(submission.comments.list()) == []
    (page,) = server.calls(r"^/comments/n49rw/?$")
    assert page.query == {"limit": "2048", "sort": "confidence", "raw_json": "1"}


async def test_recorded_thread_full_replay_with_continue_threads(
    server: FakeReddit, reddit: asyncpraw.Reddit
) -> None:
    thread = _load(REDDIT / "praw" / "funny_3hahrw_2016.json")
    pairs = load_morechildren_pairs(REDDIT / "praw" / "funny_3hahrw_2016_morechildren.json")
    cassette = _require(CASSETTES / "TestCommentForest.test_replace__all.json")
    server.add_thread(thread, pairs, load_cassette_continue_responses(cassette, "3hahrw"))

    submission = await reddit.submission("3hahrw")
    first = len(_t1(submission.comments.list()))
    left = await submission.comments.replace_more(limit=None)

    assert left == []
    everything = submission.comments.list()
    assert _stubs(everything) == []
    assert len(everything) > first
    assert len({c.id for c in _t1(everything)}) == len(everything)
    assert len(server.morechildren_calls) == 12
    continued = server.calls(r"^/comments/3hahrw/_/")
    assert len(continued) == 6
    assert {c.served_from for c in server.morechildren_calls + continued} == {"recorded"}


async def test_recorded_morechildren_assembled_and_missing_continue(
    server: FakeReddit, reddit: asyncpraw.Reddit
) -> None:
    thread = _load(REDDIT / "praw" / "announcements_n49rw_2016.json")
    raw_pairs = _load(REDDIT / "praw" / "announcements_n49rw_2016_morechildren.json")
    server.add_thread(thread, raw_pairs)  # raw file shape is accepted too; no cassette

    # A subset no recorded request asked for: assembled from the recorded things.
    things = await reddit.post(
        "api/morechildren/",
        data={"children": "c364nuk,c364o1f", "link_id": "t3_n49rw", "sort": "confidence"},
    )
    ids = [t.id for t in things if isinstance(t, Comment)]
    assert ids[:2] == ["c364nuk", "c364qqg"]  # parent, then its recorded reply
    assert "c364o1f" in ids
    assert ids.index("c36585x") > ids.index("c364o1f")  # a recorded reply of c364o1f
    assert server.morechildren_calls[-1].served_from == "assembled"

    with pytest.raises(asyncprawcore.NotFound):
        await reddit.get("comments/n49rw/_/c3669tv", params={"limit": 2048})


# ------------------------------------------------------------------ synthetic threads


async def test_full_tree_first_page_respects_limit(
    server: FakeReddit, reddit: asyncpraw.Reddit
) -> None:
    _add_synthetic(server)
    submission = await reddit.submission("syn1", fetch=False)
    submission.comment_limit = 150
    await submission.load()

    items = submission.comments.list()
    assert len(_t1(items)) == 150
    stubs = _stubs(items)
    assert stubs
    assert sum(m.count for m in stubs) == 1000 - 150  # every hidden comment is counted once
    assert server.calls(r"^/comments/syn1")[0].query["limit"] == "150"

    default = await reddit.submission("syn1")  # asyncpraw asks for 2048; Reddit caps at 500
    assert len(_t1(default.comments.list())) == 500


async def test_full_tree_depth_and_sort(server: FakeReddit, reddit: asyncpraw.Reddit) -> None:
    comments = _add_synthetic(server)
    listing = await reddit.get("comments/syn1/", params={"limit": 500, "depth": 3})
    everything: list[Comment | MoreComments] = []
    for item in listing[1].children:
        everything.append(item)
        if isinstance(item, Comment):
            everything.extend(item.replies.list())
    assert max(c.depth for c in _t1(everything)) == 2
    continues = [m for m in _stubs(everything) if m.count == 0 and m.name == "t1__"]
    assert continues
    assert {m.parent_id for m in continues} <= {c.name for c in _t1(everything) if c.depth == 2}

    by_score = await reddit.submission("syn1")  # sort=confidence: score order
    top_scores = [c.score for c in _t1(_top_level(by_score.comments))]
    assert top_scores == sorted(top_scores, reverse=True)

    newest = await reddit.submission("syn1", fetch=False)
    newest.comment_sort = "new"
    await newest.load()
    created = [c.created_utc for c in _t1(_top_level(newest.comments))]
    assert created == sorted(created, reverse=True)
    top_level = [c["created_utc"] for c in comments if c["parent_id"] == "t3_syn1"]
    assert created[0] == max(top_level)


async def test_full_tree_replace_more_everything(
    server: FakeReddit, reddit: asyncpraw.Reddit
) -> None:
    comments = _add_synthetic(server)
    submission = await reddit.submission("syn1")
    assert _stubs(submission.comments.list())

    left = await submission.comments.replace_more(limit=None)

    assert left == []
    everything = submission.comments.list()
    assert _stubs(everything) == []
    got = {c.id: c for c in _t1(everything)}
    assert len(got) == len(everything) == 1000
    assert set(got) == {c["id"] for c in comments}
    assert all(got[c["id"]].parent_id == c["parent_id"] for c in comments)
    assert len(server.morechildren_calls) >= (1000 - 500) // MORECHILDREN_BATCH
    # The 14-deep reply chain passes Reddit's depth cap: continue-this-thread fetches.
    assert server.calls(r"^/comments/syn1/_/")
    assert all(r.status == 200 for r in server.requests)


async def test_morechildren_batch_and_parent_order(server: FakeReddit) -> None:
    comments = _add_synthetic(server)
    top_level = [c["id"] for c in comments if c["parent_id"] == "t3_syn1"]
    async with _raw_session(server) as (session, headers):
        form = {"api_type": "json", "children": ",".join(top_level), "link_id": "t3_syn1"}
        async with session.post(
            f"{server.base_url}/api/morechildren/", data=form, headers=headers
        ) as resp:
            body = await resp.json()
    things = body["json"]["data"]["things"]
    t1 = [t["data"] for t in things if t["kind"] == "t1"]
    assert len(t1) == MORECHILDREN_BATCH
    seen = {"t3_syn1"}
    for data in t1:
        assert data["parent_id"] in seen or data["id"] in top_level
        seen.add(data["name"])
    stubs = [t["data"] for t in things if t["kind"] == "more"]
    assert sum(s["count"] for s in stubs) + len(t1) == sum(
        1 for c in comments if _root_of(c, comments) in top_level
    )


def _root_of(comment: JSONDict, comments: list[JSONDict]) -> str:
    by_name = {c["name"]: c for c in comments}
    while comment["parent_id"].startswith("t1_"):
        comment = by_name[comment["parent_id"]]
    return str(comment["id"])


@asynccontextmanager
async def _raw_session(
    server: FakeReddit,
) -> AsyncIterator[tuple[aiohttp.ClientSession, dict[str, str]]]:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{server.base_url}/api/v1/access_token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": aiohttp.encode_basic_auth("id", "secret")},
        ) as resp:
            token = (await resp.json())["access_token"]
        yield session, {"Authorization": f"bearer {token}"}


# ------------------------------------------------------------------ listings


def _posts(server: FakeReddit, count: int, subreddit: str = "redigest") -> list[JSONDict]:
    now = server.clock()
    return [
        server.add_submission(
            subreddit,
            make_post(
                f"p{i:03d}", subreddit=subreddit, score=(i * 37) % 101, created_utc=now - 3600 * i
            ),
        )
        for i in range(count)
    ]


async def test_listing_paging_with_after(server: FakeReddit, reddit: asyncpraw.Reddit) -> None:
    _posts(server, 250)
    subreddit = await reddit.subreddit("redigest")

    newest = [s.id async for s in subreddit.new(limit=None)]

    assert newest == [f"p{i:03d}" for i in range(250)]
    pages = server.calls(r"^/r/redigest/new$")
    assert [p.query.get("after") for p in pages] == [None, "t3_p099", "t3_p199"]
    assert [p.query["limit"] for p in pages] == ["1024"] * 3  # capped at 100 by the server

    small = [s.id async for s in subreddit.new(limit=30)]
    assert small == newest[:30]


async def test_listing_top_hot_and_about(server: FakeReddit, reddit: asyncpraw.Reddit) -> None:
    posts = _posts(server, 60)
    sticky = make_post("sticky", subreddit="redigest", score=0, stickied=True, created_utc=0.0)
    server.add_submission("redigest", sticky)
    subreddit = await reddit.subreddit("redigest")

    day = [s async for s in subreddit.top(time_filter="day", limit=None)]
    assert {s.id for s in day} == {
        p["id"] for p in posts if p["created_utc"] >= server.clock() - 86400
    }
    assert [s.score for s in day] == sorted((s.score for s in day), reverse=True)
    assert server.calls(r"^/r/redigest/top$")[0].query["t"] == "day"
    everything = [s async for s in subreddit.top(time_filter="all", limit=None)]
    assert len(everything) == 61

    hot = [s async for s in subreddit.hot(limit=5)]
    assert hot[0].id == "sticky"

    about = await reddit.subreddit("redigest", fetch=True)
    assert about.display_name == "redigest"
    assert about.subscribers == 1000

    with pytest.raises(asyncprawcore.Redirect):
        _ = [s async for s in (await reddit.subreddit("nosuchsub")).new(limit=5)]


async def test_stream_yields_submission_added_at_runtime(
    server: FakeReddit, reddit: asyncpraw.Reddit
) -> None:
    _posts(server, 5)
    subreddit = await reddit.subreddit("redigest")

    received: list[Submission] = []
    async with asyncio.timeout(5):
        polls = 0
        async for item in subreddit.stream.submissions(skip_existing=True, pause_after=0):
            polls += 1
            if item is not None:
                received.append(item)
                break
            if polls == 1:
                # Published once the stream has skipped what existed and polled empty (its
                # first None), never during the first poll, however slow the machine.
                server.add_submission(
                    "redigest", make_post("fresh", subreddit="redigest", title="Breaking")
                )
            assert polls < 200
            await asyncio.sleep(0.02)

    assert [s.id for s in received] == ["fresh"]
    assert received[0].title == "Breaking"
    made = server.calls(r"^/r/redigest/new$")
    assert made[0].query == {"limit": "100", "raw_json": "1"}
    assert made[1].query["before"] == "t3_p000"
    # After an empty poll asyncpraw forgets ``before`` and shrinks ``limit`` instead
    # (99, 98, ...), relying on the ids it has already seen.
    assert [p.query.get("before") for p in made[2:]] == [None] * (len(made) - 2)


# ------------------------------------------------------------------ rate limit headers


async def test_ratelimit_headers_and_budget() -> None:
    async with FakeReddit(ratelimit_budget=3, ratelimit_window=600) as server:
        server.add_submission("redigest", make_post("p1", subreddit="redigest"))
        async with _raw_session(server) as (session, headers):
            seen: list[tuple[int, str, str, str]] = []
            for _ in range(4):
                async with session.get(
                    f"{server.base_url}/r/redigest/new", headers=headers
                ) as resp:
                    await resp.read()
                    seen.append(
                        (
                            resp.status,
                            resp.headers["X-Ratelimit-Remaining"],
                            resp.headers["X-Ratelimit-Used"],
                            resp.headers["X-Ratelimit-Reset"],
                        )
                    )
    assert [s[:3] for s in seen] == [
        (200, "2.0", "1"),
        (200, "1.0", "2"),
        (200, "0.0", "3"),
        (429, "0.0", "3"),
    ]
    assert all(0 < int(s[3]) <= 600 for s in seen)


# ------------------------------------------------------------------ faults


async def test_429_raises_too_many_requests_at_once(
    server: FakeReddit, reddit: asyncpraw.Reddit
) -> None:
    _add_synthetic(server, count=10)
    server.fail_next(
        r"^/comments/syn1", 429, headers={"X-Ratelimit-Reset": "42", "Retry-After": "42"}
    )
    with pytest.raises(asyncprawcore.TooManyRequests) as caught:
        await reddit.submission("syn1")
    assert caught.value.response.headers["Retry-After"] == "42"
    assert len(server.calls(r"^/comments/syn1")) == 1  # 429 is not retried


@pytest.mark.parametrize(
    ("status", "reason", "exception", "body"),
    [
        (
            403,
            "private",
            asyncprawcore.Forbidden,
            {"reason": "private", "message": "Forbidden", "error": 403},
        ),
        (403, "quarantined", asyncprawcore.Forbidden, error_body(403, "quarantined")),
        (403, "gated", asyncprawcore.Forbidden, error_body(403, "gated")),
        (404, None, asyncprawcore.NotFound, {"message": "Not Found", "error": 404}),
        (
            404,
            "banned",
            asyncprawcore.NotFound,
            {"reason": "banned", "message": "Not Found", "error": 404},
        ),
    ],
)
async def test_client_error_faults(
    server: FakeReddit,
    reddit: asyncpraw.Reddit,
    status: int,
    reason: str | None,
    exception: type[asyncprawcore.ResponseException],
    body: JSONDict,
) -> None:
    _add_synthetic(server, count=10)
    server.fail_next(r"^/comments/", status, reason=reason)
    with pytest.raises(exception) as caught:
        await reddit.submission("syn1")
    assert caught.value.response.status == status
    (call,) = server.calls(r"^/comments/")
    assert call.response_body == body


@pytest.mark.parametrize("state", ["private", "quarantined", "banned"])
async def test_subreddit_state(
    server: FakeReddit, reddit: asyncpraw.Reddit, state: SubredditState
) -> None:
    _add_synthetic(server, count=10)
    server.set_subreddit_state("redigest", state)
    expected = asyncprawcore.NotFound if state == "banned" else asyncprawcore.Forbidden
    with pytest.raises(expected):
        await reddit.subreddit("redigest", fetch=True)
    assert server.requests[-1].response_body["reason"] == state
    with pytest.raises(expected):
        await reddit.submission("syn1")  # its threads are closed too


@pytest.mark.usefixtures("fast_retries")
@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_retried_then_raised(
    server: FakeReddit, reddit: asyncpraw.Reddit, status: int
) -> None:
    _add_synthetic(server, count=10)
    server.fail_next(r"^/comments/syn1", status, times=3)
    with pytest.raises(asyncprawcore.ServerError):
        await reddit.submission("syn1")
    assert [r.status for r in server.calls(r"^/comments/syn1")] == [status] * 3  # 1 try + 2 retries


@pytest.mark.usefixtures("fast_retries")
async def test_server_error_recovers_on_retry(server: FakeReddit, reddit: asyncpraw.Reddit) -> None:
    _add_synthetic(server, count=10)
    server.fail_next(r"^/api/morechildren", 503, times=2)
    submission = await reddit.submission("syn1", fetch=False)
    submission.comment_limit = 3
    await submission.load()
    await submission.comments.replace_more(limit=None)
    assert len(submission.comments.list()) == 10
    assert [r.status for r in server.morechildren_calls][:3] == [503, 503, 200]


class _ShortTimeoutRequestor(asyncprawcore.Requestor):
    """asyncprawcore always passes its 16 s default; force a short client timeout."""

    @asynccontextmanager
    async def request(self, *args: Any, **kwargs: Any) -> AsyncIterator[aiohttp.ClientResponse]:
        kwargs["timeout"] = 0.2
        async with super().request(*args, **kwargs) as response:
            yield response


async def test_delay_causes_client_timeout(server: FakeReddit) -> None:
    _add_synthetic(server, count=10)
    server.fail_next(r"^/comments/syn1", None, delay=1.0)
    kwargs = server.reddit_kwargs(requestor_class=_ShortTimeoutRequestor)
    async with asyncpraw.Reddit(**kwargs) as reddit:
        with pytest.raises(asyncprawcore.RequestException) as caught:
            await reddit.submission("syn1")
    assert isinstance(caught.value.original_exception, TimeoutError)
    assert len(server.calls(r"^/comments/syn1")) == 1  # timeouts are not retried


async def test_bad_client_credentials_401() -> None:
    async with FakeReddit(client_id="right-id", client_secret="right-secret") as server:
        _add_synthetic(server, count=3)
        async with asyncpraw.Reddit(**server.reddit_kwargs(client_secret="wrong")) as reddit:
            with pytest.raises(asyncprawcore.ResponseException) as caught:
                await reddit.submission("syn1")
        assert caught.value.response.status == 401
        assert server.calls(r"access_token")[0].status == 401
        async with asyncpraw.Reddit(**server.reddit_kwargs()) as reddit:
            assert (await reddit.submission("syn1")).id == "syn1"


async def test_token_failure_modes(server: FakeReddit) -> None:
    _add_synthetic(server, count=3)
    server.token_failure = "invalid_grant"
    async with asyncpraw.Reddit(**server.reddit_kwargs()) as reddit:
        with pytest.raises(asyncprawcore.OAuthException, match="invalid_grant"):
            await reddit.submission("syn1")
    server.token_failure = "unauthorized"
    async with asyncpraw.Reddit(**server.reddit_kwargs()) as reddit:
        with pytest.raises(asyncprawcore.ResponseException) as caught:
            await reddit.submission("syn1")
    assert caught.value.response.status == 401


async def test_wrong_password_is_invalid_grant() -> None:
    async with FakeReddit(username="bot", password="hunter2") as server:
        _add_synthetic(server, count=3)
        kwargs = server.reddit_kwargs(username="bot", password="wrong")
        async with asyncpraw.Reddit(**kwargs) as reddit:
            with pytest.raises(asyncprawcore.OAuthException, match="invalid_grant"):
                await reddit.submission("syn1")
        assert server.calls(r"access_token")[0].form["grant_type"] == "password"


@pytest.mark.usefixtures("fast_retries")
async def test_revoked_token_is_refreshed(server: FakeReddit, reddit: asyncpraw.Reddit) -> None:
    _add_synthetic(server, count=3)
    await reddit.submission("syn1")
    server.revoke_tokens()
    await reddit.submission("syn1")
    assert server.tokens_issued == 2
    assert [r.status for r in server.calls(r"^/comments/syn1")] == [200, 401, 200]
