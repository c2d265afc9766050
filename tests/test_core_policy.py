"""Policy decided once, in the core: immediate answers are return values (`handle_request →
Reply`), late ones go through the port; which reaction flags (the server's emoji and the
names platforms give it); the core reads a message through the port only when it must; the
emoji a delivery offers is the server's."""

from __future__ import annotations

import pytest

from bot.chat import (
    ChannelTarget,
    EphemeralTarget,
    MessageRef,
    MessageText,
    Reaction,
    Reply,
    ThreadTarget,
)
from bot.commands import HELP_TEXT
from bot.core import Core
from bot.flags import DEEP_NOT_POSSIBLE, flag_names, is_flag, offered_emoji
from bot.replies import READING, acknowledgement
from digest.report import Depth
from tests.support.harness import Harness

LINK = "look https://www.reddit.com/r/LocalLLaMA/comments/bbb222/x/ wow"


def _plain_core(h: Harness) -> Core:
    """The core itself (the harness's one also shows its answers in the fake chat)."""
    c = h.core
    return Core(storage=c.storage, source=c.source, engines=c.engines, chats=c.chats,
                clock=c.clock, config=c.config)  # fmt: skip


# ----------------------------------------------------------------------------- answers


async def test_immediate_answers_are_returned_not_posted(h: Harness) -> None:
    core = _plain_core(h)
    assert await core.handle_request(h.request("help", "")) == Reply(HELP_TEXT)
    refusal = await core.handle_request(
        h.request("subscribe", "r/LocalLLaMA daily 09:00", can_manage=False)
    )
    assert refusal == Reply("Only people who can manage this server can subscribe a channel.")
    assert (await core.handle_request(h.request("frobnicate", ""))) is not None
    assert h.chat.posts == []  # nothing went through the port


async def test_a_digest_answers_late_through_the_port_with_its_reply_token(h: Harness) -> None:
    core = _plain_core(h)
    request = h.request("digest", "https://redd.it/zzz999", reply_token="late-1")
    assert await core.handle_request(request) is None  # the digest (or its failure) answers
    while await core.run_one_job() is not None:
        pass
    [told] = h.chat.ephemeral()
    assert told.target == EphemeralTarget("C1", "U1", "late-1")


def test_the_acknowledgement_is_the_cores_word() -> None:
    assert acknowledgement("digest", "https://redd.it/aaa111") == READING
    assert acknowledgement("redigest", "https://www.reddit.com/r/x/comments/aaa111/t/") == READING
    assert acknowledgement("redigest", "help") == ""
    assert acknowledgement("redigest", "frobnicate") == ""  # the core's answer says why


# ----------------------------------------------------------------------------- which emoji flags


@pytest.mark.parametrize(
    ("setting", "reported", "flags"),
    [
        ("🔍", "🔍", True),  # Discord
        ("🔍", "mag", True),  # Slack names it
        ("👀", "eyes", True),
        (":eyes:", "eyes", True),  # typed in Slack
        (":eyes:", "👀", True),  # …and reacted on Discord
        ("👀", "mag", False),
        ("🔍", "👀", False),
        ("<:digest:123456789012345678>", "<:digest:123456789012345678>", True),  # a server's own
        ("🔍", "thumbsup", False),
    ],
)
def test_which_emoji_flag(setting: str, reported: str, flags: bool) -> None:
    assert is_flag(reported, setting) is flags
    assert (reported in flag_names(setting)) is flags


def test_the_offered_emoji_is_a_character_where_one_is_known() -> None:
    assert offered_emoji("👀") == "👀"
    assert offered_emoji(":eyes:") == "👀"
    assert offered_emoji(":mag:") == "🔍"
    assert offered_emoji("<:digest:1>") == "<:digest:1>"


async def test_the_servers_flag_counts_and_others_do_not(h: Harness) -> None:
    await h.core.handle_request(h.request("settings", "flag-emoji 👀"))
    ref = h.chat.say("C1", LINK)
    assert await h.core.handle_reaction(Reaction(ref, "🔍", "U2", "S1")) is None
    assert h.chat.reads == []  # not the flag: the message is not even read
    await h.core.handle_reaction(Reaction(ref, "eyes", "U2", "S1"))  # Slack's name for 👀
    assert h.chat.reads == [ref]
    await h.run_jobs()
    [deep] = [p for p in h.chat.public() if isinstance(p.target, ThreadTarget)]
    assert deep.target == ThreadTarget(ref)
    assert deep.delivery.report is not None
    assert deep.delivery.report.thread.id == "bbb222"


async def test_a_digest_of_the_bots_is_not_read_back(h: Harness) -> None:
    await h.core.handle_request(h.request("digest", "https://redd.it/aaa111 brief"))
    await h.run_jobs()
    ref = h.chat.public()[-1].ref
    await h.core.handle_reaction(Reaction(ref, "🔍", "U2", "S1"))
    assert h.chat.reads == []  # the core knows which thread its digest was about
    await h.run_jobs()
    assert any(isinstance(p.target, ThreadTarget) for p in h.chat.public())


async def test_the_read_message_says_which_thread_a_reply_sits_in(h: Harness) -> None:
    """A reaction event may not say the thread (Slack's does not): the deep analysis goes
    into the thread the port reports, with the reply as the message flagged."""
    said = h.chat.say("C1", LINK)
    in_thread = MessageRef("fake", "C1", said.message_id, "root-1")

    async def read(ref: MessageRef) -> MessageText | None:
        return MessageText(in_thread, LINK)

    h.chat.read_message = read  # type: ignore[method-assign]
    await h.core.handle_reaction(Reaction(said, "🔍", "U2", "S1"))
    await h.run_jobs()
    [deep] = [p for p in h.chat.public() if isinstance(p.target, ThreadTarget)]
    assert deep.target == ThreadTarget(in_thread)


async def test_an_unreadable_message_flags_nothing(h: Harness) -> None:
    ref = MessageRef("fake", "C1", "nobody-knows")
    assert await h.core.handle_reaction(Reaction(ref, "🔍", "U2", "S1")) is None
    answer = await h.core.handle_reaction(Reaction(ref, "🔍", "U2", "S1", requested=True))
    assert answer == DEEP_NOT_POSSIBLE
    assert h.chat.reads == [ref, ref]
    assert await h.run_jobs() == 0


# ----------------------------------------------------------------------------- what is offered


async def test_a_brief_digest_offers_the_servers_flag(h: Harness) -> None:
    await h.core.handle_request(h.request("settings", "flag-emoji :eyes:"))
    await h.core.handle_request(
        h.request("digest", "https://redd.it/aaa111 brief", reply_token="b")
    )
    await h.core.handle_request(h.request("digest", "https://redd.it/bbb222 deep", reply_token="d"))
    await h.run_jobs()
    posts = {
        p.delivery.report.depth: p
        for p in h.chat.public()
        if isinstance(p.target, ChannelTarget) and p.delivery.report is not None
    }
    assert posts[Depth.BRIEF].delivery.offer_emoji == "👀"
    assert posts[Depth.DEEP].delivery.offer_emoji is None  # nothing deeper to ask for
    await h.core.handle_reaction(Reaction(posts[Depth.BRIEF].ref, "eyes", "U2", "S1"))
    await h.run_jobs()
    [deep] = [p for p in h.chat.public() if isinstance(p.target, ThreadTarget)]
    assert deep.delivery.offer_emoji is None
