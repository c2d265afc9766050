"""Quotes that can be trusted: verbatim, whitespace-normalised, attributed from the thread."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import Enum

from digest.model import Comment, Thread
from digest.report import Quote
from digest.text import excerpt, normalize_ws, sentences, singular

QUOTE_LIMIT = 220
_FENCE = re.compile(r"^\s*(```|~~~)")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:\s|$)")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
# List items that may interrupt a paragraph (CommonMark 5.2: a bullet, or an ordered item from 1).
_INTERRUPTING_ITEM = re.compile(r"^ {0,3}(?:[-*+]|1[.)])[ \t]+\S")
_LINK_ONLY = re.compile(r"^!?(?:\[[^\]]*\]\([^)\s]*\)|<?https?://\S+>?)$")


class _Kind(Enum):
    OWN = "own"  # the author's own prose
    BLANK = "blank"
    QUOTED = "quoted"  # a `>` block, lazy continuation lines included
    OTHER = "other"  # code, tables, rules: the author's, but not prose to quote


@dataclass(frozen=True, slots=True)
class _Line:
    kind: _Kind
    start: int  # offsets of the line in the body
    end: int
    text: str  # for OWN lines: without its list mark or heading hashes


def _lines(body: str) -> Iterator[_Line]:
    """Each line of a markdown body with what it is.

    A `>` block goes on over lazy continuation lines, as in CommonMark: a line right after a
    quoted line, with no blank line between, is still quoted unless it starts a block of its own
    (a heading, a fence, a rule or a list item).
    """
    in_fence = in_quote = False
    at = 0
    for raw in body.splitlines(keepends=True):
        start, at = at, at + len(raw)
        line = raw.rstrip("\r\n")
        stripped = line.strip()
        end = start + len(line)
        if in_fence:
            in_fence = not _FENCE.match(line)
            yield _Line(_Kind.OTHER, start, end, line)
            continue
        if not stripped:
            in_quote = False
            yield _Line(_Kind.BLANK, start, end, "")
            continue
        if stripped.startswith((">", "&gt;")):
            in_quote = True
            yield _Line(_Kind.QUOTED, start, end, line)
            continue
        if in_quote:
            if not (
                _FENCE.match(line)
                or _HEADING.match(line)
                or _RULE.match(line)
                or _INTERRUPTING_ITEM.match(line)
            ):
                yield _Line(_Kind.QUOTED, start, end, line)  # lazy continuation
                continue
            in_quote = False
        if _FENCE.match(line):
            in_fence = True
            yield _Line(_Kind.OTHER, start, end, line)
        elif (
            stripped.startswith("|")
            or line.startswith(("    ", "\t"))
            or set(stripped) <= set("-*_=# ")
        ):
            yield _Line(_Kind.OTHER, start, end, line)
        else:
            mark = _LIST_MARK.match(line)
            own = line[mark.end() :] if mark else stripped.lstrip("#").strip()
            yield _Line(_Kind.OWN, start, end, own)


def own_paragraphs(body: str) -> Iterator[str]:
    """Paragraphs the author wrote: not blockquotes of others (lazy continuation lines included),
    not code, not tables or rules.

    Each one is a contiguous slice of `body`, so any normalised prefix of it is a verbatim quote.
    """
    for line in _lines(body):
        if line.kind is _Kind.OWN:
            yield line.text


def _prose_runs(body: str) -> list[list[_Line]]:
    """Runs of the author's own prose lines with only blank lines between them: each run is a
    contiguous part of the body. A line that is only a link ends a run (it is not prose)."""
    runs: list[list[_Line]] = []
    current: list[_Line] = []
    for line in _lines(body):
        if line.kind is _Kind.BLANK:
            continue
        if line.kind is _Kind.OWN and not _LINK_ONLY.match(line.text.strip()):
            current.append(line)
            continue
        if current:
            runs.append(current)
        current = []
    if current:
        runs.append(current)
    return runs


def unquoted(body: str) -> str:
    """The body with every `>` block (lazy continuation lines included) blanked out by a marker
    line, so that no whitespace-normalised quote of it can span a quoted block."""
    out: list[str] = []
    for line in _lines(body):
        out.append("\x00" if line.kind is _Kind.QUOTED else body[line.start : line.end])
    return "\n".join(out)


def quoted_from_others(text: str, body: str) -> bool:
    """True when `text` takes words from inside the body's `>` blocks (lazy continuation lines
    included): words the writer quoted from someone else, not their own. A quote that starts
    with the `>` is not: it shows the reader it is a quotation."""
    q = normalize_ws(text)
    return (
        bool(q)
        and not q.startswith((">", "&gt;"))
        and q in normalize_ws(body)
        and q not in normalize_ws(unquoted(body))
    )


def _words_of(run: list[_Line], body: str) -> list[tuple[str, str]]:
    """A run as (separator, sentence) pieces: whitespace-normalised, each line's sentences
    joined by a space and lines by a newline. The first line is without its list mark or heading
    hashes; later lines keep theirs (the text between must stay as written)."""
    pieces: list[tuple[str, str]] = []
    for i, line in enumerate(run):
        text = line.text if i == 0 else body[line.start : line.end]
        for j, sentence in enumerate(sentences(normalize_ws(text))):
            pieces.append(("\n" if i and not j else " ", sentence))
    return pieces


def _whole_sentences(run: list[_Line], body: str, limit: int) -> str:
    """As many whole sentences from the start of the run as fit in `limit` characters (lines
    kept apart by newlines); a short run is quoted whole. Only a first sentence longer than the
    limit is cut, at a word boundary (renderers then add "…")."""
    out = ""
    for sep, sentence in _words_of(run, body):
        candidate = f"{out}{sep}{sentence}" if out else sentence
        if len(candidate) > limit:
            break
        out = candidate
    if not out:
        out = excerpt(run[0].text, limit)
    return out


def _length(run: list[_Line], body: str) -> int:
    """The run's length, whitespace-normalised."""
    return len(" ".join(s for _, s in _words_of(run, body)))


