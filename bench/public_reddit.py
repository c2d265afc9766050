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

The scenario is in public_reddit_setup.py, part 1 in public_reddit_requests.py, parts 2 and 3's
formulas and rows in public_reddit_capacity.py, the simulation in public_reddit_sim*.py.
"""

from __future__ import annotations

import os
import random
import resource
import sys
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from adapters.reddit_source.live import DEFAULT_PLANS
from adapters.reddit_source.public_feed import BACKGROUND_SHARE, MULTI_MAX
from bench.common import machine, progress
from bench.public_reddit_capacity import (
    _gaps,
    burst_rows,
    day_rows,
    formula_rows,
    latency_rows,
    load,
)
from bench.public_reddit_requests import part_one
from bench.public_reddit_setup import (
    BRIEF_COST,
    BUDGET_DAY,
    BURST,
    BURST_AT,
    CONFIG,
    DAY_WATCHED,
    LATENCY_CASES,
    PLANS,
    POSTS_PER_DAY,
    RPM,
    RUN_COST,
    SEED,
    TRIAL_START,
    TRIAL_WINDOW,
    TRIALS,
)
from bench.public_reddit_sim import Outcome, Scenario, run_scenario
from bench.public_reddit_sim_fakes import CHECKS_PER_CANDIDATE, DAY, TOP, WORKERS
from bench.reddit_common import format_table
from digest.report import Depth


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
        progress(
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
    progress(f"[bench publicreddit] {len(halves) + len(latency) + 2} jobs on {workers} processes")
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
