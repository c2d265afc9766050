"""Words as the offline analyser counts them: content terms, a light stemmer, TF-IDF vectors.

Hand-written on purpose: a thread is a few hundred short texts, and sparse dictionaries do this
in milliseconds without importing a numeric stack (scikit-learn alone costs ~1 s to import).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from itertools import repeat
from operator import mul

Vector = dict[str, float]

_WORD = re.compile(r"[^\W_][\w'’+#.]*[^\W_]|[^\W_]", re.UNICODE)  # hyphens split words
_LINKISH = re.compile(r"\]\([^)]*\)|https?://\S+|`[^`]*`|&\w+;|\b\w+\.(?:com|org|net|io|it|ai)\b")
# Each match of _LINKISH holds one of these.
_LINKISH_MARKS = ("](", "http", "`", "&", ".com", ".org", ".net", ".io", ".it", ".ai")
_CLAUSE = re.compile(r"[.!?;:,()\[\]\"“”]+(?:\s+|$)|\s[-–—]+\s|\n+")
STOP = frozenset(
    """
    a about above actually after again against all almost also although always am an and any
    anyone anything are aren't around as at away back be because been before being below between
    both but by can can't cannot could couldn't did didn't do does doesn't doing don't done down
    during each edit either else enough etc even ever every everyone everything few first for
    from further get gets getting go goes going gonna good got gotta had hadn't has hasn't have
    haven't having he he'd he'll he's her here here's hers herself him himself his how how's
    however i i'd i'll i'm i've if im in into is isn't it it's its itself just know last least
    less let let's like likely lol lot lots made make makes many may maybe me might mine more
    most much must my myself need needs never new no nor not nothing now of off oh ok okay on once
    one ones only or other others our ours ourselves out over own people pretty probably put quite
    rather really right said same say says see seem seems she she'd she'll she's should
    shouldn't since so some someone something still such sure take than thank thanks that that's
    the their theirs them themselves then there there's these they they'd they'll they're
    they've thing things think this those though through thus time to too two under until up
    upon us use used using very via want wants was wasn't way we we'd we'll we're we've well
    were weren't what what's whatever when when's where where's whether which while who who's
    whom whose why why's will with without won't would wouldn't yeah yes yet you you'd you'll
    you're you've your yours yourself yourselves http https www com deleted removed went come
    came look looks looking sounds sound feel feels felt year years day days today guys guy man
    shit fuck fucking damn stuff kind sort bit nope great nice cool bad better best big little
    long old true real work works worked point part lmao haha edit2 isn't tried try trying
    run runs running ran able thing wait guess mean means seen saw give gives given bro dude
    lmfao yep yup tho imo imho tbh idk btw anyway literally basically definitely honestly
    anyways already ago soon later far whole enough three four five ten hundred per
    """.split()
)
# Words too general to name a topic on their own: they may join a phrase ("local model") but a
# theme called "model" says nothing (they still count when comments are compared).
WEAK = frozenset(
    """
    model models llm llms ai version versions test tests tested testing release released new
    open source thread comment post reddit subreddit sub upvote downvote karma mod op title
    question answer answers case cases problem problems issue issues result results use user users
    lot example examples question questions thing way level times day name names idea ideas
    part parts stuff kind sort place start end side good bad great nice interesting
    ask appear generat compar glad hell happy sad wrong easy hard possible impossible funny weird
    amazing awesome huge small large smaller larger bigger high low higher lower fine free full
    clear obvious expect hope love hate wish believe find care call happen mention support help
    show tell talk read write wrote written change keep leave play move pay buy sell build create
    drop hit lose win agree disagree remember forget understand learn matter reason fact sense
    deal type everybody anybody nobody potentially basically glad cheers lol awful terrible
    please thank sorry yeah okay fun favor favour
    """.split()
)
# Words that name one concern in different ways, so that comments about it group together even
# when they share no word ("censored", "refuses", "lobotomized"): each adds a concept term, named
# by its label. Kept to families that mean the same in any tech discussion.
CONCEPTS: dict[str, tuple[str, ...]] = {
    "censorship": (
        "censor", "uncensor", "decensor", "refus", "refusal", "lobotomiz", "lobotomis",
        "guardrail", "jailbreak", "nsfw", "safety guideline", "safety training", "safety test",
        "safety tun", "moraliz", "preachy",
    ),
    "licence": ("licens", "license", "licence", "apache", "copyleft"),
    "price": ("price", "pric", "cost", "cheap", "expensive", "afford", "pricey"),
    "speed": ("speed", "fast", "faster", "slow", "slower", "latency", "throughput"),
    "memory": ("vram", "ram", "memory", "offload"),
}  # fmt: skip
CONCEPT_OF = {stem: f"~{label}" for label, stems in CONCEPTS.items() for stem in stems}
_SUFFIXES = (
    ("ations", ""), ("ation", ""), ("ships", ""), ("ship", ""), ("ings", ""), ("ing", ""),
    ("ments", ""), ("ment", ""), ("ness", ""), ("ies", "y"), ("ied", "y"), ("als", ""),
    ("al", ""), ("ed", ""), ("es", ""), ("s", ""),
)  # fmt: skip


def _weak_stems() -> frozenset[str]:
    return WEAK | {stem(w) for w in WEAK}


def prose(text: str) -> str:
    """The words people wrote, without URLs, link targets and inline code."""
    if not any(mark in text for mark in _LINKISH_MARKS):
        return text  # nothing `_LINKISH` could match (most texts): not searched for
    return _LINKISH.sub(" ", text)


def tokens(text: str) -> list[str]:
    """The words of `text` as written (GPU stays GPU)."""
    return [w.strip(".'’-") for w in _WORD.findall(text)]


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A light stemmer: enough that `censored`, `censorship` and `censor` are one term, and
    `refusals`/`refuses`/`refused` another. Short words are left alone."""
    w = word.lower().removesuffix("'s").removesuffix("’s")
    if w.endswith("ss"):
        return w
    for suffix, repl in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            return w[: len(w) - len(suffix)] + repl
    return w


