"""Benchmark: 200 concurrent `/digest` interactions through the fake Discord gateway.

The bot (the real discord.py client, the real core on SQLite in a temporary folder, an
in-memory Reddit, an LLM fake that answers after 2 s) runs in this process; the fake Discord
runs in a child process, as Discord runs on other machines. The child sends the 200
INTERACTION_CREATE events in one burst and measures, per interaction, from the moment its event
was sent:

- the defer: when the interaction callback arrives (Discord allows 3 s; target p99 < 100 ms);
- the digest: when the channel message carrying that thread's embed arrives.

The "naive" column is the same figure for a bot that answers only once the digest is ready
(its first response *is* the digest).

The bot acknowledges each command from the gateway event itself (`adapters.discord_chat.ack`),
before discord.py builds the interaction; the floor row is the adapter and discord.py alone (an
inbox that does nothing). The burst is repeated BURSTS times, each against a fresh bot and a
fresh fake, and every burst's p99 is printed: on a shared 2-core machine one burst's p99 swings
by ±20 ms.

The fake listens with a backlog of 1024: with aiohttp's default of 128, a burst of 200 new
connections overflows the listen queue and the dropped SYNs are retried by the kernel after
1 s, which would measure the fake, not the bot. Both processes use `time.monotonic()`, which is
one clock for the whole machine on Linux.

Run it with `python -m bench.discord_load` from the repository root.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import statistics
import tempfile
import time
import warnings
from contextlib import AsyncExitStack
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from adapters.discord_chat import DiscordChat, DiscordConfig
from adapters.reddit_source.thread_json import thread_from_json
from bot.app import open_core
from bot.chat import Inbox
from bot.core import CoreConfig, Engines
from digest.llm import LLMAnalyzer, StructuredRequest, StructuredResponse
from digest.pipeline import DigestEngine
from digest.report import Depth
from digest.sentiment import make_scorer
from tests.fakes.discord_server import CALLBACK_DEFERRED_CHANNEL_MESSAGE, FakeDiscord
from tests.support.fake_source import FakeSource
from tests.support.scripted_llm import grounded_answer
from tests.support.synthetic import post_data, thread_json

N = 200
ANALYSER_SECONDS = 2.0
WORKERS = N  # every job at once: the analyser's 2 s is the only wait
COMMENTS = 30
BACKLOG = 1024
TIMEOUT = 120.0
BURSTS = 3

Row = tuple[str, int, str, str, str]


class SlowLLM:
    """A scripted model that takes ANALYSER_SECONDS to answer (grounded in its prompt)."""

    name = "anthropic"

    async def structured(
        self, request: StructuredRequest, *, time_limit: float
    ) -> StructuredResponse:
        await asyncio.sleep(ANALYSER_SECONDS)
        return StructuredResponse(grounded_answer(request), 1000, 200, 0, 0, request.model)


class RoomyFakeDiscord(FakeDiscord):
    """The fake Discord with a listen backlog a burst of connections does not overflow."""

    backlog = BACKLOG


def post_id(i: int) -> str:
    return f"b{i:05d}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


# ---------------------------------------------------------------------- Discord (child process)


def discord_process(conn: Connection) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
        asyncio.run(_serve(conn))


async def _serve(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    async with RoomyFakeDiscord() as fake:
        conn.send((fake.token, fake.api_base, fake.gateway_url))
        with_core = await loop.run_in_executor(None, conn.recv)  # the bot is ready
        conn.send(await _burst(fake, with_core=with_core))
        await loop.run_in_executor(None, conn.recv)  # the bot has stopped


async def _burst(fake: FakeDiscord, *, with_core: bool) -> dict[str, Any]:
    interactions = [
        fake.slash_command("digest", {"url": f"https://redd.it/{post_id(i)}"}) for i in range(N)
    ]
    sent: dict[int, float] = {}
    by_post = {post_id(i): it.id for i, it in enumerate(interactions)}
    by_token = {it.token: it.id for it in interactions}
    start = time.monotonic()
    for interaction in interactions:
        sent[interaction.id] = time.monotonic()
        await fake.dispatch("INTERACTION_CREATE", interaction.payload)
    dispatched = time.monotonic() - start

    def digests() -> dict[int, float]:
        out: dict[int, float] = {}
        for r in fake.requests:
            if r.method != "POST" or not r.path.startswith("/channels/") or r.status != 200:
                continue
            embeds = (r.json or {}).get("embeds") or []
            url = str(embeds[0].get("url") or "") if embeds else ""
            post = url.split("/comments/")[-1].split("/")[0] if "/comments/" in url else ""
            if post in by_post:
                out.setdefault(by_post[post], r.received_at)
        return out

    def answered() -> dict[int, float]:
        """When the deferred response was replaced by "Posted: <link>" (the follow-up)."""
        out: dict[int, float] = {}
        for r in fake.requests:
            parts = r.path.split("/")  # /webhooks/{app}/{token}/messages/@original
            token = parts[3] if len(parts) > 3 else ""
            ok = r.method == "PATCH" and r.status == 200 and r.path.endswith("/@original")
            if ok and token in by_token:
                out.setdefault(by_token[token], r.received_at)
        return out

    def deferred() -> int:
        return sum(1 for c in fake.callbacks if c.type == CALLBACK_DEFERRED_CHANNEL_MESSAGE)

    if with_core:
        await fake.wait_until(lambda: len(digests()) >= N and len(answered()) >= N, timeout=TIMEOUT)
    else:
        await fake.wait_until(lambda: deferred() >= N, timeout=TIMEOUT)
    total = time.monotonic() - start
    return {
        "dispatched": dispatched,
        "total": total,
        "defers": [
            c.received_at - sent[c.interaction_id]
            for c in fake.callbacks
            if c.interaction_id in sent and c.type == CALLBACK_DEFERRED_CHANNEL_MESSAGE
        ],
        "digests": [t - sent[iid] for iid, t in digests().items()],
        "answers": [t - sent[iid] for iid, t in answered().items()],
        "errors": sum(1 for r in fake.requests if r.status >= 400 and r.status != 429),
        "requests": len(fake.requests),
    }


# ---------------------------------------------------------------------- the bot (this process)


def _source() -> FakeSource:
    source = FakeSource()
    for i in range(N):
        raw = thread_json(COMMENTS, seed=i, post_id=post_id(i))
        raw[0]["data"]["children"][0]["data"] = post_data(post_id(i), COMMENTS) | {
            "title": f"Bench thread {i}"
        }
        source.add(thread_from_json(raw))
    return source


async def _ignore(_: object) -> None:
    return None


async def _bot(conn: Connection, *, with_core: bool) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    token, api_base, gateway_url = await loop.run_in_executor(None, conn.recv)
    scorer = make_scorer()
    slow = DigestEngine(
        LLMAnalyzer(SlowLLM(), models=dict.fromkeys(Depth, "claude-haiku-5-5")), scorer=scorer
    )
    engines = Engines({"offline": DigestEngine(scorer=scorer), "anthropic": slow}, "anthropic")
    config = DiscordConfig(
        token=token, api_base=api_base, gateway_url=gateway_url, guild_ready_timeout=0.05
    )
    with tempfile.TemporaryDirectory() as tmp:
        async with AsyncExitStack() as stack:
            chat = await stack.enter_async_context(DiscordChat(config))
            core = await open_core(
                stack,
                Path(tmp) / "bench.sqlite3",
                source=_source(),
                engines=engines,
                chats={"discord": chat},
                config=CoreConfig(
                    workers=WORKERS, user_limit=(10 * N, 600.0), channel_limit=(10 * N, 3600.0)
                ),
                default_spend_cap=1000.0,
            )
            await core.start()
            inbox = Inbox(core.handle_request, core.handle_reaction, core.subscription_choices)
            if not with_core:  # the floor: the adapter and discord.py alone
                inbox = Inbox(_ignore, _ignore)
            runner = asyncio.create_task(chat.run(inbox))
            try:
                await asyncio.wait_for(chat.wait_until_ready(), 10)
                conn.send(with_core)
                result: dict[str, Any] = await loop.run_in_executor(None, conn.recv)
            finally:
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)
                await core.stop(grace=5.0)
    conn.send("stop")
    return result


def _rows(r: dict[str, Any], floor: dict[str, Any], more: list[dict[str, Any]]) -> list[Row]:
    defers = [s * 1000 for s in r["defers"]]
    finals = [s * 1000 for s in r["digests"]]
    bare = [s * 1000 for s in floor["defers"]]

    def ms(v: float) -> str:
        return f"{v:,.1f}"

    return [
        ("burst of INTERACTION_CREATE sent", N, ms(r["dispatched"] * 1000), "ms", "—"),
        ("event → defer, p50, no core (floor)", len(bare), ms(percentile(bare, 50)), "ms", "—"),
        ("event → defer, p99, no core (floor)", len(bare), ms(percentile(bare, 99)), "ms", "—"),
        ("event → defer callback, p50", len(defers), ms(percentile(defers, 50)), "ms", ms(percentile(finals, 50))),
        ("event → defer callback, p99", len(defers), ms(percentile(defers, 99)), "ms", ms(percentile(finals, 99))),
        ("event → defer callback, max", len(defers), ms(max(defers)), "ms", ms(max(finals))),
        *[
            (f"  burst {i}: event → defer, p99", len(m["defers"]), ms(percentile([s * 1000 for s in m["defers"]], 99)), "ms", "—")
            for i, m in enumerate(more, start=2)
        ],
        ("event → digest message, p50", len(finals), ms(percentile(finals, 50)), "ms", "—"),
        ("event → digest message, p99", len(finals), ms(percentile(finals, 99)), "ms", "—"),
        ("event → \"Posted:\" follow-up, p99", len(r["answers"]), ms(percentile([s * 1000 for s in r["answers"]], 99)) if r["answers"] else "—", "ms", "—"),
        ("event → digest message, mean", len(finals), ms(statistics.fmean(finals)), "ms", "—"),
        ("all 200 digests posted, askers told", N, ms(r["total"] * 1000), "ms", "—"),
        ("REST requests (errors, not 429)", r["requests"], str(r["errors"]), "count", "—"),
    ]  # fmt: skip


def _measure(*, with_core: bool) -> dict[str, Any]:
    """One burst against a fresh fake Discord in a child process."""
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    child = ctx.Process(target=discord_process, args=(theirs,), daemon=True)
    child.start()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
            return asyncio.run(_bot(ours, with_core=with_core))
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.terminate()


def main() -> int:
    logging.basicConfig(level=logging.ERROR)
    floor = _measure(with_core=False)
    first, *more = [_measure(with_core=True) for _ in range(BURSTS)]
    rows = _rows(first, floor, more)
    print(
        f"Discord load: {N} concurrent /digest through the fake gateway (in another process); "
        f"the analyser answers after {ANALYSER_SECONDS:.0f} s; {WORKERS} core workers"
    )
    header: Row = ("what", 0, "figure", "unit", "naive (answer when done)")
    table = [header, *rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(5)]
    for n, row in enumerate(table):
        cells = [str(c) if (i, n) != (1, 0) else "n" for i, c in enumerate(row)]
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
