"""The fact rules of issue 14, each on the real thread where a careful reader found it broken.

Links keep scheme, host, port and path; a Markdown link target ends at its closing parenthesis;
words inside a `>` block (lazy continuation lines too) are never the quoter's; a quote is whole
sentences or the whole short comment; a deleted OP wrote an unknown number of comments, not 0;
counts take the right number; labels that single a comment out are true (ties, replies, "widely
shared"). The threads are in ../shared/data/reddit/localllama; tests on them skip without it.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from functools import cache

import pytest

from adapters.reddit_source.thread_json import thread_from_json_text
from digest.grounding import check_quote
from digest.labels import (
    is_most_upvoted,
    is_widely_shared,
    most_replies,
    op_best,
    point_lead,
    upvote_rank,
)
from digest.model import Thread
from digest.pipeline import DigestEngine
from digest.quotes import (
    mark_cut,
    own_paragraphs,
    quote_about,
    quote_of,
    quote_of_post,
    quoted_from_others,
)
from digest.render.json_report import render_json
from digest.render.markdown import render_markdown, render_text
from digest.report import Depth, Quote, Report
from digest.sentiment import make_scorer
from digest.stats import collect_links, compute_stats, link_key
from digest.text import find_urls, normalize_ws, plural
from tests.conftest import NO_DATA_REASON, REDDIT_DATA
from tests.test_offline_themes import thread_of

LOCALLLAMA = REDDIT_DATA / "localllama"
needs_data = pytest.mark.skipif(not LOCALLLAMA.is_dir(), reason=NO_DATA_REASON)


@cache
def _engine() -> DigestEngine:
    return DigestEngine(scorer=make_scorer())


@cache
def thread(name: str) -> Thread:
    path = LOCALLLAMA / f"localllama_{name}.json"
    return thread_from_json_text(path.read_bytes(), source=str(path))


@cache
def report(name: str, depth: Depth) -> Report:
    return _engine().digest_sync(thread(name), depth)


@cache
def markdown(name: str, depth: Depth) -> str:
    return render_markdown(report(name, depth))


def by(t: Thread, author: str, start: str = "") -> str:
    """The id of the comment by `author` whose body starts with `start`."""
    (cid,) = [c.id for c in t.comments if c.author == author and c.body.startswith(start)]
    return cid


# 1. Links keep scheme, host, port and path.


@needs_data
def test_a_port_makes_another_link_1mfuiri() -> None:
    """u/atape_1 wrote :11434 (ollama), u/freewizard :1234 (LM Studio). Before: one link,
    `http://localhost:1234/v1 — shared by u/freewizard (3 points) and 1 more`, crediting u/atape_1
    with an address they never wrote."""
    links = {lk.url: [s.author for s in lk.found_in] for lk in collect_links(thread("1mfuiri"))}
    assert links["http://localhost:11434/v1"] == ["atape_1"]
    assert links["http://localhost:1234/v1"] == ["freewizard"]
    deep = markdown("1mfuiri", Depth.DEEP)
    assert "- <http://localhost:11434/v1> *— shared by u/atape\\_1 (7 points)*" in deep
    assert "- <http://localhost:1234/v1> *— shared by u/freewizard (3 points)*" in deep


def test_link_keys_fold_only_what_is_equivalent() -> None:
    same = [
        ("https://github.com/a/b", "https://github.com/a/b/"),
        ("https://github.com/a/b", "HTTPS://GitHub.COM/a/b"),
        ("https://github.com/a/b", "https://github.com:443/a/b"),
        ("http://example.org/", "http://example.org:80"),
        ("https://github.com/a/b", "https://github.com/a/b#readme"),
        ("https://x.org/~me/a%2fb", "https://x.org/%7Eme/a%2Fb"),
    ]
    different = [
        ("http://localhost:11434/v1", "http://localhost:1234/v1"),
        ("http://github.com/a/b", "https://github.com/a/b"),  # another scheme
        ("https://www.github.com/a/b", "https://github.com/a/b"),  # another host
        ("https://github.com/a/b", "https://github.com/a/B"),  # paths are case-sensitive
        ("https://x.org/p?id=1", "https://x.org/p?id=2"),
        ("https://x.org/app#/one", "https://x.org/app#/two"),  # a web app's route
        ("https://x.org:8443/a", "https://x.org/a"),
    ]
    for a, b in same:
        assert link_key(a) == link_key(b), (a, b)
    for a, b in different:
        assert link_key(a) != link_key(b), (a, b)


# 2. A Markdown link target ends at its balanced closing parenthesis.


@needs_data
def test_a_markdown_link_ends_at_its_closing_parenthesis_1hphlz7() -> None:
    """u/Arcosim wrote `[$3K per ](https://…/o3-and-arc-agi-the-unsolved-tasks)task.`. Before:
    the link was listed as `…-the-unsolved-tasks)task`."""
    urls = [lk.url for lk in collect_links(thread("1hphlz7"))]
    assert "https://anokas.substack.com/p/o3-and-arc-agi-the-unsolved-tasks" in urls
    assert not [u for u in urls if ")" in u and u.count("(") != u.count(")")]
    deep = markdown("1hphlz7", Depth.DEEP)
    assert "<https://anokas.substack.com/p/o3-and-arc-agi-the-unsolved-tasks>" in deep
    assert "tasks)task" not in deep


def test_urls_end_where_markdown_ends_them() -> None:
    cases = {
        "[$3K per ](https://a.org/the-tasks)task.": ["https://a.org/the-tasks"],
        "[wiki](https://en.wikipedia.org/wiki/Foo_(bar)) yes": [
            "https://en.wikipedia.org/wiki/Foo_(bar)"
        ],
        "(see https://en.wikipedia.org/wiki/Foo_(bar)).": [
            "https://en.wikipedia.org/wiki/Foo_(bar)"
        ],
        "(see https://a.org/x).": ["https://a.org/x"],
        '[t](https://a.org/x "a title")': ["https://a.org/x"],
        "[t](https://a.org/a\\)b)c": ["https://a.org/a)b"],  # an escaped paren is the URL's
        "<https://a.org/x?q=(1>": ["https://a.org/x?q=(1"],
        "<https://evil.example/phish|totally safe>": ["https://evil.example/phish"],  # no autolink
        "[https://a.org/](https://a.org/)": ["https://a.org/", "https://a.org/"],
        "http://localhost:11434/v1 and http://localhost:1234/v1": [
            "http://localhost:11434/v1",
            "http://localhost:1234/v1",
        ],
        "https://a.org/?next=https://b.org/ end": ["https://a.org/?next=https://b.org/"],
    }
    for text, urls in cases.items():
        assert list(find_urls(text)) == urls, text


# 3. Words inside a `>` block are never the quoter's.

CHELONO_QUOTES = "**Native MXFP4 quantization:** The models are trained with native MXFP4 precision"


@needs_data
def test_a_quoted_readme_line_is_not_the_quoters_1miezct() -> None:
    """u/Chelono quotes two README lines (`>` on the first, the second a lazy continuation).
    Before: `In a reply, u/Chelono (85 points) says: “**Native MXFP4 quantization:** The models
    are trained with native MXFP4 precision…”`."""
    t = thread("1miezct")
    chelono = t.by_id[by(t, "Chelono", ">f**ine-tunable:**")]
    assert CHELONO_QUOTES in chelono.body
    assert not [p for p in own_paragraphs(chelono.body) if "MXFP4 quantization" in p]
    q = mark_cut(t, quote_of(t, chelono))
    assert q.text == "is in the README, so this isn't postquantization / distillation."
    assert not q.cut
    for depth in Depth:
        for quote in report("1miezct", depth).quotes():
            if quote.author == "Chelono":
                assert "MXFP4 precision" not in quote.text, quote
        assert "says: “\\*\\*Native MXFP4" not in markdown("1miezct", depth)
    # Grounding refuses the same attribution from any analyser.
    stolen = Quote(chelono.id, "Chelono", chelono.score, "The models are trained with native MXFP4")
    assert "quotes" in (check_quote(t, stolen) or "")
    own = Quote(chelono.id, "Chelono", chelono.score, "is in the README")
    assert check_quote(t, own) is None


def test_a_quote_block_goes_on_over_lazy_lines_until_a_new_block() -> None:
    body = (
        "> quoted\nstill quoted (lazy)\n\nmine\n> again\n# My heading\n"
        "> and\n- my list item\n> more\n```\nmy code\n```\n> last\n    lazy too\n\nmine again"
    )
    assert list(own_paragraphs(body)) == ["mine", "My heading", "my list item", "mine again"]
    assert quoted_from_others("still quoted (lazy)", body)
    assert quoted_from_others("quoted still quoted", body)
    assert not quoted_from_others("mine", body)
    assert not quoted_from_others("> quoted still quoted", body)  # shown as a quotation
    assert quoted_from_others("lazy too mine again", body)  # partly quoted is still quoted


def test_a_comment_of_only_quoted_words_is_shown_as_a_quotation() -> None:
    t = thread_of([("> what they said\nand more of it", 5), ("Plain words of my own here.", 3)])
    q = quote_of(t, t.by_id["c0"])
    assert q.text.startswith(">")  # the reader sees the `>`: never the quoter's own words
    assert check_quote(t, q) is None


def test_the_posts_own_words_are_quoted_not_what_it_quotes() -> None:
    """For analysers quoting the post: `quote_of_post` stops before a `>` block; a prefix of the
    body running into one is refused by grounding."""
    t = thread_of([("Fine.", 1)])
    body = "My own intro sentence here.\n> the README says this\nand this\n\nMore of mine."
    t = replace(t, post=replace(t.post, body=body))
    q = quote_of_post(t)
    assert q is not None
    assert q.text == "My own intro sentence here."
    assert check_quote(t, q) is None
    crossing = Quote(None, t.post.author, t.post.score, "My own intro sentence here. > the README")
    assert check_quote(t, crossing) is not None
    lazy = Quote(None, t.post.author, t.post.score, "and this")
    assert "quotes" in (check_quote(t, lazy) or "")


# 4. A quote is whole sentences or the whole short comment.


@needs_data
def test_a_short_comment_keeps_its_punchline_1miezct() -> None:
    """Before: “New amazing open source model…”, cut before “Look inside / Lobotomized”."""
    t = thread("1miezct")
    c = t.by_id[by(t, "probablyuntrue", "New amazing")]
    for q in (quote_of(t, c), quote_about(t, c, "model", 140), quote_about(t, c, "open source")):
        q = mark_cut(t, q)
        assert normalize_ws(q.text) == "New amazing open source model Look inside Lobotomized"
        assert not q.cut
        assert check_quote(t, q) is None
    for depth in Depth:
        text = markdown("1miezct", depth)
        assert "New amazing open source model…" not in text
    deep = markdown("1miezct", Depth.DEEP)
    assert "“New amazing open source model / Look inside / Lobotomized”" in deep


@needs_data
def test_a_long_quote_ends_on_a_whole_sentence_1mfuiri() -> None:
    """Before: “While annoying, this change is probably better long term. JSON doesn’t have much
    structure … especially…” (the second sentence cut)."""
    t = thread("1mfuiri")
    q = mark_cut(t, quote_of(t, t.by_id[by(t, "iKy1e", "While annoying")]))
    assert q.text == "While annoying, this change is probably better long term."
    assert not q.cut


def test_only_a_sentence_longer_than_the_limit_is_cut() -> None:
    long = "word " * 60 + "end."
    t = thread_of([(f"Short one. {long}", 5), (long, 4), ("Intro\n\n- one\n- two", 3)])
    assert quote_of(t, t.by_id["c0"]).text == "Short one."
    cut = mark_cut(t, quote_of(t, t.by_id["c1"], 100))
    assert cut.cut
    assert len(cut.text) <= 100
    assert quote_of(t, t.by_id["c2"]).text == "Intro\n- one\n- two"  # whole, marks kept inside


# 5. A deleted OP wrote an unknown number of comments.


@needs_data
def test_a_deleted_op_wrote_an_unknown_number_1hphlz7() -> None:
    """Before: `147 distinct authors; the OP wrote 0.` beside `The OP's account is deleted`."""
    t = thread("1hphlz7")
    assert t.post.author is None
    assert compute_stats(t).op_comments is None
    for depth in Depth:
        for text in (markdown("1hphlz7", depth), render_text(report("1hphlz7", depth))):
            assert not re.search(r"wrote 0\b|commented 0\b", text)
    deep = markdown("1hphlz7", Depth.DEEP)
    assert "147 distinct authors; how many the OP wrote is unknown" in deep
    assert "so how many of the comments are theirs is unknown" in deep
    assert json.loads(render_json(report("1hphlz7", Depth.DEEP)))["stats"]["op_comments"] is None


# 6. Counts take the right number.


def test_plural() -> None:
    assert plural(1, "comment") == "1 comment"
    assert plural(0, "comment") == "0 comments"
    assert plural(-1, "point") == "-1 point"
    assert plural(2345, "level") == "2,345 levels"
    assert plural(1, "reply", "replies") == "1 reply"
    assert plural(2, "reply", "replies") == "2 replies"


WRONG_NUMBER = re.compile(
    r"\b(?<![-.,])1 (comments|levels|times|points|replies|links|people|accounts|authors|items)\b"
    r"|\b(?<![.,])(?:[02-9]|\d\d+) (comment|level|time|point|reply|link|account|author|item)\b"
)


@needs_data
def test_counts_of_one_are_singular_1mdnp8j_1mfuiri() -> None:
    """Before: `up to 1 levels deep`, `commented 1 times`, `(1 comments)`,
    `the deepest reply chain is 1 levels`, `Reddit marks 1 comments as controversial`."""
    deep = markdown("1mdnp8j", Depth.DEEP)
    assert "The OP, u/Django\\_McFly, commented 1 time." in deep
    assert "UTC (1 comment); comments run" in deep
    assert "2 top-level comments, 0 replies, no reply chains." in deep
    assert "2 are top-level and none are replies; no comment has a reply." in deep
    assert "Reddit marks 1 comment as controversial." in markdown("1mfuiri", Depth.DEEP)
    for name in ("1mdnp8j", "1mfuiri"):
        for depth in Depth:
            assert not WRONG_NUMBER.search(markdown(name, depth))


ONE_COMMENT = [("Only me here, and I have one thing to say about it.", 1)]


def test_a_one_comment_thread_says_one_everywhere() -> None:
    """Everything but the analyser's sentiment reading (see the test below)."""
    t = thread_of(ONE_COMMENT)
    for depth in Depth:
        r = _engine().digest_sync(t, depth)
        for text in (render_markdown(r), render_text(r)):
            text = text.replace(t.post.title, "").replace(r.sentiment_reading, "")
            found = WRONG_NUMBER.search(text)
            assert found is None, found
    deep = render_markdown(_engine().digest_sync(t, Depth.DEEP))
    assert "1 comment fetched of 1 reported" in deep
    assert "1 top-level comment, 0 replies, no reply chains." in deep
    assert "1 distinct author;" in deep
    assert "analysed 1 of 1 comment." in deep


