"""How a comment reads, the way a Reddit regular reads it, and the mood of a thread from that.

VADER alone reads Reddit badly: "lmao" and "lol" score as praise, "annoying" inside helpful advice
as hostility, a question as an opinion, and "Look inside / Lobotomized" as a compliment. Here VADER
gives the raw polarity of each sentence the writer wrote themselves (not what they quote), and
Reddit's own cues correct it: laughter and `/s` are not praise, a question is not a verdict, advice
is not hostility, words this community uses to criticise ("unusable", "censored", "lobotomized") or
praise ("hidden gem", "credit where credit is due") count, and a reply that opens by disagreeing
disagrees. The thread's mood is led by its highest-voted voices and is "mixed" when they split.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from digest.model import Comment
from digest.sentences import CommentText
from digest.text import Cue, folded

# A comment's polarity beyond these reads as an opinion either way (VADER's own ±0.05 calls
# nearly every sentence with an adjective an opinion).
LEAN = 0.15
TOP_VOICES = 6  # the highest-voted opinionated comments that lead the mood
SPLIT_SHARE = 0.3  # each side holding this much of the top voices' weight: the mood is mixed


class PolarityScorer(Protocol):
    def polarity_scores(self, text: str) -> dict[str, float]: ...


@dataclass(frozen=True, slots=True)
class Tone:
    """How one comment reads: a polarity in -1..1 and what kind of comment it is.

    Kinds follow the LLM analyser's stances: supportive, critical, neutral, question, humorous,
    informative, mixed.
    """

    polarity: float
    stance: str


# Laughter and sarcasm markers: what they say about the writer's mood is not praise.
_LAUGH = re.compile(
    r"(?<![\w/])(?:lo+l+|lmf?ao+|rofl|roflmao|ha(?:ha)+h?|he(?:he)+|kek|xd+|jk)(?!\w)"
    r"|[\U0001F602\U0001F923\U0001F644\U0001F480\U0001F62D\U0001F605\U0001F606]",
    re.IGNORECASE,
)
_SARCASM = re.compile(
    r"(?:^|\s)/s\s*$|\blook inside\b|\byeah,? right\b|\bwhat could (?:possibly )?go wrong\b"
    r"|\b(?:was )?fun while it lasted\b|\bsaid no one\b|\bwho could have (?:guessed|known)\b",
    re.IGNORECASE,
)
_CONCESSION = re.compile(
    r"^(?:while|although|though|even though|even if|despite)\b[^,;]{1,80},\s*", re.I
)
_CRITICISM = re.compile(
    r"\b(?:unusable|useless|garbage|trash|lobotomi[sz]ed|censored|censorship|refus(?:e|es|ed|al|als"
    r"|ing)|disappoint\w*|overhyped|hype|worse|broken|doesn'?t (?:even )?(?:work|run|beat)|fails?"
    r"|failed|not (?:impressed|good|great|usable|worth)|gibberish|hallucinat\w*|slop|sucks?"
    r"|crap|meh|dumb(?:ed)?|bloated|poor(?:ly)?|nowhere near|not even (?:close|better)"
    r"|regression|unreadable|rip-?off|scam|lies|misleading|clickbait|too slow|can'?t even"
    r"|hyperbole|ton(?:e|ing) (?:it )?down|exaggerat\w*|not that (?:hidden|good|great|impressive)"
    r"|i wouldn'?t call)\b",
    re.IGNORECASE,
)
_PRAISE = re.compile(
    r"\b(?:hidden gem|game ?changer|credit where credit|kudos|impressive|impressed|solid"
    r"|excellent|fantastic|amazing(?:ly)? (?:good|fast|well)|insanely (?:good|fast)|blown away"
    r"|works (?:great|well|perfectly)|love (?:it|this)|best (?:model|one|so far)|a beast"
    r"|thank(?:s| you)|great (?:work|job|release|model))\b",
    re.IGNORECASE,
)
# A reply that opens like this answers its parent with "you are wrong".
_DISAGREE = re.compile(
    r"^\s*(?:\?+\s|no[.,!\s]|nope\b|nah\b|wrong\b|not really\b|not true\b|doubt\b|except\b"
    r"|that'?s not\b|this is(?:n'?t| not)\b|i disagree\b|disagree\b|not even\b|actually,|false\b"
    r"|i doubt\b|source\?|i wouldn'?t call\b|not that\b|hardly\b)",
    re.IGNORECASE,
)
_ADVICE_START = re.compile(
    r"^(?:please\s+)?(?:use|try|run|set|install|add|avoid|check|make sure|don'?t|do not|never"
    r"|always|consider|enable|disable|switch|put|pass|keep|grab|download|update|build|compile"
    r"|remember|start|stop|turn|load|increase|lower|reduce|raise|go with|stick with|look at|read)\b"
    r"|\byou (?:should|need to|have to|'ll want|will want|can just|might want|may want)\b"
    r"|\bi(?:'d| would)? (?:recommend|suggest)\b",
    re.IGNORECASE,
)
_QUESTION_START = re.compile(
    r"^(?:how|what|why|when|where|which|who|is|are|does|do|did|can|could|would|will|should|has"
    r"|have|any(?:one|body)?|has anyone)\b",
    re.IGNORECASE,
)
_INFORMATIVE = re.compile(
    r"\d|`|\bhttps?://|\b(?:gguf|q\d|fp\d+|vram|tok(?:ens)?/s|t/s|gb)\b", re.I
)
# The same patterns, with the words one of which each match holds (most texts hold none of them
# and are not searched: see digest.text.Cue; tests/test_offline_speed_shape.py checks the hints).
_LAUGH_CUE = Cue(
    _LAUGH,
    (
        *("lol", "loo", "lm", "rofl", "haha", "hehe", "kek", "xd", "jk"),
        *"\U0001f602\U0001f923\U0001f644\U0001f480\U0001f62d\U0001f605\U0001f606",
    ),
)
_SARCASM_CUE = Cue(
    _SARCASM,
    ("/s", "look inside", "yeah", "go wrong", "fun while it lasted", "said no one", "who could"),
)
_CRITICISM_CUE = Cue(
    _CRITICISM,
    (
        *"unusable useless garbage trash lobotomi censor refus disappoint hype worse broken".split(),
        *"doesn fail gibberish hallucinat slop suck crap meh dumb bloated poor regression".split(),
        *"unreadable rip-off ripoff scam lies misleading clickbait exaggerat".split(),
        *("not impressed", "not good", "not great", "not usable", "not worth", "not even"),
        *("not that", "nowhere near", "too slow", "can't even", "cant even", "tone ", "toning "),
        *("wouldn't call", "wouldnt call"),
    ),
)
_PRAISE_CUE = Cue(
    _PRAISE,
    (
        *"hidden gem|game changer|gamechanger|credit where credit|kudos|impress|solid".split("|"),
        *"excellent|fantastic|amazing|insanely |blown away|works |love |best |a beast".split("|"),
        *("thank", "great "),
    ),
)
_ADVICE_CUE = Cue(_ADVICE_START, ("you ", "recommend", "suggest"), from_start=True)
_INFORMATIVE_CUE = Cue(_INFORMATIVE, r"\d|`|http|gguf|vram|/s|gb")


def opinionated(sentence: str) -> bool:
    """Whether a sentence takes a side in this community's words ("unusable", "hidden gem")."""
    fold = folded(sentence)
    return bool(_CRITICISM_CUE.search(sentence, fold) or _PRAISE_CUE.search(sentence, fold))


