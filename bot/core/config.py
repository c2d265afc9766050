"""How the core is tuned (CoreConfig), which analysers it may use (Engines) and what a server's
settings are until it sets its own (SETTING_DEFAULTS)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from digest.i18n import EN, Words
from digest.pipeline import DigestEngine
from digest.pricing import Pricing
from digest.report import Depth

SETTING_DEFAULTS = {
    "flag-emoji": "🔍",
    "default-depth": "brief",
    "spend-cap": "1.00",
    "analyzer": "auto",
    "timezone": "UTC",
    "quiet": "post",
    "flag-threshold": "1",
    "language": "en",  # digests' language (digest.i18n.LANGUAGES); REDIGEST_LANGUAGE sets it
}


@dataclass(frozen=True, slots=True)
class CoreConfig:
    default_timezone: str = "UTC"
    default_language: str = "en"  # a server's `language` until it sets one
    workers: int = 4
    user_limit: tuple[int, float] = (5, 600.0)  # digests per user per window (s)
    channel_limit: tuple[int, float] = (20, 3600.0)
    flag_limit: tuple[int, float] = (5, 600.0)  # deep analyses asked for per user per window
    report_cache_ttl: timedelta = timedelta(minutes=30)
    recent_days: int = 7  # a scheduled digest skips threads posted to the channel this recently
    schedule_grace: timedelta = timedelta(hours=6)  # a missed run older than this is skipped
    late_after: timedelta = timedelta(minutes=2)
    max_attempts: int = 3  # attempts that failed with an error of their own
    max_interruptions: int = 6  # attempts that ended with the process (crashes, kills)
    job_lease: timedelta = timedelta(seconds=60)  # a claim lapses unless renewed
    heartbeat_seconds: float = 15.0  # how often running jobs' claims are renewed
    watch_first_check: timedelta = timedelta(minutes=10)
    watch_max_backoff: timedelta = timedelta(hours=2)
    watch_min_comments: int = 1  # a post with no comments is not worth digesting yet
    idle_poll_seconds: float = 5.0
    # With wake-ups from other processes (PostgreSQL's NOTIFY), an idle worker polls only as a
    # safety net: a wake-up lost while the listening connection was down costs this much.
    notified_poll_seconds: float = 30.0
    # The scheduler and the watcher run in one process across those sharing the database: the
    # one holding this lease (bot/core/leader.py), renewed every `leader_renew_seconds` (None: a
    # quarter of the lease); another process takes over when a leader stops renewing it.
    leader_lease: timedelta = timedelta(seconds=30)
    leader_renew_seconds: float | None = None
    # The leader deletes the rate-limit hits that left their windows this often (at its lease's
    # renewal: bot/core/loops.py).
    sweep_seconds: float = 60.0
    stream_retry_seconds: float = 60.0  # a stream that failed is opened again after this
    # Reddit is off (REDIGEST_REDDIT_MODE=saved): subscriptions see only the saved threads.
    saved_only: bool = False
    chat_limit: int = 1000  # messages read of a chat's own thread (the report says if more)

    @property
    def leader_renew_every(self) -> float:
        if self.leader_renew_seconds is not None:
            return self.leader_renew_seconds
        return self.leader_lease.total_seconds() / 4


@dataclass
class Engines:
    """The analysers available, by name; `default` is what `auto` means. An LLM model with no
    price is refused (the spend cap could not count it); `pricing` is what `/usage` reads."""

    by_name: Mapping[str, DigestEngine]
    default: str = "offline"
    pricing: Pricing = field(default_factory=Pricing)

    def pick(
        self, choice: str, spend_ok: bool, depth: Depth = Depth.BRIEF, w: Words = EN
    ) -> tuple[DigestEngine, str | None]:
        """The engine for `choice`, and the note a report then carries (in `w`'s language)."""
        offline = self.by_name["offline"]
        name = self.default if choice == "auto" else choice
        if name not in self.by_name:
            return self.by_name[self.default], w.tr(
                "The {name} analyser is not configured on this bot; the {default} analyser "
                "wrote this.",
                name=name,
                default=self.default,
            )
        if name != "offline" and not spend_ok:
            return offline, w.tr(
                "Today's LLM budget for this server is spent; the offline analyser wrote this."
            )
        model = self.by_name[name].unpriced_model(depth)
        if model is not None:
            return offline, w.tr(
                "The LLM model {model} has no price, so the spend cap cannot count it; "
                "the offline analyser wrote this.",
                model=model,
            )
        return self.by_name[name], None
