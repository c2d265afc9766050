"""Reddit without credentials: what a digest costs in public mode, how much one process serves
within Reddit's anonymous 10 requests a minute, and what background polling adds to a digest's
wait. `python -m bench publicreddit` from the repository root; loopback only.

1. Requests per digest, public (PublicRedditSource, brief 1 / deep 4 requests) vs OAuth
   (asyncpraw RedditSource, DEFAULT_PLANS: brief 2 / deep 12), both against the same fake Reddit
   (tests/fakes/reddit_server.py): the recorded threads of ../shared/data/reddit that the fake can
   expand (skipped cleanly when the folder is absent) and a synthetic 5,000-comment tree (replies
   mostly score below their parent, as on Reddit). Figures: requests made (OAuth: after the token),
   comments fetched, share of the 50 highest-scoring comments reached (reference: every comment
   the recording can serve, or the generated tree). Figure = public, last column = OAuth.

2. Capacity at the source's default 10 requests/minute (PublicConfig), from the source's own
   formulas and measured in simulated time (bench/public_reddit_sim.py: a virtual-time event
   loop drives the real source, its pacer and poller against the fake, a simulated hour in a few
   seconds; every request takes a simulated 0.1-0.5 s round trip). Assumptions:
   - a daily subscription = top 5 of one subreddit: 1 listing (limit 100, one page) + 5 brief
     digests of 1 request = 6 requests a run, each on its own subreddit (no cache hits); run times
     at random over the day (the burst rows: 100 due at one minute); the runs go through a FIFO
     job queue with the core's 4 workers (CoreConfig.workers), as the core runs them;
   - W watched subreddits are polled together: ceil(W/50) requests a poll every
     max(30 s, 60 * ceil(W/50) / (10 * 0.5)) (public_feed.poll_interval); each watched subreddit
     gets POSTS_PER_DAY new posts a day (Poisson); no post crosses its watch threshold, so each is
     a candidate re-checked by id on the core's schedule (bot/core/watch.py tick: 10, 20, 40, 80,
     160 min after it was seen, then every 2 h until 24 h: 16 checks), the candidates due at one
     moment sharing one /by_id/ request (≤100 ids). The formula counts 16 re-check requests for
     every poll that finds a new post (Poisson), i.e. the demand; the simulation emulates the
     core's watch loop (a tick at the earliest due check, ≥1 s apart), which batches more when it
     falls behind, and starts in the steady state (the candidates of the day before are seeded);
   - the day's budget is 10 × 1,440 = 14,400 requests; on-demand headroom is what polls,
     re-checks and subscriptions leave, in brief digests (1 request) an hour;
   - the simulated day at W=50 carries the subscriptions the formula says fit; it runs as two
     12-hour halves, each from the steady state, so that two processes share it.

3. The wait of an on-demand brief digest for its pacer slot while the watch traffic of 0, 1, 10
   and 50 subreddits runs (polls + re-checks as above, no subscriptions; and 10 busy subreddits
   of 100 posts a day): 200 digests at random moments over 3 simulated hours. Figure = the
   source's priority pacer (on-demand first), last column = a FIFO pacer with the same ceiling
   (what the priority buys).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import platform
import random
import resource
import sys
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.reddit_source.live import DEFAULT_PLANS, RedditConfig, RedditSource
from adapters.reddit_source.public import PublicConfig, PublicRedditSource
from adapters.reddit_source.public_feed import BACKGROUND_SHARE, MULTI_MAX, poll_interval
from bench.public_reddit_sim import (
    CHECKS_PER_CANDIDATE,
    DAY,
    TOP,
    WORKERS,
    Outcome,
    Scenario,
    recheck_requests_per_day,
    run_scenario,
)
from bench.reddit_fetch import (
    TOKEN_PATH,
    Row,
    format_table,
    loopback_only,
    shared_data_dir,
    top_share,
)
from bot.ports import ThreadRef
from digest.report import Depth
from tests.fakes.reddit_server import (
    FakeReddit,
    generate_comment_tree,
    load_cassette_continue_responses,
    load_morechildren_pairs,
    make_post,
)

CONFIG = PublicConfig()
RPM = CONFIG.requests_per_minute
PLANS = CONFIG.fetch_plans()
BRIEF_COST = PLANS[Depth.BRIEF].requests
RUN_COST = 1 + TOP * BRIEF_COST  # a daily subscription run: one listing + top 5 brief digests
BUDGET_DAY = RPM * 1440
POSTS_PER_DAY = 10.0  # new posts a day in each watched subreddit
SENSITIVITY = (1.0, 10.0, 100.0, 500.0)  # posts a day in one watched subreddit
FORMULA_WATCHED = (1, 10, 50, 200, 1000)
DAY_WATCHED = 50  # the simulated day: W, with as many subscriptions as the formula fits
SUBSCRIPTIONS_REF = 100  # headroom rows: with this many daily subscriptions
BURST = 100  # daily subscriptions due at the same minute
BURST_AT = 600.0
LATENCY_CASES = (
    (0, POSTS_PER_DAY),
    (1, POSTS_PER_DAY),
    (10, POSTS_PER_DAY),
    (50, POSTS_PER_DAY),
    (10, 100.0),
)  # (W, posts a day in each)
TRIALS = 200
TRIAL_WINDOW = 3 * 3600.0
TRIAL_START = 600.0
SYNTHETIC_SIZE = 5_000
SEED = 7
TOP_N = 50
USER_AGENT = "linux:redigest-bench:0.1 (by u/bench)"


# --- 1. requests per digest ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recorded:
    thread: str  # paths under ../shared/data/reddit
    morechildren: str | None = None
    cassette: str | None = None  # continue-this-thread answers (betamax)


RECORDED = (
    Recorded(
        "praw/announcements_n49rw_2016.json",
        "praw/announcements_n49rw_2016_morechildren.json",
        "cassettes/praw/TestCommentForest.test_replace__all_large.json",
    ),
    Recorded(
        "praw/funny_3hahrw_2016.json",
        "praw/funny_3hahrw_2016_morechildren.json",
        "cassettes/praw/TestCommentForest.test_replace__all.json",
    ),
    Recorded(
        "asyncpraw/announcements_n49rw_2020.json",
        "asyncpraw/announcements_n49rw_2020_morechildren.json",
    ),
    Recorded(
        "ocaml-reddit-api/nfl_g7vyxy_2020.json",
        "ocaml-reddit-api/nfl_g7vyxy_2020_morechildren.json",
    ),
    Recorded("localllama/localllama_1ibk9us.json"),
    Recorded("localllama/localllama_1miezct.json"),
    Recorded("localllama/localllama_1lpl656.json"),
)


@dataclass(slots=True)
class Got:
    requests: int = 0
    scores: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    self_count: int | None = None


def comment_scores(*nodes: Any) -> dict[str, int]:
    """Every t1 comment anywhere in these JSON values: id → score."""
    scores: dict[str, int] = {}
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            data = node.get("data")
            if node.get("kind") == "t1" and isinstance(data, dict) and data.get("id"):
                scores[str(data["id"])] = int(data.get("score") or 0)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return scores


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def public_fetch(fake: FakeReddit, post_id: str, depth: Depth) -> Got:
    start = len(fake.requests)
    got = Got()
    async with PublicRedditSource(PublicConfig(base_url=fake.base_url)) as source:
        try:
            thread = await source.fetch_thread(ThreadRef(post_id), depth)
        except Exception as exc:  # reported, not raised
            got.error = _describe(exc)
        else:
            got.scores = {c.id: c.score for c in thread.comments}
        got.self_count = source.requests_made
    got.requests = len(fake.requests) - start
    return got


async def oauth_fetch(fake: FakeReddit, post_id: str, depth: Depth) -> Got:
    config = RedditConfig(
        client_id="id",
        client_secret="secret",
        user_agent=USER_AGENT,
        oauth_url=fake.base_url,
        auth_url=fake.base_url,
    )
    start = len(fake.requests)
    got = Got()
    async with RedditSource(config) as source:
        try:
            thread = await source.fetch_thread(ThreadRef(post_id), depth)
        except Exception as exc:  # reported, not raised
            got.error = _describe(exc)
        else:
            got.scores = {c.id: c.score for c in thread.comments}
        got.self_count = source.requests_made
    got.requests = sum(1 for r in fake.requests[start:] if r.path.rstrip("/") != TOKEN_PATH)
    return got


def _cell(got: Got, text: str) -> str:
    return f"{text} (failed)" if got.error is not None else text


def _pct(share: float) -> str:
    return "—" if math.isnan(share) else f"{share * 100:.0f}%"


async def measure_case(
    fake: FakeReddit, name: str, post_id: str, size: int, reference: dict[str, int]
) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    notes: list[str] = []
    n = f"{size:,}"
    for depth in (Depth.BRIEF, Depth.DEEP):
        _progress(f"[bench publicreddit] {name}: {depth.value}")
        public = await public_fetch(fake, post_id, depth)
        oauth = await oauth_fetch(fake, post_id, depth)
        label = f"public vs OAuth: {name} · {depth.value} ·"
        budgets = f"budget {PLANS[depth].requests} / {DEFAULT_PLANS[depth].requests}"
        rows += [
            (f"{label} requests ({budgets})", n, _cell(public, f"{public.requests}"), "requests",
             _cell(oauth, f"{oauth.requests}")),
            (f"{label} comments fetched", n, _cell(public, f"{len(public.scores):,}"),
             "comments", _cell(oauth, f"{len(oauth.scores):,}")),
            (f"{label} top-{TOP_N} reached", n,
             _cell(public, _pct(top_share(reference, public.scores, TOP_N))), "of top 50",
             _cell(oauth, _pct(top_share(reference, oauth.scores, TOP_N)))),
        ]  # fmt: skip
        for way, got in (("public", public), ("OAuth", oauth)):
            if got.error is not None:
                notes.append(f"{name} ({depth.value}, {way}): FAILED: {got.error}")
            if way == "public" and got.self_count != got.requests:
                notes.append(
                    f"{name} ({depth.value}): the fake saw {got.requests} requests, the public "
                    f"source counted {got.self_count}"
                )
        if public.requests > PLANS[depth].requests:
            notes.append(f"{name} ({depth.value}): public mode went OVER its budget")
    return rows, notes


async def requests_per_digest(notes: list[str]) -> list[Row]:
    rows: list[Row] = []
    async with FakeReddit(ratelimit_budget=10**9, public_ratelimit_budget=10**9) as fake:
        if not fake.base_url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the fake server is not on 127.0.0.1: {fake.base_url}")
        reddit_dir = shared_data_dir() / "reddit"
        if not reddit_dir.is_dir():
            notes.append(f"recorded threads: skipped — {reddit_dir} does not exist")
        else:
            for spec in RECORDED:
                files = [f for f in (spec.thread, spec.morechildren, spec.cassette) if f]
                missing = [f for f in files if not (reddit_dir / f).is_file()]
                name = Path(spec.thread).stem
                if missing:
                    notes.append(f"{name}: skipped — missing {', '.join(missing)}")
                    continue
                raw: list[Any] = json.loads((reddit_dir / spec.thread).read_text("utf-8"))
                post = raw[0]["data"]["children"][0]["data"]
                post_id = str(post["id"])
                pairs = (
                    load_morechildren_pairs(reddit_dir / spec.morechildren)
                    if spec.morechildren
                    else None
                )
                continues = (
                    load_cassette_continue_responses(reddit_dir / spec.cassette, post_id)
                    if spec.cassette
                    else None
                )
                # Registered just before it is measured: two recordings share the id n49rw.
                fake.add_thread(raw, pairs, continues)
                reference = comment_scores(raw, pairs, list((continues or {}).values()))
                size = int(post.get("num_comments") or 0)
                case_rows, case_notes = await measure_case(fake, name, post_id, size, reference)
                rows += case_rows
                notes += case_notes
        post_id = "syn5k"
        comments = generate_comment_tree(
            post_id, SYNTHETIC_SIZE, seed=11, subreddit="bench", reply_decay=0.8
        )
        fake.add_full_thread(make_post(post_id, subreddit="bench"), comments)
        truth = {str(c["id"]): int(c["score"]) for c in comments}
        case_rows, case_notes = await measure_case(
            fake, f"synthetic {SYNTHETIC_SIZE:,}", post_id, SYNTHETIC_SIZE, truth
        )
        rows += case_rows
        notes += case_notes
    return rows


# --- 2. capacity by the formulas -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Load:
    """What W watched subreddits cost a day by the source's formulas."""

    watched: int
    interval: float  # s between polls
    polls: float  # requests a day
    rechecks: float  # requests a day

    @property
    def background(self) -> float:
        return self.polls + self.rechecks

    def subscriptions_that_fit(self) -> int:
        return max(math.floor((BUDGET_DAY - self.background) / RUN_COST), 0)

    def headroom_rpm(self, subscriptions: int) -> float:
        return (BUDGET_DAY - self.background - subscriptions * RUN_COST) / 1440