def own_text(body: str) -> list[str]:
    """The sentences the writer wrote themselves (not what they quote), links reduced to their
    words and code spans dropped."""
    return list(CommentText(body).flat)


def _is_question(sentence: str) -> bool:
    s = sentence.rstrip(" )\"'”")
    return s.endswith("?") or (bool(_QUESTION_START.match(s)) and len(s) < 80 and "." not in s)


def read(body: str, scorer: PolarityScorer) -> Tone:
    """The tone of one comment (see the module's docstring)."""
    return tone(CommentText(body).flat, scorer)


def tone(sentences: Sequence[str], scorer: PolarityScorer) -> Tone:
    """The tone of a comment from its own sentences, as `own_text` gives them."""
    if not sentences:
        return Tone(0.0, "neutral")
    joined = " ".join(sentences)
    fold = folded(joined)  # each sentence folds to a part of it
    laughs = _LAUGH_CUE.hinted(joined, fold)
    laughing = laughs and bool(_LAUGH.search(joined))
    sarcastic = bool(_SARCASM_CUE.search(joined, fold))
    questions = [s for s in sentences if _is_question(s)]
    statements = [s for s in sentences if not _is_question(s)]
    total = 0.0
    weights = 0.0
    for s in statements:
        clean = _CONCESSION.sub("", _LAUGH.sub(" ", s) if laughs else s).strip()
        if not clean:
            continue
        value = float(scorer.polarity_scores(clean)["compound"])
        # Advice and recipes mention problems to solve ("annoying", "slow"): not hostility.
        weight = (0.35 if _ADVICE_CUE.search(clean) else 1.0) * math.sqrt(len(clean) + 10)
        total += value * weight
        weights += weight
    polarity = total / weights if weights else 0.0
    criticism = _CRITICISM_CUE.count(joined, fold)
    praise = _PRAISE_CUE.count(joined, fold)
    polarity += 0.3 * min(praise, 2) - 0.4 * min(criticism, 3)
    # An opening "No." or "Except…" disagrees with the parent, or with the post when top-level.
    if _DISAGREE.match(joined):
        polarity = min(polarity, 0.0) - 0.3
    if sarcastic:
        polarity = -abs(polarity) - 0.2  # the praise is the joke
    polarity = max(-1.0, min(1.0, polarity))
    if questions and len(questions) >= len(statements) and not criticism and not praise:
        return Tone(0.0, "question")  # asking is neither praise nor criticism
    if abs(polarity) < LEAN:
        if laughing or sarcastic:
            return Tone(polarity, "humorous")
        informative = len(joined) >= 80 and bool(_INFORMATIVE_CUE.search(joined, fold))
        return Tone(polarity, "informative" if informative else "neutral")
    if criticism and praise:
        return Tone(polarity, "mixed")
    return Tone(polarity, "supportive" if polarity > 0 else "critical")


