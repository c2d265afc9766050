"""Benchmark of budgeted thread fetching against a fake Reddit API, with the real asyncpraw client.

redigest's `RedditSource.fetch_thread` spends a small request budget (brief: 2, deep: 12) on the
first page and the most valuable `more` stubs. The naive way is plain asyncpraw:
`submission.comments.replace_more(limit=None)`, which fetches every comment. Both talk to the fake
Reddit server of tests/fakes/reddit_server.py on 127.0.0.1 (nothing else may be reached: sockets
are guarded while the benchmark runs).

Cases: the largest recorded threads in ../shared/data/reddit (served verbatim, with their recorded
morechildren and continue-this-thread answers) and synthetic full trees of 1k, 5k and 20k comments
(the server decides what to inline and what to stub, like Reddit).

Figures per case and depth: API requests (token request excluded), comments covered, wall ms (and
the same minus the time spent inside the fake server, which shares the event loop), and the share
of the thread's top-50 comments by score that the fetch includes.

Run it with `python -m bench.reddit_fetch` from the repository root.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import ipaddress
import json
import math
import os
import platform
import socket
import sys
import time
import warnings
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpraw
from aiohttp import web
from asyncpraw.models import Comment as PrawComment

from adapters.reddit_source.live import DEFAULT_PLANS, RedditConfig, RedditSource
from bot.ports import ThreadRef
from digest.report import Depth
from tests.fakes.reddit_server import (
    MORECHILDREN_BATCH,
    FakeReddit,
    generate_comment_tree,
    load_cassette_continue_responses,
    load_morechildren_pairs,
    make_post,
)

DEPTHS = (Depth.BRIEF, Depth.DEEP)
SYNTHETIC_SIZES = (1_000, 5_000, 20_000)
SYNTHETIC_SEED = 11
TOP_N = 50
TARGET_SHARE = 0.90  # the project's target for depth deep ...
TARGET_REQUESTS = 12  # ... within this many API requests
BUDGETED_RUNS = 3  # wall ms: best of this many runs (counts come from the first)
NAIVE_RUNS = 3  # the same for the naive way, while one naive run stays under NAIVE_REPEAT_MAX_S
NAIVE_REPEAT_MAX_S = 3.0
NAIVE_TIMEOUT_S = 90.0  # the naive replace_more is cut off after this long
TOKEN_PATH = "/api/v1/access_token"
USER_AGENT = "linux:redigest-bench:0.1 (by u/bench)"


# --- cases -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordedSpec:
    """A recorded thread: paths relative to reddit/ in the shared data."""

    thread: str
    morechildren: str | None = None
    cassette: str | None = None  # betamax cassette holding continue-this-thread answers
    remark: str | None = None  # what the fake can and cannot serve for it


RECORDED = (
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
    RecordedSpec(
        "localllama/localllama_1ibk9us.json",
        remark="no morechildren or continue pages were recorded: the fake answers every "
        "morechildren call with nothing and every continue-this-thread page with 404",
    ),
    RecordedSpec(
        "ocaml-reddit-api/nfl_g7vyxy_2020.json",
        "ocaml-reddit-api/nfl_g7vyxy_2020_morechildren.json",
        remark="one morechildren answer was recorded (no request, no continue pages): the fake "
        "assembles answers from it, so only the comments in it can be reached",
    ),
)


@dataclass(slots=True)
class Case:
    """One thread registered on the fake server."""

    name: str
    post_id: str
    size: int  # Reddit's num_comments (recorded) or the generated tree's size (synthetic)
    truth: dict[str, int] | None  # every comment's score, when known without fetching
    recorded: bool
    remark: str | None = None
    parents: dict[str, str] = field(default_factory=dict)  # id → parent fullname (synthetic)


def shared_data_dir() -> Path:
    """../shared/data next to the repository (the repository is bench/'s parent)."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def add_recorded(fake: FakeReddit, reddit_dir: Path, spec: RecordedSpec) -> Case:
    path = reddit_dir / spec.thread
    raw: list[Any] = json.loads(path.read_text(encoding="utf-8"))
    post: dict[str, Any] = raw[0]["data"]["children"][0]["data"]
    post_id = str(post["id"])
    pairs = load_morechildren_pairs(reddit_dir / spec.morechildren) if spec.morechildren else None
    continues = (
        load_cassette_continue_responses(reddit_dir / spec.cassette, post_id)
        if spec.cassette
        else None
    )
    fake.add_thread(raw, pairs, continues)
    name = Path(spec.thread).with_suffix("").as_posix()
    size = int(post.get("num_comments") or 0)
    return Case(name, post_id, size, None, recorded=True, remark=spec.remark)


def add_synthetic(fake: FakeReddit, size: int, reply_decay: float | None = None) -> Case:
    """reply_decay None: every score independent of the tree (worst case); a number: replies
    mostly score below their parent, as on Reddit (see generate_comment_tree)."""
    post_id = f"syn{size}{'r' if reply_decay else ''}"
    comments = generate_comment_tree(
        post_id, size, seed=SYNTHETIC_SEED, subreddit="bench", reply_decay=reply_decay
    )
    fake.add_full_thread(make_post(post_id, subreddit="bench", title="Synthetic"), comments)
    truth = {str(c["id"]): int(c["score"]) for c in comments}
    parents = {str(c["id"]): str(c["parent_id"] or f"t3_{post_id}") for c in comments}
    label = f"synthetic {size:,}" + (" (replies decay)" if reply_decay else " (independent scores)")
    return Case(label, post_id, size, truth, recorded=False, parents=parents)


# --- measuring -------------------------------------------------------------------------------


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


def api_requests(fake: FakeReddit, start: int) -> int:
    """Requests the server got since index `start`, the token endpoint excluded."""
    return sum(1 for r in fake.requests[start:] if r.path.rstrip("/") != TOKEN_PATH)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def budgeted_once(fake: TimedFakeReddit, post_id: str, depth: Depth) -> Fetch:
    config = RedditConfig(
        client_id="id",
        client_secret="secret",
        user_agent=USER_AGENT,
        oauth_url=fake.base_url,
        auth_url=fake.base_url,
    )
    start = len(fake.requests)
    result = Fetch(runs=1)
    server0 = fake.handler_s
    t0 = time.perf_counter()
    async with RedditSource(config) as source:
        try:
            thread = await source.fetch_thread(ThreadRef(post_id), depth)
        except Exception as exc:  # reported in the table, not raised
            result.error = _describe(exc)
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
            result.error = _describe(exc)
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
        _progress(f"[bench reddit_fetch] {case.name}: budgeted {depth.value}")
        budgeted[depth] = await best_of(
            BUDGETED_RUNS,
            functools.partial(budgeted_once, fake, case.post_id, depth),
            lambda f: f.error is None,
        )
    _progress(f"[bench reddit_fetch] {case.name}: naive replace_more(limit=None)")
    naive = await best_of(
        NAIVE_RUNS,
        functools.partial(naive_once, fake, case.post_id, NAIVE_TIMEOUT_S),
        lambda f: f.error is None and not f.cut_off and f.wall_s < NAIVE_REPEAT_MAX_S,
    )
    return CaseResult(case, naive, budgeted)


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


# --- the table -------------------------------------------------------------------------------

Row = tuple[str, str, str, str, str]
HEADER: Row = ("what", "n", "figure", "unit", "naive figure")


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:,.1f}" if ms < 1000 else f"{ms:,.0f}"


