"""The Slack adapter against the fake Slack, with the real slack-bolt and the real core.

Every test runs the adapter as the bot runs it: `async with SlackChat(config)` then `run(inbox)`,
HTTP mode on 127.0.0.1 (signed requests) or Socket Mode (envelopes from the fake), the core on
a SQLite file in tmp_path with an in-memory Reddit and the offline analyser. Listeners work
after the ack, so tests poll the fake for what the bot posted.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_async_handlers
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.reddit_source.saved import SavedThreadSource
from adapters.reddit_source.thread_json import thread_from_json, thread_from_json_text
from adapters.slack_chat import (
    MAX_BLOCKS,
    MAX_BODY_BYTES,
    MESSAGE_CHARS,
    SlackChat,
    SlackConfig,
    SlackConfigError,
    SlackMessage,
    SlackPostError,
    delivery_messages,
    escape_mrkdwn,
    is_listed,
    reaction_from_event,
    reaction_from_shortcut,
    reddit_to_mrkdwn,
    report_fallback,
    report_messages,
    request_from_command,
    slack_error,
    text_messages,
)
from bot.chat import (
    Bundle,
    ChannelTarget,
    Delivery,
    EphemeralTarget,
    Inbox,
    LookupUnavailable,
    MessageRef,
    PostRefused,
    Reaction,
    Request,
    ThreadTarget,
)
from bot.core import Core, CoreConfig, Engines
from bot.ports import ThreadRef, ThreadSource
from bot.settings import Settings
from bot.storage import Storage
from digest.model import Thread
from digest.pipeline import DigestEngine
from digest.report import Depth, Report
from digest.sentiment import make_scorer
from digest.stats import link_key
from digest.text import find_urls
from tests.conftest import thread_params
from tests.fakes.slack_server import (
    ApiCall,
    FakeSlack,
    JSONDict,
    _block_errors,
    form_body,
    interactive_form_body,
    sign,
)
from tests.support.fake_source import FakeSource
from tests.support.synthetic import comment_data, nest, post_data, thread_json

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SLACK_DATA = SHARED_DATA / "slack"
needs_slack_data = pytest.mark.skipif(
    not SLACK_DATA.is_dir(),
    reason=f"real Slack payloads not found at {SLACK_DATA} (they live beside the repo)",
)

ENGINE = DigestEngine(scorer=make_scorer())
FORM = "application/x-www-form-urlencoded"
GOOD_URL = "https://www.reddit.com/r/LocalLLaMA/comments/abc123/models/"
HOSTILE_URL = "https://www.reddit.com/r/LocalLLaMA/comments/evil66/psa/"
FORBIDDEN = (
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123",
    "<#C0GENERAL",
    "<!subteam",
    "|totally safe>",
)


# ----------------------------------------------------------------------------- threads


def good_thread() -> Thread:
    raw = thread_json(30, seed=7, post_id="abc123")
    raw[0]["data"]["children"][0]["data"] = post_data("abc123", 30, subreddit="LocalLLaMA") | {
        "title": "Which quantized model runs best on one GPU?"
    }
    return thread_from_json(raw)


def test_the_fallback_text_says_one_comment_in_the_singular() -> None:
    raw = thread_json(1, seed=7, post_id="one001")
    report = ENGINE.digest_sync(thread_from_json(raw), Depth.BRIEF)
    text = report_fallback(report)
    assert text.endswith("· 1 comment"), text


def test_links_to_two_local_ports_are_two_links_in_slack_too() -> None:
    """Slack decides which URLs become links with digest.stats' own key (ports kept)."""
    allowed = frozenset({link_key("http://localhost:11434/v1")})
    assert is_listed("http://localhost:11434/v1/", allowed)
    assert not is_listed("http://localhost:1234/v1", allowed)


def hostile_thread() -> Thread:
    """Reddit text that tries to ping, link and format its way into the channel."""
    bodies = [
        (
            "c1",
            "t3_evil66",
            500,
            "<!channel> wake up, <@U123> said **this** is [the best](https://github.com/example/"
            "project) tool. `rm -rf <!here>` and *really* ~~not~~ fine",
        ),
        (
            "c2",
            "t3_evil66",
            300,
            "I disagree with <@U123|bob> and <#C0GENERAL|general>; @everyone should read "
            "https://arxiv.org/abs/2401.00001 first, it is great.",
        ),
        (
            "c3",
            "t3_evil66",
            200,
            "Honestly it is great & fast > slow < fast, recommend it. <!subteam^S123|admins> "
            "5 * 3 * 2 = 30",
        ),
        (
            "c4",
            "t1_c1",
            150,
            "<https://evil.example/phish|totally safe> click here <!everyone> for more details",
        ),
        ("c5", "t1_c2", 90, "<!here> agreed, you should always test it on your own data first."),
    ]
    comments = [
        comment_data(cid, parent, author=f"user_{cid}", body=body, score=score,
                     created=1_735_689_600 + i * 60, depth=0 if parent.startswith("t3") else 1)
        for i, (cid, parent, score, body) in enumerate(bodies)
    ]  # fmt: skip
    post = post_data("evil66", len(comments), subreddit="LocalLLaMA") | {
        "title": "PSA <!channel> the new model is out <@U123>",
        "selftext": "Details: <!here> see https://github.com/example/project and **enjoy**",
    }
    raw = [
        {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": post}]}},
        {"kind": "Listing", "data": {"children": nest(comments)}},
    ]
    return thread_from_json(raw)


def numbered_thread(i: int) -> Thread:
    """Another small thread (id abc00i) in r/LocalLLaMA."""
    post_id = f"abc{i:03d}"
    raw = thread_json(12, seed=i, post_id=post_id)
    raw[0]["data"]["children"][0]["data"] = post_data(post_id, 12, subreddit="LocalLLaMA") | {
        "title": f"Numbered thread {i}"
    }
    return thread_from_json(raw)


def numbered_url(i: int) -> str:
    return f"https://www.reddit.com/r/LocalLLaMA/comments/abc{i:03d}/numbered/"


def thread_urls(thread: Thread) -> set[str]:
    urls = {thread.post.permalink, thread.post.url}
    for text in (thread.post.body, *(c.body for c in thread.comments)):
        urls.update(find_urls(text))
    return urls


# ----------------------------------------------------------------------------- the fake


class MetaSlack(FakeSlack):
    """The shared fake plus message metadata, which it does not keep: chat.postMessage stores
    `metadata`, conversations.history/replies return it with `include_all_metadata`."""

    def _chat_post_message(self, call: ApiCall) -> JSONDict:
        answer = super()._chat_post_message(call)
        metadata = call.args.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if metadata:
            stored = self.find_message(answer["channel"], answer["ts"])
            assert stored is not None
            stored.extra["metadata"] = metadata
            answer["message"]["metadata"] = metadata
        return answer

    def _with_metadata(self, call: ApiCall, answer: JSONDict) -> JSONDict:
        if str(call.args.get("include_all_metadata", "")).lower() in ("1", "true"):
            for m in answer["messages"]:
                stored = self.find_message(str(call.args["channel"]), m["ts"])
                if stored is not None and "metadata" in stored.extra:
                    m["metadata"] = stored.extra["metadata"]
        return answer

    def _conversations_history(self, call: ApiCall) -> JSONDict:
        return self._with_metadata(call, super()._conversations_history(call))

    def _conversations_replies(self, call: ApiCall) -> JSONDict:
        return self._with_metadata(call, super()._conversations_replies(call))

    def key_of(self, ts: str, channel: str = "C0GENERAL") -> str | None:
        msg = self.find_message(channel, ts)
        meta = msg.extra.get("metadata") if msg is not None else None
        return meta["event_payload"]["key"] if meta else None


# ----------------------------------------------------------------------------- the bot


@dataclass
class Recorder:
    """An Inbox that only records (for payload tests that need no core)."""

    requests: list[Request] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    # Answers reactions as the core would (set once the core runs); None: no answer.
    answer: Callable[[Reaction], Awaitable[str | None]] | None = None

    async def on_request(self, request: Request) -> None:
        self.requests.append(request)

    async def on_reaction(self, reaction: Reaction) -> str | None:
        self.reactions.append(reaction)
        return await self.answer(reaction) if self.answer is not None else None

    def inbox(self) -> Inbox:
        return Inbox(self.on_request, self.on_reaction)


@dataclass
class Bot:
    fake: MetaSlack
    chat: SlackChat
    core: Core
    source: FakeSource

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.chat.http_port}/slack/events"

    async def send(
        self, body: bytes, content_type: str = FORM, headers: dict[str, str] | None = None
    ) -> tuple[int, str, float]:
        """POST a (signed, unless headers are given) body to the adapter: status, body, seconds."""
        signed = sign(body, self.fake.signing_secret) if headers is None else headers
        async with aiohttp.ClientSession() as session:
            started = time.monotonic()
            async with session.post(
                self.url, data=body, headers={**signed, "Content-Type": content_type}
            ) as response:
                text = await response.text()
                return response.status, text, time.monotonic() - started

    async def slash(self, command: str, text: str, **kw: Any) -> tuple[int, str, float]:
        return await self.send(form_body(self.fake.slash_command_payload(command, text, **kw)))

    async def event(self, body: JSONDict) -> int:
        status, _, _ = await self.send(json.dumps(body).encode(), "application/json")
        return status

    async def settle(self) -> None:
        """Until the core has nothing left to do (and listeners have finished)."""
        await asyncio.sleep(0.05)
        assert await self.core.drain(10.0)
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(
    fake: MetaSlack,
    tmp_path: Path,
    *,
    socket: bool = False,
    inbox: Inbox | None = None,
    source: ThreadSource | None = None,
    **config: Any,
) -> AsyncIterator[Bot]:
    cfg = SlackConfig(
        bot_token=fake.bot_token,
        app_token=fake.app_token if socket else None,
        signing_secret=fake.signing_secret,
        port=0,
        api_url=fake.api_url,
        **{"post_interval": 0.0, **config},
    )
    async with AsyncExitStack() as stack:
        storage = await stack.enter_async_context(Storage(tmp_path / "bot.sqlite3"))
        memory = FakeSource()
        memory.add(good_thread())
        memory.add(hostile_thread())
        chat = await stack.enter_async_context(SlackChat(cfg))
        core = Core(
            storage=storage,
            source=source or memory,
            engines=Engines({"offline": ENGINE}),
            chats={"slack": chat},
            config=CoreConfig(workers=2, idle_poll_seconds=0.05),
        )
        await core.start()
        stack.push_async_callback(core.stop, 2.0)
        task = asyncio.create_task(
            chat.run(inbox or Inbox(core.handle_request, core.handle_reaction))
        )

        async def cancel() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        stack.push_async_callback(cancel)
        await chat.wait_ready(5.0)
        yield Bot(fake, chat, core, memory)


