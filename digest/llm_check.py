"""Checking the model's answer against the schema and the thread.

The model writes only narrative; every id it cites must exist, every quote must pass the same
check as any quote in a report (digest.grounding.check_quote: verbatim, the right author, not
words the commenter was quoting), every URL must be in the thread, and every number it writes
must be in the data it was shown. What fails is listed (the analyser sends the list back once)
and left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from digest.analysis import AnalysisInput
from digest.grounding import check_quote, url_in_thread
from digest.llm_port import StructuredRequest
from digest.llm_prompt import PromptIds
from digest.llm_schema import STANCES, schema_errors
from digest.quotes import quote_text
from digest.report import (
    MAX_LINK_NOTE_CHARS,
    MOODS,
    CommentNote,
    LinkNote,
    Narrative,
    Passage,
    Quote,
    Takeaway,
    Theme,
)
from digest.source import foreign_words
from digest.text import find_urls, normalize_ws

# A number as a model writes one in prose: "1,234", "0.93", "42", also with a unit ("24GB",
# "26h"); single digits are free, and digits glued after letters are names ("Q4", "Llama3").
_NUMBER = re.compile(r"(?<![\w.])\d[\d,.]*\d|(?<![\w.])\d{2,}")
# Any run of digits in the data, glued to letters or not ("+26h", "v1.5", "c12" excepted below).
_DATA_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_SHORT_ID = re.compile(r'"(?:id|parent)": "c\d+"')
_SUPERLATIVE = re.compile(
    r"\b(most upvoted|highest[- ]scor\w*|top[- ]voted|top comment|most popular)\b", re.I
)
_MENTION = re.compile(r"@(everyone|here)\b|<@|<!", re.I)
MAX_TLDR_CHARS = 240

__all__ = ["MAX_LINK_NOTE_CHARS", "MAX_TLDR_CHARS", "Checked", "LinkNote", "known_numbers",
           "validate"]  # fmt: skip


@dataclass
class Checked:
    narrative: Narrative
    errors: list[str] = field(default_factory=list)

    @property
    def mood(self) -> str | None:
        """The label the reading argues for (None without a reading)."""
        return self.narrative.mood

    @property
    def links(self) -> tuple[LinkNote, ...]:
        return self.narrative.links


def known_numbers(request: StructuredRequest) -> set[str]:
    """Numbers a model may repeat: every number in the data it was shown (scores, counts, the
    upvote ratio also as a percentage, times, numbers people wrote), commas dropped."""
    data = _SHORT_ID.sub("", "\n".join(b.text for b in request.blocks))
    found: set[str] = set()
    for n in _DATA_NUMBER.findall(data):
        found.add(n.replace(",", "").rstrip("."))
    for ratio in re.findall(r'"upvote_ratio": (\d(?:\.\d+)?)', data):
        found.add(str(round(float(ratio) * 100)))
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _as_str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


class _Checker:
    def __init__(self, inp: AnalysisInput, ids: PromptIds, request: StructuredRequest) -> None:
        self.inp = inp
        self.thread = inp.thread
        self.ids = ids
        self.numbers = known_numbers(request)
        self.foreign = foreign_words(self.thread.origin)
        self.errors: list[str] = []

    def real(self, short: Any, where: str) -> str | None:
        s = _as_str(short)
        if s == "post":
            return "post"
        rid = self.ids.to_real.get(s)
        if rid is None:
            self.errors.append(f"{where}: unknown comment id {s!r}")
        return rid

    def text_ok(self, text: str, where: str) -> bool:
        bad = list(find_urls(text))
        if bad:
            self.errors.append(f"{where}: contains a URL ({bad[0]}); put links in 'links' only")
            return False
        if "@" in text and _MENTION.search(text):
            self.errors.append(f"{where}: contains a mention; mentions are not allowed")
            return False
        said = self.foreign.search(text) if self.foreign is not None else None
        if said is not None:
            name = self.thread.origin.name
            self.errors.append(
                f"{where}: says {said.group(0)!r}, which {name} does not have; call whoever "
                f"started the thread {self.thread.origin.op} and use no Reddit words"
            )
            return False
        for n in _NUMBER.findall(text):
            if n.replace(",", "") not in self.numbers:
                self.errors.append(
                    f"{where}: states the number {n}, which is not in the data; repeat only "
                    "numbers shown there"
                )
                return False
        return True

    def quote(self, obj: Any, where: str) -> Quote | Literal[False] | None:
        """The Quote, None when there is none, False when it fails (the error is listed)."""
        if obj is None:
            return None
        if not isinstance(obj, dict):
            self.errors.append(f"{where}: quote must be an object or null")
            return False
        rid = self.real(obj.get("comment_id"), where)
        words = _as_str(obj.get("text"))
        if rid is None:
            return False
        if not words:
            self.errors.append(f"{where}: the quote is empty")
            return False
        q = quote_text(self.thread, None if rid == "post" else rid, words)
        problem = check_quote(self.thread, q)
        if problem is not None:
            short = _as_str(obj.get("comment_id"))
            problem = problem.replace(f"comment {rid}", f"comment {short}")  # the model's ids
            self.errors.append(f"{where}: quote {words[:60]!r} from {short} {problem}")
            return False
        return q

    def superlative_ok(self, reason: str, comment_id: str, short: str, where: str) -> bool:
        if not _SUPERLATIVE.search(reason):
            return True
        if not self.thread.origin.scored:
            self.errors.append(f"{where}: ranks {short} by score, but comments here have none")
            return False
        scores = [c.score for c in self.inp.comments if c.has_text]
        best = max(scores, default=None)
        mine = self.thread.by_id[comment_id].score
        if best is None or mine < best:
            self.errors.append(f"{where}: calls {short} the most upvoted, but it is not")
            return False
        if scores.count(best) > 1:
            self.errors.append(
                f"{where}: calls {short} the most upvoted, but it ties with another comment"
            )
            return False
        return True


def validate(inp: AnalysisInput, data: Any, ids: PromptIds, request: StructuredRequest) -> Checked:
    """Turn the model's object into a Narrative, keeping only what is grounded; list the
    errors (the schema's first, then the thread's)."""
    if not isinstance(data, dict):
        return Checked(Narrative((), (), "", {}, (), ()), ["the answer is not a JSON object"])
    ck = _Checker(inp, ids, request)
    ck.errors.extend(schema_errors(data))
    thread = inp.thread

    summary: list[Passage] = []
    for i, item in enumerate(_as_list(data.get("summary"))):
        where = f"summary[{i}]"
        if not isinstance(item, dict) or not ck.text_ok(_as_str(item.get("text")), where):
            continue
        q = ck.quote(item.get("quote"), where)
        if q is not False and _as_str(item.get("text")):
            summary.append(Passage(_as_str(item.get("text")), q or None))
    themes: list[Theme] = []
    for i, item in enumerate(_as_list(data.get("themes"))):
        where = f"themes[{i}]"
        if not isinstance(item, dict):
            continue
        name, text = _as_str(item.get("name")), _as_str(item.get("summary"))
        if not name or not ck.text_ok(name + " " + text, where):
            continue
        cited = [ck.real(c, where) for c in _as_list(item.get("comment_ids"))]
        if any(c is None for c in cited):
            continue
        themes.append(Theme(name, text, tuple(c for c in cited if c and c != "post")))
    stances: dict[str, str] = {}
    for item in _as_list(data.get("stances")):
        if isinstance(item, dict) and _as_str(item.get("stance")) in STANCES:
            rid = ids.to_real.get(_as_str(item.get("comment_id")))
            if rid is not None:
                stances[rid] = _as_str(item.get("stance"))
    notable: list[CommentNote] = []
    for i, item in enumerate(_as_list(data.get("notable"))):
        where = f"notable[{i}]"
        if not isinstance(item, dict):
            continue
        reason = _as_str(item.get("reason"))
        if not ck.text_ok(reason, where):
            continue
        q = ck.quote({"comment_id": item.get("comment_id"), "text": item.get("quote")}, where)
        if not isinstance(q, Quote) or q.comment_id is None:
            continue
        if not ck.superlative_ok(reason, q.comment_id, _as_str(item.get("comment_id")), where):
            continue
        c = thread.by_id[q.comment_id]
        notable.append(
            CommentNote(
                q, reason=reason, depth=c.depth, replies=inp.stats.direct_replies.get(c.id, 0)
            )
        )
    takeaways: list[Takeaway] = []
    for i, item in enumerate(_as_list(data.get("takeaways"))):
        where = f"takeaways[{i}]"
        if not isinstance(item, dict) or not ck.text_ok(_as_str(item.get("text")), where):
            continue
        q = ck.quote(item.get("quote"), where)
        if q is not False and _as_str(item.get("text")):
            takeaways.append(Takeaway(_as_str(item.get("text")), q or None))
    observations = [
        _as_str(o)
        for i, o in enumerate(_as_list(data.get("observations")))
        if _as_str(o) and ck.text_ok(_as_str(o), f"observations[{i}]")
    ]
    reading = _as_str(data.get("sentiment_reading"))
    if reading and not ck.text_ok(reading, "sentiment_reading"):
        reading = ""
    mood = _as_str(data.get("mood"))
    links = _links(ck, data)
    tldr = normalize_ws(_as_str(data.get("tldr")))
    if len(tldr) > MAX_TLDR_CHARS:
        ck.errors.append(f"tldr: {len(tldr)} characters; keep it to one line under 25 words")
        tldr = ""
    elif tldr and not ck.text_ok(tldr, "tldr"):
        tldr = ""
    return Checked(
        Narrative(
            summary=tuple(summary),
            themes=tuple(themes),
            sentiment_reading=reading,
            stances=stances,
            notable=tuple(notable),
            takeaways=tuple(takeaways),
            observations=tuple(observations),
            tldr=tldr,
            mood=mood if mood in MOODS and reading else None,
            links=links,
        ),
        ck.errors,
    )


def _links(ck: _Checker, data: dict[str, Any]) -> tuple[LinkNote, ...]:
    out: list[LinkNote] = []
    seen: set[str] = set()
    for i, item in enumerate(_as_list(data.get("links"))):
        where = f"links[{i}]"
        if not isinstance(item, dict):
            continue
        url, note = _as_str(item.get("url")), normalize_ws(_as_str(item.get("note")))
        if not url_in_thread(ck.thread, url):
            ck.errors.append(
                f"{where}: {url[:100]!r} is not a link in the thread; copy URLs exactly from "
                "the data"
            )
            continue
        if not note:
            ck.errors.append(f"{where}: the note is empty; say what the link is")
            continue
        if len(note) > MAX_LINK_NOTE_CHARS:
            ck.errors.append(f"{where}: the note is {len(note)} characters; keep it to one line")
            continue
        if not ck.text_ok(note, where) or url in seen:
            continue
        seen.add(url)
        out.append(LinkNote(url, note))
    return tuple(out)
