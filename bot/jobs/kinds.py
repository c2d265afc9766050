"""The jobs the core queues, one frozen dataclass per kind.

Each names its thread as a ThreadRef (or a ShareLink only Reddit can resolve, or a saved file
typed at the terminal), never as text to parse again. Every job says where it belongs
(`platform`, `server_id`, `channel_id`). The `kind` column only picks the type to read a stored
payload as; the core dispatches on the type (`match job: case DigestJob(): …`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from bot.chat import MessageRef
from bot.chat_threads import ChatThreadRef
from bot.ports import ThreadRef
from bot.thread_ref import ShareLink
from digest.errors import DigestError
from digest.report import Depth


@dataclass(frozen=True, slots=True)
class SavedFile:
    """A saved thread file on the bot's host, named by the person at its terminal."""

    path: str


@dataclass(frozen=True, slots=True)
class DigestJob:
    """A digest someone asked for with a command; posted in their channel (a chat's own thread:
    in that thread)."""

    KIND: ClassVar[str] = "digest"
    platform: str
    server_id: str
    channel_id: str
    user_id: str
    thread: ThreadRef | ShareLink | SavedFile | ChatThreadRef
    depth: Depth
    nsfw_ok: bool
    reply_token: str | None = None  # the adapter's handle for the late answer


@dataclass(frozen=True, slots=True)
class FlagJob:
    """A deep analysis asked for by flagging a message; posted in a thread under it."""

    KIND: ClassVar[str] = "flag"
    message: MessageRef  # the flagged message
    server_id: str
    user_id: str  # who flagged it (last): told if it fails
    thread: ThreadRef | ShareLink
    nsfw_ok: bool

    @property
    def platform(self) -> str:
        return self.message.platform

    @property
    def channel_id(self) -> str:
        return self.message.channel_id


@dataclass(frozen=True, slots=True)
class WatchJob:
    """A watched subreddit's post that crossed its threshold: its brief digest in the channel."""

    KIND: ClassVar[str] = "watch"
    platform: str
    server_id: str
    channel_id: str
    subscription_id: int
    thread: ThreadRef
    nsfw_ok: bool
    header: str | None = None


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    """One run of a scheduled subscription: the top threads that pass its filters, bundled."""

    KIND: ClassVar[str] = "scheduled"
    platform: str
    server_id: str
    channel_id: str
    subscription_id: int
    late_note: str | None = None  # said when the run is late (the bot was down)


@dataclass(frozen=True, slots=True)
class PreviewJob:
    """`preview #N`: what a scheduled subscription's next run would post, shown now to the
    asker only (nothing marked as posted, the next run not moved)."""

    KIND: ClassVar[str] = "preview"
    platform: str
    server_id: str
    channel_id: str  # where the asker is (the subscription may post elsewhere on the server)
    user_id: str
    subscription_id: int
    nsfw_ok: bool = False  # the asker's channel is marked NSFW (and so is the subscription's)
    reply_token: str | None = None  # the adapter's handle for the private answer


Job = DigestJob | FlagJob | WatchJob | ScheduledJob | PreviewJob
JOB_TYPES: Mapping[str, type[Job]] = {
    t.KIND: t for t in (DigestJob, FlagJob, WatchJob, ScheduledJob, PreviewJob)
}


class UnreadableJob(DigestError):
    """A stored job of an unknown kind, or whose payload fits neither today's shape nor an
    older one."""