def weight(comment: Comment) -> float:
    """How much a comment's voice counts: grows with its points, sub-linearly, so that the
    highest-voted voices lead without one comment drowning a thread; the OP defending their own
    post counts half (the mood is the readers')."""
    w: float = math.pow(max(comment.score, 0) + 1, 0.6)
    return w * 0.5 if comment.is_submitter else w


@dataclass(frozen=True, slots=True)
class Mood:
    label: str  # positive | negative | neutral | mixed
    score: float  # -1..1: the weighted lean, led by the top voices
    lead: tuple[str, ...]  # ids of the top voices (opinionated, highest-voted first)
    split: bool  # the top voices disagree among themselves


def mood_label(score: float) -> str:
    if score >= LEAN:
        return "positive"
    if score <= -LEAN:
        return "negative"
    return "neutral"


def thread_mood(comments: Sequence[Comment], tones: dict[str, Tone]) -> Mood:
    """The mood of a thread from its comments' tones (see `weight`)."""
    scored = [c for c in comments if c.id in tones]
    if not scored:
        return Mood("neutral", 0.0, (), False)
    overall = _weighted(scored, tones)
    voices = sorted(
        (c for c in scored if abs(tones[c.id].polarity) >= LEAN and c.score > 0),
        key=lambda c: (-c.score, c.id),
    )[:TOP_VOICES]
    if not voices:
        return Mood(mood_label(overall), round(overall, 4), (), False)
    lead = _weighted(voices, tones)
    pos = sum(weight(c) for c in voices if tones[c.id].polarity > 0)
    neg = sum(weight(c) for c in voices if tones[c.id].polarity < 0)
    split = min(pos, neg) >= SPLIT_SHARE * (pos + neg) and len(voices) >= 2
    score = round(0.6 * lead + 0.4 * overall, 4)
    label = "mixed" if split else mood_label(score)
    return Mood(label, score, tuple(c.id for c in voices), split)


def _weighted(comments: Iterable[Comment], tones: dict[str, Tone]) -> float:
    total = weights = 0.0
    for c in comments:
        w = weight(c)
        total += tones[c.id].polarity * w
        weights += w
    return total / weights if weights else 0.0
