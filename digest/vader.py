"""VADER's polarity scores, the same numbers several times faster.

vaderSentiment 3.3.2 reads a sentence in ways that cost far more than the rules need: it builds
the text again one character at a time to replace emoji (none in most text), and lower-cases
the whole sentence again for every sentiment word and each of the three words before it. Here
each word is lower-cased once and emoji are looked for only in text that can hold them; every
rule is VADER's own, in its order, with its arithmetic (tests/test_offline_speed_shape.py checks
the scores against the original's on real and generated sentences).

Imported by digest.sentiment.make_scorer only (vaderSentiment loads its lexicon at run time).
"""

from __future__ import annotations

import string
from functools import lru_cache

from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    C_INCR,
    N_SCALAR,
    NEGATE,
    SPECIAL_CASES,
    SentimentIntensityAnalyzer,
    scalar_inc_dec,
)

_NEGATE = frozenset(NEGATE)


def _negated(word_lower: str) -> bool:
    """vaderSentiment's `negated([word])` (the word already lower-cased)."""
    return word_lower in _NEGATE or "n't" in word_lower


@lru_cache(maxsize=1 << 16)
def _strip_punc_if_word(token: str) -> str:
    stripped = token.strip(string.punctuation)
    return token if len(stripped) <= 2 else stripped


class Analyzer(SentimentIntensityAnalyzer):  # type: ignore[misc]
    """SentimentIntensityAnalyzer with the same `polarity_scores`, read faster."""

    def __init__(self) -> None:
        super().__init__()
        self._emoji_chars = frozenset(e for e in self.emojis if len(e) == 1)

    def _without_emoji(self, text: str) -> str:
        if text.isascii() or self._emoji_chars.isdisjoint(text):
            return text  # VADER's loop below would give the text back as it is
        out = ""
        prev_space = True
        for ch in text:
            if ch in self.emojis:
                description = self.emojis[ch]
                if not prev_space:
                    out += " "
                out += description
                prev_space = False
            else:
                out += ch
                prev_space = ch == " "
        return out

    def polarity_scores(self, text: str) -> dict[str, float]:
        text = self._without_emoji(text).strip()
        words = [_strip_punc_if_word(w) for w in text.split()]
        lows = [w.lower() for w in words]
        caps = sum(1 for w in words if w.isupper())
        is_cap_diff = 0 < len(words) - caps < len(words)
        lexicon = self.lexicon
        n = len(words)
        sentiments: list[float] = [0] * n  # (VADER's 0 for a word without sentiment is an int)
        for i, low in enumerate(lows):
            if low not in lexicon or low in BOOSTER_DICT:
                continue
            if i < n - 1 and low == "kind" and lows[i + 1] == "of":
                continue
            sentiments[i] = self._valence(words, lows, i, is_cap_diff)
        if "but" in lows:
            sentiments = self._but_check(words, sentiments)
        scores: dict[str, float] = self.score_valence(sentiments, text)
        return scores

    def _valence(self, words: list[str], lows: list[str], i: int, is_cap_diff: bool) -> float:
        """vaderSentiment's sentiment_valence for a word in the lexicon."""
        lexicon = self.lexicon
        item, low = words[i], lows[i]
        valence: float = lexicon[low]
        if low == "no" and i != len(words) - 1 and lows[i + 1] in lexicon:
            valence = 0.0
        if (
            (i > 0 and lows[i - 1] == "no")
            or (i > 1 and lows[i - 2] == "no")
            or (i > 2 and lows[i - 3] == "no" and lows[i - 1] in ("or", "nor"))
        ):
            valence = lexicon[low] * N_SCALAR
        if item.isupper() and is_cap_diff:
            if valence > 0:
                valence += C_INCR
            else:
                valence -= C_INCR
        for start_i in range(0, 3):
            if i > start_i and lows[i - (start_i + 1)] not in lexicon:
                s: float = scalar_inc_dec(words[i - (start_i + 1)], valence, is_cap_diff)
                if start_i == 1 and s != 0:
                    s = s * 0.95
                if start_i == 2 and s != 0:
                    s = s * 0.9
                valence = valence + s
                valence = _negation_check(valence, lows, start_i, i)
                if start_i == 2:
                    valence = _special_idioms_check(valence, lows, i)
        return _least_check(valence, lows, i, lexicon)


def _negation_check(valence: float, lows: list[str], start_i: int, i: int) -> float:
    if start_i == 0 and _negated(lows[i - 1]):
        valence = valence * N_SCALAR
    if start_i == 1:
        if lows[i - 2] == "never" and (lows[i - 1] == "so" or lows[i - 1] == "this"):
            valence = valence * 1.25
        elif lows[i - 2] == "without" and lows[i - 1] == "doubt":
            pass
        elif _negated(lows[i - 2]):
            valence = valence * N_SCALAR
    if start_i == 2:
        if (lows[i - 3] == "never" and (lows[i - 2] == "so" or lows[i - 2] == "this")) or (
            lows[i - 1] == "so" or lows[i - 1] == "this"
        ):
            valence = valence * 1.25
        elif lows[i - 3] == "without" and (lows[i - 2] == "doubt" or lows[i - 1] == "doubt"):
            pass
        elif _negated(lows[i - 3]):
            valence = valence * N_SCALAR
    return valence


def _special_idioms_check(valence: float, lows: list[str], i: int) -> float:
    onezero = f"{lows[i - 1]} {lows[i]}"
    twoonezero = f"{lows[i - 2]} {lows[i - 1]} {lows[i]}"
    twoone = f"{lows[i - 2]} {lows[i - 1]}"
    threetwoone = f"{lows[i - 3]} {lows[i - 2]} {lows[i - 1]}"
    threetwo = f"{lows[i - 3]} {lows[i - 2]}"
    for seq in (onezero, twoonezero, twoone, threetwoone, threetwo):
        if seq in SPECIAL_CASES:
            valence = SPECIAL_CASES[seq]
            break
    if len(lows) - 1 > i:
        zeroone = f"{lows[i]} {lows[i + 1]}"
        if zeroone in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroone]
    if len(lows) - 1 > i + 1:
        zeroonetwo = f"{lows[i]} {lows[i + 1]} {lows[i + 2]}"
        if zeroonetwo in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroonetwo]
    for n_gram in (threetwoone, threetwo, twoone):
        if n_gram in BOOSTER_DICT:
            valence = valence + BOOSTER_DICT[n_gram]
    return valence


def _least_check(valence: float, lows: list[str], i: int, lexicon: dict[str, float]) -> float:
    if i > 1 and lows[i - 1] not in lexicon and lows[i - 1] == "least":
        if lows[i - 2] != "at" and lows[i - 2] != "very":
            valence = valence * N_SCALAR
    elif i > 0 and lows[i - 1] not in lexicon and lows[i - 1] == "least":
        valence = valence * N_SCALAR
    return valence
