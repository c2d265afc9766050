"""The summary: what the post claims, the main positions the comments take, and the strongest
counterpoint, each in the words of whoever said it.

Positions are chosen among sentences, not comments: each sentence is scored by how central it is
to the discussion (TF-IDF cosine to the vote-weighted centre of all comments) and by the votes
behind it, then picked by maximal marginal relevance, so that the second position says something
the first did not. The counterpoint is the best-scored sentence against the thread's mood.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from digest.model import Comment, Thread
from digest.mood import opinionated, weight
from digest.quotes import is_short, own_sentences, quote_of
from digest.report import Passage, Quote, Theme
from digest.sentences import ThreadText, thread_text
from digest.sentiment import SentimentStats
from digest.text import normalize_ws
from digest.vectors import (
    Vector,
    add,
    cosine,
    idf,
    normalized,
    term_list,
    terms,
    tfidf,
    top_terms,
)

MMR_LAMBDA = 0.7  # relevance against novelty
MIN_WORDS = 5


@dataclass(frozen=True, slots=True)
class _Sentence:
    comment: Comment
    text: str  # whitespace-normalised, a verbatim part of the comment
    vec: Vector
    relevance: float
    on_claim: float  # similarity to the post's title and claim


def who(author: str | None) -> str:
    return f"u/{author}" if author else "a deleted account"


def quote(thread: Thread, comment: Comment, sentence: str) -> Quote:
    """A quote of the sentence, or of the whole comment when it is short (its punchline is
    often its last line: digest.quotes.is_short)."""
    if is_short(comment):
        return quote_of(thread, comment)
    return Quote(comment.id, comment.author, comment.score, sentence)


def candidates(
    comments: Sequence[Comment],
    centre: Vector,
    weights: Mapping[str, float],
    claim: Vector,
    texts: ThreadText,
) -> list[_Sentence]:
    """Sentences worth quoting, each scored by how central it is to the discussion and to the
    post's claim, and by the votes behind it."""
    out = []
    for c in comments:
        if not c.has_text or c.score < 1:
            continue
        for position, text in enumerate(texts.of(c).normalized):
            if (
                len(text.split()) < MIN_WORDS
                or not text[0].isalnum()
                or len(text) > 240
                or "http" in text
                or text.endswith("?")
            ):
                continue
            bag = texts.bag(text)
            if not bag:
                continue
            vec = tfidf(bag, weights)
            on_claim = cosine(vec, claim)
            central = cosine(vec, centre) + 0.5 * on_claim
            early = 1.0 if position == 0 else 0.85
            early *= min(1.0, 160 / len(text))  # a chat message has room for short sentences
            relevance = (0.1 + central) * math.sqrt(weight(c)) * early
            if opinionated(text):
                relevance *= 1.5  # where the writer takes a side, not the background to it
            out.append(_Sentence(c, text, vec, relevance, on_claim))
    return out


def centre_of(
    comments: Sequence[Comment], texts: ThreadText | None = None
) -> tuple[Vector, dict[str, float]]:
    """The vote-weighted centre of the comments' vectors, and the IDF weights behind it."""
    read = term_list if texts is None else texts.term_list
    bags = {c.id: Counter(read(c.body)) for c in comments if c.has_text}
    weights, _ = idf(bags.values())
    centre: Vector = {}
    for c in comments:
        if bags.get(c.id):
            add(centre, tfidf(bags[c.id], weights), weight(c))
    return top_terms(normalized(centre), 200), weights


def mmr(pool: Sequence[_Sentence], k: int, taken: set[str], authors: set[str]) -> list[_Sentence]:
    """Up to `k` sentences by maximal marginal relevance, one per comment and per author
    (`taken` and `authors` are updated with the picks); ties go to the higher comment id, then
    to the sentence first in `pool`.

    Read by relevance, highest first: novelty is never negative (vectors have no negative
    weights), so a sentence's value is at most its relevance's share, and once that share is
    below the best value found, no sentence after it can win."""
    if not pool:
        return []
    top = max(s.relevance for s in pool) or 1.0
    ranked = sorted(range(len(pool)), key=lambda i: -pool[i].relevance)
    chosen: list[_Sentence] = []
    while len(chosen) < k:
        best: tuple[float, str, int] | None = None
        for i in ranked:
            s = pool[i]
            share = MMR_LAMBDA * s.relevance / top
            if best is not None and share < best[0]:
                break
            if s.comment.id in taken or (s.comment.author or "") in authors:
                continue
            novelty = max((cosine(s.vec, o.vec) for o in chosen), default=0.0)
            key = (share - (1 - MMR_LAMBDA) * novelty, s.comment.id, -i)
            if best is None or key > best:
                best = key
        if best is None:
            break
        pick = pool[-best[2]]
        chosen.append(pick)
        taken.add(pick.comment.id)
        authors.add(pick.comment.author or "")
    return chosen


