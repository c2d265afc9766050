"""bench/reddit_fetch.py's table: the rows of a case (budgeted figure, naive figure beside it) and
its notes (what failed, what the recording caps, whether the deep target is met and why not)."""

from __future__ import annotations

from collections.abc import Mapping

from adapters.reddit_source.live import DEFAULT_PLANS
from bench.common import share_pct as _pct
from bench.reddit_common import TOP_N, Row, top_share
from bench.reddit_fetch_cases import NAIVE_TIMEOUT_S, TARGET_REQUESTS, TARGET_SHARE, Case
from bench.reddit_fetch_measure import CaseResult, Fetch, best_first, top_ids
from digest.report import Depth
from tests.fakes.reddit_server import MORECHILDREN_BATCH


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:,.1f}" if ms < 1000 else f"{ms:,.0f}"


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
