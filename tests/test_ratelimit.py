"""The sliding-window rate limiter: the limits it enforces, and that its memory follows activity
(keys active in the last window), not the number of keys ever seen."""

from __future__ import annotations

from bot.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_allows_limit_hits_per_window_then_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(3, 60.0, clock=clock)
    for _ in range(3):
        assert limiter.retry_after("u1") == 0.0
        limiter.hit("u1")
        clock.now += 10
    assert limiter.retry_after("u1") == 30.0  # the first hit (at 1000) leaves the window at 1060
    assert limiter.retry_after("u2") == 0.0  # keys are independent
    clock.now += 30
    assert limiter.retry_after("u1") == 0.0


def test_a_key_holds_only_its_last_limit_hits() -> None:
    clock = Clock()
    limiter = RateLimiter(5, 60.0, clock=clock)
    for _ in range(100):  # a caller that hits without asking first
        limiter.hit("u1")
        clock.now += 0.1
    assert len(limiter._hits["u1"]) == 5
    # Still exact: the 5th most recent hit (at now - 0.5) decides.
    assert abs(limiter.retry_after("u1") - 59.5) < 1e-9


def test_looking_does_not_remember_a_key() -> None:
    limiter = RateLimiter(5, 60.0, clock=Clock())
    for i in range(1000):
        assert limiter.retry_after(f"u{i}") == 0.0
    assert len(limiter) == 0


def test_a_key_is_forgotten_once_its_hits_left_the_window() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 60.0, clock=clock)
    limiter.hit("u1")
    clock.now += 59
    assert len(limiter) == 1
    clock.now += 1
    assert limiter.retry_after("u1") == 0.0
    assert "u1" not in limiter._hits


def test_keys_never_seen_again_are_swept_out() -> None:
    """A year of users, one digest each: the map holds only the last window's users."""
    clock = Clock()
    limiter = RateLimiter(5, 600.0, clock=clock)
    for i in range(10_000):
        limiter.hit(f"user{i}")
        clock.now += 1.0  # 10,000 s: about 17 windows
    assert len(limiter) <= 2 * 600
    clock.now += 600
    limiter.retry_after("someone")
    assert len(limiter) == 0


def test_a_sweep_keeps_keys_still_in_the_window() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 60.0, clock=clock)
    limiter.hit("old")
    clock.now += 30
    limiter.hit("recent")
    limiter.hit("recent")
    clock.now += 31  # past the first sweep: "old" is stale, "recent" is not
    limiter.hit("other")
    assert set(limiter._hits) == {"recent", "other"}
    assert limiter.retry_after("recent") == 29.0


def test_reserve_counts_at_once_and_release_gives_back() -> None:
    now = [0.0]
    limiter = RateLimiter(2, 10.0, clock=lambda: now[0])
    assert limiter.reserve("u") == 0
    assert limiter.reserve("u") == 0
    assert limiter.reserve("u") > 0  # refused, and not counted
    limiter.release("u")  # the second one created no work after all
    assert limiter.reserve("u") == 0
    limiter.release("u")
    limiter.release("u")
    limiter.release("u")  # more releases than hits: nothing breaks, nothing is kept
    assert len(limiter) == 0
