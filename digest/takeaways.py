"""Actionable takeaways: advice, warnings and recipes that commenters gave, in their words.

A sentence qualifies when it tells the reader to do or avoid something (an imperative, "I'd
recommend", "make sure", "be careful") or hands over a recipe (a command, a flag, a setting, a
quant or a size). "You can" or "you need" alone is not advice ("You can if you have enough VRAM"),
a question never is, and neither is a joke or a comment readers voted down.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Mapping, Sequence

from digest.model import Comment, Thread
from digest.mood import weight
from digest.report import Quote, Takeaway
from digest.sentences import thread_text
from digest.text import normalize_ws

_FILLER = r"(?:(?:just|also|so|then|and|but|definitely|really|maybe|honestly|please|instead),?\s+)*"
_IMPERATIVE = re.compile(
    rf"^{_FILLER}(?:use|try|run|set|install|add|avoid|check|make sure|never|always"
    r"|(?:don'?t|do not)(?! (?:know|think|see|get|care|remember|understand|have|mind|really|even"
    r"|believe|need|want|like|expect))"
    r"|consider|enable|disable|switch|put|pass|keep|grab|download|update|upgrade|build|compile"
    r"|remember|stop|turn|load|increase|lower|reduce|raise|go with|stick (?:with|to)|look into"
    r"|give it a|drop|skip|prefer|pick|get|start|limit|offload|quantize|lock|pin|test|compare"
    r"|read|follow|ask|search|wait for|be (?:careful|sure|aware))\b",
    re.IGNORECASE,
)
_RECOMMEND = re.compile(
    r"\b(?:i(?:'d| would)? (?:strongly )?(?:recommend|suggest)|you should(?:n'?t)?"
    r"|you(?:'ll| will| might| may)? (?:want|need) to (?:use|try|set|run|install|add|check|avoid"
    r"|enable|disable|switch|update|make|put|pass|increase|lower|reduce|turn|load|download)"
    r"|(?:^|, )(?:make sure|be careful)|watch out|beware|pro tip|the trick is"
    r"|worth (?:trying|a try|a look"
    r"|checking)|(?:works|worked) (?:best|great|well|fine) (?:with|for|if|when|on)"
    r"|the (?:fix|solution|workaround) (?:is|was)|stop using|do (?:your ?self|yourself) a favou?r)\b",
    re.IGNORECASE,
)
_WARNING = re.compile(
    r"\b(?:avoid|don'?t|do not|never|be careful|watch out|beware|you shouldn'?t|stop using"
    r"|won'?t work|doesn'?t work|does not work|breaks|is broken|not supported)\b",
    re.IGNORECASE,
)
# What makes a sentence a recipe: something to type or set.
_RECIPE = re.compile(
    r"`[^`]+`|(?:^|\s)--?[a-z][\w-]+|\b\w+=\S+|\b[qQ]\d(?:_[kK](?:_[A-Za-z])?)?\b"
    r"|\b\d+(?:\.\d+)?\s?(?:gb|mb|tb|k|t/s|tok/s|tokens?)\b|\b(?:fp|bf|int)\d+\b",
    re.IGNORECASE,
)
_YOU_CAN = re.compile(r"\byou (?:can|need|could)\b", re.IGNORECASE)
_QUESTION = re.compile(
    r"\?\s*$|^(?:how|what|why|when|where|which|who|is|are|does|do|did|can|could|would|will"
    r"|should|has|have|anyone|any)\b[^.!]*$"
    r"|^(?:didn'?t|doesn'?t|isn'?t|aren'?t|wasn'?t|won'?t|wouldn'?t|couldn'?t|shouldn'?t"
    r"|haven'?t|hasn'?t|don'?t)\s+(?:he|she|it|they|you|we|i|this|that|there|anyone)\b",
    re.IGNORECASE,
)
_JOKE = re.compile(r"\b(?:lol|lmao|lmfao|rofl|haha\w*|jk)\b|/s\s*$|[\U0001F602\U0001F923]", re.I)


def kind(sentence: str) -> str | None:
    """ "warning", "recipe" or "advice" for a sentence that is one; None otherwise."""
    return _kind(normalize_ws(sentence))


def _kind(flat: str) -> str | None:
    """`kind` of a whitespace-normalised sentence."""
    if not 25 <= len(flat) <= 260 or _QUESTION.search(flat) or _JOKE.search(flat):
        return None
    if "http" in flat:
        return None
    imperative = bool(_IMPERATIVE.search(flat))
    recommends = bool(_RECOMMEND.search(flat))
    recipe = bool(_RECIPE.search(flat))
    if not (imperative or recommends or (recipe and _YOU_CAN.search(flat))):
        return None
    if _WARNING.search(flat):
        return "warning"
    return "recipe" if recipe else "advice"


_VERB = {"warning": "warns", "recipe": "shares a recipe", "advice": "advises"}
_WORTH = {"recipe": 1.3, "warning": 1.15, "advice": 1.0}
_MOST = max(_WORTH.values())


def find_takeaways(
    thread: Thread,
    comments: Sequence[Comment],
    limit: int,
    stances: Mapping[str, str] | None = None,
) -> tuple[Takeaway, ...]:
    """Up to `limit` takeaways, one per comment and per author, the best-voted and most concrete
    first.

    Comments are read by votes: once none left could outscore the `limit`-th author's best
    takeaway (a recipe is worth the most), the rest are not read."""
    stances = stances or {}
    texts = thread_text(thread)
    found: list[tuple[float, str, str, str]] = []
    best: dict[object, float] = {}  # each author's best (each comment of a deleted account's)
    # Where scores are votes, a comment at 0 or less was voted down; reactions and HN's hidden
    # comment scores say nothing of the kind.
    low = 1 if thread.origin.has_downvotes else -math.inf
    readable = [c for c in comments if c.has_text and c.score >= low]
    for k, c in enumerate(sorted(readable, key=lambda c: -weight(c))):
        votes = math.sqrt(weight(c))
        if (
            k % 16 == 0
            and 0 < limit <= len(best)
            and votes * _MOST < min(heapq.nlargest(limit, best.values()))
        ):
            break
        if stances.get(c.id) == "humorous":
            continue
        for flat in texts.of(c).normalized:
            what = _kind(flat)
            if what is not None:
                found.append((votes * _WORTH[what], c.id, what, flat))
                author = thread.by_id[c.id].author
                key = (author,) if author is not None else ("", c.id)
                best[key] = max(best.get(key, 0.0), found[-1][0])
                break  # a comment's first piece of advice
    found.sort(key=lambda f: (-f[0], f[1]))
    out: list[Takeaway] = []
    authors: set[str | None] = set()
    for _, cid, what, sentence in found:
        c = thread.by_id[cid]
        if c.author is not None and c.author in authors:
            continue
        authors.add(c.author)
        o = thread.origin
        lead = f"{o.who(c.author)}{o.paren(c.score)} {_VERB[what]}:"
        out.append(Takeaway(lead, Quote(c.id, c.author, c.score, sentence)))
        if len(out) == limit:
            break
    return tuple(out)
