"""The chat side of the core: neutral requests, message references, reactions, and the port every
chat adapter (Discord, Slack, console, tests) implements."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from digest.errors import DigestError
from digest.report import Report

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A message the bot (or anyone) posted, stable across restarts."""

    platform: str
    channel_id: str
    message_id: str
    thread_id: str | None = None  # when the message sits inside a thread

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.channel_id}:{self.message_id}"


@dataclass(frozen=True, slots=True)
class Request:
    """One command from a person, whatever the platform."""

    platform: str
    server_id: str  # Discord guild / Slack workspace / "console"
    channel_id: str
    user_id: str
    command: str  # digest, subscribe, … (without a slash)
    text: str  # the arguments as typed
    can_manage: bool = False  # the platform says this person manages the server/workspace
    channel_nsfw: bool = False
    # The adapter's handle for answers that come late (a digest's "Posted: …", a job's failure);
    # the immediate answer is `handle_request`'s return value. Opaque to the core.
    reply_token: str | None = None
    # Typed by the person at the bot's own terminal (the console): only then may a command name
    # a file on the host. Chat requests never do, whatever they contain.
    at_terminal: bool = False
    # The asker's language in their chat app ("de", "pt-BR"), when the platform says (Discord).
    locale: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """The immediate answer to a request (or an explicit "Deep analysis"), returned to the
    adapter that delivered it, as bolt's `dispatch(request)` returns a response: the adapter
    shows it through the request's own channel (Slack's response_url, Discord's interaction
    response, the console's terminal). Only late answers travel through `ChatPort.post`."""

    text: str
    ephemeral: bool = True  # only the asker sees it
    # Channel ids the text names as `#ID` (from the bot's own records, never from Reddit): the
    # adapter shows each as its platform's channel mention.
    channels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PickHint:
    """How a person picks one thread of a message that has several (a scheduled bundle), in the
    platform's own words; the core says it when a flag on such a message does not say which."""

    how: str  # e.g. "Pick one in the “Deep analysis of…” menu under it."
    # The platform shows the threads under the message (a menu, buttons): the core does not
    # list them again, it only points there.
    shows_choices: bool = False


@dataclass(frozen=True, slots=True)
class Reaction:
    """Every reaction the platform reports, unfiltered: the core decides which ones flag."""

    message: MessageRef
    emoji: str  # the emoji as the platform names it: "🔍" (Discord) or "mag" (Slack)
    user_id: str
    server_id: str
    by_bot: bool = False  # the bot's own reaction: ignored
    # The message's text when it came with the event (a "Deep analysis" shortcut carries its
    # message); otherwise None, and the core asks `ChatPort.read_message` if it needs it.
    message_text: str | None = None
    channel_nsfw: bool = False
    requested: bool = False  # asked for explicitly (a "Deep analysis" menu): any emoji counts
    # Which of the message's threads, when it has several (a bundle): a 1-based position as a
    # person typed it (`:react 🔍 m5 2`), or the Reddit post id a menu option carries. None:
    # not said (a bundle of several then gets the choice, see `pick_hint`).
    pick: int | str | None = None
    pick_hint: PickHint | None = None


@dataclass(frozen=True, slots=True)
class MessageText:
    """A message as `read_message` found it: its reference completed (the thread a reply sits
    in, which a reaction event may not say) and everything readable in it."""

    ref: MessageRef
    text: str


@dataclass(frozen=True, slots=True)
class ChannelTarget:
    channel_id: str
    # The reply token of the request this post answers (a /digest), so the platform can tell
    # the asker where it went; None for scheduled and watch posts.
    reply_token: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadTarget:
    """Replies in a thread under a message (a plain reply where the platform has no threads)."""

    parent: MessageRef


@dataclass(frozen=True, slots=True)
class EphemeralTarget:
    channel_id: str
    user_id: str
    reply_token: str | None = None
    # Only ever for this person (a preview): where the platform can no longer answer them alone
    # (Discord, once the interaction is gone), `post` raises PostRefused rather than address
    # them in the channel.
    private: bool = False


Target = ChannelTarget | ThreadTarget | EphemeralTarget


