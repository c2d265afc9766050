"""The offline analyser's key themes: named as people wrote them, counted against the same
denominator as the report's coverage, and illustrated by sentences that mention them."""

from __future__ import annotations

from typing import Any

from adapters.reddit_source.thread_json import thread_from_json
from digest.model import Thread
from digest.offline import find_themes
from digest.pipeline import DigestEngine
from digest.quotes import quote_about, quote_of
from digest.report import Depth
from digest.sentiment import make_scorer
from tests.support.synthetic import T0, comment_data, post_data

ENGINE = DigestEngine(scorer=make_scorer())


def thread_of(bodies: list[tuple[str, int]]) -> Thread:
    kids: list[dict[str, Any]] = []
    for i, (body, score) in enumerate(bodies):
        data = comment_data(
            f"c{i}", "t3_syn", author=f"user{i}", body=body, score=score, created=T0 + i, depth=0
        )
        kids.append({"kind": "t1", "data": data})
    post = post_data("syn", len(bodies)) | {"title": "What do you run at home?"}
    return thread_from_json(
        [
            {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": post}]}},
            {"kind": "Listing", "data": {"children": kids}},
        ]
    )


BODIES = [
    ("I moved all my summaries to a local model. Works well on one GPU.", 300),
    ("Summaries are nice. The hard part is hosting the quantized weights.", 200),
    ("We generate summaries nightly. Nobody reads them in the morning though.", 150),
    ("[deleted]", 120),
    ("Quantized weights fit in 8 GB. A GPU with more memory is still nicer.", 90),
    ("Cats are great. My GPU keeps them warm at night.", 10),
]


TOPICS = [
    ("I moved all my summaries to a local model. Works well enough.", 300),
    ("Summaries are nice, and summaries of long threads are the best part.", 200),
    ("We generate summaries nightly. Nobody reads the summaries in the morning though.", 150),
    ("[deleted]", 120),
    ("My GPU has 8 GB of memory. A GPU with more memory is still nicer.", 90),
    ("Which GPU do you use? My GPU keeps the cat warm at night.", 40),
    ("An old GPU is fine: GPU prices are falling.", 10),
]


def test_theme_names_are_words_people_wrote_not_stems() -> None:
    thread = thread_of(TOPICS)
    themes = find_themes(thread, list(thread.comments), limit=6)
    names = {t.name for t in themes}
    assert "summaries" in names or "Summaries" in names  # not the stem "summary"/"summarie"
    assert "GPU" in names  # named as written, not lower-cased
    assert not any(n.lower().endswith("summarie") for n in names)


def test_theme_counts_use_the_coverage_denominator() -> None:
    thread = thread_of(TOPICS)
    comments = list(thread.comments)  # seven, one of them deleted (no text)
    (summaries,) = [
        t for t in find_themes(thread, comments, limit=6) if t.name.lower() == "summaries"
    ]
    assert summaries.summary.startswith(f"Raised in 3 of the {len(comments)} analysed comments")


def test_theme_examples_quote_the_sentence_that_mentions_the_theme() -> None:
    """Themes are groups of comments now (issue 14), not phrases any two comments share: the
    examples are still sentences that name the theme."""
    thread = thread_of(TOPICS)
    report = ENGINE.digest_sync(thread, Depth.DEEP)
    by_name = {t.name: t for t in report.themes}
    for quote in by_name["GPU"].examples:
        assert "GPU" in quote.text
    assert (
        quote_about(thread, thread.by_id["c0"], "summaries").text
        == "I moved all my summaries to a local model."
    )
    # Plural or not, the topic is found; with no mention, the comment's first words.
    thread = thread_of(BODIES)
    assert (
        quote_about(thread, thread.by_id["c1"], "weight").text
        == "The hard part is hosting the quantized weights."
    )
    cats = thread.by_id["c5"]
    assert quote_about(thread, cats, "weights") == quote_of(thread, cats)


def test_words_about_reddit_itself_rank_below_the_topic() -> None:
    thread = thread_of(
        [
            ("Great post. Quantization hurts less than I thought.", 50),
            ("This post is gold. Quantization to 4 bits is fine.", 50),
            ("Saving this post. Quantization with GGUF works.", 50),
            ("Bookmarking the post. Quantization done right.", 50),
        ]
    )
    names = [t.name for t in find_themes(thread, list(thread.comments), limit=4)]
    assert names == ["Quantization"]  # not "post", nor "post Quantization" across a full stop
