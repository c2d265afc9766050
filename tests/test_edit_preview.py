"""`edit #N` changes a subscription in place (schedule, size, filters; a watch's threshold and
window) and `preview #N` shows what its next run would post to the asker only, changing nothing
(issue 16 scope 4): through the core, the console, and the real Discord and Slack SDKs against
their fakes."""

from __future__ import annotations

import functools
import io
import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from bot.chat import Delivery, EphemeralTarget, PostRefused, Request
from bot.cli import _console
from bot.commands import CommandError, EditCmd, parse_command
from bot.settings import load_settings
from digest.errors import DigestError
from tests.fakes.discord_server import FakeDiscord
from tests.support.harness import Harness, make_thread
from tests.test_discord_adapter import make_thread as discord_thread
from tests.test_discord_adapter import running_bot
from tests.test_slack_adapter import MetaSlack, running

EXAMPLE = Path(__file__).resolve().parents[1] / "examples"


def _edit(text: str) -> EditCmd:
    cmd = parse_command("edit", text, default_tz="UTC")
    assert isinstance(cmd, EditCmd)
    return cmd


def _answers(h: Harness) -> list[str]:
    return [p.text for p in h.chat.posts if p.ephemeral]


# ----------------------------------------------------------------------------- parsing


def test_edit_reads_any_of_subscribes_words_and_the_clearing_ones() -> None:
    cmd = _edit('#3 weekly fri 18:00 Asia/Tokyo top 2 min-score 50 flair "New Model",News nsfw')
    assert cmd.id == 3
    assert cmd.schedule is not None
    assert cmd.schedule.describe().startswith("Fridays at 18:00")
    assert cmd.timezone == "Asia/Tokyo"
    assert (cmd.top, cmd.min_score, cmd.flairs, cmd.nsfw) == (2, 50, ("New Model", "News"), True)
    cleared = _edit("3 no-min-score no-flair no-exclude-flair no-keywords no-nsfw")
    assert cleared.no_min_score
    assert (cleared.flairs, cleared.exclude_flairs, cleared.keywords) == ((), (), ())
    assert cleared.nsfw is False
    assert _edit("#3 daily 10:00").timezone is None  # the subscription keeps its own zone
    assert _edit("#3 europe/berlin").timezone == "Europe/Berlin"
    assert _edit("#4 min-score 300 within 12 hours").within_hours == 12


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "Give the subscription's number, then what to change, like edit #3"),
        ("top 3", "“top” is not a subscription number"),
        ("#3", "Say what to change in #3: a schedule"),
        ("#3 frob", "“frob” is not something edit changes"),
        ("#3 top 99", "“99” is not a number of threads from 1 to 10, like top 5."),
        ("#3 flair A no-flair", "“flair” and “no-flair” both change flair: keep one"),
        ("#3 top 2 top 3", "“top” is given twice: keep one, like top 5."),
        ("#3 daily 25:00", "“25:00” is not a time"),
        ("#3 Mars/Olympus", "Unknown timezone “Mars/Olympus”"),
    ],
)
def test_bad_edits_are_answered_in_one_sentence_with_an_example(text: str, says: str) -> None:
    with pytest.raises(DigestError) as caught:  # a CommandError or a ScheduleError
        parse_command("edit", text, default_tz="UTC")
    message = caught.value.user_message
    assert says in message, message
    assert message.count(". ") == 0
    assert message.endswith((".", ")."))


def test_preview_takes_one_subscription_number() -> None:
    assert parse_command("redigest", "preview #3", default_tz="UTC") == parse_command(
        "preview", "3", default_tz="UTC"
    )
    with pytest.raises(CommandError, match="one subscription number, like preview #3"):
        parse_command("preview", "#3 now", default_tz="UTC")


# ----------------------------------------------------------------------------- edit, in the core