def _pct(share: float) -> str:
    return "—" if math.isnan(share) else f"{share * 100:.0f}%"


def _cell(fetch: Fetch, text: str) -> str:
    if fetch.error is not None:
        return f"{text} (failed)"
    if fetch.cut_off:
        return f"{text} (cut off)"
    return text


def rows_of(result: CaseResult) -> list[Row]:
    case, naive = result.case, result.naive
    n = f"{case.size:,}"
    reference = result.reference()
    naive_share = top_share(reference, naive.scores)
    rows: list[Row] = []
    for depth, fetch in result.budgeted.items():
        label = f"{case.name} · {depth.value} ·"
        budget = DEFAULT_PLANS[depth].requests
        rows += [
            (
                f"{label} API requests (budget {budget})",
                n,
                _cell(fetch, f"{fetch.requests:,}"),
                "requests",
                _cell(naive, f"{naive.requests:,}"),
            ),
            (
                f"{label} comments covered",
                n,
                _cell(fetch, f"{len(fetch.scores):,}"),
                "comments",
                _cell(naive, f"{len(naive.scores):,}"),
            ),
            (
                f"{label} wall ms (best of {fetch.runs} / {naive.runs})",
                n,
                _cell(fetch, _ms(fetch.wall_s)),
                "ms",
                _cell(naive, _ms(naive.wall_s)),
            ),
            (
                f"{label} client ms (wall − fake server)",
                n,
                _cell(fetch, _ms(fetch.wall_s - fetch.server_s)),
                "ms",
                _cell(naive, _ms(naive.wall_s - naive.server_s)),
            ),
            (
                f"{label} top-{TOP_N} share",
                n,
                _cell(fetch, _pct(top_share(reference, fetch.scores))),
                "of top 50",
                _cell(naive, _pct(naive_share)),
            ),
        ]
    return rows


