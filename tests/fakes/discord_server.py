"""A fake Discord (REST API v10 + gateway) that the real discord.py client talks to.

One aiohttp server on ``127.0.0.1`` (free port) serves both the REST API under
``/api/v10`` and the websocket gateway at ``/``::

    async with FakeDiscord() as fake:
        fake.patch_discord(monkeypatch)  # Route.BASE + DiscordWebSocket.DEFAULT_GATEWAY
        client = MyClient(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        async with client:
            task = asyncio.create_task(client.start(fake.token))
            await client.wait_until_ready()
            interaction = fake.slash_command("digest", {"url": "https://redd.it/abc"})
            await fake.dispatch("INTERACTION_CREATE", interaction.payload)
            await fake.wait_for(lambda r: r.path.startswith(f"/webhooks/{fake.application_id}/"))

Everything the fake builds is synthetic (it never reads ``shared/data``). What it mimics:

* **State**: one bot user (``fake.bot``) whose application id equals its user id (as for
  every bot created since 2016), three humans (``fake.owner`` owns the guild,
  ``fake.admin`` has a "Moderator" role with MANAGE_GUILD, ``fake.plain`` has no role),
  and guilds (``fake.guilds``, ``fake.guild`` is the first) with a category, a normal
  text channel ``general`` and an NSFW text channel ``nsfw-links``.
* **REST**: users/@me, oauth2/applications/@me, gateway(/bot), global and guild command
  sync, interaction callbacks, webhook follow-ups and @original edits, channel messages
  (create / edit / get / list / delete), threads from a message or standalone, reactions,
  typing, guild/member/user look-ups. Bodies are validated the way Discord does for the
  things a digest bot can get wrong (content <= 2000, embed limits, empty messages, command
  names), with Discord's JSON error bodies (codes 50035, 50006, 10008, 10062, 40060...).
  Every request is kept in :attr:`FakeDiscord.requests`.
* **Reading history** (chat threads): ``GET /channels/{id}/messages`` pages as Discord does
  (``limit`` <= 100, always newest first; ``before``, ``after`` = the oldest ones after,
  ``around``), channels have permission overwrites (:meth:`FakeDiscord.add_channel`: a
  private channel, one the bot cannot see → 403 50001 Missing Access, or whose history it
  may not read → no messages), threads on a message or on their own, public or private
  (:meth:`FakeDiscord.add_thread`), replies, reactions and webhooks
  (:meth:`FakeDiscord.user_message`). Without the Message Content intent
  (``privileged_intents`` without it), the REST API too sends others' messages empty, except
  those mentioning the bot; a message menu's target message keeps its content.
* **Gateway**: HELLO (short heartbeat interval), heartbeat ACKs, IDENTIFY (token and
  privileged-intents checks: close codes 4004 / 4014), READY with unavailable guilds, one
  GUILD_CREATE per guild, RESUME, REQUEST_GUILD_MEMBERS. Frames are zlib-stream compressed
  when the client asks for ``compress=zlib-stream`` (discord.py does, unless ``zstandard``
  is installed). :meth:`FakeDiscord.dispatch` pushes any event; events the client's
  intents do not cover are dropped (kept in ``dropped_events``) and message content is
  blanked without MESSAGE_CONTENT, as Discord does. REST actions echo their gateway events
  (MESSAGE_CREATE/UPDATE/DELETE, THREAD_CREATE, the bot's own MESSAGE_REACTION_ADD) unless
  ``echo_events=False``.
* **Faults**: :meth:`FakeDiscord.rate_limit_next` (a 429 that discord.py accepts as
  Discord's own: JSON body plus ``Via`` header), :meth:`FakeDiscord.fail_next`, and
  ``bad_token=True`` (every authenticated route answers 401, so ``login`` raises
  ``discord.LoginFailure``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import enum
import hashlib
import itertools
import json
import math
import re
import secrets
import time
import warnings
import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import BodyPartReader, WSMsgType, web

from tests.fakes.local_server import LocalServer

if TYPE_CHECKING:
    import pytest

JSON = dict[str, Any]

API_VERSION = 10
DISCORD_EPOCH_MS = 1_420_070_400_000
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
"""``attachment_size_limit`` sent with interactions (10 MiB, a guild without boosts)."""

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000


class Permission(enum.IntFlag):
    """Discord permission bits (the ones a digest bot meets)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CONNECT = 1 << 20
    SPEAK = 1 << 21
    CHANGE_NICKNAME = 1 << 26
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38


ALL_PERMISSIONS = (1 << 50) - 1
"""What Discord reports for the owner / an administrator (value seen in real payloads)."""

EVERYONE_PERMISSIONS = (
    Permission.CREATE_INSTANT_INVITE
    | Permission.ADD_REACTIONS
    | Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.USE_EXTERNAL_EMOJIS
    | Permission.CONNECT
    | Permission.SPEAK
    | Permission.CHANGE_NICKNAME
    | Permission.USE_APPLICATION_COMMANDS
    | Permission.CREATE_PUBLIC_THREADS
    | Permission.SEND_MESSAGES_IN_THREADS
)
MODERATOR_PERMISSIONS = (
    Permission.MANAGE_GUILD
    | Permission.MANAGE_MESSAGES
    | Permission.MANAGE_THREADS
    | Permission.KICK_MEMBERS
    | Permission.VIEW_AUDIT_LOG
)
BOT_ROLE_PERMISSIONS = (
    Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.SEND_MESSAGES_IN_THREADS
    | Permission.CREATE_PUBLIC_THREADS
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.ADD_REACTIONS
    | Permission.READ_MESSAGE_HISTORY
    | Permission.USE_APPLICATION_COMMANDS
)


class Intent(enum.IntFlag):
    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_MODERATION = 1 << 2
    GUILD_EXPRESSIONS = 1 << 3
    GUILD_INTEGRATIONS = 1 << 4
    GUILD_WEBHOOKS = 1 << 5
    GUILD_INVITES = 1 << 6
    GUILD_VOICE_STATES = 1 << 7
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    GUILD_MESSAGE_TYPING = 1 << 11
    DIRECT_MESSAGES = 1 << 12
    DIRECT_MESSAGE_REACTIONS = 1 << 13
    DIRECT_MESSAGE_TYPING = 1 << 14
    MESSAGE_CONTENT = 1 << 15


PRIVILEGED_INTENTS = Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES | Intent.MESSAGE_CONTENT

# Which intent a guild event needs (DM events: see _DM_EVENT_INTENTS). Unlisted: always sent.
_GUILD_EVENT_INTENTS: dict[str, Intent] = {
    "GUILD_CREATE": Intent.GUILDS,
    "GUILD_UPDATE": Intent.GUILDS,
    "GUILD_DELETE": Intent.GUILDS,
    "GUILD_ROLE_CREATE": Intent.GUILDS,
    "GUILD_ROLE_UPDATE": Intent.GUILDS,
    "GUILD_ROLE_DELETE": Intent.GUILDS,
    "CHANNEL_CREATE": Intent.GUILDS,
    "CHANNEL_UPDATE": Intent.GUILDS,
    "CHANNEL_DELETE": Intent.GUILDS,
    "THREAD_CREATE": Intent.GUILDS,
    "THREAD_UPDATE": Intent.GUILDS,
    "THREAD_DELETE": Intent.GUILDS,
    "THREAD_LIST_SYNC": Intent.GUILDS,
    "GUILD_MEMBER_ADD": Intent.GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": Intent.GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": Intent.GUILD_MEMBERS,
    "PRESENCE_UPDATE": Intent.GUILD_PRESENCES,
    "MESSAGE_CREATE": Intent.GUILD_MESSAGES,
    "MESSAGE_UPDATE": Intent.GUILD_MESSAGES,
    "MESSAGE_DELETE": Intent.GUILD_MESSAGES,
    "MESSAGE_DELETE_BULK": Intent.GUILD_MESSAGES,
    "MESSAGE_REACTION_ADD": Intent.GUILD_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": Intent.GUILD_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE_ALL": Intent.GUILD_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE_EMOJI": Intent.GUILD_MESSAGE_REACTIONS,
    "TYPING_START": Intent.GUILD_MESSAGE_TYPING,
}
_DM_EVENT_INTENTS: dict[str, Intent] = {
    "MESSAGE_CREATE": Intent.DIRECT_MESSAGES,
    "MESSAGE_UPDATE": Intent.DIRECT_MESSAGES,
    "MESSAGE_DELETE": Intent.DIRECT_MESSAGES,
    "MESSAGE_REACTION_ADD": Intent.DIRECT_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": Intent.DIRECT_MESSAGE_REACTIONS,
    "TYPING_START": Intent.DIRECT_MESSAGE_TYPING,
}

# Channel types
GUILD_TEXT = 0
GUILD_CATEGORY = 4
GUILD_ANNOUNCEMENT = 5
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12

# Message flags
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_HAS_THREAD = 1 << 5
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12

# Interaction callback types
CALLBACK_PONG = 1
CALLBACK_CHANNEL_MESSAGE = 4
CALLBACK_DEFERRED_CHANNEL_MESSAGE = 5
CALLBACK_DEFERRED_UPDATE_MESSAGE = 6
CALLBACK_UPDATE_MESSAGE = 7
CALLBACK_AUTOCOMPLETE_RESULT = 8
CALLBACK_MODAL = 9

_CHAT_INPUT_NAME = re.compile(r"^[-_'\w]{1,32}$")


def snowflake_time(snowflake: int) -> dt.datetime:
    """When a snowflake was minted."""
    return dt.datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, dt.UTC)


def _iso(moment: dt.datetime | None = None) -> str:
    moment = moment or dt.datetime.now(dt.UTC)
    return moment.isoformat(timespec="microseconds")


def _import_discord() -> tuple[Any, Any]:
    """``discord.http`` and ``discord.gateway``, imported without the audioop warning.

    discord.py 2.7.1 imports the stdlib ``audioop`` (for voice), which warns
    ``DeprecationWarning`` on Python 3.11/3.12; it is not our code.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
        import discord.gateway
        import discord.http
    return discord.http, discord.gateway


# --------------------------------------------------------------------------- state


@dataclass
class FakeUser:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None

    def payload(self) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": None,
            "avatar_decoration_data": None,
            "public_flags": 0,
            "clan": None,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class FakeRole:
    id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False
    bot_id: int | None = None

    def payload(self) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(int(self.permissions)),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "managed": self.managed,
            "mentionable": False,
            "flags": 0,
            "version": 0,
            "tags": {},
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass
class FakeMember:
    user: FakeUser
    roles: list[int]
    joined_at: str
    nick: str | None = None

    def payload(self, *, with_user: bool = True, permissions: int | None = None) -> JSON:
        data: JSON = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "premium_since": None,
            "joined_at": self.joined_at,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
            "unusual_dm_activity_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class FakeChannel:
    id: int
    guild_id: int
    name: str
    type: int = GUILD_TEXT
    position: int = 0
    nsfw: bool = False
    parent_id: int | None = None
    topic: str | None = None
    last_message_id: int | None = None
    # threads only
    owner_id: int | None = None
    message_count: int = 0
    auto_archive_duration: int = 1440
    created_at: str = ""
    permission_overwrites: list[JSON] = field(default_factory=list)
    """Discord's overwrite objects (``{"id", "type": 0 role | 1 member, "allow", "deny"}``);
    a thread has none of its own: its parent's apply."""
    member_ids: set[int] = field(default_factory=set)
    """A private thread's members (who may see it without MANAGE_THREADS)."""

    @property
    def is_thread(self) -> bool:
        return self.type in (10, PUBLIC_THREAD, PRIVATE_THREAD)

    def payload(self, *, with_guild_id: bool = True) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "flags": 0,
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "last_message_id": str(self.last_message_id) if self.last_message_id else None,
            "rate_limit_per_user": 0,
        }
        if with_guild_id:
            data["guild_id"] = str(self.guild_id)
        if self.is_thread:
            data |= {
                "owner_id": str(self.owner_id),
                "message_count": self.message_count,
                "member_count": 1,
                "total_message_sent": self.message_count,
                "thread_metadata": {
                    "archived": False,
                    "auto_archive_duration": self.auto_archive_duration,
                    "archive_timestamp": self.created_at,
                    "locked": False,
                    "create_timestamp": self.created_at,
                    "invitable": self.type == PRIVATE_THREAD,
                },
                "applied_tags": [],
            }
            return data
        data |= {
            "position": self.position,
            "permission_overwrites": [dict(o) for o in self.permission_overwrites],
            "nsfw": self.nsfw,
            "version": 0,
        }
        if self.type != GUILD_CATEGORY:
            data |= {"topic": self.topic, "default_thread_rate_limit_per_user": 0}
        return data