async def test_edit_changes_the_schedule_and_filters_in_place(h: Harness) -> None:
    await h.core.handle_request(
        h.request("subscribe", 'r/LocalLLaMA daily 09:00 top 5 flair "New Model" min-score 10')
    )
    (before,) = await h.core.storage.subscriptions()
    await h.core.handle_request(h.request("edit", "#1 daily 11:30 top 2 no-flair keywords qwen"))
    (after,) = await h.core.storage.subscriptions()
    assert (after.id, after.channel_id, after.created_by) == (1, "C1", "U1")
    assert after.spec["schedule"] == "daily 11:30 Europe/Berlin"  # the zone it had, kept
    assert (after.spec["top"], after.spec["flairs"], after.spec["keywords"]) == (2, [], ["qwen"])
    assert after.spec["min_score"] == 10  # not mentioned: unchanged
    # 06:00 UTC on a Friday in March: 11:30 in Berlin (UTC+1) is 10:30 UTC today.
    assert before.next_run_at == datetime.fromisoformat("2026-03-27T08:00:00+00:00")
    assert after.next_run_at == datetime.fromisoformat("2026-03-27T10:30:00+00:00")
    answer = _answers(h)[-1]
    assert answer == (
        "Edited #1: r/LocalLLaMA, daily at 11:30 (Europe/Berlin), top 2, min-score 10, "
        "keywords qwen. Next run 2026-03-27 10:30 UTC (in 4 h). Changed: schedule "
        "daily at 09:00 (Europe/Berlin) → daily at 11:30 (Europe/Berlin); top 5 → 2; "
        'flair "New Model" → none; keywords none → qwen.'
    ), answer
    # The same wording as /subscribe's answer and /subscriptions.
    await h.core.handle_request(h.request("subscriptions", ""))
    assert "daily at 11:30 (Europe/Berlin), top 2, min-score 10, keywords qwen" in _answers(h)[-1]


async def test_an_edit_that_keeps_the_schedule_keeps_the_next_run(h: Harness) -> None:
    await h.core.handle_request(h.request("subscribe", "r/LocalLLaMA daily 09:00"))
    (before,) = await h.core.storage.subscriptions()
    h.clock.advance(hours=1)
    await h.core.handle_request(h.request("edit", "#1 min-score 100 nsfw"))
    (after,) = await h.core.storage.subscriptions()
    assert after.next_run_at == before.next_run_at
    assert (after.spec["min_score"], after.spec["nsfw"]) == (100, True)
    assert "Changed: min-score none → 100; NSFW now allowed." in _answers(h)[-1]
    await h.core.handle_request(h.request("edit", "#1 no-min-score no-nsfw"))
    assert "Changed: min-score 100 → none; NSFW no longer allowed." in _answers(h)[-1]
    await h.core.handle_request(h.request("edit", "#1 no-nsfw"))
    assert _answers(h)[-1].endswith("Nothing changed: it was so already.")


async def test_a_timezone_alone_moves_the_same_times(h: Harness) -> None:
    await h.core.handle_request(h.request("subscribe", "r/LocalLLaMA weekly mon 09:00 UTC"))
    await h.core.handle_request(h.request("edit", "#1 America/New_York"))
    (sub,) = await h.core.storage.subscriptions()
    assert sub.spec["schedule"] == "weekly mon 09:00 America/New_York"
    assert sub.next_run_at == datetime.fromisoformat("2026-03-30T13:00:00+00:00")  # EDT


async def test_a_watch_edits_its_threshold_and_window_only(h: Harness) -> None:
    await h.core.handle_request(h.request("watch", "r/LocalLLaMA min-score 200"))
    await h.core.handle_request(h.request("edit", "#1 min-score 300 within 12h"))
    (sub,) = await h.core.storage.subscriptions()
    assert (sub.spec["min_score"], sub.spec["within_hours"]) == (300, 12)
    assert _answers(h)[-1] == (
        "Edited #1: new posts in r/LocalLLaMA are posted here once they reach 300 points "
        "within 12 hours. Changed: min-score 200 → 300; within 24 h → 12 h."
    )
    await h.core.handle_request(h.request("edit", "#1 daily 10:00"))
    assert _answers(h)[-1] == (
        "#1 is a watch: change its min-score or within, like edit #1 min-score 300 within 12h."
    )


