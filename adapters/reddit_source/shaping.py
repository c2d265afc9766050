"""What the two live Reddit sources ask and how they read the answers, once for both: the OAuth
source (live.py, through asyncpraw) and the public one (public.py, anonymous HTTP).

Each source only adds its own transport: the path's spelling (`comments/ID/` there,
`/comments/ID.json` here), pacing, and how a refusal becomes a SourceError. The sentences a person
reads for a refusal both sources share live here too. No SDK is imported: the public source and
the tests use this without asyncpraw.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from adapters.reddit_source.thread_json import flatten, nest, post_from_data, thread_from_json
from bot.ports import (
    InvalidThreadUrl,
    ListingSort,
    SubredditUnavailable,
    ThreadNotFound,
    ThreadRef,
    TopPeriod,
)
from bot.thread_ref import EXAMPLE, ShareLink, parse_thread_text
from digest.model import Post, Thread

BY_ID_BATCH = 100  # posts per /api/info or /by_id request (Reddit's limit)
LISTING_MAX = 1000  # posts a listing can page through (Reddit's limit)
LISTING_PAGE = 100  # posts per listing request (Reddit's limit)

NO_ANSWER = "Reddit did not answer in time; try again in a minute."
TROUBLE = (
    "Reddit is having trouble right now (it answered with a server error); "
    "try again in a few minutes."
)
GARBLED = "Reddit sent something that is not a thread; try again later."

_REASONS = {
    "private": "r/{sub} is private: only its approved members can read it.",
    "quarantined": "r/{sub} is quarantined: Reddit hides it from API clients that have not opted in.",
    "gated": "r/{sub} is gated behind a content warning that API clients cannot accept.",
    "gold_only": "r/{sub} is only open to Reddit Premium members.",
    "banned": "r/{sub} is banned by Reddit.",
}


def subreddit_error(reason: str, sub: str | None) -> SubredditUnavailable:
    """Reddit's reason for refusing a subreddit (private, banned, …) as one sentence."""
    name = sub or "This subreddit"
    text = _REASONS.get(reason, "r/{sub} cannot be read (Reddit said: " + reason + ").")
    message = text.format(sub=name) if sub else text.replace("r/{sub}", name)
    return SubredditUnavailable(message, reason)


@dataclass(frozen=True, slots=True)
class FetchPlan:
    """How a depth fetches: the first request's shape and the requests allowed after it."""

    requests: int  # API requests after the token, the first GET included
    limit: int  # comments asked for in the first request (Reddit caps at 500)
    max_depth: int  # reply depth asked for in the first request
    sort: str = "top"


@dataclass(frozen=True, slots=True)
class ThreadRequest:
    """The first request of a thread: `path` without the source's spelling around it."""

    path: str  # comments/ID or comments/ID/_/COMMENT
    params: dict[str, str]
    what: str  # what a refusal names: "thread with id …", "comment … in thread …"


def comments_path(post_id: str, comment_id: str | None = None) -> str:
    return f"comments/{post_id}/_/{comment_id}" if comment_id else f"comments/{post_id}"


def thread_request(ref: ThreadRef, plan: FetchPlan) -> ThreadRequest:
    params = {
        "raw_json": "1",
        "sort": plan.sort,
        "limit": str(min(plan.limit, 500)),
        "depth": str(plan.max_depth),
    }
    if not ref.comment_id:
        return ThreadRequest(comments_path(ref.post_id), params, f"thread with id {ref.post_id}")
    params["context"] = "2"
    return ThreadRequest(
        comments_path(ref.post_id, ref.comment_id),
        params,
        f"comment {ref.comment_id} in thread {ref.post_id}",
    )


def first_page(raw: list[Any]) -> list[dict[str, Any]]:
    """The comments and stubs (flat) of a thread's first answer: [post listing, comments]."""
    return flatten(children(raw[1])) if len(raw) > 1 else []


def continue_params(sort: str) -> dict[str, str]:
    """A continue-thread stub's request: the comment's page, as many replies as Reddit gives."""
    return {"limit": "500", "sort": sort, "raw_json": "1"}


def continued(raw: Any, comment_id: str) -> list[dict[str, Any]]:
    """The flat things of a continue-thread answer, less the comment the stub hung under (the
    caller already has it)."""
    if not (isinstance(raw, list) and len(raw) > 1):
        return []
    return [t for t in flatten(children(raw[1])) if t["data"].get("id") != comment_id]


