"""The Discord adapter end to end: the real discord.py against the fake Discord, driving the real
core (SQLite on tmp_path, an in-memory Reddit, the offline analyser)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import warnings
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.discord_chat.chat import (
    MAX_CONTENT,
    DiscordChat,
    DiscordConfig,
    DiscordStartupError,
    escape,
    render,
    safe_url,
    ulen,
)
from adapters.reddit_source.saved import SavedThreadSource
from adapters.reddit_source.thread_json import thread_from_json, thread_from_json_text
from bot.chat import (
    Bundle,
    ChannelTarget,
    Delivery,
    EphemeralTarget,
    Inbox,
    LookupUnavailable,
    MessageRef,
    ThreadTarget,
)
from bot.core import Core, CoreConfig, Engines
from bot.storage import Storage
from digest.model import Thread
from digest.pipeline import DigestEngine
from digest.render.markdown import ZWSP
from digest.report import Depth, Report
from digest.sentiment import make_scorer
from tests.fakes.discord_server import (
    CALLBACK_DEFERRED_CHANNEL_MESSAGE,
    FLAG_EPHEMERAL,
    PUBLIC_THREAD,
    FakeDiscord,
    FakeInteraction,
    Permission,
    StoredMessage,
    validate_message_body,
)
from tests.support.fake_source import FakeSource
from tests.support.synthetic import post_data, thread_json

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REDDIT_DATA = SHARED_DATA / "reddit"
NO_DATA = f"real Reddit threads not found at {REDDIT_DATA} (they live beside the repository)"

SCORER = make_scorer()
ENGINE = DigestEngine(scorer=SCORER)
URL = "https://www.reddit.com/r/LocalLLaMA/comments/abc123/a_thread/"
TITLE = "Qwen 3 runs on a laptop: 40 tokens/s with Q4"
MANAGE_GUILD = str(int(Permission.MANAGE_GUILD))
LIVE_MENTION = re.compile(r"@(everyone|here)\b|<@[!&]?\d+>|<#\d+>", re.IGNORECASE)


def make_thread(
    post_id: str = "abc123",
    *,
    title: str = TITLE,
    score: int = 1234,
    n: int = 40,
    nsfw: bool = False,
    bodies: dict[int, str] | None = None,
) -> Thread:
    raw = thread_json(n, seed=sum(map(ord, post_id)), post_id=post_id)
    raw[0]["data"]["children"][0]["data"] = post_data(post_id, n, subreddit="LocalLLaMA") | {
        "title": title,
        "score": score,
        "upvote_ratio": 0.93,
        "over_18": nsfw,
    }
    for i, kid in enumerate(raw[1]["data"]["children"]):
        if bodies and i in bodies:
            kid["data"]["body"] = bodies[i]
            kid["data"]["score"] = 5000 - i
    return thread_from_json(raw)


def config_for(fake: FakeDiscord, **overrides: Any) -> DiscordConfig:
    return DiscordConfig(
        token=fake.token,
        api_base=fake.api_base,
        gateway_url=fake.gateway_url,
        guild_ready_timeout=0.05,
        **overrides,
    )


@dataclass
class Bot:
    fake: FakeDiscord
    chat: DiscordChat
    core: Core
    source: FakeSource

    async def slash(
        self, name: str, options: dict[str, Any] | None = None, **kw: Any
    ) -> FakeInteraction:
        interaction = self.fake.slash_command(name, options, **kw)
        await self.fake.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    async def answers(self, interaction: FakeInteraction, n: int = 1) -> list[str]:
        """What the person saw in the deferred response (edits) and follow-ups, in order."""

        def seen() -> list[str]:
            out: list[str] = []
            original = interaction.original_message_id
            if original is not None:
                out += [str(e.get("content") or "") for e in self.fake.message(original).edits]
            out += [self.fake.message(m).content for m in interaction.followup_ids]
            return out

        await self.fake.wait_until(lambda: len(seen()) >= n)
        return seen()

    def channel_posts(self, channel_id: int) -> list[StoredMessage]:
        return [m for m in self.fake.messages_in(channel_id) if m.source == "channel"]

    async def digest_message(self, channel_id: int | None = None) -> StoredMessage:
        cid = channel_id or self.fake.guild.text_channel.id
        await self.fake.wait_until(lambda: any(m.embeds for m in self.channel_posts(cid)))
        return next(m for m in self.channel_posts(cid) if m.embeds)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@contextlib.asynccontextmanager
async def running_bot(
    fake: FakeDiscord, tmp_path: Path, *threads: Thread, **config: Any
) -> AsyncIterator[Bot]:
    source = FakeSource()
    for thread in threads:
        source.add(thread)
    async with AsyncExitStack() as stack:
        storage = await stack.enter_async_context(Storage(tmp_path / "bot.sqlite3"))
        chat = await stack.enter_async_context(DiscordChat(config_for(fake, **config)))
        core = Core(
            storage=storage,
            source=source,
            engines=Engines({"offline": ENGINE}),
            chats={"discord": chat},
            config=CoreConfig(workers=2),
        )
        await core.start()
        inbox = Inbox(core.handle_request, core.handle_reaction, core.subscription_choices)
        task = asyncio.create_task(chat.run(inbox))
        ready = asyncio.create_task(chat.wait_until_ready())
        await asyncio.wait({task, ready}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            await task  # re-raises why it never became ready
        try:
            yield Bot(fake, chat, core, source)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await core.stop(grace=2.0)


def message_bodies(fake: FakeDiscord) -> list[dict[str, Any]]:
    """Every request body that creates or edits a message (channel, follow-up, @original)."""
    return [
        r.json
        for r in fake.requests
        if r.method in ("POST", "PATCH")
        and isinstance(r.json, dict)
        and ("content" in r.json or "embeds" in r.json)
    ]


def texts_of(body: dict[str, Any]) -> list[str]:
    out = [str(body.get("content") or "")]
    for embed in body.get("embeds") or []:
        out += [str(embed.get(k) or "") for k in ("title", "description")]
        out += [str((embed.get("footer") or {}).get("text") or "")]
        for fld in embed.get("fields") or []:
            out += [str(fld.get("name")), str(fld.get("value"))]
    return out


# ----------------------------------------------------------------------------- start-up


async def test_startup_syncs_commands_and_logs_the_invite(
    fake: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_bot(fake, tmp_path) as bot:
        assert [(r.method, r.path) for r in fake.requests[:3]] == [
            ("GET", "/users/@me"),
            ("GET", "/oauth2/applications/@me"),
            ("PUT", f"/applications/{fake.application_id}/commands"),
        ]
        (sync,) = fake.commands_synced
        assert sync.guild_id is None
        commands = {c["name"]: c for c in sync.commands}
        assert set(commands) == {
            "digest",
            "subscribe",
            "watch",
            "unsubscribe",
            "pause",
            "resume",
            "edit",
            "preview",
            "subscriptions",
            "usage",
            "redigest",
            "Deep analysis",
            "Digest this thread",
        }
        options = {n: [o["name"] for o in c.get("options", [])] for n, c in commands.items()}
        assert options["digest"] == ["url", "depth"]
        assert options["subscribe"] == [
            "subreddits",
            "schedule",
            "top",
            "min_score",
            "flair",
            "exclude_flair",
            "keywords",
            "nsfw",
        ]
        assert options["watch"] == ["subreddit", "min_score", "within_hours"]
        assert options["unsubscribe"] == options["pause"] == options["resume"] == ["id"]
        assert options["edit"] == ["id", "changes"]
        assert options["preview"] == ["id"]
        assert options["redigest"] == ["settings", "help"]
        depth = commands["digest"]["options"][1]
        assert [c["value"] for c in depth["choices"]] == ["brief", "deep"]
        assert not depth["required"]
        for name in ("unsubscribe", "pause", "resume", "edit", "preview"):
            assert commands[name]["options"][0]["autocomplete"] is True
        assert all(o["description"] for o in commands["subscribe"]["options"])
        for name in ("subscribe", "watch", "unsubscribe", "pause", "resume", "edit", "preview",
                     "subscriptions", "usage",
                     "redigest"):  # fmt: skip
            assert str(commands[name]["default_member_permissions"]) == MANAGE_GUILD, name
        assert commands["digest"]["default_member_permissions"] is None
        assert commands["Deep analysis"]["type"] == 3
        assert commands["Digest this thread"]["type"] == 3
        assert all(c.get("contexts") == [0] for c in commands.values())  # guilds only

        identify = fake.identify
        assert identify is not None
        intents = discord.Intents._from_value(identify["intents"])
        assert intents.guilds
        assert intents.guild_reactions
        assert not intents.message_content

        assert bot.chat.invite_url is not None
        assert "scope=bot+applications.commands&" in bot.chat.invite_url
        wanted = discord.Permissions(
            view_channel=True,
            send_messages=True,
            embed_links=True,
            create_public_threads=True,
            send_messages_in_threads=True,
            read_message_history=True,
            add_reactions=True,
        )
        assert bot.chat.invite_url.endswith(f"permissions={wanted.value}")
        assert bot.chat.invite_url in caplog.text
    assert fake.token not in caplog.text
    assert fake.token not in repr(config_for(fake))
    # The overrides are undone when the adapter closes.
    assert discord.http.Route.BASE == "https://discord.com/api/v10"


async def test_commands_sync_to_the_configured_guilds(fake: FakeDiscord, tmp_path: Path) -> None:
    async with running_bot(fake, tmp_path, guild_ids=(fake.guild.id,)):
        (sync,) = fake.commands_synced
        assert sync.guild_id == fake.guild.id
        assert "digest" in {c["name"] for c in sync.commands}
        puts = [r.path for r in fake.requests if r.method == "PUT"]
        assert puts == [f"/applications/{fake.application_id}/guilds/{fake.guild.id}/commands"]


async def test_bad_token_stops_start_up_with_one_line(tmp_path: Path) -> None:
    async with FakeDiscord(bad_token=True) as fake:
        with pytest.raises(DiscordStartupError) as caught:
            async with DiscordChat(config_for(fake)):
                pass
    message = caught.value.user_message
    assert "DISCORD_TOKEN" in message
    assert "\n" not in message
    assert fake.token not in message
    assert discord.http.Route.BASE == "https://discord.com/api/v10"


async def test_unreachable_api_stops_start_up_with_one_line() -> None:
    config = DiscordConfig(
        token="x.y.z", api_base="http://127.0.0.1:9", gateway_url="ws://127.0.0.1:9/"
    )
    with pytest.raises(DiscordStartupError) as caught:
        async with DiscordChat(config):
            pass
    message = caught.value.user_message
    assert "http://127.0.0.1:9/api/v10" in message
    assert "REDIGEST_DISCORD_API_BASE" in message
    assert "\n" not in message


async def test_missing_privileged_intent_names_the_portal_setting(tmp_path: Path) -> None:
    async with (
        FakeDiscord(privileged_intents=0) as fake,
        DiscordChat(config_for(fake, message_content=True)) as chat,
    ):
        with pytest.raises(DiscordStartupError) as caught:
            await asyncio.wait_for(chat.run(Inbox(_ignore, _ignore)), timeout=5)
    message = caught.value.user_message
    assert "Message Content Intent" in message
    assert "REDIGEST_DISCORD_MESSAGE_CONTENT" in message
    assert "\n" not in message


async def _ignore(_: Any) -> None:
    return None


# ----------------------------------------------------------------------------- /digest


async def test_digest_defers_first_then_posts_an_embed(fake: FakeDiscord, tmp_path: Path) -> None:
    thread = make_thread()
    async with running_bot(fake, tmp_path, thread) as bot:
        before = len(fake.requests)
        interaction = await bot.slash("digest", {"url": URL})
        message = await bot.digest_message()

        first = fake.requests[before]
        assert first.path == f"/interactions/{interaction.id}/{interaction.token}/callback"
        assert first.json["type"] == CALLBACK_DEFERRED_CHANNEL_MESSAGE
        assert first.json["data"]["flags"] == FLAG_EPHEMERAL  # "thinking", only for the asker

        # A normal channel message (it has a guild, so a thread can be opened under it).
        assert message.source == "channel"
        (embed,) = message.embeds
        assert TITLE in embed["title"]
        assert embed["url"] == thread.post.permalink
        assert "1,234 points" in embed["description"]
        assert "93% upvoted" in embed["description"]
        assert f"{thread.post.num_comments:,} comments" in embed["description"]
        assert "Coverage:" in embed["footer"]["text"]
        assert message.allowed_mentions == {"parse": []}
        sent = next(
            r for r in fake.requests if r.path == f"/channels/{message.channel_id}/messages"
        )
        assert sent.json["enforce_nonce"] is True  # a retry within minutes cannot post a twin
        assert sent.json["nonce"] == message.nonce

        # The asker is told where it went; the flag is offered under the digest.
        (answer,) = await bot.answers(interaction)  # "thinking…" until then
        assert (
            answer
            == f"Posted: https://discord.com/channels/{fake.guild.id}/{message.channel_id}/{message.id}"
        )
        await fake.wait_until(lambda: ("🔍", fake.bot.id) in fake.message(message.id).reactions)


def _callbacks(fake: FakeDiscord, interaction: FakeInteraction) -> list[Any]:
    return [r for r in fake.requests if r.path.startswith(f"/interactions/{interaction.id}/")]


async def test_commands_are_acknowledged_straight_from_the_gateway_event(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    async with running_bot(fake, tmp_path, make_thread()) as bot:
        interaction = await bot.slash("digest", {"url": URL})
        await bot.digest_message()
        (ack,) = _callbacks(fake, interaction)  # deferred exactly once
        assert ack.json == {"type": CALLBACK_DEFERRED_CHANNEL_MESSAGE, "data": {"flags": 64}}
        # Not discord.py's own defer (it asks for the callback resource): the early path.
        assert ack.query == {}
        assert ack.headers["User-Agent"].startswith("DiscordBot (")
        assert await bot.answers(interaction) == [
            f"Posted: https://discord.com/channels/{fake.guild.id}/{fake.guild.text_channel.id}/"
            f"{(await bot.digest_message()).id}"
        ]


async def test_after_a_gateway_reconnect_commands_still_work(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    async with running_bot(fake, tmp_path, make_thread()) as bot:
        await fake.request_reconnect()
        await fake.wait_until(lambda: len(fake.connections) == 2 and fake.connections[-1].resumed)
        interaction = await bot.slash("digest", {"url": URL})
        await bot.digest_message()
        (ack,) = _callbacks(fake, interaction)
        assert ack.query == {}  # still acknowledged from the gateway event
        (answer,) = await bot.answers(interaction)
        assert answer.startswith("Posted: ")


async def test_a_failed_early_acknowledgement_is_made_through_discord_py(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    async with running_bot(fake, tmp_path, make_thread()) as bot:
        fake.fail_next(r"/callback$", 500)
        interaction = await bot.slash("digest", {"url": URL})
        await bot.digest_message()
        assert [
            (r.status, r.query.get("with_response")) for r in _callbacks(fake, interaction)
        ] == [
            (500, None),
            (200, "1"),
        ]
        (answer,) = await bot.answers(interaction)
        assert answer.startswith("Posted: ")


async def test_an_early_acknowledgement_whose_answer_was_lost_still_counts(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    async with running_bot(fake, tmp_path, make_thread()) as bot:
        fake.fail_next(r"/callback$", 503, lost=True)  # Discord got it; the bot cannot know
        interaction = await bot.slash("digest", {"url": URL})
        await bot.digest_message()
        calls = _callbacks(fake, interaction)
        assert [r.status for r in calls[:2]] == [503, 400]  # then: "already acknowledged"
        (answer,) = await bot.answers(interaction)
        assert answer.startswith("Posted: ")
        assert len(bot.channel_posts(fake.guild.text_channel.id)) == 1


async def test_a_command_discord_no_longer_knows_replaces_the_thinking_message(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    async with running_bot(fake, tmp_path) as bot:
        interaction = fake.slash_command("redigest")
        interaction.payload["data"]["options"] = [{"type": 1, "name": "oldsub", "options": []}]
        await fake.dispatch("INTERACTION_CREATE", interaction.payload)
        (answer,) = await bot.answers(interaction)
        assert answer == "This command changed since your Discord loaded it; try again in a minute."
        assert interaction.followup_ids == []


async def test_digest_errors_reach_the_asker_in_one_sentence(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    async with running_bot(fake, tmp_path) as bot:
        bad = await bot.slash("digest", {"url": "https://www.reddit.com/r/foo/wiki"})
        missing = await bot.slash("digest", {"url": "https://redd.it/zzz999"})
        (refusal,) = await bot.answers(bad)
        assert "is not a Reddit thread link" in refusal
        (failure,) = await bot.answers(missing)  # "thinking…", then the job's failure
        assert "no thread" in failure
        for text in (refusal, failure):
            assert "\n" not in text
        assert bot.channel_posts(fake.guild.text_channel.id) == []
        assert all(fake.message(i.original_message_id or 0).ephemeral for i in (bad, missing))


async def test_a_channel_the_bot_cannot_post_in_is_explained_not_retried(
    fake: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(fake, tmp_path, make_thread()) as bot:
        fake.fail_next(
            r"^/channels/\d+/messages$",
            403,
            code=50013,
            message="Missing Permissions",
            method="POST",
        )
        interaction = await bot.slash("digest", {"url": URL})
        (answer,) = await bot.answers(interaction)  # "thinking…" becomes the reason
        assert answer.startswith("I can't post in this channel: give redigest the View Channel")
        assert fake.message(interaction.original_message_id or 0).ephemeral
        posts = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/messages")]
        assert [r.status for r in posts] == [403]  # a permission is not worth retrying
        assert "Discord refused a post in channel" in caplog.text  # the admin can see it too


async def test_the_asker_learns_where_the_digest_went_even_without_the_token(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    async with running_bot(fake, tmp_path) as bot:
        bot.chat._inbox = Inbox(_ignore, _ignore)  # the core will post later, under its own key
        interaction = await bot.slash("digest", {"url": URL})
        await fake.wait_until(lambda: interaction.response_type is not None)
        await asyncio.sleep(0.1)
        report = ENGINE.digest_sync(make_thread(), Depth.BRIEF)
        channel = str(fake.guild.text_channel.id)
        (ref,) = await bot.chat.post(
            ChannelTarget(channel), Delivery(report=report), idempotency_key="k"
        )
        (answer,) = await bot.answers(interaction)
        assert answer.endswith(f"/{channel}/{ref.message_id}")


async def test_nsfw_channel_flag_reaches_the_core(fake: FakeDiscord, tmp_path: Path) -> None:
    thread = make_thread("nsf001", nsfw=True)
    url = "https://redd.it/nsf001"
    async with running_bot(fake, tmp_path, thread) as bot:
        refused = await bot.slash("digest", {"url": url})
        (answer,) = await bot.answers(refused)
        assert "NSFW" in answer
        await bot.slash("digest", {"url": url}, channel=fake.guild.nsfw_channel)
        message = await bot.digest_message(fake.guild.nsfw_channel.id)
        assert message.channel_id == fake.guild.nsfw_channel.id


async def test_429_with_via_header_is_retried(fake: FakeDiscord, tmp_path: Path) -> None:
    async with running_bot(fake, tmp_path, make_thread()) as bot:
        fake.rate_limit_next(r"^/channels/\d+/messages$", retry_after=0.05, method="POST")
        await bot.slash("digest", {"url": URL})
        await bot.digest_message()
        posts = [
            r
            for r in fake.requests
            if r.method == "POST" and re.match(r"^/channels/\d+/messages$", r.path)
        ]
        assert [r.status for r in posts] == [429, 200]
        assert len(bot.channel_posts(fake.guild.text_channel.id)) == 1


# ----------------------------------------------------------------------------- flags


async def test_flag_reactions_open_one_thread_with_the_deep_report(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    async with running_bot(fake, tmp_path, make_thread(n=120)) as bot:
        await bot.slash("digest", {"url": URL})
        digest = await bot.digest_message()
        # The bot's own 🔍 under the digest came back over the gateway: it must not count.
        await fake.wait_until(lambda: ("🔍", fake.bot.id) in fake.message(digest.id).reactions)
        channel = fake.guild.text_channel.id
        await fake.dispatch(
            "MESSAGE_REACTION_ADD", fake.reaction_add(channel, digest.id, fake.bot.id, "🔍")
        )
        await asyncio.sleep(0.2)
        assert digest.id not in fake.channels

        for user in (fake.plain, fake.admin, fake.owner):
            payload = fake.reaction_add(channel, digest.id, user.id, "🔍")
            await fake.dispatch("MESSAGE_REACTION_ADD", payload)
        await fake.wait_until(lambda: digest.id in fake.channels)
        thread = fake.channels[digest.id]
        assert thread.type == PUBLIC_THREAD
        assert thread.parent_id == channel
        assert thread.name.startswith("Deep analysis: ")

        pages = await _pages(fake, digest.id)
        assert len(pages) >= 2  # a deep report is paginated
        titles = [e["title"] for p in pages for e in p.embeds]
        assert "1. Post details" in "\n".join(e["description"] for e in pages[0].embeds)
        for section in ("2. Summary", "5. Comment analysis", "10. Other observations"):
            assert any(t.startswith(section) for t in titles), section
        footers = [p.embeds[-1]["footer"]["text"] for p in pages]
        assert all(f"page {i}/{len(pages)}" in f for i, f in enumerate(footers, 1))
        await asyncio.sleep(0.3)  # the other flags had every chance to post twice
        creates = [r for r in fake.requests if r.path.endswith(f"/messages/{digest.id}/threads")]
        assert len(creates) == 1
        assert len(fake.messages_in(digest.id)) == len(pages)
        assert all(p.allowed_mentions == {"parse": []} for p in pages)


async def test_a_thread_the_bot_cannot_open_is_explained_to_the_flagger(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    async with running_bot(fake, tmp_path, make_thread()) as bot:
        await bot.slash("digest", {"url": URL})
        digest = await bot.digest_message()
        channel = fake.guild.text_channel.id
        fake.fail_next(r"/threads$", 403, code=50013, message="Missing Permissions", method="POST")
        await fake.dispatch(
            "MESSAGE_REACTION_ADD", fake.reaction_add(channel, digest.id, fake.admin.id, "🔍")
        )
        # No interaction to answer through: said in the channel, addressed (never a ping).
        await fake.wait_until(
            lambda: any("open a thread" in (m.content or "") for m in bot.channel_posts(channel))
        )
        (said,) = [m for m in bot.channel_posts(channel) if "open a thread" in (m.content or "")]
        assert said.content.startswith(f"<@{fake.admin.id}> I can't open a thread under that")
        assert said.allowed_mentions == {"parse": []}
        assert digest.id not in fake.channels


async def _pages(fake: FakeDiscord, thread_id: int) -> list[StoredMessage]:
    def done() -> bool:
        msgs = fake.messages_in(thread_id)
        if not msgs:
            return False
        match = re.search(r"page (\d+)/(\d+)", msgs[-1].embeds[-1]["footer"]["text"])
        return match is None or match.group(1) == match.group(2)

    await fake.wait_until(done)
    return fake.messages_in(thread_id)


async def test_deep_analysis_menu_does_what_the_flag_does(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    async with running_bot(fake, tmp_path, make_thread()) as bot:
        # A person's message with a link: no Message Content intent needed, the menu sees it.
        channel = fake.guild.text_channel
        user_message = fake.message_create(channel, f"worth a read {URL}", author=fake.plain)
        menu = fake.message_command("Deep analysis", int(user_message["id"]), user=fake.plain)
        await fake.dispatch("INTERACTION_CREATE", menu.payload)
        target = int(user_message["id"])
        await fake.wait_until(lambda: target in fake.channels)
        pages = await _pages(fake, target)
        assert pages
        (answer,) = await bot.answers(menu)
        assert "deep analysis" in answer
        callback = next(c for c in fake.callbacks if c.interaction_id == menu.id)
        assert callback.type == CALLBACK_DEFERRED_CHANNEL_MESSAGE
        assert callback.ephemeral

        # On one of the bot's digests (the core knows which thread it was about), in a server
        # whose flag is another emoji: the menu asks by name, so it still counts.
        await bot.core.storage.set_setting("discord", str(fake.guild.id), "flag-emoji", "👀")
        await bot.slash("digest", {"url": URL})
        digest = await bot.digest_message()
        menu = fake.message_command("Deep analysis", digest.id, user=fake.admin)
        await fake.dispatch("INTERACTION_CREATE", menu.payload)
        await fake.wait_until(lambda: digest.id in fake.channels)
        assert await _pages(fake, digest.id)
        assert len([r for r in fake.requests if r.path.endswith("/threads")]) == 2


async def test_a_servers_own_flag_emoji_is_offered_and_flags(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """`/redigest settings flag-emoji 👀`: the bot offers 👀 under its brief digests (it used
    to add 🔍 whatever the server chose), 👀 asks for the deep analysis and 🔍 no longer does."""
    async with running_bot(fake, tmp_path, make_thread()) as bot:
        settings = fake.slash_command(
            "redigest",
            [{"name": "settings", "type": 1, "options": [
                {"name": "key", "type": 3, "value": "flag-emoji"},
                {"name": "value", "type": 3, "value": "👀"},
            ]}],
            user=fake.admin,
        )  # fmt: skip
        await fake.dispatch("INTERACTION_CREATE", settings.payload)
        assert await bot.answers(settings) == ["flag-emoji is now 👀."]

        await bot.slash("digest", {"url": URL})
        digest = await bot.digest_message()
        await fake.wait_until(lambda: ("👀", fake.bot.id) in fake.message(digest.id).reactions)
        assert [e for e, who in fake.message(digest.id).reactions if who == fake.bot.id] == ["👀"]

        channel = fake.guild.text_channel.id
        await fake.dispatch(
            "MESSAGE_REACTION_ADD", fake.reaction_add(channel, digest.id, fake.plain.id, "🔍")
        )
        await asyncio.sleep(0.3)
        assert digest.id not in fake.channels  # not this server's flag
        await fake.dispatch(
            "MESSAGE_REACTION_ADD", fake.reaction_add(channel, digest.id, fake.plain.id, "👀")
        )
        await fake.wait_until(lambda: digest.id in fake.channels)
        assert await _pages(fake, digest.id)


async def test_a_servers_own_flag_emoji_flags_a_users_message(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """With the Message Content intent, the server's 👀 on a person's link is a flag (the core
    reads the message through the adapter only once it knows the emoji is the flag)."""
    channel = fake.guild.text_channel
    async with running_bot(fake, tmp_path, make_thread(), message_content=True) as bot:
        await bot.core.storage.set_setting("discord", str(fake.guild.id), "flag-emoji", "👀")
        text = fake.message_create(channel, f"see {URL}", author=fake.admin)
        message_id = int(text["id"])
        await fake.dispatch(
            "MESSAGE_REACTION_ADD", fake.reaction_add(channel.id, message_id, fake.plain.id, "🔍")
        )
        await asyncio.sleep(0.3)
        assert message_id not in fake.channels
        assert not any(r.path.endswith(f"/messages/{message_id}") for r in fake.requests)
        await fake.dispatch(
            "MESSAGE_REACTION_ADD", fake.reaction_add(channel.id, message_id, fake.plain.id, "👀")
        )
        await fake.wait_until(lambda: message_id in fake.channels)
        assert await _pages(fake, message_id)


async def test_reading_flagged_messages_needs_the_message_content_setting(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    channel = fake.guild.text_channel
    async with running_bot(fake, tmp_path / "off", make_thread()):
        text = fake.message_create(channel, f"see {URL}", author=fake.admin)
        await fake.dispatch(
            "MESSAGE_REACTION_ADD",
            fake.reaction_add(channel.id, int(text["id"]), fake.plain.id, "🔍"),
        )
        await asyncio.sleep(0.3)
        assert int(text["id"]) not in fake.channels
        assert not any(r.path.endswith(f"/messages/{text['id']}") for r in fake.requests)
    async with running_bot(fake, tmp_path / "on", make_thread(), message_content=True):
        identify = fake.identify
        assert identify is not None
        assert discord.Intents._from_value(identify["intents"]).message_content
        text = fake.message_create(channel, f"see {URL}", author=fake.admin)
        await fake.dispatch(
            "MESSAGE_REACTION_ADD",
            fake.reaction_add(channel.id, int(text["id"]), fake.plain.id, "🔍"),
        )
        await fake.wait_until(lambda: int(text["id"]) in fake.channels)
        assert await _pages(fake, int(text["id"]))


# ----------------------------------------------------------------------------- safety


HOSTILE = (
    "@everyone look <@&123> and <@456> in <#789>! **bold** [click](https://evil.example/x) "
    "||spoiler|| ```code``` > quote @here `tick` </ban:1> ~~gone~~"
)


async def test_thread_text_never_pings_or_formats(fake: FakeDiscord, tmp_path: Path) -> None:
    thread = make_thread(
        title="@everyone <@&123> look [here](https://evil.example/t)",
        bodies={i: f"{HOSTILE} number {i} says thanks" for i in range(10)},
    )
    async with running_bot(fake, tmp_path, thread) as bot:
        await bot.slash("digest", {"url": URL})
        digest = await bot.digest_message()
        channel = fake.guild.text_channel.id
        await fake.dispatch(
            "MESSAGE_REACTION_ADD", fake.reaction_add(channel, digest.id, fake.admin.id, "🔍")
        )
        await fake.wait_until(lambda: digest.id in fake.channels)
        await _pages(fake, digest.id)

        bodies = message_bodies(fake)
        assert len(bodies) >= 4
        everything = ""
        for body in bodies:
            assert body.get("allowed_mentions") == {"parse": []}, body
            for text in texts_of(body):
                assert not LIVE_MENTION.search(text), text
                for markup in ("[click](", "[here](", "||spoiler||", "```"):
                    assert markup not in text
                everything += text
        assert f"@{ZWSP}everyone" in everything  # shown, not pinging
        assert all(not m.mention_ids for m in fake.messages)
        assert "@everyone" not in fake.channels[digest.id].name


def test_escape_neutralises_markup_and_mentions() -> None:
    out = escape(HOSTILE + "\n# heading\n- item")
    assert not LIVE_MENTION.search(out)
    for raw in ("**bold**", "[click](", "||spoiler||", "```", "`tick`", "~~gone~~", "\n"):
        assert raw not in out
    assert "<https://evil.example/x>" in out  # the URL itself stays a plain link
    assert "\\# heading" in out
    assert escape("a_b") == "a\\_b"
    assert safe_url("https://x.example/a>b|c@everyone") == "https://x.example/a%3Eb%7Cc%40everyone"
    assert safe_url("javascript:alert(1)") is None


_PIECES = st.sampled_from(
    ["@everyone", "@here", "<@123>", "<@&5>", "<@!9>", "<#7>", "<id:customize>", "<t:1:R>",
     "</digest:1>", "<:e:1>", "https://x.example/a_b*c", "http://y.example/(x)", "<https://z.example>",
     "[a](https://e.example)", "||s||", "```", "`", "**", "__", "~~", "> ", "# ", "-# ", "- ",
     "1. ", "\\", "\n", " ", "|", "*", "_", "~", "[", "]", "(", ")", "<", ">", "@", ":", "a", "é", "😀"]
)  # fmt: skip
_SAFE_LINK = re.compile(r"<https?://[^\s<>]+>")


def _unescaped_markup(out: str) -> list[str]:
    """The markdown characters of `out` that are neither escaped nor part of a `<url>` link."""
    text = _SAFE_LINK.sub("", out)
    found: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] in "*_~`|[]#>":
            found.append(text[i])
        i += 1
    return found


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_escaped_reddit_text_is_inert_whatever_it_holds(raw: str) -> None:
    out = escape(raw)
    assert "\n" not in out
    assert not LIVE_MENTION.search(out)
    assert not re.search(r"<(?:[@#/:]|a:|t:|id:)", out, re.IGNORECASE)
    assert _unescaped_markup(out) == []
    for link in _SAFE_LINK.findall(out):  # a link cannot end early, hide a spoiler or ping
        assert not re.search(r"[<>`|\\\s]|@(everyone|here)", link[1:-1]), link


@given(st.text())
def test_lengths_are_counted_as_discord_counts_them(text: str) -> None:
    # Discord counts UTF-16 code units: an emoji outside the BMP is two.
    assert ulen(text) == len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


# ----------------------------------------------------------------------------- limits


def _check(messages: list[Any]) -> None:
    assert messages
    for message in messages:
        body = message.payload()
        validate_message_body(body, require_content=True)  # Discord's own checks (the fake's)
        assert len(body.get("content") or "") <= MAX_CONTENT
        assert len(body.get("embeds") or []) <= 10
        for text in (t for e in body.get("embeds") or [] for t in texts_of({"embeds": [e]})):
            assert len(text.encode("utf-16-le")) // 2 <= 4096


def _real_reports() -> list[tuple[str, Report, Report]]:
    out = []
    files = REDDIT_DATA.glob("*/*.json")
    for path in sorted(
        p for p in files if "morechildren" not in p.name and p.parent.name != "cassettes"
    ):
        thread = thread_from_json_text(path.read_bytes(), source=str(path))
        out.append(
            (
                path.stem,
                ENGINE.digest_sync(thread, Depth.BRIEF),
                ENGINE.digest_sync(thread, Depth.DEEP),
            )
        )
    return out


@pytest.mark.skipif(not REDDIT_DATA.is_dir(), reason=NO_DATA)
def test_embed_limits_hold_for_every_real_thread() -> None:
    reports = _real_reports()
    assert len(reports) >= 20
    for name, brief, deep in reports:
        for report in (brief, deep):
            messages = render(
                Delivery(report=report, header="r/x · crossed 500 points"), f"k:{name}"
            )
            _check(messages)
            assert messages[0].content == "r/x · crossed 500 points"
        assert len(render(Delivery(report=brief))) == 1, name  # a brief digest is one message
    bundle = Bundle("Top of r/everything today", tuple(b for _, b, _ in reports[:10]), note="Late.")
    (message,) = render(Delivery(bundle=bundle), "sched:1")
    _check([message])
    assert len(message.embeds) == 10


def test_oversized_reports_are_split_never_rejected() -> None:
    long = "word " * 3000
    thread = make_thread(title="T" * 400, bodies={i: f"{long} {i}" for i in range(40)}, n=60)
    for depth in Depth:
        report = ENGINE.digest_sync(thread, depth)
        messages = render(Delivery(report=report, header="h" * 3000), "key")
        _check(messages)
    (text,) = render(Delivery(text="short"))
    assert text.content == "short"
    many = render(Delivery(text="line of text\n" * 400))
    _check(many)
    assert len(many) >= 3
    empty = render(Delivery(bundle=Bundle("Top of r/x", (), empty_text="Nothing new.")), "k")
    _check(empty)


# ----------------------------------------------------------------------------- management


async def test_plain_member_cannot_subscribe(fake: FakeDiscord, tmp_path: Path) -> None:
    async with running_bot(fake, tmp_path) as bot:
        interaction = await bot.slash(
            "subscribe", {"subreddits": "r/LocalLLaMA", "schedule": "daily 09:00"}, user=fake.plain
        )
        (answer,) = await bot.answers(interaction)
        assert answer == "Only people who can manage this server can subscribe a channel."
        callback = next(c for c in fake.callbacks if c.interaction_id == interaction.id)
        assert callback.ephemeral
        assert await bot.core.storage.subscriptions() == []


async def test_subscribe_autocomplete_and_unsubscribe(fake: FakeDiscord, tmp_path: Path) -> None:
    async with running_bot(fake, tmp_path) as bot:
        subscribe = await bot.slash(
            "subscribe",
            {
                "subreddits": "r/LocalLLaMA, r/selfhosted",
                "schedule": "daily 09:00 Europe/Berlin",
                "top": 3,
                "min_score": 50,
                "flair": "New Model",
                "keywords": "llama,qwen",
                "nsfw": False,
            },
            user=fake.admin,
        )
        (answer,) = await bot.answers(subscribe)
        assert answer.startswith("Subscribed #1: r/LocalLLaMA, r/selfhosted")
        (sub,) = await bot.core.storage.subscriptions()
        assert sub.spec["top"] == 3
        assert sub.spec["min_score"] == 50
        assert sub.spec["flairs"] == ["New Model"]
        assert sub.spec["keywords"] == ["llama", "qwen"]

        typing = fake.autocomplete("unsubscribe", {"id": "Local"}, user=fake.admin)
        await fake.dispatch("INTERACTION_CREATE", typing.payload)
        await fake.wait_until(lambda: any(c.interaction_id == typing.id for c in fake.callbacks))
        callback = next(c for c in fake.callbacks if c.interaction_id == typing.id)
        assert callback.type == 8
        assert [c["value"] for c in callback.choices] == [1]
        assert "r/LocalLLaMA" in callback.choices[0]["name"]

        listing = await bot.slash("subscriptions", user=fake.admin)
        assert "#1 r/LocalLLaMA" in (await bot.answers(listing))[0]
        gone = await bot.slash("unsubscribe", {"id": 1}, user=fake.admin)
        assert await bot.answers(gone) == ["Unsubscribed #1."]

        settings = fake.slash_command(
            "redigest",
            [{"name": "settings", "type": 1, "options": [
                {"name": "key", "type": 3, "value": "timezone"},
                {"name": "value", "type": 3, "value": "Europe/Berlin"},
            ]}],
            user=fake.admin,
        )  # fmt: skip
        await fake.dispatch("INTERACTION_CREATE", settings.payload)
        assert await bot.answers(settings) == ["timezone is now Europe/Berlin."]
        help_ = fake.slash_command("redigest", [{"name": "help", "type": 1}], user=fake.plain)
        await fake.dispatch("INTERACTION_CREATE", help_.payload)
        assert (await bot.answers(help_))[0].startswith("redigest digests Reddit threads")


# ----------------------------------------------------------------------------- exactly once


async def test_find_posted_finds_every_page_and_a_partial_post_is_completed(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    thread = make_thread(n=150)
    deep = Delivery(report=ENGINE.digest_sync(thread, Depth.DEEP))
    async with running_bot(fake, tmp_path) as bot:
        channel = fake.guild.text_channel
        parent = fake.message_create(channel, "a digest to go deeper on", author=fake.bot)
        target = ThreadTarget(MessageRef("discord", str(channel.id), parent["id"]))
        assert await bot.chat.find_posted(target, "flag:1") is None  # no thread yet

        refs = await bot.chat.post(target, deep, idempotency_key="flag:1")
        assert len(refs) >= 2
        assert all(r.thread_id == parent["id"] and r.channel_id == str(channel.id) for r in refs)
        assert await bot.chat.find_posted(target, "flag:1") == refs
        assert await bot.chat.find_posted(target, "flag:other") is None

        # A crash after the first page: the rest is posted once, nothing twice.
        for ref in refs[1:]:
            fake.message(int(ref.message_id)).deleted = True
        assert await bot.chat.find_posted(target, "flag:1") is None
        again = await bot.chat.post(target, deep, idempotency_key="flag:1")
        assert again[0] == refs[0]
        assert len(again) == len(refs)
        assert len(fake.messages_in(int(parent["id"]))) == len(refs)

        brief = Delivery(report=ENGINE.digest_sync(thread, Depth.BRIEF))
        posted = await bot.chat.post(ChannelTarget(str(channel.id)), brief, idempotency_key="d:1")
        assert await bot.chat.find_posted(ChannelTarget(str(channel.id)), "d:1") == posted
        answers = await bot.chat.find_posted(EphemeralTarget(str(channel.id), "1"), "d:1")
        assert answers is None


async def test_a_history_the_bot_may_not_read_is_cannot_look_not_not_posted(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    async with running_bot(fake, tmp_path) as bot:
        channel = fake.guild.text_channel
        brief = Delivery(report=ENGINE.digest_sync(make_thread(n=5), Depth.BRIEF))
        await bot.chat.post(ChannelTarget(str(channel.id)), brief, idempotency_key="d:7")
        fake.fail_next(r"/messages", 403, code=50001, message="Missing Access", method="GET")
        with pytest.raises(LookupUnavailable, match="Read Message History"):
            await bot.chat.find_posted(ChannelTarget(str(channel.id)), "d:7")


async def test_answers_without_a_live_interaction_go_to_the_channel(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    async with running_bot(fake, tmp_path) as bot:
        channel = fake.guild.text_channel.id
        target = EphemeralTarget(str(channel), str(fake.plain.id), "unknown-token")
        (ref,) = await bot.chat.post(target, Delivery(text="@everyone the digest failed."))
        message = fake.message(int(ref.message_id))
        assert message.content.startswith(f"<@{fake.plain.id}> ")  # addressed, not pinged
        assert f"@{ZWSP}everyone" in message.content
        assert message.allowed_mentions == {"parse": []}


async def test_unexpected_errors_are_answered_and_logged(
    fake: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(fake, tmp_path) as bot:

        async def broken(_: Any) -> None:
            raise RuntimeError("the core fell over")

        bot.chat._inbox = Inbox(broken, broken)
        interaction = await bot.slash("digest", {"url": URL})
        (answer,) = await bot.answers(interaction)
        assert answer.startswith("Something went wrong on our side")
        channel = fake.guild.text_channel.id
        await fake.dispatch(
            "MESSAGE_REACTION_ADD", fake.reaction_add(channel, 1, fake.plain.id, "🔍")
        )
        await fake.wait_until(lambda: "reaction 🔍 by" in caplog.text)
        assert "the core fell over" in caplog.text
        # Still alive: the next command is answered.
        again = await bot.slash("digest", {"url": URL})
        assert await bot.answers(again)


async def test_a_path_on_the_bots_host_is_answered_like_a_missing_one(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """Without Reddit (the saved-threads source), `/digest url:/some/file.json` from a chat
    reads no file: a real thread file outside the saved folder and a missing one get the same
    sentence (apart from the echo of what was typed), and nothing from the file is posted."""
    saved = tmp_path / "saved"
    saved.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    raw = thread_json(20, seed=3, post_id="prb001")
    raw[0]["data"]["children"][0]["data"]["title"] = "A private export nobody should read"
    export = elsewhere / "export.json"
    export.write_text(json.dumps(raw), encoding="utf-8")
    assert thread_from_json_text(export.read_bytes()).post.id == "prb001"  # a valid thread
    missing = elsewhere / "missing.json"
    async with running_bot(fake, tmp_path) as bot:
        bot.core.source = SavedThreadSource([saved])  # as the bot runs without Reddit
        answers = []
        for target in (export, missing):
            interaction = await bot.slash("digest", {"url": str(target)})
            (answer,) = await bot.answers(interaction)
            answers.append(answer)
        assert await bot.core.drain(10.0)
        assert bot.channel_posts(fake.guild.text_channel.id) == []
    first, second = (re.sub(r"“[^”]*”", "“…”", a, count=1) for a in answers)
    assert first == second
    assert "\n" not in first
    assert first.count(". ") <= 1
    assert "Reddit" in first
    shown = json.dumps([texts_of(body) for body in message_bodies(fake)])
    assert "private export" not in shown
    assert "prb001" not in shown
