"""Quotes that can be trusted: verbatim, whitespace-normalised, attributed from the thread."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

from digest.model import Comment, Thread
from digest.report import Quote
from digest.text import excerpt, normalize_ws, sentences, singular

QUOTE_LIMIT = 220
_FENCE = re.compile(r"^\s*(```|~~~)")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def own_paragraphs(body: str) -> Iterator[str]:
    """Paragraphs the author wrote: not blockquotes of others, not code, not tables or rules.

    Each one is a contiguous slice of `body`, so any normalised prefix of it is a verbatim quote.
    """
    in_fence = False
    for line in body.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        stripped = line.strip()
        if (
            in_fence
            or not stripped
            or stripped.startswith((">", "|", "&gt;"))
            or line.startswith(("    ", "\t"))
            or set(stripped) <= set("-*_=# ")
        ):
            continue
        mark = _LIST_MARK.match(line)
        yield line[mark.end() :] if mark else stripped.lstrip("#").strip()


def quote_of(thread: Thread, comment: Comment, limit: int = QUOTE_LIMIT) -> Quote:
    """The comment's first words of its own, cut at a word boundary."""
    text = ""
    for paragraph in own_paragraphs(comment.body):
        candidate = excerpt(paragraph, limit)
        if len(candidate.split()) >= 4 or (not text and len(candidate) >= 3):
            text = candidate  # prefer a real sentence over a heading or a one-word line
        if len(text.split()) >= 4:
            break
    if not text:
        text = excerpt(comment.body, limit)
    return Quote(comment.id, comment.author, comment.score, text)


def quote_about(thread: Thread, comment: Comment, topic: str, limit: int = QUOTE_LIMIT) -> Quote:
    """The comment's first sentence of its own that mentions `topic` (any of its words, plural
    or not), cut at a word boundary; its first words when no sentence does."""
    keys = [singular(w) for w in _TOPIC_WORD.findall(topic)]
    if keys:
        words = "|".join(map(re.escape, keys))
        mentions = re.compile(rf"\b(?:{words})(?:s|es)?\b", re.IGNORECASE)
        for sentence in own_sentences(comment.body):
            if mentions.search(sentence):
                return Quote(comment.id, comment.author, comment.score, excerpt(sentence, limit))
    return quote_of(thread, comment, limit)


_TOPIC_WORD = re.compile(r"[^\W\d_]{3,}")


def mark_cut(thread: Thread, quote: Quote) -> Quote:
    """The quote, marked `cut` when the sentence it comes from goes on after its last word."""
    sources: tuple[str, ...]
    if quote.comment_id is None:
        sources = (thread.post.body, thread.post.title)
    else:
        comment = thread.by_id.get(quote.comment_id)
        sources = (comment.body,) if comment is not None else ()
    text = quote.text.rstrip()
    for source in sources:
        flat = normalize_ws(source)
        at = flat.find(text)
        if at == -1:
            continue
        after = flat[at + len(text) :].lstrip()
        cut = bool(after) and not text.endswith(_SENTENCE_END)
        return quote if cut == quote.cut else replace(quote, cut=cut)
    return quote


_SENTENCE_END = (".", "!", "?", "…", ":", ";", '"', "”", "’", "'", ")", "]", "。", "！", "？")


def quote_text(thread: Thread, comment_id: str | None, text: str) -> Quote:
    """A quote of given words, attributed from the thread (author and score are never taken
    from an analyser)."""
    if comment_id is None:
        return Quote(None, thread.post.author, thread.post.score, normalize_ws(text))
    c = thread.by_id[comment_id]
    return Quote(c.id, c.author, c.score, normalize_ws(text))


def own_sentences(body: str) -> Iterator[str]:
    """Sentences of the author's own paragraphs (each a verbatim slice of the body)."""
    for paragraph in own_paragraphs(body):
        yield from sentences(paragraph)


def is_verbatim(quote_text: str, source: str) -> bool:
    """True when the quote is a whitespace-normalised substring of the source."""
    q = normalize_ws(quote_text)
    return bool(q) and q in normalize_ws(source)