def more_params(post_id: str, ids: Sequence[str], sort: str) -> dict[str, str]:
    """One `/api/morechildren` request for these comment ids."""
    return {
        "api_type": "json",
        "link_id": f"t3_{post_id}",
        "children": ",".join(ids),
        "sort": sort,
        "raw_json": "1",
    }


def more_things(answer: Any) -> list[dict[str, Any]]:
    """The flat things of a morechildren answer (anything else: none)."""
    data = answer.get("json", {}).get("data", {}) if isinstance(answer, dict) else {}
    things = data.get("things") if isinstance(data, dict) else None
    return flatten(things) if isinstance(things, list) else []


def children(listing: Any) -> list[dict[str, Any]]:
    """A listing's children (what is not a dict left out)."""
    data = listing.get("data") if isinstance(listing, dict) else None
    found = data.get("children") if isinstance(data, dict) else None
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def t3_data(listing: Any) -> list[dict[str, Any]]:
    """The data of a listing's posts (t3 with an id)."""
    return [
        c["data"]
        for c in children(listing)
        if c.get("kind") == "t3" and isinstance(c.get("data"), dict) and c["data"].get("id")
    ]


def thread_of(post_listing: Any, flat: list[dict[str, Any]]) -> Thread:
    """The thread of a post listing and its comments (flat, in order), nested as Reddit does:
    CPU work that grows with the comments, for `digest.cpu.run`."""
    return thread_from_json(
        [post_listing, {"kind": "Listing", "data": {"children": nest(flat)}}], source="reddit"
    )


def focused(thread: Thread, ref: ThreadRef, what: str) -> Thread:
    """The thread as a comment link asks for it: focused on that comment, which must be there."""
    if not ref.comment_id:
        return thread
    if ref.comment_id not in thread.by_id:
        raise ThreadNotFound(f"Reddit has no {what}: it may have been deleted.")
    return replace(thread, focus_comment_id=ref.comment_id)


async def paginate(
    page: Callable[[dict[str, str]], Awaitable[Any]],
    sort: ListingSort,
    period: TopPeriod,
    limit: int,
) -> list[Post]:
    """Up to `limit` posts of a listing, a page at a time (`page(params)` fetches one and
    returns the parsed listing), following `after` until Reddit has no more."""
    limit = max(1, min(limit, LISTING_MAX))
    posts: list[Post] = []
    after: str | None = None
    while len(posts) < limit:
        params = {"limit": str(min(LISTING_PAGE, limit - len(posts))), "raw_json": "1"}
        if sort is ListingSort.TOP:
            params["t"] = period.value
        if after:
            params["after"] = after
        raw = await page(params)
        found = t3_data(raw)
        posts += [post_from_data(d) for d in found]
        data = raw.get("data") if isinstance(raw, dict) else None
        after = data.get("after") if isinstance(data, dict) else None
        if not after or not found:
            break
    return posts[:limit]


def fullname_batches(post_ids: Sequence[str]) -> Iterator[str]:
    """The ids (each once, in order) as comma-separated t3_ fullnames, BY_ID_BATCH at a time."""
    ids = list(dict.fromkeys(post_ids))
    for start in range(0, len(ids), BY_ID_BATCH):
        yield ",".join(f"t3_{i}" for i in ids[start : start + BY_ID_BATCH])


async def resolve(text: str, follow: Callable[[ShareLink], Awaitable[ThreadRef]]) -> ThreadRef:
    """The thread a URL, id or fullname names; a share link is followed (`follow`: one request)."""
    parsed = parse_thread_text(text)
    return parsed if isinstance(parsed, ThreadRef) else await follow(parsed)


def share_failure(share: ShareLink) -> InvalidThreadUrl:
    return InvalidThreadUrl(
        f"The share link {share.url} did not lead to a thread; open it in a browser and "
        f"paste the address it shows, like {EXAMPLE}"
    )


def ref_from_location(location: str, share: ShareLink) -> ThreadRef:
    """The thread a share link's redirect names (its Location header)."""
    if not location:
        raise share_failure(share)
    if location.startswith("/"):
        location = "https://www.reddit.com" + location
    try:
        parsed = parse_thread_text(location)
    except InvalidThreadUrl:
        raise share_failure(share) from None
    if not isinstance(parsed, ThreadRef):
        raise share_failure(share)
    return parsed
