"""A Slack thread digested in that thread (issue 18, scope 2), against the fake Slack with the
real slack-bolt and the real core: `/digest <permalink>` and the "Digest this thread" message
shortcut; a 300-message thread built from a REAL Reddit thread's prose (../shared/data; skipped
without it) read page by page, every quote verbatim and attributed, no bot's words, no Reddit
words in the blocks; a private channel's thread never posted or quoted elsewhere; what Slack
refuses said in one sentence."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.slack_chat.commands import digest_command
from bot.chat_links import slack_permalink
from bot.chat_thread_source import thread_from_history
from bot.chat_threads import ChatThreadRef
from bot.replies import READING_CHAT
from digest import codec
from digest.report import Report
from tests.fakes.slack_server import interactive_form_body, thread_export
from tests.test_chat_threads import REAL_THREAD, assert_no_reddit_words, check_quotes
from tests.test_slack_adapter import (
    SCOPES_BY_METHOD,
    SLACK_DATA,
    Bot,
    MetaSlack,
    check_message,
    running,
    strings,
)

needs_real_thread = pytest.mark.skipif(
    not REAL_THREAD.is_file(),
    reason=f"the real Reddit thread whose prose makes the chat thread is not at {REAL_THREAD}",
)
BOT_WORDS = ("ci-bot notice 7f3a", "digest marker 9c1e", "Build #4812")


@pytest.fixture
async def fake() -> AsyncIterator[MetaSlack]:
    server = MetaSlack()
    async with server:
        yield server


@pytest.fixture
async def bot(fake: MetaSlack, tmp_path: Path) -> AsyncIterator[Bot]:
    async with running(fake, tmp_path) as b:
        yield b


def link(fake: MetaSlack, channel: str, ts: str) -> str:
    return slack_permalink(fake.team_domain, channel, ts)


def seed(fake: MetaSlack, channel: str, name: str, **kw: Any) -> tuple[str, dict[str, Any]]:
    fake.add_channel(channel, name, **kw)
    export = thread_export(REAL_THREAD, count=300, channel=name, bot_id=fake.bot_id)
    return fake.add_thread(channel, export), export


async def digest_report(bot: Bot) -> Report:
    rows = [r for r in await bot.core.storage.jobs() if r.report is not None]
    assert len(rows) == 1
    assert rows[0].report is not None
    return codec.loads(Report, rows[0].report)


def ours(fake: MetaSlack) -> list[Any]:
    """The messages the bot posted (chat.postMessage), not the bots' messages seeded."""
    made = {(c.response or {}).get("ts") for c in fake.calls_to("chat.postMessage")}
    return [m for m in fake.posted if m.ts in made]


def in_thread(fake: MetaSlack, channel: str, root: str) -> list[Any]:
    return [m for m in ours(fake) if m.channel == channel and m.thread_ts == root]


def answers(fake: MetaSlack) -> list[str]:
    """What the asker alone was told (through response_url, or chat.postEphemeral)."""
    return [e.text for e in fake.ephemerals]


@needs_real_thread
async def test_a_300_message_thread_is_digested_in_it(fake: MetaSlack, bot: Bot) -> None:
    root, export = seed(fake, "C0PRODUCT", "product")
    status, ack, _ = await bot.slash(
        "/digest", link(fake, "C0PRODUCT", root), channel_id="C0PRODUCT"
    )
    assert status == 200
    assert READING_CHAT in ack  # acked at once, saying where the digest will go
    await fake.wait_until(lambda: bool(in_thread(fake, "C0PRODUCT", root)), timeout=30.0)
    await bot.settle()
    posted = in_thread(fake, "C0PRODUCT", root)
    assert posted
    assert all(m.bot_id == fake.bot_id for m in posted)
    assert [m for m in ours(fake) if m.thread_ts != root] == []  # nowhere else
    # Read page by page (200 a page: two calls, the second with the cursor).
    pages = [c for c in fake.calls_to("conversations.replies") if c.args.get("ts") == root]
    assert [c.args.get("cursor") or "" for c in pages] == ["", "200"]
    # Names looked up once per person (no message carries its profile here).
    looked_up = [c.args["user"] for c in fake.calls_to("users.info")]
    assert len(looked_up) == len(set(looked_up))
    report = await digest_report(bot)
    texts: dict[str, tuple[str, str]] = {}
    for m in export["messages"]:
        text = m["text"].replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        texts[m["ts"]] = (export["users"].get(m.get("user"), ""), text)
    texts["post"] = texts[root]
    assert check_quotes(report, texts) >= 3
    assert report.thread.num_comments == 297  # the CI app's notice and our earlier digest out
    shown = [s for m in posted for s in strings([m.text, m.blocks])]
    for message in posted:
        check_message(message.text, message.blocks)
    everything = "\n".join(shown)
    for words in BOT_WORDS:
        assert words not in everything
    assert_no_reddit_words(everything)
    assert "reactions" in everything
    assert "messages" in everything
    assert "#product" in everything
    assert {c.method for c in fake.calls} <= set(SCOPES_BY_METHOD)  # the manifest asks for them