@dataclass
class FakeGuild:
    id: int
    name: str
    owner_id: int
    roles: list[FakeRole]
    channels: list[FakeChannel]
    members: list[FakeMember]
    locale: str = "en-US"

    @property
    def text_channel(self) -> FakeChannel:
        """The first text channel that is not NSFW (``general``)."""
        return next(c for c in self.channels if c.type == GUILD_TEXT and not c.nsfw)

    @property
    def nsfw_channel(self) -> FakeChannel:
        return next(c for c in self.channels if c.type == GUILD_TEXT and c.nsfw)

    def channel(self, name: str) -> FakeChannel:
        return next(c for c in self.channels if c.name == name)

    def role(self, name: str) -> FakeRole:
        return next(r for r in self.roles if r.name == name)

    def member(self, user_id: int) -> FakeMember | None:
        return next((m for m in self.members if m.user.id == user_id), None)

    def permissions_for(self, user_id: int) -> int:
        """Guild-level permissions (before any channel's overwrites)."""
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        member = self.member(user_id)
        perms = next(int(r.permissions) for r in self.roles if r.id == self.id)
        if member is not None:
            for role in self.roles:
                if role.id in member.roles:
                    perms |= int(role.permissions)
        if perms & Permission.ADMINISTRATOR:
            return ALL_PERMISSIONS
        return perms

    def channel_permissions(self, user_id: int, channel: FakeChannel) -> int:
        """A member's permissions in a channel, as Discord computes them: the guild's, then
        the channel's @everyone overwrite, the member's roles' overwrites, the member's own.
        A thread takes its parent's; a private thread is seen only by its members and by
        those who may manage threads. No VIEW_CHANNEL: nothing at all."""
        base = self.permissions_for(user_id)
        if base & Permission.ADMINISTRATOR or base == ALL_PERMISSIONS:
            return ALL_PERMISSIONS
        target = channel
        if channel.is_thread and channel.parent_id is not None:
            target = next((c for c in self.channels if c.id == channel.parent_id), channel)
        overwrites = {int(o["id"]): o for o in target.permission_overwrites}
        perms = base

        def apply(allow: int, deny: int) -> None:
            nonlocal perms
            perms = (perms & ~deny) | allow

        everyone = overwrites.get(self.id)
        if everyone is not None:
            apply(int(everyone["allow"]), int(everyone["deny"]))
        member = self.member(user_id)
        allow = deny = 0
        for role_id in member.roles if member is not None else []:
            role_ow = overwrites.get(role_id)
            if role_ow is not None and int(role_ow.get("type", 0)) == 0:
                allow, deny = allow | int(role_ow["allow"]), deny | int(role_ow["deny"])
        apply(allow, deny)
        own = overwrites.get(user_id)
        if own is not None and int(own.get("type", 1)) == 1:
            apply(int(own["allow"]), int(own["deny"]))
        if (
            channel.type == PRIVATE_THREAD
            and user_id not in channel.member_ids
            and not perms & Permission.MANAGE_THREADS
        ):
            return 0
        return perms if perms & Permission.VIEW_CHANNEL else 0

    def payload(self) -> JSON:
        """The guild object (REST ``GET /guilds/{id}``)."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "application_id": None,
            "region": "deprecated",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw": False,
            "nsfw_level": 0,
            "roles": [r.payload() for r in self.roles],
            "emojis": [],
            "stickers": [],
            "features": [],
            "system_channel_id": str(self.text_channel.id),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": self.locale,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "hub_type": None,
            "incidents_data": None,
        }


@dataclass
class StoredMessage:
    """A message the fake holds (sent by the bot through REST, or injected by a test)."""

    id: int
    channel_id: int
    guild_id: int | None
    author: FakeUser
    content: str = ""
    embeds: list[JSON] = field(default_factory=list)
    allowed_mentions: JSON | None = None
    flags: int = 0
    components: list[JSON] = field(default_factory=list)
    attachments: list[JSON] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    message_reference: JSON | None = None
    tts: bool = False
    nonce: str | int | None = None
    type: int = 0
    source: Literal["channel", "original", "followup", "user"] = "channel"
    interaction_id: int | None = None
    webhook_id: int | None = None
    thread_parent_id: int | None = None
    """Set when the message is in a thread: the thread's parent channel."""
    thread_id: int | None = None
    """Set when a thread was started from this message."""
    timestamp: str = field(default_factory=_iso)
    edited_timestamp: str | None = None
    edits: list[JSON] = field(default_factory=list)
    """Each PATCH body applied to the message, in order."""
    reactions: list[tuple[str, int]] = field(default_factory=list)
    """``(emoji, user_id)`` pairs; emoji is the unicode or ``name:id``."""
    deleted: bool = False
    mention_ids: list[int] = field(default_factory=list)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & FLAG_LOADING)


