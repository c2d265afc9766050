"""Settings → the Reddit adapters' configurations (OAuth with an approved app, or the public
pages): part of the composition root (bot/app.py), the only other module of `bot/` that names
`adapters/`. The adapters are imported when a configuration is built, so the CLI stays cold."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bot.ratelimit import SharedQuota, StoredQuota
from bot.settings import Settings
from digest.report import Depth

if TYPE_CHECKING:
    from adapters.reddit_source.live import RedditConfig
    from adapters.reddit_source.public import PublicConfig
    from bot.core import Core


def reddit_config(settings: Settings) -> RedditConfig | None:
    client_id, secret = settings.reddit_client_id, settings.reddit_client_secret
    user_agent = settings.reddit_user_agent
    if not (client_id and secret and user_agent):
        return None
    from adapters.reddit_source.live import DEFAULT_PLANS, RedditConfig

    plans = {
        Depth.BRIEF: replace(DEFAULT_PLANS[Depth.BRIEF], requests=settings.reddit_brief_requests),
        Depth.DEEP: replace(DEFAULT_PLANS[Depth.DEEP], requests=settings.reddit_deep_requests),
    }
    return RedditConfig(
        client_id=client_id,
        client_secret=secret.get_secret_value(),
        user_agent=user_agent,
        username=settings.reddit_username,
        password=(
            settings.reddit_password.get_secret_value() if settings.reddit_password else None
        ),
        oauth_url=settings.reddit_oauth_url,
        auth_url=settings.reddit_auth_url,
        timeout_seconds=settings.reddit_timeout,
        requests_per_minute=settings.reddit_requests_per_minute,
        plans=plans,
    )


def public_config(settings: Settings) -> PublicConfig:
    from adapters.reddit_source.public import PublicConfig

    config = PublicConfig(
        base_url=settings.reddit_public_url,
        requests_per_minute=settings.reddit_public_rpm,
        brief_requests=settings.reddit_public_brief_requests,
        deep_requests=settings.reddit_public_deep_requests,
        timeout_seconds=settings.reddit_timeout,
    )
    if settings.reddit_user_agent:  # else the project's own descriptive one
        config = replace(config, user_agent=settings.reddit_user_agent)
    return config


def reddit_line(settings: Settings, mode: str) -> str:
    """How the bot reads Reddit (`mode`: the resolved mode), in one line for start-up."""
    s = settings
    if mode == "oauth":
        return (
            f"Reddit: OAuth with app {s.reddit_client_id}, up to "
            f"{s.reddit_requests_per_minute} requests/min."
        )
    if mode == "public":
        return (
            f"Reddit: public access through {s.reddit_public_url}, "
            f"{s.reddit_public_rpm} requests/min (a brief digest costs "
            f"{s.reddit_public_brief_requests}, a deep one up to "
            f"{s.reddit_public_deep_requests}); set REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET and "
            "REDDIT_USER_AGENT of an approved app for OAuth."
        )
    folders = ", ".join(str(p) for p in s.saved_threads) or "none"
    return f"Reddit: off (REDIGEST_REDDIT_MODE=saved): only the saved threads in {folders}."


@runtime_checkable
class SharesBudget(Protocol):
    def share_budget(self, quota: SharedQuota) -> None: ...


def share_reddit_budget(core: Core, source: object) -> Core:
    """On a database other processes share (PostgreSQL), Reddit's request budget and its holds
    are counted there, for all of them (bot/storage/ratelimits.py); on a SQLite file this
    process is the only one, and its own pacer counts them."""
    if core.storage.postgres_url is not None and isinstance(source, SharesBudget):
        source.share_budget(StoredQuota(core.storage))
    return core
