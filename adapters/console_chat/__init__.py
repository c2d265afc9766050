"""A chat platform in the terminal: `redigest console` feeds the real core the same Requests and
Reactions a chat would, and prints every delivery with its message reference.

    /digest <url|file> [brief|deep]      any command, as in a chat (`/help` lists them)
    :say <text>                           post a message as you (react to it if it has a link)
    :react <emoji> <message-ref> [N]      react, e.g. `:react 🔍 m3`; N picks a digest's Nth thread
    :thread <file.json>                   load a chat thread (a Slack conversations.replies
                                          export) as messages m…, then /digest m<first>
    :next                                 the scheduler's next runs
    :run <subscription-id>                run a scheduled digest now
    :jobs                                 the job queue
    :quit                                 leave (pending jobs stay queued)
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shlex
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from adapters.console_chat.stdin import stdin_lines as stdin_lines
from adapters.console_chat.threads import ConsoleThreads, ThreadFileError
from bot.chat import (
    ChannelTarget,
    Delivery,
    EphemeralTarget,
    Inbox,
    MessageRef,
    MessageText,
    PickHint,
    Reaction,
    Request,
    Target,
    ThreadTarget,
)
from bot.chat_threads import ChatHistory, ChatThreadRef
from digest.errors import DigestError
from digest.render.document import bundle_document, document
from digest.render.markdown import text_of

log = logging.getLogger(__name__)

PLATFORM = "console"
HELP = __doc__ or ""


class ConsoleStateError(Exception):
    """The console's state file is unusable; the message says what to do."""


def console_files_dir(database: Path) -> Path:
    """Where the console writes the files a post carries (a deep report's chart): `charts/`
    beside the database; in the temporary folder for a database in memory."""
    if str(database) == ":memory:":
        return Path(tempfile.gettempdir()) / "redigest-charts"
    return database.parent / "charts"


def console_state_path(database: Path) -> Path | None:
    """The console's own state lives beside the database it goes with (none in memory)."""
    if str(database) == ":memory:":
        return None
    return database.with_name(database.name + ".console.json")


@dataclass
class ConsoleControl:
    """What the console can ask of the core beyond requests (wired by the composition root)."""

    next_runs: Callable[[], Awaitable[str]]
    run_now: Callable[[int], Awaitable[bool]]
    jobs: Callable[[], Awaitable[str]]