@dataclass
class InteractionCallback:
    """One ``POST /interactions/{id}/{token}/callback``."""

    interaction_id: int
    token: str
    type: int
    data: JSON
    received_at: float
    message_id: int | None = None

    @property
    def content(self) -> str | None:
        value = self.data.get("content")
        return value if isinstance(value, str) else None

    @property
    def embeds(self) -> list[JSON]:
        return list(self.data.get("embeds") or [])

    @property
    def flags(self) -> int:
        return int(self.data.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def allowed_mentions(self) -> JSON | None:
        value = self.data.get("allowed_mentions")
        return value if isinstance(value, dict) else None

    @property
    def choices(self) -> list[JSON]:
        """Autocomplete choices (type 8)."""
        return list(self.data.get("choices") or [])


@dataclass
class CommandSync:
    """One bulk overwrite (``PUT .../commands``): what the client sent."""

    guild_id: int | None
    commands: list[JSON]
    received_at: float


@dataclass
class RecordedRequest:
    """One REST request. ``path`` is relative to ``/api/v10`` and URL-decoded."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    received_at: float
    """``time.monotonic()`` when it arrived."""
    status: int = 0
    """The status the fake answered (0 while in flight)."""


@dataclass
class FakeInteraction:
    """An interaction the fake built (or saw in ``dispatch``); ``payload`` is the ``d``."""

    id: int
    token: str
    payload: JSON
    name: str = ""
    guild_id: int | None = None
    channel_id: int | None = None
    user_id: int | None = None
    response_type: int | None = None
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)

    @property
    def type(self) -> int:
        return int(self.payload["type"])


@dataclass
class GatewayConnection:
    ws: web.WebSocketResponse
    query: dict[str, str]
    compressor: Any = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    seq: int = 0
    session_id: str | None = None
    identify: JSON | None = None
    intents: int = 0
    resumed: bool = False
    heartbeats: int = 0
    received: list[JSON] = field(default_factory=list)
    """Every frame the client sent."""
    sent: list[JSON] = field(default_factory=list)
    """Every frame the fake sent (before compression)."""
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once READY and every GUILD_CREATE (or RESUMED) were sent."""
    closed: bool = False
    close_code: int | None = None
    """The code the fake closed with (4004, 4014...), else the client's close code."""
    shard: tuple[int, int] | None = None
    """``[shard_id, shard_count]`` from IDENTIFY; None: one shard, every guild."""

    @property
    def identified(self) -> bool:
        return self.ready.is_set() and not self.closed

    def owns(self, guild_id: int | None) -> bool:
        """Whether Discord sends this guild's events here: shard ``(guild_id >> 22) % count``;
        events outside a guild (DMs) go to shard 0."""
        if self.shard is None:
            return True
        shard_id, count = self.shard
        return shard_id == (shard_of(guild_id, count) if guild_id is not None else 0)


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard that receives a guild's events, as Discord computes it."""
    return (guild_id >> 22) % shard_count


@dataclass
class _Fault:
    pattern: re.Pattern[str]
    method: str | None
    remaining: int
    status: int
    body: JSON
    headers: dict[str, str]
    lost: bool = False  # the request takes effect; only its answer is replaced by the failure


class DiscordHTTPError(Exception):
    """Raised inside handlers to answer with a Discord JSON error."""

    def __init__(self, status: int, code: int, message: str, errors: JSON | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: JSON = {"message": message, "code": code}
        if errors is not None:
            self.body["errors"] = errors


def _form_error(path: Sequence[str | int], code: str, message: str) -> DiscordHTTPError:
    errors: JSON = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path):
        errors = {str(key): errors}
    return DiscordHTTPError(400, 50035, "Invalid Form Body", errors)


def _not_found(what: str, code: int) -> DiscordHTTPError:
    return DiscordHTTPError(404, code, f"Unknown {what}")


def validate_message_body(body: Mapping[str, Any], *, require_content: bool) -> None:
    """Discord's checks on a message body (content length, embed limits, emptiness)."""
    content = body.get("content")
    if content is not None and len(str(content)) > MAX_CONTENT:
        raise _form_error(
            ["content"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length."
        )
    embeds = body.get("embeds") or []
    if len(embeds) > MAX_EMBEDS:
        raise _form_error(
            ["embeds"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length."
        )
    total = 0
    limits = {"title": 256, "description": 4096}
    for i, embed in enumerate(embeds):
        for key, limit in limits.items():
            text = str(embed.get(key) or "")
            total += len(text)
            if len(text) > limit:
                raise _form_error(
                    ["embeds", i, key],
                    "BASE_TYPE_MAX_LENGTH",
                    f"Must be {limit} or fewer in length.",
                )
        fields = embed.get("fields") or []
        if len(fields) > 25:
            raise _form_error(
                ["embeds", i, "fields"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
            )
        for j, fld in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                text = str(fld.get(key) or "")
                total += len(text)
                if not text:
                    raise _form_error(
                        ["embeds", i, "fields", j, key],
                        "BASE_TYPE_REQUIRED",
                        "This field is required",
                    )
                if len(text) > limit:
                    raise _form_error(
                        ["embeds", i, "fields", j, key],
                        "BASE_TYPE_MAX_LENGTH",
                        f"Must be {limit} or fewer in length.",
                    )
        for key, sub, limit in (("footer", "text", 2048), ("author", "name", 256)):
            text = str((embed.get(key) or {}).get(sub) or "")
            total += len(text)
            if len(text) > limit:
                raise _form_error(
                    ["embeds", i, key, sub],
                    "BASE_TYPE_MAX_LENGTH",
                    f"Must be {limit} or fewer in length.",
                )
    if total > MAX_EMBED_TOTAL:
        raise _form_error(
            ["embeds"],
            "MAX_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}",
        )
    _validate_components(body.get("components"))
    if require_content and not (
        content
        or embeds
        or body.get("attachments")
        or body.get("components")
        or body.get("sticker_ids")
        or body.get("poll")
    ):
        raise DiscordHTTPError(400, 50006, "Cannot send an empty message")


def _validate_components(rows: Any) -> None:
    """Discord's checks on message components (a subset: action rows, buttons and string
    selects; the limits a bot meets: 5 rows, 5 buttons or 1 select a row, custom_id ≤ 100,
    1-25 options with labels and values of 1-100 characters, distinct values)."""
    if rows is None:
        return
    if not isinstance(rows, list) or len(rows) > 5:
        raise _form_error(["components"], "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    for i, row in enumerate(rows):
        inner = row.get("components") if isinstance(row, dict) else None
        if not isinstance(row, dict) or row.get("type") != 1 or not isinstance(inner, list):
            raise _form_error(["components", i, "type"], "BASE_TYPE_CHOICES", "Must be a row.")
        selects = [c for c in inner if isinstance(c, dict) and c.get("type") == 3]
        if not inner or len(inner) > 5 or (selects and len(inner) > 1):
            raise _form_error(
                ["components", i, "components"],
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        for j, comp in enumerate(inner):
            at: list[str | int] = ["components", i, "components", j]
            kind = comp.get("type") if isinstance(comp, dict) else None
            if kind not in (2, 3):
                raise _form_error([*at, "type"], "BASE_TYPE_CHOICES", "Value must be 2 or 3.")
            custom_id = str(comp.get("custom_id") or "")
            if not custom_id and comp.get("style") != 5:  # link buttons have a url instead
                raise _form_error(
                    [*at, "custom_id"], "BASE_TYPE_REQUIRED", "This field is required"
                )
            if len(custom_id) > 100:
                raise _form_error(
                    [*at, "custom_id"], "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."
                )
            if kind == 2 and len(str(comp.get("label") or "")) > 80:
                raise _form_error(
                    [*at, "label"], "BASE_TYPE_MAX_LENGTH", "Must be 80 or fewer in length."
                )
            if kind == 3:
                _validate_select(comp, at)


def _validate_select(select: JSON, at: list[str | int]) -> None:
    options = select.get("options")
    if not isinstance(options, list) or not 1 <= len(options) <= 25:
        raise _form_error(
            [*at, "options"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 25 in length."
        )
    if len(str(select.get("placeholder") or "")) > 150:
        raise _form_error(
            [*at, "placeholder"], "BASE_TYPE_MAX_LENGTH", "Must be 150 or fewer in length."
        )
    for k, option in enumerate(options):
        for key in ("label", "value"):
            text = str(option.get(key) or "") if isinstance(option, dict) else ""
            if not 1 <= len(text) <= 100:
                raise _form_error(
                    [*at, "options", k, key],
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                )
    values = [o["value"] for o in options]
    if len(set(values)) != len(values):
        raise _form_error(
            [*at, "options"],
            "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED",
            "Option values must be unique",
        )


def _emoji_payload(emoji: str) -> JSON:
    """``"👍"`` → ``{"id": None, "name": "👍"}``; ``"name:123"`` → custom emoji."""
    name, sep, emoji_id = emoji.partition(":")
    if sep and emoji_id.isdigit():
        return {"id": emoji_id, "name": name, "animated": False}
    return {"id": None, "name": emoji}


def _json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    all_headers = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False).encode(),
        headers=all_headers,
    )


_Handler = Callable[["_Call"], Awaitable[web.StreamResponse]]


@dataclass
class _Call:
    request: web.Request
    match: re.Match[str]
    json: Any
    files: list[tuple[str, str, str, bytes]]  # (field name, filename, content type, data)
    record: RecordedRequest

    def group(self, name: str) -> str:
        return self.match.group(name)

    def snowflake(self, name: str) -> int:
        return int(self.match.group(name))

    @property
    def body(self) -> JSON:
        return self.json if isinstance(self.json, dict) else {}


# --------------------------------------------------------------------------- the fake


class FakeDiscord(LocalServer):
    """An aiohttp server on ``127.0.0.1`` that answers like Discord (REST + gateway).

    :param bad_token: every authenticated REST route answers 401 (``login`` raises
        ``discord.LoginFailure``) and IDENTIFY is closed with 4004.
    :param heartbeat_interval: seconds, sent in HELLO (Discord: 41.25).
    :param compress: honour ``compress=zlib-stream`` in the gateway URL (binary frames);
        when False, or for any other compression, frames are plain JSON text.
    :param privileged_intents: the privileged intents the application may use; IDENTIFY
        asking for others is closed with 4014 (discord.py raises PrivilegedIntentsRequired).
    :param echo_events: REST actions send the gateway events Discord would.
    :param guild_names: one guild (same layout) per name.
    :param shard_count: the shard count ``GET /gateway/bot`` recommends. Clients may IDENTIFY
        with any ``shard: [id, count]`` (id < count, else close 4010); each connection gets
        READY and GUILD_CREATE for its own guilds only, and :meth:`dispatch` sends a guild's
        events to the connections of the shard that owns it (``(guild_id >> 22) % count``).
    """

    def __init__(
        self,
        *,
        bad_token: bool = False,
        heartbeat_interval: float = 0.5,
        compress: bool = True,
        privileged_intents: int = PRIVILEGED_INTENTS,
        echo_events: bool = True,
        guild_names: Sequence[str] = ("Redigest Test Guild",),
        shard_count: int = 1,
    ) -> None:
        self.bad_token = bad_token
        self.shard_count = shard_count
        self.held_shards: set[int] = set()
        """Shards whose IDENTIFY or RESUME is never answered (a shard that cannot connect)."""
        self.heartbeat_interval = heartbeat_interval
        self.compress = compress
        self.privileged_intents = int(privileged_intents)
        self.echo_events = echo_events

        self._last_snowflake = 0
        self._increment = itertools.count()

        self.bot = FakeUser(self.snowflake(), "redigest", bot=True, global_name="Redigest")
        self.application_id = self.bot.id
        self.token = self._make_token(self.bot.id)
        self.owner = FakeUser(self.snowflake(), "guild_owner", global_name="Owner")
        self.admin = FakeUser(self.snowflake(), "mod_alice", global_name="Alice (mod)")
        self.plain = FakeUser(self.snowflake(), "bob", global_name="Bob")
        self.users: dict[int, FakeUser] = {
            u.id: u for u in (self.bot, self.owner, self.admin, self.plain)
        }

        self.guilds: list[FakeGuild] = []
        self.channels: dict[int, FakeChannel] = {}
        for name in guild_names:
            self.add_guild(name)

        # recordings
        self.requests: list[RecordedRequest] = []
        self.messages: list[StoredMessage] = []
        self.callbacks: list[InteractionCallback] = []
        self.commands_synced: list[CommandSync] = []
        self.interactions: dict[int, FakeInteraction] = {}
        self.connections: list[GatewayConnection] = []
        self.dispatched: list[tuple[str, JSON]] = []
        self.dropped_events: list[tuple[str, JSON]] = []
        """Events :meth:`dispatch` did not send because the client's intents exclude them."""

        self._commands: dict[tuple[int | None, int, str], JSON] = {}
        self._messages_by_id: dict[int, StoredMessage] = {}
        self._interactions_by_token: dict[str, FakeInteraction] = {}
        self._sessions: dict[str, GatewayConnection] = {}
        self._faults: list[_Fault] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._routes: list[tuple[str, re.Pattern[str], _Handler, bool]] = self._route_table()

    # ------------------------------------------------------------------ lifecycle

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/v{version:\\d+}{tail:.*}", self._handle_rest)
        app.router.add_get("/{tail:.*}", self._handle_gateway)

    async def _stopping(self) -> None:
        """Close every gateway socket (code 1001)."""
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        for conn in self.connections:
            if not conn.ws.closed:
                with contextlib.suppress(Exception):
                    await conn.ws.close(code=1001, message=b"fake Discord shutting down")

    @property
    def api_base(self) -> str:
        """``http://127.0.0.1:PORT/api/v10`` (for ``discord.http.Route.BASE``)."""
        return f"{self.base_url}/api/v{API_VERSION}"

    @property
    def gateway_url(self) -> str:
        """``ws://127.0.0.1:PORT/`` (for ``DiscordWebSocket.DEFAULT_GATEWAY``)."""
        return self.base_url.replace("http://", "ws://", 1) + "/"

    def patch_discord(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point discord.py's REST base and default gateway at this server."""
        import yarl

        http, gateway = _import_discord()
        monkeypatch.setattr(http.Route, "BASE", self.api_base)
        monkeypatch.setattr(gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(self.gateway_url))

    # ------------------------------------------------------------------ state helpers

    def snowflake(self, shard: tuple[int, int] | None = None) -> int:
        """A fresh, strictly increasing snowflake for "now" (with ``shard=(id, count)``: a
        moment soon after, so that a guild with this id belongs to that shard)."""
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        if shard is not None:  # later than every id so far, in the shard's residue
            ms = max(ms, (self._last_snowflake >> 22) + 1)
            ms += (shard[0] - ms) % shard[1]
        value = (ms << 22) | (1 << 17) | (next(self._increment) & 0xFFF)
        value = max(value, self._last_snowflake + 1)
        self._last_snowflake = value
        return value

    @staticmethod
    def _make_token(bot_id: int) -> str:
        head = base64.b64encode(str(bot_id).encode()).decode().rstrip("=")
        return f"{head}.GfAkE0.{secrets.token_urlsafe(27)}"

    def add_guild(self, name: str, *, shard: tuple[int, int] | None = None) -> FakeGuild:
        """A guild with @everyone, Moderator, the bot's managed role, a category,
        ``general`` and ``nsfw-links``; every user is a member. Add guilds before the
        client connects (GUILD_CREATE is sent at IDENTIFY). ``shard=(id, count)``: a guild
        whose events go to that shard."""
        gid = self.snowflake(shard)
        everyone = FakeRole(gid, "@everyone", int(EVERYONE_PERMISSIONS))
        moderator = FakeRole(self.snowflake(), "Moderator", int(MODERATOR_PERMISSIONS), position=2)
        bot_role = FakeRole(
            self.snowflake(),
            self.bot.username,
            int(BOT_ROLE_PERMISSIONS),
            position=1,
            managed=True,
            bot_id=self.bot.id,
        )
        category = FakeChannel(self.snowflake(), gid, "Text Channels", type=GUILD_CATEGORY)
        general = FakeChannel(
            self.snowflake(),
            gid,
            "general",
            position=0,
            parent_id=category.id,
            topic="General chat",
        )
        nsfw = FakeChannel(
            self.snowflake(),
            gid,
            "nsfw-links",
            position=1,
            parent_id=category.id,
            nsfw=True,
            topic="Age-restricted links",
        )
        joined = _iso(dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
        members = [
            FakeMember(self.bot, [bot_role.id], joined),
            FakeMember(self.owner, [], joined),
            FakeMember(self.admin, [moderator.id], joined),
            FakeMember(self.plain, [], joined),
        ]
        guild = FakeGuild(
            gid,
            name,
            self.owner.id,
            [everyone, moderator, bot_role],
            [category, general, nsfw],
            members,
        )
        self.guilds.append(guild)
        for channel in guild.channels:
            self.channels[channel.id] = channel
        return guild

    @property
    def guild(self) -> FakeGuild:
        return self.guilds[0]

    def guild_of(self, channel_id: int) -> FakeGuild | None:
        channel = self.channels.get(channel_id)
        if channel is None:
            return None
        return next((g for g in self.guilds if g.id == channel.guild_id), None)

    def message(self, message_id: int) -> StoredMessage:
        return self._messages_by_id[message_id]

    def messages_in(self, channel_id: int) -> list[StoredMessage]:
        """What the channel's history shows: not deleted, not ephemeral, oldest first."""
        return [
            m
            for m in self.messages
            if m.channel_id == channel_id and not m.deleted and not m.ephemeral
        ]

    @property
    def identify(self) -> JSON | None:
        """The ``d`` of the latest IDENTIFY."""
        for conn in reversed(self.connections):
            if conn.identify is not None:
                return conn.identify
        return None

    # ------------------------------------------------------------------ waiting

    # The waits poll recorded state; a plain ``timeout`` argument reads best in tests.
    async def wait_for(
        self,
        predicate: Callable[[RecordedRequest], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> RecordedRequest:
        """The first recorded REST request (answered or not) matching ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            for request in self.requests:
                if predicate(request):
                    return request
            if time.monotonic() > deadline:
                seen = "\n".join(f"  {r.method} {r.path} -> {r.status}" for r in self.requests)
                raise TimeoutError(f"no matching request within {timeout}s; seen:\n{seen}")
            await asyncio.sleep(0.005)

    async def wait_until(
        self,
        condition: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Poll ``condition`` until it holds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            await asyncio.sleep(0.005)

    async def wait_ready(self, timeout: float = 5.0) -> GatewayConnection:  # noqa: ASYNC109
        """The first connection that was sent READY + GUILD_CREATEs (or RESUMED)."""
        await self.wait_until(lambda: any(c.identified for c in self.connections), timeout)
        return next(c for c in self.connections if c.identified)

    def shard_connections(self) -> dict[int, GatewayConnection]:
        """The identified connection of each shard id (a connection without a shard is 0)."""
        return {(c.shard or (0, 1))[0]: c for c in self.connections if c.identified}

    async def wait_shards(
        self,
        shard_ids: Sequence[int],
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> dict[int, GatewayConnection]:
        """Until every shard in ``shard_ids`` has an identified connection."""
        await self.wait_until(lambda: set(shard_ids) <= set(self.shard_connections()), timeout)
        return {i: c for i, c in self.shard_connections().items() if i in shard_ids}

    async def close_shard(self, shard_id: int, code: int = 1001) -> None:
        """Close the shard's connections from Discord's side (1001: the client resumes)."""
        for conn in self.connections:
            if (conn.shard or (0, 1))[0] == shard_id and not conn.ws.closed:
                await self._close(conn, code, b"fake Discord closed the shard")

    # ------------------------------------------------------------------ faults

    def rate_limit_next(
        self,
        path_regex: str,
        retry_after: float = 0.05,
        global_: bool = False,
        *,
        method: str | None = None,
        count: int = 1,
    ) -> None:
        """Answer the next ``count`` requests whose path matches (``re.search``) with 429.

        Body and headers as Discord sends them; discord.py only trusts a 429 that has a
        ``Via`` header and a JSON body (otherwise it assumes a Cloudflare ban and raises).
        """
        reset = time.time() + retry_after
        headers = {
            "Retry-After": str(max(1, math.ceil(retry_after))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{reset:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Scope": "global" if global_ else "user",
            "Via": "1.1 google",
        }
        if global_:
            headers["X-RateLimit-Global"] = "true"
        body: JSON = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": global_,
        }
        if global_:
            body["code"] = 0
        self._faults.append(_Fault(re.compile(path_regex), method, count, 429, body, headers))

    def fail_next(
        self,
        path_regex: str,
        status: int = 500,
        *,
        code: int = 0,
        message: str | None = None,
        method: str | None = None,
        count: int = 1,
        lost: bool = False,
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` and Discord's
        error body (e.g. ``403, code=50013, message="Missing Permissions"``). Note that
        discord.py retries 500/502/504 after sleeping 1 s, 3 s, ...

        With ``lost=True`` the request is carried out as usual and only its answer is the
        failure (a response lost on the way back: the client cannot know it worked)."""
        body: JSON = {"message": message or f"{status}: fake failure", "code": code}
        self._faults.append(
            _Fault(re.compile(path_regex), method, count, status, body, {"Via": "1.1 google"}, lost)
        )

    # ------------------------------------------------------------------ gateway

    async def dispatch(self, event: str, data: Mapping[str, Any]) -> bool:
        """Send ``{"op": 0, "t": event, "d": data}`` to every identified connection.

        Returns False when the client's intents exclude the event (it is then kept in
        :attr:`dropped_events`). INTERACTION_CREATE payloads are registered, so the
        interaction's callback and follow-ups are accepted even for foreign payloads.
        """
        conns = [c for c in self.connections if c.identified]
        if not conns:
            raise RuntimeError("no identified gateway connection (start the client first)")
        raw_guild = data.get("guild_id") or (data.get("id") if event.startswith("GUILD_") else None)
        guild_id = int(raw_guild) if raw_guild else None
        conns = [c for c in conns if c.owns(guild_id)]
        payload = dict(data)
        if event == "INTERACTION_CREATE":
            self._register_interaction(payload)
        self.dispatched.append((event, payload))
        sent = False
        for conn in conns:
            filtered = self._filter_for_intents(conn, event, payload)
            if filtered is None:
                continue
            conn.seq += 1
            await self._send(conn, {"op": 0, "t": event, "s": conn.seq, "d": filtered})
            sent = True
        if not sent:
            self.dropped_events.append((event, payload))
        return sent

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT: discord.py closes and RESUMEs on ``resume_gateway_url``."""
        for conn in self.connections:
            if conn.identified:
                await self._send(conn, {"op": 7, "d": None, "s": None, "t": None})

    def _filter_for_intents(self, conn: GatewayConnection, event: str, data: JSON) -> JSON | None:
        table = (
            _GUILD_EVENT_INTENTS
            if data.get("guild_id") or event.startswith("GUILD")
            else _DM_EVENT_INTENTS
        )
        needed = table.get(event)
        if needed is not None and not conn.intents & needed:
            return None
        if (
            event in ("MESSAGE_CREATE", "MESSAGE_UPDATE")
            and not conn.intents & Intent.MESSAGE_CONTENT
        ):
            author = (data.get("author") or {}).get("id")
            mentioned = any(
                str(m.get("id")) == str(self.bot.id) for m in data.get("mentions") or []
            )
            is_dm = not data.get("guild_id")
            if author != str(self.bot.id) and not mentioned and not is_dm:
                data = dict(data) | {
                    "content": "",
                    "embeds": [],
                    "attachments": [],
                    "components": [],
                }
                data.pop("poll", None)
        return data

    async def _send(self, conn: GatewayConnection, payload: JSON) -> bool:
        text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        async with conn.lock:
            if conn.ws.closed:
                return False
            try:
                if conn.compressor is not None:
                    frame = conn.compressor.compress(text.encode()) + conn.compressor.flush(
                        zlib.Z_SYNC_FLUSH
                    )
                    await conn.ws.send_bytes(frame)
                else:
                    await conn.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return False
        conn.sent.append(payload)
        return True

    async def _handle_gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        if not ws.can_prepare(request).ok:
            return _json_response({"message": "404: Not Found", "code": 0}, 404)
        await ws.prepare(request)
        query = dict(request.query)
        conn = GatewayConnection(ws=ws, query=query)
        if self.compress and query.get("compress") == "zlib-stream":
            conn.compressor = zlib.compressobj()
        self.connections.append(conn)
        await self._send(
            conn,
            {
                "t": None,
                "s": None,
                "op": 10,
                "d": {
                    "heartbeat_interval": int(self.heartbeat_interval * 1000),
                    "_trace": ['["gateway-fake-127-0-0-1",{"micros":0.0}]'],
                },
            },
        )
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    frame = json.loads(msg.data)
                    conn.received.append(frame)
                    await self._on_gateway_frame(conn, frame)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            conn.closed = True
            if conn.close_code is None:
                conn.close_code = ws.close_code
        return ws

    async def _on_gateway_frame(self, conn: GatewayConnection, frame: JSON) -> None:
        op = frame.get("op")
        data = frame.get("d")
        if op == 1:
            conn.heartbeats += 1
            await self._send(conn, {"t": None, "s": None, "op": 11, "d": None})
        elif op == 2:
            await self._on_identify(conn, data or {})
        elif op == 6:
            await self._on_resume(conn, data or {})
        elif op == 8:
            await self._on_request_members(conn, data or {})

    async def _on_identify(self, conn: GatewayConnection, data: JSON) -> None:
        if self.bad_token or data.get("token") != self.token:
            await self._close(conn, 4004, b"Authentication failed.")
            return
        if "intents" not in data:
            await self._close(conn, 4013, b"Invalid intent(s).")
            return
        shard = data.get("shard")
        if shard is not None:
            valid = (
                isinstance(shard, list)
                and len(shard) == 2
                and all(isinstance(n, int) for n in shard)
                and 0 <= shard[0] < shard[1]
            )
            if not valid:
                await self._close(conn, 4010, b"Invalid shard.")
                return
            conn.shard = (shard[0], shard[1])
        if conn.shard is not None and conn.shard[0] in self.held_shards:
            return  # never READY: the shard cannot connect
        intents = int(data["intents"])
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await self._close(conn, 4014, b"Disallowed intent(s).")
            return
        conn.identify = data
        conn.intents = intents
        conn.session_id = secrets.token_hex(16)
        self._sessions[conn.session_id] = conn
        ready: JSON = {
            "v": API_VERSION,
            "user_settings": {},
            "user": self.bot.payload()
            | {"verified": True, "mfa_enabled": False, "email": None, "flags": 0},
            "session_type": "normal",
            "session_id": conn.session_id,
            "resume_gateway_url": self.gateway_url,
            "relationships": [],
            "private_channels": [],
            "presences": [],
            "guilds": [
                {"id": str(g.id), "unavailable": True} for g in self.guilds if conn.owns(g.id)
            ],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["rotterdam", "frankfurt"],
            "application": {"id": str(self.application_id), "flags": 0},
            "_trace": ['["gateway-fake-127-0-0-1",{"micros":0}]'],
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        conn.seq += 1
        await self._send(conn, {"t": "READY", "s": conn.seq, "op": 0, "d": ready})
        if intents & Intent.GUILDS:
            for guild in (g for g in self.guilds if conn.owns(g.id)):
                conn.seq += 1
                await self._send(
                    conn,
                    {
                        "t": "GUILD_CREATE",
                        "s": conn.seq,
                        "op": 0,
                        "d": self.guild_create(guild, intents),
                    },
                )
        conn.ready.set()

    @staticmethod
    async def _close(conn: GatewayConnection, code: int, message: bytes) -> None:
        conn.close_code = code
        await conn.ws.close(code=code, message=message)

    async def _on_resume(self, conn: GatewayConnection, data: JSON) -> None:
        old = self._sessions.get(str(data.get("session_id")))
        if old is None or self.bad_token or data.get("token") != self.token:
            await self._send(conn, {"t": None, "s": None, "op": 9, "d": False})
            return
        conn.identify = old.identify
        conn.intents = old.intents
        conn.shard = old.shard
        if conn.shard is not None and conn.shard[0] in self.held_shards:
            return  # never RESUMED: the shard cannot connect
        conn.session_id = old.session_id
        conn.seq = max(old.seq, int(data.get("seq") or 0))
        conn.resumed = True
        self._sessions[str(conn.session_id)] = conn
        conn.seq += 1
        await self._send(conn, {"t": "RESUMED", "s": conn.seq, "op": 0, "d": {"_trace": []}})
        conn.ready.set()

    async def _on_request_members(self, conn: GatewayConnection, data: JSON) -> None:
        guild = next((g for g in self.guilds if str(g.id) == str(data.get("guild_id"))), None)
        if guild is None:
            return
        members = list(guild.members)
        user_ids = {str(u) for u in data.get("user_ids") or []}
        if user_ids:
            members = [m for m in members if str(m.user.id) in user_ids]
        query = str(data.get("query") or "").lower()
        if query:
            members = [m for m in members if m.user.username.lower().startswith(query)]
        limit = int(data.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk: JSON = {
            "guild_id": str(guild.id),
            "members": [m.payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("presences"):
            chunk["presences"] = []
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        conn.seq += 1
        await self._send(conn, {"t": "GUILD_MEMBERS_CHUNK", "s": conn.seq, "op": 0, "d": chunk})

    def guild_create(self, guild: FakeGuild, intents: int = int(Intent.GUILDS)) -> JSON:
        """The ``d`` of GUILD_CREATE. As on Discord, ``members`` holds only the bot unless
        the client has the GUILD_PRESENCES intent (otherwise discord.py chunks)."""
        members = (
            guild.members
            if intents & Intent.GUILD_PRESENCES
            else [m for m in guild.members if m.user.id == self.bot.id]
        )
        return guild.payload() | {
            "joined_at": _iso(dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
            "large": False,
            "lazy": True,
            "unavailable": False,
            "member_count": len(guild.members),
            "members": [m.payload() for m in members],
            "channels": [c.payload(with_guild_id=False) for c in guild.channels if not c.is_thread],
            "threads": [
                c.payload(with_guild_id=False)
                for c in guild.channels
                if c.is_thread and guild.channel_permissions(self.bot.id, c)
            ],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "embedded_activities": [],
            "activity_instances": [],
            "application_command_counts": {},
        }

    def _echo(self, event: str, data: JSON) -> None:
        if not self.echo_events or not any(c.identified for c in self.connections):
            return
        task = asyncio.get_running_loop().create_task(self.dispatch(event, data))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------ payload builders

    def _resolve_user(self, user: FakeUser | int | None, default: FakeUser) -> FakeUser:
        if user is None:
            return default
        if isinstance(user, FakeUser):
            return user
        return self.users[user]

    def _resolve_channel(self, channel: FakeChannel | int | None, guild: FakeGuild) -> FakeChannel:
        if channel is None:
            return guild.text_channel
        if isinstance(channel, FakeChannel):
            return channel
        return self.channels[channel]

    def _resolve_guild(
        self, guild: FakeGuild | int | None, channel: FakeChannel | int | None
    ) -> FakeGuild:
        if isinstance(guild, FakeGuild):
            return guild
        if guild is not None:
            return next(g for g in self.guilds if g.id == guild)
        if channel is not None:
            found = self.guild_of(channel.id if isinstance(channel, FakeChannel) else channel)
            if found is not None:
                return found
        return self.guild

    def _command_definition(self, name: str, guild_id: int, type_: int) -> JSON | None:
        return self._commands.get((guild_id, type_, name)) or self._commands.get(
            (None, type_, name)
        )

    def member_payload(self, guild: FakeGuild, user: FakeUser, *, with_user: bool = True) -> JSON:
        member = guild.member(user.id) or FakeMember(user, [], _iso())
        return member.payload(with_user=with_user, permissions=guild.permissions_for(user.id))

    def _base_interaction(
        self,
        type_: int,
        data: JSON,
        user: FakeUser,
        channel: FakeChannel,
        guild: FakeGuild,
        name: str,
        locale: str,
    ) -> FakeInteraction:
        iid = self.snowflake()
        token = (
            base64.urlsafe_b64encode(f"interaction:{iid}:{secrets.token_urlsafe(48)}".encode())
            .decode()
            .rstrip("=")
        )
        perms = guild.permissions_for(user.id)
        payload: JSON = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": type_,
            "data": data,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": guild.locale, "features": []},
            "guild_locale": guild.locale,
            "channel_id": str(channel.id),
            "channel": channel.payload() | {"permissions": str(perms)},
            "member": self.member_payload(guild, user),
            "token": token,
            "version": 1,
            "app_permissions": str(guild.permissions_for(self.bot.id)),
            "locale": locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        interaction = FakeInteraction(iid, token, payload, name, guild.id, channel.id, user.id)
        self.interactions[iid] = interaction
        self._interactions_by_token[token] = interaction
        return interaction

    def _register_interaction(self, payload: JSON) -> FakeInteraction:
        iid = int(payload["id"])
        known = self.interactions.get(iid)
        if known is not None:
            return known
        user = (payload.get("member") or {}).get("user") or payload.get("user") or {}
        interaction = FakeInteraction(
            iid,
            str(payload["token"]),
            payload,
            str((payload.get("data") or {}).get("name", "")),
            int(payload["guild_id"]) if payload.get("guild_id") else None,
            int(payload["channel_id"]) if payload.get("channel_id") else None,
            int(user["id"]) if user.get("id") else None,
        )
        self.interactions[iid] = interaction
        self._interactions_by_token[interaction.token] = interaction
        return interaction

    def _options(
        self,
        options: Mapping[str, Any] | Sequence[JSON] | None,
        definition: JSON | None,
        guild: FakeGuild,
        resolved: JSON,
    ) -> list[JSON]:
        if options is None:
            return []
        if not isinstance(options, Mapping):
            return [dict(o) for o in options]
        declared = {o["name"]: int(o["type"]) for o in (definition or {}).get("options", [])}
        result: list[JSON] = []
        for name, value in options.items():
            type_ = declared.get(name)
            if isinstance(value, FakeUser):
                type_ = type_ or 6
                resolved.setdefault("users", {})[str(value.id)] = value.payload()
                if guild.member(value.id) is not None:
                    resolved.setdefault("members", {})[str(value.id)] = self.member_payload(
                        guild, value, with_user=False
                    )
                value = str(value.id)
            elif isinstance(value, FakeChannel):
                type_ = type_ or 7
                resolved.setdefault("channels", {})[str(value.id)] = value.payload() | {
                    "permissions": str(ALL_PERMISSIONS)
                }
                value = str(value.id)
            elif isinstance(value, FakeRole):
                type_ = type_ or 8
                resolved.setdefault("roles", {})[str(value.id)] = value.payload()
                value = str(value.id)
            elif type_ is None:
                if isinstance(value, bool):
                    type_ = 5
                elif isinstance(value, int):
                    type_ = 4
                elif isinstance(value, float):
                    type_ = 10
                else:
                    type_ = 3
            result.append({"name": name, "type": type_, "value": value})
        return result

    def _command_data(self, name: str, type_: int, guild: FakeGuild) -> tuple[JSON, JSON | None]:
        definition = self._command_definition(name, guild.id, type_)
        cid = int(definition["id"]) if definition else self.snowflake()
        data: JSON = {"id": str(cid), "name": name, "type": type_}
        if definition and definition.get("guild_id"):
            data["guild_id"] = definition["guild_id"]
        return data, definition

    def slash_command(
        self,
        name: str,
        options: Mapping[str, Any] | Sequence[JSON] | None = None,
        *,
        user: FakeUser | int | None = None,
        channel: FakeChannel | int | None = None,
        guild: FakeGuild | int | None = None,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """An INTERACTION_CREATE ``d`` for a chat-input command (type 2, data.type 1).

        ``options`` is either Discord's option list or ``{name: value}``; option types come
        from the synced command when known (else from the Python type; FakeUser /
        FakeChannel / FakeRole values are added to ``resolved``). Defaults: ``fake.plain``
        in the guild's ``general``. Dispatch it with
        ``await fake.dispatch("INTERACTION_CREATE", interaction.payload)``.
        """
        g = self._resolve_guild(guild, channel)
        ch = self._resolve_channel(channel, g)
        u = self._resolve_user(user, self.plain)
        data, definition = self._command_data(name, 1, g)
        resolved: JSON = {}
        opts = self._options(options, definition, g, resolved)
        if opts:
            data["options"] = opts
        if resolved:
            data["resolved"] = resolved
        return self._base_interaction(2, data, u, ch, g, name, locale)

    def autocomplete(
        self,
        name: str,
        options: Mapping[str, Any] | Sequence[JSON],
        *,
        focused: str | None = None,
        user: FakeUser | int | None = None,
        channel: FakeChannel | int | None = None,
        guild: FakeGuild | int | None = None,
    ) -> FakeInteraction:
        """An APPLICATION_COMMAND_AUTOCOMPLETE interaction (type 4). ``focused`` names the
        option being typed (default: the last one); values are what was typed so far."""
        interaction = self.slash_command(name, options, user=user, channel=channel, guild=guild)
        interaction.payload["type"] = 4
        opts = interaction.payload["data"].get("options", [])
        target = focused or (opts[-1]["name"] if opts else None)
        for opt in opts:
            if opt["name"] == target:
                opt["focused"] = True
                opt["type"] = 3 if opt.get("type") in (6, 7, 8, 9) else opt["type"]
                opt["value"] = str(opt["value"])
        return interaction

    def message_command(
        self,
        name: str,
        target_message: StoredMessage | Mapping[str, Any] | int,
        *,
        user: FakeUser | int | None = None,
        guild: FakeGuild | int | None = None,
    ) -> FakeInteraction:
        """A message context-menu interaction (type 2, data.type 3, resolved.messages)."""
        if isinstance(target_message, int):
            target_message = self.message(target_message)
        if isinstance(target_message, StoredMessage):
            message = self.message_payload(target_message)
        else:
            message = dict(target_message)
        channel_id = int(message["channel_id"])
        g = self._resolve_guild(guild, channel_id if channel_id in self.channels else None)
        ch = self.channels.get(channel_id) or g.text_channel
        u = self._resolve_user(user, self.plain)
        data, _ = self._command_data(name, 3, g)
        data["target_id"] = str(message["id"])
        data["resolved"] = {"messages": {str(message["id"]): message}}
        return self._base_interaction(2, data, u, ch, g, name, "en-US")

    def user_command(
        self,
        name: str,
        target_user: FakeUser | int,
        *,
        user: FakeUser | int | None = None,
        channel: FakeChannel | int | None = None,
        guild: FakeGuild | int | None = None,
    ) -> FakeInteraction:
        """A user context-menu interaction (type 2, data.type 2, resolved users/members)."""
        g = self._resolve_guild(guild, channel)
        ch = self._resolve_channel(channel, g)
        target = self._resolve_user(target_user, self.plain)
        data, _ = self._command_data(name, 2, g)
        data["target_id"] = str(target.id)
        data["resolved"] = {
            "users": {str(target.id): target.payload()},
            "members": {str(target.id): self.member_payload(g, target, with_user=False)},
        }
        u = self._resolve_user(user, self.plain)
        return self._base_interaction(2, data, u, ch, g, name, "en-US")

    def component(
        self,
        custom_id: str,
        message: StoredMessage | int,
        *,
        component_type: int = 2,
        values: Sequence[str] | None = None,
        user: FakeUser | int | None = None,
    ) -> FakeInteraction:
        """A MESSAGE_COMPONENT interaction (type 3): a button (2) or select (3, ``values``)."""
        stored = self.message(message) if isinstance(message, int) else message
        g = self._resolve_guild(None, stored.channel_id)
        ch = self.channels.get(stored.channel_id) or g.text_channel
        data: JSON = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        u = self._resolve_user(user, self.plain)
        interaction = self._base_interaction(3, data, u, ch, g, custom_id, "en-US")
        interaction.payload["message"] = self.message_payload(stored)
        return interaction

    def reaction_add(
        self,
        channel_id: int,
        message_id: int,
        user_id: int,
        emoji: str = "👍",
    ) -> JSON:
        """MESSAGE_REACTION_ADD ``d`` (guild_id, member, emoji ``{name, id: null}``, or a
        custom emoji for ``"name:id"``). Also recorded on the stored message, if any."""
        guild = self.guild_of(channel_id) or self.guild
        user = self.users[user_id]
        stored = self._messages_by_id.get(message_id)
        if stored is not None:
            stored.reactions.append((emoji, user_id))
        data: JSON = {
            "type": 0,
            "user_id": str(user_id),
            "channel_id": str(channel_id),
            "message_id": str(message_id),
            "guild_id": str(guild.id),
            "member": self.member_payload(guild, user),
            "emoji": _emoji_payload(emoji),
            "burst": False,
            "burst_colors": [],
        }
        if stored is not None:
            data["message_author_id"] = str(stored.author.id)
        return data

    def reaction_remove(
        self, channel_id: int, message_id: int, user_id: int, emoji: str = "👍"
    ) -> JSON:
        """MESSAGE_REACTION_REMOVE ``d`` (no member, as on Discord)."""
        guild = self.guild_of(channel_id) or self.guild
        stored = self._messages_by_id.get(message_id)
        if stored is not None and (emoji, user_id) in stored.reactions:
            stored.reactions.remove((emoji, user_id))
        return {
            "type": 0,
            "user_id": str(user_id),
            "channel_id": str(channel_id),
            "message_id": str(message_id),
            "guild_id": str(guild.id),
            "emoji": _emoji_payload(emoji),
            "burst": False,
        }

    def message_create(
        self,
        channel: FakeChannel | int,
        content: str,
        *,
        author: FakeUser | int | None = None,
        embeds: Sequence[JSON] = (),
    ) -> JSON:
        """Store a message written by a user and return its MESSAGE_CREATE ``d``
        (with guild_id and member, as the gateway sends it)."""
        ch = channel if isinstance(channel, FakeChannel) else self.channels[channel]
        user = self._resolve_user(author, self.plain)
        stored = self._store_message(
            ch,
            user,
            {"content": content, "embeds": list(embeds)},
            source="user",
        )
        return self.message_payload(stored, gateway=True)

    # ------------------------------------------------------------------ chat threads

    def add_user(
        self,
        username: str,
        *,
        global_name: str | None = None,
        nick: str | None = None,
        bot: bool = False,
        guild: FakeGuild | None = None,
    ) -> FakeUser:
        """A user who is a member of `guild` (default: the first), with no role."""
        user = FakeUser(self.snowflake(), username, bot=bot, global_name=global_name)
        self.users[user.id] = user
        (guild or self.guild).members.append(
            FakeMember(user, [], _iso(dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)), nick)
        )
        return user

    def add_channel(
        self,
        name: str,
        *,
        guild: FakeGuild | None = None,
        everyone_can_view: bool = True,
        bot_can_view: bool = True,
        bot_can_read_history: bool = True,
        viewers: Sequence[FakeUser] = (),
    ) -> FakeChannel:
        """A text channel. `everyone_can_view=False`: a private channel (the @everyone
        overwrite denies VIEW_CHANNEL; the bot's role is allowed in, unless `bot_can_view`
        is False, and so are `viewers`, by member overwrites); `bot_can_read_history=False`
        denies the bot READ_MESSAGE_HISTORY. Add it before the client connects for its
        GUILD_CREATE to carry it."""
        g = guild or self.guild
        view, history = int(Permission.VIEW_CHANNEL), int(Permission.READ_MESSAGE_HISTORY)
        bot_role = next(r for r in g.roles if r.bot_id == self.bot.id)
        overwrites: list[JSON] = []
        if not everyone_can_view:
            overwrites.append({"id": str(g.id), "type": 0, "allow": "0", "deny": str(view)})
        bot_allow = view if (bot_can_view and not everyone_can_view) else 0
        bot_deny = (0 if bot_can_view else view) | (0 if bot_can_read_history else history)
        if bot_allow or bot_deny:
            overwrites.append(
                {"id": str(bot_role.id), "type": 0, "allow": str(bot_allow), "deny": str(bot_deny)}
            )
        overwrites += [
            {"id": str(u.id), "type": 1, "allow": str(view), "deny": "0"} for u in viewers
        ]
        category = next((c for c in g.channels if c.type == GUILD_CATEGORY), None)
        channel = FakeChannel(
            self.snowflake(),
            g.id,
            name,
            position=len(g.channels),
            parent_id=category.id if category else None,
            permission_overwrites=overwrites,
        )
        g.channels.append(channel)
        self.channels[channel.id] = channel
        return channel

    def add_thread(
        self,
        parent: FakeChannel,
        name: str,
        *,
        starter: StoredMessage | None = None,
        private: bool = False,
        owner: FakeUser | None = None,
        members: Sequence[FakeUser] = (),
    ) -> FakeChannel:
        """A thread in `parent`, as a person opens it: on `starter` (a public thread with the
        message's id; the message gets ``thread`` and the HAS_THREAD flag), or on its own
        (``private``: type 12, seen by its `members` only, the bot included only if listed)."""
        type_ = PRIVATE_THREAD if private else PUBLIC_THREAD
        tid = starter.id if starter is not None else self.snowflake()
        thread = self._new_thread(parent, tid, {"name": name}, type_)
        thread.owner_id = (owner or self.plain).id
        thread.member_ids = {(owner or self.plain).id, *(m.id for m in members)}
        if starter is not None:
            starter.thread_id = thread.id
            starter.flags |= FLAG_HAS_THREAD
        return thread

    def user_message(
        self,
        channel: FakeChannel | int,
        content: str,
        *,
        author: FakeUser | int | None = None,
        reply_to: StoredMessage | int | None = None,
        reactions: Mapping[str, int] | None = None,
        embeds: Sequence[JSON] = (),
        webhook: bool = False,
    ) -> StoredMessage:
        """Store a message someone wrote (no gateway event: it was there before the bot
        looked). `reply_to`: a Discord reply (type 19, ``message_reference``); `reactions`:
        ``{emoji: count}``; `webhook`: sent by a webhook (its author is the webhook, a bot)."""
        ch = channel if isinstance(channel, FakeChannel) else self.channels[channel]
        user = self._resolve_user(author, self.plain)
        body: JSON = {"content": content, "embeds": list(embeds)}
        if reply_to is not None:
            target = reply_to if isinstance(reply_to, StoredMessage) else self.message(reply_to)
            body["message_reference"] = {
                "type": 0,
                "message_id": str(target.id),
                "channel_id": str(target.channel_id),
                "guild_id": str(ch.guild_id),
            }
        if webhook:  # its author is the webhook itself, flagged as a bot
            user = FakeUser(self.snowflake(), user.username, bot=True)
        msg = self._store_message(ch, user, body, source="user")
        for emoji, count in (reactions or {}).items():
            msg.reactions += [(emoji, self.snowflake()) for _ in range(count)]
        if webhook:
            msg.webhook_id = user.id
        return msg

    # ------------------------------------------------------------------ messages

    def _store_message(
        self,
        channel: FakeChannel | None,
        author: FakeUser,
        body: JSON,
        *,
        source: Literal["channel", "original", "followup", "user"],
        channel_id: int | None = None,
        guild_id: int | None = None,
        files: Sequence[tuple[str, str, str, bytes]] = (),
        interaction: FakeInteraction | None = None,
        extra_flags: int = 0,
    ) -> StoredMessage:
        cid = channel.id if channel is not None else int(channel_id or 0)
        gid = channel.guild_id if channel is not None else guild_id
        mid = self.snowflake()
        content = str(body.get("content") or "")
        msg = StoredMessage(
            id=mid,
            channel_id=cid,
            guild_id=gid,
            author=author,
            content=content,
            embeds=[dict(e) for e in body.get("embeds") or []],
            allowed_mentions=body.get("allowed_mentions"),
            flags=int(body.get("flags") or 0) | extra_flags,
            components=list(body.get("components") or []),
            message_reference=body.get("message_reference"),
            tts=bool(body.get("tts")),
            nonce=body.get("nonce"),
            source=source,
            interaction_id=interaction.id if interaction else None,
            webhook_id=self.application_id if interaction else None,
            mention_ids=[int(m) for m in re.findall(r"<@!?(\d+)>", content)],
        )
        descriptions = [a.get("description") for a in body.get("attachments") or []]
        for i, (_name, filename, content_type, data) in enumerate(files):
            msg.attachments.append(self._attachment(cid, filename, content_type, data))
            msg.attachments[-1]["description"] = descriptions[i] if i < len(descriptions) else None
            msg.files[filename] = data
        if interaction is not None:
            command_type = int((interaction.payload.get("data") or {}).get("type", 1))
            msg.type = 20 if command_type == 1 else 23
        elif msg.message_reference:
            msg.type = 19
        if channel is not None:
            channel.last_message_id = mid
            if channel.is_thread:
                msg.thread_parent_id = channel.parent_id
                channel.message_count += 1
        self.messages.append(msg)
        self._messages_by_id[mid] = msg
        return msg

    def _attachment(self, channel_id: int, filename: str, content_type: str, data: bytes) -> JSON:
        aid = self.snowflake()
        url = f"{self.base_url}/attachments/{channel_id}/{aid}/{filename}"
        return {
            "id": str(aid),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }

    def message_payload(
        self, msg: StoredMessage, *, gateway: bool = False, referenced: bool = True
    ) -> JSON:
        """The message object as Discord returns it (REST), or as MESSAGE_CREATE ``d``
        (``gateway=True``: adds guild_id and member). A reply carries the message it answers
        (``referenced_message``), one level deep as on Discord: not that one's own."""
        data: JSON = {
            "type": msg.type,
            "tts": msg.tts,
            "timestamp": msg.timestamp,
            "pinned": False,
            "mentions": [self.users[u].payload() for u in msg.mention_ids if u in self.users],
            "mention_roles": [],
            "mention_everyone": False,
            "id": str(msg.id),
            "flags": msg.flags,
            "embeds": [{"type": "rich"} | e for e in msg.embeds],
            "edited_timestamp": msg.edited_timestamp,
            "content": msg.content,
            "components": msg.components,
            "channel_id": str(msg.channel_id),
            "author": msg.author.payload(),
            "attachments": msg.attachments,
        }
        if msg.nonce is not None:
            data["nonce"] = msg.nonce
        counts: dict[str, list[int]] = {}
        for emoji, user_id in msg.reactions:
            counts.setdefault(emoji, []).append(user_id)
        if counts:
            data["reactions"] = [
                {
                    "emoji": _emoji_payload(emoji),
                    "count": len(users),
                    "count_details": {"burst": 0, "normal": len(users)},
                    "me": self.bot.id in users,
                    "me_burst": False,
                    "burst_colors": [],
                }
                for emoji, users in counts.items()
            ]
        if msg.webhook_id is not None:
            data["webhook_id"] = str(msg.webhook_id)
            if msg.interaction_id is not None:
                data["application_id"] = str(self.application_id)
        if msg.interaction_id is not None:
            interaction = self.interactions.get(msg.interaction_id)
            if interaction is not None:
                user = self.users.get(interaction.user_id or 0, self.plain)
                data["interaction_metadata"] = {
                    "id": str(interaction.id),
                    "type": interaction.type,
                    "user": user.payload(),
                    "authorizing_integration_owners": {"0": str(interaction.guild_id)},
                    "name": interaction.name,
                    "command_type": int((interaction.payload.get("data") or {}).get("type", 1)),
                }
                data["interaction"] = {
                    "id": str(interaction.id),
                    "type": interaction.type,
                    "name": interaction.name,
                    "user": user.payload(),
                }
        if msg.message_reference:
            ref = dict(msg.message_reference)
            ref.setdefault("channel_id", str(msg.channel_id))
            data["message_reference"] = ref
            target = self._messages_by_id.get(int(ref.get("message_id") or 0))
            if referenced:
                data["referenced_message"] = (
                    self.message_payload(target, referenced=False) if target else None
                )
        if msg.thread_id is not None and msg.thread_id in self.channels:
            data["thread"] = self.channels[msg.thread_id].payload()
        if gateway and msg.guild_id is not None:
            data["guild_id"] = str(msg.guild_id)
            guild = next((g for g in self.guilds if g.id == msg.guild_id), None)
            member = guild.member(msg.author.id) if guild else None
            if member is not None:
                data["member"] = member.payload(with_user=False)
        return data

    def _edit_message(
        self, msg: StoredMessage, body: JSON, files: Sequence[tuple[str, str, str, bytes]] = ()
    ) -> None:
        validate_message_body(body, require_content=False)
        msg.edits.append(body)
        if "content" in body:
            msg.content = str(body["content"] or "")
            msg.mention_ids = [int(m) for m in re.findall(r"<@!?(\d+)>", msg.content)]
        if "embeds" in body:
            msg.embeds = [dict(e) for e in body["embeds"] or []]
        if "allowed_mentions" in body:
            msg.allowed_mentions = body["allowed_mentions"]
        if "components" in body:
            msg.components = list(body["components"] or [])
        if "flags" in body and body["flags"] is not None:
            keep = msg.flags & (FLAG_EPHEMERAL | FLAG_HAS_THREAD)
            msg.flags = int(body["flags"]) | keep
        if "attachments" in body:
            kept_ids = {str(a.get("id")) for a in body["attachments"] or []}
            msg.attachments = [a for a in msg.attachments if a["id"] in kept_ids]
        for _name, filename, content_type, data in files:
            msg.attachments.append(self._attachment(msg.channel_id, filename, content_type, data))
            msg.files[filename] = data
        msg.flags &= ~FLAG_LOADING
        msg.edited_timestamp = _iso()
        if not msg.ephemeral:
            self._echo("MESSAGE_UPDATE", self.message_payload(msg, gateway=True))

    # ------------------------------------------------------------------ REST plumbing

    def _route_table(self) -> list[tuple[str, re.Pattern[str], _Handler, bool]]:
        snow = r"(?P<{}>\d+)"
        c, m, a, g = snow.format("cid"), snow.format("mid"), snow.format("app"), snow.format("gid")
        tok = r"(?P<token>[^/]+)"
        routes: list[tuple[str, str, _Handler, bool]] = [
            ("GET", r"/users/@me", self._get_me, True),
            ("GET", r"/users/" + snow.format("uid"), self._get_user, True),
            ("GET", r"/oauth2/applications/@me", self._get_application, True),
            ("GET", r"/applications/@me", self._get_application, True),
            ("GET", r"/gateway", self._get_gateway, False),
            ("GET", r"/gateway/bot", self._get_gateway_bot, True),
            ("PUT", rf"/applications/{a}/commands", self._put_commands, True),
            ("GET", rf"/applications/{a}/commands", self._get_commands, True),
            ("POST", rf"/applications/{a}/commands", self._post_command, True),
            ("PUT", rf"/applications/{a}/guilds/{g}/commands", self._put_commands, True),
            ("GET", rf"/applications/{a}/guilds/{g}/commands", self._get_commands, True),
            ("POST", rf"/applications/{a}/guilds/{g}/commands", self._post_command, True),
            ("POST", rf"/interactions/(?P<iid>\d+)/{tok}/callback", self._post_callback, False),
            ("GET", rf"/webhooks/{a}/{tok}/messages/@original", self._get_original, False),
            ("PATCH", rf"/webhooks/{a}/{tok}/messages/@original", self._patch_original, False),
            ("DELETE", rf"/webhooks/{a}/{tok}/messages/@original", self._delete_original, False),
            ("POST", rf"/webhooks/{a}/{tok}", self._post_followup, False),
            ("GET", rf"/webhooks/{a}/{tok}/messages/{m}", self._get_webhook_message, False),
            ("PATCH", rf"/webhooks/{a}/{tok}/messages/{m}", self._patch_webhook_message, False),
            ("DELETE", rf"/webhooks/{a}/{tok}/messages/{m}", self._delete_webhook_message, False),
            ("GET", rf"/channels/{c}", self._get_channel, True),
            ("GET", rf"/channels/{c}/messages", self._get_messages, True),
            ("POST", rf"/channels/{c}/messages", self._post_message, True),
            ("GET", rf"/channels/{c}/messages/{m}", self._get_message, True),
            ("PATCH", rf"/channels/{c}/messages/{m}", self._patch_message, True),
            ("DELETE", rf"/channels/{c}/messages/{m}", self._delete_message, True),
            ("POST", rf"/channels/{c}/messages/{m}/threads", self._post_message_thread, True),
            ("POST", rf"/channels/{c}/threads", self._post_thread, True),
            (
                "GET",
                rf"/channels/{c}/thread-members/" + snow.format("uid"),
                self._get_thread_member,
                True,
            ),
            (
                "PUT",
                rf"/channels/{c}/messages/{m}/reactions/(?P<emoji>[^/]+)/@me",
                self._put_reaction,
                True,
            ),
            (
                "DELETE",
                rf"/channels/{c}/messages/{m}/reactions/(?P<emoji>[^/]+)/(?P<who>@me|\d+)",
                self._delete_reaction,
                True,
            ),
            ("POST", rf"/channels/{c}/typing", self._post_typing, True),
            ("GET", rf"/guilds/{g}", self._get_guild, True),
            ("GET", rf"/guilds/{g}/channels", self._get_guild_channels, True),
            ("GET", rf"/guilds/{g}/members/" + snow.format("uid"), self._get_member, True),
        ]
        return [
            (method, re.compile(pattern + r"/?"), handler, auth)
            for method, pattern, handler, auth in routes
        ]

    @staticmethod
    def _ratelimit_headers(method: str, path: str) -> dict[str, str]:
        template = re.sub(r"\d{5,}", "{id}", path)
        template = re.sub(r"(/(?:webhooks|interactions)/\{id\}/)[^/]+", r"\1{token}", template)
        bucket = hashlib.sha1(f"{method} {template}".encode()).hexdigest()[:32]
        return {
            "X-RateLimit-Bucket": bucket,
            "X-RateLimit-Limit": "50",
            "X-RateLimit-Remaining": "49",
            "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
            "X-RateLimit-Reset-After": "1.000",
            "Via": "1.1 google",
        }

    async def _read_body(
        self, request: web.Request
    ) -> tuple[Any, list[tuple[str, str, str, bytes]]]:
        files: list[tuple[str, str, str, bytes]] = []
        if request.content_type.startswith("multipart/"):
            payload: Any = None
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json":
                    payload = json.loads(await part.text())
                else:
                    data = bytes(await part.read())
                    files.append(
                        (
                            str(part.name),
                            part.filename or "file",
                            part.headers.get("Content-Type", "application/octet-stream"),
                            data,
                        )
                    )
            return payload, files
        raw = await request.read()
        if not raw:
            return None, files
        try:
            return json.loads(raw), files
        except ValueError:
            return raw.decode(errors="replace"), files

    async def _handle_rest(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["tail"] or "/"
        body, files = await self._read_body(request)
        record = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            json=body,
            headers=dict(request.headers),
            received_at=time.monotonic(),
        )
        self.requests.append(record)
        response = await self._answer(request, path, body, files, record)
        record.status = response.status
        return response

    async def _answer(
        self,
        request: web.Request,
        path: str,
        body: Any,
        files: list[tuple[str, str, str, bytes]],
        record: RecordedRequest,
    ) -> web.StreamResponse:
        lost: web.StreamResponse | None = None
        for fault in self._faults:
            if (
                fault.remaining > 0
                and (fault.method in (None, request.method))
                and fault.pattern.search(path)
            ):
                fault.remaining -= 1
                headers = dict(fault.headers)
                if fault.status == 429 and fault.body.get("global") is not True:
                    headers["X-RateLimit-Bucket"] = self._ratelimit_headers(request.method, path)[
                        "X-RateLimit-Bucket"
                    ]
                failure = _json_response(fault.body, fault.status, headers)
                if not fault.lost:
                    return failure
                lost = failure
                break
        self._faults = [f for f in self._faults if f.remaining > 0]
        answer = await self._route(request, path, body, files, record)
        return answer if lost is None else lost

    async def _route(
        self,
        request: web.Request,
        path: str,
        body: Any,
        files: list[tuple[str, str, str, bytes]],
        record: RecordedRequest,
    ) -> web.StreamResponse:
        if request.match_info["version"] != str(API_VERSION):
            return _json_response({"message": "Invalid API version", "code": 50041}, 400)
        for method, pattern, handler, auth in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if method != request.method:
                continue
            if auth and (
                self.bad_token or request.headers.get("Authorization") != f"Bot {self.token}"
            ):
                return _json_response({"message": "401: Unauthorized", "code": 0}, 401)
            try:
                response = await handler(_Call(request, match, body, files, record))
            except DiscordHTTPError as exc:
                return _json_response(exc.body, exc.status, {"Via": "1.1 google"})
            for key, value in self._ratelimit_headers(request.method, path).items():
                response.headers.setdefault(key, value)
            return response
        if any(p.fullmatch(path) for _m, p, _h, _a in self._routes):
            return _json_response({"message": "405: Method Not Allowed", "code": 0}, 405)
        return _json_response({"message": "404: Not Found", "code": 0}, 404)

    @staticmethod
    def _no_content() -> web.Response:
        return web.Response(status=204)

    # ------------------------------------------------------------------ REST: identity

    async def _get_me(self, call: _Call) -> web.StreamResponse:
        return _json_response(
            self.bot.payload()
            | {
                "verified": True,
                "mfa_enabled": False,
                "email": None,
                "flags": 0,
                "locale": "en-US",
                "banner": None,
                "accent_color": None,
            }
        )

    async def _get_user(self, call: _Call) -> web.StreamResponse:
        user = self.users.get(call.snowflake("uid"))
        if user is None:
            raise _not_found("User", 10013)
        return _json_response(user.payload())

    async def _get_application(self, call: _Call) -> web.StreamResponse:
        return _json_response(
            {
                "id": str(self.application_id),
                "name": self.bot.global_name or self.bot.username,
                "icon": None,
                "description": "Turns Reddit threads into grounded digests.",
                "summary": "",
                "type": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "verify_key": secrets.token_hex(32),
                "flags": 0,
                "hook": True,
                "is_monetized": False,
                "owner": self.owner.payload(),
                "team": None,
                "bot": self.bot.payload(),
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "role_connections_verification_url": None,
                "tags": [],
                "approximate_guild_count": len(self.guilds),
                "integration_types_config": {"0": {}},
            }
        )

    async def _get_gateway(self, call: _Call) -> web.StreamResponse:
        return _json_response({"url": self.gateway_url})

    async def _get_gateway_bot(self, call: _Call) -> web.StreamResponse:
        return _json_response(
            {
                "url": self.gateway_url,
                "shards": self.shard_count,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    # ------------------------------------------------------------------ REST: commands

    def _check_app(self, call: _Call) -> None:
        if call.snowflake("app") != self.application_id:
            raise DiscordHTTPError(403, 50001, "Missing Access")

    def _guild_param(self, call: _Call) -> int | None:
        gid = call.match.groupdict().get("gid")
        if gid is None:
            return None
        if not any(g.id == int(gid) for g in self.guilds):
            raise DiscordHTTPError(403, 50001, "Missing Access")
        return int(gid)

    def _validate_command(self, index: int, command: JSON) -> None:
        type_ = int(command.get("type", 1))
        name = str(command.get("name", ""))
        if type_ == 1:
            if not _CHAT_INPUT_NAME.match(name) or name != name.lower():
                raise _form_error(
                    [index, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
                )
            description = str(command.get("description", ""))
            if not 1 <= len(description) <= 100:
                raise _form_error(
                    [index, "description"],
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                )
            if len(command.get("options") or []) > 25:
                raise _form_error(
                    [index, "options"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                )
        elif not 1 <= len(name) <= 32:
            raise _form_error(
                [index, "name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length."
            )

    def _stored_command(self, guild_id: int | None, command: JSON) -> JSON:
        type_ = int(command.get("type", 1))
        key = (guild_id, type_, str(command["name"]))
        previous = self._commands.get(key)
        stored: JSON = {
            "type": type_,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            "contexts": None,
            "integration_types": [0],
        }
        stored |= command
        stored |= {
            "id": previous["id"] if previous else str(self.snowflake()),
            "application_id": str(self.application_id),
            "version": str(self.snowflake()),
            "dm_permission": command.get("dm_permission", True),
        }
        if guild_id is not None:
            stored["guild_id"] = str(guild_id)
        self._commands[key] = stored
        return stored

    async def _put_commands(self, call: _Call) -> web.StreamResponse:
        self._check_app(call)
        guild_id = self._guild_param(call)
        commands = call.json if isinstance(call.json, list) else []
        if len(commands) > 100:
            raise _form_error([], "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
        for i, command in enumerate(commands):
            self._validate_command(i, command)
        self.commands_synced.append(
            CommandSync(guild_id, [dict(c) for c in commands], call.record.received_at)
        )
        for key in [k for k in self._commands if k[0] == guild_id]:
            del self._commands[key]
        return _json_response([self._stored_command(guild_id, dict(c)) for c in commands])

    async def _get_commands(self, call: _Call) -> web.StreamResponse:
        self._check_app(call)
        guild_id = self._guild_param(call)
        return _json_response([c for k, c in self._commands.items() if k[0] == guild_id])

    async def _post_command(self, call: _Call) -> web.StreamResponse:
        self._check_app(call)
        guild_id = self._guild_param(call)
        self._validate_command(0, call.body)
        existed = (
            guild_id,
            int(call.body.get("type", 1)),
            str(call.body.get("name")),
        ) in self._commands
        return _json_response(self._stored_command(guild_id, call.body), 200 if existed else 201)

    # ------------------------------------------------------------------ REST: interactions

    def _interaction_for_webhook(self, call: _Call) -> FakeInteraction:
        interaction = self._interactions_by_token.get(call.group("token"))
        if interaction is None or call.snowflake("app") != int(
            interaction.payload.get("application_id", 0)
        ):
            raise _not_found("Webhook", 10015)
        if interaction.response_type is None:
            raise _not_found("Webhook", 10015)
        return interaction

    async def _post_callback(self, call: _Call) -> web.StreamResponse:
        interaction = self._interactions_by_token.get(call.group("token"))
        if interaction is None or interaction.id != call.snowflake("iid"):
            raise _not_found("interaction", 10062)
        if interaction.response_type is not None:
            raise DiscordHTTPError(400, 40060, "Interaction has already been acknowledged.")
        type_ = int(call.body.get("type", 0))
        data: JSON = dict(call.body.get("data") or {})
        if type_ == CALLBACK_CHANNEL_MESSAGE:
            validate_message_body(data, require_content=not call.files)
        elif type_ == CALLBACK_UPDATE_MESSAGE:
            validate_message_body(data, require_content=False)
        elif type_ == CALLBACK_AUTOCOMPLETE_RESULT and len(data.get("choices") or []) > 25:
            raise _form_error(
                ["data", "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
            )
        elif type_ not in (
            CALLBACK_PONG,
            CALLBACK_DEFERRED_CHANNEL_MESSAGE,
            CALLBACK_DEFERRED_UPDATE_MESSAGE,
            CALLBACK_AUTOCOMPLETE_RESULT,
            CALLBACK_MODAL,
            10,
            12,
        ):
            raise _form_error(
                ["type"],
                "BASE_TYPE_CHOICES",
                "Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}.",
            )
        callback = InteractionCallback(
            interaction.id, interaction.token, type_, data, call.record.received_at
        )
        self.callbacks.append(callback)
        interaction.response_type = type_

        message: StoredMessage | None = None
        channel = self.channels.get(interaction.channel_id or 0)
        if type_ in (CALLBACK_CHANNEL_MESSAGE, CALLBACK_DEFERRED_CHANNEL_MESSAGE):
            body = data if type_ == CALLBACK_CHANNEL_MESSAGE else {"flags": data.get("flags", 0)}
            message = self._store_message(
                channel,
                self.bot,
                body,
                source="original",
                channel_id=interaction.channel_id,
                guild_id=interaction.guild_id,
                files=call.files,
                interaction=interaction,
                extra_flags=FLAG_LOADING if type_ == CALLBACK_DEFERRED_CHANNEL_MESSAGE else 0,
            )
            interaction.original_message_id = message.id
            callback.message_id = message.id
            if not message.ephemeral:
                self._echo("MESSAGE_CREATE", self.message_payload(message, gateway=True))
        elif type_ == CALLBACK_UPDATE_MESSAGE:
            target_id = int((interaction.payload.get("message") or {}).get("id", 0))
            target = self._messages_by_id.get(target_id)
            if target is not None:
                self._edit_message(target, data, call.files)
                message = target
                callback.message_id = target.id

        if call.request.query.get("with_response") not in ("1", "true", "True"):
            return self._no_content()
        answer: JSON = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.type,
                "response_message_loading": type_ == CALLBACK_DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": bool(message and message.ephemeral),
            }
        }
        if message is not None:
            answer["interaction"]["response_message_id"] = str(message.id)
            answer["resource"] = {"type": type_, "message": self.message_payload(message)}
        return _json_response(answer)

    def _original(self, call: _Call) -> tuple[FakeInteraction, StoredMessage]:
        interaction = self._interaction_for_webhook(call)
        msg = self._messages_by_id.get(interaction.original_message_id or 0)
        if msg is None or msg.deleted:
            raise _not_found("Message", 10008)
        return interaction, msg

    async def _get_original(self, call: _Call) -> web.StreamResponse:
        _, msg = self._original(call)
        return _json_response(self.message_payload(msg))

    async def _patch_original(self, call: _Call) -> web.StreamResponse:
        _, msg = self._original(call)
        self._edit_message(msg, call.body, call.files)
        return _json_response(self.message_payload(msg))

    async def _delete_original(self, call: _Call) -> web.StreamResponse:
        _, msg = self._original(call)
        self._delete(msg)
        return self._no_content()

    async def _post_followup(self, call: _Call) -> web.StreamResponse:
        interaction = self._interaction_for_webhook(call)
        validate_message_body(call.body, require_content=not call.files)
        thread_id = call.request.query.get("thread_id")
        channel_id = int(thread_id) if thread_id else interaction.channel_id
        channel = self.channels.get(channel_id or 0)
        msg = self._store_message(
            channel,
            self.bot,
            call.body,
            source="followup",
            channel_id=channel_id,
            guild_id=interaction.guild_id,
            files=call.files,
            interaction=interaction,
        )
        interaction.followup_ids.append(msg.id)
        if not msg.ephemeral:
            self._echo("MESSAGE_CREATE", self.message_payload(msg, gateway=True))
        if call.request.query.get("wait") in ("1", "true", "True"):
            return _json_response(self.message_payload(msg))
        return self._no_content()

    def _webhook_message(self, call: _Call) -> StoredMessage:
        interaction = self._interaction_for_webhook(call)
        msg = self._messages_by_id.get(call.snowflake("mid"))
        if msg is None or msg.deleted or msg.interaction_id != interaction.id:
            raise _not_found("Message", 10008)
        return msg

    async def _get_webhook_message(self, call: _Call) -> web.StreamResponse:
        return _json_response(self.message_payload(self._webhook_message(call)))

    async def _patch_webhook_message(self, call: _Call) -> web.StreamResponse:
        msg = self._webhook_message(call)
        self._edit_message(msg, call.body, call.files)
        return _json_response(self.message_payload(msg))

    async def _delete_webhook_message(self, call: _Call) -> web.StreamResponse:
        self._delete(self._webhook_message(call))
        return self._no_content()

    # ------------------------------------------------------------------ REST: channels

    def _channel(self, call: _Call) -> FakeChannel:
        channel = self.channels.get(call.snowflake("cid"))
        if channel is None:
            raise _not_found("Channel", 10003)
        if not self.bot_may(channel, Permission.VIEW_CHANNEL):
            raise DiscordHTTPError(403, 50001, "Missing Access")
        return channel

    def bot_may(self, channel: FakeChannel, permission: int) -> bool:
        """Whether the bot holds `permission` in `channel` (its overwrites applied)."""
        guild = self.guild_of(channel.id)
        if guild is None:
            return True
        return bool(guild.channel_permissions(self.bot.id, channel) & permission)

    @property
    def content_granted(self) -> bool:
        """Whether the application may read message content (the Message Content intent is
        enabled for it): without it, the REST API too sends others' messages empty."""
        return bool(self.privileged_intents & Intent.MESSAGE_CONTENT)

    def _as_the_app_sees(self, data: JSON) -> JSON:
        """A message payload as the bot receives it over REST: without the Message Content
        intent, a guild message that is not the bot's and does not mention it comes with its
        content, embeds, attachments, components and poll empty (the referenced message too)."""
        if self.content_granted:
            return data
        out = dict(data)
        if isinstance(out.get("referenced_message"), dict):
            out["referenced_message"] = self._as_the_app_sees(out["referenced_message"])
        msg = self._messages_by_id.get(int(out["id"]))
        mentioned = any(str(m.get("id")) == str(self.bot.id) for m in out.get("mentions") or [])
        in_guild = msg is not None and msg.guild_id is not None
        if (out.get("author") or {}).get("id") != str(self.bot.id) and not mentioned and in_guild:
            out |= {"content": "", "embeds": [], "attachments": [], "components": []}
            out.pop("poll", None)
        return out

    def _channel_message(self, call: _Call) -> tuple[FakeChannel, StoredMessage]:
        channel = self._channel(call)
        msg = self._messages_by_id.get(call.snowflake("mid"))
        if msg is None or msg.deleted or msg.ephemeral or msg.channel_id != channel.id:
            raise _not_found("Message", 10008)
        return channel, msg

    def _delete(self, msg: StoredMessage) -> None:
        msg.deleted = True
        if not msg.ephemeral:
            event: JSON = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
            if msg.guild_id is not None:
                event["guild_id"] = str(msg.guild_id)
            self._echo("MESSAGE_DELETE", event)

    async def _get_channel(self, call: _Call) -> web.StreamResponse:
        return _json_response(self._channel(call).payload())

    async def _get_messages(self, call: _Call) -> web.StreamResponse:
        """As Discord pages: `limit` (1-100, default 50) messages, always newest first;
        `before=X`: the newest ones older than X; `after=X`: the ones just after X (the
        oldest of the newer ones, still sorted newest first); `around=X`: X and about
        `limit/2` either side. Without READ_MESSAGE_HISTORY: no messages at all."""
        channel = self._channel(call)
        query = call.request.query
        limit = max(1, min(100, int(query.get("limit", "50"))))
        if not self.bot_may(channel, Permission.READ_MESSAGE_HISTORY):
            return _json_response([])
        msgs = sorted(self.messages_in(channel.id), key=lambda m: m.id)  # oldest first
        if "around" in query:
            around = int(query["around"])
            older = [m for m in msgs if m.id < around][-(limit // 2) :] if limit > 1 else []
            newer = [m for m in msgs if m.id >= around][: limit - len(older)]
            picked = older + newer
        elif "after" in query:
            after = int(query["after"])
            picked = [m for m in msgs if m.id > after][:limit]
        else:
            if "before" in query:
                before = int(query["before"])
                msgs = [m for m in msgs if m.id < before]
            picked = msgs[-limit:]
        picked.sort(key=lambda m: m.id, reverse=True)
        return _json_response([self._as_the_app_sees(self.message_payload(m)) for m in picked])

    async def _post_message(self, call: _Call) -> web.StreamResponse:
        channel = self._channel(call)
        if channel.type == GUILD_CATEGORY:
            raise DiscordHTTPError(400, 50008, "Cannot send messages in a non-text channel")
        validate_message_body(call.body, require_content=not call.files)
        ref = call.body.get("message_reference")
        if ref and ref.get("fail_if_not_exists", True):
            target = self._messages_by_id.get(int(ref.get("message_id") or 0))
            if target is None or target.deleted:
                raise _form_error(
                    ["message_reference"], "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                )
        msg = self._store_message(channel, self.bot, call.body, source="channel", files=call.files)
        self._echo("MESSAGE_CREATE", self.message_payload(msg, gateway=True))
        return _json_response(self.message_payload(msg))

    async def _get_message(self, call: _Call) -> web.StreamResponse:
        channel, msg = self._channel_message(call)
        if not self.bot_may(channel, Permission.READ_MESSAGE_HISTORY):
            raise DiscordHTTPError(403, 50013, "Missing Permissions")
        return _json_response(self._as_the_app_sees(self.message_payload(msg)))

    async def _patch_message(self, call: _Call) -> web.StreamResponse:
        _, msg = self._channel_message(call)
        if msg.author.id != self.bot.id:
            editable = {"flags"}
            if set(call.body) - editable:
                raise DiscordHTTPError(403, 50005, "Cannot edit a message authored by another user")
        self._edit_message(msg, call.body, call.files)
        return _json_response(self.message_payload(msg))

    async def _delete_message(self, call: _Call) -> web.StreamResponse:
        _, msg = self._channel_message(call)
        self._delete(msg)
        return self._no_content()

    def _new_thread(self, parent: FakeChannel, tid: int, body: JSON, type_: int) -> FakeChannel:
        name = str(body.get("name") or "")
        if not 1 <= len(name) <= 100:
            raise _form_error(
                ["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
        thread = FakeChannel(
            tid,
            parent.guild_id,
            name,
            type=type_,
            parent_id=parent.id,
            nsfw=parent.nsfw,
            owner_id=self.bot.id,
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
            created_at=_iso(),
            member_ids={self.bot.id},
        )
        self.channels[tid] = thread
        guild = self.guild_of(parent.id)
        if guild is not None:
            guild.channels.append(thread)
        return thread

    def _thread_answer(self, thread: FakeChannel) -> web.Response:
        payload = thread.payload() | {
            "member": {
                "id": str(thread.id),
                "user_id": str(self.bot.id),
                "join_timestamp": thread.created_at,
                "flags": 0,
            },
        }
        self._echo("THREAD_CREATE", thread.payload() | {"newly_created": True})
        return _json_response(payload, 201)

    async def _post_message_thread(self, call: _Call) -> web.StreamResponse:
        channel, msg = self._channel_message(call)
        if channel.type not in (GUILD_TEXT, GUILD_ANNOUNCEMENT):
            raise DiscordHTTPError(400, 50024, "Cannot execute action on this channel type")
        if msg.thread_id is not None:
            raise DiscordHTTPError(
                400, 160004, "A thread has already been created for this message"
            )
        # A thread started from a message has the message's id.
        thread = self._new_thread(channel, msg.id, call.body, PUBLIC_THREAD)
        msg.thread_id = thread.id
        msg.flags |= FLAG_HAS_THREAD
        return self._thread_answer(thread)

    async def _post_thread(self, call: _Call) -> web.StreamResponse:
        channel = self._channel(call)
        if channel.type not in (GUILD_TEXT, GUILD_ANNOUNCEMENT):
            raise DiscordHTTPError(400, 50024, "Cannot execute action on this channel type")
        type_ = int(call.body.get("type") or PRIVATE_THREAD)
        thread = self._new_thread(channel, self.snowflake(), call.body, type_)
        return self._thread_answer(thread)

    async def _get_thread_member(self, call: _Call) -> web.StreamResponse:
        thread = self._channel(call)
        if not thread.is_thread:
            raise DiscordHTTPError(400, 50024, "Cannot execute action on this channel type")
        user_id = call.snowflake("uid")
        if user_id not in thread.member_ids:
            raise _not_found("Member", 10007)
        return _json_response(
            {
                "id": str(thread.id),
                "user_id": str(user_id),
                "join_timestamp": thread.created_at,
                "flags": 0,
            }
        )

    async def _put_reaction(self, call: _Call) -> web.StreamResponse:
        channel, msg = self._channel_message(call)
        emoji = call.group("emoji")
        _name, sep, emoji_id = emoji.partition(":")
        if not emoji or (sep and not emoji_id.isdigit()):
            raise DiscordHTTPError(400, 10014, "Unknown Emoji")
        if (emoji, self.bot.id) not in msg.reactions:
            msg.reactions.append((emoji, self.bot.id))
            guild = self.guild_of(channel.id)
            event: JSON = {
                "type": 0,
                "user_id": str(self.bot.id),
                "channel_id": str(channel.id),
                "message_id": str(msg.id),
                "emoji": _emoji_payload(emoji),
                "burst": False,
                "burst_colors": [],
                "message_author_id": str(msg.author.id),
            }
            if guild is not None:
                event["guild_id"] = str(guild.id)
                event["member"] = self.member_payload(guild, self.bot)
            self._echo("MESSAGE_REACTION_ADD", event)
        return self._no_content()

    async def _delete_reaction(self, call: _Call) -> web.StreamResponse:
        _, msg = self._channel_message(call)
        who = call.group("who")
        user_id = self.bot.id if who == "@me" else int(who)
        with contextlib.suppress(ValueError):
            msg.reactions.remove((call.group("emoji"), user_id))
        return self._no_content()

    async def _post_typing(self, call: _Call) -> web.StreamResponse:
        self._channel(call)
        return self._no_content()

    # ------------------------------------------------------------------ REST: guilds

    def _guild(self, call: _Call) -> FakeGuild:
        guild = next((g for g in self.guilds if g.id == call.snowflake("gid")), None)
        if guild is None:
            raise _not_found("Guild", 10004)
        return guild

    async def _get_guild(self, call: _Call) -> web.StreamResponse:
        return _json_response(self._guild(call).payload())

    async def _get_guild_channels(self, call: _Call) -> web.StreamResponse:
        guild = self._guild(call)
        return _json_response([c.payload() for c in guild.channels if not c.is_thread])

    async def _get_member(self, call: _Call) -> web.StreamResponse:
        member = self._guild(call).member(call.snowflake("uid"))
        if member is None:
            raise _not_found("Member", 10007)
        return _json_response(member.payload())
