"""A deep report's chart reaches every chat: the console writes it beside the database, Discord
attaches it to the report's first message in the thread, Slack uploads it into the report's
thread (files_upload_v2 against the fake Slack); the largest real thread in ../shared/data/reddit
drives it (skipped without it). A post cut short and completed uploads the chart once."""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from adapters.reddit_source.thread_json import thread_from_json, thread_from_json_text
from bot.chat import Attachment, ChannelTarget, Delivery, MessageRef, ThreadTarget
from bot.cli import _console
from bot.settings import load_settings
from digest.chart_data import alt_text
from digest.model import Thread
from digest.render.chart_png import HEIGHT_PX, WIDTH_PX, render_chart
from digest.report import Depth, Report
from tests.conftest import NO_DATA_REASON
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.slack_server import ApiCall, JSONDict, SlackError
from tests.support.fake_source import FakeSource
from tests.support.synthetic import thread_json
from tests.test_chart import ENGINE, NO_CHART, largest_real_thread, png_size
from tests.test_discord_adapter import running_bot
from tests.test_slack_adapter import MetaSlack, running

LARGEST = largest_real_thread()
needs_real_data = pytest.mark.skipif(LARGEST is None, reason=NO_DATA_REASON)


@functools.cache
def largest() -> Thread:
    assert LARGEST is not None
    return thread_from_json_text(LARGEST.read_bytes(), source=str(LARGEST))


@functools.cache
def largest_report() -> tuple[Report, Attachment]:
    report = ENGINE.digest_sync(largest(), Depth.DEEP)
    assert report.chart is not None
    png = render_chart(report.chart)
    return report, Attachment("chart.png", png, alt_text(report.chart), "the chart")


def url_of(thread: Thread) -> str:
    return thread.post.permalink


async def _lines(*lines: str) -> Any:
    for line in lines:
        yield line + "\n"


# ----------------------------------------------------------------------------- console


@needs_real_data
async def test_console_writes_the_chart_beside_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert LARGEST is not None
    monkeypatch.setenv("REDIGEST_DATABASE_PATH", str(tmp_path / "db" / "console.sqlite3"))
    (tmp_path / "db").mkdir()
    out = io.StringIO()
    await _console(load_settings(env_file=None), _lines(f"/digest {LARGEST} deep"), out)
    text = out.getvalue()
    assert "10. OTHER OBSERVATIONS" in text
    (shown,) = re.findall(r"^Chart: (\S+\.png)$", text, re.MULTILINE)
    path = Path(shown)
    assert path.parent == tmp_path / "db" / "charts"
    assert path.name.startswith(f"redigest-{largest().post.id}-")
    assert png_size(await asyncio.to_thread(path.read_bytes)) == (WIDTH_PX, HEIGHT_PX)
    assert NO_CHART not in text


async def test_console_says_when_a_thread_is_too_small_to_chart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    monkeypatch.setenv("REDIGEST_DATABASE_PATH", str(tmp_path / "console.sqlite3"))
    small = tmp_path / "small.json"
    small.write_text(json.dumps(thread_json(30, seed=2)), encoding="utf-8")  # within minutes
    out = io.StringIO()
    await _console(load_settings(env_file=None), _lines(f"/digest {small} deep"), out)
    text = out.getvalue()
    assert NO_CHART in text
    assert "Chart: " not in text
    assert not (tmp_path / "charts").exists()


# ----------------------------------------------------------------------------- Slack


