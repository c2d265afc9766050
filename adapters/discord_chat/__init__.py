"""Discord for the bot core, through discord.py: slash commands, the "Deep analysis" message menu
and reactions in; reports, bundles and answers out as embeds, threads and ephemeral follow-ups.

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
    port.py          the ChatPort: post, find_posted, read_message
    client.py        the discord.py client and its gateway hooks
    sdk.py           discord.py, imported once
    chat.py          DiscordChat: log-in, command sync, the gateway, the parts wired together

Interactions are answered within Discord's 3 seconds by deferring before anything else; the core
returns its answer (`Reply`), which replaces the deferred response. Only a digest is answered
late: "Posted: …" or its failure arrives through `post` with the request's reply token. A
digest itself is posted as a normal channel message, so the bot can later open a thread under
it. Each post carries a short hash of its idempotency key in the embed footer (and as an
enforced `nonce`), so `find_posted` can find it after a crash.
"""

from adapters.discord_chat.channels import ALREADY_HAS_THREAD
from adapters.discord_chat.chat import INVITE_PERMISSIONS, INVITE_SCOPES, DiscordChat
from adapters.discord_chat.client import Interaction, Sendable
from adapters.discord_chat.config import (
    API_VERSION,
    BAD_TOKEN,
    GONE,
    NO_INTENT,
    NO_POST_PERMISSION,
    NO_THREAD_PERMISSION,
    PLATFORM,
    DiscordConfig,
    DiscordPostError,
    DiscordStartupError,
)
from adapters.discord_chat.escape import (
    escape,
    neutralise,
    plain,
    render_line,
    safe_url,
    ulen,
)
from adapters.discord_chat.events import TEXT_CACHE, message_text
from adapters.discord_chat.interactions import INTERACTION_ACKNOWLEDGED, INTERACTION_TTL
from adapters.discord_chat.layout import (
    NO_MENTIONS,
    EmbedPart,
    OutMessage,
    render,
    render_bundle,
    render_report,
    render_text,
    thread_name,
)
from adapters.discord_chat.limits import (
    DOC_FOOTER_MAX,
    INLINE_MAX,
    MARKER_ROOM,
    MAX_CHOICES,
    MAX_CONTENT,
    MAX_DESCRIPTION,
    MAX_EMBED_TOTAL,
    MAX_EMBEDS,
    MAX_FIELD_NAME,
    MAX_FIELD_VALUE,
    MAX_FIELDS,
    MAX_FOOTER,
    MAX_THREAD_NAME,
    MAX_TITLE,
)
from adapters.discord_chat.markers import marker, nonce, read_marker
from adapters.discord_chat.port import HISTORY_LIMIT

__all__ = [
    "ALREADY_HAS_THREAD",
    "API_VERSION",
    "BAD_TOKEN",
    "DOC_FOOTER_MAX",
    "GONE",
    "HISTORY_LIMIT",
    "INLINE_MAX",
    "INTERACTION_ACKNOWLEDGED",
    "INTERACTION_TTL",
    "INVITE_PERMISSIONS",
    "INVITE_SCOPES",
    "MARKER_ROOM",
    "MAX_CHOICES",
    "MAX_CONTENT",
    "MAX_DESCRIPTION",
    "MAX_EMBEDS",
    "MAX_EMBED_TOTAL",
    "MAX_FIELDS",
    "MAX_FIELD_NAME",
    "MAX_FIELD_VALUE",
    "MAX_FOOTER",
    "MAX_THREAD_NAME",
    "MAX_TITLE",
    "NO_INTENT",
    "NO_MENTIONS",
    "NO_POST_PERMISSION",
    "NO_THREAD_PERMISSION",
    "PLATFORM",
    "TEXT_CACHE",
    "DiscordChat",
    "DiscordConfig",
    "DiscordPostError",
    "DiscordStartupError",
    "EmbedPart",
    "Interaction",
    "OutMessage",
    "Sendable",
    "escape",
    "marker",
    "message_text",
    "neutralise",
    "nonce",
    "plain",
    "read_marker",
    "render",
    "render_bundle",
    "render_line",
    "render_report",
    "render_text",
    "safe_url",
    "thread_name",
    "ulen",
]
