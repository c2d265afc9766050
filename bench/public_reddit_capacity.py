"""bench/public_reddit.py's parts 2 and 3 as tables: capacity by the source's formulas, and the
simulated day, burst and latency runs beside them."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.reddit_source.public_feed import BACKGROUND_SHARE, MULTI_MAX, poll_interval
from bench.common import percentile
from bench.public_reddit_setup import (
    BRIEF_COST,
    BUDGET_DAY,
    BURST_AT,
    CONFIG,
    FORMULA_WATCHED,
    POSTS_PER_DAY,
    RPM,
    RUN_COST,
    SENSITIVITY,
    SUBSCRIPTIONS_REF,
    TRIAL_START,
    TRIAL_WINDOW,
)
from bench.public_reddit_sim import Outcome, Scenario
from bench.public_reddit_sim_fakes import DAY, WORKERS, recheck_requests_per_day
from bench.reddit_common import Row

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