@lru_cache(maxsize=1 << 16)
def content(word: str) -> bool:
    low = word.lower()
    return len(low) > 2 and low not in STOP and not low.isdigit() and not _NUMBERISH.match(low)


_NUMBERISH = re.compile(r"^[\d.,]+[a-z]{0,2}$")


@lru_cache(maxsize=1 << 16)
def _word(token: str) -> tuple[str, str, str | None] | None:
    """A token as `terms` counts it: (the word as written, its stem, the concept it names), or
    None when it is no content word. Words repeat: most are read from the cache."""
    w = token.strip(".'’-")  # as `tokens` gives it
    if not content(w):
        return None
    s = stem(w)
    return w, s, CONCEPT_OF.get(s) or CONCEPT_OF.get(s.removeprefix("un"))


@lru_cache(maxsize=1 << 16)
def _pair(first: str, second: str) -> str:
    return f"{first} {second}"  # one string for each pair of stems, however often it is said


# A clause's terms, and the form each occurrence has there (as written).
ClauseTerms = tuple[tuple[str, ...], tuple[str, ...]]


def _clause_terms(clause: str) -> ClauseTerms:
    out: list[str] = []
    forms: list[str] = []
    previous: tuple[str, str, str | None] | None = None
    for word in map(_word, _WORD.findall(clause)):
        if word is None:
            previous = None
            continue
        w, s, concept = word
        out.append(s)
        forms.append(w)
        if previous is not None:
            pair = _pair(previous[1], s)
            out.append(pair)
            forms.append(_pair(previous[0], w))
            if concept is None:
                concept = CONCEPT_OF.get(pair)
        if concept is not None:
            out.append(concept)
            forms.append(concept[1:])
        previous = word
    return tuple(out), tuple(forms)


def terms(
    text: str, memo: dict[str, ClauseTerms] | None = None
) -> tuple[list[str], dict[str, str]]:
    """The terms of a text (stems of content words, and of adjacent pairs of them within a
    clause), with each term's surface form as written here (the first time).

    `memo`: clauses already read (texts of one thread share most of theirs: a comment, its
    own sentences, its quotable ones); kept by the caller for as long as it is useful."""
    out: list[str] = []
    surface: dict[str, str] = {}
    for found, forms in _clauses(text, memo):
        out += found
        for t, form in zip(found, forms, strict=True):
            if t not in surface:
                surface[t] = form
    return out, surface


