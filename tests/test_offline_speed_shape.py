"""The offline analysis's shortcuts give what the long way gives (issue 14: 10k comments in under a
second). No timings here: each shortcut is checked against the plain computation it replaces.

- each comment is split into sentences once per analysis (digest.sentences), and forgotten after;
- VADER read faster (digest.vader) scores as vaderSentiment does;
- a pattern's hint (digest.text.Cue) never hides a match: every string the pattern matches, and
  real comments, get the pattern's own answer;
- terms with a clause memo, top_terms, MMR, theme examples, takeaways and the summary's labels
  as the long way has them.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import BOOSTER_DICT, SentimentIntensityAnalyzer

import digest.mood as mood
import digest.sentences as sentences
import digest.takeaways as takeaways
import digest.themes as themes
from adapters.reddit_source.thread_json import thread_from_json_text
from digest.labels import capitalized, is_most_upvoted, is_widely_shared, upvote_rank
from digest.model import Thread
from digest.offline import OfflineAnalyzer, _summary_labels
from digest.pipeline import DigestEngine
from digest.quotes import own_sentences
from digest.report import Depth
from digest.sentiment import _REDDIT_LEXICON, make_scorer
from digest.summary import MMR_LAMBDA, _Sentence, mmr
from digest.text import Cue, folded
from digest.text import sentences as split_sentences
from digest.vectors import (
    ClauseTerms,
    cosine,
    idf,
    normalized,
    term_list,
    terms,
    tfidf,
    top_normalized,
    top_terms,
)
from tests.conftest import NO_DATA_REASON, REDDIT_DATA
from tests.support.synthetic import thread_json

SCORER = make_scorer()
CUES = {
    name: getattr(mood, name)
    for name in dir(mood)
    if name.endswith("_CUE") and isinstance(getattr(mood, name), Cue)
}
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _real_threads() -> list[Thread]:
    files = sorted(
        p
        for p in REDDIT_DATA.glob("*/*.json")
        if "morechildren" not in p.name and p.parent.name != "cassettes"
    )
    return [thread_from_json_text(p.read_bytes(), source=str(p)) for p in files]


REAL = _real_threads() if REDDIT_DATA.is_dir() else []
needs_data = pytest.mark.skipif(not REAL, reason=NO_DATA_REASON)


def _real_texts() -> Iterator[str]:
    for thread in REAL:
        yield thread.post.title
        yield thread.post.body
        for c in thread.comments:
            yield c.body
            yield from split_sentences(c.body)


def _synthetic(n: int, seed: int = 0) -> Thread:
    import json

    return thread_from_json_text(json.dumps(thread_json(n, seed=seed)))


# --- sentences split once ---------------------------------------------------------------------


@pytest.mark.parametrize("depth", [Depth.BRIEF, Depth.DEEP])
def test_each_comment_is_split_once_per_analysis(depth: Depth) -> None:
    thread = _synthetic(400, seed=3)
    engine = DigestEngine(scorer=SCORER)
    before = sentences.splits
    inp = engine.prepare(thread, depth, 10**9)
    OfflineAnalyzer().narrate_sync(inp)
    read = [c for c in inp.comments if c.has_text]
    assert len(read) > 300
    assert sentences.splits - before == len(read)  # the sentiment split them; the rest reused
    # and nothing is kept once the narrative is written
    assert all(ref() is not thread for ref, _ in sentences._RECENT.values())


def test_thread_texts_are_kept_for_a_few_threads_and_only_while_they_live() -> None:
    threads = [_synthetic(5, seed=i) for i in range(sentences.KEEP + 1)]
    texts = [sentences.thread_text(t) for t in threads]
    assert sentences.thread_text(threads[-1]) is texts[-1]
    assert sentences.thread_text(threads[0]) is not texts[0]  # the oldest was let go
    key = id(threads[-1])
    del threads[-1]
    assert key not in sentences._RECENT


# --- VADER -----------------------------------------------------------------------------------


def _reference() -> SentimentIntensityAnalyzer:
    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(_REDDIT_LEXICON)
    return analyzer


REFERENCE = _reference()
_WORDS = [
    *list(REFERENCE.lexicon)[::40],
    *BOOSTER_DICT,
    *"no not never so this without doubt least at very but kind of or nor isn't the shit bomb"
    " yeah right kiss death sort cut mustard lol insane unusable :) :D <3".split(),
]
_WORD = st.sampled_from(_WORDS).map(lambda w: w.upper() if len(w) % 3 == 0 else w) | st.text(
    alphabet="abcXYZ!?.,'-😁💘 ", max_size=6
)


@EXAMPLES
@given(st.lists(_WORD, max_size=16), st.sampled_from(["", ".", "!", "?", "!!!!!", "???", " 😁"]))
def test_vader_scores_as_vader(words: list[str], end: str) -> None:
    text = " ".join(words) + end
    assert SCORER.polarity_scores(text) == REFERENCE.polarity_scores(text)


@needs_data
def test_vader_scores_real_sentences_as_vader() -> None:
    texts = list(_real_texts())
    for text in random.Random(14).sample(texts, min(len(texts), 6000)):
        assert SCORER.polarity_scores(text) == REFERENCE.polarity_scores(text), text


# --- hints never hide a match ----------------------------------------------------------------


def _same(cue: Cue, text: str) -> None:
    expected = cue.pattern.search(text)
    found = cue.search(text)
    assert (found and found.span()) == (expected and expected.span()), text
    if not cue.from_start:
        assert cue.count(text) == len(cue.pattern.findall(text)), text
        assert cue.sub(" ", text) == cue.pattern.sub(" ", text), text


@pytest.mark.parametrize("name", sorted(CUES))
def test_every_string_a_pattern_matches_holds_its_hint(name: str) -> None:
    cue = CUES[name]

    @EXAMPLES
    @given(st.text(max_size=8), st.from_regex(cue.pattern), st.text(max_size=8))
    def check(before: str, matched: str, after: str) -> None:
        _same(cue, matched)
        _same(cue, before + matched + after)

    check()


@needs_data
@pytest.mark.parametrize("name", sorted(CUES))
def test_hints_on_real_comments(name: str) -> None:
    for text in _real_texts():
        _same(CUES[name], text)


def test_folding_is_what_ignorecase_compares() -> None:
    for ch in ["İ", "ı", "ſ", "K", "ﬅ", "ß", "Σ", "A", "z", "😂"]:
        for letter in "iskaz":
            if re.fullmatch(letter, ch, re.IGNORECASE):
                assert folded(ch) == letter
    assert folded("LOOK İNSIDE") == "look inside"


# --- vectors and ranking ---------------------------------------------------------------------


@needs_data
def test_terms_with_a_clause_memo_are_the_terms() -> None:
    memo: dict[str, ClauseTerms] = {}
    for text in _real_texts():
        plain = terms(text)
        kept = terms(text, memo)
        assert kept == plain
        assert list(kept[1].items()) == list(plain[1].items())  # surface forms in order too
        assert term_list(text, memo) == plain[0]


def _top_terms_sorted(vec: dict[str, float], n: int) -> dict[str, float]:
    if len(vec) <= n:
        return vec
    return normalized(dict(sorted(vec.items(), key=lambda tv: (-tv[1], tv[0]))[:n]))


@EXAMPLES
@given(
    st.dictionaries(
        st.text(alphabet="abcde", min_size=1, max_size=4),
        st.sampled_from([0.1, 0.25, 0.5, 0.1 + 1e-17, 0.30000000000000004]) | st.floats(1e-9, 5.0),
        max_size=80,
    ),
    st.integers(1, 70),
)
def test_top_terms_as_sorting_all(vec: dict[str, float], n: int) -> None:
    got = top_terms(vec, n)
    assert list(got.items()) == list(_top_terms_sorted(vec, n).items())
    fused = top_normalized(vec, n)  # dividing only the heaviest terms
    assert list(fused.items()) == list(_top_terms_sorted(normalized(vec), n).items())


def _mmr_plain(pool: list[_Sentence], k: int) -> list[_Sentence]:
    """MMR as it read before: every sentence, every round."""
    top = max(s.relevance for s in pool) or 1.0
    chosen: list[_Sentence] = []
    taken: set[str] = set()
    authors: set[str] = set()
    while len(chosen) < k:
        best: tuple[float, str, _Sentence] | None = None
        for s in pool:
            if s.comment.id in taken or (s.comment.author or "") in authors:
                continue
            novelty = max((cosine(s.vec, o.vec) for o in chosen), default=0.0)
            value = MMR_LAMBDA * s.relevance / top - (1 - MMR_LAMBDA) * novelty
            if best is None or (value, s.comment.id) > (best[0], best[1]):
                best = (value, s.comment.id, s)
        if best is None:
            break
        chosen.append(best[2])
        taken.add(best[2].comment.id)
        authors.add(best[2].comment.author or "")
    return chosen


@pytest.mark.parametrize("seed", range(40))
def test_mmr_stops_early_and_picks_the_same(seed: int) -> None:
    rng = random.Random(seed)
    thread = _synthetic(60, seed=seed)
    pool = []
    for c in thread.comments[:50]:
        for _ in range(rng.randint(1, 3)):
            words = Counter(rng.choices("ab bc cd de ef fg gh".split(), k=rng.randint(1, 5)))
            vec = normalized({t: float(k) for t, k in words.items()})
            relevance = rng.choice([0.5, 1.0, rng.random() * 3])
            pool.append(_Sentence(c, "text", vec, relevance, 0.0))
    k = rng.randint(1, 6)
    assert mmr(pool, k, set(), set()) == _mmr_plain(pool, k)


def _labels_plain(thread: Thread) -> dict[str, str]:
    out = {}
    for c in thread.comments:
        if not c.has_text:
            continue
        if is_most_upvoted(thread, c.id):
            out[c.id] = capitalized(upvote_rank(thread, c.id))
        elif c.parent_id is None and is_widely_shared(thread, c.id):
            out[c.id] = "A widely shared point"
    return out


def test_summary_labels_as_digest_labels_says() -> None:
    threads = [*REAL, *(_synthetic(n, seed=n) for n in (1, 9, 120, 700))]
    for thread in threads:
        assert _summary_labels(thread, list(thread.comments)) == _labels_plain(thread)


def _representative_plain(
    thread: Thread, group: Any, centre: dict[str, float], texts: Any = None
) -> list[str]:
    """Theme examples as they were read before: every member, no early stop."""
    weights, _ = idf(d.bag for d in group.members)
    literal = themes._literal(group.name)
    ranked: list[tuple[float, str]] = []
    for d in group.members:
        for raw in own_sentences(d.comment.body):
            sentence = " ".join(raw.split())
            said = literal.search(sentence)
            if not said and not themes.mentions(set(terms(sentence)[0]), group):
                continue
            if not 20 <= len(sentence) <= 200 or len(sentence.split()) < 4 or "http" in sentence:
                break
            fit = cosine(tfidf(Counter(terms(sentence)[0]), weights), centre)
            question = 0.5 if sentence.rstrip().endswith("?") else 1.0
            ranked.append(
                ((fit + 0.1) * math.sqrt(d.w) * question * (1.0 if said else 0.6), d.comment.id)
            )
            break
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


def test_theme_examples_read_by_votes_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    threads = [*REAL, _synthetic(3000, seed=4), _synthetic(800, seed=5)]
    for thread in threads:
        comments = list(thread.comments)
        fast = themes.find_themes(thread, comments, 6)
        with monkeypatch.context() as m:
            m.setattr(themes, "representative", _representative_plain)
            assert themes.find_themes(thread, comments, 6) == fast


def _takeaways_plain(thread: Thread, limit: int, stances: dict[str, str]) -> list[str]:
    """Takeaways as they were read before: every comment (the ids and sentences, in order)."""
    found = []
    for c in thread.comments:
        if not c.has_text or c.score < 1 or stances.get(c.id) == "humorous":
            continue
        for raw in own_sentences(c.body):
            what = takeaways.kind(raw)
            if what is not None:
                found.append((math.sqrt(mood.weight(c)) * takeaways._WORTH[what], c.id, raw))
                break
    found.sort(key=lambda f: (-f[0], f[1]))
    out: list[str] = []
    authors: set[str | None] = set()
    for _, cid, raw in found:
        author = thread.by_id[cid].author
        if author is not None and author in authors:
            continue
        authors.add(author)
        out.append(f"{cid}: {' '.join(raw.split())}")
        if len(out) == limit:
            break
    return out


def test_takeaways_read_by_votes_are_the_same() -> None:
    for thread in [*REAL, _synthetic(3000, seed=6), _synthetic(500, seed=7)]:
        stances = {c.id: "humorous" for c in thread.comments[::7]}
        for limit in (1, 3, 5):
            got = takeaways.find_takeaways(thread, list(thread.comments), limit, stances)
            said = [f"{q.comment_id}: {q.text}" for t in got if (q := t.quote) is not None]
            assert len(said) == len(got)
            assert said == _takeaways_plain(thread, limit, stances)


def test_cosine_sums_in_order() -> None:
    a = {"x": 0.1, "y": 0.7, "z": 0.2}
    b = {"z": 0.3, "x": 0.9, "w": 1.0}
    assert cosine(a, b) == sum(v * b.get(t, 0.0) for t, v in a.items())
    assert math.isclose(cosine(normalized(a), normalized(a)), 1.0)


def test_no_module_here_is_long() -> None:
    root = Path(__file__).resolve().parents[1] / "digest"
    for name in ("sentences", "vader", "mood", "themes", "summary", "vectors", "text"):
        assert len((root / f"{name}.py").read_text().splitlines()) <= 420, name
