"""A chat's own threads (issue 18, scope 2), in the core and at the console: links parsed, the
policy from a ChatHistory to a Thread (bots out, the first message the post, reactions the
scores), where the digest may go (in that thread; a private channel's only for a member), and a
300-message thread built from a REAL Reddit thread's prose (../shared/data; skipped without it)
digested at the console: every quote verbatim and attributed, no bot's words, no Reddit words.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.console_chat import ConsoleChat
from bot.app import open_core
from bot.chat import (
    Delivery,
    EphemeralTarget,
    MessageRef,
    Reaction,
    Request,
    Target,
    ThreadTarget,
)
from bot.chat_links import chat_thread_ref, discord_link, slack_permalink
from bot.chat_thread_source import may_post_in_thread, thread_from_history, title_of
from bot.chat_threads import ChatHistory, ChatMessage, ChatThreadReader, ChatThreadRef
from bot.cli import _console
from bot.core import Core, CoreConfig, Engines
from bot.ports import InvalidThreadUrl
from bot.replies import READING_CHAT, acknowledgement
from bot.settings import load_settings
from digest.pipeline import DigestEngine
from digest.render.document import document
from digest.render.markdown import markdown_of, text_of
from digest.report import Depth, Report
from digest.sentiment import make_scorer
from digest.text import normalize_ws
from tests.fakes.slack_server import thread_export
from tests.support.fake_chat import FakeChat
from tests.support.fake_source import FakeSource

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL_THREAD = SHARED / "reddit" / "praw" / "announcements_fo7p5b_2020.json"
needs_real_thread = pytest.mark.skipif(
    not REAL_THREAD.is_file(),
    reason=f"the real Reddit thread whose prose makes the 300-message chat thread is not at "
    f"{REAL_THREAD} (../shared/data lives beside the repo)",
)
ENGINE = DigestEngine(scorer=make_scorer())
T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
# What a chat thread's report must never say of its own (quotes and links are people's words).
REDDIT_WORDS = re.compile(
    r"(?i:\bup-?vot\w*|\bdown-?vot\w*|\bsub-?reddits?\b|\bkarma\b|\bcomments?\b|\bcommented\b"
    r"|\b\d[\d,]*\s+points?\b)|\bOP\b|(?<![\w/.])[ru]/\w"
)


def own_words(rendered: str) -> str:
    """A rendered report without what people wrote: quotes (“…”) and links."""
    text = re.sub(r"“[^”]*”", "“…”", rendered, flags=re.S)
    text = re.sub(r"<[^<>\s]*://[^<>]*>", "<link>", text)
    return re.sub(r"https?://\S+", "<link>", text)


def assert_no_reddit_words(rendered: str) -> None:
    said = [m.group(0) for m in REDDIT_WORDS.finditer(own_words(rendered))]
    assert not said, f"a chat thread's report says {said}"


# ----------------------------------------------------------------------------- links


def test_slack_discord_and_console_links_name_a_thread() -> None:
    slack = "https://acme.slack.com/archives/C0123ABCD/p1712345678123456"
    ref = chat_thread_ref(slack, platform="slack", server_id="T1", user_id="U1")
    assert ref == ChatThreadRef("slack", "T1", "C0123ABCD", "1712345678.123456", asker_id="U1")
    # A reply's link names its thread: the first message's ts.
    reply = slack.replace("p1712345678123456", "p1712345999000100") + (
        "?thread_ts=1712345678.123456&cid=C0123ABCD"
    )
    reply_ref = chat_thread_ref(f"<{reply}>", platform="slack", server_id="T1")
    assert reply_ref is not None
    assert reply_ref.message_id == "1712345678.123456"
    assert slack_permalink("acme", "C0123ABCD", "1712345678.123456") == slack
    for host in ("discord.com", "ptb.discord.com", "canary.discord.com", "discordapp.com"):
        link = f"https://{host}/channels/111111111111111111/222222222222222222/333333333333333333"
        got = chat_thread_ref(link, platform="discord", server_id="111111111111111111")
        assert got == ChatThreadRef(
            "discord", "111111111111111111", "222222222222222222", "333333333333333333"
        )
    assert discord_link("1", "2", "3") == "https://discord.com/channels/1/2/3"
    console = chat_thread_ref("m12", platform="console", server_id="console", channel_id="general")
    assert console == ChatThreadRef("console", "console", "general", "m12")
    # Reddit links and a console reference outside the console are not chat links.
    assert chat_thread_ref("https://www.reddit.com/r/x/comments/abc123/t/", platform="slack",
                           server_id="T1") is None  # fmt: skip
    assert chat_thread_ref("m12", platform="slack", server_id="T1") is None
    assert acknowledgement("digest", slack) == READING_CHAT


def test_a_link_to_another_platform_or_no_message_is_one_sentence() -> None:
    discord = (
        "https://discord.com/channels/111111111111111111/222222222222222222/333333333333333333"
    )
    with pytest.raises(InvalidThreadUrl) as refused:
        chat_thread_ref(discord, platform="slack", server_id="T1")
    assert refused.value.user_message == (
        "That is a Discord link: I can only digest threads of the Slack I am asked in."
    )
    with pytest.raises(InvalidThreadUrl, match="names no message"):
        chat_thread_ref("https://acme.slack.com/archives/C0123ABCD", platform="slack",
                        server_id="T1")  # fmt: skip
    with pytest.raises(InvalidThreadUrl, match="names no message"):
        chat_thread_ref("https://discord.com/channels/1/2", platform="discord", server_id="1")


# ----------------------------------------------------------------------------- the policy


def msg(mid: str, author: str, text: str, minutes: int, **kw: Any) -> ChatMessage:
    return ChatMessage(mid, f"U-{author}", author, text, T0 + timedelta(minutes=minutes), **kw)


def history(replies: tuple[ChatMessage, ...], **kw: Any) -> ChatHistory:
    ref = ChatThreadRef("discord", "G1", "C1", "r1")
    root = msg("r1", "ann", "Which backup tool do you trust?\nWe lost a disk last week.", 0,
               reactions=4)  # fmt: skip
    base: dict[str, Any] = {"ref": ref, "place": "#ops", "private": False,
                            "permalink": "https://discord.com/channels/G1/C1/r1", "root": root,
                            "replies": replies}  # fmt: skip
    return ChatHistory(**(base | kw))


def test_a_history_becomes_a_thread_without_bots() -> None:
    replies = (
        msg("a", "bo", "Restic, with a second copy offsite.", 1, reactions=3),
        msg("b", "cy", "Restic too, but test your restores.", 2, reply_to="a"),
        msg("c", "redigest", "Digest of this thread: …", 3, from_bot=True),
        msg("d", "dee", "Borg has served me for years.", 4, reply_to="b", reactions=1),
        msg("e", "ann", "Thanks all, restic it is.", 5, reply_to="zzz"),  # parent not read
        msg("f", "ci", "", 6),  # a file with no text
    )
    thread = thread_from_history(history(replies, reply_count=9))
    post = thread.post
    assert post.id == "discord:C1:r1"
    assert post.title == "Which backup tool do you trust?"
    assert post.body.startswith("Which backup tool")  # the whole first message, quotable
    assert (post.author, post.score, post.upvote_ratio, post.subreddit) == ("ann", 4, None, "")
    by_id = {c.id: c for c in thread.comments}
    assert "c" not in by_id
    assert "f" not in by_id
    assert [c.id for c in thread.comments] == ["a", "b", "d", "e"]  # parents first
    assert (by_id["b"].parent_id, by_id["b"].depth) == ("a", 2)
    assert (by_id["d"].parent_id, by_id["d"].depth, by_id["d"].score) == ("b", 3, 1)
    assert (by_id["e"].parent_id, by_id["e"].depth) == (None, 1)
    assert by_id["e"].is_submitter
    assert not by_id["a"].is_submitter
    # 4 kept, and 3 the platform counts that were not read (9 replies, 6 read).
    assert post.num_comments == 4 + 3
    assert thread.origin.kind == "discord"
    assert thread.origin.item == ("message", "messages")
    assert thread.place == "#ops"


def test_titles_are_the_first_line_shortened_at_a_word() -> None:
    assert title_of("\n  Short title  \nbody") == "Short title"
    long = "word " * 40
    shown = title_of(long)
    assert shown.endswith("…")
    assert len(shown) <= 90
    assert " wor…" not in shown


# ----------------------------------------------------------------------------- core: privacy


@dataclass
class ReadingChat(FakeChat):
    """The fake chat as a platform with threads: `threads` by the first message's id."""

    platform: str = "discord"
    threads: dict[str, ChatHistory] = field(default_factory=dict)
    asked: list[ChatThreadRef] = field(default_factory=list)

    async def read_thread(self, ref: ChatThreadRef, *, limit: int) -> ChatHistory:
        self.asked.append(ref)
        found = self.threads.get(ref.message_id) or next(
            h for h in self.threads.values() if h.root.id == ref.message_id
        )
        member = found.asker_is_member if found.private else None
        return replace(found, ref=replace(found.ref, asker_id=ref.asker_id),
                       asker_is_member=member)  # fmt: skip