def notes_of(result: CaseResult) -> list[str]:
    case, naive = result.case, result.naive
    notes: list[str] = []
    if case.remark:
        notes.append(f"{case.name}: {case.remark}")
    if naive.error is not None:
        notes.append(
            f"{case.name}: the naive run failed ({naive.error}) after {naive.requests:,} "
            f"requests, with {len(naive.scores):,} comments in hand"
        )
    if naive.cut_off:
        notes.append(
            f"{case.name}: the naive replace_more was cut off after {NAIVE_TIMEOUT_S:.0f} s, "
            f"having made {naive.requests:,} requests and reached {len(naive.scores):,} of "
            f"{case.size:,} comments"
        )
    if case.recorded and naive.error is None and len(naive.scores) < case.size:
        notes.append(
            f"{case.name}: the naive count is capped by the recording: it reached "
            f"{len(naive.scores):,} of the {case.size:,} comments Reddit counted (only what was "
            "recorded can be served), so the top 50 is taken from what the naive run reached"
        )
    if case.truth is not None and naive.error is None and not naive.cut_off:
        missing = set(case.truth) - set(naive.scores)
        if missing:
            notes.append(f"{case.name}: the naive run missed {len(missing):,} generated comments")
    for depth, fetch in result.budgeted.items():
        if fetch.error is not None:
            notes.append(
                f"{case.name} ({depth.value}): the budgeted fetch FAILED ({fetch.error}) after "
                f"{fetch.requests} requests; its rows show what it had when it raised (nothing)"
            )
        extra = set(fetch.scores) - set(result.reference())
        if extra:
            notes.append(
                f"{case.name} ({depth.value}): {len(extra):,} budgeted comments are not in the "
                "reference set the top 50 is taken from"
            )
        if fetch.self_count is not None and fetch.self_count != fetch.requests:
            notes.append(
                f"{case.name} ({depth.value}): the server saw {fetch.requests} API requests but "
                f"RedditSource counted {fetch.self_count} (asyncprawcore retries?)"
            )
        if fetch.unstable:
            notes.append(f"{case.name} ({depth.value}): runs fetched different comments")
    largest = max(f.largest_more for f in result.budgeted.values())
    if largest > MORECHILDREN_BATCH:
        notes.append(
            f"{case.name}: the fake assembled morechildren answers of up to {largest} comments "
            f"for the budgeted fetch (Reddit sends at most about {MORECHILDREN_BATCH}): its "
            "comments per request are flattered here"
        )
    deep = result.budgeted.get(Depth.DEEP)
    if deep is not None and deep.error is None:
        share = top_share(result.reference(), deep.scores)
        met = share >= TARGET_SHARE and deep.requests <= TARGET_REQUESTS
        notes.append(
            f"{case.name}: deep target (≥{TARGET_SHARE:.0%} of top {TOP_N} with "
            f"≤{TARGET_REQUESTS} requests): {'met' if met else 'NOT met'} "
            f"({_pct(share)} with {deep.requests} requests)"
        )
        if case.truth is not None and case.parents and not met:
            notes.append(why_missed(case, case.truth, case.parents, deep))
    return notes


def why_missed(
    case: Case, truth: Mapping[str, int], parents: Mapping[str, str], deep: Fetch
) -> str:
    """Where the top-50 comments the deep fetch missed sit in the generated tree."""
    top = top_ids(truth)
    got = set(deep.scores)
    missed = [c for c in top if c not in got]
    unfetched_parent = [c for c in missed if parents[c][3:] in truth and parents[c][3:] not in got]
    low_parent = [c for c in unfetched_parent if truth[parents[c][3:]] <= 1]
    replies = [c for c in top if parents[c].startswith("t1_")]
    reference = best_first(truth, parents, len(got))
    return (
        f"{case.name}: why: {len(replies)} of the top {TOP_N} are replies; the deep fetch missed "
        f"{len(missed)}, {len(unfetched_parent)} of them replies whose parent it never fetched "
        f"({len(low_parent)} under a parent scoring ≤ 1: the generator draws each score "
        f"independently of the parent's). Picking the same number of comments "
        f"({len(got):,}) best-first the way Reddit's comment builder does would hold "
        f"{_pct(top_share(truth, reference))} of the top {TOP_N}."
    )