@pytest.fixture
async def fake() -> AsyncIterator[MetaSlack]:
    server = MetaSlack()
    async with server:
        yield server


@pytest.fixture
async def bot(fake: MetaSlack, tmp_path: Path) -> AsyncIterator[Bot]:
    async with running(fake, tmp_path) as b:
        yield b


# ----------------------------------------------------------------------------- helpers


def strings(obj: Any) -> Iterator[str]:
    """Every string in a JSON-like value."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from strings(value)
    elif isinstance(obj, list | tuple):
        for value in obj:
            yield from strings(value)


def check_message(text: str, blocks: list[JSONDict] | tuple[JSONDict, ...] | None) -> None:
    """Slack's limits and ours, for one message."""
    assert text.strip(), "a message always carries a plain-text fallback"
    size = len(text)
    if blocks is not None:
        assert _block_errors(list(blocks)) == []
        assert len(blocks) <= MAX_BLOCKS
        for block in blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= 3000
                assert block["text"]["verbatim"] is True
                size += len(block["text"]["text"])
            elif block["type"] == "header":
                assert block["text"]["type"] == "plain_text"
                assert len(block["text"]["text"]) <= 150
            elif block["type"] == "context":
                assert len(block["elements"]) <= 10
                size += sum(len(e["text"]) for e in block["elements"])
    assert size <= MESSAGE_CHARS


def posted_payloads(fake: FakeSlack) -> list[JSONDict]:
    out: list[JSONDict] = [c.args for c in fake.calls_to("chat.postMessage")]
    out += [c.args for c in fake.calls_to("chat.postEphemeral")]
    out += [r.body for r in fake.responses]
    return out


async def replies_settled(bot: Bot, thread_ts: str, channel: str = "C0GENERAL") -> list[Any]:
    await bot.fake.wait_until(
        lambda: any(m.thread_ts == thread_ts for m in bot.fake.posted), timeout=10.0
    )
    await bot.settle()
    return [m for m in bot.fake.posted if m.thread_ts == thread_ts and m.channel == channel]


# ----------------------------------------------------------------------------- configuration


def test_config_keeps_secrets_out_of_repr_and_needs_a_transport() -> None:
    cfg = SlackConfig(bot_token="xoxb-secret-1", app_token="xapp-secret-2", signing_secret="s3")
    shown = repr(cfg) + str(cfg)
    assert "secret" not in shown
    assert "s3" not in shown
    assert cfg.socket_mode
    assert cfg.web_api_url == "https://slack.com/api/"
    http = SlackConfig(bot_token="xoxb-1", signing_secret="s", api_url="http://127.0.0.1:9/api")
    assert not http.socket_mode
    assert http.web_api_url == "http://127.0.0.1:9/api/"
    assert http.host == "127.0.0.1"  # a reverse proxy fronts it, unless told otherwise
    with pytest.raises(SlackConfigError, match="REDIGEST_SLACK_HOST"):
        SlackConfig(bot_token="xoxb-1", signing_secret="s", host=" ")
    with pytest.raises(SlackConfigError, match=r"SLACK_APP_TOKEN .* or SLACK_SIGNING_SECRET"):
        SlackConfig(bot_token="xoxb-1")
    with pytest.raises(SlackConfigError, match="xapp-"):
        SlackConfig(bot_token="xoxb-1", app_token="xoxb-wrong-kind")


def test_config_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SlackConfig.from_settings(Settings(_env_file=None)) is None  # type: ignore[call-arg]
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-env")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "sign-from-env")
    monkeypatch.setenv("REDIGEST_SLACK_HOST", " ")  # blank: the default
    default = SlackConfig.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    assert default is not None
    assert default.host == "127.0.0.1"
    monkeypatch.setenv("REDIGEST_SLACK_HOST", "0.0.0.0")
    monkeypatch.setenv("REDIGEST_SLACK_PORT", "3100")
    monkeypatch.setenv("REDIGEST_SLACK_API_URL", "http://127.0.0.1:1/api")
    monkeypatch.setenv("REDIGEST_SLACK_ADMIN_GROUP", "S0ADMINS1")
    cfg = SlackConfig.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    assert cfg is not None
    assert (cfg.bot_token, cfg.signing_secret, cfg.app_token) == (
        "xoxb-from-env",
        "sign-from-env",
        None,
    )
    assert (cfg.host, cfg.port, cfg.web_api_url, cfg.admin_group) == (
        "0.0.0.0",
        3100,
        "http://127.0.0.1:1/api/",
        "S0ADMINS1",
    )


async def test_a_bad_bot_token_stops_start_up_with_one_sentence(fake: MetaSlack) -> None:
    cfg = SlackConfig(bot_token="xoxb-wrong", signing_secret="s", api_url=fake.api_url)
    with pytest.raises(SlackConfigError, match=r"invalid_auth.*SLACK_BOT_TOKEN"):
        async with SlackChat(cfg):
            pass


