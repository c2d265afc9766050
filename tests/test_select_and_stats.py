"""Selection under a budget and the computed numbers, on synthetic threads."""

from __future__ import annotations

import json

from adapters.reddit_source.thread_json import thread_from_json, thread_from_json_text
from digest.select import comment_cost, post_cost, select_comments
from digest.stats import LinkCategory, categorize, collect_links, compute_stats
from digest.text import estimate_tokens, excerpt, find_urls, normalize_ws
from tests.support.synthetic import thread_json


def test_selection_stays_within_budget_and_keeps_ancestors() -> None:
    thread = thread_from_json(thread_json(2_000, seed=3))
    for budget in (500, 2_000, 8_000, 24_000):
        sel = select_comments(thread, budget)
        assert sel.tokens_used <= budget
        chosen = set(sel.comment_ids)
        for cid in chosen:
            assert all(a.id in chosen for a in thread.ancestors(cid))
        by_id = thread.by_id
        assert sel.tokens_used == sel.post_tokens + sum(comment_cost(by_id[i]) for i in chosen)
        assert list(sel.comment_ids) == [c.id for c in thread.comments if c.id in chosen]


def test_selection_favours_score_and_spreads_across_branches() -> None:
    thread = thread_from_json(thread_json(3_000, seed=5))
    sel = select_comments(thread, 8_000)
    chosen = set(sel.comment_ids)
    texts = [c for c in thread.comments if c.has_text]
    top10 = sorted(texts, key=lambda c: -c.score)[:10]
    assert sum(c.id in chosen for c in top10) >= 8
    assert sel.coverage.branches_analyzed >= 10


def test_op_replies_are_kept_when_they_fit() -> None:
    thread = thread_from_json(thread_json(400, seed=9))
    sel = select_comments(thread, 24_000)
    op = [c.id for c in thread.comments if c.is_submitter and c.has_text]
    assert op
    assert sum(i in sel.comment_ids for i in op) / len(op) >= 0.9


def test_everything_fits_when_the_budget_is_large() -> None:
    thread = thread_from_json(thread_json(150, seed=1))
    sel = select_comments(thread, 10**9)
    texts = {c.id for c in thread.comments if c.has_text}
    assert texts <= set(sel.comment_ids)
    assert sel.coverage.describe().startswith("analysed")


def test_a_tiny_budget_selects_nothing_but_says_so() -> None:
    thread = thread_from_json(thread_json(50, seed=1))
    sel = select_comments(thread, 10)
    assert sel.comment_ids == ()
    assert post_cost(thread, 10) == sel.post_tokens
    assert sel.coverage.describe() == "analysed 0 of 50 comments"


def test_token_estimate_is_local_and_sane() -> None:
    assert estimate_tokens("") == 0
    assert 4 <= estimate_tokens("the quick brown fox jumps over") <= 9
    assert estimate_tokens("日本語のテキスト") == 8  # CJK: about one token per character


def test_urls_found_as_written() -> None:
    text = (
        "see [paper](https://arxiv.org/abs/1234.5678). and (https://en.wikipedia.org/wiki/Foo_(bar))"
        " http://x.y/a\\_b, <https://github.com/a/b> ok"
    )
    assert list(find_urls(text)) == [
        "https://arxiv.org/abs/1234.5678",
        "https://en.wikipedia.org/wiki/Foo_(bar)",
        "http://x.y/a_b",
        "https://github.com/a/b",
    ]


def test_link_categories() -> None:
    cases = {
        "https://arxiv.org/abs/1": LinkCategory.PAPER,
        "https://example.com/paper.pdf": LinkCategory.PAPER,
        "https://github.com/x/y": LinkCategory.CODE,
        "https://huggingface.co/spaces/x/y": LinkCategory.CODE,
        "https://huggingface.co/meta/llama": LinkCategory.MODEL,
        "https://www.theverge.com/x": LinkCategory.NEWS,
        "https://i.redd.it/a.png": LinkCategory.MEDIA,
        "https://youtu.be/x": LinkCategory.MEDIA,
        "https://www.reddit.com/r/x/comments/y/": LinkCategory.REDDIT,
        "https://example.org/x": LinkCategory.OTHER,
    }
    for url, category in cases.items():
        assert categorize(url)[1] is category, url


def test_links_are_deduplicated_with_every_place_they_were_found() -> None:
    raw = thread_json(5, seed=2)
    kids = raw[1]["data"]["children"]
    kids[0]["data"]["body"] = "read https://github.com/a/b and https://github.com/a/b/"
    kids[-1]["data"]["body"] = (
        "also https://GitHub.com:443/a/b#readme, not http://www.github.com/a/b"
    )
    thread = thread_from_json(raw)
    links = [lk for lk in collect_links(thread) if "github.com/a/b" in lk.url.lower()]
    # Host case, a default port, a trailing slash and a fragment change nothing; another scheme
    # or host is another link (tests/test_fact_rules.py has the reasons).
    assert [lk.url for lk in links] == ["https://github.com/a/b", "http://www.github.com/a/b"]
    assert links[0].mentions == 2
    assert {s.comment_id for s in links[0].found_in} == {
        kids[0]["data"]["id"],
        kids[-1]["data"]["id"],
    }
    assert [s.comment_id for s in links[1].found_in] == [kids[-1]["data"]["id"]]


def test_stats_on_a_synthetic_thread() -> None:
    raw = thread_json(300, seed=4)
    thread = thread_from_json_text(json.dumps(raw))
    stats = compute_stats(thread)
    assert stats.comments_present == 300
    assert stats.top_level_comments + stats.replies == 300
    assert (
        stats.top_comment_ids[0]
        == max(
            (c for c in thread.comments if c.has_text),
            key=lambda c: (c.score, -c.created.timestamp()),
        ).id
    )
    assert 0 < stats.top_decile_score_share <= 1
    assert stats.busiest_hour_comments >= 1
    assert stats.first_comment_at is not None
    assert stats.last_comment_at is not None
    assert stats.first_comment_at <= stats.last_comment_at


def test_excerpt_is_a_verbatim_prefix() -> None:
    text = "First  sentence here.\nSecond one is a lot longer and keeps going " + "word " * 80
    cut = excerpt(text, 45)
    assert normalize_ws(text).startswith(cut)
    assert cut == "First sentence here."


def test_excerpt_cuts_at_a_word_when_no_sentence_ends_early() -> None:
    text = "word " * 100
    cut = excerpt(text, 52)
    assert normalize_ws(text).startswith(cut)
    assert len(cut) <= 52
    assert not cut.endswith(" ")
