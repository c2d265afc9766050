"""What the Reddit benchmarks (bench/reddit_fetch.py, bench/public_reddit.py) share: a recorded
thread loaded for the fake Reddit, the OAuth source's configuration against the fake, requests
counted without the token request, the top-50 share, the five-column table, and the guard they
run under (loopback only, asyncprawcore's deprecation warnings silenced)."""

from __future__ import annotations

import contextlib
import json
import math
import warnings
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.reddit_source.live import RedditConfig
from bench.common import loopback_only
from tests.fakes.reddit_server import (
    FakeReddit,
    load_cassette_continue_responses,
    load_morechildren_pairs,
)

TOP_N = 50
TOKEN_PATH = "/api/v1/access_token"
USER_AGENT = "linux:redigest-bench:0.1 (by u/bench)"

Row = tuple[str, str, str, str, str]
HEADER: Row = ("what", "n", "figure", "unit", "naive figure")


@contextlib.contextmanager
def fake_reddit_only() -> Iterator[None]:
    """Loopback only, and asyncprawcore's authentication warnings silenced."""
    with warnings.catch_warnings(), loopback_only():
        # asyncprawcore 4.0 authenticates with aiohttp.BasicAuth, which aiohttp 3.14 deprecates.
        warnings.filterwarnings("ignore", "BasicAuth is deprecated", DeprecationWarning)
        warnings.filterwarnings("ignore", "The 'auth' parameter is deprecated", DeprecationWarning)
        yield


@dataclass(frozen=True, slots=True)
class RecordedSpec:
    """A recorded thread: paths relative to reddit/ in the shared data."""

    thread: str
    morechildren: str | None = None
    cassette: str | None = None  # betamax cassette holding continue-this-thread answers
    remark: str | None = None  # what the fake can and cannot serve for it

    def missing(self, reddit_dir: Path) -> list[str]:
        """The files of the recording that are not under reddit_dir."""
        files = (self.thread, self.morechildren, self.cassette)
        return [f for f in files if f is not None and not (reddit_dir / f).is_file()]


# The recordings that come with morechildren answers and continue-this-thread pages (both benches
# fetch them).
PRAW_RECORDINGS = (
    RecordedSpec(
        "praw/announcements_n49rw_2016.json",
        "praw/announcements_n49rw_2016_morechildren.json",
        "cassettes/praw/TestCommentForest.test_replace__all_large.json",
    ),
    RecordedSpec(
        "praw/funny_3hahrw_2016.json",
        "praw/funny_3hahrw_2016_morechildren.json",
        "cassettes/praw/TestCommentForest.test_replace__all.json",
    ),
)


@dataclass(frozen=True, slots=True)
class Recording:
    """A recorded thread as the fake serves it: the listing JSON and what it can expand."""

    raw: list[Any]
    pairs: list[Any] | None  # morechildren answers (None: none recorded)
    continues: dict[str, Any] | None  # continue-this-thread pages (None: none recorded)

    @property
    def post(self) -> dict[str, Any]:
        post: dict[str, Any] = self.raw[0]["data"]["children"][0]["data"]
        return post

    @property
    def post_id(self) -> str:
        return str(self.post["id"])

    @property
    def size(self) -> int:
        """Reddit's num_comments."""
        return int(self.post.get("num_comments") or 0)


def load_recording(reddit_dir: Path, spec: RecordedSpec) -> Recording:
    """A thread file under reddit_dir, with its morechildren answers and the betamax cassette's
    continue-this-thread answers when there are any."""
    raw: list[Any] = json.loads((reddit_dir / spec.thread).read_text(encoding="utf-8"))
    post_id = str(raw[0]["data"]["children"][0]["data"]["id"])
    more, cassette = spec.morechildren, spec.cassette
    pairs = load_morechildren_pairs(reddit_dir / more) if more else None
    continues = (
        load_cassette_continue_responses(reddit_dir / cassette, post_id) if cassette else None
    )
    return Recording(raw, pairs, continues)


def oauth_config(fake: FakeReddit) -> RedditConfig:
    """The OAuth source's configuration, pointed at the fake."""
    return RedditConfig(
        client_id="id",
        client_secret="secret",
        user_agent=USER_AGENT,
        oauth_url=fake.base_url,
        auth_url=fake.base_url,
    )


def api_requests(fake: FakeReddit, start: int) -> int:
    """Requests the server got since index `start`, the token endpoint excluded."""
    return sum(1 for r in fake.requests[start:] if r.path.rstrip("/") != TOKEN_PATH)


def top_share(reference: Mapping[str, int], got: Collection[str], n: int = TOP_N) -> float:
    """Share of the `n` highest-scoring comments of `reference` that are in `got`.

    Ties at the cut-off score are counted fairly: any comment tied at the n-th score fills one of
    the remaining top-n places (so ties never count against, or for, either fetch).
    """
    ranked = sorted(reference.values(), reverse=True)
    if not ranked:
        return math.nan
    k = min(n, len(ranked))
    cutoff = ranked[k - 1]
    above = {i for i, s in reference.items() if s > cutoff}
    tied = {i for i, s in reference.items() if s == cutoff}
    got_set = set(got)
    hits = len(above & got_set) + min(len(tied & got_set), k - len(above))
    return hits / k


def format_table(rows: list[Row]) -> str:
    """what / n / figure / unit / naive figure; a blank line between the rows of two cases (the
    part of `what` before " · ")."""
    table = [HEADER, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    numeric = {1, 2, 4}  # right-aligned columns

    def line(row: Row) -> str:
        cells = (
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        )
        return "  ".join(cells).rstrip()

    out = [line(HEADER), "  ".join("-" * w for w in widths)]
    previous = ""
    for row in rows:
        case = row[0].split(" · ", 1)[0]
        if previous and case != previous:
            out.append("")
        out.append(line(row))
        previous = case
    return "\n".join(out)