class ConsoleChat:
    """The terminal as a chat platform. With a `state_path`, what it posted and its message and
    request numbers are kept in that file, as a chat platform keeps them on its servers: after a
    restart a reference (m7) or request (r7) is never reused, and a job interrupted after
    posting finds its message instead of posting it again."""

    platform = PLATFORM
    KEEP_MESSAGES = 500  # the texts kept for :react (older messages cannot be reacted to)
    KEEP_POSTS = 2000  # the posts kept by idempotency key for find_posted

    def __init__(
        self,
        out: TextIO | None = None,
        *,
        server_id: str = "console",
        channel_id: str = "general",
        user_id: str = "you",
        state_path: Path | None = None,
        files_dir: Path | None = None,
    ) -> None:
        self._out = out or sys.stdout
        # Files posted with a delivery are written here (None: the temporary folder's).
        self.files_dir = files_dir or Path(tempfile.gettempdir()) / "redigest-charts"
        self.server_id = server_id
        self.channel_id = channel_id
        self.user_id = user_id
        self._state_path = state_path
        self._counter = 0
        self._requests = 0
        self._by_key: dict[str, list[MessageRef]] = {}
        self.messages: dict[str, str] = {}  # message id → text, for reactions and tests
        self._save_lock = asyncio.Lock()
        self.threads = ConsoleThreads()  # loaded with :thread, for this session
        if state_path is not None:
            self._load(state_path)

    def _load(self, path: Path) -> None:
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            self._counter = int(state["messages_made"])
            self._requests = int(state["requests_made"])
            self._by_key = {
                key: [MessageRef(**ref) for ref in refs] for key, refs in state["posted"].items()
            }
            self.messages = {str(k): str(v) for k, v in state["texts"].items()}
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConsoleStateError(
                f"The console's state file {path} cannot be read ({exc}): move it aside to "
                "start afresh (message and request numbers then restart at 1)."
            ) from None

    async def _save(self) -> None:
        """Durably, before a post returns (a crash right after must still find it)."""
        if self._state_path is None:
            return
        while len(self.messages) > self.KEEP_MESSAGES:
            del self.messages[next(iter(self.messages))]
        while len(self._by_key) > self.KEEP_POSTS:
            del self._by_key[next(iter(self._by_key))]
        state: dict[str, Any] = {
            "messages_made": self._counter,
            "requests_made": self._requests,
            "posted": {
                key: [
                    {"platform": r.platform, "channel_id": r.channel_id,
                     "message_id": r.message_id, "thread_id": r.thread_id}
                    for r in refs
                ]
                for key, refs in self._by_key.items()
            },
            "texts": self.messages,
        }  # fmt: skip
        text = json.dumps(state, ensure_ascii=False)
        async with self._save_lock:  # one writer of the file at a time, newest state last
            await asyncio.to_thread(_write_durably, self._state_path, text)

    def _new_ref(self, target: Target) -> MessageRef:
        self._counter += 1
        mid = f"m{self._counter}"
        if isinstance(target, ThreadTarget):
            return MessageRef(PLATFORM, target.parent.channel_id, mid, target.parent.message_id)
        channel = target.channel_id
        return MessageRef(PLATFORM, channel, mid)

    def _print(self, text: str) -> None:
        self._out.write(text if text.endswith("\n") else text + "\n")
        self._out.flush()

    async def post(
        self, target: Target, delivery: Delivery, *, idempotency_key: str | None = None
    ) -> list[MessageRef]:
        if delivery.report is not None:
            body = text_of(document(delivery.report))
        elif delivery.bundle is not None:
            b = delivery.bundle
            body = text_of(bundle_document(b.title, b.reports, b.note, b.empty_text, b.lang))
        else:
            body = delivery.text or ""
        if delivery.header:
            body = f"{delivery.header}\n{body}"
        ref = self._new_ref(target)
        if isinstance(target, EphemeralTarget):
            where = f"only you see this, in #{target.channel_id}"
        elif isinstance(target, ThreadTarget):
            where = f"in the thread under {target.parent.message_id}"
        else:
            where = f"#{target.channel_id}"
        for line in await self._write_files(delivery):
            body = f"{body}\n{line}"
        self._print(f"\n── [{ref.message_id}] {where} ──\n{body}")
        self.messages[ref.message_id] = body
        if idempotency_key:
            self._by_key[idempotency_key] = [ref]
        await self._save()
        return [ref]

    async def _write_files(self, delivery: Delivery) -> list[str]:
        """Each file of the delivery written to `files_dir`; a line per file saying where."""
        lines: list[str] = []
        for f in delivery.files:
            path = self.files_dir / Path(f.name).name
            try:
                await asyncio.to_thread(_write_file, path, f.data)
            except OSError as exc:
                log.warning("cannot write %s: %s", path, exc)
                lines.append(f"(A chart was made but could not be saved to {path}: {exc}.)")
                continue
            lines.append(f"Chart: {path}")
        return lines

    async def find_posted(self, target: Target, idempotency_key: str) -> list[MessageRef] | None:
        return self._by_key.get(idempotency_key)

    async def read_message(self, ref: MessageRef) -> MessageText | None:
        text = self.messages.get(ref.message_id)
        return MessageText(ref, text) if text is not None else None

    def command_text(self, words: str) -> str:
        return f"/{words}"

    async def read_thread(self, ref: ChatThreadRef, *, limit: int) -> ChatHistory:
        """A thread loaded with `:thread` (the console's ChatThreadReader)."""
        return await self.threads.read_thread(ref, limit=limit)

    async def load_thread(self, path: str) -> None:
        """`:thread FILE.json`: the export's messages as console messages, the first one named."""
        try:
            loaded = await asyncio.to_thread(self.threads.load, Path(path.strip()), self._next_id)
        except ThreadFileError as exc:
            self._print(str(exc))
            return
        await self._save()  # the numbers handed out are never handed out again
        first, last = loaded.ids[0], loaded.ids[-1]
        root = self.threads.messages[first]
        self._print(
            f"── [{first}…{last}] a thread of {len(loaded.ids):,} messages in {loaded.place}, "
            f"started by {root.author_name}: {root.text.splitlines()[0][:80] if root.text else ''}"
            f"\n   digest it with /digest {first}"
        )

    def _next_id(self) -> str:
        self._counter += 1
        return f"m{self._counter}"

    def working(self, target: Target) -> AbstractAsyncContextManager[None]:
        return nullcontext()  # nothing to show here

    async def _show(self, answer: str | None) -> None:
        """An immediate answer, printed like any post only you see."""
        if answer:
            await self.post(EphemeralTarget(self.channel_id, self.user_id), Delivery(text=answer))

    def request(self, command: str, text: str) -> Request:
        self._requests += 1
        return Request(
            platform=PLATFORM,
            server_id=self.server_id,
            channel_id=self.channel_id,
            user_id=self.user_id,
            command=command,
            text=text,
            can_manage=True,  # it is your own terminal
            reply_token=f"r{self._requests}",
            at_terminal=True,  # so a saved thread file may be named
        )

    def _reaction(self, rest: str) -> Reaction | str:
        """`:react <emoji> <message-ref> [thread number]` as a Reaction, or what is wrong."""
        try:
            emoji, message_id, *number = shlex.split(rest)
            pick = int(number[0]) if number else None
            if len(number) > 1:
                raise ValueError(rest)
        except ValueError:
            return (
                "usage: :react <emoji> <message-ref> [thread number], e.g. :react 🔍 m3 "
                "(or :react 🔍 m5 2 for the 2nd thread of a digest of several)"
            )
        if message_id not in self.messages:
            return f"There is no message {message_id} here."
        return Reaction(
            MessageRef(PLATFORM, self.channel_id, message_id),
            emoji,
            self.user_id,
            self.server_id,
            pick=pick,
            pick_hint=PickHint(f"React with `:react {emoji} {message_id} N` to pick one."),
        )

    async def handle_line(self, line: str, inbox: Inbox, control: ConsoleControl) -> bool:
        """One line of input; False when the user wants to leave."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        if line in (":quit", ":q", ":exit"):
            return False
        if line.startswith("/"):
            command, _, text = line[1:].partition(" ")
            request = self.request(command, text)
            await self._save()  # r7 is never handed out twice, even after a crash
            reply = await inbox.on_request(request)
            await self._show(reply.text if reply is not None else None)
            return True
        verb, _, rest = line.partition(" ")
        if verb == ":say":
            ref = self._new_ref(ChannelTarget(self.channel_id))
            self.messages[ref.message_id] = rest
            await self._save()
            self._print(f"── [{ref.message_id}] you, in #{self.channel_id}: {rest}")
        elif verb == ":react":
            reaction = self._reaction(rest)
            if isinstance(reaction, str):
                self._print(reaction)
                return True
            await self._show(await inbox.on_reaction(reaction))
        elif verb == ":thread":
            await self.load_thread(rest)
        elif verb == ":next":
            self._print(await control.next_runs())
        elif verb == ":run":
            try:
                sub_id = int(rest.strip().lstrip("#"))
            except ValueError:
                self._print("usage: :run <subscription-id>, e.g. :run 1")
                return True
            try:
                ok = await control.run_now(sub_id)
            except DigestError as exc:  # e.g. a paused subscription: one sentence, not a run
                self._print(exc.user_message)
                return True
            self._print(
                f"Queued a run of #{sub_id}." if ok else f"No scheduled subscription #{sub_id}."
            )
        elif verb == ":jobs":
            self._print(await control.jobs())
        elif verb in (":help", ":h", "help"):
            self._print(HELP)
        else:
            self._print(f"Unknown input {verb!r}: commands start with / (try /help), or :help.")
        return True

    async def run(self, lines: AsyncIterator[str], inbox: Inbox, control: ConsoleControl) -> None:
        self._print(
            "redigest console: type /help for commands, :help for console controls, :quit to leave."
        )
        async for line in lines:
            if not await self.handle_line(line, inbox, control):
                break


def stopped_line(kept: int) -> str:
    """What the console says when Ctrl-C stops it (the unfinished jobs stay in the database)."""
    if kept == 0:
        return "Stopped; no jobs were waiting."
    if kept == 1:
        return "Stopped; 1 job is kept and will run at the next start."
    return f"Stopped; {kept} jobs are kept and will run at the next start."


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_durably(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
