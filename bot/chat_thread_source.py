"""A chat's own thread as a digest: the core's policy between a `ChatThreadReader` (the adapter's
translation of the platform's messages) and the engine's `Thread`.

- Who reads: the chat adapter of the thread's platform, when it implements ChatThreadReader
  (one that does not is answered in one sentence: it "cannot read threads yet").
- What is kept: people's messages only. Messages from bots, ours included (earlier digests), are
  left out; the first message is the post (its first line, shortened, is the title), the replies
  are the comments (a reply to a reply keeps its parent), reactions are the scores, and at most
  `limit` messages are read (the report then states what it covered).
- Where it may go: only in the thread itself, and a private channel's thread only for a member
  of that channel (`may_post_in_thread`); never elsewhere, so a private thread's words stay
  where they were written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from bot.chat import MessageRef, ThreadTarget
from bot.chat_links import PLATFORM_NAMES
from bot.chat_threads import (
    ChatHistory,
    ChatMessage,
    ChatThreadReader,
    ChatThreadRef,
    ThreadUnreadable,
)
from digest.model import Comment, Post, Thread
from digest.source import chat

DEFAULT_LIMIT = 1000  # messages read of one thread, the first one included
TITLE_CHARS = 90


def post_id(ref: ChatThreadRef, root_id: str) -> str:
    """The post id a chat thread's report carries: the platform and channel keep ids of
    different chats (and Reddit's) apart."""
    return f"{ref.platform}:{ref.channel_id}:{root_id}"


def is_chat_post_id(post: str) -> bool:
    return post.split(":", 1)[0] in PLATFORM_NAMES


def chat_ref_of(post: str, server_id: str, asker_id: str = "") -> ChatThreadRef:
    """The thread a chat digest's post id names (a 🔍 on that digest asks for its depth)."""
    platform, channel, root = post.split(":", 2)
    return ChatThreadRef(platform, server_id, channel, root, asker_id)


def reader_for(chats: Mapping[str, object], platform: str) -> ChatThreadReader:
    """The adapter that reads `platform`'s threads; ThreadUnreadable when there is none."""
    chat_port = chats.get(platform)
    if isinstance(chat_port, ChatThreadReader):
        return chat_port
    name = PLATFORM_NAMES.get(platform, platform)
    raise ThreadUnreadable(f"This bot cannot read {name} threads yet.")


def thread_target(ref: ChatThreadRef) -> ThreadTarget:
    """Where a chat thread's digest goes: in that thread, under the message pointed at (a
    Slack link names its thread's first message; on Discord a message in a thread channel is
    answered in that channel)."""
    return ThreadTarget(MessageRef(ref.platform, ref.channel_id, ref.message_id))


def history_target(history: ChatHistory) -> ThreadTarget:
    """Where a thread's digest goes once it was read: under its first message, in the thread's
    own channel when the platform has one (`thread_channel_id`, Discord's)."""
    ref = history.ref
    return ThreadTarget(MessageRef(ref.platform, ref.channel_id, history.root.id,
                                   history.thread_channel_id))  # fmt: skip


def may_post_in_thread(history: ChatHistory, asked_in: str) -> str | None:
    """None when the digest may be posted in the thread for this asker; else the one sentence
    that refuses (and quotes nothing of the thread)."""
    if not history.private or asked_in in (history.ref.channel_id, history.thread_channel_id):
        return None  # asked in the thread's own channel (or the thread itself)
    if history.asker_is_member is True:
        return None
    return (
        # Not even its name: the link names only ids, and a non-member may not learn it.
        "That thread is in a private channel you are not a member of, so I will not digest it."
        if history.asker_is_member is False
        else "That thread is in a private conversation, so I only digest it when asked there."
    )


def title_of(text: str) -> str:
    """The first line of the first message, shortened at a word: the post's title."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if len(line) <= TITLE_CHARS:
        return line
    cut = line[: TITLE_CHARS - 1].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return (cut or line[: TITLE_CHARS - 1]) + "…"


def _preorder(replies: list[ChatMessage]) -> list[tuple[ChatMessage, str | None, int]]:
    """Replies in thread order (parents first, then by time), with parent id and depth."""
    ids = {m.id for m in replies}
    children: dict[str | None, list[ChatMessage]] = {}
    for m in replies:
        parent = m.reply_to if m.reply_to in ids and m.reply_to != m.id else None
        children.setdefault(parent, []).append(m)
    out: list[tuple[ChatMessage, str | None, int]] = []
    seen: set[str] = set()
    stack: list[tuple[ChatMessage, str | None, int]] = [
        (m, None, 1) for m in sorted(children.get(None, []), key=_when, reverse=True)
    ]
    while stack:
        m, parent, depth = stack.pop()
        if m.id in seen:
            continue
        seen.add(m.id)
        out.append((m, parent, depth))
        for child in sorted(children.get(m.id, []), key=_when, reverse=True):
            stack.append((child, m.id, depth + 1))
    # A cycle of replies (malformed input) reaches no top level: keep them, flat, by time.
    out.extend((m, None, 1) for m in sorted(replies, key=_when) if m.id not in seen)
    return out


def _when(m: ChatMessage) -> datetime:
    return m.created


def thread_from_history(history: ChatHistory) -> Thread:
    """The engine's Thread of a chat thread: people's messages only, the first one as the post."""
    ref, root = history.ref, history.root
    people = [m for m in history.replies if not m.from_bot and m.id != root.id]
    kept = [m for m in people if m.text.strip()]
    unread = 0
    if history.reply_count is not None:
        unread = max(history.reply_count - len(history.replies), 0)
    origin = chat(ref.platform, history.place)
    body = "" if root.from_bot else root.text
    post = Post(
        id=post_id(ref, root.id),
        subreddit="",
        title=title_of(body) or f"A thread in {history.place}",
        author=root.author_name or None,
        url=history.permalink,
        permalink=history.permalink,
        body=body,
        score=root.reactions,
        upvote_ratio=None,
        num_comments=len(kept) + unread,
        created=root.created,
        domain=ref.platform,
        edited=root.edited,
    )
    comments = tuple(
        Comment(
            id=m.id,
            parent_id=parent,
            author=m.author_name or None,
            body=m.text,
            score=m.reactions,
            created=m.created,
            depth=depth,
            edited=m.edited,
            is_submitter=bool(root.author_id) and m.author_id == root.author_id,
        )
        for m, parent, depth in _preorder(kept)
    )
    # A thread read only in part (the limit) counts what it did not read in `num_comments`, so
    # the report's coverage says "analysed N of M messages".
    return Thread(post=post, comments=comments, source=f"{ref.platform}:{history.place}",
                  origin=origin)  # fmt: skip


async def read_chat_thread(
    chats: Mapping[str, object], ref: ChatThreadRef, *, limit: int = DEFAULT_LIMIT
) -> ChatHistory:
    """The thread as its platform's adapter reads it (ThreadUnreadable: one sentence)."""
    return await reader_for(chats, ref.platform).read_thread(ref, limit=limit)
