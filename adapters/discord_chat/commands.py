"""Slash commands: redigest's command tree (/digest, /subscribe, /watch, /unsubscribe, /pause,
/resume, /edit, /preview, /subscriptions, /usage, /redigest settings|help, and the "Deep analysis"
and "Digest this thread" message menus). Each command's options go back into the text a person
would type, which `bot.commands` parses; "Digest this thread" is `/digest <the message's link>`."""

from __future__ import annotations

from typing import Literal

from adapters.discord_chat.client import BotClient, Interaction
from adapters.discord_chat.interactions import Interactions
from adapters.discord_chat.sdk import app_commands, discord
from bot.commands import SETTING_KEYS
from bot.ports import ThreadRef
from bot.thread_ref import parse_thread_text
from digest.errors import DigestError


def _post_id(url: str) -> str | None:
    """The post a /digest link names (None for share links and anything unreadable)."""
    try:
        ref = parse_thread_text(url)
    except DigestError:
        return None
    return ref.post_id if isinstance(ref, ThreadRef) else None


def _words(*parts: tuple[str, object] | str) -> str:
    """Options back into the command's text: `("top", 5)` → `top 5`, values with spaces quoted."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            if part.strip():
                out.append(part.strip())
            continue
        name, value = part
        if value is None or value is False:
            continue
        if value is True:
            out.append(name)
            continue
        text = str(value).strip()
        if any(c.isspace() for c in text):
            quote = next((q for q in ('"', "“", "'", "`") if q not in text), '"')
            text = f"{quote}{text}{'”' if quote == '“' else quote}"
        out.append(f"{name} {text}".strip())
    return " ".join(out)


def register_commands(
    tree: app_commands.CommandTree[BotClient], interactions: Interactions
) -> None:
    """redigest's slash commands and its message menu, each handing its text to `interactions`."""
    manage = discord.Permissions(manage_guild=True)

    @tree.command(
        name="digest", description="Digest a Reddit or Hacker News thread, or a thread here"
    )
    @app_commands.describe(
        url="A Reddit or Hacker News link or id, or a Discord message's link (its thread)",
        depth="brief (default): the gist here; deep: the full ten-section analysis",
    )
    @app_commands.guild_only()
    async def digest(
        interaction: Interaction, url: str, depth: Literal["brief", "deep"] | None = None
    ) -> None:
        await interactions.command(interaction, "digest", _words(url, depth or ""), _post_id(url))

    @tree.command(name="subscribe", description="Post the top threads of subreddits here")
    @app_commands.describe(
        subreddits="One or more subreddits, comma-separated: r/LocalLLaMA, r/selfhosted",
        schedule='When: hourly, daily 09:00, weekly mon 09:00 or cron "0 9 * * 1", '
        "optionally a timezone",
        top="How many threads each time (1-10, default 5)",
        min_score="Only threads with at least this score",
        flair="Only threads with these flairs (comma-separated)",
        exclude_flair="Skip threads with these flairs (comma-separated)",
        keywords="Only threads mentioning one of these words (comma-separated)",
        nsfw="Include NSFW threads (only in NSFW channels)",
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def subscribe(
        interaction: Interaction,
        subreddits: str,
        schedule: str,
        top: app_commands.Range[int, 1, 10] | None = None,
        min_score: app_commands.Range[int, 0, 10_000_000] | None = None,
        flair: str | None = None,
        exclude_flair: str | None = None,
        keywords: str | None = None,
        nsfw: bool | None = None,
    ) -> None:
        text = _words(
            subreddits,
            schedule,
            ("top", top),
            ("min-score", min_score),
            ("flair", flair),
            ("exclude-flair", exclude_flair),
            ("keywords", keywords),
            ("nsfw", bool(nsfw)),
        )
        await interactions.command(interaction, "subscribe", text)

    @tree.command(name="watch", description="Post new threads of a subreddit once they score")
    @app_commands.describe(
        subreddit="The subreddit to watch: r/LocalLLaMA",
        min_score="The score a new thread must reach",
        within_hours="How long a new thread may take to get there (1-168 hours, default 24)",
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def watch(
        interaction: Interaction,
        subreddit: str,
        min_score: app_commands.Range[int, 0, 10_000_000],
        within_hours: app_commands.Range[int, 1, 168] | None = None,
    ) -> None:
        text = _words(subreddit, ("min-score", min_score), ("within", within_hours))
        await interactions.command(interaction, "watch", text)

    @tree.command(name="unsubscribe", description="Remove a subscription or a watch")
    @app_commands.describe(id="The subscription (start typing to pick one)")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def unsubscribe(
        interaction: Interaction, id: app_commands.Range[int, 1, 999_999_999]
    ) -> None:
        await interactions.command(interaction, "unsubscribe", str(id))

    @unsubscribe.autocomplete("id")
    async def subscription_choices(
        interaction: Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        return await interactions.subscription_choices(interaction, current)

    @tree.command(name="pause", description="Pause a subscription or a watch")
    @app_commands.describe(id="The subscription (start typing to pick one)")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def pause(interaction: Interaction, id: app_commands.Range[int, 1, 999_999_999]) -> None:
        await interactions.command(interaction, "pause", str(id))

    @tree.command(name="resume", description="Resume a paused subscription or watch")
    @app_commands.describe(id="The subscription (start typing to pick one)")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def resume(interaction: Interaction, id: app_commands.Range[int, 1, 999_999_999]) -> None:
        await interactions.command(interaction, "resume", str(id))

    pause.autocomplete("id")(subscription_choices)
    resume.autocomplete("id")(subscription_choices)

    @tree.command(name="edit", description="Change a subscription's schedule, size or filters")
    @app_commands.describe(
        id="The subscription (start typing to pick one)",
        changes="What to change, e.g. daily 10:00 top 3 no-flair (a watch: min-score 300 within 12h)",
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def edit(
        interaction: Interaction, id: app_commands.Range[int, 1, 999_999_999], changes: str
    ) -> None:
        await interactions.command(interaction, "edit", _words(f"#{id}", changes))

    @tree.command(
        name="preview", description="See now, only you, what a subscription's next run would post"
    )
    @app_commands.describe(id="The subscription (start typing to pick one)")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def preview(
        interaction: Interaction, id: app_commands.Range[int, 1, 999_999_999]
    ) -> None:
        await interactions.command(interaction, "preview", f"#{id}")

    edit.autocomplete("id")(subscription_choices)
    preview.autocomplete("id")(subscription_choices)

    @tree.command(name="subscriptions", description="List this server's subscriptions")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def subscriptions(interaction: Interaction) -> None:
        await interactions.command(interaction, "subscriptions", "")

    @tree.command(name="usage", description="LLM tokens and estimated cost: 1, 7 and 30 days")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def usage(interaction: Interaction) -> None:
        await interactions.command(interaction, "usage", "")

    group = app_commands.Group(
        name="redigest",
        description="redigest's settings and help",
        guild_only=True,
        allowed_contexts=app_commands.AppCommandContext(guild=True),
        default_permissions=manage,
    )

    @group.command(name="settings", description="Show the settings, or change one")
    @app_commands.describe(key="The setting to change", value="Its new value")
    @app_commands.choices(key=[app_commands.Choice(name=k, value=k) for k in SETTING_KEYS])
    async def settings(
        interaction: Interaction,
        key: app_commands.Choice[str] | None = None,
        value: str | None = None,
    ) -> None:
        text = _words(key.value if key else "", ("", value))
        await interactions.command(interaction, "settings", text)

    @group.command(name="help", description="What redigest can do, with examples")
    async def help_(interaction: Interaction) -> None:
        await interactions.command(interaction, "help", "")

    tree.add_command(group)

    @app_commands.context_menu(name="Deep analysis")
    @app_commands.guild_only()
    async def deep_analysis(interaction: Interaction, message: discord.Message) -> None:
        await interactions.deep_analysis(interaction, message)

    tree.add_command(deep_analysis)

    @app_commands.context_menu(name="Digest this thread")
    @app_commands.guild_only()
    async def digest_thread(interaction: Interaction, message: discord.Message) -> None:
        # Exactly what `/digest <the message's link>` asks: the core reads the thread.
        await interactions.command(interaction, "digest", message_link(interaction, message))

    tree.add_command(digest_thread)
    tree.error(interactions.on_tree_error)


def message_link(interaction: Interaction, message: discord.Message) -> str:
    """The message's link, as Discord's "Copy Message Link" gives it (the channel is the
    thread's own when the message sits in a thread)."""
    guild = interaction.guild_id or getattr(message.guild, "id", None) or "@me"
    return f"https://discord.com/channels/{guild}/{message.channel.id}/{message.id}"
