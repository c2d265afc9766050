"""The offline analyser: no network, no key, deterministic.

It writes the narrative parts of a report from the thread alone: an extractive summary, keyphrase
themes, a reading of the (computed) sentiment, tones of the top comments, notable comments with the
reason each stands out, and takeaways quoted from comments that recommend, warn or instruct.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from digest.analysis import AnalysisInput, NarrativeResult
from digest.model import Comment, Thread
from digest.quotes import own_sentences, quote_of, quote_text
from digest.report import CommentNote, Depth, Narrative, Passage, Takeaway, Theme
from digest.sentiment import label
from digest.text import excerpt, normalize_ws, points, singular

_WORD = re.compile(r"[^\W_][\w'’+#.-]*[^\W_]|[^\W_]", re.UNICODE)
_STOP = frozenset(
    """
    a about above actually after again against all almost also although always am an and any
    anyone anything are aren't around as at away back be because been before being below between
    both but by can can't cannot could couldn't did didn't do does doesn't doing don't done down
    during each edit either else enough etc even ever every everyone everything few first for
    from further get gets getting go goes going gonna good got gotta had hadn't has hasn't have
    haven't having he he'd he'll he's her here here's hers herself him himself his how how's
    however i i'd i'll i'm i've if im in into is isn't it it's its itself just know last least
    less let let's like likely lol lot lots made make makes many may maybe me might mine more
    most much must my myself need never new no nor not nothing now of off oh ok okay on once one
    ones only or other others our ours ourselves out over own people pretty probably put quite
    rather really right said same say says see seem seems she she'd she'll she's should
    shouldn't since so some someone something still such sure take than thank thanks that that's
    the their theirs them themselves then there there's these they they'd they'll they're
    they've thing things think this those though through thus time to too two under until up
    upon us use used using very via want wants was wasn't way we we'd we'll we're we've well
    were weren't what what's whatever when when's where where's whether which while who who's
    whom whose why why's will with without won't would wouldn't yeah yes yet you you'd you'll
    you're you've your yours yourself yourselves http https www com deleted removed went come
    came look looks looking sounds sound feel feels felt year years day days today guys guy man
    shit fuck fucking damn stuff kind sort bit yes yeah nope great nice cool bad better best big
    little long old true real work works worked point part lmao haha edit2 reddit's isn't also
    """.split()
)
# Words about Reddit itself ("great post", "this thread", "read the comments"): on their own they
# rarely name what a discussion is about.
_META = frozenset(
    "thread comment post reddit subreddit sub upvote downvote karma mod op title question answer".split()
)
_ADVICE = re.compile(
    r"\b(?:you should|you shouldn't|you (?:need|want|have) to|you'll want|you can"
    r"|i(?:'d| would)? (?:recommend|suggest)|recommended|make sure|be careful|watch out|beware"
    r"|pro tip|tip:|check out|the trick is|consider|avoid"
    r"|(?:don't|do not|never) (?:use|buy|bother|forget|trust|run|install|rely|expect|assume)"
    r"|always (?:use|check|make|test|read|keep|back))\b"
    r"|^(?:use|try|avoid|check|install|run|set|read|get|don't|do not|make sure|start|stop|keep)\b",
    re.IGNORECASE,
)
_WARN = re.compile(
    r"\b(avoid|don't|do not|never|be careful|watch out|beware|you shouldn't)\b", re.I
)
_INSTRUCT = re.compile(r"\b(make sure|always|the trick is|pro tip|tip:)\b", re.I)

BRIEF_THEMES, DEEP_THEMES = 4, 6
BRIEF_TAKEAWAYS, DEEP_TAKEAWAYS = 3, 5


def _weight(score: int) -> float:
    return 1.0 + math.log2(max(score, 0) + 1)


def _tokens(text: str) -> list[str]:
    """The words of `text` as written (GPU stays GPU)."""
    return [w.strip(".'’-") for w in _WORD.findall(text)]


def _words(text: str) -> list[str]:
    return [w.lower() for w in _tokens(text)]


_LINKISH = re.compile(r"\]\([^)]*\)|https?://\S+|`[^`]*`|&\w+;|\b\w+\.(?:com|org|net|io|it)\b")


def _prose(text: str) -> str:
    """The words people wrote, without URLs, link targets and inline code."""
    return _LINKISH.sub(" ", text)


def _phrases(text: str) -> dict[str, str]:
    """Candidate keyphrases: runs of 1–3 content words between stopwords (RAKE-style), each
    keyed by its stems (`local model`) with the words as written here (`local models`)."""
    out: dict[str, str] = {}
    for clause in _CLAUSE.split(_prose(text)):  # a phrase never spans "post. Quantization"
        run: list[str] = []
        for w in [*_tokens(clause), ""]:
            low = w.lower()
            if low and low not in _STOP and len(low) > 2 and not low.isdigit():
                run.append(w)
                continue
            stems = [singular(w.lower()) for w in run]
            for n in (1, 2, 3):
                for i in range(len(run) - n + 1):
                    out.setdefault(" ".join(stems[i : i + n]), " ".join(run[i : i + n]))
            run = []
    return out


_CLAUSE = re.compile(r"[.!?;:,()\[\]\"“”]+(?:\s+|$)|\s[-–—]+\s|\n+")


@dataclass(frozen=True, slots=True)
class _Candidate:
    phrase: str
    weight: float
    comment_ids: tuple[str, ...]


def find_themes(thread: Thread, comments: list[Comment], limit: int) -> tuple[Theme, ...]:
    """Keyphrases shared by several comments, weighted by score; overlapping ones merged."""
    texts = [c for c in comments if c.has_text]
    if not texts:
        return ()
    holders: dict[str, list[Comment]] = defaultdict(list)
    written: dict[str, Counter[str]] = defaultdict(Counter)  # how people wrote each phrase
    for c in texts:
        for p, surface in _phrases(c.body).items():
            holders[p].append(c)
            written[p][surface] += 1
    min_df = 2  # a phrase only one comment used is that comment's, not the thread's
    title_words = set(_words(thread.post.title))
    candidates = []
    for phrase, cs in holders.items():
        words = phrase.split()
        if len(cs) < min_df or (len(words) == 1 and len(cs) < 3):
            continue
        weight = sum(_weight(c.score) for c in cs) * (1.0 + 0.6 * (len(words) - 1))
        if len(words) == 1 and phrase in title_words:
            weight *= 0.5  # the title's words are everywhere; they say little on their own
        if len(words) == 1 and phrase in _META:
            weight *= 0.5
        best = sorted(cs, key=lambda c: (-c.score, c.id))
        candidates.append(_Candidate(phrase, weight, tuple(c.id for c in best)))
    candidates.sort(key=lambda c: (-c.weight, c.phrase))
    chosen: list[_Candidate] = []
    used_words: set[str] = set()
    for cand in candidates:
        # Phrases sharing a word are one theme: the strongest names it. So are phrases the same
        # comments carry (most of one's comments hold the other): that is one conversation.
        phrase_words = set(cand.phrase.split())
        if phrase_words & used_words or any(_same_comments(cand, c) for c in chosen):
            continue
        chosen.append(cand)
        used_words |= phrase_words
        if len(chosen) == limit:
            break
    analysed = len(comments)  # the denominator the report's coverage line uses
    themes = []
    cited: set[str] = set()
    for cand in chosen:
        top = thread.by_id[cand.comment_ids[0]]
        # Examples: the most upvoted comment, then the best not already quoted for a theme.
        first, *rest = cand.comment_ids
        examples = [first, *sorted(rest, key=lambda cid: cid in cited)[:2]]
        examples.sort(key=cand.comment_ids.index)
        cited.update(examples)
        name = min(written[cand.phrase].items(), key=lambda kv: (-kv[1], kv[0]))[0]
        themes.append(
            Theme(
                name=name,
                summary=(
                    f"Raised in {len(cand.comment_ids)} of the {analysed} analysed comments; "
                    f"the most upvoted of them is by {_who(top.author)} ({points(top.score)})."
                ),
                comment_ids=tuple(examples),
            )
        )
    return tuple(themes)


def _same_comments(a: _Candidate, b: _Candidate, overlap: float = 0.75) -> bool:
    shared = len(set(a.comment_ids) & set(b.comment_ids))
    return shared >= overlap * min(len(a.comment_ids), len(b.comment_ids))


def _centrality(comments: list[Comment]) -> dict[str, float]:
    """How much of the discussion's shared vocabulary a comment carries (tf-idf to the centroid)."""
    df: Counter[str] = Counter()
    bags: dict[str, set[str]] = {}
    for c in comments:
        bag = {w for w in _words(_prose(c.body)) if w not in _STOP and len(w) > 2}
        bags[c.id] = bag
        df.update(bag)
    n = len(comments) or 1
    out = {}
    for c in comments:
        bag = bags[c.id]
        if not bag:
            out[c.id] = 0.0
            continue
        shared = sum(math.log1p(df[w] - 1) for w in bag if df[w] > 1)
        out[c.id] = shared / math.sqrt(len(bag)) / math.log1p(n)
    return out


