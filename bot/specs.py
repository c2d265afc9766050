"""What a subscription asks for, one frozen dataclass per kind, stored as JSON by
`digest.codec` in the `subscriptions` table (the same keys redigest always wrote, so older
subscriptions read as they are): a scheduled digest's subreddits, schedule and filters
(ScheduleSpec), or a watch's threshold (WatchSpec)."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from bot.commands import CommandError, EditCmd
from bot.routing import place_name
from bot.schedule import Schedule
from bot.storage import SubscriptionRow
from digest import codec
from digest.model import Post
from digest.text import plural, points


@functools.lru_cache(maxsize=256)
def _keyword(keyword: str) -> re.Pattern[str]:
    """A keyword or phrase as whole words, any case, its words apart by spaces or punctuation,
    a plural or possessive allowed: "ai" finds "AI" and "AI's" but not "said"; "local llama"
    finds "Local-LLaMA"."""
    words = [re.escape(w) for w in re.findall(r"\w+", keyword)] or [re.escape(keyword)]
    return re.compile(r"(?<!\w)" + r"\W+".join(words) + r"(?:'s|s|es)?(?!\w)", re.IGNORECASE)


def terms(values: tuple[str, ...]) -> str:
    """Flairs or keywords as typed: `qwen, "local llama"`."""
    return ", ".join(f'"{v}"' if " " in v else v for v in values)


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

    def describe(self) -> str:
        """As /subscribe's answer and /subscriptions say it: `r/a, daily at 09:00 (UTC), top
        5, min-score 50`."""
        return f"{names(self)}, {self.timing().describe()}, top {self.top}{self.filters()}"

    def filters(self) -> str:
        """The filters as a person typed them, for answers and lists: `, min-score 100, flair
        "New Model", keywords qwen, "local llama", NSFW allowed` (empty without filters)."""
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

    def describe(self, where: str = "here") -> str:
        """As /watch's answer says it: `new posts in r/a are posted here once they reach 200
        points within 24 hours`."""
        return (
            f"new posts in {names(self)} are posted {where} once they reach "
            f"{points(self.min_score)} within {plural(self.within_hours, 'hour')}"
        )


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
    """The subreddits as people read them: r/a, r/b (Hacker News lists by their names)."""
    return sep.join(place_name(n) for n in spec.subreddits)


def edited(spec: Spec, cmd: EditCmd) -> Spec:
    """The spec with `edit`'s changes made; a CommandError (one sentence, an example) for a
    change that does not fit this kind of subscription."""
    if isinstance(spec, WatchSpec):
        unfit = cmd.schedule or cmd.timezone or cmd.top is not None or cmd.no_min_score
        unfit = unfit or (cmd.flairs, cmd.exclude_flairs, cmd.keywords, cmd.nsfw) != (None,) * 4
        if unfit:
            raise CommandError(
                f"#{cmd.id} is a watch: change its min-score or within, like "
                f"edit #{cmd.id} min-score 300 within 12h."
            )
        return replace(
            spec,
            min_score=spec.min_score if cmd.min_score is None else cmd.min_score,
            within_hours=cmd.within_hours or spec.within_hours,
        )
    if cmd.within_hours is not None:
        raise CommandError(
            f"#{cmd.id} is a scheduled digest: “within” is for watches; change its schedule, "
            f"size or filters, like edit #{cmd.id} daily 10:00 top 3."
        )
    schedule = cmd.schedule or spec.timing()
    schedule = replace(schedule, tz=cmd.timezone or spec.timing().tz)
    min_score = None if cmd.no_min_score else spec.min_score
    return replace(
        spec,
        schedule=schedule.to_text(),
        top=spec.top if cmd.top is None else cmd.top,
        min_score=min_score if cmd.min_score is None else cmd.min_score,
        flairs=spec.flairs if cmd.flairs is None else cmd.flairs,
        exclude_flairs=spec.exclude_flairs if cmd.exclude_flairs is None else cmd.exclude_flairs,
        keywords=spec.keywords if cmd.keywords is None else cmd.keywords,
        nsfw=spec.nsfw if cmd.nsfw is None else cmd.nsfw,
    )


def changes(old: Spec, new: Spec) -> list[str]:
    """What an edit changed, each as `top 5 → 3`, in the order the answers list them."""
    out: list[str] = []
    if isinstance(old, ScheduleSpec) and isinstance(new, ScheduleSpec):
        if old.schedule != new.schedule:
            out.append(f"schedule {old.timing().describe()} → {new.timing().describe()}")
        if old.top != new.top:
            out.append(f"top {old.top} → {new.top}")
        if old.min_score != new.min_score:
            out.append(f"min-score {_or_none(old.min_score)} → {_or_none(new.min_score)}")
        for label, was, now in (
            ("flair", old.flairs, new.flairs),
            ("exclude-flair", old.exclude_flairs, new.exclude_flairs),
            ("keywords", old.keywords, new.keywords),
        ):
            if was != now:
                out.append(f"{label} {terms(was) or 'none'} → {terms(now) or 'none'}")
        if old.nsfw != new.nsfw:
            out.append("NSFW now allowed" if new.nsfw else "NSFW no longer allowed")
    elif isinstance(old, WatchSpec) and isinstance(new, WatchSpec):
        if old.min_score != new.min_score:
            out.append(f"min-score {old.min_score} → {new.min_score}")
        if old.within_hours != new.within_hours:
            out.append(f"within {old.within_hours} h → {new.within_hours} h")
    return out


def _or_none(value: int | None) -> str:
    return "none" if value is None else str(value)