def is_short(comment: Comment, limit: int = QUOTE_LIMIT) -> bool:
    """A comment whose own prose is one run of at most `limit` characters: it is quoted whole."""
    runs = _prose_runs(comment.body)
    return len(runs) == 1 and _length(runs[0], comment.body) <= limit


def _as_written(body: str, limit: int) -> str:
    """The start of a body with no prose of its own: up to its first `>` block, or from it (the
    `>` then shows the reader that what follows is a quotation)."""
    lines = [line for line in _lines(body) if line.kind is not _Kind.BLANK]
    first_quoted = next((line for line in lines if line.kind is _Kind.QUOTED), None)
    if lines and first_quoted is not None and lines[0] is not first_quoted:
        body = body[: first_quoted.start]
    return excerpt(body, limit)


def _quote_body(body: str, limit: int) -> str:
    runs = _prose_runs(body)
    run = next(
        (r for r in runs if sum(len(line.text.split()) for line in r) >= 4),
        next((r for r in runs if len(" ".join(line.text for line in r).strip()) >= 3), None),
    )
    if run is None:
        return _as_written(body, limit)
    if _length(run, body) > limit:
        # Too long to quote whole: start at its first real sentence, not at a heading or a label.
        first = next((i for i, line in enumerate(run) if len(line.text.split()) >= 4), 0)
        run = run[first:]
    return _whole_sentences(run, body, limit)


def quote_of(thread: Thread, comment: Comment, limit: int = QUOTE_LIMIT) -> Quote:
    """The comment's own words, from its first real paragraph: whole sentences, as many as fit
    in `limit` (a short comment whole, punchline included), never words it quotes from others.

    A comment with no prose of its own (only a quote, a link, code) is quoted as written, up to
    its first `>` block or from it with the `>`, so a reader sees what it is.
    """
    return Quote(comment.id, comment.author, comment.score, _quote_body(comment.body, limit))


def quote_of_post(thread: Thread, limit: int = QUOTE_LIMIT) -> Quote | None:
    """The post's own words, as `quote_of` takes a comment's; None when the post has no text."""
    post = thread.post
    if not post.body.strip():
        return None
    return Quote(None, post.author, post.score, _quote_body(post.body, limit))


def quote_about(thread: Thread, comment: Comment, topic: str, limit: int = QUOTE_LIMIT) -> Quote:
    """The comment's first sentence of its own that mentions `topic` (any of its words, plural
    or not), cut at a word boundary only when longer than `limit`; what `quote_of` gives when
    no sentence does.

    A mention in a line that is no whole sentence ("New amazing open source model", then "Look
    inside", "Lobotomized") is not quoted alone: a short comment is then quoted whole.
    """
    keys = [singular(w) for w in _TOPIC_WORD.findall(topic)]
    if keys:
        words = "|".join(map(re.escape, keys))
        mentions = re.compile(rf"\b(?:{words})(?:s|es)?\b", re.IGNORECASE)
        for sentence in own_sentences(comment.body):
            if mentions.search(sentence):
                flat = normalize_ws(sentence)
                if not flat.endswith(_SENTENCE_END) and is_short(comment, limit):
                    break  # a fragment of a short comment: the whole comment says it
                return Quote(comment.id, comment.author, comment.score, excerpt(flat, limit))
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
    text = normalize_ws(quote.text)
    for source in sources:
        flat = normalize_ws(source)
        at = flat.find(text)
        if at == -1:
            continue
        after = flat[at + len(text) :].lstrip()
        cut = bool(after) and not text.endswith(_SENTENCE_END)
        return quote if cut == quote.cut else replace(quote, cut=cut)
    return quote


# A colon or semicolon announces more: a quote stopping there is marked cut when more follows.
_SENTENCE_END = (".", "!", "?", "…", '"', "”", "’", "'", ")", "]", "。", "！", "？")


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
