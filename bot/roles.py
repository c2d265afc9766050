"""What one `redigest run` process does: its role (`--role all|gateway|worker|scheduler`).

- all (the default): today's single process: the chats' receive loops and every core loop.
- gateway: receives (Discord's gateway, Slack's Socket Mode or HTTP), answers and queues jobs
  in the shared database; runs no job and no scheduler.
- worker: the job workers and their claims' heartbeat; its chats only post (REST, no gateway).
- scheduler: the scheduler and the watcher; its chats only post (a missed run is said).

Any role but `all` needs a database that several processes share (PostgreSQL): SQLite has one
owner process. The console is role `all` only.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.loops import ALL_LOOPS, HEARTBEAT, SCHEDULER, WATCHER, WORKERS
from digest.errors import DigestError


class RoleError(DigestError):
    """This role cannot run here; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    loops: frozenset[str]  # the core's loops it runs (bot/core/loops.py)
    receives: bool  # its chats receive; False: they only post (no gateway, no listener)
    what: str  # what start-up says it does ({workers}: how many job workers)

    @property
    def runs_jobs(self) -> bool:
        """Job workers run here (so late answers to this process's requests come from here)."""
        return WORKERS in self.loops

    def startup_line(self, workers: int) -> str:
        """What start-up says this process does, in one line."""
        return f"role {self.name}: " + self.what.format(workers=workers)


ROLES: dict[str, Role] = {
    role.name: role
    for role in (
        Role("all", ALL_LOOPS, True, "chats, job workers ({workers}), the scheduler, the watcher"),
        Role("gateway", frozenset(), True, "chats receive and answer, jobs queued, none run here"),
        Role(
            "worker",
            frozenset({WORKERS, HEARTBEAT}),
            False,
            "job workers only ({workers}), chats post-only",
        ),
        Role(
            "scheduler",
            frozenset({SCHEDULER, WATCHER}),
            False,
            "the scheduler and the watcher only, chats post-only",
        ),
    )
}
ALL = ROLES["all"]


def role_named(name: str, *, shared_database: bool, chats: bool) -> Role:
    """The role `name` for this process, or RoleError with one line: an unknown name, a role
    other than `all` on SQLite (one owner process) or without a chat (the console is `all`)."""
    role = ROLES.get(name.strip().lower())
    if role is None:
        raise RoleError(
            f"--role {name} is not a role: use one of {', '.join(ROLES)} (all is the default)."
        )
    if role is ALL:
        return role
    if not shared_database:
        raise RoleError(
            f"--role {role.name} needs a shared database: set "
            "REDIGEST_DATABASE_URL=postgresql://… (SQLite allows one process)"
        )
    if not chats:
        raise RoleError(
            f"--role {role.name} needs DISCORD_TOKEN or SLACK_BOT_TOKEN: the console runs as "
            "role all only."
        )
    return role