def claim(thread: Thread) -> Passage:
    """What the post says: its most central sentence of its own (not what it quotes), else its
    title, introduced by what kind of post it is."""
    post = thread.post
    opener = thread.origin.who(post.author)
    sentences = [normalize_ws(s) for s in own_sentences(post.body)]
    sentences = [s for s in sentences if len(s.split()) >= MIN_WORDS and "http" not in s]
    if sentences:
        title_bag = Counter(terms(post.title)[0])
        weights, _ = idf([title_bag, *(Counter(terms(s)[0]) for s in sentences)])
        title_vec = tfidf(title_bag, weights)
        ranked = sorted(
            enumerate(sentences),
            key=lambda ps: (
                -(cosine(tfidf(Counter(terms(ps[1])[0]), weights), title_vec) + 0.3)
                / (1 + 0.15 * ps[0]),
                ps[0],
            ),
        )
        text = ranked[0][1] if len(ranked[0][1]) <= 260 else sentences[0]
        if len(text) <= 260:
            return Passage(f"{opener} writes:", Quote(None, post.author, post.score, text))
    what = "a link"
    if post.gallery_size:
        what = f"a gallery of {post.gallery_size} images"
    elif post.domain in ("i.redd.it", "i.imgur.com") or post.url.endswith((".jpg", ".png")):
        what = "an image"
    elif post.domain == "v.redd.it":
        what = "a video"
    elif post.is_self:
        what = "a post"
    title = normalize_ws(post.title)
    return Passage(f"{opener} posted {what} titled", Quote(None, post.author, post.score, title))


def _lead(thread: Thread, c: Comment, labels: Mapping[str, str]) -> str:
    o = thread.origin
    label = labels.get(c.id)
    if label:
        return f"{label}, by {o.who(c.author)}{o.paren(c.score)}:"
    if c.is_submitter:
        return f"{o.op[:1].upper()}{o.op[1:]} replies{o.paren(c.score)}:"
    if c.parent_id is not None:
        parent = thread.by_id.get(c.parent_id)
        to = f" to {o.who(parent.author)}" if parent is not None else ""
        return f"In a reply{to}, {o.who(c.author)}{o.paren(c.score)}:"
    return f"{o.who(c.author)}{o.paren(c.score)}:"


def summarize(
    thread: Thread,
    comments: Sequence[Comment],
    *,
    positions: int,
    mood_score: float,
    polarity: Mapping[str, float],
    labels: Mapping[str, str],
) -> tuple[Passage, ...]:
    """The claim, up to `positions` main positions, and the strongest counterpoint.

    `polarity`: each comment's polarity (digest.mood); `labels`: true labels for comments that
    stand out ("The most upvoted comment"), by id.
    """
    first = claim(thread)
    passages = [first]
    texts = [c for c in comments if c.has_text]
    if not texts:
        passages.append(Passage("No comment with text was available to summarise."))
        return tuple(passages)
    read = thread_text(thread)
    centre, weights = centre_of(texts, read)
    claimed = tfidf(
        Counter(terms(f"{thread.post.title} {first.quote.text if first.quote else ''}")[0]), weights
    )
    pool = candidates(texts, centre, weights, claimed, read)
    taken: set[str] = set()
    authors: set[str] = set()
    picked = mmr(pool, positions, taken, authors)
    picked.sort(key=lambda s: (-s.comment.score, s.comment.id))  # the best-voted first
    for s in picked:
        passages.append(Passage(_lead(thread, s.comment, labels), quote(thread, s.comment, s.text)))
    # The counterpoint: against what the positions shown lean to (else against the mood).
    lean = sum(polarity.get(s.comment.id, 0.0) * weight(s.comment) for s in picked)
    if abs(lean) < 0.05:
        lean = mood_score
    if abs(lean) >= 0.05:
        # Never "against" the thread's own clear mood: a well-received thread's praise is no
        # counterpoint, even when the positions shown happen to lean the other way.
        clear = mood_score if abs(mood_score) >= 0.15 else 0.0
        against = [
            s
            for s in pool
            if polarity.get(s.comment.id, 0.0) * lean < 0
            and abs(polarity.get(s.comment.id, 0.0)) >= 0.15
            and polarity.get(s.comment.id, 0.0) * clear <= 0
        ]
        # A counterpoint answers the post, not a side conversation: its claim counts.
        against = [
            replace(s, relevance=s.relevance * (0.4 + 2 * min(s.on_claim, 0.3))) for s in against
        ]
        (counter,) = mmr(against, 1, taken, authors) or (None,)
        if counter is not None:
            c = counter.comment
            passages.append(
                Passage(
                    f"The strongest counterpoint, from {thread.origin.who(c.author)}"
                    f"{thread.origin.paren(c.score)}:",
                    quote(thread, c, counter.text),
                )
            )
    return tuple(passages)


_REACTION = {
    "positive": "Well received",
    "negative": "Mostly critical replies",
    "mixed": "Split reactions",
    "neutral": "A calm thread, more information than opinion",
}


def tldr(sentiment: SentimentStats, themes: Sequence[Theme], observations: Sequence[str]) -> str:
    """One line: how the thread took the post, what it talked about, and the one thing about the
    votes a reader should know (the OP voted down, a correction on top)."""
    if not sentiment.analysed:
        return "No comments with text yet."
    line = _REACTION.get(sentiment.label, sentiment.label.capitalize())
    names = [t.name for t in themes[:3]]
    if names:
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        line += f"; the talk is about {listed}"
    line += "."
    if observations and len(line) + len(observations[0]) < 240:
        line += " " + observations[0]
    return line
