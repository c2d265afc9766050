"""Every number a report shows is computed here, from the thread, never written by a model."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from digest.model import ContentState, Thread
from digest.text import find_urls


class LinkCategory(StrEnum):
    PAPER = "papers"
    CODE = "code"
    MODEL = "models and datasets"
    NEWS = "news and blogs"
    REDDIT = "reddit"
    MEDIA = "images and video"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class LinkSource:
    """Where a link was found: the post itself, or a comment (with its author and score)."""

    comment_id: str | None  # None: the post
    author: str | None
    score: int


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    domain: str
    category: LinkCategory
    found_in: tuple[LinkSource, ...]

    @property
    def mentions(self) -> int:
        return len(self.found_in)

    @property
    def best_score(self) -> int:
        return max(s.score for s in self.found_in)


@dataclass(frozen=True, slots=True)
class ThreadStats:
    comments_present: int  # comments fetched (t1 objects in hand)
    num_comments: int  # Reddit's own count for the thread
    unfetched_stubs: int  # `more` stubs left unexpanded
    unfetched_ids: int  # comment ids named by those stubs
    top_level_comments: int
    replies: int
    max_depth: int  # 1 = only top-level comments
    unique_authors: int
    op_comments: int | None  # None when the OP's account is deleted: theirs cannot be told
    deleted_comments: int
    removed_comments: int
    edited_comments: int
    distinguished_comments: int
    median_score: float
    total_score: int
    top_comment_ids: tuple[str, ...]  # by score, best first (at most 10)
    most_replied_ids: tuple[str, ...]  # by number of direct replies (at most 5)
    direct_replies: dict[str, int]
    controversial_ids: tuple[str, ...]  # Reddit's controversiality flag, by score
    first_comment_at: datetime | None
    last_comment_at: datetime | None
    busiest_hour: datetime | None  # start of the UTC hour with the most comments
    busiest_hour_comments: int
    top_decile_score_share: float  # share of positive score held by the top 10% of comments
    links: tuple[Link, ...]

    @property
    def deleted_or_removed(self) -> int:
        return self.deleted_comments + self.removed_comments


_PAPER_HOSTS = (
    "arxiv.org", "doi.org", "openreview.net", "aclanthology.org", "paperswithcode.com",
    "semanticscholar.org", "biorxiv.org", "medrxiv.org", "ssrn.com", "nature.com",
    "science.org", "sciencedirect.com", "springer.com", "ieee.org", "acm.org", "researchgate.net",
    "pubmed.ncbi.nlm.nih.gov", "ncbi.nlm.nih.gov", "jstor.org", "scholar.google.com",
)  # fmt: skip
_CODE_HOSTS = (
    "github.com", "gitlab.com", "bitbucket.org", "codeberg.org", "sr.ht", "pypi.org",
    "npmjs.com", "crates.io", "pkg.go.dev", "gist.github.com", "raw.githubusercontent.com",
    "stackoverflow.com", "docs.python.org", "readthedocs.io", "colab.research.google.com",
)  # fmt: skip
_MODEL_HOSTS = (
    "huggingface.co", "hf.co", "ollama.com", "kaggle.com", "civitai.com", "modelscope.cn",
    "replicate.com",
)  # fmt: skip
_NEWS_HOSTS = (
    "nytimes.com", "washingtonpost.com", "theguardian.com", "bbc.co.uk", "bbc.com", "cnn.com",
    "reuters.com", "apnews.com", "bloomberg.com", "wsj.com", "ft.com", "theverge.com",
    "techcrunch.com", "arstechnica.com", "wired.com", "engadget.com", "theinformation.com",
    "axios.com", "cnbc.com", "forbes.com", "businessinsider.com", "npr.org", "espn.com",
    "nfl.com", "medium.com", "substack.com", "news.ycombinator.com", "venturebeat.com",
    "zdnet.com", "tomshardware.com", "anandtech.com", "x.com", "twitter.com", "blog.google",
    "wikipedia.org",
)  # fmt: skip
_REDDIT_HOSTS = ("reddit.com", "redd.it", "redditmedia.com")
_MEDIA_HOSTS = (
    "i.redd.it", "v.redd.it", "preview.redd.it", "i.imgur.com", "imgur.com", "youtube.com",
    "youtu.be", "gfycat.com", "streamable.com", "vimeo.com", "giphy.com", "tenor.com",
    "twitch.tv", "redgifs.com",
)  # fmt: skip
_MEDIA_EXT = (".jpg", ".jpeg", ".png", ".gif", ".gifv", ".webp", ".mp4", ".webm", ".mov", ".svg")


def _matches(host: str, hosts: tuple[str, ...]) -> bool:
    return any(host == h or host.endswith("." + h) for h in hosts)


def categorize(url: str) -> tuple[str, LinkCategory]:
    """The domain of a URL and its category (by host, then by path)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "", LinkCategory.OTHER
    host = (parts.hostname or "").lower().removeprefix("www.")
    path = parts.path.lower()
    if _matches(host, _MEDIA_HOSTS) or path.endswith(_MEDIA_EXT):
        return host, LinkCategory.MEDIA
    if _matches(host, _PAPER_HOSTS) or path.endswith(".pdf"):
        return host, LinkCategory.PAPER
    if host in ("huggingface.co", "hf.co") and path.startswith("/spaces/"):
        return host, LinkCategory.CODE
    if _matches(host, _MODEL_HOSTS):
        return host, LinkCategory.MODEL
    if _matches(host, _CODE_HOSTS):
        return host, LinkCategory.CODE
    if _matches(host, _REDDIT_HOSTS):
        return host, LinkCategory.REDDIT
    if (
        _matches(host, _NEWS_HOSTS)
        or host.startswith(("blog.", "news."))
        or "/blog" in path
        or "/news" in path
    ):
        return host, LinkCategory.NEWS
    return host, LinkCategory.OTHER


