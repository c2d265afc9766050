"""The analyser port: what any analyser (offline, or an LLM behind an adapter) is given and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

from digest.model import Comment, Thread
from digest.report import Depth, Narrative, Usage
from digest.select import Selection
from digest.sentiment import SentimentStats
from digest.stats import ThreadStats


@dataclass(frozen=True)
class AnalysisInput:
    thread: Thread
    depth: Depth
    stats: ThreadStats
    selection: Selection
    sentiment: SentimentStats
    # For a deep analysis: the brief selection it extends (its comments come first in a prompt,
    # so a provider's cache of the brief prompt serves the deep one).
    shared_selection: Selection | None = None
    # The language the report is written in (digest.i18n.LANGUAGES): an LLM writes its
    # narrative in it; the offline analyser writes English.
    lang: str = "en"

    @cached_property
    def comments(self) -> list[Comment]:
        """The selected comments, in thread order."""
        return self.selection.comments(self.thread)


@dataclass(frozen=True, slots=True)
class NarrativeResult:
    narrative: Narrative
    usage: Usage = field(default_factory=Usage)
    notes: tuple[str, ...] = ()  # e.g. repairs made to the analyser's output


class Analyzer(Protocol):
    """Writes the narrative of a report.

    Contract: `narrate` returns a Narrative about `inp.thread` only; quotes it carries may be
    wrong (the pipeline checks and drops them), but it must not raise for content reasons. It may
    raise AnalyzerUnavailable when it cannot answer at all (the pipeline then falls back).
    """

    name: str

    async def narrate(self, inp: AnalysisInput) -> NarrativeResult: ...

    def overhead_tokens(self, depth: Depth) -> int:
        """Prompt tokens spent besides the thread itself (0 for the offline analyser)."""
        ...


class AnalyzerUnavailable(Exception):
    """The analyser could not produce a narrative (timeout, service down, invalid output twice).

    `usage`: what the attempt cost all the same (tokens of answers thrown away); the report the
    fallback writes carries it, so the spend cap and --show-usage count it."""

    def __init__(self, message: str = "", usage: Usage | None = None) -> None:
        super().__init__(message)
        self.usage = usage if usage is not None else Usage()
