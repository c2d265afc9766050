"""The brief as a chat message (issue 14): a one-line TL;DR first; typically at most 1,200
characters; no comment quoted twice; no theme without an example; "Top links" without image
previews, local addresses or the post's own link; counts in the right number.

Measured over every real thread in ../shared/data/reddit (skipped without it) and on synthetic
threads that always run.
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest

from adapters.reddit_source.thread_json import thread_from_json_text
from digest import codec
from digest.offline import OfflineAnalyzer
from digest.pipeline import DigestEngine
from digest.render.brief import BUDGET, shareable
from digest.render.document import brief_document
from digest.render.markdown import render_markdown, render_text
from digest.report import Depth, Report
from digest.sentiment import make_scorer
from digest.stats import LinkCategory
from tests.conftest import NO_DATA_REASON, REDDIT_DATA, real_thread_files, thread_params
from tests.test_offline_themes import TOPICS, thread_of

LOCALLLAMA = REDDIT_DATA / "localllama"
needs_data = pytest.mark.skipif(not LOCALLLAMA.is_dir(), reason=NO_DATA_REASON)


@cache
def _engine() -> DigestEngine:
    return DigestEngine(scorer=make_scorer())


@cache
def brief(path: Path) -> Report:
    return _engine().digest_sync(thread_from_json_text(path.read_bytes()), Depth.BRIEF)


def local(name: str) -> Path:
    return LOCALLLAMA / f"localllama_{name}.json"


def test_the_tldr_comes_first_in_one_line() -> None:
    """The analyser's TL;DR (until the pipeline carries Narrative.tldr into the report, the
    brief composes the same line from the report)."""
    t = thread_of(TOPICS)
    r = _engine().digest_sync(t, Depth.BRIEF)
    written = OfflineAnalyzer().narrate_sync(_engine().prepare(t, Depth.BRIEF)).tldr
    assert written
    doc = brief_document(r)
    first = doc.sections[0]
    assert first.title == "TL;DR"
    (block,) = first.blocks
    (line,) = block.lines
    text = "".join(s.text for s in line)
    assert "\n" not in text
    assert text == (r.tldr or written)
    assert render_markdown(r).split("\n## ")[1].startswith("TL;DR")


def test_a_report_without_an_analysers_tldr_still_leads_with_one() -> None:
    """Reports cached before the field existed, or from an analyser that wrote none."""
    r = replace(_engine().digest_sync(thread_of(TOPICS), Depth.BRIEF), tldr="")
    first = brief_document(r).sections[0]
    assert first.title == "TL;DR"
    assert "".join(s.text for s in first.blocks[0].lines[0])


@needs_data
def test_brief_length_over_every_real_thread() -> None:
    """Before: 1,300-3,400 characters on the LocalLLaMA threads (median ~2,700)."""
    lengths = {p.stem: len(render_markdown(brief(p))) for p in real_thread_files()}
    median = statistics.median(lengths.values())
    longest = max(lengths.values())
    print(f"brief length over {len(lengths)} real threads: median {median:,.0f}, max {longest:,}")
    assert median <= BUDGET
    assert longest <= BUDGET + 400, max(lengths.items(), key=lambda kv: kv[1])


def _quoted_comments(r: Report) -> list[str]:
    """Comment ids of the quotes the brief shows (a quote span is matched to its quote)."""
    by_text: dict[str, set[str]] = {}
    for q in r.quotes():
        if q.comment_id is not None:
            by_text.setdefault(q.text, set()).add(q.comment_id)
    ids = []
    for section in brief_document(r).sections:
        for block in section.blocks:
            for line in block.lines:
                for span in line:
                    if span.style == "quote":
                        text = span.text.removesuffix("…")
                        ids.append(min(by_text.get(text, {f"post:{text}"})))
    return ids


@pytest.mark.parametrize("path", thread_params())
def test_no_comment_is_quoted_twice_and_every_theme_has_an_example(path: Path) -> None:
    r = brief(path)
    ids = _quoted_comments(r)
    assert len(ids) == len(set(ids)), ids
    for section in brief_document(r).sections:
        if section.title == "Key themes":
            for line in section.blocks[0].lines:
                assert any(s.style == "quote" for s in line), line


@pytest.mark.parametrize("path", thread_params())
def test_top_links_are_worth_sharing(path: Path) -> None:
    r = brief(path)
    t = r.thread
    listed = [
        span.text
        for section in brief_document(r).sections
        if section.title == "Top links"
        for block in section.blocks
        for line in block.lines
        for span in line
        if span.style == "link"
    ]
    by_url = {lk.url: lk for lk in r.stats.links}
    for url in listed:
        assert url not in (t.url, t.permalink)
        assert not re.match(r"https?://(localhost|127\.|0\.0\.0\.0|\[::1\])", url), url
        assert by_url[url].category is not LinkCategory.MEDIA, url
        assert shareable(r, by_url[url])


@needs_data
def test_no_image_previews_local_addresses_or_own_link_1lpm6cv_1mfuiri_1miezct() -> None:
    """Before: the gallery itself and a preview.redd.it image (1lpm6cv), http://localhost:1234/v1
    first (1mfuiri), the post's i.redd.it image and two previews (1miezct)."""
    for name in ("1lpm6cv", "1mfuiri", "1miezct"):
        text = render_markdown(brief(local(name)))
        links = text.split("## Top links")[-1] if "## Top links" in text else ""
        assert "preview.redd.it" not in links
        assert "i.redd.it" not in links
        assert "localhost" not in links
        assert "/gallery/" not in links


WRONG_NUMBER = re.compile(
    r"\b(?<![-.,])1 (comments|levels|times|points|replies|links|others|images)\b"
    r"|\b(?<![.,])(?:[02-9]|\d\d+) (comment|level|time|point|reply|link|other|image)\b"
)


@pytest.mark.parametrize("path", thread_params())
def test_counts_in_the_brief_take_the_right_number(path: Path) -> None:
    r = brief(path)
    for text in (render_markdown(r), render_text(r)):
        text = re.sub(r"“[^”]*”", "“”", text.replace(r.thread.title, ""))
        found = WRONG_NUMBER.search(text)
        assert found is None, found


def test_a_cached_report_without_a_tldr_still_loads() -> None:
    r = _engine().digest_sync(thread_of(TOPICS), Depth.BRIEF)
    data = json.loads(codec.dumps(r))
    del data["tldr"]
    loaded = codec.loads(Report, json.dumps(data))
    assert loaded.tldr == ""
    assert brief_document(loaded).sections[0].title == "TL;DR"
