"""What a subscription asks for, one frozen dataclass per kind, stored as JSON by
`digest.codec` in the `subscriptions` table (the same keys redigest always wrote, so older
subscriptions read as they are): a scheduled digest's subreddits, schedule and filters
(ScheduleSpec), or a watch's threshold (WatchSpec)."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from bot.schedule import Schedule
from bot.storage import SubscriptionRow
from digest import codec
from digest.model import Post


@functools.lru_cache(maxsize=256)
def _keyword(keyword: str) -> re.Pattern[str]:
    """A keyword or phrase as whole words, any case, its words apart by spaces or punctuation,
    a plural or possessive allowed: "ai" finds "AI" and "AI's" but not "said"; "local llama"
    finds "Local-LLaMA"."""
    words = [re.escape(w) for w in re.findall(r"\w+", keyword)] or [re.escape(keyword)]
    return re.compile(r"(?<!\w)" + r"\W+".join(words) + r"(?:'s|s|es)?(?!\w)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    KIND: ClassVar[str] = "schedule"
    subreddits: tuple[str, ...]
    schedule: str  # Schedule.to_text(); read with `timing()`
    top: int
    min_score: int | None = None
    flairs: tuple[str, ...] = ()
    exclude_flairs: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    nsfw: bool = False  # NSFW posts may be chosen
    channel_nsfw: bool = False  # the channel is marked NSFW (an NSFW thread may be digested)

    def timing(self) -> Schedule:
        return Schedule.from_text(self.schedule)

    def filters(self) -> str:
        """The filters as a person typed them, for answers and lists: `, min-score 100, flair
        "New Model", keywords qwen, "local llama", NSFW allowed` (empty without filters)."""

        def terms(values: tuple[str, ...]) -> str:
            return ", ".join(f'"{v}"' if " " in v else v for v in values)

        parts = [f"min-score {self.min_score}"] if self.min_score is not None else []
        parts += [f"flair {terms(self.flairs)}"] if self.flairs else []
        parts += [f"exclude-flair {terms(self.exclude_flairs)}"] if self.exclude_flairs else []
        parts += [f"keywords {terms(self.keywords)}"] if self.keywords else []
        parts += ["NSFW allowed"] if self.nsfw else []
        return "".join(f", {p}" for p in parts)

    def passes(self, post: Post) -> bool:
        """Whether a listed post passes the filters (score, flairs, NSFW, keywords)."""
        flair = (post.flair or "").lower()
        flairs = {f.lower() for f in self.flairs}
        if self.min_score is not None and post.score < self.min_score:
            return False
        if flairs and flair not in flairs:
            return False
        if flair and flair in {f.lower() for f in self.exclude_flairs}:
            return False
        if post.nsfw and not self.nsfw:
            return False
        text = f"{post.title} {post.body}"
        return not self.keywords or any(_keyword(k).search(text) for k in self.keywords)


@dataclass(frozen=True, slots=True)
class WatchSpec:
    KIND: ClassVar[str] = "watch"
    subreddits: tuple[str, ...]
    min_score: int
    within_hours: int = 24
    channel_nsfw: bool = False

    def follows(self, subreddit: str) -> bool:
        return subreddit.lower() in (s.lower() for s in self.subreddits)


Spec = ScheduleSpec | WatchSpec
SPEC_TYPES: Mapping[str, type[Spec]] = {t.KIND: t for t in (ScheduleSpec, WatchSpec)}


def spec_payload(spec: Spec) -> dict[str, Any]:
    """What the `subscriptions` table stores for this spec (as JSON), beside its `kind`."""
    payload: dict[str, Any] = codec.to_jsonable(spec)
    return payload


def spec_of(sub: SubscriptionRow) -> Spec:
    spec: Spec = codec.from_jsonable(SPEC_TYPES[sub.kind], sub.spec)
    return spec


def names(spec: Spec, sep: str = ", ") -> str:
    """The subreddits as people read them: r/a, r/b."""
    return sep.join(f"r/{n}" for n in spec.subreddits)
