"""`/watch hn min-score 100` through the real core: the HN story crosses its points threshold and
its digest is posted with a Hacker News header (the core's source is the RoutedSource the app
builds: a fake Reddit, and the HN source against the fake HN API)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from adapters.hn_source import HnConfig, HnSource
from bot.chat import Request
from bot.routing import RoutedSource
from tests.fakes.hn_server import FakeHN, synthetic_story
from tests.support.fake_chat import FakeChat
from tests.support.fake_source import FakeSource
from tests.support.harness import T0, Clock, _core
from tests.support.scripted_llm import ScriptedLLM, grounded_answer


async def test_watch_hn_posts_a_story_once_it_crosses_its_points(tmp_path: Path) -> None:
    story = synthetic_story(9000, 30, seed=5)
    story[0].update(score=12, time=int(T0.timestamp()) - 600)
    clock, chat = Clock(), FakeChat()
    async with FakeHN() as fake, AsyncExitStack() as stack:
        fake.add_items(story)
        fake.lists["new"] = [9000]
        hn = await stack.enter_async_context(
            HnSource(HnConfig(api_url=fake.api_url, search_url=fake.search_url))
        )
        source = RoutedSource(FakeSource(), hn)
        llm = ScriptedLLM(default=grounded_answer)
        core = await _core(stack, tmp_path / "bot.sqlite3", clock, chat, source, llm)  # type: ignore[arg-type]
        await core.handle_request(_request("watch", "hn min-score 100"))
        assert "new posts in Hacker News are posted here once they reach 100 points" in (
            chat.ephemeral()[-1].text
        )
        [post] = await hn.posts(["hn:9000"])
        assert await core.add_candidate(post) == 1
        clock.advance(minutes=11)
        assert await core.watch_tick() == 0  # 12 points: not yet
        fake.items[9000]["score"] = 140
        clock.advance(minutes=25)
        assert await core.watch_tick() == 1
        while await core.run_one_job() is not None:
            pass
    [digest] = chat.public()
    assert digest.delivery.header == "Hacker News · crossed 100 points"
    assert digest.delivery.report is not None
    assert digest.delivery.report.thread.id == "hn:9000"


def _request(command: str, text: str) -> Request:
    return Request(
        platform="fake", server_id="S1", channel_id="C1", user_id="U1", command=command,
        text=text, can_manage=True, reply_token=f"tok-{command}",
    )  # fmt: skip
