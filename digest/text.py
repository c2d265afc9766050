"""Small text helpers shared by stats, selection, analysers and grounding checks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

_WS = re.compile(r"\s+")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~>])")
_ESCAPABLE = frozenset("\\`*_{}[]()#+-.!|~>")
_URL_START = re.compile(r"https?://", re.IGNORECASE)
# Where a bare URL ends (what GitHub's and Reddit's autolinkers stop at); trailing punctuation
# is trimmed afterwards.
_BARE_STOP = frozenset(" \t\n\r\f\v<>[]\"'`|{}^")
_TRAILING = ".,;:!?*_~'\""


def normalize_ws(text: str) -> str:
    """Collapse every run of whitespace to one space (quotes are compared in this form)."""
    return _WS.sub(" ", text).strip()


def unescape_markdown(text: str) -> str:
    """Drop markdown backslash escapes (`foo\\_bar` → `foo_bar`), as a reader would see the text."""
    return _MD_ESCAPE.sub(r"\1", text)


def find_urls(text: str) -> Iterator[str]:
    """Every http(s) URL in markdown text, as a reader would follow it (escapes undone).

    - a Markdown link target `[text](URL)` ends at its balanced closing parenthesis, so
      `[x](https://a/b)c` is `https://a/b` and `[x](https://w/Foo_(bar))` keeps `Foo_(bar)`;
    - an autolink `<URL>` ends at `>` (with no whitespace inside; else it is a bare URL);
    - a bare URL ends at whitespace or `<>[]"'`|{}^`, then loses trailing punctuation and an
      unbalanced closing parenthesis (`(see https://a/b).` is `https://a/b`).
    """
    pos = 0
    for match in _URL_START.finditer(text):
        start = match.start()
        if start < pos:
            continue  # inside the URL found before (`?next=https://...`)
        before = text[max(0, start - 3) : start]
        if before.endswith("]("):
            url, pos = _scan_target(text, start)
        elif before.endswith("<") and _closes_autolink(text, start):
            url, pos = _scan(text, start, lambda ch, _depth: ch == ">")
        else:
            url, pos = _scan_bare(text, start)
            url = _trim_bare(url)
        if len(url) > len(url.split("://", 1)[0]) + 4:
            yield url


def _closes_autolink(text: str, start: int) -> bool:
    """`<URL>` is an autolink only when a `>` closes it before any whitespace or `<`
    (CommonMark 6.5); `<https://a/b|c d>` is text with a bare URL in it."""
    for ch in text[start:]:
        if ch == ">":
            return True
        if ch.isspace() or ch == "<":
            return False
    return False


def _scan(
    text: str, start: int, stop: Callable[[str, int], bool], *, literal: bool = True
) -> tuple[str, int]:
    """Read from `start` until `stop(char, paren depth)`, undoing backslash escapes. In a link
    target or autolink (`literal`) an escaped character never ends the URL nor counts as a
    parenthesis; in bare text it is read as the character a reader sees."""
    out: list[str] = []
    depth = 0
    i = start
    while i < len(text):
        ch = text[i]
        step = 1
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPABLE:
            ch, step = text[i + 1], 2
            if literal:
                out.append(ch)
                i += step
                continue
        if stop(ch, depth):
            break
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        out.append(ch)
        i += step
    return "".join(out), i


# Runs `_scan` reads as they are: no escape, and (in a link target) no parenthesis.
_BARE_RUN = re.compile(r"[^ \t\n\r\f\v<>\[\]\"'`|{}^\\]*")
_TARGET_RUN = re.compile(r"[^\s()\\]*")


def _scan_bare(text: str, start: int) -> tuple[str, int]:
    """A bare URL: it ends at whitespace or one of `<>[]"'`|{}^` (a backslash escape read as the
    character it escapes)."""
    run = _BARE_RUN.match(text, start)
    end = run.end() if run else start
    if end < len(text) and text[end] == "\\":
        return _scan(text, start, lambda ch, _depth: ch in _BARE_STOP, literal=False)
    return text[start:end], end


def _scan_target(text: str, start: int) -> tuple[str, int]:
    """A Markdown link destination: it ends at whitespace or at the `)` that closes the link."""
    run = _TARGET_RUN.match(text, start)
    end = run.end() if run else start
    if end < len(text) and text[end] in "(\\":  # (a `)` here closes the link)
        return _scan(text, start, lambda ch, depth: ch.isspace() or (ch == ")" and depth == 0))
    return text[start:end], end


def _trim_bare(url: str) -> str:
    while url:
        if url[-1] in _TRAILING:
            url = url[:-1]
        elif url[-1] == ")" and url.count(")") > url.count("("):
            url = url[:-1]  # the closing paren of prose around the URL
        else:
            break
    return url


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


# re.IGNORECASE compares a character with a lower-case ASCII letter by its simple lower case, and
# also takes 'ſ' for 's' and 'ı' for 'i'; str.lower() agrees but for 'İ' (it gives two characters).
_IGNORECASE_FOLD = str.maketrans({"İ": "i", "ſ": "s", "ı": "i"})


def folded(text: str) -> str:
    """The text lower-cased the way re.IGNORECASE compares it with lower-case ASCII: whatever a
    case-insensitive pattern matches holds the pattern's ASCII letters, lower-cased, once folded
    (one character for one, so a part of a text folds to a part of the folded text)."""
    return text.lower() if text.isascii() else text.translate(_IGNORECASE_FOLD).lower()


class Cue:
    """A case-insensitive pattern with a quick test for the texts it cannot match.

    `hint`: lower-case words one of which each match of `pattern` holds (or a case-sensitive
    pattern that finds such a part), looked for in the folded text (see `folded`); most texts
    hold none and are not searched. `from_start`: `pattern` also has alternatives anchored at the
    start (`^`) that the hint does not cover; they are tried there with match(). The answers are
    the pattern's own.
    """

    __slots__ = ("_hint", "_words", "from_start", "pattern")

    def __init__(
        self, pattern: re.Pattern[str], hint: tuple[str, ...] | str, *, from_start: bool = False
    ) -> None:
        self.pattern = pattern
        self._words = hint if isinstance(hint, tuple) else ()
        self._hint = re.compile(hint) if isinstance(hint, str) else None
        self.from_start = from_start

    def hinted(self, text: str, fold: str | None = None) -> bool:
        """Whether the text holds a hint (`fold`: the text already folded)."""
        fold = folded(text) if fold is None else fold
        if self._hint is not None:
            return self._hint.search(fold) is not None
        return any(word in fold for word in self._words)

    def search(self, text: str, fold: str | None = None) -> re.Match[str] | None:
        if not self.hinted(text, fold):
            return self.pattern.match(text) if self.from_start else None
        return self.pattern.search(text)

    def count(self, text: str, fold: str | None = None) -> int:
        """len(pattern.findall(text))."""
        if not self.from_start and not self.hinted(text, fold):
            return 0
        return len(self.pattern.findall(text))

    def sub(self, repl: str, text: str, fold: str | None = None) -> str:
        if not self.from_start and not self.hinted(text, fold):
            return text
        return self.pattern.sub(repl, text)


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


def plural(n: int, word: str, words: str | None = None) -> str:
    """`1 comment`, `2,345 comments`, `1 reply`/`2 replies` (give the plural when it is not
    `word` + "s"). Only exactly one (or minus one) is singular: `0 comments`."""
    return f"{n:,} {word if abs(n) == 1 else (words or word + 's')}"


def points(n: int) -> str:
    """`1 point`, `2,345 points`."""
    return plural(n, "point")
