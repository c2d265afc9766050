"""Key themes: topics found by grouping comments, named by the words that set each group apart.

Each comment becomes a TF-IDF vector of its own words (a reply carries a little of its parent's,
since a reply is part of a conversation); comments are grouped by average-linkage agglomerative
clustering on cosine similarity; a group is named by the terms most particular to it (a phrase
over a single word, never a word too general to name anything, like "model" or "run"); groups are
ranked by the votes behind them; and each theme is shown by a whole sentence from the comment that
best represents it.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter, defaultdict
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field

from digest.clustering import cluster
from digest.model import Comment, Thread
from digest.mood import weight
from digest.quotes import quote_about
from digest.report import Theme
from digest.sentences import ThreadText, thread_text
from digest.text import singular
from digest.vectors import (
    WEAK_STEMS,
    Vector,
    add,
    cosine,
    fold_prefixes,
    idf,
    normalized,
    terms,
    tfidf,
    top_normalized,
)

MAX_CLUSTERED = 200  # the highest-voted comments grouped; the rest join the nearest theme
CONTEXT = 0.35  # how much of its parent's words a reply carries
MERGE_AT = 0.09  # average similarity below which two groups stay apart
JOIN_AT = 0.2  # similarity to a theme's centre for an unclustered comment to count in it
GROUP_MERGE_AT = 0.2  # groups whose centres are this close are one topic
CENTRE_TERMS = 60
EXAMPLE_LIMIT = 140  # as long as the pipeline's theme examples
EXAMPLES = 3  # comments cited for a theme
# A model or product code ("424ba47", "4izo8h4r"): letters and 3+ digits, mixed more than once.
_CODE_LIKE = re.compile(r"(?=(?:[a-z]*\d){3})[a-z\d]*\d[a-z]+\d[a-z\d]*")
_NOT_A_THING = ("ed", "ly", "ing", "ful", "less")
_NOUN_ENDINGS = ("ship", "tion", "sion", "ness", "ity", "ment", "ance", "ence", "ism", "als")


@dataclass
class _Doc:
    comment: Comment
    bag: Counter[str]
    surface: dict[str, str]
    vec: Vector = field(default_factory=dict)
    w: float = field(init=False)  # the comment's weight (digest.mood.weight)

    def __post_init__(self) -> None:
        self.w = weight(self.comment)


@dataclass
class _Group:
    members: list[_Doc]
    name_terms: tuple[str, ...] = ()
    name: str = ""
    score: float = 0.0

    @property
    def weight(self) -> float:
        return sum(d.w for d in self.members)

    def centre(self) -> Vector:
        return normalized(self.total())

    def total(self, into: Vector | None = None, members: Sequence[_Doc] | None = None) -> Vector:
        """The members' vectors summed by weight, in order (`into`: a sum of the members
        before `members`, which are added to it)."""
        out: Vector = {} if into is None else into
        for d in self.members if members is None else members:
            add(out, d.vec, d.w)
        return out


def _docs(texts: ThreadText, comments: Sequence[Comment]) -> list[_Doc]:
    docs = []
    for c in comments:
        if not c.has_text:
            continue
        bag_terms, surface = texts.terms("\n".join(texts.of(c).flat))
        if bag_terms:
            docs.append(_Doc(c, Counter(bag_terms), surface))
    folds = fold_prefixes(d.bag for d in docs)
    if folds:
        for d in docs:
            for t in [t for t in d.bag if t in folds]:
                d.bag[folds[t]] += d.bag.pop(t)
                d.surface.setdefault(folds[t], d.surface[t])
    weights, _ = idf(d.bag for d in docs)
    own = {d.comment.id: tfidf(d.bag, weights) for d in docs}
    for d in docs:
        vec = dict(own[d.comment.id])
        parent = d.comment.parent_id
        if parent is not None and parent in own:
            add(vec, own[parent], CONTEXT)
        d.vec = normalized(vec)
    return docs


def _merged(groups: list[_Group]) -> list[_Group]:
    """Groups whose centres are close are one topic seen from two branches (XML and JSON in a
    thread about tool-call formats): merged, centroid linkage, the closest pair first (ties: the
    lowest indices)."""
    totals = [g.total() for g in groups]  # kept up to date: a merge adds the other's members
    centres = [top_normalized(t, CENTRE_TERMS) for t in totals]
    sims = {
        (i, j): cosine(centres[i], centres[j])
        for i in range(len(groups))
        for j in range(i + 1, len(groups))
    }
    heap = [(-s, i, j) for (i, j), s in sims.items()]  # entries of pairs gone or changed: skipped
    heapq.heapify(heap)
    alive = set(range(len(groups)))
    while heap:
        negative, i, j = heapq.heappop(heap)
        if sims.get((i, j)) != -negative:
            continue
        if -negative < GROUP_MERGE_AT:
            break
        groups[i].total(totals[i], groups[j].members)  # as the merged group's centre() sums
        groups[i].members += groups[j].members
        alive.discard(j)
        centres[i] = top_normalized(totals[i], CENTRE_TERMS)
        for x in alive | {i}:
            sims.pop((min(j, x), max(j, x)), None)
        for x in alive - {i}:
            pair = (min(i, x), max(i, x))
            sims[pair] = cosine(centres[i], centres[x])
            heapq.heappush(heap, (-sims[pair], *pair))
    return [g for k, g in enumerate(groups) if k in alive]


def _name(
    group: _Group, docs: Sequence[_Doc], title_terms: set[str], held: Counter[str] | None = None
) -> None:
    """The terms most particular to the group: frequent in it, rare elsewhere, weighted by votes.

    `held`: how many of `docs` hold each term (the group's members are some of them)."""
    held = Counter(t for d in docs for t in d.bag) if held is None else held
    n_in, n_out = len(group.members), max(len(docs) - len(group.members), 1)
    count_in: Counter[str] = Counter()
    w_in: dict[str, float] = defaultdict(float)
    for d in group.members:
        for t in d.bag:
            count_in[t] += 1
            w_in[t] += d.w
    count_out = {t: held[t] - k for t, k in count_in.items()}  # the docs outside that hold it
    scored = []
    for t, k in count_in.items():
        words = t.split()
        if k < 2 or all(w in WEAK_STEMS for w in words) or not _nameable(t, group.members):
            continue
        rate_in, rate_out = k / n_in, (count_out[t] + 0.5) / n_out
        if rate_in <= rate_out:
            continue
        score = w_in[t] * rate_in * math.log(1.0 + rate_in / rate_out)
        if len(words) == 2:
            score *= 1.4
        if len(words) == 1 and t in title_terms:
            score *= 0.5  # the title's words are everywhere in its thread
        scored.append((score, t))
    scored.sort(key=lambda st: (-st[0], st[1]))
    if not scored:
        return
    best_score, best = scored[0]
    chosen = [best]
    holders = {id(d) for d in group.members if best in d.bag}
    for score, t in scored[1:]:
        if score < 0.45 * best_score:
            break
        if set(t.split()) & set(" ".join(chosen).split()) or (t[0] == "~") == (best[0] == "~"):
            continue
        with_t = [d for d in group.members if t in d.bag]
        if sum(1 for d in with_t if id(d) in holders) >= 0.8 * len(with_t):
            continue  # always said together with the first: the same name, not a second one
        chosen.append(t)
        break
    chosen = [_phrase_of(t, group.members) for t in chosen]
    group.name_terms = tuple(chosen)
    group.name = " / ".join(_surface(t, group.members) for t in chosen)
    group.score = best_score


def _phrase_of(term: str, members: Sequence[_Doc]) -> str:
    """A single word as the phrase most of its writers in the group say it in ("characters" →
    "chinese characters"), when at least half of them (and two or more) use the same phrase and
    that phrase can name a topic; else the word."""
    if " " in term or term[0] == "~":
        return term
    holders = [d for d in members if term in d.bag]
    phrases: Counter[str] = Counter()
    for d in holders:
        phrases.update({t for t in d.bag if " " in t and term in t.split()})
    for phrase, k in phrases.most_common(3):
        if k >= max(2, (len(holders) + 1) // 2) and _nameable(phrase, members):
            return phrase
    return term


def _nameable(term: str, members: Sequence[_Doc]) -> bool:
    """Whether a term can name a topic: a concept, a phrase, or a word that is a thing (not a
    general word, not only ever written as a verb form or an adverb: "pushed", "really")."""
    if term[0] == "~":
        return True
    forms = {d.surface[term].lower() for d in members if term in d.surface}
    if " " in term:  # a phrase ends on a thing, and does not start with an adverb
        last = term.split()[1]
        return (
            last not in WEAK_STEMS
            and not any(f.split()[0].endswith("ly") for f in forms)
            and not all(f.endswith(("ed", "ly")) for f in forms)
        )
    if term in WEAK_STEMS or _CODE_LIKE.fullmatch(term):
        return False
    # Not a thing when only ever written as a verb form, an adverb or an adjective of quality
    # ("blowing", "really", "useful"), unless people write it as a name ("Beijing", "Reading").
    if all(f.lower().endswith(_NOT_A_THING) for f in forms):
        return _surface(term, members)[:1].isupper()
    return True


def _surface(term: str, members: Sequence[_Doc]) -> str:
    """How people wrote the term: a noun form when one was used ("censorship" over "censored"),
    an acronym as an acronym ("XML", "RAM"), else the most common form."""
    forms = Counter(d.surface[term] for d in members if term in d.surface)
    nouns = {f: k for f, k in forms.items() if f.lower().endswith(_NOUN_ENDINGS)}
    pool = nouns or forms
    top = max(pool.values())
    caps = {f: k for f, k in pool.items() if f.isupper() and 2 <= len(f) <= 5 and 3 * k >= top}
    return min((caps or pool).items(), key=lambda fk: (-fk[1], fk[0].lower() != fk[0], fk[0]))[0]


def mentions(have: Container[str], group: _Group) -> bool:
    """Whether a sentence with these terms names the group."""
    return any(t in have for term in group.name_terms for t in (term, *term.split()))


def _literal(name: str) -> re.Pattern[str]:
    """The name's words as `quote_about` looks for them (plural or not), so that the sentence
    chosen here is the one the report quotes."""
    keys = [singular(w) for w in _NAME_WORD.findall(name)] or [name]
    return re.compile(rf"\b(?:{'|'.join(map(re.escape, keys))})(?:s|es)?\b", re.IGNORECASE)


_NAME_WORD = re.compile(r"[^\W\d_]{3,}")


def representative(
    thread: Thread, group: _Group, centre: Vector, texts: ThreadText | None = None
) -> list[str]:
    """Ids of the group's best examples (at least the EXAMPLES best): comments whose first
    sentence naming the theme is a whole sentence close to the theme's centre, the most upvoted
    first, one per author. A sentence that says the name as written is preferred (the report
    quotes that sentence). Read by votes: once no comment left could score as high as the
    EXAMPLES-th author's best (fit <= 1), the rest are not read."""
    texts = texts or thread_text(thread)
    weights, _ = idf(d.bag for d in group.members)
    literal = _literal(group.name)
    ranked: list[tuple[float, str]] = []
    best: dict[object, float] = {}  # each author's best (each comment of a deleted account's)
    for k, d in enumerate(sorted(group.members, key=lambda d: -d.w)):
        if (
            k % 16 == 0
            and len(best) >= EXAMPLES
            and (1.1 + 1e-9) * math.sqrt(d.w) < min(heapq.nlargest(EXAMPLES, best.values()))
        ):
            break
        for sentence in texts.of(d.comment).normalized:
            said = literal.search(sentence)
            if not said and not mentions(texts.bag(sentence), group):
                continue
            if not 20 <= len(sentence) <= 200 or len(sentence.split()) < 4 or "http" in sentence:
                break  # the report would quote this sentence: not a good example
            fit = cosine(tfidf(texts.bag(sentence), weights), centre)
            question = 0.5 if sentence.rstrip().endswith("?") else 1.0
            ranked.append(
                ((fit + 0.1) * math.sqrt(d.w) * question * (1.0 if said else 0.6), d.comment.id)
            )
            key = (d.comment.author,) if d.comment.author is not None else ("", d.comment.id)
            best[key] = max(best.get(key, 0.0), ranked[-1][0])
            break  # the comment's first sentence that names the theme
    ranked.sort(key=lambda r: (-r[0], r[1]))
    out: list[str] = []
    authors: set[str | None] = set()
    for _, cid in ranked:
        author = thread.by_id[cid].author
        if author is not None and author in authors:
            continue
        authors.add(author)
        out.append(cid)
    return out


def _tone(members: Sequence[_Doc], stances: Mapping[str, str]) -> str:
    said = Counter(stances.get(d.comment.id, "neutral") for d in members)
    critical, supportive = said["critical"], said["supportive"]
    opinions = critical + supportive + said["mixed"]
    if opinions < 2:
        return ""
    if critical >= 0.6 * opinions:
        return ", mostly critical"
    if supportive >= 0.6 * opinions:
        return ", mostly approving"
    return ", with views both ways"


def find_themes(
    thread: Thread,
    comments: Sequence[Comment],
    limit: int,
    stances: Mapping[str, str] | None = None,
) -> tuple[Theme, ...]:
    """Up to `limit` themes, the weightiest first (see the module's docstring)."""
    texts = thread_text(thread)
    docs = _docs(texts, comments)
    if len(docs) < 2:
        return ()
    ranked_docs = sorted(docs, key=lambda d: (-d.comment.score, d.comment.id))
    clustered, rest = ranked_docs[:MAX_CLUSTERED], ranked_docs[MAX_CLUSTERED:]
    groups = [
        _Group([clustered[i] for i in m])
        for m in cluster([d.vec for d in clustered], MERGE_AT)
        if len(m) >= 2 and len({clustered[i].comment.author for i in m}) >= 2
    ]
    title_terms = set(terms(thread.post.title)[0])
    groups = _merged(groups)
    held = Counter(t for d in clustered for t in d.bag)
    for g in groups:
        _name(g, clustered, title_terms, held)
    groups = [g for g in groups if g.name]
    groups.sort(key=lambda g: (-g.weight * math.sqrt(len(g.members)), g.name))
    chosen: list[_Group] = []
    for g in groups:
        same = next((c for c in chosen if set(c.name_terms) & set(g.name_terms)), None)
        if same is not None:
            same.members += g.members  # two groups named alike are one topic
            continue
        if len(chosen) < limit:
            chosen.append(g)
    analysed = len(comments)
    stances = stances or {}
    themes = []
    for g in chosen:
        centre = g.centre()
        g.members += [d for d in rest if cosine(d.vec, centre) >= JOIN_AT]
        examples = representative(thread, g, centre, texts)
        if not examples:
            continue
        top = max((d.comment for d in g.members), key=lambda c: (c.score, c.id))
        n = len(g.members)
        o = thread.origin
        best = (
            f"; the {o.most_voted} of them is by {o.who(top.author)}{o.paren(top.score)}"
            if o.scored
            else ""
        )
        themes.append(
            Theme(
                name=g.name,
                summary=(
                    f"Raised in {n:,} of the {analysed:,} analysed comment"
                    f"{'s' if analysed != 1 else ''}{_tone(g.members, stances)}{best}."
                ),
                comment_ids=tuple(examples[:EXAMPLES]),
                examples=tuple(
                    quote_about(thread, thread.by_id[cid], g.name, EXAMPLE_LIMIT)
                    for cid in examples[:2]
                ),
            )
        )
    return tuple(themes)