@dataclass(frozen=True, slots=True)
class Bundle:
    """A scheduled digest: several threads condensed into one post."""

    title: str
    reports: tuple[Report, ...]
    note: str | None = None  # e.g. "late: the bot was down at 09:00"
    empty_text: str | None = None  # what to say when no thread passed the filters
    lang: str = "en"  # the server's language (digest.i18n), its reports' too


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file posted with a delivery (a deep report's chart): the adapter attaches it to the
    report (Discord: to its first message; Slack: uploaded into its thread after the text; the
    console: written to disk). `alt_text` describes it for people who cannot see it."""

    name: str  # a file name, e.g. "chart-abc123.png"
    data: bytes = field(repr=False)
    alt_text: str = ""
    title: str = ""  # shown with the file where the platform shows one (Slack)
    mime: str = "image/png"


@dataclass(frozen=True, slots=True)
class Delivery:
    """What to post: a report, a bundle, or plain text (answers, errors)."""

    report: Report | None = None
    bundle: Bundle | None = None
    text: str | None = None
    header: str | None = None  # one line above a report (e.g. who asked, or "late")
    # The emoji the adapter adds under the main message so one click asks for depth (the
    # server's flag emoji, under a brief digest); None: offer nothing.
    offer_emoji: str | None = None
    # Files to post with it (a deep report's chart); none on a text-only platform's post.
    files: tuple[Attachment, ...] = ()


class PostRefused(DigestError):
    """The platform refused a post for a reason retrying cannot fix (a missing permission, a
    deleted or archived channel); the message says what an admin should do."""


class LookupUnavailable(DigestError):
    """`find_posted` could not check (no access to the channel's history, the API is down):
    the post may or may not be there, so the core must not post again blindly; it retries the
    lookup later."""


class ChatPort(Protocol):
    """What the core needs from a chat platform.

    Contract: `post` returns a reference for every message it created (the first one is the
    "main" message a reaction would land on); when an `idempotency_key` is given the adapter
    marks the message with it so `find_posted` can tell, after a crash, whether it went out.
    Errors the platform raises for a post propagate; the core records and retries, except
    `PostRefused`: the asker is told, and a subscription that cannot post is paused.
    `find_posted` returns None only when it looked and found nothing; when it cannot look it
    raises `LookupUnavailable` (or lets the platform's error propagate), never None.
    `read_message` returns None when the message cannot be read (gone, no access, a privileged
    intent not granted); it logs and never raises for that.
    """

    platform: str

    async def post(
        self, target: Target, delivery: Delivery, *, idempotency_key: str | None = None
    ) -> list[MessageRef]: ...

    async def find_posted(self, target: Target, idempotency_key: str) -> list[MessageRef] | None:
        """The messages posted with this key, or None if none can be found."""
        ...

    async def read_message(self, ref: MessageRef) -> MessageText | None:
        """The text of a message (anyone's), for the core to find the thread it links."""
        ...

    def command_text(self, words: str) -> str:
        """How a person types the command `words` ("resume 3") here: "/resume 3", or on Slack,
        where the commands live under one slash command, "/redigest resume 3"."""
        ...

    def working(self, target: Target) -> AbstractAsyncContextManager[None]:
        """While the block runs, show that the bot is working on what will be posted to
        `target` (Discord's typing indicator, a reaction on Slack); nothing where the platform
        has no such thing. Its errors may propagate: the core's `working` logs them."""
        ...


@asynccontextmanager
async def working(chat: ChatPort | None, target: Target) -> AsyncIterator[None]:
    """`chat.working(target)` around the block, for a long piece of work (a deep analysis).
    The indicator is a courtesy: its failures are logged, never raised, and never stop the work
    (whose own errors pass through untouched)."""
    shown: AbstractAsyncContextManager[None] | None = None
    if chat is not None:
        try:
            shown = chat.working(target)
            await shown.__aenter__()
        except Exception as exc:
            log.warning("cannot show on %s that a post to %s is on its way: %r",
                        chat.platform, target, exc)  # fmt: skip
            shown = None
    try:
        yield
    finally:
        if shown is not None and chat is not None:
            try:
                await shown.__aexit__(None, None, None)
            except Exception as exc:
                log.warning("cannot clear the working indicator on %s for %s: %r",
                            chat.platform, target, exc)  # fmt: skip


# Returns the immediate answer; None when there is none now (a digest: it is the answer, and
# what follows, "Posted: …" or a failure, comes through `ChatPort.post` with the reply token).
RequestHandler = Callable[[Request], Awaitable[Reply | None]]
# Returns the answer for a reaction asked for explicitly (Reaction.requested), else None.
ReactionHandler = Callable[[Reaction], Awaitable[str | None]]


@dataclass
class Inbox:
    """What an adapter calls into: the core's handlers (set by the composition root)."""

    on_request: RequestHandler
    on_reaction: ReactionHandler
    # (platform, server id, channel id) → [(subscription id, label)], for autocomplete.
    list_subscriptions: Callable[[str, str, str], Awaitable[list[tuple[int, str]]]] | None = None
