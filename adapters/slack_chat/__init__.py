"""Slack, through slack-bolt: slash commands, a message shortcut and reactions in; Block Kit out.

The package only translates. Slack payloads become the core's `Request`s and `Reaction`s; the
core's `Delivery`s become Block Kit messages. It holds no business rules beyond what Slack itself
imposes: the 3-second ack, Block Kit limits, mrkdwn escaping, message pacing and metadata.

    async with SlackChat(SlackConfig(bot_token=..., app_token=...)) as chat:
        await chat.run(Inbox(core.handle_request, core.handle_reaction))  # until cancelled

Where things are:
    config.py      SlackConfig: tokens and settings (secrets never in a repr)
    escape.py      where Slack text is escaped: untrusted text as inert mrkdwn, Reddit Markdown
    layout.py      Block Kit layout and paging within Slack's limits
    commands.py    a slash command as a Request
    events.py      reactions and the message shortcut as Reactions; a message's text
    inbound.py     bolt's listeners: ack first, then hand the work to the core
    http_door.py   HTTP mode: signature, replay and payload checks before anything is parsed
    posting.py     messages out: pacing, metadata marks, answers to one person
    lookups.py     read_message, can_manage, find_posted (after a crash)
    errors.py      what Slack's refusals mean, in one sentence
    chat.py        SlackChat: start-up checks, the transport, the parts wired together

Transport: Socket Mode when an app token (`xapp-…`) is configured, otherwise HTTP mode serving
`POST /slack/events` on REDIGEST_SLACK_HOST (127.0.0.1 by default: a reverse proxy fronts it).
Start-up checks the bot token (auth.test) and, in Socket Mode, the app token
(apps.connections.open) once, within a time limit: a bad token or an unreachable Slack stops
start-up with one sentence naming the setting to fix.
"""

from adapters.slack_chat.chat import SlackChat, bolt_log
from adapters.slack_chat.commands import request_from_command
from adapters.slack_chat.config import (
    DEFAULT_API_URL,
    DEFAULT_HOST,
    PLATFORM,
    SlackConfig,
    SlackConfigError,
)
from adapters.slack_chat.errors import SlackPostError, SlackPostRefused, slack_error
from adapters.slack_chat.escape import (
    ZWSP,
    clip_mrkdwn,
    defuse_broadcasts,
    escape_answer,
    escape_mrkdwn,
    is_listed,
    link_mrkdwn,
    reddit_to_mrkdwn,
    short_url,
)
from adapters.slack_chat.events import (
    message_text,
    reaction_from_event,
    reaction_from_shortcut,
    slack_to_plain,
)
from adapters.slack_chat.http_door import (
    EVENTS_PATH,
    MAX_BODY_BYTES,
    REJECTED_LOG_SECONDS,
    REPLAYS_REMEMBERED,
    SIGNATURE_WINDOW,
    payload_problem,
    signature_matches,
    timestamp_problem,
)
from adapters.slack_chat.layout import (
    CONTEXT_ELEMENT_CHARS,
    FALLBACK_CHARS,
    MAX_BLOCKS,
    MAX_CONTEXT_ELEMENTS,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    MESSAGE_CHARS,
    PLAIN_TEXT_CHARS,
    SECTION_CHARS,
    SlackMessage,
    allowed_links,
    block_chars,
    bundle_messages,
    context,
    delivery_messages,
    header,
    line_mrkdwn,
    paginate,
    report_fallback,
    report_messages,
    section,
    text_messages,
)
from adapters.slack_chat.posting import METADATA_EVENT

__all__ = [
    "CONTEXT_ELEMENT_CHARS",
    "DEFAULT_API_URL",
    "DEFAULT_HOST",
    "EVENTS_PATH",
    "FALLBACK_CHARS",
    "MAX_BLOCKS",
    "MAX_BODY_BYTES",
    "MAX_CONTEXT_ELEMENTS",
    "MAX_HEADER_TEXT",
    "MAX_SECTION_TEXT",
    "MESSAGE_CHARS",
    "METADATA_EVENT",
    "PLAIN_TEXT_CHARS",
    "PLATFORM",
    "REJECTED_LOG_SECONDS",
    "REPLAYS_REMEMBERED",
    "SECTION_CHARS",
    "SIGNATURE_WINDOW",
    "ZWSP",
    "SlackChat",
    "SlackConfig",
    "SlackConfigError",
    "SlackMessage",
    "SlackPostError",
    "SlackPostRefused",
    "allowed_links",
    "block_chars",
    "bolt_log",
    "bundle_messages",
    "clip_mrkdwn",
    "context",
    "defuse_broadcasts",
    "delivery_messages",
    "escape_answer",
    "escape_mrkdwn",
    "header",
    "is_listed",
    "line_mrkdwn",
    "link_mrkdwn",
    "message_text",
    "paginate",
    "payload_problem",
    "reaction_from_event",
    "reaction_from_shortcut",
    "reddit_to_mrkdwn",
    "report_fallback",
    "report_messages",
    "request_from_command",
    "section",
    "short_url",
    "signature_matches",
    "slack_error",
    "slack_to_plain",
    "text_messages",
    "timestamp_problem",
]
