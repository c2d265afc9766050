"""🔍 on a scheduled bundle lets the person pick which thread (issue 16, scope 4): the console's
`:react 🔍 m5 2`, Discord's "Deep analysis of…" select menu, Slack's "Deep analysis" buttons;
a 🔍 that does not say which answers with the choice. Single-thread bundles and digests behave
as before."""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.discord_chat.layout import render
from adapters.slack_chat.events import message_text
from adapters.slack_chat.http_door import payload_problem
from adapters.slack_chat.layout import delivery_messages
from adapters.slack_chat.picker import reaction_from_pick
from bot.chat import (
    Bundle,
    Delivery,
    EphemeralTarget,
    MessageRef,
    Reaction,
    Request,
    ThreadTarget,
)
from bot.cli import _console
from bot.jobs import ScheduledJob, job_payload
from bot.settings import load_settings
from bot.storage import Storage
from digest.model import Thread
from digest.report import Depth
from tests.fakes.discord_server import (
    CALLBACK_DEFERRED_CHANNEL_MESSAGE,
    FakeDiscord,
    StoredMessage,
    validate_message_body,
)
from tests.fakes.slack_server import interactive_form_body
from tests.support.fake_source import FakeSource
from tests.support.harness import Harness
from tests.support.synthetic import post_data, thread_json
from tests.test_discord_adapter import ENGINE, Bot, _pages, fake, make_thread, running_bot
from tests.test_slack_adapter import Bot as SlackBot
from tests.test_slack_adapter import MetaSlack, replies_settled
from tests.test_slack_adapter import running as slack_running

__all__ = ["fake"]  # the fixture, shared with the Discord adapter's tests

TITLES = {
    "aaa111": "Backups with restic: a year later",
    "bbb222": "Why I moved my Nextcloud to a NAS",
    "ccc333": "Tailscale or WireGuard for a small homelab?",
}


def _saved_threads(folder: Path, titles: dict[str, str] = TITLES) -> None:
    folder.mkdir(exist_ok=True)
    for i, (post_id, title) in enumerate(titles.items()):
        raw = thread_json(15, seed=i, post_id=post_id)
        raw[0]["data"]["children"][0]["data"] = post_data(post_id, 15, subreddit="selfhosted") | {
            "title": title,
            "score": 900 - 100 * i,  # listed in this order
        }
        (folder / f"{post_id}.json").write_text(json.dumps(raw), encoding="utf-8")


async def _session(out: io.StringIO, *tail: str) -> AsyncIterator[str]:
    """Subscribe, run once, wait for the bundle, then `tail` with {bundle} filled in."""
    yield "/subscribe r/selfhosted daily 09:00 top 3\n"
    yield ":run 1\n"
    for _ in range(400):  # the bundle is posted by a worker: wait for it
        if re.search(r"── \[m\d+\] #general ──\nTop of r/selfhosted", out.getvalue()):
            break
        await asyncio.sleep(0.05)
    bundle = re.findall(r"── \[(m\d+)\] #general ──\nTop of r/selfhosted", out.getvalue())[-1]
    for _ in range(400):  # and recorded as done (what it posted, where): ask the queue
        yield ":jobs\n"
        if re.search(r"sched:1:manual:\S+: done", out.getvalue()):
            break
        await asyncio.sleep(0.05)
    for line in tail:
        yield line.format(bundle=bundle) + "\n"


async def _console_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *tail: str, titles: dict[str, str] = TITLES
) -> tuple[str, str]:
    _saved_threads(tmp_path / "saved", titles)
    monkeypatch.setenv("REDIGEST_DATABASE_PATH", str(tmp_path / "console.sqlite3"))
    monkeypatch.setenv("REDIGEST_SAVED_THREADS", str(tmp_path / "saved"))
    out = io.StringIO()
    await _console(load_settings(env_file=None), _session(out, *tail), out)
    text = out.getvalue()
    bundle = re.findall(r"── \[(m\d+)\] #general ──\nTop of r/selfhosted", text)[-1]
    return text, bundle


def _deep_reports(text: str, bundle: str) -> list[str]:
    """The posts made in the thread under the bundle (each up to the next post)."""
    parts = re.split(r"\n── \[m\d+\] ", text)
    return [p for p in parts if p.startswith(f"in the thread under {bundle} ──")]


