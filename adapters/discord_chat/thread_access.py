"""Who may see a Discord thread, as Discord computes it: whether the server's @everyone may (a
thread nobody but some may see is private), and whether the person who asked may (the core
posts a private thread's digest only for someone who can read it).

A member's permissions in a channel: the server's @everyone role and their roles, then the
channel's overwrites (@everyone's, their roles', their own); administrators and the owner see
everything. A thread is seen by whoever sees its channel, except a private thread: its members,
and those who may manage threads there. Read over REST (the member, the thread's member list),
so it works without the gateway's cache."""

from __future__ import annotations

import logging

from adapters.discord_chat.sdk import discord

log = logging.getLogger(__name__)

VIEW_CHANNEL = discord.Permissions(view_channel=True).value
READABLE = discord.Permissions(view_channel=True, read_message_history=True).value
MANAGE_THREADS = discord.Permissions(manage_threads=True).value
ADMINISTRATOR = discord.Permissions(administrator=True).value
ALL = discord.Permissions.all().value


def permissions_in(
    channel: discord.abc.GuildChannel,
    guild: discord.Guild,
    user_id: int | None,
    role_ids: list[int],
) -> int:
    """The permissions of someone with `role_ids` in `channel` (`user_id` None: @everyone)."""
    if user_id is not None and guild.owner_id == user_id:
        return ALL
    everyone = guild.get_role(guild.id)
    value = everyone.permissions.value if everyone is not None else 0
    for role_id in role_ids:
        role = guild.get_role(role_id)
        if role is not None:
            value |= role.permissions.value
    if value & ADMINISTRATOR:
        return ALL

    def apply(value: int, overwrite: discord.PermissionOverwrite) -> int:
        allow, deny = overwrite.pair()
        return (value & ~deny.value) | allow.value

    value = apply(value, channel.overwrites_for(discord.Object(id=guild.id)))
    allow = deny = 0
    for role_id in role_ids:
        role_allow, role_deny = channel.overwrites_for(discord.Object(id=role_id)).pair()
        allow, deny = allow | role_allow.value, deny | role_deny.value
    value = (value & ~deny) | allow
    if user_id is not None:
        value = apply(value, channel.overwrites_for(discord.Object(id=user_id)))
    return value if value & VIEW_CHANNEL else 0


def everyone_sees(channel: object, guild: discord.Guild | None) -> bool:
    """Whether the server's @everyone may view `channel` (a guild channel, not a thread).
    Unknown (no roles, not a guild channel): False, so a doubt counts as private."""
    if guild is None or guild.get_role(guild.id) is None:
        return False
    if not isinstance(channel, discord.abc.GuildChannel):
        return False
    return bool(permissions_in(channel, guild, None, []) & VIEW_CHANNEL)


async def may_see(
    channel: object, thread: discord.Thread | None, guild: discord.Guild | None, user_id: int
) -> bool | None:
    """Whether `user_id` may read the thread (`thread`, in `channel`; or `channel` itself for a
    reply chain or a direct message): View Channel and Read Message History there, and for a
    private thread, being in it (or Manage Threads). None when Discord would not say."""
    if isinstance(channel, discord.DMChannel):
        recipient = channel.recipient
        return recipient is not None and recipient.id == user_id
    if guild is None or not isinstance(channel, discord.abc.GuildChannel):
        return None
    try:
        member = await guild.fetch_member(user_id)
    except discord.NotFound:
        return False  # not in that server at all
    except discord.HTTPException as exc:
        log.info("cannot look up member %s of server %s: %s", user_id, guild.id, exc)
        return None
    roles = [role.id for role in member.roles if role.id != guild.id]
    allowed = permissions_in(channel, guild, user_id, roles)
    if allowed & READABLE != READABLE:  # without the history, the thread's past is hidden
        return False
    if thread is None or thread.type is not discord.ChannelType.private_thread:
        return True
    if allowed & MANAGE_THREADS:
        return True
    try:
        await thread.fetch_member(user_id)
    except discord.NotFound:
        return False
    except discord.HTTPException as exc:
        log.info("cannot look up member %s of thread %s: %s", user_id, thread.id, exc)
        return None
    return True
