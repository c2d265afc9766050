"""Reports survive a trip through JSON exactly (the cache and persisted jobs rely on it)."""

from __future__ import annotations

from adapters.reddit_source.thread_json import thread_from_json
from digest.codec import dumps, loads
from digest.pipeline import DigestEngine
from digest.report import Depth, Report
from tests.support.synthetic import thread_json


def test_reports_round_trip() -> None:
    engine = DigestEngine()
    for n, depth in ((0, Depth.BRIEF), (40, Depth.DEEP), (300, Depth.BRIEF)):
        report = engine.digest_sync(thread_from_json(thread_json(n, seed=n)), depth)
        again = loads(Report, dumps(report))
        assert again == report
        assert dumps(again) == dumps(report)
