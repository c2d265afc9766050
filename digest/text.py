"""Small text helpers shared by stats, selection, analysers and grounding checks."""

from __future__ import annotations

import re
from collections.abc import Iterator

_WS = re.compile(r"\s+")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~>])")
# http(s) URLs, as found in markdown links or bare. Trailing punctuation is trimmed afterwards.
_URL = re.compile(r"https?://[^\s<>\[\]\"'`|{}^]+", re.IGNORECASE)
_TRAILING = ".,;:!?*_~'\""


def normalize_ws(text: str) -> str:
    """Collapse every run of whitespace to one space (quotes are compared in this form)."""
    return _WS.sub(" ", text).strip()


def unescape_markdown(text: str) -> str:
    """Drop markdown backslash escapes (`foo\\_bar` → `foo_bar`), as a reader would see the text."""
    return _MD_ESCAPE.sub(r"\1", text)


def find_urls(text: str) -> Iterator[str]:
    """Every http(s) URL in markdown text, as written, without trailing punctuation."""
    for match in _URL.finditer(unescape_markdown(text)):
        url = match.group(0)
        while url:
            if url[-1] in _TRAILING:
                url = url[:-1]
            elif url[-1] == ")" and url.count(")") > url.count("("):
                url = url[:-1]  # the closing paren of a markdown link or of prose
            else:
                break
        if "://" in url and len(url) > len(url.split("://", 1)[0]) + 4:
            yield url


def estimate_tokens(text: str) -> int:
    """A local, deterministic token estimate: ~4 ASCII characters per token, 1 per other character.

    Close to real tokenisers for English and conservative for CJK, which is what budgets need.
    """
    chars = len(text)
    if not chars:
        return 0
    extra_bytes = len(text.encode("utf-8")) - chars
    non_ascii = min(chars, (extra_bytes + 1) // 2)
    return (chars - non_ascii + 3) // 4 + non_ascii


_SENTENCE = re.compile(r"(?<=[.!?。！？])[\"')\]]*\s+|\n{1,}")


def sentences(text: str) -> list[str]:
    """Split text into sentences; every piece is a substring of the input."""
    out: list[str] = []
    start = 0
    for m in _SENTENCE.finditer(text):
        piece = text[start : m.start() + len(m.group(0).rstrip())].strip()
        if piece:
            out.append(piece)
        start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def excerpt(text: str, limit: int = 200) -> str:
    """A verbatim, whitespace-normalised prefix of `text`, cut at a word boundary.

    The result is always a substring of normalize_ws(text): quotes stay checkable.
    """
    flat = normalize_ws(text)
    if len(flat) <= limit:
        return flat
    window = flat[: limit + 1]
    sentence_end = max(window.rfind(p) for p in (". ", "! ", "? ", "。"))
    if sentence_end >= limit * 0.4:
        return flat[: sentence_end + 1]  # end on a whole sentence when one is long enough
    cut = flat.rfind(" ", 0, limit)
    return flat[: cut if cut > limit // 2 else limit].rstrip()


def singular(word: str) -> str:
    """A crude plural fold, enough to make `model` and `models` one word (`glass` stays)."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def points(n: int) -> str:
    """`1 point`, `2,345 points`."""
    return f"{n:,} point" + ("" if abs(n) == 1 else "s")