def term_list(text: str, memo: dict[str, ClauseTerms] | None = None) -> list[str]:
    """`terms(text, memo)[0]`: the terms only."""
    out: list[str] = []
    for found, _ in _clauses(text, memo):
        out += found
    return out


def _clauses(text: str, memo: dict[str, ClauseTerms] | None) -> list[ClauseTerms]:
    clauses = _CLAUSE.split(prose(text))
    if memo is None:
        return [_clause_terms(c) for c in clauses]
    return [memo.get(c) or memo.setdefault(c, _clause_terms(c)) for c in clauses]


def fold_prefixes(bags: Iterable[Counter[str]]) -> dict[str, str]:
    """`uncensor` → `censor`, `decensor` → `censor`: only when the thread also uses the word
    without the prefix (so `understand` never becomes `derstand`)."""
    vocab = {t for bag in bags for t in bag if " " not in t}
    return {t: t[2:] for t in vocab if t[:2] in ("un", "de") and len(t) >= 7 and t[2:] in vocab}


def idf(bags: Iterable[Counter[str]]) -> tuple[dict[str, float], int]:
    df: Counter[str] = Counter()
    n = 0
    for bag in bags:
        df.update(bag.keys())
        n += 1
    return {t: math.log((n + 1) / (k + 1)) + 1.0 for t, k in df.items()}, n


# 1 + log(k) for the term counts most texts have (the same numbers, computed once).
_TF = (0.0, *(1.0 + math.log(k) for k in range(1, 64)))


def tfidf(bag: Mapping[str, int], weights: Mapping[str, float]) -> Vector:
    """A unit-length TF-IDF vector (sublinear term frequency)."""
    weight = weights.get
    vec = {
        t: (_TF[k] if 0 < k < 64 else 1.0 + math.log(k)) * weight(t, 1.0) for t, k in bag.items()
    }
    return normalized(vec)


def top_terms(vec: Vector, n: int) -> Vector:
    """The vector cut to its `n` heaviest terms, unit length again (a centre of many comments
    has hundreds of terms; its heaviest say what it is about, and compare much faster)."""
    if len(vec) <= n:
        return vec
    # The n heaviest by (-weight, term), without sorting every term by that key: those heavier
    # than the n-th heaviest weight, and of those as heavy, the first by term.
    cut = sorted(vec.values(), reverse=True)[n - 1]
    heavier = [(t, v) for t, v in vec.items() if v > cut]
    tied = sorted(t for t, v in vec.items() if v == cut)[: n - len(heavier)]
    kept = sorted([*heavier, *((t, cut) for t in tied)], key=lambda tv: (-tv[1], tv[0]))
    return normalized(dict(kept))


def top_normalized(vec: Vector, n: int) -> Vector:
    """`top_terms(normalized(vec), n)`, dividing only the terms that may be among the n heaviest
    (those within a billionth of the n-th heaviest weight: no lighter one rounds up to it)."""
    if len(vec) <= n:
        return normalized(vec)
    values = vec.values()
    norm = math.sqrt(sum(map(mul, values, values)))
    if not norm:
        return {}
    near = sorted(values, reverse=True)[n - 1] * (1 - 1e-9)
    scaled = {t: v / norm for t, v in vec.items() if v >= near}
    return normalized(dict(sorted(scaled.items(), key=lambda tv: (-tv[1], tv[0]))[:n]))


def normalized(vec: Vector) -> Vector:
    values = vec.values()
    norm = math.sqrt(sum(map(mul, values, values)))  # v * v for each, summed in order
    return {t: v / norm for t, v in vec.items()} if norm else {}


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Dot product of two vectors (cosine when both are unit length)."""
    if len(a) > len(b):
        a, b = b, a
    # v * b.get(t, 0.0) for each of a's terms, summed in order (the loop in C)
    total: float = sum(map(mul, a.values(), map(b.get, a.keys(), repeat(0.0))))
    return total


def add(into: Vector, vec: Mapping[str, float], scale: float = 1.0) -> None:
    get = into.get
    for t, v in vec.items():
        into[t] = get(t, 0.0) + v * scale


WEAK_STEMS = _weak_stems()
