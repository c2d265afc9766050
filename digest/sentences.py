"""Each comment's text read once per analysis.

The sentiment (digest.sentiment, measured before any analyser runs) and every part of the offline
analyser (digest.themes, digest.summary, digest.takeaways) read the same comments the same way:
the sentences the writer wrote themselves (digest.quotes.own_sentences), those sentences with
links reduced to their words and code dropped (what the mood and the themes read), each one
whitespace-normalised (what the summary and the themes quote), and the terms of each
(digest.vectors). A `ThreadText` splits each comment once and finds each sentence's terms once;
`thread_text(thread)` gives the same one back while the thread lives (a weak reference), so the
analysis that follows the sentiment does not split the comments again. `forget` drops it when
the analysis is done (at most KEEP threads are kept otherwise).
"""

from __future__ import annotations

import re
import threading
import weakref
from collections import Counter
from collections.abc import Callable

from digest.model import Comment, Thread
from digest.text import normalize_ws
from digest.vectors import ClauseTerms, term_list, terms

KEEP = 2  # threads whose texts are kept between the sentiment and the analysis
# Links reduced to their words, inline code dropped: what the writer says in their own words.
_LINKS = re.compile(r"!?\[([^\]]*)\]\([^)\s]*\)|https?://\S+|`[^`]*`")

# How many comment bodies were split into sentences (tests check that each is split once).
splits = 0


def flatten(sentence: str) -> str:
    """A sentence with links reduced to their words and code spans dropped, stripped."""
    return _LINKS.sub(lambda m: m.group(1) or " ", sentence).strip()


class CommentText:
    """One comment's own sentences, split once; the derived forms made when first asked for."""

    __slots__ = ("_flat", "_normalized", "body", "own")

    def __init__(self, body: str) -> None:
        # (imported here: digest.quotes needs digest.report, which needs this module's users)
        from digest.quotes import own_sentences

        global splits
        splits += 1
        self.body = body
        self.own: tuple[str, ...] = tuple(own_sentences(body))  # verbatim slices of the body
        self._flat: tuple[str, ...] | None = None
        self._normalized: tuple[str, ...] | None = None

    @property
    def flat(self) -> tuple[str, ...]:
        """The own sentences with links reduced to their words, code dropped; empty ones left
        out (digest.mood.own_text)."""
        if self._flat is None:
            self._flat = tuple(f for f in map(flatten, self.own) if f)
        return self._flat

    @property
    def normalized(self) -> tuple[str, ...]:
        """The own sentences, whitespace-normalised (one for each of `own`)."""
        if self._normalized is None:
            self._normalized = tuple(map(normalize_ws, self.own))
        return self._normalized


class ThreadText:
    """The comments of one thread, each read once, and the terms of each sentence asked for."""

    __slots__ = ("__weakref__", "_bags", "_clauses", "_comments")

    def __init__(self) -> None:
        self._comments: dict[str, CommentText] = {}
        self._bags: dict[str, Counter[str]] = {}
        self._clauses: dict[str, ClauseTerms] = {}

    def of(self, comment: Comment) -> CommentText:
        text = self._comments.get(comment.id)
        if text is None or text.body is not comment.body:
            text = self._comments[comment.id] = CommentText(comment.body)
        return text

    def terms(self, text: str) -> tuple[list[str], dict[str, str]]:
        """digest.vectors.terms, each clause read once (a comment's clauses are read again in
        its sentences)."""
        return terms(text, self._clauses)

    def term_list(self, text: str) -> list[str]:
        """The terms only (`terms(text)[0]`)."""
        return term_list(text, self._clauses)

    def bag(self, sentence: str) -> Counter[str]:
        """The terms of a sentence, counted; shared: do not change it."""
        bag = self._bags.get(sentence)
        if bag is None:
            bag = self._bags[sentence] = Counter(term_list(sentence, self._clauses))
        return bag


_LOCK = threading.Lock()
_RECENT: dict[int, tuple[weakref.ref[Thread], ThreadText]] = {}


def thread_text(thread: Thread) -> ThreadText:
    """The texts of `thread`'s comments: the same object for the same thread while it is kept."""
    key = id(thread)
    with _LOCK:
        entry = _RECENT.get(key)
        if entry is not None and entry[0]() is thread:
            return entry[1]
        text = ThreadText()
        _RECENT.pop(key, None)
        _RECENT[key] = (weakref.ref(thread, _dropper(key)), text)
        while len(_RECENT) > KEEP:
            del _RECENT[next(iter(_RECENT))]
        return text


def _dropper(key: int) -> Callable[[weakref.ref[Thread]], None]:
    def drop(ref: weakref.ref[Thread]) -> None:
        # No lock: this may run in the middle of `thread_text` (a collection), and a dict's
        # get and pop are atomic; the entry goes only if it is still this thread's.
        entry = _RECENT.get(key)
        if entry is not None and entry[0] is ref:
            _RECENT.pop(key, None)

    return drop


def forget(thread: Thread) -> None:
    """Drop the texts kept for `thread` (its analysis is done)."""
    with _LOCK:
        entry = _RECENT.get(id(thread))
        if entry is not None and entry[0]() is thread:
            del _RECENT[id(thread)]