def _who(author: str | None) -> str:
    return f"u/{author}" if author else "a deleted account"


def _summary(inp: AnalysisInput, comments: list[Comment]) -> tuple[Passage, ...]:
    thread, post = inp.thread, inp.thread.post
    passages: list[Passage] = []
    opener = f"{_who(post.author)} posted in r/{post.subreddit}"
    body_sentences = list(own_sentences(post.body))
    if body_sentences:
        gist = excerpt(" ".join(body_sentences[:2]), 260)
        if gist in normalize_ws(post.body):
            passages.append(Passage(opener + ":", quote_text(thread, None, gist)))
        else:
            passages.append(
                Passage(opener + ":", quote_text(thread, None, excerpt(post.body, 260)))
            )
    else:
        what = "a link" if not post.is_self else "a post with no text"
        if post.gallery_size:
            what = f"a gallery of {post.gallery_size} images"
        passages.append(Passage(f"{opener} {what} titled “{normalize_ws(post.title)}”."))
    texts = [c for c in comments if c.has_text]
    if not texts:
        passages.append(Passage("No comment with text was available to summarise."))
        return tuple(passages)
    central = _centrality(texts)
    ranked = sorted(texts, key=lambda c: (-(central[c.id] + 0.5) * _weight(c.score), c.id))
    limit = 3 if inp.depth is Depth.BRIEF else 5
    top_id = inp.stats.top_comment_ids[0] if inp.stats.top_comment_ids else None
    picked: list[Comment] = []
    if top_id is not None and top_id in thread.by_id and thread.by_id[top_id] in texts:
        picked.append(thread.by_id[top_id])
    authors = {c.author for c in picked}
    for c in ranked:
        if len(picked) >= limit:
            break
        if c not in picked and (c.author is None or c.author not in authors):
            picked.append(c)
            authors.add(c.author)
    for c in picked:
        q = quote_of(thread, c)
        if c.id == top_id:
            lead = f"The most upvoted comment, by {_who(c.author)} ({points(c.score)}), says:"
        elif c.is_submitter:
            lead = f"The OP adds ({points(c.score)}):"
        elif c.parent_id is None:
            lead = f"A widely shared point, from {_who(c.author)} ({points(c.score)}):"
        else:
            lead = f"In a reply, {_who(c.author)} ({points(c.score)}) says:"
        passages.append(Passage(lead, q))
    return tuple(passages)


