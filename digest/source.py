"""Where a thread comes from, as far as the words of a report go.

The engine needs the same things from every discussion (a post, comments with their parent,
author, time and links, a score when there is one); what differs is how a report may speak of
them. Reddit has points on posts and comments, an upvote ratio, subreddits, `u/` names and an OP;
Hacker News shows a story's points but no comment scores; Slack and Discord have reactions and no
votes at all. `Origin` says which of those a thread has, and every phrase that names such a thing
is asked of it, so that a report never speaks of upvotes where there are none.

A frozen value with no I/O. `Thread.origin` defaults to `REDDIT`, the words reports always used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from digest.i18n import CHAT, EN, N_, Words

KINDS = ("reddit", "hn", "slack", "discord", "console")
CHAT_NAMES = {"slack": "Slack", "discord": "Discord", "console": "Console"}


@dataclass(frozen=True, slots=True)
class Origin:
    """The source of a thread and the words a report may use for it.

    `place`: where the thread lives, for humans ("r/LocalLLaMA", "Hacker News", "#general");
    "" for Reddit means `r/<subreddit>` of the post. `score_unit`: (singular, plural) of what a
    score counts, None when scores mean nothing. `has_post_score` / `has_comment_scores`: whether
    the post's and the comments' scores are real (HN: the story's points only). `has_downvotes`:
    whether a score can go down (votes), so that "voted down" may be said. `author_prefix`: put
    before an author's name ("u/" on Reddit; "" elsewhere: a chat's "@" would read as a ping).
    `op`: how the one who started the thread is named; `unknown_author`: an author we do not have.
    `item`: (singular, plural) of what the thread's answers are called: comments on Reddit and
    Hacker News, messages in a chat thread.
    """

    kind: str = "reddit"
    place: str = ""
    name: str = "Reddit"
    has_post_score: bool = True
    has_comment_scores: bool = True
    score_unit: tuple[str, str] | None = ("point", "points")
    has_upvote_ratio: bool = True
    has_downvotes: bool = True
    author_prefix: str = "u/"
    op: str = N_("the OP")
    unknown_author: str = N_("a deleted account")
    item: tuple[str, str] = ("comment", "comments")

    @property
    def is_reddit(self) -> bool:
        return self.kind == "reddit"

    @property
    def is_chat(self) -> bool:
        return self.kind in CHAT_NAMES

    @property
    def context(self) -> str:
        """The catalogues' context of this source's words: "chat" (messages, the first message)
        for a chat thread, "" (comments, the post) elsewhere (digest.i18n.Words)."""
        return CHAT if self.is_chat else ""

    def items(self, n: int) -> str:
        """`1 comment`, `2,345 comments`; `12 messages` in a chat thread."""
        one, many = self.item
        return f"{n:,} {one if n == 1 else many}"

    def say(self, text: str) -> str:
        """`text` (a report's own words, never a quote or a link) in this source's words: in a
        chat thread "comment(s)" becomes "message(s)" and "commented" "wrote"; elsewhere as is."""
        if self.item == ("comment", "comments"):
            return text
        one, many = self.item
        parts = _URL.split(text)  # words inside a link stay as they are
        for i in range(0, len(parts), 2):
            said = _COMMENT_WORDS.sub(lambda m: _cased(m.group(0), one, many), parts[i])
            for old, new in _CHAT_PHRASES:
                said = said.replace(old, new)
            parts[i] = _HAS_MESSAGES.sub(r"\1 replies", said)
        return "".join(parts)

    @property
    def scored(self) -> bool:
        """Comments have scores a report may name and rank by."""
        return self.has_comment_scores and self.score_unit is not None

    @property
    def ranked_by(self) -> str:
        """What comments are ranked by: "score" (Reddit), "reactions"; "" without scores."""
        if not self.scored or self.score_unit is None:
            return ""
        return "score" if self.is_reddit else self.score_unit[1]

    def count(self, n: int, w: Words = EN) -> str:
        """`1 point`, `2,345 points`, `12 reactions`; "" when this source has no score unit."""
        if self.score_unit is None:
            return ""
        if self.score_unit == ("point", "points"):
            return w.ntr("{n} point", "{n} points", n)
        if self.score_unit == ("reaction", "reactions"):
            return w.ntr("{n} reaction", "{n} reactions", n)
        one, many = self.score_unit
        return f"{n:,} {one if abs(n) == 1 else many}"

    def comment_score(self, n: int, w: Words = EN) -> str:
        """A comment's score as said in a report; "" when comments have no scores here."""
        return self.count(n, w) if self.has_comment_scores else ""

    def post_score(self, n: int, w: Words = EN) -> str:
        """The post's score as said in a report; "" when posts have no score here."""
        return self.count(n, w) if self.has_post_score else ""

    def paren(self, score: int, extra: str = "", w: Words = EN) -> str:
        """` (12 points, 3 replies)` after a name: a comment's score as this source counts it,
        then `extra` (", …"); without comment scores (Hacker News) only `extra`, or nothing."""
        said = self.comment_score(score, w)
        inner = said + extra if said else extra.removeprefix(w.comma)
        return f" ({inner})" if inner else ""

    def who(self, author: str | None, w: Words = EN) -> str:
        return f"{self.author_prefix}{author}" if author else w.tr(self.unknown_author)

    def the_op(self, w: Words = EN) -> str:
        """`op` in `w`'s language, capitalised to start a sentence ("The OP", "Der OP")."""
        return w.cap(self.op)

    def op_possessive(self) -> str:
        return f"{self.op}'s"

    @property
    def most_voted(self) -> str:
        """What the top score is called: `most upvoted` (Reddit), `most reacted-to` (chat)."""
        if self.score_unit is not None and self.score_unit[1] == "reactions":
            return "most reacted-to"
        return "most upvoted" if self.is_reddit else "highest-scored"


# What comments are ranked by (`ranked_by`), marked for the catalogues.
RANKED_BY = (N_("score"), N_("reactions"), N_("points"))

REDDIT = Origin()
_URL = re.compile(r"(https?://\S+)")
_COMMENT_WORDS = re.compile(r"\b(?:comment(?:s|ed|ers?|ing)?)\b", re.IGNORECASE)


# What a chat thread's first message is called where a report says "the post".
_CHAT_PHRASES = (
    ("POST DETAILS", "THREAD DETAILS"),
    ("Post details", "Thread details"),
    ("The post's", "The first message's"),
    ("the post's", "the first message's"),
    ("The post ", "The first message "),
    ("shared by the post", "shared in the first message"),
    (" the post", " the first message"),
    ("with the highest scores", "with the most reactions"),
)


# "The first message has 12 reactions and 297 messages": those are its replies.
_HAS_MESSAGES = re.compile(r"(first message has [^.;]*? and [\d,]+) messages\b")


def _cased(word: str, one: str, many: str) -> str:
    """The chat word for a Reddit one, in the same case ("Comments" → "Messages")."""
    low = word.lower()
    new = {"comment": one, "comments": many, "commented": "wrote", "commenting": "writing",
           "commenter": "writer", "commenters": "people writing"}[low]  # fmt: skip
    if word.isupper():
        return new.upper()
    return new[0].upper() + new[1:] if word[0].isupper() else new


def reddit(subreddit: str = "") -> Origin:
    """A Reddit thread's origin (the default; `subreddit` only fixes `place`)."""
    return Origin(place=f"r/{subreddit}" if subreddit else "")


HACKER_NEWS = Origin(
    kind="hn",
    place="Hacker News",
    name="Hacker News",
    has_comment_scores=False,  # HN's API gives no comment scores, only a story's points
    has_upvote_ratio=False,
    has_downvotes=False,  # a story's points only go up as far as anyone can see
    author_prefix="",
    op=N_("the poster"),
    unknown_author=N_("an unknown author"),
)


def chat(kind: str, place: str) -> Origin:
    """A Slack or Discord thread (`kind` "slack" or "discord"; "console": the terminal's own
    chat): reactions count as its scores, there are no votes, no ratio, whoever wrote the first
    message started the thread, and its answers are messages."""
    if kind not in CHAT_NAMES:
        raise ValueError(f"not a chat kind: {kind!r}")
    return Origin(
        kind=kind,
        place=place,
        name=CHAT_NAMES[kind],
        item=("message", "messages"),
        score_unit=("reaction", "reactions"),
        has_upvote_ratio=False,
        has_downvotes=False,
        author_prefix="",
        op=N_("the thread starter"),
        unknown_author=N_("an unknown author"),
    )


# Words that only mean something on Reddit: a report on another source must not use them. "OP"
# in capitals only ("op" is a word); `r/x` and `u/x` as names, not inside a path.
_REDDIT_WORDS = (
    r"(?i:\b(?:up|down)-?vot\w*|\bsub-?reddits?\b|\bkarma\b|\breddit\w*)"
    r"|\bOP(?:'s)?\b|(?<![\w/.])[ru]/[A-Za-z0-9_]"
)
_NO_POINTS = r"|(?i:\b\d[\d,]*\s+points?\b)"  # "12 points" where scores count something else


def foreign_words(origin: Origin) -> re.Pattern[str] | None:
    """What a report on `origin` must not say (None on Reddit: every word is its own)."""
    if origin.is_reddit:
        return None
    points = origin.score_unit is not None and origin.score_unit[1] == "points"
    # (A chat report's "comments" are not refused here: the renderers say "messages" for it,
    # Origin.say, so a model's word costs no retry.)
    return re.compile(_REDDIT_WORDS + ("" if points else _NO_POINTS))


def prompt_note(origin: Origin) -> str:
    """What the model is told about a thread that is not from Reddit ("" for Reddit): which
    source it reads, what its scores are, and which words not to use."""
    if origin.is_reddit:
        return ""
    where = origin.name if origin.place in ("", origin.name) else f"{origin.name} ({origin.place})"
    if not origin.has_comment_scores:
        scores = "Comments carry no score; the post's score is its points."
    elif origin.score_unit is not None:
        scores = (
            f"A score is the number of emoji {origin.score_unit[1]} on a message: call it "
            f"{origin.score_unit[1]}, never points or votes."
        )
    else:
        scores = "Nothing in it is scored."
    if origin.is_chat:
        scores += " Its answers are chat messages: call them messages, never comments."
    return (
        f"This thread is from {where}, not Reddit. {scores} Whoever "
        f'started the thread ("starter" in the data) is {origin.op}. Never write the words '
        "upvote, downvote, subreddit, karma, Reddit or OP, nor r/… or u/… names"
        + ("; never call a comment the most upvoted or top-voted." if not origin.scored else ".")
    )