@pytest.mark.parametrize(
    ("app_token", "error"),
    [
        pytest.param("xapp-1-A0APP0001-9999-revoked", "invalid_auth", id="unknown"),
        pytest.param("xapp-1-A0APP0001-8888-botkind", "not_allowed_token_type", id="wrong-kind"),
    ],
)
async def test_a_bad_app_token_stops_start_up_with_one_line(
    fake: MetaSlack, app_token: str, error: str
) -> None:
    fake.extra_tokens.add("xapp-1-A0APP0001-8888-botkind")  # known, but not an app-level token
    cfg = SlackConfig(bot_token=fake.bot_token, app_token=app_token, api_url=fake.api_url)
    with pytest.raises(SlackConfigError) as caught:
        async with SlackChat(cfg):
            pass
    message = caught.value.user_message
    assert error in message
    assert "SLACK_APP_TOKEN" in message
    assert "\n" not in message
    assert app_token not in message
    assert caught.value.__suppress_context__  # the CLI prints this line, not a traceback
    # checked once, not retried
    assert len(fake.calls_to("auth.test")) == 1
    assert len(fake.calls_to("apps.connections.open")) == 1
    assert fake.socket_connections_opened == 0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def connections_to(port: int, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record every socket connection attempt to 127.0.0.1:``port`` (asyncio's included)."""
    attempts: list[Any] = []
    connect = socket.socket.connect

    def recording(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address[1] == port:
            attempts.append(address)
        connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", recording)
    return attempts


class FrozenClock:
    """The running loop's ``time()``, standing still until :meth:`advance` moves it."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextlib.contextmanager
def frozen_loop_clock() -> Iterator[FrozenClock]:
    """Freeze the running loop's clock: its timers (``asyncio.timeout``, ``call_later``)
    fire only when the test advances it; I/O still runs."""
    loop = asyncio.get_running_loop()
    clock = FrozenClock(loop.time())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loop, "time", clock)
        yield clock


async def first_done(*waits: asyncio.Future[Any], guard: float = 30.0) -> None:
    """Until one of ``waits`` is done, bounded by a thread's real time, not the loop's clock
    (which may be frozen): a wait that hangs on a timer fails the test instead of hanging it."""
    stop = threading.Event()
    guard_thread = asyncio.ensure_future(asyncio.to_thread(stop.wait, guard))
    try:
        await asyncio.wait({*waits, guard_thread}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.set()
        await guard_thread


async def settle_loop(rounds: int = 20) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


@pytest.mark.parametrize("socket_mode", [False, True], ids=["http", "socket"])
async def test_an_unreachable_slack_stops_start_up_with_one_line(
    socket_mode: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _closed_port()
    api_url = f"http://127.0.0.1:{port}/api/"
    cfg = SlackConfig(
        bot_token="xoxb-1",
        app_token="xapp-1" if socket_mode else None,
        signing_secret="s",
        api_url=api_url,
    )
    attempts = connections_to(port, monkeypatch)
    with pytest.raises(SlackConfigError) as caught:
        async with SlackChat(cfg):
            pass
    message = caught.value.user_message
    assert api_url in message
    assert "REDIGEST_SLACK_API_URL" in message
    assert "connection refused" in message
    assert "\n" not in message
    assert len(attempts) == 1  # tried once, not retried


async def test_a_slack_that_never_answers_stops_start_up_in_time() -> None:
    held: list[asyncio.StreamWriter] = []
    asked = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accepts the connection, reads the request, never answers
        await reader.readuntil(b"\r\n\r\n")
        asked.set()

    async def start_up(cfg: SlackConfig) -> None:
        async with SlackChat(cfg):
            pass

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        cfg = SlackConfig(
            bot_token="xoxb-1",
            signing_secret="s",
            api_url=f"http://127.0.0.1:{port}/api/",
            startup_timeout=0.3,
        )
        # The loop's clock stands still unless the test moves it: the deadline the adapter set
        # is seen in loop time, however long the machine takes.
        with frozen_loop_clock() as clock:
            starting = asyncio.create_task(start_up(cfg))
            asking = asyncio.ensure_future(asked.wait())
            await first_done(starting, asking)
            assert asked.is_set()  # auth.test was sent and is waiting for its answer
            clock.advance(0.29)
            await settle_loop()
            assert not starting.done()
            clock.advance(0.02)
            await first_done(starting)
            assert starting.done(), "start-up did not give up at its 0.3 s deadline"
            with pytest.raises(SlackConfigError) as caught:
                await starting
        assert len(held) == 1  # asked once, not retried
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
    message = caught.value.user_message
    assert "no answer to auth.test within 0.3 s" in message
    assert "REDIGEST_SLACK_API_URL" in message
    assert "\n" not in message


async def test_http_mode_listens_on_the_configured_host(fake: MetaSlack, tmp_path: Path) -> None:
    async with running(fake, tmp_path, host="127.0.0.2") as bot:
        assert bot.chat.http_host == "127.0.0.2"
        port = bot.chat.http_port
        body = form_body(fake.slash_command_payload("/redigest", "help"))
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"http://127.0.0.2:{port}/slack/events",
                data=body,
                headers={**sign(body, fake.signing_secret), "Content-Type": FORM},
            ) as response:
                assert response.status == 200
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.post(f"http://127.0.0.1:{port}/slack/events", data=body)
        await fake.wait_until(lambda: len(fake.ephemerals) == 1)


def test_an_error_answer_that_is_not_slacks_json_is_named_by_its_status() -> None:
    def error(data: Any, status: int) -> SlackApiError:
        response = AsyncSlackResponse(
            client=None, http_verb="POST", api_url="https://slack.com/api/chat.postMessage",
            req_args={}, data=data, headers={}, status_code=status,
        )  # fmt: skip
        return SlackApiError("failed", response)  # type: ignore[no-untyped-call]

    assert slack_error(error({"ok": False, "error": "not_in_channel"}, 200)) == "not_in_channel"
    assert slack_error(error("<html>502 Bad Gateway</html>", 502)) == "HTTP 502"  # a proxy's page
    assert slack_error(error({"ok": False}, 500)) == "HTTP 500"


# ----------------------------------------------------------------------------- commands


def hold_fetches(source: FakeSource, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Hold every thread fetch until the returned event is set: what is answered meanwhile was
    answered without waiting for the work."""
    release = asyncio.Event()
    fetch = source.fetch_thread

    async def held(ref: ThreadRef, depth: Depth) -> Thread:
        await release.wait()
        return await fetch(ref, depth)

    monkeypatch.setattr(source, "fetch_thread", held)
    return release


async def test_slash_digest_over_http_acks_then_posts_block_kit(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = hold_fetches(bot.source, monkeypatch)
    status, body, _ = await bot.slash("/digest", f"{GOOD_URL} brief")
    # Slack's deadline for the ack is 3 s: it is sent while the thread is still being fetched
    assert status == 200
    assert "digest will be posted here" in body
    assert bot.fake.calls_to("chat.postMessage") == []
    release.set()

    call = await bot.fake.wait_for_call("chat.postMessage", timeout=10.0)
    assert call.args["channel"] == "C0GENERAL"
    blocks = call.args["blocks"]
    assert blocks[0]["type"] == "header"
    assert "Which quantized model runs best on one GPU?" in blocks[1]["text"]["text"]
    permalink = good_thread().post.permalink
    assert f"<{permalink}|" in blocks[1]["text"]["text"]  # the thread's own link, as <url|label>
    assert "Which quantized model" in call.args["text"]  # the fallback names the thread too
    check_message(call.args["text"], blocks)
    metadata = call.args["metadata"]
    assert metadata["event_type"] == "redigest_post"
    assert metadata["event_payload"]["key"].startswith("digest:slack:C0GENERAL:")
    assert call.args["unfurl_links"] is False

    # The message reference is (channel, ts): a later reaction on it finds the thread.
    await bot.settle()
    ref = MessageRef("slack", "C0GENERAL", bot.fake.posted[0].ts)
    assert await bot.core.storage.posted_thread_for(ref) == ("abc123", None)
    assert bot.fake.calls_to("users.info") == []  # /digest needs no admin check


async def test_slash_command_through_socket_mode(fake: MetaSlack, tmp_path: Path) -> None:
    async with running(fake, tmp_path, socket=True) as bot:
        assert fake.socket_connected
        assert fake.calls_to("apps.connections.open")[0].token == fake.app_token
        payload = fake.slash_command_payload("/digest", GOOD_URL)
        envelope_id = await fake.socket_send(fake.envelope("slash_commands", payload))
        ack = await fake.wait_ack(envelope_id)
        assert "digest will be posted here" in ack["payload"]["text"]
        call = await fake.wait_for_call("chat.postMessage", timeout=10.0)
        check_message(call.args["text"], call.args["blocks"])
        assert "Which quantized model" in call.args["blocks"][1]["text"]["text"]
        await bot.settle()
    assert not fake.socket_connected  # run() was cancelled: the connection is closed


async def test_subcommands_are_namespaced_and_answered_ephemerally(bot: Bot) -> None:
    status, body, _ = await bot.slash("/redigest", "help")
    assert (status, body) == (200, "")
    await bot.fake.wait_until(lambda: len(bot.fake.ephemerals) == 1)
    answer = bot.fake.ephemerals[0]
    assert (answer.via, answer.user) == ("response_url", "U0ALICE01")
    assert "subscribe r/SUB" in answer.text
    assert bot.fake.posted == []


async def test_a_slash_command_saying_payload_is_not_lost_over_http(bot: Bot) -> None:
    """bolt reads any form body containing "payload" as an interactive payload and, finding no
    such field, as empty: the command was answered 400 "not a Slack payload" and lost."""
    status, _, _ = await bot.slash("/redigest", "help payload")
    assert status == 200
    await bot.fake.wait_until(lambda: len(bot.fake.ephemerals) == 1)
    assert "subscribe r/SUB" in bot.fake.ephemerals[0].text  # the help, answered


async def test_non_admin_cannot_subscribe(bot: Bot) -> None:
    await bot.slash("/redigest", "subscribe r/LocalLLaMA daily 09:00", user_id="U0ALICE01")
    await bot.fake.wait_until(lambda: len(bot.fake.ephemerals) == 1)
    refusal = bot.fake.ephemerals[0]
    assert refusal.user == "U0ALICE01"
    assert refusal.text == "Only people who can manage this workspace can subscribe a channel."
    assert await bot.core.storage.subscriptions() == []
    assert bot.fake.calls_to("users.info")[0].args["user"] == "U0ALICE01"

    await bot.slash("/redigest", "subscribe r/LocalLLaMA daily 09:00", user_id="U0OWNER01")
    await bot.fake.wait_until(lambda: len(bot.fake.ephemerals) == 2)
    assert bot.fake.ephemerals[1].text.startswith("Subscribed #1: r/LocalLLaMA")


async def test_members_of_the_admin_group_may_manage(fake: MetaSlack, tmp_path: Path) -> None:
    fake.add_usergroup("S0ADMINS1", ["U0ALICE01"])
    async with running(fake, tmp_path, admin_group="S0ADMINS1") as bot:
        await bot.slash("/redigest", "watch r/LocalLLaMA min-score 200")
        await fake.wait_until(lambda: len(fake.ephemerals) == 1)
        assert fake.ephemerals[0].text.startswith("Watching #1")
        await bot.slash("/redigest", "pause #1")
        await fake.wait_until(lambda: len(fake.ephemerals) == 2)
        assert fake.ephemerals[1].text == "Paused #1."
        assert len(fake.calls_to("usergroups.users.list")) == 1  # cached


async def test_errors_reach_the_user_in_one_sentence(bot: Bot) -> None:
    await bot.slash("/digest", "https://www.reddit.com/r/foo/wiki")
    await bot.fake.wait_until(lambda: len(bot.fake.ephemerals) == 1)
    assert bot.fake.ephemerals[0].text.count(". ") <= 1

    bot.fake.fail_next("chat.postMessage", "not_in_channel")
    await bot.slash("/digest", GOOD_URL)
    await bot.fake.wait_until(lambda: len(bot.fake.ephemerals) == 2, timeout=10.0)
    assert bot.fake.ephemerals[1].text == (
        "I can't post in this channel: invite me with /invite @redigest, then try again."
    )
    assert bot.fake.posted == []


def _without_echo(answer: str) -> str:
    """An answer with its quotation of the person's own words (“…”) taken out."""
    return re.sub(r"“[^”]*”", "“…”", answer, count=1)


async def test_a_path_on_the_bots_host_is_answered_like_a_missing_one(
    fake: MetaSlack, tmp_path: Path
) -> None:
    """Without Reddit (the saved-threads source), a chat's `/digest /some/file.json` reads no
    file: a real thread file outside the saved folder and a missing one get the same sentence,
    so nobody learns which files exist, and nothing from the file reaches the channel."""
    saved = tmp_path / "saved"
    saved.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    raw = thread_json(20, seed=3, post_id="prb001")
    raw[0]["data"]["children"][0]["data"]["title"] = "A private export nobody should read"
    export = elsewhere / "export.json"
    export.write_text(json.dumps(raw), encoding="utf-8")
    assert thread_from_json_text(export.read_bytes()).post.id == "prb001"  # a valid thread
    missing = elsewhere / "missing.json"

    source = SavedThreadSource([saved])
    async with running(fake, tmp_path, source=source) as bot:
        for target in (export, missing):
            status, _, _ = await bot.slash("/digest", str(target))
            assert status == 200
        await fake.wait_until(lambda: len(fake.ephemerals) == 2, timeout=10.0)
        await bot.settle()
    first, second = (e.text for e in fake.ephemerals)
    # The same answer, apart from the echo of what each person typed (which tells them
    # nothing they did not know): no file is read, so nothing depends on the file.
    assert _without_echo(first) == _without_echo(second)
    for answer, target in ((first, export), (second, missing)):
        echo = re.search(r"“([^”]*)”", answer)  # what was typed, nothing from the file
        assert echo is None or str(target).startswith(echo.group(1).removesuffix("…"))
    assert "\n" not in first
    assert first.count(". ") <= 1  # one sentence
    assert "Reddit" in first
    assert fake.posted == []
    shown = json.dumps(posted_payloads(fake))
    assert "private export" not in shown
    assert "prb001" not in shown


async def test_a_command_delivered_twice_is_done_once_and_counted_once(
    fake: MetaSlack, tmp_path: Path
) -> None:
    """Slack may deliver the same command again (same trigger_id), in Socket Mode as over
    HTTP: one digest, and the user's 5 digests per 10 minutes stay 5."""
    async with running(fake, tmp_path, socket=True) as bot:
        for i in range(1, 7):
            bot.source.add(numbered_thread(i))
        payload = fake.slash_command_payload("/digest", numbered_url(1))
        for _ in range(3):
            envelope_id = await fake.socket_send(fake.envelope("slash_commands", payload))
            await fake.wait_ack(envelope_id)
            await bot.settle()
        assert len(fake.posted) == 1
        for i in range(2, 6):
            envelope = fake.envelope("slash_commands", fake.slash_command_payload(
                "/digest", numbered_url(i)))  # fmt: skip
            await fake.wait_ack(await fake.socket_send(envelope))
        await fake.wait_until(lambda: len(fake.posted) == 5, timeout=15.0)
        await bot.settle()
        assert [e.text for e in fake.ephemerals if "a lot of digests" in e.text] == []


# ----------------------------------------------------------------------------- signatures


@pytest.mark.parametrize(
    "headers_for",
    [
        pytest.param(lambda body, secret: sign(body, "forged-secret"), id="forged"),
        pytest.param(lambda body, secret: sign(body, secret, int(time.time()) - 301), id="stale"),
        # Well past the 5-minute window: at +301 a check one second later would accept it.
        pytest.param(lambda body, secret: sign(body, secret, int(time.time()) + 360), id="future"),
        pytest.param(lambda body, secret: {}, id="unsigned"),
    ],
)
async def test_bad_signatures_get_401_and_no_work(
    fake: MetaSlack, tmp_path: Path, headers_for: Any
) -> None:
    recorder = Recorder()
    async with running(fake, tmp_path, inbox=recorder.inbox()) as bot:
        calls_before = len(fake.calls)
        body = form_body(fake.slash_command_payload("/digest", GOOD_URL))
        status, _, _ = await bot.send(body, headers=headers_for(body, fake.signing_secret))
        assert status == 401
        event = fake.reaction_added_event("U0ALICE01", "mag", "C0GENERAL", "1.000001")
        raw = json.dumps(event).encode()
        status, _, _ = await bot.send(
            raw, "application/json", headers_for(raw, fake.signing_secret)
        )
        assert status == 401
        await asyncio.sleep(0.1)
    assert recorder.requests == []
    assert recorder.reactions == []
    assert fake.calls[calls_before:] == []


def _bad_headers(body: bytes, secret: str) -> list[dict[str, str]]:
    """Every way a request can fail the signature check."""
    now = int(time.time())
    good = sign(body, secret)
    return [
        {},
        {"X-Slack-Signature": good["X-Slack-Signature"]},  # no timestamp
        {"X-Slack-Request-Timestamp": str(now)},  # no signature
        {**good, "X-Slack-Request-Timestamp": "not-a-number"},
        {**good, "X-Slack-Request-Timestamp": "1e10"},
        {**good, "X-Slack-Request-Timestamp": "9" * 40},
        {**good, "X-Slack-Request-Timestamp": "-1"},
        sign(body, secret, now - 600),
        sign(body, "forged-secret"),
        {**good, "X-Slack-Signature": good["X-Slack-Signature"].removeprefix("v0=")},
        {**good, "X-Slack-Signature": "v0=" + "0" * 64},
        {**good, "X-Slack-Signature": "v0=é"},
        {**good, "X-Slack-Signature": "v1=" + good["X-Slack-Signature"][3:]},
    ]


_JUNK_BODIES: list[tuple[bytes, str]] = [
    (b"", FORM),
    (b"\xff\xfe\x00junk", FORM),
    (b"{", "application/json"),
    (b"[1, 2]", "application/json"),
    (b"null", "application/json"),
    (b"[" * 100_000, "application/json"),  # deeper than any parser's stack
    (b'{"type": "event_callback", "event": "x"}', "application/json"),
    (b'{"type": "event_callback", "event": ["type"]}', "application/json"),
    (b'{"type": "event_callback", "event": {"type": "reaction_added", "item": "x"}}',
     "application/json"),
    (b'{"type": "event_callback", "authorizations": "xyz", "event": {"type": "x"}}',
     "application/json"),
    (b'{"type": "block_actions", "actions": []}', "application/json"),
    (b'{"command": 5, "text": "x"}', "application/json"),
    (b'{"type": {"nested": true}}', "application/json"),
    (b"payload=%7B", FORM),
    (b"payload=%5B1%5D", FORM),
    (b'payload={"type":"message_action","callback_id":"deep_analysis"}', FORM),
    (b'payload={"type":"message_action","callback_id":"deep_analysis","team":"T1",'
     b'"channel":{"id":"C0GENERAL"},"user":{"id":"U0ALICE01"},"message":{"ts":"1.2"}}', FORM),
    (b"command=/digest", FORM),
    (b"command=digest&team_id=T&channel_id=C&user_id=U", FORM),
    (b"a=b&c=d", FORM),
    (b"type=event_callback", FORM),
]  # fmt: skip


def _log_lines(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if text in r.getMessage()]


def _assert_no_traceback_or_bolt_noise(caplog: pytest.LogCaptureFixture) -> None:
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert [r.getMessage() for r in caplog.records if r.name.endswith(".bolt")] == []


async def test_unsigned_junk_is_refused_unread_with_one_log_line(
    fake: MetaSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    recorder = Recorder()
    async with running(fake, tmp_path, inbox=recorder.inbox()) as bot:
        calls_before = len(fake.calls)
        real = form_body(fake.slash_command_payload("/digest", GOOD_URL))
        bodies = [*_JUNK_BODIES, (real, FORM)]
        sent = 0
        for body, content_type in bodies:
            for headers in _bad_headers(body, fake.signing_secret):
                status, text, _ = await bot.send(body, content_type, headers)
                assert (status, text) == (401, "invalid request signature"), (body[:40], headers)
                sent += 1
        await asyncio.sleep(0.1)
    assert sent > 250
    assert recorder.requests == []
    assert recorder.reactions == []
    assert fake.calls[calls_before:] == []
    # One line for the lot (they came within a minute), naming the setting to check.
    [line] = _log_lines(caplog, "request(s) to /slack/events")
    assert "SLACK_SIGNING_SECRET" in line.getMessage()
    assert bot.chat._refused.count == sent - 1  # counted for the next line
    _assert_no_traceback_or_bolt_noise(caplog)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1, 8 * MAX_BODY_BYTES])
async def test_a_body_over_one_mib_is_refused_with_413(
    bot: Bot, size: int, chunked: bool, caplog: pytest.LogCaptureFixture
) -> None:
    body = b"a=" + b"x" * (size - 2)
    headers = {
        **sign(body, bot.fake.signing_secret),
        "Content-Type": FORM,
    }  # only its size is wrong

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: refused while read
        for i in range(0, len(body), 65_536):
            yield body[i : i + 65_536]

    async with aiohttp.ClientSession() as session:
        data = chunks() if chunked else io.BytesIO(body)
        async with session.post(bot.url, data=data, headers=headers) as response:
            assert response.status == 413
    # Nothing is stuck: the next request works.
    status, _, _ = await bot.slash("/redigest", "help")
    assert status == 200
    _assert_no_traceback_or_bolt_noise(caplog)


async def test_signed_junk_gets_400_never_500_or_a_traceback(
    fake: MetaSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    recorder = Recorder()
    async with running(fake, tmp_path, inbox=recorder.inbox()) as bot:
        calls_before = len(fake.calls)
        for body, content_type in _JUNK_BODIES:
            status, text, _ = await bot.send(body, content_type)  # validly signed
            assert (status, text) == (400, "not a Slack payload"), body[:80]
        await asyncio.sleep(0.1)
        assert recorder.requests == []
        assert recorder.reactions == []
        assert fake.calls[calls_before:] == []
        assert len(_log_lines(caplog, "signed request(s) that are not Slack payloads")) == 1
        _assert_no_traceback_or_bolt_noise(caplog)
        # The door is still open for Slack's own requests.
        status, _, _ = await bot.slash("/redigest", "help")
        assert status == 200
        await fake.wait_until(lambda: len(recorder.requests) == 1)


async def test_the_url_verification_challenge_is_answered(bot: Bot) -> None:
    body = json.dumps({"token": "t", "challenge": "3eZbrw1aB", "type": "url_verification"})
    status, text, _ = await bot.send(body.encode(), "application/json")
    assert status == 200
    assert "3eZbrw1aB" in text


async def test_events_it_does_not_take_are_acknowledged_quietly(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    """A well-formed event the manifest does not subscribe to is acked (so Slack does not retry
    it), without bolt's multi-line "unhandled request" warning."""
    event = bot.fake.event_callback({"type": "member_joined_channel", "user": "U0ALICE01"})
    assert await bot.event(event) == 200
    limited = {"token": "t", "type": "app_rate_limited", "team_id": "T0FAKE001",
               "minute_rate_limited": 1_518_467_820, "api_app_id": "A0APP0001"}  # fmt: skip
    assert await bot.event(limited) == 200
    [line] = _log_lines(caplog, "app_rate_limited")
    assert "\n" not in line.getMessage()
    _assert_no_traceback_or_bolt_noise(caplog)


async def test_a_replayed_command_does_no_work_and_spends_no_limit(bot: Bot) -> None:
    """The same signed request again (same body and signature, within the window): acked, not
    handled again, and the user's 5 digests per 10 minutes are all still theirs."""
    fake = bot.fake
    for i in range(1, 7):
        bot.source.add(numbered_thread(i))
    first = form_body(fake.slash_command_payload("/digest", numbered_url(1)))
    headers = sign(first, fake.signing_secret)
    status, text, _ = await bot.send(first, headers=headers)
    assert (status, "digest will be posted here" in text) == (200, True)
    await fake.wait_for_call("chat.postMessage", timeout=10.0)
    await bot.settle()
    for _ in range(3):
        status, text, _ = await bot.send(first, headers=headers)
        assert (status, text) == (200, "")
    await bot.settle()
    assert len(fake.posted) == 1

    for i in range(2, 6):  # digests 2 to 5 of the five allowed
        status, _, _ = await bot.slash("/digest", numbered_url(i))
        assert status == 200
    await fake.wait_until(lambda: len(fake.posted) == 5, timeout=15.0)
    await bot.settle()
    assert [e.text for e in fake.ephemerals if "a lot of digests" in e.text] == []
    titles = [m.blocks[1]["text"]["text"] for m in fake.posted if m.blocks]
    assert [n for n in range(1, 6) if any(f"Numbered thread {n}" in t for t in titles)] == [
        1, 2, 3, 4, 5
    ]  # fmt: skip

    await bot.slash("/digest", numbered_url(6))  # the sixth is one too many: the limit holds
    await fake.wait_until(lambda: any("a lot of digests" in e.text for e in fake.ephemerals))
    await bot.settle()
    assert len(fake.posted) == 5


# ----------------------------------------------------------------------------- flags


async def test_flag_reactions_post_the_deep_report_once(bot: Bot) -> None:
    await bot.slash("/digest", GOOD_URL)
    await bot.fake.wait_for_call("chat.postMessage", timeout=10.0)
    await bot.settle()
    digest_ts = bot.fake.posted[0].ts

    for user in ("U0ALICE01", "U0BOB0001", "U0CAROL01"):
        assert (
            await bot.event(bot.fake.reaction_added_event(user, "mag", "C0GENERAL", digest_ts))
            == 200
        )
    assert await bot.event(
        bot.fake.reaction_added_event(bot.fake.bot_user_id, "mag", "C0GENERAL", digest_ts)
    ) == 200  # fmt: skip
    replies = await replies_settled(bot, digest_ts)

    keys = {bot.fake.key_of(m.ts) for m in replies}
    assert keys == {f"flag:slack:C0GENERAL:{digest_ts}:deep"}  # one deep report, whatever the flags
    parts = [bot.fake.find_message("C0GENERAL", m.ts) for m in replies]
    assert [p.extra["metadata"]["event_payload"]["part"] for p in parts if p] == list(
        range(len(replies))
    )
    assert "Deep analysis" in (replies[0].blocks or [])[0]["text"]["text"]
    for call in bot.fake.calls_to("chat.postMessage"):
        check_message(call.args["text"], call.args.get("blocks"))
    # A flag on the bot's own digest needs no reading back: the core knows its thread.
    assert bot.fake.calls_to("conversations.history") == []


async def test_the_bots_own_reaction_and_other_emoji_are_ignored(bot: Bot) -> None:
    await bot.slash("/digest", GOOD_URL)
    await bot.fake.wait_for_call("chat.postMessage", timeout=10.0)
    await bot.settle()
    digest_ts = bot.fake.posted[0].ts
    fake = bot.fake
    await bot.event(fake.reaction_added_event(fake.bot_user_id, "mag", "C0GENERAL", digest_ts))
    await bot.event(fake.reaction_added_event("U0ALICE01", "tada", "C0GENERAL", digest_ts))
    plain = fake.add_message("C0GENERAL", f"look {GOOD_URL}", user="U0ALICE01")
    await bot.event(fake.reaction_added_event("U0ALICE01", "heart", "C0GENERAL", plain))
    await bot.settle()
    assert len(fake.posted) == 1
    assert fake.calls_to("conversations.history") == []  # other emoji never cost a read


async def test_flag_on_a_users_link_reads_the_message(bot: Bot) -> None:
    fake = bot.fake
    ts = fake.add_message("C0GENERAL", f"have you seen <{GOOD_URL}|this thread>?", user="U0OWNER01")
    no_link = fake.add_message("C0GENERAL", "no thread here", user="U0OWNER01")
    await bot.event(fake.reaction_added_event("U0ALICE01", "mag", "C0GENERAL", no_link))
    await bot.event(fake.reaction_added_event("U0ALICE01", "mag::skin-tone-2", "C0GENERAL", ts))
    replies = await replies_settled(bot, ts)
    assert replies
    assert all(m.thread_ts == ts for m in replies)
    assert "Which quantized model" in (replies[0].blocks or [])[1]["text"]["text"]
    assert not any(m.thread_ts == no_link for m in fake.posted)


@pytest.mark.parametrize("typed", [":eyes:", "👀"])
async def test_a_workspaces_own_flag_emoji_flags_a_users_message(bot: Bot, typed: str) -> None:
    """`/redigest settings flag-emoji 👀` (Slack sends a picked emoji as `:eyes:`): 👀 on a
    person's message with a thread link asks for the deep analysis, and 🔍 no longer does (the
    adapter used to drop every reaction but its own configured 🔍 before the core saw it)."""
    fake = bot.fake
    await bot.slash("/redigest", f"settings flag-emoji {typed}", user_id="U0OWNER01")
    await fake.wait_until(lambda: len(fake.ephemerals) == 1)
    assert fake.ephemerals[0].text == f"flag-emoji is now {typed}."
    ts = fake.add_message("C0GENERAL", f"have you seen {GOOD_URL} ?", user="U0OWNER01")

    await bot.event(fake.reaction_added_event("U0ALICE01", "mag", "C0GENERAL", ts))
    await bot.settle()
    assert not any(m.thread_ts == ts for m in fake.posted)
    assert fake.calls_to("conversations.history") == []  # not this workspace's flag: no read

    await bot.event(fake.reaction_added_event("U0ALICE01", "eyes", "C0GENERAL", ts))
    replies = await replies_settled(bot, ts)
    assert {fake.key_of(m.ts) for m in replies} == {f"flag:slack:C0GENERAL:{ts}:deep"}
    assert "Which quantized model" in (replies[0].blocks or [])[1]["text"]["text"]


async def test_a_flag_on_a_reply_answers_in_its_thread(bot: Bot) -> None:
    """A reaction event names only the message; the core reads it (read_message) and learns
    which thread it sits in, so the deep analysis goes into that thread, not under the reply."""
    fake = bot.fake
    root = fake.add_message("C0GENERAL", "what are people reading?", user="U0OWNER01")
    reply = fake.add_message("C0GENERAL", f"this: {GOOD_URL}", user="U0OWNER01", thread_ts=root)
    await bot.event(fake.reaction_added_event("U0ALICE01", "mag", "C0GENERAL", reply))
    replies = await replies_settled(bot, root)
    assert replies
    assert {fake.key_of(m.ts) for m in replies} == {f"flag:slack:C0GENERAL:{reply}:deep"}


async def test_deep_analysis_shortcut_does_what_the_flag_does(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = bot.fake
    ts = fake.add_message("C0GENERAL", f"worth a read: {GOOD_URL}", user="U0OWNER01")
    payload = fake.message_shortcut_payload("deep_analysis", ts, user="U0ALICE01")
    release = hold_fetches(bot.source, monkeypatch)
    status, _, _ = await bot.send(interactive_form_body(payload))
    assert status == 200  # acknowledged while the thread is still being fetched
    assert fake.calls_to("chat.postMessage") == []
    release.set()
    replies = await replies_settled(bot, ts)
    assert {fake.key_of(m.ts) for m in replies} == {f"flag:slack:C0GENERAL:{ts}:deep"}
    assert fake.ephemerals[-1].via == "response_url"
    assert "deep analysis will appear in a thread" in fake.ephemerals[-1].text

    # Asked again (by someone else): the same analysis is not posted twice.
    again = fake.message_shortcut_payload("deep_analysis", ts, user="U0OWNER01")
    await bot.send(interactive_form_body(again))
    await bot.settle()
    assert len([m for m in fake.posted if m.thread_ts == ts]) == len(replies)

    nothing = fake.add_message("C0GENERAL", "just chatting", user="U0OWNER01")
    await bot.send(interactive_form_body(fake.message_shortcut_payload("deep_analysis", nothing)))
    await fake.wait_until(lambda: "nothing to analyse" in fake.ephemerals[-1].text)


async def test_flags_and_shortcuts_are_rate_limited_per_user(bot: Bot) -> None:
    """30 🔍 on 30 messages with thread links, then the shortcut, all by one person: at most
    the per-user flag limit of deep reports (each one is a deep analysis someone pays for)."""
    fake = bot.fake
    for i in range(1, 32):
        bot.source.add(numbered_thread(i))
    messages = [
        fake.add_message("C0GENERAL", f"look: {numbered_url(i)}", user="U0OWNER01")
        for i in range(1, 31)
    ]
    for ts in messages:
        event = fake.reaction_added_event("U0ALICE01", "mag", "C0GENERAL", ts)
        assert await bot.event(event) == 200
    last = fake.add_message("C0GENERAL", f"and: {numbered_url(31)}", user="U0OWNER01")
    await bot.send(interactive_form_body(fake.message_shortcut_payload("deep_analysis", last)))
    await fake.wait_until(  # every reaction and the shortcut have reached the core
        lambda: len(fake.calls_to("conversations.history")) >= 30 and not bot.chat._inflight,
        timeout=10.0,
    )
    await bot.settle()
    analysed = {m.thread_ts for m in fake.posted if m.thread_ts}
    assert 1 <= len(analysed) <= CoreConfig().flag_limit[0]  # 5 per 10 minutes
    assert analysed <= set(messages)
    # Someone else's flag is theirs to spend.
    event = fake.reaction_added_event("U0OWNER01", "mag", "C0GENERAL", last)
    assert await bot.event(event) == 200
    await replies_settled(bot, last)


# ----------------------------------------------------------------------------- safety


async def test_a_hostile_thread_never_pings_links_or_formats(bot: Bot) -> None:
    fake = bot.fake
    await bot.slash("/digest", HOSTILE_URL)
    await fake.wait_for_call("chat.postMessage", timeout=10.0)
    await bot.settle()
    digest_ts = fake.posted[0].ts
    await bot.event(fake.reaction_added_event("U0ALICE01", "mag", "C0GENERAL", digest_ts))
    replies = await replies_settled(bot, digest_ts)
    assert replies

    allowed = thread_urls(hostile_thread())
    payloads = posted_payloads(fake)
    everything = [s for p in payloads for s in strings(p)]
    for text in everything:
        for bad in FORBIDDEN:
            assert bad not in text, (bad, text)
        for target in re.findall(r"<([^<>]*)>", text):  # every <…> left is a link we made
            url = target.split("|", 1)[0].replace("&amp;", "&")
            assert url in allowed, url
    joined = "\n".join(everything)
    assert "&lt;!channel&gt;" in joined  # shown, not dropped
    assert "&lt;@U123&gt;" in joined
    assert "@\u200beveryone" in joined
    assert "<https://github.com/example/project|the best>" in joined  # Reddit link kept
    assert "*this*" in joined
    assert "`rm -rf &lt;!here&gt;`" in joined
    assert "5 ∗ 3 ∗ 2 = 30" in joined  # a stray marker cannot pair with anything
    for call in fake.calls_to("chat.postMessage"):
        check_message(call.args["text"], call.args.get("blocks"))


def test_reddit_markdown_becomes_mrkdwn() -> None:
    # The report lists these two (digest.stats.link_key: `www.` and a trailing slash kept apart
    # only where they are truly different pages).
    listed = frozenset(link_key(u) for u in ("https://example.com/a", "https://www.example.com/a/"))
    cases = {
        "**bold** and *it* and _it2_ and ~~gone~~": "*bold* and _it_ and _it2_ and ~gone~",
        "***both***": "*_both_*",
        "`code <!here>` & more": "`code &lt;!here&gt;` &amp; more",
        "[ok](https://example.com/a) [no](https://evil.example/x)": (
            "<https://example.com/a|ok> no (https://evil.example/x)"
        ),
        "see https://www.example.com/a/.": "see <https://www.example.com/a/|example.com/a>.",
        "snake_case_name stays, trailing_ does not": "snake_case_name stays, trailingˍ does not",
        "**unclosed bold": "∗∗unclosed bold",
        "**bold**text": "boldtext",
        "> not a quote >!spoiler!<": "&gt; not a quote spoiler",
        "<@U1> @channel": "&lt;@U1&gt; @\u200bchannel",
    }
    for source, expected in cases.items():
        assert reddit_to_mrkdwn(source, listed) == expected, source
    assert escape_mrkdwn("<!here>  *x*\n_y_") == "&lt;!here&gt; ∗x∗ ˍyˍ"


_REDDIT_PIECES = st.sampled_from(
    ["<!here>", "<!channel>", "<@U1>", "<#C1>", "<!subteam^S1>", "@channel", "@here", "@everyone",
     "&", "&amp;", "&lt;", "<", ">", "**", "*", "_", "~~", "~", "`", "```", ">!", "!<", "[x](",
     "https://example.com/a", "https://evil.example/x", "[ok](https://example.com/a)",
     "[no](https://evil.example/x|<!here>)", "|", "\n", " ", "a", "b_c", "5*3", "é", "😀"]
)  # fmt: skip
_LISTED_LINK = re.compile(r"<https://(?:www\.)?example\.com/a[^<>|]*\|[^<>]*>")


@settings(max_examples=300, deadline=None)
@given(st.lists(_REDDIT_PIECES, max_size=30).map("".join))
def test_reddit_text_in_mrkdwn_is_inert_whatever_it_holds(raw: str) -> None:
    out = reddit_to_mrkdwn(raw, frozenset({"example.com/a"}))
    assert "\n" not in out
    rest = _LISTED_LINK.sub("", out)  # the only live syntax: links found in the thread
    assert "<" not in rest, out
    assert ">" not in rest, out
    assert not re.search(r"&(?!amp;|lt;|gt;)", rest), out
    assert not re.search(r"@(channel|here|everyone)", rest, re.IGNORECASE), out  # defused


# ----------------------------------------------------------------------------- limits


@pytest.mark.parametrize("path", thread_params())
def test_block_kit_limits_hold_for_every_real_thread(path: Path) -> None:
    thread = thread_from_json_text(path.read_bytes(), source=str(path))
    for depth in Depth:
        report = ENGINE.digest_sync(thread, depth)
        messages = report_messages(report, intro="asked by someone")
        for message in messages:
            check_message(message.text, message.blocks)
        if depth is Depth.BRIEF:
            assert len(messages) == 1
        # Nothing is lost between pages: every section title appears once, in order.
        titles = [
            line
            for m in messages
            for b in m.blocks or ()
            if b["type"] == "section"
            for line in b["text"]["text"].split("\n")
            if re.fullmatch(r"\*(\d+\. )?[A-Z][a-z ]+\*", line)
        ]
        # A brief is a chat message now (issue 14): a TL;DR and a few sections, not 5.
        assert len(titles) == len(set(titles)) >= (1 if depth is Depth.BRIEF else 5)


def test_long_text_and_bundles_split_into_messages(report: Report) -> None:
    long_text = "\n".join(f"line {i}: " + "words " * 30 for i in range(400))
    pages = text_messages(long_text)
    assert len(pages) > 1
    for page in pages:
        check_message(page.text, page.blocks)
    assert text_messages("short & <sweet>") == [SlackMessage("short &amp; &lt;sweet&gt;")]

    bundle = Bundle("Top of r/LocalLLaMA today", (report,) * 20, note="Late: the bot was down.")
    for page in delivery_messages(Delivery(bundle=bundle, header="r/LocalLLaMA")):
        check_message(page.text, page.blocks)
    empty = delivery_messages(Delivery(bundle=Bundle("Top of r/x today", (), empty_text="None.")))
    assert len(empty) == 1
    assert "None." in json.dumps(empty[0].blocks)


@pytest.fixture(scope="module")
def report() -> Report:
    return ENGINE.digest_sync(good_thread(), Depth.BRIEF)


# ----------------------------------------------------------------------------- posting


async def test_a_rate_limited_post_is_retried(
    fake: MetaSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # slack_sdk sleeps Retry-After + random() seconds; no random jitter keeps the test fast.
    monkeypatch.setattr(builtin_async_handlers, "random", SimpleNamespace(random=lambda: 0.0))
    async with running(fake, tmp_path) as bot:
        fake.rate_limit_next("chat.postMessage", retry_after=0)
        refs = await bot.chat.post(ChannelTarget("C0GENERAL"), Delivery(text="hello"))
        first, second = fake.calls_to("chat.postMessage")
        assert (first.status, first.error) == (429, "ratelimited")
        assert second.ok
        assert refs == [MessageRef("slack", "C0GENERAL", fake.posted[0].ts)]

        fake.rate_limit_next("chat.postMessage", retry_after=0, times=3)
        with pytest.raises(SlackApiError) as exc:  # still limited: the core retries later
            await bot.chat.post(ChannelTarget("C0GENERAL"), Delivery(text="again"))
        assert not isinstance(exc.value, SlackPostError)
        assert len(fake.posted) == 1

        # An admin can fix these (the core pauses a subscription that hits one); a layout the
        # bot got wrong is a bug, not the workspace's to fix.
        fake.fail_next("chat.postMessage", "not_in_channel")
        with pytest.raises(PostRefused):
            await bot.chat.post(ChannelTarget("C0GENERAL"), Delivery(text="again"))
        fake.fail_next("chat.postMessage", "invalid_blocks")
        with pytest.raises(SlackPostError) as bug:
            await bot.chat.post(ChannelTarget("C0GENERAL"), Delivery(text="again"))
        assert not isinstance(bug.value, PostRefused)


async def test_posts_are_paced_per_channel(fake: MetaSlack, tmp_path: Path) -> None:
    async with running(fake, tmp_path, post_interval=0.2) as bot:
        fake.add_channel("C0OTHER01", "other")
        await asyncio.gather(
            bot.chat.post(ChannelTarget("C0GENERAL"), Delivery(text="one")),
            bot.chat.post(ChannelTarget("C0GENERAL"), Delivery(text="two")),
            bot.chat.post(ChannelTarget("C0OTHER01"), Delivery(text="elsewhere")),
        )
        general = [
            c.time for c in fake.calls_to("chat.postMessage") if c.args["channel"] == "C0GENERAL"
        ]
        assert general[1] - general[0] >= 0.15


async def test_ephemeral_without_response_url_uses_post_ephemeral(bot: Bot) -> None:
    refs = await bot.chat.post(
        EphemeralTarget("C0GENERAL", "U0ALICE01", "unknown-token"), Delivery(text="<!here> hi")
    )
    [eph] = bot.fake.ephemerals
    assert (eph.via, eph.text) == ("chat.postEphemeral", "&lt;!here&gt; hi")
    assert refs == [MessageRef("slack", "C0GENERAL", eph.message_ts)]


async def test_find_posted_after_a_crash(fake: MetaSlack, tmp_path: Path) -> None:
    text = "\n".join(f"line {i}: " + "words " * 30 for i in range(300))
    target = ChannelTarget("C0GENERAL")
    async with running(fake, tmp_path) as bot:
        assert await bot.chat.find_posted(target, "job-1") is None
        refs = await bot.chat.post(target, Delivery(text=text), idempotency_key="job-1")
        assert len(refs) > 1
    async with running(fake, tmp_path) as bot:  # a new process: only Slack remembers
        assert await bot.chat.find_posted(target, "job-1") == refs
        # The crash came between two parts: the missing ones go out, the others not again.
        fake.messages.remove(next(m for m in fake.messages if m.ts == refs[-1].message_id))
        assert await bot.chat.find_posted(target, "job-1") is None
        before = len(fake.calls_to("chat.postMessage"))
        again = await bot.chat.post(target, Delivery(text=text), idempotency_key="job-1")
        assert again[:-1] == refs[:-1]
        assert len(fake.calls_to("chat.postMessage")) == before + 1

        parent = fake.add_message("C0GENERAL", "parent")
        thread = ThreadTarget(MessageRef("slack", "C0GENERAL", parent))
        posted = await bot.chat.post(thread, Delivery(text="reply"), idempotency_key="job-2")
        assert posted[0].thread_id == parent
    async with running(fake, tmp_path) as bot:
        assert await bot.chat.find_posted(thread, "job-2") == posted
        assert await bot.chat.find_posted(thread, "job-3") is None


async def test_a_channel_posted_in_uninvited_is_joined_to_look_never_posted_twice(
    fake: MetaSlack, tmp_path: Path
) -> None:
    """chat:write.public posts in a public channel the bot is not in, but reading its history
    needs membership: after a crash the bot joins to look, and without channels:join it says it
    cannot look (LookupUnavailable) instead of 'not posted'."""
    fake.add_channel("C0PUBLIC1", "lobby", is_member=False)
    target = ChannelTarget("C0PUBLIC1")
    async with running(fake, tmp_path) as bot:
        refs = await bot.chat.post(target, Delivery(text="a digest"), idempotency_key="job-9")
    fake.join_scope = False
    async with running(fake, tmp_path) as bot:  # a new process: only Slack remembers
        with pytest.raises(LookupUnavailable, match="/invite @redigest"):
            await bot.chat.find_posted(target, "job-9")
    fake.join_scope = True
    async with running(fake, tmp_path) as bot:
        assert await bot.chat.find_posted(target, "job-9") == refs
    assert fake.channels["C0PUBLIC1"].is_member
    assert len(fake.calls_to("chat.postMessage")) == 1


# ----------------------------------------------------------------------------- the manifest

MANIFEST = Path(__file__).resolve().parents[1] / "slack-manifest.yml"
# The bot scope each Web API method the adapter calls needs (the app token opens the socket).
SCOPES_BY_METHOD = {
    "auth.test": set(),
    "apps.connections.open": set(),
    "chat.postMessage": {"chat:write", "chat:write.public"},
    "chat.postEphemeral": {"chat:write"},
    "conversations.history": {"channels:history", "groups:history", "im:history", "mpim:history"},
    "conversations.replies": {"channels:history", "groups:history", "im:history", "mpim:history"},
    "conversations.join": {"channels:join"},
    # A thread to digest: its channel's name and privacy, and whether the asker is a member.
    "conversations.info": {"channels:read", "groups:read"},
    "conversations.members": {"channels:read", "groups:read"},
    "chat.getPermalink": set(),
    "reactions.add": {"reactions:write"},  # ⏳ while a deep analysis is made
    "reactions.remove": {"reactions:write"},
    "files.getUploadURLExternal": {"files:write"},  # a deep analysis's chart
    "files.completeUploadExternal": {"files:write"},
    "users.info": {"users:read"},
    "usergroups.users.list": {"usergroups:read"},
}


def test_the_manifest_asks_for_what_the_adapter_uses() -> None:
    text = MANIFEST.read_text(encoding="utf-8")
    bot_scopes = text.split("    bot:\n", 1)[1].split("settings:", 1)[0]
    scopes = set(re.findall(r"^\s+- ([a-z:._]+)", bot_scopes, re.MULTILINE))
    used = set().union(*SCOPES_BY_METHOD.values()) | {"commands", "reactions:read"}
    assert scopes == used
    assert re.search(r"^\s+- command: /digest$", text, re.MULTILINE)
    assert re.search(r"^\s+- command: /redigest$", text, re.MULTILINE)
    config = SlackConfig(bot_token="x", app_token="xapp-1")
    assert f"callback_id: {config.shortcut_callback_id}" in text
    assert f"callback_id: {config.thread_callback_id}" in text
    assert re.search(r"bot_events:\n\s+- reaction_added\n", text)
    assert "socket_mode_enabled: true" in text
    assert "\t" not in text


async def test_every_method_the_tests_saw_is_covered_by_a_scope(
    fake: MetaSlack, tmp_path: Path
) -> None:
    fake.add_usergroup("S0ADMINS1", [])
    async with running(fake, tmp_path, admin_group="S0ADMINS1") as bot:
        await bot.slash("/redigest", "pause #1")
        ts = fake.add_message("C0GENERAL", f"see {GOOD_URL}")
        await bot.event(fake.reaction_added_event("U0ALICE01", "mag", "C0GENERAL", ts))
        await replies_settled(bot, ts)
        await bot.chat.find_posted(ChannelTarget("C0GENERAL"), "nothing")
    assert {c.method for c in fake.calls} <= set(SCOPES_BY_METHOD)


# ----------------------------------------------------------------------------- real payloads


def _load(relative: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SLACK_DATA / relative).read_text())
    return data


@needs_slack_data
def test_real_payloads_parse_into_requests_and_reactions() -> None:
    body = (SLACK_DATA / "slash_commands" / "slash_command_body.txt").read_text().strip()
    request = request_from_command(dict(parse_qsl(body)))
    assert request == Request(
        platform="slack",
        server_id="T111",
        channel_id="C111",
        user_id="W111",
        command="redigest",  # any slash command but /digest is the redigest namespace
        text="Hi",
        reply_token="111.111.xxx",
    )
    event = _load("events/event_callback_reaction_added.json")
    assert reaction_from_event(event, bot_user_id="U0BOT0001") == Reaction(
        MessageRef("slack", "C111", "1599529504.000400"), "heart_eyes", "W111", "T111"
    )
    assert reaction_from_event(event, bot_user_id="W111") is not None
    assert reaction_from_event(event, bot_user_id="W111").by_bot  # type: ignore[union-attr]
    shortcut = _load("interactivity/message_action_shortcut.json")
    assert reaction_from_shortcut(shortcut, emoji="mag", bot_user_id="U0BOT0001") == Reaction(
        MessageRef("slack", "C111", "1583636382.000300"),
        "mag",
        "W111",
        "T111",
        message_text="@W222 test",
        requested=True,
    )


@needs_slack_data
async def test_real_payloads_through_the_adapter(fake: MetaSlack, tmp_path: Path) -> None:
    fake.add_channel("C111", "random")
    fake.add_user("W111", "primary-owner")
    recorder = Recorder()
    event = _load("events/event_callback_reaction_added.json")
    item = event["event"]["item"]
    fake.add_message("C111", f"this one: <{GOOD_URL}>", user="W222", ts=item["ts"])
    async with running(
        fake, tmp_path, inbox=recorder.inbox(), flag_emoji="heart_eyes",
        shortcut_callback_id="test-shortcut",
    ) as bot:  # fmt: skip
        recorder.answer = bot.core.handle_reaction  # the shortcut is answered by the core
        body = (SLACK_DATA / "slash_commands" / "slash_command_body.txt").read_bytes().strip()
        status, _, _ = await bot.send(body)
        assert status == 200
        assert await bot.event(event) == 200
        status, _, _ = await bot.send(
            interactive_form_body(_load("interactivity/message_action_shortcut.json"))
        )
        assert status == 200
        # Its response_url is hooks.slack.com (unreachable here): chat.postEphemeral instead.
        await fake.wait_until(lambda: len(fake.ephemerals) == 1 and len(recorder.reactions) == 2)
        # Every reaction reaches the core unread; the core reads the message when it needs to.
        [reaction] = [r for r in recorder.reactions if not r.requested]
        read = await bot.chat.read_message(reaction.message)
    [request] = recorder.requests
    assert (request.command, request.text, request.channel_id) == ("redigest", "Hi", "C111")
    assert request.can_manage is False  # W111 is no admin in the fake
    assert reaction.message == MessageRef("slack", "C111", item["ts"])
    assert reaction.emoji == "heart_eyes"
    assert reaction.message_text is None
    assert read is not None
    assert GOOD_URL in read.text
    assert fake.ephemerals[0].via == "chat.postEphemeral"
    assert "nothing to analyse" in fake.ephemerals[0].text  # "<@W222> test" has no thread


@needs_slack_data
async def test_real_slash_command_reaches_the_core(fake: MetaSlack, tmp_path: Path) -> None:
    fake.add_channel("C111", "random")
    fake.add_user("W111", "primary-owner")
    async with running(fake, tmp_path) as bot:
        body = (SLACK_DATA / "slash_commands" / "slash_command_body.txt").read_bytes().strip()
        assert (await bot.send(body))[0] == 200
        await fake.wait_until(lambda: len(fake.ephemerals) == 1, timeout=5.0)
    assert fake.ephemerals[0].text.startswith("There is no command “Hi”")
    assert (fake.ephemerals[0].channel, fake.ephemerals[0].user) == ("C111", "W111")