def test_the_offline_sentiment_reading_says_one_comment() -> None:
    r = _engine().digest_sync(thread_of(ONE_COMMENT), Depth.BRIEF)
    assert WRONG_NUMBER.search(r.sentiment_reading) is None, r.sentiment_reading


# 7. Labels that single a comment out are true (helpers for the analysers).


@needs_data
def test_a_tie_is_said_as_a_tie_1mdnp8j() -> None:
    """Two comments, 1 point each. Before: `The most upvoted comment (1 point)` for one and
    `The second most upvoted comment (1 point)` for the other."""
    t = thread("1mdnp8j")
    for c in t.comments:
        assert upvote_rank(t, c.id) == "one of 2 comments tied for most upvoted"
        assert is_most_upvoted(t, c.id)
    top = thread("1hphlz7")
    ranked = sorted(top.comments, key=lambda c: -c.score)
    assert ranked[0].score > ranked[1].score > ranked[2].score
    assert upvote_rank(top, ranked[0].id) == "the most upvoted comment"
    assert upvote_rank(top, ranked[1].id) == "the second most upvoted comment"
    assert not is_most_upvoted(top, ranked[1].id)


@needs_data
def test_reply_is_said_only_of_replies_1h85tt4_1ibk9us() -> None:
    """u/Amgadoz's best comment in 1h85tt4 is top-level. Before: `The OP's most upvoted reply`."""
    t = thread("1h85tt4")
    best = t.by_id[by(t, "Amgadoz", "Benchmarks")]
    assert best.parent_id is None
    assert op_best(t, best.id) == "the OP's most upvoted comment"
    t2 = thread("1ibk9us")
    reply = t2.by_id[by(t2, "FullstackSensei", "Contrary to the rhetoric")]
    assert reply.parent_id is not None
    assert op_best(t2, reply.id) == "the OP's most upvoted reply"