def discord_request(text: str, channel: str, user: str = "U9", token: str = "t1") -> Request:
    return Request("discord", "G1", channel, user, "digest", text, reply_token=token)


@pytest.fixture
async def core_with(tmp_path: Path) -> AsyncIterator[tuple[Core, ReadingChat]]:
    chat = ReadingChat()
    async with AsyncExitStack() as stack:
        core = await open_core(
            stack,
            tmp_path / "bot.sqlite3",
            source=FakeSource(),
            engines=Engines({"offline": ENGINE}),
            chats={"discord": chat},
            config=CoreConfig(workers=1),
        )
        yield core, chat


def secret_thread(member: bool | None) -> ChatHistory:
    replies = tuple(
        msg(f"s{i}", name, f"The acquisition of Foocorp closes on {i} May, keep it quiet.", i)
        for i, name in enumerate(("bo", "cy", "dee", "eve", "fay"), 1)
    )
    ref = ChatThreadRef("discord", "G1", "C-SECRET", "r1")
    return replace(history(replies), ref=ref, place="#board", private=True,
                   asker_is_member=member)  # fmt: skip


SECRET_LINK = (
    "https://discord.com/channels/111111111111111111/222222222222222222/333333333333333333"
)


async def test_a_private_channels_thread_is_never_posted_or_quoted_elsewhere(
    core_with: tuple[Core, ReadingChat],
) -> None:
    core, chat = core_with
    ref = chat_thread_ref(SECRET_LINK, platform="discord", server_id="G1")
    assert ref is not None
    for member in (False, None):  # not a member; membership unknown (a DM, a private thread)
        chat.threads[ref.message_id] = replace(secret_thread(member), ref=ref)
        chat.posts.clear()
        reply = await core.handle_request(discord_request(SECRET_LINK, "C-OPEN", token=str(member)))
        assert reply is None  # nothing said now: the thread is read by the job
        while await core.run_one_job() is not None:
            pass
        assert [p.ephemeral for p in chat.posts] == [True]  # only the asker hears, in one line
        refusal = chat.posts[0]
        assert isinstance(refusal.target, EphemeralTarget)
        assert refusal.target.channel_id == "C-OPEN"
        assert "Foocorp" not in refusal.text
        assert "quiet" not in refusal.text
        assert refusal.text.count(". ") == 0
        assert refusal.text.endswith(".")
    # A member asking from another channel: the digest goes in that thread, and the asker is
    # told where (a link, no text of it).
    chat.threads[ref.message_id] = replace(secret_thread(True), ref=ref)
    chat.posts.clear()
    await core.handle_request(discord_request(SECRET_LINK, "C-OPEN", token="member"))
    while await core.run_one_job() is not None:
        pass
    digest, note = chat.posts
    assert isinstance(digest.target, ThreadTarget)  # under the thread's first message
    assert digest.target.parent == MessageRef("discord", ref.channel_id, "r1")
    assert digest.delivery.report is not None
    assert note.ephemeral
    assert note.text == ("Posted the digest in that thread: https://discord.com/channels/G1/C1/r1")
    # The flag under the brief digest asks for the deep one: the thread is read again (by the
    # one who flagged, in the thread itself) and the analysis goes under the digest.
    emoji = digest.delivery.offer_emoji
    assert emoji is not None
    chat.posts.clear()
    await core.handle_reaction(Reaction(digest.ref, emoji, "U8", "G1"))
    while await core.run_one_job() is not None:
        pass
    (deep,) = chat.posts
    assert isinstance(deep.target, ThreadTarget)
    assert deep.target.parent == digest.ref
    assert deep.delivery.report is not None
    assert deep.delivery.report.depth is Depth.DEEP
    assert chat.asked[-1] == ChatThreadRef("discord", "G1", ref.channel_id, "r1", asker_id="U8")
    # A member's digest was made and kept: a non-member's /digest elsewhere is still refused
    # (the thread is read, and checked, before any kept report could be reused).
    chat.threads[ref.message_id] = replace(secret_thread(False), ref=ref)
    chat.posts.clear()
    await core.handle_request(discord_request(SECRET_LINK, "C-OPEN", user="U7", token="again"))
    while await core.run_one_job() is not None:
        pass
    assert [p.ephemeral for p in chat.posts] == [True]
    assert "Foocorp" not in chat.posts[0].text


