"""The fact rules of issue 14, checked on every real thread at both depths (offline analyser).

Each check is written apart from the code it checks (its own URL reading, its own quote-block
reading), so the two can disagree:
- no listed link merges two different links: each place a link is credited to holds it, as
  written or as an equivalent form (case of scheme and host, default port, trailing slash,
  fragment);
- no quote gives a commenter words they only quoted (a `>` block, lazy continuation included);
- a short comment of plain prose is quoted whole;
- no count is followed by a noun in the wrong number;
- a deleted OP never "wrote 0".
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from adapters.reddit_source.thread_json import thread_from_json_text
from digest.model import Thread
from digest.pipeline import DigestEngine
from digest.quotes import QUOTE_LIMIT, mark_cut, quote_of
from digest.render.markdown import render_markdown, render_text
from digest.report import Depth, Report
from digest.sentiment import make_scorer
from tests.conftest import thread_params

DEPTHS = [pytest.param(d, id=d.value) for d in Depth]


@cache
def _engine() -> DigestEngine:
    return DigestEngine(scorer=make_scorer())


@cache
def _thread(path: Path) -> Thread:
    return thread_from_json_text(path.read_bytes(), source=str(path))


@cache
def _report(path: Path, depth: Depth) -> Report:
    return _engine().digest_sync(_thread(path), depth)


def _ws(text: str) -> str:
    return " ".join(text.split())


# Links, read independently of digest.text.find_urls and digest.stats.link_key.

_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_TOKEN = re.compile(r"(?=(https?://\S+))", re.IGNORECASE)  # overlapping: each start of a URL
_ENDS = ")]>[<\"'`|*"
_TRAIL = ".,;:!?*_~'\""


def _candidates(text: str) -> set[str]:
    """Every way a reader could end each URL-looking token of the text (markdown unescaped)."""
    out: set[str] = set()
    for token in _TOKEN.findall(_ESCAPED.sub(r"\1", text)):
        cuts = [token] + [token[:i] for i, ch in enumerate(token) if ch in _ENDS]
        for cut in cuts:
            while cut and cut[-1] in _TRAIL:
                cut = cut[:-1]
            out.add(cut)
    return out


def _same_page(url: str) -> str:
    try:
        p = urlsplit(url)
        port = p.port
    except ValueError:
        return url
    default = {"http": 80, "https": 443}.get(p.scheme.lower())
    host = (p.hostname or "") + (f":{port}" if port not in (None, default) else "")
    path = re.sub(r"%[0-9a-f]{2}", lambda m: m.group(0).upper(), p.path).rstrip("/")
    return f"{p.scheme.lower()}://{host}{path}?{p.query}"


@pytest.mark.parametrize("path", thread_params())
def test_every_listed_link_was_written_by_whom_it_is_credited_to(path: Path) -> None:
    thread = _thread(path)
    for depth in Depth:  # the links are the same at both depths: computed, not narrated
        for link in _report(path, depth).stats.links:
            for source in link.found_in:
                if source.comment_id is None:
                    text = f"{thread.post.url} {thread.post.body}"
                    assert source.author == thread.post.author
                else:
                    comment = thread.by_id[source.comment_id]
                    assert source.author == comment.author
                    text = comment.body
                written = {_same_page(u) for u in _candidates(text)}
                assert _same_page(link.url) in written, (link.url, source, text[:300])


# Quote blocks, read independently of digest.quotes.

_BLOCK_START = re.compile(r"^ {0,3}(?:```|~~~|#{1,6}(?:\s|$)|(?:[-*+]|1[.)])[ \t]+\S)")
_THEMATIC = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")


def _without_quote_blocks(body: str) -> str:
    """The body with each `>` line, and each lazy continuation line after one (CommonMark: a
    non-blank line that does not start a block of its own), replaced by a marker line."""
    lines = []
    quoting = False
    for line in body.splitlines():
        if not line.strip():
            quoting = False
        elif line.lstrip().startswith((">", "&gt;")):
            quoting = True
        elif quoting and (_BLOCK_START.match(line) or _THEMATIC.match(line)):
            quoting = False
        lines.append("\x00" if quoting else line)
    return "\n".join(lines)


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("path", thread_params())
def test_no_quote_gives_anyone_words_they_only_quoted(path: Path, depth: Depth) -> None:
    thread = _thread(path)
    for quote in _report(path, depth).quotes():
        if quote.comment_id is None:
            if _ws(quote.text) in _ws(thread.post.title):
                continue
            body = thread.post.body
        else:
            body = thread.by_id[quote.comment_id].body
        q = _ws(quote.text)
        assert q in _ws(body), quote
        if q.startswith(">"):
            continue  # shown with its `>`: the reader sees a quotation
        assert q in _ws(_without_quote_blocks(body)), (quote, body[:400])


_NOT_PLAIN = re.compile(r"^\s*(?:>|&gt;|\||#|[-*+] |\d+[.)] |```|~~~|    |\t)|https?://", re.M)


@pytest.mark.parametrize("path", thread_params())
def test_a_short_comment_of_plain_prose_is_quoted_whole(path: Path) -> None:
    thread = _thread(path)
    for c in thread.comments:
        flat = _ws(c.body)
        if not c.has_text or len(flat) > QUOTE_LIMIT - 20 or _NOT_PLAIN.search(c.body):
            continue
        if any(set(line.strip()) <= set("-*_=# ") for line in c.body.splitlines() if line.strip()):
            continue  # a rule or a setext underline: not plain prose
        q = mark_cut(thread, quote_of(thread, c))
        assert _ws(q.text) == flat, (c.id, c.body)
        assert not q.cut


# Counts.

WRONG_NUMBER = re.compile(
    r"\b(?<![-.,])1 (comments|levels|times|points|replies|links|people|accounts|authors|items"
    r"|words|images|branches)\b"
    r"|\b(?<![.,])(?:[02-9]|\d\d+) (comment|level|time|point|reply|link|account|author|item"
    r"|word|image|branch)\b"
)
_QUOTED = re.compile(r"“[^”]*”")


def _our_words(report: Report, text: str) -> str:
    """The rendered text without the thread's own words (quotes, the title)."""
    for own in (report.thread.title,):
        if own:
            text = text.replace(own, "")
    return _QUOTED.sub("“”", text)


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("path", thread_params())
def test_every_count_takes_the_right_number(path: Path, depth: Depth) -> None:
    report = _report(path, depth)
    for text in (render_markdown(report), render_text(report)):
        found = WRONG_NUMBER.search(_our_words(report, text))
        assert found is None, found


@pytest.mark.parametrize("path", thread_params())
def test_a_deleted_op_never_wrote_0(path: Path) -> None:
    thread = _thread(path)
    for depth in Depth:
        report = _report(path, depth)
        text = render_markdown(report) + render_text(report)
        if thread.post.author is None:
            assert report.stats.op_comments is None
            assert not re.search(r"\b(?:wrote|commented) 0\b", text)
        else:
            assert report.stats.op_comments is not None