@needs_data
def test_widely_shared_only_when_it_is_1mdnp8j_1mfuiri() -> None:
    """Before: `A widely shared point, from u/Ok_Appearance3584 (1 point)` (1mdnp8j) and
    `from u/Klutzy-Snow8016 (4 points)` (1mfuiri, 108 comments)."""
    t = thread("1mdnp8j")
    one = by(t, "Ok_Appearance3584")
    assert point_lead(t, one) == "Another point"
    t = thread("1mfuiri")
    assert point_lead(t, by(t, "Klutzy-Snow8016", "What inference engine")) == "Another point"
    t = thread("1h85tt4")
    few = by(t, "Few_Painter_5588", "An iterative improvement")
    assert is_widely_shared(t, few)
    assert point_lead(t, few) == "A widely shared point"


def test_most_replies_says_a_tie() -> None:
    t = thread_of([("a", 1), ("b", 1), ("c", 1)])
    assert most_replies(t, "c0", {"c0": 3, "c1": 3, "c2": 1}) == (
        "tied for the most direct replies (3, with 1 other comment)"
    )
    assert most_replies(t, "c0", {"c0": 3, "c2": 1}) == "drew the most direct replies (3)"
    assert most_replies(t, "c2", {"c0": 3, "c2": 1}) == "drew the second most direct replies (1)"
