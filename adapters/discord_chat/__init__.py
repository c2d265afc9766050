"""Discord for the bot core, through discord.py: slash commands, the "Deep analysis" and "Digest
this thread" message menus and reactions in; reports, bundles and answers out as embeds, threads
and ephemeral follow-ups; Discord's own threads read for a digest (`read_thread`).

It only translates. Commands become the same text a person would type (`bot.commands` parses
it), reactions become `Reaction`s, and a `Delivery` becomes messages within Discord's limits.
Reddit text is untrusted: everything rendered from a report is escaped so it cannot add
formatting, masked links or mentions, and every message is sent with `AllowedMentions.none()`.

    async with DiscordChat(config) as chat:   # logs in, syncs the commands (or raises one line)
        await chat.run(inbox)                  # the gateway, until cancelled

Where things are:
    config.py        DiscordConfig: the token and settings (the token never in a repr); refusals
    escape.py        where Discord text is escaped; lengths as Discord counts them
    layout.py        cards, pages and bundles as embeds, paged within Discord's limits
    limits.py        Discord's size limits
    markers.py       the mark a keyed post carries, to find it again after a crash
    commands.py      the slash command tree: options back into a command's text
    interactions.py  deferring, asking the core, answering (late only for a digest)
    ack.py           deferring straight from the gateway event, before discord.py parses it
    events.py        reactions to the core; what a message says
    channels.py      channels, threads and message references
    posting.py       messages out: channel posts, threads, answers to one person
    lookups.py       find_posted (after a crash) and read_message
    thread_reader.py read_thread: the thread a message starts or sits in, over REST (issue 18)
    thread_messages.py  its messages as ChatMessages (mentions as names); refusal sentences
    thread_access.py who may see a thread: @everyone (private or not), the asker
    client.py        the discord.py client (sharded) and its gateway hooks; which shards are up
    sdk.py           discord.py, imported once
    chat.py          DiscordChat: log-in, command sync, the gateway, the parts wired together

Interactions are answered within Discord's 3 seconds by deferring before anything else; the core
returns its answer (`Reply`), which replaces the deferred response. Only a digest is answered
late: "Posted: …" or its failure arrives through `post` with the request's reply token. A
digest itself is posted as a normal channel message, so the bot can later open a thread under
it. Each post carries a short hash of its idempotency key in the embed footer (and as an
enforced `nonce`), so `find_posted` can find it after a crash.
"""

from adapters.discord_chat.chat import DiscordChat
from adapters.discord_chat.config import (
    PLATFORM,
    DiscordConfig,
    DiscordPostError,
    DiscordStartupError,
)
from adapters.discord_chat.escape import escape, neutralise, safe_url, ulen
from adapters.discord_chat.layout import OutMessage, render
from adapters.discord_chat.limits import MAX_CONTENT

__all__ = [
    "MAX_CONTENT",
    "PLATFORM",
    "DiscordChat",
    "DiscordConfig",
    "DiscordPostError",
    "DiscordStartupError",
    "OutMessage",
    "escape",
    "neutralise",
    "render",
    "safe_url",
    "ulen",
]