@needs_real_data
async def test_slack_uploads_the_chart_into_the_deep_reports_thread(tmp_path: Path) -> None:
    source = FakeSource()
    thread = source.add(largest())
    async with MetaSlack() as fake, running(fake, tmp_path, source=source) as bot:
        flagged = fake.add_message("C0GENERAL", f"have you seen {url_of(thread)} ?")
        await bot.event(fake.reaction_added_event("U0ALICE01", "mag", "C0GENERAL", flagged))
        await fake.wait_until(lambda: bool(fake.shared_files()), timeout=60.0)
        await bot.settle()
        (upload,) = fake.shared_files()
        assert (upload.channel, upload.thread_ts) == ("C0GENERAL", flagged)
        assert upload.data is not None
        assert png_size(upload.data) == (WIDTH_PX, HEIGHT_PX)
        assert upload.filename.startswith(f"redigest-{thread.post.id}-")
        assert upload.alt_txt is not None
        assert f"Chart of {len(thread.comments):,} comments" in upload.alt_txt
        assert upload.title is not None
        assert "activity and mood" in upload.title
        # After the report's text, in the same thread.
        replies = [m for m in fake.posted if m.thread_ts == flagged]
        assert replies
        complete = fake.calls_to("files.completeUploadExternal")
        assert len(complete) == 1
        assert complete[0].time >= max(c.time for c in fake.calls_to("chat.postMessage"))


@needs_real_data
async def test_slack_a_post_cut_short_and_completed_uploads_the_chart_once(
    tmp_path: Path,
) -> None:
    report, chart = largest_report()
    delivery = Delivery(report=report, files=(chart,))
    async with MetaSlack() as fake, running(fake, tmp_path) as bot:
        parent = fake.add_message("C0GENERAL", "a thread to answer in")
        target = ThreadTarget(MessageRef("slack", "C0GENERAL", parent))
        real = fake._handlers["chat.postMessage"]
        sent = 0

        def second_fails(call: ApiCall) -> JSONDict:
            nonlocal sent
            sent += 1
            if sent == 2:
                raise SlackError("internal_error")
            return real(call)

        fake._handlers["chat.postMessage"] = second_fails
        with pytest.raises(Exception, match="internal_error"):
            await bot.chat.post(target, delivery, idempotency_key="job-chart")
        assert fake.uploads == {}  # the chart waits for the whole text
        # The core's retry: it looks first (a part is there, not all), then posts the rest.
        assert await bot.chat.find_posted(target, "job-chart") is None
        refs = await bot.chat.post(target, delivery, idempotency_key="job-chart")
        assert len(refs) >= 2
        assert len(fake.shared_files()) == 1
        # The whole post is found now, so the core posts nothing more (and uploads nothing).
        assert await bot.chat.find_posted(target, "job-chart") == refs
        assert len(fake.calls_to("files.getUploadURLExternal")) == 1
        (upload,) = fake.shared_files()
        assert upload.thread_ts == parent