async def test_edit_is_for_managers_and_this_servers_subscriptions(h: Harness) -> None:
    await h.core.handle_request(h.request("subscribe", "r/LocalLLaMA daily 09:00"))
    await h.core.handle_request(h.request("edit", "#1 top 2", can_manage=False))
    assert _answers(h)[-1] == "Only people who can manage this server can change subscriptions."
    await h.core.handle_request(h.request("edit", "#1 top 2", server_id="S2"))
    assert _answers(h)[-1] == "There is no subscription #1 here; `subscriptions` lists them."
    await h.core.handle_request(h.request("preview", "#1", server_id="S2"))
    assert _answers(h)[-1] == "There is no subscription #1 here; `subscriptions` lists them."
    (sub,) = await h.core.storage.subscriptions()
    assert sub.spec["top"] == 5


# ----------------------------------------------------------------------------- preview, in the core


async def test_a_preview_goes_to_the_asker_only_and_changes_nothing(h: Harness) -> None:
    await h.core.handle_request(h.request("subscribe", "r/LocalLLaMA daily 09:00 top 3"))
    (before,) = await h.core.storage.subscriptions()
    reply = await h.core.handle_request(h.request("preview", "#1", user_id="U2"))
    assert reply is None  # the preview itself is the answer
    await h.run_jobs()
    preview = h.chat.posts[-1]
    assert preview.target == EphemeralTarget("C1", "U2", preview.target.reply_token, private=True)  # type: ignore[union-attr]
    bundle = preview.delivery.bundle
    assert bundle is not None
    assert [r.thread.id for r in bundle.reports] == ["aaa111", "bbb222", "ccc333"]
    assert bundle.note is not None
    assert bundle.note.startswith("Preview of #1, only you see it")
    assert h.chat.public() == []
    (after,) = await h.core.storage.subscriptions()
    assert (after.next_run_at, after.last_run_at) == (before.next_run_at, before.last_run_at)
    assert await h.core.storage.recently_posted("fake", "C1", 7) == set()

    # The real run still posts the same threads.
    h.clock.advance(minutes=1)
    assert await h.core.run_subscription_now(1)
    await h.run_jobs()
    (posted,) = h.chat.public()
    assert posted.delivery.bundle is not None
    assert [r.thread.id for r in posted.delivery.bundle.reports] == ["aaa111", "bbb222", "ccc333"]

    # A preview after it says why nothing would be posted.
    await h.core.handle_request(h.request("preview", "#1"))
    await h.run_jobs()
    empty = h.chat.posts[-1].delivery.bundle
    assert empty is not None
    assert empty.reports == ()
    assert "already posted here in the last 7 days" in (empty.empty_text or "")


async def test_a_paused_subscription_may_be_previewed_and_says_so(h: Harness) -> None:
    await h.core.handle_request(h.request("subscribe", "r/LocalLLaMA daily 09:00 top 1"))
    await h.core.handle_request(h.request("pause", "#1"))
    await h.core.handle_request(h.request("preview", "#1"))
    await h.run_jobs()
    bundle = h.chat.posts[-1].delivery.bundle
    assert bundle is not None
    assert len(bundle.reports) == 1
    assert "#1 is paused: it will not run until /resume 1." in (bundle.note or "")
    (sub,) = await h.core.storage.subscriptions()
    assert sub.paused


async def test_a_preview_costs_as_any_digest(h: Harness) -> None:
    await h.core.handle_request(h.request("settings", "analyzer anthropic"))
    await h.core.handle_request(h.request("subscribe", "r/LocalLLaMA daily 09:00 top 1"))
    await h.core.handle_request(h.request("preview", "#1"))
    await h.run_jobs()
    assert h.llm.requests  # the digest was made by the LLM analyser …
    assert await h.core.storage.spent_today("fake", "S1") > 0  # … and counted


async def test_a_watch_has_nothing_to_preview(h: Harness) -> None:
    await h.core.handle_request(h.request("watch", "r/LocalLLaMA min-score 200"))
    await h.core.handle_request(h.request("preview", "#1"))
    assert _answers(h)[-1].startswith("#1 is a watch: it has no next run to preview")


# ----------------------------------------------------------------------------- the console


