"""The console's own threads: `:thread FILE.json` loads a Slack `conversations.replies` export
(`{"messages": [...]}`, optionally `"channel": {"name": …, "is_private": …}` and `"users":
{"U1": "ann"}`) as console messages m1…, and `read_thread` serves them to the core as any chat's
thread (`/digest m1`). Loaded for this session only (never written to the console's state file).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.slack_messages import chat_message
from bot.chat_threads import ChatHistory, ChatMessage, ChatThreadRef, ThreadUnreadable

PLATFORM = "console"


class ThreadFileError(Exception):
    """The file is not a thread export; the message says why in one sentence."""


@dataclass
class LoadedThread:
    place: str
    private: bool
    ids: list[str]  # console message ids, the first message first


@dataclass
class ConsoleThreads:
    """Threads loaded at the console, by their first message's console id."""

    messages: dict[str, ChatMessage] = field(default_factory=dict)
    thread_of: dict[str, str] = field(default_factory=dict)  # message id → first message's id
    threads: dict[str, LoadedThread] = field(default_factory=dict)

    def load(self, path: Path, new_id: Callable[[], str]) -> LoadedThread:
        """Read an export and give its messages console ids (`new_id`), in order."""
        try:
            data = json.loads(path.expanduser().read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ThreadFileError(f"No such file: {path}.") from None
        except (OSError, ValueError) as exc:
            raise ThreadFileError(f"{path} cannot be read as JSON ({exc}).") from None
        raw = data.get("messages") if isinstance(data, Mapping) else data
        if not isinstance(raw, list) or not raw or not all(isinstance(m, Mapping) for m in raw):
            raise ThreadFileError(
                f"{path} is not a thread export: it needs a list of Slack messages under "
                '"messages" (the shape of conversations.replies).'
            )
        messages: list[Mapping[str, Any]] = sorted(raw, key=lambda m: float(m.get("ts") or 0))
        users = data.get("users") if isinstance(data, Mapping) else None
        names = {str(k): str(v) for k, v in users.items()} if isinstance(users, Mapping) else {}
        channel = data.get("channel") if isinstance(data, Mapping) else None
        channel = channel if isinstance(channel, Mapping) else {}
        place = "#" + str(channel.get("name") or "thread").lstrip("#")
        root_ts = str(messages[0].get("ts") or "")
        ids: list[str] = []
        by_ts: dict[str, str] = {}
        for m in messages:
            mid = new_id()
            by_ts[str(m.get("ts"))] = mid
            msg = chat_message(m, root_ts, lambda u: names.get(u, u))
            self.messages[mid] = _renamed(msg, mid)
            ids.append(mid)
        loaded = LoadedThread(place, bool(channel.get("is_private")), ids)
        for mid in ids:
            self.thread_of[mid] = ids[0]
        self.threads[ids[0]] = loaded
        return loaded

    async def read_thread(self, ref: ChatThreadRef, *, limit: int) -> ChatHistory:
        root_id = self.thread_of.get(ref.message_id)
        if root_id is None:
            raise ThreadUnreadable(
                f"There is no thread at {ref.message_id} here: load one with :thread FILE.json."
            )
        loaded = self.threads[root_id]
        ids = loaded.ids[: max(limit, 1)]
        root = self.messages[ids[0]]
        return ChatHistory(
            ref=ChatThreadRef(PLATFORM, ref.server_id, ref.channel_id, root_id, ref.asker_id),
            place=loaded.place,
            private=loaded.private,
            permalink=f"console:{root_id}",
            root=root,
            replies=tuple(self.messages[i] for i in ids[1:]),
            complete=len(ids) == len(loaded.ids),
            asker_is_member=True,  # the person at the terminal sees everything it loaded
            reply_count=len(loaded.ids) - 1,
        )


def _renamed(msg: ChatMessage, mid: str) -> ChatMessage:
    """The message under its console id (Slack's ts stays only in its time)."""
    return ChatMessage(
        id=mid,
        author_id=msg.author_id,
        author_name=msg.author_name,
        text=msg.text,
        created=msg.created,
        reply_to=None,
        reactions=msg.reactions,
        from_bot=msg.from_bot,
        edited=msg.edited,
    )