def load(watched: int, posts_per_day: float = POSTS_PER_DAY) -> Load:
    if watched == 0:
        return Load(0, math.inf, 0.0, 0.0)
    interval = poll_interval(watched, RPM, feeds=False, floor=CONFIG.poll_floor_seconds)
    polls = DAY / interval * math.ceil(watched / MULTI_MAX)
    return Load(
        watched, interval, polls, recheck_requests_per_day(watched, posts_per_day, interval)
    )


def naive_interval(watched: int) -> float:
    """One listing per subreddit a poll, within the same polling share."""
    return max(CONFIG.poll_floor_seconds, 60.0 * watched / (RPM * BACKGROUND_SHARE))


def most_watched(limit: float) -> Load:
    """The largest W such that every W' ≤ W keeps the watch traffic within `limit` a day."""
    best = load(0)
    for watched in range(1, 20_001):
        current = load(watched)
        if current.background > limit:
            break
        best = current
    return best


def _rpm(per_day: float) -> str:
    return f"{per_day / 1440:.2f}"


def formula_rows() -> list[Row]:
    rows: list[Row] = []
    label = "capacity (formula)"
    for watched in FORMULA_WATCHED:
        cost = load(watched)
        per_poll = math.ceil(watched / MULTI_MAX)
        g = f"{label}: W={watched:,} watched ·"
        headroom = cost.headroom_rpm(SUBSCRIPTIONS_REF)
        rows += [
            (f"{g} poll interval ({per_poll} request{'s' if per_poll > 1 else ''} a poll; "
             "last col: a listing per subreddit)", "—", f"{cost.interval:.0f}", "s",
             f"{naive_interval(watched):,.0f}"),
            (f"{g} polls", "—", _rpm(cost.polls), "requests/min", "—"),
            (f"{g} candidate re-checks ({POSTS_PER_DAY:.0f} posts/day each)", "—",
             _rpm(cost.rechecks), "requests/min", "—"),
            (f"{g} daily subscriptions that fit (nothing left)", "—",
             f"{cost.subscriptions_that_fit():,}", "subscriptions", "—"),
            (f"{g} on-demand headroom with {SUBSCRIPTIONS_REF} daily subscriptions", "—",
             f"{max(headroom, 0) * 60 / BRIEF_COST:,.0f}" + (" (over)" if headroom < 0 else ""),
             "brief digests/h", "—"),
        ]  # fmt: skip
    g = f"{label}: limits ·"
    full, half = most_watched(BUDGET_DAY), most_watched(BUDGET_DAY / 2)
    rows += [
        (f"{g} daily subscriptions alone, spread over the day", "—",
         f"{BUDGET_DAY // RUN_COST:,}", "subscriptions", "—"),
        (f"{g} daily subscriptions due at one minute, all done within the hour", "—",
         f"{RPM * 60 // RUN_COST:,}", "subscriptions", "—"),
        (f"{g} watched subreddits alone, within {RPM} rpm (poll every {full.interval:.0f} s)",
         "—", f"{full.watched:,}", "subreddits", "—"),
        (f"{g} watched subreddits leaving half for on-demand (poll every {half.interval:.0f} s)",
         "—", f"{half.watched:,}", "subreddits", "—"),
    ]  # fmt: skip
    for posts in SENSITIVITY:
        rows.append(
            (f"{g} re-checks of 1 watched subreddit with {posts:,.0f} posts/day", "—",
             _rpm(load(1, posts).rechecks), "requests/min", "—")
        )  # fmt: skip
    return rows