@needs_real_thread
async def test_the_message_shortcut_digests_the_thread(fake: MetaSlack, bot: Bot) -> None:
    root, _ = seed(fake, "C0PRODUCT", "product")
    reply = next(m for m in fake.messages_in("C0PRODUCT", thread_ts=root) if m.ts != root)
    payload = fake.message_shortcut_payload("digest_thread", reply.ts, channel="C0PRODUCT")
    status, _, _seconds = await bot.send(interactive_form_body(payload))
    assert status == 200
    await fake.wait_until(lambda: bool(in_thread(fake, "C0PRODUCT", root)), timeout=30.0)
    await bot.settle()
    assert in_thread(fake, "C0PRODUCT", root)


@pytest.mark.skipif(not SLACK_DATA.is_dir(), reason=f"real Slack payloads not at {SLACK_DATA}")
def test_the_real_shortcut_payload_becomes_a_digest_of_its_permalink() -> None:
    payload = json.loads(
        (SLACK_DATA / "interactivity" / "message_action_shortcut.json").read_text(encoding="utf-8")
    )
    command = digest_command(payload)
    assert command["command"] == "/digest"
    assert command["text"] == "https://test-test.slack.com/archives/C111/p1583636382000300"
    assert (command["channel_id"], command["user_id"], command["team_id"]) == (
        "C111", "W111", "T111"
    )  # fmt: skip


async def test_a_private_channels_thread_never_leaves_it(fake: MetaSlack, bot: Bot) -> None:
    fake.add_channel("C0BOARD", "board", is_private=True)
    fake.channels["C0BOARD"].members = ["U0BOB0001", fake.bot_user_id]
    root = fake.add_message("C0BOARD", "Acquisition of Foocorp: we sign on Friday.", "U0BOB0001")
    for i in range(6):
        fake.add_message("C0BOARD", f"Keep Foocorp quiet until then, point {i}.", "U0BOB0001",
                         thread_ts=root)  # fmt: skip
    secret = link(fake, "C0BOARD", root)
    await bot.slash("/digest", secret, user_id="U0ALICE01", channel_id="C0GENERAL")
    await fake.wait_until(lambda: bool(fake.ephemerals), timeout=10.0)
    await bot.settle()
    assert ours(fake) == []  # nothing posted, here or there
    said = answers(fake)
    assert said == [
        "That thread is in a private channel you are not a member of, so I will not digest it."
    ]
    everywhere = " ".join(strings([c.args for c in fake.calls if c.method.startswith("chat.")]))
    assert "Foocorp" not in everywhere + " ".join(said)
    # A member asking from elsewhere: the digest goes in the thread; the asker gets a link.
    fake.channels["C0BOARD"].members.append("U0ALICE01")
    fake.ephemerals.clear()
    await bot.slash("/digest", secret, user_id="U0ALICE01", channel_id="C0GENERAL")
    await fake.wait_until(lambda: bool(in_thread(fake, "C0BOARD", root)), timeout=10.0)
    await bot.settle()
    assert [m.channel for m in ours(fake)] == ["C0BOARD"] * len(ours(fake))
    assert answers(fake) == [
        f"Posted the digest in that thread: https://{fake.team_domain}.slack.com/archives/"
        f"C0BOARD/p{root.replace('.', '')}"
    ]


async def test_what_slack_refuses_is_one_sentence(fake: MetaSlack, bot: Bot) -> None:
    fake.add_channel("C0PRODUCT", "product")
    root = fake.add_message("C0PRODUCT", "Shall we ship on Monday?", "U0BOB0001")
    fake.add_message("C0PRODUCT", "Yes.", "U0CARL001", thread_ts=root)
    fake.history_scope = False
    await bot.slash("/digest", link(fake, "C0PRODUCT", root), channel_id="C0PRODUCT")
    await fake.wait_until(lambda: bool(fake.ephemerals), timeout=10.0)
    await bot.settle()
    assert answers(fake) == [
        "I need the channels:history scope to read threads in #product; ask an admin to "
        "reinstall the app with it."
    ]
    fake.history_scope = True
    fake.channels["C0PRODUCT"].is_member = False
    fake.ephemerals.clear()
    await bot.slash("/digest", link(fake, "C0PRODUCT", root), channel_id="C0PRODUCT")
    await fake.wait_until(lambda: bool(fake.ephemerals), timeout=10.0)
    await bot.settle()
    assert answers(fake) == [
        "I'm not in #product, so I can't read its threads: invite me with /invite @redigest, "
        "then try again."
    ]
    fake.ephemerals.clear()
    gone = link(fake, "C0PRODUCT", "1700000000.000100")
    fake.channels["C0PRODUCT"].is_member = True
    await bot.slash("/digest", gone, channel_id="C0PRODUCT")
    await fake.wait_until(lambda: bool(fake.ephemerals), timeout=10.0)
    await bot.settle()
    assert answers(fake) == [
        "That message is gone (or not in that channel), so there is no thread to digest."
    ]
    assert ours(fake) == []


@needs_real_thread
async def test_the_reading_limit_stops_early_and_says_so(fake: MetaSlack, bot: Bot) -> None:
    root, _ = seed(fake, "C0PRODUCT", "product")
    ref = ChatThreadRef("slack", fake.team_id, "C0PRODUCT", root)
    history = await bot.chat.read_thread(ref, limit=250)
    assert (len(history.replies), history.complete, history.reply_count) == (249, False, 299)
    assert [c.args.get("limit") for c in fake.calls_to("conversations.replies")] == ["200", "50"]
    thread = thread_from_history(history)
    assert thread.post.num_comments == 247 + 50  # both bots' messages out; 50 not read
    assert len(thread.comments) == 247