async def test_console_pick_analyses_the_second_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, bundle = await _console_run(tmp_path, monkeypatch, ":react 🔍 {bundle} 2")
    (report,) = _deep_reports(text, bundle)
    assert TITLES["bbb222"] in report
    assert "10. OTHER OBSERVATIONS" in report
    assert TITLES["aaa111"] not in report
    assert f"The deep analysis of “{TITLES['bbb222']}” will appear in a thread" in text


async def test_console_flag_without_a_number_lists_the_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, bundle = await _console_run(
        tmp_path, monkeypatch, ":react 🔍 {bundle}", ":react 🔍 {bundle} 7"
    )
    assert _deep_reports(text, bundle) == []  # nothing analysed without a choice
    asked = text.split("only you see this", 1)[1]
    assert "That digest covers 3 threads: which one should I analyse?" in asked
    for i, post_id in enumerate(TITLES, 1):
        assert f"\n{i}. {TITLES[post_id]}\n" in asked
    assert f"React with `:react 🔍 {bundle} N` to pick one." in asked
    # A number out of range: one sentence.
    assert "That message covers 3 threads: pick a number from 1 to 3 (not 7).\n" in text


async def test_console_single_thread_bundle_flags_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = {"aaa111": TITLES["aaa111"]}
    text, bundle = await _console_run(tmp_path, monkeypatch, ":react 🔍 {bundle}", titles=one)
    (report,) = _deep_reports(text, bundle)
    assert TITLES["aaa111"] in report
    assert "which one should I analyse" not in text


# ----------------------------------------------------------------------------- Discord


def _discord_threads() -> list[Thread]:
    return [
        make_thread(post_id, title=title, score=900 - 100 * i)
        for i, (post_id, title) in enumerate(TITLES.items())
    ]


async def _discord_bundle(bot: Bot) -> StoredMessage:
    await bot.slash("subscribe", {"subreddits": "r/LocalLLaMA", "schedule": "daily 09:00"},
                    user=bot.fake.admin)  # fmt: skip
    for _ in range(200):
        if await bot.core.storage.subscription(1) is not None:
            break
        await asyncio.sleep(0.02)
    assert await bot.core.run_subscription_now(1)
    channel = bot.fake.guild.text_channel.id
    await bot.fake.wait_until(
        lambda: any("Top of r/LocalLLaMA" in (m.content or "") for m in bot.channel_posts(channel))
    )
    assert await bot.core.drain(10.0)  # the run is recorded as done (what it posted, where)
    return next(m for m in bot.channel_posts(channel) if "Top of r/LocalLLaMA" in (m.content or ""))


