"""A chat platform for tests: records every post, remembers idempotency keys like a real platform
keeps its messages, and can "crash" right after posting."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field

from bot.chat import (
    ChannelTarget,
    Delivery,
    EphemeralTarget,
    LookupUnavailable,
    MessageRef,
    MessageText,
    PostRefused,
    Target,
    ThreadTarget,
)


class SimulatedCrash(BaseException):
    """The process dies here (BaseException: nothing in the core may swallow it)."""


@dataclass
class Posted:
    ref: MessageRef
    target: Target
    delivery: Delivery
    key: str | None

    @property
    def ephemeral(self) -> bool:
        return isinstance(self.target, EphemeralTarget)

    @property
    def text(self) -> str:
        d = self.delivery
        if d.text is not None:
            return d.text
        if d.report is not None:
            return d.report.thread.title
        assert d.bundle is not None
        return d.bundle.title


@dataclass
class FakeChat:
    platform: str = "fake"
    posts: list[Posted] = field(default_factory=list)
    crash_after_post: bool = False
    fail_posts: int = 0  # the next N posts raise (a platform outage)
    refused_channels: set[str] = field(default_factory=set)  # public posts here are refused
    lookups_unavailable: int = 0  # the next N find_posted cannot look (no access, API down)
    lookups: int = 0  # how many times find_posted was asked
    after_post: Callable[[], Awaitable[None]] | None = None  # runs once a post went out
    said: dict[str, str] = field(default_factory=dict)  # message id → text, by people
    reads: list[MessageRef] = field(default_factory=list)  # what read_message was asked
    _n: int = 0

    def say(self, channel_id: str, text: str) -> MessageRef:
        """A person posts a message (a reaction on it can then be read back)."""
        self._n += 1
        ref = MessageRef(self.platform, channel_id, f"said{self._n}")
        self.said[ref.message_id] = text
        return ref

    async def post(
        self, target: Target, delivery: Delivery, *, idempotency_key: str | None = None
    ) -> list[MessageRef]:
        if self.fail_posts:
            self.fail_posts -= 1
            raise ConnectionError("the platform is down")
        if isinstance(target, ChannelTarget) and target.channel_id in self.refused_channels:
            raise PostRefused("I can't post in this channel: give me the permission to.")
        self._n += 1
        if isinstance(target, ThreadTarget):
            ref = MessageRef(
                self.platform, target.parent.channel_id, f"m{self._n}", target.parent.message_id
            )
        else:
            ref = MessageRef(self.platform, target.channel_id, f"m{self._n}")
        self.posts.append(Posted(ref, target, delivery, idempotency_key))
        if self.crash_after_post:
            self.crash_after_post = False
            raise SimulatedCrash
        if self.after_post is not None:
            await self.after_post()
        return [ref]

    async def find_posted(self, target: Target, idempotency_key: str) -> list[MessageRef] | None:
        self.lookups += 1
        if self.lookups_unavailable:
            self.lookups_unavailable -= 1
            raise LookupUnavailable("I cannot read this channel's history to check my posts.")
        found = [p.ref for p in self.posts if p.key == idempotency_key]
        return found or None

    async def read_message(self, ref: MessageRef) -> MessageText | None:
        self.reads.append(ref)
        if ref.message_id in self.said:
            return MessageText(ref, self.said[ref.message_id])
        for p in self.posts:
            if p.ref.message_id == ref.message_id:
                return MessageText(p.ref, p.text)
        return None

    def command_text(self, words: str) -> str:
        return f"/{words}"

    def working(self, target: Target) -> AbstractAsyncContextManager[None]:
        return nullcontext()  # nothing to show here

    def public(self) -> list[Posted]:
        return [p for p in self.posts if not p.ephemeral]

    def ephemeral(self) -> list[Posted]:
        return [p for p in self.posts if p.ephemeral]

    def in_channel(self, channel_id: str) -> list[Posted]:
        return [
            p
            for p in self.public()
            if isinstance(p.target, ChannelTarget) and p.target.channel_id == channel_id
        ]