# --- 2. and 3. measured ----------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (nan when there are none)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(math.ceil(q * len(ordered)) - 1, 0))]


def _s(seconds: float) -> str:
    return "—" if math.isnan(seconds) else f"{seconds:,.1f}"


def _gaps(times: Sequence[float], start: float, end: float) -> list[float]:
    inside = [t for t in times if start <= t < end]
    return [b - a for a, b in itertools.pairwise(inside)]


def day_rows(halves: Sequence[tuple[Scenario, Outcome]]) -> list[Row]:
    w = halves[0][0].watched
    n = sum(scenario.subscriptions for scenario, _ in halves)
    g = f"capacity (simulated day): W={w} watched + N={n:,} daily ·"
    counts: Counter[str] = Counter()
    gaps: list[float] = []
    runs: list[float] = []
    rechecks: list[float] = []
    seen: list[float] = []
    for scenario, out in halves:
        counts.update(out.counts)
        gaps += _gaps(out.poll_times, 0.0, scenario.duration)
        runs += out.run_lateness
        rechecks += out.recheck_lateness
        seen += out.seen_after
    subs = counts["listing"] + counts["digest"]
    idle = max(BUDGET_DAY - sum(counts.values()), 0)
    formula = load(w)
    return [
        (f"{g} poll interval, mean (formula {formula.interval:.0f} s)", f"{len(gaps):,}",
         _s(sum(gaps) / len(gaps) if gaps else math.nan), "s", "—"),
        (f"{g} poll interval, longest", f"{len(gaps):,}", _s(max(gaps, default=math.nan)),
         "s", "—"),
        (f"{g} polls (formula {_rpm(formula.polls)})", f"{counts['poll']:,}",
         _rpm(counts["poll"]), "requests/min", "—"),
        (f"{g} re-checks (formula {_rpm(formula.rechecks)})", f"{counts['recheck']:,}",
         _rpm(counts["recheck"]), "requests/min", "—"),
        (f"{g} subscription runs (formula {_rpm(n * RUN_COST)})", f"{subs:,}", _rpm(subs),
         "requests/min", "—"),
        (f"{g} idle slots: on-demand headroom", f"{idle:,}",
         f"{idle / 1440 * 60 / BRIEF_COST:,.0f}", "brief digests/h", "—"),
        (f"{g} runs done ({len(runs):,} of {n:,}), due → done p50", f"{len(runs):,}",
         _s(percentile(runs, 0.5)), "s", "—"),
        (f"{g} runs due → done p99", f"{len(runs):,}", _s(percentile(runs, 0.99)), "s", "—"),
        (f"{g} runs due → done max", f"{len(runs):,}", _s(max(runs, default=math.nan)), "s",
         "—"),
        (f"{g} re-checks later than due, p99", f"{len(rechecks):,}",
         _s(percentile(rechecks, 0.99)), "s", "—"),
        (f"{g} new post seen after, p50 / p99", f"{len(seen):,}",
         f"{_s(percentile(seen, 0.5))} / {_s(percentile(seen, 0.99))}", "s", "—"),
    ]  # fmt: skip