async def test_slack_without_files_write_posts_the_text_and_says_what_to_add(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    report = ENGINE.digest_sync(thread_from_json(thread_json(2000, seed=4)), Depth.DEEP)
    assert report.chart is not None
    chart = Attachment("c.png", render_chart(report.chart), "alt")
    async with MetaSlack() as fake, running(fake, tmp_path) as bot:
        fake.files_scope = False
        caplog.set_level(logging.WARNING)
        refs = await bot.chat.post(
            ChannelTarget("C0GENERAL"), Delivery(report=report, files=(chart,)), idempotency_key="k"
        )
        assert refs
        assert fake.shared_files() == []
        assert "files:write" in caplog.text


# ----------------------------------------------------------------------------- Discord


@needs_real_data
async def test_discord_attaches_the_chart_to_the_deep_report_in_the_thread(
    tmp_path: Path,
) -> None:
    thread = largest()
    async with FakeDiscord() as fake, running_bot(fake, tmp_path, thread) as bot:
        await bot.slash("digest", {"url": url_of(thread)})
        digest = await bot.digest_message()
        channel = fake.guild.text_channel.id
        await fake.dispatch(
            "MESSAGE_REACTION_ADD", fake.reaction_add(channel, digest.id, fake.plain.id, "🔍")
        )
        await fake.wait_until(lambda: digest.id in fake.channels, timeout=30.0)

        def attached() -> list[Any]:
            return [m for m in fake.messages_in(digest.id) if m.attachments]

        await fake.wait_until(lambda: bool(attached()), timeout=60.0)
        await bot.core.drain(10.0)
        pages = fake.messages_in(digest.id)
        (with_chart,) = attached()
        assert with_chart is pages[0]  # on the report's first message
        (meta,) = with_chart.attachments
        assert meta["filename"].startswith(f"redigest-{thread.post.id}-")
        assert meta["filename"].endswith(".png")  # Discord shows it by its name
        assert f"Chart of {len(thread.comments):,} comments" in meta["description"]
        assert png_size(with_chart.files[meta["filename"]]) == (WIDTH_PX, HEIGHT_PX)
        # The brief digest in the channel carries none.
        assert not digest.attachments


@needs_real_data
async def test_discord_a_post_cut_short_and_completed_attaches_the_chart_once(
    tmp_path: Path,
) -> None:
    report, chart = largest_report()
    delivery = Delivery(report=report, files=(chart,))
    async with FakeDiscord() as fake, running_bot(fake, tmp_path) as bot:
        channel = fake.guild.text_channel.id
        target = ChannelTarget(str(channel))
        # The first message goes out, but its answer is lost: the post fails.
        fake.fail_next(rf"/channels/{channel}/messages$", 400, method="POST", lost=True)
        with pytest.raises(Exception):  # noqa: B017, PT011 - whatever discord.py raises
            await bot.chat.post(target, delivery, idempotency_key="job-chart")
        assert len(fake.messages_in(channel)) == 1
        assert await bot.chat.find_posted(target, "job-chart") is None  # part 1 only
        refs = await bot.chat.post(target, delivery, idempotency_key="job-chart")
        assert len(refs) >= 2
        posted = fake.messages_in(channel)
        assert len(posted) == len(refs)
        assert sum(len(m.attachments) for m in posted) == 1
        assert posted[0].attachments


# ----------------------------------------------------------------------------- the core


async def test_a_chart_that_cannot_be_drawn_leaves_the_report_to_go_without(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import json

    from digest.pipeline import DigestEngine

    async def broken(self: DigestEngine, data: object) -> bytes:
        raise RuntimeError("no canvas")

    monkeypatch.setattr(DigestEngine, "chart_png", broken)
    monkeypatch.setenv("REDIGEST_DATABASE_PATH", str(tmp_path / "console.sqlite3"))
    big = tmp_path / "big.json"
    big.write_text(json.dumps(thread_json(1500, seed=2)), encoding="utf-8")
    out = io.StringIO()
    caplog.set_level(logging.ERROR)
    await _console(load_settings(env_file=None), _lines(f"/digest {big} deep"), out)
    assert "10. OTHER OBSERVATIONS" in out.getvalue()
    assert "Chart: " not in out.getvalue()
    assert "could not draw the chart" in caplog.text


@pytest.mark.parametrize("lane", ["thread", "process"])
async def test_the_chart_is_drawn_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lane: str
) -> None:
    """In the offline engine's worker process (the default lane), or the CPU lane's thread:
    never on the loop's thread (a draw is ~0.25 s of CPU)."""
    import json
    import threading

    import digest.render.chart_png as chart_png
    from digest.pipeline import DigestEngine

    drawn_on: list[str] = []
    draw = DigestEngine.chart_png

    async def watched(self: DigestEngine, data: Any) -> bytes:
        png = await draw(self, data)
        drawn_on.append("process" if self._lane is not None else "here")
        return png

    real = chart_png.render_chart

    def render(data: Any) -> bytes:
        drawn_on.append(threading.current_thread().name)
        return real(data)

    monkeypatch.setattr(DigestEngine, "chart_png", watched)
    if lane == "thread":  # (a worker process is sent the function by name: not this one)
        monkeypatch.setattr(chart_png, "render_chart", render)
    monkeypatch.setenv("REDIGEST_CPU_LANE", lane)
    monkeypatch.setenv("REDIGEST_DATABASE_PATH", str(tmp_path / "console.sqlite3"))
    big = tmp_path / "big.json"
    big.write_text(json.dumps(thread_json(1500, seed=2)), encoding="utf-8")
    out = io.StringIO()
    await _console(load_settings(env_file=None), _lines(f"/digest {big} deep"), out)
    assert "Chart: " in out.getvalue()
    if lane == "process":
        assert drawn_on == ["process"]  # drawn in the worker process
    else:
        assert drawn_on[0].startswith("redigest-cpu")
        assert drawn_on[1:] == ["here"]
        assert threading.main_thread().name not in drawn_on
