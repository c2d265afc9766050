"""Decisions and open questions of a chat thread, computed from its messages, in their words.

A chat thread (Slack, Discord, the console's) is often where something gets decided, or asked and
left hanging; its report lists both, each item one verbatim sentence of one message, attributed,
so it is grounded by construction (no analyser writes it, with or without a language model).

DECISIONS: a sentence of a message's own prose (not inside a `>` quote, code, or "quotation
marks") that states a decision or an agreement ("we decided", "let's go with", "we'll ship",
"the plan is", "agreed to", "approved" …), not negated ("we haven't decided") and not asked
("should we go with X?"). Ranked by reactions, plus support: the thread starter saying it, and
each other person who agreed with it ("agreed", "+1", "sounds good" … in a reply to it, or in one
of the next FOLLOW messages of a flat thread).

OPEN QUESTIONS: a sentence ending in "?" of a message's own prose, at least MIN_QUESTION_WORDS
words, not rhetorical (a stock opener such as "who cares", "have you seen", a joke, an example)
and not quoted. It counts as answered, and is not listed, when:
- someone else replied to its message (a threaded reply, Discord's); a reply in a tree is
  answered only that way;
- or, a message of a flat thread (Slack's: every message answers the first), one of the next
  FOLLOW messages by someone else names the asker, quotes (`>`) words of the asker's message,
  shares SHARED_WORDS content words with the question, is the thread starter's (the starter
  answers), or, the very next one, starts as an answer does ("yes", "no", "I think" …); a
  question the starter put to everyone is answered by anyone writing next;
- the first message's questions, as soon as anyone else wrote.
Ranked by reactions, then the most recent first. One item per author in each list.

Every message that was fetched is read (not only those the analysis selected): it is a cheap
scan, and an open question is exactly what a selection by reactions would miss.

At most LIMIT of each; the totals found are kept, so a report can say "2 questions are still open".
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from digest.model import Thread
from digest.quotes import QUOTE_LIMIT, own_sentences
from digest.report import Decisions, Quote
from digest.sentences import flatten
from digest.text import excerpt, normalize_ws, singular
from digest.vectors import STOP

LIMIT = 3
FOLLOW = 5  # messages after a question (or decision) that may answer (or agree with) it
SHARED_WORDS = 2
MIN_QUESTION_WORDS = 4
MIN_DECISION_WORDS = 4
MAX_SENTENCE_CHARS = 400

_ACT = (
    r"(?:ship|release|launch|use|switch(?: to)?|move(?: to)?|migrate|merge|roll (?:out|back)|drop"
    r"|keep|stick with|go ahead|go with|start|stop|enforce|deprecate|remove|add|cut|freeze|revert"
    r"|postpone|delay|cancel|adopt|standardi[sz]e|pin|upgrade|downgrade)"
)
# Who decides, in a chat: we, the team, everyone (a third person's "X decided to …" is a story).
_WE = r"(?:we|we've|we have|we had|the team|everyone|everybody|all of us)"
_DECIDED = re.compile(
    rf"\b(?:{_WE} (?:(?:have|had) )?(?:finally |just |now |all )?(?:decided|agreed|settled|voted)"
    r"|(?:it's|it is|it has been|it was) (?:been )?(?:decided|agreed|settled)"
    rf"|let'?s (?:{_ACT}|do it|do this|go for it)"
    rf"|(?:we'll|we will|we're|we are|we're gonna|we are gonna|we're going to|we are going to)"
    rf" (?:going with|go with|{_ACT}\b)|(?:i'll|i will|i'm) (?:going with|go with)"
    r"|final (?:answer|decision|call)|(?:the )?decision is|(?:the )?consensus is"
    r"|(?:the )?plan is(?: to)?|(?:is|are|was|were|got|been|has been) approved"
    r"|approved (?:it|the|this)|signed off(?: on)?|ship it|it's a go|green ?light(?:ed)?)\b",
    re.IGNORECASE,
)
# "We haven't decided", "nothing was agreed", "not going with": no decision.
_NEGATED = re.compile(
    r"\b(?:not|n't|never|no one|nobody|nothing|yet to|undecided|if|whether|unless)\b"
    r"(?:\W+\w+){0,3}\W+(?=decided|agreed|settled|approved|going|go with|plan|ship|final)",
    re.IGNORECASE,
)
_CONDITIONAL = re.compile(r"^\W*(?:if|unless|when|once|whether|in case|maybe|perhaps)\b", re.I)
_AGREEING = re.compile(
    r"^\W*(?:agreed|agree|\+1|same|yes|yep|yeah|sounds good|lgtm|makes sense|works for me"
    r"|ship it|exactly|this|👍|✅)\b|^\W*(?:👍|✅|\+1)",
    re.IGNORECASE,
)
# A question that asks nothing of anyone: a stock opener, a joke, an example.
_RHETORICAL = re.compile(
    r"^\W*(?:who cares|have you (?:ever )?seen|what could (?:possibly )?go wrong|why not"
    r"|isn'?t it|aren'?t they|right|really|seriously|are you (?:kidding|serious)|imagine"
    r"|what'?s next|how dare|remember when|e\.?g\.?|eg|for example)\b"
    r"|\b(?:lol|lmao|lmfao|rofl|haha\w*|jk|/s)\b",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|„[^“”]*[“”]|«[^»]*»")
_WORD = re.compile(r"[^\W\d_][\w'-]{3,}")


@dataclass(frozen=True, slots=True)
class _Message:
    comment_id: str | None  # None: the first message (the post)
    author: str | None
    score: int
    parent_id: str | None
    body: str
    index: int  # place in the thread's order (the first message 0)


def _messages(thread: Thread) -> list[_Message]:
    post = thread.post
    out = [_Message(None, post.author, post.score, None, post.body, 0)]
    for i, c in enumerate(thread.comments, 1):
        if c.has_text:
            out.append(_Message(c.id, c.author, c.score, c.parent_id, c.body, i))
    return out


def _sentences(body: str) -> Iterator[tuple[str, str]]:
    """(verbatim whitespace-normalised sentence, what is read of it): the writer's own prose
    only, links reduced to their words, code and "quoted words" left out of what is read."""
    for sentence in own_sentences(body):
        flat = normalize_ws(sentence)
        if not flat or len(flat) > MAX_SENTENCE_CHARS:
            continue
        read = normalize_ws(_QUOTED.sub(" ", flatten(sentence)))
        yield flat, read


def is_decision(read: str) -> bool:
    """The sentence (as read: quotes and code left out) states a decision or an agreement."""
    if len(read.split()) < MIN_DECISION_WORDS or read.rstrip().endswith("?"):
        return False
    if _CONDITIONAL.match(read):
        return False  # "If they drop it, we will switch": not decided
    found = _DECIDED.search(read)
    return found is not None and not _NEGATED.search(read[: found.end()])


def is_open_question(flat: str, read: str) -> bool:
    """The sentence asks something of someone (not rhetorical, not a quoted question)."""
    if not read.endswith("?") or not flat.endswith("?"):
        return False  # the question mark was inside quotation marks, or code
    if len(read.split()) < MIN_QUESTION_WORDS:
        return False
    return not _RHETORICAL.search(read)


def _words(text: str) -> set[str]:
    return {singular(w.lower()) for w in _WORD.findall(text) if w.lower() not in STOP}


def _answered(q: _Message, at: int, question: str, messages: Sequence[_Message],
              replied: dict[str | None, set[str | None]], starter: str | None) -> bool:  # fmt: skip
    """Someone else replied to its message; or, a message of a flat thread, one of the next
    FOLLOW messages by someone else names the asker, quotes words of the asker's message, shares
    SHARED_WORDS words with the question, or is the thread starter's (the starter answers in a
    flat thread), or follows a question the starter put to everyone."""
    if q.comment_id is None:  # the first message: answered once anyone else wrote
        return any(m.author != q.author for m in messages[1:])
    if replied.get(q.comment_id, set()) - {q.author}:
        return True
    if q.parent_id is not None:
        return False  # a reply in a tree is answered by replies to it, not by what follows
    asked = _words(question)
    name = re.compile(rf"(?<![\w@])@?{re.escape(q.author)}\b", re.I) if q.author else None
    said = normalize_ws(q.body)
    later = [m for m in messages[at + 1 :] if m.parent_id is None and m.author != q.author]
    for k, m in enumerate(later[:FOLLOW]):
        if k == 0 and _ANSWER.search(m.body):
            return True  # the very next message by someone else starts as an answer does
        if q.author is not None and q.author == starter:
            return True  # the starter's question, put to everyone, and someone wrote next
        if m.author is not None and m.author == starter:
            return True
        if name is not None and name.search(m.body):
            return True
        if any(len(bit) >= 3 and bit in said for bit in _quoted_lines(m.body)):
            return True
        if len(asked & _words(m.body)) >= SHARED_WORDS:
            return True
    return False


_ANSWER = re.compile(
    r"^\W*(?:yes|yep|yeah|yup|no|nope|not really|not yet|probably|because|it depends|that would"
    r"|it does|it doesn'?t|it will|it won'?t|you can|you can'?t|we do|we don'?t|they do"
    r"|they don'?t|i think|i don'?t think|afaik|iirc|i believe)\b",
    re.IGNORECASE,
)
_QUOTE_LINE = re.compile(r"^\s{0,3}(?:>|&gt;)\s?(.*)$", re.MULTILINE)


def _quoted_lines(body: str) -> list[str]:
    return [normalize_ws(m.group(1)) for m in _QUOTE_LINE.finditer(body)]


def _quote(m: _Message, sentence: str) -> Quote:
    return Quote(m.comment_id, m.author, m.score, excerpt(sentence, QUOTE_LIMIT))


def find_decisions(thread: Thread, limit: int = LIMIT) -> Decisions:
    """The thread's decisions and open questions (see the module's docstring)."""
    messages = _messages(thread)
    replied: dict[str | None, set[str | None]] = {}
    for m in messages[1:]:
        replied.setdefault(m.parent_id, set()).add(m.author)
    decided: list[tuple[float, int, Quote]] = []
    asked: list[tuple[float, int, Quote]] = []
    for k, m in enumerate(messages):
        decision = question = None
        for flat, read in _sentences(m.body):
            if decision is None and is_decision(read):
                decision = flat
            if question is None and is_open_question(flat, read):
                question = flat
        if decision is not None:
            support = _agreeing(m, messages[k + 1 :])
            starter = m.author is not None and m.author == thread.post.author
            rank = m.score + 2 * support + (2 if starter else 0)
            decided.append((rank, m.index, _quote(m, decision)))
        if question is not None and not _answered(
            m, k, question, messages, replied, thread.post.author
        ):
            asked.append((m.score, m.index, _quote(m, question)))
    decided.sort(key=lambda d: (-d[0], -d[1]))
    asked.sort(key=lambda a: (-a[0], -a[1]))
    return Decisions(
        decided=tuple(q for _, _, q in _one_each(decided)[:limit]),
        open_questions=tuple(q for _, _, q in _one_each(asked)[:limit]),
        decided_total=len(decided),
        open_total=len(asked),
    )


def _one_each(found: list[tuple[float, int, Quote]]) -> list[tuple[float, int, Quote]]:
    """The best item of each author (each message of an unknown one), in the given order."""
    seen: set[object] = set()
    out = []
    for item in found:
        key = item[2].author or ("", item[2].comment_id)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _agreeing(m: _Message, later: Sequence[_Message]) -> int:
    """How many other people agreed with `m`: in a reply to it, or (a message of a flat
    thread) in one of the next FOLLOW messages."""
    people: set[str | None] = set()
    nearby = [x for x in later if x.parent_id is None][:FOLLOW] if m.parent_id is None else []
    for x in later:
        direct = m.comment_id is not None and x.parent_id == m.comment_id
        if (direct or x in nearby) and x.author != m.author and _AGREEING.search(x.body):
            people.add(x.author)
    return len(people)