async def test_a_chat_without_a_reader_or_a_foreign_link_is_one_sentence(
    core_with: tuple[Core, ReadingChat], tmp_path: Path
) -> None:
    core, _chat = core_with
    slack_link = "https://acme.slack.com/archives/C0123ABCD/p1712345678123456"
    reply = await core.handle_request(discord_request(slack_link, "C1"))
    assert reply is not None
    assert (
        reply.text
        == "That is a Slack link: I can only digest threads of the Discord I am asked in."
    )
    plain = FakeChat(platform="discord")  # a chat adapter that reads no threads
    assert not isinstance(plain, ChatThreadReader)
    core.chats["discord"] = plain
    await core.handle_request(discord_request(SECRET_LINK, "C1"))
    while await core.run_one_job() is not None:
        pass
    assert [p.text for p in plain.posts] == ["This bot cannot read Discord threads yet."]


# ----------------------------------------------------------------------------- the console


class RecordingConsole(ConsoleChat):
    """The console, keeping what it posted (the reports, for their quotes)."""

    def __init__(self, out: io.StringIO) -> None:
        super().__init__(out)
        self.delivered: list[tuple[Target, Delivery]] = []

    async def post(self, target: Target, delivery: Delivery, *,
                   idempotency_key: str | None = None) -> list[MessageRef]:  # fmt: skip
        self.delivered.append((target, delivery))
        return await super().post(target, delivery, idempotency_key=idempotency_key)