def _stance(comment: Comment, compound: float | None) -> str:
    own = " ".join(own_sentences(comment.body)).strip()
    if own.endswith("?") and len(own) < 300:
        return "question"
    return label(compound if compound is not None else 0.0)


def _notable(inp: AnalysisInput, comments: list[Comment]) -> tuple[CommentNote, ...]:
    thread, stats = inp.thread, inp.stats
    by_id = thread.by_id
    allowed = {c.id for c in comments if c.has_text}
    picks: list[tuple[str, str]] = []

    def add(cid: str | None, reason: str) -> None:
        if cid is not None and cid in allowed and all(cid != p for p, _ in picks):
            picks.append((cid, reason))

    top = [i for i in stats.top_comment_ids if i in allowed]
    if top:
        add(top[0], f"the most upvoted comment ({points(by_id[top[0]].score)})")
    replied = [i for i in stats.most_replied_ids if i in allowed]
    if replied:
        n = stats.direct_replies[replied[0]]
        add(replied[0], f"drew the most direct replies ({n:,})")
    contro = [i for i in stats.controversial_ids if i in allowed]
    if contro:
        add(contro[0], "marked controversial by Reddit: many votes both ways")
    op = sorted(
        (c for c in comments if c.is_submitter and c.has_text), key=lambda c: (-c.score, c.id)
    )
    if op:
        add(op[0].id, f"the OP's most upvoted reply ({points(op[0].score)})")
    if inp.depth is Depth.DEEP:
        rated = sorted((c for c in comments if c.has_text), key=lambda c: (-c.score, c.id))
        quarter = rated[: max(1, len(rated) // 4)]
        if quarter:
            longest = max(quarter, key=lambda c: (len(c.body), c.id))
            words = len(longest.body.split())
            if words >= 60:
                add(longest.id, f"the most detailed of the well-rated comments ({words:,} words)")
        mods = [c for c in rated if c.distinguished]
        if mods:
            add(mods[0].id, f"posted as {mods[0].distinguished}")
        if len(top) > 1:
            add(top[1], f"the second most upvoted comment ({points(by_id[top[1]].score)})")
    limit = 3 if inp.depth is Depth.BRIEF else 6
    return tuple(
        CommentNote(
            quote_of(thread, by_id[cid]),
            reason=reason,
            depth=by_id[cid].depth,
            replies=stats.direct_replies.get(cid, 0),
        )
        for cid, reason in picks[:limit]
    )


def _takeaways(inp: AnalysisInput, comments: list[Comment]) -> tuple[Takeaway, ...]:
    thread = inp.thread
    limit = BRIEF_TAKEAWAYS if inp.depth is Depth.BRIEF else DEEP_TAKEAWAYS
    out: list[Takeaway] = []
    for c in sorted((c for c in comments if c.has_text), key=lambda c: (-c.score, c.id)):
        for sentence in own_sentences(c.body):
            flat = normalize_ws(sentence)
            if not 25 <= len(flat) <= 300 or flat.endswith("?") or not _ADVICE.search(flat):
                continue
            verb = (
                "warns"
                if _WARN.search(flat)
                else ("advises" if _INSTRUCT.search(flat) else "recommends")
            )
            out.append(
                Takeaway(
                    f"{_who(c.author)} ({points(c.score)}) {verb}:",
                    quote_text(thread, c.id, flat),
                )
            )
            break
        if len(out) >= limit:
            break
    return tuple(out)


def _reading(inp: AnalysisInput) -> str:
    s = inp.sentiment
    if not s.analysed:
        return "There were no comments with text to read the mood from."
    text = (
        f"The mood is {s.label} (VADER compound {s.compound:+.2f} over {s.analysed} comments: "
        f"{s.positive} positive, {s.neutral} neutral, {s.negative} negative)."
    )
    if s.early is not None and s.late is not None:
        if s.shift == "steady":
            text += (
                f" It holds steady through the thread ({s.early:+.2f} early, {s.late:+.2f} late)."
            )
        else:
            text += f" It turns {s.shift} as the thread goes on ({s.early:+.2f} → {s.late:+.2f})."
    return text


class OfflineAnalyzer:
    """The analyser used when no LLM is configured, and the fallback when one fails."""

    name = "offline"

    def overhead_tokens(self, depth: Depth) -> int:
        return 0

    async def narrate(self, inp: AnalysisInput) -> NarrativeResult:
        # CPU-bound on big threads: off the event loop, so acknowledgements stay fast.
        return NarrativeResult(await asyncio.to_thread(self.narrate_sync, inp))

    def narrate_sync(self, inp: AnalysisInput) -> Narrative:
        comments = inp.comments
        themes_limit = BRIEF_THEMES if inp.depth is Depth.BRIEF else DEEP_THEMES
        per = inp.sentiment.per_comment
        return Narrative(
            summary=_summary(inp, comments),
            themes=find_themes(inp.thread, comments, themes_limit),
            sentiment_reading=_reading(inp),
            stances={c.id: _stance(c, per.get(c.id)) for c in comments if c.has_text},
            notable=_notable(inp, comments),
            takeaways=_takeaways(inp, comments),
        )
