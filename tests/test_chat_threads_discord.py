"""Discord threads read for a digest (issue 18, scope 2): the real discord.py against the fake
Discord, through `DiscordChat.read_thread` (the `ChatThreadReader` port), as a post-only worker
reads them (REST only, no gateway cache) and as the gateway process does."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import warnings
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.discord_chat.chat import DiscordChat, DiscordConfig
from adapters.reddit_source.thread_json import thread_from_json_text
from bot.chat import Inbox, Reaction, Reply, Request
from bot.chat_threads import ChatHistory, ChatThreadReader, ChatThreadRef, ThreadUnreadable
from digest import codec
from digest.model import ContentState
from digest.report import Report
from tests.fakes.discord_server import (
    PRIVATE_THREAD,
    FakeChannel,
    FakeDiscord,
    FakeInteraction,
    FakeUser,
    Intent,
    Permission,
    StoredMessage,
)
from tests.test_chat_threads import assert_no_reddit_words, check_quotes
from tests.test_discord_adapter import Bot as AdapterBot
from tests.test_discord_adapter import running_bot
from tests.test_slack_adapter import strings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord  # noqa: F401  (imported once, warning silenced, before the adapter's use)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REDDIT_THREAD = SHARED_DATA / "reddit" / "praw" / "announcements_fo7p5b_2020.json"
NO_DATA = f"the real Reddit thread {REDDIT_THREAD} is absent (the data lives beside the repo)"


def config_for(fake: FakeDiscord, **overrides: Any) -> DiscordConfig:
    return DiscordConfig(
        token=fake.token,
        api_base=fake.api_base,
        gateway_url=fake.gateway_url,
        guild_ready_timeout=0.05,
        **overrides,
    )


@contextlib.asynccontextmanager
async def worker(fake: FakeDiscord) -> AsyncIterator[DiscordChat]:
    """A post-only DiscordChat: logged in for the REST API, no gateway, nothing cached."""
    async with DiscordChat(config_for(fake, post_only=True)) as chat:
        yield chat


def ref_to(fake: FakeDiscord, message: StoredMessage) -> ChatThreadRef:
    return ChatThreadRef("discord", str(fake.guild.id), str(message.channel_id), str(message.id))


async def read(fake: FakeDiscord, message: StoredMessage, limit: int = 500) -> ChatHistory:
    async with worker(fake) as chat:
        return await chat.read_thread(ref_to(fake, message), limit=limit)


async def refusal(fake: FakeDiscord, ref: ChatThreadRef) -> str:
    async with worker(fake) as chat:
        with pytest.raises(ThreadUnreadable) as caught:
            await chat.read_thread(ref, limit=100)
    return str(caught.value)


def one_sentence(text: str) -> bool:
    return text.endswith(".") and len(re.findall(r"[.!?](?:\s|$)", text)) == 1


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


# --------------------------------------------------------------------------- what is read


async def test_discord_chat_is_a_thread_reader(fake: FakeDiscord) -> None:
    async with worker(fake) as chat:
        assert isinstance(chat, ChatThreadReader)
        assert chat.platform == "discord"


async def test_a_thread_opened_on_a_message_is_read_from_that_message(fake: FakeDiscord) -> None:
    general = fake.guild.text_channel
    ana = fake.add_user("ana", global_name="Ana")
    starter = fake.user_message(general, "Which local model for code review?", author=ana)
    thread = fake.add_thread(general, "Code review models", starter=starter)
    first = fake.user_message(thread, "Qwen 2.5 Coder 32B, easily.", reactions={"👍": 3, "🔥": 1})
    fake.user_message(thread, f"Agreed with <@{fake.plain.id}>, at Q4 it fits in 24 GB.",
                      author=fake.admin, reply_to=first)  # fmt: skip
    fake.user_message(thread, "Digest posted", author=fake.bot)

    for pointed in (starter, first):  # the menu on the first message, or on a reply
        history = await read(fake, pointed)
        assert history.root.text == "Which local model for code review?"
        assert history.root.author_name == "Ana"
        assert [m.text for m in history.replies] == [
            "Qwen 2.5 Coder 32B, easily.",
            "Agreed with @Bob, at Q4 it fits in 24 GB.",
            "Digest posted",
        ]
        assert [m.reply_to for m in history.replies] == [None, str(first.id), None]
        assert [m.from_bot for m in history.replies] == [False, False, True]
        assert history.replies[0].reactions == 4
        assert history.replies[1].author_name == "Alice (mod)"
        assert history.thread_channel_id == str(thread.id)
        assert history.ref == ChatThreadRef(
            "discord", str(fake.guild.id), str(general.id), str(starter.id)
        )
        assert history.permalink == (
            f"https://discord.com/channels/{fake.guild.id}/{general.id}/{starter.id}"
        )
        assert history.place == "#Code review models"
        assert history.complete
        assert not history.private
        assert history.root.created.utcoffset() is not None


async def test_a_reply_chain_outside_threads(fake: FakeDiscord) -> None:
    general = fake.guild.text_channel
    top = fake.user_message(general, "Is llama.cpp's new server any good?")
    fake.user_message(general, "unrelated chatter", author=fake.admin)
    answer = fake.user_message(general, "Yes, with --jinja.", author=fake.admin, reply_to=top)
    deeper = fake.user_message(general, "Which flags?", reply_to=answer)
    fake.user_message(general, "another unrelated line", author=fake.owner)

    history = await read(fake, deeper)  # pointed at a reply: the whole chain
    assert history.root.id == str(top.id)
    assert [m.id for m in history.replies] == [str(answer.id), str(deeper.id)]
    assert [m.reply_to for m in history.replies] == [None, str(answer.id)]
    assert history.thread_channel_id is None
    assert history.place == "#general"
    assert history.complete


async def test_the_limit_keeps_the_first_messages_and_says_it_is_incomplete(
    fake: FakeDiscord,
) -> None:
    general = fake.guild.text_channel
    starter = fake.user_message(general, "first")
    thread = fake.add_thread(general, "long", starter=starter)
    for i in range(250):
        fake.user_message(thread, f"reply {i}")
    history = await read(fake, starter, limit=120)
    assert [m.text for m in history.replies] == [f"reply {i}" for i in range(119)]
    assert not history.complete
    assert (await read(fake, starter, limit=251)).complete


async def test_a_standalone_thread_starts_with_its_own_first_message(fake: FakeDiscord) -> None:
    general = fake.guild.text_channel
    thread = fake.add_thread(general, "no starter", members=[fake.bot])
    first = fake.user_message(thread, "opening line")
    fake.user_message(thread, "second line", author=fake.admin)
    history = await read(fake, first)
    assert history.root.text == "opening line"
    assert [m.text for m in history.replies] == ["second line"]
    assert history.ref.channel_id == str(thread.id)
    assert history.thread_channel_id == str(thread.id)


async def test_mentions_become_names_and_never_ping(fake: FakeDiscord) -> None:
    general = fake.guild.text_channel
    mods = fake.guild.role("Moderator")
    text = (
        f"@everyone look: <@{fake.admin.id}> and <@&{mods.id}> in <#{general.id}> "
        "<:blobcat:123456789012345678> </digest:123456789012345678> <t:1700000000:R> @here"
    )
    top = fake.user_message(general, text)
    history = await read(fake, top)
    assert history.root.text == (
        "@\u200beveryone look: @Alice (mod) and @Moderator in #general :blobcat: /digest "
        "2023-11-14 22:13 UTC @\u200bhere"
    )


async def test_webhooks_and_bots_are_flagged(fake: FakeDiscord) -> None:
    general = fake.guild.text_channel
    top = fake.user_message(general, "top")
    other_bot = fake.add_user("otherbot", bot=True)
    fake.user_message(general, "from a webhook", webhook=True, reply_to=top)
    fake.user_message(general, "from a bot", author=other_bot, reply_to=top)
    fake.user_message(general, "from a person", author=fake.admin, reply_to=top)
    history = await read(fake, top)
    assert [(m.text, m.from_bot) for m in history.replies] == [
        ("from a webhook", True),
        ("from a bot", True),
        ("from a person", False),
    ]


# --------------------------------------------------------------------------- privacy


async def test_privacy_follows_who_may_see_the_channel(fake: FakeDiscord) -> None:
    hidden = fake.add_channel("staff", everyone_can_view=False)
    secret = fake.user_message(hidden, "the plan")
    assert (await read(fake, secret)).private

    general = fake.guild.text_channel
    starter = fake.user_message(general, "public question")
    fake.add_thread(general, "public", starter=starter)
    assert not (await read(fake, starter)).private

    private = fake.add_thread(general, "just us", private=True, members=[fake.bot])
    inside = fake.user_message(private, "whisper")
    history = await read(fake, inside)
    assert history.private
    assert fake.channels[int(history.thread_channel_id or 0)].type == PRIVATE_THREAD

    starter2 = fake.user_message(hidden, "staff question")
    fake.add_thread(hidden, "staff thread", starter=starter2)
    assert (await read(fake, starter2)).private  # a public thread in a private channel


async def test_for_a_private_thread_the_reader_says_whether_the_asker_may_read_it(
    fake: FakeDiscord,
) -> None:
    dana = fake.add_user("dana", global_name="Dana")
    staff = fake.add_channel("staff", everyone_can_view=False, viewers=[dana])
    general = fake.guild.text_channel
    closed = fake.add_thread(general, "just us", private=True, owner=dana, members=[fake.bot])
    in_staff = fake.user_message(staff, "staff only")
    in_closed = fake.user_message(closed, "thread only")
    public = fake.user_message(general, "hello all")

    async def member(message: StoredMessage, who: FakeUser) -> bool | None:
        ref = replace(ref_to(fake, message), asker_id=str(who.id))
        async with worker(fake) as chat:
            history = await chat.read_thread(ref, limit=10)
        assert history.ref.asker_id == str(who.id)
        return history.asker_is_member

    assert await member(in_staff, dana) is True  # let in by a member overwrite
    assert await member(in_staff, fake.plain) is False
    assert await member(in_staff, fake.owner) is True  # the owner sees everything
    assert await member(in_closed, dana) is True  # a member of the private thread
    assert await member(in_closed, fake.plain) is False
    assert await member(in_closed, fake.admin) is True  # a moderator: Manage Threads
    assert await member(public, fake.plain) is None  # not private: nothing to check
    stranger = FakeUser(fake.snowflake(), "stranger")  # not in that server at all
    assert await member(in_staff, stranger) is False


async def test_unreadable_roles_count_as_private(fake: FakeDiscord) -> None:
    top = fake.user_message(fake.guild.text_channel, "hello")
    fake.fail_next(r"^/guilds/\d+$", 403, code=50001, message="Missing Access")
    assert (await read(fake, top)).private


# --------------------------------------------------------------------------- refusals


async def test_a_channel_the_bot_cannot_see_is_answered_in_one_sentence(
    fake: FakeDiscord,
) -> None:
    hidden = fake.add_channel("mods-only", everyone_can_view=False, bot_can_view=False)
    secret = fake.user_message(hidden, "nobody else may read this")
    said = await refusal(fake, ref_to(fake, secret))
    assert said.startswith("I cannot see that channel: give my role View Channel and Read")
    assert one_sentence(said)

    no_history = fake.add_channel("no-history", bot_can_read_history=False)
    msg = fake.user_message(no_history, "old news")
    said = await refusal(fake, ref_to(fake, msg))
    assert said.startswith("I cannot see #no-history: give my role View Channel and Read")

    private = fake.add_thread(fake.guild.text_channel, "not for bots", private=True)
    inside = fake.user_message(private, "psst")
    said = await refusal(fake, ref_to(fake, inside))
    assert "for a private thread, add me to it" in said
    assert "psst" not in said


async def test_unknown_channels_and_messages(fake: FakeDiscord) -> None:
    general = fake.guild.text_channel
    gid = str(fake.guild.id)
    said = await refusal(fake, ChatThreadRef("discord", gid, str(general.id), "123456789012345678"))
    assert said.startswith("That message does not exist")
    said = await refusal(fake, ChatThreadRef("discord", gid, "123456789012345678", "1234"))
    assert said.startswith("That channel or thread does not exist")
    other = fake.add_guild("Other server")
    said = await refusal(
        fake, ChatThreadRef("discord", str(other.id), str(general.id), str(general.id))
    )
    assert said.startswith("That link's channel is not in the server")
    assert all(one_sentence(s) for s in (said,))


async def test_without_the_message_content_intent_the_reader_says_so() -> None:
    privileged = Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES  # Message Content not enabled
    async with FakeDiscord(privileged_intents=privileged) as fake:
        general = fake.guild.text_channel
        starter = fake.user_message(general, "what do you think?")
        thread = fake.add_thread(general, "opinions", starter=starter)
        fake.user_message(thread, "I think so", author=fake.admin)
        fake.user_message(thread, "Earlier digest", author=fake.bot)
        said = await refusal(fake, ref_to(fake, starter))
        assert said.startswith("I need the Message Content intent to read other people's")
        assert "Privileged Gateway Intents" in said
        assert one_sentence(said)


# --------------------------------------------------------------------------- a real thread


def real_thread_messages(fake: FakeDiscord, thread: FakeChannel, n: int) -> list[StoredMessage]:
    """`n` messages written from a real Reddit thread's comments, in its order, each by a
    Discord user named after the comment's author, answering its parent comment's message."""
    if not REDDIT_THREAD.is_file():
        pytest.skip(NO_DATA)
    parsed = thread_from_json_text(REDDIT_THREAD.read_text(encoding="utf-8"))
    users: dict[str, FakeUser] = {}
    by_comment: dict[str, StoredMessage] = {}
    out: list[StoredMessage] = []
    for comment in parsed.comments:
        body = comment.body.strip()
        if comment.state is not ContentState.PRESENT or not body or len(body) > 2000:
            continue
        if not comment.author:
            continue
        if comment.author not in users:
            name = comment.author
            users[name] = fake.add_user(name.lower()[:32], global_name=name)
        parent = by_comment.get(comment.parent_id or "")
        msg = fake.user_message(
            thread, body, author=users[comment.author], reply_to=parent,
            reactions={"👍": max(comment.score, 0) % 7},
        )  # fmt: skip
        by_comment[comment.id] = msg
        out.append(msg)
        if len(out) == n:
            return out
    pytest.skip(f"{REDDIT_THREAD.name} has fewer than {n} usable comments")


async def test_a_300_message_thread_from_a_real_reddit_thread(fake: FakeDiscord) -> None:
    general = fake.guild.text_channel
    starter = fake.user_message(general, "Let's discuss this thread.", author=fake.admin)
    thread = fake.add_thread(general, "Real discussion", starter=starter)
    written = real_thread_messages(fake, thread, 299)
    history = await read(fake, starter, limit=500)
    assert len(history.replies) == 299
    assert history.complete
    for message, stored in zip(history.replies, written, strict=True):
        assert message.id == str(stored.id)
        assert message.author_name == stored.author.global_name
        assert message.text == stored.content  # verbatim (no mentions in these comments)
        parent = stored.message_reference
        assert message.reply_to == (parent["message_id"] if parent else None)
    pages = [r for r in fake.requests if r.path == f"/channels/{thread.id}/messages"]
    assert len(pages) == 3  # 100 at a time


# --------------------------------------------------------------------------- the message menu


@contextlib.asynccontextmanager
async def gateway_chat(fake: FakeDiscord, inbox: Inbox) -> AsyncIterator[DiscordChat]:
    """A DiscordChat connected to the gateway, handing requests to `inbox`."""
    async with DiscordChat(config_for(fake, guild_ids=(fake.guild.id,))) as chat:
        task = asyncio.create_task(chat.run(inbox))
        ready = asyncio.create_task(chat.wait_until_ready())
        await asyncio.wait({task, ready}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            await task
        try:
            yield chat
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def answered(fake: FakeDiscord, interaction: FakeInteraction) -> StoredMessage:
    """The deferred response of `interaction`, once it was edited into an answer."""

    def edited() -> bool:
        original = interaction.original_message_id
        return original is not None and bool(fake.message(original).edits)

    await fake.wait_until(edited)
    return fake.message(interaction.original_message_id or 0)


async def test_the_message_menu_asks_for_the_digest_of_the_messages_thread(
    fake: FakeDiscord,
) -> None:
    general = fake.guild.text_channel
    starter = fake.user_message(general, "Opening")
    thread = fake.add_thread(general, "Talk", starter=starter)
    inside = fake.user_message(thread, "in the thread", author=fake.admin)
    asked: list[Request] = []

    async def on_request(request: Request) -> Reply | None:
        asked.append(request)
        return Reply("Reading that thread…")

    async def on_reaction(reaction: Reaction) -> str | None:
        raise AssertionError("the menu is not a reaction")

    async with gateway_chat(fake, Inbox(on_request, on_reaction)) as chat:
        (sync,) = fake.commands_synced
        menus = {c["name"]: c for c in sync.commands if c["type"] == 3}
        assert set(menus) == {"Deep analysis", "Digest this thread"}
        assert menus["Digest this thread"]["contexts"] == [0]  # in servers only
        for message in (inside, starter):
            menu = fake.message_command("Digest this thread", message, user=fake.plain)
            await fake.dispatch("INTERACTION_CREATE", menu.payload)
            original = await answered(fake, menu)
            (callback,) = [c for c in fake.callbacks if c.interaction_id == menu.id]
            assert callback.type == 5  # deferred, "thinking…"
            assert callback.ephemeral  # only the asker sees it
            assert original.content == "Reading that thread…"
        # The invite the bot prints asks for what reading a thread needs.
        assert chat.invite_url is not None
        query = parse_qs(urlsplit(chat.invite_url).query)
        asked_for = int(query["permissions"][0])
        needed = Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY
        assert asked_for & needed == needed
        assert not asked_for & Permission.MANAGE_THREADS  # never more than it needs
    gid = fake.guild.id
    assert [(r.command, r.text, r.channel_id) for r in asked] == [
        ("digest", f"https://discord.com/channels/{gid}/{thread.id}/{inside.id}", str(thread.id)),
        (
            "digest",
            f"https://discord.com/channels/{gid}/{general.id}/{starter.id}",
            str(general.id),
        ),
    ]
    assert {r.user_id for r in asked} == {str(fake.plain.id)}
    assert {r.server_id for r in asked} == {str(gid)}


# --------------------------------------------------------------------------- with the core

BOT_WORDS = ("ci-bot notice 7f3a", "webhook relay 9c1e", "an earlier digest 5b2d")


async def digest_report(bot: AdapterBot) -> Report:
    rows = [r for r in await bot.core.storage.jobs() if r.report is not None]
    assert len(rows) == 1
    assert rows[0].report is not None
    return codec.loads(Report, rows[0].report)


def bot_posts(fake: FakeDiscord, channel_id: int) -> list[StoredMessage]:
    """What the bot posted in a channel or thread (not the messages seeded as its own)."""
    return [m for m in fake.messages_in(channel_id) if m.source == "channel"]


async def told(bot: AdapterBot, interaction: FakeInteraction, n: int = 1) -> list[str]:
    return await bot.answers(interaction, n)


async def test_a_300_message_thread_is_digested_in_that_thread(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    general = fake.guild.text_channel
    starter = fake.user_message(
        general, "Reddit's announcement, discussed here.", author=fake.admin
    )
    thread = fake.add_thread(general, "Announcement talk", starter=starter)
    written = real_thread_messages(fake, thread, 296)
    ci = fake.add_user("ci", global_name="CI", bot=True)
    fake.user_message(thread, f"{BOT_WORDS[0]}: build green", author=ci)
    fake.user_message(thread, f"{BOT_WORDS[1]}: deploy done", webhook=True)
    fake.user_message(thread, f"{BOT_WORDS[2]}: Summary of yesterday", author=fake.bot)
    async with running_bot(fake, tmp_path) as bot:
        link = f"https://discord.com/channels/{fake.guild.id}/{general.id}/{starter.id}"
        asked = await bot.slash("digest", {"url": link})
        await fake.wait_until(lambda: bool(bot_posts(fake, thread.id)), timeout=30.0)
        said = await told(bot, asked)
        report = await digest_report(bot)
    posted = bot_posts(fake, thread.id)
    assert bot_posts(fake, general.id) == []  # in that thread, nowhere else
    assert all(m.author.id == fake.bot.id for m in posted)
    texts = {str(m.id): (m.author.global_name or m.author.username, m.content) for m in written}
    texts["post"] = ("Alice (mod)", starter.content)
    assert check_quotes(report, texts) >= 3
    assert report.thread.num_comments == 296  # the bots' and our own earlier words left out
    everything = "\n".join(s for m in posted for s in strings([m.content, m.embeds]))
    for words in BOT_WORDS:
        assert words not in everything
    assert_no_reddit_words(everything)
    assert said == ["Reading that thread… the digest will be posted in it."]


async def test_the_message_menu_digests_the_thread_in_it(fake: FakeDiscord, tmp_path: Path) -> None:
    general = fake.guild.text_channel
    starter = fake.user_message(general, "Shall we move the build to arm64 runners?")
    thread = fake.add_thread(general, "arm64 runners", starter=starter)
    lines = [
        "Yes: the arm64 runners are 40% cheaper per minute for our workload.",
        "The cache is not shared between architectures, so the first week is slower.",
        "We should keep one x86 job for the release artefacts.",
        "Agreed, and pin the toolchain version before switching.",
    ]
    inside = [fake.user_message(thread, text, author=fake.admin) for text in lines]
    async with running_bot(fake, tmp_path) as bot:
        menu = fake.message_command("Digest this thread", inside[2], user=fake.plain)
        await fake.dispatch("INTERACTION_CREATE", menu.payload)
        await fake.wait_until(lambda: bool(bot_posts(fake, thread.id)), timeout=30.0)
        said = await bot.answers(menu)
        report = await digest_report(bot)
    assert said == ["Reading that thread… the digest will be posted in it."]
    assert bot_posts(fake, general.id) == []
    assert report.thread.permalink == (
        f"https://discord.com/channels/{fake.guild.id}/{general.id}/{starter.id}"
    )
    texts = {str(m.id): ("Alice (mod)", m.content) for m in inside}
    texts["post"] = ("Bob", starter.content)
    assert check_quotes(report, texts) >= 1


async def test_a_private_channels_thread_is_never_posted_or_quoted_elsewhere(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    dana = fake.add_user("dana", global_name="Dana")
    board = fake.add_channel("board", everyone_can_view=False, viewers=[dana])
    starter = fake.user_message(board, "Acquisition of Foocorp: we sign on Friday.", author=dana)
    thread = fake.add_thread(board, "Foocorp", starter=starter, owner=dana)
    for i in range(6):
        fake.user_message(thread, f"Keep Foocorp quiet until then, point {i}.", author=dana)
    general = fake.guild.text_channel
    link = f"https://discord.com/channels/{fake.guild.id}/{board.id}/{starter.id}"
    async with running_bot(fake, tmp_path) as bot:
        asked = await bot.slash("digest", {"url": link}, user=fake.plain, channel=general)
        said = await bot.answers(asked, 2)
        assert said[1] == (  # not even the private thread's name
            "That thread is in a private channel you are not a member of, so I will not digest it."
        )
        for channel_id in (general.id, board.id, thread.id):
            assert bot_posts(fake, channel_id) == []
        bodies = json.dumps([r.json for r in fake.requests if r.method in ("POST", "PATCH")])
        assert "Foocorp quiet" not in bodies
        assert "sign on Friday" not in bodies

        # Someone who may read it, asking from elsewhere: posted in the thread, told where.
        asked = await bot.slash("digest", {"url": link}, user=dana, channel=general)
        await fake.wait_until(lambda: bool(bot_posts(fake, thread.id)), timeout=30.0)
        said = await bot.answers(asked, 2)
    assert said[1] == f"Posted the digest in that thread: {link}"
    assert bot_posts(fake, general.id) == []
    assert bot_posts(fake, board.id) == []


async def test_what_discord_refuses_is_one_sentence(tmp_path: Path) -> None:
    privileged = Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES  # Message Content not enabled
    async with FakeDiscord(privileged_intents=privileged) as fake:
        general = fake.guild.text_channel
        hidden = fake.add_channel("mods", everyone_can_view=False, bot_can_view=False)
        secret = fake.user_message(hidden, "nobody else may read this")
        starter = fake.user_message(general, "what do you think?")
        thread = fake.add_thread(general, "opinions", starter=starter)
        fake.user_message(thread, "I think so", author=fake.admin)
        gid = fake.guild.id
        async with running_bot(fake, tmp_path) as bot:
            asked = await bot.slash(
                "digest", {"url": f"https://discord.com/channels/{gid}/{hidden.id}/{secret.id}"}
            )
            said = await bot.answers(asked, 2)
            assert said[1].startswith("I cannot see #mods: give my role View Channel and Read")
            asked = await bot.slash(
                "digest", {"url": f"https://discord.com/channels/{gid}/{general.id}/{starter.id}"}
            )
            said = [*said, *(await bot.answers(asked, 2))[1:]]
            assert said[-1].startswith("I need the Message Content intent")
            assert all(one_sentence(s) for s in said)
            assert bot_posts(fake, thread.id) == []
            assert bot_posts(fake, general.id) == []


async def jobs_done(bot: AdapterBot, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Until every job is finished (its posts recorded)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while any(r.status not in ("done", "failed") for r in await bot.core.storage.jobs()):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("jobs still running")
        await asyncio.sleep(0.02)


async def test_the_flag_under_a_thread_digest_brings_its_deep_analysis_there(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    general = fake.guild.text_channel
    starter = fake.user_message(general, "Which backup tool for the NAS?")
    thread = fake.add_thread(general, "NAS backups", starter=starter)
    for text in (
        "restic to B2 has worked for me for three years without a single failed restore.",
        "borg is faster locally but its repository format ties you to borg.",
        "Whatever you pick, test a full restore every quarter, not just the backup job.",
    ):
        fake.user_message(thread, text, author=fake.admin)
    async with running_bot(fake, tmp_path) as bot:
        link = f"https://discord.com/channels/{fake.guild.id}/{general.id}/{starter.id}"
        await bot.slash("digest", {"url": link})
        await fake.wait_until(lambda: bool(bot_posts(fake, thread.id)), timeout=30.0)
        brief = bot_posts(fake, thread.id)[0]
        await fake.wait_until(lambda: ("🔍", fake.bot.id) in brief.reactions)  # the offer
        await jobs_done(bot)  # what was posted is recorded (a person is never that fast)
        flag = fake.reaction_add(thread.id, brief.id, fake.plain.id, "🔍")
        await fake.dispatch("MESSAGE_REACTION_ADD", flag)
        await fake.wait_until(lambda: len(bot_posts(fake, thread.id)) > 1, timeout=30.0)
        deep = bot_posts(fake, thread.id)[1:]
    assert bot_posts(fake, general.id) == []  # the deep analysis too stays in the thread
    shown = "\n".join(s for m in deep for s in strings([m.content, m.embeds]))
    assert "Summary" in shown
    assert "restic" in shown or "borg" in shown
