"""EarlyAcks on its own: which events it acknowledges, and that a burst is acknowledged in full
before any command's work starts (the end-to-end path is in test_discord_adapter.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from adapters.discord_chat.ack import INTERACTION_CREATE, EarlyAcks
from tests.fakes.local_server import LocalServer


class Callbacks(LocalServer):
    """A stand-in for Discord's callback endpoint that records what reached it, in order."""

    def __init__(self, status: int = 204) -> None:
        self.status = status
        self.seen: list[tuple[str, Any]] = []
        self.gates: dict[str, asyncio.Event] = {}  # callbacks answered only once set

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v10/interactions/{iid}/{token}/callback", self.handle)

    @property
    def base(self) -> str:
        return f"{self.base_url}/api/v10"

    async def handle(self, request: web.Request) -> web.Response:
        iid = request.match_info["iid"]
        self.seen.append((iid, await request.json()))
        if iid in self.gates:
            await self.gates[iid].wait()
        return web.Response(status=self.status)


@pytest.fixture
async def endpoint() -> AsyncIterator[Callbacks]:
    async with Callbacks() as callbacks:
        yield callbacks


def event(iid: int, name: str = "digest", type_: int = 2) -> dict[str, Any]:
    return {"id": str(iid), "token": f"tok{iid}", "type": type_, "data": {"name": name}}


async def test_a_burst_is_acknowledged_in_full_before_discord_py_sees_any_of_it(
    endpoint: Callbacks,
) -> None:
    parsed: list[tuple[str, int]] = []  # (event id, callbacks received by then)
    all_parsed = asyncio.Event()

    def original(data: Any) -> None:
        parsed.append((data["id"], len(endpoint.seen)))
        if len(parsed) == 40:
            all_parsed.set()

    # No time limit on the hold here: the order must not depend on this machine's speed.
    acks = EarlyAcks(
        base_url=lambda: endpoint.base, user_agent="DiscordBot (test, 1)", hold_max=3600
    )
    await acks.open()
    try:
        parsers: dict[str, Any] = {INTERACTION_CREATE: original}
        assert acks.install(parsers, {"digest"})
        for iid in range(1, 41):
            parsers[INTERACTION_CREATE](event(iid))
        await asyncio.wait_for(all_parsed.wait(), 10)
    finally:
        await acks.close()
    assert [p[0] for p in parsed] == [str(i) for i in range(1, 41)]  # the gateway's order
    assert all(seen == 40 for _id, seen in parsed)  # every ack went out first
    assert {body["type"] for _iid, body in endpoint.seen} == {5}
    assert {body["data"]["flags"] for _iid, body in endpoint.seen} == {64}
    assert all(acks.claim(i) for i in range(1, 41))
    assert not acks.claim(1)  # once


async def test_only_known_application_commands_are_acknowledged(endpoint: Callbacks) -> None:
    parsed: list[str | None] = []
    acks = EarlyAcks(base_url=lambda: endpoint.base, user_agent="DiscordBot (test, 1)")
    await acks.open()
    try:
        parsers: dict[str, Any] = {INTERACTION_CREATE: lambda d: parsed.append(d.get("id"))}
        acks.install(parsers, {"digest"})
        parsers[INTERACTION_CREATE](event(1, type_=4))  # autocomplete: answered with choices
        parsers[INTERACTION_CREATE](event(2, type_=3))  # a button
        parsers[INTERACTION_CREATE](event(3, name="someone-elses"))
        parsers[INTERACTION_CREATE]({"type": 2, "data": {"name": "digest"}})  # malformed
        assert parsed == ["1", "2", "3", None]  # straight through, synchronously
    finally:
        await acks.close()
    assert endpoint.seen == []


async def test_a_refused_acknowledgement_is_not_claimed(endpoint: Callbacks) -> None:
    endpoint.status = 500
    parsed = asyncio.Event()
    acks = EarlyAcks(base_url=lambda: endpoint.base, user_agent="DiscordBot (test, 1)")
    await acks.open()
    try:
        parsers: dict[str, Any] = {INTERACTION_CREATE: lambda _data: parsed.set()}
        acks.install(parsers, {"digest"})
        parsers[INTERACTION_CREATE](event(7))
        await asyncio.wait_for(parsed.wait(), 10)
    finally:
        await acks.close()
    assert not acks.claim(7)  # the command defers through discord.py instead


async def test_an_unknown_parser_table_leaves_acknowledgements_to_discord_py(
    caplog: pytest.LogCaptureFixture,
) -> None:
    acks = EarlyAcks(base_url=lambda: "http://127.0.0.1:9/api/v10", user_agent="x")
    with caplog.at_level(logging.WARNING, logger="adapters.discord_chat.ack"):
        assert not acks.install(None, {"digest"})
        assert not acks.install({}, {"digest"})
    assert "acknowledged through discord.py" in caplog.text
    assert not acks.installed


async def test_commands_held_at_shutdown_still_reach_discord_py(endpoint: Callbacks) -> None:
    parsed: list[str] = []
    endpoint.gates["2"] = asyncio.Event()  # the second acknowledgement stays in flight
    acks = EarlyAcks(
        base_url=lambda: endpoint.base, user_agent="DiscordBot (test, 1)", hold_max=3600
    )
    await acks.open()
    parsers: dict[str, Any] = {INTERACTION_CREATE: lambda d: parsed.append(d["id"])}
    acks.install(parsers, {"digest"})
    parsers[INTERACTION_CREATE](event(2))
    parsers[INTERACTION_CREATE](event(1))
    try:
        while acks.held < 1:  # noqa: ASYNC110 (nothing to wait on: the ack's answer is inside)
            await asyncio.sleep(0.01)
        assert parsed == []  # 1 is acknowledged, held while 2 is in flight
        await acks.close()
        # Nothing is dropped: 1 (acknowledged, held) and 2 (its acknowledgement cancelled, so
        # not claimable: discord.py defers it itself).
        assert parsed == ["1", "2"]
        assert acks.claim(1)
        assert not acks.claim(2)
    finally:
        endpoint.gates["2"].set()


async def test_a_slow_acknowledgement_holds_the_others_back_only_briefly(
    endpoint: Callbacks,
) -> None:
    got_1 = asyncio.Event()
    endpoint.gates["2"] = asyncio.Event()  # never answered during the test
    acks = EarlyAcks(
        base_url=lambda: endpoint.base, user_agent="DiscordBot (test, 1)", hold_max=0.05
    )
    await acks.open()
    parsers: dict[str, Any] = {INTERACTION_CREATE: lambda d: got_1.set() if d["id"] == "1" else 0}
    acks.install(parsers, {"digest"})
    parsers[INTERACTION_CREATE](event(2))
    parsers[INTERACTION_CREATE](event(1))
    try:
        await asyncio.wait_for(got_1.wait(), 10)  # handed over while 2 is still in flight
    finally:
        endpoint.gates["2"].set()
        await acks.close()