def burst_rows(scenario: Scenario, out: Outcome) -> list[Row]:
    g = (f"capacity (simulated burst): W={scenario.watched} watched + {scenario.subscriptions} "
         "daily due at one minute ·")  # fmt: skip
    last = max(out.run_lateness, default=math.nan)
    gaps = _gaps(out.poll_times, BURST_AT - 60, BURST_AT + (0 if math.isnan(last) else last) + 60)
    queued = out.queued_waits[0] if out.queued_waits else math.nan
    direct = out.waits[0] if out.waits else math.nan
    return [
        (f"{g} last run done after", f"{len(out.run_lateness):,}", _s(last / 60), "min", "—"),
        (f"{g} longest gap between polls meanwhile", f"{len(gaps) + 1:,}",
         _s(max(gaps, default=math.nan) / 60), "min", "—"),
        (f"{g} a digest asked 1 min in, through the core's FIFO job queue ({WORKERS} workers)",
         "1", _s(queued / 60), "min", "—"),
        (f"{g} the same digest straight to the source (pacer priority)", "1", _s(direct), "s",
         "—"),
    ]  # fmt: skip


def latency_rows(watched: int, posts: float, fast: Outcome, fifo: Outcome) -> list[Row]:
    """The pacer wait of the on-demand digests (the only on-demand requests in these runs)."""
    g = f"latency: on-demand brief digest, W={watched} watched"
    g += " ·" if posts == POSTS_PER_DAY else f" with {posts:,.0f} posts/day each ·"
    n = f"{len(fast.slot_waits)}"
    span = TRIAL_START + TRIAL_WINDOW

    def bg(out: Outcome) -> str:
        return f"{(out.counts['poll'] + out.counts['recheck']) / (span / 60):.2f}"

    return [
        (f"{g} wait for a slot p50 (last col: FIFO pacer)", n,
         _s(percentile(fast.slot_waits, 0.5)), "s", _s(percentile(fifo.slot_waits, 0.5))),
        (f"{g} wait for a slot p99", n, _s(percentile(fast.slot_waits, 0.99)), "s",
         _s(percentile(fifo.slot_waits, 0.99))),
        (f"{g} wait for a slot max", n, _s(max(fast.slot_waits, default=math.nan)), "s",
         _s(max(fifo.slot_waits, default=math.nan))),
        (f"{g} asked → answered p50 (with the round trip)", n, _s(percentile(fast.waits, 0.5)),
         "s", _s(percentile(fifo.waits, 0.5))),
        (f"{g} background (polls + re-checks)", "—", bg(fast), "requests/min", bg(fifo)),
    ]  # fmt: skip