def format_table(rows: list[Row]) -> str:
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


# --- running ---------------------------------------------------------------------------------


def _is_loopback(address: Any) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    if host in (None, "localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """While inside, sockets may connect to (and names resolve for) loopback only."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: Any, address: Any) -> None:
        if not _is_loopback(address):
            raise ConnectionRefusedError(f"bench: refusing to connect to {address!r}")
        real_connect(self, address)

    def connect_ex(self: Any, address: Any) -> int:
        if not _is_loopback(address):
            raise ConnectionRefusedError(f"bench: refusing to connect to {address!r}")
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback((host,)):
            raise OSError(f"bench: refusing to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = real_getaddrinfo


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine() -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"machine: nproc={cpus}, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.machine()}; "
        f"asyncpraw {asyncpraw.__version__}"
    )


async def run_all(notes: list[str]) -> list[CaseResult]:
    results: list[CaseResult] = []
    fake = TimedFakeReddit(ratelimit_budget=10_000_000)  # asyncprawcore never paces itself
    async with fake:
        base = fake.base_url
        if not base.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the fake server is not on 127.0.0.1: {base}")
        data_dir = shared_data_dir()
        reddit_dir = data_dir / "reddit"
        if not reddit_dir.is_dir():
            notes.append(
                f"recorded threads: skipped — {reddit_dir} does not exist (the shared data "
                "lives beside the repository)"
            )
        else:
            for spec in RECORDED:
                files = [spec.thread, spec.morechildren, spec.cassette]
                missing = [f for f in files if f is not None and not (reddit_dir / f).is_file()]
                if missing:
                    notes.append(
                        f"{Path(spec.thread).stem}: skipped — missing {', '.join(missing)} "
                        f"under {reddit_dir}"
                    )
                    continue
                try:
                    case = add_recorded(fake, reddit_dir, spec)
                except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
                    notes.append(
                        f"{Path(spec.thread).stem}: skipped — the fake cannot serve it "
                        f"({_describe(exc)})"
                    )
                    continue
                results.append(await measure(fake, case))
        for size in SYNTHETIC_SIZES:
            results.append(await measure(fake, add_synthetic(fake, size)))
            results.append(await measure(fake, add_synthetic(fake, size, reply_decay=0.8)))
    return results


def main() -> None:
    started = time.perf_counter()
    print(machine())
    plans = ", ".join(
        f"{d.value}: {p.requests} requests, first page limit {p.limit} depth {p.max_depth} "
        f"sort {p.sort}"
        for d, p in DEFAULT_PLANS.items()
    )
    print(f"budgeted: redigest RedditSource.fetch_thread ({plans})")
    print(
        "naive: asyncpraw submission + comments.replace_more(limit=None) + comments.list(), "
        f"cut off after {NAIVE_TIMEOUT_S:.0f} s"
    )
    print(
        "server: tests/fakes/reddit_server.py on 127.0.0.1, in the same process and event loop "
        "(wall ms includes its work; no network latency, so on Reddit add ~latency × requests)"
    )
    print(
        f"requests: API requests seen by the server, token request excluded; wall ms: best of "
        f"{BUDGETED_RUNS} runs (naive: up to {NAIVE_RUNS} while a run takes < "
        f"{NAIVE_REPEAT_MAX_S:.0f} s), token fetch included; top-{TOP_N} share: of the "
        f"{TOP_N} highest-scoring comments (synthetic: of the generated tree; recorded: of the "
        "naive fetch), ties at the cut-off counted fairly"
    )
    notes: list[str] = []
    with warnings.catch_warnings(), loopback_only():
        # asyncprawcore 4.0 authenticates with aiohttp.BasicAuth, which aiohttp 3.14 deprecates.
        warnings.filterwarnings("ignore", "BasicAuth is deprecated", DeprecationWarning)
        warnings.filterwarnings("ignore", "The 'auth' parameter is deprecated", DeprecationWarning)
        results = asyncio.run(run_all(notes))
    for result in results:
        notes += notes_of(result)
    print()
    print(format_table([row for result in results for row in rows_of(result)]))
    print()
    for note in notes:
        print(f"note: {note}")
    print(f"benchmark wall time: {time.perf_counter() - started:,.0f} s")


if __name__ == "__main__":
    main()