async def _lines(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line + "\n"


async def test_edit_and_preview_in_the_console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIGEST_DATABASE_PATH", str(tmp_path / "console.sqlite3"))
    monkeypatch.setenv("REDIGEST_SAVED_THREADS", str(EXAMPLE))
    out = io.StringIO()
    await _console(
        load_settings(env_file=None),
        _lines(
            "/subscribe r/selfhosted daily 09:00 Europe/Berlin top 3 flair Discussion",
            "/edit #1 weekly mon 08:00 top 2 no-flair",
            "/edit #1 within 3h",
            "/preview #1",
            ":next",
        ),
        out,
    )
    text = out.getvalue()
    assert "Edited #1: r/selfhosted, Mondays at 08:00 (Europe/Berlin), top 2. Next run" in text, (
        text
    )
    assert (
        "Changed: schedule daily at 09:00 (Europe/Berlin) → Mondays at 08:00 (Europe/Berlin)"
        in text
    )
    assert "#1 is a scheduled digest: “within” is for watches" in text
    assert "#1 r/selfhosted: Mondays at 08:00 (Europe/Berlin) — next run" in text
    preview = re.search(r"── \[m\d+\] (.*) ──\nTop of r/selfhosted this week", text)
    assert preview is not None, text
    assert preview.group(1) == "only you see this, in #general"
    assert "Preview of #1, only you see it" in text
    assert "What do you use to bring Reddit discussions" in text

    # A later real run posts the same thread in the channel.
    out2 = io.StringIO()
    await _console(load_settings(env_file=None), _lines(":run 1"), out2)
    ran = out2.getvalue()
    assert re.search(r"── \[m\d+\] #general ──\nTop of r/selfhosted this week", ran), ran
    assert "What do you use to bring Reddit discussions" in ran


# ----------------------------------------------------------------------------- Discord and Slack


def _answered(fake: FakeDiscord, interaction_id: int) -> bool:
    return any(c.interaction_id == interaction_id for c in fake.callbacks)


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


async def test_discord_preview_is_ephemeral_and_edit_is_answered(
    discord_fake: FakeDiscord, tmp_path: Path
) -> None:
    fake = discord_fake
    async with running_bot(fake, tmp_path, discord_thread()) as bot:
        subscribe = await bot.slash(
            "subscribe",
            {"subreddits": "r/LocalLLaMA", "schedule": "daily 09:00 UTC"},
            user=fake.admin,
        )
        (answer,) = await bot.answers(subscribe)
        assert answer.startswith("Subscribed #1: r/LocalLLaMA")
        edit = await bot.slash("edit", {"id": 1, "changes": "top 2 min-score 10"}, user=fake.admin)
        (edited,) = await bot.answers(edit)
        assert edited.startswith(
            "Edited #1: r/LocalLLaMA, daily at 09:00 (UTC), top 2, min-score 10"
        )
        assert edited.endswith("Changed: top 5 → 2; min-score none → 10.")

        for command in ("edit", "preview"):  # both offer the subscriptions as you type
            typing = fake.autocomplete(command, {"id": "Local"}, user=fake.admin)
            await fake.dispatch("INTERACTION_CREATE", typing.payload)
            await fake.wait_until(functools.partial(_answered, fake, typing.id))
            choices = next(c for c in fake.callbacks if c.interaction_id == typing.id).choices
            assert [c["value"] for c in choices] == [1]

        preview = await bot.slash("preview", {"id": 1}, user=fake.admin)
        await bot.answers(preview)  # "thinking…" until the preview replaces it
        callback = next(c for c in fake.callbacks if c.interaction_id == preview.id)
        assert callback.ephemeral  # "thinking…", then the bundle, for the asker only
        await bot.core.drain(10.0)
        channel = fake.guild.text_channel.id
        assert bot.channel_posts(channel) == []  # nothing in the channel
        shown = fake.message(preview.original_message_id or 0).edits
        assert any("only you see it" in str(e) for e in shown), shown  # the note, "#" escaped
        (sub,) = await bot.core.storage.subscriptions()
        assert await bot.core.storage.recently_posted("discord", sub.channel_id, 7) == set()


@pytest.fixture
async def slack_fake() -> AsyncIterator[MetaSlack]:
    server = MetaSlack()
    async with server:
        yield server


async def test_slack_preview_is_acknowledged_then_ephemeral(
    slack_fake: MetaSlack, tmp_path: Path
) -> None:
    fake = slack_fake
    async with running(fake, tmp_path) as bot:
        await bot.slash("/redigest", "subscribe r/LocalLLaMA daily 09:00 UTC", user_id="U0OWNER01")
        await fake.wait_until(lambda: len(fake.ephemerals) == 1)
        await bot.slash("/redigest", "edit #1 top 1 keywords quantized", user_id="U0OWNER01")
        await fake.wait_until(lambda: len(fake.ephemerals) == 2)
        assert fake.ephemerals[1].text.startswith(
            "Edited #1: r/LocalLLaMA, daily at 09:00 (UTC), top 1, keywords quantized."
        )
        status, body, _ = await bot.slash("/redigest", "preview #1", user_id="U0OWNER01")
        assert status == 200
        assert "Preparing a preview of #1" in body
        await fake.wait_until(lambda: len(fake.ephemerals) == 3, timeout=10.0)
        await bot.settle()
        preview = fake.ephemerals[2]
        assert preview.user == "U0OWNER01"
        assert "Which quantized model runs best" in str(preview.blocks)
        assert "Preview of #1" in str(preview.blocks) + preview.text
        assert fake.posted == []  # nothing in the channel


async def test_discord_never_shows_a_preview_in_the_channel_instead(
    discord_fake: FakeDiscord, tmp_path: Path
) -> None:
    """Once the interaction is gone (a restart, or 15 minutes), Discord cannot answer the asker
    alone: a preview is then refused, and the asker is told so in one line, not shown the
    bundle in the channel."""
    fake = discord_fake
    async with running_bot(fake, tmp_path, discord_thread()) as bot:
        channel = str(fake.guild.text_channel.id)
        gone = EphemeralTarget(channel, str(fake.admin.id), "unknown-token", private=True)
        with pytest.raises(PostRefused, match="no longer lets me answer you privately"):
            await bot.chat.post(gone, Delivery(text="a preview"))
        assert bot.channel_posts(int(channel)) == []

        subscribe = await bot.slash(
            "subscribe", {"subreddits": "r/LocalLLaMA", "schedule": "daily 09:00"}, user=fake.admin
        )
        await bot.answers(subscribe)
        asked = Request("discord", str(fake.guild.id), channel, str(fake.admin.id), "preview",
                        "#1", can_manage=True, reply_token="lost-in-a-restart")  # fmt: skip
        assert await bot.core.handle_request(asked) is None
        await fake.wait_until(lambda: bool(bot.channel_posts(int(channel))))
        assert await bot.core.drain(10.0)
        (told,) = bot.channel_posts(int(channel))
        assert told.content == (
            f"<@{fake.admin.id}> The preview of #1 could not be made: Discord no longer lets me "
            "answer you privately (the command is over 15 minutes old, or the bot restarted "
            "since): ask again."
        )
        assert not told.embeds


async def test_a_preview_shows_an_nsfw_thread_only_where_it_may_be_shown(h: Harness) -> None:
    h.source.add(make_thread("nsf444", score=2000, over_18=True))
    await h.core.handle_request(
        h.request("subscribe", "r/LocalLLaMA daily 09:00 top 5 nsfw", channel_nsfw=True)
    )
    shown: dict[str, list[str]] = {}
    for channel, nsfw in (("C1", True), ("C2", False)):
        await h.core.handle_request(
            h.request("preview", "#1", channel_id=channel, channel_nsfw=nsfw)
        )
        await h.run_jobs()
        bundle = h.chat.posts[-1].delivery.bundle
        assert bundle is not None
        shown[channel] = [r.thread.id for r in bundle.reports]
    assert shown == {"C1": ["nsf444", "aaa111", "bbb222", "ccc333"],
                     "C2": ["aaa111", "bbb222", "ccc333"]}  # fmt: skip