_DEFAULT_PORTS = {"http": 80, "https": 443}
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _percent(text: str) -> str:
    """Percent-escapes in one case, and unreserved characters never escaped (RFC 3986 6.2.2)."""

    def one(m: re.Match[str]) -> str:
        ch = chr(int(m.group(0)[1:], 16))
        return ch if ch in _UNRESERVED else m.group(0).upper()

    return _PERCENT.sub(one, text)


def link_key(url: str) -> str:
    """Two URLs with the same key lead to the same page, so they are listed as one link.

    Scheme, host, port, path and query are kept: `http://localhost:11434/v1` and
    `http://localhost:1234/v1` are two links, so are `http://` and `https://`, and `www.x.com`
    and `x.com`. Only what is equivalent is folded: the case of the scheme and host, a default
    port (`:443` on https), an empty path and `/`, a trailing slash, percent-escapes
    (`%7e` = `~`) and a fragment (`#readme`: a place on the page, not another page; a `#/route`
    or `#!route` of a web app is kept).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # IPv6
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host += f":{port}"
    userinfo = parts.netloc.rpartition("@")[0]
    if userinfo:
        host = f"{userinfo}@{host}"
    path = _percent(parts.path).rstrip("/")
    query = f"?{_percent(parts.query)}" if parts.query else ""
    fragment = f"#{parts.fragment}" if parts.fragment.startswith(("/", "!")) else ""
    return f"{scheme}://{host}{path}{query}{fragment}"


def collect_links(thread: Thread) -> tuple[Link, ...]:
    """Links from the post (its target and its text) and from every comment, de-duplicated.

    Ordered by how often they were shared, then by the best score of a comment sharing them.
    """
    found: dict[str, tuple[str, list[LinkSource]]] = {}

    def add(url: str, source: LinkSource) -> None:
        key = link_key(url)
        entry = found.setdefault(key, (url, []))
        if source not in entry[1]:
            entry[1].append(source)

    post = thread.post
    post_source = LinkSource(None, post.author, post.score)
    if post.url and post.url != post.permalink and not post.is_self:
        add(post.url, post_source)
    for url in find_urls(post.body):
        add(url, post_source)
    for c in thread.comments:
        if c.state is ContentState.PRESENT and "http" in c.body:
            for url in find_urls(c.body):
                add(url, LinkSource(c.id, c.author, c.score))
    links = []
    for url, sources in found.values():
        domain, category = categorize(url)
        links.append(Link(url, domain, category, tuple(sources)))
    links.sort(key=lambda link: (-link.mentions, -link.best_score, link.url))
    return tuple(links)


def compute_stats(thread: Thread) -> ThreadStats:
    comments = thread.comments
    ids = thread.by_id
    top_level = sum(1 for c in comments if c.parent_id is None)
    authors = {c.author for c in comments if c.author is not None}
    op = thread.post.author
    op_comments = (
        None  # a deleted account: its comments say [deleted] like every other deleted one
        if op is None
        else sum(1 for c in comments if c.is_submitter or c.author == op)
    )
    scores = [c.score for c in comments]
    direct: Counter[str] = Counter(
        c.parent_id for c in comments if c.parent_id is not None and c.parent_id in ids
    )
    by_score = sorted(comments, key=lambda c: (-c.score, c.created, c.id))
    text_by_score = [c for c in by_score if c.has_text]
    controversial = tuple(c.id for c in by_score if c.controversiality > 0 and c.has_text)
    times = sorted(c.created for c in comments if c.created.timestamp() > 0)
    busiest: datetime | None = None
    busiest_n = 0
    if times:
        hours = Counter(t.replace(minute=0, second=0, microsecond=0) for t in times)
        busiest, busiest_n = min(hours.items(), key=lambda kv: (-kv[1], kv[0]))
    positive = sorted((s for s in scores if s > 0), reverse=True)
    top_n = max(1, len(comments) // 10)
    share = sum(positive[:top_n]) / sum(positive) if positive else 0.0
    return ThreadStats(
        comments_present=len(comments),
        num_comments=thread.post.num_comments,
        unfetched_stubs=len(thread.more),
        unfetched_ids=sum(len(m.children) for m in thread.more),
        top_level_comments=top_level,
        replies=len(comments) - top_level,
        max_depth=max((c.depth for c in comments), default=0),
        unique_authors=len(authors),
        op_comments=op_comments,
        deleted_comments=sum(1 for c in comments if c.state is ContentState.DELETED),
        removed_comments=sum(1 for c in comments if c.state is ContentState.REMOVED),
        edited_comments=sum(1 for c in comments if c.edited is not None),
        distinguished_comments=sum(1 for c in comments if c.distinguished),
        median_score=float(statistics.median(scores)) if scores else 0.0,
        total_score=sum(scores),
        top_comment_ids=tuple(c.id for c in text_by_score[:10]),
        most_replied_ids=tuple(
            cid for cid, _ in sorted(direct.items(), key=lambda kv: (-kv[1], -ids[kv[0]].score))[:5]
        ),
        direct_replies=dict(direct),
        controversial_ids=controversial,
        first_comment_at=times[0] if times else None,
        last_comment_at=times[-1] if times else None,
        busiest_hour=busiest,
        busiest_hour_comments=busiest_n,
        top_decile_score_share=round(share, 4),
        links=collect_links(thread),
    )