def export_file(tmp_path: Path, **kw: Any) -> tuple[Path, dict[str, Any]]:
    export = thread_export(REAL_THREAD, count=300, **kw)
    path = tmp_path / "thread.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    return path, export


def check_quotes(report: Report, texts: dict[str, tuple[str, str]]) -> int:
    """Every quote of the report is verbatim in the message it names, by its author; returns
    how many were checked. `texts`: message id → (author, text)."""
    checked = 0
    for quote in report_quotes(report):
        key = quote.comment_id or "post"
        author, text = texts[key]
        assert quote.author == author, (quote, author)
        assert normalize_ws(quote.text) in normalize_ws(text), quote.text
        checked += 1
    return checked


def report_quotes(report: Report) -> Iterator[Any]:
    from digest.report import Quote

    seen: set[int] = set()

    def walk(obj: Any) -> Iterator[Quote]:
        if isinstance(obj, Quote):
            if id(obj) not in seen:
                seen.add(id(obj))
                yield obj
        elif isinstance(obj, tuple | list):
            for item in obj:
                yield from walk(item)
        elif hasattr(obj, "__dataclass_fields__"):
            for name in obj.__dataclass_fields__:
                yield from walk(getattr(obj, name))

    yield from walk(report)


@needs_real_thread
@pytest.mark.parametrize("depth", [Depth.BRIEF, Depth.DEEP])
async def test_a_300_message_thread_at_the_console(tmp_path: Path, depth: Depth) -> None:
    path, export = export_file(tmp_path)
    out = io.StringIO()
    chat = RecordingConsole(out)
    async with AsyncExitStack() as stack:
        core = await open_core(stack, tmp_path / "bot.sqlite3", source=FakeSource(),
                               engines=Engines({"offline": ENGINE}),
                               chats={"console": chat})  # fmt: skip
        control: Any = None
        inbox = type("I", (), {"on_request": core.handle_request})()
        await chat.handle_line(f":thread {path}", inbox, control)
        first = re.findall(
            r"── \[(m\d+)…(m\d+)\] a thread of 300 messages in #product", out.getvalue()
        )
        assert first, out.getvalue()
        root = first[0][0]
        await chat.handle_line(f"/digest {root} {depth.value}", inbox, control)
        while await core.run_one_job() is not None:
            pass
    (target, delivery), *_ = chat.delivered
    assert isinstance(target, ThreadTarget)
    assert target.parent.message_id == root
    report = delivery.report
    assert report is not None
    ids = [f"m{int(root[1:]) + i}" for i in range(300)]
    by_id = dict(zip(ids, export["messages"], strict=True))
    names = export["users"]
    texts: dict[str, tuple[str, str]] = {}
    for mid, m in by_id.items():
        text = m["text"].replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        texts[mid] = (m.get("username") or names.get(m.get("user"), ""), text)
    texts["post"] = texts[root]
    assert check_quotes(report, texts) >= (3 if depth is Depth.BRIEF else 10)
    rendered = out.getvalue().split(f"in the thread under {root} ──", 1)[1]
    for bot_words in ("ci-bot notice 7f3a", "digest marker 9c1e", "Build #4812"):
        assert bot_words not in rendered
    # Both of the bots' messages are left out of what is counted, too.
    assert report.thread.num_comments == 297
    for shown in (rendered, markdown_of(document(report)), text_of(document(report))):
        assert_no_reddit_words(shown)
    assert "reactions" in rendered
    assert "messages" in rendered
    if depth is Depth.DEEP:  # the chart's title and alt text speak of messages too
        assert delivery.files
        for chart in delivery.files:
            assert_no_reddit_words(f"{chart.title} {chart.alt_text}")


