"""bench/public_reddit.py's scenario: the public source's defaults and the bench's assumptions
(posts a day, subscriptions, the burst, the latency trials)."""

from __future__ import annotations

from adapters.reddit_source.public import PublicConfig
from bench.public_reddit_sim_fakes import TOP
from digest.report import Depth

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
