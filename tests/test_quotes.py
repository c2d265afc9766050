"""Quotes that stop before the writer's sentence does say so ("…"), everywhere they are shown."""

from __future__ import annotations

import json

from digest import codec
from digest.pipeline import DigestEngine
from digest.quotes import mark_cut, quote_of
from digest.render.json_report import render_json
from digest.render.markdown import render_markdown
from digest.report import Depth, Quote, Report
from digest.sentiment import make_scorer
from tests.test_offline_themes import thread_of

LONG = (
    "Of the four war rooms created to respond, two teams will try to decipher how the lab "
    "lowered the cost of training and running the model with the goal of using those tactics "
    "for the next release, the others will look at data and at the open weights everyone has "
    "been downloading for a week now without much of a plan"
)
THREAD = thread_of(
    [
        (LONG, 500),
        ("Short and whole.", 300),
        ("Two sentences here. The second one matters", 200),
    ]
)


def test_a_quote_is_cut_only_when_its_sentence_goes_on() -> None:
    long, whole, two = (THREAD.by_id[c] for c in ("c0", "c1", "c2"))
    assert mark_cut(THREAD, quote_of(THREAD, long, 120)).cut
    assert not mark_cut(THREAD, quote_of(THREAD, whole, 120)).cut
    first = Quote(two.id, two.author, two.score, "Two sentences here.")
    assert not mark_cut(THREAD, first).cut  # a whole sentence, though more follows
    last = Quote(two.id, two.author, two.score, "The second one matters")
    assert not mark_cut(THREAD, last).cut  # the comment ends there
    title = Quote(None, THREAD.post.author, THREAD.post.score, "What do you")
    assert mark_cut(THREAD, title).cut
    unknown = Quote("nope", None, 1, "whatever")
    assert mark_cut(THREAD, unknown) is unknown


def _report() -> Report:
    return DigestEngine(scorer=make_scorer()).digest_sync(THREAD, Depth.DEEP)


def test_cut_quotes_are_shown_with_an_ellipsis_and_stay_verbatim() -> None:
    report = _report()
    cut = [q for q in report.quotes() if q.cut]
    assert cut, "the long comment is quoted in part somewhere"
    for q in cut:
        assert q.text in " ".join(THREAD.by_id[q.comment_id or ""].body.split())
        assert not q.text.endswith("…")  # the marker is the renderer's, not the quote's
    text = render_markdown(report)
    assert f"{cut[0].text}…”" in text
    for q in report.quotes():
        if not q.cut:
            assert f"{q.text}…" not in text


def test_the_cut_flag_survives_json_and_the_report_cache() -> None:
    report = _report()
    as_json = json.loads(render_json(report))
    quoted = [*as_json["top_comments"], *as_json["notable_comments"]]
    assert any(c["quote_cut"] for c in quoted)
    assert codec.loads(Report, codec.dumps(report)) == report
    old = json.loads(codec.dumps(report))  # a report cached before quotes had the flag
    for c in old["top_comments"]:
        c["quote"].pop("cut")
    assert codec.loads(Report, json.dumps(old)).top_comments[0].quote.cut is False
