"""The console's own threads: `:thread FILE.json` loads a Slack `conversations.replies` export
(`{"messages": [...]}`, optionally `"channel": {"name": …, "is_private": …}` and `"users":
{"U1": "ann"}`) as console messages m1…, and `read_thread` serves them to the core as any chat's
thread (`/digest m1`). Loaded for this session only (never written to the console's state file).

The export is read here, not by the Slack adapter (adapters never use each other, and the
console loads no chat SDK): members named, `<@U1>` as the name, `<!here>` as @here, a link
`<url|label>` as `label (url)`, entities decoded; a bot's message flagged; reactions summed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.chat_threads import ChatHistory, ChatMessage, ChatThreadRef, ThreadUnreadable

PLATFORM = "console"
_SLACK_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


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
        ids: list[str] = []
        by_ts: dict[str, str] = {}
        for m in messages:
            mid = new_id()
            by_ts[str(m.get("ts"))] = mid
            self.messages[mid] = _message(m, mid, names)
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


def _message(m: Mapping[str, Any], mid: str, names: Mapping[str, str]) -> ChatMessage:
    """One exported Slack message as the console's message `mid`."""
    user = str(m.get("user") or m.get("bot_id") or "")
    profile = m.get("user_profile")
    own = profile.get("display_name") if isinstance(profile, Mapping) else None
    name = own or m.get("username") or names.get(user, user)
    reactions = sum(
        r["count"] for r in m.get("reactions") or () if isinstance(r, Mapping)
        and isinstance(r.get("count"), int) and r["count"] > 0
    )  # fmt: skip
    return ChatMessage(
        id=mid,
        author_id=user,
        author_name=str(name or "an app"),
        text=_readable(str(m.get("text") or ""), names),
        created=_time(m.get("ts")),
        reactions=reactions,
        from_bot=bool(m.get("bot_id")) or m.get("subtype") == "bot_message",
        edited=_time(m["edited"].get("ts")) if isinstance(m.get("edited"), Mapping) else None,
    )


def _readable(text: str, names: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("@"):
            return label.lstrip("@") if label else names.get(target[1:], target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^", 1)[0]).lstrip("@")
        return f"{label} ({target})" if label and label != target else target

    decoded = _SLACK_LINK.sub(one, text)
    return decoded.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _time(ts: Any) -> datetime:
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (TypeError, ValueError, OverflowError):
        return datetime.fromtimestamp(0, UTC)