def scenarios() -> tuple[list[Scenario], list[Scenario], Scenario]:
    """The simulated day (as two 12-hour halves, each from the steady state, so that both
    processes share it), the latency runs (priority, FIFO) and the burst."""
    n = load(DAY_WATCHED).subscriptions_that_fit()
    halves = [
        Scenario(DAY_WATCHED, POSTS_PER_DAY, subscriptions=k, duration=DAY / 2, seed=SEED + i)
        for i, k in enumerate((n // 2, n - n // 2))
    ]
    rng = random.Random(SEED)
    moments = sorted(rng.uniform(TRIAL_START, TRIAL_START + TRIAL_WINDOW) for _ in range(TRIALS))
    latency = [
        Scenario(
            watched,
            posts,
            on_demand_at=tuple(moments),
            duration=TRIAL_START + TRIAL_WINDOW,
            fifo=fifo,
            seed=SEED,
        )
        for watched, posts in LATENCY_CASES
        for fifo in ((False,) if watched == 0 else (False, True))  # nothing to overtake at W=0
    ]
    burst = Scenario(
        DAY_WATCHED,
        POSTS_PER_DAY,
        subscriptions=BURST,
        burst_at=BURST_AT,
        on_demand_at=(BURST_AT + 60,),
        queued_on_demand_at=(BURST_AT + 60,),
        duration=BURST_AT + 2 * 3600,
        seed=SEED,
        listing_span=3 * 3600.0,  # polls stop for the burst's hour: keep its posts listed
    )
    return halves, latency, burst


def collect(
    started: Sequence[tuple[Scenario, Future[Outcome]]], notes: list[str]
) -> list[tuple[Scenario, Outcome]]:
    done: list[tuple[Scenario, Outcome]] = []
    for i, (scenario, future) in enumerate(started):
        out = future.result()
        done.append((scenario, out))
        _progress(
            f"[bench publicreddit] simulation {i}: W={scenario.watched} N={scenario.subscriptions}"
            f"{' fifo' if scenario.fifo else ''}: {sum(out.counts.values()):,} requests counted, "
            f"{out.end / 3600:.1f} simulated h in {out.wall_s:.1f} s"
        )
        if out.forced:
            notes.append(f"simulation {i}: time moved {out.forced} times with a request in flight")
        if out.unfinished or out.runs_failed or out.failures:
            notes.append(
                f"simulation {i} (W={scenario.watched}, N={scenario.subscriptions}): "
                f"{out.unfinished} unfinished, {out.runs_failed} runs failed, "
                f"{out.failures} re-checks failed"
            )
        gaps = _gaps(out.poll_times, 0.0, out.end)
        if max(gaps, default=0.0) > scenario.listing_span:
            notes.append(
                f"simulation {i}: two polls {max(gaps):,.0f} s apart, more than the fake lists "
                "posts for: new posts may have been missed"
            )
    return done


def part_one() -> tuple[list[Row], list[str]]:
    notes: list[str] = []
    with warnings.catch_warnings(), loopback_only():
        # asyncprawcore 4.0 authenticates with aiohttp.BasicAuth, which aiohttp 3.14 deprecates.
        warnings.filterwarnings("ignore", "BasicAuth is deprecated", DeprecationWarning)
        warnings.filterwarnings("ignore", "The 'auth' parameter is deprecated", DeprecationWarning)
        rows = asyncio.run(requests_per_digest(notes))
    return rows, notes


# --- running ---------------------------------------------------------------------------------


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def assumptions() -> list[str]:
    return [
        f"public source: PublicConfig defaults: {RPM} requests/min, brief {BRIEF_COST} request, "
        f"deep up to {PLANS[Depth.DEEP].requests}; polls at most {BACKGROUND_SHARE:.0%} of the "
        f"budget, ≥{CONFIG.poll_floor_seconds:.0f} s apart, {MULTI_MAX} subreddits a request",
        "OAuth source: asyncpraw RedditSource, DEFAULT_PLANS (brief "
        f"{DEFAULT_PLANS[Depth.BRIEF].requests}, deep {DEFAULT_PLANS[Depth.DEEP].requests} "
        "requests), token request not counted",
        f"a daily subscription: 1 listing + top {TOP} brief digests = {RUN_COST} requests, its "
        f"own subreddit, run by a FIFO job queue with {WORKERS} workers; spread at random over "
        "the day unless said otherwise",
        f"a watched subreddit: {POSTS_PER_DAY:.0f} new posts/day (Poisson), none crossing its "
        f"threshold: {CHECKS_PER_CANDIDATE} re-checks by id each over 24 h (the core's "
        "10 min doubling to 2 h schedule), candidates due together share a request (≤100 ids)",
        f"budget: {RPM} × 1,440 = {BUDGET_DAY:,} requests a day; headroom = what is left, "
        f"as brief digests ({BRIEF_COST} request) an hour",
        f"latency: {TRIALS} brief digests at random moments over {TRIAL_WINDOW / 3600:.0f} "
        "simulated hours, no subscriptions; wait for a slot = asking → the pacer's grant "
        "(each request then takes a simulated 0.1-0.5 s round trip)",
    ]


def machine() -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"machine: nproc={cpus}, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.machine()}"
    )


def main() -> int:
    started = time.perf_counter()
    print(machine())
    print(
        "server: tests/fakes/reddit_server.py on 127.0.0.1; parts 2 and 3 in simulated time "
        "(bench/public_reddit_sim.py)"
    )
    print(
        "columns: public vs OAuth rows: figure = public, last = OAuth; latency rows: figure = "
        "priority pacer, last = FIFO pacer; poll interval rows: last = one listing per subreddit"
    )
    halves, latency, burst = scenarios()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = max(min(cpus or 1, 2), 1)
    _progress(f"[bench publicreddit] {len(halves) + len(latency) + 2} jobs on {workers} processes")
    with ProcessPoolExecutor(max_workers=workers) as pool:
        # The longest first, so that the two processes finish together.
        day_jobs = [(s, pool.submit(run_scenario, s)) for s in halves]
        first = pool.submit(part_one)
        other_jobs = [(s, pool.submit(run_scenario, s)) for s in (*latency, burst)]
        rows, notes = first.result()
        day = collect(day_jobs, notes)
        others = collect(other_jobs, notes)
    rows += formula_rows()
    rows += day_rows(day)
    rows += burst_rows(*others[-1])
    runs = iter(others[:-1])
    for watched, posts in LATENCY_CASES:
        fast = next(runs)[1]
        fifo = fast if watched == 0 else next(runs)[1]
        rows += latency_rows(watched, posts, fast, fifo)
    print()
    print(format_table(rows))
    print()
    for line in assumptions():
        print(f"assumption: {line}")
    for note in notes:
        print(f"note: {note}")
    usage = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(u.ru_utime + u.ru_stime for u in usage)
    print(
        f"benchmark wall time: {time.perf_counter() - started:,.0f} s "
        f"(CPU, all processes: {cpu:,.0f} s; load average {os.getloadavg()[0]:.1f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
