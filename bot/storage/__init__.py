"""State in SQLite through aiosqlite (the default: WAL, one owner per file) or in PostgreSQL through
asyncpg (`postgresql://…`: several processes may share it): numbered migrations recorded in a
table, parametrised SQL only, one transaction per unit of work; the same queries on both.

Everything that must survive a crash lives here: subscriptions, jobs (with their idempotency keys
and results), what was posted where, reaction flags, cached reports, watch candidates and spend.

- connection.py: the one connection, start-up probes, write turns (urgent first), grouped writes
- backend.py: the connection API the table families use, on SQLite and on PostgreSQL (a lost
  PostgreSQL connection is opened again); listener.py: wake-ups heard from other processes
- migrations.py: the schema, as numbered migrations
- one module per table family: settings, subscriptions, jobs and claims (leases, post intents,
  results), posted, flags, report_cache, spend, candidates, leaders (who runs the scheduler),
  ratelimits (the rate limits every process shares)
"""

from __future__ import annotations

from bot.storage.backend import JOBS_CHANNEL, SCHEDULE_CHANNEL, SETTINGS_CHANNEL
from bot.storage.candidates import CandidateRow, CandidatesTable
from bot.storage.claims import JobClaims
from bot.storage.connection import Clock, WriteTurns, utcnow
from bot.storage.errors import ClaimLost, StorageError
from bot.storage.flags import FlagsTable
from bot.storage.jobs import JobRow, JobsTable
from bot.storage.leaders import LeadersTable
from bot.storage.migrations import MIGRATIONS
from bot.storage.posted import PostedTable
from bot.storage.ratelimits import RateLimitsTable
from bot.storage.report_cache import ReportCache
from bot.storage.settings import SettingsTable
from bot.storage.spend import SpendTable, UsageRow
from bot.storage.subscriptions import RunFailure, SubscriptionRow, SubscriptionsTable

_WriteTurns = WriteTurns  # the name bench/core_load.py times


class Storage(
    SettingsTable,
    SubscriptionsTable,
    JobsTable,
    JobClaims,
    PostedTable,
    FlagsTable,
    ReportCache,
    SpendTable,
    CandidatesTable,
    LeadersTable,
    RateLimitsTable,
):
    """Use as `async with Storage(path) as db`. One connection, shared by the whole process:
    every table family's queries on it, taking their write turns (connection.py).

    `exclusive` (the default) makes this process the database's only owner while it is open
    (bot/ownership.py): a second bot on the same file is refused at start-up.
    """


__all__ = [
    "JOBS_CHANNEL",
    "MIGRATIONS",
    "SCHEDULE_CHANNEL",
    "SETTINGS_CHANNEL",
    "CandidateRow",
    "ClaimLost",
    "Clock",
    "JobRow",
    "RunFailure",
    "Storage",
    "StorageError",
    "SubscriptionRow",
    "UsageRow",
    "WriteTurns",
    "utcnow",
]