async def test_discord_bundle_carries_a_menu_and_a_pick_analyses_that_thread(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    async with running_bot(fake, tmp_path, *_discord_threads()) as bot:
        bundle = await _discord_bundle(bot)
        (row,) = bundle.components
        (menu,) = row["components"]
        assert menu["type"] == 3
        assert menu["custom_id"] == "redigest:deep-pick"
        assert menu["placeholder"] == "Deep analysis of…"
        assert [o["value"] for o in menu["options"]] == list(TITLES)
        assert [o["label"] for o in menu["options"]] == [
            f"{i}. {t}" for i, t in enumerate(TITLES.values(), 1)
        ]

        pick = fake.component(
            "redigest:deep-pick", bundle, component_type=3, values=["bbb222"], user=fake.plain
        )
        await fake.dispatch("INTERACTION_CREATE", pick.payload)
        await fake.wait_until(lambda: bundle.id in fake.channels)  # a thread on the bundle
        pages = await _pages(fake, bundle.id)
        assert TITLES["bbb222"] in pages[0].embeds[0]["title"]
        assert not any(TITLES["aaa111"] in e.get("title", "") for p in pages for e in p.embeds)
        (answer,) = await bot.answers(pick)
        assert f"The deep analysis of “{TITLES['bbb222']}”" in answer
        callback = next(c for c in fake.callbacks if c.interaction_id == pick.id)
        assert callback.type == CALLBACK_DEFERRED_CHANNEL_MESSAGE
        assert callback.ephemeral  # only the asker sees the acknowledgement


async def test_discord_flag_on_a_bundle_of_several_points_to_the_menu(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    async with running_bot(fake, tmp_path, *_discord_threads()) as bot:
        bundle = await _discord_bundle(bot)
        channel = fake.guild.text_channel.id
        for _ in range(2):  # a second 🔍 by the same person is not answered again
            payload = fake.reaction_add(channel, bundle.id, fake.plain.id, "🔍")
            await fake.dispatch("MESSAGE_REACTION_ADD", payload)
        await fake.wait_until(
            lambda: any("which one" in (m.content or "") for m in bot.channel_posts(channel))
        )
        await asyncio.sleep(0.3)
        (said,) = [m for m in bot.channel_posts(channel) if "which one" in (m.content or "")]
        assert said.content.startswith(f"<@{fake.plain.id}> That digest covers 3 threads")
        assert "Pick one in the “Deep analysis of…” menu under it." in said.content
        assert TITLES["aaa111"] not in said.content  # the menu lists them: short here
        assert said.allowed_mentions == {"parse": []}
        # The "Deep analysis" message menu on it: the same pointer, to the asker alone.
        menu = fake.message_command("Deep analysis", bundle.id, user=fake.admin)
        await fake.dispatch("INTERACTION_CREATE", menu.payload)
        (answer,) = await bot.answers(menu)
        assert answer.startswith("That digest covers 3 threads: which one should I analyse?")
        assert "“Deep analysis of…” menu" in answer
        assert bundle.id not in fake.channels  # nothing analysed without a choice


# ----------------------------------------------------------------------------- Slack


async def _slack_bundle(bot: SlackBot) -> str:
    """Subscribe (as a manager) and run once: the bundle's ts."""
    fake = bot.fake
    request = Request(
        platform="slack", server_id=fake.team_id, channel_id="C0GENERAL", user_id="U0OWNER01",
        command="subscribe", text="r/LocalLLaMA daily 09:00", can_manage=True,
    )  # fmt: skip
    await bot.core.handle_request(request)
    assert await bot.core.run_subscription_now(1)
    await fake.wait_until(lambda: any("Top of r/LocalLLaMA" in m.text for m in fake.posted))
    assert await bot.core.drain(10.0)  # the run is recorded as done (what it posted, where)
    return next(m.ts for m in fake.posted if "Top of r/LocalLLaMA" in m.text)


async def test_slack_bundle_has_buttons_and_a_press_analyses_that_thread(
    tmp_path: Path,
) -> None:
    source = FakeSource()
    for thread in _discord_threads():
        source.add(thread)
    async with (
        MetaSlack() as fake,
        slack_running(fake, tmp_path, socket=True, source=source) as bot,
    ):
        ts = await _slack_bundle(bot)
        stored = fake.find_message("C0GENERAL", ts)
        assert stored is not None
        buttons = [b["accessory"] for b in stored.blocks or [] if "accessory" in b]
        assert [b["value"] for b in buttons] == list(TITLES)
        assert [b["action_id"] for b in buttons] == [f"redigest_deep_pick_{i}" for i in (1, 2, 3)]
        assert {b["text"]["text"] for b in buttons} == {"Deep analysis"}
        # Its text, as the core reads it when the run that posted it is gone: the threads' links.
        read = message_text(stored.to_slack(fake.team_id))
        assert all(f"/comments/{post_id}/" in read for post_id in TITLES)

        payload = fake.block_actions_payload("C0GENERAL", ts, "redigest_deep_pick_2")
        envelope_id = await fake.socket_send(fake.envelope("interactive", payload))
        await fake.wait_ack(envelope_id)
        replies = await replies_settled(bot, ts)
        assert replies  # the deep report, in the bundle's thread
        assert {fake.key_of(m.ts) for m in replies} == {f"flag:slack:C0GENERAL:{ts}#2:deep"}
        text = "\n".join(m.text + json.dumps(m.blocks) for m in replies)
        assert TITLES["bbb222"] in text
        assert TITLES["aaa111"] not in text
        (answer,) = [e for e in fake.ephemerals if "deep analysis of" in e.text]
        assert answer.user == "U0ALICE01"
        assert answer.via == "response_url"


async def test_slack_flag_on_a_bundle_of_several_points_to_the_buttons(tmp_path: Path) -> None:
    source = FakeSource()
    for thread in _discord_threads():
        source.add(thread)
    async with MetaSlack() as fake, slack_running(fake, tmp_path, source=source) as bot:
        ts = await _slack_bundle(bot)
        for _ in range(2):  # told once, however often the same person flags it
            await bot.event(fake.reaction_added_event("U0ALICE01", "mag", "C0GENERAL", ts))
        await bot.settle()
        (told,) = [e for e in fake.ephemerals if "which one" in e.text]
        assert (told.user, told.via) == ("U0ALICE01", "chat.postEphemeral")
        assert "That digest covers 3 threads" in told.text
        assert "Press “Deep analysis” beside the one you want" in told.text
        assert [m for m in fake.posted if m.thread_ts == ts] == []  # nothing analysed

        # Then a button, in HTTP mode: signed, checked, acknowledged, analysed.
        payload = fake.block_actions_payload("C0GENERAL", ts, "redigest_deep_pick_3")
        status, _, _ = await bot.send(interactive_form_body(payload))
        assert status == 200
        replies = await replies_settled(bot, ts)
        assert {fake.key_of(m.ts) for m in replies} == {f"flag:slack:C0GENERAL:{ts}#3:deep"}
        assert TITLES["ccc333"] in replies[0].text


def test_slack_button_payloads_are_checked_and_read() -> None:
    """HTTP mode lets a bundle's button presses through to bolt (a malformed one is refused
    before parsing); a press on anyone else's button is not a pick."""
    payload = {
        "type": "block_actions",
        "user": {"id": "U1"},
        "team": {"id": "T1"},
        "container": {"type": "message", "message_ts": "1.000200", "channel_id": "C1"},
        "channel": {"id": "C1"},
        "response_url": "https://hooks.slack.com/actions/T1/1/x",
        "actions": [{"action_id": "redigest_deep_pick_3", "value": "ccc333", "type": "button"}],
    }
    assert payload_problem(payload) is None
    assert payload_problem({**payload, "container": "C1"}) is not None
    assert payload_problem({k: v for k, v in payload.items() if k != "actions"}) is not None
    reaction = reaction_from_pick(payload, emoji="mag", bot_user_id="UBOT")
    assert reaction is not None
    assert reaction.message == MessageRef("slack", "C1", "1.000200")
    assert (reaction.pick, reaction.requested, reaction.user_id) == ("ccc333", True, "U1")
    other = {**payload, "actions": [{"action_id": "a", "value": "x", "type": "button"}]}
    assert reaction_from_pick(other, emoji="mag", bot_user_id="UBOT") is None


def test_discord_menu_labels_are_plain_short_and_only_for_several_threads() -> None:
    long_title = "@everyone look <@123> **bold** " + "very long title " * 20
    reports = tuple(
        ENGINE.digest_sync(make_thread(pid, title=t), Depth.BRIEF)
        for pid, t in (("aaa111", long_title), ("bbb222", "Short `one`"))
    )
    (message,) = render(Delivery(bundle=Bundle("Top of r/LocalLLaMA today", reports)), "k")
    (row,) = message.payload()["components"]
    labels = [o["label"] for o in row["components"][0]["options"]]
    assert all(1 <= len(label) <= 100 for label in labels)
    assert labels[0].endswith("…")
    assert "@everyone" not in labels[0]  # defused (a zero-width space), never a ping
    assert "<@123>" not in labels[0]
    assert labels[1] == "2. Short `one`"  # plain text: nothing renders in a label
    validate_message_body(message.payload(), require_content=True)  # Discord's limits
    (single,) = render(Delivery(bundle=Bundle("Top", reports[:1])), "k")
    assert "components" not in single.payload()


async def test_a_bundle_is_found_by_the_job_that_posted_it(tmp_path: Path) -> None:
    """Which bundle a message is: the scheduled job whose result names it, on that platform and
    in that channel only (message ids are only unique there)."""
    async with Storage(tmp_path / "s.sqlite3") as storage:
        for n, (platform, channel) in enumerate((("discord", "100"), ("slack", "C1")), 1):
            key = f"sched:{n}:manual:x"
            payload = job_payload(ScheduledJob(platform, "g", channel, n))
            assert await storage.add_job(key, ScheduledJob.KIND, payload)
            await storage.save_job_report(key, f"bundle {n}")
            refs = [MessageRef(platform, channel, "555"), MessageRef(platform, channel, "556")]
            await storage.finish_job(key, refs, post_id=None)
        find = storage.job_report_for
        assert await find(MessageRef("discord", "100", "555"), "scheduled") == "bundle 1"
        assert await find(MessageRef("discord", "100", "556"), "scheduled") == "bundle 1"
        assert await find(MessageRef("slack", "C1", "555"), "scheduled") == "bundle 2"
        assert await find(MessageRef("discord", "101", "555"), "scheduled") is None
        assert await find(MessageRef("discord", "100", "55"), "scheduled") is None
        assert await find(MessageRef("discord", "100", "5%"), "scheduled") is None
        assert await find(MessageRef("discord", "100", "555"), "digest") is None


# ----------------------------------------------------------------------------- the core


async def test_each_thread_of_a_bundle_is_counted_and_analysed_apart(h: Harness) -> None:
    """With flag-threshold 2, two people must pick the same thread; a person picking twice
    counts once; each thread gets its own job (once), under the bundle."""
    await h.core.handle_request(h.request("subscribe", "r/LocalLLaMA daily 09:00 top 3"))
    await h.core.handle_request(h.request("settings", "flag-threshold 2"))
    h.clock.advance(minutes=1)
    assert await h.core.run_subscription_now(1)
    await h.run_jobs()
    (post,) = [p for p in h.chat.public() if p.delivery.bundle is not None]
    assert post.delivery.bundle is not None
    titles = [r.thread.title for r in post.delivery.bundle.reports]
    assert len(titles) == 3

    def pick(user: str, n: int | str | None) -> Reaction:
        return Reaction(post.ref, "🔍", user, "S1", pick=n)

    assert "1 so far" in (await h.core.handle_reaction(pick("U1", 2)) or "")
    assert "1 so far" in (await h.core.handle_reaction(pick("U1", 2)) or "")  # counts once
    assert "1 so far" in (await h.core.handle_reaction(pick("U2", 3)) or "")  # its own count
    post_id = post.delivery.bundle.reports[1].thread.id
    answer = await h.core.handle_reaction(pick("U3", post_id))  # a menu's pick: the post id
    assert answer is not None
    assert f"The deep analysis of “{titles[1]}”" in answer
    assert await h.core.handle_reaction(pick("U4", "zzz999")) == (
        "That thread is not one of this message's; pick one from its menu."
    )
    keys = [j.key for j in await h.core.storage.jobs() if j.key.startswith("flag:")]
    assert keys == [f"flag:{post.ref.key}#2:deep"]
    await h.run_jobs()
    (deep,) = [p for p in h.chat.public() if p.delivery.report is not None]
    assert deep.delivery.report is not None
    assert deep.delivery.report.thread.title == titles[1]
    assert deep.target == ThreadTarget(post.ref)

    # A plain 🔍 without a choice: asked once per person, never analysed.
    assert await h.core.handle_reaction(Reaction(post.ref, "🔍", "U5", "S1")) is None
    assert await h.core.handle_reaction(Reaction(post.ref, "🔍", "U5", "S1")) is None
    (asked,) = [p for p in h.chat.ephemeral() if "which one" in p.text]
    assert asked.target == EphemeralTarget("C1", "U5")
    assert [f"{i}. {t}" in asked.text for i, t in enumerate(titles, 1)] == [True] * 3
    assert "Flag it again with the thread's number to pick one." in asked.text


async def test_discord_menu_works_after_a_restart(fake: FakeDiscord, tmp_path: Path) -> None:
    """The menu is answered by its custom_id, not by a view kept in memory: a bundle posted
    before a restart is still picked from."""
    async with running_bot(fake, tmp_path, *_discord_threads()) as bot:
        bundle = await _discord_bundle(bot)
    async with running_bot(fake, tmp_path, *_discord_threads()) as bot:  # a new process
        pick = fake.component(
            "redigest:deep-pick", bundle, component_type=3, values=["ccc333"], user=fake.admin
        )
        await fake.dispatch("INTERACTION_CREATE", pick.payload)
        (answer,) = await bot.answers(pick)
        assert f"The deep analysis of “{TITLES['ccc333']}”" in answer
        pages = await _pages(fake, bundle.id)
        assert TITLES["ccc333"] in pages[0].embeds[0]["title"]


def test_slack_buttons_only_where_a_thread_can_open() -> None:
    """A bundle shown to one person (a preview) has no buttons; one thread has none either."""
    reports = tuple(
        ENGINE.digest_sync(make_thread(pid, title=t), Depth.BRIEF) for pid, t in TITLES.items()
    )

    def buttons(bundle: Bundle, *, pickable: bool) -> list[str]:
        messages = delivery_messages(Delivery(bundle=bundle), pickable=pickable)
        return [
            b["accessory"]["value"] for m in messages for b in m.blocks or () if "accessory" in b
        ]

    several = Bundle("Top of r/LocalLLaMA today", reports, note="Late: the bot was down.")
    assert buttons(several, pickable=True) == list(TITLES)
    assert buttons(several, pickable=False) == []
    assert buttons(Bundle("Top", reports[:1]), pickable=True) == []