@needs_real_thread
async def test_the_console_transcript(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As a person runs it: `redigest console`, `:thread FILE`, `/digest m1`."""
    path, _ = export_file(tmp_path)
    monkeypatch.setenv("REDIGEST_DATABASE_PATH", str(tmp_path / "console.sqlite3"))

    async def lines() -> AsyncIterator[str]:
        for line in (f":thread {path}", "/digest m1", ":thread /nonexistent.json"):
            yield line + "\n"

    out = io.StringIO()
    await _console(load_settings(env_file=None), lines(), out)
    text = out.getvalue()
    assert "── [m1…m300] a thread of 300 messages in #product, started by" in text
    assert "── [m301] in the thread under m1 ──" in text
    assert "#product · Introducing Reddit Polls" in text
    assert "No such file: /nonexistent.json." in text
    assert_no_reddit_words(text.split("── [m301]", 1)[1])


def test_where_a_private_threads_digest_may_go() -> None:
    private = replace(history(()), private=True, thread_channel_id="T1")
    assert may_post_in_thread(private, "C1") is None  # asked in its channel
    assert may_post_in_thread(private, "T1") is None  # asked in the thread itself
    assert may_post_in_thread(replace(private, asker_is_member=True), "C2") is None
    refused = may_post_in_thread(replace(private, asker_is_member=False), "C2")
    assert refused == (
        "That thread is in a private channel you are not a member of, so I will not digest it."
    )
    assert may_post_in_thread(private, "C2") == (
        "That thread is in a private conversation, so I only digest it when asked there."
    )
    assert may_post_in_thread(replace(private, private=False), "C2") is None
