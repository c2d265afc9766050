"""bench/kill_soak.py's child: the bot, with a source that answers with a network's latency and a
chat platform that is an append-only file (LOG), in one of three modes: `enqueue` queues digest
requests, `work` runs the queue and delivers reactions until it is killed, `final` drains."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sys
import time
from contextlib import AbstractAsyncContextManager, nullcontext
from pathlib import Path
from typing import Any

from bench.kill_soak_setup import (
    FEED_INTERVAL_S,
    FETCH_MS,
    FINAL_TIMEOUT_S,
    LEASE_WAIT_MAX_S,
    PLATFORM,
    POST_LATENCY_MS,
    POST_WINDOW_MS,
    USERS,
    WORKERS,
    _channel,
    _server,
    _thread_ids,
    digest_key,
    flag_key,
    flagged,
    read_log,
)


def _child_main(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    return asyncio.run(_child(args))


async def _child(args: argparse.Namespace) -> int:
    # Imported here: the parent does not need the bot, the child does (and pays for it once).
    from contextlib import AsyncExitStack

    from adapters.reddit_source.thread_json import thread_from_json
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
    from bot.core import CoreConfig, Engines
    from bot.ports import ThreadRef
    from digest.model import Thread
    from digest.pipeline import DigestEngine
    from digest.report import Depth
    from tests.support.fake_source import FakeSource
    from tests.support.synthetic import thread_json

    db, log_path = Path(args.db), Path(args.log)
    rng = random.Random(f"{args.seed}:{os.getpid()}")

    class SlowSource(FakeSource):
        """Threads in memory, fetched with a network's latency."""

        async def fetch_thread(self, ref: ThreadRef, depth: Depth) -> Thread:
            await asyncio.sleep(rng.uniform(*FETCH_MS) / 1000)
            return await super().fetch_thread(ref, depth)

    class FileChat:
        """The chat platform as an append-only file that outlives the bot."""

        platform = PLATFORM

        def __init__(self, path: Path) -> None:
            self.path = path
            self._file = path.open("a", encoding="utf-8")
            self._n = 0
            self.found = 0

        async def post(
            self, target: Target, delivery: Delivery, *, idempotency_key: str | None = None
        ) -> list[MessageRef]:
            await asyncio.sleep(rng.uniform(*POST_LATENCY_MS) / 1000)
            self._n += 1
            mid = f"m{os.getpid()}x{self._n}"
            line: dict[str, Any] = {"key": idempotency_key, "message_id": mid, "pid": os.getpid()}
            if isinstance(target, ThreadTarget):
                ref = MessageRef(PLATFORM, target.parent.channel_id, mid, target.parent.message_id)
                line |= {"kind": "thread", "channel": ref.channel_id, "thread": ref.thread_id}
            elif isinstance(target, EphemeralTarget):
                ref = MessageRef(PLATFORM, target.channel_id, mid)
                line |= {"kind": "ephemeral", "channel": target.channel_id,
                         "user": target.user_id, "reply_token": target.reply_token,
                         "text": (delivery.text or "")[:200]}  # fmt: skip
            else:
                ref = MessageRef(PLATFORM, target.channel_id, mid)
                line |= {"kind": "public", "channel": target.channel_id,
                         "reply_token": target.reply_token}  # fmt: skip
            if delivery.report is not None:
                line["post_id"] = delivery.report.thread.id
            self._file.write(json.dumps(line) + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())  # the platform has it, whatever happens to us now
            await asyncio.sleep(rng.uniform(*POST_WINDOW_MS) / 1000)
            return [ref]

        async def find_posted(
            self, target: Target, idempotency_key: str
        ) -> list[MessageRef] | None:
            refs = [
                MessageRef(PLATFORM, line["channel"], line["message_id"], line.get("thread"))
                for line in read_log(self.path)
                if line.get("key") == idempotency_key
            ]
            if refs:
                self.found += 1
                print(f"FOUND {idempotency_key}", flush=True)
            return refs or None

        async def read_message(self, ref: MessageRef) -> None:
            return None  # people's messages are not simulated: flags land on the bot's digests

        def command_text(self, words: str) -> str:
            return f"/{words}"

        def working(self, target: Target) -> AbstractAsyncContextManager[None]:
            return nullcontext()  # nothing to show here

    source = SlowSource()
    for i, pid in enumerate(_thread_ids()):
        source.add(thread_from_json(thread_json(60 + 20 * (i % 12), seed=i, post_id=pid)))
    chat = FileChat(log_path)
    config = CoreConfig(
        workers=WORKERS,
        user_limit=(1_000_000, 1.0),  # the limits are not what is soaked
        channel_limit=(1_000_000, 1.0),
    )

    # Start-up: the previous owner was killed, so its lease may still be in the database.
    started = time.perf_counter()
    tries = 0
    stack = AsyncExitStack()
    while True:
        tries += 1
        stack = AsyncExitStack()
        try:
            core = await open_core(
                stack,
                db,
                source=source,
                engines=Engines({"offline": DigestEngine()}, default="offline"),
                chats={PLATFORM: chat},
                config=config,
            )
            if args.mode != "enqueue":
                await core.start()
            break
        except Exception as exc:
            await stack.aclose()
            waited = time.perf_counter() - started
            if not _is_refusal(exc) or waited > LEASE_WAIT_MAX_S:
                print(f"REFUSED waited={waited:.3f} tries={tries} {exc!r}", flush=True)
                return 3
            await asyncio.sleep(0.1)
    waited = time.perf_counter() - started
    print(f"READY waited={waited:.3f} tries={tries}", flush=True)

    async with stack:
        if args.mode == "enqueue":
            return await _enqueue_requests(core, args.first, args.count, Request)
        issued: set[str] = set()

        async def feed() -> int:
            """Deliver the reactions of the soak's users on digests LOG shows as posted."""
            if not issued:
                async with core.storage.db.execute(
                    "SELECT key FROM jobs WHERE key LIKE 'flag:%'"
                ) as cur:
                    issued.update(row[0] for row in await cur.fetchall())
            new = 0
            for line in read_log(log_path):
                key = line.get("key")
                if line.get("kind") != "public" or not key or not key.startswith("digest:"):
                    continue
                if not flagged(key):
                    continue
                channel, mid = line["channel"], line["message_id"]
                fkey = flag_key(channel, mid)
                if fkey in issued:
                    continue
                await core.handle_reaction(
                    Reaction(
                        message=MessageRef(PLATFORM, channel, mid),
                        emoji="🔍",
                        user_id=f"F{mid}",
                        server_id=_server(channel),
                        message_text=f"https://redd.it/{line.get('post_id', '')}",
                    )
                )
                if await core.storage.job(fkey) is not None:
                    issued.add(fkey)
                    new += 1
            return new

        if args.mode == "work":
            print("WORKING", flush=True)
            while True:  # until killed
                await feed()
                await asyncio.sleep(FEED_INTERVAL_S)
        # final: deliver every remaining reaction, drain, until nothing new comes.
        drain_started = time.perf_counter()
        drained = False
        for _ in range(20):
            new = await feed()
            drained = await core.drain(FINAL_TIMEOUT_S / 2)
            new += await feed()
            if drained and not new:
                break
        await core.stop()
        print(
            f"FINAL drained={int(drained)} seconds={time.perf_counter() - drain_started:.3f} "
            f"found={chat.found}",
            flush=True,
        )
        return 0 if drained else 4


def _is_refusal(exc: BaseException) -> bool:
    """Start-up refused because another process owns the database (its lease is live)."""
    from bot.storage import StorageError

    text = f"{type(exc).__name__} {exc}".lower()
    return isinstance(exc, StorageError) or any(
        word in text for word in ("lease", "owner", "another process", "already running", "locked")
    )


async def _enqueue_requests(core: Any, first: int, count: int, request_type: Any) -> int:
    ids = _thread_ids()
    for i in range(first, first + count):
        channel = _channel(i)
        await core.handle_request(
            request_type(
                platform=PLATFORM,
                server_id=_server(channel),
                channel_id=channel,
                user_id=f"U{i % USERS}",
                command="digest",
                text=f"https://redd.it/{ids[i % len(ids)]}",
                reply_token=f"r{i}",
            )
        )
    missing = [
        i for i in range(first, first + count) if await core.storage.job(digest_key(i)) is None
    ]
    print(f"ENQUEUED {count - len(missing)} missing={len(missing)}", flush=True)
    return 0 if not missing else 5
