"""The fake Slack drives the real slack-bolt AsyncApp over HTTP mode and Socket Mode.

Listeners run after the ack (bolt's default ``process_before_response=False``), so the tests
poll the fake (``wait_for_call`` / ``wait_until``) for what the listener did.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_server import (
    FakeSlack,
    form_body,
    interactive_form_body,
    sign,
    thread_export,
)

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SLACK_DATA = SHARED_DATA / "slack"
NO_SLACK_DATA = f"real Slack payloads not found at {SLACK_DATA} (they live beside the repo)"
needs_slack_data = pytest.mark.skipif(not SLACK_DATA.is_dir(), reason=NO_SLACK_DATA)

DIGEST_SHORTCUT = "digest_message"


# ----------------------------------------------------------------- the app under test


def digest_blocks(text: str) -> list[dict[str, Any]]:
    return [
        {"type": "header", "text": {"type": "plain_text", "text": "Reddit digest"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Thread:* {text}"}},
    ]


async def on_digest(
    ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
) -> None:
    await ack(text=f"Digesting {command['text']}…")
    await client.chat_postMessage(
        channel=command["channel_id"],
        text=f"Digest of {command['text']}",
        blocks=digest_blocks(command["text"]),
    )
    await respond(text="Posted the digest.")


async def on_hello(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
    # For the captured real slash command: its response_url is hooks.slack.com (unreachable).
    await ack()
    await client.chat_postMessage(channel=command["channel_id"], text=f"hello {command['text']}")


async def on_reaction(event: dict[str, Any], client: AsyncWebClient) -> None:
    item = event["item"]
    history = await client.conversations_history(
        channel=item["channel"], latest=item["ts"], inclusive=True, limit=1
    )
    messages = history["messages"]
    source = messages[0]["text"] if messages else "(message not found)"
    await client.chat_postMessage(
        channel=item["channel"], thread_ts=item["ts"], text=f"Digest of: {source}"
    )
    await client.reactions_add(
        channel=item["channel"], name="white_check_mark", timestamp=item["ts"]
    )


async def on_shortcut(ack: AsyncAck, shortcut: dict[str, Any], client: AsyncWebClient) -> None:
    await ack()
    await client.chat_postEphemeral(
        channel=shortcut["channel"]["id"],
        user=shortcut["user"]["id"],
        text=f"Digesting message {shortcut['message']['ts']}",
    )


async def on_button(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
    await ack()
    action = body["actions"][0]
    await respond(text=f"Pressed {action['value']}", response_type="ephemeral")


def build_app(fake: FakeSlack, **client_kwargs: Any) -> AsyncApp:
    # Passing token= as well as client= only logs "token will be unused": the client's wins.
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url, **client_kwargs)
    app = AsyncApp(client=client, signing_secret=fake.signing_secret)
    app.command("/digest")(on_digest)
    app.command("/hello-world")(on_hello)
    app.event("reaction_added")(on_reaction)
    app.shortcut(DIGEST_SHORTCUT)(on_shortcut)
    app.shortcut("test-shortcut")(on_shortcut)
    app.block_action("pick_1")(on_button)
    app.block_action("a")(on_button)  # the captured real payload's button
    return app


# ----------------------------------------------------------------- fixtures


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        yield server


@pytest.fixture
async def web(fake: FakeSlack) -> AsyncWebClient:
    # session=None: slack_sdk opens and closes an aiohttp session per request; nothing to close.
    return AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)


@pytest.fixture
async def http_app(fake: FakeSlack) -> AsyncIterator[TestClient[Any, Any]]:
    app = build_app(fake)
    async with TestClient(TestServer(app.web_app(), host="127.0.0.1")) as client:
        yield client


@pytest.fixture
async def socket_handler(fake: FakeSlack) -> AsyncIterator[AsyncSocketModeHandler]:
    handler = AsyncSocketModeHandler(build_app(fake), fake.app_token)
    # start_async() would sleep forever after connecting; the handler methods are untyped
    await handler.connect_async()  # type: ignore[no-untyped-call]
    try:
        yield handler
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]


# ----------------------------------------------------------------- Web API


async def test_web_api_answers_like_slack(fake: FakeSlack, web: AsyncWebClient) -> None:
    auth = await web.auth_test()
    assert (auth["user_id"], auth["team_id"], auth["bot_id"]) == (
        fake.bot_user_id,
        fake.team_id,
        fake.bot_id,
    )
    assert "chat:write" in auth.headers["X-OAuth-Scopes"]

    fake.add_channel("C0SECRET1", "secret", is_private=True, is_ext_shared=True)
    info = await web.conversations_info(channel="C0SECRET1")
    assert info["channel"]["is_private"]
    assert info["channel"]["is_ext_shared"]

    owner = await web.users_info(user="U0OWNER01")
    assert owner["user"]["is_admin"]
    assert owner["user"]["is_owner"]
    fake.add_usergroup("S0ADMINS1", ["U0OWNER01", "U0ALICE01"])
    group = await web.usergroups_users_list(usergroup="S0ADMINS1")
    assert group["users"] == ["U0OWNER01", "U0ALICE01"]

    ts = fake.add_message("C0GENERAL", "https://reddit.com/r/python/comments/abc/x/")
    posted = await web.chat_postMessage(channel="C0GENERAL", text="reply", thread_ts=ts)
    assert posted["channel"] == "C0GENERAL"
    assert posted["message"]["thread_ts"] == ts
    assert posted["message"]["bot_id"] == fake.bot_id
    replies = await web.conversations_replies(channel="C0GENERAL", ts=ts)
    assert [m["text"] for m in replies["messages"]] == [
        "https://reddit.com/r/python/comments/abc/x/",
        "reply",
    ]
    assert replies["messages"][0]["reply_count"] == 1

    updated = await web.chat_update(channel="C0GENERAL", ts=posted["ts"], text="edited")
    assert updated["message"]["text"] == "edited"
    assert fake.find_message("C0GENERAL", posted["ts"]) is not None
    with pytest.raises(SlackApiError) as not_ours:
        await web.chat_update(channel="C0GENERAL", ts=ts, text="no")
    assert not_ours.value.response["error"] == "cant_update_message"

    link = await web.chat_getPermalink(channel="C0GENERAL", message_ts=posted["ts"])
    assert link["permalink"].endswith(f"?thread_ts={ts}&cid=C0GENERAL")
    eph = await web.chat_postEphemeral(channel="C0GENERAL", user="U0ALICE01", text="only you")
    assert fake.ephemerals[-1].message_ts == eph["message_ts"]

    # How the SDK encodes each method: query strings for GET and for POST-with-params,
    # JSON for chat.*, the bearer token in the Authorization header.
    by_method = {c.method: c for c in fake.calls}
    assert by_method["auth.test"].http_method == "POST"
    assert by_method["users.info"].http_method == "GET"
    assert by_method["chat.postMessage"].content_type == "application/json"
    assert by_method["chat.postMessage"].headers["Authorization"] == f"Bearer {fake.bot_token}"
    assert all(c.token == fake.bot_token for c in fake.calls)


async def test_form_bodies_unknown_methods_and_bad_tokens(
    fake: FakeSlack, web: AsyncWebClient
) -> None:
    blocks = digest_blocks("form")
    await web.api_call(
        "chat.postMessage",
        data={"channel": "C0GENERAL", "text": "form", "blocks": json.dumps(blocks)},
    )
    call = fake.calls_to("chat.postMessage")[0]
    assert call.content_type == "application/x-www-form-urlencoded"
    assert fake.posted[-1].blocks == blocks

    with pytest.raises(SlackApiError) as unknown:
        await web.api_call("chat.postMessagee")
    assert unknown.value.response["error"] == "unknown_method"

    intruder = AsyncWebClient(token="xoxb-not-the-bot", base_url=fake.api_url)
    with pytest.raises(SlackApiError) as bad:
        await intruder.chat_postMessage(channel="C0GENERAL", text="hi")
    assert bad.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as wrong_type:
        await web.apps_connections_open(app_token=fake.bot_token)
    assert wrong_type.value.response["error"] == "not_allowed_token_type"
    assert len(fake.posted) == 1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"blocks": [{"type": "divider"}] * 51}, "invalid_blocks", id="51-blocks"),
        pytest.param(
            {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]},
            "invalid_blocks",
            id="section-3001",
        ),
        pytest.param(
            {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]},
            "invalid_blocks",
            id="header-151",
        ),
        pytest.param(
            {"blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "*x*"}}]},
            "invalid_blocks",
            id="header-mrkdwn",
        ),
        pytest.param({"text": "x" * 40001}, "msg_too_long", id="text-40001"),
    ],
)
async def test_slack_limits_are_enforced(
    fake: FakeSlack, web: AsyncWebClient, kwargs: dict[str, Any], error: str
) -> None:
    kwargs.setdefault("text", "fallback")
    with pytest.raises(SlackApiError) as err:
        await web.chat_postMessage(channel="C0GENERAL", **kwargs)
    assert err.value.response["error"] == error
    assert fake.posted == []


async def test_limits_are_inclusive(fake: FakeSlack, web: AsyncWebClient) -> None:
    at_limit: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3000}},
        *[{"type": "divider"}] * 48,
    ]
    await web.chat_postMessage(channel="C0GENERAL", text="t" * 40000, blocks=at_limit)
    assert len(fake.posted[0].blocks or []) == 50


async def test_invalid_blocks_error_points_at_the_field(web: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        await web.chat_postMessage(
            channel="C0GENERAL",
            text="t",
            blocks=[
                {"type": "divider"},
                {"type": "section", "text": {"type": "mrkdwn", "text": ""}},
            ],
        )
    assert err.value.response["errors"] == [
        "must be more than 0 characters [json-pointer:/blocks/1/text/text]"
    ]


async def test_blocks_without_text_warn_in_slack_sdk(web: AsyncWebClient) -> None:
    # slack_sdk itself warns (UserWarning) when blocks come without top-level text; with
    # warnings-as-errors that raises, and inside a bolt listener it would be swallowed.
    with pytest.warns(UserWarning, match="top-level `text` argument is missing"):
        await web.chat_postMessage(channel="C0GENERAL", blocks=digest_blocks("x"))


async def test_rate_limited_call_is_retried_by_the_retry_handler(fake: FakeSlack) -> None:
    client = AsyncWebClient(
        token=fake.bot_token,
        base_url=fake.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler()],
    )
    fake.rate_limit_next("chat.postMessage", retry_after=0)  # sleeps 0 + random() seconds
    posted = await client.chat_postMessage(channel="C0GENERAL", text="eventually")
    assert posted["ok"]
    first, second = fake.calls_to("chat.postMessage")
    assert (first.status, first.error) == (429, "ratelimited")
    assert second.ok
    assert [m.text for m in fake.posted] == ["eventually"]


async def test_rate_limit_without_retry_handler_raises(
    fake: FakeSlack, web: AsyncWebClient
) -> None:
    fake.rate_limit_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as err:
        await web.chat_postMessage(channel="C0GENERAL", text="too fast")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "7"
    assert err.value.response["error"] == "ratelimited"
    await web.chat_postMessage(channel="C0GENERAL", text="later")  # only the next call fails
    fake.fail_next("chat.postMessage", "not_in_channel")
    with pytest.raises(SlackApiError, match="not_in_channel"):
        await web.chat_postMessage(channel="C0GENERAL", text="x")


# ----------------------------------------------------------------- HTTP mode


async def test_http_mode_signed_slash_command(
    fake: FakeSlack, http_app: TestClient[Any, Any]
) -> None:
    body = form_body(fake.slash_command_payload("/digest", "r/python/abc"))
    resp = await http_app.post(
        "/slack/events",
        data=body,
        headers={
            **sign(body, fake.signing_secret),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert resp.status == 200
    # ack(text=...) alone is answered as text/plain (socket mode wraps it as {"text": ...})
    assert resp.content_type == "text/plain"
    assert await resp.text() == "Digesting r/python/abc…"

    call = await fake.wait_for_call("chat.postMessage")
    assert fake.calls[0].method == "auth.test"  # lazily, on the first request
    assert call.args["channel"] == "C0GENERAL"
    assert call.args["blocks"] == digest_blocks("r/python/abc")
    assert call.args["team_id"] == fake.team_id  # bolt's per-request client adds it
    await fake.wait_until(lambda: len(fake.responses) == 1)
    assert fake.responses[0].body == {"text": "Posted the digest."}
    assert fake.ephemerals[0].user == "U0ALICE01"

    # auth.test is cached for the app's lifetime
    body = form_body(fake.slash_command_payload("/digest", "again"))
    headers = {
        **sign(body, fake.signing_secret),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    assert (await http_app.post("/slack/events", data=body, headers=headers)).status == 200
    await fake.wait_for_call("chat.postMessage", count=2)
    assert len(fake.calls_to("auth.test")) == 1


@pytest.mark.parametrize(
    "headers_for",
    [
        pytest.param(lambda body, secret: sign(body, "forged-secret"), id="forged"),
        pytest.param(lambda body, secret: sign(body, secret, int(time.time()) - 301), id="stale"),
        pytest.param(lambda body, secret: {}, id="unsigned"),
    ],
)
async def test_http_mode_rejects_bad_signatures(
    fake: FakeSlack, http_app: TestClient[Any, Any], headers_for: Any
) -> None:
    body = form_body(fake.slash_command_payload("/digest", "r/python/abc"))
    headers = {
        **headers_for(body, fake.signing_secret),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    resp = await http_app.post("/slack/events", data=body, headers=headers)
    assert resp.status == 401
    assert fake.calls == []


async def test_http_mode_interactive_form(fake: FakeSlack, http_app: TestClient[Any, Any]) -> None:
    ts = fake.add_message("C0GENERAL", "look at this thread")
    body = interactive_form_body(fake.message_shortcut_payload(DIGEST_SHORTCUT, ts))
    headers = {
        **sign(body, fake.signing_secret),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    assert (await http_app.post("/slack/events", data=body, headers=headers)).status == 200
    await fake.wait_for_call("chat.postEphemeral")
    assert fake.ephemerals[0].text == f"Digesting message {ts}"


# ----------------------------------------------------------------- Socket Mode


async def test_socket_mode_slash_command(
    fake: FakeSlack, socket_handler: AsyncSocketModeHandler
) -> None:
    opened = fake.calls_to("apps.connections.open")
    assert len(opened) == 1
    assert opened[0].token == fake.app_token
    assert fake.socket_connected

    envelope = fake.envelope("slash_commands", fake.slash_command_payload("/digest", "abc"))
    envelope_id = await fake.socket_send(envelope)
    ack = await fake.wait_ack(envelope_id)
    assert ack == {"envelope_id": envelope_id, "payload": {"text": "Digesting abc…"}}

    call = await fake.wait_for_call("chat.postMessage")
    assert call.token == fake.bot_token
    assert [m.text for m in fake.posted] == ["Digest of abc"]
    await fake.wait_until(lambda: len(fake.responses) == 1)


async def test_socket_mode_reaction_added_posts_thread_reply(
    fake: FakeSlack, socket_handler: AsyncSocketModeHandler
) -> None:
    ts = fake.add_message("C0GENERAL", "https://www.reddit.com/r/python/comments/abc/")
    event = fake.reaction_added_event("U0ALICE01", "newspaper", "C0GENERAL", ts)
    envelope_id = await fake.socket_send(fake.envelope("events_api", event))
    assert await fake.wait_ack(envelope_id) == {"envelope_id": envelope_id}

    await fake.wait_for_call("reactions.add")
    reply = fake.posted[0]
    assert (reply.channel, reply.thread_ts) == ("C0GENERAL", ts)
    assert reply.text == "Digest of: https://www.reddit.com/r/python/comments/abc/"
    history = fake.calls_to("conversations.history")[0]
    assert history.http_method == "GET"
    assert history.args["latest"] == ts
    source = fake.find_message("C0GENERAL", ts)
    assert source is not None
    assert source.reactions == {"white_check_mark": [fake.bot_user_id]}


async def test_socket_mode_message_shortcut(
    fake: FakeSlack, socket_handler: AsyncSocketModeHandler
) -> None:
    ts = fake.add_message("C0GENERAL", "digest me", user="U0OWNER01")
    payload = fake.message_shortcut_payload(DIGEST_SHORTCUT, ts, user="U0ALICE01")
    envelope_id = await fake.socket_send(fake.envelope("interactive", payload))
    assert await fake.wait_ack(envelope_id) == {"envelope_id": envelope_id}
    await fake.wait_for_call("chat.postEphemeral")
    eph = fake.ephemerals[0]
    assert (eph.channel, eph.user, eph.text) == (
        "C0GENERAL",
        "U0ALICE01",
        f"Digesting message {ts}",
    )


async def test_socket_mode_reconnects_after_disconnect(
    fake: FakeSlack, socket_handler: AsyncSocketModeHandler
) -> None:
    await fake.socket_disconnect()
    await fake.wait_until(lambda: fake.socket_connections_opened == 2)
    assert len(fake.calls_to("apps.connections.open")) == 2
    envelope_id = await fake.socket_send(
        fake.envelope("slash_commands", fake.slash_command_payload("/digest", "after"))
    )
    assert (await fake.wait_ack(envelope_id))["payload"] == {"text": "Digesting after…"}


# ----------------------------------------------------------------- real captured payloads


def _load(relative: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SLACK_DATA / relative).read_text())
    return data


@needs_slack_data
async def test_real_reaction_added_event_via_socket(
    fake: FakeSlack, socket_handler: AsyncSocketModeHandler
) -> None:
    body = _load("events/event_callback_reaction_added.json")
    item = body["event"]["item"]
    fake.add_message(item["channel"], "captured message", user="W111", ts=item["ts"])
    envelope_id = await fake.socket_send(fake.envelope("events_api", body))
    await fake.wait_ack(envelope_id)
    await fake.wait_for_call("reactions.add")
    assert (fake.posted[0].channel, fake.posted[0].thread_ts) == (item["channel"], item["ts"])
    assert fake.calls_to("chat.postMessage")[0].args["team_id"] == body["team_id"]


@needs_slack_data
async def test_real_message_shortcut_via_socket(
    fake: FakeSlack, socket_handler: AsyncSocketModeHandler
) -> None:
    payload = _load("interactivity/message_action_shortcut.json")
    fake.add_user(payload["user"]["id"], payload["user"]["name"])
    fake.add_channel(payload["channel"]["id"], payload["channel"]["name"])
    envelope_id = await fake.socket_send(fake.envelope("interactive", payload))
    await fake.wait_ack(envelope_id)
    await fake.wait_for_call("chat.postEphemeral")
    assert fake.ephemerals[0].text == f"Digesting message {payload['message']['ts']}"


@needs_slack_data
async def test_real_slash_command_body_via_http(
    fake: FakeSlack, http_app: TestClient[Any, Any]
) -> None:
    body = (SLACK_DATA / "slash_commands" / "slash_command_body.txt").read_bytes().strip()
    fake.add_channel("C111", "random")
    headers = {
        **sign(body, fake.signing_secret),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    resp = await http_app.post("/slack/events", data=body, headers=headers)
    assert resp.status == 200
    call = await fake.wait_for_call("chat.postMessage")
    assert (call.args["channel"], call.args["text"]) == ("C111", "hello Hi")


def _button(action_id: str, text: str = "Deep analysis", value: str = "abc123") -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }


async def test_socket_mode_block_actions_from_a_button(
    fake: FakeSlack, web: AsyncWebClient, socket_handler: AsyncSocketModeHandler
) -> None:
    """A section's button is stored with the message (its limits checked); pressing it is a
    `block_actions` payload over Socket Mode naming the message, the button and its value."""
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "*1. A thread*"}}
    posted = await web.chat_postMessage(
        channel="C0GENERAL", text="Top", blocks=[{**section, "accessory": _button("pick_1")}]
    )
    ts = str(posted["ts"])
    for bad, pointer in (
        (_button("pick_1", text="x" * 76), "/blocks/0/accessory/text/text"),
        (_button("pick_1", value="v" * 2001), "/blocks/0/accessory/value"),
        (_button("p" * 256), "/blocks/0/accessory/action_id"),
    ):
        with pytest.raises(SlackApiError) as err:
            await web.chat_postMessage(
                channel="C0GENERAL", text="t", blocks=[{**section, "accessory": bad}]
            )
        assert err.value.response["error"] == "invalid_blocks"
        assert pointer in err.value.response["errors"][0]
    with pytest.raises(KeyError):  # only a button the message has can be pressed
        fake.block_actions_payload("C0GENERAL", ts, "pick_9")

    payload = fake.block_actions_payload("C0GENERAL", ts, "pick_1", user="U0ALICE01")
    assert payload["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": "C0GENERAL",
        "is_ephemeral": False,
    }
    assert payload["message"]["blocks"][0]["accessory"]["action_id"] == "pick_1"
    envelope_id = await fake.socket_send(fake.envelope("interactive", payload))
    assert await fake.wait_ack(envelope_id) == {"envelope_id": envelope_id}
    await fake.wait_until(lambda: len(fake.ephemerals) == 1)
    eph = fake.ephemerals[0]
    assert (eph.channel, eph.user, eph.text) == ("C0GENERAL", "U0ALICE01", "Pressed abc123")


@needs_slack_data
async def test_real_block_actions_via_socket(
    fake: FakeSlack, socket_handler: AsyncSocketModeHandler
) -> None:
    payload = _load("interactivity/block_actions.json")
    fake.add_user(payload["user"]["id"], payload["user"]["name"])
    fake.add_channel(payload["channel"]["id"], payload["channel"]["name"])
    # Its response_url is hooks.slack.com (unreachable here): one on the fake instead.
    payload["response_url"] = fake.new_response_url(payload["channel"]["id"], "W111")
    envelope = fake.envelope("interactive", payload)
    assert envelope["accepts_response_payload"] is False
    envelope_id = await fake.socket_send(envelope)
    assert await fake.wait_ack(envelope_id) == {"envelope_id": envelope_id}
    await fake.wait_until(lambda: len(fake.ephemerals) == 1)
    assert fake.ephemerals[0].text == "Pressed click_me_123"


async def test_reactions_remove_takes_only_the_callers_own_reaction() -> None:
    """As Slack: reactions.add then reactions.remove by the same app leaves the message as it
    was; a second remove is `no_reaction`, and without reactions:write both are `missing_scope`."""
    async with FakeSlack() as fake:
        client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
        ts = fake.add_message("C0GENERAL", "a thread link")
        msg = fake.find_message("C0GENERAL", ts)
        assert msg is not None
        msg.reactions["eyes"] = ["U0ALICE01"]
        await client.reactions_add(channel="C0GENERAL", timestamp=ts, name="hourglass")
        assert msg.reactions == {"eyes": ["U0ALICE01"], "hourglass": [fake.bot_user_id]}
        await client.reactions_remove(channel="C0GENERAL", timestamp=ts, name="hourglass")
        assert msg.reactions == {"eyes": ["U0ALICE01"]}
        with pytest.raises(SlackApiError) as gone:
            await client.reactions_remove(channel="C0GENERAL", timestamp=ts, name="hourglass")
        assert gone.value.response["error"] == "no_reaction"
        with pytest.raises(SlackApiError) as theirs:  # someone else's reaction is not the bot's
            await client.reactions_remove(channel="C0GENERAL", timestamp=ts, name="eyes")
        assert theirs.value.response["error"] == "no_reaction"
        fake.reactions_scope = False
        for call in (client.reactions_add, client.reactions_remove):
            with pytest.raises(SlackApiError) as refused:
                await call(channel="C0GENERAL", timestamp=ts, name="eyes")
            assert refused.value.response["error"] == "missing_scope"
            assert refused.value.response["needed"] == "reactions:write"


# ----------------------------------------------------------------- whole threads (issue 18)

REAL_THREAD = SHARED_DATA / "reddit" / "praw" / "announcements_fo7p5b_2020.json"


@pytest.mark.skipif(not REAL_THREAD.is_file(), reason=f"no real Reddit thread at {REAL_THREAD}")
async def test_a_thread_export_is_served_page_by_page(fake: FakeSlack, web: AsyncWebClient) -> None:
    export = thread_export(REAL_THREAD, count=300)
    assert len(export["messages"]) == 300
    root = fake.add_thread("C0PRODUCT", export)
    texts: list[str] = []
    cursor: str | None = None
    calls = 0
    while True:
        page = await web.conversations_replies(channel="C0PRODUCT", ts=root, limit=120,
                                               cursor=cursor)  # fmt: skip
        calls += 1
        texts += [m["text"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"] or None
        if cursor is None:
            break
    assert calls == 3
    assert texts == [m["text"] for m in export["messages"]]
    first = (await web.conversations_replies(channel="C0PRODUCT", ts=root, limit=1))["messages"]
    assert first[0]["reply_count"] == 299
    bots = [m for m in export["messages"] if m.get("bot_id")]
    assert [m.get("subtype") for m in bots] == ["bot_message", None]  # a CI app; this bot


async def test_history_scope_and_members(fake: FakeSlack, web: AsyncWebClient) -> None:
    fake.add_channel("C0BOARD", "board", is_private=True)
    fake.channels["C0BOARD"].members = [f"U{i:08d}" for i in range(250)]
    root = fake.add_message("C0BOARD", "private words")
    members: list[str] = []
    cursor: str | None = None
    while True:
        page = await web.conversations_members(channel="C0BOARD", limit=200, cursor=cursor)
        members += page["members"]
        cursor = page["response_metadata"]["next_cursor"] or None
        if cursor is None:
            break
    assert members == fake.channels["C0BOARD"].members
    fake.history_scope = False
    with pytest.raises(SlackApiError) as refused:
        await web.conversations_replies(channel="C0BOARD", ts=root)
    assert refused.value.response["error"] == "missing_scope"
    assert refused.value.response["needed"] == "groups:history"
