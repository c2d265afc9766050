"""Grounding as properties over generated threads: counts, quotes, links and coverage."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.reddit_source.thread_json import thread_from_json_text
from digest.grounding import check_quote, url_in_thread
from digest.pipeline import DigestEngine, ground
from digest.report import Depth, Narrative, Passage, Quote
from digest.sentiment import make_scorer
from tests.independent import count
from tests.support.synthetic import comment_data, nest, post_data

ENGINE = DigestEngine(scorer=make_scorer())

URLS = st.sampled_from(
    [
        "https://github.com/a/b",
        "https://arxiv.org/abs/2101.00001",
        "http://example.com/x_(y)",
        "https://i.redd.it/z.png",
        "https://huggingface.co/m/n?rev=1&x=2",
    ]
)
WORD = st.sampled_from(
    "the model is great terrible I think you should avoid use it never works love hate "
    "日本語 émoji 🚀 & < > @everyone **bold** _it_ `code` > quote | pipe".split()
)


@st.composite
def bodies(draw: st.DrawFn) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            parts.append(f"[link]({draw(URLS)})")
        elif kind == 1:
            parts.append(draw(URLS) + draw(st.sampled_from(["", ".", ",", ")", " "])))
        elif kind == 2:
            parts.append("\n\n> " + " ".join(draw(st.lists(WORD, max_size=5))) + "\n\n")
        elif kind == 3:
            parts.append(draw(st.text(max_size=30)))
        else:
            parts.append(" ".join(draw(st.lists(WORD, min_size=1, max_size=12))) + ".")
    return draw(st.sampled_from([" ", "\n", "  \n"])).join(parts)


@st.composite
def threads(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(0, 35))
    comments: list[dict[str, Any]] = []
    depth_of: dict[str, int] = {}
    for i in range(n):
        cid = f"k{i}"
        parent, depth = "t3_abc", 0
        attach = draw(st.booleans())
        if comments and attach:
            p = comments[draw(st.integers(0, len(comments) - 1))]
            parent, depth = p["name"], depth_of[p["id"]] + 1
        state = draw(st.sampled_from(["ok"] * 6 + ["deleted", "removed", "gone_author"]))
        author = draw(st.sampled_from(["op", "alice", "bob_1", "carol", "dave"]))
        body = draw(bodies())
        if state == "deleted":
            author, body = "[deleted]", "[deleted]"
        elif state == "removed":
            body = "[removed]"
        elif state == "gone_author":
            author = "[deleted]"
        comments.append(
            comment_data(
                cid,
                parent,
                author=author,
                body=body,
                score=draw(st.integers(-20, 5000)),
                created=1_700_000_000 + draw(st.integers(0, 100_000)),
                depth=depth,
                is_submitter=author == "op",
                controversiality=draw(st.integers(0, 1)),
            )
        )
        depth_of[cid] = depth
    post = post_data("abc", n + draw(st.integers(0, 100))) | {
        "author": "op",
        "selftext": draw(bodies()),
        "title": " ".join(draw(st.lists(WORD, min_size=1, max_size=8))),
    }
    return [
        {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": post}]}},
        {"kind": "Listing", "data": {"children": nest(comments)}},
    ]


PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(raw=threads(), depth=st.sampled_from(list(Depth)), budget=st.integers(300, 30_000))
def test_reports_are_grounded(raw: list[dict[str, Any]], depth: Depth, budget: int) -> None:
    text = json.dumps(raw)
    thread = thread_from_json_text(text)
    report = ENGINE.digest_sync(thread, depth, budget)
    expected = count(json.loads(text))

    # Counts equal an independent count of the JSON.
    s = report.stats
    assert s.comments_present == expected["comments_fetched"]
    assert s.top_level_comments == expected["top_level_comments"]
    assert s.max_depth == expected["max_depth"]
    assert s.deleted_comments == expected["deleted_comments"]
    assert s.removed_comments == expected["removed_comments"]
    assert s.unique_authors == expected["unique_authors"]
    assert s.op_comments == expected["op_comments"]
    assert report.thread.num_comments == expected["num_comments"]

    # Every quote is verbatim and correctly attributed.
    for quote in report.quotes():
        assert check_quote(thread, quote) is None, quote

    # Every link occurs in the thread, and is found where it is said to be.
    for link in s.links:
        assert url_in_thread(thread, link.url)
        for where in link.found_in:
            if where.comment_id is not None:
                c = thread.by_id[where.comment_id]
                assert (c.author, c.score) == (where.author, where.score)

    # Coverage is consistent and stated.
    cov = report.coverage
    assert cov.analyzed <= cov.fetched == s.comments_present
    assert cov.reported == expected["num_comments"]
    assert f"analysed {cov.analyzed:,} of {max(cov.reported, cov.fetched):,}" in cov.describe()


@PROPS
@given(
    raw=threads(),
    mutations=st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from(["misquote", "unknown", "author", "ok"])),
        max_size=8,
    ),
)
def test_ground_drops_every_bad_quote(raw: list[dict[str, Any]], mutations: list[Any]) -> None:
    thread = thread_from_json_text(json.dumps(raw))
    texts = [c for c in thread.comments if c.has_text]
    passages = []
    for index, how in mutations:
        if not texts:
            break
        c = texts[index % len(texts)]
        q = Quote(c.id, c.author, c.score, c.body[:40])
        if how == "misquote":
            q = Quote(c.id, c.author, c.score, c.body[:40] + " and something they never said")
        elif how == "unknown":
            q = Quote("nope", c.author, c.score, c.body[:40])
        elif how == "author":
            q = Quote(c.id, "someone_else", c.score, c.body[:40])
        passages.append(Passage("x", q))
    narrative = Narrative(tuple(passages), (), "", {}, (), ())
    clean, problems = ground(thread, narrative)
    for p in clean.summary:
        assert p.quote is not None
        assert check_quote(thread, p.quote) is None
    assert len(clean.summary) + len(problems) == len(passages)
