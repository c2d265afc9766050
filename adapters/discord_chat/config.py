"""Discord's settings (DiscordConfig: the token never appears in a repr or a log line), and the
sentences that name the setting or permission to fix when Discord refuses."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.chat import PostRefused
from bot.shards import ShardSpec
from digest.errors import DigestError

PLATFORM = "discord"
API_VERSION = 10

BAD_TOKEN = (
    "Discord rejected the bot token: set DISCORD_TOKEN to the token shown under Bot → Reset "
    "Token at https://discord.com/developers/applications."
)
NO_INTENT = (
    "Discord refused the Message Content intent: turn on “Message Content Intent” under Bot → "
    "Privileged Gateway Intents at https://discord.com/developers/applications, or set "
    "REDIGEST_DISCORD_MESSAGE_CONTENT=0."
)


class DiscordStartupError(DigestError):
    """Discord refused to start the bot; the message names the setting to fix."""


class DiscordPostError(PostRefused):
    """Discord refused a post for a reason a server admin can fix (a permission, a deleted
    channel): not worth retrying; the message says what to do."""


NO_POST_PERMISSION = (
    "I can't post in this channel: give redigest the View Channel, Send Messages and Embed Links "
    "permissions here, then try again."
)
NO_THREAD_PERMISSION = (
    "I can't open a thread under that message: give redigest the Create Public Threads and Send "
    "Messages in Threads permissions in this channel, then try again."
)
GONE = "That channel or message no longer exists, so there is nowhere to post."
NO_PRIVATE_ANSWER = (
    "Discord no longer lets me answer you privately (the command is over 15 minutes old, or the "
    "bot restarted since): ask again."
)
# A post-only process (a worker, bot/roles.py) never holds the interaction it would answer.
NO_PRIVATE_ANSWER_HERE = (
    "I cannot show you this privately: this bot's commands and jobs run in separate processes, "
    "and on Discord only the one that received your command may answer you alone (an admin can "
    "run one with --role all for that)."
)


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    """How to reach Discord. `token` is a secret: it never appears in a repr or a log line."""

    token: str = field(repr=False)
    api_base: str | None = None  # REDIGEST_DISCORD_API_BASE: unset is Discord itself
    gateway_url: str | None = None  # REDIGEST_DISCORD_GATEWAY_URL
    guild_ids: tuple[int, ...] = ()  # sync commands to these guilds only (instant)
    message_content: bool = False  # read users' messages when they are flagged (privileged)
    flag_emoji: str = "🔍"  # what "Deep analysis" reports as the emoji of its flag
    react_with_flag: bool = True  # put the flag under each brief digest: one click asks for depth
    guild_ready_timeout: float = 2.0  # discord.py's wait for GUILD_CREATEs after READY
    shards: ShardSpec | None = None  # REDIGEST_DISCORD_SHARDS; None: all, Discord's count
    identify_interval: float | None = None  # seconds between IDENTIFYs; None: Discord's 5
    # Post only (a worker or scheduler process, bot/roles.py): log in for the REST API, never
    # connect to the gateway or sync the commands (the gateway process does both).
    post_only: bool = False
    # False when the jobs run in other processes (a gateway, bot/roles.py): their late answer
    # cannot come through this process's interaction, so "thinking…" is answered at once with
    # the acknowledgement Slack gives (bot.replies.acknowledgement).
    late_answers: bool = True
