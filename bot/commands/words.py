"""Tokens and argument values: splitting a line into words (quotes kept whole), quoting a word
back in a message, and the number and term lists several commands take."""

from __future__ import annotations

import re

from bot.commands.model import MAX_TERM_LENGTH, MAX_TERMS, CommandError

_QUOTES = {'"': '"”', "“": '”"', "'": "'’", "‘": "’'", "`": "`"}  # opener → closers
_QUOTE_CHARS = frozenset(_QUOTES)


def shown(token: str) -> str:
    """A token as quoted back in a message: one line, not too long."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in token).split())
    if not flat:
        return "(empty)"
    return flat if len(flat) <= 40 else flat[:39] + "…"


def split_words(text: str) -> list[str]:
    """Split on whitespace, keeping "quoted phrases" (straight, curly or backtick quotes) whole.

    Unlike shlex this never raises on its own: an unclosed quote becomes a CommandError. A quote
    opens only at the start of a word or after a comma, so apostrophes (don't) stay literal.
    """
    if _QUOTE_CHARS.isdisjoint(text):
        return text.split()  # no quote at all (most commands): the same words, split in C
    words: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        word: list[str] = []
        while i < n and not text[i].isspace():
            ch = text[i]
            if ch in _QUOTES and (not word or word[-1] == ","):
                end = next((j for j in range(i + 1, n) if text[j] in _QUOTES[ch]), -1)
                if end < 0:
                    raise CommandError(
                        f"The quote {ch} before “{shown(text[i + 1 :])}” is never closed: "
                        'close it, like flair "New Model".'
                    )
                word.append(text[i + 1 : end])
                i = end + 1
                continue
            word.append(ch)
            i += 1
        words.append("".join(word))
    return words


def number(word: str | None, what: str, low: int, high: int, sample: str) -> int:
    """A whole number in [low, high] (1,000 and #3 are fine), or a CommandError naming the word."""
    if word is None:
        raise CommandError(f"Give {what} from {low:,} to {high:,}, like {sample}.")
    text = word.strip().lstrip("#").replace(",", "").replace("_", "")
    # At most 9 digits: int() of a huge string is slow, and no count here needs more.
    if not re.fullmatch(r"[0-9]{1,9}", text) or not low <= int(text) <= high:
        raise CommandError(
            f"“{shown(word)}” is not {what} from {low:,} to {high:,}, like {sample}."
        )
    return int(text)


def terms(word: str | None, option: str, sample: str) -> list[str]:
    """Comma-separated flair names or keywords (quoted when they contain spaces)."""
    found = [" ".join(t.split()) for t in (word or "").split(",")]
    found = [t for t in found if t]
    if not found:
        raise CommandError(f"“{option}” needs a value: quote it if it has spaces, like {sample}.")
    for term in found:
        if len(term) > MAX_TERM_LENGTH or not term.isprintable():
            raise CommandError(
                f"“{shown(term)}” is too long or has odd characters for {option}: "
                f"use up to {MAX_TERM_LENGTH} characters, like {sample}."
            )
    return found


def add_terms(have: tuple[str, ...], new: list[str], option: str, sample: str) -> tuple[str, ...]:
    out = list(have)
    for term in new:
        if term.lower() not in (o.lower() for o in out):
            out.append(term)
    if len(out) > MAX_TERMS:
        raise CommandError(f"Use at most {MAX_TERMS} values for {option}, like {sample}.")
    return tuple(out)
