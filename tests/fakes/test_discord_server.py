"""The fake Discord drives the real discord.py client end to end."""

from __future__ import annotations

import asyncio
import contextlib
import json
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.discord_server import (
    FLAG_EPHEMERAL,
    FLAG_HAS_THREAD,
    FakeDiscord,
    Permission,
    shard_of,
)

with warnings.catch_warnings():
    # discord.py 2.7.1 imports the stdlib audioop (voice support), deprecated since 3.11.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    from discord import app_commands

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DISCORD_DATA = SHARED_DATA / "discord"
NO_DATA = f"real Discord payloads not found at {DISCORD_DATA} (they live beside the repo)"

DIGEST_URL = "https://www.reddit.com/r/python/comments/abc123/some_thread/"


class DigestClient(discord.Client):
    """What redigest's adapter will look like: a tree with a slash command and a menu."""

    def __init__(self, intents: discord.Intents | None = None) -> None:
        super().__init__(intents=intents or discord.Intents.default(), guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.invocations: asyncio.Queue[discord.Interaction] = asyncio.Queue()
        self.followups: asyncio.Queue[discord.WebhookMessage] = asyncio.Queue()
        self.raw_reactions: asyncio.Queue[discord.RawReactionActionEvent] = asyncio.Queue()

        @self.tree.command(name="digest", description="Digest a Reddit thread")
        @app_commands.describe(url="The thread's URL")
        async def digest(interaction: discord.Interaction, url: str) -> None:
            self.invocations.put_nowait(interaction)
            await interaction.response.defer(thinking=True)
            embed = discord.Embed(title="Digest", description=f"Summary of {url}", url=url)
            embed.add_field(name="Top point", value="Use asyncio.", inline=False)
            message = await interaction.followup.send(
                embed=embed, allowed_mentions=discord.AllowedMentions.none(), wait=True
            )
            self.followups.put_nowait(message)

        @digest.autocomplete("url")
        async def url_choices(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            return [app_commands.Choice(name=f"{current} (recent)", value=DIGEST_URL)]

        @app_commands.context_menu(name="Digest this message")
        async def digest_message(
            interaction: discord.Interaction, message: discord.Message
        ) -> None:
            self.invocations.put_nowait(interaction)
            await interaction.response.send_message(
                f"Digesting message {message.id}: {message.content}", ephemeral=True
            )

        self.tree.add_command(digest_message)

    async def setup_hook(self) -> None:
        await self.tree.sync()

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.raw_reactions.put_nowait(payload)


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        server.patch_discord(monkeypatch)
        yield server


@contextlib.asynccontextmanager
async def running(client: discord.Client, token: str) -> AsyncIterator[discord.Client]:
    """Start ``client`` against the fake, wait for on_ready, close it cleanly afterwards."""
    async with client:
        task = asyncio.create_task(client.start(token))
        ready = asyncio.create_task(client.wait_until_ready())
        done, _ = await asyncio.wait({task, ready}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            await client.close()
            await task  # re-raises what went wrong
            raise AssertionError("client never became ready")
        try:
            yield client
        finally:
            await client.close()
            await asyncio.wait_for(task, timeout=5)


async def get(queue: asyncio.Queue[Any]) -> Any:
    return await asyncio.wait_for(queue.get(), 5)


async def test_startup_sequence_command_sync_and_gateway(fake: FakeDiscord) -> None:
    client = DigestClient()
    async with running(client, fake.token):
        assert client.user is not None
        assert client.user.id == fake.bot.id
        assert client.application_id == fake.application_id

        calls = [(r.method, r.path) for r in fake.requests]
        assert calls == [
            ("GET", "/users/@me"),
            ("GET", "/oauth2/applications/@me"),
            ("PUT", f"/applications/{fake.application_id}/commands"),
        ]
        assert all(r.headers["Authorization"] == f"Bot {fake.token}" for r in fake.requests)

        (sync,) = fake.commands_synced
        assert sync.guild_id is None
        by_name = {c["name"]: c for c in sync.commands}
        assert by_name["digest"]["type"] == 1
        assert (
            by_name["digest"]["options"][0] | {"required": True} == by_name["digest"]["options"][0]
        )
        assert by_name["digest"]["options"][0]["autocomplete"] is True
        assert by_name["Digest this message"]["type"] == 3

        (conn,) = fake.connections
        assert conn.query == {"v": "10", "encoding": "json", "compress": "zlib-stream"}
        assert conn.compressor is not None  # frames were zlib-stream, as on Discord
        assert fake.identify is not None
        assert fake.identify["intents"] == discord.Intents.default().value
        assert [f["t"] for f in conn.sent if f["op"] == 0] == ["READY", "GUILD_CREATE"]
        await fake.wait_until(lambda: conn.heartbeats >= 2)
        assert sum(1 for f in conn.sent if f["op"] == 11) >= 2

        guild = client.get_guild(fake.guild.id)
        assert guild is not None
        assert guild.name == fake.guild.name
        general = guild.get_channel(fake.guild.text_channel.id)
        nsfw = guild.get_channel(fake.guild.nsfw_channel.id)
        assert isinstance(general, discord.TextChannel)
        assert not general.is_nsfw()
        assert isinstance(nsfw, discord.TextChannel)
        assert nsfw.is_nsfw()
        assert guild.me is not None
        assert guild.me.guild_permissions.embed_links
        assert {r.name for r in guild.roles} == {"@everyone", "Moderator", "redigest"}
    assert client.is_closed()
    assert conn.closed
    # Client.close() sends 1000, but its reader task races it and aiohttp sends 4000 first.
    assert conn.close_code in (1000, 4000)


async def test_slash_command_defers_then_follows_up_with_embed(fake: FakeDiscord) -> None:
    client = DigestClient()
    async with running(client, fake.token):
        interaction = fake.slash_command("digest", {"url": DIGEST_URL}, user=fake.admin)
        assert interaction.payload["data"]["options"] == [
            {"name": "url", "type": 3, "value": DIGEST_URL}
        ]
        await fake.dispatch("INTERACTION_CREATE", interaction.payload)

        seen: discord.Interaction = await get(client.invocations)
        assert seen.id == interaction.id
        assert seen.permissions.manage_guild
        assert not seen.permissions.administrator
        assert seen.app_permissions.embed_links
        assert seen.filesize_limit == 10 * 1024 * 1024
        assert isinstance(seen.channel, discord.TextChannel)
        assert seen.channel.name == "general"

        followup: discord.WebhookMessage = await get(client.followups)
        (callback,) = fake.callbacks
        assert callback.type == 5
        assert callback.interaction_id == interaction.id
        assert not callback.ephemeral

        stored = fake.message(followup.id)
        assert stored.source == "followup"
        assert stored.channel_id == fake.guild.text_channel.id
        assert stored.embeds[0]["title"] == "Digest"
        assert stored.embeds[0]["description"] == f"Summary of {DIGEST_URL}"
        assert stored.embeds[0]["fields"] == [
            {"name": "Top point", "value": "Use asyncio.", "inline": False}
        ]
        assert stored.allowed_mentions == {"parse": []}
        assert followup.embeds[0].title == "Digest"
        assert followup.guild is None  # a follow-up carries no guild: threads need the channel

        # the deferred "thinking" original response exists and is still loading
        original = fake.message(callback.message_id or 0)
        assert original.source == "original"
        assert original.loading

        post = await fake.wait_for(
            lambda r: r.path == f"/webhooks/{fake.application_id}/{interaction.token}"
        )
        assert post.query["wait"] == "1"
        cb = await fake.wait_for(lambda r: r.path.endswith("/callback"))
        assert cb.received_at < post.received_at


async def test_message_context_menu_and_autocomplete(fake: FakeDiscord) -> None:
    client = DigestClient()
    async with running(client, fake.token):
        target = fake.message_create(
            fake.guild.text_channel, "look at this thread", author=fake.plain
        )
        interaction = fake.message_command(
            "Digest this message", int(target["id"]), user=fake.admin
        )
        await fake.dispatch("INTERACTION_CREATE", interaction.payload)
        await fake.wait_until(lambda: len(fake.callbacks) == 1)
        (callback,) = fake.callbacks
        assert callback.type == 4
        assert callback.flags == FLAG_EPHEMERAL
        assert callback.ephemeral
        assert callback.content == f"Digesting message {target['id']}: look at this thread"

        typing = fake.autocomplete("digest", {"url": "python"})
        await fake.dispatch("INTERACTION_CREATE", typing.payload)
        await fake.wait_until(lambda: len(fake.callbacks) == 2)
        assert fake.callbacks[1].type == 8
        assert fake.callbacks[1].choices == [{"name": "python (recent)", "value": DIGEST_URL}]


async def test_raw_reaction_add_reaches_the_client(fake: FakeDiscord) -> None:
    client = DigestClient()
    async with running(client, fake.token):
        channel = fake.guild.text_channel
        message = fake.message_create(channel, "a digest", author=fake.plain)
        payload = fake.reaction_add(channel.id, int(message["id"]), fake.plain.id, "📰")
        assert await fake.dispatch("MESSAGE_REACTION_ADD", payload)

        event: discord.RawReactionActionEvent = await get(client.raw_reactions)
        assert event.event_type == "REACTION_ADD"
        assert event.message_id == int(message["id"])
        assert event.channel_id == channel.id
        assert event.guild_id == fake.guild.id
        assert event.user_id == fake.plain.id
        assert event.emoji.name == "📰"
        assert event.emoji.id is None
        assert event.member is not None
        assert event.member.id == fake.plain.id


async def test_intents_filter_events_like_discord(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscord() as fake:
        fake.patch_discord(monkeypatch)
        intents = discord.Intents.default()
        intents.reactions = False
        client = DigestClient(intents)
        async with running(client, fake.token):
            payload = fake.reaction_add(fake.guild.text_channel.id, 1, fake.plain.id)
            assert not await fake.dispatch("MESSAGE_REACTION_ADD", payload)
            assert fake.dropped_events == [("MESSAGE_REACTION_ADD", payload)]

            seen: asyncio.Queue[discord.Message] = asyncio.Queue()

            async def on_message(message: discord.Message) -> None:
                seen.put_nowait(message)

            client.event(on_message)
            created = fake.message_create(fake.guild.text_channel, "secret words")
            assert await fake.dispatch("MESSAGE_CREATE", created)
            message: discord.Message = await get(seen)
            assert message.content == ""  # no MESSAGE_CONTENT intent
            assert client.raw_reactions.empty()


async def test_threads_reactions_and_messages_via_rest(fake: FakeDiscord) -> None:
    client = DigestClient()
    async with running(client, fake.token):
        interaction = fake.slash_command("digest", {"url": DIGEST_URL})
        await fake.dispatch("INTERACTION_CREATE", interaction.payload)
        followup: discord.WebhookMessage = await get(client.followups)

        channel = client.get_channel(fake.guild.text_channel.id)
        assert isinstance(channel, discord.TextChannel)
        thread = await channel.get_partial_message(followup.id).create_thread(
            name="Digest discussion"
        )
        assert thread.id == followup.id  # Discord: a message's thread has the message's id
        assert thread.parent_id == channel.id
        sent = await thread.send(
            "Full digest, part 1", allowed_mentions=discord.AllowedMentions.none()
        )
        await channel.get_partial_message(followup.id).add_reaction("👍")

        stored = fake.message(sent.id)
        assert stored.channel_id == thread.id
        assert stored.thread_parent_id == channel.id
        assert stored.content == "Full digest, part 1"
        assert fake.message(followup.id).thread_id == thread.id
        assert fake.message(followup.id).flags & FLAG_HAS_THREAD
        assert fake.message(followup.id).reactions == [("👍", fake.bot.id)]

        # the bot's own reaction comes back over the gateway, as on Discord
        own: discord.RawReactionActionEvent = await get(client.raw_reactions)
        assert own.user_id == fake.bot.id
        assert own.message_id == followup.id

        edited = await sent.edit(content="Full digest, part 1 (edited)")
        assert edited.edited_at is not None
        fetched = await thread.fetch_message(sent.id)
        assert fetched.content == "Full digest, part 1 (edited)"
        with pytest.raises(discord.NotFound):
            await channel.fetch_message(123)
        with pytest.raises(discord.HTTPException) as too_long:
            await channel.send("x" * 2001)
        assert too_long.value.code == 50035


async def test_rate_limits_are_retried(fake: FakeDiscord) -> None:
    client = DigestClient()
    async with running(client, fake.token):
        channel = client.get_channel(fake.guild.text_channel.id)
        assert isinstance(channel, discord.TextChannel)
        fake.rate_limit_next(r"^/channels/\d+/messages$", retry_after=0.05)
        message = await channel.send("hello after a 429")
        posts = [r for r in fake.requests if r.method == "POST" and r.path.startswith("/channels/")]
        assert [r.status for r in posts] == [429, 200]
        assert posts[1].received_at - posts[0].received_at >= 0.05
        assert fake.message(message.id).content == "hello after a 429"

        # the interaction webhook adapter has its own retry loop
        fake.rate_limit_next(r"^/webhooks/", retry_after=0.05, global_=True)
        interaction = fake.slash_command("digest", {"url": DIGEST_URL})
        await fake.dispatch("INTERACTION_CREATE", interaction.payload)
        await get(client.followups)
        hooks = [r for r in fake.requests if r.path.startswith("/webhooks/")]
        assert [r.status for r in hooks] == [429, 200]


async def test_bad_token_raises_login_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscord(bad_token=True) as fake:
        fake.patch_discord(monkeypatch)
        async with discord.Client(intents=discord.Intents.default()) as client:
            with pytest.raises(discord.LoginFailure):
                await client.login(fake.token)
        assert [(r.path, r.status) for r in fake.requests] == [("/users/@me", 401)]

    async with FakeDiscord() as fake:
        fake.patch_discord(monkeypatch)
        async with discord.Client(intents=discord.Intents.default()) as client:
            with pytest.raises(discord.LoginFailure):
                await client.login("not-the-token")


async def test_privileged_intents_must_be_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscord(privileged_intents=0) as fake:
        fake.patch_discord(monkeypatch)
        async with discord.Client(intents=discord.Intents.all()) as client:
            with pytest.raises(discord.PrivilegedIntentsRequired):
                await asyncio.wait_for(client.start(fake.token), timeout=5)
        assert fake.connections[0].close_code == 4014


async def test_member_chunking_and_plain_text_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscord(compress=False) as fake:
        fake.patch_discord(monkeypatch)
        intents = discord.Intents.default()
        intents.members = True
        async with running(DigestClient(intents), fake.token) as client:
            guild = client.get_guild(fake.guild.id)
            assert guild is not None
            assert guild.chunked
            admin = guild.get_member(fake.admin.id)
            assert admin is not None
            assert admin.guild_permissions.manage_guild
            plain = guild.get_member(fake.plain.id)
            assert plain is not None
            assert not plain.guild_permissions.manage_guild
            assert fake.connections[0].compressor is None
            assert any(f["op"] == 8 for f in fake.connections[0].received)


async def test_reconnect_resumes_on_the_fake(fake: FakeDiscord) -> None:
    client = DigestClient()
    async with running(client, fake.token):
        resumed = asyncio.Event()

        async def on_resumed() -> None:
            resumed.set()

        client.event(on_resumed)
        await fake.request_reconnect()
        await asyncio.wait_for(resumed.wait(), 5)
        assert fake.connections[-1].resumed
        assert len(fake.connections) == 2
        # the resumed session still receives interactions
        interaction = fake.slash_command("digest", {"url": DIGEST_URL})
        await fake.dispatch("INTERACTION_CREATE", interaction.payload)
        await get(client.followups)


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DISCORD_DATA / name).read_text(encoding="utf-8"))
    return data


@pytest.mark.skipif(not DISCORD_DATA.is_dir(), reason=NO_DATA)
async def test_synthetic_payloads_have_the_real_shape(fake: FakeDiscord) -> None:
    """Every key Discord sent in the captured frames is in the fake's own payloads."""
    real_ready = _load("gateway/discordbm_02_ready.json")["d"]
    real_guild = _load("gateway/discordbm_03_guild_create.json")["d"]
    real_interaction = _load("gateway/arsd_interaction_create_slash_command.json")["d"]

    client = DigestClient()
    async with running(client, fake.token):
        frames = {f["t"]: f["d"] for f in fake.connections[0].sent if f["op"] == 0}
    ours = fake.slash_command("digest", {"url": DIGEST_URL}).payload

    assert set(real_ready) <= set(frames["READY"])
    assert set(real_ready["user"]) <= set(frames["READY"]["user"])
    assert set(real_guild) - set(frames["GUILD_CREATE"]) == {"guild_hashes"}
    for key in ("channels", "roles", "members"):
        real_keys = set().union(*(set(item) for item in real_guild[key]))
        our_keys = set().union(*(set(item) for item in frames["GUILD_CREATE"][key]))
        assert real_keys - our_keys <= {"user_limit", "bitrate", "rtc_region"}, key
    assert set(real_interaction) <= set(ours)
    assert set(real_interaction["member"]) <= set(ours["member"])
    assert set(real_interaction["member"]["user"]) <= set(ours["member"]["user"])
    assert set(real_interaction["channel"]) <= set(ours["channel"])
    assert Permission.MANAGE_GUILD & int(ours["member"]["permissions"]) == 0  # fake.plain


@pytest.mark.skipif(not DISCORD_DATA.is_dir(), reason=NO_DATA)
async def test_real_captured_payloads_parse_through_the_fake(fake: FakeDiscord) -> None:
    real_guild = _load("gateway/discordbm_03_guild_create.json")["d"]
    real_message = _load("gateway/discordbm_models_01_message_create.json")["d"]
    real_interaction = _load("gateway/arsd_interaction_create_slash_command.json")["d"]
    # Captured in 2024, before Discord added attachment_size_limit (discord.py 2.7 needs it).
    assert "attachment_size_limit" not in real_interaction
    real_interaction["attachment_size_limit"] = 8 * 1024 * 1024

    intents = discord.Intents.default()
    intents.message_content = True
    client = discord.Client(intents=intents, guild_ready_timeout=0.05)
    interactions: asyncio.Queue[discord.Interaction] = asyncio.Queue()
    messages: asyncio.Queue[discord.Message] = asyncio.Queue()

    async def on_interaction(interaction: discord.Interaction) -> None:
        interactions.put_nowait(interaction)
        await interaction.response.send_message("hello back")

    async def on_message(message: discord.Message) -> None:
        messages.put_nowait(message)

    client.event(on_interaction)
    client.event(on_message)
    async with running(client, fake.token):
        await fake.dispatch("GUILD_CREATE", real_guild)
        await fake.wait_until(lambda: client.get_guild(int(real_guild["id"])) is not None)
        guild = client.get_guild(int(real_guild["id"]))
        assert guild is not None
        assert len(guild.channels) == len(real_guild["channels"])
        assert len(guild.roles) == len(real_guild["roles"])

        await fake.dispatch("MESSAGE_CREATE", real_message)
        message: discord.Message = await get(messages)
        assert message.id == int(real_message["id"])
        assert message.content == real_message["content"]

        await fake.dispatch("INTERACTION_CREATE", real_interaction)
        interaction: discord.Interaction = await get(interactions)
        assert interaction.id == int(real_interaction["id"])
        assert interaction.data is not None
        assert interaction.data.get("name") == "hello"
        assert isinstance(interaction.user, discord.Member)
        assert interaction.user.name == "wrathful_vengeance_god_unleashed"
        await fake.wait_until(lambda: len(fake.callbacks) == 1)
        (callback,) = fake.callbacks
        assert callback.interaction_id == interaction.id
        assert callback.type == 4
        assert callback.content == "hello back"


async def test_select_menus_and_component_interactions(fake: FakeDiscord) -> None:
    """A message with a string select is stored with its components (Discord's limits
    enforced); picking an option is an INTERACTION_CREATE of type 3 with custom_id and values,
    answered like any interaction."""
    picks: asyncio.Queue[discord.Interaction] = asyncio.Queue()

    class Picker(DigestClient):
        async def on_interaction(self, interaction: discord.Interaction) -> None:
            if interaction.type is discord.InteractionType.component:
                picks.put_nowait(interaction)
                await interaction.response.defer(ephemeral=True, thinking=True)
                await interaction.edit_original_response(content="picked")

    def menu(options: list[discord.SelectOption]) -> discord.ui.View:
        view = discord.ui.View(timeout=None)
        view.add_item(discord.ui.Select(custom_id="pick", placeholder="Pick…", options=options))
        view.stop()  # not kept by discord.py: the pick is handled by its custom_id
        return view

    client = Picker()
    async with running(client, fake.token):
        channel = client.get_channel(fake.guild.text_channel.id)
        assert isinstance(channel, discord.TextChannel)
        options = [discord.SelectOption(label=f"{i}. Thread {i}", value=f"t{i}") for i in (1, 2)]
        sent = await channel.send("Top of r/python today", view=menu(options))
        (row,) = fake.message(sent.id).components
        assert row["type"] == 1
        assert row["components"][0]["custom_id"] == "pick"
        assert [o["value"] for o in row["components"][0]["options"]] == ["t1", "t2"]

        # Discord's limits: labels of 1-100 characters, at most 25 options, distinct values.
        for bad in (
            [discord.SelectOption(label="x" * 101, value="t1")],
            [discord.SelectOption(label=f"{i}", value=f"t{i}") for i in range(26)],
            [
                discord.SelectOption(label="a", value="t1"),
                discord.SelectOption(label="b", value="t1"),
            ],
        ):
            with pytest.raises(discord.HTTPException) as refused:
                await channel.send("bad menu", view=menu(bad))
            assert refused.value.code == 50035

        interaction = fake.component("pick", sent.id, component_type=3, values=["t2"])
        assert interaction.payload["type"] == 3
        await fake.dispatch("INTERACTION_CREATE", interaction.payload)
        got = await get(picks)
        assert got.data is not None
        assert got.data.get("custom_id") == "pick"
        assert got.data.get("values") == ["t2"]
        assert got.message is not None
        assert got.message.id == sent.id
        await fake.wait_until(lambda: interaction.original_message_id is not None)
        callback = next(c for c in fake.callbacks if c.interaction_id == interaction.id)
        assert callback.type == 5
        assert callback.ephemeral
        original = fake.message(interaction.original_message_id or 0)
        await fake.wait_until(lambda: original.content == "picked")


async def test_the_typing_indicator_is_triggered_as_discord_py_does_it(fake: FakeDiscord) -> None:
    """`channel.typing()`: one POST /channels/{id}/typing on entering (204), renewed by
    discord.py every 5 s until the block ends; an unknown channel is 404 Unknown Channel."""
    client = DigestClient()
    async with running(client, fake.token):
        channel = await client.fetch_channel(fake.guild.text_channel.id)
        assert isinstance(channel, discord.TextChannel)
        async with channel.typing():
            pass
        (typing,) = [r for r in fake.requests if r.path.endswith("/typing")]
        assert (typing.method, typing.path, typing.status) == (
            "POST",
            f"/channels/{channel.id}/typing",
            204,
        )
        with pytest.raises(discord.NotFound) as unknown:
            await client.http.send_typing(123456789)
        assert unknown.value.code == 10003


# ----------------------------------------------------------------------------- sharding


class ShardedClient(discord.AutoShardedClient):
    """discord.py's own sharded client, with its 5 s between IDENTIFYs cut for the fake."""

    def __init__(self, **options: Any) -> None:
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.05, **options)
        self.shards_ready: list[int] = []
        self.raw_reactions: asyncio.Queue[discord.RawReactionActionEvent] = asyncio.Queue()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        pass

    async def on_shard_ready(self, shard_id: int) -> None:
        self.shards_ready.append(shard_id)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.raw_reactions.put_nowait(payload)


def _sharded_fake(count: int) -> FakeDiscord:
    fake = FakeDiscord(shard_count=count, guild_names=())
    for shard in range(count):
        fake.add_guild(f"Guild {shard}", shard=(shard, count))
    return fake


async def test_the_recommended_shard_count_is_launched_with_one_ready_per_shard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with _sharded_fake(3) as fake:
        fake.patch_discord(monkeypatch)
        client = ShardedClient()
        async with running(client, fake.token):
            assert client.shard_count == 3  # GET /gateway/bot's "shards"
            assert sorted(client.shards_ready) == [0, 1, 2]
            assert sorted(c.identify["shard"] for c in fake.connections if c.identify) == [
                [0, 3],
                [1, 3],
                [2, 3],
            ]
            for conn in fake.connections:
                assert conn.shard is not None
                ready = next(f["d"] for f in conn.sent if f.get("t") == "READY")
                assert ready["shard"] == list(conn.shard)
                owned = [g["id"] for g in ready["guilds"]]
                created = [f["d"]["id"] for f in conn.sent if f.get("t") == "GUILD_CREATE"]
                assert owned == created
                assert [shard_of(int(g), 3) for g in owned] == [conn.shard[0]]
            for guild in fake.guilds:  # discord.py agrees on which shard owns each guild
                seen = client.get_guild(guild.id)
                assert seen is not None
                assert seen.shard_id == shard_of(guild.id, 3)
            assert {shard for shard, _ in client.latencies} == {0, 1, 2}
            assert not any(info.is_ws_ratelimited() for info in client.shards.values())
    assert [r.path for r in fake.requests].count("/gateway/bot") == 1


async def test_a_guild_event_reaches_only_the_shard_that_owns_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with _sharded_fake(4) as fake:
        fake.patch_discord(monkeypatch)
        client = ShardedClient(shard_ids=[1, 2], shard_count=4)
        async with running(client, fake.token):
            conns = fake.shard_connections()
            assert sorted(conns) == [1, 2]
            guild = fake.guilds[2]  # shard 2's
            channel = guild.text_channel.id
            before = {shard: len(conn.sent) for shard, conn in conns.items()}
            assert await fake.dispatch(
                "MESSAGE_REACTION_ADD", fake.reaction_add(channel, 42, fake.plain.id)
            )
            payload = await get(client.raw_reactions)
            assert payload.guild_id == guild.id
            assert len(conns[2].sent) == before[2] + 1
            assert len(conns[1].sent) == before[1]
            # A guild of shard 0 has no connection here: Discord sends it elsewhere.
            other = fake.guilds[0].text_channel.id
            assert not await fake.dispatch(
                "MESSAGE_REACTION_ADD", fake.reaction_add(other, 43, fake.plain.id)
            )
            assert client.get_guild(fake.guilds[0].id) is None


async def test_an_invalid_shard_is_closed_with_4010(monkeypatch: pytest.MonkeyPatch) -> None:
    async with _sharded_fake(2) as fake:
        fake.patch_discord(monkeypatch)
        async with ShardedClient(shard_ids=[2], shard_count=2) as client:
            with pytest.raises(discord.ConnectionClosed) as closed:
                await asyncio.wait_for(client.start(fake.token), timeout=5)
        assert closed.value.code == 4010
        assert fake.connections[0].close_code == 4010


async def test_a_held_shard_stays_down_until_released_then_resumes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with _sharded_fake(2) as fake:
        fake.patch_discord(monkeypatch)
        client = ShardedClient()
        async with running(client, fake.token):
            resumed: asyncio.Queue[int] = asyncio.Queue()

            async def on_shard_resumed(shard_id: int) -> None:
                resumed.put_nowait(shard_id)

            client.event(on_shard_resumed)
            fake.held_shards.add(1)
            await fake.close_shard(1)
            await fake.wait_until(
                lambda: any(
                    c.resumed is False
                    and c.shard == (1, 2)
                    and not c.ready.is_set()
                    and not c.closed
                    for c in fake.connections
                )
            )
            assert resumed.empty()
            fake.held_shards.clear()
            await fake.close_shard(1)
            assert await get(resumed) == 1
            assert sorted(fake.shard_connections()) == [0, 1]


# --------------------------------------------------------------------------- reading history


@contextlib.asynccontextmanager
async def rest_client(fake: FakeDiscord) -> AsyncIterator[discord.Client]:
    """A discord.py client logged in for the REST API only (no gateway, nothing cached)."""
    client = discord.Client(intents=discord.Intents(guilds=True))
    async with client:
        await client.login(fake.token)
        yield client


async def test_history_pages_newest_first_even_after_a_message(fake: FakeDiscord) -> None:
    """Discord sorts every page newest first; `after=X` gives the messages just after X (so
    discord.py's oldest_first reads forwards), `before=X` those just before, `around=X` both."""
    channel = fake.add_channel("busy")
    sent = [fake.user_message(channel, f"m{i}") for i in range(250)]
    async with rest_client(fake) as client:
        remote = await client.fetch_channel(channel.id)
        assert isinstance(remote, discord.TextChannel)
        forwards = [m.content async for m in remote.history(limit=None, oldest_first=True)]
        assert forwards == [f"m{i}" for i in range(250)]
        backwards = [m.content async for m in remote.history(limit=120)]
        assert backwards == [f"m{i}" for i in range(249, 129, -1)]
        around = [m.content async for m in remote.history(limit=5, around=sent[100])]
        assert sorted(around) == ["m100", "m101", "m102", "m98", "m99"]

        raw = await client.http.logs_from(channel.id, 3, after=sent[10].id)
        assert [m["content"] for m in raw] == ["m13", "m12", "m11"]  # oldest after X, newest first
        raw = await client.http.logs_from(channel.id, 3, before=sent[10].id)
        assert [m["content"] for m in raw] == ["m9", "m8", "m7"]
        raw = await client.http.logs_from(channel.id, 50)
        assert [m["content"] for m in raw][:2] == ["m249", "m248"]
        assert len(raw) == 50  # the default page


async def test_threads_replies_and_reactions_have_discords_shape(fake: FakeDiscord) -> None:
    general = fake.guild.text_channel
    starter = fake.user_message(general, "Opening", reactions={"🔥": 1})
    thread = fake.add_thread(general, "Talk", starter=starter)
    first = fake.user_message(thread, "first", author=fake.admin)
    reply = fake.user_message(thread, "second", reply_to=first)
    private = fake.add_thread(general, "Ours", private=True, members=[fake.bot])
    async with rest_client(fake) as client:
        fetched = await client.fetch_channel(thread.id)
        assert isinstance(fetched, discord.Thread)
        assert fetched.type is discord.ChannelType.public_thread
        assert fetched.parent_id == general.id
        ours = await client.fetch_channel(private.id)
        assert isinstance(ours, discord.Thread)
        assert ours.type is discord.ChannelType.private_thread
        member = await ours.fetch_member(fake.bot.id)  # GET /channels/{id}/thread-members/{u}
        assert member.id == fake.bot.id
        assert member.thread_id == private.id
        with pytest.raises(discord.NotFound) as unknown:
            await ours.fetch_member(fake.admin.id)
        assert unknown.value.code == 10007

        opening = await client.http.get_message(general.id, starter.id)
        assert opening["thread"]["id"] == str(thread.id)
        assert opening["thread"]["type"] == 11
        assert set(opening["thread"]["thread_metadata"]) >= {"archived", "locked"}
        assert opening["flags"] & FLAG_HAS_THREAD
        answer = await client.http.get_message(thread.id, reply.id)
        assert answer["type"] == 19
        assert answer["message_reference"]["message_id"] == str(first.id)
        referenced = answer.get("referenced_message")
        assert referenced is not None
        assert referenced["content"] == "first"
        deeper = fake.user_message(thread, "third", reply_to=reply)
        chained = await client.http.get_message(thread.id, deeper.id)
        one_level = chained.get("referenced_message")
        assert one_level is not None
        assert one_level["message_reference"]["message_id"] == str(first.id)
        assert "referenced_message" not in one_level  # one level deep, as on Discord
        message = await fetched.fetch_message(reply.id)
        assert message.reference is not None
        assert message.reference.message_id == first.id
        assert message.type is discord.MessageType.reply
        if DISCORD_DATA.is_dir():  # the docs' message, and its reaction, have no key we lack
            real = _load("docs_examples/message_object.json")
            assert set(real) <= set(opening)
            assert set(real["reactions"][0]) <= set(opening["reactions"][0])
            assert opening["reactions"][0]["count"] == 1


async def test_channels_the_bot_may_not_read(fake: FakeDiscord) -> None:
    hidden = fake.add_channel("mods", everyone_can_view=False, bot_can_view=False)
    staff = fake.add_channel("staff", everyone_can_view=False)
    no_history = fake.add_channel("announcements", bot_can_read_history=False)
    secret = fake.user_message(hidden, "secret")
    old = fake.user_message(no_history, "old")
    fake.user_message(staff, "staff talk")
    closed = fake.add_thread(fake.guild.text_channel, "closed", private=True)
    fake.user_message(closed, "psst")
    async with rest_client(fake) as client:
        for channel_id in (hidden.id, closed.id):
            with pytest.raises(discord.Forbidden) as refused:
                await client.fetch_channel(channel_id)
            assert refused.value.code == 50001
            assert refused.value.status == 403
        with pytest.raises(discord.Forbidden):
            await client.http.get_message(hidden.id, secret.id)
        # Visible without READ_MESSAGE_HISTORY: no messages at all, and none by id.
        assert await client.http.logs_from(no_history.id, 50) == []
        with pytest.raises(discord.Forbidden) as refused:
            await client.http.get_message(no_history.id, old.id)
        assert refused.value.code == 50013
        # A private channel: @everyone is denied VIEW_CHANNEL, the bot's role allowed.
        remote = await client.fetch_channel(staff.id)
        assert isinstance(remote, discord.TextChannel)
        everyone = remote.overwrites_for(discord.Object(id=fake.guild.id))
        assert everyone.view_channel is False
        assert [m["content"] for m in await client.http.logs_from(staff.id, 5)] == ["staff talk"]


async def test_without_message_content_rest_sends_others_messages_empty(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Discord blanks content, embeds, attachments and components of others' messages over
    REST too, except those mentioning the bot and the bot's own; a message menu's target
    message keeps its content."""
    async with FakeDiscord(privileged_intents=0) as fake:
        fake.patch_discord(monkeypatch)
        general = fake.guild.text_channel
        theirs = fake.user_message(general, "hidden words", embeds=[{"title": "e"}])
        mentioning = fake.user_message(general, f"<@{fake.bot.id}> can you read this?")
        mine = fake.user_message(general, "my own", author=fake.bot)
        async with rest_client(fake) as client:
            raw = {m["id"]: m for m in await client.http.logs_from(general.id, 10)}
        assert raw[str(theirs.id)]["content"] == ""
        assert raw[str(theirs.id)]["embeds"] == []
        assert raw[str(mentioning.id)]["content"].endswith("can you read this?")
        assert raw[str(mine.id)]["content"] == "my own"
        menu = fake.message_command("Digest this thread", theirs.id)
        resolved = menu.payload["data"]["resolved"]["messages"][str(theirs.id)]
        assert resolved["content"] == "hidden words"


async def test_the_message_menu_interaction_has_the_docs_shape(fake: FakeDiscord) -> None:
    general = fake.guild.text_channel
    starter = fake.user_message(general, "Opening")
    thread = fake.add_thread(general, "Talk", starter=starter)
    inside = fake.user_message(thread, "in the thread")
    menu = fake.message_command("Digest this thread", inside, user=fake.admin)
    data = menu.payload["data"]
    assert menu.payload["type"] == 2
    assert data["type"] == 3
    assert data["target_id"] == str(inside.id)
    assert menu.payload["channel_id"] == str(thread.id)  # used where the message is
    assert menu.payload["channel"]["type"] == 11
    if not DISCORD_DATA.is_dir():
        pytest.skip(NO_DATA)
    real = _load("docs_examples/interaction_message_command.json")
    assert set(real) - {"app_permissions"} <= set(menu.payload)
    assert set(real["data"]) <= set(data)
    real_message = next(iter(real["data"]["resolved"]["messages"].values()))
    ours = data["resolved"]["messages"][str(inside.id)]
    assert set(real_message) <= set(ours)
    assert set(real["member"]) - {"is_pending"} <= set(menu.payload["member"])
