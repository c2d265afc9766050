"""Jobs queued by a redigest from before typed jobs (database schema 6 and older), read into
today's jobs, so a bot upgraded with pending jobs runs them. Those payloads named their thread
as text (a URL, an id or `t3_` fullname), parsed here once; scheduled runs kept their shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.chat import MessageRef
from bot.jobs.kinds import DigestJob, FlagJob, Job, SavedFile, UnreadableJob, WatchJob
from bot.ports import ThreadRef
from bot.thread_ref import parse_thread_text
from digest import codec
from digest.errors import DigestError
from digest.report import Depth


@dataclass(frozen=True, slots=True)
class OldDigest:
    platform: str
    server_id: str
    channel_id: str
    user_id: str
    target: str
    depth: str = "brief"
    nsfw_ok: bool = True
    reply_token: str | None = None
    path: str | None = None  # typed at the terminal: `target` is that path

    def upgrade(self) -> DigestJob:
        thread = SavedFile(self.path) if self.path is not None else parse_thread_text(self.target)
        return DigestJob(
            platform=self.platform,
            server_id=self.server_id,
            channel_id=self.channel_id,
            user_id=self.user_id,
            thread=thread,
            depth=Depth(self.depth),
            nsfw_ok=self.nsfw_ok,
            reply_token=self.reply_token,
        )


@dataclass(frozen=True, slots=True)
class OldFlag:
    platform: str
    server_id: str
    channel_id: str
    message_id: str
    user_id: str
    target: str
    thread_id: str | None = None
    nsfw_ok: bool = True

    def upgrade(self) -> FlagJob:
        message = MessageRef(self.platform, self.channel_id, self.message_id, self.thread_id)
        return FlagJob(
            message=message,
            server_id=self.server_id,
            user_id=self.user_id,
            thread=parse_thread_text(self.target),
            nsfw_ok=self.nsfw_ok,
        )


@dataclass(frozen=True, slots=True)
class OldWatch:
    platform: str
    server_id: str
    channel_id: str
    subscription_id: int
    target: str  # t3_ID
    nsfw_ok: bool = True
    header: str | None = None

    def upgrade(self) -> WatchJob:
        thread = parse_thread_text(self.target)
        if not isinstance(thread, ThreadRef):
            raise UnreadableJob(f"a watch job for {self.target!r}, not a thread")
        return WatchJob(
            platform=self.platform,
            server_id=self.server_id,
            channel_id=self.channel_id,
            subscription_id=self.subscription_id,
            thread=thread,
            nsfw_ok=self.nsfw_ok,
            header=self.header,
        )


_OLD: dict[type[Job], type[OldDigest | OldFlag | OldWatch]] = {
    DigestJob: OldDigest,
    FlagJob: OldFlag,
    WatchJob: OldWatch,
}


def read_old_job(tp: type[Job], payload: Mapping[str, Any]) -> Job:
    old = _OLD.get(tp)
    if old is None:
        raise UnreadableJob(f"a {tp.KIND} job's payload cannot be read")
    try:
        shape: OldDigest | OldFlag | OldWatch = codec.from_jsonable(old, dict(payload))
        return shape.upgrade()
    except (TypeError, ValueError, KeyError, DigestError) as exc:
        raise UnreadableJob(f"a {tp.KIND} job's payload cannot be read: {exc}") from None
