"""discord.py, imported in one place: 2.7 imports the stdlib audioop (voice), deprecated since
3.11 (not our code), and the warning is silenced here once for every module of the adapter."""

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    import discord.backoff
    import discord.gateway
    import discord.http
    from discord import app_commands

__all__ = ["app_commands", "discord"]
